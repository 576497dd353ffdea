"""Crawlers: errors with their solutions from where developers discuss them."""

from erroracle.crawlers.base import CrawlSummary, Item, Page
from erroracle.crawlers.cursors import CursorStore
from erroracle.crawlers.github import GithubCrawler
from erroracle.crawlers.reddit import RedditCrawler
from erroracle.crawlers.run import SOURCES, crawl
from erroracle.crawlers.stackoverflow import StackOverflowCrawler

__all__ = ["SOURCES", "CrawlSummary", "CursorStore", "GithubCrawler", "Item", "Page",
           "RedditCrawler", "StackOverflowCrawler", "crawl"]
