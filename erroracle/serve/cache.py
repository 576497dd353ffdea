"""The prediction cache: answers by fingerprint (and request options) for one model version.

Errors repeat: the same fingerprint arrives again and again, so a bounded LRU in front of the
model answers most of them without a model call. Entries expire after ``ttl`` seconds so that
novelty and fixes follow the index as it takes in new records, and only entries of the current
model version are served.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["PredictionCache"]


class PredictionCache:
    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[Hashable, tuple[str, float, Any]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Hashable, version: str | None) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version or time.monotonic() - entry[1] > self.ttl:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[2]

    def put(self, key: Hashable, version: str, value: Any) -> None:
        if self.size == 0:
            return
        self._entries[key] = (version, time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
