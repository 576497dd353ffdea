"""JSON state under ``data_root``: read whole, replaced atomically, on local disk or object storage.

The registry's pointers and metadata, the round history, the crawl cursors and the tuned
hyperparameters all keep small JSON files that several processes read while one writes. Object
storage cannot append or rename, so each write replaces the file in one piece
(:func:`~erroracle.platform.atomic.put_file`), and a reader sees the old file or the new one.

Example:
    >>> state = StateFiles("/tmp/lake", "state")  # doctest: +SKIP
    >>> state.write("tuned.json", {"lr": 1e-4}); state.read("tuned.json")  # doctest: +SKIP
    {'lr': 0.0001}
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from erroracle.errors import StorageError
from erroracle.platform.atomic import put_file

__all__ = ["StateFiles"]


class StateFiles:
    """The JSON files of one folder under ``data_root``."""

    def __init__(self, data_root: str, folder: str) -> None:
        try:
            self.fs, root = pafs.FileSystem.from_uri(data_root)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"data_root {data_root!r}: {exc}") from exc
        self.folder = f"{root.rstrip('/')}/{folder.strip('/')}"

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def _text(self, name: str) -> str | None:
        try:
            with self.fs.open_input_stream(self.path(name)) as stream:
                return stream.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path(name)}: {exc}") from exc

    def read(self, name: str) -> Any:
        """The file's JSON, or None when there is no such file."""
        text = self._text(name)
        try:
            return None if text is None else json.loads(text)
        except ValueError as exc:
            raise StorageError(f"cannot read {self.path(name)}: {exc}") from exc

    def write(self, name: str, data: Any, *, indent: int | None = 2) -> None:
        payload = json.dumps(data, indent=indent, sort_keys=True, default=str).encode()
        put_file(self.fs, self.path(name), lambda out: out.write(payload))

    def read_lines(self, name: str) -> list[Any]:
        """One JSON value a line; a torn line (a kill mid-write, elsewhere) is skipped."""
        found = []
        for line in (self._text(name) or "").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def write_lines(self, name: str, rows: list[Any]) -> None:
        payload = "".join(json.dumps(row, sort_keys=True, default=str) + "\n" for row in rows)
        put_file(self.fs, self.path(name), lambda out: out.write(payload.encode()))
