"""The conductor on a real local Ray: rounds that crawl a local Stack Exchange server, train
tiny candidates from the bootstrapped champion, and record themselves, failures included."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from erroracle.knowledge import seed_lake
from erroracle.learners.bootstrap import bootstrap
from erroracle.loop import Conductor, RoundHistory
from erroracle.platform.config import Config, load_config
from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.registry import Registry
from tests.crawlers.servers import ServerThread, StackExchange
from tests.crawlers.test_stackoverflow import questions

pytestmark = [pytest.mark.ray, pytest.mark.slow]
SMALL = {"TRAIN__BATCH_SIZE": "8", "TRAIN__MAX_STEPS": "4", "TRAIN__WARMUP_STEPS": "1",
         "TRAIN__LOG_EVERY": "2", "TRAIN__CHECKPOINT_EVERY": "2",
         "SOURCES__REDDIT__ENABLED": "false", "SOURCES__GITHUB__ENABLED": "false"}


@pytest.fixture(scope="module")
def site() -> Any:
    api = StackExchange(*questions())
    with ServerThread(api.app) as server:
        api.url = server.url
        yield api


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A lake with the knowledge base and a bootstrapped champion, on a local Ray."""
    import ray

    root = tmp_path_factory.mktemp("loop") / "lake"
    config = configure(root)
    # 2 CPUs, fewer than the plan's 4: nothing is served here, so a round has the machine to
    # itself; the default plan, Serve beside a round, has its own test (test_up_e2e).
    ray.init(num_cpus=2, log_to_driver=False, configure_logging=False)
    with ParquetErrorStore(config.data_root, background=False) as store:
        seed_lake(store, RecordPreparer())
        store.flush()
        bootstrap(config, store, Registry(config.data_root))
    yield root
    ray.shutdown()


def configure(root: Path, **extra: str) -> Config:
    environ = {f"ERRORACLE_{k}": v for k, v in {**SMALL, **extra}.items()}
    return load_config(None, data_root=str(root), environ=environ)


def test_a_round_crawls_trains_evaluates_and_records_itself(installed: Path,
                                                            site: StackExchange) -> None:
    config = configure(installed, SOURCES__STACKOVERFLOW__BASE_URL=f"{site.url}/2.3",
                       SOURCES__STACKOVERFLOW__TAGS='["python"]', LOOP__MIN_NEW_RECORDS="5")
    reloads: list[int] = []
    before = Registry(config.data_root).champion()
    entry = Conductor(config, reload=lambda: reloads.append(1)).run_round("test")
    assert entry["stages"]["crawl"]["sources"]["stackoverflow"]["new"] == 7
    assert entry["records_seen"]["stackoverflow"] == 7 and entry["new_records"] >= 7
    assert {"crawl", "train", "evaluate"} <= set(entry["stages"])
    assert entry["decision"] in ("promoted", "kept") and entry["why"]
    assert set(entry["metrics"]) >= {"category_macro_f1", "recall_at_5"}
    champion = Registry(config.data_root).champion()
    assert champion == (entry["candidate"] if entry["decision"] == "promoted" else before)
    assert reloads == ([1] if entry["decision"] == "promoted" else [])
    assert RoundHistory(config.data_root).last() == entry


def test_a_failing_source_and_a_failing_training_leave_the_champion(installed: Path) -> None:
    config = configure(installed, SOURCES__STACKOVERFLOW__BASE_URL="http://127.0.0.1:9/2.3",
                       LOOP__MIN_NEW_RECORDS="0", LOOP__TRAIN_EVERY="0s",
                       TRAIN__MAX_FAILURES="0")
    champion = Registry(config.data_root).champion()
    conductor = Conductor(config, train_options={"fail_once_at_step": 1})
    entry = conductor.run_round("test")
    crawled = entry["stages"]["crawl"]["sources"]["stackoverflow"]
    assert crawled["error"].startswith("stackoverflow:") and crawled["new"] == 0
    assert entry["decision"] == "failed" and "error" in entry["stages"]["train"]
    assert entry["why"].endswith(f"{champion} keeps serving")
    assert Registry(config.data_root).champion() == champion
    assert RoundHistory(config.data_root).last()["decision"] == "failed"


def test_a_stage_that_waits_on_resources_fails_the_round_with_the_reason(installed: Path) -> None:
    # 3 CPUs a worker on a Ray of 2: training can never start. The round must not wait forever.
    config = configure(installed, SOURCES__STACKOVERFLOW__ENABLED="false",
                       LOOP__MIN_NEW_RECORDS="0", LOOP__TRAIN_EVERY="0s",
                       TRAIN__CPUS_PER_WORKER="3", RAY__RESOURCE_WAIT="2s")
    champion = Registry(config.data_root).champion()
    entry = Conductor(config).run_round("test")
    assert entry["decision"] == "failed" and entry["why"].endswith(f"{champion} keeps serving")
    assert "training waited 2 s (ray.resource_wait) for 3 CPU; Ray had 2 free" in entry["why"]
    assert RoundHistory(config.data_root).last()["decision"] == "failed"


def test_a_stop_ends_a_stage_waiting_on_resources(installed: Path) -> None:
    config = configure(installed, SOURCES__STACKOVERFLOW__ENABLED="false",
                       LOOP__MIN_NEW_RECORDS="0", LOOP__TRAIN_EVERY="0s",
                       TRAIN__CPUS_PER_WORKER="3", RAY__RESOURCE_WAIT="10m",
                       LOOP__CRAWL_EVERY="1s")
    stop = threading.Event()
    conductor = Conductor(config)
    runner = threading.Thread(target=conductor.run, args=(stop,))
    history = RoundHistory(config.data_root)
    start = len(history.rounds())
    runner.start()
    time.sleep(15)  # the round is waiting for CPUs by now
    stop.set()
    runner.join(60)
    assert not runner.is_alive()
    [entry] = history.rounds()[start:]
    assert entry["decision"] == "failed" and "stopped while training waited" in entry["why"]


def test_rounds_keep_their_schedule_without_overlapping(installed: Path) -> None:
    config = configure(installed, SOURCES__STACKOVERFLOW__ENABLED="false",
                       LOOP__CRAWL_EVERY="1s", LOOP__CHECK_EVERY="1s",
                       LOOP__MIN_NEW_RECORDS="1000000", LOOP__BURST_NEW_GROUPS="0")
    history = RoundHistory(config.data_root)
    start = len(history.rounds())
    stop = threading.Event()
    runner = threading.Thread(target=Conductor(config).run, args=(stop,))
    runner.start()
    deadline = time.monotonic() + 120
    while len(history.rounds()) < start + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    runner.join(60)
    rounds = history.rounds()[start:]
    assert len(rounds) >= 3 and not runner.is_alive()
    for earlier, later in zip(rounds, rounds[1:], strict=False):
        assert later["round"] == earlier["round"] + 1
        assert later["started_ts"] >= earlier["started_ts"] + earlier["seconds"]
        assert later["started_ts"] >= earlier["started_ts"] + 1.0  # crawl_every
    assert all(r["decision"] == "skipped" and "stages" in r for r in rounds)


def test_a_burst_of_new_error_groups_starts_training_early(installed: Path) -> None:
    config = configure(installed, LOOP__BURST_NEW_GROUPS="3", LOOP__TRAIN_EVERY="1d")
    conductor = Conductor(config)
    assert not conductor.burst()
    with ParquetErrorStore(config.data_root, background=False) as store:
        store.append([RecordPreparer()({"message": f"{kind}: never seen before {kind}",
                                        "error_type": kind, "source": "app"})
                      for kind in ("ZorbError", "QuuxFault", "BlorpPanic")])
        store.flush()
    assert conductor.burst()
