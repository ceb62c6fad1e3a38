"""The nodes of a simulated cluster: an HA pair, as ``GET /api/cluster/nodes`` shows it.

The lab has no hardware: each cluster has two nodes ``<cluster>-01`` and
``<cluster>-02`` of model ``SIMBOX`` (what ONTAP's simulator reports), partners of
each other, always ``up``; aggregates live on them in turn and jobs run on the first.
"""

from __future__ import annotations

import typing as t
import uuid as uuidlib
import zlib

from .query import timestamp

if t.TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster

MODEL = "SIMBOX"


class Node:
    """One node of the cluster's HA pair."""

    def __init__(self, cluster: Cluster, index: int) -> None:
        self.cluster = cluster
        self.index = index
        self.name = f"{cluster.cluster_name}-{index + 1:02d}"
        self.uuid = str(uuidlib.uuid4())
        seed = zlib.crc32(f"{cluster.name}/{self.name}".encode())
        self.serial_number = f"4{seed % 10**11:011d}"
        self.system_id = f"{4000000000 + seed % 100000000:010d}"
        self.booted = cluster.clock.now()

    @property
    def partner(self) -> Node:
        return self.cluster.nodes[1 - self.index]

    def ref(self) -> dict[str, t.Any]:
        return {"name": self.name, "uuid": self.uuid, "_links": {"self": {"href": f"/api/cluster/nodes/{self.uuid}"}}}

    def version(self) -> dict[str, t.Any]:
        major, minor = (int(x) for x in self.cluster.version.split(".")[1:3])
        return {"full": f"NetApp Release {self.cluster.version}: Fri Jan 01 00:00:00 UTC 2026",
                "generation": 9, "major": major, "minor": minor}

    def render(self) -> dict[str, t.Any]:
        now = self.cluster.clock.now()
        partner = self.partner
        return {
            "uuid": self.uuid, "name": self.name, "model": MODEL, "serial_number": self.serial_number,
            "system_id": self.system_id, "vendor_serial_number": self.serial_number,
            "system_machine_type": MODEL, "location": "", "owner": "", "membership": "member", "state": "up",
            "uptime": int(now - self.booted), "date": timestamp(now), "version": self.version(),
            "storage_configuration": "virtual", "is_spares_low": False,
            "ha": {"enabled": True, "auto_giveback": True,
                   "partners": [{"name": partner.name, "uuid": partner.uuid}],
                   "giveback": {"state": "nothing_to_giveback"},
                   "takeover": {"state": "not_attempted"}},
            "management_interfaces": [{"name": f"{self.name}_mgmt1",
                                       "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, self.uuid)),
                                       "ip": {"address": "127.0.0.1"}}],
            "_links": {"self": {"href": f"/api/cluster/nodes/{self.uuid}"}},
        }
