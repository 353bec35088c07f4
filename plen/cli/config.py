"""Where the CLI finds its cluster and keeps its working directory.

Cluster lookup: ``--nameserver`` (or ``PLEN_NAMESERVER``, through click), then the client
config file that ``plen up`` writes: ``$PLEN_CONFIG``, else ``~/.config/plen/config.json``,
holding ``{"nameserver": url, "access_key": ..., "secret_key": ...}``.
Credentials: ``PLEN_ACCESS_KEY`` and ``PLEN_SECRET_KEY``, else the config file's. The working directory set by ``plen cd`` lives in a state
file beside it (``state.json`` next to ``config.json``; ``<stem>.state.json`` next to any
other name), remembered per cluster: switching clusters starts again at ``/``.
Both files are replaced atomically, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from plen.auth import Credentials

CONFIG_ENV = "PLEN_CONFIG"


class ConfigError(Exception):
    """The config or state file cannot be read or written."""


class NoClusterError(ConfigError):
    """No nameserver given by flag, environment or config file."""


class NoCredentialsError(ConfigError):
    """No access key and secret given by environment or config file."""


def config_path() -> Path:
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "plen" / "config.json"


def state_path(config: Path | None = None) -> Path:
    config = config or config_path()
    if config.name == "config.json":
        return config.with_name("state.json")
    return config.with_name(config.stem + ".state.json")


def read_json(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically (write a temp file beside it, then rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # Private from the first byte: the config may hold a secret key.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def configured_nameserver() -> str | None:
    """The nameserver URL from the config file, if any."""
    url = read_json(config_path()).get("nameserver")
    return url if isinstance(url, str) and url else None


def resolve_nameserver(flag_or_env: str | None) -> str:
    """The cluster to talk to: the flag (or PLEN_NAMESERVER), else the config file."""
    url = flag_or_env or configured_nameserver()
    if not url:
        raise NoClusterError(
            "no cluster configured: run 'plen up', pass --nameserver URL or set "
            f"PLEN_NAMESERVER (looked in {config_path()})")
    return url.rstrip("/")


def save_nameserver(url: str, credentials: Credentials | None = None) -> Path:
    path = config_path()
    data = read_json(path) if path.exists() else {}
    data["nameserver"] = url
    if credentials is not None:
        data["access_key"] = credentials.access_key
        data["secret_key"] = credentials.secret
    write_json(path, data)
    return path


def resolve_credentials() -> Credentials:
    """Who the CLI signs as: the environment's keys, else the config file's."""
    access_key = os.environ.get("PLEN_ACCESS_KEY")
    secret = os.environ.get("PLEN_SECRET_KEY")
    if not (access_key and secret):
        data = read_json(config_path())
        access_key, secret = data.get("access_key"), data.get("secret_key")
    if not (isinstance(access_key, str) and access_key and isinstance(secret, str) and secret):
        raise NoCredentialsError(
            "no credentials: set PLEN_ACCESS_KEY and PLEN_SECRET_KEY (from 'plen user add', "
            f"or the root user's), or run 'plen up' (looked in {config_path()})")
    return Credentials(access_key, secret)


def load_cwd(nameserver_url: str | None) -> str:
    state = read_json(state_path())
    cwd = state.get("cwd")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        return "/"
    if nameserver_url is not None and state.get("nameserver") not in (None, nameserver_url):
        return "/"
    return cwd


def save_cwd(nameserver_url: str, cwd: str) -> None:
    write_json(state_path(), {"cwd": cwd, "nameserver": nameserver_url})
