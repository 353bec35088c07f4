"""Integration-only fixtures. The cluster fixtures themselves live in ``tests/conftest.py``
so that ``tests/fault/`` shares them.

- ``plen``: ``cluster.plen`` of the function-scoped ``cluster`` (``plen("ls", "/")``).
- ``shared_plen``: the same for ``shared_cluster``.
"""

from __future__ import annotations

from collections.abc import Callable
from subprocess import CompletedProcess

import pytest

from tests.integration.harness import Cluster

Plen = Callable[..., CompletedProcess[bytes]]


@pytest.fixture
def plen(cluster: Cluster) -> Plen:
    return cluster.plen


@pytest.fixture
def shared_plen(shared_cluster: Cluster) -> Plen:
    return shared_cluster.plen
