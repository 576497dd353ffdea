"""A real Serve app for the end-to-end tests: a bootstrapped lake, test keys, a local Ray with
the high-throughput switches, the app on a free port of 127.0.0.1; and a promotion under load."""

from __future__ import annotations

import json
import os
import random
import socket
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from erroracle.client.scrubber import Scrubber
from erroracle.knowledge import seed_lake
from erroracle.learners.bootstrap import bootstrap
from erroracle.platform.config import Config, load_config
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.registry import Registry
from erroracle.platform.resources import ResourcePlan
from erroracle.serve.auth import digest
from erroracle.serve.throughput import enable

LEARNING = "/api/v1/learning"
KEYS = {
    "admin": ["ingest", "read", "feedback", "admin"],
    "ingest": ["ingest"],
    "read": ["read"],
    "feedback": ["feedback"],
}
SLOW_KEY = "key-slow"  # read scope, one request a minute


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer key-{name}"}


def _write_keys(path: Path) -> None:
    entries = [{"name": name, "sha256": digest(f"key-{name}"), "scopes": scopes}
               for name, scopes in KEYS.items()]
    entries.append({"name": "slow", "sha256": digest(SLOW_KEY), "scopes": ["read"],
                    "rate_limit_per_minute": 1})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"keys": entries}))


@contextmanager
def running_app(root: Path, overrides: dict[str, Any]) -> Iterator[tuple[Config, httpx.Client]]:
    """The app on a bootstrapped lake at ``root``, with ``serve`` settings ``overrides``."""
    import ray
    from ray import serve

    from erroracle.serve.app import deploy

    port = free_port()
    settings = {**overrides, "port": port}
    environ = {f"ERRORACLE_SERVE__{k.upper()}": str(v) for k, v in settings.items()}
    config = load_config(None, data_root=str(root), environ=environ)
    _write_keys(root / "state" / "keys.json")
    with ParquetErrorStore(config.data_root, background=False) as store:
        seed_lake(store, RecordPreparer(Scrubber()))
        store.flush()
        bootstrap(config, store, Registry(config.data_root))
    before = set(os.environ)
    enable(config)  # the high-throughput switches and HAProxy's own ports, as `up` sets them
    plan = ResourcePlan.for_config(config, machine_cpus=os.cpu_count() or 1)  # as `up` declares
    ray.init(num_cpus=plan.ray_cpus, log_to_driver=False, configure_logging=False)
    try:
        deploy(config)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 180
            while not client.get("/healthz").json()["ready"]:
                assert time.monotonic() < deadline, "the model never became ready"
                time.sleep(0.5)
            yield config, client
        serve.shutdown()
    finally:
        ray.shutdown()
        for name in set(os.environ) - before:
            del os.environ[name]


def promote_under_load(config: Config, client: httpx.Client, streams: int = 3) -> None:
    """Promote a new champion while ``streams`` clients predict without pause; no request may
    fail, each client must see versions only move forward, and the new one must be served."""
    registry = Registry(config.data_root)
    stop = threading.Event()
    versions: list[tuple[int, str]] = []
    failures: list[tuple[int, str]] = []

    def stream(worker: int) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
            number = 0
            while not stop.is_set():
                number += 1
                message = f"ValueError: bad input {worker}-{number % 7}"
                if number % 3:  # most are new errors, which the cache cannot answer
                    word = "".join(random.choices(string.ascii_lowercase, k=10))
                    message = f"OSError: cannot read {word} from the volume"
                answer = own.post(f"{LEARNING}/predict", headers=auth("read"),
                                  json={"error_message": message})
                if answer.status_code != 200:
                    failures.append((answer.status_code, answer.text))
                else:
                    versions.append((worker, answer.json()["model_version"]))

    workers = [threading.Thread(target=stream, args=(n,)) for n in range(streams)]
    for worker in workers:
        worker.start()
    time.sleep(2)
    before = registry.champion()
    candidate = registry.register(registry.local_path(before), metrics={}, train_config={},
                                  lineage={"parent": before})
    registry.promote(candidate, reason="test: promotion under load")
    deadline = time.monotonic() + 120
    while not any(version == candidate for _, version in versions[-5:]):
        assert time.monotonic() < deadline, "the new champion was never served"
        time.sleep(0.5)
    time.sleep(1)
    stop.set()
    for worker in workers:
        worker.join()
    assert failures == [], failures[:3]
    for worker in range(streams):
        seen = [version for who, version in versions if who == worker]
        assert seen == sorted(seen), "a worker saw the version move backwards"
    assert {version for _, version in versions} == {before, candidate}
    assert client.get("/healthz").json()["model_version"] == candidate
