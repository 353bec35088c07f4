"""Property tests for the key <-> path mapping (plen/paths.py, and the router and the
nameserver's split on either side of it): every key S3 accepts round-trips unchanged, from
the request line to the namespace path and back, and hostile paths are refused with the
mapping's own errors, never another exception."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, MultiDict

from gateway.s3.errors import S3Error
from gateway.s3.router import resolve
from nameserver.namespace import split_path
from plen import paths
from plen.wire.errors import WireError

FAST = settings(max_examples=300, deadline=None)
# Keys as S3 takes them: any characters, up to 1,024 bytes of UTF-8.
hostile_parts = st.sampled_from(["/", "//", ".", "..", "../", "./", " ", "\x00", "\n", "\r",
                                 "%2F", "%", "+", "?", "#", "\u202e", "\U0010ffff", "é"])
keys = st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
                          hostile_parts), min_size=1, max_size=30).map("".join).filter(
    lambda k: k != "" and len(k.encode()) <= 1024)
buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True)


@FAST
@given(bucket=buckets, key=keys)
def test_key_to_path_to_key_is_the_identity(bucket, key):
    path = paths.object_path(bucket, key)
    assert paths.split_object_path(path) == (bucket, key)
    comps, is_dir = split_path(path)
    assert comps[0] == bucket
    assert "/".join(comps[1:]) + ("/" if is_dir else "") == key


@FAST
@given(bucket=buckets, key=keys)
def test_request_line_to_path_to_key_is_the_identity(bucket, key):
    endpoint = resolve("GET", "localhost", f"/{bucket}/{quote(key, safe='/')}", MultiDict(),
                       CIMultiDict())
    assert endpoint.key == key
    assert paths.split_object_path(paths.object_path(endpoint.bucket, endpoint.key)) == \
        (bucket, key)


@FAST
@given(path=st.text(max_size=60) | st.binary(max_size=30).map(
    lambda b: b.decode("utf-8", "surrogateescape")))
def test_any_path_splits_or_raises_the_mappings_errors(path):
    try:
        bucket, key = paths.split_object_path(path)
    except ValueError:
        assert not path.startswith("/")
    else:
        if "/" in path[1:]:  # "/b" and "/" name no object: no key to give back
            assert paths.object_path(bucket, key) == path
    try:
        split_path(path)
    except WireError:
        pass


@FAST
@given(names=st.lists(keys, min_size=2, max_size=10))
def test_sort_key_orders_by_utf8_bytes(names):
    assert [n.encode() for n in sorted(names, key=paths.sort_key)] == \
        sorted(n.encode() for n in names)


@FAST
@given(cwd=st.text(max_size=20).map(lambda s: "/" + s), arg=st.text(max_size=30))
def test_cli_resolution_is_absolute_and_normal(cwd, arg):
    resolved = paths.resolve(cwd, arg)
    assert resolved.startswith("/") and "//" not in resolved
    assert resolved == "/" or not resolved.endswith("/")
    assert "/./" not in resolved + "/" and "/../" not in resolved + "/"


def test_a_key_over_1024_bytes_still_maps_but_the_gateway_refuses_it():
    """The mapping itself has no limit; KeyTooLongError is S3Request.check_key's."""
    key = "k" * 1025
    assert paths.split_object_path(paths.object_path("b", key)) == ("b", key)
    try:
        resolve("GET", "localhost", "/b/" + key, MultiDict(), CIMultiDict())
    except S3Error as err:  # pragma: no cover - routing does not check length
        raise AssertionError(err)
