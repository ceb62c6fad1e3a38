"""Replication logic of the SMI-S arrays: methods, state machines, jobs, data movement.

``Engine`` holds what both provider profiles share (jobs, copies through the
fabric, host access, capability queries); ``GenericEngine`` implements the SNIA
Replication Services profile for local mirrors, clones and snapshots and
``TpdEngine`` the restricted HPE 3PAR provider (physical and virtual copies,
legacy Copy Services plus its ReplicationService subset).
"""

from __future__ import annotations

import asyncio
import typing as t

import pywbem

from .cimxml import CIM_ERR_METHOD_NOT_AVAILABLE, CIM_ERR_NOT_FOUND, CIMFault
from .model import (CS_ABORTED, CS_BROKEN, CS_FAILEDOVER, CS_FRACTURED, CS_INACTIVE, CS_NOT_APPLICABLE, CS_RESTORED,
                    CS_SPLIT, CS_SUSPENDED, CS_SYNCHRONIZED, CS_UNSYNCHRONIZED, CT_ASYNC, CT_SYNC, CT_UNSYNC_ASSOC,
                    CT_UNSYNC_UNASSOC, GENERIC_HOST_ACCESSIBLE, GENERIC_OPS, GENERIC_RESULT, GENERIC_STATES,
                    JS_COMPLETED, JS_EXCEPTION, JS_TERMINATED, KIND_SYNC_TYPE, LOP_DETACH, LOP_NAMES, LOP_RESTORE,
                    LOP_RESYNC, LOP_START_COPY, LOP_STOP_COPY, MN_CREATE_ELEMENT_REPLICA,
                    MN_MODIFY_REPLICA_SYNCHRONIZATION, MODE_ASYNC, MODE_SYNC, OP_ABORT, OP_ACTIVATE, OP_DEACTIVATE,
                    OP_DETACH, OP_DISSOLVE, OP_FAILBACK, OP_FAILOVER, OP_FRACTURE, OP_NAMES, OP_RESET_TO_ASYNC,
                    OP_RESET_TO_SYNC, OP_RESTORE, OP_RESUME, OP_RETURN_TO_POOL, OP_REVERSE_ROLES, OP_RESYNC,
                    OP_SPLIT, OP_SUSPEND, OS_ABORTED, OS_COMPLETED, OS_ERROR, OS_OK, PS_COMPLETED, PS_DORMANT,
                    PS_FAILING_BACK, PS_REQUIRES_RESYNC, PS_RESTORING, PS_RESYNCING, PS_SYNCHRONIZING,
                    RC_FAILED, RC_IN_USE, RC_INVALID, RC_INVALID_TRANSITION, RC_JOB, RC_NOT_SUPPORTED, RC_OK,
                    RC_TIMEOUT, RC_TIMEOUT_NOT_SUPPORTED, RC_UNKNOWN, REPLICATION_TYPES, RT_AFTER_DELTA,
                    RT_FULL_COPY, SC_SOURCE_OR_TARGET, SS_BROKEN, SS_COPY_IN_PROGRESS, SS_FRACTURED, SS_FROZEN,
                    SS_IDLE, SS_INITIALIZED, SS_QUIESCED, SS_RESTORE_IN_PROGRESS, SS_RESYNC_IN_PROGRESS,
                    SS_SYNCHRONIZED, SS_UNKNOWN, ST_CLONE, ST_MIRROR, ST_SNAPSHOT, ST_TOKENIZED_CLONE,
                    TPD_HOST_ACCESSIBLE, TPD_LEGACY_OPS, TPD_OPS, TPD_STATE_MAP, TPD_STATES, TPD_WAIT_STATES,
                    VALID_REPLICATION_TYPES, Capabilities, Job, Service, SVolume, Sync, cim_time)

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer
    from . import SmisArray

Out = dict[str, t.Any]
Result = tuple[int, Out]
_ACCESS_RANK = {"none": 0, "ro": 1, "rw": 2}
VENDOR_RANGE = 0x8000


class Engine:
    """What both provider profiles share."""

    profile = ""
    job_ok_status = [OS_OK, OS_COMPLETED]
    job_failed_state = JS_EXCEPTION
    job_failed_status = [OS_ERROR, OS_COMPLETED]
    unsupported_type_rc = RC_NOT_SUPPORTED
    cancel_rc = RC_OK

    def __init__(self, array: SmisArray) -> None:
        self.array = array
        self.syncs: list[Sync] = []
        self.jobs: dict[str, Job] = {}

    @property
    def fabric(self):  # type: ignore[no-untyped-def]
        return self.array.fabric

    def now(self) -> float:
        return self.array.clock.now()

    # dispatch ---------------------------------------------------------------------------------
    def handlers(self) -> dict[tuple[str, str], t.Callable[[t.Any, Out], Result]]:
        return {
            ("ReplicationService", "createelementreplica"): self.create_element_replica,
            ("ReplicationService", "modifyreplicasynchronization"): self.modify_replica_synchronization,
            ("ReplicationServiceCapabilities", "getsupportedoperations"): self.get_supported_operations,
            ("ReplicationServiceCapabilities", "getsupportedoperationsforsynchronization"):
                self.get_supported_operations_for_synchronization,
            ("ReplicationServiceCapabilities", "getsupportedcopystates"): self.get_supported_copy_states,
            ("ReplicationServiceCapabilities", "getsupportedwaitforcopystates"):
                self.get_supported_wait_for_copy_states,
            ("ConcreteJob", "geterror"): self.get_error,
            ("ConcreteJob", "geterrors"): self.get_errors,
            ("ConcreteJob", "requeststatechange"): self.request_state_change,
        }

    async def invoke(self, obj: t.Any, method: str, params: Out) -> Result:
        handler = self.handlers().get((obj.suffix, method.lower()))
        if handler is None:
            raise CIMFault(CIM_ERR_METHOD_NOT_AVAILABLE, f"{method} is not implemented by the {self.profile} provider")
        rc, out = handler(obj, params)
        job = out.get("Job")
        if rc == RC_JOB and params.get("WaitForCopyState") is not None and isinstance(job, Job):
            rc = await self.wait(job)
        return rc, out

    async def wait(self, job: Job) -> int:
        """WaitForCopyState: return only once the job (and so the copy) is done."""
        if not job.terminal:
            waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            job.waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, self.array.wait_timeout)
            except asyncio.TimeoutError:
                return RC_TIMEOUT
        return RC_FAILED if job.failed or job.state == JS_TERMINATED else RC_OK

    # lookups ------------------------------------------------------------------------------------
    def volume(self, path: t.Any) -> SVolume | None:
        obj = self.array.provider.resolve(path)
        return obj if isinstance(obj, SVolume) else None

    def volume_or_fault(self, path: t.Any, what: str) -> SVolume:
        vol = self.volume(path)
        if vol is None:
            raise CIMFault(CIM_ERR_NOT_FOUND, f"{what}: no storage volume {path}")
        return vol

    def sync_of(self, path: t.Any) -> Sync | None:
        obj = self.array.provider.resolve(path)
        return obj if isinstance(obj, Sync) else None

    def sync_or_fault(self, path: t.Any) -> Sync:
        sync = self.sync_of(path)
        if sync is None:
            raise CIMFault(CIM_ERR_NOT_FOUND, f"no synchronization {path} (stale path? re-read the pair)")
        return sync

    def target_in_use(self, vol: SVolume) -> bool:
        return any(s.tgt is vol for s in self.syncs)

    def participates(self, vol: SVolume) -> bool:
        return any(vol in (s.src, s.tgt) for s in self.syncs)

    def auto_name(self, src: SVolume, suffix: str) -> str:
        names = {v.name for v in self.array.volumes.values()}
        n = 1
        while f"{src.name}_{suffix}{n}" in names:
            n += 1
        return f"{src.name}_{suffix}{n}"

    # jobs ----------------------------------------------------------------------------------------
    def new_job(self, owner: Service, method: str, description: str, sync: Sync,
                affected: list[tuple[t.Any, list[int]]]) -> Job:
        job = Job(self.array.name, method, description, owner, self.now(), self.array.job_retention,
                  self.array.faults.take_job_failure())
        job.sync = sync
        job.affected = affected
        sync.job = job
        self.jobs[job.instance_id] = job
        return job

    def finish_job(self, job: Job | None, ok: bool, message: str = "", code: str = "",
                   terminated: bool = False) -> None:
        if job is None or job.terminal:
            return
        now = self.now()
        job.percent = 100 if ok else job.current_percent()
        job.transfer = None
        job.ended = job.changed = now
        if ok:
            job.state, job.op_status, job.status_text = JS_COMPLETED, list(self.job_ok_status), "Completed"
        elif terminated:
            job.state, job.op_status, job.status_text = JS_TERMINATED, [OS_ABORTED], "Terminated"
            job.error_description = message
        else:
            job.failed = True
            job.state, job.op_status, job.status_text = self.job_failed_state, list(self.job_failed_status), "Failed"
            job.error_code = int(code) if str(code).isdigit() and int(code) < 65536 else 1
            job.error_description = message or "The operation failed"
        if job.sync is not None and job.sync.job is job:
            job.sync.job = None
        job.wake()
        self.array.lab.schedule(job.retention, lambda: self.jobs.pop(job.instance_id, None))

    def error_instance(self, job: Job) -> pywbem.CIMInstance:
        owner = "TPD" if self.profile == "3par" else "LAB"
        return self.array.provider.make_instance("CIM_Error", {
            "ErrorType": 4, "OwningEntity": owner, "MessageID": f"{owner}{job.error_code:04d}",
            "Message": job.error_description, "MessageArguments": [job.error_description],
            "PerceivedSeverity": 5, "ProbableCause": 0, "ErrorSource": job.instance_id,
            "CIMStatusCode": 1, "CIMStatusCodeDescription": "CIM_ERR_FAILED",
        })

    def get_error(self, job: Job, _params: Out) -> Result:
        return RC_OK, ({"Error": self.error_instance(job)} if job.failed else {})

    def get_errors(self, job: Job, _params: Out) -> Result:
        return RC_OK, {"Errors": [self.error_instance(job)] if job.failed else []}

    def request_state_change(self, job: Job, params: Out) -> Result:
        requested = params.get("RequestedState")
        if requested is None:
            return RC_INVALID, {}
        if params.get("TimeoutPeriod") is not None:
            return RC_TIMEOUT_NOT_SUPPORTED, {}
        if requested != 4:
            return RC_NOT_SUPPORTED, {}
        if job.terminal:
            return RC_INVALID_TRANSITION, {}
        self.cancel(job)
        self.refresh_access()
        return self.cancel_rc, {}

    def cancel(self, job: Job) -> None:
        raise NotImplementedError

    # data movement ------------------------------------------------------------------------------
    def copy(self, sync: Sync, *, kind: str, job: Job | None, done: t.Callable[[], None],
             fail: t.Callable[[str, str], None], reverse: bool = False, full: bool = False) -> None:
        """Copy source -> target (target -> source with ``reverse``) through the fabric.

        A full copy moves every block of the source image; otherwise only the
        blocks that differ from what the destination holds now. When it ends the
        destination holds exactly the image taken at the start.
        """
        src, dst = (sync.tgt, sync.src) if reverse else (sync.src, sync.tgt)
        image = dict(src.fv.blocks)
        base = None if full else dict(dst.fv.blocks)
        before = dict(dst.fv.blocks)
        moved = dict(image)
        if base is not None:
            # blocks the destination holds and the image lacks are rewritten (unmapped) too
            moved.update({index: "unmapped" for index in base if index not in image})
        sync.token += 1
        token = sync.token

        def on_done(_transfer: Transfer) -> None:
            if sync.token != token:
                return
            sync.transfer = None
            if job is not None and job.failure is not None:
                partial = dict(before)
                differing = sorted(i for i in set(before) | set(image) if before.get(i) != image.get(i))
                for index in differing[: len(differing) // 2]:
                    if index in image:
                        partial[index] = image[index]
                    else:
                        partial.pop(index, None)
                dst.fv.set_blocks(partial)
                fail(job.failure[0], job.failure[1])
                return
            dst.fv.set_blocks(image)
            done()

        def on_fail(transfer: Transfer) -> None:
            if sync.token != token:
                return
            sync.transfer = None
            if job is not None and job.failure is not None:
                fail(job.failure[0], job.failure[1])
            else:
                fail(f"copy from {src.name} to {dst.name} failed: {transfer.error}", "")

        transfer = self.fabric.start_transfer(kind, self.array.name, src.device_id, dst.fv, moved, base,
                                              self.array.copy_rate or None, on_done, on_fail)
        sync.transfer = transfer
        if job is not None:
            job.transfer = transfer
            if job.failure is not None:
                message = job.failure[0]
                self.array.lab.schedule(0.0, lambda: self.fabric.abort(transfer, message)
                                        if sync.transfer is transfer else None)

    def stop(self, sync: Sync, reason: str, terminate_job: bool = True) -> None:
        """Stop what runs on a pair (its callbacks are ignored from now on)."""
        transfer = sync.transfer
        sync.token += 1
        sync.transfer = None
        sync.activity = None
        if transfer is not None:
            self.fabric.abort(transfer, reason)
        if terminate_job and sync.job is not None:
            self.finish_job(sync.job, False, reason, terminated=True)

    def remove(self, sync: Sync, reason: str) -> None:
        self.stop(sync, reason)
        if sync in self.syncs:
            self.syncs.remove(sync)
        self.refresh_access()

    def run(self, sync: Sync, job: Job | None, *, activity: str, kind: str, reached: t.Callable[[], None],
            reverse: bool = False, full: bool = False, loop: bool = False) -> None:
        """Copy, then ``reached()`` and the job's success; a mirror loops until the target caught up."""
        sync.activity = activity

        def done() -> None:
            if loop and sync.src.fv.blocks != sync.tgt.fv.blocks:
                self.run(sync, job, activity=activity, kind=kind, reached=reached, reverse=reverse, loop=loop)
                return
            sync.activity = None
            reached()
            self.finish_job(job, True)
            self.refresh_access()
            self.pump(sync)

        def fail(message: str, code: str) -> None:
            sync.activity = None
            self.broken(sync, job, message, code)

        self.copy(sync, kind=kind, job=job, done=done, fail=fail, reverse=reverse, full=full)
        self.refresh_access()

    def broken(self, sync: Sync, job: Job | None, message: str, code: str = "") -> None:
        raise NotImplementedError

    def pump(self, sync: Sync) -> None:
        """Mirrors only: keep a Synchronized target in line with its source."""

    def on_write(self, vol: SVolume, _indices: list[int]) -> None:
        """A host wrote to ``vol`` (control API)."""

    # host access ---------------------------------------------------------------------------------
    def access(self, sync: Sync) -> tuple[str | None, str | None]:
        raise NotImplementedError

    def refresh_access(self) -> None:
        access = {id(v): "rw" for v in self.array.volumes.values()}
        for sync in self.syncs:
            for vol, level in zip((sync.src, sync.tgt), self.access(sync)):
                if level is not None and _ACCESS_RANK[level] < _ACCESS_RANK[access.get(id(vol), "rw")]:
                    access[id(vol)] = level
        for vol in self.array.volumes.values():
            vol.fv.host_access = access[id(vol)]

    # capabilities ----------------------------------------------------------------------------------
    def ops_table(self, repl_type: int) -> dict[int, tuple[int, ...]] | None:
        raise NotImplementedError

    def states_of(self, repl_type: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        raise NotImplementedError

    def wait_states(self, repl_type: int, method: int, op: int | None) -> tuple[int, ...]:
        raise NotImplementedError

    def repl_type(self, sync: Sync) -> int:
        raise NotImplementedError

    def allowed_ops(self, sync: Sync) -> list[int]:
        table = self.ops_table(self.repl_type(sync)) or {}
        return sorted(op for op, states in table.items() if sync.copy_state in states)

    @staticmethod
    def ops_out(ops: t.Sequence[int]) -> Out:
        return {"SupportedOperations": list(ops), "ServiceControlling": [SC_SOURCE_OR_TARGET] * len(ops),
                "RequiresForce": [False] * len(ops), "UpdatesSynchronizedPath": [op == OP_REVERSE_ROLES for op in ops]}

    def _type_check(self, repl_type: int) -> int | None:
        if repl_type not in VALID_REPLICATION_TYPES and repl_type < VENDOR_RANGE:
            return RC_INVALID
        if self.ops_table(repl_type) is None:
            return self.unsupported_type_rc
        return None

    def get_supported_operations(self, _caps: Capabilities, params: Out) -> Result:
        repl_type = params["ReplicationType"]
        refusal = self._type_check(repl_type)
        if refusal is not None:
            return refusal, {}
        state = params.get("CopyState")
        table = self.ops_table(repl_type) or {}
        return RC_OK, self.ops_out(sorted(op for op, states in table.items() if state is None or state in states))

    def get_supported_operations_for_synchronization(self, _caps: Capabilities, params: Out) -> Result:
        sync = self.sync_or_fault(params["Synchronization"])
        return RC_OK, self.ops_out(self.allowed_ops(sync))

    def get_supported_copy_states(self, _caps: Capabilities, params: Out) -> Result:
        repl_type = params["ReplicationType"]
        refusal = self._type_check(repl_type)
        if refusal is not None:
            return refusal, {}
        states, accessible = self.states_of(repl_type)
        op = params.get("Operation")
        if op is not None:
            states = tuple((self.ops_table(repl_type) or {}).get(op, ()))
        return RC_OK, {"SupportedCopyStates": list(states), "HostAccessible": [s in accessible for s in states]}

    def get_supported_wait_for_copy_states(self, _caps: Capabilities, params: Out) -> Result:
        repl_type = params["ReplicationType"]
        refusal = self._type_check(repl_type)
        if refusal is not None:
            return refusal, {}
        method = params["MethodName"]
        if method not in (MN_CREATE_ELEMENT_REPLICA, MN_MODIFY_REPLICA_SYNCHRONIZATION):
            return RC_INVALID, {}
        return RC_OK, {"SupportedCopyStates": list(self.wait_states(repl_type, method, params.get("Operation")))}

    # rendering ----------------------------------------------------------------------------------------
    def percent_synced(self, sync: Sync) -> int:
        if sync.transfer is not None:
            return min(99, sync.transfer.progress)
        src, tgt = sync.src.fv.blocks, sync.tgt.fv.blocks
        indices = set(src) | set(tgt)
        if not indices:
            return 100
        same = sum(1 for i in indices if src.get(i) == tgt.get(i))
        return int(100 * same // len(indices))

    def sync_properties(self, sync: Sync) -> Out:
        raise NotImplementedError

    # methods ------------------------------------------------------------------------------------------
    def create_element_replica(self, service: Service, params: Out) -> Result:
        raise NotImplementedError

    def modify_replica_synchronization(self, service: Service, params: Out) -> Result:
        raise NotImplementedError


# ================================================================================================
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
        mirrored = sync.kind == "mirror" and sync.copy_state == CS_SYNCHRONIZED
        when = sync.when_synced
        if mirrored and sync.mode == MODE_SYNC and sync.transfer is None:
            when = self.now()
        if sync.kind == "mirror":
            copy_type = CT_SYNC if sync.mode == MODE_SYNC else CT_ASYNC
        else:
            copy_type = CT_UNSYNC_ASSOC
        return {"WhenSynced": cim_time(when) if when else None, "SyncMaintained": mirrored,
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
                self.pump(sync)

    def pump(self, sync: Sync) -> None:
        if sync.kind != "mirror" or sync.copy_state != CS_SYNCHRONIZED or sync.transfer is not None or sync.busy:
            return
        if sync not in self.syncs or sync.src.fv.blocks == sync.tgt.fv.blocks:
            return
        if self.fabric.reachable(self.array.name, self.array.name) is not None:
            return
        sync.activity = "update"

        def done() -> None:
            sync.activity = None
            sync.when_synced = self.now()
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
            self.stop(sync, f"copy stopped by {name}")
            result = {OP_FRACTURE: CS_FRACTURED, OP_SPLIT: CS_SPLIT, OP_SUSPEND: CS_SUSPENDED,
                      OP_DEACTIVATE: CS_INACTIVE, OP_FAILOVER: CS_FAILEDOVER}[op]
            self.reach(sync, result)
            if op == OP_DEACTIVATE:
                sync.progress = PS_DORMANT
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


# ================================================================================================
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
        return {"WhenSynced": cim_time(sync.when_synced) if sync.when_synced else None, "SyncMaintained": False,
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
