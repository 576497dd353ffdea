"""Client fixtures: a platform stand-in on 127.0.0.1, and a guard that fails any test in which the
client swallowed an internal error (logged at ERROR on ``erroracle.client``)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from tests.client.platform_server import PlatformServer


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def client_internal_errors() -> Iterator[list[logging.LogRecord]]:
    """The client's internal errors during a test; any left at the end fails the test (a test that
    provokes one on purpose checks it and clears the list)."""
    collect = _Collect()
    client_logger = logging.getLogger("erroracle.client")
    client_logger.addHandler(collect)
    yield collect.records
    client_logger.removeHandler(collect)
    if collect.records:
        first = collect.records[0]
        detail = logging.Formatter().format(first)
        pytest.fail(f"the client swallowed {len(collect.records)} internal error(s):\n{detail}")


@pytest.fixture
def platform() -> Iterator[PlatformServer]:
    with PlatformServer() as server:
        yield server


@pytest.fixture
def refused_endpoint() -> str:
    """A base URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
