"""Predict throughput and latency: erroracle on Ray Serve beside a naive single-process server.

Both run the bootstrapped bundled model on this machine, in this script. Unique messages are
Stack Overflow error texts (each fingerprint once, so no cache can help); repeated messages cycle
through 20 of them. Usage: ``python benchmarks/serve_predict.py [--requests N] [--quantize]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _lakes import so_records
from _report import write
from _serving import bootstrapped_lake, free_port, load, start_erroracle, wait_ready

CONCURRENCY = (1, 16, 64)


def workloads(requests: int) -> dict[str, list[dict]]:
    from erroracle.platform.record_text import error_text

    texts = list(dict.fromkeys(error_text(r).split("\n")[0] for r in so_records()))
    unique = [{"error_message": text} for text in texts[: requests * len(CONCURRENCY)]]
    repeated = [{"error_message": text} for text in texts[:20]]
    return {"unique": unique, "repeated": repeated}


def measure(url: str, loads: dict[str, list[dict]], requests: int) -> dict:
    results = {}
    for kind, bodies in loads.items():
        for number, concurrency in enumerate(CONCURRENCY):
            if kind == "unique":
                batch = bodies[number * requests : (number + 1) * requests]
            else:
                batch = [bodies[i % len(bodies)] for i in range(requests)]
            load(url, batch[: max(concurrency, 8)], concurrency)  # warm up
            summary = load(url, batch, concurrency).summary()
            results[f"{kind}@{concurrency}"] = summary
            print(f"  {kind:<9} {concurrency:>3} clients  {summary['requests_per_s']:>8.1f} req/s"
                  f"  p50 {summary['p50_ms']:>7.1f} ms  p99 {summary['p99_ms']:>7.1f} ms"
                  f"  failures {summary['failures']}")
    return results


def naive(model_dir: Path, loads: dict, requests: int) -> dict:
    port = free_port()
    env = {**os.environ, "ERRORACLE_NAIVE_MODEL": str(model_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "_naive_server:app", "--port", str(port),
         "--log-level", "warning"], cwd=Path(__file__).parent, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        return measure(f"{url}/api/v1/learning/predict", loads, requests)
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
    loads = workloads(args.requests)
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
        baseline = naive(model_dir, loads, args.requests)
        print(f"erroracle: Ray Serve behind {'its proxy' if args.serve_proxy else 'HAProxy'}, "
              f"batched (size {args.batch_size}, wait {args.batch_wait_ms} ms, "
              f"{args.batches_in_flight} in flight), cached, quantized={args.quantize}, "
              f"{args.replicas} model replica(s) of {args.model_cpus} CPUs")
        url = start_erroracle(config)
        ours = measure(f"{url}/api/v1/learning/predict", loads, args.requests)
    ratios = {key: round(ours[key]["requests_per_s"] / baseline[key]["requests_per_s"], 2)
              for key in ours}
    print("speed-up (requests/s, erroracle / naive):",
          ", ".join(f"{key} {value}x" for key, value in ratios.items()))
    name = "serve_predict_" + ("int8" if args.quantize else "fp32") + (
        "_serve_proxy" if args.serve_proxy else "")
    write(name, {"settings": vars(args), "naive": baseline, "erroracle": ours,
                 "speedup": ratios})


if __name__ == "__main__":
    main()
