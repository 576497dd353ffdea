"""Where each crawl stopped, under ``<data_root>/state/crawlers/``, written after every page, so a
killed crawl resumes where it stopped. Also what each item looked like when last stored, so an
edited item replaces its record instead of adding a second one."""

from __future__ import annotations

from typing import Any

from erroracle.platform.state_files import StateFiles

__all__ = ["CursorStore"]


class CursorStore:
    """JSON state per source, on local disk or object storage."""

    def __init__(self, data_root: str) -> None:
        self._state = StateFiles(data_root, "state/crawlers")

    def load(self, source: str) -> dict[str, Any]:
        state = self._state.read(f"{source}.json")
        return state if isinstance(state, dict) else {}

    def save(self, source: str, state: dict[str, Any]) -> None:
        self._state.write(f"{source}.json", state, indent=None)
