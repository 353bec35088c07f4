"""Users and their access keys: user add | ls | rm, user key add | rm, and whoami.

Rule 1: everything under ``plen user`` is the root user's (the nameserver refuses anyone
else with FORBIDDEN, which ``main`` turns into one ``access denied`` line); ``whoami`` is
anyone's.
Rule 2: a secret key is printed once, by the command that made it (``user add``,
``user key add``), with a warning on stderr that it is not shown again; no other command
ever prints one (the nameserver never returns it again).
Rule 3: with ``--json`` each command prints one document (keys as in ``plen.cli.jsonout``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from rich.table import Table
from rich.text import Text

from plen.access import owner_id
from plen.cli import config
from plen.cli import jsonout as js
from plen.cli.main import EXIT_EXISTS, EXIT_NOT_FOUND, AppContext, CliError
from plen.cli.output import console, fmt_time, safe
from plen.wire.access import NewKeyResponse, UserInfo, WhoAmIResponse
from plen.wire.errors import ErrorCode, WireError

pass_app = click.make_pass_decorator(AppContext)
T = TypeVar("T")

SECRET_WARNING = ("plen: the secret key is shown only this once: store it now "
                  "(a lost secret cannot be recovered; 'plen user key add' makes a new key)")


# -- shapes (pure, for the tests) --------------------------------------------------------------


def new_key_doc(key: NewKeyResponse, user_id: str) -> dict[str, Any]:
    return {"user": key.user, "id": user_id, "access_key": key.access_key,
            "secret_key": key.secret_key}


def new_key_lines(key: NewKeyResponse, user_id: str, *, what: str) -> list[str]:
    return [f"{what} {safe(key.user)} (id {user_id})",
            f"access key: {key.access_key}",
            f"secret key: {key.secret_key}"]


def user_doc(u: UserInfo) -> dict[str, Any]:
    return {"user": u.user, "id": u.id, "root": u.root, "access_keys": list(u.access_keys),
            "buckets": u.buckets, "created": js.iso_time(u.created)}


def user_table(users: list[UserInfo], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for header, justify in (("user", "left"), ("id", "left"), ("access keys", "left"),
                            ("buckets", "right"), ("created", "left")):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for u in sorted(users, key=lambda u: (not u.root, u.user)):
        name = Text(safe(u.user))
        if u.root:
            name.append(" (root)", style="bold")
        table.add_row(name, u.id, Text(", ".join(u.access_keys) or "-"), str(u.buckets),
                      "-" if u.root else fmt_time(u.created))
    return table


def whoami_doc(me: WhoAmIResponse, access_key: str, nameserver: str) -> dict[str, Any]:
    return {"user": me.user, "id": me.id, "root": me.root, "access_key": access_key,
            "nameserver": nameserver}


def whoami_lines(me: WhoAmIResponse, access_key: str, nameserver: str) -> list[str]:
    return [f"{safe(me.user)}{' (root)' if me.root else ''} at {nameserver}",
            f"id: {me.id}", f"access key: {access_key}"]


def _run(app: AppContext, fn: Callable[[Any], Awaitable[T]]) -> T:
    """``app.run``, with the nameserver's own words for a missing or existing user or key
    (``main`` would say "no such file or directory" / "file exists")."""
    try:
        return app.run(fn)
    except WireError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            raise CliError(exc.message, EXIT_NOT_FOUND, exc.code.wire_name) from exc
        if exc.code is ErrorCode.ALREADY_EXISTS:
            raise CliError(exc.message, EXIT_EXISTS, exc.code.wire_name) from exc
        raise


def _print_new_key(app: AppContext, key: NewKeyResponse, *, what: str) -> None:
    if app.json:  # stderr carries only errors under --json
        js.emit(new_key_doc(key, owner_id(key.user)))
        return
    for line in new_key_lines(key, owner_id(key.user), what=what):
        click.echo(line)
    click.echo(SECRET_WARNING, err=True)


# -- commands ---------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Add, list and remove users and their access keys (root only)."""


@user.command(name="add")
@click.argument("name")
@js.json_option
@pass_app
def user_add(app: AppContext, name: str) -> None:
    """Add user NAME; print their access key and secret key (shown only this once)."""
    app.doing("user add", safe(name))
    key = _run(app, lambda fs: fs.nameserver.user_add(name))
    _print_new_key(app, key, what="added user")


@user.command(name="ls")
@js.json_option
@pass_app
def user_ls(app: AppContext) -> None:
    """List users: canonical id, access keys, how many buckets each owns (never a secret)."""
    app.doing("user ls")
    listing = _run(app, lambda fs: fs.nameserver.user_list())
    if app.json:
        js.emit({"nameserver": app.nameserver_url(),
                 "users": [user_doc(u) for u in listing.users]})
        return
    console().print(user_table(listing.users, f"users of {app.nameserver_url()}"))


@user.command(name="rm")
@click.argument("name")
@js.json_option
@pass_app
def user_rm(app: AppContext, name: str) -> None:
    """Remove user NAME and their keys (refused while they own a bucket)."""
    app.doing("user rm", safe(name))
    _run(app, lambda fs: fs.nameserver.user_remove(name))
    if app.json:
        js.emit({"user": name, "removed": True})
        return
    click.echo(f"removed user {safe(name)}")


@user.group(name="key")
def user_key() -> None:
    """Rotate a user's access keys (at most two each)."""


@user_key.command(name="add")
@click.argument("name")
@js.json_option
@pass_app
def key_add(app: AppContext, name: str) -> None:
    """Give user NAME a new access key; print it and its secret (shown only this once)."""
    app.doing("user key add", safe(name))
    key = _run(app, lambda fs: fs.nameserver.key_add(name))
    _print_new_key(app, key, what="new key for user")


@user_key.command(name="rm")
@click.argument("name")
@click.argument("access_key")
@js.json_option
@pass_app
def key_rm(app: AppContext, name: str, access_key: str) -> None:
    """Remove ACCESS_KEY of user NAME (it stops working within about 2 seconds)."""
    app.doing("user key rm", f"{safe(name)} {safe(access_key)}")
    _run(app, lambda fs: fs.nameserver.key_remove(name, access_key))
    if app.json:
        js.emit({"user": name, "access_key": access_key, "removed": True})
        return
    click.echo(f"removed access key {safe(access_key)} of user {safe(name)}")


@click.command()
@js.json_option
@pass_app
def whoami(app: AppContext) -> None:
    """Show who the CLI signs in as (the user of PLEN_ACCESS_KEY or the config file)."""
    app.doing("whoami")
    access_key = config.resolve_credentials().access_key
    me = app.run(lambda fs: fs.nameserver.whoami())
    if app.json:
        js.emit(whoami_doc(me, access_key, app.nameserver_url()))
        return
    for line in whoami_lines(me, access_key, app.nameserver_url()):
        click.echo(line)


COMMANDS: list[click.Command] = [user, whoami]
