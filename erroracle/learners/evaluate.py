"""Held-out evaluation and the promotion rule.

Headline metrics: category macro-F1 and accuracy, severity accuracy, and fix retrieval recall@5
and MRR@10, where each validation error is searched against the pool of all distinct validation
solutions. Candidate and champion are always measured on the same examples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from erroracle.learners.model import ErrorModel

__all__ = [
    "HEADLINE_METRICS",
    "RETRIEVAL_METRICS",
    "Decision",
    "classification_metrics",
    "decide_promotion",
    "evaluate_model",
    "retrieval_metrics",
]

HEADLINE_METRICS = (
    "category_macro_f1", "category_accuracy", "severity_accuracy", "recall_at_5", "mrr_at_10",
)
# What the plain encoder is measured on: it has no trained heads, only its embedding.
RETRIEVAL_METRICS = ("recall_at_5", "mrr_at_10")
# How many held-out examples each headline metric is measured on (a key of the metrics).
_SUPPORT = {
    "category_macro_f1": "category_examples", "category_accuracy": "category_examples",
    "severity_accuracy": "severity_examples", "recall_at_5": "retrieval_examples",
    "mrr_at_10": "retrieval_examples",
}


def classification_metrics(predicted: Sequence[int], gold: Sequence[int],
                           over_gold_classes: bool = False) -> dict[str, float]:
    """Accuracy and macro-F1 over the classes that occur in either the gold or the predictions
    (``over_gold_classes``: in the gold only, so that "no answer", -1, is a miss, not a class)."""
    predicted_arr, gold_arr = np.asarray(predicted), np.asarray(gold)
    if gold_arr.size == 0:
        return {}
    f1s = []
    classes = np.unique(gold_arr) if over_gold_classes else np.union1d(predicted_arr, gold_arr)
    for label in classes:
        true_pos = np.sum((predicted_arr == label) & (gold_arr == label))
        denominator = np.sum(predicted_arr == label) + np.sum(gold_arr == label)
        f1s.append(2 * true_pos / denominator if denominator else 0.0)
    return {
        "accuracy": float(np.mean(predicted_arr == gold_arr)),
        "macro_f1": float(np.mean(f1s)),
    }


def retrieval_metrics(
    error_embeddings: torch.Tensor, solution_embeddings: torch.Tensor, targets: Sequence[int]
) -> dict[str, float]:
    """recall@5 and MRR@10 of each error's own solution (index ``targets[i]``) in the pool."""
    if not len(targets):
        return {}
    scores = error_embeddings @ solution_embeddings.T
    target_scores = scores[torch.arange(len(targets)), torch.tensor(targets)]
    ranks = (scores > target_scores.unsqueeze(1)).sum(1)  # 0 = ranked first
    reciprocal = torch.where(ranks < 10, 1.0 / (ranks + 1).float(), torch.zeros(len(targets)))
    return {
        "recall_at_5": float((ranks < 5).float().mean()),
        "mrr_at_10": float(reciprocal.mean()),
    }


def evaluate_model(model: ErrorModel, examples: pa.Table, batch_size: int = 64,
                   index_max_length: int | None = None) -> dict[str, float]:
    """All headline metrics of ``model`` on validation examples (``learners.examples`` schema).

    Solutions are encoded at ``index_max_length`` tokens, as serving indexes them (None: the
    model's own length). Where a source's tags give a category (``tag_category``, never a
    training target), the model and the rules alone are both scored against it: the
    ``tagged_*`` metrics, the split the README's "learns" rests on.
    A metric without data (no labelled category, no solved error) is left out rather than
    reported as zero.
    """
    rows = examples.select(
        ["error_text", "solution_text", "category", "severity", "tag_category", "rule_category"]
    ).to_pylist()
    metrics: dict[str, float] = {"examples": float(len(rows))}
    if not rows:
        return metrics
    output = model.encode([row["error_text"] for row in rows], batch_size)
    heads = (("category", output.category_logits), ("severity", output.severity_logits))
    for head, logits in heads:
        known = [i for i, row in enumerate(rows) if row[head] >= 0]
        scores = classification_metrics(
            logits[known].argmax(-1).tolist(), [rows[i][head] for i in known]
        )
        metrics.update({f"{head}_{name}": value for name, value in scores.items()})
        metrics[f"{head}_examples"] = float(len(known))
    metrics.update(_tagged_metrics(rows, output.category_logits.argmax(-1).tolist()))
    pool: dict[str, int] = {}
    paired = [i for i, row in enumerate(rows) if row["solution_text"]]
    targets = [pool.setdefault(rows[i]["solution_text"], len(pool)) for i in paired]
    if paired:
        solutions = model.encode(list(pool), batch_size, index_max_length).embedding
        metrics.update(retrieval_metrics(output.embedding[paired], solutions, targets))
        metrics["retrieval_pool"] = float(len(pool))
        metrics["retrieval_examples"] = float(len(paired))
    metrics.pop("severity_macro_f1", None)
    return metrics


def _tagged_metrics(rows: Sequence[Mapping[str, int]], predicted: Sequence[int]
                    ) -> dict[str, float]:
    """Model and rules against the categories people gave (tags, labels, flair)."""
    tagged = [i for i, row in enumerate(rows) if row["tag_category"] >= 0]
    if not tagged:
        return {}
    gold = [rows[i]["tag_category"] for i in tagged]
    metrics = {"tagged_examples": float(len(tagged))}
    for who, guesses in (("category", [predicted[i] for i in tagged]),
                         ("rules", [rows[i]["rule_category"] for i in tagged])):
        scores = classification_metrics(guesses, gold, over_gold_classes=True)
        metrics.update({f"tagged_{who}_{name}": value for name, value in scores.items()})
    return metrics


@dataclass(frozen=True)
class Decision:
    """Whether a candidate replaces the champion, and why, in words."""

    promote: bool
    reason: str


def _allowed_drop(metric: str, champion_value: float, candidate: Mapping[str, float],
                  tolerance: float) -> float:
    """``tolerance``, or the metric's standard error when that is larger: a drop smaller than
    sampling noise on ``n`` held-out examples is not a regression. Every headline metric is a mean
    of per-example values in [0, 1] (macro-F1 approximately), whose variance is at most
    μ(1 − μ) (Bhatia–Davis), so sqrt(μ(1 − μ) / n) bounds the standard error."""
    examples = candidate.get(_SUPPORT[metric], 0.0)
    if examples <= 0:
        return tolerance
    mean = min(1.0, max(0.0, champion_value))
    return max(tolerance, math.sqrt(mean * (1.0 - mean) / examples))


def decide_promotion(
    candidate: Mapping[str, float], champion: Mapping[str, float] | None, tolerance: float,
    plain: Mapping[str, float] | None = None,
) -> Decision:
    """Promote when no headline metric falls below the champion's by more than ``tolerance``
    (or by more than its standard error on the held-out examples, when that is larger) and the
    candidate is better on average over the metrics both have.

    ``plain`` is the untrained encoder's retrieval on the same examples: a candidate that finds
    fixes worse than it (by the same allowance) is never promoted, whatever the champion did, so
    a chain of small accepted drops cannot end below the encoder the product ships."""
    below_plain = [
        f"{m} {candidate[m]:.4f} < plain encoder's {plain[m]:.4f}"
        for m in RETRIEVAL_METRICS
        if plain and m in plain and m in candidate
        and candidate[m] < plain[m] - _allowed_drop(m, plain[m], candidate, tolerance)
    ]
    if below_plain:
        return Decision(False, "worse than the plain encoder: " + "; ".join(below_plain))
    if champion is None:
        return Decision(True, "no champion yet")
    shared = [m for m in HEADLINE_METRICS if m in candidate and m in champion]
    if not shared:
        return Decision(False, "no headline metric could be measured on the validation data")
    allowed = {m: _allowed_drop(m, champion[m], candidate, tolerance) for m in shared}
    regressions = [
        f"{m} {candidate[m]:.4f} < {champion[m]:.4f} - {allowed[m]:.4f}"
        for m in shared
        if candidate[m] < champion[m] - allowed[m]
    ]
    if regressions:
        return Decision(False, "regressed: " + "; ".join(regressions))
    gain = float(np.mean([candidate[m] - champion[m] for m in shared]))
    change = f"mean change {gain:+.4f} over {', '.join(shared)}"
    if gain <= 0:
        return Decision(False, f"not better: {change}")
    return Decision(True, f"better: {change}, no regression")
