"""How Serve, the data pipeline and training share Ray's CPUs, decided once at start.

Ray schedules by *logical* CPUs: a task or actor waits until the CPUs it asks for are free, and
waits forever when they never will be. So the plan is arithmetic on the configuration:

* Serve holds its replicas' CPUs for as long as it runs;
* a training round first builds its data (Ray Data tasks of one CPU, at most the round's share
  at once), then trains (``train.workers`` × ``train.cpus_per_worker``); the two never overlap,
  so a round holds ``train.workers × train.cpus_per_worker`` CPUs beside Serve.

An embedded Ray declares at least what the plan needs, so the defaults fit any machine with two or
more cores (Serve is idle most of the time, so it shares the real cores with training). A joined
cluster is taken as it is: a plan that cannot fit its CPUs fails at start, naming the keys to
change; GPUs are left to the autoscaler. While a round runs, :func:`wait_for_cpus` bounds every
wait for resources by ``ray.resource_wait``, and a stop request ends the wait at once.

Example:
    >>> plan = ResourcePlan.for_config(load_config(None, environ={}), machine_cpus=2)
    >>> plan.ray_cpus, plan.serve, plan.training
    (4.0, 1.5, 2.0)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from erroracle.errors import ConfigError, TrainingError
from erroracle.platform.config import Config

__all__ = ["ResourcePlan", "ResourcesUnavailable", "RoundCancelled", "wait_for_cpus"]

_POLL_S = 0.5


class ResourcesUnavailable(TrainingError):
    """A stage waited longer than ``ray.resource_wait`` for CPUs that did not come free."""


class RoundCancelled(TrainingError):
    """A stop was asked for while a stage waited for resources."""


@dataclass(frozen=True)
class ResourcePlan:
    """The CPUs each part of erroracle reserves on one Ray, in Ray's logical CPUs."""

    ray_cpus: float      # what Ray has (an embedded Ray declares this many)
    machine_cpus: int    # real cores of this machine
    embedded: bool       # True when erroracle started Ray itself
    model: float         # model replicas × serve.model_cpus
    ingress: float       # ingress replicas × serve.ingress_cpus
    training: float      # train.workers × train.cpus_per_worker
    config: Config

    @classmethod
    def for_config(cls, config: Config, *, machine_cpus: int,
                   cluster_cpus: float | None = None) -> ResourcePlan:
        """The plan for ``config``; ``cluster_cpus`` is a joined cluster's total, None for an
        embedded Ray (which then declares :attr:`needed`, or ``ray.num_cpus`` when set)."""
        serve, train = config.serve, config.train
        model = serve.replicas * serve.model_cpus
        ingress = serve.ingress_replicas * serve.ingress_cpus
        training = float(train.workers * train.cpus_per_worker)
        embedded = cluster_cpus is None
        if embedded:
            needed = math.ceil(model + ingress + training)
            ray_cpus = float(config.ray.num_cpus or max(machine_cpus, needed))
        else:
            ray_cpus = float(cluster_cpus)
        return cls(ray_cpus, machine_cpus, embedded, model, ingress, training, config)

    @property
    def serve(self) -> float:
        return self.model + self.ingress

    @property
    def free(self) -> float:
        return self.ray_cpus - self.serve - self.training

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the keys to change when the plan cannot fit."""
        if self.free >= -1e-9:
            return
        where = ("ray.num_cpus" if self.embedded else "the cluster's CPUs")
        raise ConfigError(
            f"the resource plan does not fit: Serve {_n(self.serve)} CPU + a training round "
            f"{_n(self.training)} CPU > {_n(self.ray_cpus)} CPU ({where}); lower serve.replicas, "
            "serve.model_cpus, serve.ingress_replicas, serve.ingress_cpus, train.workers or "
            f"train.cpus_per_worker{', or raise ray.num_cpus' if self.embedded else ''}")

    def describe(self) -> str:
        """One line for ``up``: who holds what."""
        serve, train = self.config.serve, self.config.train
        origin = (f"on {self.machine_cpus} cores" if self.embedded else "in the cluster")
        return (f"{_n(self.ray_cpus)} CPUs {origin}: serve {_n(self.serve)} "
                f"({serve.replicas} model × {_n(serve.model_cpus)}, {serve.ingress_replicas} "
                f"ingress × {_n(serve.ingress_cpus)}), training round {_n(self.training)} "
                f"(its data tasks, then {train.workers} worker × "
                f"{train.cpus_per_worker}), free {_n(self.free)}")


def _n(value: float) -> str:
    return f"{value:g}"


def wait_for_cpus(cpus: float, *, what: str, timeout: float,
                  cancel: threading.Event | None = None,
                  available: Callable[[], float] | None = None) -> float:
    """Wait until Ray has ``cpus`` free; returns the seconds waited.

    Raises:
        ResourcesUnavailable: after ``timeout`` seconds, naming what holds the CPUs.
        RoundCancelled: when ``cancel`` is set while waiting.
    """
    if available is None:
        import ray

        def available() -> float:
            return float(ray.available_resources().get("CPU", 0.0))

    started = time.monotonic()
    while True:
        free = available()
        if free + 1e-9 >= cpus:
            return time.monotonic() - started
        waited = time.monotonic() - started
        if cancel is not None and cancel.is_set():
            raise RoundCancelled(f"stopped while {what} waited for {_n(cpus)} CPU")
        if waited >= timeout:
            raise ResourcesUnavailable(
                f"{what} waited {waited:.0f} s (ray.resource_wait) for {_n(cpus)} CPU; Ray had "
                f"{_n(free)} free")
        time.sleep(min(_POLL_S, max(0.0, timeout - waited)))
