"""CopyObject: metadata directives, copying onto itself, missing sources, conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from compat_tests.helpers import MiB, expect_error, md5_hex, multipart_etag, quoted


def _source(s3: Any, bucket: str, key: str = "src") -> dict[str, Any]:
    return s3.put_object(Bucket=bucket, Key=key, Body=b"source body",
                         ContentType="text/plain", Metadata={"origin": "source"})


def test_copy_object_copies_body_and_metadata_by_default(s3: Any, bucket: str) -> None:
    put = _source(s3, bucket)
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dst")
    # Compared at HTTP-date (whole-second) resolution, as Last-Modified carries it.
    assert copied["CopyObjectResult"]["LastModified"].replace(microsecond=0) == \
        head["LastModified"]
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"source body"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"origin": "source"}


def test_copy_object_copy_directive_ignores_new_metadata(s3: Any, bucket: str) -> None:
    _source(s3, bucket)
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="COPY", Metadata={"ignored": "yes"})
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"origin": "source"}


def test_copy_object_replace_directive_sets_new_metadata(s3: Any, bucket: str) -> None:
    _source(s3, bucket)
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"fresh": "1"},
                   ContentType="application/x-new")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"fresh": "1"}
    assert head["ContentType"] == "application/x-new"
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"origin": "source"}


def test_copy_object_across_buckets(s3: Any, make_bucket: Callable[[], str]) -> None:
    first, second = make_bucket(), make_bucket()
    _source(s3, first, "dir/a b+c")
    s3.copy_object(Bucket=second, Key="copied/é", CopySource={"Bucket": first,
                                                              "Key": "dir/a b+c"})
    assert s3.get_object(Bucket=second, Key="copied/é")["Body"].read() == b"source body"


def test_copy_object_onto_itself_with_replace_changes_metadata(s3: Any, bucket: str) -> None:
    put = _source(s3, bucket)
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"second": "edition"},
                   ContentType="text/markdown")
    got = s3.get_object(Bucket=bucket, Key="src")
    assert got["Body"].read() == b"source body"
    assert got["Metadata"] == {"second": "edition"}
    assert got["ContentType"] == "text/markdown"
    assert got["ETag"] == put["ETag"]


def test_copy_object_onto_itself_without_replace_is_invalid_request(s3: Any,
                                                                     bucket: str) -> None:
    _source(s3, bucket)
    expect_error(400, "InvalidRequest", s3.copy_object, Bucket=bucket, Key="src",
                 CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"origin": "source"}


def test_copy_object_missing_source_key_is_no_such_key(s3: Any, bucket: str) -> None:
    expect_error(404, "NoSuchKey", s3.copy_object, Bucket=bucket, Key="dst",
                 CopySource={"Bucket": bucket, "Key": "absent"})
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="dst")


def test_copy_object_missing_source_bucket_is_no_such_bucket(s3: Any, bucket: str) -> None:
    expect_error(404, "NoSuchBucket", s3.copy_object, Bucket=bucket, Key="dst",
                 CopySource={"Bucket": bucket + "-absent", "Key": "src"})


@pytest.mark.reference_diverges("moto ignores x-amz-copy-source-if-match")
def test_copy_object_source_if_match(s3: Any, bucket: str) -> None:
    put = _source(s3, bucket)
    source = {"Bucket": bucket, "Key": "src"}
    expect_error(412, "PreconditionFailed", s3.copy_object, Bucket=bucket, Key="dst",
                 CopySource=source, CopySourceIfMatch=quoted(md5_hex(b"other")))
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="dst")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, CopySourceIfMatch=put["ETag"])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source body"


def test_copy_object_source_if_none_match(s3: Any, bucket: str) -> None:
    put = _source(s3, bucket)
    source = {"Bucket": bucket, "Key": "src"}
    expect_error(412, "PreconditionFailed", s3.copy_object, Bucket=bucket, Key="dst",
                 CopySource=source, CopySourceIfNoneMatch=put["ETag"])
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="dst")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source,
                   CopySourceIfNoneMatch=quoted(md5_hex(b"other")))
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source body"


def test_copy_object_of_a_multipart_object(s3: Any, bucket: str,
                                           plenilune_differs: Callable[[str], bool]) -> None:
    """CopyObject of a multipart object copies every byte; AWS gives the copy the plain MD5
    of its bytes."""
    parts = [bytes([n]) * (5 * MiB) for n in (1, 2)] + [b"tail"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="src")["UploadId"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="src", PartNumber=n,
                                                     UploadId=upload_id, Body=body)["ETag"]}
            for n, body in enumerate(parts, start=1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="src", UploadId=upload_id,
                                 MultipartUpload={"Parts": done})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket,
                                                                  "Key": "src"})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"".join(parts)
    etag = copied["CopyObjectResult"]["ETag"]
    if plenilune_differs("CopyObject shares the source's blocks without reading them, so a "
                         "copy of a multipart object keeps the source's multipart ETag "
                         "instead of the MD5 of its bytes"):
        assert etag == multipart_etag(parts)
    else:
        assert etag == quoted(md5_hex(b"".join(parts)))
    assert s3.head_object(Bucket=bucket, Key="dst")["ETag"] == etag
