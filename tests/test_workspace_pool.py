"""Workspaces are reused only when their run left them exactly as they were handed out."""

from __future__ import annotations

import os

import pytest

from scripts_app.worker.runner.workspace import WorkspacePool


def used(pool: WorkspacePool, base, leave=None, left_nothing: bool = True):
    """Run a pretend script in a pooled workspace: Parseq's own files, then ``leave(ws)``;
    ``left_nothing``: what the fork server reported about the run's processes."""
    with pool.workspace(base) as ws:
        ws.script.write_text("print(1)\n")
        ws.params_file.write_text("{}")
        ws.result_file.write_text("1")
        ws.log_file.write_bytes(b"")
        if leave:
            leave(ws)
        ws.reusable = left_nothing
    return ws


def test_a_workspace_left_as_it_was_is_reused_without_parseqs_files(tmp_path):
    pool = WorkspacePool()
    first = used(pool, tmp_path)
    with pool.workspace(tmp_path) as second:
        assert second.root == first.root
        assert not second.script.exists() and not second.result_file.exists()
        assert all(folder.is_dir() and not os.listdir(folder) for folder in second.folders)


@pytest.mark.parametrize(
    "leave",
    [
        lambda ws: (ws.outputs / "report.csv").write_text("a,b\n"),
        lambda ws: (ws.home / ".cache").mkdir(),
        lambda ws: (ws.tmp / "scratch").write_text("x"),
        lambda ws: (ws.root / "output.txt").write_text("in the working directory"),
        lambda ws: (ws.results / "key").write_text("x"),
        lambda ws: os.chmod(ws.inputs, 0o777),
    ],
    ids=["output", "home", "tmp", "cwd", "results", "mode"],
)
def test_a_workspace_its_run_changed_is_deleted_not_reused(tmp_path, leave):
    pool = WorkspacePool()
    first = used(pool, tmp_path, leave)
    assert not first.root.exists()
    with pool.workspace(tmp_path) as second:
        assert second.root != first.root
        assert all(not os.listdir(folder) for folder in second.folders)


def test_a_workspace_whose_run_may_have_left_a_process_is_deleted(tmp_path):
    # A process that escaped the run's group could write into the next run's files.
    pool = WorkspacePool()
    first = used(pool, tmp_path, left_nothing=False)
    assert not first.root.exists()


def test_a_folder_swapped_for_a_symlink_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "params.json").write_text("not ours")
    pool = WorkspacePool()

    def swap(ws):
        for name in os.listdir(ws.control):
            os.unlink(ws.control / name)
        ws.control.rmdir()
        ws.control.symlink_to(elsewhere)

    first = used(pool, tmp_path / "base", swap)
    assert not first.root.exists()
    assert (elsewhere / "params.json").read_text() == "not ours"


def test_clearing_the_pool_deletes_the_idle_workspaces(tmp_path):
    pool = WorkspacePool()
    ws = used(pool, tmp_path)
    assert ws.root.exists()
    pool.clear()
    assert not ws.root.exists()


def test_the_pool_keeps_at_most_its_size(tmp_path):
    pool = WorkspacePool(size=1)
    with pool.workspace(tmp_path) as a, pool.workspace(tmp_path) as b:
        a.reusable = b.reusable = True
    assert [a.root.exists(), b.root.exists()].count(True) == 1
