"""Settings.validate: every nameserver URL is checked, and so is each duty's range."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blockstore.settings import Settings
from plen.wire.errors import ErrorCode, WireError


def settings(**overrides: Any) -> Settings:
    return Settings(**{"data_dir": Path("/data"), "nameserver_url": "http://ns:7070",
                       "cluster_secret": "s", **overrides})


def test_settings_split_nameserver_list_into_urls() -> None:
    valid = settings(nameserver_url="http://ns1:7070, https://ns2:7070/").validate()

    assert valid.nameserver_urls == ("http://ns1:7070", "https://ns2:7070/")
    assert settings().validate().nameserver_urls == ("http://ns:7070",)


@pytest.mark.parametrize("value, bad", [("http://ns1,ns2:7070", "'ns2:7070'"),
                                        ("http://ns1,,http://ns2", "''"),
                                        ("http://ns1,", "''")])
def test_settings_refuse_any_bad_nameserver_url(value: str, bad: str) -> None:
    with pytest.raises(WireError) as caught:
        settings(nameserver_url=value).validate()

    assert caught.value.code is ErrorCode.INVALID
    assert f"--nameserver must be an http:// or https:// URL, not {bad}" in caught.value.message


@pytest.mark.parametrize("field, value, message", [
    ("scrub_interval_s", -1.0, "scrub interval must be 0 (off) or a number of seconds"),
    ("scrub_interval_s", float("nan"), "scrub interval must be 0 (off)"),
    ("scrub_rate_bytes_per_s", 0, "scrub rate must be a positive number of bytes per second"),
    ("copy_rate_bytes_per_s", -1, "copy rate must be 0 (unlimited) or bytes per second"),
    ("copy_concurrency", 0, "copy concurrency must be at least 1"),
    ("block_report_interval_s", -5.0, "block report interval must be 0 (only at registration)"),
    ("block_report_interval_s", float("inf"), "block report interval must be 0"),
])
def test_settings_refuse_out_of_range_duty_settings(field: str, value: float,
                                                    message: str) -> None:
    with pytest.raises(WireError) as caught:
        settings(**{field: value}).validate()

    assert message in caught.value.message


def test_settings_accept_zero_where_zero_means_off_or_unlimited() -> None:
    valid = settings(scrub_interval_s=0.0, copy_rate_bytes_per_s=0,
                     block_report_interval_s=0.0).validate()

    assert (valid.scrub_interval_s, valid.copy_rate_bytes_per_s,
            valid.block_report_interval_s) == (0.0, 0, 0.0)
