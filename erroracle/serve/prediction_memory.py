"""What the ingress remembers of recent predictions, so feedback on one finds its error.

A prediction id carries the fingerprint, so feedback still finds the group on another replica or
after this one forgot it; the memory adds the error's type and message while it lasts.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any

from erroracle.serve.problems import ApiError

__all__ = ["PredictionMemory"]


class PredictionMemory:
    """The last ``size`` predictions by id, oldest forgotten first."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def remember(self, record: Any) -> str:
        """A new prediction id for ``record`` (a prepared ErrorRecord), remembered."""
        prediction_id = f"p-{record.fingerprint}-{secrets.token_hex(6)}"
        self._recent[prediction_id] = {"fingerprint": record.fingerprint,
                                       "error_type": record.error_type, "message": record.message}
        while len(self._recent) > self.size:
            self._recent.popitem(last=False)
        return prediction_id

    def error_of(self, prediction_id: str) -> dict[str, Any]:
        """The remembered error, or just its fingerprint when forgotten.

        Raises:
            ApiError: 404 for an id this service never gave out.
        """
        remembered = self._recent.get(prediction_id)
        if remembered:
            return remembered
        parts = prediction_id.split("-")
        if len(parts) != 3 or parts[0] != "p" or not parts[1]:
            raise ApiError(404, "not_found", "unknown prediction_id", field="prediction_id")
        return {"fingerprint": parts[1]}

    def clear(self) -> None:
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._recent)
