"""Routing table tests.

The request lines are the "Request Syntax" lines of the AWS S3 API reference (virtual-hosted
style, as AWS writes them, with ``/Key+`` standing for the object key); each one is also checked
in path style. Garage's test_aws_doc_examples does the same.
"""

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from gateway.s3.errors import S3Error
from gateway.s3.router import Endpoint, resolve, valid_bucket_name

DOMAIN = "s3.amazonaws.com"
BUCKET = "amzn-s3-demo-bucket"
KEY = "photos/2006/February/sample.jpg"
COPY = {"x-amz-copy-source": "/source-bucket/source-key"}

AWS_DOC_REQUESTS = [
    # (request line, extra headers, operation); "/Key+" is replaced by a real key.
    ("PUT / HTTP/1.1", {}, "CreateBucket"),
    ("HEAD / HTTP/1.1", {}, "HeadBucket"),
    ("DELETE / HTTP/1.1", {}, "DeleteBucket"),
    ("GET /?delimiter=Delimiter&encoding-type=EncodingType&marker=Marker&max-keys=MaxKeys"
     "&prefix=Prefix HTTP/1.1", {}, "ListObjects"),
    ("GET /?list-type=2&continuation-token=ContinuationToken&delimiter=Delimiter"
     "&encoding-type=EncodingType&fetch-owner=FetchOwner&max-keys=MaxKeys&prefix=Prefix"
     "&start-after=StartAfter HTTP/1.1", {}, "ListObjectsV2"),
    ("GET /?versions&delimiter=Delimiter&encoding-type=EncodingType&key-marker=KeyMarker"
     "&max-keys=MaxKeys&prefix=Prefix&version-id-marker=VersionIdMarker HTTP/1.1", {},
     "ListObjectVersions"),
    ("GET /?uploads&delimiter=Delimiter&encoding-type=EncodingType&key-marker=KeyMarker"
     "&max-uploads=MaxUploads&prefix=Prefix&upload-id-marker=UploadIdMarker HTTP/1.1", {},
     "ListMultipartUploads"),
    ("GET /?location HTTP/1.1", {}, "GetBucketLocation"),
    ("GET /?versioning HTTP/1.1", {}, "GetBucketVersioning"),
    ("PUT /?versioning HTTP/1.1", {}, "PutBucketVersioning"),
    ("GET /?acl HTTP/1.1", {}, "GetBucketAcl"),
    ("PUT /?acl HTTP/1.1", {}, "PutBucketAcl"),
    ("GET /?tagging HTTP/1.1", {}, "GetBucketTagging"),
    ("PUT /?tagging HTTP/1.1", {}, "PutBucketTagging"),
    ("DELETE /?tagging HTTP/1.1", {}, "DeleteBucketTagging"),
    ("GET /?policy HTTP/1.1", {}, "GetBucketPolicy"),
    ("PUT /?policy HTTP/1.1", {}, "PutBucketPolicy"),
    ("DELETE /?policy HTTP/1.1", {}, "DeleteBucketPolicy"),
    ("GET /?cors HTTP/1.1", {}, "GetBucketCors"),
    ("PUT /?cors HTTP/1.1", {}, "PutBucketCors"),
    ("DELETE /?cors HTTP/1.1", {}, "DeleteBucketCors"),
    ("GET /?lifecycle HTTP/1.1", {}, "GetBucketLifecycleConfiguration"),
    ("PUT /?lifecycle HTTP/1.1", {}, "PutBucketLifecycleConfiguration"),
    ("DELETE /?lifecycle HTTP/1.1", {}, "DeleteBucketLifecycle"),
    ("GET /?encryption HTTP/1.1", {}, "GetBucketEncryption"),
    ("PUT /?encryption HTTP/1.1", {}, "PutBucketEncryption"),
    ("DELETE /?encryption HTTP/1.1", {}, "DeleteBucketEncryption"),
    ("GET /?requestPayment HTTP/1.1", {}, "GetBucketRequestPayment"),
    ("GET /?website HTTP/1.1", {}, "GetBucketWebsite"),
    ("GET /?logging HTTP/1.1", {}, "GetBucketLogging"),
    ("GET /?notification HTTP/1.1", {}, "GetBucketNotificationConfiguration"),
    ("GET /?object-lock HTTP/1.1", {}, "GetObjectLockConfiguration"),
    ("GET /?policyStatus HTTP/1.1", {}, "GetBucketPolicyStatus"),
    ("GET /?ownershipControls HTTP/1.1", {}, "GetBucketOwnershipControls"),
    ("GET /?publicAccessBlock HTTP/1.1", {}, "GetPublicAccessBlock"),
    ("GET /?accelerate HTTP/1.1", {}, "GetBucketAccelerateConfiguration"),
    ("POST /?delete HTTP/1.1", {}, "DeleteObjects"),
    ("PUT /Key+ HTTP/1.1", {}, "PutObject"),
    ("PUT /Key+ HTTP/1.1", COPY, "CopyObject"),
    ("GET /Key+?partNumber=PartNumber&response-cache-control=ResponseCacheControl"
     "&response-content-type=ResponseContentType&versionId=VersionId HTTP/1.1", {}, "GetObject"),
    ("HEAD /Key+?partNumber=PartNumber&versionId=VersionId HTTP/1.1", {}, "HeadObject"),
    ("DELETE /Key+?versionId=VersionId HTTP/1.1", {}, "DeleteObject"),
    ("POST /Key+?uploads HTTP/1.1", {}, "CreateMultipartUpload"),
    ("PUT /Key+?partNumber=PartNumber&uploadId=UploadId HTTP/1.1", {}, "UploadPart"),
    ("PUT /Key+?partNumber=PartNumber&uploadId=UploadId HTTP/1.1", COPY, "UploadPartCopy"),
    ("POST /Key+?uploadId=UploadId HTTP/1.1", {}, "CompleteMultipartUpload"),
    ("DELETE /Key+?uploadId=UploadId HTTP/1.1", {}, "AbortMultipartUpload"),
    ("GET /Key+?max-parts=MaxParts&part-number-marker=PartNumberMarker&uploadId=UploadId "
     "HTTP/1.1", {}, "ListParts"),
    ("GET /Key+?tagging&versionId=VersionId HTTP/1.1", {}, "GetObjectTagging"),
    ("PUT /Key+?tagging&versionId=VersionId HTTP/1.1", {}, "PutObjectTagging"),
    ("DELETE /Key+?tagging&versionId=VersionId HTTP/1.1", {}, "DeleteObjectTagging"),
    ("GET /Key+?acl&versionId=VersionId HTTP/1.1", {}, "GetObjectAcl"),
    ("PUT /Key+?acl&versionId=VersionId HTTP/1.1", {}, "PutObjectAcl"),
    ("GET /Key+?attributes&versionId=VersionId HTTP/1.1", {}, "GetObjectAttributes"),
    # A presigned GET: the X-Amz-* parameters are not subresources.
    ("GET /Key+?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20130524"
     "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
     "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 "
     "HTTP/1.1", {}, "GetObject"),
]


def _split(line: str) -> tuple[str, str, dict[str, str]]:
    method, target, _version = line.split(" ")
    path, _, query = target.partition("?")
    return method, path, dict(parse_qsl(query, keep_blank_values=True))


def _route(method, path, query=None, headers=None, host="localhost:9000", domain=None):
    return resolve(method, host, path, query or {}, headers or {}, domain=domain)


@pytest.mark.parametrize(("line", "headers", "operation"), AWS_DOC_REQUESTS)
def test_aws_doc_request_routes_in_virtual_hosted_style(line, headers, operation):
    method, path, query = _split(line)
    path = path.replace("/Key+", "/" + KEY)
    ep = resolve(method, f"{BUCKET}.{DOMAIN}", path, query, headers, domain=DOMAIN)
    has_key = "/Key+" in line
    assert ep == Endpoint(operation, BUCKET, KEY if has_key else None, "virtual")


@pytest.mark.parametrize(("line", "headers", "operation"), AWS_DOC_REQUESTS)
def test_aws_doc_request_routes_in_path_style(line, headers, operation):
    method, path, query = _split(line)
    path = f"/{BUCKET}" + path.replace("/Key+", "/" + KEY)
    ep = resolve(method, DOMAIN, path, query, headers, domain=DOMAIN)
    has_key = "/Key+" in line
    assert ep == Endpoint(operation, BUCKET, KEY if has_key else None, "path")


def test_list_buckets_is_get_on_the_service():
    assert resolve("GET", DOMAIN, "/", {}, {}, domain=DOMAIN) == \
        Endpoint("ListBuckets", None, None, "path")
    assert _route("GET", "/") == Endpoint("ListBuckets", None, None, "path")


@pytest.mark.parametrize(("raw_path", "bucket", "key"), [
    ("/bkt/a+b", "bkt", "a+b"),                 # '+' in a path is a literal plus
    ("/bkt/a%2Bb", "bkt", "a+b"),
    ("/bkt/a%20b", "bkt", "a b"),
    ("/bkt/a//b", "bkt", "a//b"),               # never normalised
    ("/bkt/../x", "bkt", "../x"),
    ("/bkt/a/./b", "bkt", "a/./b"),
    ("/bkt/dir/", "bkt", "dir/"),
    ("/bkt//", "bkt", "/"),
    ("/bkt/%E2%9C%93%F0%9F%98%80", "bkt", "\u2713\U0001F600"),
    ("/bkt/%01ctrl%7F", "bkt", "\x01ctrl\x7f"),
    ("/bkt/100%25", "bkt", "100%"),
    ("/bkt/a%3Fb%23c", "bkt", "a?b#c"),
    ("/bkt/", "bkt", None),                     # "" is not a key
    ("/bkt", "bkt", None),
    ("/Legacy_Bucket/k", "Legacy_Bucket", "k"),  # routable: may exist from us-east-1 days
])
def test_path_style_keys_are_decoded_never_normalised(raw_path, bucket, key):
    ep = _route("GET", raw_path)
    assert (ep.bucket, ep.key, ep.style) == (bucket, key, "path")


def test_virtual_hosted_style_keeps_leading_slashes_and_ignores_port_and_case():
    ep = resolve("GET", "My.Bucket.S3.Example.COM:9000", "//a%2Bb", {}, {},
                 domain="s3.example.com")
    assert ep == Endpoint("GetObject", "my.bucket", "/a+b", "virtual")
    ep = resolve("GET", "bkt.s3.example.com.", "/", {}, {}, domain="s3.example.com")
    assert ep == Endpoint("ListObjects", "bkt", None, "virtual")


@pytest.mark.parametrize("host", ["127.0.0.1:9000", "[::1]:9000", "s3.example.com",
                                  "s3.example.com:443", "other.example.org"])
def test_hosts_outside_the_domain_use_path_style(host):
    ep = resolve("GET", host, "/bkt/k", {}, {}, domain="s3.example.com")
    assert ep == Endpoint("GetObject", "bkt", "k", "path")


def test_without_domain_bucket_like_hosts_are_still_path_style():
    ep = resolve("GET", "bkt.s3.example.com", "/other/k", {}, {})
    assert ep == Endpoint("GetObject", "other", "k", "path")


def test_copy_source_header_is_found_case_insensitively():
    headers = CIMultiDict({"X-Amz-Copy-Source": "/a/b"})
    assert _route("PUT", "/bkt/k", headers=headers).operation == "CopyObject"
    assert _route("PUT", "/bkt/k", headers={"X-Amz-Copy-Source": "/a/b"}).operation == \
        "CopyObject"


@pytest.mark.parametrize(("method", "path", "query"), [
    ("PUT", "/", {}),
    ("DELETE", "/", {}),
    ("POST", "/", {}),
    ("PATCH", "/bkt", {}),
    ("PATCH", "/bkt/k", {}),
    ("POST", "/bkt/k", {}),
    ("GET", "/bkt/k", {"uploads": ""}),
    ("PUT", "/bkt/k", {"uploads": ""}),
    ("POST", "/bkt", {"uploads": ""}),
    ("DELETE", "/bkt", {"versioning": ""}),
    ("DELETE", "/bkt", {"acl": ""}),
    ("PUT", "/bkt", {"location": ""}),
    ("GET", "/bkt", {"delete": ""}),
    ("PUT", "/bkt/k", {"attributes": ""}),
    ("DELETE", "/bkt/k", {"acl": ""}),
    ("HEAD", "/bkt/k", {"uploadId": "u"}),
    ("get", "/bkt/k", {}),                      # methods are case-sensitive
])
def test_wrong_method_is_method_not_allowed(method, path, query):
    with pytest.raises(S3Error) as info:
        _route(method, path, query)
    assert (info.value.code, info.value.status) == ("MethodNotAllowed", 405)


@pytest.mark.parametrize(("method", "path", "query"), [
    ("PUT", "/bkt", {"website": ""}),
    ("DELETE", "/bkt", {"website": ""}),
    ("PUT", "/bkt", {"logging": ""}),
    ("PUT", "/bkt", {"notification": ""}),
    ("PUT", "/bkt", {"object-lock": ""}),
    ("PUT", "/bkt", {"replication": ""}),
    ("GET", "/bkt", {"replication": ""}),
    ("GET", "/bkt", {"inventory": "", "id": "x"}),
    ("PUT", "/bkt", {"requestPayment": ""}),
    ("PUT", "/bkt", {"accelerate": ""}),
    ("PUT", "/bkt", {"publicAccessBlock": ""}),
    ("POST", "/bkt/k", {"restore": ""}),
    ("POST", "/bkt/k", {"select": "", "select-type": "2"}),
    ("PUT", "/bkt/k", {"retention": ""}),
    ("PUT", "/bkt/k", {"legal-hold": ""}),
    ("GET", "/bkt/k", {"torrent": ""}),
])
def test_recognised_but_unsupported_is_not_implemented(method, path, query):
    with pytest.raises(S3Error) as info:
        _route(method, path, query)
    assert (info.value.code, info.value.status) == ("NotImplemented", 501)


@pytest.mark.parametrize("path", ["/", "/bkt", "/bkt/k"])
def test_cors_preflight_is_answered_as_s3_answers_without_a_cors_configuration(path):
    with pytest.raises(S3Error) as info:
        resolve("OPTIONS", "h", path, {}, {})
    assert (info.value.code, info.value.status) == ("BadRequest", 400)
    with pytest.raises(S3Error) as info:
        resolve("OPTIONS", "h", path, {}, {"Origin": "https://example.com"})
    assert (info.value.code, info.value.status) == ("AccessForbidden", 403)


def test_bucket_post_needs_a_form_and_a_form_is_not_implemented():
    with pytest.raises(S3Error) as info:
        resolve("POST", "h", "/bkt", {}, {"Content-Type": "application/xml"})
    assert (info.value.code, info.value.status) == ("PreconditionFailed", 412)
    with pytest.raises(S3Error) as info:
        resolve("POST", "h", "/bkt", {}, {"Content-Type": "multipart/form-data; boundary=x"})
    assert (info.value.code, info.value.status) == ("NotImplemented", 501)


def test_put_with_upload_id_but_no_part_number_is_refused_not_written():
    with pytest.raises(S3Error) as info:
        _route("PUT", "/bkt/k", {"uploadId": "u"})
    assert info.value.code == "InvalidArgument"


def test_unknown_query_parameters_do_not_route():
    assert _route("PUT", "/bkt", {"foo": ""}).operation == "CreateBucket"
    assert _route("GET", "/bkt", {"list-type": "1"}).operation == "ListObjects"
    assert _route("PUT", "/bkt/k", {"partNumber": "1"}).operation == "PutObject"


@pytest.mark.parametrize("raw_path", ["//k", "/bad%20name/k", "/b%2Fc/k", "/" + "a" * 256,
                                      "/caf%C3%A9/k"])
def test_names_that_cannot_be_buckets_are_invalid_bucket_name(raw_path):
    with pytest.raises(S3Error) as info:
        _route("GET", raw_path)
    assert info.value.code == "InvalidBucketName"


@pytest.mark.parametrize("raw_path", ["/bkt/%FF", "/bkt/%C3", "bkt/k"])
def test_undecodable_or_relative_paths_are_invalid_uri(raw_path):
    with pytest.raises(S3Error) as info:
        _route("GET", raw_path)
    assert info.value.code == "InvalidURI"


@pytest.mark.parametrize("name", [
    "abc", "a" * 63, "my-bucket", "my.bucket.name", "0bucket9", "b-1.c-2", "192.168.5.4x",
    "xn-bucket", "bucket-s3alia", "a.b-c", "sthree", "amzn-s3-demo",
])
def test_valid_bucket_names(name):
    assert valid_bucket_name(name)


@pytest.mark.parametrize("name", [
    "", "ab", "a" * 64, "MyBucket", "my_bucket", "-bucket", "bucket-", ".bucket", "bucket.",
    "my..bucket", "192.168.5.4", "10.0.0.1", "999.999.999.999", "xn--bucket", "sthree-bkt",
    "sthree-configurator-x", "amzn-s3-demo-bucket1", "bucket-s3alias", "bucket--ol-s3",
    "bucket.mrap", "bucket--x-s3", "bucket--table-s3", "bück", "bucket name", "bucket/x",
])
def test_invalid_bucket_names(name):
    assert not valid_bucket_name(name)


@given(st.text(max_size=70))
def test_valid_bucket_names_are_always_routable(name):
    if valid_bucket_name(name):
        assert _route("GET", "/" + name).bucket == name
