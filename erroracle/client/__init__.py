"""What apps embed: standard library only, importing nothing else from erroracle.

Example:
    >>> import erroracle.client
    >>> erroracle.client.init("http://127.0.0.1:8000", "eo_key", service="shop")  # doctest: +SKIP
"""

from erroracle.client._current import (
    capture_exception,
    capture_message,
    close,
    current,
    flush,
    init,
)
from erroracle.client.asgi import ErroracleASGIMiddleware
from erroracle.client.logging_handler import ErroracleHandler
from erroracle.client.options import Options
from erroracle.client.reporter import Reporter
from erroracle.client.scrubber import Scrubber, scrub_text, scrub_value
from erroracle.client.wsgi import ErroracleWSGIMiddleware

__all__ = [
    "ErroracleASGIMiddleware",
    "ErroracleHandler",
    "ErroracleWSGIMiddleware",
    "Options",
    "Reporter",
    "Scrubber",
    "capture_exception",
    "capture_message",
    "close",
    "current",
    "flush",
    "init",
    "scrub_text",
    "scrub_value",
]
