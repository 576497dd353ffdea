"""The issue list at 100,000 issues and 5 million events, through the HTTP API.

A lake gets the knowledge base, the bootstrapped model and then ``--events`` app errors in
``--issues`` issues (a Zipf-like share each, over 14 days, 20 services, 3 environments), stored
through the store's own append. The app is started as ``up`` starts it and
``GET /api/v1/issues`` is asked, one request at a time: the first request (which reads every
file into the summary), then ``--requests`` of each kind of query (the default tab, a text
search, a service filter, a deep page sorted by last seen), and the first request after a status
change (the issue table is folded again).

The plain method, in the same run: grouping the events on every request (what a store without
the summary does, ``platform.issue_list.issue_list`` over ``read_table``), timed in this process
on the same lake.

    python benchmarks/issue_list.py [--issues 100000] [--events 5000000] [--requests 200]
                                    [--lake DIR]   (kept, and filled only when empty)

The model deployment loads first (it encodes up to ``serve.index_max_groups`` groups for
novelty, minutes at this size); the list is asked once it is ready, so that the two cores are not
shared with that start.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402
from _serving import HEADERS, bootstrapped_lake, free_port, start_erroracle  # noqa: E402

SERVICES = [f"svc-{n:02d}" for n in range(20)]
ENVIRONMENTS = ["prod", "staging", "dev"]
QUERIES = {
    "default tab": {},
    "text search": {"q": "timeout"},
    "service filter": {"service": "svc-07"},
    "page 20, last seen": {"sort": "last_seen", "offset": "1000"},
    "all tabs": {"status": "all"},
}


def fill(config, issues: int, events: int, batch: int = 100_000) -> float:
    """Append ``events`` app errors in ``issues`` issues; returns the seconds it took."""
    from erroracle.platform.lake import open_store

    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, issues + 1) ** 0.8
    per_issue = np.maximum(1, np.floor(weights / weights.sum() * (events - issues)).astype(int))
    per_issue[0] += events - per_issue.sum()
    owner = np.repeat(np.arange(issues), per_issue)
    rng.shuffle(owner)
    start = datetime.now(UTC) - timedelta(days=14)
    offsets = np.sort(rng.uniform(0, 14 * 86_400, events))
    started = time.perf_counter()
    with open_store(config, background=False) as store:
        for low in range(0, events, batch):
            store.append([{
                "id": f"ev{n}", "fingerprint": f"fp{issue}",
                "error_type": f"E{issue}Error",
                "message": f"{'timeout' if issue % 10 == 0 else 'failure'} in step {issue % 97}",
                "service": SERVICES[issue % len(SERVICES)],
                "environment": ENVIRONMENTS[issue % len(ENVIRONMENTS)],
                "received_at": start + timedelta(seconds=float(offsets[n])),
            } for n, issue in ((n, int(owner[n])) for n in range(low, min(low + batch, events)))])
            store.flush()
            print(f"  stored {min(low + batch, events):,} of {events:,} events", flush=True)
    return time.perf_counter() - started


def latencies(client: httpx.Client, params: dict[str, str], requests: int) -> dict[str, float]:
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = client.get("/api/v1/issues", params=params)
        times.append(time.perf_counter() - began)
        answer.raise_for_status()
    times.sort()
    return {"p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1), "requests": requests}


def plain(config, requests: int) -> dict[str, float]:
    """Group every event per request, as a store without the summary does."""
    from erroracle.platform.issue_list import IssueQuery, issue_list
    from erroracle.platform.issue_summary import PART_COLUMNS
    from erroracle.platform.lake_reader import open_reader

    reader = open_reader(config)
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        issue_list(reader.read_table(columns=PART_COLUMNS), reader.issues, IssueQuery())
        times.append(time.perf_counter() - began)
    return {"mean_ms": round(statistics.mean(times) * 1000, 1), "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--lake", help="Keep the lake here (and reuse it when it has events).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(args.lake) if args.lake else Path(folder) / "lake"
        fresh = not (root / "events").exists()
        config = bootstrapped_lake(root, {"port": free_port(),
                                          "rate_limit_per_minute": 10_000_000})
        filled = None
        if fresh or not args.lake:
            print(f"storing {args.events:,} events in {args.issues:,} issues")
            filled = round(fill(config, args.issues, args.events), 1)
        print(f"plain: grouping every event per request ({min(args.requests, 5)} requests)")
        baseline = plain(config, min(args.requests, 5))
        print(f"  {baseline['mean_ms']} ms a request")
        url = start_erroracle(config, ready_timeout=3600)
        results: dict[str, dict[str, float]] = {}
        with httpx.Client(base_url=url, headers=HEADERS, timeout=600) as client:
            began = time.perf_counter()
            first = client.get("/api/v1/issues")
            first.raise_for_status()
            cold = round((time.perf_counter() - began) * 1000, 1)
            total = first.json()["tabs"]["all"]
            print(f"first request (builds the summary of {total:,} issues): {cold} ms")
            for name, params in QUERIES.items():
                results[name] = latencies(client, params, args.requests)
                print(f"  {name}: {results[name]}")
            issue = first.json()["issues"][0]["issue"]
            client.patch(f"/api/v1/issues/{issue}", json={"status": "resolved"}
                         ).raise_for_status()
            began = time.perf_counter()
            client.get("/api/v1/issues").raise_for_status()
            after_change = round((time.perf_counter() - began) * 1000, 1)
            print(f"first request after a status change: {after_change} ms")
    worst = max(result["p95_ms"] for result in results.values())
    write("issue_list", {"settings": vars(args), "issues_listed": total,
                         "fill_seconds": filled, "first_request_ms": cold,
                         "queries": results, "worst_p95_ms": worst,
                         "first_after_status_change_ms": after_change,
                         "plain_group_per_request": baseline})


if __name__ == "__main__":
    main()
