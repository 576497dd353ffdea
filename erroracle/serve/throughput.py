"""Serve's high-throughput mode: HAProxy in front of the ingress replicas, which then serve HTTP
themselves (direct ingress), and gRPC between the ingress and the model deployment.

Ray reads these switches from the environment when each of its processes starts, so they must be
set before Ray starts: an embedded Ray hands the driver's environment to its workers, and a
cluster sets them on its ``ray start`` lines (``cluster.yaml``). This module imports nothing from
Ray, so that calling :func:`enable` comes before Serve reads its constants.

HAProxy's own listeners (stats and Prometheus) get ports of this installation
(``serve.haproxy_stats_port`` / ``serve.haproxy_metrics_port``, or free ones picked at start) and
are bound to loopback by :mod:`erroracle.serve.haproxy_launcher`, which Ray runs as its HAProxy
binary; so two installations run side by side and none faces every interface.

On 2 cores the Python proxy of Ray Serve is the ceiling: an echo deployment behind it answers
about 250 requests/s, behind HAProxy about 2,400 (``benchmarks/serve_predict.py`` measures the
real app both ways).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from erroracle.errors import ConfigError
from erroracle.platform.config import Config

__all__ = ["SWITCHES", "enable", "free_port"]

SWITCHES = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    # An ingress replica that stops waits this long for the load balancer to stop sending to it;
    # Ray's default (30 s) is for cloud load balancers, HAProxy here learns of it at once.
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "3",
}


_LAUNCHER = "erroracle-haproxy"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _launcher() -> str:
    """The ``erroracle-haproxy`` script of this installation (beside the running Python)."""
    beside = Path(sys.executable).with_name(_LAUNCHER)
    found = str(beside) if beside.is_file() else shutil.which(_LAUNCHER)
    if not found:
        raise ConfigError(f"serve.high_throughput: the {_LAUNCHER} script is not installed "
                          "(reinstall erroracle, or set serve.high_throughput: false)")
    return found


def enable(config: Config) -> dict[str, str]:
    """Put the switches in this process's environment (values already set win) when
    ``serve.high_throughput`` is on; returns what is in force, for a ``ray start`` line."""
    if not config.serve.high_throughput:
        return {}
    settings = config.serve
    wanted = {
        **SWITCHES,
        "RAY_SERVE_HAPROXY_BINARY_PATH": _launcher(),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(settings.haproxy_stats_port or free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(settings.haproxy_metrics_port or free_port()),
    }
    for name, value in wanted.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in wanted}
