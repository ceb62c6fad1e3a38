"""The ONTAP cluster: what it holds (SVMs, aggregates, peers, policies, jobs) and how it is looked up.

The REST paths are in ``routes/``; what a request does to the model is split by
responsibility into mixins: ``storage.py`` (volumes and snapshots),
``snapmirror.py`` (relationships and their state machine) and ``transfers.py``
(SnapMirror transfers, schedules and synchronous mirroring).
"""

from __future__ import annotations

import re
import typing as t

from ..array import ArrayBase
from ..fabric import parse_size
from ..simulators import SIMULATORS
from ..topology import expand_items
from .body import Body, OntapError, not_found
from .model import (BUILTIN_POLICIES, E_AGGR_NOT_FOUND, E_DUPLICATE, E_INVALID, E_PEER_UNREACHABLE, E_POLICY_NOT_FOUND,
                    E_SCHEDULE_NOT_FOUND, E_SVM_NOT_FOUND, E_SVM_NOT_PEERED, SCHEDULES, Aggregate, Job, OVolume, Policy,
                    Relationship, Svm, new_uuid)
from .nodes import Node
from .snapmirror import RelationshipOps
from .storage import VolumeOps
from .transfers import TransferOps

ACTIVE_STATES = ("snapmirrored", "in_sync", "out_of_sync", "synchronizing")
SNAPSHOT_POLICIES = ("default", "default-1weekly", "none")
DEFAULTS = SIMULATORS["ontap"].settings


class Cluster(VolumeOps, RelationshipOps, TransferOps, ArrayBase):
    vendor = "ontap"

    def __init__(self, lab, name: str, spec: dict[str, t.Any]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(lab, name, spec)
        self.cluster_name = str(spec.get("cluster_name", name))
        self.uuid = new_uuid()
        self.version = str(spec.get("version", "9.14.1"))
        self.job_seconds = float(spec.get("job_seconds", DEFAULTS["job_seconds"]))
        self.job_retention = float(spec.get("job_retention", DEFAULTS["job_retention"]))
        self.page_size = spec.get("page_size", DEFAULTS["page_size"])
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
        self.nodes = [Node(self, 0), Node(self, 1)]
        self.snapshot_policies = {name: new_uuid() for name in SNAPSHOT_POLICIES}
        for pname, ptype, sync_type in BUILTIN_POLICIES:
            policy = Policy(pname, ptype, sync_type)
            self.policies[policy.uuid] = policy
        default_aggregates = [{"name": f"aggr1_{name.replace('-', '_')}", "size": "100TiB"}]
        for index, aggr in enumerate(spec.get("aggregates") or default_aggregates):
            aggregate = Aggregate(str(aggr["name"]), parse_size(aggr.get("size", "100TiB")))
            aggregate.node = self.nodes[index % len(self.nodes)]
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
            if key not in DEFAULTS:
                raise ValueError(f"unknown ONTAP setting {key}")
        for key, value in values.items():
            setattr(self, key, None if value is None else (int(value) if key == "page_size" else float(value)))
        return {key: getattr(self, key) for key in DEFAULTS}

    def describe(self) -> dict[str, t.Any]:
        out = super().describe()
        out.update({"relationships": len(self.relationships), "volumes": len(self.volumes),
                    "jobs": len(self.jobs)})
        return out

    def route_path(self, path: str) -> str:
        """ONTAP answers ``/api//cluster/`` like ``/api/cluster``: doubled slashes and a trailing one are dropped."""
        return re.sub(r"/{2,}", "/", path).rstrip("/") or "/"

    def build_app(self):  # type: ignore[no-untyped-def]
        from .routes import build_app  # pylint: disable=import-outside-toplevel
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
            failure = self.faults.take_job_failure(description)
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
            # the job checks the name again: two creates of one name accepted together end one way
            if any(p.name == name and p.svm is svm for p in self.policies.values()):
                raise OntapError(409, f'Policy "{name}" already exists in SVM "{svm.name}".', E_DUPLICATE, "name")
            self.policies[policy.uuid] = policy

        return self.submit("POST /api/snapmirror/policies", apply, svm.name), policy.uuid
