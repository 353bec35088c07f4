"""How the CLI shows things: sizes, times, names, tables and progress bars.

Names come from any S3 client, so they may hold control bytes, lone surrogates or rich
markup; ``safe`` escapes what a terminal would act on, and tables get names as plain
``Text`` (never markup). Tables never truncate an id or a URL: piped output is 200 columns.
"""

from __future__ import annotations

import contextlib
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

PROGRESS_MIN_BYTES = 32 * 1024 * 1024

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int) -> str:
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def safe(name: str) -> str:
    """``name`` with control characters and lone surrogates escaped (``\\x1b``)."""
    if name.isprintable():
        return name
    out = []
    for ch in name:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(file=stream, width=None if tty else 200, highlight=False,
                   soft_wrap=not tty, emoji=False)


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress_bar(total: int | None, description: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr, only for big transfers to a terminal; else ``None``."""
    if total is None or total < PROGRESS_MIN_BYTES or not stderr_is_tty():
        yield None
        return
    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        DownloadColumn(binary_units=True), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=console(stderr=True), transient=True)
    with progress:
        task = progress.add_task(escape(safe(description)), total=total)
        yield lambda n: progress.advance(task, n)
