"""The lake's read door: files, tables, Ray Datasets and deletions, with nothing to write.

Opening a reader lists nothing and locks nothing: no write-ahead log segment, no replay of other
writers' logs, no id index, and the issue log is replayed only when issues are asked for. That is
what everything that only reads needs (the model replicas, the conductor's checks, ``status``,
``train``, ``tune``, the bootstrap), and it works on a lake it may not write (a read-only copy, a
bucket with read-only credentials). Writers
(:class:`~erroracle.platform.lake.ParquetErrorStore`) are readers too.

Deletions (tombstones under ``deletes/``) are immutable files, so they are read once each: a read
lists the folder and loads only the files it has not seen.

Example:
    >>> reader = LakeReader("/tmp/lake")  # doctest: +SKIP
    >>> reader.counts_by_source()  # doctest: +SKIP
    {'app': 12, 'stackoverflow': 40}
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from erroracle.errors import StorageError
from erroracle.platform import wal
from erroracle.platform.config import Config
from erroracle.platform.issue_book import IssueBook
from erroracle.platform.issue_list import IssueQuery, select
from erroracle.platform.issue_summary import IssueSummary
from erroracle.platform.records import ARROW_SCHEMA
from erroracle.platform.store import ErrorReader, Tombstones, filter_time

if TYPE_CHECKING:
    import ray.data

__all__ = ["LakeReader", "open_reader"]

_TOMBSTONE_COLUMNS = ["id", "fingerprint", "received_at"]


class LakeReader(ErrorReader):
    """Reads the Parquet lake under ``data_root`` (see ``platform.lake`` for the layout).

    Args:
        data_root: a local folder or a pyarrow filesystem URI (``s3://``).
        wal_dir: where the writers' logs are; only for an object-store lake, whose issue log sits
            beside them on this node.
    """

    def __init__(self, data_root: str, *, wal_dir: str | None = None,
                 writable_issues: bool = False) -> None:
        try:
            self._fs, root = pafs.FileSystem.from_uri(data_root)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"data_root {data_root!r}: {exc}") from exc
        self.data_root = data_root
        self._local = isinstance(self._fs, pafs.LocalFileSystem)
        self._root = root.rstrip("/")
        self._events = f"{self._root}/events"
        self._deletes = f"{self._root}/deletes"
        self._quarantine = f"{self._root}/quarantine"
        self._wal_dir = Path(wal_dir).expanduser() if wal_dir else self._default_wal_dir()
        self._writable_issues = writable_issues
        self._tombstones = Tombstones()
        self._tombstone_files: set[str] = set()
        # what this reader did, for ``status --verbose`` and the lake-reads benchmark
        self.reads = {"listings": 0, "tombstone_files": 0}

    @functools.cached_property
    def issues(self) -> IssueBook:  # type: ignore[override]
        """The issue layer, replayed from its log at first use: most reads never need it."""
        return IssueBook(self._issues_dir(), writable=self._writable_issues)

    def _default_wal_dir(self) -> Path:
        if self._local:
            return Path(self._root) / "wal"
        # An object store cannot fsync an append; its log lives on this node's disk.
        digest = uuid.uuid5(uuid.NAMESPACE_URL, self.data_root).hex[:12]
        return Path.home() / ".erroracle" / f"wal-{digest}"

    def _issues_dir(self) -> Path:
        return self.log_dir("issues")

    def log_dir(self, name: str) -> Path:
        """Where an append-only log of the lake lives (the issue log, the alert outbox): in the
        lake on local disk; an object store cannot append, so there beside this node's
        write-ahead log."""
        return Path(self._root) / name if self._local else self._wal_dir / name

    # -- files ------------------------------------------------------------------------------

    def _list_files(self) -> list[str]:
        self.reads["listings"] += 1
        selector = pafs.FileSelector(self._events, recursive=True, allow_not_found=True)
        return sorted(
            info.path
            for info in self._fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((".", "_"))
        )

    def _files(self, sources: Sequence[str] | None, since: datetime | None, until: datetime | None):
        """Parquet files, pruned by the source and date folders they sit in."""
        wanted = set(sources) if sources is not None else None
        first = since.strftime("%Y-%m-%d") if since else None
        last = until.strftime("%Y-%m-%d") if until else None
        chosen = []
        for path in self._list_files():
            parts = dict(p.split("=", 1) for p in path.split("/")[-3:-1] if "=" in p)
            if wanted is not None and parts.get("source") not in wanted:
                continue
            day = parts.get("date", "")
            if (first and day < first) or (last and day > last):
                continue
            chosen.append(path)
        return chosen

    def tombstones(self) -> Tombstones:
        """Every deletion so far; files already read are not read again."""
        selector = pafs.FileSelector(self._deletes, allow_not_found=True)
        for info in sorted(self._fs.get_file_info(selector), key=lambda i: i.base_name):
            if not info.base_name.endswith(".json") or info.path in self._tombstone_files:
                continue
            with self._fs.open_input_stream(info.path) as stream:
                entry = json.loads(stream.read())
            self._tombstones.ids.update(entry.get("ids", []))
            if entry.get("fingerprint"):
                at = datetime.fromisoformat(entry["deleted_at"])
                self._tombstones.fingerprints[entry["fingerprint"]] = at
            self._tombstone_files.add(info.path)
            self.reads["tombstone_files"] += 1
        return self._tombstones

    @property
    def deletions(self) -> int:
        """How many deletions :meth:`tombstones` has read: a change says caches must forget."""
        return len(self._tombstone_files)

    def deleted_since_last_look(self) -> bool:
        """Whether a deletion arrived since the last read of the tombstones: a cache that may
        hold deleted text must forget it."""
        seen = self.deletions
        self.tombstones()
        return self.deletions != seen

    # -- reading ----------------------------------------------------------------------------

    def _dataset(self, files: list[str]) -> pads.Dataset:
        return pads.dataset(files, schema=ARROW_SCHEMA, filesystem=self._fs, format="parquet")

    def read_table(self, *, sources=None, since=None, until=None, columns=None) -> pa.Table:
        files = self._files(sources, since, until)
        wanted = list(columns) if columns else ARROW_SCHEMA.names
        needed = list(dict.fromkeys(wanted + _TOMBSTONE_COLUMNS + ["source"]))
        if not files:
            return ARROW_SCHEMA.empty_table().select(wanted)
        try:
            table = self._dataset(files).to_table(columns=needed)
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot read the error lake at {self.data_root}: {exc}") from exc
        if sources is not None:
            table = table.filter(pc.is_in(table["source"], value_set=pa.array(list(sources))))
        table = self.tombstones().apply(filter_time(table, since, until))
        return table.select(wanted)

    def event_files(self) -> list[str]:
        """Every Parquet file of the lake; each is written once and never changed."""
        return self._list_files()

    def read_files(self, files: Sequence[str], columns: Sequence[str]) -> pa.Table:
        """The live records of these files, in these columns."""
        needed = list(dict.fromkeys([*columns, *_TOMBSTONE_COLUMNS]))
        try:
            table = self._dataset(list(files)).to_table(columns=needed)
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot read the error lake at {self.data_root}: {exc}") from exc
        return self.tombstones().apply(table).select(list(columns))

    @functools.cached_property
    def summary(self) -> IssueSummary:
        """The issue list's parts, kept up to date file by file (``platform.issue_summary``)."""
        return IssueSummary(self)

    def issue_list(self, query: IssueQuery) -> dict[str, Any]:
        return select(self.summary.table(query.source, self.issues, query.sort), query)

    def _stored(self, ids: set[str]) -> pa.Table:
        """The Parquet rows with these ids (deleted ones included: the caller applies the
        tombstones once, over what it also holds)."""
        files = self._files(None, None, None) if ids else []
        if not files:
            return ARROW_SCHEMA.empty_table()
        try:
            return self._dataset(files).to_table(filter=pc.field("id").isin(sorted(ids)))
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot read the error lake at {self.data_root}: {exc}") from exc

    def find(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Records by id; reads only the ``id`` matches."""
        return self.tombstones().apply(self._stored(set(ids))).to_pylist()

    def to_dataset(
        self,
        *,
        sources: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> ray.data.Dataset:
        """The live records as a Ray Dataset read with ``ray.data.read_parquet``."""
        import ray.data

        files = self._files(sources, since, until)
        if not files:
            return ray.data.from_arrow(ARROW_SCHEMA.empty_table())
        dataset = ray.data.read_parquet(files, filesystem=self._fs, partitioning=None)
        live = _LiveRows(self.tombstones(), sources, since, until)
        return dataset.map_batches(live, batch_format="pyarrow")

    def log_segments(self) -> int:
        """Write-ahead log segments on this node: appends not yet in Parquet (a writer's own,
        or a dead writer's, which the next writer to open replays)."""
        if not self._wal_dir.is_dir():
            return 0
        return sum(1 for _ in self._wal_dir.glob(f"*{wal.SUFFIX}"))

    def quarantined_files(self) -> int:
        """How many damaged files sit in quarantine (found by this or earlier starts)."""
        selector = pafs.FileSelector(self._quarantine, recursive=True, allow_not_found=True)
        return sum(
            1 for info in self._fs.get_file_info(selector) if info.type == pafs.FileType.File
        )


class _LiveRows:
    """Ray Data batch filter: drop deleted rows and rows outside the source/time window."""

    def __init__(self, tombstones: Tombstones, sources, since, until) -> None:
        self.tombstones, self.sources, self.since, self.until = tombstones, sources, since, until

    def __call__(self, batch: pa.Table) -> pa.Table:
        batch = batch.cast(ARROW_SCHEMA) if batch.schema != ARROW_SCHEMA else batch
        if self.sources is not None:
            batch = batch.filter(pc.is_in(batch["source"], value_set=pa.array(list(self.sources))))
        return self.tombstones.apply(filter_time(batch, self.since, self.until))


def lake_exists(data_root: str) -> bool:
    """Whether ``data_root`` holds a lake (records, state or models), locally or in a bucket."""
    try:
        fs, root = pafs.FileSystem.from_uri(data_root)
        infos = fs.get_file_info([f"{root.rstrip('/')}/{part}"
                                  for part in ("events", "state", "models", "issues")])
    except (pa.ArrowInvalid, OSError) as exc:
        raise StorageError(f"data_root {data_root!r}: {exc}") from exc
    return any(info.type != pafs.FileType.NotFound for info in infos)


def open_reader(config: Config) -> LakeReader:
    """The read door of a configuration's lake."""
    return LakeReader(config.data_root, wal_dir=config.storage.wal_dir)
