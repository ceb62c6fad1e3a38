"""``/api/snapmirror/relationships`` and their ``transfers``: SnapMirror as the REST API shows it."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import not_found, query_flag
from ..query import check_return_timeout
from .common import cluster_of, coll, job_reply, read_body, single, svm_scope

if t.TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster

routes = web.RouteTableDef()
REL_KEYS = ("uuid", "source.path", "source.svm", "destination.path", "destination.svm")
REL_EXPENSIVE = ("svmdr_volumes",)
ENDPOINT_FIELDS = ("path", "svm.name", "svm.uuid", "cluster.name", "cluster.uuid", "consistency_group_volumes",
                   "luns", "ipspace")
REL_COMMON = ("state", "policy.name", "policy.uuid", "transfer_schedule.name", "transfer_schedule.uuid",
              "throttle", "backoff_level", "identity_preservation") + \
    tuple(f"{end}.{field}" for end in ("source", "destination") for field in ENDPOINT_FIELDS)
REL_POST_FIELDS = REL_COMMON + ("create_destination", "restore")
REL_PATCH_FIELDS = REL_COMMON + ("quick_resync", "preserve", "restore_to_snapshot", "recover_after_break")
TRANSFER_KEYS = ("uuid", "state", "bytes_transferred", "end_time", "last_updated_time", "total_duration", "error_info",
                 "snapshot")


def rel_records(request: web.Request) -> list[dict[str, t.Any]]:
    cluster = cluster_of(request)
    scope = svm_scope(request)
    if query_flag(request.query, "list_destinations_only"):
        rels = list(cluster.outgoing.values())
        return [r.render() for r in rels if scope is None or r.src.svm.name == scope]
    return [r.render() for r in cluster.relationships.values() if scope is None or r.dst.svm.name == scope]


def transfer_records(cluster: Cluster, rel: t.Any) -> list[dict[str, t.Any]]:
    """The relationship's transfers: those ended in the last 24 h, then the running one. A transfer object
    has no ``type`` (the relationship's ``transfer.type`` and ``last_transfer_type`` tell it)."""
    now = cluster.clock.now()
    records = []
    for item in rel.history:
        if now - item["end_epoch"] > 86400:
            continue
        records.append({k: v for k, v in item.items() if k in TRANSFER_KEYS})
    if rel.active is not None and rel.transfer is not None:
        current = {k: v for k, v in rel.render()["transfer"].items() if k in TRANSFER_KEYS}
        if rel.active_snapshot:
            current["snapshot"] = rel.active_snapshot
        records.append(current)
    for record in records:
        record["relationship"] = {"uuid": rel.uuid, "destination": {"path": rel.destination_path}}
        record["_links"] = {"self": {"href": f"/api/snapmirror/relationships/{rel.uuid}/transfers/"
                                             f"{record.get('uuid', '')}"}}
    return records


# relationships ------------------------------------------------------------------------------------
@routes.get("/api/snapmirror/relationships")
async def get_relationships(request: web.Request) -> web.Response:
    return coll(request, rel_records(request), REL_KEYS, REL_EXPENSIVE)


@routes.post("/api/snapmirror/relationships")
async def post_relationship(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    body = await read_body(request, REL_POST_FIELDS)
    job, rel_uuid = cluster_of(request).create_relationship(body)
    return await job_reply(request, job, f"/api/snapmirror/relationships/{rel_uuid}")


@routes.get("/api/snapmirror/relationships/{uuid}")
async def get_relationship(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    rel_uuid = request.match_info["uuid"]
    rel = cluster.relationships.get(rel_uuid) or cluster.outgoing.get(rel_uuid)
    if rel is None:
        raise not_found()
    return single(request, rel.render(), REL_KEYS, REL_EXPENSIVE)


@routes.route("PATCH", "/api/snapmirror/relationships/{uuid}")
async def patch_relationship(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    rel = cluster.relationship(request.match_info["uuid"])
    body = await read_body(request, REL_PATCH_FIELDS)
    return await job_reply(request, cluster.modify_relationship(rel, body, request.query))


@routes.delete("/api/snapmirror/relationships/{uuid}")
async def delete_relationship(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    return await job_reply(request, cluster_of(request).delete_relationship(request.match_info["uuid"],
                                                                            request.query))


# transfers ----------------------------------------------------------------------------------------
@routes.get("/api/snapmirror/relationships/{uuid}/transfers")
async def get_transfers(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    rel = cluster.relationship(request.match_info["uuid"])
    return coll(request, transfer_records(cluster, rel), ("uuid",))


@routes.post("/api/snapmirror/relationships/{uuid}/transfers")
async def post_transfer(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    rel = cluster.relationship(request.match_info["uuid"])
    body = await read_body(request, ("source_snapshot", "throttle", "storage"))
    job, transfer_uuid = cluster.start_update(rel, body.text("source_snapshot"), body.number("throttle"))
    return await job_reply(request, job, f"/api/snapmirror/relationships/{rel.uuid}/transfers/{transfer_uuid}")


@routes.get("/api/snapmirror/relationships/{uuid}/transfers/{transfer}")
async def get_transfer(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    rel = cluster.relationship(request.match_info["uuid"])
    for record in transfer_records(cluster, rel):
        if record.get("uuid") == request.match_info["transfer"]:
            return single(request, record, ("uuid",))
    raise not_found()


@routes.route("PATCH", "/api/snapmirror/relationships/{uuid}/transfers/{transfer}")
async def patch_transfer(request: web.Request) -> web.Response:
    check_return_timeout(request.query, 0)
    cluster = cluster_of(request)
    rel = cluster.relationship(request.match_info["uuid"])
    body = await read_body(request, ("state",))
    return await job_reply(request, cluster.abort_transfer(rel, request.match_info["transfer"],
                                                           str(body.text("state"))))
