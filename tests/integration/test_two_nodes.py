"""Several nodes, for real, on one machine: a head and a second Ray node (``ray start``) on
loopback, ``erroracle up --address`` against them, and training workers and Serve replicas placed
on both nodes, all reading and writing the one lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from erroracle.serve.throughput import SWITCHES
from tests.conftest import ERRORACLE
from tests.integration.serving import free_port
from tests.integration.test_up_e2e import KEY, Up, _ready, rounds

pytestmark = [pytest.mark.ray, pytest.mark.slow]
RAY = str(Path(sys.executable).with_name("ray"))


@pytest.fixture
def cluster() -> str:
    """A head node and a second node, 4 CPUs each, joined with Ray's token authentication: room
    for two model replicas and an ingress (2.5 CPUs) beside two training workers of 2 CPUs."""
    port = free_port()
    launcher = str(Path(sys.executable).with_name("erroracle-haproxy"))
    env = {**os.environ, "RAY_AUTH_MODE": "token", **SWITCHES,  # as on cluster.yaml's lines
           "RAY_SERVE_HAPROXY_BINARY_PATH": launcher,
           "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
           "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port())}
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "4", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", "--port", str(port), *common], env=env,
                       check=True, capture_output=True, timeout=180)
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", *common], env=env,
                       check=True, capture_output=True, timeout=180)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=180)


def _actors(env: dict[str, str]) -> list[dict]:
    done = subprocess.run([RAY, "list", "actors", "--detail", "--format", "json", "--limit",
                           "10000"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.timeout(1200)
def test_up_places_training_and_serving_on_both_nodes(cluster: str, cli_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    port = free_port()
    env = {**cli_env, "RAY_AUTH_MODE": "token", "RAY_ADDRESS": cluster,
           "ERRORACLE_ADMIN_KEY": KEY, "ERRORACLE_SERVE__PORT": str(port),
           # two replicas and two SPREAD workers: one of each on each node is the point here
           "ERRORACLE_SERVE__REPLICAS": "2",
           "ERRORACLE_SOURCES__STACKOVERFLOW__ENABLED": "false",
           "ERRORACLE_SOURCES__REDDIT__ENABLED": "false",
           "ERRORACLE_SOURCES__GITHUB__ENABLED": "false",
           "ERRORACLE_LOOP__CRAWL_EVERY": "1h", "ERRORACLE_LOOP__TRAIN_EVERY": "0s",
           "ERRORACLE_LOOP__MIN_NEW_RECORDS": "0",
           "ERRORACLE_TRAIN__WORKERS": "2", "ERRORACLE_TRAIN__PLACEMENT_STRATEGY": "SPREAD",
           "ERRORACLE_TRAIN__BATCH_SIZE": "8", "ERRORACLE_TRAIN__MAX_STEPS": "2",
           "ERRORACLE_TRAIN__WARMUP_STEPS": "1", "ERRORACLE_TRAIN__CHECKPOINT_EVERY": "2"}
    up = Up({**env, "ERRORACLE_RAY__ADDRESS": cluster}, tmp_path / "up.log")
    try:
        up.wait_for("round 1 ended", 900)
        client = _ready(port)
        answer = client.post("/api/v1/learning/errors", headers={"Authorization": f"Bearer {KEY}"},
                             json={"errors": [{"error_message": "OSError: [Errno 28] No space "
                                               "left on device"}]})
        assert answer.status_code == 202, answer.text
        actors = _actors(env)
        client.close()
    finally:
        assert up.stop() == 0, up.output()[-3000:]
    nodes = {a["node_id"] for a in actors if a.get("node_id")}
    workers = {a["node_id"] for a in actors if a["class_name"] == "RayTrainWorker"}
    replicas = {a["node_id"] for a in actors if a["state"] == "ALIVE"
                and a["class_name"] == "ServeReplica:erroracle:model"}
    assert len(nodes) == 2, nodes
    assert workers == nodes, f"training workers on {workers}, nodes {nodes}"
    assert replicas == nodes, f"model replicas on {replicas}, nodes {nodes}"
    [entry] = rounds(env)
    assert entry["decision"] in ("promoted", "kept") and entry["metrics"]
    status = json.loads(subprocess.run([*ERRORACLE, "status", "--json"], env=env,
                                       capture_output=True, text=True, timeout=120).stdout)
    assert status["lake"]["by_source"]["app"] == 1  # reported through either node, one lake
