"""FileSystem: the client library's entry point, shared by the ``plen`` CLI and the gateway.

Rule 1 (bounded memory): a write holds the block being read plus at most
``max_blocks_in_flight`` (4) blocks being stored, about 5 x block size whatever the file
size (4 rather than 2 keeps the pipelines busier: about +10% on a 256 MiB PUT at RF 3 on
2 cores); a read holds the block being delivered plus at most 2 prefetched blocks.
Nothing ever holds a whole file.
Rule 2 (nothing visible until commit): blocks are allocated, written down their pipelines,
and only then made a file by one ``commit-file`` call; a failure before that leaves the old
version, and the orphaned allocations are collected by the nameserver.
Rule 3 (retry where it is safe): a block whose pipeline failed is written again on a fresh
allocation that excludes the servers that failed; a block read fails over between
replicas (``plen.client.blockstore``). Commit and other mutations are not repeated after an
indefinite error.
Paths are wire paths (``plen.wire.namespace``): absolute, never normalised here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from typing import Any, BinaryIO

import aiohttp

from plen.auth import Credentials
from plen.checksum import crc32c
from plen.client import http as http_mod
from plen.client.blockstore import BytesLike, put_block, read_range
from plen.client.nameserver import NameserverClient
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AllocateBlockResponse,
    ClusterInfoResponse,
    ClusterStatusResponse,
    CommitFileRequest,
    CommittedBlock,
    DirEntry,
    FileBlock,
    FileEntry,
    ListDirResponse,
    MkdirResponse,
    PartEntry,
    PutPartRequest,
    StatResponse,
    WalkItem,
    WalkResponse,
    sort_name,
)
from plen.wire.types import BlockRef, Replica, ServerId

log = logging.getLogger("plen.client.fs")

Source = AsyncIterable[BytesLike] | Iterable[BytesLike] | BinaryIO | BytesLike
Progress = Callable[[int], Any]
Finish = Callable[[str, int], "dict[str, str] | None"]

# Hash buffers at least this big in a worker thread, so the event loop keeps serving.
_THREAD_HASH_MIN_BYTES = 256 * 1024


class _SourceReader:
    """Reads a byte source in pieces of a requested size, whatever chunks it yields.

    A binary file object is read in a worker thread; an async iterator is consumed as is;
    a bytes-like value is served from memory. ``read_pieces`` hands the source's own
    chunks on (sliced, never joined): copying every byte once more into a fresh buffer costs
    about as much CPU as its SHA-256.
    """

    def __init__(self, source: Source) -> None:
        self._file: BinaryIO | None = None
        self._aiter: AsyncIterator[BytesLike] | None = None
        self._iter: Iterable[BytesLike] | None = None
        self._unread: list[memoryview] = []  # served before the source's next chunk
        self.eof = False
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._unread.append(memoryview(source).cast("B"))
            self._iter = iter(())
        elif hasattr(source, "read"):
            self._file = source  # type: ignore[assignment]
        elif hasattr(source, "__aiter__"):
            self._aiter = source.__aiter__()  # type: ignore[union-attr]
        elif hasattr(source, "__iter__"):
            self._iter = iter(source)  # type: ignore[arg-type]
        else:
            raise TypeError(f"cannot read bytes from {type(source).__name__}")

    def unread(self, data: BytesLike) -> None:
        """Put ``data`` back in front of what is still to be read."""
        if len(data):
            self._unread.insert(0, memoryview(data).cast("B"))
            self.eof = False

    async def _next_chunk(self, limit: int) -> BytesLike:
        """The source's next chunk (a file: up to ``limit`` bytes); empty at its end."""
        if self._file is not None:
            data = await asyncio.to_thread(self._file.read, limit)
            if data is None:
                data = b""
            if not isinstance(data, (bytes, bytearray)):
                raise TypeError("the source must be opened in binary mode")
            return data
        while True:
            try:
                if self._aiter is not None:
                    chunk = await self._aiter.__anext__()
                else:
                    chunk = next(self._iter)  # type: ignore[call-overload]
            except (StopAsyncIteration, StopIteration):
                return b""
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"the source yielded {type(chunk).__name__}, not bytes")
            if len(chunk):
                return chunk

    async def _piece(self, limit: int) -> BytesLike:
        """Up to ``limit`` bytes; empty at the end of the stream."""
        if self._unread:
            view = self._unread[0]
            if len(view) > limit:
                self._unread[0] = view[limit:]
                return view[:limit]
            return self._unread.pop(0)
        chunk = await self._next_chunk(limit)
        if len(chunk) > limit:
            view = memoryview(chunk).cast("B")
            self._unread.append(view[limit:])
            return view[:limit]
        return chunk

    async def read_pieces(self, n: int) -> list[BytesLike]:
        """Exactly ``n`` bytes as pieces, or fewer only at the end of the stream (then
        ``eof``)."""
        pieces: list[BytesLike] = []
        got = 0
        while got < n and not self.eof:
            piece = await self._piece(n - got)
            if not len(piece):
                self.eof = True
                break
            pieces.append(piece)
            got += len(piece)
        return pieces

    async def read(self, n: int) -> BytesLike:
        """``read_pieces`` as one value (a single piece is handed on without a copy)."""
        pieces = await self.read_pieces(n)
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)


class _StreamHash:
    """MD5 and CRC32C of the whole stream, updated block by block, in order."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5()
        self.crc32c = 0
        self.size = 0

    def _update(self, pieces: Sequence[BytesLike]) -> int:
        block_crc = 0
        for piece in pieces:
            self.md5.update(piece)
            block_crc = crc32c(piece, block_crc)
            self.crc32c = crc32c(piece, self.crc32c)
            self.size += len(piece)
        return block_crc

    async def update(self, pieces: Sequence[BytesLike]) -> int:
        """Feed the pieces of one block (or of an inline file); return their own CRC32C."""
        if sum(len(piece) for piece in pieces) >= _THREAD_HASH_MIN_BYTES:
            return await asyncio.to_thread(self._update, pieces)
        return self._update(pieces)

    async def update_after(self, previous: asyncio.Future[int] | None,
                           pieces: Sequence[BytesLike]) -> int:
        """``update`` once ``previous`` (the update before) is done, keeping the order."""
        if previous is not None:
            await asyncio.shield(previous)
        return await self.update(pieces)


def failed_servers(alloc: AllocateBlockResponse, err: WireError) -> list[ServerId]:
    """Which servers of ``alloc``'s pipeline to blame for ``err`` from ``put_block``."""
    if err.code is ErrorCode.PIPELINE_FAILED:
        missing = err.details.get("missing")
        if missing:
            return [ServerId(s) for s in missing]
        failed_url = str(err.details.get("failed_url") or "").rstrip("/")
        if failed_url:
            for i, url in enumerate(alloc.forward_urls):
                url = url.rstrip("/")
                if (failed_url == url or failed_url.startswith(url + "/")) \
                        and i + 1 < len(alloc.pipeline):
                    return [alloc.pipeline[i + 1].server_id]
            for replica in alloc.pipeline:
                url = replica.url.rstrip("/")
                if failed_url == url or failed_url.startswith(url + "/"):
                    return [replica.server_id]
        return []  # a hop we cannot name: a fresh allocation is still worth a try
    # The first hop refused, failed or could not be reached.
    return [alloc.pipeline[0].server_id] if alloc.pipeline else []


class _BlockFetch:
    """One block range being read ahead into memory (at most one block of bytes)."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self.chunks: asyncio.Queue[bytes | Exception | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for chunk in self._stream:
                self.chunks.put_nowait(chunk)
            self.chunks.put_nowait(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 (handed to the reader, raised in order)
            self.chunks.put_nowait(exc)
        finally:
            await self._stream.aclose()  # type: ignore[attr-defined]


class FileSystem:
    """A Plenilune cluster seen through its nameserver.

    ``async with FileSystem(url, credentials=...) as fs:`` owns one pooled HTTP session;
    pass ``http=`` to share a session owned elsewhere (it is then not closed here). Every
    nameserver call is signed with ``credentials`` (plen/auth.py) and may do what that user
    may (plen/access.py).
    """

    def __init__(self, nameserver_url: str, *, credentials: Credentials | None = None,
                 http: aiohttp.ClientSession | None = None,
                 max_blocks_in_flight: int = 4, put_retries: int = 4,
                 prefetch_blocks: int = 2) -> None:
        self.nameserver_url = nameserver_url.rstrip("/")
        self.credentials = credentials
        self._http = http
        self._owns_http = http is None
        self._ns: NameserverClient | None = None
        self._info: ClusterInfoResponse | None = None
        self.max_blocks_in_flight = max(1, max_blocks_in_flight)
        self.put_retries = put_retries
        self.prefetch_blocks = max(1, prefetch_blocks)

    async def __aenter__(self) -> FileSystem:  # noqa: PYI034 (no subclassing intended)
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._http is None:
            self._http = http_mod.session()
        self._ns = NameserverClient(self.nameserver_url, self._http,
                                    credentials=self.credentials)

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None
        self._ns = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("FileSystem is not open: use 'async with FileSystem(url)'")
        return self._http

    @property
    def nameserver(self) -> NameserverClient:
        if self._ns is None:
            raise RuntimeError("FileSystem is not open: use 'async with FileSystem(url)'")
        return self._ns

    # -- metadata ------------------------------------------------------------------------

    async def info(self) -> ClusterInfoResponse:
        """Block size, inline limit and replication factor (asked once, then cached)."""
        if self._info is None:
            self._info = await self.nameserver.cluster_info()
        return self._info

    async def stat(self, path: str, *, with_blocks: bool = False, offset: int = 0,
                   length: int | None = None) -> StatResponse:
        """The file and/or the directory named ``path``; both ``None`` when missing. With
        blocks: only those overlapping ``[offset, offset + length)`` (for a ranged read)."""
        return await self.nameserver.stat(path, with_blocks=with_blocks, offset=offset,
                                          length=length)

    async def stat_file(self, path: str, *, with_blocks: bool = False) -> FileEntry:
        """The file at ``path``; NOT_FOUND, or IS_A_DIRECTORY when only a directory is."""
        st = await self.stat(path, with_blocks=with_blocks)
        if st.file is not None:
            return st.file
        if st.dir is not None:
            raise WireError(ErrorCode.IS_A_DIRECTORY, f"{path} is a directory", path=path)
        raise WireError(ErrorCode.NOT_FOUND, f"no such file: {path}", path=path)

    async def list_dir(self, path: str, *, prefix: str = "", start_after: str | None = None,
                       limit: int = 1000) -> ListDirResponse:
        return await self.nameserver.list_dir(path, prefix=prefix, start_after=start_after,
                                              limit=limit)

    async def iter_dir(self, path: str, *, prefix: str = "", start_after: str | None = None,
                       page_size: int = 1000) -> AsyncIterator[FileEntry | DirEntry]:
        """Every child of ``path`` in listing order, one page at a time."""
        while True:
            page = await self.list_dir(path, prefix=prefix, start_after=start_after,
                                       limit=page_size)
            for entry in page.entries:
                yield entry
            if not page.truncated or not page.entries:
                return
            start_after = sort_name(page.entries[-1])

    async def walk(self, path: str, *, prefix: str = "", start_after: str | None = None,
                   limit: int = 1000) -> WalkResponse:
        return await self.nameserver.walk(path, prefix=prefix, start_after=start_after,
                                          limit=limit)

    async def iter_walk(self, path: str, *, prefix: str = "", start_after: str | None = None,
                        page_size: int = 1000) -> AsyncIterator[WalkItem]:
        """Every key below ``path`` in UTF-8 byte order, one page at a time."""
        while True:
            page = await self.walk(path, prefix=prefix, start_after=start_after,
                                   limit=page_size)
            for item in page.items:
                yield item
            if not page.truncated or not page.items:
                return
            start_after = page.items[-1].key

    async def mkdir(self, path: str, *, parents: bool = False, exist_ok: bool = False,
                    mark_parents: bool = True, require_top: bool = False,
                    owner: str | None = None, acl: str | None = None) -> MkdirResponse:
        """``mark_parents=False`` creates missing parents as implicit directories (S3
        prefixes, which vanish with their last key) instead of explicit ones (mkdir -p);
        ``require_top`` never creates the top-level directory (the bucket). ``owner`` and
        ``acl``: of a new bucket (``owner`` is for root, naming another user)."""
        return await self.nameserver.mkdir(path, parents=parents, exist_ok=exist_ok,
                                           mark_parents=mark_parents, require_top=require_top,
                                           owner=owner, acl=acl)

    async def rmdir(self, path: str, *, recursive: bool = False, unmark: bool = False) -> None:
        """``unmark``: a directory that is not empty only loses its marker (S3 deleting the
        object ``dir/``); it then vanishes with its last child, as an S3 prefix does."""
        await self.nameserver.rmdir(path, recursive=recursive, unmark=unmark)

    async def delete_file(self, path: str, *, if_md5: str | None = None) -> None:
        await self.nameserver.delete_file(path, if_md5=if_md5)

    async def rename(self, src: str, dst: str, *, kind: str = "file", overwrite: bool = True,
                     parents: bool = False) -> None:
        await self.nameserver.rename(src, dst, kind=kind, overwrite=overwrite, parents=parents)

    async def copy_file(self, src: str, dst: str, *, parents: bool = False,
                        content_type: str | None = None, meta: dict[str, str] | None = None,
                        require_top: bool = False) -> FileEntry:
        resp = await self.nameserver.copy_file(src, dst, parents=parents,
                                               content_type=content_type, meta=meta,
                                               require_top=require_top)
        return resp.file

    async def cluster_status(self) -> ClusterStatusResponse:
        return await self.nameserver.cluster_status()

    async def init(self, *, confirm: bool) -> None:
        """Wipe the whole file system. ``confirm`` must be True."""
        await self.nameserver.init(confirm=confirm)

    # -- write ---------------------------------------------------------------------------

    async def write_file(self, path: str, source: Source, *, parents: bool = False,
                         require_top: bool = False, content_type: str | None = None, meta: dict[str, str] | None = None,
                         if_absent: bool = False, if_md5: str | None = None,
                         progress: Progress | None = None,
                         finish: Finish | None = None) -> FileEntry:
        """Store ``source`` as the file ``path`` and make it visible in one commit.

        ``source``: an async iterator of bytes, a binary file object (read in a thread), an
        iterable of bytes, or a bytes-like value. ``progress(n)`` is called with the number
        of bytes each time a block (or the inline file) is stored. ``finish(md5_hex, size)``
        is called once every byte is stored, before the commit: it returns metadata to add
        (e.g. checksums computed while streaming) or raises to abandon the write, which then
        leaves the previous version in place.
        """
        info = await self.info()
        reader = _SourceReader(source)
        hasher = _StreamHash()
        head = await reader.read(info.inline_max_bytes + 1)
        if reader.eof and len(head) <= info.inline_max_bytes:
            await hasher.update([head])
            request = CommitFileRequest(
                path=path, size=len(head), md5=hasher.md5.hexdigest(),
                inline_data=base64.b64encode(head).decode("ascii"), crc32c=hasher.crc32c,
                content_type=content_type, meta=_finished(meta, finish, hasher),
                parents=parents, require_top=require_top, if_absent=if_absent, if_md5=if_md5)
            entry = (await self.nameserver.commit_file(request)).file
            if progress is not None:
                progress(len(head))
            return entry

        reader.unread(head)
        blocks = await self._store_blocks(reader, info.block_size_bytes, hasher, progress)
        request = CommitFileRequest(
            path=path, size=hasher.size, md5=hasher.md5.hexdigest(), blocks=blocks,
            crc32c=hasher.crc32c, content_type=content_type,
            meta=_finished(meta, finish, hasher), parents=parents, require_top=require_top,
            if_absent=if_absent, if_md5=if_md5)
        return (await self.nameserver.commit_file(request)).file

    # -- multipart uploads -----------------------------------------------------------------

    async def write_part(self, path: str, upload_id: str, part_number: int, source: Source, *,
                         finish: Finish | None = None) -> PartEntry:
        """Store ``source`` as part ``part_number`` of an upload (always as blocks, never
        inline, so completion can share them); ``finish`` as for ``write_file``, its
        metadata becoming the part's checksums."""
        info = await self.info()
        reader = _SourceReader(source)
        hasher = _StreamHash()
        blocks = await self._store_blocks(reader, info.block_size_bytes, hasher, None)
        req = PutPartRequest(path=path, upload_id=upload_id, part_number=part_number,
                             size=hasher.size, md5=hasher.md5.hexdigest(), blocks=blocks,
                             checksums=_finished(None, finish, hasher))
        return (await self.nameserver.put_part(req)).part

    async def copy_part(self, path: str, upload_id: str, part_number: int, src_path: str,
                        start: int = 0, end: int | None = None) -> PartEntry:
        """Make bytes ``[start, end)`` of the file ``src_path`` a part, sharing its blocks
        (whole ones where the range covers them, slices elsewhere): no block is copied.

        The part's ETag is the source's MD5 when the whole of a single-part file is taken;
        for any other range it is an MD5 naming the source version and the range, since
        its content MD5 is not known without reading the bytes.
        """
        src = await self.stat_file(src_path, with_blocks=True)
        end = src.size if end is None else end
        if not 0 <= start <= end <= src.size:
            raise WireError(ErrorCode.INVALID, f"range [{start}, {end}) outside {src.size} bytes")
        if start == 0 and end == src.size and "-" not in src.md5:
            md5 = src.md5
        else:
            md5 = hashlib.md5(f"{src.md5}:{start}-{end}".encode()).hexdigest()
        if src.inline:  # a few KiB at most: these bytes do get stored again, as a block
            data = base64.b64decode(src.inline_data or "")[start:end]
            blocks = [await self._store_block(0, [data], len(data), crc32c(data))] if data else []
        else:
            blocks = [CommittedBlock(block=_slice(b, s, e), replicas=[])
                      for b, s, e in _plan_range(src, start, end)] if end > start else []
        req = PutPartRequest(path=path, upload_id=upload_id, part_number=part_number,
                             size=end - start, md5=md5, blocks=blocks)
        return (await self.nameserver.put_part(req)).part
    async def _store_blocks(self, reader: _SourceReader, block_size: int,
                            hasher: _StreamHash,
                            progress: Progress | None) -> list[CommittedBlock]:
        """Cut the stream into blocks and store them, at most N at a time, in order."""
        results: list[CommittedBlock | None] = []
        in_flight: set[asyncio.Task[None]] = set()

        async def store(index: int, pieces: list[BytesLike], size: int,
                        hashed: asyncio.Future[int]) -> None:
            crc = await hashed
            results[index] = await self._store_block(index, pieces, size, crc)
            if progress is not None:
                progress(size)

        # Hashing runs in order, one block after the other, but beside the reading of the
        # next block and the storing of the previous ones: the stream's MD5 costs more
        # CPU than anything else here and should not hold the pipeline up.
        hashed: asyncio.Future[int] | None = None
        try:
            while not reader.eof:
                pieces = await reader.read_pieces(block_size)
                size = sum(len(piece) for piece in pieces)
                if not size:
                    break
                hashed = asyncio.ensure_future(hasher.update_after(hashed, pieces))
                while len(in_flight) >= self.max_blocks_in_flight:
                    done, in_flight = await asyncio.wait(in_flight,
                                                         return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()  # the first failure ends the write
                results.append(None)
                in_flight.add(asyncio.create_task(
                    store(len(results) - 1, pieces, size, hashed)))
                del pieces
            if in_flight:
                done, _ = await asyncio.wait(in_flight)
                in_flight = set()
                for task in done:
                    task.result()
        except BaseException:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            if hashed is not None:
                await asyncio.gather(hashed, return_exceptions=True)
            raise
        assert all(block is not None for block in results)
        return results  # type: ignore[return-value]

    async def _store_block(self, index: int, pieces: list[BytesLike], size: int,
                           crc: int) -> CommittedBlock:
        """Allocate and write one block; retry on fresh servers when a pipeline fails."""
        exclude: list[ServerId] = []
        last_err: WireError | None = None
        for attempt in range(1 + self.put_retries):
            try:
                alloc = await self.nameserver.allocate_block(size, exclude=exclude)
            except WireError as err:
                if not err.definite:  # the allocation may be lost; an orphan is collected
                    last_err = err
                    continue
                if last_err is not None:
                    raise WireError(err.code, f"{err.message} (block {index} failed on "
                                    f"{exclude or 'its pipeline'}: {last_err.message})",
                                    **err.details) from last_err
                raise
            try:
                stored_on = await put_block(self.http, alloc, pieces, crc)
            except WireError as err:
                last_err = err
                blamed = failed_servers(alloc, err)
                exclude.extend(s for s in blamed if s not in exclude)
                log.warning("block %d (%s) attempt %d failed: %s; excluding %s", index,
                            alloc.block_id, attempt + 1, err.message, blamed)
                continue
            return CommittedBlock(block=BlockRef(block_id=alloc.block_id, size=size,
                                                 crc32c=crc),
                                  replicas=stored_on)
        assert last_err is not None
        raise WireError(last_err.code, f"could not store block {index} after "
                        f"{1 + self.put_retries} attempts: {last_err.message}",
                        **last_err.details) from last_err

    # -- read ----------------------------------------------------------------------------

    async def read_file(self, path_or_entry: str | FileEntry, offset: int = 0,
                        length: int | None = None, *,
                        path: str | None = None) -> AsyncIterator[bytes]:
        """Bytes ``[offset, offset + length)`` of a file, streamed.

        Pass a path, or a ``FileEntry`` from ``stat(..., with_blocks=True)`` to skip a
        second stat (then ``path=`` lets an expired read token be refreshed). Only the
        blocks overlapping the range are read; the next blocks are fetched ahead through a
        bounded queue. Use ``contextlib.aclosing`` when you may stop early.
        """
        if offset < 0 or (length is not None and length < 0):
            raise WireError(ErrorCode.INVALID, f"bad range: offset {offset}, length {length}")
        if isinstance(path_or_entry, FileEntry):
            entry = path_or_entry
            if not _has_data(entry):  # e.g. from a listing: where its bytes are is unknown
                if path is None:
                    raise WireError(ErrorCode.INVALID,
                                    f"file {entry.name!r} carries neither inline data nor "
                                    "blocks: stat it with with_blocks=True, or pass path=")
                entry = await self.stat_file(path, with_blocks=True)
        else:
            path = path_or_entry
            entry = await self.stat_file(path, with_blocks=True)
        end = entry.size if length is None else min(entry.size, offset + length)
        if offset >= end:
            return
        if entry.inline:
            data = base64.b64decode(entry.inline_data or "")
            if len(data) != entry.size:
                raise WireError(ErrorCode.INTERNAL, f"file {entry.name!r}: inline data of "
                                f"{len(data)} bytes for a size of {entry.size}")
            yield data[offset:end]
            return
        plans = _plan_range(entry, offset, end)
        async with contextlib.aclosing(self._read_blocks(plans, path)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def read_bytes(self, path_or_entry: str | FileEntry, offset: int = 0,
                         length: int | None = None, *, path: str | None = None) -> bytes:
        """A whole (small) file or range in memory; for big files use ``read_file``."""
        out = bytearray()
        gen = self.read_file(path_or_entry, offset, length, path=path)
        try:
            async for chunk in gen:
                out += chunk
        finally:
            await gen.aclose()  # type: ignore[attr-defined]
        return bytes(out)

    async def _read_blocks(self, plans: list[tuple[FileBlock, int, int]],
                           path: str | None) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[_BlockFetch | None] = asyncio.Queue(maxsize=self.prefetch_blocks)
        fetches: list[_BlockFetch] = []

        async def produce() -> None:
            for block, start, end in plans:
                fetch = _BlockFetch(self._stream_block(block, start, end, path))
                fetches.append(fetch)
                await queue.put(fetch)
                fetch.start()  # only once queued: at most 1 + maxsize blocks in memory
            await queue.put(None)

        producer = asyncio.create_task(produce())
        try:
            while True:
                fetch = await queue.get()
                if fetch is None:
                    break
                while True:
                    item = await fetch.chunks.get()
                    if item is None:
                        break
                    if isinstance(item, Exception):
                        raise item
                    yield item
                fetches.remove(fetch)
        finally:
            producer.cancel()
            tasks = [f.task for f in fetches if f.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(producer, *tasks, return_exceptions=True)

    async def _stream_block(self, block: FileBlock, start: int, end: int,
                            path: str | None) -> AsyncIterator[bytes]:
        """``read_range`` with one refresh of the block's token when it was refused."""
        pos = start
        refreshed = False
        while True:
            stream = read_range(self.http, block, pos, end, on_bad_replica=self._report_bad)
            try:
                async for chunk in stream:
                    pos += len(chunk)
                    yield chunk
                return
            except WireError as err:
                if (err.code not in (ErrorCode.FORBIDDEN, ErrorCode.UNAUTHORIZED)
                        or refreshed or path is None):
                    raise
                refreshed = True
                fresh = await self._fresh_block(path, block)
                if fresh is None:
                    raise
                block = fresh
            finally:
                await stream.aclose()  # type: ignore[attr-defined]

    async def _fresh_block(self, path: str, block: FileBlock) -> FileBlock | None:
        """The same block with a new read token, if the file still holds it."""
        st = await self.stat(path, with_blocks=True)
        if st.file is None:
            return None
        for candidate in st.file.blocks:
            if candidate.block_id == block.block_id and candidate.offset == block.offset:
                return candidate
        return None

    async def _report_bad(self, block: FileBlock, replica: Replica, err: WireError) -> None:
        try:
            await self.nameserver.report_bad_replica(block.block_id, replica.server_id,
                                                     err.message)
        except WireError as report_err:
            log.warning("could not report bad replica %s of block %s: %s",
                        replica.server_id, block.block_id, report_err.message)


def _finished(meta: dict[str, str] | None, finish: Finish | None,
              hasher: _StreamHash) -> dict[str, str]:
    out = dict(meta or {})
    if finish is not None:
        out.update(finish(hasher.md5.hexdigest(), hasher.size) or {})
    return out


def _slice(block: FileBlock, start: int, end: int) -> BlockRef:
    """Bytes ``[start, end)`` of a file's block as a reference for another file."""
    if start == 0 and end == block.size and block.start is None:
        return BlockRef(block_id=block.block_id, size=block.size, crc32c=block.crc32c)
    return BlockRef(block_id=block.block_id, size=end - start, crc32c=block.crc32c,
                    start=(block.start or 0) + start)


def _has_data(entry: FileEntry) -> bool:
    if entry.size == 0:
        return True
    if entry.inline:
        return entry.inline_data is not None
    return bool(entry.blocks)


def _plan_range(entry: FileEntry, offset: int, end: int) -> list[tuple[FileBlock, int, int]]:
    """For each block overlapping ``[offset, end)``: the block and the range inside it."""
    plans: list[tuple[FileBlock, int, int]] = []
    covered = offset
    for block in sorted(entry.blocks, key=lambda b: b.offset):
        block_end = block.offset + block.size
        if block_end <= offset or block.offset >= end:
            continue
        if block.offset > covered:
            break
        start_in = max(offset, block.offset) - block.offset
        end_in = min(end, block_end) - block.offset
        plans.append((block, start_in, end_in))
        covered = block.offset + end_in
    if covered < end:
        raise WireError(ErrorCode.INTERNAL,
                        f"file {entry.name!r}: its block list covers bytes up to {covered}, "
                        f"not {end}; was it stat'ed with with_blocks=True?")
    return plans
