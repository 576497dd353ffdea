"""Managing the keys file: create, list and revoke keys, and a keyring that follows the file.

``erroracle keys`` and the ``/api/v1/keys`` routes both change the file through
:class:`KeyFile`: under an exclusive lock, read, change, then replaced atomically (mode 600), so
two changes at once never lose one. Each ingress replica holds a :class:`LiveKeyRing`, which
looks at the file's modification time at most every ``_CHECK`` seconds and reads it again when
it changed: a revoked key is refused everywhere within about a second. An expired key is refused
at once (its ``expires_at`` is checked on every request).

Each replica also notes when it last accepted each key, in a file of its own beside the keys file
(``keys-used/``), written at a key's first use and then at most once a minute: ``keys list``
shows the latest across replicas, to the minute, without any replica writing the keys file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from erroracle.errors import NotFoundError, UnprocessableError
from erroracle.platform.config import Config
from erroracle.serve.auth import SCOPES, ApiKey, KeyRing, digest, keys_path, load_keyring, new_key

__all__ = ["KeyFile", "LiveKeyRing", "last_uses", "parse_expiry"]

_CHECK = 1.0
_USE_EVERY = 60.0  # seconds between a replica's writes of its last-use file
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_expiry(text: str | None) -> str | None:
    """An ISO 8601 date or time as a UTC time string; a date means its start, in UTC.

    Raises:
        UnprocessableError: naming ``expires``, for text that is not a date or time, or is past.
    """
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UnprocessableError("must be an ISO 8601 date or time, e.g. 2027-01-31",
                                 field="expires") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment <= datetime.now(UTC):
        raise UnprocessableError("is in the past", field="expires")
    return moment.astimezone(UTC).isoformat()


class KeyFile:
    """The keys file of a configuration."""

    def __init__(self, config: Config) -> None:
        self.path = Path(keys_path(config))

    def _entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return list(json.loads(self.path.read_text())["keys"])

    def entries(self) -> list[dict[str, Any]]:
        """Every key's name, scopes, rate limit, creation, expiry and last use; never its
        digest."""
        used = last_uses(self.path)
        return [{**{name: entry.get(name) for name in
                    ("name", "scopes", "rate_limit_per_minute", "created_at", "expires_at")},
                 "last_used_at": used.get(entry["sha256"])}
                for entry in self._entries()]

    def create(self, scopes: list[str], *, name: str | None = None,
               rate_limit_per_minute: int | None = None, expires: str | None = None
               ) -> tuple[str, dict[str, Any]]:
        """A new key: the key itself (shown once, stored only as its digest) and its entry.

        Raises:
            UnprocessableError: an unknown scope, a bad name or rate, a bad or past expiry.
        """
        if not scopes or any(scope not in SCOPES for scope in scopes):
            raise UnprocessableError(f"each must be one of {', '.join(SCOPES)}", field="scopes")
        name = name or f"{scopes[0]}-{secrets.token_hex(3)}"
        if not _NAME.match(name):
            raise UnprocessableError("letters, digits, '.', '_' and '-', at most 64",
                                     field="name")
        if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= 10**9:
            raise UnprocessableError("must be at least 1", field="rate_limit_per_minute")
        key = new_key()
        entry = {"name": name, "sha256": digest(key), "scopes": sorted(set(scopes)),
                 "rate_limit_per_minute": rate_limit_per_minute,
                 "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                 "expires_at": parse_expiry(expires)}
        with self._locked():
            entries = self._entries()
            if any(other["name"] == name for other in entries):
                raise UnprocessableError(f"a key named {name!r} exists", field="name")
            self._write([*entries, entry])
        return key, {k: v for k, v in entry.items() if k != "sha256"}

    def revoke(self, name: str) -> None:
        """Remove the key ``name``.

        Raises:
            NotFoundError: there is no key of that name.
        """
        with self._locked():
            entries = self._entries()
            kept = [entry for entry in entries if entry["name"] != name]
            if len(kept) == len(entries):
                raise NotFoundError(f"no key named {name!r}", field="name")
            self._write(kept)

    def _locked(self) -> _Lock:
        return _Lock(self.path.with_name(self.path.name + ".lock"))

    def _write(self, entries: list[dict[str, Any]]) -> None:
        _write_private(self.path, {"keys": entries})


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """``data`` as JSON at ``path``, mode 600, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(data, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _uses_folder(keys_file: Path) -> Path:
    return keys_file.with_name("keys-used")


def last_uses(keys_file: Path) -> dict[str, str]:
    """The latest use of each key digest that any replica noted (ISO 8601, UTC)."""
    latest: dict[str, str] = {}
    folder = _uses_folder(keys_file)
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            noted = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a replica's file being replaced; the next look reads it
        for key_digest, when in noted.items():
            latest[key_digest] = max(latest.get(key_digest, ""), when)
    return latest


class _Lock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = -1

    def __enter__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc_info: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        os.close(self.handle)


class LiveKeyRing:
    """A :class:`~erroracle.serve.auth.KeyRing` read again whenever the keys file changes."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._path = keys_path(config)
        self._checked = 0.0
        self._stamp: tuple[int, int] | None = None
        self._ring = KeyRing()
        self._follow(force=True)
        self._uses: dict[str, str] = {}
        self._uses_written = 0.0
        self._uses_file = _uses_folder(Path(self._path)) / f"{secrets.token_hex(6)}.json"

    def _follow(self, force: bool = False) -> KeyRing:
        if force or time.monotonic() - self._checked >= _CHECK:
            self._checked = time.monotonic()
            try:
                info = os.stat(self._path)
                stamp = (info.st_mtime_ns, info.st_size)
            except FileNotFoundError:
                stamp = None
            if force or stamp != self._stamp:
                self._ring, self._stamp = load_keyring(self.config), stamp
        return self._ring

    @property
    def by_digest(self) -> dict[str, ApiKey]:
        return self._follow().by_digest

    def identify(self, key: str | None) -> ApiKey | None:
        return self._follow().identify(key)

    def authorize(self, key: str | None, scope: str) -> ApiKey:
        accepted = self._follow().authorize(key, scope)
        self._note_use(digest(key or ""))
        return accepted

    def _note_use(self, key_digest: str) -> None:
        first = key_digest not in self._uses
        self._uses[key_digest] = datetime.now(UTC).isoformat(timespec="seconds")
        if first or time.monotonic() - self._uses_written >= _USE_EVERY:
            self._uses_written = time.monotonic()
            _write_private(self._uses_file, dict(self._uses))
