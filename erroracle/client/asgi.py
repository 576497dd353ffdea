"""ASGI middleware (FastAPI, Starlette, any ASGI app): report an unhandled exception with the
request's method, route and scrubbed headers, then re-raise it untouched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from erroracle.client import _current
from erroracle.client.reporter import Reporter, logger

__all__ = ["ErroracleASGIMiddleware"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]],
                   Awaitable[None]]


class ErroracleASGIMiddleware:
    """Wrap an ASGI app; healthy requests pass straight through.

    Args:
        app: the ASGI app.
        reporter: the reporter to use; the current one when None (so the middleware may be added
            before :func:`erroracle.client.init` runs).

    Example:
        >>> app.add_middleware(ErroracleASGIMiddleware)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, reporter: Reporter | None = None) -> None:
        self.app = app
        self._reporter = reporter

    async def __call__(self, scope: Scope, receive: Callable[..., Awaitable[Any]],
                       send: Callable[..., Awaitable[Any]]) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            self._capture(error, scope)
            raise

    def _capture(self, error: Exception, scope: Scope) -> None:
        try:
            reporter = self._reporter or _current.current()
            reporter.capture_exception(error, request=_request(scope))
        except Exception:
            logger.exception("erroracle.client: could not report a failed ASGI request")


def _request(scope: Scope) -> dict[str, Any]:
    # Routers fill the scope as they match: FastAPI leaves the matched route (a template such as
    # /items/{item_id}, which groups requests), Starlette only the path.
    route = getattr(scope.get("route"), "path", None) or scope.get("path") or ""
    headers = {name.decode("latin-1"): value.decode("latin-1")
               for name, value in scope.get("headers") or []}
    return {"method": scope.get("method", ""), "route": route, "headers": headers}
