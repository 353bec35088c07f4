"""Client API (plen CLI, gateway): POST /v1/<endpoint>, JSON wire messages in and out."""

from __future__ import annotations

from aiohttp import web

from nameserver.appkeys import (
    fsck_key,
    metrics_key,
    namespace_key,
    servers_key,
    uploads_key,
)
from plen.service import json_response, wire_route
from plen.wire import namespace as ns


def _ns(request: web.Request):
    return request.app[namespace_key]


async def cluster_info(request: web.Request) -> web.Response:
    return json_response(_ns(request).cluster_info())


async def cluster_status(request: web.Request) -> web.Response:
    return json_response(await request.app[servers_key].cluster_status())


async def allocate_block(request: web.Request, req: ns.AllocateBlockRequest):
    resp = await _ns(request).allocate_block(req)
    # Bytes handed to writers: the write throughput the dashboard charts (metrics.py).
    request.app[metrics_key].allocated_bytes.inc(req.size_bytes)
    return resp


def add_routes(app: web.Application) -> None:
    def route(cls, method_name: str, key: web.AppKey = namespace_key) -> None:
        async def call(request: web.Request, req):
            return await getattr(request.app[key], method_name)(req)
        app.router.add_post(f"/v1/{cls.ENDPOINT}", wire_route(cls, call))

    route(ns.StatRequest, "stat")
    route(ns.ListDirRequest, "list_dir")
    route(ns.WalkRequest, "walk")
    route(ns.MkdirRequest, "mkdir")
    route(ns.RmdirRequest, "rmdir")
    route(ns.DeleteFileRequest, "delete_file")
    route(ns.RenameRequest, "rename")
    route(ns.CopyFileRequest, "copy_file")
    app.router.add_post(f"/v1/{ns.AllocateBlockRequest.ENDPOINT}",
                        wire_route(ns.AllocateBlockRequest, allocate_block))
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
    app.router.add_post(f"/v1/{ns.ClusterInfoResponse.ENDPOINT}", cluster_info)
    app.router.add_post(f"/v1/{ns.ClusterStatusResponse.ENDPOINT}", cluster_status)
