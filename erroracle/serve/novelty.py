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
from erroracle.platform.store import Tombstones
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


@dataclass
class _Members:
    """Distinct error texts per fingerprint, in arrival order, and the record whose text
    represents the group (its id and arrival: a deletion of it takes the group's vector)."""

    texts: dict[str, list[str]]
    representative: dict[str, tuple[str, Any]]


def _members(rows: Iterable[Mapping[str, Any]]) -> _Members:
    groups = _Members({}, {})
    for row in rows:
        fingerprint = row.get("fingerprint")
        if not fingerprint:
            continue
        texts = groups.texts.setdefault(fingerprint, [])
        text = error_text(row)
        if text and text not in texts and len(texts) <= _PER_GROUP:
            if not texts:
                groups.representative[fingerprint] = (row["id"], row.get("received_at"))
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
    """One representative embedding per known fingerprint; :meth:`extended` adds new groups,
    :meth:`without` forgets deleted ones."""

    def __init__(
        self, fingerprints: list[str], vectors: np.ndarray, threshold: float, pairs: int,
        known: frozenset[str], representatives: list[tuple[str, Any]],
    ) -> None:
        self.fingerprints, self.vectors = fingerprints, vectors
        self.threshold, self.pairs, self.known = threshold, pairs, known
        self.representatives = representatives

    @classmethod
    def build(
        cls, rows: Sequence[Mapping[str, Any]], encode: Encoder, *, quantile: float,
        fraction: float, seed: int, max_groups: int,
    ) -> GroupIndex:
        groups = _members(rows)
        threshold, pairs = calibrate(groups.texts, encode, quantile=quantile, fraction=fraction,
                                     seed=seed)
        empty = cls([], np.zeros((0, 0), np.float32), threshold, pairs, frozenset(groups.texts),
                    [])
        return empty._with(groups, encode, max_groups)

    def _with(self, groups: _Members, encode: Encoder, max_groups: int):
        have = set(self.fingerprints)
        fresh = [fp for fp in groups.texts if fp not in have][: max(0, max_groups - len(have))]
        vectors = append_rows(self.vectors, encode([groups.texts[fp][0] for fp in fresh])) \
            if fresh else self.vectors
        return GroupIndex(self.fingerprints + fresh, vectors, self.threshold, self.pairs,
                          self.known | frozenset(groups.texts),
                          self.representatives + [groups.representative[fp] for fp in fresh])

    def extended(self, rows: Iterable[Mapping[str, Any]], encode: Encoder, max_groups: int):
        """A new index that also knows the groups of ``rows``."""
        groups = _members(rows)
        if not groups.texts or set(groups.texts) <= self.known:
            return self
        return self._with(groups, encode, max_groups)

    def without(self, tombstones: Tombstones) -> GroupIndex:
        """A new index without the vectors of deleted representatives, and no longer knowing
        deleted fingerprints (the next refresh learns a group again from what is left of it)."""
        keep = [i for i, (fp, (record_id, at)) in enumerate(
            zip(self.fingerprints, self.representatives, strict=True))
            if not tombstones.covers(record_id, fp, at)]
        return GroupIndex(
            [self.fingerprints[i] for i in keep],
            self.vectors[keep] if keep else self.vectors[:0], self.threshold, self.pairs,
            self.known - frozenset(tombstones.fingerprints),
            [self.representatives[i] for i in keep],
        )

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
