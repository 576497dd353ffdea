"""One decorator for every route: its answer counted and timed, its errors in one JSON shape.

The ingress's own routes are written once, as the handler itself: ``@api.post(...)`` over
``@timed("predict")`` (``functools.wraps`` keeps the handler's signature, which FastAPI reads).
Routes of a mixin (``serve.issue_routes``) call :func:`run_timed`: Serve's class-based view did
not bind ``self`` for decorated methods inherited from a mixin (a request answered 422,
"self: Field required").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import Response

from erroracle.serve.api import error_response, unexpected_response
from erroracle.serve.problems import ApiError

__all__ = ["run_timed", "timed"]

Handler = Callable[..., Awaitable[Response]]


async def run_timed(owner: Any, route: str, handler: Handler, *args: Any) -> Response:
    """``await handler(*args)``, counted and timed in ``owner.metrics``; an :class:`ApiError`
    becomes its 4xx/5xx answer, anything else a plain 500 with the trace logged."""
    started = time.perf_counter()
    try:
        response = await handler(*args)
    except ApiError as exc:
        owner.metrics.rejected.labels(exc.code).inc()
        response = error_response(exc)
    except Exception as exc:  # noqa: BLE001 - answered as a plain 500, logged
        response = unexpected_response(route, exc)
    owner.metrics.requests.labels(route, str(response.status_code)).inc()
    owner.metrics.latency.labels(route).observe(time.perf_counter() - started)
    return response


def timed(route: str) -> Callable[[Handler], Handler]:
    """:func:`run_timed` as a decorator of the deployment's own route methods."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def answer(self: Any, *args: Any, **kwargs: Any) -> Response:
            return await run_timed(self, route, lambda: handler(self, *args, **kwargs))

        return answer

    return decorate
