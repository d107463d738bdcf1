"""Invariant 5 at the process level: a script cannot read its worker's secrets in /proc,
whether the worker spawned it or forked it from its fork server."""

from __future__ import annotations

import json
import os

import pytest

from tests.runner_helpers import start_worker

SECRET = "worker-only-secret-5e1f"

# Scans every process's environment for the secret, and lists the capabilities that
# would let it read one anyway (CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_PERFMON) that this
# process still holds, or could regain.
PROC_SCAN = f"""
    import os

    def capabilities():
        with open("/proc/self/status") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        return {{
            name: [cap for cap in (19, 21, 38) if int(fields[name], 16) >> cap & 1]
            for name in ("CapEff", "CapPrm", "CapBnd")
        }}

    def main(data):
        readable, leaked = 0, []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{{pid}}/environ", "rb") as handle:
                    environ = handle.read()
            except OSError:
                continue
            readable += 1
            if {SECRET!r}.encode() in environ:
                leaked.append(int(pid))
        return {{"readable": readable, "leaked": leaked, "capabilities": capabilities()}}
"""


@pytest.mark.parametrize("fork_server", [False, True], ids=["spawned", "forked"])
def test_a_script_cannot_read_its_workers_environment_through_proc(tmp_path, fork_server):
    # The secret is in the worker's initial environment, the one /proc shows.
    worker = start_worker(
        tmp_path, PROC_SCAN, fork_server=fork_server, env={**os.environ, "WORKER_SECRET": SECRET}
    )
    out, _ = worker.communicate(timeout=60)
    report = json.loads(out)
    assert report["exit_code"] == 0
    result = report["result"]
    assert result["readable"] > 0  # the scan itself works (it reads its own entry)
    assert worker.pid not in result["leaked"]
    assert result["leaked"] == []
    assert result["capabilities"] == {"CapEff": [], "CapPrm": [], "CapBnd": []}
