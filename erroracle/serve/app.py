"""The Serve application: ``erroracle.serve.app:build`` for ``serve run`` and ``erroracle up``.

``build`` takes the arguments of a Serve config file (``configs/serve.yaml``)::

    applications:
      - name: erroracle
        import_path: erroracle.serve.app:build
        args: {config: null, data_root: null}
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from ray import serve
from ray.serve import Application

from erroracle.platform.config import Config, load_config
from erroracle.serve.alerter import Alerter
from erroracle.serve.auth import ensure_keys, keys_path
from erroracle.serve.dashboard.sessions import ensure_secret
from erroracle.serve.ingress import Ingress
from erroracle.serve.model_server import ModelServer

__all__ = ["APP_NAME", "build", "deploy"]

APP_NAME = "erroracle"
log = logging.getLogger("erroracle.serve")


def application(config: Config) -> Application:
    """The ingress bound to the model deployment, sized by the ``serve`` section."""
    settings = config.serve
    ensure_secret(config)  # before the replicas start, so that all of them sign with one secret
    data = config.model_dump(mode="json")
    model = ModelServer.options(
        num_replicas=settings.replicas,
        max_ongoing_requests=max(settings.max_ongoing_requests, settings.batch_max_size),
        ray_actor_options={"num_cpus": settings.model_cpus},
    )
    ingress = Ingress.options(
        num_replicas=settings.ingress_replicas,
        max_ongoing_requests=settings.max_ongoing_requests,
        ray_actor_options={"num_cpus": settings.ingress_cpus, **_admin_key_env(config)},
    )
    return ingress.bind(data, model.bind(data), Alerter.bind(data))


def _admin_key_env(config: Config) -> dict[str, Any]:
    """The admin key variable, handed to the ingress replicas: on a cluster they run in the
    environment of the node's raylet, not in the environment of the command that deployed them."""
    name = config.auth.admin_key_env
    return {"runtime_env": {"env_vars": {name: os.environ[name]}}} if os.environ.get(name) else {}


def build(args: dict[str, Any]) -> Application:
    """Serve's application builder: loads the config named in ``args`` and creates keys."""
    config = load_config(args.get("config"), data_root=args.get("data_root"))
    key = ensure_keys(config)
    if key:
        print(f"erroracle: created an admin API key (stored hashed in {keys_path(config)}): "
              f"{key}", file=sys.stderr)
    return application(config)


def deploy(config: Config, *, blocking: bool = False) -> None:
    """Start Serve on the connected Ray at the configured host and port, and run the app."""
    serve.start(http_options={"host": config.serve.host, "port": config.serve.port})
    serve.run(application(config), name=APP_NAME, route_prefix="/", blocking=blocking,
              logging_config={"enable_access_log": False})
