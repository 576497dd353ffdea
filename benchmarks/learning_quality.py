"""Fix suggestions through the product's HTTP API, beside the plain encoder, on Stack Overflow.

The lake holds the knowledge base and the shared Stack Overflow sample, ingested as the crawler
prepares records: each question with its body and its answer, but without its title. The title is
the query, the way a user describes a problem in one line. The debugging questions (a title that
names a failure) are each asked through ``GET /api/v1/learning/suggest-fix`` with ``top_k=10``;
the question's own record must come back. Reported: recall@1, recall@5 and MRR@10.

Half of the questions (by a hash of the id) is ``tune``: settings were chosen on it. The other
half is ``check``, reported separately and not looked at while choosing.

Runs, each a fresh Serve app on the same lake:
- the bootstrap model (the plain encoder with fitted heads) with fixes indexed at 64 tokens and
  at 256 (the shipped ``model.index_max_length``), and at 256 quantised to int8
  (``serve.quantize``), to show what the faster runtime costs;
- one training round from it, served at the shipped lengths; it is measured on the questions of
  the round's validation split only (never trained on), and so are the others in that column;
- the same round without the BM25-mined hard negatives (``train.mine_negatives: false``), to show
  what they add: both rounds report the offline retrieval of their held-out split (every
  validation error against all validation solutions), and only the shipped one is served;
- the plain all-MiniLM-L6-v2 by cosine, outside the product: the title at 64 tokens against the
  body and answer at 256, the best plain setting the issue measured.

Usage: python benchmarks/learning_quality.py [--steps 150] [--index-lengths 64,256]
[--no-rounds]; ``--no-rounds`` stops after the bootstrap rows and writes them to
``learning_quality_bootstrap.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lakes import so_records  # noqa: E402
from _report import write  # noqa: E402
from _serving import HEADERS, free_port, start_erroracle  # noqa: E402

DEBUGGING = re.compile(
    r"\b(error|errors|exception|crash|crashes|fail|fails|failed|failing|warning|traceback|"
    r"segfault|not working|doesn't work|does not work|cannot|can't|unable|broken|problem|"
    r"issue)\b", re.IGNORECASE)
TOP_K = 10


def half(record_id: str) -> str:
    return "tune" if hashlib.blake2b(record_id.encode(), digest_size=4).digest()[0] % 2 == 0 \
        else "check"


def metrics(ranks: dict[str, int], ids: list[str]) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10 over ``ids``; a rank of TOP_K or more is a miss."""
    found = np.array([ranks[i] for i in ids])
    return {
        "questions": len(ids),
        "recall_at_1": round(float(np.mean(found < 1)), 3),
        "recall_at_5": round(float(np.mean(found < 5)), 3),
        "mrr_at_10": round(float(np.mean(np.where(found < 10, 1 / (found + 1), 0.0))), 3),
    }


def by_half(ranks: dict[str, int], ids: list[str]) -> dict[str, dict[str, float]]:
    return {part: metrics(ranks, [i for i in ids if half(i) == part])
            for part in ("tune", "check")}


def build_lake(folder: str, config) -> tuple[dict[str, str], Any]:
    """The knowledge base and the sample without titles; returns {id: title} of the questions."""
    from erroracle.client.scrubber import Scrubber
    from erroracle.knowledge import seed_lake
    from erroracle.platform.lake import open_store
    from erroracle.platform.prepare import RecordPreparer

    prepare = RecordPreparer(Scrubber())
    records = [r for r in so_records() if r["solution"]]
    titles = {r["id"]: r["title"] for r in records if DEBUGGING.search(r["title"])}
    store = open_store(config, background=False)
    seed_lake(store, prepare)
    store.append([prepare({**r, "title": ""}) for r in records])
    store.flush()
    return titles, store


def ranks_through_api(config, titles: dict[str, str]) -> dict[str, int]:
    """Each title asked through the running app; the rank of its own question (TOP_K: absent)."""
    import ray
    from ray import serve

    url = start_erroracle(config)
    ranks = {}
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        for record_id, title in titles.items():
            answer = client.get("/api/v1/learning/suggest-fix",
                                params={"error_message": title, "top_k": TOP_K})
            answer.raise_for_status()
            found = [s["id"] for s in answer.json()["suggestions"]]
            ranks[record_id] = found.index(record_id) if record_id in found else TOP_K
    serve.shutdown()
    ray.shutdown()
    return ranks


def plain_ranks(store, titles: dict[str, str]) -> dict[str, int]:
    """The bundled encoder alone: title at 64 tokens against body + answer at 256, by cosine."""
    from erroracle.learners.model import LabelSpace, new_model

    model = new_model(None, LabelSpace(("a",), ("b",)), dropout=0.0, max_length=64)
    table = store.read_table(columns=["id", "body", "solution"]).to_pylist()
    ids = [row["id"] for row in table]
    documents = model.encode([f"{row['body'] or ''}\n{row['solution'] or ''}" for row in table],
                             max_length=256).embedding.numpy()
    queries = model.encode(list(titles.values())).embedding.numpy()
    scores = queries @ documents.T
    ranks = {}
    for row, record_id in enumerate(titles):
        own = scores[row, ids.index(record_id)]
        ranks[record_id] = min(TOP_K, int((scores[row] > own).sum()))
    return ranks


def held_out(store, config, ids: list[str]) -> list[str]:
    """The questions in the training round's validation split (split by issue)."""
    from erroracle.platform.record_text import in_validation

    table = store.read_table(columns=["id", "fingerprint"])
    issues = store.issue_map(table["fingerprint"])
    fingerprints = dict(zip(table["id"].to_pylist(), table["fingerprint"].to_pylist(),
                            strict=True))
    fraction, seed = config.train.validation_fraction, config.train.seed
    return [i for i in ids
            if in_validation(issues.get(fingerprints[i], fingerprints[i]), fraction, seed)]


def train_one_round(config, store, registry, steps: int) -> dict[str, Any]:
    """A round from the bootstrap champion, registered but not promoted."""
    import ray
    from ray.data import DataContext

    from erroracle.learners.round import run_round

    ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
    DataContext.get_current().enable_progress_bars = False
    result = run_round(config, store, registry, promote=False, overrides={
        "max_steps": steps, "checkpoint_every": steps, "max_epochs": 1000.0})
    ray.shutdown()
    return {"version": result.version, "decision": result.decision.reason,
            "would_promote": result.decision.promote,
            "train_seconds": round(result.train_seconds, 1),
            "training_negatives": result.lineage["training_negatives"],
            "offline_candidate": result.candidate, "offline_champion": result.champion}


def serve_round(config, registry, round_: dict[str, Any], titles: dict[str, str]):
    """The round's model served, whatever the promotion rule said, and asked every title."""
    registry.promote(round_["version"], reason="benchmark: served whatever the rule decided")
    return ranks_through_api(config, titles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--index-lengths", default="64,256")
    parser.add_argument("--no-rounds", action="store_true",
                        help="only the bootstrap rows (fp32 and int8), written to "
                             "learning_quality_bootstrap.json")
    args = parser.parse_args()

    from erroracle.learners.bootstrap import bootstrap
    from erroracle.platform.config import load_config
    from erroracle.platform.registry import Registry

    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        def config_for(index_length: int | None = None, **environ: str):
            environ["ERRORACLE_SERVE__PORT"] = str(port)
            if index_length:
                environ["ERRORACLE_MODEL__INDEX_MAX_LENGTH"] = str(index_length)
            return load_config(None, data_root=folder, environ=environ)

        config = config_for()
        titles, store = build_lake(folder, config)
        ids = list(titles)
        registry = Registry(config.data_root)
        bootstrap(config, store, registry)
        lake_size = sum(store.counts_by_source().values())
        print(f"{len(ids)} debugging questions; {lake_size} records in the lake", flush=True)
        runs: dict[str, dict[str, int]] = {"plain encoder": plain_ranks(store, titles)}
        for length in (int(n) for n in args.index_lengths.split(",")):
            runs[f"bootstrap, index {length}"] = ranks_through_api(config_for(length), titles)
            print(f"bootstrap, index {length}: {by_half(runs[f'bootstrap, index {length}'], ids)}",
                  flush=True)
        int8 = f"bootstrap, index {config.model.index_max_length}, int8 (serve.quantize)"
        runs[int8] = ranks_through_api(config_for(ERRORACLE_SERVE__QUANTIZE="true"), titles)
        print(f"{int8}: {by_half(runs[int8], ids)}", flush=True)
        if args.no_rounds:
            store.close()
            write("learning_quality_bootstrap", {
                "questions": len(ids), "top_k": TOP_K,
                "by_half": {name: by_half(ranks, ids) for name, ranks in runs.items()},
                "all": {name: metrics(ranks, ids) for name, ranks in runs.items()}})
            return
        plain_round = config_for(ERRORACLE_TRAIN__MINE_NEGATIVES="false")
        rounds = {"trained, no mined negatives":
                  train_one_round(plain_round, store, registry, args.steps),
                  "trained, shipped": train_one_round(config, store, registry, args.steps)}
        runs["trained, shipped"] = serve_round(config, registry, rounds["trained, shipped"],
                                               titles)
        unseen = held_out(store, config, ids)
        store.close()

    table = {name: by_half(ranks, ids) for name, ranks in runs.items() if "trained" not in name}
    never_trained_on = {name: metrics(ranks, unseen) for name, ranks in runs.items()}
    print(f"{'run':<28}{'half':>7}{'n':>5}{'R@1':>7}{'R@5':>7}{'MRR@10':>8}")
    for name, halves in table.items():
        for part, row in halves.items():
            print(f"{name:<28}{part:>7}{row['questions']:>5}{row['recall_at_1']:>7.3f}"
                  f"{row['recall_at_5']:>7.3f}{row['mrr_at_10']:>8.3f}")
    print(f"on the {len(unseen)} questions the round never trained on:")
    for name, row in never_trained_on.items():
        print(f"{name:<28}{row['recall_at_1']:>7.3f}{row['recall_at_5']:>7.3f}"
              f"{row['mrr_at_10']:>8.3f}")
    print(f"{'offline, held-out split':<28}{'R@5':>7}{'MRR@10':>8}")
    for name, round_ in [("bootstrap", {"offline_candidate": next(iter(rounds.values()))[
            "offline_champion"]}), *rounds.items()]:
        offline = round_["offline_candidate"]
        print(f"{name:<28}{offline['recall_at_5']:>7.3f}{offline['mrr_at_10']:>8.3f}")
    for name, round_ in rounds.items():
        print(f"{name}: {round_['decision']}")
    write("learning_quality", {
        "questions": len(ids), "top_k": TOP_K, "steps": args.steps, "by_half": table,
        "never_trained_on": never_trained_on, "rounds": rounds,
    })


if __name__ == "__main__":
    main()
