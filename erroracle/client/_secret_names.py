"""Values of sensitive names inside free text: ``name=value``, ``name: value``, ``"name": "value"``,
``--name value``, ``export NAME=value``, ``Key=Value;`` connection-string pairs, and the values of
``Cookie``, ``Set-Cookie`` and ``Authorization`` headers. The name stays; the value goes.

A name is sensitive when it contains password, passwd, pwd, secret, token, api_key or apikey,
access_key, account_key, private_key, session, cookie, credential or auth (not "author"), or is an
upper-case name ending in ``_KEY``, ``_TOKEN``, ``_SECRET`` or ``_PASSWORD``; a lower-case ``*_key``
loses only a value that looks generated. A generated value right after such a name with no
separator at all ("auth token 9fQ2...") goes too. Standard library only: the client library
embeds it.

Example:
    >>> scrub_names("PGPASSWORD=hunter2 psql -h db")
    'PGPASSWORD=[Filtered:password] psql -h db'
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["NEEDLES", "scrub_names"]

_FRAGMENTS = (
    "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "access_key",
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
_PARAMETER = re.compile(r"[A-Za-z-]{1,16}=")  # realm= in 'Basic realm="api"'
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_FILTERED = re.compile(r"\[Filtered:\w+\]|\*{3,}|<[A-Za-z_-]+>|\$\{?\w+\}?")


def _filtered(kind: str) -> str:
    return f"[Filtered:{kind}]"


def sensitive(name: str) -> bool:
    """Whether a name's value is a secret."""
    return _strength(name) > 0


@lru_cache(maxsize=4096)
def _strength(name: str) -> int:
    """2: the value is a secret (password, token, ``AWS_SECRET_KEY``...); 1: only a value that
    looks generated is (a lower-case ``*_key``: ``cache_key=user:42`` is not, ``signing_key=
    9fQ...`` is); 0: an ordinary name."""
    lower = name.lower().replace("-", "_")
    hits = [fragment for fragment in _FRAGMENTS if fragment in lower]
    if hits == ["auth"] and "author" in lower and "authoriz" not in lower:
        hits = []  # author, authority: people and hosts, not credentials
    if hits or name.isupper() and lower.endswith(("_key", "_token", "_secret", "_password")):
        return 2
    return 1 if lower.endswith("_key") else 0


def looks_generated(value: str) -> bool:
    """A value no person chose: long, letters and digits mixed, about as varied as random text
    (3+ bits per character), not a UUID."""
    if len(value) < 16 or _UUID.fullmatch(value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    counts = [value.count(c) for c in set(value)]
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts) >= 3.0


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
    rf"(?P<name>{_NAME})(?P<sep>[\"']?(?:\s*:\s*|\s+=\s+|=))"
    r"(?:(?P<quote>[\"'])(?P<quoted>[^\"'\n]{1,500})(?P=quote)"
    r"|(?P<bare>\[Filtered:\w+\]|[^\s\"',;&}<>)\]]+))"
)
_SPOKEN = re.compile(rf"(?P<name>{_NAME})(?P<sep> (?:is )?)(?P<value>[A-Za-z0-9+/_.~-]{{16,}}=*)")
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
    strength = _strength(name)
    value = match.group("quoted") if match.group("quote") else match.group("bare")
    spaced_colon = ":" in match.group("sep") and not match.group("quote")
    if not strength or _keep(value, spaced_colon) or strength == 1 and not looks_generated(value):
        return match.group(0)
    if match.group("quote"):
        quote = match.group("quote")
        return f"{name}{match.group('sep')}{quote}{_filtered(_kind(name))}{quote}"
    return f"{name}{match.group('sep')}{_filtered(_kind(name))}"


def _spoken(match: re.Match[str]) -> str:
    """ "auth token 9fQ2..." : a generated value right after a sensitive name, no separator."""
    name, value = match.group("name"), match.group("value")
    if _strength(name) < 2 or not looks_generated(value):
        return match.group(0)
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
    value = match.group("value")
    if _FILTERED.fullmatch(value) or "=" in value.rstrip("=") or _PARAMETER.fullmatch(value):
        return match.group(0)  # already masked, or a challenge's parameters (realm="api")
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
    return _at_names(text)


# not inside a mark already made ("[Filtered:password]"); searched in the lower-cased text, which
# is several times faster than a case-blind search
_FRAGMENTS_RE = (r"(?:pass|pwd|secret|token|api_?key|apikey|access_?key|account_?key"
                 r"|private_?key|session|cookie|credential|auth|_key)")
_NAME_FRAGMENT = re.compile(rf"(?=[pstac_])(?<!\[filtered:){_FRAGMENTS_RE}")
_NAME_FRAGMENT_ANY_CASE = re.compile(rf"(?<!\[Filtered:)(?i:{_FRAGMENTS_RE})")
_LONGEST_NAME = 200


def _at_names(text: str) -> str:
    """The assigned and the spoken values masked, tried only where a name fragment occurs:
    searching the whole text for a name costs time in its length, this costs time in the names
    it holds."""
    parts, done = [], 0
    lower = text.lower()
    fragments = (_NAME_FRAGMENT.finditer(lower) if len(lower) == len(text)
                 else _NAME_FRAGMENT_ANY_CASE.finditer(text))  # lower() moved some positions
    for fragment in fragments:
        if fragment.start() < done:
            continue
        start, floor = fragment.start(), max(done, fragment.start() - _LONGEST_NAME)
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
            start -= 1  # back to the start of the name that holds the fragment
        for pattern, replace in _AT_NAME:
            found = pattern.match(text, start)
            if found is not None and found.end() > fragment.start():
                parts += [text[done:start], replace(found)]
                done = found.end()
                break
    return "".join(parts) + text[done:] if parts else text


_AT_NAME = ((_ASSIGNED, _assigned), (_SPOKEN, _spoken))
