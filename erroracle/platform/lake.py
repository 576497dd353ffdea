"""The error lake on Parquet: a local folder by default, any pyarrow filesystem URI (``s3://``).

Layout under ``data_root``::

    events/source=<source>/date=<YYYY-MM-DD>/part-<time>-<writer>-<n>.parquet
    deletes/<time>-<uuid>.json     tombstones (right to delete)
    quarantine/                    damaged logs and Parquet files, moved aside at start
    wal/                           write-ahead log segments (local disk only)
    issues/log.jsonl               the issue layer's log (see erroracle.platform.issue_book)

``append`` writes the batch to this writer's log segment and fsyncs it before returning. A flusher
(a background thread, or inline when ``background=False``) seals the segment, writes its records as
Parquet under a hidden temporary name, fsyncs and renames it into place, and only then deletes the
segment. On start, segments whose writers are gone are replayed; ids already in Parquet are dropped,
so a kill between the rename and the delete cannot duplicate anything.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pydantic

from erroracle.errors import StorageError, ValidationError
from erroracle.platform import wal
from erroracle.platform.atomic import put_file
from erroracle.platform.config import Config
from erroracle.platform.fingerprint import record_template
from erroracle.platform.issue_book import IssueBook
from erroracle.platform.records import ARROW_SCHEMA, ErrorRecord, records_to_table
from erroracle.platform.store import (
    AppendResult,
    ErrorStore,
    Tombstones,
    assign_issues,
    filter_time,
    validate_batch,
)

if TYPE_CHECKING:
    import ray.data

__all__ = ["ParquetErrorStore", "open_store"]

log = logging.getLogger("erroracle.lake")
_BATCH = pydantic.TypeAdapter(list[ErrorRecord])
_TOMBSTONE_COLUMNS = ["id", "fingerprint", "received_at"]
# Temporary files older than this belong to a writer that died mid-write.
_STALE_TMP_SECONDS = 3600


class ParquetErrorStore(ErrorStore):
    """The durable error lake. See the module docstring for the layout and the rules.

    Example:
        >>> store = ParquetErrorStore("/tmp/lake")
        >>> store.append([{"error_type": "KeyError", "message": "'user'"}]).accepted
        1
    """

    def __init__(
        self,
        data_root: str,
        *,
        wal_dir: str | None = None,
        flush_records: int = 20_000,
        flush_seconds: float = 2.0,
        background: bool = True,
    ) -> None:
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
        self.issues = IssueBook(self._issues_dir())
        self._flush_records = flush_records
        self._flush_seconds = flush_seconds
        self._writer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._file_seq = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: list[ErrorRecord] = []
        self._pending_ids: set[str] = set()
        self._pending_since: float | None = None
        self._sealed: list[tuple[list[ErrorRecord], wal.Segment]] = []
        self._stored_ids: set[str] = set()
        self._indexed_files: set[str] = set()
        self.quarantined: list[str] = []
        self.replayed_records = 0
        self._open()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._flush_forever, name="erroracle-lake-flusher", daemon=True
            )
            self._thread.start()

    # -- start-up ---------------------------------------------------------------------------

    def _default_wal_dir(self) -> Path:
        if self._local:
            return Path(self._root) / "wal"
        # An object store cannot fsync an append; its log lives on this node's disk.
        digest = uuid.uuid5(uuid.NAMESPACE_URL, self.data_root).hex[:12]
        return Path.home() / ".erroracle" / f"wal-{digest}"

    def _issues_dir(self) -> Path:
        """The issue log sits in the lake on local disk; an object store cannot append, so there
        it sits beside this node's write-ahead log."""
        return Path(self._root) / "issues" if self._local else self._wal_dir / "issues"

    def _open(self) -> None:
        for folder in (self._events, self._deletes):
            self._fs.create_dir(folder, recursive=True)
        self._wal_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_tmp()
        self._refresh_index()
        self._replay_orphans()
        self._segment = self._new_segment()
        self._backfill_issues()

    def _backfill_issues(self) -> None:
        """A lake written before issues existed gets them once, oldest records first."""
        if len(self.issues) or not self._indexed_files:
            return
        table = self.read_table(columns=["fingerprint", "message", "title", "error_type",
                                         "received_at"])
        rows = table.sort_by("received_at").to_pylist()
        self.issues.observe([(row["fingerprint"], record_template(row), row["error_type"])
                             for row in rows if row["fingerprint"]])

    def _new_segment(self) -> wal.Segment:
        self._file_seq += 1
        return wal.Segment(self._wal_dir / f"{self._writer}-{self._file_seq:06d}{wal.SUFFIX}")

    def _remove_stale_tmp(self) -> None:
        if not self._local:
            return
        cutoff = time.time() - _STALE_TMP_SECONDS
        for path in Path(self._events).rglob(".*.tmp"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)

    def _replay_orphans(self) -> None:
        for segment in wal.claim_orphans(self._wal_dir):
            records: list[ErrorRecord] = []
            for payload in segment.payloads:
                try:
                    records.extend(_BATCH.validate_json(payload))
                except pydantic.ValidationError:
                    segment.damaged = True
                    break
            self.replayed_records += self._write_records(records)
            if segment.damaged:
                self.quarantined.append(str(segment.path))
                log.warning("write-ahead log %s was damaged; moved to quarantine", segment.path)
            segment.release(Path(self._quarantine) if self._local else self._wal_dir / "quarantine")

    # -- files and the id index -------------------------------------------------------------

    def _list_files(self) -> list[str]:
        selector = pafs.FileSelector(self._events, recursive=True, allow_not_found=True)
        return sorted(
            info.path
            for info in self._fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((".", "_"))
        )

    def _quarantine_file(self, path: str, reason: str) -> None:
        relative = path[len(self._events) + 1 :].replace("/", "__")
        self._fs.create_dir(self._quarantine, recursive=True)
        self._fs.move(path, f"{self._quarantine}/{relative}")
        self.quarantined.append(path)
        log.warning("Parquet file %s is unreadable (%s); moved to quarantine", path, reason)

    def _refresh_index(self) -> None:
        """Learn the ids in Parquet files this writer has not indexed yet."""
        for path in self._list_files():
            if path in self._indexed_files:
                continue
            try:
                ids = pq.read_table(path, columns=["id"], filesystem=self._fs)["id"]
            except FileNotFoundError:
                continue  # rewritten by a delete meanwhile; the new file is listed next time
            except (pa.ArrowException, OSError) as exc:
                self._quarantine_file(path, str(exc))
                continue
            self._stored_ids.update(ids.to_pylist())
            self._indexed_files.add(path)

    # -- writing ----------------------------------------------------------------------------

    def append(self, records: Iterable[Mapping[str, Any] | ErrorRecord]) -> AppendResult:
        batch = validate_batch(records)
        issues = assign_issues(self.issues, batch)
        flush_now = False
        with self._lock:
            fresh, duplicates = [], 0
            seen_here: set[str] = set()
            for record in batch:
                if (
                    record.id in self._stored_ids
                    or record.id in self._pending_ids
                    or record.id in seen_here
                ):
                    duplicates += 1
                    continue
                seen_here.add(record.id)
                fresh.append(record)
            if fresh:
                self._segment.append(_BATCH.dump_json(fresh))
                self._pending.extend(fresh)
                self._pending_ids.update(seen_here)
                if self._pending_since is None:
                    self._pending_since = time.monotonic()
                flush_now = len(self._pending) >= self._flush_records
        if flush_now:
            if self._thread is None:
                self.flush()
            else:
                self._wake.set()
        return AppendResult(ids=[r.id for r in fresh], duplicates=duplicates, issues=issues)

    def _seal(self) -> None:
        with self._lock:
            if not self._pending:
                return
            self._sealed.append((self._pending, self._segment))
            self._pending, self._pending_since = [], None
            self._segment = self._new_segment()

    def flush(self) -> None:
        """Turn everything appended so far into Parquet files and drop their log segments."""
        with self._flush_lock:
            self._seal()
            while self._sealed:
                records, segment = self._sealed[0]
                self._write_records(records)
                segment.remove()
                with self._lock:
                    self._sealed.pop(0)
                    self._pending_ids.difference_update(r.id for r in records)

    def _write_records(self, records: list[ErrorRecord]) -> int:
        """Write the records not yet in Parquet; returns how many were new."""
        if not records:
            return 0
        self._refresh_index()
        tombstones = self._load_tombstones()
        fresh, seen = [], set()
        for record in records:
            if record.id in self._stored_ids or record.id in seen:
                continue
            seen.add(record.id)
            fresh.append(record.to_row())
        partitions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in fresh:
            partitions[(row["source"], row["received_at"].strftime("%Y-%m-%d"))].append(row)
        for (source, day), rows in sorted(partitions.items()):
            table = tombstones.apply(records_to_table(rows))
            if table.num_rows:
                path = self._write_file(f"{self._events}/source={source}/date={day}", table)
                self._indexed_files.add(path)
        self._stored_ids.update(seen)
        return len(fresh)

    def _put(self, folder: str, name: str, write: Callable[[Any], None]) -> str:
        return put_file(self._fs, f"{folder}/{name}", write)

    def _write_file(self, folder: str, table: pa.Table, name: str | None = None) -> str:
        if name is None:
            self._file_seq += 1
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            name = f"part-{stamp}-{self._writer}-{self._file_seq:06d}.parquet"
        return self._put(folder, name, lambda out: pq.write_table(table, out, compression="zstd"))

    def _flush_forever(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_seconds / 2)
            self._wake.clear()
            with self._lock:
                since = self._pending_since
                due = bool(self._pending) and (
                    len(self._pending) >= self._flush_records
                    or (since is not None and time.monotonic() - since >= self._flush_seconds)
                )
            if due or self._sealed:
                try:
                    self.flush()
                except StorageError:
                    # The records stay in their sealed log segment and are retried next time.
                    log.exception("flushing the error lake failed; will retry")

    def close(self) -> None:
        """Stop the flusher, write what is pending, and release the log."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
        self._segment.remove()

    # -- deleting ---------------------------------------------------------------------------

    def _load_tombstones(self) -> Tombstones:
        tombstones = Tombstones()
        selector = pafs.FileSelector(self._deletes, allow_not_found=True)
        for info in self._fs.get_file_info(selector):
            if not info.base_name.endswith(".json"):
                continue
            with self._fs.open_input_stream(info.path) as stream:
                entry = json.loads(stream.read())
            tombstones.ids.update(entry.get("ids", []))
            if entry.get("fingerprint"):
                at = datetime.fromisoformat(entry["deleted_at"])
                tombstones.fingerprints[entry["fingerprint"]] = at
        return tombstones

    def _write_tombstone(self, ids: Sequence[str], fingerprint: str | None) -> None:
        now = datetime.now(timezone.utc)
        entry = {"ids": list(ids), "fingerprint": fingerprint, "deleted_at": now.isoformat()}
        name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
        data = json.dumps(entry).encode()
        self._put(self._deletes, name, lambda out: out.write(data))

    def delete(self, *, ids: Sequence[str] = (), fingerprint: str | None = None) -> int:
        """Erase records by id or fingerprint: a tombstone first, then the files are rewritten."""
        if not ids and fingerprint is None:
            raise ValidationError("delete needs ids or a fingerprint")
        self._write_tombstone(ids, fingerprint)
        self.flush()
        tombstones = self._load_tombstones()
        removed = 0
        for path in self._list_files():
            table = pq.read_table(path, filesystem=self._fs)
            keep = table.filter(tombstones.mask(table))
            if keep.num_rows == table.num_rows:
                continue
            removed += table.num_rows - keep.num_rows
            folder, name = path.rsplit("/", 1)
            if keep.num_rows:
                self._write_file(folder, keep.cast(ARROW_SCHEMA), name=name)
            else:
                self._fs.delete_file(path)
        return removed

    # -- reading ----------------------------------------------------------------------------

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

    def read_table(self, *, sources=None, since=None, until=None, columns=None) -> pa.Table:
        files = self._files(sources, since, until)
        wanted = list(columns) if columns else ARROW_SCHEMA.names
        needed = list(dict.fromkeys(wanted + _TOMBSTONE_COLUMNS + ["source"]))
        if not files:
            return ARROW_SCHEMA.empty_table().select(wanted)
        try:
            dataset = pads.dataset(
                files, schema=ARROW_SCHEMA, filesystem=self._fs, format="parquet"
            )
            table = dataset.to_table(columns=needed)
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot read the error lake at {self.data_root}: {exc}") from exc
        if sources is not None:
            table = table.filter(pc.is_in(table["source"], value_set=pa.array(list(sources))))
        table = self._load_tombstones().apply(filter_time(table, since, until))
        return table.select(wanted)

    def find(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Records by id, including those still in the log; reads only the ``id`` matches."""
        wanted = set(ids)
        with self._lock:
            pending = [r.to_row() for r in self._pending if r.id in wanted]
            pending += [
                r.to_row() for records, _ in self._sealed for r in records if r.id in wanted
            ]
        missing = wanted - {row["id"] for row in pending}
        files = self._files(None, None, None) if missing else []
        if not files:
            return self._load_tombstones().apply(records_to_table(pending)).to_pylist()
        try:
            dataset = pads.dataset(
                files, schema=ARROW_SCHEMA, filesystem=self._fs, format="parquet"
            )
            stored = dataset.to_table(filter=pc.field("id").isin(sorted(missing)))
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot read the error lake at {self.data_root}: {exc}") from exc
        rows = pa.concat_tables([records_to_table(pending), stored])
        return self._load_tombstones().apply(rows).to_pylist()

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
        live = _LiveRows(self._load_tombstones(), sources, since, until)
        return dataset.map_batches(live, batch_format="pyarrow")

    def quarantined_files(self) -> int:
        """How many damaged files sit in quarantine (found by this or earlier starts)."""
        selector = pafs.FileSelector(self._quarantine, recursive=True, allow_not_found=True)
        return sum(
            1 for info in self._fs.get_file_info(selector) if info.type == pafs.FileType.File
        )

    @property
    def pending(self) -> int:
        """Records appended (durable in the log) but not yet in Parquet."""
        with self._lock:
            return len(self._pending) + sum(len(records) for records, _ in self._sealed)


class _LiveRows:
    """Ray Data batch filter: drop deleted rows and rows outside the source/time window."""

    def __init__(self, tombstones: Tombstones, sources, since, until) -> None:
        self.tombstones, self.sources, self.since, self.until = tombstones, sources, since, until

    def __call__(self, batch: pa.Table) -> pa.Table:
        batch = batch.cast(ARROW_SCHEMA) if batch.schema != ARROW_SCHEMA else batch
        if self.sources is not None:
            batch = batch.filter(pc.is_in(batch["source"], value_set=pa.array(list(self.sources))))
        return self.tombstones.apply(filter_time(batch, self.since, self.until))


def open_store(config: Config, *, background: bool = True) -> ParquetErrorStore:
    """The lake of a configuration (``data_root`` and the ``storage`` section)."""
    return ParquetErrorStore(
        config.data_root,
        wal_dir=config.storage.wal_dir,
        flush_records=config.storage.flush_records,
        flush_seconds=config.storage.flush_seconds,
        background=background,
    )
