"""``/api/storage/volumes/<uuid>/snapshots``: a volume's snapshots, with ``delta`` on request."""

from __future__ import annotations

import urllib.parse

from aiohttp import web

from ..query import check_return_timeout, collection
from ..storage import expiry_of
from .common import SIMPLE_KEYS, cluster_of, job_reply, read_body, reply, single, wants

routes = web.RouteTableDef()


@routes.get("/api/storage/volumes/{uuid}/snapshots")
async def get_snapshots(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    vol = cluster.volume(request.match_info["uuid"])
    query = dict(request.query)
    want_delta = wants(query.get("fields", ""), "delta")
    against = None
    if want_delta and "," in query.get("name", ""):
        first, against = query["name"].split(",", 1)
        query["name"] = first
    records = [vol.render_snapshot(m, against, want_delta) for m in vol.snapmeta.values()]
    return reply(request, collection(request.path, query, records, SIMPLE_KEYS, (), cluster.page_size))


@routes.post("/api/storage/volumes/{uuid}/snapshots")
async def post_snapshot(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    vol = cluster.volume(request.match_info["uuid"])
    body = await read_body(request, ("name", "comment", "snapmirror_label", "expiry_time"))
    job, name = cluster.create_snapshot(vol, body)
    return await job_reply(request, job, f"/api/storage/volumes/{vol.uuid}/snapshots?"
                                         f"{urllib.parse.urlencode({'name': name})}")


@routes.get("/api/storage/volumes/{uuid}/snapshots/{snap}")
async def get_snapshot(request: web.Request) -> web.Response:
    vol = cluster_of(request).volume(request.match_info["uuid"])
    meta = vol.snapshot_by_uuid(request.match_info["snap"])
    want_delta = wants(request.query.get("fields", ""), "delta")
    return single(request, vol.render_snapshot(meta, None, want_delta))


@routes.route("PATCH", "/api/storage/volumes/{uuid}/snapshots/{snap}")
async def patch_snapshot(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    vol = cluster.volume(request.match_info["uuid"])
    meta = vol.snapshot_by_uuid(request.match_info["snap"])
    body = await read_body(request, ("comment", "snapmirror_label", "expiry_time"))
    expiry = expiry_of(body)

    def apply() -> None:
        if body.has("comment"):
            meta.comment = body.text("comment") or ""
        if body.has("snapmirror_label"):
            meta.label = body.text("snapmirror_label") or ""
        if body.has("expiry_time"):
            meta.expiry_time = expiry

    return await job_reply(request, cluster.submit(f"PATCH {request.path}", apply, vol.svm.name))


@routes.delete("/api/storage/volumes/{uuid}/snapshots/{snap}")
async def delete_snapshot(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    vol = cluster.volume(request.match_info["uuid"])
    return await job_reply(request, cluster.delete_snapshot(vol, request.match_info["snap"]))
