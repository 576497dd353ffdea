"""Ray Tune: a sweep over the training hyperparameters with ASHA early stopping.

Each trial is a small driver that builds its trainer with the same :func:`build_trainer` as a
round and forwards the workers' reports to Tune, so ASHA can stop weak trials at a checkpoint.
The best configuration is saved (``state/tuned.json``) and later rounds train with it.

Example:
    >>> summary = run_tune(config, store, trials=4, max_steps=100)  # doctest: +SKIP
    >>> summary.best  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from erroracle.errors import ConfigError, TrainingError
from erroracle.learners.data import TrainingData, build_datasets
from erroracle.learners.hparams import SEARCHABLE, effective_train_config, save_tuned
from erroracle.learners.round import runs_path, starting_point
from erroracle.learners.train import build_trainer
from erroracle.platform.config import Config, bundled
from erroracle.platform.registry import Registry
from erroracle.platform.store import ErrorReader
from erroracle.platform.taxonomy import Taxonomy

__all__ = ["DEFAULT_SPACE", "TuneSummary", "load_space", "run_tune"]

DEFAULT_SPACE = bundled("tune.yaml")
METRIC, MODE = "val_score", "max"
_REPORTS_PER_TRIAL = 4


def load_space(path: str | Path | None = None) -> dict[str, Any]:
    """The search space of a tune.yaml as Ray Tune sampling objects."""
    from ray import tune

    path = Path(path) if path else DEFAULT_SPACE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read search space: {exc}") from exc
    samplers = {
        "loguniform": tune.loguniform, "uniform": tune.uniform, "randint": tune.randint,
        "choice": lambda *options: tune.choice(list(options)),
    }
    space: dict[str, Any] = {}
    for key, spec in raw.items():
        if key not in SEARCHABLE:
            raise ConfigError(f"{path}: key '{key}': not a searchable hyperparameter "
                              f"(allowed: {', '.join(SEARCHABLE)})")
        if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in samplers):
            raise ConfigError(f"{path}: key '{key}': expected one of {', '.join(samplers)}")
        kind, args = next(iter(spec.items()))
        if not isinstance(args, list) or not args:
            raise ConfigError(f"{path}: key '{key}': {kind} needs a list of values")
        space[key] = samplers[kind](*args)
    return space


@dataclass
class TuneSummary:
    """The sweep's best configuration and one row per trial."""

    best: dict[str, Any]
    best_score: float
    trials: list[dict[str, Any]] = field(default_factory=list)


def _trial(params: dict[str, Any], *, config: Config, data: TrainingData, base: dict[str, Any],
           init_model: str | None, storage_path: str) -> None:
    """One Tune trial: a Ray Train run whose reports reach Tune through the callback."""
    from ray import tune
    from ray.tune.integration.ray_train import TuneReportCallback

    from erroracle.platform.config import TrainConfig

    train_cfg = TrainConfig(**{**base, **params})
    trainer = build_trainer(
        config, data, train_cfg, storage_path=storage_path,
        name=tune.get_context().get_trial_name(), init_model=init_model,
        callbacks=[TuneReportCallback()],
    )
    trainer.fit()


def run_tune(
    config: Config, store: ErrorReader, *, trials: int | None = None, max_steps: int | None = None,
    taxonomy: Taxonomy | None = None,
) -> TuneSummary:
    """Sweep, keep the best configuration in ``state/tuned.json``, return the summary."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    trials = trials or config.tune.trials
    max_steps = max_steps or config.tune.max_steps
    space = load_space(config.tune.space_file)
    data = build_datasets(store, config, taxonomy or Taxonomy.for_config(config))
    _, init = starting_point(Registry(config.data_root), data.labels)
    base = effective_train_config(
        config, max_steps=max_steps, checkpoint_every=max(1, max_steps // _REPORTS_PER_TRIAL)
    ).model_dump()
    trainable = tune.with_parameters(
        _trial, config=config, data=data, base=base,
        init_model=str(init) if init else None, storage_path=runs_path(config),
    )
    tuner = tune.Tuner(
        # The trial driver only waits on its Train controller; the workers hold the CPUs/GPUs.
        tune.with_resources(trainable, {"CPU": 0.01}),
        param_space=space,
        tune_config=tune.TuneConfig(
            num_samples=trials,
            scheduler=ASHAScheduler(
                metric=METRIC, mode=MODE, max_t=_REPORTS_PER_TRIAL, grace_period=1,
            ),
            max_concurrent_trials=config.tune.max_concurrent,
        ),
        run_config=tune.RunConfig(
            name=datetime.now(timezone.utc).strftime("tune-%Y%m%dT%H%M%S"),
            storage_path=runs_path(config),
        ),
    )
    results = tuner.fit()
    rows = [
        {**{k: r.config.get(k) for k in space}, METRIC: r.metrics.get(METRIC),
         "steps": r.metrics.get("step"), "error": str(r.error).splitlines()[0] if r.error else None}
        for r in results
    ]
    finished = [r for r in results if r.error is None and r.metrics.get(METRIC) is not None]
    if not finished:
        raise TrainingError("every tuning trial failed; see the trial errors above")
    best = results.get_best_result(metric=METRIC, mode=MODE, filter_nan_and_inf=True)
    chosen = {k: best.config[k] for k in space}
    score = float(best.metrics[METRIC])
    save_tuned(config.data_root, {
        "hparams": chosen, "score": score, "metric": METRIC, "trials": len(rows),
        "max_steps": max_steps, "tuned_at": datetime.now(timezone.utc).isoformat(),
    })
    return TuneSummary(best=chosen, best_score=score, trials=rows)
