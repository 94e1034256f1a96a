"""A local HTTP server standing in for FRED, EIA, ECOS and the customs portal (no test touches the internet)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "sEcReT/key+42"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[str, dict[str, list[str]]], Reply]


class FakeApi:
    """Routes by path prefix; each route answers from a script (a list used in turn, last one repeats)."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, Responder]] = []
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.url = ""

    def route(self, prefix: str, *replies: Reply | Responder) -> None:
        script = list(replies)
        calls = {"n": 0}

        def respond(path: str, query: dict[str, list[str]]) -> Reply:
            reply = script[min(calls["n"], len(script) - 1)]
            calls["n"] += 1
            return reply(path, query) if callable(reply) else reply

        self.routes.insert(0, (prefix, respond))

    def answer(self, path: str, query: dict[str, list[str]]) -> Reply:
        self.requests.append((path, query))
        for prefix, respond in self.routes:
            if path.startswith(prefix):
                return respond(path, query)
        return Reply(404, '{"error": "no route"}')

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _ in self.requests if p.startswith(prefix)]

    def queries(self, prefix: str = "") -> list[dict[str, list[str]]]:
        return [q for p, q in self.requests if p.startswith(prefix)]


@pytest.fixture
def fake_api():
    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            reply = api.answer(parts.path, parse_qs(parts.query))
            data = reply.body.encode("utf-8")
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


FAST = {
    "max_retries": 2,
    "backoff_base_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "timeout_seconds": 5.0,
}
