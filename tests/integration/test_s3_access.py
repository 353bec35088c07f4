"""Users, owners, canned ACLs and bucket policies through the S3 gateway, and the signed
client API of the nameserver, on a real cluster with real clients (boto3, raw HTTP).

Every test is an attack or a permission that must hold: the refusal is checked, and that
nothing changed (the object still there, with its bytes).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from plen.auth import Credentials, sign
from tests.integration.harness import Cluster, http_request, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("access"), gateway=True, inline_max=0) as c:
        yield c


class User:
    def __init__(self, cluster: Cluster, name: str, access_key: str, secret: str) -> None:
        self.cluster, self.name, self.access_key, self.secret = cluster, name, access_key, secret

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.access_key, self.secret)

    def s3(self, signature_version: str = "s3v4") -> object:
        return boto3.client(
            "s3", endpoint_url=self.cluster.gateway_url, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret,
            config=Config(s3={"addressing_style": "path"}, signature_version=signature_version,
                          retries={"max_attempts": 1}))


def add_user(cluster: Cluster, name: str) -> User:
    made = cluster.ns_post("user-add", {"user": name})
    assert made["user"] == name and made["access_key"] and len(made["secret_key"]) >= 40
    return User(cluster, name, made["access_key"], made["secret_key"])


def anonymous(cluster: Cluster) -> object:
    return boto3.client("s3", endpoint_url=cluster.gateway_url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED,
                                      s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response["Error"]["Code"]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def alice(cluster: Cluster) -> User:
    return add_user(cluster, "alice")


@pytest.fixture(scope="module")
def bob(cluster: Cluster) -> User:
    return add_user(cluster, "bob")


@pytest.fixture
def alice_bucket(alice: User) -> str:
    bucket = unique("alice")
    s3 = alice.s3()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="private/doc", Body=b"alice's secret")
    s3.put_object(Bucket=bucket, Key="public/page", Body=b"hello world")
    return bucket


# ------------------------------------------------------------------------- ownership


def test_a_user_sees_and_touches_only_their_own_buckets(cluster: Cluster, alice: User,
                                                        bob: User, alice_bucket: str) -> None:
    a, b = alice.s3(), bob.s3()
    assert alice_bucket in [x["Name"] for x in a.list_buckets()["Buckets"]]
    assert alice_bucket not in [x["Name"] for x in b.list_buckets()["Buckets"]]
    assert alice_bucket in [x["Name"] for x in cluster.s3_client().list_buckets()["Buckets"]]
    assert code_of(b.list_objects_v2, Bucket=alice_bucket) == "AccessDenied"
    assert code_of(b.get_object, Bucket=alice_bucket, Key="private/doc") == "AccessDenied"
    assert code_of(b.head_object, Bucket=alice_bucket, Key="private/doc") == "403"
    assert code_of(b.put_object, Bucket=alice_bucket, Key="private/doc",
                   Body=b"bob was here") == "AccessDenied"
    assert code_of(b.delete_object, Bucket=alice_bucket, Key="private/doc") == "AccessDenied"
    assert code_of(b.delete_bucket, Bucket=alice_bucket) == "AccessDenied"
    assert code_of(b.put_bucket_policy, Bucket=alice_bucket,
                   Policy=_policy(alice_bucket, "Allow", "*", "s3:*", "*")) == "AccessDenied"
    assert code_of(b.put_bucket_acl, Bucket=alice_bucket, ACL="public-read") == "AccessDenied"
    assert code_of(b.create_multipart_upload, Bucket=alice_bucket, Key="x") == "AccessDenied"
    # Nothing changed.
    assert a.get_object(Bucket=alice_bucket, Key="private/doc")["Body"].read() == \
        b"alice's secret"
    assert a.get_bucket_acl(Bucket=alice_bucket)["Grants"] == [
        {"Grantee": {"Type": "CanonicalUser", "ID": _id("alice"), "DisplayName": "alice"},
         "Permission": "FULL_CONTROL"}]


def test_deleteobjects_and_copy_check_every_key(alice: User, bob: User,
                                               alice_bucket: str) -> None:
    b = bob.s3()
    bob_bucket = unique("bob")
    b.create_bucket(Bucket=bob_bucket)
    result = b.delete_objects(Bucket=alice_bucket, Delete={"Objects": [
        {"Key": "private/doc"}, {"Key": "public/page"}]})
    assert sorted(e["Code"] for e in result.get("Errors", [])) == ["AccessDenied"] * 2
    assert not result.get("Deleted")
    assert code_of(b.copy_object, Bucket=bob_bucket, Key="stolen",
                   CopySource={"Bucket": alice_bucket, "Key": "private/doc"}) == "AccessDenied"
    assert code_of(b.head_object, Bucket=bob_bucket, Key="stolen") == "404"
    assert alice.s3().get_object(Bucket=alice_bucket, Key="public/page")["Body"].read() == \
        b"hello world"


def test_bucket_names_are_global_and_owner_ids_are_one_everywhere(
        cluster: Cluster, alice: User, bob: User, alice_bucket: str) -> None:
    assert code_of(bob.s3().create_bucket, Bucket=alice_bucket) == "BucketAlreadyExists"
    alice.s3().create_bucket(Bucket=alice_bucket)  # us-east-1: the owner again gets 200
    listed = alice.s3().list_buckets()
    assert listed["Owner"] == {"DisplayName": "alice", "ID": _id("alice")}
    objects = cluster.s3_client().list_objects(Bucket=alice_bucket)  # root, in alice's bucket
    assert {o["Owner"]["ID"] for o in objects["Contents"]} == {_id("alice")}
    assert alice.s3().get_object_acl(Bucket=alice_bucket, Key="public/page")["Owner"]["ID"] == \
        _id("alice")


def test_anonymous_requests_reach_only_what_is_public(cluster: Cluster,
                                                     alice_bucket: str) -> None:
    anon = anonymous(cluster)
    assert code_of(anon.list_buckets) == "AccessDenied"
    assert code_of(anon.list_objects_v2, Bucket=alice_bucket) == "AccessDenied"
    assert code_of(anon.get_object, Bucket=alice_bucket, Key="public/page") == "AccessDenied"
    assert code_of(anon.put_object, Bucket=alice_bucket, Key="x", Body=b"x") == "AccessDenied"
    assert code_of(anon.create_bucket, Bucket=unique("anon")) == "AccessDenied"


# ------------------------------------------------------------------------- canned ACLs


def test_public_read_bucket_lists_for_anyone_but_objects_need_their_own_acl(
        cluster: Cluster, alice: User, bob: User, alice_bucket: str) -> None:
    a, anon = alice.s3(), anonymous(cluster)
    a.put_bucket_acl(Bucket=alice_bucket, ACL="public-read")
    keys = [o["Key"] for o in anon.list_objects_v2(Bucket=alice_bucket)["Contents"]]
    assert keys == ["private/doc", "public/page"]
    # As in S3: the bucket's READ is listing; reading an object takes the object's ACL.
    assert code_of(anon.get_object, Bucket=alice_bucket, Key="public/page") == "AccessDenied"
    a.put_object_acl(Bucket=alice_bucket, Key="public/page", ACL="public-read")
    assert anon.get_object(Bucket=alice_bucket, Key="public/page")["Body"].read() == \
        b"hello world"
    assert bob.s3().get_object(Bucket=alice_bucket, Key="public/page")["Body"].read() == \
        b"hello world"
    assert code_of(anon.get_object, Bucket=alice_bucket, Key="private/doc") == "AccessDenied"
    assert code_of(anon.put_object, Bucket=alice_bucket, Key="x", Body=b"x") == "AccessDenied"
    grants = a.get_object_acl(Bucket=alice_bucket, Key="public/page")["Grants"]
    assert {"Grantee": {"Type": "Group",
                        "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ"} in grants
    # Back to private: the object is closed again.
    a.put_object_acl(Bucket=alice_bucket, Key="public/page", ACL="private")
    assert code_of(anon.get_object, Bucket=alice_bucket, Key="public/page") == "AccessDenied"


def test_object_acl_on_put_and_presigned_urls(cluster: Cluster, alice: User,
                                              alice_bucket: str) -> None:
    a = alice.s3()
    a.put_object(Bucket=alice_bucket, Key="open", Body=b"open data", ACL="public-read")
    status, body = http_request("GET", f"{cluster.gateway_url}/{alice_bucket}/open")
    assert (status, body) == (200, b"open data")
    status, _ = http_request("GET", f"{cluster.gateway_url}/{alice_bucket}/private/doc")
    assert status == 403
    url = a.generate_presigned_url("get_object", Params={"Bucket": alice_bucket,
                                                         "Key": "private/doc"})
    assert urllib.request.urlopen(url, timeout=10).read() == b"alice's secret"
    # A copy does not inherit the ACL (S3): the copy is private.
    a.copy_object(Bucket=alice_bucket, Key="copy-of-open",
                  CopySource={"Bucket": alice_bucket, "Key": "open"})
    status, _ = http_request("GET", f"{cluster.gateway_url}/{alice_bucket}/copy-of-open")
    assert status == 403
    assert code_of(a.put_object, Bucket=alice_bucket, Key="k", Body=b"",
                   ACL="no-such-acl") == "InvalidArgument"


def test_public_read_write_and_authenticated_read(cluster: Cluster, alice: User, bob: User,
                                                  alice_bucket: str) -> None:
    a, b, anon = alice.s3(), bob.s3(), anonymous(cluster)
    a.put_bucket_acl(Bucket=alice_bucket, ACL="authenticated-read")
    assert [o["Key"] for o in b.list_objects_v2(Bucket=alice_bucket)["Contents"]]
    assert code_of(anon.list_objects_v2, Bucket=alice_bucket) == "AccessDenied"
    assert code_of(b.put_object, Bucket=alice_bucket, Key="drop", Body=b"x") == "AccessDenied"
    a.put_bucket_acl(Bucket=alice_bucket, ACL="public-read-write")
    anon.put_object(Bucket=alice_bucket, Key="drop", Body=b"from anyone")
    assert a.get_object(Bucket=alice_bucket, Key="drop")["Body"].read() == b"from anyone"
    # Writing is not administering: the ACL and the policy stay the owner's.
    assert code_of(b.put_bucket_acl, Bucket=alice_bucket, ACL="private") == "AccessDenied"
    assert code_of(b.get_bucket_acl, Bucket=alice_bucket) == "AccessDenied"
    acl = a.get_bucket_acl(Bucket=alice_bucket)["Grants"]
    assert sorted(g["Permission"] for g in acl) == ["FULL_CONTROL", "READ", "WRITE"]


def test_acl_set_with_an_access_control_policy_document(alice: User, alice_bucket: str) -> None:
    a = alice.s3()
    owner = {"ID": _id("alice"), "DisplayName": "alice"}
    all_users = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}
    a.put_bucket_acl(Bucket=alice_bucket, AccessControlPolicy={
        "Owner": owner, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": _id("alice")},
             "Permission": "FULL_CONTROL"},
            {"Grantee": all_users, "Permission": "READ"}]})
    assert {"Grantee": all_users, "Permission": "READ"} in \
        a.get_bucket_acl(Bucket=alice_bucket)["Grants"]
    assert code_of(a.put_bucket_acl, Bucket=alice_bucket, AccessControlPolicy={
        "Owner": owner, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": _id("bob")},
             "Permission": "READ_ACP"}]}) == "NotImplemented"


# ------------------------------------------------------------------------- bucket policies


def _policy(bucket: str, effect: str, principal, action, resource: str, **extra) -> str:
    statement = {"Effect": effect, "Principal": principal, "Action": action,
                 "Resource": f"arn:aws:s3:::{bucket}" + ("" if resource == "" else
                                                         f"/{resource}"), **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _user_arn(name: str) -> str:
    return f"arn:aws:iam::000000000000:user/{name}"


def test_policy_allows_a_user_a_prefix_and_deny_wins(cluster: Cluster, alice: User, bob: User,
                                                    alice_bucket: str) -> None:
    a, b, anon = alice.s3(), bob.s3(), anonymous(cluster)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "bob-reads-public", "Effect": "Allow",
         "Principal": {"AWS": [_user_arn("bob")]}, "Action": ["s3:GetObject"],
         "Resource": f"arn:aws:s3:::{alice_bucket}/public/*"},
        {"Sid": "everyone-lists", "Effect": "Allow", "Principal": "*",
         "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{alice_bucket}"},
        {"Sid": "nobody-writes-public", "Effect": "Deny", "Principal": "*",
         "Action": ["s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{alice_bucket}/public/*"},
    ]}
    a.put_bucket_policy(Bucket=alice_bucket, Policy=json.dumps(policy))
    assert json.loads(a.get_bucket_policy(Bucket=alice_bucket)["Policy"]) == policy
    assert a.get_bucket_policy_status(Bucket=alice_bucket)["PolicyStatus"]["IsPublic"] is True
    assert b.get_object(Bucket=alice_bucket, Key="public/page")["Body"].read() == b"hello world"
    assert code_of(b.get_object, Bucket=alice_bucket, Key="private/doc") == "AccessDenied"
    assert code_of(anon.get_object, Bucket=alice_bucket, Key="public/page") == "AccessDenied"
    assert len(anon.list_objects_v2(Bucket=alice_bucket)["Contents"]) == 2
    # Deny wins, even over the owner (plen/access.py Rule 1); the owner can still lift it.
    assert code_of(a.put_object, Bucket=alice_bucket, Key="public/page",
                   Body=b"changed") == "AccessDenied"
    assert code_of(a.delete_object, Bucket=alice_bucket, Key="public/page") == "AccessDenied"
    a.delete_bucket_policy(Bucket=alice_bucket)
    assert code_of(a.get_bucket_policy, Bucket=alice_bucket) == "NoSuchBucketPolicy"
    a.put_object(Bucket=alice_bucket, Key="public/page", Body=b"changed")
    assert code_of(b.get_object, Bucket=alice_bucket, Key="public/page") == "AccessDenied"
    # Root can do everything, policy or not.
    a.put_bucket_policy(Bucket=alice_bucket, Policy=_policy(alice_bucket, "Deny", "*", "s3:*",
                                                            "*"))
    assert cluster.s3_client().get_object(Bucket=alice_bucket,
                                          Key="public/page")["Body"].read() == b"changed"
    a.delete_bucket_policy(Bucket=alice_bucket)


def test_policy_for_anyone_with_wildcards_and_canonical_ids(cluster: Cluster, alice: User,
                                                           bob: User, alice_bucket: str) -> None:
    a, b, anon = alice.s3(), bob.s3(), anonymous(cluster)
    a.put_bucket_policy(Bucket=alice_bucket, Policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{alice_bucket}/pub?ic/*"},
        {"Effect": "Allow", "Principal": {"CanonicalUser": _id("bob")},
         "Action": "s3:*", "Resource": f"arn:aws:s3:::{alice_bucket}/private/*"}]}))
    assert anon.get_object(Bucket=alice_bucket, Key="public/page")["Body"].read()
    assert code_of(anon.get_object, Bucket=alice_bucket, Key="private/doc") == "AccessDenied"
    b.put_object(Bucket=alice_bucket, Key="private/from-bob", Body=b"b")
    assert b.get_object(Bucket=alice_bucket, Key="private/doc")["Body"].read() == \
        b"alice's secret"
    b.delete_object(Bucket=alice_bucket, Key="private/from-bob")
    assert code_of(b.put_object, Bucket=alice_bucket, Key="elsewhere",
                   Body=b"x") == "AccessDenied"
    a.delete_bucket_policy(Bucket=alice_bucket)


@pytest.mark.parametrize("policy", [
    "not json",
    "[]",
    json.dumps({"Statement": []}),
    json.dumps({"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::BUCKET/*"}]}),
    json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                               "Action": "s3:PutBucketPolicy",
                               "Resource": "arn:aws:s3:::BUCKET/*"}]}),
    json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::another-bucket/*"}]}),
    json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob"},
                               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}),
    json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::BUCKET/*",
                               "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}),
    json.dumps({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "*"},
                               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}),
    "{" + " " * 21000 + "}",
], ids=["not-json", "array", "no-statement", "bad-effect", "unsupported-action",
        "other-bucket", "bare-principal", "condition", "not-principal", "too-large"])
def test_malformed_or_unsupported_policies_are_refused(alice: User, alice_bucket: str,
                                                       policy: str) -> None:
    a = alice.s3()
    code = code_of(a.put_bucket_policy, Bucket=alice_bucket,
                   Policy=policy.replace("BUCKET", alice_bucket))
    assert code in ("MalformedPolicy", "MaxMessageLengthExceeded")
    assert code_of(a.get_bucket_policy, Bucket=alice_bucket) == "NoSuchBucketPolicy"


# ------------------------------------------------------------------------- keys and users


def test_sigv2_and_streaming_signatures_work_for_users(alice: User, alice_bucket: str) -> None:
    v2 = alice.s3("s3")
    v2.put_object(Bucket=alice_bucket, Key="v2", Body=b"signed the old way")
    assert v2.get_object(Bucket=alice_bucket, Key="v2")["Body"].read() == b"signed the old way"
    forged = User(alice.cluster, "alice", alice.access_key, "x" * 40)
    assert code_of(forged.s3().list_objects_v2, Bucket=alice_bucket) == "SignatureDoesNotMatch"
    assert code_of(forged.s3("s3").list_objects_v2, Bucket=alice_bucket) == \
        "SignatureDoesNotMatch"
    unknown = User(alice.cluster, "nobody", "PLNOSUCHKEY000000000", "x" * 40)
    assert code_of(unknown.s3().list_buckets) == "InvalidAccessKeyId"
    assert code_of(unknown.s3("s3").list_buckets) == "InvalidAccessKeyId"


def test_key_rotation_and_user_removal(cluster: Cluster) -> None:
    carol = add_user(cluster, unique("carol"))
    bucket = unique("carol")
    carol.s3().create_bucket(Bucket=bucket)
    second = cluster.ns_post("user-key-add", {"user": carol.name})
    carol2 = User(cluster, carol.name, second["access_key"], second["secret_key"])
    assert carol2.s3().list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    status, body = cluster.ns_call("user-key-add", {"user": carol.name})
    assert status == 409 and "2 access keys" in body["error"]["message"]
    cluster.ns_post("user-key-remove", {"user": carol.name, "access_key": carol.access_key})

    def old_key_refused() -> bool:
        try:
            carol.s3().list_buckets()
        except ClientError as err:
            return err.response["Error"]["Code"] == "InvalidAccessKeyId"
        return False

    wait_until(old_key_refused, timeout=15)
    assert [x["Name"] for x in carol2.s3().list_buckets()["Buckets"]] == [bucket]
    status, body = cluster.ns_call("user-remove", {"user": carol.name})
    assert status == 409 and bucket in body["error"]["message"]
    carol2.s3().delete_bucket(Bucket=bucket)
    cluster.ns_post("user-remove", {"user": carol.name})

    def new_key_refused() -> bool:
        try:
            carol2.s3().list_buckets()
        except ClientError as err:
            return err.response["Error"]["Code"] == "InvalidAccessKeyId"
        return False

    wait_until(new_key_refused, timeout=15)
    users = cluster.ns_post("user-list", {})["users"]
    assert carol.name not in [u["user"] for u in users]


def test_secrets_are_never_listed_nor_logged(cluster: Cluster, alice: User, bob: User,
                                             alice_bucket: str) -> None:
    listed = json.dumps(cluster.ns_post("user-list", {}))
    for user in (alice, bob):
        assert user.access_key in listed
        assert user.secret not in listed
    # What the daemons wrote (the harness's own line above each start shows the command line
    # it ran, secrets included: that is the test's, not a log line).
    logs = "\n".join(line for p in Path(cluster.log_dir).glob("*.log")
                     for line in p.read_text(errors="replace").splitlines()
                     if not line.startswith("--- harness"))
    assert '"logger": "gateway.access"' in logs  # the access lines are there to search
    for secret in (alice.secret, bob.secret, cluster.s3_secret_key, cluster.cluster_secret):
        assert secret not in logs


# ------------------------------------------------------------------------- the nameserver API


def _raw_ns(cluster: Cluster, endpoint: str, payload: dict, headers: dict) -> tuple[int, dict]:
    status, raw = http_request("POST", f"{cluster.nameserver_url}/v1/{endpoint}",
                               body=json.dumps(payload).encode(),
                               headers={"Content-Type": "application/json", **headers})
    return status, json.loads(raw)


def test_nameserver_client_api_refuses_unsigned_forged_stale_and_replayed_requests(
        cluster: Cluster, alice: User, alice_bucket: str) -> None:
    path = f"/{alice_bucket}/private/doc"
    stat = {"path": path, "with_blocks": True}
    body = json.dumps(stat).encode()
    good = sign(alice.credentials, "POST", "/v1/stat", body)
    status, answer = _raw_ns(cluster, "stat", stat, good)
    assert status == 200 and answer["file"]["blocks"][0]["token"]
    attacks = {
        "unsigned": {},
        "unknown key": {**good, "X-Plen-Access-Key": "PLNOSUCHKEY000000000"},
        "forged signature": {**good, "X-Plen-Signature": "0" * 64},
        "wrong secret": sign(Credentials(alice.access_key, "x" * 40), "POST", "/v1/stat", body),
        "stale": sign(alice.credentials, "POST", "/v1/stat", body, now=time.time() - 3600),
        "from the future": sign(alice.credentials, "POST", "/v1/stat", body,
                                now=time.time() + 3600),
        "bad date": {**good, "X-Plen-Date": "soon"},
        "signed for another endpoint": sign(alice.credentials, "POST", "/v1/walk", body),
    }
    for name, headers in attacks.items():
        status, answer = _raw_ns(cluster, "stat", stat, headers)
        assert (status, answer["error"]["code"]) == (401, "unauthorized"), name
    # A signature covers its body: the same headers with another body are refused.
    status, answer = _raw_ns(cluster, "stat", {**stat, "path": f"/{alice_bucket}/public/page"},
                             good)
    assert status == 401


def test_nameserver_client_api_holds_users_to_their_buckets(cluster: Cluster, alice: User,
                                                            bob: User,
                                                            alice_bucket: str) -> None:
    as_bob = bob.credentials
    refused = {
        "stat": {"path": f"/{alice_bucket}/private/doc", "with_blocks": True},
        "list-dir": {"path": f"/{alice_bucket}"},
        "walk": {"path": "/"},
        "mkdir": {"path": f"/{alice_bucket}/bobdir"},
        "rmdir": {"path": f"/{alice_bucket}", "recursive": True},
        "delete-file": {"path": f"/{alice_bucket}/private/doc"},
        "rename": {"src": f"/{alice_bucket}/private/doc", "dst": f"/{alice_bucket}/x",
                   "kind": "file"},
        "copy-file": {"src": f"/{alice_bucket}/private/doc", "dst": "/elsewhere/x"},
        "update-file": {"path": f"/{alice_bucket}/private/doc",
                        "set_meta": {"x-amz-acl": "public-read"}},
        "user-add": {"user": "mallory"},
        "user-list": {},
        "server-list": {},
        "fsck": {},
        "init": {"confirm": True},
        "signing-key": {"access_key": alice.access_key, "date": "20260101",
                        "region": "us-east-1", "service": "s3"},
        "sign-v2": {"access_key": alice.access_key, "string_to_sign": "x"},
        "bucket-access-set": {"bucket": alice_bucket, "acl": "public-read-write"},
        "list-buckets": {},
    }
    for endpoint, payload in refused.items():
        status, body = cluster.ns_call(endpoint, payload, credentials=as_bob)
        assert (status, body["error"]["code"]) == (403, "forbidden"), (endpoint, body)
    listed = cluster.ns_call("list-dir", {"path": "/"}, credentials=as_bob)[1]["entries"]
    assert alice_bucket not in [e["name"] for e in listed]
    # Nothing changed.
    assert alice.s3().get_object(Bucket=alice_bucket, Key="private/doc")["Body"].read() == \
        b"alice's secret"
    assert alice.s3().get_bucket_acl(Bucket=alice_bucket)["Grants"][0]["Permission"] == \
        "FULL_CONTROL"
    assert cluster.ns_post("whoami", {}) == {"user": cluster.s3_access_key,
                                             "id": _id(cluster.s3_access_key), "root": True}


def _id(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()
