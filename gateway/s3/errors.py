"""The S3 error vocabulary: one table of AWS codes, one translation from wire errors.

Rule 1: ``S3_ERRORS`` holds every AWS error code the gateway emits, with its HTTP status and
AWS's default message, and nothing else. ``S3Error(code)`` looks the code up, so a mistyped
code raises ``KeyError`` at construction and fails in tests instead of reaching a client.

Rule 2: ``from_wire`` is the only place a ``WireError`` becomes an S3 error. It is an explicit
table keyed by (wire code, context); a pair nobody mapped becomes ``InternalError`` (internal
by default, opt in to expose). Nothing matches message strings.

Rule 3: ``NotModified`` (304) is an ``S3Error`` too, so the conditional checks can raise it;
it renders with no body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from xml.sax.saxutils import escape

from plen.wire.errors import ErrorCode, WireError


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    message: str


# Messages are AWS's defaults (from the S3 error-code reference) so clients that display them
# show what they would show against AWS.
S3_ERRORS: Final[Mapping[str, ErrorSpec]] = MappingProxyType({
    # 3xx
    "NotModified": ErrorSpec(304, "Not Modified"),
    # 400
    "AuthorizationHeaderMalformed": ErrorSpec(400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": ErrorSpec(
        400, "Error parsing the X-Amz-Credential parameter."),
    "BadDigest": ErrorSpec(
        400, "The Content-MD5 or checksum value you specified did not match what we received."),
    "EntityTooLarge": ErrorSpec(400, "Your proposed upload exceeds the maximum allowed size."),
    "EntityTooSmall": ErrorSpec(
        400, "Your proposed upload is smaller than the minimum allowed object size."),
    "IllegalLocationConstraintException": ErrorSpec(
        400, "The location constraint you specified is incompatible with the region this "
             "request was sent to."),
    "IncompleteBody": ErrorSpec(
        400, "You did not provide the number of bytes specified by the Content-Length HTTP "
             "header."),
    "InvalidArgument": ErrorSpec(400, "Invalid Argument"),
    "InvalidBucketName": ErrorSpec(400, "The specified bucket is not valid."),
    "InvalidDigest": ErrorSpec(400, "The Content-MD5 or checksum value you specified is not valid."),
    "InvalidLocationConstraint": ErrorSpec(400, "The specified location-constraint is not valid."),
    "InvalidPart": ErrorSpec(
        400, "One or more of the specified parts could not be found. The part may not have been "
             "uploaded, or the specified entity tag may not match the part's entity tag."),
    "InvalidPartOrder": ErrorSpec(
        400, "The list of parts was not in ascending order. The parts list must be specified in "
             "order by part number."),
    "InvalidRequest": ErrorSpec(400, "Invalid Request"),
    "InvalidStorageClass": ErrorSpec(400, "The storage class you specified is not valid."),
    "BadRequest": ErrorSpec(400, "Bad Request"),
    "AccessForbidden": ErrorSpec(
        403, "CORSResponse: This CORS request is not allowed. This is usually because the "
        "evalution of Origin, request method / Access-Control-Request-Method or "
        "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."),
    "InvalidTag": ErrorSpec(400, "The tag provided was not a valid tag."),
    "InvalidURI": ErrorSpec(400, "Couldn't parse the specified URI."),
    "KeyTooLongError": ErrorSpec(400, "Your key is too long."),
    "MalformedACLError": ErrorSpec(
        400, "The XML you provided was not well-formed or did not validate against our "
             "published schema."),
    "MalformedPolicy": ErrorSpec(400, "Policies must be valid JSON and the first byte must be '{'"),
    "MalformedTrailerError": ErrorSpec(
        400, "The request contained trailing data that was not well-formed or did not conform "
             "to our published schema."),
    "MalformedXML": ErrorSpec(
        400, "The XML you provided was not well-formed or did not validate against our "
             "published schema."),
    "MaxMessageLengthExceeded": ErrorSpec(400, "Your request was too big."),
    "MetadataTooLarge": ErrorSpec(
        400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MissingRequestBodyError": ErrorSpec(400, "Request Body is empty."),
    "RequestHeaderSectionTooLarge": ErrorSpec(
        400, "Your request header section exceeds the maximum allowed size."),
    "RequestTimeout": ErrorSpec(
        400, "Your socket connection to the server was not read from or written to within the "
             "timeout period."),
    "TooManyBuckets": ErrorSpec(400, "You have attempted to create more buckets than allowed."),
    "UnexpectedContent": ErrorSpec(400, "This request does not support content."),
    "XAmzContentSHA256Mismatch": ErrorSpec(
        400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
    # 403
    "AccessDenied": ErrorSpec(403, "Access Denied"),
    "InvalidAccessKeyId": ErrorSpec(
        403, "The AWS access key ID you provided does not exist in our records."),
    "InvalidChunkSizeError": ErrorSpec(
        403, "Only the last chunk is allowed to have a size less than 8192 bytes."),
    "RequestTimeTooSkewed": ErrorSpec(
        403, "The difference between the request time and the server's time is too large."),
    "SignatureDoesNotMatch": ErrorSpec(
        403, "The request signature we calculated does not match the signature you provided. "
             "Check your key and signing method."),
    # 404
    "NoSuchBucket": ErrorSpec(404, "The specified bucket does not exist."),
    "NoSuchBucketPolicy": ErrorSpec(404, "The bucket policy does not exist."),
    "NoSuchCORSConfiguration": ErrorSpec(404, "The CORS configuration does not exist."),
    "NoSuchKey": ErrorSpec(404, "The specified key does not exist."),
    "NoSuchLifecycleConfiguration": ErrorSpec(404, "The lifecycle configuration does not exist."),
    "NoSuchTagSet": ErrorSpec(404, "The TagSet does not exist."),
    "NoSuchUpload": ErrorSpec(
        404, "The specified multipart upload does not exist. The upload ID might not be valid, "
             "or the multipart upload might have been aborted or completed."),
    "NoSuchVersion": ErrorSpec(404, "The specified version does not exist."),
    "NoSuchWebsiteConfiguration": ErrorSpec(
        404, "The specified bucket does not have a website configuration."),
    "NoSuchPublicAccessBlockConfiguration": ErrorSpec(
        404, "The public access block configuration was not found."),
    "ObjectLockConfigurationNotFoundError": ErrorSpec(
        404, "Object Lock configuration does not exist for this bucket."),
    "OwnershipControlsNotFoundError": ErrorSpec(
        404, "The bucket ownership controls were not found."),
    "ServerSideEncryptionConfigurationNotFoundError": ErrorSpec(
        404, "The server side encryption configuration was not found."),
    # 405, 409, 411, 412, 416
    "MethodNotAllowed": ErrorSpec(405, "The specified method is not allowed against this resource."),
    "BucketAlreadyExists": ErrorSpec(
        409, "The requested bucket name is not available. The bucket namespace is shared by all "
             "users of the system. Select a different name and try again."),
    "BucketAlreadyOwnedByYou": ErrorSpec(
        409, "Your previous request to create the named bucket succeeded and you already own it."),
    "BucketNotEmpty": ErrorSpec(409, "The bucket you tried to delete is not empty."),
    "ConditionalRequestConflict": ErrorSpec(
        409, "A conflicting operation occurred. If using PutObject you can retry the request. "
             "If using multipart upload you should initiate another CreateMultipartUpload "
             "request and re-upload each part."),
    "OperationAborted": ErrorSpec(
        409, "A conflicting conditional operation is currently in progress against this "
             "resource. Try again."),
    "MissingContentLength": ErrorSpec(411, "You must provide the Content-Length HTTP header."),
    "PreconditionFailed": ErrorSpec(
        412, "At least one of the preconditions that you specified did not hold."),
    "InvalidRange": ErrorSpec(416, "The requested range is not satisfiable."),
    "InvalidPartNumber": ErrorSpec(416, "The requested partnumber is not satisfiable"),
    # 5xx
    "InternalError": ErrorSpec(
        500, "We encountered an internal error. Please try again."),
    "NotImplemented": ErrorSpec(
        501, "A header that you provided implies functionality that is not implemented."),
    "ServiceUnavailable": ErrorSpec(503, "Service is unable to handle request."),
    "SlowDown": ErrorSpec(503, "Please reduce your request rate."),
})


class S3Error(Exception):
    """An error response in AWS's vocabulary; the outermost middleware renders it."""

    def __init__(self, code: str, message: str | None = None, *,
                 headers: Mapping[str, str] | None = None, **fields: str) -> None:
        spec = S3_ERRORS[code]  # KeyError on a typo, by design
        self.code = code
        self.status = spec.status
        self.message = spec.message if message is None else message
        self.fields: dict[str, str] = dict(fields)
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(f"{code}: {self.message}")

    def __repr__(self) -> str:
        return f"S3Error({self.code!r}, {self.message!r})"


# Contexts name what the failed wire call was about; the same wire NOT_FOUND means
# NoSuchBucket when looking up a bucket and NoSuchKey when reading a key.
_KEY_CONTEXTS = ("key", "object", "copy-source")
_CONTEXTS = frozenset({"bucket", "upload", *_KEY_CONTEXTS})

_BY_CONTEXT: Final[Mapping[tuple[ErrorCode, str], str]] = MappingProxyType({
    (ErrorCode.NOT_FOUND, "bucket"): "NoSuchBucket",
    (ErrorCode.NOT_FOUND, "key"): "NoSuchKey",
    (ErrorCode.NOT_FOUND, "object"): "NoSuchKey",
    (ErrorCode.NOT_FOUND, "copy-source"): "NoSuchKey",
    (ErrorCode.NOT_FOUND, "upload"): "NoSuchUpload",
    (ErrorCode.NOT_EMPTY, "bucket"): "BucketNotEmpty",
    (ErrorCode.ALREADY_EXISTS, "bucket"): "BucketAlreadyOwnedByYou",
    # A top-level file is not a bucket.
    (ErrorCode.NOT_A_DIRECTORY, "bucket"): "NoSuchBucket",
    # Reading "a/b" where "a" is a file, or "a" where only "a/..." keys exist: in S3 terms the
    # key simply is not there.
    **{(ErrorCode.NOT_A_DIRECTORY, c): "NoSuchKey" for c in _KEY_CONTEXTS},
    **{(ErrorCode.IS_A_DIRECTORY, c): "NoSuchKey" for c in _KEY_CONTEXTS},
    # An upload of "a/" (a directory: CreateMultipartUpload refuses it) or of "f/x" below a
    # file cannot exist, whatever the upload id says.
    (ErrorCode.IS_A_DIRECTORY, "upload"): "NoSuchUpload",
    (ErrorCode.NOT_A_DIRECTORY, "upload"): "NoSuchUpload",
})

_ANY_CONTEXT: Final[Mapping[ErrorCode, str]] = MappingProxyType({
    ErrorCode.PRECONDITION_FAILED: "PreconditionFailed",
    ErrorCode.INVALID: "InvalidArgument",
    ErrorCode.NO_SUCH_UPLOAD: "NoSuchUpload",
    ErrorCode.INVALID_PART: "InvalidPart",
    ErrorCode.INVALID_PART_ORDER: "InvalidPartOrder",
    ErrorCode.ENTITY_TOO_SMALL: "EntityTooSmall",
    # S3 has no "insufficient storage"; a full cluster is a temporary refusal to the client.
    ErrorCode.NO_SPACE: "ServiceUnavailable",
    ErrorCode.NO_LIVE_SERVERS: "ServiceUnavailable",
    ErrorCode.UNAVAILABLE_BEFORE_START: "ServiceUnavailable",
    ErrorCode.UNAVAILABLE_AFTER_SEND: "ServiceUnavailable",
    ErrorCode.TIMEOUT: "ServiceUnavailable",
    ErrorCode.CONNECTION_LOST: "ServiceUnavailable",
    ErrorCode.PIPELINE_FAILED: "ServiceUnavailable",
})


def from_wire(err: WireError, context: str) -> S3Error:
    """Translate a wire error met while working on ``context`` ("bucket", "key", ...)."""
    if context not in _CONTEXTS:
        raise ValueError(f"unknown error context {context!r}")
    code = _BY_CONTEXT.get((err.code, context)) or _ANY_CONTEXT.get(err.code)
    if code is None:
        return S3Error("InternalError")
    if code == "InvalidArgument":
        # The nameserver's reason is about the request the client sent, so it is worth showing.
        return S3Error(code, err.message)
    return S3Error(code)


def error_response_body(err: S3Error, *, resource: str, request_id: str) -> bytes:
    """``<Error>`` document: Code, Message, the error's extra fields, Resource, RequestId."""
    if err.status == 304:
        return b""
    parts = [f"<Code>{escape(err.code)}</Code>", f"<Message>{escape(err.message)}</Message>"]
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in err.fields.items()]
    parts += [f"<Resource>{escape(resource)}</Resource>",
              f"<RequestId>{escape(request_id)}</RequestId>"]
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    return body.replace("\r", "&#13;").encode("utf-8")
