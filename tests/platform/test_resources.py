"""The resource plan: the defaults fit any machine of two or more cores, a plan that cannot fit
names the keys to change, and a wait for CPUs is bounded and ends on a stop request."""

from __future__ import annotations

import threading

import pytest

from erroracle.errors import ConfigError
from erroracle.platform.config import load_config
from erroracle.platform.resources import (
    ResourcePlan,
    ResourcesUnavailable,
    RoundCancelled,
    wait_for_cpus,
)


def _config(tmp_path, **overrides: str):
    environ = {f"ERRORACLE_{key.upper()}": value for key, value in overrides.items()}
    return load_config(None, data_root=str(tmp_path), environ=environ)


@pytest.mark.parametrize("cores", [2, 3, 4, 16, 64])
def test_the_defaults_fit_any_machine_of_two_or_more_cores(tmp_path, cores: int) -> None:
    plan = ResourcePlan.for_config(_config(tmp_path), machine_cpus=cores)
    plan.check()
    # one model replica (1 CPU) and one ingress replica (0.5) beside one training worker (2)
    assert plan.serve == 1.5 and plan.training == 2.0
    assert plan.ray_cpus == max(cores, 4) and plan.free >= 0.5


def test_the_plan_is_printed_with_who_holds_what(tmp_path) -> None:
    line = ResourcePlan.for_config(_config(tmp_path), machine_cpus=2).describe()
    assert line == ("4 CPUs on 2 cores: serve 1.5 (1 model × 1, 1 ingress × 0.5), training "
                    "round 2 (its data tasks, then 1 worker × 2), free 0.5")


def test_a_plan_that_cannot_fit_names_the_keys_to_change(tmp_path) -> None:
    pinned = _config(tmp_path, ray__num_cpus="3")
    with pytest.raises(ConfigError) as err:
        ResourcePlan.for_config(pinned, machine_cpus=16).check()
    message = str(err.value)
    assert "Serve 1.5 CPU + a training round 2 CPU > 3 CPU (ray.num_cpus)" in message
    for key in ("serve.replicas", "serve.model_cpus", "train.workers", "train.cpus_per_worker",
                "ray.num_cpus"):
        assert key in message


def test_a_joined_cluster_is_taken_as_it_is(tmp_path) -> None:
    config = _config(tmp_path, train__workers="4")
    plan = ResourcePlan.for_config(config, machine_cpus=2, cluster_cpus=32)
    assert plan.ray_cpus == 32 and not plan.embedded and plan.free == 32 - 1.5 - 8
    plan.check()
    with pytest.raises(ConfigError, match="the cluster's CPUs"):
        ResourcePlan.for_config(config, machine_cpus=2, cluster_cpus=8).check()


def test_a_wait_for_cpus_returns_once_they_are_free() -> None:
    free = iter([0.5, 0.5, 1.0])
    waited = wait_for_cpus(1.0, what="training", timeout=10, available=lambda: next(free))
    assert 0 < waited < 5


def test_a_wait_for_cpus_that_never_come_fails_with_the_reason() -> None:
    with pytest.raises(ResourcesUnavailable, match=r"training waited 1 s .* for 1 CPU; Ray had "
                                                   r"0.5 free"):
        wait_for_cpus(1.0, what="training", timeout=1.0, available=lambda: 0.5)


def test_a_stop_request_ends_the_wait_at_once() -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(RoundCancelled, match="stopped while training waited"):
        wait_for_cpus(1.0, what="training", timeout=600, cancel=stop, available=lambda: 0.0)
