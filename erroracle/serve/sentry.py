"""Sentry-compatible ingest: the key from a request, events out of envelopes, events as records.

An app that already uses the official ``sentry-sdk`` reports to erroracle by pointing its DSN at
it (``http://KEY@host:8000/PROJECT``). The SDK sends envelopes (``/api/<project>/envelope/``); older
clients send single events (``/api/<project>/store/``). Only ``event`` items become records; other
items (transactions, sessions, client reports, attachments, ...) are accepted and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from erroracle.serve.problems import ApiError

__all__ = ["Envelope", "event_to_record", "parse_envelope", "sentry_key"]

_EVENT_TYPES = {"event"}
_PYTHON_CHAIN = "\n\nThe above exception was the direct cause of the following exception:\n\n"


def sentry_key(auth_header: str | None, query: Mapping[str, str]) -> str | None:
    """The public key of ``X-Sentry-Auth: Sentry sentry_key=…, …`` or of ``?sentry_key=``."""
    if auth_header:
        text = auth_header.strip()
        if text.lower().startswith("sentry "):
            text = text[len("sentry ") :]
        for part in text.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip() == "sentry_key" and value.strip():
                return value.strip()
    return query.get("sentry_key") or None


@dataclass
class Envelope:
    """The events of one envelope and how many other items it carried."""

    events: list[dict[str, Any]]
    ignored: int


def _json_line(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise ApiError(
            400, "invalid_envelope", f"the envelope's {what} is not valid JSON"
        ) from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_envelope", f"the envelope's {what} is not a JSON object")
    return value


def parse_envelope(body: bytes) -> Envelope:
    """Split a Sentry envelope: a header line, then items of a header line and a payload."""
    header_end = body.find(b"\n")
    _json_line(body if header_end < 0 else body[:header_end], "header")
    position = len(body) if header_end < 0 else header_end + 1
    events, ignored, number = [], 0, 0
    while position < len(body):
        line_end = body.find(b"\n", position)
        line = body[position : len(body) if line_end < 0 else line_end]
        if not line.strip():
            position = len(body) if line_end < 0 else line_end + 1
            continue
        number += 1
        item = _json_line(line, f"item {number} header")
        start = len(body) if line_end < 0 else line_end + 1
        length = item.get("length")
        if length is None:
            end = body.find(b"\n", start)
            end = len(body) if end < 0 else end
        elif isinstance(length, int) and 0 <= length <= len(body) - start:
            end = start + length
        else:
            raise ApiError(400, "invalid_envelope", f"item {number}: length is wrong")
        if item.get("type") in _EVENT_TYPES:
            events.append(_json_line(body[start:end], f"item {number} payload"))
        else:
            ignored += 1
        position = end + 1
    return Envelope(events, ignored)


def _text(value: Any) -> str:
    if isinstance(value, Mapping):  # a logentry: {"formatted", "message", "params"}
        value = value.get("formatted") or value.get("message")
    return value if isinstance(value, str) else ""


def _frames(exception: Mapping[str, Any]) -> list[dict[str, Any]]:
    frames = (exception.get("stacktrace") or {}).get("frames") or []
    return [
        {
            "file": frame.get("filename") or frame.get("abs_path"),
            "function": frame.get("function"),
            "line": frame.get("lineno") if isinstance(frame.get("lineno"), int) else None,
            "module": frame.get("module"),
            "in_app": frame.get("in_app") if isinstance(frame.get("in_app"), bool) else None,
        }
        for frame in frames
        if isinstance(frame, Mapping)
    ]


def _head(exception: Mapping[str, Any]) -> str:
    value = _text(exception.get("value"))
    kind = exception.get("type") or "Error"
    return f"{kind}: {value}" if value else kind


def _trace_text(exceptions: list[Mapping[str, Any]], python: bool) -> str:
    """A readable trace of the chain, in the platform's own style (Sentry lists oldest first)."""
    if python:
        blocks = [
            "\n".join([
                "Traceback (most recent call last):",
                *(f'  File "{f["file"]}", line {f["line"]}, in {f["function"]}'
                  for f in _frames(exception)),
                _head(exception),
            ])
            for exception in exceptions
        ]
        return _PYTHON_CHAIN.join(blocks)
    blocks = [
        "\n".join([
            _head(exception),
            *(f"    at {f['module'] or ''}.{f['function']}({f['file']}:{f['line']})"
              for f in _frames(exception)),
        ])
        for exception in reversed(exceptions)
    ]
    return "\nCaused by: ".join(blocks)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _tags(tags: Any) -> list[str]:
    pairs = tags.items() if isinstance(tags, Mapping) else tags if isinstance(tags, list) else []
    return [
        f"{pair[0]}:{pair[1]}" for pair in pairs
        if isinstance(pair, (list, tuple)) and len(pair) == 2
    ]


def event_to_record(event: Mapping[str, Any], project_id: str) -> dict[str, Any]:
    """A Sentry event as an erroracle record (before scrubbing and fingerprinting)."""
    values = (event.get("exception") or {}).get("values") if isinstance(
        event.get("exception"), Mapping) else event.get("exception")
    exceptions = [value for value in values or [] if isinstance(value, Mapping)]
    record: dict[str, Any] = {
        "source": "app",
        "service": f"sentry-project-{project_id}",
        "environment": event.get("environment"),
        "release": event.get("release"),
        "host": event.get("server_name"),
        "level": event.get("level"),
        "occurred_at": _timestamp(event.get("timestamp")),
        "tags": _tags(event.get("tags")),
    }
    event_id = event.get("event_id")
    if isinstance(event_id, str) and event_id:
        record["id"] = record["source_id"] = event_id
    if exceptions:
        raised = exceptions[-1]
        record["error_type"] = raised.get("type")
        record["message"] = _text(raised.get("value")) or _text(event.get("logentry"))
        record["frames"] = _frames(raised)
        record["stack_trace"] = _trace_text(exceptions, event.get("platform") == "python")
    else:
        record["message"] = _text(event.get("logentry")) or _text(event.get("message"))
    return {key: value for key, value in record.items() if value not in (None, [])}
