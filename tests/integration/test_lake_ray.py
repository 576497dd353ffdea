"""The lake read as a Ray Dataset on a real local Ray agrees with ``erroracle status``."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from erroracle.platform.lake import ParquetErrorStore
from tests.conftest import ERRORACLE

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_local():
    import ray

    # 2 CPUs: only Ray Data reads here (nothing is served or trained).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_dataset_counts_match_status(ray_local, cli_env, tmp_path):
    root = cli_env["ERRORACLE_DATA_ROOT"]
    now = datetime.now(timezone.utc)
    with ParquetErrorStore(root, background=False) as lake:
        lake.append(
            [
                {
                    "id": f"a{i}",
                    "message": f"e{i}",
                    "source": "app",
                    "received_at": now - timedelta(days=i % 3),
                }
                for i in range(300)
            ]
        )
        lake.append([{"id": f"g{i}", "message": f"e{i}", "source": "github"} for i in range(50)])
        lake.flush()
        lake.delete(ids=["a1", "a2"])
        dataset = lake.to_dataset()
        assert dataset.count() == 348
        by_source = {
            row["source"]: row["count()"] for row in dataset.groupby("source").count().take_all()
        }
        assert lake.to_dataset(sources=["github"]).count() == 50
        assert lake.to_dataset(since=now - timedelta(hours=1)).count() == 100 + 50
    status = subprocess.run(
        [*ERRORACLE, "status", "--json"], env=cli_env, capture_output=True, text=True, check=True
    )
    assert json.loads(status.stdout)["lake"]["by_source"] == by_source
