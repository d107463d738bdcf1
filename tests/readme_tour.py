"""The README's commands for a running instance, found and run as written.

A fenced ``sh``/``bash`` block preceded by ``<!-- readme-test -->`` is part of the tour;
``<!-- readme-test: skip (reason) -->`` says why a block with such commands is not (it is
for compose, Kubernetes…). Each command in a tour block runs, in README order, in one
``bash`` session (so ``TOKEN=…`` carries to later commands), and is judged by the answer
the README shows for it, in a comment after it:

- ``# 201 {"slug": "csv-stats", ...}``: the last HTTP status, and the JSON printed;
- ``# {"key": "uploads/….csv", "size": 1234}``: the JSON printed;
- ``# exit 1: CommandError: invalid params…``: the exit status, and text in the output;
- anything else is prose: the command must exit 0.

In the JSON shown, a number stands for any number (ids, sizes and times differ from run to
run), ``…`` inside a string for any text, and ``...``/``…`` for more keys or items. Every
HTTP status must be below 400 unless the README shows that one: ``curl`` runs as written,
with a ``--write-out`` that reports each status on stderr (curl exits 0 on a 404).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MARK = "<!-- readme-test -->"
SKIP = re.compile(r"<!-- readme-test: skip \((.+)\) -->")
FENCE = re.compile(r"^```(\w*)\s*$")
TRAILING = re.compile(r"\s{2,}# (.*)$")
ANSWER = re.compile(r"^(?:(?P<status>[1-5]\d\d)\b\s*)?(?:exit (?P<exit>\d+)(?::\s*(?P<text>.*))?)?")
STATUS_LINE = re.compile(r"^@@http (\d{3})$", re.M)
END = "@@end-of-command"
# Commands for a running instance: these in a fenced shell block call for a mark.
LIVE = re.compile(r"127\.0\.0\.1:8000|localhost:8000|manage\.py|\$API\b")
WRAPPER = "curl() { command curl --write-out '%{stderr}\\n@@http %{http_code}\\n' \"$@\"; }\n"


@dataclass
class Command:
    line: int  # in the README
    text: str
    shown: str = ""

    @property
    def expected(self) -> dict:
        """status, exit, text and json as the shown answer says (None where it says nothing)."""
        match = ANSWER.match(self.shown)
        rest = self.shown[match.end() :].strip()
        status = int(match["status"]) if match["status"] else None
        code = int(match["exit"]) if match["exit"] else 0
        shown_json = _pattern(rest) if rest[:1] in ("{", "[") else None
        return {"status": status, "exit": code, "text": match["text"], "json": shown_json}


@dataclass
class Block:
    line: int
    lines: list[str] = field(default_factory=list)
    tested: bool = False
    skip: str = ""


def blocks(readme: str) -> list[Block]:
    """Every fenced sh/bash block, with whether it is marked for the tour."""
    found, current, mark = [], None, None
    for number, line in enumerate(readme.splitlines(), 1):
        fence = FENCE.match(line)
        if current is not None:
            if fence:
                found.append(current)
                current = None
            else:
                current.lines.append(line)
            continue
        if line.strip() == MARK or SKIP.match(line.strip()):
            mark = line.strip()
        elif fence and fence[1] in ("sh", "bash"):
            current = Block(number + 1, tested=mark == MARK)
            current.skip = SKIP.match(mark)[1] if mark and SKIP.match(mark) else ""
            mark = None
        elif fence or line.strip():
            mark = None
    return found


def commands(block: Block) -> list[Command]:
    """The block's commands: lines joined until bash parses them, with their shown answers."""
    found: list[Command] = []
    pending: list[str] = []
    for offset, line in enumerate(block.lines):
        stripped = line.strip()
        if not pending and (stripped.startswith("#") or not stripped):
            if found and stripped.startswith("#"):
                _shown_line(found[-1], stripped[1:].strip())
            continue
        pending.append(line)
        text = "\n".join(pending)
        if line.rstrip().endswith("\\") or not _parses(text):
            continue
        trailing = TRAILING.search(line)
        command = Command(block.line + offset - len(pending) + 1, text)
        if trailing:
            command.shown = trailing[1].strip()
        found.append(command)
        pending = []
    assert not pending, f"README line {block.line}: a command that bash cannot parse"
    return found


def _shown_line(command: Command, text: str) -> None:
    answer_starts = re.match(r"^([1-5]\d\d\b|exit \d|[{\[])", text)
    if command.shown and (command.shown[:1] in "{[" or ANSWER.match(command.shown)[0]):
        command.shown += " " + text  # the shown answer goes on
    elif not command.shown and answer_starts:
        command.shown = text


def _parses(text: str) -> bool:
    return subprocess.run(["bash", "-n", "-c", text], capture_output=True).returncode == 0


def _pattern(text: str):
    """The shown JSON as a value (prose may follow it): ``...``/``…`` for more keys or
    items dropped."""
    cleaned = re.sub(r",?\s*(?:\.\.\.|…)(?=\s*[}\]])", "", text)
    cleaned = re.sub(r"(?<=[{\[])\s*(?:\.\.\.|…)\s*,?", "", cleaned)
    return json.JSONDecoder().raw_decode(cleaned)[0]


def matches(shown, actual) -> bool:
    if isinstance(shown, bool) or shown is None:
        return shown is actual or shown == actual
    if isinstance(shown, int | float):
        return isinstance(actual, int | float) and not isinstance(actual, bool)
    if isinstance(shown, str):
        parts = [re.escape(part) for part in shown.split("…")]
        return isinstance(actual, str) and re.fullmatch(".*".join(parts), actual, re.S) is not None
    if isinstance(shown, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in shown.items()
        )
    if isinstance(shown, list):
        return (
            isinstance(actual, list)
            and len(actual) >= len(shown)
            and all(matches(s, a) for s, a in zip(shown, actual, strict=False))
        )
    return False


def last_json(text: str):
    """The JSON value the output ends with (None when it ends with none)."""
    text = text.strip()
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                value, end = decoder.raw_decode(text, start)
            except ValueError:
                continue
            if not text[end:].strip():
                return value
    return None


class Shell:
    """One bash session: each command's output, what it wrote to stderr, and its exit
    status, in turn. (stderr apart: curl's progress meter would cut into the JSON.)"""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.errors = cwd / ".tour-stderr"
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.run(WRAPPER)

    def run(self, text: str, timeout: float = 180) -> tuple[int, str, str]:
        # In braces, not a subshell: what the command assigns stays for the next ones.
        script = f"{{\n{text}\n}} 2>'{self.errors}'\nprintf '\\n{END} %s\\n' \"$?\"\n"
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()
        out, deadline = b"", time.monotonic() + timeout
        marker = re.compile(rb"\n" + END.encode() + rb" (\d+)\n$")
        while not marker.search(out):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError(f"no end after {timeout} s; output so far:\n{out.decode()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"bash exited; output:\n{out.decode()}")
            out += chunk
        found = marker.search(out)
        errors = self.errors.read_text(errors="replace") if self.errors.exists() else ""
        return int(found[1]), out[: found.start()].decode(errors="replace"), errors

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def judge(command: Command, code: int, output: str, errors: str = "") -> list[str]:
    """What is wrong with how the command answered (nothing when it answered as shown):
    its JSON is read from ``output``, statuses and text from ``errors`` too."""
    expected = command.expected
    statuses = [int(s) for s in STATUS_LINE.findall(errors + output)]
    printed = STATUS_LINE.sub("", output)
    problems = []
    if code != expected["exit"]:
        problems.append(f"exit status {code}, the README says {expected['exit']}")
    if expected["status"] is not None:
        if not statuses or statuses[-1] != expected["status"]:
            problems.append(f"HTTP {statuses}, the README says {expected['status']}")
        statuses = statuses[:-1]
    if any(status >= 400 for status in statuses):
        problems.append(f"HTTP {statuses}: an error the README does not show")
    if expected["text"] and not matches(f"…{expected['text']}…", printed + errors):
        problems.append(f"no {expected['text']!r} in the output")
    if expected["json"] is not None and not matches(expected["json"], last_json(printed)):
        printed_json = repr(last_json(printed))[:600]
        problems.append(f"it printed {printed_json}, the README shows {command.shown}")
    return problems
