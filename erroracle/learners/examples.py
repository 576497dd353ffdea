"""From lake records to training examples: texts, weighted labels, the split and the cap.

Pure functions on Arrow tables, so that Ray Data (``learners.data``), the bootstrap and the serving
side all turn a record into the same text and the same labels.

Labels come with a weight that says how much to trust them. A user's correction (feedback) is
trusted most, then what the producer or the knowledge base said, then the weak rules of the
taxonomy. The category a source's tags give (Stack Overflow tags, GitHub labels, subreddit flair)
is a human judgement the rules did not make: it is never a training target, only kept beside each
example (``tag_category``, with what the rules alone say in ``rule_category``), so that evaluation
can say whether the model learned anything beyond the rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from erroracle.learners.hard_negatives import NegativeMiner
from erroracle.learners.model import LabelSpace
from erroracle.platform.record_text import error_text, in_validation, solution_text
from erroracle.platform.taxonomy import Taxonomy

__all__ = [
    "COLUMNS",
    "EXAMPLE_SCHEMA",
    "LABEL_WEIGHTS",
    "Labeler",
    "cap_group",
    "to_examples",
]

# The lake columns the learners read.
COLUMNS = [
    "id", "source", "source_id", "received_at", "error_type", "message", "title", "body",
    "solution", "frames", "tags", "level", "fingerprint", "category", "severity",
]
# Trust in a label by where it came from (see Taxonomy.label for the origins).
LABEL_WEIGHTS = {
    "feedback": 1.0,
    "record": 1.0,
    "level": 0.7,
    "severity_rule": 0.6,
    "rule": 0.5,
    "category_default": 0.3,
}
EXAMPLE_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source", pa.string()),
    ("fingerprint", pa.string()),
    ("received_at", pa.timestamp("us", tz="UTC")),
    ("error_text", pa.string()),
    ("solution_text", pa.string()),
    # a fix users said did not work for this error, else one BM25 mined (training only), or ""
    ("negative_text", pa.string()),
    ("category", pa.int32()),
    ("category_weight", pa.float32()),
    ("severity", pa.int32()),
    ("severity_weight", pa.float32()),
    ("tag_category", pa.int32()),  # the category the source's tags give, or -1: never trained on
    ("rule_category", pa.int32()),  # the category the taxonomy's rules alone give, or -1
    ("validation", pa.bool_()),
])


class Labeler:
    """Weighted labels for records: feedback corrections first, then :meth:`Taxonomy.label`.

    Args:
        taxonomy: categories, severities and the weak rules.
        corrections: ``{error id or fingerprint: {"category": ..., "severity": ...}}`` from
            feedback; an id wins over a fingerprint, the newest correction over older ones.
    """

    def __init__(
        self, taxonomy: Taxonomy, corrections: Mapping[str, Mapping[str, str | None]] | None = None
    ) -> None:
        self.taxonomy = taxonomy
        self.space = LabelSpace(tuple(taxonomy.categories), tuple(taxonomy.severities))
        self.corrections = dict(corrections or {})
        self._category_index = {name: i for i, name in enumerate(self.space.categories)}
        self._severity_index = {name: i for i, name in enumerate(self.space.severities)}

    @classmethod
    def from_feedback(cls, taxonomy: Taxonomy, feedback: pa.Table) -> Labeler:
        """Build from the lake's feedback records (``source_id``: the error, ``fingerprint``)."""
        corrections: dict[str, dict[str, str | None]] = {}
        rows = feedback.sort_by("received_at").to_pylist() if feedback.num_rows else []
        for row in rows:
            fix = {"category": row.get("category"), "severity": row.get("severity")}
            if not any(fix.values()):
                continue
            for key in (row.get("fingerprint"), row.get("source_id")):
                if key:
                    merged = corrections.setdefault(key, {})
                    merged.update({k: v for k, v in fix.items() if v})
        return cls(taxonomy, corrections)

    def label(self, record: Mapping[str, Any]) -> tuple[int, float, int, float]:
        """(category index, weight, severity index, weight); index -1 and weight 0 when unknown."""
        fix: dict[str, str | None] = {}
        for key in (record.get("fingerprint"), record.get("id")):
            fix.update(self.corrections.get(key or "", {}))
        labels = self.taxonomy.label(record, use_tags=False)
        category, category_from = labels.category, labels.category_from
        severity, severity_from = labels.severity, labels.severity_from
        if fix.get("category") in self._category_index:
            category, category_from = fix["category"], "feedback"
        if fix.get("severity") in self._severity_index:
            severity, severity_from = fix["severity"], "feedback"
        return (
            *self._indexed(self._category_index, category, category_from),
            *self._indexed(self._severity_index, severity, severity_from),
        )

    def judged(self, record: Mapping[str, Any]) -> tuple[int, int]:
        """(the category the record's tags give, the one the rules alone give); -1 when none."""
        tagged, _ = self.taxonomy.category_by_tags(record.get("tags") or [])
        ruled = self.taxonomy.rules_category(record)
        return (self._category_index.get(tagged or "", -1),
                self._category_index.get(ruled or "", -1))

    @staticmethod
    def _indexed(index: Mapping[str, int], name: str | None, origin: str | None):
        if name is None or name not in index or origin is None:
            return -1, 0.0
        return index[name], LABEL_WEIGHTS[origin.split(":")[0]]


def to_examples(
    table: pa.Table, labeler: Labeler, *, validation_fraction: float, seed: int = 0,
    issues: Mapping[str, str] | None = None, negatives: Mapping[str, str] | None = None,
    miner: NegativeMiner | None = None,
) -> pa.Table:
    """Lake records (an Arrow table) to examples in :data:`EXAMPLE_SCHEMA`.

    The split is by issue (``issues`` maps fingerprints to issues; a fingerprint without one
    stands for itself), so the templates of one event type never sit on both sides.
    ``negatives`` maps fingerprints to a fix that did not work for them: it is kept beside each
    example of that fingerprint that has a solution of its own. A training example without one
    gets the ``miner``'s, when there is a miner.
    """
    issues, negatives = issues or {}, negatives or {}
    columns: dict[str, list[Any]] = {name: [] for name in EXAMPLE_SCHEMA.names}
    for record in table.to_pylist():
        text = error_text(record)
        if not text:
            continue
        category, category_weight, severity, severity_weight = labeler.label(record)
        tag_category, rule_category = labeler.judged(record)
        fingerprint = record.get("fingerprint") or record["id"]
        group = issues.get(fingerprint, fingerprint)
        held_out = in_validation(group, validation_fraction, seed)
        solution = solution_text(record)
        negative = negatives.get(fingerprint, "") if solution else ""
        if solution and not negative and miner is not None and not held_out:
            negative = miner.negative(text, group, solution)
        row = {
            "id": record["id"], "source": record["source"], "fingerprint": fingerprint,
            "received_at": record["received_at"], "error_text": text,
            "solution_text": solution, "negative_text": "" if negative == solution else negative,
            "category": category,
            "category_weight": category_weight, "severity": severity,
            "severity_weight": severity_weight, "tag_category": tag_category,
            "rule_category": rule_category,
            "validation": held_out,
        }
        for name, value in row.items():
            columns[name].append(value)
    return pa.table(columns, schema=EXAMPLE_SCHEMA)


def cap_group(table: pa.Table, cap: int, seed: int = 0) -> pa.Table:
    """At most ``cap`` records of one fingerprint: solved ones first, then a stable hash order."""
    if table.num_rows <= cap:
        return table
    ids: Sequence[str] = table["id"].to_pylist()
    solved = [bool(s) for s in table["solution"].to_pylist()]
    rank = sorted(
        range(table.num_rows),
        key=lambda i: (not solved[i], hashlib.blake2b(f"{seed}{ids[i]}".encode()).digest()),
    )
    return table.take(sorted(rank[:cap]))
