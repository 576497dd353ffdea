"""The lake's contract, run against both implementations, plus the Parquet store's durability."""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from erroracle.errors import ValidationError
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.store import InMemoryErrorStore


def _record(i: int, **extra) -> dict:
    return {
        "id": f"r{i}",
        "message": f"boom {i}",
        "error_type": "ValueError",
        "fingerprint": f"fp{i % 3}",
        **extra,
    }


@pytest.fixture(params=["memory", "parquet"])
def store(request, data_root):
    if request.param == "memory":
        yield InMemoryErrorStore()
    else:
        lake = ParquetErrorStore(str(data_root), background=False)
        yield lake
        lake.close()


def test_append_then_read(store):
    result = store.append([_record(i) for i in range(10)])
    assert result.accepted == 10 and result.duplicates == 0
    store.flush()
    table = store.read_table()
    assert sorted(table["id"].to_pylist()) == sorted(f"r{i}" for i in range(10))


def test_duplicate_ids_are_dropped_within_and_across_batches(store):
    store.append([_record(1), _record(2)])
    result = store.append([_record(2), _record(3), _record(3)])
    assert result.ids == ["r3"] and result.duplicates == 2
    store.flush()
    assert store.read_table().num_rows == 3


def test_a_bad_record_rejects_the_batch_and_stores_nothing(store):
    with pytest.raises(ValidationError) as err:
        store.append([_record(1), {"id": "r2", "source": "nowhere"}])
    assert err.value.field == "records[1].source"
    store.flush()
    assert store.read_table().num_rows == 0


def test_filters_by_source_and_time(store):
    now = datetime.now(timezone.utc)
    store.append(
        [
            _record(1, source="app", received_at=now - timedelta(days=3)),
            _record(2, source="reddit", received_at=now - timedelta(days=1)),
            _record(3, source="app", received_at=now),
        ]
    )
    store.flush()
    assert store.read_table(sources=["app"]).num_rows == 2
    assert store.read_table(since=now - timedelta(days=2)).num_rows == 2
    assert store.read_table(until=now - timedelta(days=2))["id"].to_pylist() == ["r1"]
    assert store.counts_by_source() == {"app": 2, "reddit": 1}


def test_groups_count_first_and_last_seen(store):
    now = datetime.now(timezone.utc)
    store.append([_record(i, received_at=now + timedelta(seconds=i)) for i in range(7)])
    store.flush()
    groups = {g["fingerprint"]: g for g in store.groups()}
    assert groups["fp0"]["count"] == 3  # r0, r3, r6
    assert groups["fp0"]["first_seen"] == now
    assert groups["fp0"]["last_seen"] == now + timedelta(seconds=6)
    assert store.groups(limit=1)[0]["fingerprint"] == "fp0"


def test_delete_by_id_and_by_fingerprint(store):
    store.append([_record(i) for i in range(9)])
    store.flush()
    assert store.delete(ids=["r1"]) == 1
    assert store.delete(fingerprint="fp0") == 3
    ids = set(store.read_table()["id"].to_pylist())
    assert ids == {"r2", "r4", "r5", "r7", "r8"}


def test_deleting_a_record_deletes_the_feedback_that_copies_it(store):
    from erroracle.platform.feedback import feedback_record

    store.append([_record(1), _record(2)])
    store.append([{**feedback_record(target="error", target_id=f"r{i}", error=_record(i),
                                     worked=False, note="still broken"), "id": f"fb{i}"}
                  for i in (1, 2)])
    store.flush()
    assert store.delete(ids=["r1"]) == 2
    assert sorted(store.read_table()["id"].to_pylist()) == ["fb2", "r2"]


# -- Parquet only --------------------------------------------------------------------------


def test_delete_needs_ids_or_a_fingerprint(data_root):
    with (
        ParquetErrorStore(str(data_root), background=False) as lake,
        pytest.raises(ValidationError, match="ids or a fingerprint"),
    ):
        lake.delete()


def test_delete_erases_the_rows_from_the_files(data_root):
    with ParquetErrorStore(str(data_root), background=False) as lake:
        lake.append([_record(i, message=f"secret {i}") for i in range(4)])
        lake.flush()
        lake.delete(ids=["r2"])
    on_disk = [pq.read_table(p) for p in Path(data_root, "events").rglob("*.parquet")]
    assert "r2" not in {i for t in on_disk for i in t["id"].to_pylist()}


def test_deleted_fingerprint_keeps_later_arrivals(data_root):
    with ParquetErrorStore(str(data_root), background=False) as lake:
        lake.append([_record(0)])
        lake.flush()
        lake.delete(fingerprint="fp0")
        lake.append([_record(3)])  # same group, arrived after the deletion
        lake.flush()
        assert lake.read_table()["id"].to_pylist() == ["r3"]


def test_partitioned_by_source_and_date(data_root):
    with ParquetErrorStore(str(data_root), background=False) as lake:
        lake.append([_record(1, source="github", received_at="2024-03-05T10:00:00Z")])
    files = list(Path(data_root, "events").rglob("*.parquet"))
    assert [f.parent.relative_to(data_root).as_posix() for f in files] == [
        "events/source=github/date=2024-03-05"
    ]


def test_reopen_keeps_ids_idempotent(data_root):
    with ParquetErrorStore(str(data_root), background=False) as lake:
        lake.append([_record(1)])
    with ParquetErrorStore(str(data_root), background=False) as lake:
        assert lake.append([_record(1)]).duplicates == 1
        assert lake.read_table().num_rows == 1


def test_background_flusher_makes_records_visible(data_root):
    with ParquetErrorStore(str(data_root), flush_seconds=0.2) as writer:
        writer.append([_record(1)])
        reader = ParquetErrorStore(str(data_root), background=False)
        deadline = datetime.now() + timedelta(seconds=10)
        while reader.read_table().num_rows == 0 and datetime.now() < deadline:
            time.sleep(0.05)
        assert reader.read_table().num_rows == 1
        reader.close()


def test_corrupt_parquet_is_moved_aside_and_the_rest_still_works(data_root):
    with ParquetErrorStore(str(data_root), background=False) as lake:
        lake.append([_record(1)])
        lake.append([_record(2, source="reddit")])
    victim = next(Path(data_root, "events", "source=reddit").rglob("*.parquet"))
    victim.write_bytes(victim.read_bytes()[:40])
    with ParquetErrorStore(str(data_root), background=False) as lake:
        assert lake.quarantined == [str(victim)]
        assert lake.quarantined_files() == 1
        assert lake.read_table()["id"].to_pylist() == ["r1"]
        assert lake.append([_record(3)]).accepted == 1


def _orphan_log(data_root: Path, batches: list[list[dict]]) -> Path:
    """Leave a write-ahead log as a killed writer would: appended, never flushed."""
    with ParquetErrorStore(str(data_root), background=False, flush_records=10**6) as lake:
        for batch in batches:
            lake.append(batch)
        segment = lake._segment.path
        saved = segment.read_bytes()
    segment.write_bytes(saved)
    return segment


def test_leftover_log_is_replayed_exactly_once(data_root):
    _orphan_log(data_root, [[_record(1), _record(2)], [_record(3)]])
    with ParquetErrorStore(str(data_root), background=False) as lake:
        assert sorted(lake.read_table()["id"].to_pylist()) == ["r1", "r2", "r3"]
        assert lake.replayed_records == 0  # already in Parquet: nothing new, nothing doubled
    assert not list(Path(data_root, "wal").glob("*.wal"))


def test_torn_log_keeps_the_good_entries_and_quarantines_the_file(data_root, tmp_path):
    other = tmp_path / "other"
    segment = _orphan_log(other, [[_record(1)], [_record(2)]])
    target = Path(data_root, "wal")
    target.mkdir(parents=True)
    torn = target / segment.name
    torn.write_bytes(segment.read_bytes()[:-5])
    with ParquetErrorStore(str(data_root), background=False) as lake:
        assert lake.read_table()["id"].to_pylist() == ["r1"]
        assert lake.quarantined == [str(torn)]
    assert Path(data_root, "quarantine", segment.name).exists()


def _append_many(data_root: str, worker: int, batches: int) -> None:
    with ParquetErrorStore(data_root, flush_records=50, flush_seconds=0.05) as lake:
        for b in range(batches):
            lake.append([_record(worker * 100_000 + b * 10 + i) for i in range(10)])


def test_concurrent_processes_never_corrupt_each_other(data_root):
    ParquetErrorStore(str(data_root), background=False).close()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(data_root), w, 40)) for w in range(3)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(60)
        assert proc.exitcode == 0
    with ParquetErrorStore(str(data_root), background=False) as lake:
        ids = lake.read_table(columns=["id"])["id"].to_pylist()
        assert lake.quarantined == []
    assert len(ids) == len(set(ids)) == 3 * 40 * 10
    assert not any(name.startswith(".") for _, _, names in os.walk(data_root) for name in names)
