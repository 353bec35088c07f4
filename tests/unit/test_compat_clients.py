"""compat_tests/clients.py: a missing client is a visible skip, or a failure under CI."""

import pytest

from compat_tests import clients


@pytest.fixture
def nothing_installed(monkeypatch):
    monkeypatch.setattr(clients.shutil, "which", lambda name: None)
    monkeypatch.delenv(clients.REQUIRE_ENV, raising=False)


def test_a_missing_command_is_skipped_with_how_to_install_it(nothing_installed):
    with pytest.raises(pytest.skip.Exception, match=r"`rclone` command is not installed "
                                                    r"\(apt-get install rclone\)"):
        clients.require_binary("rclone", "apt-get install rclone")


def test_a_missing_module_is_skipped(nothing_installed):
    with pytest.raises(pytest.skip.Exception, match="`no_such_client_module` is not installed"):
        clients.require_module("no_such_client_module", "pip install it")


def test_ci_turns_a_missing_client_into_a_failure(nothing_installed, monkeypatch):
    monkeypatch.setenv(clients.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="PLEN_REQUIRE_CLIENTS=1 requires"):
        clients.require_binary("s3cmd", "apt-get install s3cmd")
    with pytest.raises(pytest.fail.Exception):
        clients.require_module("no_such_client_module", "pip install it")


def test_payloads_are_the_sizes_and_repeatable(tmp_path):
    files = clients.write_payloads(tmp_path, seed=7)
    assert {name: len(data) for name, data in files.items()} == {
        f"{label}.bin": size for label, size in clients.SIZES.items()}
    assert clients.payload(4096, seed=7) == (tmp_path / "4KiB.bin").read_bytes()
    assert clients.payload(4096, seed=8) != clients.payload(4096, seed=7)
