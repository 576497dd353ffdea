"""Records become examples: text, weighted labels by origin, split by issue, the cap."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from erroracle.learners.examples import (
    LABEL_WEIGHTS,
    Labeler,
    cap_group,
    to_examples,
)
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.record_text import in_validation
from erroracle.platform.records import parse_record, records_to_table
from erroracle.platform.store import InMemoryErrorStore
from erroracle.platform.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load()


def _table(records):
    return records_to_table([parse_record({"message": "x", **r}).to_row() for r in records])


def test_split_is_by_fingerprint():
    table = _table([{"id": f"r{i}", "fingerprint": f"g{i % 7}"} for i in range(70)])
    examples = to_examples(table, Labeler(Taxonomy.load()), validation_fraction=0.5)
    sides = {}
    for row in examples.to_pylist():
        sides.setdefault(row["fingerprint"], set()).add(row["validation"])
    assert all(len(side) == 1 for side in sides.values())


def test_the_split_is_by_issue_when_the_lake_has_issues(taxonomy):
    store = InMemoryErrorStore()
    prepare = RecordPreparer()
    names = ["oracle", "admin", "test", "pi", "guest", "ubuntu", "git", "ftp"]
    store.append([prepare({"id": f"u{n}", "message": f"Invalid user {name} from 10.0.0.{n}"})
                  for n, name in enumerate(names)])
    table = store.read_table()
    by_fingerprint = {in_validation(fp, 0.5) for fp in table["fingerprint"].to_pylist()}
    assert by_fingerprint == {True, False}  # split by fingerprint, the issue would straddle
    issues = store.issue_map(table["fingerprint"])
    assert len(set(issues.values())) == 1
    examples = to_examples(table, Labeler(taxonomy), validation_fraction=0.5, issues=issues)
    assert len(set(examples["validation"].to_pylist())) == 1


def test_label_precedence_feedback_then_record_then_tags_then_rules(taxonomy):
    labeler = Labeler(taxonomy, {"fp-fixed": {"category": "database", "severity": "critical"}})
    by_rule = {"id": "a", "error_type": "ConnectionRefusedError", "message": "refused"}
    category, weight, _, _ = labeler.label(by_rule)
    assert taxonomy.categories and category == list(taxonomy.categories).index("network")
    assert weight == LABEL_WEIGHTS["rule"]
    given = {**by_rule, "category": "timeout"}
    assert labeler.label(given)[:2] == (list(taxonomy.categories).index("timeout"), 1.0)
    corrected = {**given, "fingerprint": "fp-fixed"}
    category, weight, severity, severity_weight = labeler.label(corrected)
    assert category == list(taxonomy.categories).index("database") and weight == 1.0
    assert severity == list(taxonomy.severities).index("critical") and severity_weight == 1.0


def test_a_tag_category_is_kept_beside_the_example_never_as_its_label(taxonomy):
    record = {"id": "t", "error_type": "KeyError", "message": "'x'", "tags": ["ssl"]}
    labeler = Labeler(taxonomy)
    category, weight, _, _ = labeler.label(record)
    assert category == list(taxonomy.categories).index("runtime_logic")
    assert weight == LABEL_WEIGHTS["rule"]
    assert labeler.judged(record) == (list(taxonomy.categories).index("security_tls"), category)
    row = to_examples(_table([record]), labeler, validation_fraction=0.0).to_pylist()[0]
    assert (row["category"], row["tag_category"]) == (category, labeler.judged(record)[0])


def test_unknown_labels_are_minus_one_with_zero_weight(taxonomy):
    assert Labeler(taxonomy).label({"id": "x", "message": "nothing to see"})[:2] == (-1, 0.0)


def test_feedback_records_become_corrections_newest_last(taxonomy):
    feedback = _table([
        {"id": "f1", "source": "feedback", "source_id": "err-1", "fingerprint": "g1",
         "message": "", "category": "network", "received_at": "2026-01-01T00:00:00Z"},
        {"id": "f2", "source": "feedback", "source_id": "err-1", "fingerprint": "g1",
         "message": "", "category": "database", "received_at": "2026-01-02T00:00:00Z"},
        {"id": "f3", "source": "feedback", "source_id": "err-2", "message": "", "score": 1},
    ])
    labeler = Labeler.from_feedback(taxonomy, feedback)
    fixed = {"category": "database"}
    assert labeler.corrections == {"g1": fixed, "err-1": fixed}
    record = {"id": "other", "fingerprint": "g1", "error_type": "TimeoutError", "message": "t"}
    assert labeler.label(record)[0] == list(taxonomy.categories).index("database")


def test_cap_keeps_solved_records_first_and_is_deterministic():
    rows = [{"id": f"r{i}", "solution": "fix" if i in (3, 7) else ""} for i in range(10)]
    table = _table(rows)
    capped = cap_group(table, 4)
    assert capped.num_rows == 4
    assert {"r3", "r7"} <= set(capped["id"].to_pylist())
    assert capped["id"].to_pylist() == cap_group(table, 4)["id"].to_pylist()
    assert cap_group(table, 20).num_rows == 10


def test_examples_schema_and_solution_text():
    table = _table([{"id": "s", "error_type": "ImportError", "solution": "  pip   install x "}])
    examples = to_examples(table, Labeler(Taxonomy.load()), validation_fraction=0.2)
    assert examples.num_rows == 1
    row = examples.to_pylist()[0]
    assert row["solution_text"] == "pip install x" and row["error_text"].startswith("ImportError")
    assert isinstance(examples, pa.Table)


def test_capped_ids_leave_out_exactly_what_cap_group_leaves_out():
    from erroracle.learners.data import capped_ids

    rows = [{"id": f"r{n}", "fingerprint": f"fp{n % 3}", "solution": "fix" if n % 4 else None}
            for n in range(40)]
    index = pa.Table.from_pylist(rows)
    dropped = set(capped_ids(index, cap=5, seed=7).to_pylist())
    expected = set()
    for group in ("fp0", "fp1", "fp2"):
        members = index.filter(pc.equal(index["fingerprint"], group))
        kept = set(cap_group(members, 5, seed=7)["id"].to_pylist())
        expected |= set(members["id"].to_pylist()) - kept
    assert dropped == expected and len(dropped) == 40 - 3 * 5
    assert capped_ids(index, cap=100, seed=7).to_pylist() == []
