"""Client API (plen CLI, gateway): POST /v1/<endpoint>, JSON wire messages in and out.

Rule: every request is signed by a user (plen/auth.py) and checked against what that user
may do (nameserver/authz.py) before anything runs; the handler then gets the principal.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from nameserver.appkeys import (
    access_service_key,
    authorizer_key,
    fsck_key,
    metrics_key,
    namespace_key,
    servers_key,
    uploads_key,
)
from nameserver.authz import top_level
from plen.access import Principal
from plen.service import json_response
from plen.wire import access as wa
from plen.wire import codec
from plen.wire import namespace as ns

Handler = Callable[[web.Request, Principal, Any], Awaitable[Any]]


async def _principal(request: web.Request, raw: bytes) -> Principal:
    return await request.app[access_service_key].authenticate(
        request.method, request.path, request.headers, raw)


def door(cls: type | None, fn: Handler):
    """An aiohttp handler: authenticate, decode ``cls`` (None: no body), authorize, run."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        principal = await _principal(request, raw)
        req = codec.loads(cls, raw or b"{}") if cls is not None else None
        if req is not None:
            await request.app[authorizer_key].check(principal, req)
        return json_response(await fn(request, principal, req))

    return handler


def _ns(request: web.Request):
    return request.app[namespace_key]


async def cluster_info(request: web.Request, principal: Principal, req: None):
    return _ns(request).cluster_info()


async def cluster_status(request: web.Request, principal: Principal, req: None):
    return await request.app[servers_key].cluster_status()


async def allocate_block(request: web.Request, principal: Principal,
                         req: ns.AllocateBlockRequest):
    resp = await _ns(request).allocate_block(req)
    # Bytes handed to writers: the write throughput the dashboard charts (metrics.py).
    request.app[metrics_key].allocated_bytes.inc(req.size_bytes)
    return resp


async def list_dir(request: web.Request, principal: Principal, req: ns.ListDirRequest):
    if not principal.root and req.path.strip("/") == "":
        return await request.app[authorizer_key].list_root(principal, req)
    return await _ns(request).list_dir(req)


async def mkdir(request: web.Request, principal: Principal, req: ns.MkdirRequest):
    resp = await _ns(request).mkdir(req)
    bucket = top_level(req.path)
    if bucket is not None and resp.created:
        # A new bucket: its maker owns it (the gateway, as root, names the S3 user).
        owner = req.owner if principal.root and req.owner else principal.user
        await request.app[access_service_key].claim(bucket, owner, req.acl)
    return resp


async def rmdir(request: web.Request, principal: Principal, req: ns.RmdirRequest):
    resp = await _ns(request).rmdir(req)
    bucket = top_level(req.path)
    if bucket is not None:
        await request.app[access_service_key].store.drop_bucket_access(bucket)
    return resp


async def rename(request: web.Request, principal: Principal, req: ns.RenameRequest):
    resp = await _ns(request).rename(req)
    src, dst = top_level(req.src), top_level(req.dst)
    if req.kind == "dir" and src is not None and dst is not None:
        await request.app[access_service_key].store.move_bucket_access(src, dst)
    return resp


async def whoami(request: web.Request, principal: Principal, req: wa.WhoAmIRequest):
    return request.app[access_service_key].whoami(principal)


async def user_add(request: web.Request, principal: Principal, req: wa.UserAddRequest):
    return await request.app[access_service_key].add_user(req.user)


async def user_remove(request: web.Request, principal: Principal, req: wa.UserRemoveRequest):
    await request.app[access_service_key].remove_user(req.user)
    return ns.EmptyResponse()


async def key_remove(request: web.Request, principal: Principal, req: wa.KeyRemoveRequest):
    await request.app[access_service_key].remove_key(req)
    return ns.EmptyResponse()


async def bucket_access(request: web.Request, principal: Principal,
                        req: wa.BucketAccessRequest):
    return await request.app[access_service_key].bucket_access(req.bucket)


async def list_buckets(request: web.Request, principal: Principal,
                       req: wa.ListBucketsRequest):
    buckets = await request.app[access_service_key].buckets(req.owner)
    return wa.ListBucketsResponse(buckets=buckets)


def add_routes(app: web.Application) -> None:
    def route(cls, method_name: str, key: web.AppKey = namespace_key) -> None:
        async def call(request: web.Request, principal: Principal, req):
            return await getattr(request.app[key], method_name)(req)
        app.router.add_post(f"/v1/{cls.ENDPOINT}", door(cls, call))

    def custom(cls, fn: Handler) -> None:
        app.router.add_post(f"/v1/{cls.ENDPOINT}", door(cls, fn))

    route(ns.StatRequest, "stat")
    custom(ns.ListDirRequest, list_dir)
    route(ns.WalkRequest, "walk")
    custom(ns.MkdirRequest, mkdir)
    custom(ns.RmdirRequest, rmdir)
    route(ns.DeleteFileRequest, "delete_file")
    custom(ns.RenameRequest, rename)
    route(ns.CopyFileRequest, "copy_file")
    custom(ns.AllocateBlockRequest, allocate_block)
    route(ns.CommitFileRequest, "commit_file")
    route(ns.InitRequest, "init")
    route(ns.ReportBadReplicaRequest, "report_bad_replica")
    route(ns.UpdateFileRequest, "update_file")
    route(ns.CreateUploadRequest, "create_upload", uploads_key)
    route(ns.PutPartRequest, "put_part", uploads_key)
    route(ns.ListPartsRequest, "list_parts", uploads_key)
    route(ns.ListUploadsRequest, "list_uploads", uploads_key)
    route(ns.CompleteUploadRequest, "complete_upload", uploads_key)
    route(ns.AbortUploadRequest, "abort_upload", uploads_key)
    route(ns.ServerListRequest, "server_list", servers_key)
    route(ns.ServerDrainRequest, "drain", servers_key)
    route(ns.ServerRemoveRequest, "remove", servers_key)
    route(ns.FsckRequest, "run", fsck_key)
    custom(wa.WhoAmIRequest, whoami)
    custom(wa.UserAddRequest, user_add)
    route(wa.UserListRequest, "list_users", access_service_key)
    custom(wa.UserRemoveRequest, user_remove)
    route(wa.KeyAddRequest, "add_key", access_service_key)
    custom(wa.KeyRemoveRequest, key_remove)
    route(wa.SigningKeyRequest, "signing_key", access_service_key)
    route(wa.SignV2Request, "sign_v2", access_service_key)
    custom(wa.BucketAccessRequest, bucket_access)
    route(wa.SetBucketAccessRequest, "set_bucket_access", access_service_key)
    custom(wa.ListBucketsRequest, list_buckets)
    app.router.add_post(f"/v1/{ns.ClusterInfoResponse.ENDPOINT}", door(None, cluster_info))
    app.router.add_post(f"/v1/{ns.ClusterStatusResponse.ENDPOINT}", door(None, cluster_status))
