"""The read door: reads what writers stored, honours their deletions, and writes nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from erroracle.platform import wal
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.lake_reader import LakeReader


def _record(i: int, **extra) -> dict:
    return {"id": f"r{i}", "message": f"boom {i}", "error_type": "ValueError",
            "fingerprint": f"fp{i % 3}", **extra}


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.stat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


def _lake_with_a_dead_writer(root: Path) -> None:
    with ParquetErrorStore(str(root), background=False) as lake:
        lake.append([_record(i) for i in range(6)])
        lake.flush()
        lake.delete(ids=["r0"])
    # a writer killed between writing Parquet and removing its log: the segment is left behind
    with ParquetErrorStore(str(root), background=False, flush_records=10**6) as lake:
        lake.append([_record(99)])
        segment, saved = lake._segment.path, lake._segment.path.read_bytes()
    segment.write_bytes(saved)


def test_readers_on_a_copy_of_a_lake_write_nothing(tmp_path):
    original = tmp_path / "lake"
    _lake_with_a_dead_writer(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    before = _tree(copy)
    for _ in range(3):
        reader = LakeReader(str(copy))
        assert sorted(reader.read_table()["id"].to_pylist()) == ["r1", "r2", "r3", "r4", "r5",
                                                                 "r99"]
        assert [row["id"] for row in reader.find(["r0", "r2"])] == ["r2"]
        assert reader.counts_by_source() == {"app": 6}
        assert reader.issue_groups()
        assert reader.log_segments() == 1  # the dead writer's log: left for a writer to replay
        reader.close()
    assert _tree(copy) == before
    assert len(list((copy / "wal").glob(f"*{wal.SUFFIX}"))) == 1


def test_a_reader_of_a_lake_that_does_not_exist_yet_reads_nothing_and_creates_nothing(tmp_path):
    reader = LakeReader(str(tmp_path / "absent"))
    assert reader.read_table().num_rows == 0 and reader.counts_by_source() == {}
    assert not (tmp_path / "absent").exists()


def test_each_deletion_is_read_once_and_a_new_one_is_seen_at_the_next_read(tmp_path):
    with ParquetErrorStore(str(tmp_path), background=False) as lake:
        lake.append([_record(i) for i in range(6)])
        lake.flush()
        lake.delete(ids=["r0"])
        reader = LakeReader(str(tmp_path))
        for _ in range(3):
            assert "r0" not in reader.read_table(columns=["id"])["id"].to_pylist()
        assert reader.reads["tombstone_files"] == 1
        assert not reader.deleted_since_last_look()
        lake.delete(fingerprint="fp1")
        assert reader.deleted_since_last_look() and not reader.deleted_since_last_look()
        assert sorted(reader.read_table(columns=["id"])["id"].to_pylist()) == ["r2", "r3", "r5"]
        assert reader.reads["tombstone_files"] == 2
