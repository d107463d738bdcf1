"""The file storage API: uploaded files addressed by key, and the files runs hand back.

Every file lives in Django storage (local disk or S3) under ``files/<key>``, so a key can
never reach the logs, artifacts or scripts kept elsewhere in the same storage.

Scripts never see storage credentials. A run names the keys it needs in its params
(``"input_files": ["uploads/…csv"]``, or seed 003's one ``"file_key": "…"``); the worker
copies them into the run's ``inputs/`` directory before the script starts
(``runtime.input_file(key)``). Files the script writes
with ``runtime.result_file(name)`` are stored by the worker after the run under the key
``runs/<execution id>/<name>`` (``runtime.result_key(name)``).
"""

from __future__ import annotations

import mimetypes
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from scripts_app.errors import ExtensionNotAllowed, FileMissing, FileTooLarge, InvalidKey

STORAGE_ROOT = "files"
INPUT_FILES_PARAM = "input_files"
FILE_KEY_PARAM = "file_key"  # seed 003: one uploaded file, {"data": {"file_key": "test/….txt"}}
RESULT_KEY_PREFIX = "runs"
RESULT_DIR_NAME = "results"  # next to inputs/ and outputs/ in a run's workspace
MAX_KEY_LENGTH = 400
DRIVE_RE = re.compile(r"^[A-Za-z]:")  # C:… is absolute on Windows


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    content_type: str

    @property
    def storage_name(self) -> str:
        return storage_name(self.key)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "content_type": self.content_type}


def _check_path(value: str, what: str) -> list[str]:
    if not isinstance(value, str) or not value:
        raise InvalidKey(f"The {what} is empty.")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidKey(f"The {what} is longer than {MAX_KEY_LENGTH} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise InvalidKey(f"The {what} contains control characters.")
    if "\\" in value:
        raise InvalidKey(f"The {what} contains a backslash; use '/' between parts.")
    if value.startswith("/") or PurePosixPath(value).is_absolute() or DRIVE_RE.match(value):
        raise InvalidKey(f"The {what} must be relative, not an absolute path.")
    parts = value.split("/")
    if any(part in ("..", ".") for part in parts):
        raise InvalidKey(f"The {what} must not contain '.' or '..' parts.")
    if any(part == "" for part in parts):
        raise InvalidKey(f"The {what} has an empty part ('//' or a trailing '/').")
    if any(part != part.strip() for part in parts):
        raise InvalidKey(f"The {what} has a part that starts or ends with a space.")
    return parts


def validate_key(key: str) -> str:
    """``key`` unchanged when it is safe to use as a storage path; else InvalidKey."""
    _check_path(key, "key")
    return key


def validate_prefix(prefix: str | None) -> str:
    """An upload prefix without surrounding slashes ('' for none)."""
    if prefix in (None, ""):
        return ""
    prefix = prefix.rstrip("/") if isinstance(prefix, str) else prefix
    _check_path(prefix, "prefix")
    return prefix


def storage_name(key: str) -> str:
    return f"{STORAGE_ROOT}/{validate_key(key)}"


def allowed_extensions() -> frozenset[str] | None:
    """Lower-case extensions with the dot, or None when any extension is allowed."""
    configured = [ext.strip().lower() for ext in settings.PARSEQ_FILE_EXTENSIONS]
    if "*" in configured:
        return None
    return frozenset(ext if ext.startswith(".") else f".{ext}" for ext in configured if ext)


def extension_of(filename: str) -> str:
    name = PurePosixPath(filename.replace("\\", "/")).name.lower()
    for compound in (".tar.gz", ".tar.bz2", ".tar.xz"):
        if name.endswith(compound):
            return compound
    return PurePosixPath(name).suffix


def check_extension(filename: str) -> str:
    ext = extension_of(filename)
    allowed = allowed_extensions()
    if allowed is not None and ext not in allowed:
        shown = ext or "(none)"
        raise ExtensionNotAllowed(
            f"Files with the extension {shown} are not accepted; allowed: "
            f"{', '.join(sorted(allowed))}."
        )
    return ext


def check_size(size: int | None) -> None:
    limit = settings.PARSEQ_FILE_MAX_BYTES
    if size is not None and size > limit:
        raise FileTooLarge(f"The file is {size:,} bytes; the limit is {limit:,} bytes.")


def new_key(prefix: str, ext: str) -> str:
    """A random key under ``prefix`` that no stored file has yet."""
    while True:
        name = f"{uuid.uuid4().hex}{ext}"
        key = f"{prefix}/{name}" if prefix else name
        if not default_storage.exists(storage_name(key)):
            return key


def guess_content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def upload(uploaded: Any, prefix: str | None = None) -> StoredFile:
    """Store an uploaded file under a new random key (keeping its extension)."""
    prefix = validate_prefix(prefix)
    filename = getattr(uploaded, "name", "") or ""
    ext = check_extension(filename)
    check_size(getattr(uploaded, "size", None))
    key = new_key(prefix, ext)
    uploaded.seek(0)
    stored = default_storage.save(storage_name(key), File(uploaded))
    if stored != storage_name(key):  # the storage renamed it: a race on the same random name
        default_storage.delete(stored)
        raise FileExistsError(key)
    return StoredFile(
        key=key, size=default_storage.size(stored), content_type=guess_content_type(key)
    )


def existing_name(key: str) -> str:
    """The storage name of ``key``; FileMissing when nothing is stored there."""
    name = storage_name(key)
    if not default_storage.exists(name):
        raise FileMissing(f"No file has the key “{key}”.")
    return name


def info(key: str) -> StoredFile:
    name = existing_name(key)
    return StoredFile(
        key=key, size=default_storage.size(name), content_type=guess_content_type(key)
    )


def delete(key: str) -> None:
    default_storage.delete(existing_name(key))


# --- runs: keys in, keys out -----------------------------------------------------------


def input_keys(params: Any) -> list[str]:
    """The keys a run asks for: ``params["input_files"]`` (a list of keys) and seed 003's
    ``params["file_key"]`` (one key)."""
    if not isinstance(params, dict):
        return []
    value = params.get(INPUT_FILES_PARAM)
    keys = [] if value is None else value if isinstance(value, list) else [value]
    one = params.get(FILE_KEY_PARAM)
    if one is not None and one not in keys:
        keys = [*keys, one]
    return keys  # bad ones are reported by input_key_errors


def input_key_errors(params: Any) -> list[dict[str, str]]:
    """Every bad or missing key the run asks for, as ``{"path", "message"}``."""
    if not isinstance(params, dict):
        return []
    errors = []
    value = params.get(INPUT_FILES_PARAM)
    if value is not None and not isinstance(value, list):
        errors.append({"path": f"$.{INPUT_FILES_PARAM}", "message": "must be a list of file keys"})
    elif value is not None:
        for index, key in enumerate(value):
            errors += _key_errors(key, f"$.{INPUT_FILES_PARAM}[{index}]")
    if params.get(FILE_KEY_PARAM) is not None:
        errors += _key_errors(params[FILE_KEY_PARAM], f"$.{FILE_KEY_PARAM}")
    return errors


def _key_errors(key: Any, path: str) -> list[dict[str, str]]:
    if not isinstance(key, str):
        return [{"path": path, "message": "a file key must be a string"}]
    try:
        name = storage_name(key)
    except InvalidKey as exc:
        return [{"path": path, "message": str(exc)}]
    if not default_storage.exists(name):
        return [{"path": path, "message": f"no file has the key “{key}”"}]
    return []


def result_dir(workspace_root: Path) -> Path:
    return workspace_root / RESULT_DIR_NAME


def result_key(execution_id: int, name: str) -> str:
    return f"{RESULT_KEY_PREFIX}/{execution_id}/{name}"


def fetch_inputs(params: Any, inputs_dir: Path) -> list[str]:
    """Copy the run's input files from storage to ``inputs_dir/<key>``; the keys copied.

    Raises InvalidKey or FileMissing (the run then fails with that message).
    """
    keys = input_keys(params)
    for key in keys:
        if not isinstance(key, str):
            raise InvalidKey(f"{INPUT_FILES_PARAM} must be a list of file keys")
        name = storage_name(key)
        if not default_storage.exists(name):
            raise FileMissing(f"input file “{key}” does not exist")
        target = inputs_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(name, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
    return keys


def store_results(execution_id: int, workspace_root: Path) -> list[StoredFile]:
    """Store every file the script left in ``results/`` under ``runs/<id>/<name>``."""
    folder = result_dir(workspace_root)
    stored: list[StoredFile] = []
    if not folder.is_dir():
        return stored
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(folder).as_posix()
        try:
            key = validate_key(result_key(execution_id, rel))
        except InvalidKey:
            continue  # a name no key may have (control characters…): not handed back
        name = storage_name(key)
        if default_storage.exists(name):
            default_storage.delete(name)
        with path.open("rb") as handle:
            default_storage.save(name, File(handle))
        stored.append(StoredFile(key, path.stat().st_size, guess_content_type(rel)))
    return stored
