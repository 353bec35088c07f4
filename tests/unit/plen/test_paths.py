from hypothesis import given
from hypothesis import strategies as st

from nameserver.namespace import split_path
from plen import paths

keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@given(keys)
def test_object_path_round_trips_every_key(key):
    assert paths.split_object_path(paths.object_path("bkt", key)) == ("bkt", key)


@given(keys)
def test_nameserver_split_keeps_key_components_unchanged(key):
    comps, is_dir = split_path(paths.object_path("bkt", key))
    rebuilt = "/".join(comps[1:]) + ("/" if is_dir else "")
    assert comps[0] == "bkt" and rebuilt == key
    assert is_dir == key.endswith("/")


@given(st.lists(keys, min_size=2, max_size=20))
def test_sort_key_is_utf8_byte_order_and_matches_code_point_order(names):
    assert sorted(names, key=paths.sort_key) == sorted(names)


def test_resolve_normalises_cli_paths_against_cwd():
    assert paths.resolve("/a/b", "../c") == "/a/c"
    assert paths.resolve("/a", "x//y/./z") == "/a/x/y/z"
    assert paths.resolve("/a", "/abs") == "/abs"
    assert paths.resolve("/", "..") == "/"
    assert paths.parent_and_name("/a/b/c") == ("/a/b", "c")
    assert paths.parent_and_name("/top") == ("/", "top")
