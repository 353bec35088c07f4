"""NameserverClient: one async method per client endpoint of the nameserver.

Rule 1: typed wire messages in, typed wire messages out; every call goes through
``plen.client.http.call_json`` to ``{base}/v1/{Request.ENDPOINT}``, so errors arrive as the
server's own ``WireError`` and transport failures are classified there, not here.
Rule 2: only idempotent reads (cluster-info, stat, list-dir, walk, cluster-status) are
retried after an *indefinite* error (timeout, lost connection): repeating them changes
nothing. Mutations are never retried after an indefinite error, because they may already
have happened. A *definite* "could not connect" error means the request never left, so a
brief retry is safe for every call; it rides over a nameserver restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

import aiohttp

from plen.auth import Credentials
from plen.client.http import call_json
from plen.wire import access as wa
from plen.wire.errors import ErrorCode, WireError
from plen.wire.namespace import (
    AbortUploadRequest,
    AllocateBlockRequest,
    AllocateBlockResponse,
    ClusterInfoResponse,
    ClusterStatusResponse,
    CommitFileRequest,
    CompleteUploadRequest,
    CopyFileRequest,
    CreateUploadRequest,
    DeleteFileRequest,
    EmptyResponse,
    FileResponse,
    FsckRequest,
    FsckResponse,
    InitRequest,
    ListDirRequest,
    ListDirResponse,
    ListPartsRequest,
    ListPartsResponse,
    ListUploadsRequest,
    ListUploadsResponse,
    MkdirRequest,
    MkdirResponse,
    PartResponse,
    PutPartRequest,
    RenameRequest,
    ReportBadReplicaRequest,
    RmdirRequest,
    ServerDrainRequest,
    ServerListRequest,
    ServerListResponse,
    ServerRemoveRequest,
    StatRequest,
    StatResponse,
    UpdateFileRequest,
    UploadResponse,
    WalkRequest,
    WalkResponse,
)

log = logging.getLogger("plen.client.nameserver")
T = TypeVar("T")

# Pauses between attempts; the number of entries is the number of retries.
DEFAULT_RETRY_DELAYS_S: tuple[float, ...] = (0.1, 0.4)


# Body of the requests that carry no field (cluster-info, cluster-status).
_EMPTY: dict[str, Any] = {}


class NameserverClient:
    """The nameserver's client API. ``http`` is shared and owned by the caller."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession, *,
                 credentials: Credentials | None = None,
                 retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.credentials = credentials
        self.retry_delays_s = retry_delays_s

    def url(self, endpoint: str) -> str:
        return f"{self.base_url}/v1/{endpoint}"

    async def _call(self, endpoint: str, request: Any, response_cls: type[T], *,
                    idempotent: bool) -> T:
        url = self.url(endpoint)
        delays = iter(self.retry_delays_s)
        while True:
            try:
                return await call_json(self.http, url, request, response_cls,
                                       credentials=self.credentials)
            except WireError as err:
                retriable = (err.code is ErrorCode.UNAVAILABLE_BEFORE_START
                             or (idempotent and not err.definite))
                delay = next(delays, None) if retriable else None
                if delay is None:
                    raise
                log.debug("%s failed (%s); retrying in %.1fs", endpoint, err.code.name, delay)
                await asyncio.sleep(delay)

    # -- reads (retried) -----------------------------------------------------------------

    async def cluster_info(self) -> ClusterInfoResponse:
        return await self._call(ClusterInfoResponse.ENDPOINT, _EMPTY, ClusterInfoResponse,
                                idempotent=True)

    async def stat(self, path: str, *, with_blocks: bool = False, offset: int = 0,
                   length: int | None = None) -> StatResponse:
        return await self._call(StatRequest.ENDPOINT,
                                StatRequest(path=path, with_blocks=with_blocks, offset=offset,
                                            length=length),
                                StatResponse, idempotent=True)

    async def list_dir(self, path: str, *, prefix: str = "", start_after: str | None = None,
                       limit: int = 1000) -> ListDirResponse:
        req = ListDirRequest(path=path, prefix=prefix, start_after=start_after, limit=limit)
        return await self._call(req.ENDPOINT, req, ListDirResponse, idempotent=True)

    async def walk(self, path: str, *, prefix: str = "", start_after: str | None = None,
                   limit: int = 1000) -> WalkResponse:
        req = WalkRequest(path=path, prefix=prefix, start_after=start_after, limit=limit)
        return await self._call(req.ENDPOINT, req, WalkResponse, idempotent=True)

    async def cluster_status(self) -> ClusterStatusResponse:
        return await self._call(ClusterStatusResponse.ENDPOINT, _EMPTY, ClusterStatusResponse,
                                idempotent=True)

    async def server_list(self) -> ServerListResponse:
        return await self._call(ServerListRequest.ENDPOINT, _EMPTY, ServerListResponse,
                                idempotent=True)

    async def fsck(self) -> FsckResponse:
        return await self._call(FsckRequest.ENDPOINT, _EMPTY, FsckResponse, idempotent=True)

    async def list_parts(self, req: ListPartsRequest) -> ListPartsResponse:
        return await self._call(req.ENDPOINT, req, ListPartsResponse, idempotent=True)

    async def list_uploads(self, req: ListUploadsRequest) -> ListUploadsResponse:
        return await self._call(req.ENDPOINT, req, ListUploadsResponse, idempotent=True)

    # -- mutations (never retried after an indefinite error) -----------------------------

    async def mkdir(self, path: str, *, parents: bool = False, exist_ok: bool = False,
                    mark_parents: bool = True, require_top: bool = False,
                    owner: str | None = None, acl: str | None = None) -> MkdirResponse:
        req = MkdirRequest(path=path, parents=parents, exist_ok=exist_ok,
                           mark_parents=mark_parents, require_top=require_top, owner=owner,
                           acl=acl)
        return await self._call(req.ENDPOINT, req, MkdirResponse, idempotent=False)

    async def rmdir(self, path: str, *, recursive: bool = False, unmark: bool = False) -> None:
        req = RmdirRequest(path=path, recursive=recursive, unmark=unmark)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def delete_file(self, path: str, *, if_md5: str | None = None) -> None:
        req = DeleteFileRequest(path=path, if_md5=if_md5)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def rename(self, src: str, dst: str, *, kind: str, overwrite: bool = True,
                     parents: bool = False) -> None:
        req = RenameRequest(src=src, dst=dst, kind=kind,  # type: ignore[arg-type]
                            overwrite=overwrite, parents=parents)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def copy_file(self, src: str, dst: str, *, parents: bool = False,
                        content_type: str | None = None, meta: dict[str, str] | None = None,
                        require_top: bool = False) -> FileResponse:
        req = CopyFileRequest(src=src, dst=dst, parents=parents, content_type=content_type,
                              meta=meta, require_top=require_top)
        return await self._call(req.ENDPOINT, req, FileResponse, idempotent=False)

    async def allocate_block(self, size_bytes: int, *,
                             exclude: list[str] | None = None) -> AllocateBlockResponse:
        req = AllocateBlockRequest(size_bytes=size_bytes, exclude=list(exclude or []))
        return await self._call(req.ENDPOINT, req, AllocateBlockResponse, idempotent=False)

    async def commit_file(self, request: CommitFileRequest) -> FileResponse:
        return await self._call(request.ENDPOINT, request, FileResponse, idempotent=False)

    async def report_bad_replica(self, block_id: str, server_id: str, reason: str) -> None:
        req = ReportBadReplicaRequest(block_id=block_id,  # type: ignore[arg-type]
                                      server_id=server_id,  # type: ignore[arg-type]
                                      reason=reason)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def update_file(self, req: UpdateFileRequest) -> FileResponse:
        return await self._call(req.ENDPOINT, req, FileResponse, idempotent=False)

    async def create_upload(self, req: CreateUploadRequest) -> UploadResponse:
        return await self._call(req.ENDPOINT, req, UploadResponse, idempotent=False)

    async def put_part(self, req: PutPartRequest) -> PartResponse:
        return await self._call(req.ENDPOINT, req, PartResponse, idempotent=False)

    async def complete_upload(self, req: CompleteUploadRequest) -> FileResponse:
        return await self._call(req.ENDPOINT, req, FileResponse, idempotent=False)

    async def abort_upload(self, req: AbortUploadRequest) -> None:
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def drain_server(self, server_id: str) -> None:
        req = ServerDrainRequest(server_id=server_id)  # type: ignore[arg-type]
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=True)

    async def remove_server(self, server_id: str) -> None:
        req = ServerRemoveRequest(server_id=server_id)  # type: ignore[arg-type]
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def init(self, *, confirm: bool) -> None:
        req = InitRequest(confirm=confirm)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    # -- users and access (plen/wire/access.py) -----------------------------------------------

    async def whoami(self) -> wa.WhoAmIResponse:
        return await self._call(wa.WhoAmIRequest.ENDPOINT, _EMPTY, wa.WhoAmIResponse,
                                idempotent=True)

    async def user_add(self, user: str) -> wa.NewKeyResponse:
        req = wa.UserAddRequest(user=user)
        return await self._call(req.ENDPOINT, req, wa.NewKeyResponse, idempotent=False)

    async def user_list(self) -> wa.UserListResponse:
        return await self._call(wa.UserListRequest.ENDPOINT, _EMPTY, wa.UserListResponse,
                                idempotent=True)

    async def user_remove(self, user: str) -> None:
        req = wa.UserRemoveRequest(user=user)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def key_add(self, user: str) -> wa.NewKeyResponse:
        req = wa.KeyAddRequest(user=user)
        return await self._call(req.ENDPOINT, req, wa.NewKeyResponse, idempotent=False)

    async def key_remove(self, user: str, access_key: str) -> None:
        req = wa.KeyRemoveRequest(user=user, access_key=access_key)
        await self._call(req.ENDPOINT, req, EmptyResponse, idempotent=False)

    async def signing_key(self, req: wa.SigningKeyRequest) -> wa.SigningKeyResponse:
        return await self._call(req.ENDPOINT, req, wa.SigningKeyResponse, idempotent=True)

    async def sign_v2(self, req: wa.SignV2Request) -> wa.SignV2Response:
        return await self._call(req.ENDPOINT, req, wa.SignV2Response, idempotent=True)

    async def bucket_access(self, bucket: str) -> wa.BucketAccess:
        req = wa.BucketAccessRequest(bucket=bucket)
        return await self._call(req.ENDPOINT, req, wa.BucketAccess, idempotent=True)

    async def set_bucket_access(self, req: wa.SetBucketAccessRequest) -> wa.BucketAccess:
        return await self._call(req.ENDPOINT, req, wa.BucketAccess, idempotent=False)

    async def list_buckets(self, owner: str | None = None) -> wa.ListBucketsResponse:
        req = wa.ListBucketsRequest(owner=owner)
        return await self._call(req.ENDPOINT, req, wa.ListBucketsResponse, idempotent=True)
