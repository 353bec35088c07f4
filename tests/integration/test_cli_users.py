"""Users, keys and ownership through the real ``plen`` command on a real cluster.

Root adds users with ``plen user add``; each user then signs in with the printed keys
(PLEN_ACCESS_KEY/PLEN_SECRET_KEY), works in their own bucket, is refused in another's with
one line and exit 6, cannot manage users or servers, and rotates keys. The last test checks
that no secret ever appeared anywhere but in the output of the command that created it: not
in any other command's output, and not in any process's log.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.harness import Cluster, wait_until

CLUSTER_OPTIONS = {"gateway": True}
EXIT_DENIED = 6

# Every secret printed by an add, and every other command's output (checked last).
SECRETS: list[str] = []
OUTPUTS: list[bytes] = []
ROTATED: dict[str, User] = {}  # a user's current key after test_key_rotation


@dataclass(frozen=True)
class User:
    name: str
    access_key: str
    secret: str

    def env(self) -> dict[str, str]:
        return {"PLEN_ACCESS_KEY": self.access_key, "PLEN_SECRET_KEY": self.secret}


def plen(cluster: Cluster, *args: str, user: User | None = None, check: bool = True,
         input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``plen ARGS`` as ``user`` (root when None); its output joins OUTPUTS."""
    result = cluster.plen(*args, env=user.env() if user else None, check=check, input=input)
    OUTPUTS.append(result.stdout + result.stderr)
    return result


def parse_new_key(stdout: bytes) -> tuple[str, str]:
    text = stdout.decode()
    access = re.search(r"^access key: (\S+)$", text, re.M)
    secret = re.search(r"^secret key: (\S+)$", text, re.M)
    assert access and secret, text
    return access.group(1), secret.group(1)


def add_user(cluster: Cluster, name: str) -> User:
    result = cluster.plen("user", "add", name)  # not in OUTPUTS: it shows the secret
    access_key, secret = parse_new_key(result.stdout)
    assert result.stdout.decode().startswith(f"added user {name} (id ")
    warning = result.stderr.decode()
    assert "shown only this once" in warning and secret not in warning
    OUTPUTS.append(result.stderr)
    SECRETS.append(secret)
    return User(name, access_key, secret)


def add_key(cluster: Cluster, user: User) -> User:
    result = cluster.plen("user", "key", "add", user.name)
    access_key, secret = parse_new_key(result.stdout)
    OUTPUTS.append(result.stderr)
    SECRETS.append(secret)
    return User(user.name, access_key, secret)


def one_line(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err and "Traceback" not in result.stdout.decode(), err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def denied(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == EXIT_DENIED, (result.returncode, result.stderr)
    line = one_line(result)
    assert line.startswith("plen: ") and "access denied: " in line, line
    assert result.stdout == b""
    return line


def not_signed_in(result: subprocess.CompletedProcess[bytes]) -> bool:
    if result.returncode != EXIT_DENIED:
        return False
    line = one_line(result)
    assert "not signed in" in line and "PLEN_ACCESS_KEY" in line, line
    return True


def user_row(cluster: Cluster, name: str) -> dict[str, Any]:
    doc = json.loads(plen(cluster, "user", "ls", "--json").stdout)
    return next(u for u in doc["users"] if u["user"] == name)


@pytest.fixture(scope="module")
def cluster(shared_cluster: Cluster) -> Cluster:
    return shared_cluster


@pytest.fixture(scope="module")
def alice(cluster: Cluster) -> User:
    return add_user(cluster, "alice")


@pytest.fixture(scope="module")
def bob(cluster: Cluster) -> User:
    return add_user(cluster, "bob")


@pytest.fixture(scope="module")
def alice_bucket(cluster: Cluster, alice: User) -> str:
    plen(cluster, "mkdir", "/alice-bkt", user=alice)
    plen(cluster, "put", "-", "/alice-bkt/keep.txt", input=b"alice's data", user=alice)
    return "/alice-bkt"


def test_whoami_as_root_and_as_users(cluster: Cluster, alice: User, bob: User) -> None:
    out = plen(cluster, "whoami").stdout.decode().splitlines()
    assert out[0] == f"{cluster.s3_access_key} (root) at {cluster.nameserver_url}"
    for u in (alice, bob):
        out = plen(cluster, "whoami", user=u).stdout.decode().splitlines()
        assert out == [f"{u.name} at {cluster.nameserver_url}",
                       f"id: {hashlib.sha256(u.name.encode()).hexdigest()}",
                       f"access key: {u.access_key}"]


def test_user_ls_shows_users_and_keys_never_a_secret(cluster: Cluster, alice: User,
                                                     bob: User) -> None:
    table = plen(cluster, "user", "ls").stdout.decode()
    assert f"{cluster.s3_access_key} (root)" in table
    for u in (alice, bob):
        row = next(line for line in table.splitlines() if f" {u.name} " in line)
        assert u.access_key in row
        assert hashlib.sha256(u.name.encode()).hexdigest() in row
        assert u.secret not in table
    row = user_row(cluster, "alice")
    assert row["access_keys"] == [alice.access_key] and row["root"] is False
    assert "secret" not in str(row).lower()


def test_owner_works_in_own_bucket(cluster: Cluster, alice: User, alice_bucket: str) -> None:
    plen(cluster, "put", "-", f"{alice_bucket}/dir/f.txt", "-p", input=b"hello", user=alice)
    assert plen(cluster, "get", f"{alice_bucket}/dir/f.txt", "-",
                user=alice).stdout == b"hello"
    listing = plen(cluster, "ls", alice_bucket, user=alice).stdout.decode().split()
    assert "keep.txt" in listing and "dir/" in listing
    plen(cluster, "rm", f"{alice_bucket}/dir/f.txt", user=alice)
    assert plen(cluster, "get", f"{alice_bucket}/dir/f.txt", "-", user=alice,
                check=False).returncode == 3
    assert "alice-bkt/" in plen(cluster, "ls", "/", user=alice).stdout.decode().split()
    assert user_row(cluster, "alice")["buckets"] == 1


def test_another_user_is_refused_in_alices_bucket(cluster: Cluster, alice: User, bob: User,
                                                  alice_bucket: str) -> None:
    b = alice_bucket
    lines = [
        denied(plen(cluster, "ls", b, user=bob, check=False)),
        denied(plen(cluster, "ls", "-l", f"{b}/", user=bob, check=False)),
        denied(plen(cluster, "get", f"{b}/keep.txt", "-", user=bob, check=False)),
        denied(plen(cluster, "stat", f"{b}/keep.txt", user=bob, check=False)),
        denied(plen(cluster, "put", "-", f"{b}/bob.txt", input=b"x", user=bob, check=False)),
        denied(plen(cluster, "mkdir", "-p", f"{b}/sub", user=bob, check=False)),
        denied(plen(cluster, "rm", f"{b}/keep.txt", user=bob, check=False)),
        denied(plen(cluster, "rmdir", "-r", b, user=bob, check=False)),
        denied(plen(cluster, "cp", f"{b}/keep.txt", f"{b}/copy", user=bob, check=False)),
        denied(plen(cluster, "mv", f"{b}/keep.txt", f"{b}/moved", user=bob, check=False)),
    ]
    assert all("bob" in line for line in lines), lines
    # bob's own bucket is his; alice's stays out of his listing of /.
    plen(cluster, "mkdir", "/bob-bkt", user=bob)
    names = plen(cluster, "ls", "/", user=bob).stdout.decode().split()
    assert "bob-bkt/" in names and "alice-bkt/" not in names
    # Making an existing bucket does not take it over.
    assert plen(cluster, "mkdir", b, user=bob, check=False).returncode == 4
    # A bucket that does not exist reads as missing, not as refused.
    assert plen(cluster, "ls", "/no-such-bkt", user=bob, check=False).returncode == 3
    # Nothing of alice's changed.
    assert plen(cluster, "get", f"{b}/keep.txt", "-", user=alice).stdout == b"alice's data"
    listing = plen(cluster, "ls", b, user=alice).stdout.decode().split()
    assert "bob.txt" not in listing and "copy" not in listing and "sub/" not in listing
    plen(cluster, "rmdir", "/bob-bkt", user=bob)


def test_a_user_cannot_manage_users_or_servers(cluster: Cluster, alice: User,
                                               bob: User) -> None:
    for args in (("user", "add", "mallory"), ("user", "ls"), ("user", "rm", "bob"),
                 ("user", "key", "add", "alice"), ("user", "key", "add", "bob"),
                 ("user", "key", "rm", "bob", bob.access_key), ("server", "ls"),
                 ("server", "drain", "anything"), ("fsck",), ("init", "--yes")):
        line = denied(plen(cluster, *args, user=alice, check=False))
        assert "root only" in line, line
    assert "mallory" not in plen(cluster, "user", "ls").stdout.decode()
    assert user_row(cluster, "bob")["access_keys"] == [bob.access_key]
    # whoami and status are anyone's.
    plen(cluster, "status", user=alice)


def test_wrong_secret_and_unknown_key_are_not_signed_in(cluster: Cluster, alice: User) -> None:
    forged = User("alice", alice.access_key, alice.secret[::-1])
    assert not_signed_in(plen(cluster, "ls", "/", user=forged, check=False))
    unknown = User("nobody", "PLNOSUCHKEY000000000", "whatever")
    assert not_signed_in(plen(cluster, "whoami", user=unknown, check=False))


def test_boto3_with_a_users_keys(cluster: Cluster, alice: User, bob: User,
                                 alice_bucket: str) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    def s3(u: User) -> Any:
        return boto3.client("s3", endpoint_url=cluster.gateway_url, region_name="us-east-1",
                            aws_access_key_id=u.access_key, aws_secret_access_key=u.secret,
                            config=Config(s3={"addressing_style": "path"}))

    a, b = s3(alice), s3(bob)
    a.create_bucket(Bucket="alice-s3")
    a.put_object(Bucket="alice-s3", Key="k/v.txt", Body=b"via s3")
    assert a.get_object(Bucket="alice-s3", Key="k/v.txt")["Body"].read() == b"via s3"
    assert a.get_object(Bucket="alice-bkt", Key="keep.txt")["Body"].read() == b"alice's data"
    names = {x["Name"] for x in a.list_buckets()["Buckets"]}
    assert {"alice-s3", "alice-bkt"} <= names
    assert "alice-s3" not in {x["Name"] for x in b.list_buckets()["Buckets"]}
    for call in (lambda: b.get_object(Bucket="alice-s3", Key="k/v.txt"),
                 lambda: b.put_object(Bucket="alice-s3", Key="x", Body=b"x"),
                 lambda: b.list_objects_v2(Bucket="alice-s3")):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
    # The same object through plen, as alice; the owner id is the same everywhere.
    assert plen(cluster, "get", "/alice-s3/k/v.txt", "-", user=alice).stdout == b"via s3"
    owner = a.get_bucket_acl(Bucket="alice-s3")["Owner"]["ID"]
    assert owner == hashlib.sha256(b"alice").hexdigest()
    a.delete_object(Bucket="alice-s3", Key="k/v.txt")
    a.delete_bucket(Bucket="alice-s3")


def test_key_rotation(cluster: Cluster, alice: User, alice_bucket: str) -> None:
    new = add_key(cluster, alice)
    assert new.access_key != alice.access_key
    for u in (alice, new):  # both keys work
        assert plen(cluster, "get", f"{alice_bucket}/keep.txt", "-",
                    user=u).stdout == b"alice's data"
    assert sorted(user_row(cluster, "alice")["access_keys"]) == sorted(
        [alice.access_key, new.access_key])
    # A third key is refused: at most two.
    third = plen(cluster, "user", "key", "add", "alice", check=False)
    assert third.returncode != 0 and third.stdout == b""
    assert "2 access keys" in one_line(third)
    assert len(user_row(cluster, "alice")["access_keys"]) == 2
    # Removing the old key: refused within the key cache's 2 s, the new one still works.
    out = plen(cluster, "user", "key", "rm", "alice", alice.access_key).stdout.decode()
    assert out == f"removed access key {alice.access_key} of user alice\n"
    wait_until(lambda: not_signed_in(plen(cluster, "whoami", user=alice, check=False)),
               timeout=10, interval=0.5)
    assert plen(cluster, "whoami", user=new).stdout.decode().startswith("alice at ")
    assert user_row(cluster, "alice")["access_keys"] == [new.access_key]
    # Removing it again, or someone else's key: the nameserver's words, exit 3.
    again = plen(cluster, "user", "key", "rm", "alice", alice.access_key, check=False)
    assert again.returncode == 3 and "no access key" in one_line(again)
    ROTATED["alice"] = new


def test_user_rm_refused_while_owning_a_bucket(cluster: Cluster, alice: User,
                                               alice_bucket: str) -> None:
    current = ROTATED.get("alice", alice)
    refused = plen(cluster, "user", "rm", "alice", check=False)
    assert refused.returncode == 1
    line = one_line(refused)
    assert "owns 1 bucket" in line and "alice-bkt" in line, line
    assert plen(cluster, "whoami", user=current).returncode == 0  # still there
    plen(cluster, "rmdir", "-r", alice_bucket, user=current)
    assert plen(cluster, "user", "rm", "alice").stdout == b"removed user alice\n"
    wait_until(lambda: not_signed_in(plen(cluster, "whoami", user=current, check=False)),
               timeout=10, interval=0.5)
    names = [u["user"] for u in json.loads(plen(cluster, "user", "ls", "--json").stdout)["users"]]
    assert "alice" not in names and "bob" in names
    missing = plen(cluster, "user", "rm", "alice", check=False)
    assert missing.returncode == 3 and "no such user" in one_line(missing)


def test_no_secret_in_any_other_output_or_log(cluster: Cluster) -> None:
    assert SECRETS, "the tests above made no secrets"
    for secret in SECRETS:
        needle = secret.encode()
        assert not any(needle in out for out in OUTPUTS), "a secret appeared in an output"
        for log in sorted(cluster.log_dir.rglob("*")):
            if log.is_file():
                assert needle not in log.read_bytes(), f"a secret is in {log}"
