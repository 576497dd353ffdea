"""One incremental crawl: every enabled source at once under asyncio, each page stored in the lake
(scrubbed and fingerprinted like any other record) before its cursor is saved.

An item is stored under the id ``<source>:<source id>:<stamp>``. An unchanged item is skipped; an
edited one (a new stamp) is stored anew and its previous version deleted, so it updates rather
than duplicates. A crawl killed between storing a page and saving its cursor fetches that page
again, and the lake drops the ids it already holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from erroracle.crawlers._http import SourceHttp
from erroracle.crawlers.base import Crawler, CrawlSummary, Page
from erroracle.crawlers.cursors import CursorStore
from erroracle.crawlers.github import GithubCrawler
from erroracle.crawlers.reddit import RedditCrawler
from erroracle.crawlers.stackoverflow import MAX_RATE, StackOverflowCrawler, throttle_violation
from erroracle.errors import ErroracleError, ValidationError
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.store import ErrorStore

__all__ = ["SOURCES", "crawl"]

SOURCES = ("stackoverflow", "reddit", "github")
_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


def _crawler(name: str, config: Any, session: aiohttp.ClientSession) -> Crawler:
    source, max_wait = getattr(config.sources, name), config.sources.max_wait_seconds
    if name == "stackoverflow":
        http = SourceHttp(name, source.base_url, session, rate=MAX_RATE, concurrency=4,
                          max_wait=max_wait, throttled=throttle_violation)
        return StackOverflowCrawler(source, http, page_size=source.page_size)
    if name == "reddit":
        return RedditCrawler(source, max_wait=max_wait)
    return GithubCrawler(source, max_wait=max_wait)


async def _crawl_one(name: str, config: Any, session: aiohttp.ClientSession,
                     store: ErrorStore, prepare: RecordPreparer, cursors: CursorStore,
                     limit: int | None, progress: Callable[[CrawlSummary], None]) -> CrawlSummary:
    summary = CrawlSummary(name)
    started = time.monotonic()
    state = cursors.load(name)
    seen: dict[str, str] = state.setdefault("seen", {})
    crawler: Crawler | None = None
    try:
        crawler = _crawler(name, config, session)
        async for page in crawler.pages(state.get("cursor") or {}, limit):
            await asyncio.to_thread(_store_page, name, page, seen, store, prepare, summary)
            state["cursor"] = page.cursor
            cursors.save(name, state)
            summary.requests, summary.waited_seconds = crawler.requests, crawler.waited
            progress(summary)
    except ErroracleError as exc:
        summary.errors.append(str(exc))
    if crawler is not None:
        summary.requests, summary.waited_seconds = crawler.requests, crawler.waited
    summary.seconds = time.monotonic() - started
    return summary


def _store_page(source: str, page: Page, seen: dict[str, str], store: ErrorStore,
                prepare: RecordPreparer, summary: CrawlSummary) -> None:
    records, replaced = [], []
    summary.skipped += page.malformed
    for item in page.items:
        before = seen.get(item.source_id)
        if before == item.stamp:
            summary.unchanged += 1
            continue
        try:
            records.append(prepare({**item.record, "source": source,
                                    "id": f"{source}:{item.source_id}:{item.stamp}"}))
        except ValidationError:
            summary.skipped += 1
            continue
        if before is None:
            summary.new += 1
        else:
            summary.updated += 1
            replaced.append(f"{source}:{item.source_id}:{before}")
        seen[item.source_id] = item.stamp
    if records:
        store.append(records)
        store.flush()
    if replaced:
        store.delete(ids=replaced)


async def crawl(config: Any, store: ErrorStore, prepare: RecordPreparer, *,
                sources: list[str] | None = None, limit: int | None = None,
                progress: Callable[[CrawlSummary], None] = lambda summary: None,
                session: aiohttp.ClientSession | None = None) -> list[CrawlSummary]:
    """Crawl ``sources`` (all enabled ones by default) once; one summary per source.

    A source that fails (unreachable, refused credentials, out of quota) ends with its error in
    its summary; the others go on.
    """
    names = sources or [name for name in SOURCES
                        if getattr(config.sources, name).enabled]
    cursors = CursorStore(config.data_root)
    own_session = session is None
    session = session or aiohttp.ClientSession(timeout=_TIMEOUT, headers={
        "User-Agent": "erroracle-crawler/0.1"})
    try:
        return list(await asyncio.gather(*[
            _crawl_one(name, config, session, store, prepare, cursors, limit, progress)
            for name in names]))
    finally:
        if own_session:
            await session.close()
