"""The ONTAP cluster simulator (REST under ``/api``)."""

from __future__ import annotations

import datetime
import typing as t

from ..fabric import Transfer, diff_blocks, parse_size
from ..server import ArrayBase
from ..topology import expand_items
from .body import Body, OntapError, not_found, query_flag
from .model import (BUILTIN_POLICIES, E_ABORTED, E_AGGR_FULL, E_AGGR_NOT_FOUND, E_BAD_STATE, E_DEST_TOO_SMALL,
                    E_DUPLICATE, E_INVALID, E_NO_COMMON_SNAPSHOT, E_NOT_AVAILABLE, E_PEER_UNREACHABLE,
                    E_POLICY_NOT_FOUND, E_REL_EXISTS, E_SCHEDULE_NOT_FOUND, E_SHRINK, E_SNAPSHOT_BUSY,
                    E_SVM_NOT_FOUND, E_SVM_NOT_PEERED, E_TRANSFER_BUSY, E_UPDATE_FAILED,
                    E_VOLUME_IN_USE, E_VOLUME_NOT_FOUND, E_VOLUME_TYPE, SCHEDULES, Aggregate, Job, OVolume,
                    Policy, Relationship, Svm, new_uuid, size_of)
from .query import iso_duration, timestamp

ACTIVE_STATES = ("snapmirrored", "in_sync", "out_of_sync", "synchronizing")


class Cluster(ArrayBase):
    vendor = "ontap"

    def __init__(self, lab, name: str, spec: dict[str, t.Any]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(lab, name, spec)
        self.cluster_name = str(spec.get("cluster_name", name))
        self.uuid = new_uuid()
        self.version = str(spec.get("version", "9.14.1"))
        self.job_seconds = float(spec.get("job_seconds", 0.05))
        self.job_retention = float(spec.get("job_retention", 300))
        self.page_size = spec.get("page_size")
        self.schedules = dict(SCHEDULES)
        self.schedules.update({str(k): float(v) for k, v in (spec.get("schedules") or {}).items()})
        self._schedule_uuids = {name: new_uuid() for name in self.schedules}
        self.svms: dict[str, Svm] = {}
        self.aggregates: dict[str, Aggregate] = {}
        self.volumes: dict[str, OVolume] = {}
        self.relationships: dict[str, Relationship] = {}
        self.outgoing: dict[str, Relationship] = {}
        self.policies: dict[str, Policy] = {}
        self.jobs: dict[str, Job] = {}
        self.cluster_peers: dict[str, dict[str, t.Any]] = {}
        self.svm_peers: dict[str, dict[str, t.Any]] = {}
        for pname, ptype, sync_type in BUILTIN_POLICIES:
            policy = Policy(pname, ptype, sync_type)
            self.policies[policy.uuid] = policy
        for aggr in spec.get("aggregates") or [{"name": f"aggr1_{name.replace('-', '_')}", "size": "100TiB"}]:
            aggregate = Aggregate(str(aggr["name"]), parse_size(aggr.get("size", "100TiB")))
            self.aggregates[aggregate.name] = aggregate
        default_aggr = next(iter(self.aggregates.values()))
        for svm_spec in spec.get("svms") or []:
            svm = Svm(str(svm_spec["name"]))
            self.svms[svm.name] = svm
            for vol_spec in expand_items(svm_spec.get("volumes")):
                aggr = self.aggregates.get(str(vol_spec.get("aggregate", default_aggr.name)), default_aggr)
                vol = OVolume(self, svm, str(vol_spec["name"]), parse_size(vol_spec.get("size", "1GiB")),
                              [aggr], str(vol_spec.get("type", "rw")), vol_spec.get("nas_path"))
                if vol_spec.get("data_blocks"):
                    vol.fv.write(min(int(vol_spec["data_blocks"]), vol.fv.nblocks), offset=0)
                self.volumes[vol.uuid] = vol
        self.fabric.hooks.append(self._tick)

    # topology --------------------------------------------------------------------
    def post_init(self) -> None:
        for peer in self.spec.get("peers") or []:
            other = self.lab.arrays.get(peer["cluster"])
            if not isinstance(other, Cluster):
                raise ValueError(f"{self.name}: peer {peer['cluster']} is not an ONTAP array of the topology")
            self._add_cluster_peer(other)
            other._add_cluster_peer(self)  # pylint: disable=protected-access
            for local, remote in peer.get("svms") or []:
                self._add_svm_peer(self.svms[local], other, other.svms[remote], "peered")
                other._add_svm_peer(other.svms[remote], self, self.svms[local], "peered")  # pylint: disable=protected-access

    def _add_cluster_peer(self, other: Cluster) -> None:
        if any(p["name"] == other.cluster_name for p in self.cluster_peers.values()):
            return
        peer_uuid = new_uuid()
        self.cluster_peers[peer_uuid] = {
            "uuid": peer_uuid, "name": other.cluster_name,
            "remote": {"name": other.cluster_name, "ip_addresses": ["127.0.0.1"]},
            "authentication": {"state": "ok"}, "encryption": {"state": "tls_psk"}, "ipspace": {"name": "Default"},
            "version": {"full": f"NetApp Release {other.version}", "generation": 9,
                        "major": int(other.version.split(".")[1]), "minor": int(other.version.split(".")[2])},
            "_cluster": other.name,
        }

    def _add_svm_peer(self, svm: Svm, other: Cluster, remote: Svm, state: str,
                      applications: list[str] | None = None, alias: str | None = None) -> dict[str, t.Any]:
        peer_uuid = new_uuid()
        record = {
            "uuid": peer_uuid, "svm": svm.ref(), "name": alias or remote.name,
            "peer": {"svm": remote.ref(), "cluster": {"name": other.cluster_name, "uuid": other.uuid}},
            "state": state, "applications": applications or ["snapmirror"],
            "_cluster": other.name,
        }
        self.svm_peers[peer_uuid] = record
        return record

    def endpoint_extra(self) -> dict[str, t.Any]:
        return {"cluster_name": self.cluster_name, "svms": sorted(self.svms)}

    def settings(self, values: dict[str, t.Any]) -> dict[str, t.Any]:
        for key in values:
            if key not in ("job_seconds", "job_retention", "page_size"):
                raise ValueError(f"unknown ONTAP setting {key}")
        for key, value in values.items():
            setattr(self, key, None if value is None else (int(value) if key == "page_size" else float(value)))
        return {"job_seconds": self.job_seconds, "job_retention": self.job_retention, "page_size": self.page_size}

    def describe(self) -> dict[str, t.Any]:
        out = super().describe()
        out.update({"relationships": len(self.relationships), "volumes": len(self.volumes),
                    "jobs": len(self.jobs)})
        return out

    def build_app(self):  # type: ignore[no-untyped-def]
        from .api import build_app  # pylint: disable=import-outside-toplevel
        return build_app(self)

    # lookups -----------------------------------------------------------------------
    def peer(self, name: str) -> Cluster:
        other = self.lab.arrays.get(name)
        assert isinstance(other, Cluster)
        return other

    def svm(self, name: str | None, target: str = "svm.name") -> Svm:
        if name not in self.svms:
            raise OntapError(400, f'SVM "{name}" does not exist.', E_SVM_NOT_FOUND, target)
        return self.svms[str(name)]

    def find_volume(self, svm: str, name: str) -> OVolume | None:
        for vol in self.volumes.values():
            if vol.svm.name == svm and vol.name == name:
                return vol
        return None

    def volume(self, vol_uuid: str) -> OVolume:
        if vol_uuid not in self.volumes:
            raise not_found()
        return self.volumes[vol_uuid]

    def aggregate(self, name: str) -> Aggregate:
        if name not in self.aggregates:
            raise OntapError(400, f'Aggregate "{name}" does not exist.', E_AGGR_NOT_FOUND, "aggregates.name")
        return self.aggregates[name]

    def aggregate_free(self, aggr: Aggregate) -> int:
        used = sum(v.size for v in self.volumes.values() if aggr in v.aggregates)
        return aggr.size - used

    def alias_for(self, cluster: str, svm: str) -> str:
        if cluster == self.name:
            return svm
        for record in self.svm_peers.values():
            if record["_cluster"] == cluster and record["peer"]["svm"]["name"] == svm:
                return str(record["name"])
        return svm

    def resolve_source(self, alias: str, local_svm: Svm) -> tuple[Cluster, Svm]:
        """The (cluster, SVM) a source SVM alias names from this cluster."""
        if alias in self.svms:
            return self, self.svms[alias]
        for record in self.svm_peers.values():
            if record["name"] == alias and record["svm"]["name"] == local_svm.name:
                if record["state"] != "peered" or "snapmirror" not in record["applications"]:
                    break
                other = self.peer(record["_cluster"])
                return other, other.svms[record["peer"]["svm"]["name"]]
        raise OntapError(400, f'Source SVM "{alias}" is not peered with destination SVM "{local_svm.name}" '
                              'for the SnapMirror application.', E_SVM_NOT_PEERED, "source.path")

    def policy(self, name: str | None = None, policy_uuid: str | None = None,
               svm: Svm | None = None) -> Policy:
        if policy_uuid:
            if policy_uuid in self.policies:
                return self.policies[policy_uuid]
            raise OntapError(400, f'Policy with UUID "{policy_uuid}" not found.', E_POLICY_NOT_FOUND, "policy.uuid")
        matches = [p for p in self.policies.values() if p.name == name]
        matches.sort(key=lambda p: 0 if (p.svm is not None and p.svm is svm) else (1 if p.svm is None else 2))
        if matches and (matches[0].svm is None or matches[0].svm is svm):
            return matches[0]
        where = f'SVM "{svm.name}"' if svm else "the cluster"
        raise OntapError(400, f'SnapMirror policy "{name}" does not exist in {where} or the cluster.',
                         E_POLICY_NOT_FOUND, "policy.name")

    def schedule_uuid(self, name: str) -> str:
        return self._schedule_uuids.get(name, "")

    def check_schedule(self, name: t.Any) -> str:
        if name not in self.schedules:
            raise OntapError(400, f'Schedule "{name}" does not exist.', E_SCHEDULE_NOT_FOUND, "transfer_schedule.name")
        return str(name)

    def lab_protected(self, vol: OVolume) -> bool:
        return any(rel.src is vol for rel in self.outgoing.values())

    def relationship(self, rel_uuid: str) -> Relationship:
        if rel_uuid not in self.relationships:
            raise not_found()
        return self.relationships[rel_uuid]

    def reachable(self, other: Cluster) -> str | None:
        return self.fabric.reachable(self.name, other.name)

    def contact(self, other: Cluster) -> None:
        """Fail like ONTAP does when a peer cluster must be contacted and cannot be."""
        why = self.reachable(other)
        if why is not None:
            raise OntapError(400, f'Failed to contact peer cluster "{other.cluster_name}": {why}.',
                             E_PEER_UNREACHABLE)

    # jobs --------------------------------------------------------------------------
    def submit(self, description: str, action: t.Callable[[], None], svm: str | None = None) -> Job:
        job = Job(self, description, svm)
        self.jobs[job.uuid] = job
        job.state, job.message = "running", "Running"

        def run() -> None:
            failure = self.faults.take_job_failure()
            if failure is not None:
                job.finish(OntapError(500, failure[0], failure[1] or "1"))
            else:
                try:
                    action()
                except OntapError as exc:
                    job.finish(exc)
                else:
                    job.finish()
            self.lab.schedule(self.job_retention, lambda: self.jobs.pop(job.uuid, None))

        self.lab.schedule(self.job_seconds, run)
        return job

    # volumes -----------------------------------------------------------------------
    def create_volume(self, body: Body, svm_header: str | None) -> tuple[Job, str]:
        name = body.text("name")
        if not name:
            raise OntapError(400, 'Missing value for field "name".', E_INVALID, "name")
        svm = self.svm(body.text("svm.name") or svm_header or
                       next((s.name for s in self.svms.values() if s.uuid == body.text("svm.uuid")), None))
        if self.find_volume(svm.name, name):
            raise OntapError(409, f'Duplicate volume name "{name}" in SVM "{svm.name}".', E_DUPLICATE, "name")
        clone = None
        if body.has("clone"):
            if not body.flag("clone.is_flexclone", True):
                raise OntapError(400, "Only FlexClone volumes can be created from a clone definition.", E_INVALID,
                                 "clone.is_flexclone")
            parent = self.find_volume(svm.name, body.text("clone.parent_volume.name") or "")
            if parent is None:
                raise OntapError(400, f'Parent volume "{body.text("clone.parent_volume.name")}" does not exist.',
                                 E_VOLUME_NOT_FOUND, "clone.parent_volume.name")
            if len(parent.aggregates) > 1:
                raise OntapError(400, "FlexClone of a FlexGroup volume is not supported.", E_NOT_AVAILABLE)
            snap_name = body.text("clone.parent_snapshot.name")
            if snap_name and snap_name not in parent.fv.snapshots:
                raise OntapError(400, f'Snapshot "{snap_name}" does not exist in volume "{parent.name}".',
                                 E_VOLUME_NOT_FOUND, "clone.parent_snapshot.name")
            clone = (parent, snap_name)
        aggr_names = [a.get("name") if isinstance(a, dict) else a for a in (body.get("aggregates") or [])]
        aggregates = [self.aggregate(str(n)) for n in aggr_names] or (
            [clone[0].aggregates[0]] if clone else [max(self.aggregates.values(), key=self.aggregate_free)])
        size = size_of(body.get("size", clone[0].size if clone else 20 * 1024 * 1024))
        for aggr in aggregates:
            if self.aggregate_free(aggr) < size // len(aggregates):
                raise OntapError(400, f'Aggregate "{aggr.name}" does not have enough space for a volume of '
                                      f'{size} bytes.', E_AGGR_FULL, "size")
        vtype = body.text("type", "rw")
        if vtype not in ("rw", "dp"):
            raise OntapError(400, f'Invalid value "{vtype}" for field "type".', E_INVALID, "type")
        nas_path = body.text("nas.path") or None
        vol_uuid = new_uuid()

        def apply() -> None:
            if self.find_volume(svm.name, name):
                raise OntapError(409, f'Duplicate volume name "{name}" in SVM "{svm.name}".', E_DUPLICATE, "name")
            vol = OVolume(self, svm, name, size, aggregates, "rw" if clone else vtype, nas_path, vol_uuid)
            if clone:
                parent, snap = clone
                vol.fv.set_blocks(parent.fv.snapshots[snap].blocks if snap else parent.fv.blocks)
                vol.clone = {"is_flexclone": True, "parent_volume": {"name": parent.name, "uuid": parent.uuid},
                             "parent_svm": parent.svm.ref(), "split_initiated": False}
                if snap:
                    vol.clone["parent_snapshot"] = {"name": snap}
            if body.text("state") in ("offline", "restricted"):
                vol.state = str(body.text("state"))
            vol.refresh_access()
            self.volumes[vol.uuid] = vol

        return self.submit(f"POST /api/storage/volumes/{vol_uuid}", apply, svm.name), vol_uuid

    def modify_volume(self, vol: OVolume, body: Body) -> Job:
        size = size_of(body.get("size"), "size") if body.has("size") else None
        if size is not None and size < vol.fv.used:
            raise OntapError(400, f"Cannot shrink volume {vol.name} below its used size ({vol.fv.used} bytes).",
                             E_SHRINK, "size")
        if size is not None and size > vol.size:
            for aggr in vol.aggregates:
                if self.aggregate_free(aggr) < (size - vol.size) // len(vol.aggregates):
                    raise OntapError(400, f'Aggregate "{aggr.name}" does not have enough space to grow '
                                          f'volume "{vol.name}".', E_AGGR_FULL, "size")
        state = body.text("state")
        if state is not None and state not in ("online", "offline", "restricted"):
            raise OntapError(400, f'Invalid value "{state}" for field "state".', E_INVALID, "state")
        new_name = body.text("name")
        if new_name and new_name != vol.name and self.find_volume(vol.svm.name, new_name):
            raise OntapError(409, f'Duplicate volume name "{new_name}".', E_DUPLICATE, "name")

        def apply() -> None:
            if size is not None:
                vol.fv.size = size
            if body.has("nas.path"):
                vol.nas_path = body.text("nas.path") or None
            if state is not None:
                vol.state = state
                if state != "online":
                    vol.nas_path = None
            if new_name and new_name != vol.name:
                vol.name = new_name
                self.fabric.rename_volume(vol.fv, f"{vol.svm.name}:{new_name}")
            if body.flag("clone.split_initiated") and vol.clone.get("is_flexclone"):
                vol.clone = {"is_flexclone": False}
            vol.refresh_access()

        return self.submit(f"PATCH /api/storage/volumes/{vol.uuid}", apply, vol.svm.name)

    def delete_volume(self, vol: OVolume) -> Job:
        if any(rel.dst is vol for rel in self.relationships.values()) or self.lab_protected(vol):
            raise OntapError(409, f'Volume "{vol.name}" is part of a SnapMirror relationship; delete the '
                                  "relationship first.", E_VOLUME_IN_USE)

        def apply() -> None:
            self.volumes.pop(vol.uuid, None)
            self.fabric.drop_volume(vol.fv)

        return self.submit(f"DELETE /api/storage/volumes/{vol.uuid}", apply, vol.svm.name)

    def create_snapshot(self, vol: OVolume, body: Body) -> tuple[Job, str]:
        name = body.text("name")
        if not name:
            raise OntapError(400, 'Missing value for field "name".', E_INVALID, "name")
        if name in vol.fv.snapshots:
            raise OntapError(409, f'Snapshot "{name}" already exists.', E_DUPLICATE, "name")
        label = body.text("snapmirror_label") or ""
        if label and not 1 <= len(label) <= 31:
            raise OntapError(400, "snapmirror_label must be 1 to 31 characters.", E_INVALID, "snapmirror_label")

        def apply() -> None:
            vol.snapshot(name, comment=body.text("comment") or "", label=label)

        job = self.submit(f"POST /api/storage/volumes/{vol.uuid}/snapshots", apply, vol.svm.name)
        return job, name

    def delete_snapshot(self, vol: OVolume, snap_uuid: str) -> Job:
        meta = vol.snapshot_by_uuid(snap_uuid)
        if meta.owners:
            raise OntapError(409, f'Snapshot "{meta.name}" is busy: it is in use by '
                                  f'{", ".join(sorted(meta.owners))}.', E_SNAPSHOT_BUSY)
        return self.submit(f"DELETE /api/storage/volumes/{vol.uuid}/snapshots/{snap_uuid}",
                           lambda: vol.drop_snapshot(meta.name), vol.svm.name)

    # relationships: create -----------------------------------------------------------
    def create_relationship(self, body: Body) -> tuple[Job, str]:
        src_path, dst_path = body.text("source.path"), body.text("destination.path")
        for field, value in (("source.path", src_path), ("destination.path", dst_path)):
            if not value:
                raise OntapError(400, f'Missing value for field "{field}".', E_INVALID, field)
        src_svm_alias, src_vol_name = _split_path(str(src_path), "source.path")
        dst_svm_name, dst_vol_name = _split_path(str(dst_path), "destination.path")
        dst_svm = self.svm(dst_svm_name, "destination.path")
        for rel in self.relationships.values():
            if rel.destination_path == dst_path:
                raise OntapError(409, f'A SnapMirror relationship with destination "{dst_path}" already exists.',
                                 E_REL_EXISTS, "destination.path")
        src_cluster, src_svm = self.resolve_source(src_svm_alias, dst_svm)
        if src_cluster is not self:
            self.contact(src_cluster)
        src_vol = src_cluster.find_volume(src_svm.name, src_vol_name)
        if src_vol is None:
            raise OntapError(400, f'Source volume "{src_path}" does not exist.', E_VOLUME_NOT_FOUND, "source.path")
        if src_vol.state != "online":
            raise OntapError(400, f'Source volume "{src_path}" is not online.', E_VOLUME_TYPE, "source.path")
        if src_vol.type != "rw":
            raise OntapError(400, f'Source volume "{src_path}" must be of type RW.', E_VOLUME_TYPE, "source.path")
        policy = self.policy(body.text("policy.name"), body.text("policy.uuid"), dst_svm) \
            if body.has("policy") else self.policy("Asynchronous")
        if "transfer_schedule" in body.values and body.get("transfer_schedule") is None:
            raise OntapError(400, 'Field "transfer_schedule" cannot be null when creating a relationship.',
                             E_INVALID, "transfer_schedule")
        schedule = self.check_schedule(body.text("transfer_schedule.name")) \
            if body.text("transfer_schedule.name") else None
        create_dst = body.flag("create_destination.enabled")
        if create_dst and (body.has("throttle") or body.has("backoff_level")):
            raise OntapError(400, '"throttle" and "backoff_level" cannot be set when '
                                  '"create_destination.enabled" is true.', E_INVALID)
        if body.flag("restore") and (schedule or body.has("throttle")):
            raise OntapError(400, '"transfer_schedule" and "throttle" cannot be set for a restore relationship.',
                             E_INVALID)
        if body.flag("restore"):
            raise OntapError(400, "Restore relationships are not supported by this lab.", E_NOT_AVAILABLE, "restore")
        dst_vol = self.find_volume(dst_svm.name, dst_vol_name)
        if dst_vol is None and not create_dst:
            raise OntapError(400, f'Destination volume "{dst_path}" does not exist.', E_VOLUME_NOT_FOUND,
                             "destination.path")
        if dst_vol is not None and dst_vol.type != "dp":
            raise OntapError(400, f'Destination volume "{dst_path}" must be of type DP.', E_VOLUME_TYPE,
                             "destination.path")
        if dst_vol is not None and dst_vol.state != "online":
            raise OntapError(400, f'Destination volume "{dst_path}" is not online.', E_VOLUME_TYPE,
                             "destination.path")
        state = body.text("state")
        if state not in (None, "snapmirrored", "in_sync"):
            raise OntapError(400, f'Invalid value "{state}" for field "state" on create.', E_INVALID, "state")
        if state is not None and state != policy.active_state:
            raise OntapError(400, f'State "{state}" is not valid for a relationship with a policy of type '
                                  f'"{policy.type}".', E_BAD_STATE, "state")
        throttle = body.number("throttle", 0) or 0
        backoff = body.text("backoff_level", "high")
        rel_uuid = new_uuid()

        def apply() -> None:
            nonlocal dst_vol
            if any(r.destination_path == dst_path for r in self.relationships.values()):
                raise OntapError(409, f'A SnapMirror relationship with destination "{dst_path}" already exists.',
                                 E_REL_EXISTS, "destination.path")
            if dst_vol is None:
                aggr = max(self.aggregates.values(), key=self.aggregate_free)
                dst_vol = OVolume(self, dst_svm, dst_vol_name, src_vol.size, [aggr], "dp")
                self.volumes[dst_vol.uuid] = dst_vol
            rel = Relationship(src_vol, dst_vol, policy)
            rel.uuid = rel_uuid
            rel.transfer_schedule = schedule or policy.transfer_schedule
            rel.throttle = throttle
            rel.backoff_level = str(backoff)
            self.relationships[rel.uuid] = rel
            src_vol.cluster.outgoing[rel.uuid] = rel
            if state is not None:
                self.initialize(rel)

        job = self.submit(f"POST /api/snapmirror/relationships/{rel_uuid}", apply, dst_svm.name)
        return job, rel_uuid

    # relationships: state machine -------------------------------------------------------
    def modify_relationship(self, rel: Relationship, body: Body, query: t.Mapping[str, str]) -> Job:
        force = _flag(query, "force")
        reverse = (body.has("source.path") and body.text("source.path") != rel.source_path) or \
                  (body.has("destination.path") and body.text("destination.path") != rel.destination_path)
        if reverse:
            if body.has("transfer_schedule") or body.has("throttle"):
                raise OntapError(400, '"transfer_schedule" and "throttle" cannot be changed while reversing a '
                                      "relationship.", E_INVALID)
            return self._reverse(rel, body)
        if any(_flag(query, f) for f in ("failback", "failover", "force_failover")) and \
                (body.has("transfer_schedule") or body.has("throttle")):
            raise OntapError(400, '"transfer_schedule" and "throttle" cannot be set with failback or failover.',
                             E_INVALID)
        policy = rel.policy
        if body.has("policy"):
            policy = self.policy(body.text("policy.name"), body.text("policy.uuid"), rel.dst.svm)
            if policy.type != rel.policy.type:
                raise OntapError(400, f'Cannot change the policy type from "{rel.policy.type}" to "{policy.type}".',
                                 E_INVALID, "policy")
        schedule: t.Any = ...
        if body.has("transfer_schedule"):
            name = body.get("transfer_schedule.name", body.get("transfer_schedule"))
            schedule = None if name is None else self.check_schedule(name)
        throttle = body.number("throttle") if body.has("throttle") else None
        backoff = body.text("backoff_level")
        if backoff is not None and backoff not in ("high", "medium", "none"):
            raise OntapError(400, f'Invalid value "{backoff}" for field "backoff_level".', E_INVALID, "backoff_level")
        state = body.text("state")
        if state is not None:
            self._check_transition(rel, state, policy, force)
        preserve = body.flag("preserve")

        def apply() -> None:
            rel.policy = policy
            if schedule is not ...:
                rel.transfer_schedule = schedule
                rel.last_schedule_run = self.clock.now()
            if throttle is not None:
                rel.throttle = throttle
            if backoff is not None:
                rel.backoff_level = backoff
            if state is not None:
                self._check_transition(rel, state, policy, force)
                self._transition(rel, state, preserve, body.text("restore_to_snapshot"))

        return self.submit(f"PATCH /api/snapmirror/relationships/{rel.uuid}", apply, rel.dst.svm.name)

    def _check_transition(self, rel: Relationship, state: str, policy: Policy, force: bool) -> None:
        active = policy.active_state
        if state not in ("snapmirrored", "in_sync", "paused", "broken_off"):
            raise OntapError(400, f'Invalid value "{state}" for field "state".', E_INVALID, "state")
        if state in ("snapmirrored", "in_sync") and state != active:
            raise OntapError(400, f'State "{state}" is not valid for a relationship with a policy of type '
                                  f'"{policy.type}"; use "{active}".', E_BAD_STATE, "state")
        current = rel.state
        if state == "paused":
            if policy.sync_type == "automated_failover":
                raise OntapError(400, 'Quiesce is not allowed for relationships with the "AutomatedFailOver" '
                                      "policy.", E_BAD_STATE, "state")
            if current in ("uninitialized", "broken_off"):
                raise OntapError(400, f'Cannot quiesce the relationship: it is "{current}". Only '
                                      f'"{active}" relationships can be quiesced.', E_BAD_STATE, "state")
        elif state == "broken_off":
            if policy.sync_type == "automated_failover":
                raise OntapError(400, 'Break is not allowed for relationships with the "AutomatedFailOver" '
                                      "policy.", E_BAD_STATE, "state")
            if current == "uninitialized":
                raise OntapError(400, "Cannot break the relationship: it is not initialized.", E_BAD_STATE, "state")
            if current != "broken_off" and rel.active is not None:
                raise OntapError(409, f'Cannot break the relationship: a {rel.active.kind} transfer is in '
                                      "progress. Quiesce or abort it first.", E_TRANSFER_BUSY, "state")
            if current != "broken_off" and not force and rel.src.cluster is not self:
                self.contact(rel.src.cluster)

    def _transition(self, rel: Relationship, state: str, preserve: bool, restore_to: str | None) -> None:
        current = rel.state
        active = rel.policy.active_state
        if state == active:
            if current == "uninitialized":
                if rel.active is None:
                    self.initialize(rel)
            elif current == "paused":
                rel.state = active
                rel.pending_quiesce = False
                rel.last_schedule_run = self.clock.now()
            elif current == "broken_off":
                self._resync(rel, preserve)
            elif current == "out_of_sync" and rel.active is None:
                self._start_transfer(rel, "resync")
            else:
                rel.pending_quiesce = False
        elif state == "paused":
            if current == "paused":
                return
            if rel.active is not None:
                rel.pending_quiesce = True
            else:
                rel.state = "paused"
        elif state == "broken_off":
            if current == "broken_off":
                return
            if restore_to:
                if restore_to not in rel.dst.fv.snapshots:
                    raise OntapError(400, f'Snapshot "{restore_to}" does not exist on the destination.',
                                     E_VOLUME_NOT_FOUND, "restore_to_snapshot")
                rel.dst.fv.rollback(restore_to)
            rel.state = "broken_off"
            rel.pending_quiesce = False
            rel.dst.type = "rw"
            rel.dst.refresh_access()

    def initialize(self, rel: Relationship, transfer_uuid: str | None = None, source_snapshot: str | None = None,
                   throttle: int | None = None) -> None:
        rel.dst.fv.set_blocks({})
        for name in list(rel.dst.fv.snapshots):
            rel.dst.drop_snapshot(name)
        self._start_transfer(rel, "initialize", None, transfer_uuid, source_snapshot, throttle)

    def common_snapshot(self, a: OVolume, b: OVolume) -> str | None:
        common = [n for n in a.fv.snapshots if n in b.fv.snapshots]
        if not common:
            return None
        return max(common, key=lambda n: a.fv.snapshots[n].create_time)

    def _resync(self, rel: Relationship, preserve: bool) -> None:
        self.contact(rel.src.cluster)
        common = self.common_snapshot(rel.src, rel.dst)
        if common is None:
            raise OntapError(400, f'No common snapshot exists between "{rel.source_path}" and '
                                  f'"{rel.destination_path}"; the relationship cannot be resynchronized. '
                                  "Delete it and initialize a new baseline.", E_NO_COMMON_SNAPSHOT)
        self._rebase(rel.dst, common, preserve)
        rel.dst.type = "dp"
        rel.dst.refresh_access()
        self._start_transfer(rel, "resync", common)

    def _rebase(self, vol: OVolume, common: str, preserve: bool) -> None:
        """Roll ``vol`` back to ``common``: later writes are discarded, newer snapshots too unless preserved."""
        base_time = vol.fv.snapshots[common].create_time
        vol.fv.rollback(common)
        if not preserve:
            for name, snap in list(vol.fv.snapshots.items()):
                if snap.create_time > base_time and name != common:
                    vol.drop_snapshot(name)

    def _reverse(self, rel: Relationship, body: Body) -> Job:
        new_src_path, new_dst_path = body.text("source.path"), body.text("destination.path")
        if new_src_path != rel.destination_path or _strip_alias(new_dst_path) != rel.src.name:
            raise OntapError(400, "To reverse a relationship, swap its source and destination paths.", E_INVALID,
                             "source.path")
        if rel.state == "uninitialized":
            raise OntapError(400, "Cannot reverse a relationship that is not initialized.", E_BAD_STATE, "state")
        if rel.active is not None:
            raise OntapError(409, f"Cannot reverse the relationship: a {rel.active.kind} transfer is in progress.",
                             E_TRANSFER_BUSY)
        state = body.text("state")
        if state not in (None, rel.policy.active_state):
            raise OntapError(400, f'Invalid state "{state}" for a reverse; use "{rel.policy.active_state}".',
                             E_BAD_STATE, "state")
        other = rel.src.cluster
        self.contact(other)
        if self.common_snapshot(rel.src, rel.dst) is None:
            raise OntapError(400, f'No common snapshot exists between "{rel.source_path}" and '
                                  f'"{rel.destination_path}"; the relationship cannot be reversed.',
                             E_NO_COMMON_SNAPSHOT)

        def apply() -> None:
            self.contact(other)
            common = self.common_snapshot(rel.src, rel.dst)
            if common is None:
                raise OntapError(400, "No common snapshot exists; the relationship cannot be reversed.",
                                 E_NO_COMMON_SNAPSHOT)
            self.relationships.pop(rel.uuid, None)
            other.outgoing.pop(rel.uuid, None)
            rel.src, rel.dst = rel.dst, rel.src
            other.relationships[rel.uuid] = rel
            self.outgoing[rel.uuid] = rel
            rel.state = "broken_off"
            rel.healthy, rel.unhealthy_reason = True, []
            rel.pending_quiesce = False
            other._rebase(rel.dst, common, False)  # pylint: disable=protected-access
            rel.dst.type = "dp"
            rel.dst.refresh_access()
            other._start_transfer(rel, "resync", common)  # pylint: disable=protected-access

        return self.submit(f"PATCH /api/snapmirror/relationships/{rel.uuid}", apply, rel.dst.svm.name)

    # transfers ---------------------------------------------------------------------------
    def _snapshot_name(self, rel: Relationship) -> str:
        stamp = datetime.datetime.fromtimestamp(self.clock.now(), datetime.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
        base = f"snapmirror.{rel.dst.svm.uuid}_{rel.dst.msid}.{stamp}"
        name, n = base, 1
        while name in rel.src.fv.snapshots or name in rel.dst.fv.snapshots:
            n += 1
            name = f"{base}_{n}"
        return name

    def _start_transfer(self, rel: Relationship, kind: str, base_name: str | None = None,
                        transfer_uuid: str | None = None, source_snapshot: str | None = None,
                        throttle: int | None = None) -> None:
        """Start a transfer of a new SnapMirror snapshot of the source (or of ``source_snapshot``).

        ``throttle`` (KB/s) caps this transfer instead of the relationship's throttle.
        """
        now = self.clock.now()
        if base_name is None and kind != "initialize":
            base_name = rel.exported_snapshot if rel.exported_snapshot in rel.src.fv.snapshots else None
        rel.transfer = {"state": "transferring", "type": kind, "uuid": transfer_uuid or new_uuid(),
                        "bytes_transferred": 0, "last_updated_time": timestamp(now), "total_duration": "PT0S"}
        why = self.fabric.reachable(rel.src.cluster.name, self.name)
        if why is not None:
            self._transfer_failed(rel, kind, f"Failed to contact peer cluster: {why}.", E_UPDATE_FAILED)
            return
        if rel.src.size > rel.dst.size:
            self._transfer_failed(rel, kind, f'Destination volume "{rel.destination_path}" ({rel.dst.size} bytes) '
                                             f'is smaller than the source volume "{rel.source_path}" '
                                             f"({rel.src.size} bytes).", E_DEST_TOO_SMALL)
            return
        if source_snapshot and source_snapshot in rel.src.fv.snapshots:
            name = source_snapshot
        else:
            name = self._snapshot_name(rel)
            meta = rel.src.snapshot(name, owners={"snapmirror_dependent"})
            meta.comment = rel.owner_tag()
        image = rel.src.fv.snapshots[name].blocks
        base = rel.src.fv.snapshots[base_name].blocks if base_name else None
        rel.active_snapshot = name
        cap = rel.throttle if throttle is None else throttle
        rel.active = self.fabric.start_transfer(
            f"snapmirror:{kind}", rel.src.cluster.name, rel.src.path, rel.dst.fv, image, base,
            rate_cap=cap * 1024 if cap else None,
            on_done=lambda tr: self._transfer_done(rel, kind, name, tr),
            on_fail=lambda tr: self._transfer_ended_badly(rel, kind, name, tr))

    def _transfer_done(self, rel: Relationship, kind: str, name: str, transfer: Transfer) -> None:
        src_snap = rel.src.fv.snapshots.get(name)
        dst_meta = rel.dst.snapshot(name, blocks=src_snap.blocks if src_snap else None,
                                    create_time=src_snap.create_time if src_snap else None)
        dst_meta.comment = rel.owner_tag()
        for vol in (rel.src, rel.dst):
            for snap_name, meta in list(vol.snapmeta.items()):
                if snap_name != name and meta.comment == rel.owner_tag():
                    vol.drop_snapshot(snap_name)
        rel.exported_snapshot = name
        rel.exported_time = src_snap.create_time if src_snap else self.clock.now()
        rel.last_transfer_type = kind
        rel.total_bytes += transfer.bytes_total
        duration = (transfer.ended or self.clock.now()) - transfer.started
        rel.total_duration += duration
        self._record(rel, {"state": "success", "type": kind, "bytes_transferred": transfer.bytes_total,
                           "end_time": timestamp(transfer.ended), "last_updated_time": timestamp(transfer.ended),
                           "total_duration": iso_duration(duration)})
        rel.active = None
        rel.active_snapshot = None
        rel.healthy, rel.unhealthy_reason = True, []
        if rel.pending_quiesce:
            rel.state = "paused"
            rel.pending_quiesce = False
        elif rel.state != "paused":
            rel.state = rel.policy.active_state
        if rel.state == "in_sync":
            # writes that reached the source while the baseline or resync ran are replayed now
            # (the "synchronizing" phase, done at once), so in_sync means the images are equal
            rel.dst.fv.apply(diff_blocks(rel.dst.fv.blocks, rel.src.fv.blocks))

    def _transfer_ended_badly(self, rel: Relationship, kind: str, name: str, transfer: Transfer) -> None:
        rel.active = None
        rel.active_snapshot = None
        meta = rel.src.snapmeta.get(name)
        if meta is not None and meta.comment == rel.owner_tag():  # not a snapshot named by source_snapshot
            rel.src.drop_snapshot(name)
        if transfer.state == "aborted":
            self._record(rel, {"state": transfer.error if transfer.error in ("aborted", "hard_aborted")
                               else "aborted", "type": kind, "bytes_transferred": int(transfer.bytes_done),
                               "end_time": timestamp(transfer.ended),
                               "error_info": {"code": int(E_ABORTED), "message": "Transfer aborted"}})
        else:
            self._transfer_failed(rel, kind, f"Transfer failed: {transfer.error}.", E_UPDATE_FAILED,
                                  int(transfer.bytes_done))
        if rel.pending_quiesce:
            rel.state = "paused"
            rel.pending_quiesce = False

    def _transfer_failed(self, rel: Relationship, kind: str, message: str, code: str, done: int = 0) -> None:
        now = self.clock.now()
        rel.active = None
        self._record(rel, {"state": "failed", "type": kind, "bytes_transferred": done, "end_time": timestamp(now),
                           "error_info": {"code": int(code), "message": message}})
        rel.healthy = False
        rel.unhealthy_reason = [{"code": code, "message": message, "arguments": []}]
        if rel.state == "in_sync":
            rel.state = "out_of_sync"

    def _record(self, rel: Relationship, ended: dict[str, t.Any]) -> None:
        """Make ``ended`` the relationship's last transfer and keep it in the transfer history."""
        transfer_uuid = (rel.transfer or {}).get("uuid") or new_uuid()
        rel.transfer = ended
        rel.history.append(dict(ended, uuid=transfer_uuid, end_epoch=self.clock.now()))
        del rel.history[:-20]

    def start_update(self, rel: Relationship, source_snapshot: str | None = None,
                     throttle: int | None = None) -> tuple[Job, str]:
        """POST .../transfers: initialize or update; the job and the uuid the transfer will have."""
        initializing = rel.state == "uninitialized"
        transfer_uuid = new_uuid()
        if source_snapshot and source_snapshot not in rel.src.fv.snapshots:
            raise OntapError(400, f'Snapshot "{source_snapshot}" does not exist on the source volume '
                                  f'"{rel.source_path}".', E_INVALID, "source_snapshot")
        if throttle is not None and throttle < 0:
            raise OntapError(400, f'Invalid value "{throttle}" for field "throttle".', E_INVALID, "throttle")
        if initializing:
            if rel.active is not None:
                raise OntapError(409, "A transfer is already in progress for this relationship.", E_TRANSFER_BUSY)
        else:
            if rel.policy.type == "sync":
                raise OntapError(400, "On-demand updates are not supported for synchronous relationships.",
                                 E_BAD_STATE)
            if rel.state != "snapmirrored":
                raise OntapError(400, f'Cannot update the relationship: it is "{rel.state}". Only "snapmirrored" '
                                      "relationships can be updated.", E_BAD_STATE, "state")
            if rel.active is not None:
                raise OntapError(409, "A transfer is already in progress for this relationship.", E_TRANSFER_BUSY)

        def apply() -> None:
            if rel.active is not None:
                raise OntapError(409, "A transfer is already in progress for this relationship.", E_TRANSFER_BUSY)
            if initializing:
                self.initialize(rel, transfer_uuid, source_snapshot, throttle)
            else:
                self._start_transfer(rel, "update", None, transfer_uuid, source_snapshot, throttle)

        job = self.submit(f"POST /api/snapmirror/relationships/{rel.uuid}/transfers", apply, rel.dst.svm.name)
        return job, transfer_uuid

    def abort_transfer(self, rel: Relationship, transfer_uuid: str, state: str) -> Job:
        active_uuid = (rel.transfer or {}).get("uuid") if rel.active is not None else None
        if transfer_uuid != active_uuid and all(item.get("uuid") != transfer_uuid for item in rel.history):
            raise not_found()
        if state not in ("aborted", "hard_aborted"):
            raise OntapError(400, f'Invalid value "{state}" for field "state".', E_INVALID, "state")
        if rel.active is None or (rel.transfer or {}).get("uuid") != transfer_uuid:
            raise OntapError(400, "The transfer is not active and cannot be aborted.", E_BAD_STATE, "state")

        def apply() -> None:
            if rel.active is not None:
                self.fabric.abort(rel.active, state)

        return self.submit(f"PATCH /api/snapmirror/relationships/{rel.uuid}/transfers/{transfer_uuid}", apply,
                           rel.dst.svm.name)

    # delete / release ------------------------------------------------------------------------
    def delete_relationship(self, rel_uuid: str, query: t.Mapping[str, str]) -> Job:
        flags = [f for f in ("destination_only", "source_only", "source_info_only") if _flag(query, f)]
        if len(flags) > 1:
            raise OntapError(400, f"The flags {', '.join(flags)} are mutually exclusive.", E_INVALID)
        flag = flags[0] if flags else None
        if flag in ("source_only", "source_info_only") and rel_uuid in self.outgoing:
            rel = self.outgoing[rel_uuid]

            def release() -> None:
                self.outgoing.pop(rel.uuid, None)
                for name, meta in list(rel.src.snapmeta.items()):
                    if meta.comment == rel.owner_tag():
                        if flag == "source_only":
                            rel.src.drop_snapshot(name)
                        else:
                            meta.owners.clear()
                            meta.comment = ""

            return self.submit(f"DELETE /api/snapmirror/relationships/{rel_uuid}", release, rel.src.svm.name)
        rel = self.relationship(rel_uuid)
        if flag == "source_only":
            raise OntapError(400, "source_only must be sent to the source cluster.", E_INVALID, "source_only")
        if rel.active is not None:
            raise OntapError(409, f"Cannot delete the relationship: a {rel.active.kind} transfer is in progress. "
                                  "Abort it first.", E_TRANSFER_BUSY)
        other = rel.src.cluster
        if flag is None and other is not self:
            self.contact(other)

        def apply() -> None:
            self.relationships.pop(rel.uuid, None)
            if flag is None:
                other.outgoing.pop(rel.uuid, None)
                for vol in (rel.src, rel.dst):
                    for name, meta in list(vol.snapmeta.items()):
                        if meta.comment == rel.owner_tag():
                            vol.drop_snapshot(name)

        return self.submit(f"DELETE /api/snapmirror/relationships/{rel.uuid}", apply, rel.dst.svm.name)

    # policies ----------------------------------------------------------------------------------
    def create_policy(self, body: Body) -> tuple[Job, str]:
        name = body.text("name")
        if not name:
            raise OntapError(400, 'Missing value for field "name".', E_INVALID, "name")
        svm = self.svm(body.text("svm.name"))
        if any(p.name == name and p.svm is svm for p in self.policies.values()):
            raise OntapError(409, f'Policy "{name}" already exists in SVM "{svm.name}".', E_DUPLICATE, "name")
        ptype = body.text("type", "async")
        if ptype not in ("async", "sync", "continuous"):
            raise OntapError(400, f'Invalid value "{ptype}" for field "type".', E_INVALID, "type")
        sync_type = body.text("sync_type") or ("sync" if ptype == "sync" else None)
        schedule = self.check_schedule(body.text("transfer_schedule.name")) \
            if body.text("transfer_schedule.name") else None
        policy = Policy(name, str(ptype), sync_type, svm)
        policy.transfer_schedule = schedule
        policy.throttle = body.number("throttle", 0) or 0
        policy.comment = body.text("comment") or ""

        def apply() -> None:
            self.policies[policy.uuid] = policy

        return self.submit("POST /api/snapmirror/policies", apply, svm.name), policy.uuid

    # ticks ---------------------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        for rel in list(self.relationships.values()):
            if rel.active is not None:
                continue
            if rel.state == "in_sync":
                why = self.fabric.reachable(rel.src.cluster.name, self.name)
                if why is not None:
                    self._out_of_sync(rel, why)
            elif rel.state == "out_of_sync" and self.fabric.reachable(rel.src.cluster.name, self.name) is None:
                self._start_transfer(rel, "resync")
            elif rel.state == "snapmirrored" and rel.transfer_schedule:
                interval = self.schedules.get(rel.transfer_schedule, 0)
                if interval and now - rel.last_schedule_run >= interval:
                    rel.last_schedule_run = now
                    self._start_transfer(rel, "update")

    def on_source_write(self, vol_uuid: str, indices: list[int]) -> None:
        """Synchronous relationships mirror a source write at once, or fall out of sync."""
        for rel in list(self.outgoing.values()):
            if rel.src.uuid != vol_uuid or rel.policy.type != "sync" or rel.state != "in_sync":
                continue
            why = self.fabric.reachable(self.name, rel.dst.cluster.name)
            if why is None:
                rel.dst.fv.apply({i: rel.src.fv.blocks[i] for i in indices})
            else:
                self._out_of_sync(rel, why)

    @staticmethod
    def _out_of_sync(rel: Relationship, why: str) -> None:
        rel.state = "out_of_sync"
        rel.healthy = False
        rel.unhealthy_reason = [{"code": E_UPDATE_FAILED, "arguments": [],
                                 "message": f"Synchronous replication is out of sync: {why}."}]


def _flag(query: t.Mapping[str, str], name: str) -> bool:
    return query_flag(query, name)


def _split_path(path: str, field: str) -> tuple[str, str]:
    if ":" not in path:
        raise OntapError(400, f'Invalid path "{path}": expected "<svm>:<volume>".', E_INVALID, field)
    svm, vol = path.split(":", 1)
    if not svm or not vol or vol.startswith("/"):
        raise OntapError(400, f'Path "{path}" is not supported by this lab: only "<svm>:<volume>" FlexVol '
                              "paths are.", E_NOT_AVAILABLE, field)
    return svm, vol


def _strip_alias(path: str | None) -> str:
    return (path or "").split(":", 1)[-1]


def create_array(lab, name: str, spec: dict[str, t.Any]) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster(lab, name, spec)
