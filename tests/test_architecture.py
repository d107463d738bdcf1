"""The shape of the code: dependencies point one way, no import cycle (not even through
imports inside functions), Execution rows built in one place, no module over 400 lines."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scripts_app"
MAX_LINES = 400


def cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Every group of modules that import each other, directly or not (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1 or graph.direct_import_exists(importer=module, imported=module):
                found.append(group)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def python_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_module_imports_itself_back_not_even_inside_a_function():
    graph = grimp.build_graph("scripts_app")  # reads every import statement, at any depth
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_level_import():
    graph = grimp.build_graph("scripts_app")
    # As if the sender imported the worker again (it once did, inside a function).
    graph.add_import(importer="scripts_app.runs.sending", imported="scripts_app.worker.actor")
    assert {"scripts_app.runs.sending", "scripts_app.worker.actor"} <= set().union(*cycles(graph))


def test_execution_rows_are_built_only_by_runs_records():
    builders = []
    for path in python_files():
        if path == PACKAGE / "runs" / "records.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            if called == "Execution" or called in {
                "Execution.objects.create",
                "Execution.objects.get_or_create",
                "Execution.objects.update_or_create",
            }:
                builders.append(f"{path.relative_to(ROOT)}:{node.lineno} {called}(…)")
    assert builders == []


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in python_files()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
