"""S3 XML bodies: renderers for responses, parsers for request bodies.

Rule 1: every renderer returns UTF-8 bytes starting with the XML declaration, root element in
the S3 namespace, elements in the member order of the AWS S3 API model (the order of the API
reference's response syntax and of AWS's sample responses). Elements whose value is None are
left out; an empty string renders an empty element.

Rule 2: renderers take bare ETags and add the quotes S3 puts around them, except in
GetObjectAttributes, where S3 returns the ETag unquoted. Timestamps are ISO 8601 with
milliseconds (``headers.iso8601``). A carriage return in a value is written as ``&#13;`` so it
survives the parser's line-end normalisation (S3 does the same).

Rule 3: with ``encoding_type="url"``, keys, prefixes, delimiters and markers are percent-encoded
with ``quote(x, safe="/")`` ('+' -> %2B, ' ' -> %20); clients decode them with unquote_plus.

Rule 4: parsers take bytes. A body that is not UTF-8, that declares a DOCTYPE or an entity
(billion laughs, XXE), that is not well-formed, or whose root or required elements are wrong is
refused with MalformedXML before anything else looks at it. xmltodict's expat parser also runs
with entity declarations disabled, as a second wall. Size limits belong to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from xml.parsers.expat import ExpatError

import xmltodict

from gateway.s3.errors import S3Error
from gateway.s3.headers import iso8601

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Model order of the Checksum* members; {"CRC32": b64, ...} dicts render in this order.
CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")

MAX_DELETE_OBJECTS = 1000
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    last_modified: float          # epoch seconds
    etag: str                     # bare, without quotes
    size: int
    storage_class: str = "STANDARD"
    owner: Owner | None = None
    checksum_algorithm: str | None = None


@dataclass(frozen=True, slots=True)
class UploadInfo:
    key: str
    upload_id: str
    initiated: float
    owner: Owner | None = None


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    last_modified: float
    etag: str
    size: int
    checksums: dict[str, str] = field(default_factory=dict)   # {"CRC32": b64, ...}


@dataclass(frozen=True, slots=True)
class ObjectParts:
    """GetObjectAttributes' ObjectParts: the part count and, optionally, a page of parts."""
    parts_count: int
    part_number_marker: int | None = None
    next_part_number_marker: int | None = None
    max_parts: int | None = None
    is_truncated: bool | None = None
    parts: list[PartInfo] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Rendering

def _bool(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _int(value: int | None) -> str | None:
    return None if value is None else str(value)


def _etag(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


def _prune(elements: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None-valued members (and empty repeated-element lists, which render as nothing)."""
    return {k: v for k, v in elements.items() if v is not None and v != []}


def _document(root: str, elements: Mapping[str, Any]) -> bytes:
    body = {root: {"@xmlns": S3_NS, **_prune(elements)}}
    text = xmltodict.unparse(body, full_document=False, short_empty_elements=False)
    return (_DECLARATION + text.replace("\r", "&#13;")).encode("utf-8")


_Encoder = Callable[[str | None], str | None]


def _encoder(encoding_type: str | None) -> _Encoder:
    if encoding_type == "url":
        return lambda s: None if s is None else quote(s, safe="/")
    return lambda s: s


def _owner(owner: Owner | None) -> dict[str, str] | None:
    if owner is None:
        return None
    return {"DisplayName": owner.display_name, "ID": owner.id}


def _initiator(owner: Owner | None) -> dict[str, str] | None:
    if owner is None:
        return None
    return {"ID": owner.id, "DisplayName": owner.display_name}


def _checksums(checksums: Mapping[str, str] | None) -> dict[str, str]:
    checksums = checksums or {}
    unknown = set(checksums) - set(CHECKSUM_ALGORITHMS)
    if unknown:
        raise ValueError(f"unknown checksum algorithms {sorted(unknown)}")
    return {f"Checksum{a}": checksums[a] for a in CHECKSUM_ALGORITHMS if a in checksums}


def _common_prefixes(prefixes: Iterable[str], enc: _Encoder) -> list[dict[str, str]]:
    return [{"Prefix": enc(p)} for p in prefixes]


def list_all_my_buckets_result(*, owner: Owner, buckets: list[tuple[str, float]]) -> bytes:
    return _document("ListAllMyBucketsResult", {
        "Buckets": {"Bucket": [{"Name": name, "CreationDate": iso8601(created)}
                               for name, created in buckets]},
        "Owner": _owner(owner),
    })


def _contents(obj: ObjectInfo, enc: _Encoder) -> dict[str, Any]:
    return _prune({
        "Key": enc(obj.key),
        "LastModified": iso8601(obj.last_modified),
        "ETag": _etag(obj.etag),
        "ChecksumAlgorithm": obj.checksum_algorithm,
        "Size": str(obj.size),
        "StorageClass": obj.storage_class,
        "Owner": _owner(obj.owner),
    })


def list_bucket_result(*, name: str, prefix: str | None, delimiter: str | None, max_keys: int,
                       is_truncated: bool, contents: list[ObjectInfo],
                       common_prefixes: list[str], encoding_type: str | None,
                       marker: str | None = None, next_marker: str | None = None,
                       v2: bool = False, continuation_token: str | None = None,
                       next_continuation_token: str | None = None,
                       start_after: str | None = None, key_count: int | None = None) -> bytes:
    """ListObjects (v1) or ListObjectsV2 (``v2=True``) result.

    v1 always has <Marker> (empty when None). v2 always has <KeyCount>, by default the number
    of Contents plus CommonPrefixes.
    """
    enc = _encoder(encoding_type)
    head: dict[str, Any] = {"IsTruncated": _bool(is_truncated)}
    if not v2:
        head["Marker"] = enc(marker or "")
        head["NextMarker"] = enc(next_marker)
    head["Contents"] = [_contents(o, enc) for o in contents]
    head.update({
        "Name": name,
        "Prefix": enc(prefix),
        "Delimiter": enc(delimiter),
        "MaxKeys": str(max_keys),
        "CommonPrefixes": _common_prefixes(common_prefixes, enc),
        "EncodingType": encoding_type,
    })
    if v2:
        head.update({
            "KeyCount": str(len(contents) + len(common_prefixes) if key_count is None
                            else key_count),
            "ContinuationToken": continuation_token,
            "NextContinuationToken": next_continuation_token,
            "StartAfter": enc(start_after),
        })
    return _document("ListBucketResult", head)


def list_versions_result(*, name: str, prefix: str | None, delimiter: str | None,
                         max_keys: int, is_truncated: bool, versions: list[ObjectInfo],
                         common_prefixes: list[str], encoding_type: str | None,
                         key_marker: str | None = None, version_id_marker: str | None = None,
                         next_key_marker: str | None = None,
                         next_version_id_marker: str | None = None) -> bytes:
    """ListObjectVersions for an unversioned bucket: each object is its only version, "null".

    <KeyMarker> and <VersionIdMarker> are always present (empty when None), as in S3.
    """
    enc = _encoder(encoding_type)
    return _document("ListVersionsResult", {
        "IsTruncated": _bool(is_truncated),
        "KeyMarker": enc(key_marker or ""),
        "VersionIdMarker": version_id_marker or "",
        "NextKeyMarker": enc(next_key_marker),
        "NextVersionIdMarker": next_version_id_marker,
        "Version": [_prune({
            "ETag": _etag(o.etag),
            "ChecksumAlgorithm": o.checksum_algorithm,
            "Size": str(o.size),
            "StorageClass": o.storage_class,
            "Key": enc(o.key),
            "VersionId": "null",
            "IsLatest": "true",
            "LastModified": iso8601(o.last_modified),
            "Owner": _owner(o.owner),
        }) for o in versions],
        "Name": name,
        "Prefix": enc(prefix),
        "Delimiter": enc(delimiter),
        "MaxKeys": str(max_keys),
        "CommonPrefixes": _common_prefixes(common_prefixes, enc),
        "EncodingType": encoding_type,
    })


def location_constraint(*, region: str) -> bytes:
    """GetBucketLocation: us-east-1 is reported as an empty element, as S3 does."""
    return _document("LocationConstraint",
                     {"#text": "" if region == "us-east-1" else region})


def versioning_configuration() -> bytes:
    """GetBucketVersioning for a bucket whose versioning was never enabled: no Status."""
    return _document("VersioningConfiguration", {})


def request_payment_configuration() -> bytes:
    return _document("RequestPaymentConfiguration", {"Payer": "BucketOwner"})


def copy_object_result(*, etag: str, last_modified: float,
                       checksums: Mapping[str, str] | None = None,
                       checksum_type: str | None = None) -> bytes:
    return _document("CopyObjectResult", {
        "ETag": _etag(etag),
        "LastModified": iso8601(last_modified),
        "ChecksumType": checksum_type,
        **_checksums(checksums),
    })


def copy_part_result(*, etag: str, last_modified: float,
                     checksums: Mapping[str, str] | None = None) -> bytes:
    return _document("CopyPartResult", {
        "ETag": _etag(etag),
        "LastModified": iso8601(last_modified),
        **_checksums(checksums),
    })


def initiate_multipart_upload_result(*, bucket: str, key: str, upload_id: str) -> bytes:
    return _document("InitiateMultipartUploadResult",
                     {"Bucket": bucket, "Key": key, "UploadId": upload_id})


def complete_multipart_upload_result(*, location: str, bucket: str, key: str, etag: str,
                                     checksums: Mapping[str, str] | None = None,
                                     checksum_type: str | None = None) -> bytes:
    return _document("CompleteMultipartUploadResult", {
        "Location": location,
        "Bucket": bucket,
        "Key": key,
        "ETag": _etag(etag),
        **_checksums(checksums),
        "ChecksumType": checksum_type,
    })


def list_parts_result(*, bucket: str, key: str, upload_id: str, part_number_marker: int,
                      next_part_number_marker: int | None, max_parts: int, is_truncated: bool,
                      parts: list[PartInfo], owner: Owner, initiator: Owner | None = None,
                      storage_class: str = "STANDARD", checksum_algorithm: str | None = None,
                      checksum_type: str | None = None) -> bytes:
    return _document("ListPartsResult", {
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "PartNumberMarker": str(part_number_marker),
        "NextPartNumberMarker": _int(next_part_number_marker),
        "MaxParts": str(max_parts),
        "IsTruncated": _bool(is_truncated),
        "Part": [{
            "PartNumber": str(p.part_number),
            "LastModified": iso8601(p.last_modified),
            "ETag": _etag(p.etag),
            "Size": str(p.size),
            **_checksums(p.checksums),
        } for p in parts],
        "Initiator": _initiator(owner if initiator is None else initiator),
        "Owner": _owner(owner),
        "StorageClass": storage_class,
        "ChecksumAlgorithm": checksum_algorithm,
        "ChecksumType": checksum_type,
    })


def list_multipart_uploads_result(*, bucket: str, key_marker: str | None,
                                  upload_id_marker: str | None, next_key_marker: str | None,
                                  next_upload_id_marker: str | None, prefix: str | None,
                                  delimiter: str | None, max_uploads: int, is_truncated: bool,
                                  uploads: list[UploadInfo], common_prefixes: list[str],
                                  encoding_type: str | None) -> bytes:
    enc = _encoder(encoding_type)
    return _document("ListMultipartUploadsResult", {
        "Bucket": bucket,
        "KeyMarker": enc(key_marker),
        "UploadIdMarker": upload_id_marker,
        "NextKeyMarker": enc(next_key_marker),
        "Prefix": enc(prefix),
        "Delimiter": enc(delimiter),
        "NextUploadIdMarker": next_upload_id_marker,
        "MaxUploads": str(max_uploads),
        "IsTruncated": _bool(is_truncated),
        "Upload": [_prune({
            "UploadId": u.upload_id,
            "Key": enc(u.key),
            "Initiated": iso8601(u.initiated),
            "StorageClass": "STANDARD",
            "Owner": _owner(u.owner),
            "Initiator": _initiator(u.owner),
        }) for u in uploads],
        "CommonPrefixes": _common_prefixes(common_prefixes, enc),
        "EncodingType": encoding_type,
    })


def delete_result(*, deleted: list[str], errors: list[tuple[str, str, str]]) -> bytes:
    """DeleteObjects result; in quiet mode the caller passes no ``deleted`` keys."""
    return _document("DeleteResult", {
        "Deleted": [{"Key": key} for key in deleted],
        "Error": [{"Key": key, "Code": code, "Message": message}
                  for key, code, message in errors],
    })


def tagging(*, tags: list[tuple[str, str]]) -> bytes:
    return _document("Tagging", {
        "TagSet": {"Tag": [{"Key": k, "Value": v} for k, v in tags]},
    })


def _grantee(grantee: Owner | str) -> dict[str, str]:
    if isinstance(grantee, Owner):
        return {"@xmlns:xsi": XSI_NS, "@xsi:type": "CanonicalUser",
                "DisplayName": grantee.display_name, "ID": grantee.id}
    return {"@xmlns:xsi": XSI_NS, "@xsi:type": "Group", "URI": grantee}


def access_control_policy(*, owner: Owner, grants: list[tuple[Owner | str, str]]) -> bytes:
    """GetBucketAcl / GetObjectAcl. A str grantee is a group URI (AllUsers, ...)."""
    return _document("AccessControlPolicy", {
        "Owner": _owner(owner),
        "AccessControlList": {"Grant": [{"Grantee": _grantee(g), "Permission": permission}
                                        for g, permission in grants]},
    })


def get_object_attributes_response(*, etag: str | None = None,
                                   checksums: Mapping[str, str] | None = None,
                                   object_size: int | None = None,
                                   storage_class: str | None = None,
                                   parts: ObjectParts | None = None,
                                   checksum_type: str | None = None) -> bytes:
    """GetObjectAttributes: only the attributes asked for are passed (others stay None).

    The ETag is unquoted here: that is what S3 returns for this operation.
    """
    checksum = None
    if checksums:
        checksum = _prune({**_checksums(checksums), "ChecksumType": checksum_type})
    object_parts = None
    if parts is not None:
        object_parts = _prune({
            "PartsCount": str(parts.parts_count),
            "PartNumberMarker": _int(parts.part_number_marker),
            "NextPartNumberMarker": _int(parts.next_part_number_marker),
            "MaxParts": _int(parts.max_parts),
            "IsTruncated": _bool(parts.is_truncated),
            "Part": [{"PartNumber": str(p.part_number), "Size": str(p.size),
                      **_checksums(p.checksums)} for p in parts.parts],
        })
    return _document("GetObjectAttributesResponse", {
        "ETag": None if etag is None else etag.strip('"'),
        "Checksum": checksum,
        "ObjectParts": object_parts,
        "StorageClass": storage_class,
        "ObjectSize": _int(object_size),
    })


# ---------------------------------------------------------------------------------------------
# Parsing

def _malformed() -> S3Error:
    return S3Error("MalformedXML")


def _parse(body: bytes, root: str) -> Any:
    """The root element's content as xmltodict gives it (None, str or dict)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _malformed() from None
    folded = text.casefold()
    if "<!doctype" in folded or "<!entity" in folded:
        raise _malformed()
    try:
        # Elements in S3's namespace lose the prefix; any other namespace keeps "uri:Name", so
        # a foreign root fails the check below. Whitespace is kept: " a " is a valid key.
        doc = xmltodict.parse(text, process_namespaces=True, namespaces={S3_NS: None},
                              strip_whitespace=False)
    except (ExpatError, ValueError):
        raise _malformed() from None
    if not isinstance(doc, dict) or list(doc) != [root]:
        raise _malformed()
    return doc[root]


def _children(node: Any) -> dict[str, Any]:
    """Child elements of a container element; text other than whitespace is malformed."""
    if isinstance(node, dict):
        if str(node.get("#text", "")).strip():
            raise _malformed()
        return _elements(node)
    if node is None or (isinstance(node, str) and not node.strip()):
        return {}
    raise _malformed()


def _elements(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if not k.startswith(("@", "#"))}


def _all(children: Mapping[str, Any], name: str) -> list[Any]:
    value = children.get(name)
    if value is None and name not in children:
        return []
    return value if isinstance(value, list) else [value]


def _text(node: Any) -> str:
    """The text of a leaf element; an element with child elements is malformed here."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if _elements(node):
        raise _malformed()
    return node.get("#text", "")


def _one(children: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    values = _all(children, name)
    if len(values) > 1 or (required and not values):
        raise _malformed()
    return _text(values[0]) if values else None


def parse_create_bucket_configuration(body: bytes) -> str | None:
    """CreateBucket's optional body -> LocationConstraint (None when absent or empty)."""
    if not body.strip():
        return None
    children = _children(_parse(body, "CreateBucketConfiguration"))
    return _one(children, "LocationConstraint", required=False) or None


def parse_delete(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    """DeleteObjects body -> (quiet, [(key, version_id or None)]); 1 to 1000 objects.

    An empty <Key> comes back as "" for the caller to report per key, as S3 does.
    """
    children = _children(_parse(body, "Delete"))
    quiet_text = _one(children, "Quiet", required=False)
    quiet = False
    if quiet_text is not None:
        if quiet_text.strip().lower() not in ("true", "false"):
            raise _malformed()
        quiet = quiet_text.strip().lower() == "true"
    objects = _all(children, "Object")
    if not objects or len(objects) > MAX_DELETE_OBJECTS:
        raise _malformed()
    result = []
    for obj in objects:
        fields = _children(obj)
        result.append((_one(fields, "Key") or "", _one(fields, "VersionId", required=False)))
    return quiet, result


def parse_complete_multipart_upload(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """CompleteMultipartUpload body -> [(part_number, bare etag, {"CRC32": b64, ...})].

    Order is kept as sent: checking it (InvalidPartOrder) is the caller's business.
    """
    children = _children(_parse(body, "CompleteMultipartUpload"))
    parts = _all(children, "Part")
    if not parts:
        raise _malformed()
    result = []
    for part in parts:
        fields = _children(part)
        number = (_one(fields, "PartNumber") or "").strip()
        # Few digits: int() of thousands of them is refused (a ValueError, not an S3 error).
        if not number.isascii() or not number.isdigit() or len(number) > 9:
            raise _malformed()
        etag = (_one(fields, "ETag") or "").strip().strip('"')
        checksums = {}
        for algorithm in CHECKSUM_ALGORITHMS:
            value = _one(fields, f"Checksum{algorithm}", required=False)
            if value is not None:
                checksums[algorithm] = value.strip()
        result.append((int(number), etag, checksums))
    return result


def parse_tagging(body: bytes, *, max_tags: int = 10) -> list[tuple[str, str]]:
    """PutObjectTagging / PutBucketTagging body -> [(key, value)].

    BadRequest for more than ``max_tags`` tags (objects 10; buckets pass 50), as S3 answers;
    InvalidTag for an empty key or one over 128 characters, a value over 256 characters, or a
    repeated key.
    """
    children = _children(_parse(body, "Tagging"))
    tag_set = _all(children, "TagSet")
    if len(tag_set) != 1:
        raise _malformed()
    tags = []
    for tag in _all(_children(tag_set[0]), "Tag"):
        fields = _children(tag)
        tags.append((_one(fields, "Key") or "", _one(fields, "Value") or ""))
    if len(tags) > max_tags:
        raise S3Error("BadRequest", f"Object tags cannot be greater than {max_tags}")
    seen: set[str] = set()
    for key, value in tags:
        if not key or len(key) > MAX_TAG_KEY_CHARS:
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid",
                          TagKey=key)
        if len(value) > MAX_TAG_VALUE_CHARS:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid",
                          TagKey=key)
        if key in seen:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key",
                          TagKey=key)
        seen.add(key)
    return tags


def parse_versioning_configuration(body: bytes) -> str | None:
    """PutBucketVersioning body -> Status ("Enabled" / "Suspended") or None when absent."""
    children = _children(_parse(body, "VersioningConfiguration"))
    status = _one(children, "Status", required=False)
    if status is not None and status not in ("Enabled", "Suspended"):
        raise _malformed()
    return status
