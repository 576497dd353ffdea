"""Shared by the serving benchmarks: a bootstrapped lake, the real Serve app, a load generator."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from _report import percentile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

KEY = "bench-admin-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bootstrapped_lake(root: Path, overrides: dict[str, Any]):
    """A lake with the knowledge base and the bootstrapped model v0001; returns its config."""
    from erroracle.knowledge import seed_lake
    from erroracle.learners.bootstrap import bootstrap
    from erroracle.platform.config import load_config
    from erroracle.platform.lake import open_store
    from erroracle.platform.prepare import RecordPreparer
    from erroracle.platform.registry import Registry

    environ = {f"ERRORACLE_SERVE__{k.upper()}": str(v) for k, v in overrides.items()}
    config = load_config(None, data_root=str(root), environ=environ)
    registry = Registry(config.data_root)
    if registry.champion() is None:
        with open_store(config, background=False) as store:
            seed_lake(store, RecordPreparer())
            store.flush()
            bootstrap(config, store, registry)
    return config


def start_erroracle(config, ready_timeout: float = 300) -> str:
    """Ray, then the Serve app; returns the base URL once the model is loaded."""
    from erroracle.serve.throughput import enable

    enable(config)
    import ray

    from erroracle.serve.app import deploy

    os.environ["ERRORACLE_ADMIN_KEY"] = KEY
    ray.init(log_to_driver=False, configure_logging=False)
    deploy(config)
    url = f"http://127.0.0.1:{config.serve.port}"
    wait_ready(url, ready_timeout)
    return url


def wait_ready(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).json().get("ready"):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} never became ready")
        time.sleep(0.5)


@dataclass
class Load:
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    def summary(self) -> dict[str, float]:
        return {
            "requests": self.requests, "failures": self.failures,
            "requests_per_s": round(self.requests / self.seconds, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 1),
        }


async def _load(url: str, bodies: list[Any], concurrency: int) -> Load:
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:

        async def client() -> None:
            nonlocal failures
            for body in queue:
                started = time.perf_counter()
                async with session.post(url, json=body) as answer:
                    await answer.read()
                    failures += answer.status >= 300
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Load(len(bodies), seconds, latencies, failures)


def load(url: str, bodies: list[Any], concurrency: int) -> Load:
    """POST every body, ``concurrency`` clients at a time."""
    return asyncio.run(_load(url, bodies, concurrency))
