"""Ingest throughput over HTTP: events/s into the lake through POST /api/v1/learning/errors in
batches of 100, each answered only after the durable (fsynced) write.

The events are real Loghub log lines (app errors). Usage:
``python benchmarks/serve_ingest.py [--batches N] [--batch-size 100] [--clients 8]
[--ingress-replicas 2] [--serve-proxy]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _lakes import loghub_records
from _report import write
from _serving import bootstrapped_lake, free_port, load, start_erroracle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--ingress-replicas", type=int, default=1)
    parser.add_argument("--serve-proxy", action="store_true",
                        help="Ray Serve's Python proxy instead of HAProxy (high_throughput off)")
    args = parser.parse_args()
    events = [{"error_message": r["message"], "service": r.get("service")}
              for r in loghub_records()]
    with tempfile.TemporaryDirectory() as folder:
        config = bootstrapped_lake(Path(folder) / "lake", {
            "port": free_port(), "rate_limit_per_minute": 10_000_000,
            "max_batch_records": args.batch_size, "ingress_replicas": args.ingress_replicas,
            "high_throughput": not args.serve_proxy,
        })
        url = start_erroracle(config) + "/api/v1/learning/errors"
        results = {}
        for clients in args.clients:
            bodies = [{"errors": [events[(b * args.batch_size + i) % len(events)]
                                  for i in range(args.batch_size)]} for b in range(args.batches)]
            load(url, bodies[: clients * 2], clients)  # warm up
            summary = load(url, bodies, clients).summary()
            summary["events_per_s"] = round(summary["requests_per_s"] * args.batch_size)
            results[f"{clients} clients"] = summary
            print(f"{clients:>3} clients  {summary['events_per_s']:>8,} events/s  "
                  f"p50 {summary['p50_ms']:>6.1f} ms  p99 {summary['p99_ms']:>6.1f} ms  "
                  f"failures {summary['failures']}")
    name = "serve_ingest" + ("_serve_proxy" if args.serve_proxy else "") + (
        f"_{args.ingress_replicas}_ingress" if args.ingress_replicas > 1 else "")
    write(name, {"settings": vars(args), "results": results})


if __name__ == "__main__":
    main()
