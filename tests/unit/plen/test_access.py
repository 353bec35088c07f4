"""plen/access.py: the one rule book both doors use."""

from __future__ import annotations

import json

import pytest

from plen.access import (
    ANONYMOUS,
    DELETE_OBJECT,
    GET_OBJECT,
    LIST_BUCKET,
    OWNER_ONLY,
    PUT_OBJECT,
    PolicyError,
    Principal,
    allowed,
    canned_acl,
    owner_id,
    parse_policy,
)
from plen.wire.access import BucketAccess

ROOT = Principal("root", root=True)
ALICE = Principal("alice")
BOB = Principal("bob")
ACTIONS = (GET_OBJECT, PUT_OBJECT, LIST_BUCKET, DELETE_OBJECT, OWNER_ONLY)


def rules(acl: str = "private", policy: dict | None = None) -> BucketAccess:
    return BucketAccess(bucket="b", owner="alice", acl=acl,
                       policy=json.dumps(policy) if policy is not None else None)


def statement(effect: str, principal, action, resource: str = "arn:aws:s3:::b/*") -> dict:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}


@pytest.mark.parametrize("action", ACTIONS)
def test_root_may_everything_and_the_owner_everything_but_what_a_deny_takes(action):
    deny_all = rules(policy={"Statement": [statement("Deny", "*", "s3:*"),
                                           statement("Deny", "*", "s3:*", "arn:aws:s3:::b")]})
    assert allowed(ROOT, action, deny_all, key="k")
    assert allowed(ALICE, action, rules(), key="k")
    # A Deny takes data actions even from the owner, never the owner's own (Rule 2).
    assert allowed(ALICE, action, deny_all, key="k") == (action == OWNER_ONLY)


@pytest.mark.parametrize("action", ACTIONS)
def test_private_lets_no_one_else_in(action):
    for who in (BOB, ANONYMOUS):
        assert not allowed(who, action, rules(), key="k")


@pytest.mark.parametrize(("acl", "who", "granted"), [
    ("public-read", ANONYMOUS, {LIST_BUCKET}),
    ("public-read", BOB, {LIST_BUCKET}),
    ("public-read-write", ANONYMOUS, {LIST_BUCKET, PUT_OBJECT, DELETE_OBJECT}),
    ("authenticated-read", BOB, {LIST_BUCKET}),
    ("authenticated-read", ANONYMOUS, set()),
])
def test_bucket_acls_grant_listing_and_writing_not_reading(acl, who, granted):
    for action in ACTIONS:
        assert allowed(who, action, rules(acl), key="k") == (action in granted), action


@pytest.mark.parametrize(("object_acl", "who", "reads"), [
    ("public-read", ANONYMOUS, True), ("authenticated-read", ANONYMOUS, False),
    ("authenticated-read", BOB, True), ("private", BOB, False), (None, BOB, False)])
def test_an_objects_acl_lets_readers_read_it(object_acl, who, reads):
    assert allowed(who, GET_OBJECT, rules(), key="k", object_acl=object_acl) == reads
    assert not allowed(who, PUT_OBJECT, rules(), key="k", object_acl=object_acl)


def test_policy_principals_actions_and_resource_wildcards():
    policy = {"Statement": [
        statement("Allow", {"AWS": ["arn:aws:iam::123456789012:user/bob"]},
                  ["s3:getobject", "s3:ListBucket"], "arn:aws:s3:::b/pub?ic/*"),
        statement("Allow", {"CanonicalUser": owner_id("carol")}, "s3:PutObject"),
    ]}
    r = rules(policy=policy)
    assert allowed(BOB, GET_OBJECT, r, key="public/x/y")
    assert allowed(BOB, GET_OBJECT, r, key="pubXic/z")
    assert not allowed(BOB, GET_OBJECT, r, key="private/x")
    assert not allowed(BOB, LIST_BUCKET, r)  # the bucket's own ARN is not b/pub?ic/*
    assert not allowed(ANONYMOUS, GET_OBJECT, r, key="public/x")
    assert allowed(Principal("carol"), PUT_OBJECT, r, key="anything")
    assert not allowed(Principal("carol"), GET_OBJECT, r, key="anything")


def test_deny_wins_over_allow_and_over_acls():
    r = rules("public-read-write", {"Statement": [
        statement("Allow", "*", "s3:GetObject"),
        statement("Deny", {"AWS": "arn:aws:iam::1:user/bob"}, "s3:*", "arn:aws:s3:::b/secret*"),
    ]})
    assert allowed(BOB, GET_OBJECT, r, key="open")
    assert not allowed(BOB, GET_OBJECT, r, key="secret/x")
    assert not allowed(BOB, PUT_OBJECT, r, key="secret/x")  # the ACL's WRITE loses too
    assert allowed(ANONYMOUS, PUT_OBJECT, r, key="secret/x")


def test_resources_are_literal_but_for_star_and_question_mark():
    r = rules(policy={"Statement": [statement("Allow", "*", "s3:GetObject",
                                              "arn:aws:s3:::b/a.b[c]+")]})
    assert allowed(ANONYMOUS, GET_OBJECT, r, key="a.b[c]+")
    assert not allowed(ANONYMOUS, GET_OBJECT, r, key="aXb[c]+")
    assert not allowed(ANONYMOUS, GET_OBJECT, r, key="a.bc+")


@pytest.mark.parametrize("doc", [
    "nope", "[]", {"Statement": []}, {"Statement": "x"},
    {"Version": "2099-01-01", "Statement": [statement("Allow", "*", "s3:GetObject")]},
    {"Statement": [statement("Permit", "*", "s3:GetObject")]},
    {"Statement": [statement("Allow", "bob", "s3:GetObject")]},
    {"Statement": [statement("Allow", {"AWS": "bob"}, "s3:GetObject")]},
    {"Statement": [statement("Allow", {"Service": "x"}, "s3:GetObject")]},
    {"Statement": [statement("Allow", {"CanonicalUser": "short"}, "s3:GetObject")]},
    {"Statement": [statement("Allow", "*", "s3:Get*")]},
    {"Statement": [statement("Allow", "*", "iam:*")]},
    {"Statement": [statement("Allow", "*", [])]},
    {"Statement": [statement("Allow", "*", "s3:GetObject", "arn:aws:s3:::other/*")]},
    {"Statement": [statement("Allow", "*", "s3:GetObject", "b/*")]},
    {"Statement": [{**statement("Allow", "*", "s3:GetObject"), "Condition": {}}]},
    {"Statement": [{**statement("Allow", "*", "s3:GetObject"), "NotAction": "x"}]},
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]},
    {"Statement": [{**statement("Allow", "*", "s3:GetObject"), "Extra": 1}]},
    {"Statement": [statement("Allow", "*", "s3:GetObject")], "Other": 1},
    {"Statement": [statement("Allow", "*", "s3:GetObject")] * 400},
])
def test_malformed_and_unsupported_policies_say_why(doc):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "b")
    assert str(info.value)


def test_a_deeply_nested_policy_is_a_policy_error_not_a_crash():
    with pytest.raises(PolicyError):
        parse_policy("[" * 100_000 + "]" * 100_000, "b")


def test_canned_acl_names():
    assert canned_acl("public-read") == "public-read"
    assert canned_acl("bucket-owner-full-control") is None
    assert canned_acl("bucket-owner-full-control", on_object=True) == "private"
    assert canned_acl("everyone") is None
    assert owner_id("alice") == owner_id("alice") != owner_id("bob")
