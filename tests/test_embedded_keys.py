"""Embedded defaults need no SECRET_KEY and no DEBUG: the first start generates the keys
into PARSEQ_DATA_DIR (0600), every later process reads them, and concurrent first
processes agree; secrets saved under the old built-in development key stay readable."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from parseq import embedded
from scripts_app.jobs.keys import derived_key

ROOT = Path(__file__).resolve().parent.parent

KEYS = """
import json, sys, django
from django.conf import settings
django.setup()
from cryptography.fernet import Fernet
from scripts_app.jobs import secrets
seen = {"secret_key": settings.SECRET_KEY, "secrets_key": settings.PARSEQ_SECRETS_KEY,
        "debug": settings.DEBUG}
if settings.PARSEQ_SECRETS_KEY:
    seen["legacy"] = secrets.decrypt(Fernet(sys.argv[1].encode()).encrypt(b"saved-before").decode())
    newest = Fernet(settings.PARSEQ_SECRETS_KEY.split(",")[0].encode())
    seen["fresh_with_newest"] = newest.decrypt(secrets.encrypt("saved-now").encode()).decode()
print(json.dumps(seen))
"""


def probe(data_dir: Path, **env: str) -> subprocess.Popen:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "parseq.settings",
        "PARSEQ_DATA_DIR": str(data_dir),
        **env,
    }
    legacy = derived_key(embedded.LEGACY_DEV_SECRET_KEY).decode()
    return subprocess.Popen(
        [sys.executable, "-c", KEYS, legacy],
        cwd=ROOT,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answer(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_the_first_start_generates_both_keys_private_to_their_owner(tmp_path):
    seen = answer(probe(tmp_path))
    assert seen["debug"] is False
    for name in (embedded.SECRET_KEY_FILE, embedded.SECRETS_KEY_FILE):
        info = (tmp_path / name).stat()
        assert stat.S_IMODE(info.st_mode) == 0o600, name
    assert seen["secret_key"] == (tmp_path / "secret_key").read_text()
    assert len(seen["secret_key"]) >= 50
    generated = (tmp_path / "secrets_key").read_text()
    assert seen["secrets_key"].split(",")[0] == generated
    assert generated not in seen["secret_key"]  # a separate key, not one derived from it
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_every_later_process_reads_the_same_keys(tmp_path):
    first = answer(probe(tmp_path))
    again = answer(probe(tmp_path))
    assert (first["secret_key"], first["secrets_key"]) == (
        again["secret_key"],
        again["secrets_key"],
    )


def test_concurrent_first_processes_agree_on_the_keys(tmp_path):
    procs = [probe(tmp_path) for _ in range(6)]
    seen = [answer(proc) for proc in procs]
    assert len({(s["secret_key"], s["secrets_key"]) for s in seen}) == 1


def test_secrets_saved_under_the_old_development_key_stay_readable(tmp_path):
    seen = answer(probe(tmp_path))
    assert seen["legacy"] == "saved-before"
    # What is saved now is encrypted with the generated key, not the public old one.
    assert seen["fresh_with_newest"] == "saved-now"


def test_a_given_secret_key_is_used_and_no_key_file_is_made(tmp_path):
    seen = answer(probe(tmp_path, SECRET_KEY="from-the-environment"))
    assert seen["secret_key"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "secrets_key").exists()


def test_a_key_file_made_by_a_racing_process_is_never_replaced(tmp_path):
    (tmp_path / "secret_key").write_text("already-there")
    embedded.write_once(tmp_path / "secret_key", "mine")  # lost the race: keeps the winner's
    assert embedded.kept_key(tmp_path / "secret_key", lambda: "mine") == "already-there"
    fernet = embedded.kept_key(tmp_path / "secrets_key", embedded.new_fernet_key)
    Fernet(fernet.encode())  # a valid Fernet key
