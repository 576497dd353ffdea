"""Serve's high-throughput mode: HAProxy in front of the ingress replicas, which then serve HTTP
themselves (direct ingress), and gRPC between the ingress and the model deployment.

Ray reads these switches from the environment when each of its processes starts, so they must be
set before Ray starts: an embedded Ray hands the driver's environment to its workers, and a
cluster sets them on its ``ray start`` lines (``cluster.yaml``). This module imports nothing from
Ray, so that calling :func:`enable` comes before Serve reads its constants.

On 2 cores the Python proxy of Ray Serve is the ceiling: an echo deployment behind it answers
about 250 requests/s, behind HAProxy about 2,400 (``benchmarks/serve_predict.py`` measures the
real app both ways).
"""

from __future__ import annotations

import os

from erroracle.platform.config import Config

__all__ = ["SWITCHES", "enable"]

SWITCHES = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    # An ingress replica that stops waits this long for the load balancer to stop sending to it;
    # Ray's default (30 s) is for cloud load balancers, HAProxy here learns of it at once.
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "3",
}


def enable(config: Config) -> dict[str, str]:
    """Put the switches in this process's environment (values already set win) when
    ``serve.high_throughput`` is on; returns what is in force, for a ``ray start`` line."""
    if not config.serve.high_throughput:
        return {}
    for name, value in SWITCHES.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in SWITCHES}
