"""``/api/storage/volumes``: FlexVol volumes, one by one or by query."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import OntapError
from ..model import E_INVALID
from ..query import check_return_timeout, filters_of, matches
from ..volume import POST_ONLY_FIELDS, SETTINGS_FIELDS
from .common import cluster_of, coll, job_reply, jobs_reply, read_body, single, svm_scope

routes = web.RouteTableDef()
# what a PATCH may change (the settings are in ..volume); POST adds what only a create sets
PATCH_FIELDS = ("name", "aggregates", "size", "nas.path", "state", "clone", "style",
                "constituents_per_aggregate") + SETTINGS_FIELDS
POST_FIELDS = PATCH_FIELDS + ("svm.name", "svm.uuid", "type") + POST_ONLY_FIELDS


def volume_records(request: web.Request) -> list[dict[str, t.Any]]:
    scope = svm_scope(request)
    return [v.render() for v in cluster_of(request).volumes.values() if scope is None or v.svm.name == scope]


def matching_volumes(request: web.Request) -> list[t.Any]:
    filters = filters_of(request.query)
    if not filters:
        raise OntapError(400, "A PATCH or DELETE on the volume collection needs a query.", E_INVALID)
    return [cluster_of(request).volumes[r["uuid"]] for r in volume_records(request) if matches(r, filters)]


@routes.get("/api/storage/volumes")
async def get_volumes(request: web.Request) -> web.Response:
    return coll(request, volume_records(request))


@routes.post("/api/storage/volumes")
async def post_volume(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    body = await read_body(request, POST_FIELDS)
    job, vol_uuid = cluster_of(request).create_volume(body, svm_scope(request))
    return await job_reply(request, job, f"/api/storage/volumes/{vol_uuid}")


@routes.route("PATCH", "/api/storage/volumes")
async def patch_volumes(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    body = await read_body(request, PATCH_FIELDS)
    cluster = cluster_of(request)
    return await jobs_reply(request, [cluster.modify_volume(v, body) for v in matching_volumes(request)])


@routes.delete("/api/storage/volumes")
async def delete_volumes(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    return await jobs_reply(request, [cluster.delete_volume(v) for v in matching_volumes(request)])


@routes.get("/api/storage/volumes/{uuid}")
async def get_volume(request: web.Request) -> web.Response:
    return single(request, cluster_of(request).volume(request.match_info["uuid"]).render())


@routes.route("PATCH", "/api/storage/volumes/{uuid}")
async def patch_volume(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    vol = cluster.volume(request.match_info["uuid"])
    body = await read_body(request, PATCH_FIELDS)
    return await job_reply(request, cluster.modify_volume(vol, body))


@routes.delete("/api/storage/volumes/{uuid}")
async def delete_volume(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    vol = cluster.volume(request.match_info["uuid"])
    return await job_reply(request, cluster.delete_volume(vol))
