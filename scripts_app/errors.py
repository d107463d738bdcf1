"""Parseq's one error hierarchy, with the HTTP answer for each error.

Services raise these; the edges report them. The REST API and ``/scripts/<slug>/``
answer with ``http_status``, ``http_body()`` and ``http_headers()`` (through
``api/errors.py``'s exception handler), so an error means the same answer everywhere;
the admin and the CLI show the message.
"""

from __future__ import annotations


class ParseqError(Exception):
    """An error a caller can report to a person (a 4xx, never a 500)."""

    http_status = 400

    def http_body(self) -> dict:
        return {"detail": str(self)}

    def http_headers(self) -> dict[str, str]:
        return {}


# --- runs ---------------------------------------------------------------------------


class InvalidParams(ParseqError):
    """The params break the job's JSON Schema (or name bad input files)."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))

    def http_body(self) -> dict:
        return {"detail": "The params are invalid.", "errors": self.errors}


class InvalidRecipients(ParseqError):
    """The e-mail addresses a trigger named for its run are not addresses."""

    def http_body(self) -> dict:
        return {"detail": str(self), "email": [str(self)]}  # and under its field, as DRF does


class JobNotRunnable(ParseqError):
    """The job has no usable script."""

    http_status = 409


class NotCancellable(ParseqError):
    """The run has already ended."""

    http_status = 409


# --- jobs ---------------------------------------------------------------------------


class JobBusy(ParseqError):
    """The job still has queued or running executions."""

    http_status = 409


class SecretUnreadable(ParseqError):
    """A stored secret cannot be decrypted with the configured key."""

    http_status = 409


class CronError(ParseqError, ValueError):
    """A cron expression that cannot be used; the message says why.

    A ValueError too: whatever reads a saved schedule treats any bad value alike."""


class BadToken(ParseqError):
    """A trigger token that is not the job's."""

    http_status = 403


class InvalidScriptPath(ParseqError):
    """A script path that is absolute, climbs out of the scripts directory or is no .py."""


class ScriptNotFound(ParseqError):
    """No script at that path under the scripts directory."""

    http_status = 404


# --- files --------------------------------------------------------------------------


class InvalidKey(ParseqError):
    """A key or prefix that could escape the file area or is not printable."""


class ExtensionNotAllowed(ParseqError):
    """An upload whose extension is not in ``PARSEQ_FILE_EXTENSIONS``."""


class FileTooLarge(ParseqError):
    """An upload over ``PARSEQ_FILE_MAX_BYTES``."""

    http_status = 413


class FileMissing(ParseqError):
    """No stored file has that key."""

    http_status = 404


class RangeNotSatisfiable(ParseqError):
    """A well-formed ``Range`` that lies outside the file."""

    http_status = 416

    def __init__(self, size: int):
        self.size = size
        super().__init__(f"The range lies outside the file ({size} bytes).")

    def http_headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}", "Accept-Ranges": "bytes"}


# --- environments ------------------------------------------------------------------


class DependencyError(JobNotRunnable):
    """A script's declared dependencies cannot be read or resolved (the message names the
    package and uv's reason); at upload nothing is saved, at trigger nothing is queued."""


class EnvironmentBuildError(ParseqError):
    """A worker could not build a script's environment (uv's error, credentials removed)."""


class UvFailed(ParseqError):
    """uv exited with an error; ``str()`` is its message with credentials removed."""
