"""Where each crawl stopped, under ``<data_root>/state/crawlers/``, written after every page, so a
killed crawl resumes where it stopped. Also what each item looked like when last stored, so an
edited item replaces its record instead of adding a second one."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from erroracle.errors import StorageError
from erroracle.platform.atomic import put_file

__all__ = ["CursorStore"]


class CursorStore:
    """JSON state per source, on local disk or object storage."""

    def __init__(self, data_root: str) -> None:
        try:
            self._fs, root = pafs.FileSystem.from_uri(data_root)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"data_root {data_root!r}: {exc}") from exc
        self._folder = f"{root.rstrip('/')}/state/crawlers"

    def load(self, source: str) -> dict[str, Any]:
        path = f"{self._folder}/{source}.json"
        try:
            with self._fs.open_input_stream(path) as stream:
                state = json.loads(stream.read())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read crawl state {path}: {exc}") from exc
        return state if isinstance(state, dict) else {}

    def save(self, source: str, state: dict[str, Any]) -> None:
        payload = json.dumps(state, sort_keys=True).encode()
        put_file(self._fs, f"{self._folder}/{source}.json", lambda out: out.write(payload))
