"""``/api/snapmirror/policies``: built-in and SVM-scoped SnapMirror policies."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import OntapError, not_found
from ..model import E_INVALID
from ..query import check_return_timeout
from .common import cluster_of, coll, job_reply, read_body, single

routes = web.RouteTableDef()
POST_FIELDS = ("name", "svm", "type", "sync_type", "transfer_schedule", "throttle", "comment", "retention",
               "identity_preservation", "network_compression_enabled", "copy_all_source_snapshots", "rpo")


def policy_of(request: web.Request) -> t.Any:
    policy = cluster_of(request).policies.get(request.match_info["uuid"])
    if policy is None:
        raise not_found()
    return policy


@routes.get("/api/snapmirror/policies")
async def get_policies(request: web.Request) -> web.Response:
    return coll(request, [p.render() for p in cluster_of(request).policies.values()])


@routes.post("/api/snapmirror/policies")
async def post_policy(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    body = await read_body(request, POST_FIELDS)
    job, policy_uuid = cluster_of(request).create_policy(body)
    return await job_reply(request, job, f"/api/snapmirror/policies/{policy_uuid}")


@routes.get("/api/snapmirror/policies/{uuid}")
async def get_policy(request: web.Request) -> web.Response:
    return single(request, policy_of(request).render())


@routes.route("PATCH", "/api/snapmirror/policies/{uuid}")
async def patch_policy(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    policy = policy_of(request)
    if policy.svm is None:
        raise OntapError(400, f'The system policy "{policy.name}" cannot be modified.', E_INVALID)
    body = await read_body(request, ("transfer_schedule", "throttle", "comment"))
    schedule = body.get("transfer_schedule.name", body.get("transfer_schedule")) \
        if body.has("transfer_schedule") else ...
    if schedule not in (None, ...):
        cluster.check_schedule(schedule)

    def apply() -> None:
        if schedule is not ...:
            policy.transfer_schedule = schedule
        if body.has("throttle"):
            policy.throttle = body.number("throttle", 0) or 0
        if body.has("comment"):
            policy.comment = body.text("comment") or ""

    return await job_reply(request, cluster.submit(f"PATCH {request.path}", apply))


@routes.delete("/api/snapmirror/policies/{uuid}")
async def delete_policy(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    policy = policy_of(request)
    if policy.svm is None:
        raise OntapError(400, f'The system policy "{policy.name}" cannot be deleted.', E_INVALID)
    if any(r.policy is policy for r in cluster.relationships.values()):
        raise OntapError(409, f'Policy "{policy.name}" is in use by a relationship.', E_INVALID)
    job = cluster.submit(f"DELETE {request.path}", lambda: cluster.policies.pop(policy.uuid, None))
    return await job_reply(request, job)
