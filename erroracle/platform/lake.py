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
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pydantic

from erroracle.errors import StorageError, ValidationError
from erroracle.platform import wal
from erroracle.platform.atomic import put_file
from erroracle.platform.config import Config
from erroracle.platform.fingerprint import record_template
from erroracle.platform.issue_assignment import assign_issues
from erroracle.platform.lake_reader import LakeReader
from erroracle.platform.records import ARROW_SCHEMA, ErrorRecord, records_to_table
from erroracle.platform.store import AppendResult, ErrorStore, feedback_copies, validate_batch

__all__ = ["ParquetErrorStore", "open_store"]

log = logging.getLogger("erroracle.lake")
_BATCH = pydantic.TypeAdapter(list[ErrorRecord])
# Temporary files older than this belong to a writer that died mid-write.
_STALE_TMP_SECONDS = 3600


class ParquetErrorStore(LakeReader, ErrorStore):
    """The durable error lake to write. See the module docstring for the layout and the rules;
    reads are the :class:`~erroracle.platform.lake_reader.LakeReader`'s, plus what is still in
    this writer's log for :meth:`find`.

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
        super().__init__(data_root, wal_dir=wal_dir, writable_issues=True)
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
        changes = assign_issues(self.issues, batch)
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
        return AppendResult(ids=[r.id for r in fresh], duplicates=duplicates,
                            issues=changes.issues, opened=changes.opened,
                            reopened=changes.reopened)

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
        tombstones = self.tombstones()
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

    def _write_tombstone(self, ids: Sequence[str], fingerprint: str | None) -> None:
        now = datetime.now(timezone.utc)
        entry = {"ids": list(ids), "fingerprint": fingerprint, "deleted_at": now.isoformat()}
        name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
        data = json.dumps(entry).encode()
        self._put(self._deletes, name, lambda out: out.write(data))

    def delete(self, *, ids: Sequence[str] = (), fingerprint: str | None = None) -> int:
        """Erase records by id or fingerprint, and the feedback about them: a tombstone first,
        then the files are rewritten."""
        if not ids and fingerprint is None:
            raise ValidationError("delete needs ids or a fingerprint")
        self.flush()
        self._write_tombstone([*ids, *feedback_copies(self, ids)], fingerprint)
        self.flush()
        tombstones = self.tombstones()
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

    def find(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Records by id, including those still in the log; reads only the ``id`` matches."""
        wanted = set(ids)
        with self._lock:
            pending = [r.to_row() for r in self._pending if r.id in wanted]
            pending += [
                r.to_row() for records, _ in self._sealed for r in records if r.id in wanted
            ]
        stored = self._stored(wanted - {row["id"] for row in pending})
        rows = pa.concat_tables([records_to_table(pending), stored])
        return self.tombstones().apply(rows).to_pylist()

    @property
    def pending(self) -> int:
        """Records appended (durable in the log) but not yet in Parquet."""
        with self._lock:
            return len(self._pending) + sum(len(records) for records, _ in self._sealed)


def open_store(config: Config, *, background: bool = True) -> ParquetErrorStore:
    """The lake of a configuration (``data_root`` and the ``storage`` section)."""
    return ParquetErrorStore(
        config.data_root,
        wal_dir=config.storage.wal_dir,
        flush_records=config.storage.flush_records,
        flush_seconds=config.storage.flush_seconds,
        background=background,
    )
