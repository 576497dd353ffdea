"""Issues: the groups people see, above fingerprints.

A fingerprint is a pure function of one event (:mod:`erroracle.platform.fingerprint`); masking
catches variables that carry digits or have a shape, but not plain words (user, host, process and
file names). :class:`IssueGrouper` joins the templates of one event type online, the way Drain
does but without its fixed first-token anchor (a process name at the start of every line must not
split every event): a new template joins the issue whose pattern it matches best, among issues of
the same error type and shape, when enough of its words agree; the positions that differ become
variables of that issue's pattern. Each fingerprint is assigned once, so an issue id never changes
once shown, and ids are derived from the fingerprint that founded the issue, so replaying the same
lake in the same order gives the same ids on every node.

Example:
    >>> grouper = IssueGrouper()
    >>> a = grouper.assign("f1", "Invalid user bob from <IP>")
    >>> b = grouper.assign("f2", "Invalid user amy from <IP>")
    >>> a.issue == b.issue, b.reason
    (True, 'rule')
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Assignment", "IssueGrouper", "issue_id", "shape"]

WILDCARD = "<*>"
MIN_VARIANTS = 4
#: A pattern keeps at least this many constant words ("program interrupt: <*>" is too broad).
MIN_CONSTANT_WORDS = 3


def issue_id(founder: str) -> str:
    """The id of the issue founded by this fingerprint: short, stable, the same on every node."""
    return "I" + hashlib.blake2b(founder.encode("utf-8"), digest_size=6).hexdigest()


def _is_variable(token: str) -> bool:
    return token.startswith("<") and token.endswith(">")


_MARK = re.compile(r"<[A-Z*]+>")


@lru_cache(maxsize=65_536)
def _token_pattern(token: str) -> re.Pattern[str] | None:
    """A pattern word with a variable inside ("name=<*>,") as a regex; None for a plain word."""
    if "<" not in token or not _MARK.search(token):
        return None
    parts = _MARK.split(token)
    return re.compile(".+".join(re.escape(part) for part in parts), re.DOTALL)


def _covers(pattern_token: str, token: str) -> bool:
    """Whether a pattern's word takes this word: equal, a wildcard, or one of the two has a
    variable inside and the other matches its constant parts ("name=<*>," and "name=android,":
    a slot that has held a variable is a variable slot, whichever came first)."""
    if pattern_token == token or _is_variable(pattern_token):
        return True
    for general, plain in ((pattern_token, token), (token, pattern_token)):
        regex = _token_pattern(general)
        if regex is not None and regex.fullmatch(plain) is not None:
            return True
    return False


def _constant_words(tokens: tuple[str, ...]) -> int:
    return sum(1 for token in tokens if not _is_variable(token))


#: Words that, after a variable, are its unit: "<*> sec" and "<*>" are one slot.
UNITS = frozenset((
    "s", "sec", "secs", "second", "seconds", "ms", "msec", "millis", "min", "mins", "minute",
    "minutes", "h", "hr", "hrs", "hour", "hours", "b", "bytes", "kb", "mb", "gb", "tb", "%",
    "percent", "B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB",
))

#: Names whose value is the thing an event is about, not the event.
NAMING_WORDS = (
    "user|username|ruser|logname|login|account|uid|host|hostname|rhost|server|node|process"
    "|program|service|file|filename|path|dir|device|interface|domain|table|database|queue"
    "|topic|bucket|container|pod|namespace|package|class|module|name"
)

# A qualified name (three or more parts joined by "." or "/": a package, class, module or file
# name) names the thing an event is about, not the event: "name=com.android.phone," is a variable.
_QUALIFIED = re.compile(r"(?<![\w<>$.-])[A-Za-z_$][\w$-]*(?:[./]+[\w$-]+){2,}")
# "user=root", "host: db1": a name that names a thing; its value is a variable.
_NAMED = re.compile(rf"(?i)\b((?:{NAMING_WORDS})[=:])(?!<)[^\s,;)}}\]]+")
# "for user cyrus", "on host db1": after these few words a lowercase word is the name itself,
# unless it is a function word ("user not found"); other naming words are left alone bare
# ("file not found", "service stopped").
_NAMED_BARE = re.compile(
    r"\b((?i:user|username|host|hostname|account) )"
    r"(?!(?:not|no|is|was|has|have|had|does|did|can|cannot|could|will|would|must|should|may"
    r"|already|and|or|to|in|on|at|of|for|with|from|by|the|a|an|name|id)\b)[a-z][\w.@-]*(?=\s|$)"
)
# A value left empty is still a value: "ruser= rhost=<*>", "()" and "[]" hold a variable.
_EMPTY = re.compile(r"(?<=[=(\[])(?=[)\],;]|\s|$)")
# Only variables and punctuation ("<*>)", "(<*>", "<*>:<*>"): the token is one variable.
_VARIABLE_ONLY = re.compile(r"[^\w<>]*(?:<[A-Z*]+>[^\w<>]*)+")


def _fold(token: str) -> str:
    return WILDCARD if _VARIABLE_ONLY.fullmatch(token) else token


def shape(template: str) -> tuple[str, ...]:
    """The template's words with qualified names, named things and empty values as variables,
    and each run of variables folded into one (``<*> <*>`` and ``<IP> <*>`` hold a list of any
    length)."""
    text = _NAMED.sub(r"\1<*>", _QUALIFIED.sub(WILDCARD, template))
    text = _NAMED_BARE.sub(r"\1<*>", text)
    text = _EMPTY.sub(WILDCARD, text) if ("=" in text or "(" in text or "[" in text) else text
    tokens: list[str] = []
    for token in map(_fold, text.split(" ")):
        if tokens and _is_variable(tokens[-1]) and (_is_variable(token) or token in UNITS):
            tokens[-1] = WILDCARD
        else:
            tokens.append(token)
    return tuple(tokens)


@dataclass(frozen=True)
class Assignment:
    """Where a fingerprint went, and why: ``known`` (assigned before), ``new`` (founded an
    issue), ``rule`` (joined by matching words) or ``merge``/``split`` (a person's correction)."""

    issue: str
    reason: str


class IssueGrouper:
    """Assign fingerprints to issues, one at a time, as ingest sees them.

    A position of a template is a variable once ``min_variants`` templates that agree everywhere
    else show different words there (one differing word is as likely a different event: "stored
    as bytes" and "stored as values"). Their issues then merge into the oldest, whose id the
    others redirect to, and the generalised pattern takes later templates directly.

    Args:
        min_variants: how many different words make a position a variable.
    """

    def __init__(self, min_variants: int = MIN_VARIANTS) -> None:
        self.min_variants = min_variants
        self._issue_of: dict[str, str] = {}
        self._alias: dict[str, str] = {}
        self._order: dict[str, int] = {}
        # (error type, shape length) -> pattern -> issue: every pattern, for exact matches
        self._patterns: dict[tuple[str, int], dict[tuple[str, ...], str]] = {}
        # (error type, shape length) -> the patterns that may take other words, in lake order
        self._general: dict[tuple[str, int], list[tuple[tuple[str, ...], str]]] = {}
        # (error type, pattern with one more wildcard) -> word seen there -> issue
        self._variants: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
        self._apart: set[frozenset[str]] = set()  # split by a person: never merged again
        #: Why issues merged by rule: {"op": "rule", "into", "from", "pattern"}, in order.
        self.merges: list[dict[str, str]] = []

    def __len__(self) -> int:
        return len(self._issue_of)

    def resolve(self, issue: str) -> str:
        """The issue an id now stands for (itself unless it was merged into another)."""
        while issue in self._alias:
            issue = self._alias[issue]
        return issue

    def issue_of(self, fingerprint: str) -> str | None:
        """The issue a fingerprint belongs to now, if it was assigned."""
        issue = self._issue_of.get(fingerprint)
        return None if issue is None else self.resolve(issue)

    def peek(self, fingerprint: str, template: str, error_type: str | None = None) -> str | None:
        """The issue this fingerprint has or would join, without assigning it (for predict)."""
        return self.issue_of(fingerprint) or self._matching(error_type or "", shape(template))

    def assign(self, fingerprint: str, template: str, error_type: str | None = None) -> Assignment:
        """The issue of this fingerprint: its earlier one, a matching one, or a new one."""
        known = self.issue_of(fingerprint)
        if known is not None:
            return Assignment(known, "known")
        kind, tokens = error_type or "", shape(template)
        issue = self._matching(kind, tokens)
        reason = "rule"
        if issue is None:
            issue, reason = issue_id(fingerprint), "new"
            self._order[issue] = len(self._order)
            self._add_pattern(kind, tokens, issue)
            self._generalise(kind, tokens, issue)
        self._issue_of[fingerprint] = issue
        return Assignment(self.resolve(issue), reason)

    def _matching(self, kind: str, tokens: tuple[str, ...]) -> str | None:
        patterns = self._patterns.get((kind, len(tokens)), {})
        exact = patterns.get(tokens)
        if exact is not None:
            return self.resolve(exact)
        for pattern, issue in self._general.get((kind, len(tokens)), ()):  # lake order: fixed
            if all(_covers(p, t) for p, t in zip(pattern, tokens, strict=True)):
                return self.resolve(issue)
        return None

    def _add_pattern(self, kind: str, tokens: tuple[str, ...], issue: str) -> None:
        patterns = self._patterns.setdefault((kind, len(tokens)), {})
        if tokens in patterns:
            return
        patterns[tokens] = issue
        if _constant_words(tokens) >= MIN_CONSTANT_WORDS and any("<" in t for t in tokens):
            self._general.setdefault((kind, len(tokens)), []).append((tokens, issue))

    def _generalise(self, kind: str, tokens: tuple[str, ...], issue: str) -> None:
        """Record each word of the template as a variant of its position; a position with
        enough variants becomes a wildcard, and the issues that showed them merge."""
        for position, word in enumerate(tokens):
            if _is_variable(word):
                continue
            general = tokens[:position] + (WILDCARD,) + tokens[position + 1 :]
            words = self._variants.setdefault((kind, general), {})
            words.setdefault(word, issue)
            if len(words) >= self.min_variants and _constant_words(general) >= MIN_CONSTANT_WORDS:
                survivor = self._merge({self.resolve(i) for i in words.values()}, general)
                self._add_pattern(kind, general, survivor)
                self._generalise(kind, general, survivor)

    def _merge(self, issues: set[str], pattern: tuple[str, ...]) -> str:
        survivor = min(issues, key=self._order.__getitem__)
        for other in sorted(issues - {survivor}):
            if frozenset((survivor, other)) not in self._apart:
                self._alias[other] = survivor
                self.merges.append({"op": "rule", "into": survivor, "from": other,
                                    "pattern": " ".join(pattern)})
        return survivor

    def exists(self, issue: str) -> bool:
        """Whether this id was ever given out (merged ids still exist: they redirect)."""
        return issue in self._order

    def fingerprints(self, issue: str) -> list[str]:
        """The fingerprints that belong to an issue now."""
        target = self.resolve(issue)
        return sorted(fp for fp, mine in self._issue_of.items() if self.resolve(mine) == target)

    def merge(self, into: str, other: str) -> str:
        """A person's merge: ``other`` (and what was merged into it) redirects to ``into``."""
        into, other = self.resolve(into), self.resolve(other)
        self._apart = {pair for pair in self._apart if pair != frozenset((into, other))}
        self._alias[other] = into
        return into

    def split(self, issue: str, fingerprint: str) -> str:
        """A person's split: the fingerprint leaves the issue for an issue of its own, which
        automatic grouping never merges back."""
        issue = self.resolve(issue)
        new = issue_id(f"{fingerprint}:split:{issue}")
        if new not in self._order:
            self._order[new] = len(self._order)
        self._issue_of[fingerprint] = new
        self._apart.add(frozenset((issue, new)))
        return new
