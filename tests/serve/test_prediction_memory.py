"""Recent predictions: feedback finds the error while remembered, the group always."""

from __future__ import annotations

import pytest

from erroracle.platform.records import parse_record
from erroracle.serve.prediction_memory import PredictionMemory
from erroracle.serve.problems import ApiError


def test_remembered_then_forgotten_oldest_first_and_the_fingerprint_survives():
    memory = PredictionMemory(size=2)
    records = [parse_record({"error_type": "KeyError", "message": f"'k{n}'",
                             "fingerprint": f"fp{n}"}) for n in range(3)]
    ids = [memory.remember(record) for record in records]
    assert len(memory) == 2
    assert memory.error_of(ids[2])["message"] == "'k2'"
    assert memory.error_of(ids[0]) == {"fingerprint": "fp0"}  # forgotten: the id still says
    memory.clear()
    assert memory.error_of(ids[2]) == {"fingerprint": "fp2"}
    with pytest.raises(ApiError) as refused:
        memory.error_of("not-a-prediction")
    assert refused.value.status == 404 and refused.value.field == "prediction_id"
