"""The learning-rate schedule has exactly the intended shape; no weight decay on biases, norms."""

from __future__ import annotations

import math

import pytest
import torch

from erroracle.learners.schedule import (
    EXPONENTIAL_FLOOR,
    build_optimizer,
    build_scheduler,
    lr_factor,
)


def _lrs(decay: str, warmup: int, total: int, peak: float = 1e-3) -> list[float]:
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model, lr=peak, weight_decay=0.0)
    scheduler = build_scheduler(optimizer, warmup_steps=warmup, total_steps=total, decay=decay)
    seen = []
    for _ in range(total):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_warmup_is_linear_and_reaches_the_peak():
    lrs = _lrs("cosine", warmup=4, total=20)
    assert lrs[:5] == pytest.approx([0.2e-3, 0.4e-3, 0.6e-3, 0.8e-3, 1e-3])
    assert max(lrs) == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:4], lrs[1:5], strict=True))


def test_cosine_decays_to_zero_along_a_half_cosine():
    lrs = _lrs("cosine", warmup=4, total=20)
    for step in range(4, 20):
        expected = 1e-3 * 0.5 * (1 + math.cos(math.pi * (step - 4) / 16))
        assert lrs[step] == pytest.approx(expected)
    assert lr_factor(20, warmup_steps=4, total_steps=20, decay="cosine") == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False))


def test_exponential_decays_geometrically_to_the_floor():
    lrs = _lrs("exponential", warmup=0, total=10)
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert ratios == pytest.approx([EXPONENTIAL_FLOOR ** (1 / 10)] * 9)
    end = lr_factor(10, warmup_steps=0, total_steps=10, decay="exponential")
    assert end == pytest.approx(EXPONENTIAL_FLOOR)


def test_resuming_continues_the_same_curve():
    full = _lrs("cosine", warmup=3, total=12)
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.0)
    scheduler = build_scheduler(
        optimizer, warmup_steps=3, total_steps=12, decay="cosine", last_step=6 - 1
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(full[6])
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(full[7])


def test_unknown_decay_is_refused():
    with pytest.raises(ValueError, match="decay"):
        lr_factor(5, warmup_steps=0, total_steps=10, decay="linear")  # type: ignore[arg-type]


def test_no_weight_decay_on_biases_and_norms():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    model[1].weight.requires_grad = True
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.1)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 4])]
    assert len(plain["params"]) == 3  # linear bias, norm weight, norm bias


def test_frozen_parameters_are_left_out():
    model = torch.nn.Linear(4, 4)
    model.weight.requires_grad = False
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.1)
    assert sum(len(group["params"]) for group in optimizer.param_groups) == 1
