"""Suggest-fix: nearest neighbours over solved records, re-ranked by what feedback said.

A solved record is anything in the lake that carries a solution: the knowledge base, crawled
questions with an accepted or top answer, and app errors whose fix a user confirmed (feedback with
the fix in its text). Each is one document, its error text followed by its solution, so that an
entry with only a solution (a runbook) is found as well. The score is the cosine similarity of
the query and that document, plus ``serve.lexical_weight`` times its BM25 score normalised to the
query's best (``erroracle.platform.lexical``), plus ``serve.feedback_weight`` times a feedback
term: the posterior mean of a Beta(1 + worked, 1 + failed) centred on zero, so unjudged fixes are
neutral. A small Thompson-sampling term lets fixes with little feedback be tried now and then.
The ``score`` an answer shows is that sum placed in [0, 1] between the lowest and the highest it
could be (so it orders fixes exactly as the ranking does); ``score_parts`` gives the cosine, the
BM25 part in [0, 1] and the posterior mean in [0, 1] it was made of.

A fix is encoded at ``model.index_max_length`` tokens, four times a query's, and a question is read
by far more of its body than training reads: a query is short, the fix it should find is not. One
document per fix, rather than the better of its error and its solution encoded apart, found more
on the half of the Stack Overflow sample the choice was made on, at half the encoding cost
(``benchmarks/learning_quality.py`` reports both halves).

From ``serve.ann_min_fixes`` fixes on, the cosine is computed only for candidates: the nearest
fixes an inverted-file index proposes (:mod:`erroracle.serve.ann`) and the best by BM25, so a
search no longer reads every vector (``benchmarks/ann_search.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from erroracle.platform.feedback import read_feedback
from erroracle.platform.lexical import LexicalIndex, words
from erroracle.platform.record_text import error_text, solution_text
from erroracle.platform.store import Tombstones
from erroracle.serve.ann import DenseIndex

__all__ = ["AnnSettings", "FeedbackTally", "SolutionIndex", "append_rows", "solved_entry"]

Encoder = Callable[[Sequence[str]], np.ndarray]

_SNIPPET = 300
_DOMAIN_BONUS = 0.05
_WHY = 3
_CANDIDATES = 4  # candidates per wanted suggestion, before re-ranking
_BODY_CHARS = 2000  # of a question's body: more than 256 tokens of prose or code
_ANN_CANDIDATES = 3  # ANN candidates per wanted one: exact scores pick among them


def append_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix`` with ``rows`` below it (an empty matrix takes the rows' width)."""
    return np.vstack([matrix, rows]) if matrix.size else rows


def solved_entry(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The index entry of a record with a solution (None when it has none). Feedback saying a
    fix did not work is never a fix, whatever its note says."""
    solution = solution_text(record)
    if not solution or record.get("source") == "feedback" and (record.get("score") or 0) <= 0:
        return None
    return {
        "id": record["id"],
        "fingerprint": record.get("fingerprint"),
        "received_at": record.get("received_at"),
        "title": record.get("title") or error_text(record).split("\n")[0][:_SNIPPET],
        "error": error_text(record, body_chars=_BODY_CHARS),
        "solution": record.get("solution") or "",
        "url": record.get("url"),
        "source": record.get("source"),
        "author": record.get("author"),
        "license": record.get("license"),
        "tags": list(record.get("tags") or []),
    }


def document(entry: Mapping[str, Any]) -> str:
    """What is encoded for a fix: its error text (or title), then its solution."""
    return "\n".join(part for part in (entry["error"] or entry["title"], solution_text(entry))
                     if part)


@dataclass(frozen=True)
class AnnSettings:
    """When a solution index searches through an ANN index, and where that index is kept."""

    min_fixes: int
    folder: Path | None = None


@dataclass
class FeedbackTally:
    """Worked/failed counts per suggestion, the errors users confirmed each one fixed, and what
    users said when it did not.

    Updated from the lake's feedback records and at once by the feedback endpoint; a record is
    counted once however often it is seen (by its id).
    """

    worked: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    confirmed: dict[str, list[str]] = field(default_factory=dict)
    objections: dict[str, list[str]] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                facts = read_feedback(row)
                if row["id"] in self._seen or not facts.suggestion_id:
                    continue
                self._seen.add(row["id"])
                counts = self.worked if facts.worked else self.failed
                counts[facts.suggestion_id] = counts.get(facts.suggestion_id, 0) + 1
                if facts.worked and row.get("message"):
                    errors = self.confirmed.setdefault(facts.suggestion_id, [])
                    errors.append(error_text(row)[:_SNIPPET])
                    del errors[:-_WHY]
                elif not facts.worked and facts.note:
                    notes = self.objections.setdefault(facts.suggestion_id, [])
                    notes.append(facts.note[:_SNIPPET])
                    del notes[:-_WHY]

    def mean(self, suggestion_id: str) -> float:
        """The posterior mean of "it works": Beta(1 + worked, 1 + failed); 0.5 when unjudged."""
        worked = self.worked.get(suggestion_id, 0)
        failed = self.failed.get(suggestion_id, 0)
        return (1 + worked) / (2 + worked + failed)

    def adjustment(self, suggestion_id: str, rng: np.random.Generator, exploration: float) -> float:
        """The feedback term of a suggestion's score, in [-0.5, 0.5] times the weights."""
        mean = self.mean(suggestion_id)
        if not exploration:
            return mean - 0.5
        worked = self.worked.get(suggestion_id, 0)
        failed = self.failed.get(suggestion_id, 0)
        return (mean - 0.5) + exploration * (rng.beta(1 + worked, 1 + failed) - mean)

    def rates(self) -> dict[str, int]:
        with self._lock:
            return {"worked": sum(self.worked.values()), "failed": sum(self.failed.values())}


class SolutionIndex:
    """Solved records, the embeddings of their documents, and feedback.

    Immutable once built except for the tally: :meth:`extended` returns a new index, so that a
    request always searches one consistent snapshot.
    """

    def __init__(
        self, entries: list[dict[str, Any]], vectors: np.ndarray, tally: FeedbackTally,
        feedback_weight: float = 0.3, lexical: LexicalIndex | None = None,
        lexical_weight: float = 0.0, ann: AnnSettings | None = None,
        dense: DenseIndex | None = None,
    ) -> None:
        self.entries = entries
        self.vectors = vectors
        self.lexical = lexical or LexicalIndex([])
        self.lexical_weight = lexical_weight
        self.tally = tally
        self.feedback_weight = feedback_weight
        self.ann = ann
        self.dense = dense
        self.ids = {entry["id"] for entry in entries}

    @classmethod
    def build(
        cls, records: Iterable[Mapping[str, Any]], encode: Encoder, tally: FeedbackTally,
        feedback_weight: float = 0.3, lexical_weight: float = 0.0,
        ann: AnnSettings | None = None,
    ) -> SolutionIndex:
        """``encode`` reads the fixes' texts (at the index length, not the query length); with
        ``ann``, an index of at least ``ann.min_fixes`` fixes searches through an ANN index."""
        empty = cls([], np.zeros((0, 0), np.float32), tally, feedback_weight,
                    lexical_weight=lexical_weight, ann=ann)
        return empty.extended(records, encode)

    def _dense_for(self, entries: list[dict[str, Any]], vectors: np.ndarray,
                   added: int) -> DenseIndex | None:
        """The ANN index of an index of ``entries``, the last ``added`` of them new."""
        if self.ann is None or len(entries) < self.ann.min_fixes:
            return None
        if self.dense is not None:
            return self.dense.extended(vectors[len(entries) - added:], len(entries) - added)
        if self.ann.folder is None:
            return DenseIndex.build(vectors)
        return DenseIndex.restored(self.ann.folder, [e["id"] for e in entries], vectors)

    def extended(self, records: Iterable[Mapping[str, Any]], encode: Encoder) -> SolutionIndex:
        """A new index with the solved records among ``records`` that it does not hold yet."""
        fresh = [entry for entry in map(solved_entry, records)
                 if entry is not None and entry["id"] not in self.ids]
        fresh = list({entry["id"]: entry for entry in fresh}.values())
        if not fresh:
            return self
        documents = [document(entry) for entry in fresh]
        entries = self.entries + fresh
        vectors = append_rows(self.vectors, encode(documents))
        return SolutionIndex(
            entries, vectors, self.tally, self.feedback_weight,
            self.lexical.extended([words(d) for d in documents]), self.lexical_weight,
            self.ann, self._dense_for(entries, vectors, len(fresh)),
        )

    def without(self, tombstones: Tombstones, tally: FeedbackTally) -> SolutionIndex:
        """A new index without the deleted fixes, counting feedback with ``tally`` (rebuilt
        from the feedback that is left)."""
        keep = [i for i, entry in enumerate(self.entries) if not tombstones.covers(
            entry["id"], entry["fingerprint"], entry["received_at"])]
        dense = self.dense
        if dense is not None:
            dense = dense.without(np.asarray(keep, dtype=np.int64), len(self.entries))
        return SolutionIndex(
            [self.entries[i] for i in keep], self.vectors[keep] if keep else self.vectors[:0],
            tally, self.feedback_weight, LexicalIndex([self.lexical.tokens[i] for i in keep]),
            self.lexical_weight, self.ann, dense,
        )

    def __len__(self) -> int:
        return len(self.entries)

    def search(
        self, query: np.ndarray, k: int, *, rng: np.random.Generator, exploration: float = 0.0,
        domain: str | None = None, text: str = "",
    ) -> list[dict[str, Any]]:
        """The ``k`` best fixes for a unit-length query embedding (and the query's ``text``, for
        the lexical part), best first."""
        if not self.entries:
            return []
        lexical = (self.lexical.scores(text) if text and self.lexical_weight
                   else np.zeros(len(self.entries), np.float32))
        wanted = min(len(self.entries), k * _CANDIDATES)
        similarity, candidates = self._nearest(query, lexical, wanted)
        scored = []
        for index in candidates:
            entry = self.entries[index]
            relevance = similarity[index] + self.lexical_weight * lexical[index]
            score = float(relevance) + self.feedback_weight * self.tally.adjustment(
                entry["id"], rng, exploration)
            if domain and domain.lower() in (tag.lower() for tag in entry["tags"]):
                score += _DOMAIN_BONUS
            scored.append((score, index))
        scored.sort(reverse=True)
        # the ranking score, shown in [0, 1]: its place between the lowest and highest it can be
        swing = self.feedback_weight * (0.5 + exploration)
        low, high = -1.0 - swing, 1.0 + self.lexical_weight + swing + _DOMAIN_BONUS
        return [self._suggestion(index, (score - low) / (high - low), {
            "similarity": round(float(similarity[index]), 4),
            "lexical": round(float(lexical[index]), 4),
            "feedback": round(self.tally.mean(self.entries[index]["id"]), 4)})
            for score, index in scored[:k]]

    def _nearest(self, query: np.ndarray, lexical: np.ndarray,
                 wanted: int) -> tuple[np.ndarray, np.ndarray]:
        """The cosine of each fix (of the candidates only, through the ANN index) and the ``wanted``
        best rows by cosine plus weighted BM25."""
        if self.dense is None:
            similarity = self.vectors @ query
            relevance = similarity + self.lexical_weight * lexical
            return similarity, np.argpartition(-relevance, wanted - 1)[:wanted]
        rows = self.dense.search(query, wanted * _ANN_CANDIDATES)
        if self.lexical_weight:
            rows = np.union1d(rows, np.argpartition(-lexical, wanted - 1)[:wanted])
        similarity = np.full(len(self.entries), -1.0, np.float32)
        similarity[rows] = self.vectors[rows] @ query
        relevance = similarity[rows] + self.lexical_weight * lexical[rows]
        best = np.argpartition(-relevance, min(wanted, len(rows)) - 1)[:wanted]
        return similarity, rows[best]

    def _suggestion(self, index: int, score: float, parts: dict[str, float]) -> dict[str, Any]:
        entry = self.entries[index]
        why = [{"error": entry["error"][:_SNIPPET], "similarity": parts["similarity"],
                "source": entry["source"]}]
        why += [{"error": text, "similarity": None, "source": "feedback"}
                for text in self.tally.confirmed.get(entry["id"], [])]
        return {
            "id": entry["id"], "title": entry["title"], "solution": entry["solution"],
            "url": entry["url"], "source": entry["source"], "author": entry["author"],
            "license": entry["license"], "score": round(min(max(score, 0.0), 1.0), 4),
            "score_parts": parts,
            "feedback": {"worked": self.tally.worked.get(entry["id"], 0),
                         "failed": self.tally.failed.get(entry["id"], 0),
                         "notes": list(self.tally.objections.get(entry["id"], []))},
            "why": why[:_WHY],
        }
