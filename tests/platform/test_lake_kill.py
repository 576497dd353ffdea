"""Kill -9 at random moments: every acknowledged id survives exactly once; readers never see a
partial file."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from erroracle.platform.lake import ParquetErrorStore

WRITER = r"""
import random, sys
from erroracle.platform.lake import ParquetErrorStore
root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
lake = ParquetErrorStore(root, flush_records=rng.choice([7, 50, 300]), flush_seconds=0.05)
print("ready", flush=True)
n = 0
while True:
    size = rng.choice([1, 5, 40])
    ids = [f"s{seed}-{n + i}" for i in range(size)]
    n += size
    lake.append([{"id": i, "message": "x" * rng.randint(1, 3000), "fingerprint": "f"} for i in ids])
    print(" ".join(ids), flush=True)
"""


def _read_acknowledged(proc: subprocess.Popen, seconds: float) -> list[str]:
    acked: list[str] = []
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lines and lines[0].strip() == "ready", "writer did not start"
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(5)
    for line in lines[1:]:
        if line.endswith("\n"):  # a line cut by the kill was never fully acknowledged
            acked.extend(line.split())
    return acked


def _keep_reading(root: Path, stop: threading.Event, failures: list[str]) -> None:
    lake = ParquetErrorStore(str(root), background=False)
    while not stop.is_set():
        try:
            lake.read_table(columns=["id"])
        except Exception as exc:  # noqa: BLE001 - any read failure is the bug under test
            failures.append(repr(exc))
    lake.close()


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_doubles_nothing(data_root):
    rng = random.Random(1234)
    ParquetErrorStore(str(data_root), background=False).close()
    acknowledged: list[str] = []
    stop, failures = threading.Event(), []
    reader = threading.Thread(target=_keep_reading, args=(data_root, stop, failures))
    reader.start()
    try:
        for round_number in range(5):
            proc = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(data_root), str(round_number)],
                stdout=subprocess.PIPE,
                text=True,
            )
            acknowledged += _read_acknowledged(proc, rng.uniform(0.3, 1.5))
    finally:
        stop.set()
        reader.join()
    assert len(acknowledged) > 100
    with ParquetErrorStore(str(data_root), background=False) as lake:
        ids = lake.read_table(columns=["id"])["id"].to_pylist()
    assert failures == []
    assert len(ids) == len(set(ids)), "an id is stored twice"
    missing = set(acknowledged) - set(ids)
    assert not missing, f"{len(missing)} acknowledged ids lost"
