"""Namespace operations: wire requests in, wire responses out, over the store.

Rule 1: paths are split, never normalised (``plen.paths``); ``/`` separates components and
a trailing ``/`` names a directory.
Rule 2: a file entry is JSON built here and kept verbatim by the store:
``{"k":"f","size","mtime","md5","crc","ct","meta","inline"?,"blocks":[[id,size,crc],...]}``;
a block shared as a slice (a ranged part copy) is ``[id, size, crc, start]``.
Rule 3: listings are pages of sorted-set ranges, O(page) whatever the directory's size.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, AsyncIterator, Callable

from nameserver.membership import Membership
from nameserver.placement import Candidate, choose_pipeline
from nameserver.settings import Settings
from nameserver.store.base import Guard, NewBlock, ServerRecord
from nameserver.store.redis_store import (
    ALL_PARENTS,
    NO_PARENTS,
    PARENTS_BELOW_TOP,
    RedisStore,
)
from plen import tokens
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AllocateBlockRequest,
    AllocateBlockResponse,
    ClusterInfoResponse,
    CommitFileRequest,
    CommittedBlock,
    CopyFileRequest,
    DeleteFileRequest,
    DirEntry,
    EmptyResponse,
    FileBlock,
    FileEntry,
    FileResponse,
    InitRequest,
    ListDirRequest,
    ListDirResponse,
    MkdirRequest,
    MkdirResponse,
    RenameRequest,
    ReportBadReplicaRequest,
    RmdirRequest,
    StatRequest,
    StatResponse,
    UpdateFileRequest,
    WalkItem,
    WalkRequest,
    WalkResponse,
)
from plen.wire.types import (
    BlockId,
    BlockRef,
    Replica,
    ServerId,
    is_block_id,
    is_server_id,
    new_block_id,
)

MAX_PATH_BYTES = 4096
MAX_PAGE = 1000
UPDATE_ATTEMPTS = 8
TOP = b"\xff"  # above every UTF-8 byte, so prefix + TOP bounds a prefix range


def split_path(path: str) -> tuple[list[str], bool]:
    """(components, names a directory). ``/`` is the root directory."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise WireError(ErrorCode.INVALID, f"path must start with '/': {path!r}")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise WireError(ErrorCode.INVALID, "path is not valid UTF-8")
    if size > MAX_PATH_BYTES:
        raise WireError(ErrorCode.INVALID, f"path longer than {MAX_PATH_BYTES} bytes")
    if path == "/":
        return [], True
    comps = path[1:].split("/")
    if comps[-1] == "":
        return comps[:-1], True
    return comps, False


def file_path(path: str) -> list[str]:
    comps, is_dir = split_path(path)
    if is_dir:
        raise WireError(ErrorCode.IS_A_DIRECTORY, f"{path} names a directory, not a file")
    return comps


def dir_path(path: str, *, allow_root: bool = True) -> list[str]:
    comps, _ = split_path(path if path.endswith("/") else path + "/")
    if not comps and not allow_root:
        raise WireError(ErrorCode.INVALID, "not allowed on the root directory")
    return comps


def file_entry(name: str, raw: str, *, inline_data: bool = False,
               blocks: list[FileBlock] | None = None) -> FileEntry:
    e = json.loads(raw)
    return FileEntry(name=name, size=e["size"], mtime=e["mtime"], md5=e["md5"],
                     crc32c=e.get("crc"), content_type=e.get("ct"), meta=e.get("meta") or {},
                     inline="inline" in e,
                     inline_data=e.get("inline") if inline_data else None,
                     blocks=blocks or [], block_count=len(e.get("blocks", [])))


def entry_json(value: Any) -> str:
    """The compact JSON kept in Redis for entries, parts and uploads."""
    return json.dumps(value, separators=(",", ":"))


def check_blocks(blocks: list[CommittedBlock], size: int) -> None:
    """Blocks a writer commits must add up to the size and carry well-formed ids."""
    total = sum(b.block.size for b in blocks)
    if total != size:
        raise WireError(ErrorCode.INVALID, f"blocks hold {total} bytes, not {size}")
    for b in blocks:
        if not is_block_id(b.block.block_id) or not all(map(is_server_id, b.replicas)):
            raise WireError(ErrorCode.INVALID, "malformed block or server id")


def parents_mode(parents: bool, require_top: bool) -> int:
    if not parents:
        return NO_PARENTS
    return PARENTS_BELOW_TOP if require_top else ALL_PARENTS


def block_json(block: BlockRef) -> list[Any]:
    """A block reference as entries store it: ``[id, size, crc]``, plus ``start`` for a slice."""
    out: list[Any] = [block.block_id, block.size, block.crc32c]
    if block.start is not None:
        out.append(block.start)
    return out


def dir_entry(name: str, raw: str) -> DirEntry:
    e = json.loads(raw)
    return DirEntry(name=name, mtime=float(e.get("t", 0)), marker=bool(e.get("m")))


def member_entry(member: bytes, raw: str) -> FileEntry | DirEntry:
    name = member.decode("utf-8")
    if name.endswith("/"):
        return dir_entry(name[:-1], raw)
    return file_entry(name, raw)


class Namespace:
    def __init__(self, store: RedisStore, settings: Settings, membership: Membership,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.store = store
        self.settings = settings
        self.membership = membership
        self.clock = clock
        self.rng = rng or random.Random()

    def cluster_info(self) -> ClusterInfoResponse:
        return ClusterInfoResponse(block_size_bytes=self.settings.block_size_bytes,
                                   inline_max_bytes=self.settings.inline_max_bytes,
                                   replication_factor=self.settings.replication_factor)

    # -- reads ----------------------------------------------------------------------------

    async def stat(self, req: StatRequest) -> StatResponse:
        comps, is_dir = split_path(req.path)
        file_raw, dir_raw = await self.store.get_entries(comps)
        name = comps[-1] if comps else ""
        file = None
        if file_raw is not None and not is_dir:
            blocks = (await self._file_blocks(file_raw, req.offset, req.length)
                      if req.with_blocks else None)
            file = file_entry(name, file_raw, inline_data=req.with_blocks, blocks=blocks)
        return StatResponse(file=file, dir=dir_entry(name, dir_raw) if dir_raw else None)

    async def _file_blocks(self, raw: str, start: int = 0,
                           length: int | None = None) -> list[FileBlock]:
        """The blocks overlapping bytes ``[start, start + length)`` with live replicas and
        read tokens."""
        end = None if length is None else start + length
        wanted, offset = [], 0
        for ref in json.loads(raw).get("blocks", []):
            if offset + ref[1] > start and (end is None or offset < end):
                wanted.append((offset, ref))
            offset += ref[1]
        servers = {s.server_id: s for s in await self.membership.servers()}
        replica_sets = await self.store.replicas_of([ref[0] for _, ref in wanted])
        out = []
        for (offset, (bid, size, crc, *rest)), holders in zip(wanted, replica_sets):
            live = [servers[h] for h in holders if h in servers and servers[h].state != "dead"]
            self.rng.shuffle(live)
            token = tokens.sign(self.settings.cluster_secret, bid, "r",
                                self.settings.read_token_ttl_s, now=self.clock())
            out.append(FileBlock(
                block_id=BlockId(bid), offset=offset, size=size, crc32c=crc, token=token,
                start=rest[0] if rest else None,
                replicas=[Replica(server_id=ServerId(s.server_id), url=s.public_url)
                          for s in live]))
        return out

    async def list_dir(self, req: ListDirRequest) -> ListDirResponse:
        comps = dir_path(req.path)
        limit = max(1, min(req.limit, MAX_PAGE))
        lo, hi = _range(req.prefix, req.start_after)
        if lo is None:
            return ListDirResponse(entries=[], truncated=False)
        rows = await self.store.list_members(comps, lo, hi, limit + 1)
        entries = [member_entry(m, v) for m, v in rows[:limit]]
        return ListDirResponse(entries=entries, truncated=len(rows) > limit)

    async def walk(self, req: WalkRequest) -> WalkResponse:
        """Keys below a directory in byte order, resuming after ``start_after``.

        The prefix's complete directory part is resolved once; the walk then descends by
        directory id. Resuming descends along the start key's own path, so a page costs
        O(depth + limit) however many keys lie before it.
        """
        comps = dir_path(req.path)
        limit = max(1, min(req.limit, MAX_PAGE))
        head, _, partial = req.prefix.rpartition("/")
        base = f"{head}/" if req.prefix.count("/") else ""
        after = req.start_after
        if after is not None and after < req.prefix:
            after = None
        if after is not None and not after.startswith(req.prefix):
            return WalkResponse(items=[], truncated=False)
        start = await self.store.dir_id(comps + (head.split("/") if base else []))
        if start is None:
            if not await self.store.dir_id(comps) and comps:
                raise WireError(ErrorCode.NOT_FOUND, f"no such directory: {req.path}")
            return WalkResponse(items=[], truncated=False)
        items: list[WalkItem] = []
        rel_after = after[len(base):] if after is not None else None
        async for key, entry in self._walk_dir(start, base, partial, rel_after):
            if len(items) == limit:
                return WalkResponse(items=items, truncated=True)
            items.append(WalkItem(key=key, entry=entry))
        return WalkResponse(items=items, truncated=False)

    async def _walk_dir(self, dir_id: str, base: str, partial: str,
                        after: str | None) -> AsyncIterator[tuple[str, FileEntry | DirEntry]]:
        """Yield (key, entry) below ``dir_id`` whose name starts with ``partial`` and whose key
        (relative to this directory) sorts after ``after``."""
        resume_in: str | None = None
        lo: bytes
        if after is None:
            lo = b"[" + partial.encode()
        else:
            first, sep, rest = after.partition("/")
            if sep:
                resume_in = first
                lo = b"[" + first.encode() + b"/"
            else:
                lo = b"(" + first.encode()
        hi = b"[" + partial.encode() + TOP if partial else b"+"
        while True:
            rows = await self.store.members_of(dir_id, lo, hi, 256)
            if not rows:
                return
            for member, raw in rows:
                name = member.decode("utf-8")
                if name.endswith("/"):
                    entry = dir_entry(name[:-1], raw)
                    child_after = None
                    if resume_in is not None and name == resume_in + "/":
                        child_after = after.partition("/")[2] if after else None
                    elif entry.marker:
                        yield base + name, entry
                    if child_after == "":
                        child_after = None  # resuming right after this directory's marker
                    async for item in self._walk_dir(json.loads(raw)["id"], base + name, "",
                                                     child_after):
                        yield item
                else:
                    yield base + name, file_entry(name, raw)
            lo = b"(" + rows[-1][0]
            resume_in = None

    # -- mutations ------------------------------------------------------------------------

    async def mkdir(self, req: MkdirRequest) -> MkdirResponse:
        comps = dir_path(req.path, allow_root=False)
        raw, created = await self.store.mkdir(comps, now=self.clock(),
                                              parents=parents_mode(req.parents, req.require_top),
                                              exist_ok=req.exist_ok,
                                              mark_parents=req.mark_parents)
        return MkdirResponse(dir=dir_entry(comps[-1], raw), created=created)

    async def rmdir(self, req: RmdirRequest) -> EmptyResponse:
        await self.store.rmdir(dir_path(req.path, allow_root=False), recursive=req.recursive,
                               unmark=req.unmark)
        return EmptyResponse()

    async def delete_file(self, req: DeleteFileRequest) -> EmptyResponse:
        await self.store.delete_file(file_path(req.path), if_md5=req.if_md5)
        return EmptyResponse()

    async def rename(self, req: RenameRequest) -> EmptyResponse:
        if req.kind == "dir":
            src, dst = dir_path(req.src, allow_root=False), dir_path(req.dst, allow_root=False)
        else:
            src, dst = file_path(req.src), file_path(req.dst)
        await self.store.rename(src, dst, kind=req.kind, overwrite=req.overwrite,
                                parents=req.parents, now=self.clock())
        return EmptyResponse()

    async def copy_file(self, req: CopyFileRequest) -> FileResponse:
        src, dst = file_path(req.src), file_path(req.dst)
        raw, _ = await self.store.get_entries(src)
        if raw is None:
            raise WireError(ErrorCode.NOT_FOUND, f"no such file: {req.src}")
        e = json.loads(raw)
        e["mtime"] = self.clock()
        if req.content_type is not None:
            e["ct"] = req.content_type
        if req.meta is not None:
            e["meta"] = req.meta
        new_raw = entry_json(e)
        blocks = [NewBlock(block_id=b[0], replicas=[]) for b in e.get("blocks", [])]
        await self.store.commit_file(dst, new_raw, blocks, now=self.clock(),
                                     parents=parents_mode(req.parents, req.require_top),
                                     if_absent=False, if_md5=None,
                                     want_rf=self.settings.replication_factor,
                                     guard=Guard(path=src, entry_json=raw))
        return FileResponse(file=file_entry(dst[-1], new_raw))

    async def update_file(self, req: UpdateFileRequest) -> FileResponse:
        comps = file_path(req.path)
        for _ in range(UPDATE_ATTEMPTS):
            raw, _ = await self.store.get_entries(comps)
            if raw is None:
                raise WireError(ErrorCode.NOT_FOUND, f"no such file: {req.path}")
            e = json.loads(raw)
            if req.if_md5 is not None and e["md5"] != req.if_md5:
                raise WireError(ErrorCode.PRECONDITION_FAILED,
                                "the file does not have the expected checksum")
            meta = {k: v for k, v in (e.get("meta") or {}).items() if k not in req.delete_meta}
            e["meta"] = {**meta, **req.set_meta}
            new_raw = entry_json(e)
            try:
                await self.store.replace_entry(comps, raw, new_raw)
            except WireError as err:
                if err.code is ErrorCode.CONFLICT:
                    continue  # a writer got in between: read it again
                raise
            return FileResponse(file=file_entry(comps[-1], new_raw))
        raise WireError(ErrorCode.CONFLICT, f"{req.path} kept changing; try again")

    async def allocate_block(self, req: AllocateBlockRequest) -> AllocateBlockResponse:
        if not 0 <= req.size_bytes <= self.settings.block_size_bytes:
            raise WireError(ErrorCode.INVALID, "block size out of range")
        servers = await self.membership.servers()
        live = [s for s in servers if s.state == "live"]
        if not live:
            raise WireError(ErrorCode.NO_LIVE_SERVERS, "no live blockstores")
        candidates = [Candidate(s.server_id, s.zone, max(s.capacity_bytes - s.used_bytes, 0))
                      for s in live]
        picked = choose_pipeline(candidates, self.settings.replication_factor, req.size_bytes,
                                 self.rng, exclude=frozenset(req.exclude))
        if not picked:
            if all(c.server_id in req.exclude for c in candidates):
                raise WireError(ErrorCode.NO_LIVE_SERVERS, "no live blockstore left to try")
            raise WireError(ErrorCode.NO_SPACE, "no blockstore has room for the block")
        by_id = {s.server_id: s for s in live}
        chosen: list[ServerRecord] = [by_id[c.server_id] for c in picked]
        block_id = new_block_id()
        expires_at = self.clock() + self.settings.allocation_ttl_s
        await self.store.allocate(block_id, req.size_bytes, [s.server_id for s in chosen],
                                  expires_at)
        forward_urls = [s.private_url for s in chosen[1:]]
        token = tokens.sign(self.settings.cluster_secret, block_id, "w",
                            self.settings.allocation_ttl_s, now=self.clock(),
                            scope=tokens.write_scope(req.size_bytes, forward_urls))
        return AllocateBlockResponse(
            block_id=block_id, token=token, expires_at=expires_at,
            pipeline=[Replica(server_id=ServerId(s.server_id), url=s.public_url) for s in chosen],
            forward_urls=forward_urls)

    async def commit_file(self, req: CommitFileRequest) -> FileResponse:
        comps = file_path(req.path)
        if not comps[-1]:
            raise WireError(ErrorCode.INVALID, "a file needs a name")
        entry: dict[str, Any] = {"k": "f", "size": req.size, "mtime": self.clock(),
                                 "md5": req.md5, "crc": req.crc32c, "ct": req.content_type,
                                 "meta": req.meta}
        if req.inline_data is not None:
            if req.blocks or req.size > self.settings.inline_max_bytes:
                raise WireError(ErrorCode.INVALID, "inline data is only for small files")
            entry["inline"] = req.inline_data
        else:
            check_blocks(req.blocks, req.size)
            entry["blocks"] = [block_json(b.block) for b in req.blocks]
        raw = entry_json(entry)
        await self.store.commit_file(
            comps, raw, [NewBlock(block_id=b.block.block_id, replicas=list(b.replicas),
                                  crc32c=b.block.crc32c)
                         for b in req.blocks],
            now=self.clock(), parents=parents_mode(req.parents, req.require_top),
            if_absent=req.if_absent, if_md5=req.if_md5,
            want_rf=self.settings.replication_factor)
        return FileResponse(file=file_entry(comps[-1], raw))

    async def report_bad_replica(self, req: ReportBadReplicaRequest) -> EmptyResponse:
        """A reader saw a corrupt replica: it no longer counts, and the block needs repair."""
        await self.store.remove_replicas(req.server_id, [req.block_id])
        await self.store.mark_underreplicated([req.block_id])
        return EmptyResponse()

    async def init(self, req: InitRequest) -> EmptyResponse:
        if not req.confirm:
            raise WireError(ErrorCode.INVALID, "init wipes the file system: confirm it")
        await self.store.init()
        return EmptyResponse()


def _range(prefix: str, start_after: str | None) -> tuple[bytes | None, bytes]:
    """ZRANGEBYLEX bounds for members starting with ``prefix`` and after ``start_after``."""
    hi = b"[" + prefix.encode() + TOP if prefix else b"+"
    if start_after is None or start_after < prefix:
        return b"[" + prefix.encode(), hi
    if not start_after.startswith(prefix):
        return None, hi
    return b"(" + start_after.encode(), hi
