"""A local HTTP server (127.0.0.1, a thread) that answers with recorded responses.

Parsers that fetch the web are tested against it: no test reaches the internet.

    with serve({"/scripts/XML_daily.asp": Reply.file("cbr.xml", "application/xml")}) as server:
        ... server.url + "/scripts/XML_daily.asp" ...
        server.requests  # [(path, {query: [values]}), ...]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Reply:
    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200

    @classmethod
    def file(cls, name: str, content_type: str, status: int = 200) -> Reply:
        """A recorded response stored under tests/data/."""
        return cls((DATA_DIR / name).read_bytes(), content_type, status)


Route = Reply | Callable[[dict[str, list[str]]], Reply]


@dataclass
class RecordedServer:
    url: str
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[RecordedServer]:
    """Serve ``routes`` (path → Reply, or query → Reply); unknown paths get a 404."""
    recorded: list[tuple[str, dict[str, list[str]]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            recorded.append((parts.path, query))
            route = routes.get(parts.path)
            if route is None:
                reply = Reply(b"not found", "text/plain", 404)
            else:
                reply = route(query) if callable(route) else route
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format, *args) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="recorded-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield RecordedServer(url=f"http://{host}:{port}", requests=recorded)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
