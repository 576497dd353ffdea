"""Remove secrets and personal data from events before they are queued, stored or logged.

Standard library only: apps embed it through :mod:`erroracle.client`, and the server runs the same
code on everything it ingests (one scrubber, two callers). A replacement names what was there
(``[Filtered:aws_key]``) so that a model still learns that a credential was involved.

It scrubs by key (mapping keys that name a secret: password, token, api_key, authorization,
session, cookie, ... and configured extras, at any depth) and by value inside any text (cloud and
SaaS tokens, JWTs, bearer and basic credentials, private keys, passwords in URLs and connection
strings, emails, card numbers that pass the Luhn check, and configured extra patterns). Ordinary
content such as hex ids, UUIDs, git SHAs, versions, paths and line numbers is left alone.

Example:
    >>> scrub_text("connect to postgres://app:hunter2@db:5432/prod failed")
    'connect to postgres://app:[Filtered:password]@db:5432/prod failed'
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from erroracle.client._secret_names import NEEDLES, scrub_names

__all__ = ["Scrubber", "filtered", "scrub_text", "scrub_value"]

MAX_DEPTH = 20


def filtered(kind: str) -> str:
    """The mark that replaces a secret of the given kind."""
    return f"[Filtered:{kind}]"


def _luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for index, char in enumerate(digits):
        value = int(char)
        if index % 2 == parity:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9])|35)")


# A digit run right after "name=" or "name:" is the value of that name: a card only when the name
# says so ("cc=...", "card_number: ..."); "user_id=4539578763621486" is an identifier.
_CARD_NAME = re.compile(r"(?i:card|cc|pan|credit)\w*[\"']?\s*[=:]\s*[\"']?$")
_AFTER_NAME = re.compile(r"[=:]\s*[\"']?$")


def _card(match: re.Match[str]) -> str:
    """A card number stands alone, has an issuer prefix and passes the Luhn check."""
    digits = re.sub(r"[ -]", "", match.group(0))
    if not (13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and _luhn_ok(digits)):
        return match.group(0)
    before = match.string[max(0, match.start() - 40) : match.start()]
    if _AFTER_NAME.search(before) and not _CARD_NAME.search(before):
        return match.group(0)
    return filtered("card_number")


def _basic(match: re.Match[str]) -> str:
    token = match.group(2)
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    if b":" not in decoded:
        return match.group(0)
    return f"{match.group(1)} {filtered('basic_auth')}"


def _bearer(match: re.Match[str]) -> str:
    token = match.group(2)
    looks_random = re.search(r"[0-9._~+/=-]", token) or (
        len(token) >= 24 and token.lower() != token and token.upper() != token
    )
    return f"{match.group(1)} {filtered('bearer')}" if looks_random else match.group(0)


def _keep_name(kind: str) -> Callable[[re.Match[str]], str]:
    """Keep the ``name=`` part of a match and replace only the value."""

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + filtered(kind)

    return replace


# A gate is a cheap test that a rule's pattern needs to pass (a literal it must contain), so that
# ordinary text skips most regexes: capture runs on the app's thread and must stay well under 1 ms.
Gate = Callable[[str, str], bool]


def _contains(*needles: str) -> Gate:
    return lambda text, lower: any(needle in text for needle in needles)


def _contains_lower(*needles: str) -> Gate:
    return lambda text, lower: any(needle in lower for needle in needles)


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _digit_count_at_least(count: int) -> Gate:
    # other scripts' digits are digits to the pattern's \\d as well
    return lambda text, lower: (sum(map(text.count, "0123456789")) >= count
                                or not text.isascii() and _OTHER_DIGIT.search(text) is not None)


def _always(text: str, lower: str) -> bool:
    return True


_AWS_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "AROA", "APKA")

# Order matters: whole blocks and structured tokens first, then the values of sensitive names,
# then emails and cards.
_TOKEN_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], Gate]] = [
    (
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.S,
        ),
        filtered("private_key"),
        _contains("PRIVATE KEY"),
    ),
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"), filtered("jwt"), _contains("eyJ")),
    (
        re.compile(rf"(?<![A-Z0-9])(?:{'|'.join(_AWS_PREFIXES)})[A-Z0-9]{{16}}(?![A-Z0-9])"),
        filtered("aws_key"),
        _contains(*_AWS_PREFIXES),
    ),
    (
        re.compile(
            r"((?i:aws_?secret_?access_?key|aws_?secret|secret_?access_?key)"
            r"[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
        ),
        _keep_name("aws_secret"),
        _contains_lower("secret"),
    ),
    (
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b"),
        filtered("github_token"),
        _contains("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    (
        re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
        filtered("github_token"),
        _contains("github_pat_"),
    ),
    (
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
        filtered("slack_webhook"),
        _contains("hooks.slack.com"),
    ),
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"), filtered("slack_token"), _contains("xox")),
    (
        re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
        filtered("stripe_key"),
        _contains("_live_", "_test_"),
    ),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), filtered("google_api_key"), _contains("AIza")),
    (
        re.compile(r"\b(?i:(bearer))\s+([A-Za-z0-9._~+/-]{8,}=*)"),
        _bearer,
        _contains_lower("bearer"),
    ),
    (
        re.compile(r"\b(?i:(basic))\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"),
        _basic,
        _contains_lower("basic"),
    ),
    (
        re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@\"'<>]*:)[^\s@/\"'<>]+(?=@)"),
        _keep_name("password"),
        lambda text, lower: "://" in text and "@" in text,
    ),
]
_PERSONAL_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], Gate]] = [
    (
        re.compile(
            r"(?<![\w.+-])(?!git@)[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
            r"\.[A-Za-z]{2,24}\b"
        ),
        filtered("email"),
        _contains("@"),
    ),
    (
        # Not after a word character, "." or "-" ("blk_5165786360127153975", "v1.4111...") and
        # not followed by one: a digit run inside a longer token is an identifier.
        re.compile(r"(?<![\w.-])(?:\d[ -]?){12,18}\d(?![\w-]|\.\w)"),
        _card,
        _digit_count_at_least(13),
    ),
]

# A rule is a gate (a cheap test that a text may need it) and a function from text to text.
Rule = tuple[Callable[[str], str], Gate]


def _regex(pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str],
           gate: Gate) -> Rule:
    return (lambda text: pattern.sub(replacement, text)), gate


_RULES: list[Rule] = (
    [_regex(*rule) for rule in _TOKEN_RULES]
    + [(scrub_names, _contains_lower(*NEEDLES))]
    + [_regex(*rule) for rule in _PERSONAL_RULES]
)

_KEY_SUBSTRINGS = (
    "password",
    "passwd",
    "secret",
    "apikey",
    "authorization",
    "session",
    "cookie",
    "credential",
    "privatekey",
    "accesskey",
    "csrf",
    "xsrf",
    "signature",
)
_KEY_PARTS = {"token", "pwd", "pass", "auth", "jwt", "dsn"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Scrubber:
    """A configured scrubber: the built-in rules plus extra key names and value patterns.

    Args:
        extra_keys: more mapping keys whose values are always removed (case-insensitive).
        extra_patterns: ``{kind: regex}``; every match becomes ``[Filtered:kind]``.
    """

    def __init__(
        self,
        extra_keys: Iterable[str] = (),
        extra_patterns: Mapping[str, str] | None = None,
    ) -> None:
        self._extra_keys = {_normal_key(key) for key in extra_keys}
        self._rules = list(_RULES) + [
            _regex(re.compile(pattern), filtered(kind), _always)
            for kind, pattern in (extra_patterns or {}).items()
        ]

    def text(self, text: str) -> str:
        """Scrub secrets out of free text (messages, stack traces, bodies)."""
        if not text:
            return text
        lower = text.lower()
        for apply, gate in self._rules:
            if gate(text, lower):
                scrubbed = apply(text)
                if scrubbed != text:
                    text, lower = scrubbed, scrubbed.lower()
        return text

    def key_kind(self, key: str) -> str | None:
        """The kind of secret a mapping key names, or None for an ordinary key."""
        normal = _normal_key(key)
        if normal in self._extra_keys:
            return "field"
        for fragment in _KEY_SUBSTRINGS:
            if fragment in normal:
                return fragment
        parts = {part.lower() for part in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub("_", key))}
        hit = parts & _KEY_PARTS
        return sorted(hit)[0] if hit else None

    def value(self, value: Any, _depth: int = 0) -> Any:
        """Scrub any JSON-like value: mappings by key and by value, sequences, and strings."""
        if isinstance(value, str):
            return self.text(value)
        if _depth >= MAX_DEPTH:
            return filtered("too_deep") if isinstance(value, Mapping | list | tuple) else value
        if isinstance(value, Mapping):
            clean = {}
            for key, item in value.items():
                kind = self.key_kind(str(key))
                if kind is not None and item not in (None, "", [], {}):
                    clean[key] = filtered(kind)
                else:
                    clean[key] = self.value(item, _depth + 1)
            return clean
        if isinstance(value, list | tuple):
            return type(value)(self.value(item, _depth + 1) for item in value)
        return value


def _normal_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


_DEFAULT = Scrubber()


def scrub_text(text: str) -> str:
    """Scrub free text with the built-in rules."""
    return _DEFAULT.text(text)


def scrub_value(value: Any) -> Any:
    """Scrub a JSON-like value with the built-in rules."""
    return _DEFAULT.value(value)
