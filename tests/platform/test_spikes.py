"""Spikes against a seasonal baseline: a burst far above the usual rate for that time is one,
the daily rhythm, an hourly cron burst and slow growth are not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.spikes import SpikeDetector, minute_counts

DAY = 1440
START = datetime(2026, 1, 5, tzinfo=timezone.utc)


def _quiet_weeks(days: int = 21, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minute = np.arange(days * DAY)
    daily = 0.3 + np.clip(np.sin(np.pi * ((minute // 60) % 24 - 6) / 16), 0, None)
    growth = 1 + 0.4 * minute / len(minute)
    cron = (minute % 60 == 0) * 8.0
    return rng.poisson(daily * growth + cron)


def test_rhythm_cron_and_growth_are_not_spikes_and_a_burst_is_found_within_minutes():
    counts = _quiet_weeks()
    assert SpikeDetector().episodes(START, counts) == []
    burst = counts.copy()
    at = 18 * DAY + 14 * 60 + 7  # a weekday afternoon
    burst[at:at + 20] += 12
    [spike] = SpikeDetector().episodes(START, burst)
    assert timedelta(0) <= spike.start - (START + timedelta(minutes=at)) <= timedelta(minutes=5)
    assert spike.peak > 50 and spike.expected < 10


def test_without_two_weeks_of_history_nothing_is_called_a_spike():
    counts = np.zeros(3 * DAY, np.int64)
    counts[2 * DAY:2 * DAY + 30] = 100
    assert SpikeDetector().episodes(START, counts) == []


def test_minute_counts_bins_arrow_timestamps():
    times = pa.array([START + timedelta(seconds=s) for s in (5, 61, 62, 185)])
    start, counts = minute_counts(times)
    assert start == START and counts.tolist() == [1, 2, 0, 1]


def test_an_issue_and_a_service_report_their_spikes_from_the_lake(tmp_path):
    counts = _quiet_weeks(days=16, seed=1)
    at = 15 * DAY + 600
    counts[at:at + 15] += 20
    minutes = np.repeat(np.arange(len(counts)), counts)
    with ParquetErrorStore(str(tmp_path), background=False, flush_records=10**6) as store:
        result = store.append([
            {"id": f"e{n}", "fingerprint": "fp-ledger", "message": "totals differ",
             "service": "billing", "received_at": (START + timedelta(minutes=int(m))).isoformat()}
            for n, m in enumerate(minutes)])
        issue = result.issues["fp-ledger"]
    with ParquetErrorStore(str(tmp_path), background=False) as store:
        [spike] = store.issue(issue)["spikes"]
        assert spike["start"] >= START + timedelta(minutes=at)
        assert [s.start for s in store.spikes(service="billing")] == [spike["start"]]
        assert store.spikes(service="search") == []
