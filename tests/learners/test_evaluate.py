"""Metrics computed by hand on small cases, and the promotion rule."""

from __future__ import annotations

import pytest
import torch

from erroracle.learners.evaluate import (
    classification_metrics,
    decide_promotion,
    evaluate_model,
    retrieval_metrics,
)
from erroracle.learners.examples import EXAMPLE_SCHEMA, Labeler, to_examples
from erroracle.learners.model import LabelSpace, new_model
from erroracle.platform.records import parse_record, records_to_table
from erroracle.platform.taxonomy import Taxonomy


def test_macro_f1_and_accuracy_by_hand():
    scores = classification_metrics([0, 0, 1, 2], [0, 1, 1, 2])
    # class 0: p=1/2 r=1 f1=2/3; class 1: p=1 r=1/2 f1=2/3; class 2: f1=1
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert classification_metrics([], []) == {}


def test_retrieval_ranks_by_hand():
    errors = torch.eye(3)
    pool = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0.9, 0.1]])
    scores = retrieval_metrics(errors, pool, targets=[0, 2, 1])
    # error 0 → rank 0; error 1 → its target (row 2, 0.9) is below row 1 → rank 1;
    # error 2 → target row 1 scores 0 < row 2 (0.1) → rank 1
    assert scores["recall_at_5"] == 1.0
    assert scores["mrr_at_10"] == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_mrr_counts_only_the_top_ten():
    errors = torch.tensor([[1.0, 0.0]])
    pool = torch.cat([torch.tensor([[1.0, 0.0]]).repeat(11, 1), torch.tensor([[0.0, 1.0]])])
    scores = retrieval_metrics(errors, pool, targets=[11])
    assert scores == {"recall_at_5": 0.0, "mrr_at_10": 0.0}


BASE = {"category_macro_f1": 0.6, "category_accuracy": 0.7, "severity_accuracy": 0.6,
        "recall_at_5": 0.8, "mrr_at_10": 0.6}


def test_promotion_needs_a_gain_and_no_regression_beyond_tolerance():
    assert decide_promotion(BASE, None, 0.01).promote
    better = {**BASE, "category_macro_f1": 0.65}
    assert decide_promotion(better, BASE, 0.01).promote
    small_dip = {**better, "recall_at_5": 0.795}
    assert decide_promotion(small_dip, BASE, 0.01).promote
    big_dip = {**better, "recall_at_5": 0.75}
    decision = decide_promotion(big_dip, BASE, 0.01)
    assert not decision.promote and "recall_at_5" in decision.reason
    same = decide_promotion(dict(BASE), BASE, 0.01)
    assert not same.promote and same.reason.startswith("not better")


def test_a_drop_within_sampling_noise_is_not_a_regression():
    # the end-to-end lake's round: 74 held-out examples, severity down by 2 of them, the rest up
    champion = {"category_macro_f1": 0.4799, "category_accuracy": 0.5676,
                "severity_accuracy": 0.5811, "recall_at_5": 0.9324, "mrr_at_10": 0.7507}
    candidate = {"category_macro_f1": 0.5233, "category_accuracy": 0.5811,
                 "severity_accuracy": 0.5541, "recall_at_5": 0.9865, "mrr_at_10": 0.8625}
    counts = {"category_examples": 74.0, "severity_examples": 74.0, "retrieval_examples": 74.0}
    assert not decide_promotion(candidate, champion, 0.01).promote  # no counts: tolerance only
    assert decide_promotion({**candidate, **counts}, champion, 0.01).promote
    # on 2,000 examples the same drop is far beyond noise (its standard error is about 0.011)
    many = {name: 2000.0 for name in counts}
    decision = decide_promotion({**candidate, **many}, champion, 0.01)
    assert not decision.promote and "severity_accuracy 0.5541 < 0.5811 - 0.0110" in decision.reason


def test_a_candidate_that_retrieves_worse_than_the_plain_encoder_is_refused():
    """Better than the champion on every metric, but the champion had already slipped: the
    plain encoder is the floor for retrieval, with the same noise allowance."""
    champion = {**BASE, "recall_at_5": 0.70, "mrr_at_10": 0.50}
    candidate = {**BASE, "recall_at_5": 0.75, "mrr_at_10": 0.55, "category_macro_f1": 0.7}
    plain = {"recall_at_5": 0.80, "mrr_at_10": 0.60}
    assert decide_promotion(candidate, champion, 0.01).promote
    decision = decide_promotion(candidate, champion, 0.01, plain)
    assert not decision.promote
    assert decision.reason.startswith("worse than the plain encoder: recall_at_5 0.7500 < ")
    assert decide_promotion(candidate, champion, 0.01,
                            {"recall_at_5": 0.755, "mrr_at_10": 0.55}).promote
    assert not decide_promotion(candidate, None, 0.01, plain).promote


def test_metrics_missing_on_one_side_are_not_compared():
    candidate = {"category_macro_f1": 0.7}
    assert decide_promotion(candidate, {"category_macro_f1": 0.6, "recall_at_5": 0.9}, 0).promote
    assert not decide_promotion({}, BASE, 0.01).promote


def test_an_empty_validation_split_measures_nothing_rather_than_failing():
    assert evaluate_model(None, EXAMPLE_SCHEMA.empty_table()) == {"examples": 0.0}


def test_categories_people_gave_score_the_model_and_the_rules_alone():
    taxonomy = Taxonomy.load()
    records = [
        # the rules say network, the tag says security_tls: the rules miss
        {"id": "a", "error_type": "ConnectionError", "message": "refused", "tags": ["ssl"]},
        # the rules agree with the tag
        {"id": "b", "error_type": "IntegrityError", "message": "duplicate key",
         "tags": ["postgresql"]},
        # the rules have nothing to say: a miss, not a class of its own
        {"id": "c", "message": "it hangs forever", "tags": ["timeout"]},
        # no tag that maps: not in the tagged split
        {"id": "d", "error_type": "KeyError", "message": "'x'", "tags": ["python"]},
    ]
    examples = to_examples(records_to_table([parse_record(r).to_row() for r in records]),
                           Labeler(taxonomy), validation_fraction=1.0)
    assert examples["tag_category"].to_pylist()[3] == -1
    model = new_model(None, LabelSpace(tuple(taxonomy.categories), tuple(taxonomy.severities)),
                      dropout=0.0, max_length=32)
    metrics = evaluate_model(model, examples)
    assert metrics["tagged_examples"] == 3
    assert metrics["tagged_rules_accuracy"] == pytest.approx(1 / 3)
    # per gold class: security_tls 0, database 1, timeout 0
    assert metrics["tagged_rules_macro_f1"] == pytest.approx(1 / 3)
    assert 0.0 <= metrics["tagged_category_macro_f1"] <= 1.0
    assert metrics["category_examples"] == 3  # "c" has no rule: no training label either
