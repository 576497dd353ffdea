"""Vendor secret formats from a maintained rule set: gitleaks' default rules.

The rules ship as data (``erroracle/configs/gitleaks.toml``, MIT, its licence beside it), so a
new release of the rule set is a file to replace, not code to write. The server runs them on
everything it ingests, after the standard-library scrubber the client shares
(:mod:`erroracle.client.scrubber`): the client keeps to the standard library, the server can
afford 200 more patterns. Each rule runs only on text that holds one of its keywords (gitleaks'
own prefilter), and a match counts only when its secret has the rule's entropy and no allowlist
takes it.

gitleaks writes RE2; the few constructs Python's ``re`` lacks are rewritten on load (a ``(?i)``
inside a pattern applies to all of it, ``[[:alnum:]]``-style classes, ``\\z``). Rules that only
name or need file paths (``*.tf``, ``NuGet.Config``: an error message is no such file), and
``generic-api-key`` (the scrubber's sensitive names cover it), are left out.

Example:
    >>> VendorSecrets.bundled().scrub("git push with glpat-xK3mP9qR2sT5vW8yZ1aB failed")
    'git push with [Filtered:gitlab-pat] failed'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick
import tomllib

from erroracle.platform.config import bundled

__all__ = ["VendorSecrets"]

RULES_FILE = "gitleaks.toml"
#: Vendor formats gitleaks lacks, in its format (erroracle's own rules).
EXTRA_RULES_FILE = "extra_secrets.toml"
_LEFT_OUT = frozenset({"generic-api-key"})
_POSIX = {"[:alnum:]": "a-zA-Z0-9", "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9",
          "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:xdigit:]": "0-9A-Fa-f", "[:space:]": r"\s"}


_TOKEN_END = r"""(?:[\x60'"\s;]|\\[nr]|$)"""
_MESSAGE_TOKEN_END = r"""(?:[\x60'"\s;),.\]}>]|\\[nr]|$)"""


def python_regex(pattern: str) -> re.Pattern[str]:
    """A gitleaks (RE2) pattern as a Python one."""
    for posix, plain in _POSIX.items():
        pattern = pattern.replace(posix, plain)
    pattern = pattern.replace(r"\z", r"\Z")
    # gitleaks ends most tokens at a quote, a space or ";": in an error message a token is as
    # often followed by ")", ",", "." or "]"
    pattern = pattern.replace(_TOKEN_END, _MESSAGE_TOKEN_END)
    if "(?i)" in pattern[1:]:
        pattern = "(?i)" + pattern.replace("(?i)", "")
    return re.compile(pattern)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character, as gitleaks measures it."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


@dataclass(frozen=True)
class _Rule:
    id: str
    regex: re.Pattern[str]
    group: int | None
    min_entropy: float
    allow: tuple[re.Pattern[str], ...]
    stopwords: tuple[str, ...]

    def secrets(self, text: str) -> list[tuple[int, int]]:
        """The spans of the secrets this rule finds in ``text``."""
        spans = []
        for match in self.regex.finditer(text):
            group = self.group if self.group is not None else (1 if match.re.groups else 0)
            secret = match.group(group)
            if not secret or entropy(secret) < self.min_entropy:
                continue
            lower = secret.lower()
            if any(word in lower for word in self.stopwords) or any(
                    a.search(secret) for a in self.allow):
                continue
            spans.append(match.span(group))
        return spans


def _rule(raw: dict[str, Any], shared: dict[str, Any]) -> _Rule:
    allow = [python_regex(p) for p in shared.get("regexes", [])]
    stopwords = [w.lower() for w in shared.get("stopwords", [])]
    for extra in raw.get("allowlists", []):
        if extra.get("regexTarget", "secret") == "secret":
            allow += [python_regex(p) for p in extra.get("regexes", [])]
        stopwords += [w.lower() for w in extra.get("stopwords", [])]
    return _Rule(raw["id"], python_regex(raw["regex"]), raw.get("secretGroup"),
                 float(raw.get("entropy", 0.0)), tuple(allow), tuple(stopwords))


class VendorSecrets:
    """Mask what any rule finds as ``[Filtered:<rule id>]``.

    Args:
        document: the parsed rule file (``rules`` and the shared ``allowlist``).
    """

    def __init__(self, document: dict[str, Any]) -> None:
        shared = document.get("allowlist", {})
        self._by_keyword: dict[str, list[_Rule]] = {}
        self.rules: list[_Rule] = []
        for raw in document["rules"]:
            if "regex" not in raw or "path" in raw or raw["id"] in _LEFT_OUT:
                continue
            rule = _rule(raw, shared)
            self.rules.append(rule)
            for keyword in raw.get("keywords", []):
                self._by_keyword.setdefault(keyword.lower(), []).append(rule)
        # gitleaks' prefilter: one Aho-Corasick pass finds every keyword in the text (C speed,
        # overlapping ones too), and only their rules run
        self._keywords = ahocorasick.Automaton()
        for keyword in self._by_keyword:
            self._keywords.add_word(keyword, keyword)
        self._keywords.make_automaton()

    @classmethod
    @lru_cache(maxsize=1)
    def bundled(cls) -> VendorSecrets:
        """The rules shipped with erroracle, loaded once per process."""
        with open(bundled(RULES_FILE), "rb") as handle:
            document = tomllib.load(handle)
        with open(bundled(EXTRA_RULES_FILE), "rb") as handle:
            document["rules"] += tomllib.load(handle)["rules"]
        return cls(document)

    def scrub(self, text: str) -> str:
        """``text`` with every vendor secret masked."""
        if not text:
            return text
        found = {keyword for _, keyword in self._keywords.iter(text.lower())}
        if not found:
            return text
        rules = {id(r): r for keyword in found for r in self._by_keyword[keyword]}
        spans: list[tuple[int, int, str]] = []
        for rule in rules.values():
            spans += [(start, end, rule.id) for start, end in rule.secrets(text)]
        for start, end, rule_id in sorted(_disjoint(spans), reverse=True):
            text = f"{text[:start]}[Filtered:{rule_id}]{text[end:]}"
        return text


def _disjoint(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The longest of overlapping spans (two rules finding one secret mask it once)."""
    kept: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]), s[2])):
        if kept and span[0] < kept[-1][1]:
            continue
        kept.append(span)
    return kept
