"""The ``alerts`` deployment: one replica that delivers the outbox and watches the lake.

One replica, so that each alert is sent by one process; Serve restarts it when it dies, and the
outbox (in the lake) says what was still to send. Ingress replicas enqueue; this one delivers,
every ``alerts.poll_seconds``, and once a minute checks each service for a spike and reopens the
issues ignored "for N events" that have had them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ray import serve

from erroracle.platform.alert_delivery import Dispatcher
from erroracle.platform.alerts import Alerts
from erroracle.platform.config import Config
from erroracle.platform.issue_assignment import reopen_counted_ignores
from erroracle.platform.lake_reader import LakeReader

__all__ = ["Alerter"]

log = logging.getLogger("erroracle.alerts")
_SPIKE_CHECK = 60.0


@serve.deployment(name="alerts", num_replicas=1, ray_actor_options={"num_cpus": 0})
class Alerter:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = Config.model_validate(config)
        self.alerts = Alerts(self.config)
        self.dispatcher = Dispatcher(self.alerts.outbox, self.alerts.rules, self.config.alerts)
        self.reader = LakeReader(self.config.data_root, wal_dir=self.config.storage.wal_dir,
                                 writable_issues=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        checked = 0.0
        while not self._stop.is_set():
            try:
                self.dispatcher.run_once()
                if time.monotonic() - checked >= _SPIKE_CHECK:
                    checked = time.monotonic()
                    self.alerts.spikes(self.reader)
                    reopen_counted_ignores(self.reader)
            except Exception:  # one bad round must not stop deliveries for good
                log.exception("an alert round failed; trying again")
            self._stop.wait(self.config.alerts.poll_seconds)

    def summary(self) -> dict[str, int]:
        self.alerts.outbox.refresh()
        return self.alerts.outbox.summary()

    def __del__(self) -> None:
        self._stop.set()
