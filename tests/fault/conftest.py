"""Fault-suite fixtures (the cluster fixtures themselves live in ``tests/conftest.py``).

- ``workload``: a prepared ``faults.Workload`` (bucket and plen directory made) on ``cluster``.
- ``fault_figures``: ``record(label, value)`` collects a figure (time to safety, takeover
  time ...); every figure is printed at the end of the session by ``pytest_terminal_summary``,
  so CI logs carry them. Figures are reported, never asserted on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fault.faults import Workload
from tests.integration.harness import Cluster

_FIGURES = pytest.StashKey[list[tuple[str, str, str]]]()


def _figures(config: pytest.Config) -> list[tuple[str, str, str]]:
    return config.stash.setdefault(_FIGURES, [])


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    figures = _figures(request.config)

    def record(label: str, value: str) -> None:
        figures.append((request.node.name, label, value))
        print(f"FIGURE {request.node.name}: {label} = {value}")

    return record


@pytest.fixture
def workload(cluster: Cluster, tmp_path: Path) -> Iterator[Workload]:
    w = Workload(cluster, tmp_path / "scratch").prepare()
    try:
        yield w
    finally:
        w.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, [])
    if not figures:
        return
    terminalreporter.section("fault suite figures")
    width = max(len(f"{t}: {label}") for t, label, _ in figures)
    for test, label, value in figures:
        terminalreporter.write_line(f"{f'{test}: {label}':<{width}}  {value}")
