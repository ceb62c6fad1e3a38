"""``/api/cluster``, its schedules and its cluster peers."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import not_found
from ..query import timestamp
from .common import cluster_of, coll, single

routes = web.RouteTableDef()


def public(record: dict[str, t.Any], base: str) -> dict[str, t.Any]:
    """A peer record without the lab's private keys, with its self link."""
    out = {k: v for k, v in record.items() if not k.startswith("_")}
    out["_links"] = {"self": {"href": f"{base}/{record['uuid']}"}}
    return out


@routes.get("/api/cluster")
async def get_cluster(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    major, minor = (int(x) for x in cluster.version.split(".")[1:3])
    record = {"name": cluster.cluster_name, "uuid": cluster.uuid,
              "version": {"full": f"NetApp Release {cluster.version}: Fri Jan 01 00:00:00 UTC 2026",
                          "generation": 9, "major": major, "minor": minor},
              "_links": {"self": {"href": "/api/cluster"}}}
    return single(request, record, ())  # fields=version gives the version alone


@routes.get("/api/cluster/schedules")
async def get_schedules(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    records = [{"name": n, "uuid": cluster.schedule_uuid(n), "type": "interval",
                "interval": f"PT{int(s)}S"} for n, s in cluster.schedules.items()]
    return coll(request, records)


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
