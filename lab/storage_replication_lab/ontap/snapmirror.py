"""SnapMirror relationships of the ONTAP cluster: create, the state machine (quiesce, break,
resync, reverse), delete and release. The object lives on its destination cluster."""

from __future__ import annotations

import typing as t

from .body import Body, OntapError, query_flag
from .model import (E_BAD_STATE, E_INVALID, E_NOT_AVAILABLE, E_NO_COMMON_SNAPSHOT, E_REL_EXISTS, E_TRANSFER_BUSY,
                    E_VOLUME_NOT_FOUND, E_VOLUME_TYPE, Job, OVolume, Policy, Relationship, new_uuid)


class RelationshipOps:
    """Mixed into ``Cluster``: what the relationship requests do."""

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
        src_vol = _source_volume(src_cluster.find_volume(src_svm.name, src_vol_name), str(src_path))
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
        dst_vol = _destination_volume(self.find_volume(dst_svm.name, dst_vol_name), str(dst_path), create_dst)
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
                dst_vol.settings.language = src_vol.settings.language  # a mirror keeps its source's language
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


def _flag(query: t.Mapping[str, str], name: str) -> bool:
    return query_flag(query, name)


def _source_volume(src_vol: OVolume | None, src_path: str) -> OVolume:
    """The source volume of a new relationship, or the refusal of a missing, offline or non-RW one."""
    if src_vol is None:
        raise OntapError(400, f'Source volume "{src_path}" does not exist.', E_VOLUME_NOT_FOUND, "source.path")
    if src_vol.state != "online":
        raise OntapError(400, f'Source volume "{src_path}" is not online.', E_VOLUME_TYPE, "source.path")
    if src_vol.type != "rw":
        raise OntapError(400, f'Source volume "{src_path}" must be of type RW.', E_VOLUME_TYPE, "source.path")
    return src_vol


def _destination_volume(dst_vol: OVolume | None, dst_path: str, create_dst: bool) -> OVolume | None:
    """The destination volume of a new relationship (None: to be created), or the refusal of an unfit one."""
    if dst_vol is None and not create_dst:
        raise OntapError(400, f'Destination volume "{dst_path}" does not exist.', E_VOLUME_NOT_FOUND,
                         "destination.path")
    if dst_vol is not None and dst_vol.type != "dp":
        raise OntapError(400, f'Destination volume "{dst_path}" must be of type DP.', E_VOLUME_TYPE,
                         "destination.path")
    if dst_vol is not None and dst_vol.state != "online":
        raise OntapError(400, f'Destination volume "{dst_path}" is not online.', E_VOLUME_TYPE,
                         "destination.path")
    return dst_vol


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
