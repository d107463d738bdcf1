"""Checks shared by the deployment tests (compose, Kubernetes, Yandex Cloud): every
variable a deployment sets must be one Parseq's settings read, and every command it runs
must exist and accept its arguments.

``variables_the_settings_read`` needs no Django (the Yandex Cloud program's tests run it
in the Pulumi program's own virtualenv); the command checks import Django when called.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_READERS = {
    *("env_str", "env_bool", "env_int", "env_list", "env_choice", "env_url", "env_networks"),
    *("env_template", "env_first", "get"),
}


def variables_the_settings_read() -> set[str]:
    """Every NAME in env_*("NAME", …) / os.environ.get("NAME") of the settings modules
    (parseq/settings.py, scripts_app/conf.py, scripts_app/envvars.py), and every name of
    env_first("NAME", "ALIAS")."""
    names = set()
    for module in ("parseq/settings.py", "scripts_app/conf.py", "scripts_app/envvars.py"):
        tree = ast.parse((ROOT / module).read_text())
        for node in ast.walk(tree):
            reader = getattr(node, "func", None)
            name = getattr(reader, "id", getattr(reader, "attr", None))
            if not isinstance(node, ast.Call) or name not in ENV_READERS:
                continue
            # env_first("PARSEQ_X", "SEED_ALIAS") names every variable it may read.
            read = node.args if name == "env_first" else node.args[:1]
            for arg in read:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value)
    return names


def unread_variables(names) -> list[str]:
    """The names in ``names`` that no setting reads (a typo, or a setting that is gone)."""
    return sorted(set(names) - variables_the_settings_read())


def check_manage_py(command: str, args: list[str]) -> None:
    """``manage.py command args…`` exists and takes those arguments (else AssertionError)."""
    from django.core.management import get_commands, load_command_class

    commands = get_commands()
    assert command in commands, f"manage.py {command} does not exist"
    parser = load_command_class(commands[command], command).create_parser("manage.py", command)
    try:
        parser.parse_args(args)
    except SystemExit:  # argparse exits on an unknown option or a bad value
        raise AssertionError(f"manage.py {command} rejects {args}") from None


def python_module_source(dotted: str) -> Path:
    """The source file of a module of this repository, e.g. ``parseq.wsgi``."""
    base = ROOT / dotted.replace(".", "/")
    source = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
    assert source.exists(), f"no module {dotted} in the repository"
    return source


def assigned_names(source: Path) -> set[str]:
    return {
        target.id
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def check_gunicorn(argv: list[str]) -> None:
    """``gunicorn module:app [--config python:module] …`` serves an application that exists."""
    assert argv[0] == "gunicorn"
    assert shutil.which("gunicorn", path=os.path.dirname(sys.executable)), "gunicorn not installed"
    module, _, attribute = argv[1].partition(":")
    source = python_module_source(module)
    assert attribute in assigned_names(source), f"{source} defines no {attribute}"
    for flag in ("--config", "-c"):
        if flag in argv:
            config = argv[argv.index(flag) + 1]
            assert config.startswith("python:"), f"gunicorn config {config!r}: use python:MODULE"
            python_module_source(config.removeprefix("python:"))


def check_command(argv: list[str]) -> None:
    """A container's command: ``python manage.py …`` or gunicorn, and nothing else."""
    if argv[:2] == ["python", "manage.py"]:
        check_manage_py(argv[2], argv[3:])
    elif argv[0] == "gunicorn":
        check_gunicorn(argv)
    else:
        raise AssertionError(f"unexpected command {argv}")
