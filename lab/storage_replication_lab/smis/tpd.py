"""The ``3par`` SMI-S profile: the HPE 3PAR provider, physical copies (clones) and virtual copies (snapshots).

Legacy Copy Services (``CreateReplica``, ``AttachOrModifyReplica``,
``ModifySynchronization`` 2-13) plus the 3PAR subset of the ReplicationService,
local copies only; the rules are in the docstring of the ``smis`` package.
"""

from __future__ import annotations

import typing as t

from .cimxml import CIM_ERR_NOT_FOUND, CIMFault
from .engine import VENDOR_RANGE, Engine, Out, Result
from .model import (CS_NOT_APPLICABLE, CT_UNSYNC_ASSOC, CT_UNSYNC_UNASSOC, JS_COMPLETED, LOP_DETACH, LOP_NAMES,
                    LOP_RESTORE, LOP_RESYNC, LOP_START_COPY, LOP_STOP_COPY, MN_CREATE_ELEMENT_REPLICA,
                    MN_MODIFY_REPLICA_SYNCHRONIZATION, MODE_ASYNC, MODE_SYNC, OP_ABORT, OP_DETACH, OP_DISSOLVE,
                    OP_NAMES, OP_RESTORE, OP_RETURN_TO_POOL, OS_COMPLETED, OS_ERROR, OS_OK, RC_FAILED, RC_INVALID,
                    RC_JOB, RC_NOT_SUPPORTED, RC_OK, RC_UNKNOWN, RT_AFTER_DELTA, RT_FULL_COPY, SS_BROKEN,
                    SS_COPY_IN_PROGRESS, SS_FROZEN, SS_IDLE, SS_INITIALIZED, SS_RESTORE_IN_PROGRESS,
                    SS_RESYNC_IN_PROGRESS, ST_CLONE, ST_MIRROR, ST_SNAPSHOT, ST_TOKENIZED_CLONE, TPD_HOST_ACCESSIBLE,
                    TPD_LEGACY_OPS, TPD_OPS, TPD_STATES, TPD_STATE_MAP, TPD_WAIT_STATES, Job, SVolume, Service, Sync,
                    cim_time)


class TpdEngine(Engine):
    """The HPE 3PAR provider: physical copies (clones) and virtual copies (snapshots), local only."""

    profile = "3par"
    job_ok_status = [OS_COMPLETED, OS_OK]
    job_failed_state = JS_COMPLETED
    job_failed_status = [OS_COMPLETED, OS_ERROR]
    unsupported_type_rc = RC_UNKNOWN
    cancel_rc = RC_JOB

    def handlers(self) -> dict[tuple[str, str], t.Callable[[t.Any, Out], Result]]:
        table = super().handlers()
        table.update({
            ("StorageConfigurationService", "createreplica"): self.create_replica,
            ("StorageConfigurationService", "attachormodifyreplica"): self.attach_or_modify_replica,
            ("StorageConfigurationService", "modifysynchronization"): self.modify_synchronization,
        })
        return table

    # states -----------------------------------------------------------------------------------
    @staticmethod
    def set(sync: Sync, sync_state: int) -> None:
        sync.sync_state = sync_state
        sync.copy_state, sync.progress = TPD_STATE_MAP[sync_state]

    def repl_type(self, sync: Sync) -> int:
        return sync.repl_type

    def ops_table(self, repl_type: int) -> dict[int, tuple[int, ...]] | None:
        return TPD_OPS.get(repl_type)

    def states_of(self, repl_type: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return TPD_STATES[repl_type], TPD_HOST_ACCESSIBLE[repl_type]

    def wait_states(self, repl_type: int, method: int, op: int | None) -> tuple[int, ...]:
        return TPD_WAIT_STATES.get((repl_type, method), ())

    def sync_properties(self, sync: Sync) -> Out:
        # local copies are never fractured, split, suspended or failed over: WhenSuspended stays NULL
        return {"WhenSynced": cim_time(sync.when_synced) if sync.when_synced else None, "SyncMaintained": False,
                "WhenSuspended": cim_time(sync.when_suspended) if sync.when_suspended else None,
                "CopyState": sync.copy_state, "RequestedCopyState": sync.requested,
                "CopyPriority": sync.copy_priority, "ProgressStatus": sync.progress,
                "PercentSynced": self.percent_synced(sync), "SyncType": sync.sync_type, "Mode": sync.mode,
                "CopyType": sync.copy_type, "ReplicaType": sync.replica_type, "SyncState": sync.sync_state}

    def access(self, sync: Sync) -> tuple[str | None, str | None]:
        if sync.activity == "restore":
            return "none", "ro"
        if sync.kind == "clone" and sync.sync_state in (SS_INITIALIZED, SS_RESYNC_IN_PROGRESS, SS_COPY_IN_PROGRESS):
            return None, "none"
        return None, "rw"

    def broken(self, sync: Sync, job: Job | None, message: str, code: str = "") -> None:
        self.set(sync, SS_BROKEN)
        sync.requested = CS_NOT_APPLICABLE
        self.finish_job(job, False, message, code)
        self.refresh_access()

    def cancel(self, job: Job) -> None:
        sync = job.sync
        if sync is None or sync not in self.syncs:
            self.finish_job(job, False, "Terminated by request", terminated=True)
            return
        if sync.kind == "clone":
            self.remove(sync, "physical copy halted (task cancelled)")
        else:
            self.stop(sync, "promote cancelled")
            self.set(sync, SS_BROKEN)

    @staticmethod
    def family(sync: Sync) -> str:
        if sync.kind == "snapshot":
            return "virtual"
        return "physical-assoc" if sync.copy_type == CT_UNSYNC_ASSOC else "physical-unassoc"

    # creating copies ------------------------------------------------------------------------------
    def name_taken(self, name: str | None) -> bool:
        return bool(name) and any(v.name == name for v in self.array.volumes.values())

    def create_virtual(self, src: SVolume, name: str | None) -> Sync:
        tgt = self.array.create_volume(name or self.auto_name(src, "vc"), src.size)
        tgt.fv.set_blocks(src.fv.blocks)
        sync = Sync(src, tgt, "snapshot", ST_SNAPSHOT, MODE_SYNC, CT_UNSYNC_ASSOC, RT_AFTER_DELTA, self.now())
        sync.repl_type = 6
        self.set(sync, SS_IDLE)
        sync.when_synced = self.now()
        self.syncs.append(sync)
        self.refresh_access()
        return sync

    def create_physical(self, service: Service, method: str, src: SVolume, tgt: SVolume | None, copy_type: int,
                        name: str | None) -> tuple[Sync, Job]:
        created = tgt is None
        if tgt is None:
            tgt = self.array.create_volume(name or self.auto_name(src, "pc"), src.size)
        mode = MODE_SYNC if copy_type == CT_UNSYNC_UNASSOC else MODE_ASYNC
        sync = Sync(src, tgt, "clone", ST_CLONE, mode, copy_type, RT_FULL_COPY, self.now())
        sync.repl_type = 10 if copy_type == CT_UNSYNC_UNASSOC else 11
        self.syncs.append(sync)
        job = self.new_job(service, method, f"Create physical copy of {src.name} ({src.device_id}) on {tgt.name} "
                           f"({tgt.device_id})", sync, [(tgt, [6] if created else [2])])
        self.set(sync, SS_RESYNC_IN_PROGRESS)
        self.run(sync, job, activity="copy", kind="smis-physical-copy", full=True,
                 reached=lambda: self._copied(sync))
        return sync, job

    def _copied(self, sync: Sync) -> None:
        sync.when_synced = self.now()
        sync.requested = CS_NOT_APPLICABLE
        if sync.copy_type == CT_UNSYNC_UNASSOC:
            if sync in self.syncs:
                self.syncs.remove(sync)
        else:
            self.set(sync, SS_FROZEN)

    def _physical_target(self, src: SVolume, path: t.Any) -> tuple[SVolume | None, int]:
        """The existing target of a physical copy, or (None, rc) when it cannot be one."""
        tgt = self.volume(path)
        if tgt is None or tgt is src or tgt.size < src.size:
            return None, RC_INVALID
        if self.participates(tgt):
            return None, RC_FAILED
        return tgt, RC_OK

    # legacy Copy Services ---------------------------------------------------------------------------
    def create_replica(self, _service: Service, params: Out) -> Result:
        """Virtual copy (createsv): CopyType UnSyncAssoc only, no job."""
        copy_type = params.get("CopyType")
        if copy_type is None:
            return RC_INVALID, {}
        if copy_type != CT_UNSYNC_ASSOC:
            return RC_FAILED, {}
        src = self.volume(params["SourceElement"])
        if src is None or params.get("TargetPool") is not None:
            return RC_INVALID, {}
        if self.name_taken(params.get("ElementName")):
            return RC_FAILED, {}
        sync = self.create_virtual(src, params.get("ElementName"))
        return RC_OK, {"TargetElement": sync.tgt}

    def attach_or_modify_replica(self, service: Service, params: Out) -> Result:
        """Physical copy (createvvcopy) into an existing base volume: UnSyncAssoc or UnSyncUnAssoc."""
        copy_type = params["CopyType"]
        if copy_type not in (CT_UNSYNC_ASSOC, CT_UNSYNC_UNASSOC):
            return RC_FAILED, {}
        src = self.volume(params["SourceElement"])
        if src is None:
            return RC_INVALID, {}
        tgt, rc = self._physical_target(src, params["TargetElement"])
        if tgt is None:
            return rc, {}
        _sync, job = self.create_physical(service, "AttachOrModifyReplica", src, tgt, copy_type, None)
        return RC_JOB, {"Job": job}

    def modify_synchronization(self, service: Service, params: Out) -> Result:
        op = params["Operation"]
        if op not in LOP_NAMES:
            return RC_INVALID, {}
        sync = self.sync_of(params["Synchronization"])
        if sync is None:
            return RC_FAILED, {}
        ops = TPD_LEGACY_OPS[self.family(sync)]
        if op not in ops:
            return RC_NOT_SUPPORTED, {}
        if sync.sync_state not in ops[op]:
            return RC_FAILED, {}
        name = LOP_NAMES[op]
        result: Result = (RC_OK, {})
        if op == LOP_DETACH:
            self.remove(sync, "physical copy promoted (Detach)")
        elif op == LOP_STOP_COPY:
            self.remove(sync, "physical copy halted (Stop Copy)")
        else:
            job = self.new_job(service, "ModifySynchronization",
                               f"{name} of {sync.src.name} ({sync.src.device_id}) -> {sync.tgt.name} "
                               f"({sync.tgt.device_id})", sync, [(sync.tgt, [2]), (sync.src, [3])])
            if op == LOP_RESTORE:
                self.set(sync, SS_RESTORE_IN_PROGRESS)
                self.run(sync, job, activity="restore", kind="smis-promote", reverse=True,
                         reached=lambda: self._restored(sync))
            else:
                self.set(sync, SS_RESYNC_IN_PROGRESS if op == LOP_RESYNC else SS_COPY_IN_PROGRESS)
                self.run(sync, job, activity="resync" if op == LOP_RESYNC else "startcopy",
                         kind="smis-resync" if op == LOP_RESYNC else "smis-physical-copy",
                         full=op == LOP_START_COPY, reached=lambda: self._copied(sync))
            result = (RC_JOB, {"Job": job})
        self.refresh_access()
        return result

    def _restored(self, sync: Sync) -> None:
        sync.when_synced = self.now()
        self.set(sync, SS_IDLE)

    # ReplicationService (the 3PAR subset) ------------------------------------------------------------
    def create_element_replica(self, service: Service, params: Out) -> Result:  # noqa: C901
        sync_type = params["SyncType"]
        if sync_type in (ST_MIRROR, ST_TOKENIZED_CLONE) or sync_type >= VENDOR_RANGE:
            return RC_NOT_SUPPORTED, {}
        if sync_type not in (ST_SNAPSHOT, ST_CLONE):
            return RC_INVALID, {}
        for name in ("ReplicationSettingData", "SourceAccessPoint", "TargetAccessPoint", "TargetPool"):
            if params.get(name) is not None:
                return RC_INVALID, {}
        mode = params.get("Mode")
        src = self.volume(params["SourceElement"])
        if src is None:
            raise CIMFault(CIM_ERR_NOT_FOUND, f"SourceElement: no storage volume {params['SourceElement']}")
        wait = params.get("WaitForCopyState")
        element_name = params.get("ElementName")
        if sync_type == ST_SNAPSHOT:
            if mode not in (None, MODE_SYNC) or params.get("TargetElement") is not None:
                return RC_INVALID, {}
            if wait is not None and wait not in self.wait_states(6, MN_CREATE_ELEMENT_REPLICA, None):
                return RC_INVALID, {}
            if self.name_taken(element_name):
                return RC_FAILED, {}
            sync = self.create_virtual(src, element_name)
            return RC_OK, {"TargetElement": sync.tgt, "Synchronization": sync}
        if mode not in (None, MODE_SYNC, MODE_ASYNC):
            return RC_INVALID, {}
        copy_type = CT_UNSYNC_ASSOC if mode == MODE_ASYNC else CT_UNSYNC_UNASSOC
        repl_type = 11 if copy_type == CT_UNSYNC_ASSOC else 10
        if wait is not None and wait not in self.wait_states(repl_type, MN_CREATE_ELEMENT_REPLICA, None):
            return RC_INVALID, {}
        tgt = None
        if params.get("TargetElement") is not None:
            tgt, rc = self._physical_target(src, params["TargetElement"])
            if tgt is None:
                return rc, {}
        elif self.name_taken(element_name):
            return RC_FAILED, {}
        sync, job = self.create_physical(service, "CreateElementReplica", src, tgt, copy_type, element_name)
        return RC_JOB, {"Job": job, "TargetElement": sync.tgt, "Synchronization": sync}

    def modify_replica_synchronization(self, service: Service, params: Out) -> Result:
        op = params["Operation"]
        if op >= VENDOR_RANGE:
            return RC_NOT_SUPPORTED, {}
        if op not in OP_NAMES:
            return RC_INVALID, {}
        for name in ("ReplicationSettingData", "Force"):
            if params.get(name) is not None:
                return RC_INVALID, {}
        if params.get("SyncPair"):
            return RC_INVALID, {}
        sync = self.sync_or_fault(params["Synchronization"])
        table = TPD_OPS.get(sync.repl_type, {})
        if op not in table:
            return RC_NOT_SUPPORTED, {}
        if sync.copy_state not in table[op]:
            return RC_FAILED, {}
        wait = params.get("WaitForCopyState")
        if wait is not None and wait not in self.wait_states(sync.repl_type, MN_MODIFY_REPLICA_SYNCHRONIZATION, op):
            return RC_INVALID, {}
        name = OP_NAMES[op]
        result: Result = (RC_OK, {})
        if op == OP_ABORT:
            self.remove(sync, "physical copy halted (Abort)")
        elif op in (OP_DETACH, OP_DISSOLVE):
            self.remove(sync, f"copy promoted ({name})")
        elif op == OP_RETURN_TO_POOL:
            self.remove(sync, "virtual copy deleted")
            self.array.delete_volume(sync.tgt)
        else:
            job = self.new_job(service, "ModifyReplicaSynchronization",
                               f"{name} of {sync.src.name} ({sync.src.device_id}) -> {sync.tgt.name} "
                               f"({sync.tgt.device_id})", sync, [(sync.tgt, [2]), (sync.src, [3])])
            if op == OP_RESTORE:
                self.set(sync, SS_RESTORE_IN_PROGRESS)
                self.run(sync, job, activity="restore", kind="smis-promote", reverse=True,
                         reached=lambda: self._restored(sync))
            else:
                self.set(sync, SS_RESYNC_IN_PROGRESS)
                self.run(sync, job, activity="resync", kind="smis-resync", reached=lambda: self._copied(sync))
            result = (RC_JOB, {"Job": job})
        self.refresh_access()
        return result
