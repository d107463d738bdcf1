"""The README runs: every command it shows for a running instance, as written, against a
live ``make run`` — a README line that fails for a newcomer fails the suite.

How it is run (tests/readme_tour.py has the rules for marks and shown answers):
- ``make run`` as a newcomer starts it (tests/live_stack.py): a plain environment, the port
  a free one (``PORT=…``, as the README's ``PORT=9000 make run``).
- The commands run in a second plain shell (PATH, HOME, LANG; ``PARSEQ_DATA_DIR`` pointing
  at that run's data, as the checkout's ``var/`` would be), with ``8000`` replaced by that
  port, as the README tells a reader who picked another one. The shell's directory is a
  scratch copy of the checkout (its entries linked), so files the tour writes (data.txt,
  downloads) land there, not in the repository.
"""

from __future__ import annotations

import pytest

from tests import readme_tour as tour
from tests.live_stack import ROOT, make_run

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text()
NOT_LINKED = {".git", "var", "media", "staticfiles", "test-artifacts"}


def on_port(text: str, port: int) -> str:
    """The README's ``8000``, as a reader who started ``PORT=<port> make run`` reads it."""
    return text.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
        "localhost:8000", f"localhost:{port}"
    )


def scratch_checkout(base):
    """A directory whose entries are links to the checkout's: the tour's working directory."""
    base.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in NOT_LINKED:
            (base / entry.name).symlink_to(entry)
    return base


def test_every_block_with_commands_for_a_running_instance_is_in_the_tour():
    unmarked = [
        f"README line {block.line}: {block.lines[0]!r}"
        for block in tour.blocks(README)
        if not block.tested and not block.skip and tour.LIVE.search("\n".join(block.lines))
    ]
    assert unmarked == [], "mark them <!-- readme-test --> (or skip with a reason)"


def test_the_tour_shows_how_a_newcomer_gets_the_token():
    tested = [c.text for b in tour.blocks(README) if b.tested for c in tour.commands(b)]
    first_token_use = next(i for i, text in enumerate(tested) if "$TOKEN" in text)
    assert any("manage.py drf_create_token admin" in text for text in tested[:first_token_use])


def test_the_readmes_commands_work_as_written_against_make_run(tmp_path):
    stack = make_run(tmp_path / "run")
    shell = tour.Shell(scratch_checkout(tmp_path / "tour"), stack.env)
    failures, ran = [], 0
    try:
        for block in tour.blocks(README):
            if not block.tested:
                continue
            for command in tour.commands(block):
                text = on_port(command.text, stack.port)
                code, output, errors = shell.run(text)
                command.shown = on_port(command.shown, stack.port)
                ran += 1
                for problem in tour.judge(command, code, output, errors):
                    failures.append(
                        f"README line {command.line}: {problem}\n$ {command.text}\n"
                        f"{output[-1500:]}\n(stderr) {errors[-1500:]}"
                    )
    finally:
        shell.close()
        stack.stop()
    assert ran >= 40, f"only {ran} commands in the tour"
    assert not failures, "\n\n".join(failures)


# --- the tour's own rules, so that a wrong README line cannot pass -----------------------


def test_shown_json_matches_any_number_and_text_where_it_says_so():
    shown = tour.Command(1, "true", '201 {"key": "uploads/….csv", "size": 1234, ...}')
    assert tour.matches(shown.expected["json"], {"key": "uploads/ab.csv", "size": 7, "x": 1})
    assert not tour.matches(shown.expected["json"], {"key": "other/ab.csv", "size": 7})
    assert not tour.matches(shown.expected["json"], {"key": "uploads/ab.csv", "size": "7"})
    assert not tour.matches({"success": True}, {"success": False})


def test_a_command_is_judged_by_the_answer_shown_after_it():
    [ok, failed, prose] = tour.commands(
        tour.Block(
            10,
            [
                'curl "$API/x" \\',
                '     -d "{}"          # 202 {"id": 1}',
                ".venv/bin/python manage.py nope",
                "# exit 1: CommandError: no job",
                "true   # just prose",
            ],
        )
    )
    assert (ok.line, ok.expected["status"], ok.expected["json"]) == (10, 202, {"id": 1})
    assert (failed.line, failed.expected["exit"]) == (12, 1)
    assert tour.judge(ok, 0, '{"id": 5}', "\n@@http 202\n") == []
    assert tour.judge(ok, 0, '{"detail": "x"}', "\n@@http 404\n") != []
    assert tour.judge(failed, 1, "", "CommandError: no job 'nope'") == []
    assert tour.judge(failed, 0, "") != []
    assert tour.judge(prose, 0, "", "\n@@http 500\n") != []  # an error the README does not show


def test_a_multi_line_loop_is_one_command():
    loop = ["while :; do", "  echo $offset", "  break", "done"]
    [command] = tour.commands(tour.Block(1, loop))
    assert command.text == "\n".join(loop)
