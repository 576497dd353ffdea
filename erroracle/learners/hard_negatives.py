"""Hard negatives mined from the lake: for each training error, the solution of another issue
that BM25 ranks highest for the error's text.

In-batch negatives are mostly easy (a random other fix shares nothing with the error), so the
contrastive loss soon learns little from them. A fix that shares the error's words but belongs to
a different issue is the mistake retrieval actually makes; DPR (Karpukhin et al., 2020) found one
BM25 negative per question the most useful addition to in-batch negatives. Only training-side
solutions are indexed, so the held-out split never shapes training, and a solution of the same
issue is never a negative (duplicates are answered by the same fix).

Example:
    >>> miner = NegativeMiner(["pip install requests", "chmod 600 key"], ["g1", "g2"])
    >>> miner.negative("ModuleNotFoundError: No module named 'requests'", "g2")
    'pip install requests'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from erroracle.platform.lexical import LexicalIndex, words

__all__ = ["NegativeMiner"]

# How many of BM25's best to look through for one of another issue.
_LOOK_AT = 8


class NegativeMiner:
    """BM25 over solutions, each with the group (issue or fingerprint) it solves."""

    def __init__(self, solutions: Sequence[str], groups: Sequence[str]) -> None:
        self.solutions = list(solutions)
        self.groups = list(groups)
        self._index = LexicalIndex([words(text) for text in self.solutions])

    def __len__(self) -> int:
        return len(self.solutions)

    def negative(self, error_text: str, group: str, own_solution: str = "") -> str:
        """The best-matching solution of another group that is not ``own_solution``, or ""."""
        scores = self._index.scores(error_text)
        if not scores.size:
            return ""
        best = np.argsort(-scores, kind="stable")[:_LOOK_AT]
        for i in best:
            if scores[i] <= 0:
                break
            if self.groups[i] != group and self.solutions[i] != own_solution:
                return self.solutions[i]
        return ""
