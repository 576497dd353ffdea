"""The write-ahead log's segments and the replay of orphans."""

from __future__ import annotations

import os
import threading
import time

from erroracle.platform import wal


def test_a_new_segment_is_never_claimed_as_an_orphan(tmp_path):
    """A replayer scanning while writers open segments must never take a live one."""
    stop, stolen = threading.Event(), []

    def replay_forever() -> None:
        while not stop.is_set():
            for orphan in wal.claim_orphans(tmp_path):
                stolen.append(orphan.path.name)
                orphan.release(tmp_path / "quarantine")

    replayer = threading.Thread(target=replay_forever)
    replayer.start()
    segments = []
    try:
        for number in range(400):
            segment = wal.Segment(tmp_path / f"w-{number:04d}{wal.SUFFIX}")
            segment.append(b"payload")
            segments.append(segment)
    finally:
        stop.set()
        replayer.join()
    assert stolen == []
    assert all(segment.path.exists() for segment in segments)
    for segment in segments:
        segment.remove()


def test_orphans_keep_their_entries_and_a_torn_tail_marks_damage(tmp_path):
    segment = wal.Segment(tmp_path / f"w{wal.SUFFIX}")
    segment.append(b"one")
    segment.append(b"two")
    segment.close()
    with open(segment.path, "ab") as handle:
        handle.write(b"\x05\x00")
    (orphan,) = list(wal.claim_orphans(tmp_path))
    assert orphan.payloads == [b"one", b"two"] and orphan.damaged
    orphan.release(tmp_path / "quarantine")
    assert (tmp_path / "quarantine" / segment.path.name).exists()


def test_a_writer_that_died_before_renaming_leaves_nothing_behind(tmp_path):
    leftover = tmp_path / f".dead{wal.SUFFIX}.new"
    leftover.write_bytes(b"")
    fresh = tmp_path / f".starting{wal.SUFFIX}.new"  # a writer between create and lock
    fresh.write_bytes(b"")
    old = time.time() - 120
    os.utime(leftover, (old, old))
    live = wal.Segment(tmp_path / f"live{wal.SUFFIX}")
    assert list(wal.claim_orphans(tmp_path)) == []
    assert not leftover.exists() and live.path.exists() and fresh.exists()
    live.remove()
