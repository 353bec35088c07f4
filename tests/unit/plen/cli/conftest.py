"""Every CLI unit test signs as someone: the CLI refuses to run without credentials
(``plen.cli.config.resolve_credentials``). The fake cluster does not check signatures, so
any pair does; a test about missing credentials deletes them itself."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def cli_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEN_ACCESS_KEY", "unit-test-root")
    monkeypatch.setenv("PLEN_SECRET_KEY", "unit-test-secret")
