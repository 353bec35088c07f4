"""DeleteObjects: verbose and quiet answers, missing keys, the 1000-key limit."""

from __future__ import annotations

from typing import Any

from compat_tests.helpers import expect_error, put_many


def _objects(keys: list[str]) -> list[dict[str, str]]:
    return [{"Key": k} for k in keys]


def test_delete_objects_verbose_reports_each_key(s3: Any, bucket: str) -> None:
    put_many(s3, bucket, ["x", "y", "dir/z"])
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": _objects(
        ["x", "dir/z", "never-existed"])})
    # A missing key counts as deleted.
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dir/z", "never-existed", "x"]
    assert "Errors" not in result
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["y"]


def test_delete_objects_quiet_reports_nothing_on_success(s3: Any, bucket: str,
                                                        reference_diverges: Any) -> None:
    put_many(s3, bucket, ["x", "y"])
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": _objects(["x", "y", "gone"]),
                                                      "Quiet": True})
    with reference_diverges("moto lists the deleted keys in quiet mode"):
        assert "Deleted" not in result
    assert "Errors" not in result
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_takes_1000_keys(s3: Any, bucket: str) -> None:
    keys = [f"many/{i:04d}" for i in range(1000)]
    put_many(s3, bucket, keys, body=b"")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1000
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": _objects(keys), "Quiet": True})
    assert "Errors" not in result
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_refuses_1001_keys(s3: Any, bucket: str, reference_diverges: Any) -> None:
    keys = [f"k{i}" for i in range(1001)]
    with reference_diverges("moto deletes more than 1000 keys in one DeleteObjects"):
        expect_error(400, "MalformedXML", s3.delete_objects, Bucket=bucket,
                     Delete={"Objects": _objects(keys), "Quiet": True})


def test_delete_objects_verbose_with_hostile_keys(s3: Any, bucket: str) -> None:
    keys = ["a b", "a+b", "ü/ñ", "../x", "100%"]
    put_many(s3, bucket, keys)
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": _objects(keys)})
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_on_missing_bucket_is_no_such_bucket(s3: Any, bucket: str) -> None:
    expect_error(404, "NoSuchBucket", s3.delete_objects, Bucket=bucket + "-absent",
                 Delete={"Objects": _objects(["x"])})
