"""Cluster lookup order and the working directory's state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nameserver.store.embedded import free_port
from plen.cli import config
from plen.cli.main import cli


@pytest.fixture
def cfg(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cfg" / "config.json"
    monkeypatch.setenv("PLEN_CONFIG", str(path))
    monkeypatch.delenv("PLEN_NAMESERVER", raising=False)
    return path


def test_config_path_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.delenv("PLEN_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.config_path() == tmp_path / ".config" / "plen" / "config.json"
    assert config.state_path() == tmp_path / ".config" / "plen" / "state.json"


def test_state_file_sits_beside_a_custom_config(cfg):
    other = cfg.with_name("work.json")
    assert config.state_path(other) == cfg.with_name("work.state.json")
    assert config.state_path() == cfg.with_name("state.json")


def test_lookup_order_flag_then_env_then_file(cfg, monkeypatch):
    assert config.save_nameserver("http://from-file:1") == cfg
    assert config.resolve_nameserver(None) == "http://from-file:1"
    assert config.resolve_nameserver("http://flag:2/") == "http://flag:2"
    cfg.unlink()
    with pytest.raises(config.NoClusterError):
        config.resolve_nameserver(None)


def test_env_beats_config_file_and_flag_beats_env(cfg, fake_cluster_thread, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    config.save_nameserver(fake_cluster_thread.url)
    runner = CliRunner()
    assert runner.invoke(cli, ["ls", "/"]).exit_code == 0  # the config file
    monkeypatch.setenv("PLEN_NAMESERVER", dead)
    result = runner.invoke(cli, ["ls", "/"])
    assert result.exit_code == 5 and dead in result.stderr  # env beats the file
    result = runner.invoke(cli, ["--nameserver", fake_cluster_thread.url, "ls", "/"])
    assert result.exit_code == 0, result.stderr  # the flag beats env


def test_save_nameserver_keeps_other_keys(cfg):
    cfg.parent.mkdir(parents=True)
    cfg.write_text(json.dumps({"nameserver": "http://old:1", "extra": 1}))
    config.save_nameserver("http://new:2")
    assert json.loads(cfg.read_text()) == {"nameserver": "http://new:2", "extra": 1}


def test_cwd_is_remembered_per_cluster(cfg):
    assert config.load_cwd("http://a:1") == "/"
    config.save_cwd("http://a:1", "/b/c")
    assert config.load_cwd("http://a:1") == "/b/c"
    assert config.load_cwd("http://other:1") == "/"  # another cluster starts at the root
    state = json.loads(config.state_path().read_text())
    assert state == {"cwd": "/b/c", "nameserver": "http://a:1"}
    config.state_path().write_text('{"cwd": "relative"}')
    assert config.load_cwd("http://a:1") == "/"


def test_pwd_works_without_a_cluster(cfg):
    result = CliRunner().invoke(cli, ["pwd"])
    assert result.exit_code == 0
    assert result.output == "/\n"
