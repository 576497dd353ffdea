"""WSGI middleware (Flask, Django, any WSGI app): report an unhandled exception with the request's
method, route and scrubbed headers, then re-raise it untouched.

Flask and Django turn a view's exception into their own 500 page, so it never reaches a WSGI
middleware; for them the middleware also listens to the framework's ``got_request_exception``
signal (importing nothing that the app has not imported itself).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from erroracle.client import _current
from erroracle.client.reporter import Reporter, logger

__all__ = ["ErroracleWSGIMiddleware"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ErroracleWSGIMiddleware:
    """Wrap a WSGI app; healthy requests pass straight through.

    Args:
        app: the WSGI app (``flask_app.wsgi_app``, Django's ``get_wsgi_application()``, ...).
        reporter: the reporter to use; the current one when None.

    Example:
        >>> flask_app.wsgi_app = ErroracleWSGIMiddleware(flask_app.wsgi_app)  # doctest: +SKIP
    """

    def __init__(self, app: WSGIApp, reporter: Reporter | None = None) -> None:
        self.app = app
        self._reporter = reporter
        _listen_to_framework(app, self._capture)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        try:
            body = self.app(environ, start_response)
        except Exception as error:
            self._capture(error, environ)
            raise
        return _WatchedBody(body, lambda error: self._capture(error, environ))

    def _capture(self, error: BaseException, environ: dict[str, Any],
                 route: str | None = None) -> None:
        try:
            reporter = self._reporter or _current.current()
            reporter.capture_exception(error, request=_request(environ, route))
        except Exception:
            logger.exception("erroracle.client: could not report a failed WSGI request")


class _WatchedBody:
    """The app's response body, reporting an exception raised while it streams."""

    def __init__(self, body: Iterable[bytes], capture: Callable[[BaseException], None]) -> None:
        self._body = body
        self._capture = capture

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except Exception as error:
            self._capture(error)
            raise

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def _request(environ: dict[str, Any], route: str | None) -> dict[str, Any]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return {"method": environ.get("REQUEST_METHOD", ""),
            "route": route or _flask_rule(environ) or environ.get("PATH_INFO", ""),
            "headers": headers}


def _flask_rule(environ: dict[str, Any]) -> str | None:
    # Werkzeug leaves its request object in the environ; Flask's carries the matched URL rule.
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    return getattr(rule, "rule", None)


def _listen_to_framework(app: Any, capture: Callable[..., None]) -> None:
    owner = getattr(app, "__self__", app)
    module = type(owner).__module__
    if module.startswith("flask") and "flask" in sys.modules:
        _listen_to_flask(owner, capture)
    elif module.startswith("django") and "django" in sys.modules:
        _listen_to_django(capture)


def _listen_to_flask(flask_app: Any, capture: Callable[..., None]) -> None:
    from flask import got_request_exception, request

    def receiver(sender: Any, exception: BaseException, **_: Any) -> None:
        capture(exception, request.environ)

    got_request_exception.connect(receiver, sender=flask_app, weak=False)


def _listen_to_django(capture: Callable[..., None]) -> None:
    from django.core.signals import got_request_exception

    def receiver(sender: Any, request: Any = None, **_: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and request is not None:
            match = getattr(request, "resolver_match", None)
            capture(error, request.META, getattr(match, "route", None))

    got_request_exception.connect(receiver, weak=False, dispatch_uid="erroracle.client")
