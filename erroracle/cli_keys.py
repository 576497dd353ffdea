"""The key commands: ``keys create | list | revoke``, on the keys file a running server follows.

A change takes effect on every ingress replica within about a second (``serve.key_file``), so an
app can be given a key with only the scope it needs, and a leaked key can be revoked.
"""

from __future__ import annotations

import click

from erroracle._cli_context import Context, dumps, fail

__all__ = ["keys"]

_FLAGS = {"scopes": "--scope", "name": "--name", "expires": "--expires",
          "rate_limit_per_minute": "--rate-limit-per-minute"}


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice(["ingest", "read", "feedback", "admin"]),
              help="What the key may do (repeat for several).")
@click.option("--name", help="A name to list and revoke it by (default: scope-xxxxxx).")
@click.option("--rate-limit-per-minute", type=click.IntRange(1, 10**9),
              help="Its own limit instead of serve.rate_limit_per_minute.")
@click.option("--expires", help="An ISO 8601 date or time (UTC unless it says otherwise).")
@click.pass_obj
def create_key(obj: Context, scopes: tuple[str, ...], name: str | None,
               rate_limit_per_minute: int | None, expires: str | None) -> None:
    """Create a key and print it once: only its SHA-256 digest is kept."""
    from erroracle.errors import UnprocessableError
    from erroracle.serve.key_file import KeyFile

    obj.require_lake()
    try:
        key, entry = KeyFile(obj.config).create(list(scopes), name=name, expires=expires,
                                                rate_limit_per_minute=rate_limit_per_minute)
    except UnprocessableError as exc:
        fail(f"{_FLAGS.get(exc.field or '', exc.field)}: {exc.reason}")
    click.echo(f"created key {entry['name']} ({', '.join(entry['scopes'])}"
               f"{', expires ' + entry['expires_at'] if entry['expires_at'] else ''}); "
               "it is shown this once:", err=True)
    click.echo(key)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_keys(obj: Context, as_json: bool) -> None:
    """Names, scopes, rate limits, creation, expiry and last use; never a key."""
    from erroracle.serve.key_file import KeyFile

    obj.require_lake()
    entries = KeyFile(obj.config).entries()
    if as_json:
        click.echo(dumps({"keys": entries}))
        return
    for entry in entries:
        limit = entry["rate_limit_per_minute"]
        click.echo(f"{entry['name']:<24} {','.join(entry['scopes']):<28} "
                   f"{(str(limit) + '/min') if limit else 'default':<10} "
                   f"created {entry['created_at'] or '-'}  "
                   f"expires {entry['expires_at'] or 'never'}  "
                   f"last used {entry['last_used_at'] or 'never'}")


@keys.command("revoke")
@click.argument("name")
@click.pass_obj
def revoke_key(obj: Context, name: str) -> None:
    """Remove the key NAME; servers refuse it within about a second."""
    from erroracle.errors import NotFoundError
    from erroracle.serve.key_file import KeyFile

    obj.require_lake()
    try:
        KeyFile(obj.config).revoke(name)
    except NotFoundError:
        fail(f"no key named {name!r}")
    click.echo(f"revoked {name}")
