import xml.etree.ElementTree as ET

import pytest

from gateway.s3.errors import S3_ERRORS, S3Error, error_response_body, from_wire
from plen.wire.errors import ErrorCode, WireError

# Statuses from the AWS S3 error-code reference ("List of error codes").
AWS_STATUS = {
    "AccessDenied": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "BadDigest": 400,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "IllegalLocationConstraintException": 400,
    "IncompleteBody": 400,
    "InternalError": 500,
    "InvalidAccessKeyId": 403,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRange": 416,
    "InvalidRequest": 400,
    "InvalidTag": 400,
    "InvalidURI": 400,
    "KeyTooLongError": 400,
    "MalformedXML": 400,
    "MaxMessageLengthExceeded": 400,
    "MetadataTooLarge": 400,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "NoSuchBucket": 404,
    "NoSuchBucketPolicy": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchKey": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchTagSet": 404,
    "NoSuchUpload": 404,
    "NoSuchVersion": 404,
    "NotImplemented": 501,
    "NotModified": 304,
    "PreconditionFailed": 412,
    "RequestTimeTooSkewed": 403,
    "RequestTimeout": 400,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "SlowDown": 503,
    "XAmzContentSHA256Mismatch": 400,
}


@pytest.mark.parametrize(("code", "status"), sorted(AWS_STATUS.items()))
def test_codes_we_emit_have_aws_status(code, status):
    assert S3_ERRORS[code].status == status
    err = S3Error(code)
    assert (err.code, err.status, err.message) == (code, status, S3_ERRORS[code].message)


@pytest.mark.parametrize("code", sorted(S3_ERRORS))
def test_every_code_in_table_has_http_status_and_message(code):
    spec = S3_ERRORS[code]
    assert spec.status in (304, 400, 403, 404, 405, 409, 411, 412, 416, 500, 501, 503)
    assert spec.message.strip()
    assert code[0].isupper() and code.isascii() and code.isalnum()


def test_unknown_code_raises_at_construction():
    with pytest.raises(KeyError):
        S3Error("NoSuchBukket")


def test_error_keeps_message_fields_and_headers():
    err = S3Error("InvalidRange", "nope", headers={"Content-Range": "bytes */5"},
                  ActualObjectSize="5")
    assert (err.message, err.fields, err.headers) == \
        ("nope", {"ActualObjectSize": "5"}, {"Content-Range": "bytes */5"})
    assert "InvalidRange" in str(err)


WIRE_TABLE = [
    (ErrorCode.NOT_FOUND, "bucket", "NoSuchBucket"),
    (ErrorCode.NOT_FOUND, "key", "NoSuchKey"),
    (ErrorCode.NOT_FOUND, "object", "NoSuchKey"),
    (ErrorCode.NOT_FOUND, "upload", "NoSuchUpload"),
    (ErrorCode.NOT_FOUND, "copy-source", "NoSuchKey"),
    (ErrorCode.NOT_EMPTY, "bucket", "BucketNotEmpty"),
    (ErrorCode.ALREADY_EXISTS, "bucket", "BucketAlreadyOwnedByYou"),
    (ErrorCode.PRECONDITION_FAILED, "key", "PreconditionFailed"),
    (ErrorCode.PRECONDITION_FAILED, "object", "PreconditionFailed"),
    (ErrorCode.NO_SPACE, "key", "ServiceUnavailable"),
    (ErrorCode.NO_LIVE_SERVERS, "key", "ServiceUnavailable"),
    (ErrorCode.UNAVAILABLE_BEFORE_START, "bucket", "ServiceUnavailable"),
    (ErrorCode.UNAVAILABLE_AFTER_SEND, "key", "ServiceUnavailable"),
    (ErrorCode.TIMEOUT, "object", "ServiceUnavailable"),
    (ErrorCode.CONNECTION_LOST, "upload", "ServiceUnavailable"),
    (ErrorCode.PIPELINE_FAILED, "key", "ServiceUnavailable"),
    (ErrorCode.NOT_A_DIRECTORY, "key", "NoSuchKey"),
    (ErrorCode.NOT_A_DIRECTORY, "object", "NoSuchKey"),
    (ErrorCode.IS_A_DIRECTORY, "key", "NoSuchKey"),
    (ErrorCode.IS_A_DIRECTORY, "copy-source", "NoSuchKey"),
    (ErrorCode.INVALID, "key", "InvalidArgument"),
    (ErrorCode.NO_SUCH_UPLOAD, "upload", "NoSuchUpload"),
    (ErrorCode.INVALID_PART, "upload", "InvalidPart"),
    (ErrorCode.INVALID_PART_ORDER, "upload", "InvalidPartOrder"),
    (ErrorCode.ENTITY_TOO_SMALL, "upload", "EntityTooSmall"),
    # Found by bench/fuzz_gateway.py: multipart calls on "k/" or "f/x" (f a file) were 500s.
    (ErrorCode.IS_A_DIRECTORY, "upload", "NoSuchUpload"),
    (ErrorCode.NOT_A_DIRECTORY, "upload", "NoSuchUpload"),
    # Nobody mapped these: internal by default.
    (ErrorCode.INTERNAL, "key", "InternalError"),
    (ErrorCode.CONFLICT, "key", "InternalError"),
    (ErrorCode.CHECKSUM_MISMATCH, "object", "InternalError"),
    (ErrorCode.UNAUTHORIZED, "key", "InternalError"),
    (ErrorCode.FORBIDDEN, "bucket", "InternalError"),
    (ErrorCode.NOT_EMPTY, "key", "InternalError"),
    (ErrorCode.ALREADY_EXISTS, "key", "InternalError"),
]


@pytest.mark.parametrize(("wire", "context", "s3_code"), WIRE_TABLE)
def test_from_wire_table(wire, context, s3_code):
    err = from_wire(WireError(wire, "detail"), context)
    assert err.code == s3_code
    assert err.status == AWS_STATUS.get(s3_code, S3_ERRORS[s3_code].status)


def test_from_wire_keeps_the_reason_only_for_invalid_argument():
    assert from_wire(WireError(ErrorCode.INVALID, "bad part number"), "key").message == \
        "bad part number"
    internal = from_wire(WireError(ErrorCode.INTERNAL, "redis said no at 10.0.0.3"), "key")
    assert "redis" not in internal.message


@pytest.mark.parametrize("wire", list(ErrorCode))
@pytest.mark.parametrize("context", ["bucket", "key", "upload", "copy-source", "object"])
def test_from_wire_is_total(wire, context):
    assert from_wire(WireError(wire, "m"), context).code in S3_ERRORS


def test_from_wire_refuses_unknown_context():
    with pytest.raises(ValueError):
        from_wire(WireError(ErrorCode.NOT_FOUND, "m"), "buckett")


def test_error_body_has_code_message_fields_resource_request_id_in_order():
    err = S3Error("NoSuchKey", Key="a<&>b")
    body = error_response_body(err, resource="/bkt/a<&>b", request_id="4442587FB7D0A2F9")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)
    assert root.tag == "Error"
    assert [(c.tag, c.text) for c in root] == [
        ("Code", "NoSuchKey"),
        ("Message", "The specified key does not exist."),
        ("Key", "a<&>b"),
        ("Resource", "/bkt/a<&>b"),
        ("RequestId", "4442587FB7D0A2F9"),
    ]


def test_error_body_exact_bytes():
    body = error_response_body(S3Error("NoSuchBucket", "gone", BucketName="bkt"),
                               resource="/bkt", request_id="R1")
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                    b"<Error><Code>NoSuchBucket</Code><Message>gone</Message>"
                    b"<BucketName>bkt</BucketName><Resource>/bkt</Resource>"
                    b"<RequestId>R1</RequestId></Error>")


def test_error_body_keeps_carriage_returns_and_unicode():
    body = error_response_body(S3Error("NoSuchKey"), resource="/b/a\r\n\u2713",
                               request_id="r")
    assert ET.fromstring(body).find("Resource").text == "/b/a\r\n\u2713"


def test_not_modified_renders_without_body():
    assert error_response_body(S3Error("NotModified"), resource="/b/k", request_id="r") == b""


def test_every_code_raised_in_the_gateway_is_in_the_table():
    import re
    from pathlib import Path

    import gateway

    root = Path(gateway.__file__).parent
    raised = {
        (str(path.relative_to(root)), code)
        for path in root.rglob("*.py")
        for code in re.findall(r'S3Error\(\s*"([^"]+)"', path.read_text(encoding="utf-8"))
    }
    assert raised, "the scan found no S3Error at all"
    assert sorted((p, c) for p, c in raised if c not in S3_ERRORS) == []
