"""Fixtures shared by every test directory.

asyncio_mode=auto, the per-test timeout and filterwarnings=error live in pyproject.toml.

- ``redis_server``: a bare real redis-server (function-scoped, its own tmp dir); its URL.
- ``cluster``: a started ``Cluster`` per test; options from ``@pytest.mark.cluster(...)``.
- ``shared_cluster``: one started ``Cluster`` per module; options from the module's
  ``CLUSTER_OPTIONS`` dict. Only for tests that do not kill, pause or restart anything.
- ``cluster_factory``: ``make(**options) -> started Cluster``, for tests needing several.

Every cluster is stopped at teardown, whatever the test did, and the tests under
``integration/`` and ``fault/`` are marked ``integration`` (``-m "not integration"`` skips them).
Those under ``fault/`` are also marked ``fault`` (``-m fault`` selects them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Cluster, running_redis

_TESTS_DIR = Path(__file__).parent
_PROCESS_DIRS = ("integration", "fault")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster(**options): Cluster(...) keyword options for the `cluster` fixture")
    config.addinivalue_line(
        "markers", "integration: starts real processes (redis-server, nameserver, blockstores)")
    config.addinivalue_line(
        "markers", "fault: the fault suite (tests/fault): kills, pauses, corrupts, fills, cuts")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            rel = item.path.relative_to(_TESTS_DIR)
        except ValueError:
            continue
        if rel.parts and rel.parts[0] in _PROCESS_DIRS:
            item.add_marker(pytest.mark.integration)
        if rel.parts and rel.parts[0] == "fault":
            item.add_marker(pytest.mark.fault)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    """A real, empty redis-server on a free loopback port; yields ``redis://127.0.0.1:P/0``."""
    with running_redis(tmp_path) as url:
        yield url


def _started(cluster: Cluster) -> Cluster:
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    marker = request.node.get_closest_marker("cluster")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    c = Cluster(tmp_path / "cluster", **options)
    try:
        yield _started(c)
    finally:
        c.stop()


@pytest.fixture(scope="module")
def shared_cluster(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    options: dict[str, Any] = dict(getattr(request.module, "CLUSTER_OPTIONS", {}))
    c = Cluster(tmp_path_factory.mktemp("shared-cluster"), **options)
    try:
        yield _started(c)
    finally:
        c.stop()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(**options: Any) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", **options)
        made.append(c)
        return _started(c)

    try:
        yield make
    finally:
        for c in made:
            c.stop()
