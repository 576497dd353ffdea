"""How a user's feedback is stored in the lake, in one place for its writer and its readers.

Feedback is a record with ``source="feedback"``. It copies the error it is about (type, message,
fingerprint), so that a confirmed fix is a solved error by itself, and it says:

- ``source_id``: the error id (or the prediction id) the feedback is about;
- ``score``: +1 when the fix worked, -1 when it did not;
- ``category`` / ``severity``: corrections, when given (the next training round uses them);
- ``solution``: the user's free text when the fix worked (what actually fixed it): a confirmed
  fix, indexed like any other;
- ``body``: the user's free text when it did not (why): evidence on the suggestion it judges,
  never a suggestion of its own;
- ``tags``: ``suggestion:<id>`` for the suggestion it judges, ``target:error`` or
  ``target:prediction`` for what ``source_id`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FeedbackFacts", "feedback_record", "read_feedback"]

_SUGGESTION = "suggestion:"
_TARGET = "target:"
Target = Literal["error", "prediction"]


@dataclass(frozen=True)
class FeedbackFacts:
    """What one feedback record says, read back from its row."""

    fingerprint: str | None
    suggestion_id: str | None
    worked: bool
    note: str | None


def feedback_record(
    *,
    target: Target,
    target_id: str,
    error: Mapping[str, Any],
    worked: bool,
    suggestion_id: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The lake record of one piece of feedback about ``error`` (a record or prediction dict)."""
    tags = [f"{_TARGET}{target}"]
    if suggestion_id:
        tags.append(f"{_SUGGESTION}{suggestion_id}")
    return {
        "source": "feedback",
        "source_id": target_id,
        "fingerprint": error.get("fingerprint"),
        "error_type": error.get("error_type"),
        "message": error.get("message") or "",
        "score": 1 if worked else -1,
        "category": category,
        "severity": severity,
        "solution": note if worked else None,
        "body": None if worked else note,
        "tags": tags,
    }


def read_feedback(row: Mapping[str, Any]) -> FeedbackFacts:
    """The facts of one stored feedback row."""
    suggestion = next(
        (tag[len(_SUGGESTION):] for tag in row.get("tags") or [] if tag.startswith(_SUGGESTION)),
        None,
    )
    worked = (row.get("score") or 0) > 0
    return FeedbackFacts(
        fingerprint=row.get("fingerprint"),
        suggestion_id=suggestion,
        worked=worked,
        # lakes written before the note of a failure moved to body kept it in solution
        note=row.get("solution") if worked else row.get("body") or row.get("solution"),
    )
