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
    """An aggregate on its node: its space is what the cluster's volumes on it have not taken."""
    free = cluster.aggregate_free(aggr)
    volumes = sum(1 for v in cluster.volumes.values() if aggr in v.aggregates)
    node = {k: v for k, v in aggr.node.ref().items() if k != "_links"}
    return {"name": aggr.name, "uuid": aggr.uuid, "state": "online", "node": node, "home_node": node,
            "snaplock_type": "non_snaplock", "volume-count": volumes,
            "block_storage": {"primary": {"disk_type": "ssd", "raid_type": "raid_dp", "disk_class": "solid_state"},
                              "mirror": {"enabled": False, "state": "unmirrored"}, "hybrid_cache": {"enabled": False}},
            "data_encryption": {"software_encryption_enabled": False, "drive_protection_enabled": False},
            "space": {"block_storage": {"size": aggr.size, "available": free, "used": aggr.size - free,
                                        "full_threshold_percent": 98}},
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
