"""Multipart uploads: create, upload (and copy) parts, complete, abort, list parts and uploads."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from compat_tests.helpers import MiB, client, expect_error, md5_hex, multipart_etag, quoted
from compat_tests.targets import Target

MIN_PART = 5 * MiB
MAX_PAGES = 20


def _data(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def _upload_parts(s3: Any, bucket: str, key: str, upload_id: str,
                  parts: list[bytes]) -> list[dict[str, Any]]:
    done = []
    for number, data in enumerate(parts, start=1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                Body=data)
        assert answer["ETag"] == quoted(md5_hex(data))
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    return done


def test_multipart_upload_completes_with_md5_of_md5s_etag(s3: Any, bucket: str) -> None:
    parts = [_data(MIN_PART, 1), _data(1000, 2)]
    created = s3.create_multipart_upload(Bucket=bucket, Key="big/object", ContentType="x/y",
                                         Metadata={"m": "v"})
    assert created["Bucket"] == bucket and created["Key"] == "big/object"
    upload_id = created["UploadId"]
    done = _upload_parts(s3, bucket, "big/object", upload_id, parts)
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="big/object")

    completed = s3.complete_multipart_upload(Bucket=bucket, Key="big/object", UploadId=upload_id,
                                             MultipartUpload={"Parts": done})
    assert completed["ETag"] == multipart_etag(parts)
    assert completed["Bucket"] == bucket and completed["Key"] == "big/object"

    got = s3.get_object(Bucket=bucket, Key="big/object")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentType"] == "x/y"
    assert got["Metadata"] == {"m": "v"}
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["ETag"] == multipart_etag(parts)
    expect_error(404, "NoSuchUpload", s3.list_parts, Bucket=bucket, Key="big/object",
                 UploadId=upload_id)


def test_upload_part_copy_with_source_range(s3: Any, bucket: str,
                                            plenilune_differs: Any) -> None:
    source = _data(MIN_PART + 4096, 3)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    ranges = [(0, MIN_PART - 1), (MIN_PART, len(source) - 1)]
    synthetic = plenilune_differs(
        "UploadPartCopy shares the source's blocks without reading them, so a ranged part's "
        "ETag is an MD5 naming the source version and the range, not the MD5 of its bytes")
    done = []
    for number, (first, last) in enumerate(ranges, start=1):
        copied = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id,
                                     PartNumber=number,
                                     CopySource={"Bucket": bucket, "Key": "source"},
                                     CopySourceRange=f"bytes={first}-{last}")
        etag = copied["CopyPartResult"]["ETag"]
        if synthetic:
            assert etag != quoted(md5_hex(source)) and len(etag.strip('"')) == 32
        else:
            assert etag == quoted(md5_hex(source[first:last + 1]))
        done.append({"PartNumber": number, "ETag": etag})
    completed = s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload_id,
                                             MultipartUpload={"Parts": done})
    if synthetic:
        etags = [bytes.fromhex(p["ETag"].strip('"')) for p in done]
        assert completed["ETag"] == quoted(f"{hashlib.md5(b''.join(etags)).hexdigest()}-2")
    else:
        assert completed["ETag"] == multipart_etag([source[a:b + 1] for a, b in ranges])
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source


def test_complete_with_wrong_etag_is_invalid_part(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    done = _upload_parts(s3, bucket, "k", upload_id, [_data(MIN_PART, 4), b"tail"])
    wrong = [done[0], {"PartNumber": 2, "ETag": quoted(md5_hex(b"not the tail"))}]
    expect_error(400, "InvalidPart", s3.complete_multipart_upload, Bucket=bucket, Key="k",
                 UploadId=upload_id, MultipartUpload={"Parts": wrong})
    missing = [*done, {"PartNumber": 3, "ETag": quoted(md5_hex(b"never uploaded"))}]
    expect_error(400, "InvalidPart", s3.complete_multipart_upload, Bucket=bucket, Key="k",
                 UploadId=upload_id, MultipartUpload={"Parts": missing})
    # The upload survives a refused completion.
    assert len(s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]) == 2


@pytest.mark.reference_diverges("moto completes an upload whose parts are listed out of order")
def test_complete_out_of_order_is_invalid_part_order(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    # Both parts are full-size, so that only the order is wrong.
    done = _upload_parts(s3, bucket, "k", upload_id, [_data(MIN_PART, 5), _data(MIN_PART, 6)])
    expect_error(400, "InvalidPartOrder", s3.complete_multipart_upload, Bucket=bucket, Key="k",
                 UploadId=upload_id, MultipartUpload={"Parts": done[::-1]})


def test_complete_with_small_non_last_part_is_entity_too_small(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    done = _upload_parts(s3, bucket, "k", upload_id, [_data(MIN_PART - 1, 6), b"tail"])
    expect_error(400, "EntityTooSmall", s3.complete_multipart_upload, Bucket=bucket, Key="k",
                 UploadId=upload_id, MultipartUpload={"Parts": done})
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


def test_single_small_part_completes(s3: Any, bucket: str) -> None:
    # The last part may be small, and so may the only one.
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    done = _upload_parts(s3, bucket, "k", upload_id, [b"just one"])
    completed = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                             MultipartUpload={"Parts": done})
    assert completed["ETag"] == multipart_etag([b"just one"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"just one"


def test_abort_multipart_upload_then_no_such_upload(s3: Any, bucket: str, target: Target,
                                                    reference_diverges: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    done = _upload_parts(s3, bucket, "k", upload_id, [b"part"])
    aborted = s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error(404, "NoSuchUpload", s3.list_parts, Bucket=bucket, Key="k", UploadId=upload_id)
    # Without retries: a wrong 5xx answer here would otherwise be retried with backoff.
    once = client(target, retries={"total_max_attempts": 1})
    with reference_diverges("moto answers 500 to UploadPart on an aborted upload"):
        expect_error(404, "NoSuchUpload", once.upload_part, Bucket=bucket, Key="k",
                     UploadId=upload_id, PartNumber=2, Body=b"late")
    with reference_diverges("moto answers 500 to CompleteMultipartUpload on an aborted upload"):
        expect_error(404, "NoSuchUpload", once.complete_multipart_upload, Bucket=bucket,
                     Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    expect_error(404, "NoSuchUpload", once.abort_multipart_upload, Bucket=bucket, Key="k",
                 UploadId=upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    expect_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


def test_list_parts_pages(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = [b"one", b"two!", b"three"]
    _upload_parts(s3, bucket, "k", upload_id, parts)

    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True
    assert first["NextPartNumberMarker"] == 2
    assert first["MaxParts"] == 2
    assert first["UploadId"] == upload_id
    assert [p["Size"] for p in first["Parts"]] == [3, 4]
    assert [p["ETag"] for p in first["Parts"]] == [quoted(md5_hex(p)) for p in parts[:2]]

    second = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2,
                           PartNumberMarker=2)
    assert [p["PartNumber"] for p in second["Parts"]] == [3]
    assert second["IsTruncated"] is False
    assert second["PartNumberMarker"] == 2

    walked = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="k", UploadId=upload_id, PaginationConfig={"PageSize": 1})
    assert [p["PartNumber"] for page in walked for p in page["Parts"]] == [1, 2, 3]


def test_upload_part_replaces_same_number(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    _upload_parts(s3, bucket, "k", upload_id, [b"first try"])
    done = _upload_parts(s3, bucket, "k", upload_id, [b"second try"])
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 10)]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second try"


UPLOAD_KEYS = ["p/a", "p/a", "p/b", "q/c", "q/d/e"]


def _start_uploads(s3: Any, bucket: str) -> list[tuple[str, str]]:
    return [(k, s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"])
            for k in UPLOAD_KEYS]


def test_list_multipart_uploads_with_prefix(s3: Any, bucket: str,
                                            reference_diverges: Any) -> None:
    started = _start_uploads(s3, bucket)
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert sorted((u["Key"], u["UploadId"]) for u in listed["Uploads"]) == sorted(started)
    assert [u["Key"] for u in listed["Uploads"]] == sorted(UPLOAD_KEYS)
    assert listed["IsTruncated"] is False
    assert all(u["Initiated"].tzinfo is not None for u in listed["Uploads"])

    p_only = s3.list_multipart_uploads(Bucket=bucket, Prefix="p/")
    assert [u["Key"] for u in p_only["Uploads"]] == ["p/a", "p/a", "p/b"]
    with reference_diverges("moto does not echo Prefix in ListMultipartUploads"):
        assert p_only["Prefix"] == "p/"


def test_list_multipart_uploads_with_delimiter(s3: Any, bucket: str,
                                               reference_diverges: Any) -> None:
    _start_uploads(s3, bucket)
    listed = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    with reference_diverges("moto ignores the delimiter in ListMultipartUploads"):
        assert [p["Prefix"] for p in listed.get("CommonPrefixes", [])] == ["p/", "q/"]
        assert "Uploads" not in listed
    nested = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", Prefix="q/")
    with reference_diverges("moto ignores the delimiter in ListMultipartUploads"):
        assert [u["Key"] for u in nested["Uploads"]] == ["q/c"]
        assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["q/d/"]


def test_list_multipart_uploads_pages_with_markers(s3: Any, bucket: str,
                                                   reference_diverges: Any) -> None:
    started = _start_uploads(s3, bucket)
    seen: list[tuple[str, str]] = []
    params: dict[str, str] = {}
    with reference_diverges("moto ignores max-uploads and key-marker in "
                            "ListMultipartUploads"):
        for _ in range(MAX_PAGES):
            page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **params)
            uploads = [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
            assert len(uploads) <= 2
            seen += uploads
            if not page["IsTruncated"]:
                break
            assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == uploads[-1]
            params = {"KeyMarker": page["NextKeyMarker"],
                      "UploadIdMarker": page["NextUploadIdMarker"]}
        else:
            raise AssertionError(f"listing did not end within {MAX_PAGES} pages")
        assert sorted(seen) == sorted(started)
        assert len(seen) == len(started)
        # A key marker alone lists the uploads of keys after it.
        after = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="p/b")
        assert [u["Key"] for u in after["Uploads"]] == ["q/c", "q/d/e"]


def test_complete_with_no_parts_is_malformed_xml(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    expect_error(400, "MalformedXML", s3.complete_multipart_upload, Bucket=bucket, Key="k",
                 UploadId=upload_id, MultipartUpload={"Parts": []})
