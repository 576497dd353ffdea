"""Novelty: how far a new error is from every error group already known.

An error whose fingerprint is known is not novel. Otherwise its novelty score is the cosine
distance from its embedding to the nearest known group's representative. The threshold comes from
held-out data: in the validation groups (the same stable fingerprint split the learners use),
other members of a group are compared with the group's representative, and the threshold is the
distance within which ``quantile`` of them fall. A new error farther than a typical recurrence of
a known group is flagged as novel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from erroracle.platform.record_text import error_text, in_validation
from erroracle.serve.solutions import Encoder, append_rows

__all__ = ["DEFAULT_THRESHOLD", "GroupIndex", "Novelty", "calibrate"]

#: Used until enough held-out pairs exist to calibrate (a cosine distance).
DEFAULT_THRESHOLD = 0.35
_MIN_PAIRS = 20
_MAX_PAIRS = 2_000
_PER_GROUP = 3


@dataclass(frozen=True)
class Novelty:
    score: float
    is_novel: bool
    threshold: float
    nearest_fingerprint: str | None


def _members(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Distinct error texts per fingerprint, in arrival order."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        fingerprint = row.get("fingerprint")
        if not fingerprint:
            continue
        texts = groups.setdefault(fingerprint, [])
        text = error_text(row)
        if text and text not in texts and len(texts) <= _PER_GROUP:
            texts.append(text)
    return groups


def calibrate(
    groups: Mapping[str, list[str]], encode: Encoder, *, quantile: float, fraction: float,
    seed: int,
) -> tuple[float, int]:
    """(threshold, pairs used): the ``quantile`` of representative-to-member distances."""
    held_out = [texts for fingerprint, texts in groups.items()
                if len(texts) > 1 and in_validation(fingerprint, fraction, seed)]
    if sum(len(texts) - 1 for texts in held_out) < _MIN_PAIRS:
        held_out = [texts for texts in groups.values() if len(texts) > 1]
    pairs = [(texts[0], other) for texts in held_out for other in texts[1:]][:_MAX_PAIRS]
    if len(pairs) < _MIN_PAIRS:
        return DEFAULT_THRESHOLD, len(pairs)
    first = encode([a for a, _ in pairs])
    second = encode([b for _, b in pairs])
    distances = 1.0 - np.sum(first * second, axis=1)
    return float(np.quantile(distances, quantile)), len(pairs)


class GroupIndex:
    """One representative embedding per known fingerprint; :meth:`extended` adds new groups."""

    def __init__(
        self, fingerprints: list[str], vectors: np.ndarray, threshold: float, pairs: int,
        known: frozenset[str],
    ) -> None:
        self.fingerprints, self.vectors = fingerprints, vectors
        self.threshold, self.pairs, self.known = threshold, pairs, known

    @classmethod
    def build(
        cls, rows: Sequence[Mapping[str, Any]], encode: Encoder, *, quantile: float,
        fraction: float, seed: int, max_groups: int,
    ) -> GroupIndex:
        groups = _members(rows)
        threshold, pairs = calibrate(groups, encode, quantile=quantile, fraction=fraction,
                                     seed=seed)
        empty = cls([], np.zeros((0, 0), np.float32), threshold, pairs, frozenset(groups))
        return empty._with(groups, encode, max_groups)

    def _with(self, groups: Mapping[str, list[str]], encode: Encoder, max_groups: int):
        have = set(self.fingerprints)
        fresh = [fp for fp in groups if fp not in have][: max(0, max_groups - len(have))]
        vectors = append_rows(self.vectors, encode([groups[fp][0] for fp in fresh])) if fresh \
            else self.vectors
        return GroupIndex(self.fingerprints + fresh, vectors, self.threshold, self.pairs,
                          self.known | frozenset(groups))

    def extended(self, rows: Iterable[Mapping[str, Any]], encode: Encoder, max_groups: int):
        """A new index that also knows the groups of ``rows``."""
        groups = _members(rows)
        if not groups or set(groups) <= self.known:
            return self
        return self._with(groups, encode, max_groups)

    def __len__(self) -> int:
        return len(self.fingerprints)

    def novelty(self, fingerprint: str | None, embedding: np.ndarray) -> Novelty:
        if fingerprint in self.known:
            return Novelty(0.0, False, self.threshold, fingerprint)
        if not self.fingerprints:
            return Novelty(1.0, True, self.threshold, None)
        similarity = self.vectors @ embedding
        nearest = int(np.argmax(similarity))
        distance = float(np.clip(1.0 - similarity[nearest], 0.0, 1.0))
        return Novelty(round(distance, 4), distance > self.threshold, self.threshold,
                       self.fingerprints[nearest])
