"""Object tagging, GetObjectAttributes, and ListObjectVersions on an unversioned bucket."""

from __future__ import annotations

from typing import Any

from compat_tests.helpers import MiB, expect_error, md5_hex, multipart_etag, quoted


def _tags(tag_set: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_set}


def test_object_tagging_put_get_delete(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
        {"Key": "colour", "Value": "blue"}, {"Key": "with space", "Value": "a+b=c"}]})
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == {
        "colour": "blue", "with space": "a+b=c"}
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2

    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_tagging_header_on_put(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=moon&owner=a%20b")
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == {
        "project": "moon", "owner": "a b"}


def test_tagging_of_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    expect_error(404, "NoSuchKey", s3.get_object_tagging, Bucket=bucket, Key="absent")
    expect_error(404, "NoSuchKey", s3.put_object_tagging, Bucket=bucket, Key="absent",
                 Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})


def test_more_than_ten_tags_is_bad_request(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tags = [{"Key": f"t{i}", "Value": "v"} for i in range(11)]
    expect_error(400, "BadRequest", s3.put_object_tagging, Bucket=bucket, Key="k",
                 Tagging={"TagSet": tags})


def test_get_object_attributes_of_simple_object(s3: Any, bucket: str) -> None:
    body = b"attributes"
    s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="SHA256")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=[
        "ETag", "ObjectSize", "StorageClass", "Checksum"])
    assert attrs["ETag"] == md5_hex(body)  # unquoted here, unlike everywhere else
    assert attrs["ObjectSize"] == len(body)
    assert attrs["StorageClass"] == "STANDARD"
    assert "ChecksumSHA256" in attrs["Checksum"]
    assert attrs["LastModified"] == s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert "ObjectParts" not in attrs


def test_get_object_attributes_of_multipart_object(s3: Any, bucket: str,
                                                   reference_diverges: Any) -> None:
    parts = [b"a" * (5 * MiB), b"tail"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number,
                              Body=data)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                 MultipartUpload={"Parts": done})
    attrs = s3.get_object_attributes(Bucket=bucket, Key="mp",
                                     ObjectAttributes=["ETag", "ObjectSize", "ObjectParts"])
    assert attrs["ETag"] == multipart_etag(parts).strip('"')
    assert attrs["ObjectSize"] == sum(map(len, parts))
    with reference_diverges("moto answers no ObjectParts in GetObjectAttributes"):
        assert attrs["ObjectParts"]["TotalPartsCount"] == 2


def test_get_object_attributes_of_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    expect_error(404, "NoSuchKey", s3.get_object_attributes, Bucket=bucket, Key="absent",
                 ObjectAttributes=["ETag"])


def test_list_object_versions_on_unversioned_bucket(s3: Any, bucket: str) -> None:
    for key in ("a", "b/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_object_versions(Bucket=bucket)
    versions = listed["Versions"]
    assert [v["Key"] for v in versions] == ["a", "b/c"]
    for v in versions:
        assert v["VersionId"] == "null"
        assert v["IsLatest"] is True
        assert v["ETag"] == quoted(md5_hex(v["Key"].encode()))
        assert v["Size"] == len(v["Key"])
    assert "DeleteMarkers" not in listed
    assert listed["IsTruncated"] is False

    with_delimiter = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [v["Key"] for v in with_delimiter["Versions"]] == ["a"]
    assert [p["Prefix"] for p in with_delimiter["CommonPrefixes"]] == ["b/"]
