"""Bucket operations: CreateBucket, HeadBucket, DeleteBucket, the bucket's ACL and policy,
and the configuration queries (location, versioning, and the ones Plenilune answers as S3
answers a bucket that has no such configuration)."""

from __future__ import annotations

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.ops.common import (
    canned_acl_header,
    object_grants,
    refuse_unsupported,
    requested_acl,
    wire_errors,
)
from gateway.s3.request import S3Request
from gateway.s3.router import valid_bucket_name
from gateway.seen_buckets import seen_buckets_key
from plen.access import MAX_POLICY_BYTES, PolicyError, parse_policy
from plen.wire.access import SetBucketAccessRequest
from plen.wire.errors import ErrorCode, WireError


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml")


async def create_bucket(s3: S3Request) -> web.Response:
    if not valid_bucket_name(s3.bucket):
        raise S3Error("InvalidBucketName", BucketName=s3.bucket)
    refuse_unsupported(s3.headers)
    acl = canned_acl_header(s3.headers, on_object=False)
    body = await s3.read_xml()
    constraint = xml.parse_create_bucket_configuration(body) if body.strip() else None
    if constraint and constraint != s3.settings.region:
        raise S3Error("IllegalLocationConstraintException",
                      f"The {constraint} location constraint is incompatible with the region "
                      f"this endpoint serves ({s3.settings.region}).")
    try:
        await s3.fs.mkdir(s3.bucket_path, owner=s3.principal.user, acl=acl)
    except WireError as err:
        if err.code is not ErrorCode.ALREADY_EXISTS:
            raise
        if (await s3.bucket_rules()).owner != s3.principal.user:
            raise S3Error("BucketAlreadyExists", BucketName=s3.bucket) from err
        # S3 answers an owner re-creating a bucket with 200 in us-east-1 (for legacy
        # compatibility) and BucketAlreadyOwnedByYou in every other region.
        if s3.settings.region != "us-east-1":
            raise S3Error("BucketAlreadyOwnedByYou", BucketName=s3.bucket) from err
    return web.Response(status=200, headers={"Location": s3.bucket_path})


async def head_bucket(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    return web.Response(status=200, headers={"x-amz-bucket-region": s3.settings.region})


async def delete_bucket(s3: S3Request) -> web.Response:
    with wire_errors("bucket", BucketName=s3.bucket):
        await s3.fs.rmdir(s3.bucket_path)
    s3.request.app[seen_buckets_key].forget(s3.bucket)
    return web.Response(status=204)


async def get_bucket_location(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    return _xml(xml.location_constraint(region=s3.settings.region))


async def get_bucket_versioning(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    return _xml(xml.versioning_configuration())


async def put_bucket_versioning(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    status = xml.parse_versioning_configuration(await s3.read_xml())
    if status == "Enabled":
        raise S3Error("NotImplemented", "Versioning is not supported")
    return web.Response(status=200)


async def get_bucket_acl(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    rules = await s3.bucket_rules()
    return _xml(xml.access_control_policy(owner=s3.owner,
                                          grants=object_grants(s3.owner, rules.acl)))


async def put_bucket_acl(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    acl = await requested_acl(s3, on_object=False)
    await _set_access(s3, SetBucketAccessRequest(bucket=s3.bucket, acl=acl))
    return web.Response(status=200)


async def _set_access(s3: S3Request, req: SetBucketAccessRequest) -> None:
    try:
        await s3.fs.nameserver.set_bucket_access(req)
    except WireError as err:
        if err.details.get("policy"):
            raise S3Error("MalformedPolicy", err.message) from err
        raise


async def get_bucket_policy(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    policy = (await s3.bucket_rules()).policy
    if policy is None:
        raise S3Error("NoSuchBucketPolicy", BucketName=s3.bucket)
    return web.Response(body=policy.encode(), content_type="application/json")


async def put_bucket_policy(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    body = await s3.payload().read_all(MAX_POLICY_BYTES + 1)
    if len(body) > MAX_POLICY_BYTES:
        raise S3Error("MalformedPolicy", "Policies must be no more than 20 KB")
    try:
        text = body.decode("utf-8")
        parse_policy(text, s3.bucket)
    except (UnicodeDecodeError, PolicyError) as exc:
        message = str(exc) if isinstance(exc, PolicyError) else "Policies must be UTF-8"
        raise S3Error("MalformedPolicy", message) from None
    await _set_access(s3, SetBucketAccessRequest(bucket=s3.bucket, policy=text))
    return web.Response(status=204)


async def delete_bucket_policy(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    await _set_access(s3, SetBucketAccessRequest(bucket=s3.bucket, delete_policy=True))
    return web.Response(status=204)


async def get_bucket_policy_status(s3: S3Request) -> web.Response:
    """Public when a statement allows anyone (Principal "*") some action."""
    await s3.require_bucket()
    policy = (await s3.bucket_rules()).policy
    if policy is None:
        raise S3Error("NoSuchBucketPolicy", BucketName=s3.bucket)
    public = any(st.allow and st.anyone for st in parse_policy(policy, s3.bucket).statements)
    return _xml(_DECL + f"<PolicyStatus {_NS}><IsPublic>{str(public).lower()}</IsPublic>"
                        f"</PolicyStatus>".encode())


async def get_bucket_request_payment(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    return _xml(xml.request_payment_configuration())


def _not_configured(code: str):
    """A configuration query S3 answers with ``code`` for a bucket that has none."""

    async def handler(s3: S3Request) -> web.Response:
        await s3.require_bucket()
        raise S3Error(code, BucketName=s3.bucket)

    return handler


def _empty(document: bytes):
    async def handler(s3: S3Request) -> web.Response:
        await s3.require_bucket()
        return _xml(document)

    return handler


_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
get_bucket_cors = _not_configured("NoSuchCORSConfiguration")
get_bucket_lifecycle_configuration = _not_configured("NoSuchLifecycleConfiguration")
get_bucket_tagging = _not_configured("NoSuchTagSet")
get_bucket_encryption = _not_configured("ServerSideEncryptionConfigurationNotFoundError")
get_bucket_website = _not_configured("NoSuchWebsiteConfiguration")
get_object_lock_configuration = _not_configured("ObjectLockConfigurationNotFoundError")
get_bucket_ownership_controls = _not_configured("OwnershipControlsNotFoundError")
get_public_access_block = _not_configured("NoSuchPublicAccessBlockConfiguration")
get_bucket_logging = _empty(_DECL + f"<BucketLoggingStatus {_NS}/>".encode())
get_bucket_notification_configuration = _empty(
    _DECL + f"<NotificationConfiguration {_NS}/>".encode())
get_bucket_accelerate_configuration = _empty(
    _DECL + f"<AccelerateConfiguration {_NS}/>".encode())
