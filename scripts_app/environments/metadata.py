"""What a script declares it needs: PEP 723 inline metadata and a job's ``requirements``.

A script declares its dependencies in a comment block (PEP 723)::

    # /// script
    # requires-python = ">=3.11"
    # dependencies = ["beautifulsoup4>=4.12", "httpx"]
    # ///

or, for code that cannot carry the block, its job's ``requirements`` field holds them
in requirements.txt syntax (one requirement a line, ``#`` comments). Either one gives
the script an environment of its own; neither means it runs as it always did, in the
worker's interpreter. Pure functions: no Django, no uv.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

# The reference expression of PEP 723.
BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
# Cheap test first: the full expression runs only on scripts that contain a block marker.
MARKER = "# /// script"


class MetadataError(ValueError):
    """The declared dependencies cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Declared:
    """Dependencies a script version declares, in the order given."""

    dependencies: tuple[str, ...]
    requires_python: str = ""


def script_block(source: str) -> dict | None:
    """The script's PEP 723 ``script`` table, or None when it has no such block."""
    if MARKER not in source:
        return None
    blocks = [m for m in BLOCK.finditer(source) if m.group("type") == "script"]
    if not blocks:
        return None
    if len(blocks) > 1:
        raise MetadataError("the script has more than one '# /// script' block (PEP 723)")
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    try:
        return tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise MetadataError(f"the '# /// script' block is not valid TOML: {exc}") from None


def requirement_lines(text: str) -> list[str]:
    """The requirements of a requirements.txt-style text, comments and blanks dropped.

    Options (``-r``, ``-e``, ``--index-url`` …) are refused: the index is the server's
    setting (PARSEQ_PIP_*), and ``-r``/``-c`` would read files of the server.
    """
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            raise MetadataError(
                f"line {number}: options such as {line.split()[0]!r} are not allowed; "
                "list one requirement per line (the package index is a server setting)"
            )
        check_requirement(line, f"line {number}")
        lines.append(line)
    return lines


def check_requirement(requirement: str, where: str) -> None:
    """A PEP 508 requirement, or a MetadataError saying what is wrong with it."""
    if not isinstance(requirement, str):
        raise MetadataError(f"{where}: {requirement!r} is not a requirement like 'httpx>=0.27'")
    try:
        Requirement(requirement)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0]
        raise MetadataError(
            f"{where}: {requirement!r} is not a valid requirement: {first}"
        ) from None


def declared(source: str, requirements: str = "") -> Declared | None:
    """What ``source`` (with its job's ``requirements`` text) declares; None for nothing:
    no block and no requirements, a script that runs in the worker's interpreter."""
    block = script_block(source)
    extra = requirement_lines(requirements) if requirements.strip() else []
    if block is None and not extra:
        return None
    block = block or {}
    dependencies = block.get("dependencies", [])
    if not isinstance(dependencies, list):
        raise MetadataError("'dependencies' in the '# /// script' block must be a list")
    for index, requirement in enumerate(dependencies):
        check_requirement(requirement, f"dependencies[{index}]")
    requires_python = block.get("requires-python", "")
    if not isinstance(requires_python, str):
        raise MetadataError("'requires-python' in the '# /// script' block must be a string")
    merged = dict.fromkeys(r.strip() for r in [*dependencies, *extra])
    return Declared(dependencies=tuple(merged), requires_python=requires_python.strip())


def requirements_digest(requirements: str) -> str:
    """What a version's identity takes from its job's ``requirements`` field: "" when it
    is empty (every script without one, as before), else a hash of its requirements."""
    if not requirements or not requirements.strip():
        return ""
    try:
        lines = requirement_lines(requirements)
    except MetadataError:
        lines = [requirements.strip()]
    if not lines:
        return ""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
