"""The model registry: ``models/vNNNN/`` folders and the ``champion`` pointer.

A version folder holds the model directory's files plus ``metrics.json``, ``train_config.json``,
``lineage.json`` and, written last, ``version.json``: a folder without it is an unfinished
registration and is not listed. Versions never change once registered, except for the promotion
``decision.json`` recorded beside them.

``models/champion.json`` names the champion and the champions before it; it is replaced
atomically, so a reader sees the old pointer or the new one, never a mix. Rollback pops the
history.

Example:
    >>> registry = Registry("/data")  # doctest: +SKIP
    >>> registry.promote("v0002", reason="better on validation")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from erroracle.errors import ModelNotReady, StorageError, ValidationError
from erroracle.platform.atomic import put_file
from erroracle.platform.state_files import StateFiles

__all__ = ["RECORDS_SCHEMA", "ModelInfo", "Registry", "version_number"]

#: What ``records.parquet`` beside a version holds: enough to apply every kind of tombstone.
RECORDS_SCHEMA = pa.schema([
    ("id", pa.string()), ("fingerprint", pa.string()),
    ("received_at", pa.timestamp("us", tz="UTC")), ("validation", pa.bool_()),
])
_RECORDS = "records.parquet"

_VERSION = re.compile(r"^v\d{4,}$")
_CHAMPION = "champion.json"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one version."""

    version: str
    created_at: str
    metrics: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] | None = None


def version_number(version: str | None) -> int:
    """The order of a version name (``v0007`` → 7); -1 for none, so any version is newer."""
    return int(version[1:]) if version and _VERSION.match(version) else -1


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Registry:
    """Versions under ``<data_root>/models``, on local disk or object storage."""

    def __init__(self, data_root: str, *, cache_dir: str | Path | None = None) -> None:
        self._state = StateFiles(data_root, "models")  # names below are relative to it
        self._fs, self.root = self._state.fs, self._state.folder
        self._local = isinstance(self._fs, pafs.LocalFileSystem)
        digest = hashlib.blake2b(data_root.encode(), digest_size=6).hexdigest()
        self._cache = Path(cache_dir or Path.home() / ".erroracle" / f"models-{digest}")

    # -- reading ---------------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Registered versions, oldest first."""
        selector = pafs.FileSelector(self.root, allow_not_found=True)
        names = [
            info.base_name
            for info in self._fs.get_file_info(selector)
            if info.type == pafs.FileType.Directory and _VERSION.match(info.base_name)
        ]
        complete = [
            name for name in names
            if self._fs.get_file_info(f"{self.root}/{name}/version.json").type
            == pafs.FileType.File
        ]
        return sorted(complete, key=lambda name: int(name[1:]))

    def _check(self, version: str) -> str:
        if not _VERSION.match(version or ""):
            raise ValidationError(f"expected a version like v0003, got {version!r}", "version")
        if version not in self.versions():
            raise ModelNotReady(f"model {version} is not registered")
        return version

    def info(self, version: str) -> ModelInfo:
        folder = self._check(version)
        meta = self._state.read(f"{folder}/version.json") or {}
        return ModelInfo(
            version=version,
            created_at=meta.get("created_at", ""),
            metrics=self._state.read(f"{folder}/metrics.json") or {},
            lineage=self._state.read(f"{folder}/lineage.json") or {},
            train_config=self._state.read(f"{folder}/train_config.json") or {},
            decision=self._state.read(f"{folder}/decision.json"),
        )

    def pointer(self) -> dict[str, Any]:
        """The champion pointer: ``{"version", "history", "reason", "updated_at"}`` or ``{}``."""
        return self._state.read(_CHAMPION) or {}

    def champion(self) -> str | None:
        return self.pointer().get("version")

    def local_path(self, version: str) -> Path:
        """A local folder with the version's files (object stores: downloaded once, cached)."""
        folder = f"{self.root}/{self._check(version)}"
        if self._local:
            return Path(folder)
        target = self._cache / version
        if not (target / "version.json").exists():
            partial = self._cache / f".{version}.partial"
            pafs.copy_files(
                folder, str(partial), source_filesystem=self._fs,
                destination_filesystem=pafs.LocalFileSystem(),
            )
            partial.rename(target)
        return target

    # -- writing ---------------------------------------------------------------------------

    def _allocate(self) -> str:
        self._fs.create_dir(self.root, recursive=True)
        existing = self.versions()
        number = int(existing[-1][1:]) + 1 if existing else 1
        while True:
            version = f"v{number:04d}"
            if not self._local:
                return version
            try:
                Path(self.root, version).mkdir()  # exclusive: two registrations never collide
                return version
            except FileExistsError:
                number += 1

    def register(
        self, model_dir: str | Path, *, metrics: dict[str, Any], train_config: dict[str, Any],
        lineage: dict[str, Any], records: pa.Table | None = None,
    ) -> str:
        """Copy a saved model directory in as the next version; returns its name.

        ``records`` (``RECORDS_SCHEMA``: the records the version was trained and validated on)
        is kept beside it as ``records.parquet``, sorted by id, so that a deletion can say which
        versions hold a record.
        """
        version = self._allocate()
        folder = f"{self.root}/{version}"
        try:
            pafs.copy_files(
                str(model_dir), folder, source_filesystem=pafs.LocalFileSystem(),
                destination_filesystem=self._fs,
            )
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot register {model_dir} as {version}: {exc}") from exc
        self._state.write(f"{version}/metrics.json", metrics)
        self._state.write(f"{version}/train_config.json", train_config)
        self._state.write(f"{version}/lineage.json", lineage)
        table = (records if records is not None else RECORDS_SCHEMA.empty_table())
        table = table.select(RECORDS_SCHEMA.names).cast(RECORDS_SCHEMA).sort_by("id")
        put_file(self._fs, f"{folder}/{_RECORDS}", lambda out: pq.write_table(table, out))
        self._state.write(f"{version}/version.json", {"version": version, "created_at": _now()})
        return version

    def records(self, version: str) -> pa.Table:
        """The records ``version`` learned from (empty for a version registered before this
        was kept)."""
        path = f"{self.root}/{self._check(version)}/{_RECORDS}"
        try:
            return pq.read_table(path, filesystem=self._fs)
        except FileNotFoundError:
            return RECORDS_SCHEMA.empty_table()
        except (pa.ArrowException, OSError) as exc:
            raise StorageError(f"cannot read the records of {version}: {exc}") from exc

    def versions_holding(self, ids: Sequence[str]) -> list[str]:
        """The versions trained or validated on any of these records."""
        wanted = pa.array(sorted(set(ids)), pa.string())
        return [version for version in self.versions()
                if pc.any(pc.is_in(self.records(version)["id"], value_set=wanted)).as_py()]

    def record_decision(self, version: str, *, promoted: bool, reason: str, **details: Any) -> None:
        """Keep why a version was or was not promoted, beside it."""
        decision = {"promoted": promoted, "reason": reason, "decided_at": _now(), **details}
        self._state.write(f"{self._check(version)}/decision.json", decision)

    def promote(self, version: str, *, reason: str) -> None:
        """Make ``version`` the champion; the current one goes onto the history."""
        self._check(version)
        pointer = self.pointer()
        current = pointer.get("version")
        if current == version:
            return
        history = [*pointer.get("history", []), current] if current else []
        self._state.write(
            _CHAMPION,
            {"version": version, "history": history, "reason": reason, "updated_at": _now()},
        )

    def rollback(self) -> str:
        """Restore the previous champion; returns it."""
        pointer = self.pointer()
        history = list(pointer.get("history", []))
        if not history:
            raise ModelNotReady("there is no previous champion to roll back to")
        previous = history.pop()
        self._state.write(
            _CHAMPION,
            {
                "version": previous, "history": history, "updated_at": _now(),
                "reason": f"rollback from {pointer.get('version')}",
            },
        )
        return previous
