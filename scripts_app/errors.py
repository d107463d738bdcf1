"""Parseq's error hierarchy: services raise these, the edges turn them into 4xx/form errors."""

from __future__ import annotations


class ParseqError(Exception):
    """Base class for errors a caller can report to a person."""


class InvalidParams(ParseqError):
    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


class JobNotRunnable(ParseqError):
    """The job has no usable script."""


class NotCancellable(ParseqError):
    """The run has already ended."""


class DependencyError(JobNotRunnable):
    """A script's declared dependencies cannot be read or resolved (the message names the
    package and uv's reason); at upload nothing is saved, at trigger nothing is queued."""


class EnvironmentBuildError(ParseqError):
    """A worker could not build a script's environment (uv's error, credentials removed)."""
