"""Every S3 operation Plenilune serves, by its AWS name; one module per family.

An operation the router knows but this table does not list is answered NotImplemented.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from gateway.s3.ops import (
    bucket,
    copy,
    delete_objects,
    listing,
    multipart,
    object,
    service,
    tagging,
)

Handler = Callable[..., Awaitable[web.StreamResponse]]

OPERATIONS: Final[Mapping[str, Handler]] = {
    "ListBuckets": service.list_buckets,
    "CreateBucket": bucket.create_bucket,
    "HeadBucket": bucket.head_bucket,
    "DeleteBucket": bucket.delete_bucket,
    "GetBucketLocation": bucket.get_bucket_location,
    "GetBucketVersioning": bucket.get_bucket_versioning,
    "PutBucketVersioning": bucket.put_bucket_versioning,
    "GetBucketAcl": bucket.get_bucket_acl,
    "PutBucketAcl": bucket.put_bucket_acl,
    "GetBucketRequestPayment": bucket.get_bucket_request_payment,
    "GetBucketPolicy": bucket.get_bucket_policy,
    "PutBucketPolicy": bucket.put_bucket_policy,
    "DeleteBucketPolicy": bucket.delete_bucket_policy,
    "GetBucketPolicyStatus": bucket.get_bucket_policy_status,
    "GetBucketCors": bucket.get_bucket_cors,
    "GetBucketLifecycleConfiguration": bucket.get_bucket_lifecycle_configuration,
    "GetBucketTagging": bucket.get_bucket_tagging,
    "GetBucketEncryption": bucket.get_bucket_encryption,
    "GetBucketWebsite": bucket.get_bucket_website,
    "GetBucketLogging": bucket.get_bucket_logging,
    "GetBucketNotificationConfiguration": bucket.get_bucket_notification_configuration,
    "GetBucketAccelerateConfiguration": bucket.get_bucket_accelerate_configuration,
    "GetObjectLockConfiguration": bucket.get_object_lock_configuration,
    "GetBucketOwnershipControls": bucket.get_bucket_ownership_controls,
    "GetPublicAccessBlock": bucket.get_public_access_block,
    "ListObjects": listing.list_objects,
    "ListObjectsV2": listing.list_objects_v2,
    "ListObjectVersions": listing.list_object_versions,
    "PutObject": object.put_object,
    "GetObject": object.get_object,
    "HeadObject": object.head_object,
    "DeleteObject": object.delete_object,
    "DeleteObjects": delete_objects.delete_objects,
    "CopyObject": copy.copy_object,
    "UploadPartCopy": copy.upload_part_copy,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart.list_parts,
    "ListMultipartUploads": multipart.list_multipart_uploads,
    "PutObjectTagging": tagging.put_object_tagging,
    "GetObjectTagging": tagging.get_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "GetObjectAcl": tagging.get_object_acl,
    "PutObjectAcl": tagging.put_object_acl,
    "GetObjectAttributes": tagging.get_object_attributes,
}
