"""Property tests for gateway/s3/router.py: any request line routes to an operation or raises
S3Error (never another exception), and every key comes back exactly as it was encoded."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, MultiDict

from gateway.s3.errors import S3Error
from gateway.s3.router import _BUCKET_SUBRESOURCES, _OBJECT_SUBRESOURCES, Endpoint, resolve

FAST = settings(max_examples=300, deadline=None)
METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
           "PROPFIND", "get", ""]
QUERY_NAMES = sorted({*_BUCKET_SUBRESOURCES, *_OBJECT_SUBRESOURCES, "list-type", "partNumber",
                      "versionId", "X-Amz-Signature", "prefix", "", "uploads "})

percent = st.builds(lambda b: f"%{b:02X}", st.integers(0, 255))
raw_paths = st.lists(st.one_of(st.text(max_size=8), percent, st.sampled_from(
    ["/", "//", "..", ".", "%", "%Z", "%2F", "+", "?", "#", "%00", "%ff", "\x00"])),
    max_size=12).map("".join)
hosts = st.one_of(st.text(max_size=30), st.sampled_from(
    ["localhost:9000", "bucket.s3.example.com", "BUCKET.S3.EXAMPLE.COM.:80", "[::1]:9000",
     "[::1", ":", "s3.example.com", ".s3.example.com", "a..s3.example.com"]))
queries = st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=6),
                             st.text(max_size=6)), max_size=4).map(MultiDict)
headers = st.lists(st.tuples(st.sampled_from(["x-amz-copy-source", "X-Amz-Copy-Source",
                                              "Content-Type", "x"]), st.text(max_size=6)),
                   max_size=3).map(CIMultiDict)


@FAST
@given(method=st.sampled_from(METHODS) | st.text(max_size=8), host=hosts, path=raw_paths,
       query=queries, hdrs=headers,
       domain=st.sampled_from([None, "s3.example.com", "", "."]))
def test_any_request_routes_or_raises_s3_error(method, host, path, query, hdrs, domain):
    try:
        endpoint = resolve(method, host, path, query, hdrs, domain=domain)
    except S3Error as err:
        assert err.status in (400, 405, 501), err
        return
    assert isinstance(endpoint, Endpoint) and endpoint.operation
    assert endpoint.key is None or endpoint.key != ""


bucket_names = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True)
key_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)


@FAST
@given(bucket=bucket_names, key=key_text, safe=st.sampled_from(["", "/", "/~", "/+=&"]))
def test_key_percent_encoded_any_way_routes_back_unchanged(bucket, key, safe):
    endpoint = resolve("GET", "localhost", f"/{bucket}/{quote(key, safe=safe)}", MultiDict(),
                       CIMultiDict())
    assert (endpoint.operation, endpoint.bucket, endpoint.key) == ("GetObject", bucket, key)


@FAST
@given(bucket=bucket_names, key=key_text)
def test_virtual_hosted_keys_route_back_unchanged(bucket, key):
    endpoint = resolve("PUT", f"{bucket}.s3.example.com:9000", "/" + quote(key, safe="/"),
                       MultiDict(), CIMultiDict(), domain="s3.example.com")
    assert (endpoint.operation, endpoint.bucket, endpoint.key, endpoint.style) == \
        ("PutObject", bucket, key, "virtual")


@FAST
@given(raw=st.binary(min_size=1, max_size=20))
def test_invalid_utf8_in_a_key_is_invalid_uri(raw):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            resolve("GET", "localhost", "/bkt/" + quote(raw, safe=""), MultiDict(),
                    CIMultiDict())
        except S3Error as err:
            assert err.code == "InvalidURI"
        else:
            raise AssertionError("invalid UTF-8 routed")
