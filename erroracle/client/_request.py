"""The HTTP request behind an error, as tags and a short text (the record's ``body``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["describe_request"]

_MAX_HEADERS = 50
_MAX_VALUE = 512


def describe_request(request: Mapping[str, Any]) -> tuple[list[str], str]:
    """Tags (``http.method:GET``, ``http.route:/items/{id}``) and ``"GET /items/{id}"`` followed
    by one ``name: value`` line per header. ``request`` must already be scrubbed."""
    method = str(request.get("method") or "").upper()
    route = str(request.get("route") or "")
    tags = [f"http.method:{method}"] if method else []
    if route:
        tags.append(f"http.route:{route}")
    lines = [f"{method} {route}".strip()]
    headers = request.get("headers") or {}
    for name, value in list(headers.items())[:_MAX_HEADERS]:
        lines.append(f"{name}: {str(value)[:_MAX_VALUE]}")
    return tags, "\n".join(lines)
