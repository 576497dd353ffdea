"""AdamW with decoupled weight decay (not on biases and norms), and the learning-rate schedule:
linear warmup from 0, then cosine or exponential decay over the remaining steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

__all__ = ["EXPONENTIAL_FLOOR", "build_optimizer", "build_scheduler", "lr_factor"]

# Exponential decay ends at this fraction of the peak learning rate.
EXPONENTIAL_FLOOR = 0.01


def lr_factor(
    step: int, *, warmup_steps: int, total_steps: int, decay: Literal["cosine", "exponential"]
) -> float:
    """The multiplier of the peak learning rate before optimizer step ``step`` (0-based).

    Warmup rises linearly, reaching 1.0 at ``step == warmup_steps``; cosine then falls to 0 at
    ``total_steps``, exponential to :data:`EXPONENTIAL_FLOOR`.
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    if decay == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if decay == "exponential":
        return EXPONENTIAL_FLOOR**progress
    raise ValueError(f"decay: expected 'cosine' or 'exponential', got {decay!r}")


def build_optimizer(model: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; biases and normalisation weights get no decay."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_norm = parameter.ndim < 2 or "norm" in name.lower()
        (no_decay if is_norm else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


def build_scheduler(
    optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int,
    decay: Literal["cosine", "exponential"], last_step: int = -1,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` following :func:`lr_factor`; ``last_step`` resumes mid-run."""
    factor: Callable[[int], float] = lambda step: lr_factor(  # noqa: E731
        step, warmup_steps=warmup_steps, total_steps=total_steps, decay=decay
    )
    if last_step >= 0:
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=last_step)
