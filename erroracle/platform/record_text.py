"""A record as the text models read: the error, the solution, and the stable split by group.

Plain string work, in ``platform`` so that serving, benchmarks and training turn a record into
the same text without importing torch.

Example:
    >>> error_text({"error_type": "KeyError", "message": "'user'"})
    "KeyError: 'user'"
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = ["error_text", "in_validation", "solution_text"]

_BODY_CHARS = 400
_SOLUTION_CHARS = 1200
_FRAMES = 3


def error_text(record: Mapping[str, Any], body_chars: int = _BODY_CHARS) -> str:
    """The text the model reads for an error: type and message, title, innermost frames.

    The head of the text carries the most signal, because long texts are truncated at the end.
    A record without a message (a question) is read by the first ``body_chars`` of its body.
    """
    error_type = (record.get("error_type") or "").strip()
    message = (record.get("message") or "").strip()
    head = f"{error_type}: {message}" if error_type and message else error_type or message
    parts = [head]
    title = (record.get("title") or "").strip()
    if title and title not in head:
        parts.append(title)
    if not message:
        parts.append((record.get("body") or "")[:body_chars].strip())
    frames = record.get("frames") or []
    where = [
        f"{frame.get('module') or frame.get('file') or ''}:{frame.get('function') or ''}"
        for frame in frames[-_FRAMES:]
    ]
    if where:
        parts.append("at " + " ".join(where))
    return "\n".join(part for part in parts if part)


def solution_text(record: Mapping[str, Any]) -> str:
    """The solution, whitespace folded, cut at a length training and the index share."""
    return " ".join((record.get("solution") or "").split())[:_SOLUTION_CHARS]


def in_validation(group: str, fraction: float, seed: int = 0) -> bool:
    """Whether a group's records (an issue's, or a fingerprint's) are held out: a stable hash,
    so a group never straddles."""
    digest = hashlib.blake2b(f"{seed}\x1f{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction
