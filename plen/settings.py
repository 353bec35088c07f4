"""Settings come from flags and from ``PLEN_*`` environment variables, once, at start.

Each service declares a frozen dataclass of its settings; its command line is built with
``option`` so that every flag ``--foo-bar`` can also be set as ``PLEN_FOO_BAR``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Callable

import click


def env_name(flag: str) -> str:
    return "PLEN_" + flag.lstrip("-").replace("-", "_").upper()


def option(flag: str, *more_decls: str, **kwargs: Any) -> Callable[[Any], Any]:
    """A click option also settable from the environment (``PLEN_<FLAG>`` unless given)."""
    kwargs.setdefault("envvar", env_name(flag))
    kwargs.setdefault("show_default", True)
    kwargs.setdefault("show_envvar", True)
    return click.option(flag, *more_decls, **kwargs)


def load_or_create_secret(path: Path, nbytes: int = 24) -> str:
    """A secret kept in a file (mode 0600) so restarts on the same data keep it."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, path)
    return value
