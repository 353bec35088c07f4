"""Operator commands: server ls | drain | rm, and fsck; the server table ``status`` shows too."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from plen.cli import jsonout as js
from plen.cli.main import AppContext, CliError
from plen.cli.output import console, human_size
from plen.wire.namespace import ServerStatus

pass_app = click.make_pass_decorator(AppContext)

STATE_STYLES = {"live": "green", "draining": "yellow", "drained": "cyan", "dead": "red"}


def server_table(servers: list[ServerStatus], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for header, justify in (("server", "left"), ("url", "left"), ("zone", "left"),
                            ("state", "left"), ("capacity", "right"), ("used", "right"),
                            ("blocks", "right")):
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in sorted(servers, key=lambda s: (s.state != "live", s.public_url)):
        table.add_row(s.server_id, Text(s.public_url), Text(s.zone or "-"),
                      Text(s.state, style=STATE_STYLES.get(s.state)),
                      human_size(s.capacity_bytes), human_size(s.used_bytes), str(s.blocks))
    return table


def fmt_duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


@click.group()
def server() -> None:
    """List, drain and remove blockstores."""


@server.command(name="ls")
@js.json_option
@pass_app
def server_ls(app: AppContext) -> None:
    """List the servers with their state (live, draining, drained, dead)."""
    app.doing("server ls")
    listing = app.run(lambda fs: fs.nameserver.server_list())
    if app.json:
        js.emit({"nameserver": app.nameserver_url(),
                 "servers": [js.server_doc(s) for s in listing.servers]})
        return
    console().print(server_table(listing.servers, f"servers of {app.nameserver_url()}"))


@server.command(name="drain")
@click.argument("server_id")
@js.json_option
@pass_app
def server_drain(app: AppContext, server_id: str) -> None:
    """Move every block off SERVER_ID; it takes no new blocks. Then 'plen server rm' it."""
    app.doing("server drain", server_id)
    app.run(lambda fs: fs.nameserver.drain_server(server_id))
    if app.json:
        js.emit({"server_id": server_id, "state": "draining"})
        return
    click.echo(f"draining {server_id}: its blocks are being copied elsewhere; "
               "'plen server ls' shows it as drained when it holds none")


@server.command(name="rm")
@click.argument("server_id")
@js.json_option
@pass_app
def server_rm(app: AppContext, server_id: str) -> None:
    """Forget a dead or drained server (stop its process first, or it registers again)."""
    app.doing("server rm", server_id)
    app.run(lambda fs: fs.nameserver.remove_server(server_id))
    if app.json:
        js.emit({"server_id": server_id, "removed": True})
        return
    click.echo(f"removed {server_id}")


@click.command()
@js.json_option
@pass_app
def fsck(app: AppContext) -> None:
    """Check every file's blocks against the block map; exit 1 if anything is wrong.

    With --json the report goes to stdout whatever it says; a bad one also fails with the
    error code "unhealthy".
    """
    app.doing("fsck")
    report = app.run(lambda fs: fs.nameserver.fsck())
    if app.json:
        js.emit(js.fsck_doc(report))
        if not report.ok:
            raise CliError("the file system has problems (see the report)", code="unhealthy")
        return
    click.echo(f"{report.files} files, {report.blocks} blocks "
               f"({report.referenced_blocks} referenced)")
    for name, count in report.counts.items():
        if count:
            sample = getattr(report, name)[:5]
            click.echo(f"{name.replace('_', ' ')}: {count} (e.g. {', '.join(sample)})")
    if not report.ok:
        raise CliError("the file system has problems (see above)", code="unhealthy")
    click.echo("healthy")


COMMANDS: list[click.Command] = [server, fsck]
