"""What every ``erroracle`` command shares: the lazily loaded config, the lake, Ray, output."""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import datetime
from typing import Any

import click

__all__ = ["Context", "dumps", "fail", "preparer", "start_ray"]


def fail(message: str, code: int = 1) -> None:
    click.echo(f"erroracle: error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


class Context:
    """Lazily loaded config shared by the commands of one invocation."""

    def __init__(self, config_path: str | None, data_root: str | None) -> None:
        self.config_path, self.data_root = config_path, data_root
        self._config = None
        self.ray_context: Any = None
        self.plan: Any = None

    @property
    def config(self):
        from erroracle.platform.config import load_config

        if self._config is None:
            self._config = load_config(self.config_path, data_root=self.data_root)
        return self._config

    def store(self, background: bool = True, *, create: bool = False):
        """The lake to write (a log segment of its own, other writers' logs replayed). Only
        the commands that fill a lake (``up``, ``ingest``, ``crawl``) may ``create`` one."""
        from erroracle.platform.lake import open_store

        if not create:
            self.require_lake()
        return open_store(self.config, background=background)

    def reader(self):
        """The lake to read only: nothing replayed, written or locked."""
        from erroracle.platform.lake_reader import open_reader

        self.require_lake()
        return open_reader(self.config)

    def require_lake(self) -> None:
        """Stop with one line when there is no lake where the config points: a command run in
        the wrong directory must not report an empty lake, nor make one."""
        from erroracle.platform.lake_reader import lake_exists

        if not lake_exists(self.config.data_root):
            where = ("--data-root" if self.data_root else "ERRORACLE_DATA_ROOT"
                     if os.environ.get("ERRORACLE_DATA_ROOT") else "the config's data_root")
            fail(f"no error lake at {self.config.data_root} (from {where}); point at yours "
                 "with --data-root or ERRORACLE_DATA_ROOT, or make one with `erroracle up` or "
                 "`erroracle ingest`")


def preparer(obj: Context):
    """The record preparer with the config's extra scrubbing rules."""
    from erroracle.platform.prepare import RecordPreparer

    return RecordPreparer.for_config(obj.config)


def start_ray(obj: Context, address: str | None = None, *, log_to_driver: bool = True):
    """Start an embedded Ray (or join ``address``), quietly, for one command.

    An embedded Ray declares the CPUs of the resource plan, which is checked first: a plan that
    cannot fit fails here, before anything starts. The plan is kept in ``obj.plan``.
    The dashboard stays on: Ray Train uses the state API it serves to clean up after a trial
    that Tune stopped early.
    """
    from erroracle.platform.resources import ResourcePlan
    from erroracle.serve.throughput import enable

    config, machine = obj.config, os.cpu_count() or 1
    address = address or config.ray.address
    joining = address or os.environ.get("RAY_ADDRESS")
    plan = ResourcePlan.for_config(config, machine_cpus=machine)
    if not joining:
        plan.check()
    enable(config)
    import ray
    from ray.data import DataContext

    obj.ray_context = ray.init(
        address=address,
        num_cpus=None if joining else math.ceil(plan.ray_cpus),
        log_to_driver=log_to_driver,
        configure_logging=False,
    )
    if joining:
        plan = ResourcePlan.for_config(config, machine_cpus=machine,
                                       cluster_cpus=ray.cluster_resources().get("CPU", 0.0))
    obj.plan = plan
    DataContext.get_current().enable_progress_bars = False
    return ray
