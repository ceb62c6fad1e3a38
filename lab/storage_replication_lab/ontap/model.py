"""The ONTAP cluster model: SVMs, aggregates, volumes, snapshots, policies, peers,
SnapMirror relationships and jobs, with the state machine of the fact sheet.

Error codes: those the fact sheet names are used as it names them (1, 2, 3, 4, 6,
262179, 262197, 262224, 6619637, 6620046, 13303844). Where it is silent the lab
picks one code per refusal and keeps it stable (the ``E_*`` constants below), so a
client can show it and a test can assert it.
"""

from __future__ import annotations

import datetime
import itertools
import typing as t
import uuid as uuidlib

from ..fabric import Transfer, Volume, parse_size
from .body import OntapError, not_found
from .query import iso_duration, timestamp
from .volume import VolumeSettings, settings_record

if t.TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster

E_DUPLICATE = "1"
E_INVALID = "2"
E_NOT_AVAILABLE = "3"
E_RANGE = "262197"
E_PEER_UNREACHABLE = "262224"
E_REL_EXISTS = "6619637"
E_ABORTED = "6620046"
E_UPDATE_FAILED = "13303844"
# lab-chosen codes (the fact sheet gives no number for these refusals)
E_BAD_STATE = "13303812"
E_TRANSFER_BUSY = "13303808"
E_NO_COMMON_SNAPSHOT = "13303880"
E_DEST_TOO_SMALL = "13303819"
E_POLICY_NOT_FOUND = "13303845"
E_SVM_NOT_PEERED = "13303850"
E_SVM_NOT_FOUND = "13434908"
E_VOLUME_NOT_FOUND = "917927"
E_VOLUME_TYPE = "13303851"
E_AGGR_NOT_FOUND = "918236"
E_AGGR_FULL = "917534"
E_VOLUME_IN_USE = "917536"
E_SHRINK = "917538"
E_SNAPSHOT_BUSY = "1638555"
E_SCHEDULE_NOT_FOUND = "13303852"
E_VOLUME_MOUNTED = "917548"
E_HAS_CLONES = "917552"
#: the owner ONTAP names for the base snapshot of a FlexClone volume
CLONE_OWNER = "volume clone"

SCHEDULES = {"1min": 60, "5min": 300, "10min": 600, "15min": 900, "hourly": 3600, "8hour": 28800,
             "daily": 86400, "weekly": 604800}
BUILTIN_POLICIES = [
    ("Asynchronous", "async", None), ("MirrorAllSnapshots", "async", None),
    ("MirrorAndVault", "async", None), ("MirrorLatest", "async", None), ("XDPDefault", "async", None),
    ("Sync", "sync", "sync"), ("StrictSync", "sync", "strict_sync"),
    ("AutomatedFailOver", "sync", "automated_failover"),
    ("AutomatedFailOverDuplex", "sync", "automated_failover_duplex"),
]
REL_TRANSFER_KEYS = ("state", "type", "uuid", "bytes_transferred", "end_time", "last_updated_time", "total_duration")
_seq = itertools.count(1)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def _link(href: str) -> dict[str, t.Any]:
    return {"self": {"href": href}}


class Job:
    def __init__(self, cluster: Cluster, description: str, svm: str | None = None) -> None:
        self.uuid = new_uuid()
        self.cluster = cluster
        self.description = description
        self.state = "queued"
        self.message = "Queued"
        self.code = 0
        self.error: dict[str, str] | None = None
        self.start_time = cluster.clock.now()
        self.end_time: float | None = None
        self.svm = svm
        self.waiters: list[t.Any] = []

    @property
    def terminal(self) -> bool:
        return self.state in ("success", "failure")

    def finish(self, error: OntapError | None = None) -> None:
        self.end_time = self.cluster.clock.now()
        if error is None:
            self.state, self.message, self.code = "success", "success", 0
        else:
            self.state = "failure"
            self.message = error.message
            self.code = int(error.code) if error.code.isdigit() else 1
            self.error = {"code": error.code, "message": error.message}
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(True)

    def render(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "uuid": self.uuid, "description": self.description, "state": self.state,
            "message": self.message, "code": self.code, "start_time": timestamp(self.start_time),
            "node": {"name": self.cluster.nodes[0].name},
            "_links": _link(f"/api/cluster/jobs/{self.uuid}"),
        }
        if self.end_time is not None:
            out["end_time"] = timestamp(self.end_time)
        if self.error:
            out["error"] = dict(self.error)
        if self.svm:
            out["svm"] = {"name": self.svm}
        return out


class Svm:
    def __init__(self, name: str) -> None:
        self.name = name
        self.uuid = new_uuid()
        self.export_policy_id = 12884901888 + next(_seq)  # the id of the SVM's "default" export policy
        # its NFS export policies by name (ids unique in the cluster) and their rules
        self.export_policies: dict[str, int] = {"default": self.export_policy_id}
        self.export_rules: dict[str, list[dict[str, t.Any]]] = {"default": []}

    def ref(self) -> dict[str, str]:
        return {"name": self.name, "uuid": self.uuid}


class Aggregate:
    def __init__(self, name: str, size: int, node: t.Any = None) -> None:
        self.name = name
        self.uuid = new_uuid()
        self.size = size
        self.node = node  # the nodes.Node that owns it


class SnapshotMeta:
    def __init__(self, name: str, owners: set[str] | None = None, comment: str = "", label: str = "") -> None:
        self.name = name
        self.uuid = new_uuid()
        self.owners = set(owners or ())
        self.comment = comment
        self.label = label
        self.expiry_time: str | None = None


class OVolume:
    def __init__(self, cluster: Cluster, svm: Svm, name: str, size: int, aggregates: list[Aggregate],
                 vtype: str = "rw", nas_path: str | None = None, uuid: str | None = None) -> None:
        self.cluster = cluster
        self.svm = svm
        self.name = name
        self.uuid = uuid or new_uuid()
        self.type = vtype
        self.state = "online"
        self.aggregates = aggregates
        self.nas_path = nas_path
        self.create_time = cluster.clock.now()
        self.msid = 2150000000 + next(_seq)
        self.clone: dict[str, t.Any] = {"is_flexclone": False}
        self.snapmeta: dict[str, SnapshotMeta] = {}
        self.settings = VolumeSettings()
        self.fv: Volume = cluster.fabric.new_volume(cluster.name, f"{svm.name}:{name}", size)
        self.fv.listeners.append(lambda _fv, indices: cluster.on_source_write(self.uuid, indices))
        self.refresh_access()

    @property
    def path(self) -> str:
        return f"{self.svm.name}:{self.name}"

    @property
    def size(self) -> int:
        return self.fv.size

    def refresh_access(self) -> None:
        if self.state != "online" or not self.nas_path:
            self.fv.host_access = "none"  # offline or without a junction path, hosts cannot reach it
        else:
            self.fv.host_access = "rw" if self.type == "rw" else "ro"

    def snapshot(self, name: str, owners: set[str] | None = None, comment: str = "", label: str = "",
                 blocks: dict[int, str] | None = None, create_time: float | None = None) -> SnapshotMeta:
        when = self.cluster.clock.now() if create_time is None else create_time
        snap = self.fv.take_snapshot(name, when)
        if blocks is not None:
            snap.blocks = dict(blocks)
        meta = SnapshotMeta(name, owners, comment, label)
        self.snapmeta[name] = meta
        return meta

    def drop_snapshot(self, name: str) -> None:
        """Delete a snapshot, unless it is the base of a clone: ONTAP keeps that one while the clone lives (a
        SnapMirror transfer that would remove it from a destination leaves it there)."""
        if self.clones(name):
            return
        self.fv.snapshots.pop(name, None)
        self.snapmeta.pop(name, None)

    def clones(self, snapshot: str | None = None) -> list[OVolume]:
        """The FlexClone volumes of this volume (made from ``snapshot``, when given)."""
        out = []
        for other in self.cluster.volumes.values():
            clone = other.clone
            if not clone.get("is_flexclone") or (clone.get("parent_volume") or {}).get("uuid") != self.uuid:
                continue
            if snapshot is None or (clone.get("parent_snapshot") or {}).get("name") == snapshot:
                out.append(other)
        return out

    def snapshot_owners(self, meta: SnapshotMeta) -> list[str]:
        """Who holds a snapshot: its own owners, and ``volume clone`` while it is the base of a clone."""
        return sorted(meta.owners | ({CLONE_OWNER} if self.clones(meta.name) else set()))

    def snapshot_by_uuid(self, snap_uuid: str) -> SnapshotMeta:
        for meta in self.snapmeta.values():
            if meta.uuid == snap_uuid:
                return meta
        raise not_found()

    def render(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "uuid": self.uuid, "name": self.name, "svm": self.svm.ref(), "type": self.type,
            "state": self.state, "style": "flexvol" if len(self.aggregates) <= 1 else "flexgroup",
            "size": self.size, "create_time": timestamp(self.create_time),
            "aggregates": [{"name": a.name, "uuid": a.uuid} for a in self.aggregates],
            "msid": self.msid, "clone": dict(self.clone, has_flexclone=bool(self.clones())),
            "snapmirror": {"is_protected": self.cluster.lab_protected(self),
                           "destinations": {"is_ontap": self.cluster.lab_protected(self), "is_cloud": False}},
            "_links": _link(f"/api/storage/volumes/{self.uuid}"),
        }
        out.update(settings_record(self))
        if self.nas_path:
            out["nas"]["path"] = self.nas_path
        return out

    def render_snapshot(self, meta: SnapshotMeta, delta_against: str | None, want_delta: bool) -> dict[str, t.Any]:
        snap = self.fv.snapshots[meta.name]
        out: dict[str, t.Any] = {
            "uuid": meta.uuid, "name": meta.name, "create_time": timestamp(snap.create_time),
            "volume": {"name": self.name, "uuid": self.uuid}, "svm": self.svm.ref(),
            "size": len(snap.blocks) * self.fv.block_size, "state": "valid",
            "owners": self.snapshot_owners(meta),
            "_links": _link(f"/api/storage/volumes/{self.uuid}/snapshots/{meta.uuid}"),
        }
        if meta.comment:
            out["comment"] = meta.comment
        if meta.label:
            out["snapmirror_label"] = meta.label
        if meta.expiry_time:
            out["expiry_time"] = meta.expiry_time
        if want_delta:
            if delta_against and delta_against in self.fv.snapshots:
                other = self.fv.snapshots[delta_against]
                consumed = self.fv.delta_bytes(snap.blocks, other.blocks)
                elapsed = abs(other.create_time - snap.create_time)
            else:
                consumed = self.fv.delta_bytes(snap.blocks)
                elapsed = self.cluster.clock.now() - snap.create_time
            out["delta"] = {"size_consumed": consumed, "time_elapsed": iso_duration(elapsed)}
        return out


class Policy:
    def __init__(self, name: str, ptype: str, sync_type: str | None, svm: Svm | None = None) -> None:
        self.name = name
        self.uuid = new_uuid()
        self.type = ptype
        self.sync_type = sync_type
        self.svm = svm
        self.transfer_schedule: str | None = None
        self.throttle = 0
        self.comment = ""

    @property
    def active_state(self) -> str:
        return "in_sync" if self.type == "sync" else "snapmirrored"

    def ref(self) -> dict[str, str]:
        return {"name": self.name, "uuid": self.uuid, "type": self.type}

    def render(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "uuid": self.uuid, "name": self.name, "type": self.type,
            "scope": "svm" if self.svm else "cluster", "throttle": self.throttle,
            "comment": self.comment, "identity_preservation": "exclude_network_and_protocol_config",
            "network_compression_enabled": False, "copy_all_source_snapshots": self.name == "MirrorAllSnapshots",
            "_links": _link(f"/api/snapmirror/policies/{self.uuid}"),
        }
        if self.sync_type:
            out["sync_type"] = self.sync_type
        if self.svm:
            out["svm"] = self.svm.ref()
        if self.transfer_schedule:
            out["transfer_schedule"] = {"name": self.transfer_schedule}
        return out


class Relationship:
    """A SnapMirror relationship; the object lives on its destination cluster."""

    def __init__(self, src: OVolume, dst: OVolume, policy: Policy) -> None:
        self.uuid = new_uuid()
        self.src = src
        self.dst = dst
        self.policy = policy
        self.transfer_schedule: str | None = policy.transfer_schedule
        self.throttle = 0
        self.backoff_level = "high"
        self.state = "uninitialized"
        self.healthy = True
        self.unhealthy_reason: list[dict[str, t.Any]] = []
        self.transfer: dict[str, t.Any] | None = None
        self.active: Transfer | None = None
        self.active_snapshot: str | None = None
        self.exported_snapshot: str | None = None
        self.exported_time: float | None = None
        self.last_transfer_type: str | None = None
        self.total_bytes = 0
        self.total_duration = 0.0
        self.pending_quiesce = False
        self.checkpoint = 0
        self.last_schedule_run = src.cluster.clock.now()
        self.history: list[dict[str, t.Any]] = []
        self.create_time = src.cluster.clock.now()

    @property
    def source_path(self) -> str:
        return f"{self.source_alias()}:{self.src.name}"

    def source_alias(self) -> str:
        """The source SVM as the destination cluster names it (its local peer alias)."""
        return self.dst.cluster.alias_for(self.src.cluster.name, self.src.svm.name)

    @property
    def destination_path(self) -> str:
        return self.dst.path

    def owner_tag(self) -> str:
        return f"snapmirror:{self.uuid}"

    def render(self) -> dict[str, t.Any]:
        now = self.dst.cluster.clock.now()
        out: dict[str, t.Any] = {
            "uuid": self.uuid,
            "source": {"path": self.source_path, "svm": {"name": self.source_alias(), "uuid": self.src.svm.uuid},
                       "cluster": {"name": self.src.cluster.cluster_name, "uuid": self.src.cluster.uuid}},
            "destination": {"path": self.destination_path, "svm": self.dst.svm.ref(),
                            "cluster": {"name": self.dst.cluster.cluster_name, "uuid": self.dst.cluster.uuid},
                            "ipspace": "Default"},
            "state": self.state,
            "healthy": self.healthy,
            "policy": self.policy.ref(),
            "throttle": self.throttle,
            "backoff_level": self.backoff_level,
            "group_type": "none",
            "restore": False,
            "total_transfer_bytes": self.total_bytes,
            "total_transfer_duration": iso_duration(self.total_duration),
            "_links": _link(f"/api/snapmirror/relationships/{self.uuid}"),
        }
        if not self.healthy:
            out["unhealthy_reason"] = list(self.unhealthy_reason)
        if self.transfer_schedule:
            out["transfer_schedule"] = {"name": self.transfer_schedule,
                                        "uuid": self.dst.cluster.schedule_uuid(self.transfer_schedule)}
        if self.transfer is not None:
            # the relationship shows the current or last transfer in the model's terms (no error_info, no snapshot)
            transfer = {k: v for k, v in self.transfer.items() if k in REL_TRANSFER_KEYS}
            if self.active is not None:
                transfer["bytes_transferred"] = int(self.active.bytes_done) + self.transfer.get("base_bytes", 0)
                transfer["last_updated_time"] = timestamp(now)
                transfer["total_duration"] = iso_duration(now - self.active.started)
            out["transfer"] = transfer
        if self.exported_snapshot:
            out["exported_snapshot"] = self.exported_snapshot
            if self.state == "in_sync":
                out["lag_time"] = "PT0S"
            elif self.exported_time is not None:
                out["lag_time"] = iso_duration(now - self.exported_time)
        if self.last_transfer_type:
            out["last_transfer_type"] = self.last_transfer_type
        return out


def parse_when(value: t.Any) -> float | None:
    if value in (None, ""):
        return None
    text = str(value).replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.datetime.fromisoformat(text).timestamp()


def size_of(value: t.Any, field: str = "size") -> int:
    try:
        return parse_size(value)
    except ValueError as exc:
        raise OntapError(400, f'Invalid value "{value}" for field "{field}".', E_INVALID, field) from exc
