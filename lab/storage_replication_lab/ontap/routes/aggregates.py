"""``/api/storage/aggregates``: where the cluster's volumes take their space from."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import not_found
from .common import cluster_of, coll, single

if t.TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster

routes = web.RouteTableDef()


def aggr_record(cluster: Cluster, aggr: t.Any) -> dict[str, t.Any]:
    free = cluster.aggregate_free(aggr)
    return {"name": aggr.name, "uuid": aggr.uuid, "state": "online",
            "space": {"block_storage": {"size": aggr.size, "available": free, "used": aggr.size - free}},
            "_links": {"self": {"href": f"/api/storage/aggregates/{aggr.uuid}"}}}


@routes.get("/api/storage/aggregates")
async def get_aggregates(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    return coll(request, [aggr_record(cluster, a) for a in cluster.aggregates.values()])


@routes.get("/api/storage/aggregates/{uuid}")
async def get_aggregate(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    for aggr in cluster.aggregates.values():
        if aggr.uuid == request.match_info["uuid"]:
            return single(request, aggr_record(cluster, aggr))
    raise not_found()
