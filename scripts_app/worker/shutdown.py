"""A worker that is asked to stop: it claims nothing new, and stops its running
scripts once the shutdown grace period ends (see middleware.ShutdownGrace)."""

from __future__ import annotations

import threading
import time


class ShutdownClock:
    """Set by the worker's ShutdownGrace middleware when the worker is asked to stop.

    From then on no new run is claimed; running ones may finish until the grace
    period ends, then their supervisor stops them and records why.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.deadline: float | None = None
        self.grace = 0

    def begin(self, grace: int) -> None:
        with self.lock:
            if self.deadline is None:
                self.grace = grace
                self.deadline = time.monotonic() + grace

    def reset(self) -> None:
        with self.lock:
            self.deadline = None

    @property
    def started(self) -> bool:
        return self.deadline is not None

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


SHUTDOWN = ShutdownClock()
SHUTDOWN_STOP = "worker shut down: run stopped after the {grace} s shutdown grace period"
