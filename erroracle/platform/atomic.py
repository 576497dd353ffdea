"""Writing one file so that readers see all of it or nothing, on local disk or object storage."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from erroracle.errors import StorageError
from erroracle.platform.wal import fsync_dir

__all__ = ["put_file"]


def put_file(fs: pafs.FileSystem, path: str, write: Callable[[Any], None]) -> str:
    """Write ``path`` through ``write(stream)``, atomically.

    Local disk: a hidden temporary name, fsync, rename, fsync of the folder. Object stores: one PUT
    of the final name, which is atomic there.
    """
    folder, name = path.rsplit("/", 1)
    try:
        if not isinstance(fs, pafs.LocalFileSystem):
            with fs.open_output_stream(path) as out:
                write(out)
            return path
        Path(folder).mkdir(parents=True, exist_ok=True)
        tmp = Path(folder) / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(Path(folder))
    except (pa.ArrowException, OSError) as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc
    return path
