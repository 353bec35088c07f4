"""``plen user ...`` and ``plen whoami``: what they print, and how refusals read, against a
stand-in nameserver client (no cluster; the real one is tests/integration/test_cli_users.py)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from plen.access import owner_id
from plen.cli.main import AppContext, cli
from plen.wire.access import NewKeyResponse, UserInfo, UserListResponse, WhoAmIResponse
from plen.wire.errors import ErrorCode, WireError

SECRET = "s3cr3t-" + "x" * 33


class FakeNameserver:
    """What users.py calls on ``fs.nameserver``; ``fail`` makes every call raise it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: WireError | None = None

    async def _ret(self, name: str, args: tuple[Any, ...], value: Any) -> Any:
        self.calls.append((name, args))
        if self.fail is not None:
            raise self.fail
        return value

    def user_add(self, user: str):
        return self._ret("user_add", (user,), NewKeyResponse(
            user=user, access_key="PLAAAAAAAAAAAAAAAAAA", secret_key=SECRET))

    def key_add(self, user: str):
        return self._ret("key_add", (user,), NewKeyResponse(
            user=user, access_key="PLBBBBBBBBBBBBBBBBBB", secret_key=SECRET))

    def key_remove(self, user: str, access_key: str):
        return self._ret("key_remove", (user, access_key), None)

    def user_remove(self, user: str):
        return self._ret("user_remove", (user,), None)

    def user_list(self):
        users = [UserInfo(user="alice", id=owner_id("alice"),
                          access_keys=["PLAAAAAAAAAAAAAAAAAA", "PLBBBBBBBBBBBBBBBBBB"],
                          created=1_700_000_000.0, buckets=2),
                 UserInfo(user="admin", id=owner_id("admin"), access_keys=["admin"],
                          created=0.0, root=True, buckets=1)]
        return self._ret("user_list", (), UserListResponse(users=users))

    def whoami(self):
        return self._ret("whoami", (), WhoAmIResponse(user="alice", id=owner_id("alice"),
                                                      root=False))


@pytest.fixture
def ns(monkeypatch, tmp_path) -> FakeNameserver:
    fake = FakeNameserver()
    monkeypatch.setenv("PLEN_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("PLEN_NAMESERVER", "http://ns.example:7070")
    monkeypatch.setenv("PLEN_ACCESS_KEY", "PLAAAAAAAAAAAAAAAAAA")

    def run(self: AppContext, fn):
        return asyncio.run(fn(SimpleNamespace(nameserver=fake)))

    monkeypatch.setattr(AppContext, "run", run)
    return fake


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_user_add_prints_the_key_and_secret_once_with_a_warning(ns):
    result = invoke("user", "add", "alice")
    assert result.exit_code == 0, result.stderr
    assert ns.calls == [("user_add", ("alice",))]
    assert result.stdout.splitlines() == [
        f"added user alice (id {owner_id('alice')})",
        "access key: PLAAAAAAAAAAAAAAAAAA",
        f"secret key: {SECRET}"]
    warning = result.stderr.splitlines()
    assert len(warning) == 1 and "shown only this once" in warning[0]
    assert SECRET not in result.stderr


def test_user_add_json_is_one_document_and_nothing_on_stderr(ns):
    result = invoke("--json", "user", "add", "alice")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"user": "alice", "id": owner_id("alice"),
                                         "access_key": "PLAAAAAAAAAAAAAAAAAA",
                                         "secret_key": SECRET}
    assert result.stderr == ""


def test_key_add_and_key_rm(ns):
    result = invoke("user", "key", "add", "alice")
    assert result.exit_code == 0
    assert "access key: PLBBBBBBBBBBBBBBBBBB" in result.stdout
    assert f"secret key: {SECRET}" in result.stdout
    result = invoke("user", "key", "rm", "alice", "PLAAAAAAAAAAAAAAAAAA")
    assert result.exit_code == 0
    assert result.stdout == "removed access key PLAAAAAAAAAAAAAAAAAA of user alice\n"
    assert ns.calls[-1] == ("key_remove", ("alice", "PLAAAAAAAAAAAAAAAAAA"))
    result = invoke("user", "key", "rm", "alice", "PLAAAAAAAAAAAAAAAAAA", "--json")
    assert json.loads(result.stdout) == {"user": "alice", "access_key": "PLAAAAAAAAAAAAAAAAAA",
                                         "removed": True}


def test_user_ls_table_marks_root_and_shows_no_secret(ns):
    result = invoke("user", "ls")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "users of http://ns.example:7070"
    body = [line for line in lines if "alice" in line or "admin" in line]
    assert "admin (root)" in body[0]  # root first
    assert owner_id("admin") in body[0]
    assert "alice" in body[1] and owner_id("alice") in body[1]
    assert "PLAAAAAAAAAAAAAAAAAA, PLBBBBBBBBBBBBBBBBBB" in body[1]
    cells = [c.strip() for c in body[1].split("\u2502") if c.strip()]
    assert cells[3] == "2", cells  # buckets, then the creation date and time
    assert SECRET not in result.stdout


def test_user_ls_json(ns):
    doc = json.loads(invoke("user", "ls", "--json").stdout)
    assert doc["nameserver"] == "http://ns.example:7070"
    alice = next(u for u in doc["users"] if u["user"] == "alice")
    assert alice == {"user": "alice", "id": owner_id("alice"), "root": False,
                     "access_keys": ["PLAAAAAAAAAAAAAAAAAA", "PLBBBBBBBBBBBBBBBBBB"],
                     "buckets": 2, "created": "2023-11-14T22:13:20.000Z"}
    assert next(u for u in doc["users"] if u["user"] == "admin")["root"] is True


def test_user_rm(ns):
    result = invoke("user", "rm", "alice")
    assert result.exit_code == 0 and result.stdout == "removed user alice\n"
    assert json.loads(invoke("user", "rm", "alice", "--json").stdout) == {
        "user": "alice", "removed": True}


def test_whoami(ns):
    result = invoke("whoami")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "alice at http://ns.example:7070", f"id: {owner_id('alice')}",
        "access key: PLAAAAAAAAAAAAAAAAAA"]
    doc = json.loads(invoke("whoami", "--json").stdout)
    assert doc == {"user": "alice", "id": owner_id("alice"), "root": False,
                   "access_key": "PLAAAAAAAAAAAAAAAAAA", "nameserver": "http://ns.example:7070"}


def test_forbidden_is_one_access_denied_line_and_exit_6(ns):
    ns.fail = WireError(ErrorCode.FORBIDDEN,
                        "access denied: user alice may not call user-add (root only)")
    result = invoke("user", "add", "bob")
    assert result.exit_code == 6
    assert result.stderr == ("plen: user add bob: access denied: user alice may not call "
                             "user-add (root only)\n")
    assert result.stdout == ""
    result = invoke("--json", "user", "add", "bob")
    assert result.exit_code == 6
    assert json.loads(result.stderr)["error"]["code"] == "forbidden"


def test_forbidden_without_the_words_gets_them(ns):
    ns.fail = WireError(ErrorCode.FORBIDDEN, "bad token")
    result = invoke("user", "ls")
    assert result.exit_code == 6
    assert result.stderr == "plen: user ls: access denied: bad token\n"


def test_unauthorized_says_which_variables_to_check(ns):
    ns.fail = WireError(ErrorCode.UNAUTHORIZED, "unknown access key 'PLX'")
    result = invoke("whoami")
    assert result.exit_code == 6
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("plen: whoami: not signed in: unknown access key 'PLX' "
                               "(check PLEN_ACCESS_KEY and PLEN_SECRET_KEY")
    result = invoke("--json", "whoami")
    assert json.loads(result.stderr)["error"] == {
        "code": "unauthorized", "message": json.loads(result.stderr)["error"]["message"],
        "exit_code": 6}


def test_no_credentials_is_exit_6_and_json_code(monkeypatch, tmp_path):
    monkeypatch.setenv("PLEN_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("PLEN_NAMESERVER", "http://127.0.0.1:9")
    monkeypatch.delenv("PLEN_ACCESS_KEY")
    monkeypatch.delenv("PLEN_SECRET_KEY")
    result = invoke("ls", "/")
    assert result.exit_code == 6
    assert result.stderr.startswith("plen: no credentials: set PLEN_ACCESS_KEY")
    assert len(result.stderr.splitlines()) == 1
    result = invoke("--json", "whoami")
    assert result.exit_code == 6
    assert json.loads(result.stderr)["error"]["code"] == "no_credentials"


def test_user_commands_are_in_help():
    out = invoke("--help").stdout
    assert "user" in out and "whoami" in out
    out = invoke("user", "--help").stdout
    for word in ("add", "ls", "rm", "key"):
        assert word in out


def test_missing_user_or_key_reads_as_the_nameserver_says(ns):
    ns.fail = WireError(ErrorCode.NOT_FOUND, "no such user: bob")
    result = invoke("user", "rm", "bob")
    assert result.exit_code == 3
    assert result.stderr == "plen: user rm bob: no such user: bob\n"
    ns.fail = WireError(ErrorCode.ALREADY_EXISTS, "user alice exists")
    result = invoke("--json", "user", "add", "alice")
    assert result.exit_code == 4
    assert json.loads(result.stderr)["error"]["code"] == "already_exists"
    ns.fail = WireError(ErrorCode.CONFLICT, "user alice owns 1 bucket(s) (b): remove them first")
    result = invoke("user", "rm", "alice")
    assert result.exit_code == 1
    assert result.stderr == ("plen: user rm alice: user alice owns 1 bucket(s) (b): "
                             "remove them first\n")
