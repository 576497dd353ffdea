"""The integrations in real apps: FastAPI (ASGI), Flask and Django (WSGI), plain WSGI, logging and
the excepthooks. A failing route keeps the app's own 500 and its own exception; a healthy route is
untouched; the event arrives with method, route and scrubbed headers."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import erroracle.client
from erroracle.client import (
    ErroracleASGIMiddleware,
    ErroracleHandler,
    ErroracleWSGIMiddleware,
    Options,
    Reporter,
)
from tests.client.platform_server import PlatformServer

SECRET_HEADERS = {"Authorization": "Bearer abc.def.ghi-123456", "Cookie": "session=s3cr3t",
                  "X-Request-Id": "req-7"}


class Boom(RuntimeError):
    pass


@pytest.fixture
def reporter(platform: PlatformServer) -> Iterator[Reporter]:
    client = Reporter(Options(platform.endpoint, "k", flush_interval=0.02))
    yield client
    client.close(1)


def one_event(platform: PlatformServer, client: Reporter) -> dict[str, Any]:
    assert client.flush(5)
    [event] = platform.events()
    return event


def assert_request_reported(event: dict[str, Any], method: str, route: str) -> None:
    assert event["error_type"] == "Boom" and event["message"] == "kaboom"
    assert f"http.method:{method}" in event["tags"] and f"http.route:{route}" in event["tags"]
    assert event["body"].startswith(f"{method} {route}")
    assert "x-request-id: req-7" in event["body"].lower()
    assert "s3cr3t" not in event["body"] and "abc.def" not in event["body"]


def fastapi_app(reporter: Reporter) -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def fails(item_id: int) -> dict[str, int]:
        raise Boom("kaboom")

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "fine"}

    app.add_middleware(ErroracleASGIMiddleware, reporter=reporter)
    return app


def call_asgi(app: Any, *paths: str, raise_app_exceptions: bool = True) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            return [await http.get(path, headers=SECRET_HEADERS) for path in paths]

    return asyncio.run(run())


def test_fastapi_failure_keeps_its_exception_and_is_reported(
        platform: PlatformServer, reporter: Reporter) -> None:
    with pytest.raises(Boom, match="kaboom"):
        call_asgi(fastapi_app(reporter), "/items/42")
    assert_request_reported(one_event(platform, reporter), "GET", "/items/{item_id}")


def test_fastapi_answers_its_own_500_and_healthy_routes_are_untouched(
        platform: PlatformServer, reporter: Reporter) -> None:
    failed, healthy = call_asgi(fastapi_app(reporter), "/items/1", "/ok",
                                raise_app_exceptions=False)
    assert (failed.status_code, failed.text) == (500, "Internal Server Error")
    assert (healthy.status_code, healthy.json()) == (200, {"status": "fine"})
    reporter.flush(5)
    assert len(platform.events()) == 1


def flask_app(reporter: Reporter, propagate: bool) -> Any:
    from flask import Flask

    app = Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = propagate

    @app.get("/orders/<int:order_id>")
    def fails(order_id: int) -> str:
        raise Boom("kaboom")

    @app.get("/ok")
    def ok() -> str:
        return "fine"

    app.wsgi_app = ErroracleWSGIMiddleware(app.wsgi_app, reporter=reporter)
    return app


def test_flask_answers_its_own_500_and_the_error_is_reported(
        platform: PlatformServer, reporter: Reporter) -> None:
    http = flask_app(reporter, propagate=False).test_client()
    failed = http.get("/orders/7", headers=SECRET_HEADERS)
    healthy = http.get("/ok")
    assert failed.status_code == 500 and b"Internal Server Error" in failed.data
    assert (healthy.status_code, healthy.data) == (200, b"fine")
    assert_request_reported(one_event(platform, reporter), "GET", "/orders/<int:order_id>")


def test_flask_propagating_its_exception_reports_it_once(
        platform: PlatformServer, reporter: Reporter) -> None:
    http = flask_app(reporter, propagate=True).test_client()
    with pytest.raises(Boom):
        http.get("/orders/7", headers=SECRET_HEADERS)
    assert_request_reported(one_event(platform, reporter), "GET", "/orders/<int:order_id>")


def test_plain_wsgi_including_an_error_while_streaming(
        platform: PlatformServer, reporter: Reporter) -> None:
    from werkzeug.test import Client

    def streaming(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first chunk"
        raise Boom("kaboom")

    http = Client(ErroracleWSGIMiddleware(streaming, reporter=reporter))
    with pytest.raises(Boom):
        http.get("/stream", headers=SECRET_HEADERS, buffered=True)
    assert_request_reported(one_event(platform, reporter), "GET", "/stream")


def test_django_answers_its_own_500_and_the_error_is_reported(
        platform: PlatformServer, reporter: Reporter) -> None:
    django = pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
                           SECRET_KEY="test-only", MIDDLEWARE=[], LOGGING_CONFIG=None)
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from werkzeug.test import Client

    http = Client(ErroracleWSGIMiddleware(WSGIHandler(), reporter=reporter))
    failed = http.get("/tickets/3", headers=SECRET_HEADERS)
    assert failed.status_code == 500
    assert_request_reported(one_event(platform, reporter), "GET", "tickets/<int:ticket_id>")


def _django_view(request: Any, ticket_id: int) -> Any:
    raise Boom("kaboom")


def __getattr__(name: str) -> Any:
    # Django reads urlpatterns from ROOT_URLCONF (this module) only when the test runs.
    if name == "urlpatterns":
        from django.urls import path

        return [path("tickets/<int:ticket_id>", _django_view)]
    raise AttributeError(name)


def test_logging_handler_reports_errors_with_their_exception(
        platform: PlatformServer, reporter: Reporter,
        client_internal_errors: list[logging.LogRecord]) -> None:
    log = logging.getLogger("shop.orders")
    handler = ErroracleHandler(reporter=reporter)
    log.addHandler(handler)
    try:
        log.warning("not reported")
        try:
            raise Boom("kaboom")
        except Boom:
            log.exception("order %s failed", 7)
        log.error("plain error, token=abcdef123456")
        client_log = logging.getLogger("erroracle.client")
        client_log.addHandler(handler)
        client_log.error("the client's own line is never reported")
        client_log.removeHandler(handler)
        client_internal_errors.clear()
    finally:
        log.removeHandler(handler)
    reporter.flush(5)
    first, second = platform.events()
    assert first["error_type"] == "Boom" and first["message"] == "order 7 failed: kaboom"
    assert "logger:shop.orders" in first["tags"]
    assert second["message"] == "plain error, token=[Filtered:secret]"


def test_excepthooks_report_then_call_the_previous_hooks(
        platform: PlatformServer, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, error, tb: seen.append(f"sys:{error}"))
    monkeypatch.setattr(threading, "excepthook",
                        lambda args: seen.append(f"thread:{args.exc_value}"))
    erroracle.client.init(platform.endpoint, "k", flush_interval=0.02)
    try:
        erroracle.client.init(platform.endpoint, "k", flush_interval=0.02)  # hooks wrap once
        try:
            raise Boom("in main")
        except Boom as error:
            sys.excepthook(Boom, error, error.__traceback__)
        worker = threading.Thread(target=lambda: (_ for _ in ()).throw(Boom("in thread")))
        worker.start()
        worker.join()
        assert erroracle.client.flush(5)
    finally:
        erroracle.client.close(1)
    assert seen == ["sys:in main", "thread:in thread"]
    assert sorted(e["message"] for e in platform.events()) == ["in main", "in thread"]
    assert {e["level"] for e in platform.events()} == {"fatal"}


def test_before_init_every_call_is_a_no_op() -> None:
    assert isinstance(erroracle.client.current(), erroracle.client._current.NullReporter)
    assert erroracle.client.capture_exception(Boom("x")) is None
    assert erroracle.client.capture_message("x") is None
    assert erroracle.client.flush(0.1) is True
    erroracle.client.close()
