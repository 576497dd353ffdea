from datetime import datetime, timezone

import pyarrow as pa
import pytest

from erroracle.errors import ValidationError
from erroracle.platform.records import (
    ARROW_SCHEMA,
    FIELD_LIMITS,
    ErrorRecord,
    parse_record,
    records_to_table,
    truncate_text,
)


def test_arrow_schema_is_derived_from_every_field():
    assert ARROW_SCHEMA.names == list(ErrorRecord.model_fields)
    assert ARROW_SCHEMA.field("received_at").type == pa.timestamp("us", tz="UTC")
    frames = ARROW_SCHEMA.field("frames").type
    assert pa.types.is_list(frames) and frames.value_type.names == [
        "file",
        "function",
        "line",
        "module",
        "in_app",
    ]


def test_round_trip_through_arrow():
    record = parse_record(
        {"message": "boom", "frames": [{"file": "a.py", "line": 3}], "tags": ["python"]}
    )
    table = records_to_table([record.to_row()])
    assert table.schema == ARROW_SCHEMA
    assert ErrorRecord.model_validate(table.to_pylist()[0]) == record


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"source": "myspace"}, "source"),
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"score": "high"}, "score"),
        ({"received_at": "yesterday"}, "received_at"),
        ({"frames": [{"line": "ten"}]}, "frames.0.line"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_validation_names_the_field(data, field):
    with pytest.raises(ValidationError) as err:
        parse_record(data)
    assert err.value.field == field


def test_non_mapping_is_rejected():
    with pytest.raises(ValidationError, match="must be an object"):
        parse_record(["message"])


def test_naive_timestamps_are_utc():
    record = parse_record({"occurred_at": "2024-05-01T10:00:00"})
    assert record.occurred_at == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


def test_truncation_keeps_head_and_tail_and_is_recorded():
    limit = FIELD_LIMITS["message"]
    message = "HEAD" + "x" * (limit * 2) + "TAIL"
    record = parse_record({"message": message})
    assert len(record.message) <= limit
    assert record.message.startswith("HEAD") and record.message.endswith("TAIL")
    assert "truncated" in record.message
    assert record.truncated == ["message"]


def test_truncate_text_leaves_short_text_alone():
    assert truncate_text("short", 10) == "short"
    assert len(truncate_text("y" * 500, 100)) == 100


def test_frames_are_capped_keeping_both_ends():
    frames = [{"function": f"f{i}"} for i in range(500)]
    record = parse_record({"frames": frames})
    assert len(record.frames) == 200
    assert record.frames[0].function == "f0" and record.frames[-1].function == "f499"
