"""The one shape of every error answer: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError"]


class ApiError(Exception):
    """An answer other than success, with its HTTP status and a stable machine-readable code.

    Args:
        status: the HTTP status (4xx for the caller's mistakes, 503 while no model is loaded).
        code: a stable snake_case code clients can branch on.
        message: one sentence for humans; never a traceback or a path.
        field: the dotted name of the offending request field, when one is to blame.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}
