"""Fakes of our own nameserver and blockstore for the client and CLI unit tests.

They are real aiohttp servers on port 0 speaking the wire protocol of ``plen.wire`` (errors
rendered by ``plen.service``), with an in-memory namespace and failure injection, so the
client library is exercised over real HTTP. Integration tests run the real services.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from plen import service
from plen.checksum import crc32c
from plen.client.http import session
from plen.wire import codec
from plen.wire.blocks import CRC32C_HEADER, PIPELINE_HEADER, TOKEN_HEADER, PutBlockResponse
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AllocateBlockRequest,
    AllocateBlockResponse,
    ClusterInfoResponse,
    ClusterStatusResponse,
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
    ServerStatus,
    StatRequest,
    StatResponse,
    WalkItem,
    WalkRequest,
    WalkResponse,
)
from plen.wire.types import Replica, ServerId, new_block_id

# ---------------------------------------------------------------------------------------
# fake blockstore


@dataclass
class FakeBlockstore:
    server_id: ServerId
    blocks: dict[str, bytes] = field(default_factory=dict)
    url: str = ""
    private_url: str = ""
    puts: list[str] = field(default_factory=list)
    gets: list[tuple[str, str | None]] = field(default_factory=list)  # (block id, Range)
    # failure injection
    put_fail: int = 0  # answer the next N PUTs with 500
    get_mode: str = "ok"  # ok | error | corrupt | cut
    min_read_token: int = 0  # read tokens "r.<n>.x" with n below this are refused
    put_gate: asyncio.Event | None = None  # first-hop PUTs wait for it once counted
    tracker: dict[str, int] = field(default_factory=lambda: {"active": 0, "peak": 0})
    runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = service.base_app("fakeblockstore")
        for prefix in ("", "/p"):
            app.router.add_put(prefix + "/blocks/{id}", self.put)
            app.router.add_get(prefix + "/blocks/{id}", self.get)
        return app

    async def put(self, request: web.Request) -> web.Response:
        if self.put_gate is None or request.path.startswith("/p/"):
            return await self._put(request)
        self.tracker["active"] += 1
        self.tracker["peak"] = max(self.tracker["peak"], self.tracker["active"])
        try:
            await self.put_gate.wait()
            return await self._put(request)
        finally:
            self.tracker["active"] -= 1

    async def _put(self, request: web.Request) -> web.Response:
        block_id = request.match_info["id"]
        self.puts.append(block_id)
        if not request.headers.get(TOKEN_HEADER, "").startswith("w."):
            raise WireError(ErrorCode.FORBIDDEN, "bad token")
        body = await request.read()
        if self.put_fail > 0:
            self.put_fail -= 1
            raise WireError(ErrorCode.INTERNAL, f"{self.server_id} injected failure")
        if crc32c(body) != int(request.headers[CRC32C_HEADER]):
            raise WireError(ErrorCode.CHECKSUM_MISMATCH, "crc mismatch")
        hops = [h for h in request.headers.get(PIPELINE_HEADER, "").split(",") if h]
        stored = [self.server_id]
        if hops:
            nxt, rest = hops[0], hops[1:]
            headers = {TOKEN_HEADER: request.headers[TOKEN_HEADER],
                       CRC32C_HEADER: request.headers[CRC32C_HEADER],
                       PIPELINE_HEADER: ",".join(rest)}
            try:
                async with session() as http, http.put(f"{nxt}/blocks/{block_id}", data=body,
                                                       headers=headers) as resp:
                    if resp.status != 201:
                        raise WireError(ErrorCode.PIPELINE_FAILED, f"{nxt} failed",
                                        failed_url=nxt)
                    stored += codec.loads(PutBlockResponse, await resp.read()).stored_on
            except OSError as exc:
                raise WireError(ErrorCode.PIPELINE_FAILED, f"{nxt} unreachable",
                                failed_url=nxt) from exc
        self.blocks[block_id] = body
        return service.json_response(PutBlockResponse(stored_on=stored), status=201)

    async def get(self, request: web.Request) -> web.StreamResponse:
        block_id = request.match_info["id"]
        rng = request.headers.get("Range")
        self.gets.append((block_id, rng))
        token = request.headers.get(TOKEN_HEADER, "")
        if not token.startswith("r.") or int(token.split(".")[1]) < self.min_read_token:
            raise WireError(ErrorCode.FORBIDDEN, "bad or expired token")
        if block_id not in self.blocks:
            raise WireError(ErrorCode.NOT_FOUND, "no such block")
        if self.get_mode == "error":
            raise WireError(ErrorCode.INTERNAL, "injected read failure")
        if self.get_mode == "corrupt":
            raise WireError(ErrorCode.CHECKSUM_MISMATCH, "replica is corrupt")
        data = self.blocks[block_id]
        status, start, end = 200, 0, len(data)
        headers: dict[str, str] = {}
        if rng:
            a, b = rng.removeprefix("bytes=").split("-")
            start, end = int(a), int(b) + 1
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = end - start
        await resp.prepare(request)
        body = data[start:end]
        if self.get_mode == "cut":
            await resp.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.abort()
            return resp
        await resp.write(body)
        await resp.write_eof()
        return resp


# ---------------------------------------------------------------------------------------
# fake nameserver


@dataclass
class FakeFile:
    size: int
    md5: str
    crc32c: int | None
    mtime: float
    content_type: str | None
    meta: dict[str, str]
    inline_data: str | None
    blocks: list[CommittedBlock]


def _parent(path: str) -> str:
    head = path.rstrip("/").rpartition("/")[0]
    return head or "/"


def _name(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2]


class FakeNameserver:
    def __init__(self, stores: list[FakeBlockstore], *, block_size: int = 64 * 1024,
                 inline_max: int = 1024, replication: int = 2) -> None:
        self.stores = stores
        self.block_size = block_size
        self.inline_max = inline_max
        self.replication = replication
        self.files: dict[str, FakeFile] = {}
        self.markers: set[str] = set()
        self.allocations: list[AllocateBlockRequest] = []
        self.allocated: dict[str, AllocateBlockResponse] = {}
        self.bad_reports: list[ReportBadReplicaRequest] = []
        self.calls: list[str] = []
        self.replica_order: list[ServerId] | None = None  # force read preference
        self.token_generation = 0  # read tokens handed out are "r.<generation>.x"
        self.url = ""
        self.runner: web.AppRunner | None = None

    # namespace helpers
    def is_dir(self, path: str) -> bool:
        if path == "/":
            return True
        if path in self.markers:
            return True
        prefix = path + "/"
        return any(p.startswith(prefix) for p in [*self.files, *self.markers])

    def check_parent(self, path: str, parents: bool) -> None:
        parent = _parent(path)
        if not self.is_dir(parent) and not parents:
            if parent in self.files:
                raise WireError(ErrorCode.NOT_A_DIRECTORY, f"{parent} is a file")
            raise WireError(ErrorCode.NOT_FOUND, f"no such directory {parent}")

    def file_entry(self, path: str, *, with_blocks: bool = False) -> FileEntry:
        f = self.files[path]
        blocks: list[FileBlock] = []
        if with_blocks:
            offset = 0
            for cb in f.blocks:
                replicas = [Replica(server_id=s.server_id, url=s.url)
                            for s in self.stores if s.server_id in cb.replicas]
                order = self.replica_order or cb.replicas
                replicas.sort(key=lambda r: order.index(r.server_id)
                              if r.server_id in order else 99)
                blocks.append(FileBlock(block_id=cb.block.block_id, offset=offset,
                                        size=cb.block.size, crc32c=cb.block.crc32c,
                                        replicas=replicas,
                                        token=f"r.{self.token_generation}.x"))
                offset += cb.block.size
        return FileEntry(name=_name(path), size=f.size, mtime=f.mtime, md5=f.md5,
                         crc32c=f.crc32c, content_type=f.content_type, meta=dict(f.meta),
                         inline=f.inline_data is not None,
                         inline_data=f.inline_data if with_blocks else None,
                         blocks=blocks, block_count=len(f.blocks))

    def children(self, path: str) -> list[FileEntry | DirEntry]:
        prefix = path.rstrip("/") + "/"
        out: dict[str, FileEntry | DirEntry] = {}
        for p, is_file in [*((p, True) for p in self.files), *((m, False) for m in self.markers)]:
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            head, sep, _ = rest.partition("/")
            if sep:
                out[head + "/"] = DirEntry(name=head, mtime=0.0,
                                           marker=prefix + head in self.markers)
            elif is_file:
                out[head] = self.file_entry(p)
            else:
                out[head + "/"] = DirEntry(name=head, mtime=0.0, marker=True)
        return [out[k] for k in sorted(out, key=lambda k: k.encode())]

    # handlers
    def app(self) -> web.Application:
        app = service.base_app("fakenameserver")
        routes: list[tuple[str, type, Any]] = [
            ("cluster-info", dict, self.cluster_info),
            ("stat", StatRequest, self.stat),
            ("list-dir", ListDirRequest, self.list_dir),
            ("walk", WalkRequest, self.walk),
            ("mkdir", MkdirRequest, self.mkdir),
            ("rmdir", RmdirRequest, self.rmdir),
            ("delete-file", DeleteFileRequest, self.delete_file),
            ("rename", RenameRequest, self.rename),
            ("copy-file", CopyFileRequest, self.copy_file),
            ("allocate-block", AllocateBlockRequest, self.allocate_block),
            ("commit-file", CommitFileRequest, self.commit_file),
            ("report-bad-replica", ReportBadReplicaRequest, self.report_bad_replica),
            ("cluster-status", dict, self.cluster_status),
            ("init", InitRequest, self.init),
        ]
        for endpoint, cls, fn in routes:
            app.router.add_post(f"/v1/{endpoint}", self._wrap(endpoint, cls, fn))
        return app

    def _wrap(self, endpoint: str, cls: type, fn: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            self.calls.append(endpoint)
            raw = await request.read()
            req = json.loads(raw or b"{}") if cls is dict else codec.loads(cls, raw)
            return service.json_response(await fn(req))
        return handler

    async def cluster_info(self, req: Any) -> ClusterInfoResponse:
        return ClusterInfoResponse(block_size_bytes=self.block_size,
                                   inline_max_bytes=self.inline_max,
                                   replication_factor=self.replication)

    async def stat(self, req: StatRequest) -> StatResponse:
        path = req.path
        file = self.file_entry(path, with_blocks=req.with_blocks) if path in self.files else None
        d = DirEntry(name=_name(path), mtime=0.0, marker=path in self.markers) \
            if self.is_dir(path) else None
        return StatResponse(file=file, dir=d)

    async def list_dir(self, req: ListDirRequest) -> ListDirResponse:
        if not self.is_dir(req.path):
            if req.path in self.files:
                raise WireError(ErrorCode.NOT_A_DIRECTORY, f"{req.path} is a file")
            raise WireError(ErrorCode.NOT_FOUND, f"no such directory {req.path}")
        entries = [e for e in self.children(req.path)
                   if (e.name + "/" if isinstance(e, DirEntry) else e.name).startswith(req.prefix)]
        if req.start_after is not None:
            entries = [e for e in entries if (e.name + "/" if isinstance(e, DirEntry)
                                              else e.name).encode() > req.start_after.encode()]
        return ListDirResponse(entries=entries[: req.limit], truncated=len(entries) > req.limit)

    async def walk(self, req: WalkRequest) -> WalkResponse:
        prefix = req.path.rstrip("/") + "/"
        keys = sorted((p[len(prefix):] for p in self.files if p.startswith(prefix)),
                      key=lambda k: k.encode())
        keys = [k for k in keys if k.startswith(req.prefix) and
                (req.start_after is None or k.encode() > req.start_after.encode())]
        items = [WalkItem(key=k, entry=self.file_entry(prefix + k)) for k in keys]
        return WalkResponse(items=items[: req.limit], truncated=len(items) > req.limit)

    async def mkdir(self, req: MkdirRequest) -> MkdirResponse:
        exists = self.is_dir(req.path)
        if exists and not req.exist_ok:
            raise WireError(ErrorCode.ALREADY_EXISTS, f"{req.path} exists")
        self.check_parent(req.path, req.parents)
        self.markers.add(req.path)
        return MkdirResponse(dir=DirEntry(name=_name(req.path), mtime=time.time(), marker=True),
                             created=not exists)

    async def rmdir(self, req: RmdirRequest) -> EmptyResponse:
        if not self.is_dir(req.path):
            raise WireError(ErrorCode.NOT_FOUND, f"no such directory {req.path}")
        if self.children(req.path) and not req.recursive:
            raise WireError(ErrorCode.NOT_EMPTY, f"{req.path} is not empty")
        prefix = req.path + "/"
        for p in [p for p in self.files if p.startswith(prefix)]:
            del self.files[p]
        self.markers = {m for m in self.markers if m != req.path and not m.startswith(prefix)}
        return EmptyResponse()

    async def delete_file(self, req: DeleteFileRequest) -> EmptyResponse:
        if req.path not in self.files:
            raise WireError(ErrorCode.NOT_FOUND, f"no such file {req.path}")
        del self.files[req.path]
        return EmptyResponse()

    async def rename(self, req: RenameRequest) -> EmptyResponse:
        self.check_parent(req.dst, req.parents)
        if req.kind == "file":
            if req.src not in self.files:
                raise WireError(ErrorCode.NOT_FOUND, f"no such file {req.src}")
            if req.dst in self.files and not req.overwrite:
                raise WireError(ErrorCode.ALREADY_EXISTS, f"{req.dst} exists")
            self.files[req.dst] = self.files.pop(req.src)
            return EmptyResponse()
        if not self.is_dir(req.src):
            raise WireError(ErrorCode.NOT_FOUND, f"no such directory {req.src}")
        if self.is_dir(req.dst):
            raise WireError(ErrorCode.ALREADY_EXISTS, f"{req.dst} exists")
        src, dst = req.src + "/", req.dst + "/"
        self.files = {(dst + p[len(src):] if p.startswith(src) else p): f
                      for p, f in self.files.items()}
        self.markers = {(req.dst if m == req.src else
                         dst + m[len(src):] if m.startswith(src) else m) for m in self.markers}
        return EmptyResponse()

    async def copy_file(self, req: CopyFileRequest) -> FileResponse:
        if req.src not in self.files:
            raise WireError(ErrorCode.NOT_FOUND, f"no such file {req.src}")
        self.check_parent(req.dst, req.parents)
        src = self.files[req.src]
        self.files[req.dst] = FakeFile(**{**src.__dict__, "mtime": time.time()})
        return FileResponse(file=self.file_entry(req.dst))

    async def allocate_block(self, req: AllocateBlockRequest) -> AllocateBlockResponse:
        self.allocations.append(req)
        live = [s for s in self.stores if s.server_id not in req.exclude]
        if not live:
            raise WireError(ErrorCode.NO_LIVE_SERVERS, "no live servers")
        chosen = live[: self.replication]
        resp = AllocateBlockResponse(
            block_id=new_block_id(),
            pipeline=[Replica(server_id=s.server_id, url=s.url) for s in chosen],
            forward_urls=[s.private_url for s in chosen[1:]], token="w.0.x",
            expires_at=time.time() + 3600)
        self.allocated[resp.block_id] = resp
        return resp

    async def commit_file(self, req: CommitFileRequest) -> FileResponse:
        self.check_parent(req.path, req.parents)
        if req.if_absent and req.path in self.files:
            raise WireError(ErrorCode.PRECONDITION_FAILED, "exists")
        for cb in req.blocks:
            if cb.block.block_id not in self.allocated:
                raise WireError(ErrorCode.INVALID, "block was never allocated")
        if req.inline_data is not None and len(base64.b64decode(req.inline_data)) != req.size:
            raise WireError(ErrorCode.INVALID, "inline size mismatch")
        if req.blocks and sum(cb.block.size for cb in req.blocks) != req.size:
            raise WireError(ErrorCode.INVALID, "block sizes do not add up")
        self.files[req.path] = FakeFile(
            size=req.size, md5=req.md5, crc32c=req.crc32c, mtime=time.time(),
            content_type=req.content_type, meta=dict(req.meta), inline_data=req.inline_data,
            blocks=list(req.blocks))
        return FileResponse(file=self.file_entry(req.path))

    async def report_bad_replica(self, req: ReportBadReplicaRequest) -> EmptyResponse:
        self.bad_reports.append(req)
        return EmptyResponse()

    async def cluster_status(self, req: Any) -> ClusterStatusResponse:
        servers = [ServerStatus(server_id=s.server_id, public_url=s.url,
                                private_url=s.private_url, zone="", state="live",
                                capacity_bytes=1 << 30, used_bytes=sum(map(len, s.blocks.values())),
                                free_bytes=(1 << 30) - sum(map(len, s.blocks.values())),
                                blocks=len(s.blocks), last_heartbeat_age_s=0.5)
                   for s in self.stores]
        return ClusterStatusResponse(
            servers=servers, replication_factor=self.replication,
            capacity_bytes=sum(s.capacity_bytes for s in servers),
            used_bytes=sum(s.used_bytes for s in servers),
            free_bytes=sum(s.free_bytes for s in servers),
            blocks=len(self.allocated), files=len(self.files), under_replicated_blocks=0)

    async def init(self, req: InitRequest) -> EmptyResponse:
        if not req.confirm:
            raise WireError(ErrorCode.INVALID, "not confirmed")
        self.files.clear()
        self.markers.clear()
        return EmptyResponse()


# ---------------------------------------------------------------------------------------
# running them


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


class FakeCluster:
    def __init__(self, n_stores: int = 3, **ns_kwargs: Any) -> None:
        self.stores = [FakeBlockstore(server_id=ServerId(f"{i:016x}")) for i in range(n_stores)]
        self.ns = FakeNameserver(self.stores, **ns_kwargs)

    @property
    def url(self) -> str:
        return self.ns.url

    async def start(self) -> None:
        for store in self.stores:
            store.runner, store.url = await _serve(store.app())
            store.private_url = store.url + "/p"
        self.ns.runner, self.ns.url = await _serve(self.ns.app())

    async def stop(self) -> None:
        for runner in [self.ns.runner, *(s.runner for s in self.stores)]:
            if runner is not None:
                await runner.cleanup()

    def store(self, server_id: str) -> FakeBlockstore:
        return next(s for s in self.stores if s.server_id == server_id)


@pytest.fixture
async def fake_cluster():
    c = FakeCluster()
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


class ThreadedCluster:
    """A FakeCluster served from its own event loop thread, for the synchronous CLI tests."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.cluster = FakeCluster(**kwargs)

    def __enter__(self) -> FakeCluster:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.cluster.start(), self.loop).result(10)
        return self.cluster

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.cluster.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def fake_cluster_thread():
    with ThreadedCluster() as c:
        yield c
