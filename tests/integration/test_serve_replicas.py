"""Two model replicas swap to a new champion one after the other; the ingress still never lets a
client see the version move backwards (a replica that is behind catches up before it answers)."""

from __future__ import annotations

import pytest

from tests.integration.serving import promote_under_load, running_app

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    # Two model replicas of half a CPU: what this test is about (the swap across replicas); the
    # default, one replica of 1 CPU, is served in test_serve_ray and test_up_e2e.
    with running_app(tmp_path_factory.mktemp("replicas") / "lake", {
        "replicas": 2, "model_cpus": 0.5, "reload_poll_seconds": 1.5, "batch_wait_ms": 2,
    }) as running:
        yield running


def test_versions_only_move_forward_across_two_replicas(two_replicas):
    promote_under_load(*two_replicas, streams=4)
