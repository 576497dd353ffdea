"""The wall time of one full round of the loop on 10,000 records, stage by stage.

The lake holds the knowledge base (308), Loghub lines as app errors and one copy of the Stack
Overflow sample (2,000). The round crawls the sample again from a local server speaking the Stack
Exchange API (2,000 questions with their answers, as new items), which brings the lake to 10,000
records. It then trains a candidate from the champion for one pass over the training split,
evaluates candidate and champion on the held-out split and decides. Target: at most 15 minutes on
2 CPU cores.

Usage: python benchmarks/loop_round.py [--batch-size 32]
"""

from __future__ import annotations

import argparse
import html
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _lakes import loghub_records, so_records  # noqa: E402
from _report import write  # noqa: E402

RECORDS = 10_000


def _stack_exchange_site():
    """The sample as Stack Exchange questions and accepted answers (the tests' local server)."""
    from tests.crawlers.servers import StackExchange, answer, question

    asked, given = [], []
    for number, record in enumerate(so_records(), start=1):
        body = f"<p>{html.escape(record['body'] or '')}</p>"
        if record.get("stack_trace"):
            body += f"<pre><code>{html.escape(record['stack_trace'])}</code></pre>"
        asked.append(question(number, 1_700_000_000 + number, title=record["title"] or "error",
                              body=body, tags=["python"]))
        given.append(answer(number, number * 10, accepted=True, score=1,
                            body=f"<p>{html.escape(record['solution'] or '')}</p>"))
    return StackExchange(asked, given)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import ray
    from ray.data import DataContext

    from erroracle.knowledge import seed_lake
    from erroracle.learners.bootstrap import bootstrap
    from erroracle.loop import Conductor
    from erroracle.platform.config import load_config
    from erroracle.platform.lake import ParquetErrorStore
    from erroracle.platform.prepare import RecordPreparer
    from erroracle.platform.registry import Registry
    from tests.crawlers.servers import ServerThread

    site = _stack_exchange_site()
    steps = math.ceil(RECORDS * 0.8 / args.batch_size)  # one pass over the training split
    ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
    DataContext.get_current().enable_progress_bars = False
    with tempfile.TemporaryDirectory() as folder, ServerThread(site.app) as server:
        environ = {
            "ERRORACLE_SOURCES__STACKOVERFLOW__BASE_URL": f"{server.url}/2.3",
            "ERRORACLE_SOURCES__STACKOVERFLOW__TAGS": '["python"]',
            "ERRORACLE_SOURCES__STACKOVERFLOW__PAGE_SIZE": "100",
            "ERRORACLE_SOURCES__REDDIT__ENABLED": "false",
            "ERRORACLE_SOURCES__GITHUB__ENABLED": "false",
            "ERRORACLE_TRAIN__BATCH_SIZE": str(args.batch_size),
            "ERRORACLE_TRAIN__MAX_STEPS": str(steps),
            "ERRORACLE_TRAIN__CHECKPOINT_EVERY": str(steps),
            "ERRORACLE_TRAIN__CPUS_PER_WORKER": "2", "ERRORACLE_TRAIN__USE_TUNED": "false",
            "ERRORACLE_LOOP__MIN_NEW_RECORDS": "1",
        }
        config = load_config(None, data_root=folder, environ=environ)
        prepare = RecordPreparer()
        with ParquetErrorStore(folder, background=False) as store:
            seed_lake(store, prepare)
            # Loghub has 16,000 lines: take enough of them for 10,000 records after the crawl.
            room = RECORDS - 308 - 2 * len(site.questions)
            store.append([prepare(r) for r in loghub_records()[:room]])
            store.append([prepare({**r, "id": f"{r['id']}-earlier"}) for r in so_records()])
            store.flush()
            started = time.perf_counter()
            champion = bootstrap(config, store, Registry(folder))
            bootstrap_seconds = time.perf_counter() - started
        print(f"lake ready, {champion} bootstrapped in {bootstrap_seconds:.0f} s; the round:")
        entry = Conductor(config, say=print).run_round("benchmark")
    ray.shutdown()
    stages = {name: stage["seconds"] for name, stage in entry["stages"].items()}
    results = {
        "records": sum(entry["lake"].values()), "lake": entry["lake"],
        "crawled": entry["stages"]["crawl"]["sources"]["stackoverflow"],
        "steps": steps, "batch_size": args.batch_size,
        "stage_seconds": stages, "round_seconds": entry["seconds"],
        "samples_per_s": entry["stages"].get("train", {}).get("samples_per_s"),
        "decision": entry["decision"], "why": entry["why"],
        "bootstrap_seconds": round(bootstrap_seconds, 1),
        "target_seconds": 900, "met": entry["seconds"] <= 900,
    }
    for name, seconds in stages.items():
        print(f"  {name:<9}{seconds:>8.1f} s")
    print(f"round on {results['records']:,} records: {entry['seconds']:.0f} s "
          f"(target 900 s: {'met' if results['met'] else 'missed'}); {entry['decision']}")
    write("loop_round", results)


if __name__ == "__main__":
    main()
