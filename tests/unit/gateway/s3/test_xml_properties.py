"""Property tests for gateway/s3/xml.py's request-body parsers: whatever bytes arrive, a
parser returns or raises S3Error (never another exception), never expands an entity, and a
well-formed body round-trips."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.s3 import xml
from gateway.s3.errors import S3Error

PARSERS = [
    xml.parse_create_bucket_configuration,
    xml.parse_delete,
    xml.parse_complete_multipart_upload,
    xml.parse_tagging,
    xml.parse_versioning_configuration,
]
ROOTS = ["CreateBucketConfiguration", "Delete", "CompleteMultipartUpload", "Tagging",
         "VersioningConfiguration"]
ELEMENTS = ["Object", "Key", "VersionId", "Quiet", "Part", "PartNumber", "ETag", "TagSet",
            "Tag", "Value", "Status", "LocationConstraint", "ChecksumCRC32", "x:Key"]
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# Text that is legal in an XML 1.0 document (no other control characters, no surrogates).
xml_chars = st.characters(blacklist_categories=("Cs",),
                          blacklist_characters=[chr(c) for c in range(32) if c not in (9, 10)]
                          + ["\ufffe", "\uffff"])
xml_text = st.text(alphabet=xml_chars, max_size=40)


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda name, inner, ns: f"<{name}{ns}>{inner}</{name}>",
                     st.sampled_from(ELEMENTS), children,
                     st.sampled_from(["", f' xmlns="{xml.S3_NS}"', ' xmlns="urn:other"',
                                      ' a="1"']))


fragments = st.recursive(xml_text.map(escape), lambda inner: st.lists(
    element(inner), max_size=4).map("".join), max_leaves=12)
documents = st.builds(
    lambda decl, root, ns, inner, tail: f"{decl}<{root}{ns}>{inner}</{root}>{tail}".encode(),
    st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>', "\ufeff",
                     '<?xml version="1.0" encoding="UTF-16"?>']),
    st.sampled_from(ROOTS + ["Other", "s3:Delete"]),
    st.sampled_from(["", f' xmlns="{xml.S3_NS}"', ' xmlns="urn:x"']),
    fragments, st.sampled_from(["", " ", "<x/>", "junk", "<!-- c -->"]))


def refuses_or_returns(parser, body: bytes) -> None:
    try:
        parser(body)
    except S3Error as err:
        assert err.status == 400, err


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@FAST
@given(body=st.binary(max_size=300))
def test_random_bytes_return_or_raise_s3_error(parser, body):
    refuses_or_returns(parser, body)


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@FAST
@given(body=documents)
def test_random_documents_return_or_raise_s3_error(parser, body):
    refuses_or_returns(parser, body)


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@FAST
@given(body=documents, cut=st.integers(0, 400), noise=st.binary(max_size=8))
def test_mutated_documents_return_or_raise_s3_error(parser, body, cut, noise):
    refuses_or_returns(parser, body[:cut] + noise + body[cut + len(noise):])


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@FAST
@given(decl=st.sampled_from([
    '<!DOCTYPE r [<!ENTITY e "{x}">]>',
    '<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE r [<!ENTITY e SYSTEM "http://127.0.0.1:1/x">]>',
    '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p.dtd"> %p;]>',
    '<!DOCTYPE r SYSTEM "http://127.0.0.1:1/r.dtd">',
    '<!doctype r [<!entity e "{x}">]>',
    '<!ENTITY e "{x}">',
]), x=xml_text.map(escape), root=st.sampled_from(ROOTS),
    prolog=st.sampled_from(["", '<?xml version="1.0"?>', "\ufeff", "<!-- c -->", "\n"]))
def test_any_doctype_or_entity_is_malformed_xml_and_never_expanded(parser, decl, x, root,
                                                                   prolog):
    body = (prolog + decl.replace("{x}", x.replace('"', "&quot;"))
            + f"<{root}><Object><Key>&e;</Key></Object></{root}>").encode()
    with pytest.raises(S3Error) as info:
        parser(body)
    assert (info.value.code, info.value.status) == ("MalformedXML", 400)


keys = st.text(alphabet=xml_chars, min_size=1, max_size=60)


def delete_body(objects: list[tuple[str, str | None]], quiet: bool | None) -> bytes:
    parts = [f'<Delete xmlns="{xml.S3_NS}">']
    if quiet is not None:
        parts.append(f"<Quiet>{str(quiet).lower()}</Quiet>")
    for key, version in objects:
        parts.append("<Object><Key>" + escape(key).replace("\r", "&#13;") + "</Key>")
        if version is not None:
            parts.append("<VersionId>" + escape(version) + "</VersionId>")
        parts.append("</Object>")
    parts.append("</Delete>")
    return "".join(parts).encode()


@settings(max_examples=150, deadline=None)
@given(objects=st.lists(st.tuples(keys, st.none() | st.text(alphabet="abc0-9", min_size=1,
                                                             max_size=8)),
                        min_size=1, max_size=20),
       quiet=st.none() | st.booleans())
def test_delete_body_round_trips(objects, quiet):
    assert xml.parse_delete(delete_body(objects, quiet)) == (bool(quiet), objects)


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.tuples(st.integers(1, 10000),
                                st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)),
                      min_size=1, max_size=20))
def test_complete_multipart_body_round_trips(parts):
    body = ("<CompleteMultipartUpload>" + "".join(
        f'<Part><PartNumber>{n}</PartNumber><ETag>"{etag}"</ETag></Part>' for n, etag in parts)
        + "</CompleteMultipartUpload>").encode()
    assert xml.parse_complete_multipart_upload(body) == [(n, e, {}) for n, e in parts]


def test_delete_of_1001_objects_is_malformed_xml():
    with pytest.raises(S3Error) as info:
        xml.parse_delete(delete_body([(f"k{i}", None) for i in range(1001)], None))
    assert info.value.code == "MalformedXML"
    assert len(xml.parse_delete(delete_body([(f"k{i}", None) for i in range(1000)], None))[1]) \
        == 1000


@pytest.mark.parametrize("number", ["1" * 5000, "9" * 10, "²", "١"])
def test_part_numbers_no_int_can_hold_are_malformed_xml(number):
    """Regression: 5,000 digits made int() raise ValueError (a 500)."""
    body = (f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber>"
            "<ETag>e</ETag></Part></CompleteMultipartUpload>").encode()
    with pytest.raises(S3Error) as info:
        xml.parse_complete_multipart_upload(body)
    assert info.value.code == "MalformedXML"


def test_deep_nesting_is_refused_or_parsed_not_crashed():
    body = b"<Delete>" + b"<Object>" * 50000 + b"</Object>" * 50000 + b"</Delete>"
    refuses_or_returns(xml.parse_delete, body)
