"""The wall time of one whole round of the loop under ``erroracle up``, for lakes of N records.

The product's own path: the lake is prepared (the knowledge base, Loghub lines as app errors and
copies of the Stack Overflow sample), then ``erroracle up`` runs with the shipped configuration,
changing only the port, the loop's intervals and the number of training steps (one pass over the
training split, at the default batch of 32). Its first round crawls questions with their answers
from a local server speaking the Stack Exchange API (a fifth of N, at most the 2,000 of the
sample), trains a candidate from the champion, evaluates candidate and champion on the held-out
split, promotes or keeps, and reloads the running Serve. The figures are the round's own record in
``state/rounds.jsonl``. Targets on 2 cores: 300 records ≤ 90 s, 10,000 ≤ 240 s.

Usage: python benchmarks/loop_round.py [--records 300 3000 10000 30000]
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from _lakes import loghub_records, so_records  # noqa: E402
from _report import write  # noqa: E402

KNOWLEDGE = 308
TARGETS = {300: 90, 10_000: 240}
SIZES = (300, 3000, 10_000, 30_000)


def _stack_exchange_site(count: int):
    """``count`` questions of the sample with their answers (the tests' local server)."""
    from tests.crawlers.servers import StackExchange, answer, question

    asked, given = [], []
    for number, record in enumerate(so_records()[:count], start=1):
        body = f"<p>{html.escape(record['body'] or '')}</p>"
        if record.get("stack_trace"):
            body += f"<pre><code>{html.escape(record['stack_trace'])}</code></pre>"
        asked.append(question(number, 1_700_000_000 + number, title=record["title"] or "error",
                              body=body, tags=["python"]))
        given.append(answer(number, number * 10, accepted=True, score=1,
                            body=f"<p>{html.escape(record['solution'] or '')}</p>"))
    return StackExchange(asked, given)


def _fill(root: str, records: int, crawled: int) -> int:
    """The lake before the round: the knowledge base, app lines, then copies of the sample."""
    from erroracle.knowledge import seed_lake
    from erroracle.platform.lake import ParquetErrorStore
    from erroracle.platform.prepare import RecordPreparer

    prepare = RecordPreparer()
    room = max(0, records - KNOWLEDGE - crawled)
    app = loghub_records()[:room]
    extra = []
    copy = 0
    while len(app) + len(extra) < room:
        copy += 1
        extra += [{**r, "id": f"{r['id']}-copy{copy}"} for r in so_records()]
    extra = extra[:room - len(app)]
    with ParquetErrorStore(root, background=False) as store:
        seed_lake(store, prepare)
        for start in range(0, len(app + extra), 2000):
            store.append([prepare(r) for r in (app + extra)[start:start + 2000]])
        store.flush()
        return sum(store.counts_by_source().values())


def _round(records: int) -> dict:
    from erroracle.serve.throughput import free_port
    from tests.crawlers.servers import ServerThread

    crawled = min(2000, records // 5)
    steps = max(1, math.ceil((records * 0.8) / 32))  # one pass over the training split
    site = _stack_exchange_site(crawled)
    with tempfile.TemporaryDirectory() as folder, ServerThread(site.app) as server:
        before = _fill(folder, records, crawled)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ERRORACLE_")}
        env.update({
            "HF_HUB_OFFLINE": "1", "ERRORACLE_DATA_ROOT": folder,
            "ERRORACLE_SERVE__PORT": str(free_port()),
            "ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL": f"{server.url}/2.3",
            "ERRORACLE_SOURCES__STACKOVERFLOW__TAGS": '["python"]',
            "ERRORACLE_SOURCES__REDDIT__ENABLED": "false",
            "ERRORACLE_SOURCES__GITHUB__ENABLED": "false",
            "ERRORACLE_LOOP__CRAWL_EVERY": "1d", "ERRORACLE_LOOP__TRAIN_EVERY": "0s",
            "ERRORACLE_LOOP__MIN_NEW_RECORDS": "1",
            "ERRORACLE_TRAIN__MAX_STEPS": str(steps),
        })
        log = Path(folder, "up.log")
        with log.open("w") as out:
            up = subprocess.Popen([sys.executable, "-m", "erroracle", "up"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        history = Path(folder, "state", "rounds.jsonl")
        try:
            while not history.exists() or not history.read_text().strip():
                if up.poll() is not None:
                    sys.exit(f"erroracle up ended:\n{log.read_text()[-3000:]}")
                time.sleep(1)
            entry = json.loads(history.read_text().splitlines()[0])
            plan = next((line for line in log.read_text().splitlines()
                         if line.startswith("resources")), "")
        finally:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(180)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
    stages = {name: stage.get("seconds") for name, stage in entry["stages"].items()}
    result = {
        "records": sum(entry["lake"].values()), "records_before_crawl": before,
        "crawled": entry["stages"]["crawl"].get("sources", {}).get("stackoverflow"),
        "steps": steps, "batch_size": 32, "stage_seconds": stages,
        "round_seconds": entry["seconds"],
        "samples_per_s": entry["stages"].get("train", {}).get("samples_per_s"),
        "decision": entry["decision"], "why": entry["why"], "resource_plan": plan,
    }
    target = TARGETS.get(records)
    if target:
        result.update(target_seconds=target, met=entry["seconds"] <= target)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    rounds = []
    for records in args.records:
        print(f"round on a lake of {records:,} records ...", flush=True)
        result = _round(records)
        rounds.append({"asked": records, **result})
        stages = ", ".join(f"{name} {seconds:.1f} s"
                           for name, seconds in result["stage_seconds"].items())
        print(f"  {result['records']:,} records: {result['round_seconds']:.0f} s ({stages}); "
              f"{result['decision']}", flush=True)
    print(rounds[0]["resource_plan"])
    name = "loop_round" if tuple(args.records) == SIZES else "loop_round_partial"
    write(name, {"rounds": rounds})


if __name__ == "__main__":
    main()
