"""The ``erroracle`` command: parses arguments and calls the packages; no logic of its own.

Exit status: 0 on success, 1 when the work failed or some input was rejected, 2 on bad usage.
Errors are one line on stderr: ``erroracle: error: <what and where>``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from erroracle._cli_context import Context, dumps, fail, preparer, start_ray
from erroracle.cli_issues import issues
from erroracle.cli_keys import keys
from erroracle.cli_models import models, train, tune
from erroracle.errors import ErroracleError

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="ERRORACLE_CONFIG",
    help="Config file (default: the bundled platform.yaml).",
)
@click.option("--data-root", envvar="ERRORACLE_DATA_ROOT", help="Override data_root.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, data_root: str | None) -> None:
    """erroracle: learn from software errors, continuously."""
    ctx.obj = Context(config_path, data_root)


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--source",
    type=click.Choice(["app", "stackoverflow", "reddit", "github", "knowledge", "feedback"]),
    help="Source to record (default: the record's own, or app).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "lines"]),
    help="jsonl: one JSON record a line; lines: one error a line (default: by suffix).",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_obj
def ingest(obj: Context, files: tuple[Path, ...], source, fmt, batch_size: int) -> None:
    """Bulk-load errors into the lake."""
    from erroracle.platform.ingest import ingest_files

    prepare = preparer(obj)

    def show(summary) -> None:
        click.echo(
            f"ingest: {summary.read:,} read, {summary.stored:,} stored, "
            f"{summary.duplicates:,} duplicates, {summary.rejected:,} rejected",
            err=True,
        )

    with obj.store(create=True) as store:
        summary = ingest_files(
            store,
            list(files),
            fmt=fmt,
            source=source,
            preparer=prepare,
            batch_size=batch_size,
            progress=show,
        )
    for problem in summary.problems:
        click.echo(f"erroracle: rejected: {problem}", err=True)
    counts = summary.as_dict()
    click.echo("summary: " + ", ".join(f"{key} {value:,}" for key, value in counts.items()))
    if summary.rejected:
        sys.exit(1)


def _status(obj: Context, top: int, rounds: int = 0, source: str = "app") -> dict[str, Any]:
    from erroracle.platform.status import status_report

    with obj.reader() as reader:
        return status_report(obj.config, reader, top=top, rounds=rounds, source=source)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(0, 1000))
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="How many of the last rounds to show.")
@click.option("--source", default="app", show_default=True,
              type=click.Choice(["app", "stackoverflow", "reddit", "github", "knowledge", "all"]),
              help="Whose errors and issues: your apps' by default.")
@click.pass_obj
def status(obj: Context, as_json: bool, top: int, rounds: int, source: str) -> None:
    """Lake counts by source; your apps' errors by service and environment and their top issues
    of the last day; the champion, the last rounds and when the next one is due."""
    report = _status(obj, top, rounds, source)
    if as_json:
        click.echo(dumps(report))
        return
    lake = report["lake"]
    click.echo(f"data root   {report['data_root']}")
    click.echo(f"records     {lake['total']:,}")
    for source, count in lake["by_source"].items():
        click.echo(f"  {source:<14}{count:>12,}")
    if lake["quarantined_files"]:
        click.echo(f"quarantined {lake['quarantined_files']} damaged file(s)")
    errors = report["errors"]
    click.echo(f"{report['source']} errors  {errors['total']:,}")
    for name in ("by_service", "by_environment"):
        if errors[name]:
            shown = ", ".join(f"{key} {count:,}" for key, count in list(errors[name].items())[:8])
            click.echo(f"  {name.replace('_', ' '):<16}{shown}")
    if report["issues"]:
        click.echo("top issues (events in the last 24 h, all time)")
    for issue in report["issues"]:
        message = (issue["message"] or "").replace("\n", " ")[:56]
        click.echo(f"  {issue['recent']:>6,} {issue['count']:>8,}  {issue['issue']}  "
                   f"{issue['status']:<10} {issue['error_type'] or '-'}: {message}")
    champion = report["champion"]
    if champion:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in champion["metrics"].items()
                          if isinstance(v, float))
        click.echo(f"champion    {champion['version']}  {shown}")
    else:
        click.echo("champion    none yet (erroracle up bootstraps one)")
    if report["rounds"]:
        click.echo("last rounds")
    for entry in report["rounds"]:
        seen = sum(entry.get("records_seen", {}).values())
        click.echo(f"  #{entry['round']:<4} {entry['started']}  {entry.get('seconds', 0):>7.0f} s"
                   f"  {seen:>6,} new  {entry.get('decision')}: {entry.get('why')}")
    running = report["running"]
    if running:
        click.echo(f"running     round {running['round']} ({running['trigger']}): "
                   f"{running['stage']} for {running['stage_seconds']:,} s, "
                   f"{running['seconds']:,} s since it started at {running['started']}")
    needs = f"once {report['training_needs_records']:,} new records arrived"
    click.echo(f"next round  {report['next_round_at']}")
    click.echo(f"training    {needs}, not before {report['next_training_at']}"
               if report["next_training_at"] else f"training    {needs} (none yet)")


@cli.command()
@click.option("--source", "sources", multiple=True,
              type=click.Choice(["stackoverflow", "reddit", "github"]),
              help="Crawl only this source (repeatable; default: every enabled source).")
@click.option("--limit", type=click.IntRange(1, 1_000_000), help="Items per source, at most.")
@click.pass_obj
def crawl(obj: Context, sources: tuple[str, ...], limit: int | None) -> None:
    """One incremental crawl into the lake, resuming from the saved cursors."""
    import asyncio

    from erroracle.crawlers import crawl as run_crawl

    def show(summary) -> None:
        click.echo(f"  {summary.source}: {summary.new + summary.updated + summary.unchanged:,} "
                   f"items, {summary.requests:,} requests", err=True)

    with obj.store(background=False, create=True) as store:
        summaries = asyncio.run(run_crawl(obj.config, store, preparer(obj),
                                          sources=list(sources) or None, limit=limit,
                                          progress=show))
    for summary in summaries:
        click.echo(summary.line())
    failed = [s for s in summaries if s.errors]
    for summary in failed:
        click.echo(f"erroracle: error: {summary.errors[0]}", err=True)
    if failed and len(failed) == len(summaries):
        sys.exit(1)


@cli.command()
@click.option("--id", "ids", multiple=True, help="Record id (repeatable).")
@click.option("--fingerprint", help="Delete a whole error group.")
@click.pass_obj
def delete(obj: Context, ids: tuple[str, ...], fingerprint: str | None) -> None:
    """Right to delete: gone from every later read and training round."""
    if not ids and not fingerprint:
        fail("delete needs --id or --fingerprint", code=2)
    import pyarrow.compute as pc

    from erroracle.platform.registry import Registry

    with obj.store(background=False) as store:
        doomed = list(ids)
        if fingerprint:
            table = store.read_table(columns=["id", "fingerprint"])
            doomed += table.filter(pc.equal(table["fingerprint"], fingerprint))["id"].to_pylist()
        removed = store.delete(ids=list(ids), fingerprint=fingerprint)
    click.echo(f"deleted {removed:,} record(s)")
    holding = Registry(obj.config.data_root).versions_holding(doomed)
    if holding:
        click.echo(f"trained on them: {', '.join(holding)} (the next round's candidate will not "
                   "be; `erroracle models show V` counts what V learned from that is deleted)")


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.pass_obj
def config_show(obj: Context) -> None:
    """Print the effective configuration as YAML."""
    import yaml

    click.echo(yaml.safe_dump(obj.config.model_dump(mode="json"), sort_keys=False), nl=False)


@cli.command("fingerprint")
@click.argument("file", required=False, type=click.File("r", encoding="utf-8", errors="replace"))
@click.option(
    "--jsonl",
    is_flag=True,
    help="Input is JSON records (message, error_type, stack_trace) rather than one message a line.",
)
@click.option(
    "--issues",
    is_flag=True,
    help="Also group the whole input into issues, as ingest would into an empty lake (output "
    "comes once the input has ended).",
)
@click.pass_obj
def fingerprint_command(obj: Context, file, jsonl: bool, issues: bool) -> None:
    """One JSON line out per input line: fingerprint, template, error_type (and issue)."""
    from erroracle.platform.prepare import describe_error, describe_errors

    lines = (line.rstrip("\r\n") for line in file or click.get_text_stream("stdin"))
    if issues:
        described = describe_errors(lines, jsonl=jsonl, preparer=preparer(obj))
    else:
        described = (_or_error(describe_error, line, jsonl, preparer(obj)) for line in lines)
    bad = 0
    for number, item in enumerate(described, start=1):
        if isinstance(item, ErroracleError):
            bad += 1
            click.echo(dumps({"line": number, "error": str(item)}))
            click.echo(f"erroracle: error: line {number}: {item}", err=True)
        else:
            click.echo(dumps(item))
    if bad:
        sys.exit(1)


def _or_error(describe: Any, line: str, jsonl: bool, prepare: Any) -> Any:
    try:
        return describe(line, jsonl=jsonl, preparer=prepare)
    except ErroracleError as exc:
        return exc


def _stop_on_signal() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM; a second one interrupts at once."""
    stop = threading.Event()

    def handle(number: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        click.echo(f"stopping    ({signal.Signals(number).name}; a round in progress ends "
                   "its stage first, a stage waiting for resources at once; Ctrl-C again to "
                   "interrupt it)")
        sys.stdout.flush()
        stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, handle)
    return stop


def _abandon(ray: Any) -> None:
    """The second Ctrl-C: one line, Ray stopped without a word more, exit status 130.

    A training round may still run on its thread; the champion is untouched (a candidate is only
    registered when complete), and the process ends here so that nothing of it prints later.
    """
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    click.echo("erroracle: interrupted: the round in progress was abandoned; the champion and the "
               "lake are unchanged", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    try:
        ray.shutdown()
    finally:
        os._exit(130)


def _say_loop(line: str) -> None:
    click.echo(f"loop        {line}")
    sys.stdout.flush()


def _reload_serve() -> None:
    """Ask every model replica to look for the new champion now."""
    from ray import serve

    from erroracle.serve.app import APP_NAME

    serve.get_deployment_handle("model", APP_NAME).reload.remote().result(timeout_s=60)


@cli.command()
@click.option("--address", help="Join this Ray cluster instead of starting one.")
@click.option("--host", help="Bind the HTTP API here (default: serve.host).")
@click.option("--port", type=click.IntRange(1, 65535), help="HTTP port (default: serve.port).")
@click.option("--no-loop", is_flag=True, help="Serve only: no crawling or training rounds.")
@click.option("--verbose", is_flag=True, help="Also Ray's own log lines and the lake by source.")
@click.pass_obj
def up(obj: Context, address: str | None, host: str | None, port: int | None,
       no_loop: bool, verbose: bool) -> None:
    """Start Ray, the HTTP API and the continuous loop in the foreground; on first start, seed
    the knowledge base, bootstrap a model and create an API key. Ctrl-C stops it cleanly."""
    import logging

    from erroracle.knowledge import seed_lake
    from erroracle.learners.bootstrap import bootstrap
    from erroracle.platform.registry import Registry
    from erroracle.serve.auth import ensure_keys, keys_path

    if not verbose:  # Ray's INFO lines and the model loader's progress bars would bury the block
        from transformers.utils import logging as transformers_logging

        logging.getLogger("ray").setLevel(logging.WARNING)
        transformers_logging.disable_progress_bar()
    settings = obj.config.serve.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    config = obj.config.model_copy(update={"serve": settings})
    ray = start_ray(obj, address, log_to_driver=False)
    stop = _stop_on_signal()
    try:
        registry = Registry(config.data_root)
        with obj.store(background=False, create=True) as store:
            seeded = seed_lake(store, preparer(obj))
            store.flush()
            rows = store.to_dataset().count() if verbose else 0  # Ray Data: only when asked
            if seeded:
                click.echo(f"knowledge   {seeded:,} known errors loaded (first start)")
            if registry.champion() is None:
                click.echo(f"model       {bootstrap(config, store, registry)} bootstrapped "
                           "from the knowledge base (first start)")
        key = ensure_keys(config)
        if verbose:
            report = _status(obj, top=0)
            dashboard = getattr(obj.ray_context, "dashboard_url", None)
            click.echo(f"ray         {ray.get_runtime_context().gcs_address}  (dashboard: "
                       f"{'http://' + dashboard if dashboard else 'off'})")
            click.echo(f"lake        {rows:,} records read through Ray Data")
            for source, count in report["lake"]["by_source"].items():
                click.echo(f"  {source:<14}{count:>12,}")
        from erroracle.serve.app import deploy

        if not verbose:  # Serve gives its logger a level of its own when it is imported
            logging.getLogger("ray.serve").setLevel(logging.WARNING)
        deploy(config)
        url = f"http://{settings.host}:{settings.port}"
        click.echo(f"serving     {url}  (Ctrl-C to stop)")
        click.echo(f"docs        {url}/docs")
        click.echo(f"dashboard   {url}/ui/")
        click.echo(f"data root   {config.data_root}")
        click.echo(f"champion    {registry.champion()}")
        if key:
            click.echo(f"api key     {key}  (admin; shown once, stored hashed in "
                       f"{keys_path(config)}; make app keys with `erroracle keys create`)")
        else:
            click.echo(f"keys        {keys_path(config)} (or ${config.auth.admin_key_env})")
        click.echo(f"resources   {obj.plan.describe()}")
        sys.stdout.flush()
        if no_loop:
            click.echo("loop        off (--no-loop)")
            stop.wait()
        else:
            from erroracle.loop import Conductor

            conductor = Conductor(config, reload=_reload_serve,
                                  say=_say_loop)
            click.echo(f"loop        every {config.loop.crawl_every:.0f} s, training at most "
                       f"every {config.loop.train_every:.0f} s; rounds in "
                       f"{conductor.history.path}")
            sys.stdout.flush()
            conductor.run(stop)
        from ray import serve

        serve.shutdown()
        click.echo("stopped")
    except KeyboardInterrupt:
        _abandon(ray)
    finally:
        ray.shutdown()


for command in (train, tune, models, issues, keys):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every failure ends as one line on stderr and a non-zero status."""
    try:
        cli.main(args=argv, prog_name="erroracle", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", code=130)
    except click.UsageError as exc:
        where = f" ({exc.ctx.command_path})" if exc.ctx else ""
        fail(f"{exc.format_message()}{where}", code=2)
    except click.ClickException as exc:
        fail(exc.format_message(), code=exc.exit_code or 1)
    except ErroracleError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
