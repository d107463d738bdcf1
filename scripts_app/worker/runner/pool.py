"""The pool of script environments' fork servers: bounded, least recently used out.

Its servers live in the one registry (``zygote.SERVERS``) beside the worker's own,
under the same lock; keys whose interpreter is not the worker's are the pool's
(``ServerKey.pooled``). At most ``size`` per worker process (PARSEQ_ENV_FORK_SERVERS):
the least recently used idle one is retired to make room, and a sweeper retires any
idle for ``idle_seconds`` (PARSEQ_ENV_FORK_SERVER_IDLE). A run whose environment has
no running server is spawned, while one starts in the background for the next run; a
server with a run on it is never retired.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from scripts_app.worker.runner import zygote
from scripts_app.worker.runner.zygote import ServerKey, Zygote

logger = logging.getLogger(__name__)


class Pool:
    """The rules for the pooled servers (script environments') in the registry."""

    def __init__(self, size: int = 4, idle_seconds: float = 600):
        self.size = size
        self.idle_seconds = idle_seconds
        # A thread retiring idle servers while the pool has any (it ends with the last).
        self.sweeper: threading.Thread | None = None

    def configure(self, size: int, idle_seconds: float) -> None:
        self.size, self.idle_seconds = size, idle_seconds

    def servers(self) -> dict[ServerKey, Zygote]:
        with zygote.SERVERS_LOCK:
            return {key: server for key, server in zygote.SERVERS.items() if key.pooled}

    def warm(self, key: ServerKey, hold: Callable[[], Any] | None = None) -> Zygote | None:
        """The running server of ``key``; None when it has none — one then starts in the
        background for the next run, unless every pooled server is busy."""
        retired: list[Zygote] = []
        with zygote.SERVERS_LOCK:
            server = zygote.SERVERS.get(key)
            if server is not None and server.running():
                return server
            if server is not None and server.starting:
                return None
            if server is None:  # new (one that died is restarted in place)
                if not self._make_room(retired):
                    return None
                held = hold() if hold else None
                server = Zygote(
                    key.server_env(), key.interpreter, held, module=key.module, wrapper=key.wrapper
                )
                zygote.SERVERS[key] = server
                self._start_sweeper()
            server.starting = True
        for old in retired:
            old.stop()
        threading.Thread(target=self._start, args=(key, server), daemon=True).start()
        return None

    def _make_room(self, retired: list[Zygote]) -> bool:
        """Under the registry's lock: retire idle servers, least recently used first,
        until there is room for one more."""
        pooled = sorted(
            (server.last_used, key) for key, server in zygote.SERVERS.items() if key.pooled
        )
        excess = len(pooled) + 1 - self.size
        for _last_used, key in pooled:
            if excess <= 0:
                break
            if zygote.SERVERS[key].retire_if_idle():
                retired.append(zygote.SERVERS.pop(key))
                excess -= 1
        return self.size > 0 and excess <= 0

    def _start(self, key: ServerKey, server: Zygote) -> None:
        try:
            server._ensure()
        except Exception as exc:  # its runs are spawned; forgotten, so a later run retries
            if not server.retired:  # (a retired one was made room for: nothing went wrong)
                logger.warning("environment fork server did not start: %r", exc)
            self.retire(key, server)
        finally:
            server.starting = False

    def retire(self, key: ServerKey, server: Zygote) -> None:
        with zygote.SERVERS_LOCK:
            if zygote.SERVERS.get(key) is server:
                del zygote.SERVERS[key]
        server.stop()

    def retire_idle(self) -> int:
        """Retire the servers idle for ``idle_seconds``; how many."""
        with zygote.SERVERS_LOCK:
            old = [
                key
                for key, server in zygote.SERVERS.items()
                if key.pooled and server.retire_if_idle(self.idle_seconds)
            ]
            retired = [zygote.SERVERS.pop(key) for key in old]
        for server in retired:
            server.stop()
        return len(retired)

    def _start_sweeper(self) -> None:
        """Under the registry's lock."""
        if self.sweeper is None:
            self.sweeper = threading.Thread(target=self._sweep, name="parseq-env-zygotes")
            self.sweeper.daemon = True
            self.sweeper.start()

    def _sweep(self) -> None:
        while True:
            time.sleep(min(60.0, self.idle_seconds / 2))
            self.retire_idle()
            with zygote.SERVERS_LOCK:
                if not any(key.pooled for key in zygote.SERVERS):  # all retired, or disabled
                    self.sweeper = None
                    return


POOL = Pool()


def server_for_run(
    env: dict[str, str],
    interpreter: str = sys.executable,
    hold: Callable[[], Any] | None = None,
    module: str = zygote.SERVER_MODULE,
    wrapper: tuple[str, ...] = (),
) -> Zygote | None:
    """The server to fork this run from; None to spawn it (its environment's server is
    not warm yet). ``hold`` makes what a new environment server keeps while it lives;
    ``module``: the server's module (the Django one for code jobs); ``wrapper``: a
    sandboxed server's bwrap command."""
    key = ServerKey.for_run(env, interpreter, module, wrapper)
    return POOL.warm(key, hold) if key.pooled else zygote.server_for(key)
