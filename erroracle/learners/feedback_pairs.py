"""What users said about fixes, as training data for retrieval.

A "worked" on a suggested fix is a positive pair: the error the user had, and the solution of the
fix they were shown. It enters a round as a record of source ``feedback`` whose solution is that
fix's, so it is labelled, split by issue and tokenised like any other record. A "did not work" is
a hard negative: the fix's solution is kept beside every example of that error's fingerprint, and
the contrastive loss sees it as a wrong answer for the batch (``learners.data.Collator``).

Corrections of category and severity are read elsewhere (``Labeler.from_feedback``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from erroracle.learners.examples import COLUMNS
from erroracle.platform.feedback import read_feedback
from erroracle.platform.record_text import solution_text

__all__ = ["FeedbackPairs", "feedback_pairs", "judged_fixes"]

_FACTS = ["fingerprint", "score", "tags", "solution", "body"]  # what read_feedback reads


@dataclass(frozen=True)
class FeedbackPairs:
    """``positives``: records in the learners' columns; ``negatives``: fingerprint → the newest
    fix that did not work for it."""

    positives: pa.Table
    negatives: dict[str, str] = field(default_factory=dict)


def feedback_pairs(feedback: pa.Table, fixes: pa.Table) -> FeedbackPairs:
    """Pairs from the lake's feedback records and the ``id`` and ``solution`` of the fixes they
    judged. Feedback about no fix, or about a fix no longer in the lake (deleted), gives nothing."""
    if not feedback.num_rows:
        return FeedbackPairs(feedback.select(COLUMNS).slice(0, 0))
    feedback = feedback.sort_by("received_at")
    solutions = dict(zip(fixes["id"].to_pylist(), fixes["solution"].to_pylist(), strict=True))
    keep: list[bool] = []
    positive_solutions: list[str | None] = []
    negatives: dict[str, str] = {}
    for row in feedback.select(_FACTS).to_pylist():
        facts = read_feedback(row)
        fix = solution_text({"solution": solutions.get(facts.suggestion_id or "")})
        keep.append(bool(fix and facts.worked and row.get("fingerprint")))
        positive_solutions.append(fix if keep[-1] else None)
        if fix and not facts.worked and row.get("fingerprint"):
            negatives[row["fingerprint"]] = fix
    positives = feedback.select(COLUMNS)
    column = positives.schema.get_field_index("solution")
    positives = positives.set_column(column, positives.schema.field("solution"),
                                     pa.array(positive_solutions, type=pa.string()))
    return FeedbackPairs(positives.filter(pa.array(keep)), negatives)


def judged_fixes(feedback: pa.Table) -> list[str]:
    """The ids of the fixes that feedback names, to read their solutions from the lake."""
    facts = map(read_feedback, feedback.select(_FACTS).to_pylist())
    return sorted({one.suggestion_id for one in facts if one.suggestion_id})
