"""A round's steps follow the data: at most ``train.max_epochs`` passes, at most ``max_steps``."""

from __future__ import annotations

from erroracle.learners.hparams import sized_to_data
from erroracle.platform.config import TrainConfig


def test_a_small_lake_trains_one_pass_with_the_schedule_shrunk_in_proportion() -> None:
    hp = sized_to_data(TrainConfig(), examples=240)  # defaults: batch 32, 300 steps, warmup 30
    assert (hp.max_steps, hp.warmup_steps, hp.checkpoint_every) == (8, 1, 8)


def test_a_large_lake_is_capped_at_max_steps() -> None:
    assert sized_to_data(TrainConfig(), examples=24_000) == TrainConfig()


def test_passes_count_every_worker_and_the_epochs_asked_for() -> None:
    hp = sized_to_data(TrainConfig(workers=2, max_epochs=3.0), examples=6_400)
    assert hp.max_steps == 300  # 3 passes of 100 steps per worker
    assert sized_to_data(TrainConfig(workers=2, max_epochs=0.5), examples=6_400).max_steps == 50
