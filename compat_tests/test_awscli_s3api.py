"""AWS CLI v1 `aws s3api` calls and `aws s3 presign` URLs fetched with curl, on hostile keys.

Rules: every call is a real ``python -m awscli`` run (its own config, compat_tests/cli.py),
checked on its JSON output, and the result is checked again from the other side (boto3, curl,
or a later CLI call): bytes byte for byte, listings whole and in S3 order (UTF-8 byte order).
Calls that do not depend on each other run a few at a time (``AwsCli.run_all``), because each
CLI start costs about half a second. The 40 MiB payload goes up once, in two parts, and comes
down once.
"""

from __future__ import annotations

import calendar
import json
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from compat_tests.cli import AwsCli
from compat_tests.clients import CLIENT_KEYS, SIZES, payload, require_binary, require_module
from compat_tests.helpers import (
    MiB,
    RawResponse,
    expect_raw_error,
    md5_hex,
    multipart_etag,
    put_many,
    quoted,
)
from compat_tests.keys import byte_order
from compat_tests.targets import Target

CURL_TIMEOUT_S = 60.0  # one curl run, every URL in it
MAX_CALLS = 20  # a bound on any loop of CLI calls (paging with --starting-token)
SMALL_SIZES = [size for label, size in SIZES.items() if label != "40MiB"]
ERROR_EXIT = 255  # AWS CLI v1: the service answered with an error


@pytest.fixture(autouse=True)
def _awscli_installed() -> None:
    require_module("awscli", "python -m pip install awscli")


def _file(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def _json_file(path: Path, document: Any) -> str:
    """A ``file://`` argument holding ``document`` as JSON (ASCII, so no locale matters)."""
    path.write_text(json.dumps(document))
    return f"file://{path}"


def _refused(done: Any, code: str) -> None:
    """The CLI exited with a service error naming ``code``."""
    assert done.returncode == ERROR_EXIT, (done.returncode, done.stdout, done.stderr)
    assert f"({code})" in done.stderr, done.stderr


def _keys(listed: dict[str, Any] | None) -> list[str]:
    return [o["Key"] for o in (listed or {}).get("Contents", [])]


# --------------------------------------------------------------------------------------------
# Objects


# One hostile key per size: test_awscli.py carries every key both ways through `aws s3 cp`.
SIZED_KEYS = {"sp ace/file name.txt": 0, "100%": 1, "日本語/キー": 4096, "#frag": MiB}
assert sorted(SIZED_KEYS.values()) == SMALL_SIZES


def test_s3api_put_get_head_every_small_size(aws: AwsCli, s3: Any, bucket: str,
                                             tmp_path: Path) -> None:
    """aws s3api put-object, get-object and head-object carry 0 B to 1 MiB under hostile keys"""
    keys = list(SIZED_KEYS)
    bodies = {key: payload(size, seed=i) for i, (key, size) in enumerate(SIZED_KEYS.items())}
    put = aws.json_all([("s3api", "put-object", "--bucket", bucket, "--key", key, "--body",
                         _file(tmp_path / "up" / str(i), bodies[key]))
                        for i, key in enumerate(keys)])
    assert [p["ETag"] for p in put] == [quoted(md5_hex(bodies[k])) for k in keys]
    assert _keys(s3.list_objects_v2(Bucket=bucket)) == byte_order(keys)

    (tmp_path / "down").mkdir()
    outs = [tmp_path / "down" / str(i) for i in range(len(keys))]
    *got, head = aws.json_all(
        [("s3api", "get-object", "--bucket", bucket, "--key", key, str(out))
         for key, out in zip(keys, outs)] +
        [("s3api", "head-object", "--bucket", bucket, "--key", "#frag")])
    assert [(g["ContentLength"], g["ETag"]) for g in got] == [
        (len(bodies[k]), quoted(md5_hex(bodies[k]))) for k in keys]
    assert [out.read_bytes() for out in outs] == [bodies[k] for k in keys]
    assert (head["ContentLength"], head["ETag"]) == (MiB, quoted(md5_hex(bodies["#frag"])))


def test_s3api_get_object_ranges(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    """aws s3api get-object --range: middle, suffix and open-ended ranges; past the end is 416"""
    data = payload(MiB, seed=5)
    key = "ranges/ünï code+1 MiB"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    ranges = {"bytes=1000-1999": (1000, 1999), "bytes=-100": (MiB - 100, MiB - 1),
              f"bytes={MiB - 7}-": (MiB - 7, MiB - 1)}
    outs = [tmp_path / f"range-{i}" for i in range(len(ranges))]
    done = aws.run_all([("s3api", "get-object", "--bucket", bucket, "--key", key,
                         "--range", spec, str(out), "--output", "json")
                        for spec, out in zip(ranges, outs)] +
                       [("s3api", "get-object", "--bucket", bucket, "--key", key,
                         "--range", f"bytes={MiB}-", str(tmp_path / "past-end"))], check=False)
    for (first, last), out, answer in zip(ranges.values(), outs, done):
        assert answer.returncode == 0, answer.stderr
        got = json.loads(answer.stdout)
        assert got["ContentRange"] == f"bytes {first}-{last}/{MiB}"
        assert got["ContentLength"] == last - first + 1
        assert out.read_bytes() == data[first:last + 1]
    _refused(done[-1], "InvalidRange")


def test_s3api_copy_object_hostile_keys_and_metadata(aws: AwsCli, s3: Any, make_bucket: Any,
                                                     tmp_path: Path) -> None:
    """aws s3api copy-object copies hostile keys across buckets, keeping or replacing metadata"""
    bucket, other = make_bucket(), make_bucket()
    sources = {"100%": payload(4096, 1), "sp ace/file name.txt": b""}
    for key, data in sources.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/x-source",
                      Metadata={"origin": "boto3"})
    copies = {"100%": (bucket, "a+b copy%"), "sp ace/file name.txt": (other, "日本語/#frag")}
    answers = aws.json_all([("s3api", "copy-object", "--copy-source", f"{bucket}/{src}",
                             "--bucket", dst_bucket, "--key", dst_key)
                            for src, (dst_bucket, dst_key) in copies.items()])
    for (src, (dst_bucket, dst_key)), answer in zip(copies.items(), answers):
        assert answer["CopyObjectResult"]["ETag"] == quoted(md5_hex(sources[src]))
        got = s3.get_object(Bucket=dst_bucket, Key=dst_key)
        assert got["Body"].read() == sources[src]
        assert (got["ContentType"], got["Metadata"]) == ("text/x-source", {"origin": "boto3"})
    assert _keys(s3.list_objects_v2(Bucket=other)) == ["日本語/#frag"]

    # Onto itself with REPLACE: the way to change an object's metadata in place.
    replaced, missing = aws.run_all([
        ("s3api", "copy-object", "--copy-source", f"{bucket}/100%", "--bucket", bucket,
         "--key", "100%", "--metadata-directive", "REPLACE", "--content-type", "text/x-new",
         "--metadata", "origin=cli,step=2"),
        ("s3api", "copy-object", "--copy-source", f"{bucket}/absent%", "--bucket", bucket,
         "--key", "x")], check=False)
    assert replaced.returncode == 0, replaced.stderr
    head = s3.head_object(Bucket=bucket, Key="100%")
    assert (head["ContentType"], head["Metadata"]) == ("text/x-new",
                                                       {"origin": "cli", "step": "2"})
    assert head["ETag"] == quoted(md5_hex(sources["100%"]))
    _refused(missing, "NoSuchKey")


# --------------------------------------------------------------------------------------------
# Listing and deleting


PAGING_KEYS = [*CLIENT_KEYS, "z/0", "z/1", "z/2", "z/3"]


def test_s3api_list_objects_v2_pages_complete_and_in_order(aws: AwsCli, s3: Any,
                                                           bucket: str) -> None:
    """aws s3api list-objects-v2 pages (--page-size, --max-items, --starting-token) in S3 order"""
    put_many(s3, bucket, PAGING_KEYS, body=b"12345")
    ordered = byte_order(PAGING_KEYS)

    # The CLI follows continuation tokens itself and merges the pages.
    whole, by_dir, after_a = aws.json_all([
        ("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "3"),
        ("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "2", "--delimiter", "/"),
        ("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "a", "--start-after", "a",
         "--page-size", "1"),
    ])
    assert _keys(whole) == ordered
    assert {o["Size"] for o in whole["Contents"]} == {5}
    assert _keys(by_dir) == [k for k in ordered if "/" not in k]
    prefixes = [p["Prefix"] for p in by_dir["CommonPrefixes"]]
    assert prefixes == byte_order(list({k.split("/")[0] + "/" for k in PAGING_KEYS if "/" in k}))
    assert _keys(after_a) == ["a+b", "a/b"]

    # --max-items cuts pages of 3 after 7 keys, mid-page: each NextToken resumes exactly there.
    seen: list[str] = []
    calls, token = 0, None
    while True:
        calls += 1
        assert calls <= MAX_CALLS, seen
        answer = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "3",
                          "--max-items", "7", *(["--starting-token", token] if token else []))
        page = _keys(answer)
        assert len(page) == (7 if answer.get("NextToken") else len(PAGING_KEYS) % 7 or 7)
        seen += page
        token = answer.get("NextToken")
        if not token:
            break
    assert seen == ordered
    assert calls == -(-len(PAGING_KEYS) // 7)


def test_s3api_delete_objects_hostile_keys(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path,
                                           reference_diverges: Any) -> None:
    """aws s3api delete-objects deletes exactly the named hostile keys, verbose then quiet"""
    put_many(s3, bucket, CLIENT_KEYS, body=b"doomed")
    first = CLIENT_KEYS[::2]
    request = {"Objects": [{"Key": k} for k in [*first, "never existed"]], "Quiet": False}
    answer = aws.json("s3api", "delete-objects", "--bucket", bucket,
                      "--delete", _json_file(tmp_path / "first.json", request))
    # A missing key counts as deleted.
    assert sorted(d["Key"] for d in answer["Deleted"]) == sorted([*first, "never existed"])
    assert "Errors" not in answer
    rest = [k for k in CLIENT_KEYS if k not in first]
    assert _keys(s3.list_objects_v2(Bucket=bucket)) == byte_order(rest)

    request = {"Objects": [{"Key": k} for k in rest], "Quiet": True}
    answer = aws.json("s3api", "delete-objects", "--bucket", bucket,
                      "--delete", _json_file(tmp_path / "rest.json", request))
    assert "Errors" not in (answer or {})
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with reference_diverges("moto lists the deleted keys in quiet mode"):
        assert not (answer or {}).get("Deleted"), answer


# --------------------------------------------------------------------------------------------
# Multipart uploads


def test_s3api_multipart_upload_40mib(aws: AwsCli, s3: Any, bucket: str,
                                      tmp_path: Path) -> None:
    """aws s3api create/upload-part/list-parts/list/complete-multipart-upload: 40 MiB object"""
    key = "日本語/キー"
    data = payload(SIZES["40MiB"])
    seam = 24 * MiB
    parts = [data[:seam], data[seam:]]
    created = aws.json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", key,
                       "--content-type", "video/x-test", "--metadata", "origin=cli")
    assert (created["Bucket"], created["Key"]) == (bucket, key)
    upload_id = created["UploadId"]

    uploaded = aws.json_all([
        ("s3api", "upload-part", "--bucket", bucket, "--key", key, "--upload-id", upload_id,
         "--part-number", str(n), "--body", _file(tmp_path / f"part{n}", part))
        for n, part in enumerate(parts, start=1)])
    etags = [u["ETag"] for u in uploaded]
    assert etags == [quoted(md5_hex(p)) for p in parts]

    listed_parts, uploads = aws.json_all([
        ("s3api", "list-parts", "--bucket", bucket, "--key", key, "--upload-id", upload_id,
         "--page-size", "1"),
        ("s3api", "list-multipart-uploads", "--bucket", bucket)])
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed_parts["Parts"]] == [
        (n, etag, len(p)) for n, (etag, p) in enumerate(zip(etags, parts), start=1)]
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [(key, upload_id)]

    manifest = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]}
    completed = aws.json("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", key,
                         "--upload-id", upload_id,
                         "--multipart-upload", _json_file(tmp_path / "parts.json", manifest))
    assert (completed["Bucket"], completed["Key"]) == (bucket, key)
    assert completed["ETag"] == multipart_etag(parts)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)

    whole, across = tmp_path / "whole", tmp_path / "across"
    got, got_across = aws.json_all([
        ("s3api", "get-object", "--bucket", bucket, "--key", key, str(whole)),
        ("s3api", "get-object", "--bucket", bucket, "--key", key,
         "--range", f"bytes={seam - 5}-{seam + 4}", str(across))])
    assert (got["ContentLength"], got["ETag"]) == (len(data), multipart_etag(parts))
    assert (got["ContentType"], got["Metadata"]) == ("video/x-test", {"origin": "cli"})
    assert whole.read_bytes() == data
    assert got_across["ContentRange"] == f"bytes {seam - 5}-{seam + 4}/{len(data)}"
    assert across.read_bytes() == data[seam - 5:seam + 5]


def test_s3api_abort_multipart_upload(aws: AwsCli, s3: Any, bucket: str) -> None:
    """aws s3api abort-multipart-upload drops one of two uploads of a key; the other stays"""
    key = "sp ace/file name.txt"
    doomed = aws.json("s3api", "create-multipart-upload", "--bucket", bucket,
                      "--key", key)["UploadId"]
    kept = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for upload_id in (doomed, kept):
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"part")

    aborted = aws("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", key,
                  "--upload-id", doomed)
    assert aborted.stdout.strip() in ("", "{}"), aborted.stdout
    listed, gone = aws.run_all([
        ("s3api", "list-multipart-uploads", "--bucket", bucket, "--output", "json"),
        ("s3api", "list-parts", "--bucket", bucket, "--key", key, "--upload-id", doomed)],
        check=False)
    assert [(u["Key"], u["UploadId"]) for u in json.loads(listed.stdout)["Uploads"]] == [
        (key, kept)]
    _refused(gone, "NoSuchUpload")
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key=key,
                                                    UploadId=kept)["Parts"]] == [1]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_s3api_list_multipart_uploads_pages_in_key_order(aws: AwsCli, s3: Any, bucket: str,
                                                         reference_diverges: Any) -> None:
    """aws s3api list-multipart-uploads pages hostile-key uploads, complete and in key order"""
    started = [(key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
               for key in [*CLIENT_KEYS, "a+b"]]  # two uploads of "a+b"
    listed = aws.json("s3api", "list-multipart-uploads", "--bucket", bucket, "--page-size", "2")
    uploads = [(u["Key"], u["UploadId"]) for u in listed["Uploads"]]
    assert sorted(uploads) == sorted(started)
    with reference_diverges("moto lists multipart uploads in the order they were started, "
                            "not by key"):
        # By key in S3 order; uploads of one key by the time they were started.
        assert uploads == sorted(started, key=lambda u: (u[0].encode(), started.index(u)))


# --------------------------------------------------------------------------------------------
# Tagging


def _tag_set(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((t["Key"], t["Value"]) for t in answer["TagSet"])


def test_s3api_object_tagging(aws: AwsCli, s3: Any, bucket: str, tmp_path: Path) -> None:
    """aws s3api put-object --tagging, put/get/delete-object-tagging on a hostile key"""
    key = "a+b"
    aws("s3api", "put-object", "--bucket", bucket, "--key", key, "--body",
        _file(tmp_path / "body", b"tagged"), "--tagging", "team=blue&note=two%20words")
    assert _tag_set(aws.json("s3api", "get-object-tagging", "--bucket", bucket,
                             "--key", key)) == [("note", "two words"), ("team", "blue")]
    got = s3.get_object(Bucket=bucket, Key=key)
    assert (got["Body"].read(), got["TagCount"]) == (b"tagged", 2)

    tag_set = [{"Key": "env", "Value": "prod"}, {"Key": "empty", "Value": ""},
               {"Key": "path", "Value": "a/b c+d=e@f:g_h.i-j"}]  # every character tags allow
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", key, "--tagging",
        _json_file(tmp_path / "tags.json", {"TagSet": tag_set}))
    assert _tag_set(aws.json("s3api", "get-object-tagging", "--bucket", bucket,
                             "--key", key)) == sorted((t["Key"], t["Value"]) for t in tag_set)

    deleted, missing = aws.run_all([
        ("s3api", "delete-object-tagging", "--bucket", bucket, "--key", key),
        ("s3api", "get-object-tagging", "--bucket", bucket, "--key", "absent")], check=False)
    assert deleted.returncode == 0, deleted.stderr
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == []
    _refused(missing, "NoSuchKey")


# --------------------------------------------------------------------------------------------
# Presigned URLs, fetched with curl


SIGNATURE_VERSIONS = [pytest.param(None, id="default-v2"), pytest.param("s3v4", id="v4")]
# One key of each hostile kind through SigV4, two through SigV2 (each URL costs a CLI start).
PRESIGN_KEYS = {
    "s3v4": ["sp ace/file name.txt", " leading-space", "ünï/cødé", "emoji😀", "a+b", "100%",
             "%2F", "#frag"],
    None: ["sp ace/file name.txt", "日本語/キー"],
}


def _presigner(target: Target, home: Path, signature_version: str | None) -> AwsCli:
    """`aws s3 presign` signs with SigV2 query parameters unless the config says s3v4."""
    settings = {"signature_version": signature_version} if signature_version else {}
    return AwsCli(target, home, s3_settings=settings)


def _curl(urls: list[str], tmp: Path) -> list[RawResponse]:
    """GET every URL in one curl run, exactly as written (no globbing, no ``..`` folding)."""
    curl = require_binary("curl", "apt-get install curl")
    argv = [curl]
    for i, url in enumerate(urls):  # --next: each URL its own header and body files
        argv += [*(["--next"] if i else []), "-sS", "--globoff", "--path-as-is",
                 "--max-time", "10", "-D", str(tmp / f"curl-{i}.headers"),
                 "-o", str(tmp / f"curl-{i}.body"), url]
    subprocess.run(argv, check=True, timeout=CURL_TIMEOUT_S, capture_output=True)
    answers = []
    for i in range(len(urls)):
        status_line, *lines = (tmp / f"curl-{i}.headers").read_text("latin-1").splitlines()
        headers = dict(line.split(":", 1) for line in lines if ":" in line)
        answers.append(RawResponse(int(status_line.split()[1]),
                                   {k.strip().lower(): v.strip() for k, v in headers.items()},
                                   (tmp / f"curl-{i}.body").read_bytes()))
    return answers


@pytest.mark.parametrize("signature_version", SIGNATURE_VERSIONS)
def test_s3_presign_hostile_keys_fetched_with_curl(target: Target, s3: Any, bucket: str,
                                                   tmp_path: Path,
                                                   signature_version: str | None) -> None:
    """aws s3 presign URLs for hostile keys, fetched with curl, serve the exact bytes"""
    presigner = _presigner(target, tmp_path / "aws-home", signature_version)
    keys = PRESIGN_KEYS[signature_version]
    bodies = {key: payload(100 + i, seed=i) for i, key in enumerate(keys)}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    urls = [d.stdout.strip() for d in presigner.run_all(
        [("s3", "presign", f"s3://{bucket}/{key}", "--expires-in", "600")
         for key in [*keys, "absent key"]])]
    assert all(("X-Amz-Signature=" in url) == (signature_version == "s3v4") for url in urls)
    *answers, missing = _curl(urls, tmp_path)
    assert [(a.status, a.body) for a in answers] == [(200, bodies[k]) for k in keys]
    assert [a.headers["etag"] for a in answers] == [quoted(md5_hex(bodies[k])) for k in keys]
    assert missing.status == 404 and b"<Code>NoSuchKey</Code>" in missing.body, missing


@pytest.mark.parametrize("signature_version", SIGNATURE_VERSIONS)
def test_s3_presign_after_expiry_refused(target: Target, s3: Any, bucket: str, tmp_path: Path,
                                         reference_diverges: Any,
                                         signature_version: str | None) -> None:
    """An aws s3 presign URL fetched with curl after it expired is refused with AccessDenied"""
    presigner = _presigner(target, tmp_path / "aws-home", signature_version)
    s3.put_object(Bucket=bucket, Key="sp ace/secret", Body=b"not any more")
    if signature_version is None:
        # SigV2 carries an absolute Expires (now + --expires-in): an hour ago.
        url = presigner("s3", "presign", f"s3://{bucket}/sp ace/secret",
                        "--expires-in=-3600").stdout.strip()
        assert int(parse_qs(urlsplit(url).query)["Expires"][0]) < time.time() - 3000
    else:
        # X-Amz-Expires cannot be negative: sign for one second and let it pass (a bounded
        # wait of at most two seconds).
        url = presigner("s3", "presign", f"s3://{bucket}/sp ace/secret",
                        "--expires-in", "1").stdout.strip()
        signed = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
        signed_at = calendar.timegm(time.strptime(signed, "%Y%m%dT%H%M%SZ"))
        time.sleep(min(2.0, max(0.0, signed_at + 2 - time.time())))
    [answer] = _curl([url], tmp_path)
    with reference_diverges("moto serves expired presigned URLs"):
        fields = expect_raw_error(answer, 403, "AccessDenied")
        assert fields["Message"] == "Request has expired"
        assert answer.body.find(b"not any more") == -1
