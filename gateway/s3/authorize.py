"""Which access each S3 operation needs, checked once per request (plen/access.py decides).

Rule 1: the root user skips all of this: no bucket rules are fetched for root's requests.
Rule 2: an operation on objects needs its data action on the key, one on the bucket's
contents ``s3:ListBucket``; everything about the bucket itself (its ACL, policy, deletion,
configuration) is its owner's. ListBuckets and CreateBucket need a signed-in user.
Rule 3: what needs more than one check (a copy's source, each key of DeleteObjects) is
checked by its handler with ``S3Request.require``.
"""

from __future__ import annotations

from typing import Final

from gateway.s3.errors import S3Error
from gateway.s3.request import S3Request
from plen.access import DELETE_OBJECT, GET_OBJECT, LIST_BUCKET, OWNER_ONLY, PUT_OBJECT

ACTIONS: Final[dict[str, str]] = {
    "HeadBucket": LIST_BUCKET,
    "GetBucketLocation": LIST_BUCKET,
    "ListObjects": LIST_BUCKET,
    "ListObjectsV2": LIST_BUCKET,
    "ListObjectVersions": LIST_BUCKET,
    "ListMultipartUploads": LIST_BUCKET,
    "GetObject": GET_OBJECT,
    "HeadObject": GET_OBJECT,
    "GetObjectTagging": GET_OBJECT,
    "GetObjectAttributes": GET_OBJECT,
    "PutObject": PUT_OBJECT,
    "CopyObject": PUT_OBJECT,
    "UploadPart": PUT_OBJECT,
    "UploadPartCopy": PUT_OBJECT,
    "CreateMultipartUpload": PUT_OBJECT,
    "CompleteMultipartUpload": PUT_OBJECT,
    "AbortMultipartUpload": PUT_OBJECT,
    "ListParts": PUT_OBJECT,
    "PutObjectTagging": PUT_OBJECT,
    "DeleteObjectTagging": PUT_OBJECT,
    "DeleteObject": DELETE_OBJECT,
}
SIGNED_IN: Final = frozenset({"ListBuckets", "CreateBucket"})
PER_KEY: Final = frozenset({"DeleteObjects"})


async def authorize(s3: S3Request) -> None:
    principal = s3.principal
    if principal.root:
        return
    operation = s3.endpoint.operation
    if operation in SIGNED_IN:
        if principal.anonymous:
            raise S3Error("AccessDenied")
        return
    if operation in PER_KEY:
        await s3.bucket_rules()
        return
    await s3.require(ACTIONS.get(operation, OWNER_ONLY), key=s3.endpoint.key)
