"""The ``generic`` SMI-S profile: SNIA Replication Services for local mirrors, clones and snapshots.

The operations table and the CopyStates each operation is accepted from are in
the docstring of the ``smis`` package; ``model.py`` holds the tables
(``GENERIC_OPS``, ``GENERIC_RESULT``, ...) this engine reads.
"""

from __future__ import annotations

from .engine import VENDOR_RANGE, Engine, Out, Result
from .model import (CS_ABORTED, CS_BROKEN, CS_FAILEDOVER, CS_FRACTURED, CS_INACTIVE, CS_NOT_APPLICABLE, CS_RESTORED,
                    CS_SPLIT, CS_SUSPENDED, CS_SYNCHRONIZED, CS_UNSYNCHRONIZED, CT_ASYNC, CT_SYNC, CT_UNSYNC_ASSOC,
                    GENERIC_HOST_ACCESSIBLE, GENERIC_OPS, GENERIC_RESULT, GENERIC_STATES, KIND_SYNC_TYPE,
                    MN_CREATE_ELEMENT_REPLICA, MN_MODIFY_REPLICA_SYNCHRONIZATION, MODE_ASYNC, MODE_SYNC, OP_ABORT,
                    OP_ACTIVATE, OP_DEACTIVATE, OP_DETACH, OP_DISSOLVE, OP_FAILBACK, OP_FAILOVER, OP_FRACTURE, OP_NAMES,
                    OP_RESET_TO_ASYNC, OP_RESET_TO_SYNC, OP_RESTORE, OP_RESUME, OP_RESYNC, OP_RETURN_TO_POOL,
                    OP_REVERSE_ROLES, OP_SPLIT, OP_SUSPEND, PS_COMPLETED, PS_DORMANT, PS_FAILING_BACK,
                    PS_REQUIRES_RESYNC, PS_RESTORING, PS_RESYNCING, PS_SYNCHRONIZING, RC_INVALID, RC_IN_USE, RC_JOB,
                    RC_NOT_SUPPORTED, RC_OK, REPLICATION_TYPES, RT_AFTER_DELTA, RT_FULL_COPY, SS_BROKEN, SS_FRACTURED,
                    SS_FROZEN, SS_IDLE, SS_INITIALIZED, SS_QUIESCED, SS_RESTORE_IN_PROGRESS, SS_RESYNC_IN_PROGRESS,
                    SS_SYNCHRONIZED, SS_UNKNOWN, ST_CLONE, ST_MIRROR, ST_SNAPSHOT, ST_TOKENIZED_CLONE, Job, SVolume,
                    Service, Sync, cim_time)


class GenericEngine(Engine):
    """SNIA Replication Services for local mirrors, clones and snapshots."""

    profile = "generic"

    # states ----------------------------------------------------------------------------------
    @staticmethod
    def set(sync: Sync, copy_state: int, progress: int = PS_COMPLETED) -> None:
        sync.copy_state = copy_state
        sync.progress = progress

    def reach(self, sync: Sync, copy_state: int) -> None:
        self.set(sync, copy_state)
        sync.requested = CS_NOT_APPLICABLE
        if copy_state == CS_SYNCHRONIZED:
            sync.when_synced = self.now()

    def repl_type(self, sync: Sync) -> int:
        return {"mirror": 2, "snapshot": 6, "clone": 10}[sync.kind] + (1 if sync.mode == MODE_ASYNC else 0)

    def ops_table(self, repl_type: int) -> dict[int, tuple[int, ...]] | None:
        kind = REPLICATION_TYPES.get(repl_type, (None, 0))[0]
        return GENERIC_OPS.get(kind) if kind else None

    def states_of(self, repl_type: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        kind = REPLICATION_TYPES[repl_type][0]
        return GENERIC_STATES[kind], GENERIC_HOST_ACCESSIBLE[kind]

    def wait_states(self, repl_type: int, method: int, op: int | None) -> tuple[int, ...]:
        if method == MN_CREATE_ELEMENT_REPLICA:
            return (CS_SYNCHRONIZED,)
        table = self.ops_table(repl_type) or {}
        if op is not None:
            return (GENERIC_RESULT[op],) if op in table and op in GENERIC_RESULT else ()
        return tuple(sorted({GENERIC_RESULT[o] for o in table if o in GENERIC_RESULT}))

    def allowed_ops(self, sync: Sync) -> list[int]:
        table = GENERIC_OPS[sync.kind]
        if sync.busy and sync.activity in ("restore", "failback"):
            return [op for op in (OP_DETACH, OP_DISSOLVE) if op in table]
        ops = [op for op, states in table.items() if sync.copy_state in states]
        if sync.transfer is not None and sync.activity == "update":
            ops = [op for op in ops if op != OP_REVERSE_ROLES]
        return sorted(ops)

    def sync_state(self, sync: Sync) -> int:
        """The legacy SyncState shown next to CopyState ([sim] mapping)."""
        if sync.activity in ("restore", "failback"):
            return SS_RESTORE_IN_PROGRESS
        state = sync.copy_state
        if state == CS_SYNCHRONIZED:
            return {"mirror": SS_SYNCHRONIZED, "clone": SS_FROZEN, "snapshot": SS_IDLE}[sync.kind]
        return {2: SS_INITIALIZED, 3: SS_RESYNC_IN_PROGRESS, 5: SS_BROKEN, 6: SS_FRACTURED, 7: SS_FRACTURED,
                8: SS_IDLE, 9: SS_QUIESCED, 10: SS_FRACTURED, 12: SS_BROKEN, 18: SS_IDLE}.get(state, SS_UNKNOWN)

    def sync_properties(self, sync: Sync) -> Out:
        """The pair's properties. WhenSynced is the point in time the target holds: now for a Synchronized
        mirror that caught up (no update in flight), else the time of the image the last copy or update
        delivered, or of the Fracture / Split / Suspend / Failover that found the target caught up. Nothing
        renews it while the pair is not Synchronized. WhenSuspended is the last of those cuts."""
        mirrored = sync.kind == "mirror" and sync.copy_state == CS_SYNCHRONIZED
        when = sync.when_synced
        if mirrored and self.caught_up(sync):
            when = self.now()
        if sync.kind == "mirror":
            copy_type = CT_SYNC if sync.mode == MODE_SYNC else CT_ASYNC
        else:
            copy_type = CT_UNSYNC_ASSOC
        return {"WhenSynced": cim_time(when) if when else None, "SyncMaintained": mirrored,
                "WhenSuspended": cim_time(sync.when_suspended) if sync.when_suspended else None,
                "CopyState": sync.copy_state, "RequestedCopyState": sync.requested,
                "CopyPriority": sync.copy_priority, "ProgressStatus": sync.progress,
                "PercentSynced": self.percent_synced(sync), "SyncType": sync.sync_type, "Mode": sync.mode,
                "CopyType": copy_type, "ReplicaType": sync.replica_type, "SyncState": self.sync_state(sync)}

    def access(self, sync: Sync) -> tuple[str | None, str | None]:
        if sync.activity in ("restore", "failback"):
            return "none", "ro"
        state = sync.copy_state
        if sync.kind == "mirror":
            target = "rw" if state in GENERIC_HOST_ACCESSIBLE["mirror"] else "ro"
            return ("ro" if state == CS_FAILEDOVER else None), target
        if sync.kind == "clone":
            return None, ("none" if sync.activity in ("copy", "resync") else "rw")
        return None, "rw"

    # mirroring ----------------------------------------------------------------------------------
    def on_write(self, vol: SVolume, indices: list[int]) -> None:
        for sync in list(self.syncs):
            if sync.src is not vol or sync.kind != "mirror" or sync.copy_state != CS_SYNCHRONIZED or sync.busy:
                continue
            if sync.mode == MODE_SYNC and sync.transfer is None:
                sync.tgt.fv.apply({i: vol.fv.blocks[i] for i in indices if i in vol.fv.blocks})
                sync.when_synced = self.now()
            else:
                if sync.transfer is None and self._same_but(sync, indices):
                    sync.when_synced = self.now()  # the target held everything up to this write
                self.pump(sync)

    @staticmethod
    def _same_but(sync: Sync, indices: list[int]) -> bool:
        """Whether the two sides hold the same blocks apart from ``indices``."""
        src, tgt, skip = sync.src.fv.blocks, sync.tgt.fv.blocks, set(indices)
        return all(src.get(i) == tgt.get(i) for i in (set(src) | set(tgt)) - skip)

    def pump(self, sync: Sync) -> None:
        if sync.kind != "mirror" or sync.copy_state != CS_SYNCHRONIZED or sync.transfer is not None or sync.busy:
            return
        if sync not in self.syncs or sync.src.fv.blocks == sync.tgt.fv.blocks:
            return
        if self.fabric.reachable(self.array.name, self.array.name) is not None:
            return
        sync.activity = "update"
        started = self.now()  # the time of the image this update delivers

        def done() -> None:
            sync.activity = None
            sync.when_synced = self.now() if self.caught_up(sync) else started
            self.pump(sync)

        def fail(message: str, code: str) -> None:
            sync.activity = None
            self.broken(sync, None, message, code)

        self.copy(sync, kind="smis-mirror-update", job=None, done=done, fail=fail)

    def broken(self, sync: Sync, job: Job | None, message: str, code: str = "") -> None:
        self.set(sync, CS_BROKEN, PS_REQUIRES_RESYNC)
        sync.requested = CS_NOT_APPLICABLE
        self.finish_job(job, False, message, code)
        self.refresh_access()

    def cancel(self, job: Job) -> None:
        sync = job.sync
        if sync is None or sync not in self.syncs:
            self.finish_job(job, False, "Terminated by request", terminated=True)
            return
        reverse = sync.activity in ("restore", "failback")
        self.stop(sync, "Terminated by a RequestStateChange request")
        if reverse:
            self.set(sync, CS_BROKEN, PS_REQUIRES_RESYNC)
        else:
            self.set(sync, CS_ABORTED, PS_REQUIRES_RESYNC)
        sync.requested = CS_NOT_APPLICABLE

    # CreateElementReplica -----------------------------------------------------------------------
    def create_element_replica(self, service: Service, params: Out) -> Result:  # noqa: C901
        sync_type = params["SyncType"]
        if sync_type == ST_TOKENIZED_CLONE or sync_type >= VENDOR_RANGE:
            return RC_NOT_SUPPORTED, {}
        kind = {ST_MIRROR: "mirror", ST_SNAPSHOT: "snapshot", ST_CLONE: "clone"}.get(sync_type)
        if kind is None:
            return RC_INVALID, {}
        mode = params.get("Mode") or MODE_SYNC
        if mode in (4, 5) or mode >= VENDOR_RANGE:
            return RC_NOT_SUPPORTED, {}
        if mode not in (MODE_SYNC, MODE_ASYNC):
            return RC_INVALID, {}
        if params.get("SourceAccessPoint") is not None or params.get("TargetAccessPoint") is not None:
            return RC_NOT_SUPPORTED, {}
        if params.get("TargetPool") is not None:
            return RC_INVALID, {}
        src = self.volume_or_fault(params["SourceElement"], "SourceElement")
        repl_type = {"mirror": 2, "snapshot": 6, "clone": 10}[kind] + (1 if mode == MODE_ASYNC else 0)
        wait = params.get("WaitForCopyState")
        if wait is not None and wait not in self.wait_states(repl_type, MN_CREATE_ELEMENT_REPLICA, None):
            return RC_INVALID, {}
        tgt = None
        if params.get("TargetElement") is not None:
            tgt = self.volume_or_fault(params["TargetElement"], "TargetElement")
            if tgt is src or tgt.size < src.size:
                return RC_INVALID, {}
            if self.target_in_use(tgt):
                return RC_IN_USE, {}
        created = tgt is None
        if tgt is None:
            tgt = self.array.create_volume(params.get("ElementName") or self.auto_name(src, kind[0]), src.size)
        replica_type = RT_AFTER_DELTA if kind == "snapshot" else RT_FULL_COPY
        sync = Sync(src, tgt, kind, KIND_SYNC_TYPE[kind], mode, CT_UNSYNC_ASSOC, replica_type, self.now())
        self.syncs.append(sync)
        out: Out = {"TargetElement": tgt, "Synchronization": sync}
        if kind == "snapshot":
            tgt.fv.set_blocks(src.fv.blocks)
            self.reach(sync, CS_SYNCHRONIZED)
            self.refresh_access()
            return RC_OK, out
        job = self.new_job(service, "CreateElementReplica", f"Create {kind} of {src.name} ({src.device_id}) on "
                           f"{tgt.name} ({tgt.device_id})", sync, [(tgt, [6] if created else [2])])
        self.set(sync, CS_UNSYNCHRONIZED, PS_SYNCHRONIZING)
        sync.requested = CS_SYNCHRONIZED
        self.run(sync, job, activity="copy", kind=f"smis-{kind}-create", full=True, loop=kind == "mirror",
                 reached=lambda: self.reach(sync, CS_SYNCHRONIZED))
        out["Job"] = job
        return RC_JOB, out

    # ModifyReplicaSynchronization -----------------------------------------------------------------
    def modify_replica_synchronization(self, service: Service, params: Out) -> Result:
        op = params["Operation"]
        if op >= VENDOR_RANGE:
            return RC_NOT_SUPPORTED, {}
        if op not in OP_NAMES:
            return RC_INVALID, {}
        sync = self.sync_or_fault(params["Synchronization"])
        table = GENERIC_OPS[sync.kind]
        if op not in table:
            return RC_NOT_SUPPORTED, {}
        if params.get("SyncPair"):
            return RC_INVALID, {}
        if op not in self.allowed_ops(sync):
            return RC_IN_USE, {}
        wait = params.get("WaitForCopyState")
        if wait is not None and wait not in self.wait_states(self.repl_type(sync), MN_MODIFY_REPLICA_SYNCHRONIZATION,
                                                             op):
            return RC_INVALID, {}
        result = self._operation(service, sync, op)
        self.refresh_access()
        return result

    def _cut(self, sync: Sync, op: int) -> None:
        """Fracture, Split, Suspend, Deactivate or Failover: the copy stops. A mirror that was caught up
        holds the source's image of this moment (WhenSynced); all but Deactivate set WhenSuspended."""
        held = sync.kind == "mirror" and sync.copy_state == CS_SYNCHRONIZED and self.caught_up(sync)
        self.stop(sync, f"copy stopped by {OP_NAMES[op]}")
        result = {OP_FRACTURE: CS_FRACTURED, OP_SPLIT: CS_SPLIT, OP_SUSPEND: CS_SUSPENDED,
                  OP_DEACTIVATE: CS_INACTIVE, OP_FAILOVER: CS_FAILEDOVER}[op]
        self.reach(sync, result)
        now = self.now()
        if held:
            sync.when_synced = now
        if op == OP_DEACTIVATE:
            sync.progress = PS_DORMANT
        else:
            sync.when_suspended = now

    def _job(self, service: Service, sync: Sync, op: int) -> Job:
        return self.new_job(service, "ModifyReplicaSynchronization",
                            f"{OP_NAMES[op]} of {sync.src.name} ({sync.src.device_id}) -> {sync.tgt.name} "
                            f"({sync.tgt.device_id})", sync, [(sync.tgt, [2]), (sync.src, [3])])

    def _forward(self, service: Service, sync: Sync, op: int, progress: int, activity: str) -> Result:
        job = self._job(service, sync, op)
        self.set(sync, CS_UNSYNCHRONIZED, progress)
        sync.requested = CS_SYNCHRONIZED
        self.run(sync, job, activity=activity, kind=f"smis-{activity}", loop=sync.kind == "mirror",
                 reached=lambda: self.reach(sync, CS_SYNCHRONIZED))
        return RC_JOB, {"Job": job}

    def _operation(self, service: Service, sync: Sync, op: int) -> Result:  # noqa: C901  (one table)
        name = OP_NAMES[op]
        if op == OP_ABORT:
            self.stop(sync, f"Aborted by a ModifyReplicaSynchronization {name} request")
            self.reach(sync, CS_ABORTED)
            sync.progress = PS_REQUIRES_RESYNC
            return RC_OK, {}
        if op in (OP_ACTIVATE, OP_RESUME):
            return self._forward(service, sync, op, PS_SYNCHRONIZING, "resync")
        if op == OP_RESYNC:
            if sync.kind == "snapshot":
                sync.tgt.fv.set_blocks(sync.src.fv.blocks)
                self.reach(sync, CS_SYNCHRONIZED)
                return RC_OK, {}
            return self._forward(service, sync, op, PS_RESYNCING, "resync")
        if op in (OP_DETACH, OP_DISSOLVE):
            self.remove(sync, f"relationship ended by {name}")
            return RC_OK, {}
        if op == OP_RETURN_TO_POOL:
            if any(sync.tgt in (s.src, s.tgt) for s in self.syncs if s is not sync):
                return RC_IN_USE, {}
            self.remove(sync, f"relationship ended by {name}")
            self.array.delete_volume(sync.tgt)
            return RC_OK, {}
        if op in (OP_FRACTURE, OP_SPLIT, OP_SUSPEND, OP_DEACTIVATE, OP_FAILOVER):
            self._cut(sync, op)
            return RC_OK, {}
        if op == OP_RESTORE:
            job = self._job(service, sync, op)
            sync.progress = PS_RESTORING
            sync.requested = CS_RESTORED
            self.run(sync, job, activity="restore", kind="smis-restore", reverse=True,
                     reached=lambda: self.reach(sync, CS_RESTORED))
            return RC_JOB, {"Job": job}
        if op == OP_FAILBACK:
            job = self._job(service, sync, op)
            self.set(sync, CS_UNSYNCHRONIZED, PS_FAILING_BACK)
            sync.requested = CS_SYNCHRONIZED
            self.run(sync, job, activity="failback", kind="smis-failback", reverse=True,
                     reached=lambda: self.reach(sync, CS_SYNCHRONIZED))
            return RC_JOB, {"Job": job}
        if op in (OP_RESET_TO_SYNC, OP_RESET_TO_ASYNC):
            sync.mode = MODE_SYNC if op == OP_RESET_TO_SYNC else MODE_ASYNC
            self.pump(sync)
            return RC_OK, {}
        if op == OP_REVERSE_ROLES:
            if any(s.tgt is sync.src for s in self.syncs if s is not sync):
                return RC_IN_USE, {}
            sync.src, sync.tgt = sync.tgt, sync.src
            self.refresh_access()
            self.pump(sync)
            return RC_OK, {"UpdatedSynchronization": sync}
        return RC_NOT_SUPPORTED, {}
