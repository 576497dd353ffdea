"""Predict throughput and latency: erroracle on Ray Serve beside a naive single-process server,
and beside the bare encoder loop, the limit of this machine.

All three run the bootstrapped bundled model here, in this script. Unique messages have real
lengths: the Stack Overflow sample's titles, the first lines of its error texts and its bodies
(cut at 256 tokens), in turn, each text once, so no fingerprint repeats and no cache can help.
Repeated messages cycle through 20 of them. Reported per workload and number of clients: req/s,
the tokens/s the encoder read (a query is encoded at ``model.max_length`` tokens), p50 and p99.
The bare loop is ``ErrorModel.encode`` on the same unique texts in batches of ``--batch-size``,
in one process, with the same runtime (int8 with ``--quantize``).

Usage: ``python benchmarks/serve_predict.py [--requests N] [--quantize]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _lakes import so_records
from _report import write
from _serving import bootstrapped_lake, free_port, load, start_erroracle, wait_ready

CONCURRENCY = (1, 16, 64)
_BODY_TOKENS = 256


def workloads(requests: int, tokenizer) -> dict[str, list[dict]]:
    from erroracle.platform.record_text import error_text

    def cut(text: str) -> str:
        ids = tokenizer(text, truncation=True, max_length=_BODY_TOKENS,
                        add_special_tokens=False)["input_ids"]
        return tokenizer.decode(ids)

    kinds = []
    for record in so_records():
        kinds += [record["title"], error_text(record).split("\n")[0], cut(record["body"] or "")]
    texts = [text for text in dict.fromkeys(kinds) if text.strip()]
    unique = [{"error_message": text} for text in texts[: requests * len(CONCURRENCY)]]
    repeated = [{"error_message": text} for text in texts[:20]]
    return {"unique": unique, "repeated": repeated}


def encoded_tokens(tokenizer, bodies: list[dict], max_length: int) -> float:
    """The mean number of tokens the encoder reads for these messages."""
    lengths = [len(ids) for ids in tokenizer([b["error_message"] for b in bodies],
                                             truncation=True, max_length=max_length)["input_ids"]]
    return sum(lengths) / max(1, len(lengths))


def bare_loop(model_dir: Path, texts: list[str], batch_size: int, quantize: bool) -> dict:
    """The encoder alone, in this process: the most the server could get out of the model."""
    import torch

    from erroracle.learners.model import load_model
    from erroracle.serve.model_server import quantized

    torch.set_num_threads(os.cpu_count() or 1)
    model = load_model(model_dir)
    model.eval()
    if quantize:
        model = quantized(model)
    model.encode(texts[:batch_size], batch_size)  # warm up
    started = time.perf_counter()
    for begin in range(0, len(texts), batch_size):
        model.encode(texts[begin:begin + batch_size], batch_size)
    seconds = time.perf_counter() - started
    return {"texts": len(texts), "texts_per_s": round(len(texts) / seconds, 1)}


def measure(url: str, loads: dict[str, list[dict]], requests: int,
            tokens: dict[str, float]) -> dict:
    results = {}
    for kind, bodies in loads.items():
        for number, concurrency in enumerate(CONCURRENCY):
            if kind == "unique":
                batch = bodies[number * requests : (number + 1) * requests]
            else:
                batch = [bodies[i % len(bodies)] for i in range(requests)]
            load(url, batch[: max(concurrency, 8)], concurrency)  # warm up
            summary = load(url, batch, concurrency).summary()
            summary["tokens_per_s"] = round(summary["requests_per_s"] * tokens[kind], 1)
            results[f"{kind}@{concurrency}"] = summary
            print(f"  {kind:<9} {concurrency:>3} clients  {summary['requests_per_s']:>8.1f} req/s"
                  f"  p50 {summary['p50_ms']:>7.1f} ms  p99 {summary['p99_ms']:>7.1f} ms"
                  f"  failures {summary['failures']}")
    return results


def naive(model_dir: Path, loads: dict, requests: int, tokens: dict[str, float]) -> dict:
    port = free_port()
    env = {**os.environ, "ERRORACLE_NAIVE_MODEL": str(model_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "_naive_server:app", "--port", str(port),
         "--log-level", "warning"], cwd=Path(__file__).parent, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        return measure(f"{url}/api/v1/learning/predict", loads, requests, tokens)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches-in-flight", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--model-cpus", type=float, default=1.0)
    parser.add_argument("--serve-proxy", action="store_true",
                        help="Ray Serve's Python proxy instead of HAProxy (high_throughput off)")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from erroracle.learners.model import base_encoder_path
    from erroracle.platform.config import load_config

    max_length = load_config(None, environ={}).model.max_length
    tokenizer = AutoTokenizer.from_pretrained(base_encoder_path(None), local_files_only=True)
    loads = workloads(args.requests, tokenizer)
    tokens = {kind: encoded_tokens(tokenizer, bodies, max_length)
              for kind, bodies in loads.items()}
    print("tokens a message: " + ", ".join(f"{k} {v:.1f}" for k, v in tokens.items())
          + f" (encoded at most {max_length})")
    with tempfile.TemporaryDirectory() as folder:
        config = bootstrapped_lake(Path(folder) / "lake", {
            "port": free_port(), "quantize": args.quantize, "batch_wait_ms": args.batch_wait_ms,
            "batch_max_size": args.batch_size, "rate_limit_per_minute": 10_000_000,
            "model_cpus": args.model_cpus, "replicas": args.replicas,
            "batches_in_flight": args.batches_in_flight, "high_throughput": not args.serve_proxy,
        })
        from erroracle.platform.registry import Registry

        model_dir = Registry(config.data_root).local_path("v0001")
        print("naive: FastAPI, one process, the model once per request")
        bare = bare_loop(model_dir, [b["error_message"] for b in loads["unique"]],
                         args.batch_size, args.quantize)
        bare["tokens_per_s"] = round(bare["texts_per_s"] * tokens["unique"], 1)
        print(f"bare encoder loop: {bare['texts_per_s']} texts/s")
        baseline = naive(model_dir, loads, args.requests, tokens)
        print(f"erroracle: Ray Serve behind {'its proxy' if args.serve_proxy else 'HAProxy'}, "
              f"batched (size {args.batch_size}, wait {args.batch_wait_ms} ms, "
              f"{args.batches_in_flight} in flight), cached, quantized={args.quantize}, "
              f"{args.replicas} model replica(s) of {args.model_cpus} CPUs")
        url = start_erroracle(config)
        ours = measure(f"{url}/api/v1/learning/predict", loads, args.requests, tokens)
    ratios = {key: round(ours[key]["requests_per_s"] / baseline[key]["requests_per_s"], 2)
              for key in ours}
    print("speed-up (requests/s, erroracle / naive):",
          ", ".join(f"{key} {value}x" for key, value in ratios.items()))
    name = "serve_predict_" + ("int8" if args.quantize else "fp32") + (
        "_serve_proxy" if args.serve_proxy else "")
    in_server = round(ours["unique@16"]["requests_per_s"] / bare["texts_per_s"], 3)
    print(f"erroracle at 16 clients reads {in_server:.0%} of what the bare loop reads")
    write(name, {"settings": vars(args), "tokens_per_message": tokens, "bare_loop": bare,
                 "naive": baseline, "erroracle": ours, "speedup": ratios,
                 "erroracle_unique_16_over_bare_loop": in_server})


if __name__ == "__main__":
    main()
