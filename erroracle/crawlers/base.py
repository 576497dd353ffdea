"""What every crawler yields, and what a crawl of one source came to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

__all__ = ["CrawlSummary", "Crawler", "Item", "Page", "take"]


@dataclass(frozen=True)
class Item:
    """One item at its source: ``stamp`` changes when the item is edited (or gets a new answer)."""

    source_id: str
    stamp: str
    record: dict[str, Any]


@dataclass
class Page:
    """One page of a crawl, and the cursor to save once its items are stored."""

    items: list[Item]
    cursor: dict[str, Any]
    malformed: int = 0


@dataclass
class CrawlSummary:
    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    waited_seconds: float = 0.0
    seconds: float = 0.0

    def line(self) -> str:
        text = (f"{self.source:13} new {self.new:,}  updated {self.updated:,}  unchanged "
                f"{self.unchanged:,}  skipped {self.skipped:,}  errors {len(self.errors)}  "
                f"requests {self.requests:,}  waited {self.waited_seconds:.1f} s  "
                f"in {self.seconds:.1f} s")
        return text + (f"  ({self.errors[0]})" if self.errors else "")


class Crawler(Protocol):
    """A source: ``pages`` starts from a saved cursor and stops after ``limit`` items."""

    name: str
    requests: int
    waited: float

    def pages(self, cursor: dict[str, Any], limit: int | None) -> AsyncIterator[Page]: ...


def take(found: list[T], limit: int | None, taken: int) -> tuple[list[T], bool]:
    """What of ``found`` fits under ``limit`` after ``taken`` items, and whether the page was cut
    (a cut page is fetched again next time, so its cursor must not move past it)."""
    cut = limit is not None and len(found) > limit - taken
    return (found[: limit - taken] if cut else found), cut
