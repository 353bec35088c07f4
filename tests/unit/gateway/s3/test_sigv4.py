"""gateway/s3/sigv4.py against AWS's published signatures and against requests botocore signs.

Vector sources (every expected signature below is copied from them, none computed here):
- SigV4, S3 API reference, "Signature Calculations for the Authorization Header: Transferring
  Payload in a Single Chunk": GET Object, PUT Object, GET Bucket Lifecycle, GET Bucket (List
  Objects); key AKIAIOSFODNN7EXAMPLE, 20130524T000000Z, us-east-1.
- SigV4, "Authenticating Requests: Using Query Parameters": the presigned GET of test.txt.
- SigV4, "... Transferring Payload in Multiple Chunks" and "... trailing headers (chunked
  uploads)": the seed signatures 4f232c43... and 106e2a8a...
- SigV2, S3 developer guide "Signing and authenticating REST requests". The current page names
  the bucket awsexamplebucket1, but its signatures were published with the bucket johnsmith
  (the page's earlier text) and only verify with that name, so the requests below use johnsmith.
  The Delete example is the earlier page's version (key 0PN5J17HBGZHT7JJ3X82), which signs
  x-amz-date among the x-amz-* headers with an empty Date line, as the page's prose (and
  botocore, s3cmd) do; the current page's Delete table contradicts its own prose.
"""

from __future__ import annotations

import asyncio
import calendar
import email.utils
import io
import time
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from multidict import CIMultiDict

from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import (
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
    StaticKeys,
    authenticate,
    canonical_query,
    canonical_uri,
)

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OLD_AK = "0PN5J17HBGZHT7JJ3X82"
OLD_SK = "uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o"
SECRETS = {AK: SK, OLD_AK: OLD_SK}
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
T_20130524 = calendar.timegm((2013, 5, 24, 0, 0, 0))
REGION = "us-east-1"


def v4_authorization(signed_headers: str, signature: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,"
            f"SignedHeaders={signed_headers},Signature={signature}")


def http_time(text: str) -> float:
    return email.utils.parsedate_to_datetime(text).timestamp()


def auth(method, path, query, headers, *, now, region=REGION, secrets=None, host_bucket=None):
    keys = StaticKeys(secrets if secrets is not None else SECRETS)
    return asyncio.run(authenticate(method, path, query, headers, keys, now=now, region=region,
                                    host_bucket=host_bucket))


def flip(signature: str) -> str:
    """The same signature with its last character changed."""
    last = signature[-1]
    return signature[:-1] + ("0" if last != "0" else "1")


def error_of(*args, **kwargs) -> S3Error:
    with pytest.raises(S3Error) as caught:
        auth(*args, **kwargs)
    return caught.value


# ------------------------------------------------------------------ SigV4 published examples

GET_OBJECT_HEADERS = {
    "Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
    "x-amz-content-sha256": EMPTY, "x-amz-date": "20130524T000000Z",
    "Authorization": v4_authorization(
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
}

V4_EXAMPLES = {
    "GET Object": ("GET", "/test.txt", "", GET_OBJECT_HEADERS),
    "PUT Object": ("PUT", "/test%24file.text", "", {
        "Host": "examplebucket.s3.amazonaws.com", "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z", "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256":
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "Authorization": v4_authorization(
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")}),
    "GET Bucket Lifecycle": ("GET", "/", "lifecycle", {
        "Host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": EMPTY,
        "Authorization": v4_authorization(
            "host;x-amz-content-sha256;x-amz-date",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")}),
    "GET Bucket (List Objects)": ("GET", "/", "max-keys=2&prefix=J", {
        "Host": "examplebucket.s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
        "x-amz-content-sha256": EMPTY,
        "Authorization": v4_authorization(
            "host;x-amz-content-sha256;x-amz-date",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")}),
    "PUT Object, chunked (seed)": ("PUT", "/examplebucket/chunkObject.txt", "", {
        "Host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY", "x-amz-content-sha256": STREAMING_PAYLOAD,
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "66560",
        "Content-Length": "66824",
        "Authorization": v4_authorization(
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class",
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")}),
    "PUT Object, chunked with trailer (seed)": ("PUT", "/examplebucket/chunkObject.txt", "", {
        "Host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": STREAMING_PAYLOAD_TRAILER, "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560", "x-amz-trailer": "x-amz-checksum-crc32c",
        "Authorization": v4_authorization(
            "content-encoding;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
            "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")}),
}


@pytest.mark.parametrize("name", list(V4_EXAMPLES))
def test_authenticate_accepts_aws_published_v4_example(name):
    method, path, query, headers = V4_EXAMPLES[name]
    result = auth(method, path, query, headers, now=T_20130524)
    assert result.access_key == AK and result.method == "v4-header"
    assert result.payload == headers["x-amz-content-sha256"]
    assert (result.chunk_signer is not None) == result.payload.startswith("STREAMING-")


@pytest.mark.parametrize("name", list(V4_EXAMPLES))
def test_authenticate_rejects_aws_v4_example_when_signature_altered(name):
    method, path, query, headers = V4_EXAMPLES[name]
    prefix, _, signature = headers["Authorization"].rpartition("Signature=")
    altered = {**headers, "Authorization": prefix + "Signature=" + flip(signature)}
    err = error_of(method, path, query, altered, now=T_20130524)
    assert err.code == "SignatureDoesNotMatch" and err.status == 403
    assert err.fields["SignatureProvided"] == flip(signature)


def test_signature_mismatch_reports_aws_canonical_request_and_string_to_sign():
    # The GET Object example's CanonicalRequest and StringToSign, as the page prints them.
    headers = {**GET_OBJECT_HEADERS, "Range": "bytes=0-8"}
    err = error_of("GET", "/test.txt", "", headers, now=T_20130524)
    assert err.fields["CanonicalRequest"] == (
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-8\n"
        f"x-amz-content-sha256:{EMPTY}\nx-amz-date:20130524T000000Z\n\n"
        f"host;range;x-amz-content-sha256;x-amz-date\n{EMPTY}")
    ok = error_of("GET", "/test.txt", "", {**GET_OBJECT_HEADERS, "Authorization":
                  GET_OBJECT_HEADERS["Authorization"][:-1] + "0"}, now=T_20130524)
    assert ok.fields["StringToSign"] == (
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")


PRESIGNED_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
PRESIGNED_HOST = {"Host": "examplebucket.s3.amazonaws.com"}


def test_authenticate_accepts_aws_published_presigned_url():
    result = auth("GET", "/test.txt", PRESIGNED_QUERY, PRESIGNED_HOST, now=T_20130524 + 3600)
    assert (result.access_key, result.method, result.payload) == (AK, "v4-query",
                                                                   UNSIGNED_PAYLOAD)
    assert result.chunk_signer is None


def test_presigned_url_valid_until_its_expiry_then_access_denied():
    assert auth("GET", "/test.txt", PRESIGNED_QUERY, PRESIGNED_HOST, now=T_20130524 + 86400)
    err = error_of("GET", "/test.txt", PRESIGNED_QUERY, PRESIGNED_HOST, now=T_20130524 + 86401)
    assert (err.code, err.message, err.status) == ("AccessDenied", "Request has expired", 403)
    assert err.fields["X-Amz-Expires"] == "86400"
    assert err.fields["Expires"] == "2013-05-25T00:00:00Z"


@pytest.mark.parametrize("change", [
    ("/test.txt", PRESIGNED_QUERY.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401")),
    ("/test.txt", PRESIGNED_QUERY + "&versionId=1"),
    ("/test.tx", PRESIGNED_QUERY),
])
def test_presigned_url_tampered_path_or_query_is_signature_mismatch(change):
    path, query = change
    err = error_of("GET", path, query, PRESIGNED_HOST, now=T_20130524)
    assert err.code == "SignatureDoesNotMatch"


def test_presigned_url_in_the_future_is_not_valid_yet():
    err = error_of("GET", "/test.txt", PRESIGNED_QUERY, PRESIGNED_HOST, now=T_20130524 - 3600)
    assert (err.code, err.message) == ("AccessDenied", "Request is not valid yet")


def test_presigned_url_expires_longer_than_a_week_is_refused():
    query = PRESIGNED_QUERY.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801")
    err = error_of("GET", "/test.txt", query, PRESIGNED_HOST, now=T_20130524)
    assert err.code == "AuthorizationQueryParametersError"
    assert "604800" in err.message


def test_presigned_url_missing_parameter_is_query_parameters_error():
    query = PRESIGNED_QUERY.replace("&X-Amz-SignedHeaders=host", "")
    err = error_of("GET", "/test.txt", query, PRESIGNED_HOST, now=T_20130524)
    assert err.code == "AuthorizationQueryParametersError"


def test_presigned_url_for_another_region_names_the_expected_region():
    err = error_of("GET", "/test.txt", PRESIGNED_QUERY, PRESIGNED_HOST, now=T_20130524,
                   region="eu-west-1")
    assert err.code == "AuthorizationQueryParametersError"
    assert err.fields["Region"] == "eu-west-1" and "'us-east-1' is wrong" in err.message


# ------------------------------------------------------------------ SigV4 header failures


def test_header_auth_for_another_region_is_malformed_with_expected_region():
    err = error_of("GET", "/test.txt", "", GET_OBJECT_HEADERS, now=T_20130524,
                   region="us-west-2")
    assert (err.code, err.status) == ("AuthorizationHeaderMalformed", 400)
    assert err.fields["Region"] == "us-west-2"
    assert "the region 'us-east-1' is wrong; expecting 'us-west-2'" in err.message


def test_header_auth_for_another_service_is_malformed():
    headers = {**GET_OBJECT_HEADERS, "Authorization": GET_OBJECT_HEADERS["Authorization"]
               .replace("/s3/aws4_request", "/ec2/aws4_request")}
    assert error_of("GET", "/test.txt", "", headers,
                    now=T_20130524).code == "AuthorizationHeaderMalformed"


@pytest.mark.parametrize("authorization", [
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/us-east-1/s3/aws4_request,"
    "SignedHeaders=host,Signature=00",
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    "SignedHeaders=,Signature=00",
])
def test_malformed_authorization_header_is_refused(authorization):
    headers = {**GET_OBJECT_HEADERS, "Authorization": authorization}
    assert error_of("GET", "/test.txt", "", headers,
                    now=T_20130524).code == "AuthorizationHeaderMalformed"


def test_credential_date_other_than_x_amz_date_is_malformed():
    headers = {**GET_OBJECT_HEADERS, "x-amz-date": "20130525T000000Z"}
    err = error_of("GET", "/test.txt", "", headers, now=T_20130524 + 86400)
    assert err.code == "AuthorizationHeaderMalformed" and "Invalid credential date" in err.message


def test_unknown_access_key_is_invalid_access_key_id():
    err = error_of("GET", "/test.txt", "", GET_OBJECT_HEADERS, now=T_20130524, secrets={})
    assert (err.code, err.status, err.fields["AWSAccessKeyId"]) == ("InvalidAccessKeyId", 403,
                                                                    AK)


def test_wrong_secret_is_signature_mismatch():
    err = error_of("GET", "/test.txt", "", GET_OBJECT_HEADERS, now=T_20130524,
                   secrets={AK: SK[:-1] + "X"})
    assert err.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("offset_s", [15 * 60, -15 * 60, 0])
def test_clock_skew_up_to_fifteen_minutes_is_accepted(offset_s):
    assert auth("GET", "/test.txt", "", GET_OBJECT_HEADERS, now=T_20130524 + offset_s)


@pytest.mark.parametrize("offset_s", [15 * 60 + 1, -15 * 60 - 1, 86400])
def test_clock_skew_beyond_fifteen_minutes_is_request_time_too_skewed(offset_s):
    err = error_of("GET", "/test.txt", "", GET_OBJECT_HEADERS, now=T_20130524 + offset_s)
    assert (err.code, err.status) == ("RequestTimeTooSkewed", 403)
    assert err.fields["RequestTime"] == "20130524T000000Z"
    assert err.fields["MaxAllowedSkewMilliseconds"] == "900000"


def test_missing_x_amz_content_sha256_is_invalid_request():
    headers = {k: v for k, v in GET_OBJECT_HEADERS.items() if k != "x-amz-content-sha256"}
    err = error_of("GET", "/test.txt", "", headers, now=T_20130524)
    assert (err.code, err.message) == (
        "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")


@pytest.mark.parametrize("value", ["NOT-A-HASH", EMPTY.upper(), EMPTY[:-1], "unsigned-payload"])
def test_unknown_x_amz_content_sha256_value_is_invalid_argument(value):
    headers = {**GET_OBJECT_HEADERS, "x-amz-content-sha256": value}
    err = error_of("GET", "/test.txt", "", headers, now=T_20130524)
    assert err.code == "InvalidArgument"
    assert err.fields["ArgumentName"] == "x-amz-content-sha256"


def test_missing_date_is_access_denied():
    headers = {k: v for k, v in GET_OBJECT_HEADERS.items() if k != "x-amz-date"}
    err = error_of("GET", "/test.txt", "", headers, now=T_20130524)
    assert (err.code, err.message) == (
        "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")


def test_unsigned_x_amz_header_is_access_denied():
    headers = {**GET_OBJECT_HEADERS, "x-amz-meta-sneaky": "1"}
    err = error_of("GET", "/test.txt", "", headers, now=T_20130524)
    assert err.code == "AccessDenied"
    assert err.fields["HeadersNotSigned"] == "x-amz-meta-sneaky"


def test_two_auth_mechanisms_are_refused():
    err = error_of("GET", "/test.txt", PRESIGNED_QUERY, GET_OBJECT_HEADERS, now=T_20130524)
    assert err.code == "InvalidArgument" and "Only one auth mechanism" in err.message


def test_unknown_authorization_scheme_is_refused():
    err = error_of("GET", "/test.txt", "", {"Authorization": "Bearer xyz"}, now=T_20130524)
    assert (err.code, err.message) == ("InvalidArgument", "Unsupported Authorization Type")


def test_no_credentials_at_all_is_anonymous():
    result = auth("GET", "/test.txt", "", {"Host": "h"}, now=T_20130524)
    assert (result.access_key, result.method, result.chunk_signer) == (None, "anonymous", None)


def test_anonymous_signed_streaming_payload_is_refused():
    err = error_of("PUT", "/b/k", "", {"Host": "h", "x-amz-content-sha256": STREAMING_PAYLOAD},
                   now=T_20130524)
    assert err.code == "InvalidRequest"


# ------------------------------------------------------------------ canonical forms


def test_canonical_uri_encodes_once_and_never_normalises():
    assert canonical_uri("/test%24file.text") == "/test%24file.text"
    assert canonical_uri("/test$file.text") == "/test%24file.text"
    assert canonical_uri("/b/a//../x/./y") == "/b/a//../x/./y"
    assert canonical_uri("/b/%7Etilde~") == "/b/~tilde~"
    assert canonical_uri("/b/a+b%20c") == "/b/a%2Bb%20c"
    assert canonical_uri("/b/%C3%BC%ff") == "/b/%C3%BC%FF"


def test_canonical_query_sorts_and_reencodes():
    assert canonical_query("prefix=J&max-keys=2") == "max-keys=2&prefix=J"
    assert canonical_query("lifecycle") == "lifecycle="
    assert canonical_query("b=a%2fb&a=x+y&a=%2B") == "a=%2B&a=x%20y&b=a%2Fb"
    assert canonical_query("X-Amz-Signature=1&z=2", exclude=("X-Amz-Signature",)) == "z=2"


# ------------------------------------------------------------------ SigV2 published examples

V2_EXAMPLES = {
    "Object GET": ("GET", "/photos/puppy.jpg", "", "johnsmith", {
        "Host": "johnsmith.s3.us-west-1.amazonaws.com",
        "Date": "Tue, 27 Mar 2007 19:36:42 +0000",
        "Authorization": f"AWS {AK}:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}),
    "Object PUT": ("PUT", "/photos/puppy.jpg", "", "johnsmith", {
        "Content-Type": "image/jpeg", "Content-Length": "94328",
        "Host": "johnsmith.s3.us-west-1.amazonaws.com",
        "Date": "Tue, 27 Mar 2007 21:15:45 +0000",
        "Authorization": f"AWS {AK}:MyyxeRY7whkBe+bq8fHCL/2kKUg="}),
    "List": ("GET", "/", "prefix=photos&max-keys=50&marker=puppy", "johnsmith", {
        "User-Agent": "Mozilla/5.0", "Host": "johnsmith.s3.us-west-1.amazonaws.com",
        "Date": "Tue, 27 Mar 2007 19:42:41 +0000",
        "Authorization": f"AWS {AK}:htDYFYduRNen8P9ZfE/s9SuKy0U="}),
    "Fetch": ("GET", "/", "acl", "johnsmith", {
        "Host": "johnsmith.s3.us-west-1.amazonaws.com",
        "Date": "Tue, 27 Mar 2007 19:44:46 +0000",
        "Authorization": f"AWS {AK}:c2WLPFtWHVgbEmeEG93a4cG37dM="}),
    "Delete (x-amz-date)": ("DELETE", "/johnsmith/photos/puppy.jpg", "", None, {
        "User-Agent": "dotnet", "Host": "s3.amazonaws.com",
        "Date": "Tue, 27 Mar 2007 21:20:27 +0000",
        "x-amz-date": "Tue, 27 Mar 2007 21:20:26 +0000",
        "Authorization": f"AWS {OLD_AK}:k3nL7gH3+PadhTEVn5Ip83xlYzk="}),
    "Upload": ("PUT", "/db-backup.dat.gz", "", "static.johnsmith.net", CIMultiDict([
        ("User-Agent", "curl/7.15.5"), ("Host", "static.johnsmith.net:8080"),
        ("Date", "Tue, 27 Mar 2007 21:06:08 +0000"), ("x-amz-acl", "public-read"),
        ("content-type", "application/x-download"),
        ("Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="),
        ("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"),
        ("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
        ("X-Amz-Meta-FileChecksum", "0x02661779"),
        ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
        ("Content-Disposition", "attachment; filename=database.dat"),
        ("Content-Encoding", "gzip"), ("Content-Length", "5913339"),
        ("Authorization", f"AWS {AK}:ilyl83RwaSoYIEdixDQcA4OnAnc=")])),
    "List all my buckets": ("GET", "/", "", None, {
        "Host": "s3.us-west-1.amazonaws.com", "Date": "Wed, 28 Mar 2007 01:29:59 +0000",
        "Authorization": f"AWS {AK}:qGdzdERIC03wnaRNKh6OqZehG9s="}),
    "Unicode keys": ("GET", "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", "", None, {
        "Host": "s3.us-west-1.amazonaws.com", "Date": "Wed, 28 Mar 2007 01:49:49 +0000",
        "Authorization": f"AWS {AK}:DNEZGsoieTZ92F3bUfSPQcbGmlM="}),
}


def _v2_now(headers) -> float:
    return http_time(headers.get("x-amz-date") or headers["Date"])


@pytest.mark.parametrize("name", list(V2_EXAMPLES))
def test_authenticate_accepts_aws_published_v2_example(name):
    method, path, query, bucket, headers = V2_EXAMPLES[name]
    result = auth(method, path, query, headers, now=_v2_now(headers), host_bucket=bucket)
    assert result.method == "v2-header" and result.access_key in SECRETS
    assert result.chunk_signer is None


@pytest.mark.parametrize("name", list(V2_EXAMPLES))
def test_authenticate_rejects_aws_v2_example_when_request_altered(name):
    method, path, query, bucket, headers = V2_EXAMPLES[name]
    altered = CIMultiDict(headers)
    altered["Date"] = "Tue, 27 Mar 2007 19:36:43 +0000"
    altered.pop("x-amz-date", None)
    err = error_of(method, path, query, altered, now=http_time(altered["Date"]),
                   host_bucket=bucket)
    assert err.code == "SignatureDoesNotMatch" and err.fields["StringToSign"]


def test_v2_string_to_sign_is_the_published_one():
    method, path, query, bucket, headers = V2_EXAMPLES["Upload"]
    altered = CIMultiDict(headers)
    altered["Authorization"] = f"AWS {AK}:AAAA"
    err = error_of(method, path, query, altered, now=_v2_now(headers), host_bucket=bucket)
    assert err.fields["StringToSign"] == (
        "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n"
        "Tue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl:public-read\n"
        "x-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n"
        "x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n"
        "/static.johnsmith.net/db-backup.dat.gz")


def test_v2_without_host_bucket_signs_a_different_resource():
    method, path, query, _, headers = V2_EXAMPLES["Object GET"]
    err = error_of(method, path, query, headers, now=_v2_now(headers))
    assert err.code == "SignatureDoesNotMatch"


V2_PRESIGNED = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D" \
               "&Expires=1175139620"


def test_authenticate_accepts_aws_published_v2_presigned_url():
    result = auth("GET", "/photos/puppy.jpg", V2_PRESIGNED,
                  {"Host": "johnsmith.s3.us-west-1.amazonaws.com"}, now=1175139620,
                  host_bucket="johnsmith")
    assert (result.access_key, result.method) == (AK, "v2-query")


def test_v2_presigned_url_expired_is_access_denied():
    err = error_of("GET", "/photos/puppy.jpg", V2_PRESIGNED, {}, now=1175139621,
                   host_bucket="johnsmith")
    assert (err.code, err.message) == ("AccessDenied", "Request has expired")


def test_v2_presigned_url_tampered_path_is_signature_mismatch():
    err = error_of("GET", "/photos/kitten.jpg", V2_PRESIGNED, {}, now=1175139620,
                   host_bucket="johnsmith")
    assert err.code == "SignatureDoesNotMatch"


def test_v2_header_clock_skew_is_request_time_too_skewed():
    method, path, query, bucket, headers = V2_EXAMPLES["Object GET"]
    err = error_of(method, path, query, headers, now=_v2_now(headers) + 901,
                   host_bucket=bucket)
    assert err.code == "RequestTimeTooSkewed"


def test_v2_unknown_access_key_is_invalid_access_key_id():
    method, path, query, bucket, headers = V2_EXAMPLES["Object GET"]
    err = error_of(method, path, query, headers, now=_v2_now(headers), host_bucket=bucket,
                   secrets={})
    assert err.code == "InvalidAccessKeyId"


# ------------------------------------------------------------------ botocore-signed requests

BOTO_AK, BOTO_SK = "PLENTESTKEY", "plen/test+secret"
BOTO = Credentials(BOTO_AK, BOTO_SK)
ENDPOINT = "http://localhost:9000"
KEYS = ["plain.txt", "a b+c", "ünï/cödé", "a//b", "../x", "dir/", "~!*'()$&=;:@,", "%41"]


def feed(prepared, *, now=None, region=REGION, secrets=None, host_bucket=None, method=None):
    """Hand a botocore-prepared request to authenticate() as the gateway would see it."""
    url = urlsplit(prepared.url)
    headers = CIMultiDict()
    for name, value in prepared.headers.items():
        headers.add(name, value.decode() if isinstance(value, bytes) else value)
    if "Host" not in headers:  # the HTTP client adds it
        headers["Host"] = url.netloc
    keys = StaticKeys(secrets if secrets is not None else {BOTO_AK: BOTO_SK})
    return asyncio.run(authenticate(method or prepared.method, url.path, url.query, headers,
                                    keys, now=time.time() if now is None else now,
                                    region=region, host_bucket=host_bucket))


def signed(signer, method, path, *, query="", headers=None, data=b""):
    url = f"{ENDPOINT}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method, url, headers=dict(headers or {}), data=data)
    signer.add_auth(request)
    return request.prepare()


def key_path(key: str) -> str:
    return "/bucket/" + quote(key, safe="/~")  # how botocore puts a key in a URL


V4 = S3SigV4Auth(BOTO, "s3", REGION)
V4_QUERY = S3SigV4QueryAuth(BOTO, "s3", REGION, expires=3600)
V2 = HmacV1Auth(BOTO)
V2_QUERY = HmacV1QueryAuth(BOTO, expires=3600)
SIGNERS = {"v4-header": V4, "v4-query": V4_QUERY, "v2-header": V2, "v2-query": V2_QUERY}


@pytest.mark.parametrize("kind", list(SIGNERS))
@pytest.mark.parametrize("key", KEYS)
def test_botocore_signed_request_is_accepted(kind, key):
    prepared = signed(SIGNERS[kind], "PUT", key_path(key),
                      query="tagging&versionId=a%2Bb%20c",
                      headers={"x-amz-meta-color": "  blue   green ", "Content-Type": "text/x"},
                      # A presigned URL has no body yet (botocore would move one into the query).
                      data=b"" if kind.endswith("query") else b"hello")
    result = feed(prepared)
    assert (result.access_key, result.method) == (BOTO_AK, kind)
    if kind == "v4-header":
        assert result.payload == \
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


@pytest.mark.parametrize("kind", list(SIGNERS))
@pytest.mark.parametrize("tamper", ["header", "path", "query", "method", "secret"])
def test_botocore_signed_request_tampered_is_signature_mismatch(kind, tamper):
    prepared = signed(SIGNERS[kind], "GET", key_path("k"), query="acl",
                      headers={"x-amz-meta-color": "blue", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})
    secrets, method = None, None
    if tamper == "header":
        prepared.headers["x-amz-meta-color"] = "red"
        prepared.headers["Content-MD5"] = "XXXXY8AsgTpgAmY7PhCfg=="
    elif tamper == "path":
        prepared.url = prepared.url.replace("/bucket/k", "/bucket/K")
    elif tamper == "query":
        prepared.url = prepared.url.replace("?acl", "?uploads&acl")
    elif tamper == "method":
        method = "DELETE"
    else:
        secrets = {BOTO_AK: BOTO_SK + "x"}
    with pytest.raises(S3Error) as caught:
        feed(prepared, secrets=secrets, method=method)
    assert caught.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("kind", list(SIGNERS))
def test_botocore_signed_request_with_unknown_key_is_invalid_access_key_id(kind):
    prepared = signed(SIGNERS[kind], "GET", key_path("k"))
    with pytest.raises(S3Error) as caught:
        feed(prepared, secrets={})
    assert caught.value.code == "InvalidAccessKeyId"


@pytest.mark.parametrize("kind", ["v4-header", "v4-query"])
def test_botocore_signed_request_for_another_region_is_refused(kind):
    prepared = signed(SIGNERS[kind], "GET", key_path("k"))
    with pytest.raises(S3Error) as caught:
        feed(prepared, region="eu-central-1")
    assert caught.value.code == ("AuthorizationHeaderMalformed" if kind == "v4-header"
                                 else "AuthorizationQueryParametersError")
    assert caught.value.fields["Region"] == "eu-central-1"


@pytest.mark.parametrize("kind", ["v4-query", "v2-query"])
def test_botocore_presigned_url_expires_after_its_lifetime(kind):
    prepared = signed(SIGNERS[kind], "GET", key_path("k"))
    assert feed(prepared, now=time.time() + 3500)
    with pytest.raises(S3Error) as caught:
        feed(prepared, now=time.time() + 3700)
    assert (caught.value.code, caught.value.message) == ("AccessDenied", "Request has expired")


@pytest.mark.parametrize("kind", ["v4-header", "v2-header"])
def test_botocore_signed_request_replayed_late_is_too_skewed(kind):
    prepared = signed(SIGNERS[kind], "GET", key_path("k"))
    with pytest.raises(S3Error) as caught:
        feed(prepared, now=time.time() + 16 * 60)
    assert caught.value.code == "RequestTimeTooSkewed"


def test_botocore_v2_virtual_hosted_request_needs_the_host_bucket():
    request = AWSRequest("GET", "http://bucket.s3.local:9000/k?acl", headers={})
    request.auth_path = "/bucket/k"  # what botocore records when it moves the bucket to Host
    V2.add_auth(request)
    prepared = request.prepare()
    assert feed(prepared, host_bucket="bucket").method == "v2-header"
    with pytest.raises(S3Error):
        feed(prepared)


# A real boto3 client: what generate_presigned_url and the SDK's own requests look like.


class _NoBody:
    def stream(self, **_):
        yield b""


def boto3_client(signature_version: str, *, endpoint: str = ENDPOINT, addressing="path"):
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=BOTO_AK, aws_secret_access_key=BOTO_SK,
        region_name=REGION,
        config=Config(signature_version=signature_version, s3={"addressing_style": addressing}))
    return client


def captured_requests(client) -> list:
    sent: list = []

    def before_send(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _NoBody())

    client.meta.events.register("before-send", before_send)
    return sent


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
@pytest.mark.parametrize("key", KEYS)
def test_boto3_generate_presigned_url_is_accepted(signature_version, key):
    client = boto3_client(signature_version)
    url = client.generate_presigned_url("get_object", Params={
        "Bucket": "bucket", "Key": key, "ResponseContentType": "text/plain"}, ExpiresIn=600)
    split = urlsplit(url)
    result = asyncio.run(authenticate("GET", split.path, split.query, {"Host": split.netloc},
                                      StaticKeys({BOTO_AK: BOTO_SK}), now=time.time(),
                                      region=REGION))
    assert result.method == ("v4-query" if signature_version == "s3v4" else "v2-query")


def test_boto3_v2_presigned_url_virtual_hosted_is_accepted():
    client = boto3_client("s3", endpoint="http://s3.local:9000", addressing="virtual")
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "k"})
    split = urlsplit(url)
    assert split.netloc == "bucket.s3.local:9000"
    result = asyncio.run(authenticate("GET", split.path, split.query, {"Host": split.netloc},
                                      StaticKeys({BOTO_AK: BOTO_SK}), now=time.time(),
                                      region=REGION, host_bucket="bucket"))
    assert result.method == "v2-query"


def test_boto3_https_put_object_uses_unsigned_trailer_and_is_accepted():
    client = boto3_client("s3v4", endpoint="https://localhost:9000")
    sent = captured_requests(client)
    client.put_object(Bucket="bucket", Key="a b+c/ü", Body=io.BytesIO(b"x" * 1000))
    client.list_objects_v2(Bucket="bucket", Prefix="a b+c", Delimiter="/")
    client.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": "a"}]})
    put = feed(sent[0])
    assert (put.method, put.payload, put.chunk_signer) == (
        "v4-header", STREAMING_UNSIGNED_PAYLOAD_TRAILER, None)
    for request in sent[1:]:
        assert feed(request).method == "v4-header"


def test_signing_keys_are_cached():
    from gateway.s3.sigv4 import signing_key
    signing_key.cache_clear()
    for _ in range(3):
        auth("GET", "/test.txt", "", GET_OBJECT_HEADERS, now=T_20130524)
    info = signing_key.cache_info()
    assert info.misses == 1 and info.hits == 2
