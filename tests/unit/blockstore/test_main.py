"""``python -m blockstore``: flags, errors, and the ready file written once bound."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from blockstore import __main__ as entry
from blockstore.api import settings_key
from blockstore.settings import Settings
from plen import service
from plen.wire.types import is_server_id

FLAGS_AND_ENV = [
    ("--data", "PLEN_BLOCKSTORE_DATA"), ("--nameserver", "PLEN_NAMESERVER"),
    ("--host", "PLEN_BLOCKSTORE_HOST"), ("--port", "PLEN_BLOCKSTORE_PORT"),
    ("--public-url", "PLEN_BLOCKSTORE_PUBLIC_URL"),
    ("--private-url", "PLEN_BLOCKSTORE_PRIVATE_URL"), ("--zone", "PLEN_BLOCKSTORE_ZONE"),
    ("--capacity", "PLEN_BLOCKSTORE_CAPACITY"), ("--cluster-secret", "PLEN_CLUSTER_SECRET"),
    ("--ready-file", "PLEN_READY_FILE"), ("--log-level", "PLEN_LOG_LEVEL"),
    ("--scrub-interval", "PLEN_BLOCKSTORE_SCRUB_INTERVAL_S"),
    ("--scrub-rate", "PLEN_BLOCKSTORE_SCRUB_RATE_BYTES_PER_S"),
    ("--copy-rate", "PLEN_BLOCKSTORE_COPY_RATE_BYTES_PER_S"),
    ("--copy-concurrency", "PLEN_BLOCKSTORE_COPY_CONCURRENCY"),
    ("--block-report-interval", "PLEN_BLOCKSTORE_BLOCK_REPORT_INTERVAL_S"),
]
MiB = 1024 * 1024


def started_settings(monkeypatch: pytest.MonkeyPatch, args: list[str],
                     env: dict[str, str] | None = None) -> Settings:
    """The Settings main() would serve with (run() is replaced, nothing starts)."""
    seen: list[Settings] = []
    monkeypatch.setattr(service, "run", lambda app, **_: seen.append(app[settings_key]))
    result = CliRunner().invoke(entry.main, args, env=env)
    assert result.exit_code == 0, result.output
    (settings,) = seen
    return settings


def test_help_lists_every_protocol_flag_with_its_env_var() -> None:
    result = CliRunner().invoke(entry.main, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for flag, env in FLAGS_AND_ENV:
        assert flag in result.output and env in result.output


def test_missing_required_option_is_a_usage_error_not_a_traceback() -> None:
    result = CliRunner().invoke(entry.main, ["--nameserver", "http://ns", "--cluster-secret", "s"],
                                env={"PLEN_BLOCKSTORE_DATA": None})
    assert result.exit_code == 2
    assert "Error: Missing option '--data'" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, KeyError)


def test_invalid_setting_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(entry.main, ["--data", str(tmp_path), "--nameserver", "ns:7070",
                                             "--cluster-secret", "s"])
    assert result.exit_code == 2
    assert "--nameserver must be an http:// or https:// URL" in result.output


def test_ready_file_carries_server_id_once_bound(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(app: web.Application, *, on_bound: Any, ready_file: Any, **kwargs: Any) -> None:
        """Start the app as run() would (cleanup_ctx included), call on_bound, stop."""
        async def serve() -> None:
            runner = web.AppRunner(app)
            await runner.setup()
            try:
                on_bound("http://127.0.0.1:7123")
                seen["ready_file_arg"] = ready_file
            finally:
                await runner.cleanup()
        asyncio.run(serve())

    monkeypatch.setattr(service, "run", fake_run)
    ready = tmp_path / "bs.ready"
    result = CliRunner().invoke(entry.main, [
        "--data", str(tmp_path / "data"), "--nameserver", "http://127.0.0.1:1",
        "--cluster-secret", "s", "--port", "0", "--ready-file", str(ready)])

    assert result.exit_code == 0, result.output
    info = json.loads(ready.read_text())
    assert info["service"] == "blockstore" and info["url"] == "http://127.0.0.1:7123"
    assert is_server_id(info["server_id"])
    assert info["server_id"] == (tmp_path / "data" / "server_id").read_text().strip()
    assert seen["ready_file_arg"] is None  # run() must not overwrite ours without server_id


def test_data_dir_in_use_is_one_line_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # run() must not install it process-wide
    (tmp_path / "data").mkdir()
    fd = os.open(tmp_path / "data" / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = CliRunner().invoke(entry.main, [
            "--data", str(tmp_path / "data"), "--nameserver", "http://127.0.0.1:1",
            "--cluster-secret", "s", "--port", "0"])
    finally:
        os.close(fd)
    assert result.exit_code == 1
    assert "in use by another blockstore" in result.output and "Traceback" not in result.output


def test_duty_flags_default_to_the_documented_values(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings = started_settings(monkeypatch, ["--data", str(tmp_path), "--nameserver",
                                              "http://ns:7070", "--cluster-secret", "s"])

    assert (settings.scrub_interval_s, settings.scrub_rate_bytes_per_s,
            settings.copy_rate_bytes_per_s, settings.copy_concurrency,
            settings.block_report_interval_s) == (3600.0, 32 * MiB, 128 * MiB, 4, 600.0)


def test_duty_flags_and_nameserver_list_come_from_flags_and_env(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = started_settings(
        monkeypatch,
        ["--data", str(tmp_path), "--cluster-secret", "s", "--scrub-interval", "60",
         "--scrub-rate", "1000", "--copy-rate", "0", "--block-report-interval", "30"],
        env={"PLEN_NAMESERVER": "http://ns1:7070,http://ns2:7070",
             "PLEN_BLOCKSTORE_COPY_CONCURRENCY": "9"})

    assert settings.nameserver_urls == ("http://ns1:7070", "http://ns2:7070")
    assert (settings.scrub_interval_s, settings.scrub_rate_bytes_per_s,
            settings.copy_rate_bytes_per_s, settings.copy_concurrency,
            settings.block_report_interval_s) == (60.0, 1000, 0, 9, 30.0)


def test_out_of_range_duty_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(entry.main, ["--data", str(tmp_path), "--nameserver",
                                             "http://ns", "--cluster-secret", "s",
                                             "--copy-concurrency", "0"])
    assert result.exit_code == 2
    assert "copy concurrency must be at least 1" in result.output
