"""Group templates whose only difference is a word that varies (user names, host names, ...).

Masking in :mod:`erroracle.platform.fingerprint` catches variables that carry digits or have a
recognisable shape; a variable made of plain words ("Invalid user oracle from <IP>") slips
through. :func:`consolidate` finds those over a *set* of templates: when templates of the same
length agree everywhere except at one position, and that position takes at least
``min_variants`` different words, the position is a variable and they form one group. It depends
only on the set of templates, never on the order they arrived in, so every node computes the same
groups from the same lake.

Example:
    >>> groups = consolidate(["Invalid user bob from <IP>", "Invalid user amy from <IP>",
    ...                       "Invalid user eve from <IP>", "Server started"])
    >>> groups["Invalid user amy from <IP>"]
    'Invalid user <*> from <IP>'
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

__all__ = ["consolidate"]

WILDCARD = "<*>"
MIN_VARIANTS = 3
MIN_CONSTANT_TOKENS = 2


def _is_wild(token: str) -> bool:
    return token.startswith("<") and token.endswith(">")


def _merge_once(shapes: set[tuple[str, ...]], min_variants: int) -> dict[tuple, tuple]:
    """One pass: map each shape that has a varying position to its generalised shape."""
    variants: dict[tuple, set[str]] = defaultdict(set)
    for shape in shapes:
        constant = sum(1 for token in shape if not _is_wild(token))
        if constant <= MIN_CONSTANT_TOKENS:
            continue
        # The first word names the event ("tickTime set to <*>"); only later words may vary.
        for position, token in enumerate(shape[1:], start=1):
            if not _is_wild(token):
                variants[shape[:position] + (WILDCARD,) + shape[position + 1 :]].add(token)
    merged: dict[tuple, tuple] = {}
    # The position with the most variants generalises first; a later pass takes the next one.
    for general in sorted(variants, key=lambda g: (-len(variants[g]), g)):
        words = variants[general]
        if len(words) < min_variants:
            continue
        for shape in shapes:
            if shape in merged or len(shape) != len(general):
                continue
            if (
                all(
                    a == b or (b == WILDCARD and (a in words or _is_wild(a)))
                    for a, b in zip(shape, general, strict=True)
                )
                and shape != general
            ):
                merged[shape] = general
    return merged


def consolidate(templates: Iterable[str], min_variants: int = MIN_VARIANTS) -> dict[str, str]:
    """Map every template to the template of its group (itself when nothing varies)."""
    originals = set(templates)
    current = {template: tuple(template.split(" ")) for template in originals}
    for _ in range(4):  # each pass frees one more varying position; four is plenty
        merged = _merge_once(set(current.values()), min_variants)
        if not merged:
            break
        current = {t: merged.get(shape, shape) for t, shape in current.items()}
    return {template: " ".join(shape) for template, shape in current.items()}
