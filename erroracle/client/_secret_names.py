"""Values of sensitive names inside free text: ``name=value``, ``name: value``, ``"name": "value"``,
``--name value``, ``export NAME=value``, ``Key=Value;`` connection-string pairs, and the values of
``Cookie``, ``Set-Cookie`` and ``Authorization`` headers. The name stays; the value goes.

A name is sensitive when it contains password, passwd, pwd, secret, token, api_key or apikey,
access_key, account_key, private_key, session, cookie, credential or auth (not "author"), or ends
in ``_key``. Standard library only: the client library embeds it.

Example:
    >>> scrub_names("PGPASSWORD=hunter2 psql -h db")
    'PGPASSWORD=[Filtered:password] psql -h db'
"""

from __future__ import annotations

import re

__all__ = ["NEEDLES", "scrub_names"]

_FRAGMENTS = (
    "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key", "access_key",
    "accesskey", "account_key", "accountkey", "private_key", "privatekey", "session", "cookie",
    "credential", "auth",
)
#: What a text must contain (lower-cased) for any of these rules to apply.
NEEDLES = ("pass", "pwd", "secret", "token", "key", "session", "cookie", "credential", "auth")
# Values that say something about a secret without being one ("using password: YES").
_SAFE_VALUES = frozenset((
    "yes", "no", "true", "false", "null", "none", "nil", "empty", "unset", "undefined", "required",
    "missing", "invalid", "expired", "redacted", "hidden", "bearer", "basic", "token", "digest",
))
_FILTERED = re.compile(r"\[Filtered:\w+\]|\*{3,}|<[A-Za-z_-]+>|\$\{?\w+\}?")


def _filtered(kind: str) -> str:
    return f"[Filtered:{kind}]"


def sensitive(name: str) -> bool:
    """Whether a name's value is a secret."""
    lower = name.lower().replace("-", "_")
    if lower.endswith("_key"):
        return True
    hits = [fragment for fragment in _FRAGMENTS if fragment.replace("-", "_") in lower]
    if hits == ["auth"] and "author" in lower and "authoriz" not in lower:
        return False  # author, authority: people and hosts, not credentials
    return bool(hits)


def _kind(name: str) -> str:
    lower = name.lower()
    if "pass" in lower or "pwd" in lower:
        return "password"
    if "cookie" in lower or "session" in lower:
        return "session"
    return "secret"


def _keep(value: str, spaced_colon: bool) -> bool:
    """Whether a value after a sensitive name is not itself a secret."""
    bare = value.strip("\"'")
    if not bare or bare.lower() in _SAFE_VALUES or _FILTERED.fullmatch(bare):
        return True
    if bare.isdigit() and len(bare) <= 5:
        return True  # a count or a size ("max_tokens=4096")
    # "auth: failed to connect" is prose: after "name: " only a value that looks generated goes
    return spaced_colon and bare.isalpha() and bare.islower()


# name, separator (=, :, or a quoted JSON key's ": "), then a quoted or a bare value
# The name must hold a fragment (so that "full: password=x" is read at "password", not at
# "full"); sensitive() then decides (it leaves "author" alone).
_NAME = (r"(?<![\w.-])(?=[A-Za-z_])[\w.-]*?(?i:pass|pwd|secret|token|api_?key|apikey|access_?key"
         r"|account_?key|private_?key|session|cookie|credential|auth|_key)[\w.-]*")
_ASSIGNED = re.compile(
    rf"(?P<name>{_NAME})(?P<sep>[\"']?\s*[:=]\s*)"
    r"(?:(?P<quote>[\"'])(?P<quoted>[^\"'\n]{1,500})(?P=quote)"
    r"|(?P<bare>\[Filtered:\w+\]|[^\s\"',;&}<>)\]]+))"
)
_OPTION = re.compile(r"(?P<name>--[A-Za-z][\w-]*)(?P<sep>=|\s+)(?P<value>[^\s\"'-][^\s\"']*)")
_COOKIE_HEADER = re.compile(
    r"(?im)\b(?P<name>set-cookie|cookie)(?P<sep>\s*:\s*)(?P<value>[^\r\n]+)"
)
_COOKIE_PAIR = re.compile(r"(?P<name>[^=;,\s]+)=(?P<value>[^;,\s]*)")
_COOKIE_ATTRIBUTES = frozenset(
    ("path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority")
)
_AUTHORIZATION = re.compile(
    r"(?i)\b(?P<name>(?:proxy-)?authorization)(?P<sep>\s*[:=]\s*[\"']?)"
    r"(?P<scheme>(?:bearer|basic|token|digest|negotiate|apikey|sso-key)\s+)?"
    r"(?P<value>[^\s\"',;]+)"
)


def _assigned(match: re.Match[str]) -> str:
    name = match.group("name")
    if not sensitive(name):
        return match.group(0)
    value = match.group("quoted") if match.group("quote") else match.group("bare")
    spaced_colon = ":" in match.group("sep") and not match.group("quote")
    if _keep(value, spaced_colon):
        return match.group(0)
    if match.group("quote"):
        quote = match.group("quote")
        return f"{name}{match.group('sep')}{quote}{_filtered(_kind(name))}{quote}"
    return f"{name}{match.group('sep')}{_filtered(_kind(name))}"


def _option(match: re.Match[str]) -> str:
    name, value = match.group("name"), match.group("value")
    if not sensitive(name) or _keep(value, False):
        return match.group(0)
    return f"{name}{match.group('sep')}{_filtered(_kind(name))}"


def _cookie_value(match: re.Match[str]) -> str:
    name, value = match.group("name"), match.group("value")
    if name.lower() in _COOKIE_ATTRIBUTES or not value or _FILTERED.fullmatch(value):
        return match.group(0)
    return f"{name}={_filtered('session')}"


def _cookie_header(match: re.Match[str]) -> str:
    values = _COOKIE_PAIR.sub(_cookie_value, match.group("value"))
    return f"{match.group('name')}{match.group('sep')}{values}"


def _authorization(match: re.Match[str]) -> str:
    if _FILTERED.fullmatch(match.group("value")):
        return match.group(0)
    scheme = match.group("scheme") or ""
    return f"{match.group('name')}{match.group('sep')}{scheme}{_filtered('authorization')}"


def scrub_names(text: str) -> str:
    """The text with the values of sensitive names masked (call only when one of ``NEEDLES``
    is in ``text.lower()``)."""
    lower = text.lower()
    if "cookie" in lower:
        text = _COOKIE_HEADER.sub(_cookie_header, text)
    if "authorization" in lower:
        text = _AUTHORIZATION.sub(_authorization, text)
    if "--" in text:
        text = _OPTION.sub(_option, text)
    return _ASSIGNED.sub(_assigned, text)
