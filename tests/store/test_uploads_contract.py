"""Multipart uploads, in-place metadata updates, block slices and bucket-preserving parents,
over a real RedisStore (the Lua scripts run for real) on every Redis backend."""

from __future__ import annotations

import hashlib

import pytest

from nameserver.uploads import Uploads
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AbortUploadRequest,
    AllocateBlockRequest,
    CommitFileRequest,
    CommittedBlock,
    CompletePart,
    CompleteUploadRequest,
    CreateUploadRequest,
    DeleteFileRequest,
    ListPartsRequest,
    ListUploadsRequest,
    MkdirRequest,
    PutPartRequest,
    RmdirRequest,
    StatRequest,
    UpdateFileRequest,
)
from plen.wire.types import BlockRef
from tests.store.test_contract import env, put_blocks, put_inline, refs  # noqa: F401

MiB = 1024 * 1024


@pytest.fixture
async def up(env):  # noqa: F811
    ns, store, clock, _ = env
    await ns.mkdir(MkdirRequest(path="/b"))
    yield ns, Uploads(store, ns.settings, clock), store, clock


async def new_blocks(ns, sizes: list[int]) -> list[CommittedBlock]:
    out = []
    for size in sizes:
        a = await ns.allocate_block(AllocateBlockRequest(size_bytes=size))
        out.append(CommittedBlock(block=BlockRef(block_id=a.block_id, size=size, crc32c=9),
                                  replicas=[r.server_id for r in a.pipeline]))
    return out


async def put_part(ns, uploads, upload_id, number, sizes, md5=None, path="/b/k"):
    blocks = await new_blocks(ns, sizes)
    md5 = md5 or hashlib.md5(f"{upload_id}{number}{sizes}".encode()).hexdigest()
    part = await uploads.put_part(PutPartRequest(
        path=path, upload_id=upload_id, part_number=number, size=sum(sizes), md5=md5,
        blocks=blocks, checksums={"x-amz-checksum-crc32": "AAAAAA=="}))
    return part.part, [b.block.block_id for b in blocks]


async def test_complete_upload_shares_part_blocks_and_etag_is_md5_of_md5s(up):
    ns, uploads, store, _ = up
    upload = (await uploads.create_upload(CreateUploadRequest(
        path="/b/dir/k", content_type="text/plain", meta={"x-amz-meta-a": "1"}))).upload
    p1, b1 = await put_part(ns, uploads, upload.upload_id, 1, [5 * MiB], path="/b/dir/k")
    p2, b2 = await put_part(ns, uploads, upload.upload_id, 2, [3], path="/b/dir/k")
    file = (await uploads.complete_upload(CompleteUploadRequest(
        path="/b/dir/k", upload_id=upload.upload_id,
        parts=[CompletePart(part_number=1, md5=f'"{p1.md5}"'),
               CompletePart(part_number=2, md5=p2.md5)]))).file
    expected = hashlib.md5(bytes.fromhex(p1.md5) + bytes.fromhex(p2.md5)).hexdigest() + "-2"
    assert file.md5 == expected and file.size == 5 * MiB + 3
    assert file.content_type == "text/plain" and file.meta == {"x-amz-meta-a": "1"}
    st = await ns.stat(StatRequest(path="/b/dir/k", with_blocks=True))
    assert [b.block_id for b in st.file.blocks] == b1 + b2
    assert [await refs(store, b) for b in b1 + b2] == [1, 1]  # the upload's refs went away
    with pytest.raises(WireError) as err:
        await uploads.list_parts(ListPartsRequest(path="/b/dir/k", upload_id=upload.upload_id))
    assert err.value.code is ErrorCode.NO_SUCH_UPLOAD


async def test_complete_upload_refuses_bad_parts_and_leaves_upload_intact(up):
    ns, uploads, store, _ = up
    upload = (await uploads.create_upload(CreateUploadRequest(path="/b/k"))).upload
    p1, _ = await put_part(ns, uploads, upload.upload_id, 1, [10])
    p2, _ = await put_part(ns, uploads, upload.upload_id, 2, [10])
    cases = [
        ([CompletePart(part_number=2, md5=p2.md5), CompletePart(part_number=1, md5=p1.md5)],
         ErrorCode.INVALID_PART_ORDER),
        ([CompletePart(part_number=1, md5="0" * 32)], ErrorCode.INVALID_PART),
        ([CompletePart(part_number=3, md5=p1.md5)], ErrorCode.INVALID_PART),
        ([CompletePart(part_number=1, md5=p1.md5), CompletePart(part_number=2, md5=p2.md5)],
         ErrorCode.ENTITY_TOO_SMALL),
    ]
    for parts, code in cases:
        with pytest.raises(WireError) as err:
            await uploads.complete_upload(CompleteUploadRequest(
                path="/b/k", upload_id=upload.upload_id, parts=parts))
        assert err.value.code is code
    listed = await uploads.list_parts(ListPartsRequest(path="/b/k", upload_id=upload.upload_id))
    assert [p.part_number for p in listed.parts] == [1, 2]
    assert (await ns.stat(StatRequest(path="/b/k"))).file is None


async def test_reuploaded_part_and_abort_release_every_block(up):
    ns, uploads, store, _ = up
    upload = (await uploads.create_upload(CreateUploadRequest(path="/b/k"))).upload
    _, first = await put_part(ns, uploads, upload.upload_id, 1, [10, 10])
    _, second = await put_part(ns, uploads, upload.upload_id, 1, [7])
    assert [await refs(store, b) for b in first] == [0, 0]
    assert await refs(store, second[0]) == 1
    await uploads.abort_upload(AbortUploadRequest(path="/b/k", upload_id=upload.upload_id))
    assert await refs(store, second[0]) == 0
    assert set(first + second) <= set(await store.gc_candidates())
    with pytest.raises(WireError) as err:
        await uploads.abort_upload(AbortUploadRequest(path="/b/k", upload_id=upload.upload_id))
    assert err.value.code is ErrorCode.NO_SUCH_UPLOAD


async def test_part_into_another_key_or_unknown_upload_is_no_such_upload(up):
    ns, uploads, *_ = up
    upload = (await uploads.create_upload(CreateUploadRequest(path="/b/k"))).upload
    for upload_id, path in ((upload.upload_id, "/b/other"), ("f" * 32, "/b/k"),
                            ("not-an-id", "/b/k")):
        with pytest.raises(WireError) as err:
            await put_part(ns, uploads, upload_id, 1, [1], path=path)
        assert err.value.code is ErrorCode.NO_SUCH_UPLOAD


async def test_list_uploads_orders_by_key_then_initiation_and_resumes(up):
    _, uploads, *_ = up
    made = []
    for key in ["b", "a", "b", "c/d", "a"]:
        made.append((key, (await uploads.create_upload(CreateUploadRequest(
            path=f"/b/{key}"))).upload.upload_id))
    want = sorted(made)  # ids are time-ordered, so this is initiation order within a key
    page = await uploads.list_uploads(ListUploadsRequest(bucket="b", limit=3))
    assert [(u.key, u.upload_id) for u in page.uploads] == want[:3] and page.truncated
    last = page.uploads[-1]
    rest = await uploads.list_uploads(ListUploadsRequest(
        bucket="b", key_marker=last.key, upload_id_marker=last.upload_id))
    assert [(u.key, u.upload_id) for u in rest.uploads] == want[3:] and not rest.truncated
    after_a = await uploads.list_uploads(ListUploadsRequest(bucket="b", key_marker="a"))
    assert [u.key for u in after_a.uploads] == ["b", "b", "c/d"]
    only_c = await uploads.list_uploads(ListUploadsRequest(bucket="b", prefix="c/"))
    assert [u.key for u in only_c.uploads] == ["c/d"]


async def test_removing_the_bucket_releases_its_uploads(up):
    ns, uploads, store, _ = up
    upload = (await uploads.create_upload(CreateUploadRequest(path="/b/k"))).upload
    _, blocks = await put_part(ns, uploads, upload.upload_id, 1, [10])
    await ns.rmdir(RmdirRequest(path="/b"))
    assert await refs(store, blocks[0]) == 0
    assert await store.get_upload(upload.upload_id) is None


async def test_upload_into_missing_bucket_is_not_found(up):
    _, uploads, *_ = up
    with pytest.raises(WireError) as err:
        await uploads.create_upload(CreateUploadRequest(path="/nobucket/k"))
    assert err.value.code is ErrorCode.NOT_FOUND


async def test_require_top_creates_prefixes_but_never_the_bucket(up):
    ns, *_ = up
    data = b"x"
    request = dict(size=1, md5=hashlib.md5(data).hexdigest(), inline_data="eA==", parents=True,
                   require_top=True)
    await ns.commit_file(CommitFileRequest(path="/b/deep/er/k", **request))
    assert (await ns.stat(StatRequest(path="/b/deep/er/k"))).file is not None
    with pytest.raises(WireError) as err:
        await ns.commit_file(CommitFileRequest(path="/missing/deep/k", **request))
    assert err.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(WireError) as err:
        await ns.mkdir(MkdirRequest(path="/missing/d", parents=True, require_top=True))
    assert err.value.code is ErrorCode.NOT_FOUND
    assert (await ns.stat(StatRequest(path="/missing/"))).dir is None


async def test_update_file_changes_meta_only(up):
    ns, _, store, clock = up
    bids = await put_blocks(ns, "/b/f", [10], meta={"keep": "1", "drop": "2"})
    before = (await ns.stat(StatRequest(path="/b/f"))).file
    clock.now += 100
    after = (await ns.update_file(UpdateFileRequest(
        path="/b/f", set_meta={"x-amz-tagging": "a=b"}, delete_meta=["drop"]))).file
    assert after.meta == {"keep": "1", "x-amz-tagging": "a=b"}
    assert (after.mtime, after.md5, after.size) == (before.mtime, before.md5, before.size)
    assert await refs(store, bids[0]) == 1
    with pytest.raises(WireError) as err:
        await ns.update_file(UpdateFileRequest(path="/b/f", set_meta={}, if_md5="0" * 32))
    assert err.value.code is ErrorCode.PRECONDITION_FAILED
    with pytest.raises(WireError) as err:
        await ns.update_file(UpdateFileRequest(path="/b/nope", set_meta={"a": "b"}))
    assert err.value.code is ErrorCode.NOT_FOUND


async def test_slices_keep_their_start_and_reference_the_block(up):
    ns, uploads, store, _ = up
    bids = await put_blocks(ns, "/b/src", [100])
    upload = (await uploads.create_upload(CreateUploadRequest(path="/b/k"))).upload
    slice_ = CommittedBlock(block=BlockRef(block_id=bids[0], size=30, crc32c=7, start=40),
                            replicas=[])
    part = (await uploads.put_part(PutPartRequest(
        path="/b/k", upload_id=upload.upload_id, part_number=1, size=30, md5="a" * 32,
        blocks=[slice_]))).part
    assert await refs(store, bids[0]) == 2
    await uploads.complete_upload(CompleteUploadRequest(
        path="/b/k", upload_id=upload.upload_id,
        parts=[CompletePart(part_number=1, md5=part.md5)]))
    st = await ns.stat(StatRequest(path="/b/k", with_blocks=True))
    assert [(b.block_id, b.offset, b.size, b.start) for b in st.file.blocks] == \
        [(bids[0], 0, 30, 40)]
    whole = await ns.stat(StatRequest(path="/b/src", with_blocks=True))
    assert whole.file.blocks[0].start is None
    assert await refs(store, bids[0]) == 2
    await put_inline(ns, "/b/src")  # overwriting the source leaves the slice's reference
    assert await refs(store, bids[0]) == 1


async def test_rmdir_unmark_keeps_a_non_empty_directory_as_implicit(up):
    ns, *_ = up
    await ns.mkdir(MkdirRequest(path="/b/d"))
    await put_inline(ns, "/b/d/f")
    await ns.rmdir(RmdirRequest(path="/b/d", unmark=True))
    st = await ns.stat(StatRequest(path="/b/d/"))
    assert st.dir is not None and not st.dir.marker
    await ns.delete_file(DeleteFileRequest(path="/b/d/f"))
    assert (await ns.stat(StatRequest(path="/b/d/"))).dir is None  # gone with its last file
    await ns.mkdir(MkdirRequest(path="/b/e"))
    await ns.rmdir(RmdirRequest(path="/b/e", unmark=True))  # empty: removed outright
    assert (await ns.stat(StatRequest(path="/b/e/"))).dir is None
