"""Fingerprints: the same error gets the same group key in any process, on any node, in any order.

:func:`template` masks the variable parts of a message (URLs, emails, UUIDs, timestamps, IPs and
ports, paths, quoted values, hex, and any token that carries a digit); :func:`fingerprint` hashes
that template with the error type and the top in-app frames (``module:function``, never line
numbers). Everything here is a pure function of its input: no state, no randomness, no clock, and
a stable hash (BLAKE2b, not Python's salted ``hash``).

Example:
    >>> template("Connection to 10.0.0.7:5432 timed out after 30s")
    'Connection to <IP> timed out after <*>'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FINGERPRINT_VERSION", "fingerprint", "fingerprint_parts", "template"]

#: Bumped whenever masking changes, so groups computed by different versions never mix.
FINGERPRINT_VERSION = "1"
TOP_FRAMES = 3
MAX_TEMPLATE_CHARS = 2_000

_MASKS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\[Filtered:\w+\]"), "<SECRET>"),
    (re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]]+"), "<URL>"),
    (re.compile(r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"), "<EMAIL>"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<UUID>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        ),
        "<TS>",
    ),
    (re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"), "<IP>"),
    (re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])"), "<IP>"),
    (
        re.compile(
            r"(?<![\w<])(?:[A-Za-z]:\\|~?/|\./|\.\./)[^\s'\"<>:,;()\[\]]*[/\\][^\s'\"<>:,;()\[\]]*"
        ),
        "<PATH>",
    ),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|`[^`\n]{0,200}`"), "<STR>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<HEX>"),
]
_TOKEN = re.compile(r"\S+")
_DIGIT = re.compile(r"\d")
_PLACEHOLDER = re.compile(r"<(?:SECRET|URL|EMAIL|UUID|TS|IP|PATH|STR|HEX|\*)>")
_EDGE_PUNCT = re.compile(r"^([(\[{]*)(.*?)([)\]}.,:;]*)$", re.S)


def _mask_token(token: str) -> str:
    """A token that carries a digit is a variable; keep its surrounding brackets and punctuation."""
    if not _DIGIT.search(token):
        return token
    pieces = _PLACEHOLDER.split(token)
    if len(pieces) > 1 and not any(_DIGIT.search(piece) for piece in pieces):
        return token
    head, _, tail = _EDGE_PUNCT.match(token).groups()
    return f"{head}<*>{tail}"


def template(message: str) -> str:
    """The message with its variable parts masked; whitespace is folded."""
    text = message[: MAX_TEMPLATE_CHARS * 4]
    for pattern, mark in _MASKS:
        text = pattern.sub(mark, text)
    masked = " ".join(_mask_token(token) for token in _TOKEN.findall(text))
    return masked[:MAX_TEMPLATE_CHARS]


def _frame_key(frame: Mapping[str, Any]) -> str | None:
    module, function = frame.get("module"), frame.get("function")
    if not function:
        return None
    return f"{module or ''}:{function}"


def fingerprint_parts(
    message: str,
    error_type: str | None = None,
    frames: Iterable[Mapping[str, Any]] = (),
) -> tuple[str, str]:
    """The fingerprint and the template of one error, from its parts.

    Only in-app frames count (library frames move between versions of a dependency); the
    innermost ones are taken, since frames are ordered innermost last.
    """
    frame_list = [dict(frame) for frame in frames]
    in_app = [f for f in frame_list if f.get("in_app")] or frame_list
    keys = [key for key in (_frame_key(f) for f in in_app[-TOP_FRAMES:]) if key]
    masked = template(message)
    material = "\x1f".join([FINGERPRINT_VERSION, error_type or "", masked, *keys])
    digest = hashlib.blake2b(material.encode("utf-8"), digest_size=16).hexdigest()
    return digest, masked


def fingerprint(record: Mapping[str, Any] | Any) -> str:
    """The group key of a record (a mapping or an object with ``message``, ``error_type``,
    ``frames``)."""
    get = record.get if isinstance(record, Mapping) else lambda name: getattr(record, name, None)
    frames = [
        frame if isinstance(frame, Mapping) else frame.model_dump()
        for frame in (get("frames") or [])
    ]
    return fingerprint_parts(get("message") or "", get("error_type"), frames)[0]
