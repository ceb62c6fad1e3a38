"""``/api/cluster/jobs``: the cluster's asynchronous jobs."""

from __future__ import annotations

from aiohttp import web

from ..body import OntapError, not_found
from ..model import E_NOT_AVAILABLE
from .common import cluster_of, coll, single

routes = web.RouteTableDef()


@routes.get("/api/cluster/jobs")
async def get_jobs(request: web.Request) -> web.Response:
    return coll(request, [j.render() for j in cluster_of(request).jobs.values()], ("uuid",))


@routes.get("/api/cluster/jobs/{uuid}")
async def get_job(request: web.Request) -> web.Response:
    job = cluster_of(request).jobs.get(request.match_info["uuid"])
    if job is None:
        raise not_found()
    return single(request, job.render(), ("uuid",))


@routes.route("PATCH", "/api/cluster/jobs/{uuid}")
async def patch_job(request: web.Request) -> web.Response:
    job = cluster_of(request).jobs.get(request.match_info["uuid"])
    if job is None:
        raise not_found()
    raise OntapError(400, "This job cannot be cancelled.", E_NOT_AVAILABLE, "action")
