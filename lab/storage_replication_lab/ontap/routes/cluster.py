"""``/api/cluster``, its nodes, its schedules and its cluster peers."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import not_found
from ..query import iso_duration, timestamp
from .common import cluster_of, coll, single

if t.TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster

routes = web.RouteTableDef()


def public(record: dict[str, t.Any], base: str) -> dict[str, t.Any]:
    """A peer record without the lab's private keys, with its self link."""
    out = {k: v for k, v in record.items() if not k.startswith("_")}
    out["_links"] = {"self": {"href": f"{base}/{record['uuid']}"}}
    return out


@routes.get("/api/cluster")
async def get_cluster(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    record = {"name": cluster.cluster_name, "uuid": cluster.uuid, "version": cluster.nodes[0].version(),
              "location": "", "contact": "", "dns_domains": [], "name_servers": [], "ntp_servers": [],
              "timezone": {"name": "Etc/UTC"}, "san_optimized": False,
              "management_interfaces": [{"name": "cluster_mgmt", "ip": {"address": "127.0.0.1"}}],
              "_links": {"self": {"href": "/api/cluster"}}}
    return single(request, record, ())  # fields=version gives the version alone


# nodes --------------------------------------------------------------------------------------------
@routes.get("/api/cluster/nodes")
async def get_nodes(request: web.Request) -> web.Response:
    return coll(request, [n.render() for n in cluster_of(request).nodes])


@routes.get("/api/cluster/nodes/{uuid}")
async def get_node(request: web.Request) -> web.Response:
    for node in cluster_of(request).nodes:
        if node.uuid == request.match_info["uuid"]:
            return single(request, node.render())
    raise not_found()


# schedules ----------------------------------------------------------------------------------------
def schedule_records(cluster: Cluster) -> list[dict[str, t.Any]]:
    """The cluster's schedules; the lab runs them all as intervals."""
    return [{"name": n, "uuid": cluster.schedule_uuid(n), "type": "interval", "interval": iso_duration(s),
             "scope": "cluster", "cluster": {"name": cluster.cluster_name, "uuid": cluster.uuid},
             "_links": {"self": {"href": f"/api/cluster/schedules/{cluster.schedule_uuid(n)}"}}}
            for n, s in cluster.schedules.items()]


@routes.get("/api/cluster/schedules")
async def get_schedules(request: web.Request) -> web.Response:
    return coll(request, schedule_records(cluster_of(request)))


@routes.get("/api/cluster/schedules/{uuid}")
async def get_schedule(request: web.Request) -> web.Response:
    for record in schedule_records(cluster_of(request)):
        if record["uuid"] == request.match_info["uuid"]:
            return single(request, record)
    raise not_found()


# peers --------------------------------------------------------------------------------------------


@routes.get("/api/cluster/peers")
async def get_cluster_peers(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    records = []
    for record in cluster.cluster_peers.values():
        out = public(record, "/api/cluster/peers")
        up = cluster.fabric.reachable(cluster.name, record["_cluster"]) is None
        out["status"] = {"state": "available" if up else "unavailable", "update_time": timestamp(cluster.clock.now())}
        records.append(out)
    return coll(request, records)


@routes.get("/api/cluster/peers/{uuid}")
async def get_cluster_peer(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    record = cluster.cluster_peers.get(request.match_info["uuid"])
    if record is None:
        raise not_found()
    out = public(record, "/api/cluster/peers")
    up = cluster.fabric.reachable(cluster.name, record["_cluster"]) is None
    out["status"] = {"state": "available" if up else "unavailable"}
    return single(request, out)
