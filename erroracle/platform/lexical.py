"""BM25 over texts: added to the dense similarity of suggest-fix (``serve.solutions``), and the
miner of hard negatives for training (``learners.hard_negatives``).

A well-kept library (``bm25s``: sparse matrices, scores for every document in one pass) over a
small tokeniser that keeps dotted names whole and also split (``requests.exceptions`` gives
itself, ``requests`` and ``exceptions``), drops very common English words and keeps numbers of
three digits or more (ports, status codes, errnos). On the Stack Overflow sample, adding a tenth
of the normalised score to the cosine raised MRR@10 on both halves
(``benchmarks/retrieval_parts.py``); tokens limited to identifiers did not help, since most
queries hold none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np

__all__ = ["LexicalIndex", "words"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+(?:\.[A-Za-z_][A-Za-z0-9_]+)*|\d{3,}")
_STOP = frozenset((
    "the", "a", "an", "is", "to", "of", "and", "in", "for", "on", "it", "i", "my", "this", "that",
    "with", "be", "as", "at", "by", "or", "from", "how", "what", "can", "do", "does", "not", "are",
    "was", "have", "has", "you",
))


def words(text: str) -> list[str]:
    """The lowercased tokens of ``text`` that BM25 counts."""
    out = []
    for word in _WORD.findall(text):
        low = word.lower()
        out.append(low)
        if "." in low:
            out.extend(low.split("."))
    return [word for word in out if word not in _STOP]


class LexicalIndex:
    """BM25 scores of a query against documents, each query's scores divided by its best (so
    they lie in [0, 1] and a query that matches nothing scores 0 everywhere)."""

    def __init__(self, tokens: Sequence[list[str]]) -> None:
        self.tokens = list(tokens)
        self._bm25 = bm25s.BM25()
        if any(self.tokens):
            self._bm25.index(self.tokens, show_progress=False)

    def extended(self, tokens: Sequence[list[str]]) -> LexicalIndex:
        """A new index over these documents and more (BM25's statistics cover the whole set,
        so it is rebuilt: a fraction of a second for thousands of documents)."""
        return LexicalIndex(self.tokens + list(tokens))

    def scores(self, query: str) -> np.ndarray:
        found = np.zeros(len(self.tokens), np.float32)
        tokens = words(query)
        if not tokens or not any(self.tokens):
            return found
        found = np.asarray(self._bm25.get_scores(tokens), np.float32)
        best = float(found.max(initial=0.0))
        return found / best if best > 0 else found
