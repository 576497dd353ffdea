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

__all__ = [
    "FINGERPRINT_VERSION", "fingerprint", "fingerprint_parts", "record_template", "template",
]

#: Bumped whenever masking changes, so groups computed by different versions never mix.
FINGERPRINT_VERSION = "1"
TOP_FRAMES = 3
MAX_TEMPLATE_CHARS = 2_000

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_TLDS = (
    r"(?:com|net|org|io|edu|gov|mil|int|info|biz|local|internal|lan|dev|app|cloud|ai|co|us|uk"
    r"|de|fr|cn|jp|ru|br|in|nl|eu)"
)

# Each mask runs only when the line holds one of its trigger characters (one set test per mask):
# most lines skip most masks. A trigger may fire needlessly, never wrongly.
_MASKS: list[tuple[frozenset[str], re.Pattern[str], str]] = [
    (frozenset("["), re.compile(r"\[Filtered:\w+\]"), "<SECRET>"),
    (frozenset(":"), re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]]+"), "<URL>"),
    (frozenset("@"), re.compile(r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b"), "<EMAIL>"),
    (
        frozenset("-"),
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<UUID>",
    ),
    (
        frozenset("MTWFS"),
        re.compile(
            rf"\b{_WEEKDAY},? +{_MONTH} +\d{{1,2}}(?:,? +\d{{4}})?(?: +\d{{1,2}}:\d{{2}}:\d{{2}})?"
            r"(?: +[A-Z]{3,4})?(?: +\d{4})?\b"
        ),
        "<TS>",
    ),
    (
        frozenset("-:"),
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        ),
        "<TS>",
    ),
    (
        frozenset("."),
        re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])"),
        "<IP>",
    ),
    (
        frozenset(":"),
        re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])"),
        "<IP>",
    ),
    (
        frozenset("."),
        re.compile(rf"(?<![\w.$/-])(?:[A-Za-z0-9-]+\.)+{_TLDS}(?::\d+)?(?![\w.-])"),
        "<HOST>",
    ),
    (
        frozenset("/\\"),
        re.compile(r"(?<![\w<>/.-])(?:[A-Za-z]:\\|~?/|\.\.?/)[^\s'\"<>:,;()\[\]]+"),
        "<PATH>",
    ),
    (frozenset("'\"`"), re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|`[^`\n]{0,200}`"), "<STR>"),
    (frozenset("xX"), re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<HEX>"),
]
# A number with its unit is one variable ("512 KB" and "3 MB" are the same slot).
_UNIT = re.compile(
    r"(?<!\S)[(\[]?\d+(?:\.\d+)?[)\]]? ?(?:[KMGTP]i?B|B|bytes|[mun\u00b5]?s|ms)(?=[\s,.;:)\]]|$)"
)
# key=value whose value carries a digit: the value is the variable, the key stays.
_KEY_VALUE = re.compile(
    r"(?<![^\s,;({\[])([A-Za-z_][\w.-]*[=:])[^\s,;)}\]]*(?:\d|<[A-Z*]+>)[^\s,;)}\]]*"
)
# Any other word that carries a digit is a variable. Brackets, "=", ":" and "," delimit words, so
# "ActivityInfo{4f2e1a0" keeps its name and "x[0]=12.5" keeps its shape.
_DIGIT_WORD = re.compile(r"(?<![^\s(\[{=:,])[^\s(\[{}\])=:,]*\d[^\s(\[{}\])=:,]*")


# bytes.translate is ten times faster than str.translate; the memo is keyed by bytes.
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_MEMO: dict[bytes, str] = {}
MEMO_SIZE = 65_536


def template(message: str) -> str:
    """The message with its variable parts masked; whitespace is folded.

    No mask depends on the value of a digit, only on where digits are, and every token that keeps
    a digit is masked; so the template of a message equals that of the same message with every
    digit turned into ``0``. That makes a small memo exact: lines of one kind that differ only in
    their numbers are masked once.
    """
    key = message[: MAX_TEMPLATE_CHARS * 4].encode("utf-8", "surrogatepass").translate(_ZERO_DIGITS)
    cached = _MEMO.get(key)
    if cached is not None:
        return cached
    if len(_MEMO) >= MEMO_SIZE:
        _MEMO.clear()
    result = _MEMO[key] = _mask(key.decode("utf-8", "surrogatepass"))
    return result


def _mask(text: str) -> str:
    chars = set(text)
    for triggers, pattern, mark in _MASKS:
        if not triggers.isdisjoint(chars):
            text = pattern.sub(mark, text)
    text = _UNIT.sub("<*>", text)
    text = _KEY_VALUE.sub(r"\1<*>", text)
    text = _DIGIT_WORD.sub("<*>", text)
    return " ".join(text.split())[:MAX_TEMPLATE_CHARS]


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


def _getter(record: Mapping[str, Any] | Any) -> Any:
    return record.get if isinstance(record, Mapping) else lambda name: getattr(record, name, None)


_BODY_HEAD = 200  # characters of a body that name a question with neither message nor title


def _grouping_text(get: Any) -> str:
    return get("message") or get("title") or (get("body") or "")[:_BODY_HEAD]


def record_template(record: Mapping[str, Any] | Any) -> str:
    """The template that :func:`fingerprint` hashes for this record."""
    return template(_grouping_text(_getter(record)))


def fingerprint(record: Mapping[str, Any] | Any) -> str:
    """The group key of a record (a mapping or an object with ``message``, ``error_type``,
    ``frames``). A record without a message (a forum question whose error was not extracted) is
    grouped by its ``title`` (without one, by the head of its body), so that unrelated questions
    do not all fall into one group."""
    get = _getter(record)
    frames = [
        frame if isinstance(frame, Mapping) else frame.model_dump()
        for frame in (get("frames") or [])
    ]
    return fingerprint_parts(_grouping_text(get), get("error_type"), frames)[0]
