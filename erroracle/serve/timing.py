"""One decorator for every route: its answer counted and timed, its errors in one JSON shape.

Routes are written once, as the handler itself: ``@api.post(...)`` over ``@timed("predict")``.
``functools.wraps`` keeps the handler's signature, which FastAPI reads for its parameters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import Response

from erroracle.serve.api import error_response, unexpected_response
from erroracle.serve.problems import ApiError

__all__ = ["timed"]

Handler = Callable[..., Awaitable[Response]]


def timed(route: str) -> Callable[[Handler], Handler]:
    """Count and time ``route`` in the deployment's ``metrics``; an :class:`ApiError` becomes
    its 4xx/5xx answer, anything else a plain 500 with the trace logged."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def answer(self: Any, *args: Any, **kwargs: Any) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(self, *args, **kwargs)
            except ApiError as exc:
                self.metrics.rejected.labels(exc.code).inc()
                response = error_response(exc)
            except Exception as exc:  # noqa: BLE001 - answered as a plain 500, logged
                response = unexpected_response(route, exc)
            self.metrics.requests.labels(route, str(response.status_code)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            return response

        return answer

    return decorate
