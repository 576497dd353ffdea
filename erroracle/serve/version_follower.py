"""Which model version the ingress may answer with, and what it must forget.

Answers only move the version forward (a replica that is behind catches up before it answers).
A rollback names an older version, which answers alone would never lower it to, so the champion
pointer is also read, at most once a second. The same look notices a deletion anywhere in the
lake, after which cached answers and remembered predictions are dropped: either may quote what
was deleted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from erroracle.platform.lake_reader import LakeReader
from erroracle.platform.registry import Registry, version_number

__all__ = ["VersionFollower"]

_POLL_SECONDS = 1.0


class VersionFollower:
    """The version to ask the model for; ``on_version`` and ``forget`` are called on changes."""

    def __init__(self, registry: Registry, lake: LakeReader, *,
                 on_version: Callable[[str], None], forget: Callable[[], None]) -> None:
        self.registry, self.lake = registry, lake
        self.on_version, self.forget = on_version, forget
        self.version: str | None = None
        self._checked = 0.0
        self._poll: asyncio.Future | None = None

    def adopt(self, version: str | None) -> None:
        """Follow the newest version the model answered with."""
        if version and version_number(version) > version_number(self.version):
            self.version = version
            self.on_version(version)

    def follow(self) -> None:
        """Start a look at the registry and the deletions, unless one ran in the last second."""
        if time.monotonic() - self._checked < _POLL_SECONDS:
            return
        self._checked = time.monotonic()
        self._poll = asyncio.ensure_future(self._look())

    def _deleted_since_last_look(self) -> bool:
        seen = self.lake.deletions
        self.lake.tombstones()
        return self.lake.deletions != seen

    async def _look(self) -> None:
        if await run_in_threadpool(self._deleted_since_last_look):
            self.forget()
        champion = await run_in_threadpool(self.registry.champion)
        if champion and (self.version is None
                         or version_number(champion) < version_number(self.version)):
            self.version = champion
            self.on_version(champion)
