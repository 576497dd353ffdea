"""What every ``erroracle`` command shares: the lazily loaded config, the lake, Ray, output."""

from __future__ import annotations

import json
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

    @property
    def config(self):
        from erroracle.platform.config import load_config

        if self._config is None:
            self._config = load_config(self.config_path, data_root=self.data_root)
        return self._config

    def store(self, background: bool = True):
        from erroracle.platform.lake import open_store

        return open_store(self.config, background=background)


def preparer(obj: Context):
    """The record preparer with the config's extra scrubbing rules."""
    from erroracle.platform.prepare import RecordPreparer

    return RecordPreparer.for_config(obj.config)


def start_ray(obj: Context, address: str | None = None, *, log_to_driver: bool = True):
    """Start an embedded Ray (or join ``address``), quietly, for one command.

    The dashboard stays on: Ray Train uses the state API it serves to clean up after a trial
    that Tune stopped early.
    """
    from erroracle.serve.throughput import enable

    enable(obj.config)
    import ray
    from ray.data import DataContext

    address = address or obj.config.ray.address
    joining = address or os.environ.get("RAY_ADDRESS")
    obj.ray_context = ray.init(
        address=address,
        num_cpus=None if joining else obj.config.local_cpus(os.cpu_count() or 1),
        log_to_driver=log_to_driver,
        configure_logging=False,
    )
    DataContext.get_current().enable_progress_bars = False
    return ray
