"""What erroracle.client costs the app that embeds it.

1. ``capture_exception()`` on the calling thread: p50/p99 over paced captures of a realistic
   exception (8 frames deep, a message with an email and a URL to scrub), with the platform up (a
   local endpoint answering 202) and down (a refused port).
2. The ASGI middleware on a trivial FastAPI app, called in-process (no network, so the app's own
   time is as small as it gets and the middleware's share as large as it gets): time per healthy
   request without and with the middleware, platform up and down, rounds interleaved.

Usage: python benchmarks/client_overhead.py [--captures 5000] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _report import percentile, write
from _serving import free_port

import erroracle.client
from erroracle.client import ErroracleASGIMiddleware, Options, Reporter


class _Accepting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        return


def _platform_up() -> tuple[str, ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def _deep(depth: int) -> None:
    if depth == 0:
        raise ConnectionError("payment for bob@example.com via https://api.pay.io/v1 timed out "
                              "after 30s (pool 7/10)")
    _deep(depth - 1)


def capture_latency(endpoint: str, captures: int, rate: float) -> dict[str, float]:
    reporter = Reporter(Options(endpoint, "bench", service="bench", max_retries=1))
    samples = []
    started = time.perf_counter()
    for index in range(captures):
        try:
            _deep(8)
        except ConnectionError as error:
            begin = time.perf_counter_ns()
            reporter.capture_exception(error)
            samples.append((time.perf_counter_ns() - begin) / 1e6)
        pause = started + (index + 1) / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    reporter.flush(10)
    stats = reporter.stats()
    reporter.close(0.5)
    return {"p50_ms": round(percentile(samples, 50), 4),
            "p99_ms": round(percentile(samples, 99), 4), "max_ms": round(max(samples), 3),
            "captured": stats["captured"],
            "sent": stats["sent"], "dropped": sum(stats["dropped"].values())}


def _trivial_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> PlainTextResponse:
        return PlainTextResponse("pong")

    return app


async def _time_requests(app: Any, count: int) -> float:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/ping", "raw_path": b"/ping", "root_path": "",
             "query_string": b"", "headers": [(b"host", b"bench")], "server": ("bench", 80),
             "client": ("127.0.0.1", 1)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    begin = time.perf_counter()
    for _ in range(count):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - begin) / count * 1e6


def middleware_overhead(endpoint: str, requests: int, rounds: int = 7) -> dict[str, float]:
    erroracle.client.init(endpoint, "bench", excepthooks=False)
    bare = _trivial_app()
    wrapped = _trivial_app()
    wrapped.add_middleware(ErroracleASGIMiddleware)
    bare_us, wrapped_us = [], []
    asyncio.run(_time_requests(wrapped, 500))  # build the middleware stacks, warm up
    asyncio.run(_time_requests(bare, 500))
    for _ in range(rounds):
        bare_us.append(asyncio.run(_time_requests(bare, requests)))
        wrapped_us.append(asyncio.run(_time_requests(wrapped, requests)))
    erroracle.client.close(0.5)
    bare_median, wrapped_median = statistics.median(bare_us), statistics.median(wrapped_us)
    return {"bare_us_per_request": round(bare_median, 2),
            "with_middleware_us_per_request": round(wrapped_median, 2),
            "overhead_pct": round((wrapped_median / bare_median - 1) * 100, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=1000.0, help="captures per second")
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    up, server = _platform_up()
    down = f"http://127.0.0.1:{free_port()}"
    results: dict[str, Any] = {"captures": args.captures, "capture_rate": args.rate,
                               "requests_per_round": args.requests}
    for state, endpoint in (("up", up), ("down", down)):
        capture = capture_latency(endpoint, args.captures, args.rate)
        asgi = middleware_overhead(endpoint, args.requests)
        results[f"platform_{state}"] = {"capture": capture, "asgi_middleware": asgi}
        print(f"platform {state:4}  capture p50 {capture['p50_ms']:.3f} ms  "
              f"p99 {capture['p99_ms']:.3f} ms  max {capture['max_ms']:.2f} ms  "
              f"(sent {capture['sent']}, dropped {capture['dropped']})  |  ASGI "
              f"{asgi['bare_us_per_request']:.1f} -> {asgi['with_middleware_us_per_request']:.1f}"
              f" us/request ({asgi['overhead_pct']:+.2f} %)")
    server.shutdown()
    write("client_overhead", results)


if __name__ == "__main__":
    main()
