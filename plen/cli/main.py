"""``plen``: the command line of a Plenilune cluster.

Rule 1: every failure is ONE line on stderr, ``plen: <command> <path>: <what went wrong>``,
and an exit code from the table below; a traceback appears only with ``--debug``.
Rule 2: the error vocabulary is ``WireError.code`` (and ``errno`` for local files); no
message is ever matched as a string.

Exit codes (``EXIT_*``, the only table):

    0    success
    1    any other error (local I/O, precondition failed, invalid request, internal error)
    2    usage error (bad option or argument; click's own)
    3    not found                         (NOT_FOUND, ENOENT)
    4    already exists, directory not empty, not a directory, is a directory
                                           (ALREADY_EXISTS, NOT_EMPTY, NOT_A_DIRECTORY,
                                            IS_A_DIRECTORY; EEXIST, ENOTEMPTY, ENOTDIR, EISDIR)
    5    no cluster: none configured, the nameserver or blockstores unreachable, or no live
         servers                           (UNAVAILABLE_*, TIMEOUT, CONNECTION_LOST,
                                            NO_LIVE_SERVERS)
    6    not signed in or not allowed: no credentials, an unknown key or wrong secret, or
         access denied                     (UNAUTHORIZED, FORBIDDEN; NoCredentialsError)
    130  interrupted (Ctrl-C)

The cluster is ``--nameserver`` / ``PLEN_NAMESERVER``, else the config file written by
``plen up`` (see ``plen.cli.config``).

``--json`` (before the command, ``plen --json ls /``, or after it, ``plen ls --json /``):
the command's result is one JSON document on stdout (shapes in ``plen.cli.jsonout``) and a
failure is one JSON object on stderr instead of the line,
``{"error": {"code": ..., "message": ..., "exit_code": ...}}``, with the same exit code.
``code`` is the wire error's name (``not_found``, ``not_empty``, ``unavailable_before_start``,
``unauthorized``, ``forbidden`` ...), the same name for the matching local ``errno``, or one
of ``usage``, ``no_cluster``, ``no_credentials``, ``config``, ``unhealthy``, ``interrupted``, ``aborted``, ``os_error``, ``failed`` and
``internal``. The words are found before parsing, so even a usage error is JSON.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from plen import paths
from plen.cli import config, jsonout
from plen.wire.errors import ErrorCode, WireError

T = TypeVar("T")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_EXISTS = 4
EXIT_UNREACHABLE = 5
EXIT_DENIED = 6
EXIT_INTERRUPTED = 130

# Wire error -> (exit code, what the user reads; None = the server's own message).
WIRE_ERRORS: dict[ErrorCode, tuple[int, str | None]] = {
    ErrorCode.NOT_FOUND: (EXIT_NOT_FOUND, "no such file or directory"),
    ErrorCode.ALREADY_EXISTS: (EXIT_EXISTS, "file exists"),
    ErrorCode.NOT_EMPTY: (EXIT_EXISTS, "directory not empty"),
    ErrorCode.NOT_A_DIRECTORY: (EXIT_EXISTS, "not a directory"),
    ErrorCode.IS_A_DIRECTORY: (EXIT_EXISTS, "is a directory"),
    ErrorCode.NO_LIVE_SERVERS: (EXIT_UNREACHABLE, "no live servers"),
}
# Transport failures: the nameserver (or a blockstore) could not be reached or answered.
UNREACHABLE = frozenset({ErrorCode.UNAVAILABLE_BEFORE_START, ErrorCode.UNAVAILABLE_AFTER_SEND,
                         ErrorCode.TIMEOUT, ErrorCode.CONNECTION_LOST})
OS_ERRORS: dict[int, tuple[int, str]] = {
    errno.ENOENT: (EXIT_NOT_FOUND, "no such file or directory"),
    errno.EEXIST: (EXIT_EXISTS, "file exists"),
    errno.ENOTEMPTY: (EXIT_EXISTS, "directory not empty"),
    errno.ENOTDIR: (EXIT_EXISTS, "not a directory"),
    errno.EISDIR: (EXIT_EXISTS, "is a directory"),
}
# A local errno under --json: the wire name of the same condition, so a script tests one
# code whether the cluster or the local disk said it.
OS_ERROR_CODES: dict[int, ErrorCode] = {
    errno.ENOENT: ErrorCode.NOT_FOUND,
    errno.EEXIST: ErrorCode.ALREADY_EXISTS,
    errno.ENOTEMPTY: ErrorCode.NOT_EMPTY,
    errno.ENOTDIR: ErrorCode.NOT_A_DIRECTORY,
    errno.EISDIR: ErrorCode.IS_A_DIRECTORY,
}


class CliError(Exception):
    """A failure the CLI detected itself, with its message, exit code and --json code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, code: str = "failed") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.code = code


@dataclass
class AppContext:
    """What every command needs: the cluster, the working directory, what it is doing."""

    nameserver_option: str | None = None
    debug: bool = False
    json: bool = False
    verb: str | None = None
    target: str | None = None

    def nameserver_url(self) -> str:
        return config.resolve_nameserver(self.nameserver_option)

    def known_nameserver(self) -> str | None:
        try:
            return self.nameserver_url()
        except config.ConfigError:
            return None

    def cwd(self) -> str:
        return config.load_cwd(self.known_nameserver())

    def resolve(self, arg: str) -> str:
        return paths.resolve(self.cwd(), arg)

    def doing(self, verb: str, target: str | None = None) -> None:
        """Name what is being done, for the error line: ``plen: <verb> <target>: ...``."""
        self.verb, self.target = verb, target

    @property
    def op(self) -> str | None:
        if self.verb is None:
            return None
        return self.verb if self.target is None else f"{self.verb} {self.target}"

    def run(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``fn(fs)`` with a ``FileSystem`` open on the cluster."""
        from plen.client.fs import FileSystem

        url = self.nameserver_url()
        credentials = config.resolve_credentials()

        async def go() -> T:
            async with FileSystem(url, credentials=credentials) as fs:
                return await fn(fs)

        return asyncio.run(go())


def _unreachable_reason(err: WireError) -> str:
    url = str(err.details.get("url") or "")
    message = err.message
    for prefix in (f"cannot reach {url}: ", f"cannot reach {url}"):
        if url and message.startswith(prefix):
            return message[len(prefix):] or "connection refused"
    if err.code is ErrorCode.TIMEOUT:
        return "timed out"
    return message


def describe(exc: BaseException, app: AppContext) -> tuple[int, str]:
    """The exit code and the one line (without ``plen: ``) for ``exc``."""
    op = app.op

    def with_op(text: str, op: str | None = op) -> str:
        return f"{op}: {text}" if op else text

    if isinstance(exc, config.NoClusterError):
        return EXIT_UNREACHABLE, str(exc)
    if isinstance(exc, config.NoCredentialsError):
        return EXIT_DENIED, str(exc)
    if isinstance(exc, config.ConfigError):
        return EXIT_ERROR, str(exc)
    if isinstance(exc, CliError):
        return exc.exit_code, with_op(str(exc))
    if isinstance(exc, WireError):
        if exc.code in UNREACHABLE:
            ns = app.known_nameserver()
            url = str(exc.details.get("url") or "")
            if ns is not None and (not url or url.startswith(ns)):
                return EXIT_UNREACHABLE, (f"cannot reach the nameserver at {ns}: "
                                          f"{_unreachable_reason(exc)}")
            return EXIT_UNREACHABLE, with_op(exc.message)
        if exc.code is ErrorCode.UNAUTHORIZED:
            return EXIT_DENIED, with_op(
                f"not signed in: {exc.message.rstrip('.')} (check PLEN_ACCESS_KEY and "
                f"PLEN_SECRET_KEY, or access_key and secret_key in {config.config_path()})")
        if exc.code is ErrorCode.FORBIDDEN:
            text = exc.message
            if not text.startswith("access denied"):
                text = f"access denied: {text}"
            return EXIT_DENIED, with_op(text)
        exit_code, text = WIRE_ERRORS.get(exc.code, (EXIT_ERROR, None))
        return exit_code, with_op(text or exc.message)
    if isinstance(exc, OSError):
        exit_code, text = OS_ERRORS.get(exc.errno or 0, (EXIT_ERROR, ""))
        text = text or (exc.strerror or str(exc) or type(exc).__name__).lower()
        if exc.filename is not None and app.verb is not None:
            return exit_code, f"{app.verb} {os.fsdecode(exc.filename)}: {text}"
        return exit_code, with_op(text)
    if isinstance(exc, asyncio.TimeoutError):
        return EXIT_UNREACHABLE, with_op("timed out")
    return EXIT_ERROR, with_op(f"internal error: {type(exc).__name__}: {exc} "
                               "(run with --debug for a traceback)")


def error_code(exc: BaseException) -> str:
    """The ``code`` of ``exc`` in a --json error (see the module docstring)."""
    if isinstance(exc, config.NoClusterError):
        return "no_cluster"
    if isinstance(exc, config.NoCredentialsError):
        return "no_credentials"
    if isinstance(exc, config.ConfigError):
        return "config"
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, WireError):
        return exc.code.wire_name
    if isinstance(exc, OSError):
        known = OS_ERROR_CODES.get(exc.errno or 0)
        return known.wire_name if known is not None else "os_error"
    if isinstance(exc, asyncio.TimeoutError):
        return ErrorCode.TIMEOUT.wire_name
    return "internal"


def echo_error(app: AppContext | None, code: str, message: str, exit_code: int,
               **details: object) -> None:
    """The one error report on stderr: a line, or with --json one JSON object."""
    if app is not None and app.json:
        jsonout.emit_error(code, message, exit_code, **details)
    else:
        click.echo(f"plen: {message}", err=True)


def wants_json(args: Sequence[str]) -> bool:
    """``--json`` anywhere among the words before ``--``, wherever click would put it."""
    words = list(args)
    if "--" in words:
        words = words[:words.index("--")]
    return "--json" in words


def _silence_stdout() -> None:
    """After EPIPE on stdout, point it at /dev/null so the exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


class PlenGroup(click.Group):
    """Turns every failure of a subcommand into one line (or JSON object) and an exit code."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        # Seen before parsing, so that a usage error in the group's own options is JSON too.
        json_mode = wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.ClickException as exc:
            if not json_mode:
                raise
            echo_error(AppContext(json=True), "usage", exc.format_message(), exc.exit_code)
            raise click.exceptions.Exit(exc.exit_code) from None
        ctx.meta["plen.json"] = json_mode
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except (click.exceptions.ClickException, click.exceptions.Abort) as exc:
            # An unknown command fails before the group's callback made the AppContext.
            app = ctx.find_object(AppContext) or AppContext(json=bool(ctx.meta.get("plen.json")))
            if not app.json:
                raise
            if isinstance(exc, click.exceptions.Abort):
                echo_error(app, "aborted", "aborted", EXIT_ERROR)
                ctx.exit(EXIT_ERROR)
            assert isinstance(exc, click.exceptions.ClickException)
            echo_error(app, "usage", exc.format_message(), exc.exit_code)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            echo_error(ctx.find_object(AppContext), "interrupted", "interrupted",
                       EXIT_INTERRUPTED)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 (the CLI's one place that reports all)
            app = ctx.find_object(AppContext) or AppContext()
            exit_code, text = describe(exc, app)
            if app.debug:
                traceback.print_exc(file=sys.stderr)
            echo_error(app, error_code(exc), text, exit_code)
            ctx.exit(exit_code)


@click.group(cls=PlenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--nameserver", metavar="URL", envvar="PLEN_NAMESERVER", show_envvar=True,
              help="The cluster's nameserver (default: the config file written by 'plen up').")
@click.option("--debug", is_flag=True, help="Show a traceback when something fails.")
@click.option("--json", "json_output", is_flag=True,
              help="Results as one JSON document on stdout, errors as one JSON object on "
              "stderr (also accepted after the command).")
@click.version_option(package_name="plenilune", prog_name="plen")
@click.pass_context
def cli(ctx: click.Context, nameserver: str | None, debug: bool, json_output: bool) -> None:
    """Plenilune, a distributed file system: files and directories on a cluster."""
    # The library logs retries and failovers; the CLI's output is its one error line, so
    # those logs show only with --debug.
    logging.basicConfig(level=logging.INFO if debug else logging.CRITICAL + 1,
                        format="plen: %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = AppContext(nameserver_option=nameserver or None, debug=debug,
                         json=json_output or bool(ctx.meta.get("plen.json")))


def _passthrough(package: str, help_text: str) -> click.Command:
    """``plen <package> ARGS`` runs ``<package>.__main__:main`` with ARGS, imported lazily."""

    @click.command(package, help=help_text, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        try:
            module = importlib.import_module(f"{package}.__main__")
        except ImportError as exc:
            raise CliError(f"the {package} package cannot be imported: {exc}") from exc
        entry = module.main
        prog = f"plen {package}"
        if isinstance(entry, click.Command):
            entry.main(args=list(args), prog_name=prog)  # exits through SystemExit
        else:
            sys.argv = [prog, *args]
            entry()

    return command


def _register() -> None:
    from plen.cli import commands, servers, up, users

    for command in commands.COMMANDS + servers.COMMANDS + users.COMMANDS:
        cli.add_command(command)
    cli.add_command(up.up)
    cli.add_command(_passthrough("nameserver", "Run a nameserver (see 'plen nameserver "
                                 "--help')."))
    cli.add_command(_passthrough("blockstore", "Run a blockstore (see 'plen blockstore "
                                 "--help')."))
    cli.add_command(_passthrough("gateway", "Run an S3 gateway (see 'plen gateway --help')."))


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``plen``)."""
    cli.main(args=argv, prog_name="plen")


if __name__ == "__main__":
    main()
