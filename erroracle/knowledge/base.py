"""The bundled cold-start knowledge base: common errors with their category, severity and fix.

Written by this project (Apache-2.0), one YAML file per ecosystem in this folder. Loaded into the
lake as source ``knowledge`` on first start so that a new install has answers before it has learned
anything. Record ids derive from the error type and message, so loading twice stores nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from erroracle.errors import ConfigError

__all__ = ["KnowledgeEntry", "knowledge_records", "load_entries", "seed_lake"]

LICENSE = "Apache-2.0"
AUTHOR = "erroracle knowledge base"


@dataclass(frozen=True)
class KnowledgeEntry:
    """One known error and its fix. ``note`` justifies a label that the weak rules disagree with."""

    ecosystem: str
    error_type: str
    message: str
    category: str
    severity: str
    fix: str
    docs: str | None = None
    note: str | None = None

    @property
    def id(self) -> str:
        digest = hashlib.blake2b(f"{self.error_type}\x1f{self.message}".encode(), digest_size=10)
        return f"kb-{digest.hexdigest()}"

    def to_record(self) -> dict[str, Any]:
        """The entry as a lake record (scrubbing and fingerprinting happen at ingest)."""
        title = f"{self.error_type}: {self.message}" if self.message else self.error_type
        return {
            "id": self.id,
            "source": "knowledge",
            "source_id": self.id,
            "url": self.docs,
            "error_type": self.error_type,
            "message": self.message,
            "title": title,
            "solution": self.fix,
            "tags": [self.ecosystem],
            "author": AUTHOR,
            "license": LICENSE,
            "category": self.category,
            "severity": self.severity,
        }


def load_entries() -> list[KnowledgeEntry]:
    """Every entry of every bundled file, in file order."""
    entries: list[KnowledgeEntry] = []
    folder = resources.files("erroracle.knowledge")
    for item in sorted(folder.iterdir(), key=lambda path: path.name):
        if not item.name.endswith(".yaml"):
            continue
        try:
            data = yaml.safe_load(item.read_text(encoding="utf-8")) or []
            entries += [
                KnowledgeEntry(
                    ecosystem=item.name.removesuffix(".yaml"),
                    error_type=raw["type"],
                    message=raw.get("message") or "",
                    category=raw["category"],
                    severity=raw["severity"],
                    fix=" ".join(raw["fix"].split()),
                    docs=raw.get("docs"),
                    note=raw.get("note"),
                )
                for raw in data
            ]
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            raise ConfigError(f"knowledge base {item.name}: malformed entry: {exc}") from exc
    return entries


def knowledge_records() -> list[dict[str, Any]]:
    """The knowledge base as records ready for ingest."""
    return [entry.to_record() for entry in load_entries()]


def seed_lake(store: Any, prepare: Any) -> int:
    """Load the knowledge base into a lake that has none yet; returns how many were stored.

    Args:
        store: an :class:`~erroracle.platform.store.ErrorStore`.
        prepare: the record preparer (scrub and fingerprint, as for any ingest).
    """
    if store.counts_by_source().get("knowledge"):
        return 0
    return store.append([prepare(record) for record in knowledge_records()]).accepted
