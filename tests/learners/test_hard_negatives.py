"""BM25-mined negatives: another issue's best-matching fix, never the error's own."""

from __future__ import annotations

from erroracle.learners.examples import Labeler, to_examples
from erroracle.learners.hard_negatives import NegativeMiner
from erroracle.platform.record_text import in_validation
from erroracle.platform.records import parse_record, records_to_table
from erroracle.platform.taxonomy import Taxonomy

FIXES = [
    ("pip install psycopg2-binary, the module psycopg2 is missing", "g-psycopg"),
    ("psycopg2 OperationalError: start the postgres server first", "g-server"),
    ("chmod 600 the ssh key", "g-ssh"),
]


def _miner() -> NegativeMiner:
    return NegativeMiner([text for text, _ in FIXES], [group for _, group in FIXES])


def test_the_closest_fix_of_another_issue_is_the_negative():
    error = "ModuleNotFoundError: No module named 'psycopg2'"
    assert _miner().negative(error, "g-psycopg") == FIXES[1][0]
    assert _miner().negative(error, "g-other") == FIXES[0][0]
    assert _miner().negative(error, "g-other", own_solution=FIXES[0][0]) == FIXES[1][0]


def test_an_error_that_shares_no_word_with_any_fix_gets_none():
    assert _miner().negative("Segmentation fault", "g-x") == ""
    assert NegativeMiner([], []).negative("anything", "g") == ""


def test_training_examples_get_a_mined_negative_and_held_out_ones_never():
    groups = [f"fp{i}" for i in range(40)]
    train_group = next(g for g in groups if not in_validation(g, 0.5))
    held_group = next(g for g in groups if in_validation(g, 0.5))
    records = [
        {"id": "t", "fingerprint": train_group, "error_type": "ModuleNotFoundError",
         "message": "No module named 'psycopg2'", "solution": "install the wheel"},
        {"id": "v", "fingerprint": held_group, "error_type": "ModuleNotFoundError",
         "message": "No module named 'psycopg2'", "solution": "install the wheel"},
    ]
    table = records_to_table([parse_record(r).to_row() for r in records])
    examples = to_examples(table, Labeler(Taxonomy.load()), validation_fraction=0.5,
                           miner=_miner(), negatives={})
    negatives = dict(zip(examples["id"].to_pylist(), examples["negative_text"].to_pylist(),
                         strict=True))
    assert negatives["t"] == FIXES[0][0] and negatives["v"] == ""
    given = to_examples(table, Labeler(Taxonomy.load()), validation_fraction=0.5,
                        miner=_miner(), negatives={train_group: "reboot"})
    assert given["negative_text"].to_pylist()[0] == "reboot"  # what users said wins
