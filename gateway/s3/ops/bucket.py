"""Bucket operations: CreateBucket, HeadBucket, DeleteBucket and the bucket configuration
queries (location, versioning, ACL, and the ones Plenilune answers as S3 answers a bucket
that has no such configuration)."""

from __future__ import annotations

from aiohttp import web

from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.ops.common import refuse_unsupported, wire_errors
from gateway.s3.request import S3Request
from gateway.s3.router import valid_bucket_name
from plen.wire.errors import ErrorCode, WireError


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml")


async def create_bucket(s3: S3Request) -> web.Response:
    if not valid_bucket_name(s3.bucket):
        raise S3Error("InvalidBucketName", BucketName=s3.bucket)
    refuse_unsupported(s3.headers)
    body = await s3.read_xml()
    constraint = xml.parse_create_bucket_configuration(body) if body.strip() else None
    if constraint and constraint != s3.settings.region:
        raise S3Error("IllegalLocationConstraintException",
                      f"The {constraint} location constraint is incompatible with the region "
                      f"this endpoint serves ({s3.settings.region}).")
    try:
        await s3.fs.mkdir(s3.bucket_path)
    except WireError as err:
        if err.code is not ErrorCode.ALREADY_EXISTS:
            raise
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
    return _xml(xml.access_control_policy(owner=s3.owner, grants=[(s3.owner, "FULL_CONTROL")]))


async def put_bucket_acl(s3: S3Request) -> web.Response:
    await s3.require_bucket()
    refuse_unsupported(s3.headers)
    if (await s3.read_xml()).strip():
        raise S3Error("NotImplemented", "Access control policies are not supported yet")
    return web.Response(status=200)


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
get_bucket_policy = _not_configured("NoSuchBucketPolicy")
get_bucket_policy_status = _not_configured("NoSuchBucketPolicy")
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
