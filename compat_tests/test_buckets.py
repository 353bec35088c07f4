"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
GetBucketVersioning, as AWS documents them for us-east-1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from compat_tests.helpers import empty_and_delete_bucket, expect_error, unique_name


def test_list_buckets_shows_new_bucket_with_owner(s3: Any, bucket: str) -> None:
    listed = s3.list_buckets()
    names = [b["Name"] for b in listed["Buckets"]]
    assert bucket in names
    assert names == sorted(names)
    assert listed["Owner"]["ID"]
    mine = next(b for b in listed["Buckets"] if b["Name"] == bucket)
    assert mine["CreationDate"].tzinfo is not None


def test_create_bucket_answers_location_header(s3: Any, make_bucket: Callable[[], str]) -> None:
    name = unique_name("location")
    created = s3.create_bucket(Bucket=name)
    try:
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert created["Location"] == f"/{name}"
    finally:
        empty_and_delete_bucket(s3, name)


_MOTO_CHECKS_LENGTH_ONLY = pytest.mark.reference_diverges(
    "moto checks only the length of a bucket name")


@pytest.mark.parametrize("name", [
    "ab",
    "a" * 64,
    *(pytest.param(name, marks=_MOTO_CHECKS_LENGTH_ONLY) for name in [
        "UpperCase",
        "under_score",
        "-leading-hyphen",
        "trailing-hyphen-",
        "double..dot",
        ".leading-dot",
        "192.168.5.4",
        "xn--punycode-prefix",
        "name-s3alias",
    ]),
])
def test_create_bucket_refuses_invalid_name(s3: Any, name: str) -> None:
    try:
        expect_error(400, "InvalidBucketName", s3.create_bucket, Bucket=name)
    finally:
        empty_and_delete_bucket(s3, name)  # only if a wrong answer created it


def test_create_bucket_again_in_us_east_1_succeeds_and_keeps_contents(
        s3: Any, bucket: str) -> None:
    # AWS: "if you re-create an existing bucket that you already own in the North Virginia
    # Region, Amazon S3 returns 200 OK" (BucketAlreadyOwnedByYou everywhere else).
    s3.put_object(Bucket=bucket, Key="kept", Body=b"still here")
    again = s3.create_bucket(Bucket=bucket)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"still here"


def test_create_bucket_with_location_constraint_us_east_1(s3: Any,
                                                          plenilune_differs: Any) -> None:
    # us-east-1 is the default and is not a valid LocationConstraint value in AWS.
    name = unique_name("constraint")
    try:
        if plenilune_differs("a LocationConstraint equal to the gateway's own region is "
                             "accepted, us-east-1 included: clients configured with their "
                             "region send it"):
            s3.create_bucket(Bucket=name,
                             CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
            s3.head_bucket(Bucket=name)
            expect_error(400, "IllegalLocationConstraintException", s3.create_bucket,
                         Bucket=unique_name("elsewhere"),
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        else:
            expect_error(400, "InvalidLocationConstraint", s3.create_bucket, Bucket=name,
                         CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
            expect_error(404, "404", s3.head_bucket, Bucket=name)
    finally:
        empty_and_delete_bucket(s3, name)


def test_head_bucket_answers_region(s3: Any, bucket: str) -> None:
    head = s3.head_bucket(Bucket=bucket)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"


def test_head_bucket_missing_is_404(s3: Any) -> None:
    expect_error(404, "404", s3.head_bucket, Bucket=unique_name("missing"))


def test_delete_bucket_empty_is_204_and_gone(s3: Any) -> None:
    name = unique_name("delete")
    s3.create_bucket(Bucket=name)
    deleted = s3.delete_bucket(Bucket=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error(404, "404", s3.head_bucket, Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_delete_bucket_not_empty_is_409(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    err = expect_error(409, "BucketNotEmpty", s3.delete_bucket, Bucket=bucket)
    assert err["Error"]["BucketName"] == bucket


def test_delete_bucket_missing_is_no_such_bucket(s3: Any) -> None:
    name = unique_name("missing")
    err = expect_error(404, "NoSuchBucket", s3.delete_bucket, Bucket=name)
    assert err["Error"]["BucketName"] == name


def test_object_operations_on_missing_bucket_are_no_such_bucket(s3: Any) -> None:
    name = unique_name("missing")
    expect_error(404, "NoSuchBucket", s3.put_object, Bucket=name, Key="k", Body=b"x")
    expect_error(404, "NoSuchBucket", s3.get_object, Bucket=name, Key="k")
    expect_error(404, "NoSuchBucket", s3.list_objects_v2, Bucket=name)
    expect_error(404, "NoSuchBucket", s3.list_objects, Bucket=name)


def test_get_bucket_location_in_us_east_1_is_empty(s3: Any, bucket: str) -> None:
    # us-east-1 answers an empty <LocationConstraint/>, which botocore parses as None.
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None


def test_get_bucket_versioning_of_new_bucket_has_no_status(s3: Any, bucket: str) -> None:
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    assert set(versioning) == {"ResponseMetadata"}


def test_get_bucket_location_of_missing_bucket_is_no_such_bucket(s3: Any) -> None:
    expect_error(404, "NoSuchBucket", s3.get_bucket_location, Bucket=unique_name("missing"))
