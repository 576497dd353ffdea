"""Spikes: when an issue (or a service) occurs far more often than it usually does at that time.

Counts are kept per minute and read as a sliding window of ``window`` minutes. The baseline of a
window is what the same time of day held on each of the ``days`` before it, weighted so that the
same weekday counts most (an hour-of-week pattern, with the other days to steady it), and scaled
by the recent trend (the last day against those days), so slow growth is not a spike. A window is
a spike when its count exceeds ``mean + k·std`` (std includes the Poisson noise of the mean) and
``floor``; a spike ends after ``cool_down`` minutes below it. Hourly cron bursts sit at the same
minute every day, so the baseline of that minute holds them.

Example:
    >>> SpikeDetector().episodes(*minute_counts(table["received_at"]))  # doctest: +SKIP
    [Spike(start=..., end=..., peak=42, expected=3.1)]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Spike", "SpikeDetector", "minute_counts"]

_MINUTES_A_DAY = 24 * 60


@dataclass(frozen=True)
class Spike:
    """One spike: its first and last minute (UTC), the largest window and what was expected."""

    start: datetime
    end: datetime
    peak: int
    expected: float


def minute_counts(times: pa.Array | pa.ChunkedArray) -> tuple[datetime, np.ndarray]:
    """Events per minute (``times``: Arrow timestamps), from the minute of the first to that of
    the last: (start, counts)."""
    stamps = pc.cast(times.drop_null(), pa.timestamp("us", tz="UTC")).cast(pa.int64())
    minutes = np.asarray(stamps.to_numpy(zero_copy_only=False)) // 60_000_000
    if not len(minutes):
        return datetime.now(timezone.utc).replace(second=0, microsecond=0), np.zeros(0, np.int64)
    first = int(minutes.min())
    counts = np.bincount((minutes - first).astype(np.int64))
    return datetime.fromtimestamp(first * 60, timezone.utc), counts


@dataclass(frozen=True)
class SpikeDetector:
    window: int = 5  # minutes a window sums
    days: int = 14  # days of history the baseline reads
    same_weekday_weight: float = 3.0  # the same weekday counts this much more than another day
    k: float = 5.0  # standard deviations above the mean (chosen on benchmarks/spikes.py tune)
    floor: int = 10  # a window with fewer events is never a spike
    cool_down: int = 10  # minutes below the threshold that end a spike

    def thresholds(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(windowed counts, expected, threshold) per minute; expected and threshold are NaN
        where there are fewer than ``days`` days of history."""
        n, day = len(counts), _MINUTES_A_DAY
        windowed = np.convolve(counts, np.ones(self.window, np.int64))[:n].astype(np.float64)
        expected = np.full(n, np.nan)
        spread = np.full(n, np.nan)
        history = self.days * day
        if n > history:
            minutes = np.arange(history, n)
            back = np.arange(1, self.days + 1)
            weights = np.where(back % 7 == 0, self.same_weekday_weight, 1.0)
            past = windowed[minutes[None, :] - back[:, None] * day]  # (days, minutes)
            level = weights @ past / weights.sum()
            variance = weights @ (past - level) ** 2 / weights.sum()
            total = np.concatenate([[0], np.cumsum(counts)])

            def day_ending(at: np.ndarray) -> np.ndarray:
                return total[at + 1] - total[np.maximum(0, at + 1 - day)]

            last_day = day_ending(minutes)
            days_before = np.mean([day_ending(minutes - d * day)
                                   for d in range(1, min(self.days, 7) + 1)], axis=0)
            trend = np.clip((last_day + 1) / (days_before + 1), 1 / 3, 3.0)
            expected[minutes] = level * trend
            spread[minutes] = np.sqrt(variance * trend**2 + expected[minutes])
        threshold = np.maximum(self.floor, expected + self.k * spread)
        return windowed, expected, threshold

    def episodes(self, start: datetime, counts: np.ndarray) -> list[Spike]:
        """The spikes in per-minute ``counts`` that begin at ``start``."""
        if not len(counts):
            return []
        windowed, expected, threshold = self.thresholds(counts)
        over = windowed > threshold  # NaN compares False: no history, no spike
        spikes: list[Spike] = []
        minute, n = 0, len(counts)
        while minute < n:
            if not over[minute]:
                minute += 1
                continue
            first, last, quiet = minute, minute, 0
            while minute < n and quiet < self.cool_down:
                if over[minute]:
                    last, quiet = minute, 0
                else:
                    quiet += 1
                minute += 1
            span = slice(first, last + 1)
            spikes.append(Spike(
                start=start + timedelta(minutes=first), end=start + timedelta(minutes=last),
                peak=int(windowed[span].max()),
                expected=round(float(np.nanmean(expected[span])), 2),
            ))
        return spikes
