"""The training objective: weighted cross-entropy per head where a label is known, plus an
in-batch-negatives contrastive loss that pulls an error towards its own solution."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

__all__ = ["LossWeights", "contrastive_loss", "masked_cross_entropy", "total_loss"]


@dataclass(frozen=True)
class LossWeights:
    """How much each part counts, and the temperature of the contrastive softmax."""

    category: float = 1.0
    severity: float = 0.5
    retrieval: float = 1.0
    temperature: float = 0.05


def masked_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted mean cross-entropy over the rows whose label is known (label >= 0).

    Rows with a missing label (-1) or weight 0 contribute nothing, not even to the denominator;
    a batch with no known label gives an exact zero that still carries a (zero) gradient.
    """
    known = (labels >= 0) & (weights > 0)
    if not bool(known.any()):
        return logits.sum() * 0.0
    per_row = F.cross_entropy(logits[known], labels[known], reduction="none")
    row_weights = weights[known].to(per_row.dtype)
    return (per_row * row_weights).sum() / row_weights.sum()


def contrastive_loss(
    error_embeddings: torch.Tensor, solution_embeddings: torch.Tensor, temperature: float
) -> torch.Tensor:
    """InfoNCE with in-batch negatives: row i's positive is solution i, the others are negatives
    (solutions past the last error's are hard negatives only).

    Both inputs are unit vectors, so the logits are cosine similarities over the temperature.
    """
    if error_embeddings.shape[0] == 0 or solution_embeddings.shape[0] < 2:
        return error_embeddings.sum() * 0.0
    logits = error_embeddings @ solution_embeddings.T / temperature
    targets = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, targets)


def total_loss(
    output, solutions: torch.Tensor, batch: dict[str, torch.Tensor], weights: LossWeights
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one batch (see ``learners.data.Collator``).

    Args:
        output: the model's output for the batch's errors.
        solutions: embeddings of the batch's distinct solutions; row i belongs to the error in
            row ``batch["solution_rows"][i]``.

    Returns the scalar to backpropagate and its parts, for logging.
    """
    category = masked_cross_entropy(
        output.category_logits, batch["category"], batch["category_weight"]
    )
    severity = masked_cross_entropy(
        output.severity_logits, batch["severity"], batch["severity_weight"]
    )
    retrieval = contrastive_loss(
        output.embedding[batch["solution_rows"]], solutions, weights.temperature
    )
    loss = (
        weights.category * category + weights.severity * severity + weights.retrieval * retrieval
    )
    parts = {
        "category_loss": float(category.detach()), "severity_loss": float(severity.detach()),
        "retrieval_loss": float(retrieval.detach()),
    }
    return loss, parts
