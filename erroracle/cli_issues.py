"""The issue commands: ``issues list | show | merge | split``.

They read and write the lake's issue log directly, so they work with or without ``up`` running;
a running server sees a correction at its next read.
"""

from __future__ import annotations

import getpass

import click

from erroracle._cli_context import Context, dumps

__all__ = ["issues"]


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@click.group()
def issues() -> None:
    """List issues, show one, and merge or split them."""


@issues.command("list")
@click.option("--top", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--source", "sources", multiple=True, help="Only records of this source.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_issues(obj: Context, top: int, sources: tuple[str, ...], as_json: bool) -> None:
    """The most frequent issues."""
    with obj.reader() as reader:
        found = reader.issue_groups(top, sources=list(sources) or None)
    if as_json:
        click.echo(dumps({"issues": found}))
        return
    for issue in found:
        message = (issue["message"] or "").replace("\n", " ")[:60]
        click.echo(f"{issue['count']:>8,}  {issue['issue']}  {len(issue['fingerprints']):>3} fp  "
                   f"{issue['error_type'] or '-'}: {message}")


@issues.command("show")
@click.argument("issue")
@click.pass_obj
def show_issue(obj: Context, issue: str) -> None:
    """One issue as JSON: its fingerprints, counts and corrections."""
    with obj.reader() as reader:
        click.echo(dumps(reader.issue(issue)))


@issues.command("merge")
@click.argument("into")
@click.argument("other")
@click.pass_obj
def merge_issues(obj: Context, into: str, other: str) -> None:
    """Merge issue OTHER into issue INTO; OTHER's id then leads to INTO."""
    with obj.store(background=False) as store:
        entry = store.issues.merge(into, other, by=_who())
    click.echo(f"merged {entry['from']} into {entry['into']}")


@issues.command("split")
@click.argument("issue")
@click.option("--fingerprint", required=True, help="The fingerprint to move out.")
@click.pass_obj
def split_issue(obj: Context, issue: str, fingerprint: str) -> None:
    """Move one fingerprint out of ISSUE into an issue of its own, never merged back by itself."""
    with obj.store(background=False) as store:
        entry = store.issues.split(issue, fingerprint, by=_who())
    click.echo(f"split {fingerprint} out of {entry['issue']} into {entry['new_issue']}")


def _set_status(obj: Context, issue: str, status: str, **details: str | int | None) -> None:
    from erroracle.platform.issue_status import status_change

    change = status_change(status, **details)
    with obj.store(background=False) as store:
        entry = store.issues.set_status(issue, change, by=_who())
    click.echo(f"{entry['issue']} {entry['was']} -> {entry['status']}")


@issues.command("resolve")
@click.argument("issue")
@click.option("--in-release", "release", help="Only an event of a later release reopens it.")
@click.pass_obj
def resolve_issue(obj: Context, issue: str, release: str | None) -> None:
    """Mark ISSUE resolved; it is marked regressed when it occurs again."""
    _set_status(obj, issue, "resolved", release=release)


@issues.command("ignore")
@click.argument("issue")
@click.option("--until", help="An ISO 8601 time with its zone; the first event after it "
                              "reopens the issue.")
@click.option("--events", type=click.IntRange(1, 10**9),
              help="Reopen the issue once this many more events arrived (checked every minute "
                   "by the running server).")
@click.pass_obj
def ignore_issue(obj: Context, issue: str, until: str | None, events: int | None) -> None:
    """Ignore ISSUE (for good, until a time, or for a number of events)."""
    _set_status(obj, issue, "ignored", until=until, events=events)


@issues.command("reopen")
@click.argument("issue")
@click.pass_obj
def reopen_issue(obj: Context, issue: str) -> None:
    """Mark ISSUE unresolved again."""
    _set_status(obj, issue, "unresolved")
