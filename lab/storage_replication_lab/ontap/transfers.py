"""SnapMirror transfers of the ONTAP cluster: initialize, update, resync and abort move
snapshot images over the fabric; schedules and synchronous mirroring run on its ticks."""

from __future__ import annotations

import datetime
import typing as t

from ..fabric import Transfer, diff_blocks
from .body import OntapError, not_found
from .model import (E_ABORTED, E_BAD_STATE, E_DEST_TOO_SMALL, E_INVALID, E_TRANSFER_BUSY, E_UPDATE_FAILED, Job,
                    Relationship, new_uuid)
from .query import iso_duration, timestamp


class TransferOps:
    """Mixed into ``Cluster``: transfers, their outcome in the relationship, and the periodic work."""

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
        rel.active_snapshot = None
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
        """Make ``ended`` the relationship's last transfer and keep it in the transfer history (with the name of
        the snapshot it moved, when it got as far as taking one)."""
        transfer_uuid = (rel.transfer or {}).get("uuid") or new_uuid()
        rel.transfer = ended
        snapshot = {"snapshot": rel.active_snapshot} if rel.active_snapshot else {}
        rel.history.append(dict(ended, uuid=transfer_uuid, end_epoch=self.clock.now(), **snapshot))
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
