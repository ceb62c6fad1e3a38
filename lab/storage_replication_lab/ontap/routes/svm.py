"""``/api/svm/svms`` and ``/api/svm/peers``: the cluster's SVMs and their peerings."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import Body, OntapError, not_found
from ..model import E_DUPLICATE, E_INVALID
from ..query import check_return_timeout
from .cluster import public
from .common import cluster_of, coll, job_reply, read_body, single

if t.TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster

routes = web.RouteTableDef()


def svm_record(cluster: Cluster, svm: t.Any) -> dict[str, t.Any]:
    """A data SVM: every aggregate is delegated to it, it serves NFS, its snapshot policy is ``default``."""
    return {"name": svm.name, "uuid": svm.uuid, "state": "running", "subtype": "default",
            "language": "c.utf_8", "comment": "", "ipspace": {"name": "Default"},
            "aggregates": [{"name": a.name, "uuid": a.uuid} for a in cluster.aggregates.values()],
            "aggregates_delegated": True,
            "snapshot_policy": {"name": "default", "uuid": cluster.snapshot_policies["default"]},
            "nfs": {"enabled": True}, "cifs": {"enabled": False}, "iscsi": {"enabled": False},
            "fcp": {"enabled": False}, "nvme": {"enabled": False},
            "_links": {"self": {"href": f"/api/svm/svms/{svm.uuid}"}}}


def peer_record(request: web.Request) -> dict[str, t.Any]:
    record = cluster_of(request).svm_peers.get(request.match_info["uuid"])
    if record is None:
        raise not_found()
    return record


# peers ----------------------------------------------------------------------------------------
@routes.get("/api/svm/peers")
async def get_svm_peers(request: web.Request) -> web.Response:
    return coll(request, [public(r, "/api/svm/peers") for r in cluster_of(request).svm_peers.values()])


@routes.get("/api/svm/peers/{uuid}")
async def get_svm_peer(request: web.Request) -> web.Response:
    return single(request, public(peer_record(request), "/api/svm/peers"))


@routes.post("/api/svm/peers")
async def post_svm_peer(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    check_return_timeout(request.query, 0)
    body = await read_body(request, ("svm", "peer", "applications", "name", "force"))
    svm = cluster.svm(body.text("svm.name"))
    other_name = body.text("peer.cluster.name") or cluster.cluster_name
    other = next((a for a in cluster.lab.arrays.values()
                  if getattr(a, "cluster_name", None) == other_name), None)
    if other is None:
        raise OntapError(400, f'Cluster "{other_name}" is not a peer.', E_INVALID, "peer.cluster.name")
    remote = other.svm(body.text("peer.svm.name"), "peer.svm.name")
    apps = body.get("applications") or ["snapmirror"]
    for record in cluster.svm_peers.values():
        if record["svm"]["name"] == svm.name and record["peer"]["svm"]["name"] == remote.name:
            raise OntapError(409, "The SVM peer relationship already exists.", E_DUPLICATE)
    if other is not cluster:
        cluster.contact(other)

    def apply() -> None:
        cluster._add_svm_peer(svm, other, remote, "initiated" if other is not cluster else "peered",  # pylint: disable=protected-access
                              list(apps), body.text("name"))
        if other is not cluster:
            other._add_svm_peer(remote, cluster, svm, "pending", list(apps))  # pylint: disable=protected-access

    job = cluster.submit("POST /api/svm/peers", apply)
    return await job_reply(request, job)


def _patch_peer(cluster: Cluster, record: dict[str, t.Any], body: Body, state: str | None) -> None:
    """What ``PATCH /api/svm/peers/<uuid>`` does inside its job."""
    if state == "peered":
        record["state"] = "peered"
        other = cluster.peer(record["_cluster"])
        for mirror in other.svm_peers.values():
            if mirror["peer"]["svm"]["name"] == record["svm"]["name"] and \
                    mirror["svm"]["name"] == record["peer"]["svm"]["name"]:
                mirror["state"] = "peered"
    elif state is not None:
        record["state"] = state
    if body.has("applications"):
        record["applications"] = list(body.get("applications") or [])
    if body.text("name"):
        record["name"] = body.text("name")


@routes.route("PATCH", "/api/svm/peers/{uuid}")
async def patch_svm_peer(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    check_return_timeout(request.query, 0)
    record = peer_record(request)
    body = await read_body(request, ("state", "applications", "name"))
    state = body.text("state")
    if state is not None and state not in ("peered", "rejected", "suspended"):
        raise OntapError(400, f'Invalid value "{state}" for field "state".', E_INVALID, "state")
    if state == "peered" and record["state"] == "initiated":
        raise OntapError(400, "The SVM peer relationship can only be accepted on the peer cluster.", E_INVALID,
                         "state")
    job = cluster.submit(f"PATCH /api/svm/peers/{record['uuid']}", lambda: _patch_peer(cluster, record, body, state))
    return await job_reply(request, job)


@routes.delete("/api/svm/peers/{uuid}")
async def delete_svm_peer(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    check_return_timeout(request.query, 0)
    record = peer_record(request)
    job = cluster.submit(f"DELETE /api/svm/peers/{record['uuid']}",
                         lambda: cluster.svm_peers.pop(record["uuid"], None))
    return await job_reply(request, job)


# svms -----------------------------------------------------------------------------------------
@routes.get("/api/svm/svms")
async def get_svms(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    return coll(request, [svm_record(cluster, s) for s in cluster.svms.values()])


@routes.get("/api/svm/svms/{uuid}")
async def get_svm(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    for svm in cluster.svms.values():
        if svm.uuid == request.match_info["uuid"]:
            return single(request, svm_record(cluster, svm))
    raise not_found()
