"""API keys with scopes, and a rate limit per key.

Keys live in a JSON file (``auth.keys_file``, default ``<data_root>/state/keys.json``) as SHA-256
digests, never in plain text::

    {"keys": [{"name": "admin", "sha256": "…", "scopes": ["ingest", "read", "feedback", "admin"],
               "rate_limit_per_minute": null}]}

The environment variable named by ``auth.admin_key_env`` adds one key with every scope, for
automation. When neither is configured, :func:`ensure_keys` creates the file with one admin key
and returns the key so that it can be printed once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from erroracle.errors import ConfigError
from erroracle.platform.config import Config
from erroracle.serve.problems import ApiError

__all__ = [
    "SCOPES",
    "ApiKey",
    "digest",
    "KeyRing",
    "RateLimiter",
    "ensure_keys",
    "keys_path",
    "load_keyring",
    "new_key",
]

SCOPES = ("ingest", "read", "feedback", "admin")
_PREFIX = "eo_"


@dataclass(frozen=True)
class ApiKey:
    """Who a key belongs to and what it may do."""

    name: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None = None
    expires_at: str | None = None

    def expired(self) -> bool:
        return self.expires_at is not None and datetime.fromisoformat(
            self.expires_at) <= datetime.now(UTC)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key (URL-safe, so it can sit in a Sentry DSN)."""
    return _PREFIX + secrets.token_urlsafe(32)


@dataclass
class KeyRing:
    """Keys by their SHA-256 digest: a lookup leaks nothing useful about a key's text."""

    by_digest: dict[str, ApiKey] = field(default_factory=dict)

    def identify(self, key: str | None) -> ApiKey | None:
        """The key's owner; None for no key, an unknown one or one past its expiry."""
        found = self.by_digest.get(digest(key)) if key else None
        return None if found is None or found.expired() else found

    def authorize(self, key: str | None, scope: str) -> ApiKey:
        """The key's owner, or 401 (no or unknown key) / 403 (key without ``scope``)."""
        if not key:
            raise ApiError(
                401, "unauthorized", "an API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        api_key = self.identify(key)
        if api_key is None:
            raise ApiError(
                401, "unauthorized", "the API key is not valid (unknown, revoked or expired)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope not in api_key.scopes and "admin" not in api_key.scopes:
            raise ApiError(403, "forbidden", f"the API key has no {scope!r} scope")
        return api_key


def keys_path(config: Config) -> str:
    return config.auth.keys_file or os.path.join(config.data_root, "state", "keys.json")


def _read_keys_file(path: str) -> dict[str, ApiKey]:
    try:
        data = json.loads(Path(path).read_text())
        entries = data["keys"]
        ring = {}
        for entry in entries:
            scopes = frozenset(entry["scopes"])
            unknown = sorted(scopes - set(SCOPES))
            if unknown:
                raise ConfigError(f"{path}: key {entry['name']!r}: unknown scope {unknown[0]!r}")
            ring[entry["sha256"]] = ApiKey(
                entry["name"], scopes, entry.get("rate_limit_per_minute"),
                entry.get("expires_at"),
            )
        return ring
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the keys file: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a valid keys file ({exc})") from exc


def load_keyring(config: Config, environ: Mapping[str, str] | None = None) -> KeyRing:
    """The keys of the keys file plus the environment's admin key."""
    environ = os.environ if environ is None else environ
    path = keys_path(config)
    ring = KeyRing(_read_keys_file(path) if os.path.exists(path) else {})
    admin = environ.get(config.auth.admin_key_env)
    if admin:
        ring.by_digest[digest(admin)] = ApiKey("environment admin", frozenset(SCOPES))
    return ring


def ensure_keys(config: Config, environ: Mapping[str, str] | None = None) -> str | None:
    """Create the keys file with one admin key when no key is configured; returns that key."""
    environ = os.environ if environ is None else environ
    path = keys_path(config)
    if os.path.exists(path) or environ.get(config.auth.admin_key_env):
        return None
    key = new_key()
    entry = {"name": "admin", "sha256": digest(key), "scopes": list(SCOPES),
             "rate_limit_per_minute": None}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"keys": [entry]}, out, indent=2)
    return key


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts of ten seconds' worth.

    With several ingress replicas each enforces its ``share`` of a key's limit: the load
    balancer spreads a key's requests over them, so the key's total stays at its limit."""

    def __init__(self, per_minute: int, share: float = 1.0) -> None:
        self.per_minute = per_minute
        self.share = share
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, api_key: ApiKey, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens of the key's bucket, or raise 429 with ``Retry-After``."""
        rate = (api_key.rate_limit_per_minute or self.per_minute) * self.share / 60.0
        capacity = max(1.0, rate * 10)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(api_key.name, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < cost:
                self._buckets[api_key.name] = (tokens, now)
                wait = math.ceil((cost - tokens) / rate)
                raise ApiError(
                    429, "rate_limited", f"too many requests for key {api_key.name!r}; "
                    f"retry in {wait} s", headers={"Retry-After": str(wait)},
                )
            self._buckets[api_key.name] = (tokens - cost, now)
