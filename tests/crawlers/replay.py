"""Replays recorded real API traffic (praw's Betamax cassettes, PyGithub's ReplayData) from a local
aiohttp server: a request gets the recorded answer for its method, path and query, else the next
recording of its method and path, or, when nothing was recorded, a 404."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp import web
from multidict import CIMultiDict

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "status",
               "keep-alive"}


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _fixture(shared_data: Path, kind: str, name: str) -> Path:
    path = shared_data / "crawler_fixtures" / kind / name
    if not path.is_file():
        pytest.skip(f"recorded traffic {path} is absent")
    return path


def cassette(shared_data: Path, name: str) -> list[Exchange]:
    """The interactions of a praw Betamax cassette."""
    data = json.loads(_fixture(shared_data, "reddit", f"{name}.json").read_text())
    found = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        url = urlsplit(request["uri"])
        headers = [(k, v) for k, values in response["headers"].items() for v in values]
        found.append(Exchange(request["method"], url.path, dict(parse_qsl(url.query)),
                              response["status"]["code"], headers,
                              response["body"].get("string", "").encode()))
    return found


def replay_data(shared_data: Path, name: str) -> list[Exchange]:
    """The exchanges of a PyGithub ReplayData file (11 lines each)."""
    lines = _fixture(shared_data, "github", f"{name}.txt").read_text().split("\n")
    found = []
    for at in range(0, len(lines) - 10, 11):
        _, method, _, _, target, _, _, status, headers, body = lines[at: at + 10]
        url = urlsplit(target)
        found.append(Exchange(method, url.path, dict(parse_qsl(url.query)), int(status),
                              [(str(k), str(v)) for k, v in ast.literal_eval(headers)],
                              body.encode()))
    return found


class Replay:
    """Serves ``exchanges``; ``served`` records what was asked."""

    def __init__(self, exchanges: list[Exchange]) -> None:
        self.exchanges = list(exchanges)
        self.served: list[tuple[str, str, int]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._answer)

    def _pick(self, request: web.Request) -> Exchange | None:
        same = [e for e in self.exchanges if e.method == request.method
                and e.path.rstrip("/") == request.path.rstrip("/")]
        exact = [e for e in same if e.query == dict(request.query)]
        chosen = (exact or same or [None])[0]
        if chosen is not None and len(same) > 1:
            self.exchanges.remove(chosen)  # the next call of that path gets the next recording
        return chosen

    async def _answer(self, request: web.Request) -> web.Response:
        exchange = self._pick(request)
        if exchange is None:
            self.served.append((request.method, request.path, 404))
            return web.json_response({"message": "Not Found", "error": 404}, status=404)
        self.served.append((request.method, request.path, exchange.status))
        headers = CIMultiDict((k, v) for k, v in exchange.headers
                              if k.lower() not in _HOP_BY_HOP)
        return web.Response(status=exchange.status, body=exchange.body, headers=headers)


def moved(exchange: Exchange, path: str, body: Any = None) -> Exchange:
    """``exchange`` answered at ``path`` (and with ``body`` re-serialised, when given)."""
    return Exchange(exchange.method, path, {}, exchange.status, exchange.headers,
                    exchange.body if body is None else json.dumps(body).encode())
