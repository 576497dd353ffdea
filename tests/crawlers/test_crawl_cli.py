"""``erroracle crawl`` pointed at a local Stack Exchange server fills the lake; unreachable ends in
one line on stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import ERRORACLE
from tests.crawlers.servers import ServerThread, StackExchange
from tests.crawlers.test_stackoverflow import questions


def crawl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ERRORACLE, "crawl", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_crawl_fills_the_lake_and_prints_a_summary(cli_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    api = StackExchange(*questions())
    with ServerThread(api.app) as server:
        cli_env["ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL"] = f"{server.url}/2.3"
        cli_env["ERRORACLE_SOURCES__STACKOVERFLOW__TAGS"] = '["python"]'
        cli_env["ERRORACLE_SOURCES__GITHUB__ENABLED"] = "false"
        for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"):
            cli_env.pop(name, None)
        first = crawl(cli_env, "--source", "stackoverflow", "--limit", "5")
        second = crawl(cli_env)
    assert first.returncode == 0, first.stderr
    assert "stackoverflow" in first.stdout and "new 5" in first.stdout
    assert "new 2" in second.stdout and "unchanged 5" in second.stdout
    # Reddit lacks credentials: one clear line, and the other source went on.
    assert second.returncode == 0
    assert "erroracle: error: reddit: no credentials" in second.stderr
    status = subprocess.run([*ERRORACLE, "status", "--json"], env=cli_env, capture_output=True,
                            text=True, timeout=300)
    assert json.loads(status.stdout)["lake"]["by_source"]["stackoverflow"] == 7


def test_an_unreachable_source_is_one_line_and_a_failure(cli_env: dict[str, str]) -> None:
    cli_env["ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL"] = "http://127.0.0.1:9/2.3"
    done = crawl(cli_env, "--source", "stackoverflow", "--limit", "1")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("erroracle: error: stackoverflow:") and "ClientConnectorError" in line
