"""A ``logging.Handler`` that reports records at ERROR and above, with their exception if any."""

from __future__ import annotations

import logging

from erroracle.client import _current
from erroracle.client.reporter import Reporter, logger

__all__ = ["ErroracleHandler"]


class ErroracleHandler(logging.Handler):
    """Reports log records; add it to the root logger to report every ``logger.exception(...)``.

    Records of the client's own logger (``erroracle.client``) are ignored, so that a delivery
    problem can never feed itself.

    Args:
        level: the lowest level reported (ERROR by default).
        reporter: the reporter to use; the current one (:func:`erroracle.client.init`) when None.

    Example:
        >>> logging.getLogger().addHandler(ErroracleHandler())
    """

    def __init__(self, level: int = logging.ERROR, reporter: Reporter | None = None) -> None:
        super().__init__(level)
        self._reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == logger.name or record.name.startswith(logger.name + "."):
            return
        reporter = self._reporter or _current.current()
        try:
            message = record.getMessage()
            level = record.levelname.lower()
            tags = [f"logger:{record.name}"]
            error = record.exc_info[1] if record.exc_info else None
            if error is not None:
                reporter.capture_exception(error, level=level, message=message, tags=tags)
            else:
                reporter.capture_message(message, level=level, tags=tags)
        except Exception:
            logger.exception("erroracle.client: could not report a log record")
