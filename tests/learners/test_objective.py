"""The loss ignores missing labels and pulls errors towards their own solutions."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from erroracle.learners.model import ModelOutput
from erroracle.learners.objective import (
    LossWeights,
    contrastive_loss,
    masked_cross_entropy,
    total_loss,
)


def test_missing_labels_contribute_nothing():
    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, -1, 2, -1])
    weights = torch.tensor([1.0, 1.0, 1.0, 0.5])
    loss = masked_cross_entropy(logits, labels, weights)
    expected = F.cross_entropy(logits[[0, 2]], labels[[0, 2]])
    assert loss == pytest.approx(float(expected))
    other = logits.clone()
    other[[1, 3]] = torch.randn(2, 3) * 100  # rows without a label may say anything
    assert masked_cross_entropy(other, labels, weights) == pytest.approx(float(loss))


def test_zero_weight_is_missing_and_weights_scale_rows():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0])
    only_first = masked_cross_entropy(logits, labels, torch.tensor([1.0, 0.0]))
    assert only_first == pytest.approx(float(F.cross_entropy(logits[:1], labels[:1])))
    weighted = masked_cross_entropy(logits, labels, torch.tensor([1.0, 3.0]))
    per_row = F.cross_entropy(logits, labels, reduction="none")
    assert weighted == pytest.approx(float((per_row[0] + 3 * per_row[1]) / 4))


def test_no_labels_at_all_is_an_exact_zero_with_a_gradient():
    logits = torch.randn(3, 4, requires_grad=True)
    loss = masked_cross_entropy(logits, torch.tensor([-1, -1, -1]), torch.ones(3))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.all(logits.grad == 0)


def test_a_hard_negative_past_the_pairs_raises_the_loss_when_it_is_close():
    errors = F.normalize(torch.eye(3)[:2] + 0.1, dim=-1)
    near = F.normalize(errors[0] + 0.05, dim=-1)
    far = -errors[0]
    plain = contrastive_loss(errors, errors.clone(), 0.05)
    with_near = contrastive_loss(errors, torch.vstack([errors, near]), 0.05)
    with_far = contrastive_loss(errors, torch.vstack([errors, far]), 0.05)
    assert float(with_near) > float(plain) + 0.1
    assert abs(float(with_far) - float(plain)) < 1e-3
    assert float(contrastive_loss(errors[:1], torch.vstack([errors[:1], near[None]]), 0.05)) > 0


def test_contrastive_loss_prefers_matching_pairs():
    errors = F.normalize(torch.eye(3), dim=-1)
    matched = contrastive_loss(errors, errors.clone(), temperature=0.05)
    shuffled = contrastive_loss(errors, errors[[1, 2, 0]], temperature=0.05)
    assert float(matched) < 0.01 < float(shuffled)
    assert float(contrastive_loss(errors[:1], errors[:1], 0.05)) == 0.0


def test_total_loss_uses_only_rows_with_solutions():
    torch.manual_seed(1)
    embedding = F.normalize(torch.randn(5, 8), dim=-1)  # 3 errors, then 2 solutions
    output = ModelOutput(embedding[:3], torch.randn(3, 4), torch.randn(3, 2))
    batch = {
        "category": torch.tensor([1, -1, 3]),
        "category_weight": torch.tensor([1.0, 0.0, 0.5]),
        "severity": torch.tensor([-1, -1, -1]),
        "severity_weight": torch.zeros(3),
        "solution_rows": torch.tensor([0, 2]),
    }
    loss, parts = total_loss(output, embedding[3:], batch, LossWeights(1.0, 1.0, 2.0, 0.1))
    retrieval = contrastive_loss(embedding[[0, 2]], embedding[3:], 0.1)
    assert parts["severity_loss"] == 0.0
    assert parts["retrieval_loss"] == pytest.approx(float(retrieval))
    assert float(loss) == pytest.approx(parts["category_loss"] + 2 * parts["retrieval_loss"])
