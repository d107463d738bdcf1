"""What a script declares (PEP 723 and a job's requirements), read without uv or Django;
and the copy of Parseq's script-side modules an environment gets."""

from __future__ import annotations

import ast
import sys

import pytest

from scripts_app.environments import metadata, overlay
from scripts_app.worker.runner import zygote

BLOCK = """\
#!/usr/bin/env python
# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "beautifulsoup4>=4.12",
#   "httpx",
# ]
# ///
import httpx
"""


def test_it_reads_a_pep_723_block():
    declared = metadata.declared(BLOCK)
    assert declared == metadata.Declared(("beautifulsoup4>=4.12", "httpx"), ">=3.11")


def test_a_script_without_a_block_or_requirements_declares_nothing():
    assert metadata.declared("import os\n# /// not a script block\nprint(1)\n") is None
    assert metadata.declared("print(1)\n", "  \n# only a comment\n") is None


def test_requirements_add_to_the_block_without_repeating_one():
    declared = metadata.declared(BLOCK, "httpx\n# pinned below\nrich==13.7  # for tables\n")
    assert declared.dependencies == ("beautifulsoup4>=4.12", "httpx", "rich==13.7")


def test_an_empty_block_still_asks_for_an_environment_of_its_own():
    assert metadata.declared("# /// script\n# dependencies = []\n# ///\n").dependencies == ()


@pytest.mark.parametrize(
    ("source", "requirements", "words"),
    [
        ("# /// script\n# dependencies = [\n# ///\n", "", "not valid TOML"),
        ("# /// script\n# dependencies = 'httpx'\n# ///\n", "", "must be a list"),
        ("# /// script\n# dependencies = [1]\n# ///\n", "", "dependencies[0]"),
        ('# /// script\n# dependencies = ["a b"]\n# ///\n', "", "not a valid requirement"),
        ("# /// script\n# a = 1\n# ///\nx = 1\n# /// script\n# b = 2\n# ///\n", "", "more than"),
        ("", "ok\n--index-url https://evil.example/simple\n", "line 2"),
        ("", "-e .\n", "options such as '-e'"),
    ],
)
def test_an_unreadable_declaration_says_where_and_why(source, requirements, words):
    with pytest.raises(metadata.MetadataError) as raised:
        metadata.declared(source, requirements)
    assert words in str(raised.value)


def test_the_requirements_digest_is_empty_for_no_requirements_and_ignores_comments():
    assert metadata.requirements_digest("") == metadata.requirements_digest(" \n") == ""
    assert metadata.requirements_digest("httpx\n") == metadata.requirements_digest("# x\nhttpx ")
    assert metadata.requirements_digest("httpx") != metadata.requirements_digest("rich")


def test_the_runtime_copy_holds_only_the_script_side_modules_and_no_django():
    files = overlay.files()
    assert set(files) == {
        "scripts_app/__init__.py",
        "scripts_app/runtime.py",
        "scripts_app/bootstrap.py",
        "scripts_app/hardening.py",
        "scripts_app/worker/__init__.py",
        "scripts_app/worker/runner/__init__.py",
        "scripts_app/worker/runner/forkserver.py",
        "scripts_app/worker/runner/confine.py",
    }
    for path, data in files.items():
        imported = set()
        for node in ast.walk(ast.parse(data)):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        outside = {
            name
            for name in imported
            if name.split(".")[0] not in sys.stdlib_module_names | {"scripts_app", "__future__"}
        }
        assert not outside, (path, outside)
        assert not [name for name in imported if name.startswith("scripts_app.") and
                    f"{name.replace('.', '/')}.py" not in files and name != "scripts_app"]  # fmt: skip


def test_a_fork_server_key_is_its_interpreter_and_start_up_environment():
    env = {"PATH": "/env/bin:/usr/bin", "PYTHONPATH": "/env/parseq-runtime/x", "HOME": "/w/home"}
    key = zygote.ServerKey.for_run(env, "/env/bin/python")
    assert key == zygote.ServerKey.for_run({**env, "HOME": "/other"}, "/env/bin/python")
    assert key.pooled  # an environment's server: the bounded pool's
    assert not zygote.ServerKey.for_run(env).pooled  # the worker's own interpreter
    assert dict(key.env) == {"PATH": env["PATH"], "PYTHONPATH": env["PYTHONPATH"]}
