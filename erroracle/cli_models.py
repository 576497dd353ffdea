"""The learning commands: ``train``, ``tune`` and ``models list | show | promote | rollback``."""

from __future__ import annotations

from typing import Any

import click

from erroracle._cli_context import Context, dumps, fail, start_ray

__all__ = ["models", "train", "tune"]


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-" if value is None else str(value)


def _comparison(result) -> None:
    from erroracle.learners.evaluate import HEADLINE_METRICS

    champion = result.champion or {}
    click.echo(f"\n{'metric':<20}{'candidate ' + result.version:>18}"
               f"{'champion ' + (result.parent or '-'):>18}")
    for metric in HEADLINE_METRICS:
        click.echo(f"{metric:<20}{_cell(result.candidate.get(metric)):>18}"
                   f"{_cell(champion.get(metric)):>18}")
    verdict = "promoted" if result.promoted else "not promoted"
    click.echo(f"\n{result.version} {verdict}: {result.decision.reason}")
    lineage = result.lineage
    click.echo(f"trained on {lineage.get('records', 0):,} records "
               f"({lineage.get('validation_records', 0):,} held out) in "
               f"{result.train_seconds:.1f} s")


@click.command()
@click.option("--workers", type=click.IntRange(1, 1024), help="Ray Train workers.")
@click.option("--gpu/--no-gpu", default=None, help="Train on GPUs (bf16 autocast).")
@click.option("--max-steps", type=click.IntRange(1, 10_000_000), help="Optimizer steps.")
@click.option("--promote", is_flag=True, help="Promote the candidate if it beats the champion.")
@click.pass_obj
def train(obj: Context, workers: int | None, gpu: bool | None, max_steps: int | None,
          promote: bool) -> None:
    """One training round: candidate from the champion, evaluated beside it, registered."""
    from erroracle.learners.bootstrap import bootstrap
    from erroracle.learners.round import run_round
    from erroracle.platform.registry import Registry

    obj.require_lake()  # before Ray starts: a wrong directory fails at once
    ray = start_ray(obj)
    try:
        registry = Registry(obj.config.data_root)
        with obj.reader() as store:
            if registry.champion() is None and store.counts_by_source().get("knowledge"):
                version = bootstrap(obj.config, store, registry)
                click.echo(f"no champion yet: bootstrapped {version} from the knowledge base")
            result = run_round(
                obj.config, store, registry, promote=promote,
                overrides={"workers": workers, "use_gpu": gpu, "max_steps": max_steps},
            )
    finally:
        ray.shutdown()
    _comparison(result)


@click.command()
@click.option("--trials", type=click.IntRange(1, 10_000), help="Configurations to try.")
@click.option("--max-steps", type=click.IntRange(1, 10_000_000), help="Steps per trial.")
@click.pass_obj
def tune(obj: Context, trials: int | None, max_steps: int | None) -> None:
    """A hyperparameter sweep (ASHA); the best configuration is used by later rounds."""
    from erroracle.learners.tune import run_tune

    obj.require_lake()
    ray = start_ray(obj)
    try:
        with obj.reader() as store:
            summary = run_tune(obj.config, store, trials=trials, max_steps=max_steps)
    finally:
        ray.shutdown()
    click.echo(f"\n{len(summary.trials)} trials; best val_score {summary.best_score:.4f}")
    for key, value in summary.best.items():
        click.echo(f"  {key:<18}{_cell(value)}")
    click.echo("saved as the tuned configuration for later rounds")


@click.group()
def models() -> None:
    """The model registry."""


def _registry(obj: Context):
    from erroracle.platform.registry import Registry

    obj.require_lake()
    return Registry(obj.config.data_root)


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def models_list(obj: Context, as_json: bool) -> None:
    """Every registered version, oldest first, the champion marked."""
    registry = _registry(obj)
    champion = registry.champion()
    infos = [registry.info(version) for version in registry.versions()]
    if as_json:
        click.echo(dumps([{**vars(info), "champion": info.version == champion} for info in infos]))
        return
    click.echo(f"{'':2}{'version':<9}{'created':<27}{'macro_f1':>9}{'recall@5':>10}  decision")
    for info in infos:
        mark = "* " if info.version == champion else "  "
        decision = (info.decision or {}).get("reason", "")[:60]
        click.echo(f"{mark}{info.version:<9}{info.created_at:<27}"
                   f"{_cell(info.metrics.get('category_macro_f1')):>9}"
                   f"{_cell(info.metrics.get('recall_at_5')):>10}  {decision}")


@models.command("show")
@click.argument("version")
@click.pass_obj
def models_show(obj: Context, version: str) -> None:
    """A version's metrics, lineage, training config and promotion decision, as JSON, with how
    many of the records it learned from were deleted since."""
    registry = _registry(obj)
    info = registry.info(version)
    records = registry.records(version)
    deleted = records.num_rows - obj.reader().tombstones().apply(records).num_rows
    click.echo(dumps({**vars(info), "champion": registry.champion() == version,
                      "records": {"trained_or_validated_on": records.num_rows,
                                  "deleted_since": deleted}}))


@models.command("promote")
@click.argument("version")
@click.pass_obj
def models_promote(obj: Context, version: str) -> None:
    """Make VERSION the champion, whatever its metrics (an operator's decision)."""
    registry = _registry(obj)
    registry.promote(version, reason="promoted by an operator")
    registry.record_decision(version, promoted=True, reason="promoted by an operator")
    click.echo(f"champion is now {version}")


@models.command("rollback")
@click.pass_obj
def models_rollback(obj: Context) -> None:
    """Restore the previous champion."""
    registry = _registry(obj)
    current = registry.champion()
    if current is None:
        fail("no champion to roll back from")
    click.echo(f"champion is now {registry.rollback()} (was {current})")
