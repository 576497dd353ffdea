"""Score a scrubber on the secret corpus: per kind, secrets masked (no 12-character piece of the
secret left) and look-alikes kept (the text unchanged)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from erroracle.platform.prepare import RecordPreparer

WINDOW = 12


def leaked(secret: str, text: str) -> bool:
    """Whether ``text`` still holds the secret or a long enough piece of it."""
    if secret in text:
        return True
    return len(secret) > WINDOW and any(secret[i:i + WINDOW] in text
                                        for i in range(len(secret) - WINDOW + 1))


def stored_text(preparer: RecordPreparer) -> Callable[[str], str]:
    """The server's path: what ingest stores for a message (type and message joined again,
    since preparation splits "KeyError: x" into the two)."""
    def scrub(text: str) -> str:
        record = preparer({"message": text})
        return f"{record.error_type}: {record.message}" if record.error_type else record.message
    return scrub


def score(cases: list[dict[str, Any]], scrub: Callable[[str], str]) -> dict[str, Any]:
    """Per kind and per group: how many cases the scrubber got right, and the ones it missed."""
    right, total = Counter(), Counter()
    missed = []
    for case in cases:
        out = scrub(case["text"])
        ok = (not leaked(case["secret"], out) if case["group"] == "secret"
              else out == case["text"])
        key = (case["group"], case["kind"])
        total[key] += 1
        right[key] += ok
        if not ok:
            missed.append({"kind": case["kind"], "group": case["group"], "out": out[:200]})
    groups = {}
    for group in ("secret", "look-alike"):
        kinds = {kind: f"{right[(g, kind)]}/{n}" for (g, kind), n in sorted(total.items())
                 if g == group}
        groups[group] = {"right": sum(right[k] for k in total if k[0] == group),
                         "total": sum(n for k, n in total.items() if k[0] == group),
                         "kinds": kinds}
    return {"groups": groups, "missed": missed}
