"""cluster.yaml passes Ray's own cluster-config validation, and configs/cluster.yaml asks for
what the cluster has: the lake on object storage, GPU training across workers, Serve replicas."""

from __future__ import annotations

import yaml

from erroracle.platform.config import load_config
from erroracle.serve.throughput import SWITCHES
from tests.conftest import REPO


def test_cluster_yaml_passes_rays_validation() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((REPO / "cluster.yaml").read_text())
    validate_config(prepare_config(config))
    head = config["available_node_types"][config["head_node_type"]]
    gpu = [node for name, node in config["available_node_types"].items()
           if node.get("resources", {}).get("GPU")]
    assert "InstanceType" in head["node_config"] and not head["resources"].get("GPU")
    assert gpu and all(node["min_workers"] == 0 and node["max_workers"] >= 1 for node in gpu)
    setup = " ".join(config["setup_commands"])
    assert "torch==2.13.0" in setup and "pip install -e ." in setup
    ports = {p["FromPort"] for p in config["provider"]["security_group"]["IpPermissions"]}
    assert 8000 in ports
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = " ".join(config[key])
        assert all(f"{name}={value}" in start for name, value in SWITCHES.items()), key
        # HAProxy's stats and metrics listeners stay on loopback there too
        assert "RAY_SERVE_HAPROXY_BINARY_PATH=~/erroracle/.venv/bin/erroracle-haproxy" in start


def test_the_cluster_config_trains_on_gpus_over_object_storage() -> None:
    config = load_config(REPO / "configs" / "cluster.yaml", environ={})
    assert config.data_root.startswith("s3://") and config.ray.address == "auto"
    assert config.train.use_gpu and config.train.workers > 1
    assert config.serve.replicas > 1 and config.serve.host == "0.0.0.0"
