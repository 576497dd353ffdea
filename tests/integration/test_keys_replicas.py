"""A key revoked with ``erroracle keys revoke`` is refused by every ingress replica within a few
seconds. Two ingress replicas (HAProxy spreads the requests): each notes the key's use in its own
file, which shows that both accepted it before the revocation."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from erroracle.serve.auth import digest
from tests.conftest import ERRORACLE
from tests.integration.serving import LEARNING, auth, running_app

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPORT = {"errors": [{"error_message": "disk full on /var/lib/app"}]}


@pytest.fixture(scope="module")
def two_ingresses(tmp_path_factory):
    # Two ingress replicas are what this test is about; the default (one) serves every other
    # end-to-end test. With the default model replica they fit the default plan on 2 cores.
    with running_app(tmp_path_factory.mktemp("ingresses") / "lake",
                     {"ingress_replicas": 2}) as running:
        yield running


def _statuses(client: httpx.Client, key: str, count: int) -> set[int]:
    with httpx.Client(base_url=str(client.base_url), timeout=60) as fresh:  # new connections
        return {fresh.post(f"{LEARNING}/errors", json=REPORT,
                           headers={"Authorization": f"Bearer {key}", "Connection": "close"}
                           ).status_code for _ in range(count)}


def test_a_revoked_key_is_refused_by_every_ingress_replica(two_ingresses):
    config, client = two_ingresses
    made = client.post("/api/v1/keys", headers=auth("admin"),
                       json={"scopes": ["ingest"], "name": "shop"})
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    time.sleep(1.2)  # each replica looks at the keys file at most once a second
    deadline = time.monotonic() + 30
    while True:  # until both replicas have accepted it (each notes a use in its own file)
        assert _statuses(client, key, 10) == {202}
        notes = [json.loads(path.read_text()) for path in
                 (Path(config.data_root) / "state" / "keys-used").glob("*.json")]
        if sum(digest(key) in noted for noted in notes) >= 2:
            break
        assert time.monotonic() < deadline, "the requests never reached a second replica"

    done = subprocess.run([*ERRORACLE, "--data-root", config.data_root, "keys", "revoke",
                           "shop"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    time.sleep(3)
    assert _statuses(client, key, 40) == {401}
