"""Replication logic of the SMI-S arrays: methods, state machines, jobs, data movement.

``Engine`` (here) holds what both provider profiles share (jobs, copies through
the fabric, host access, capability queries); ``GenericEngine`` (``generic.py``)
implements the SNIA Replication Services profile for local mirrors, clones and
snapshots and ``TpdEngine`` (``tpd.py``) the restricted HPE 3PAR provider
(physical and virtual copies, legacy Copy Services plus its ReplicationService
subset). Both serve replication groups (``groups.py``: CreateGroup, DeleteGroup).
"""

from __future__ import annotations

import asyncio
import typing as t

import pywbem

from .cimxml import CIM_ERR_METHOD_NOT_AVAILABLE, CIM_ERR_NOT_FOUND, CIMFault
from .groups import Groups
from .volumes import return_to_storage_pool
from .model import (JS_COMPLETED, JS_EXCEPTION, JS_TERMINATED, MN_CREATE_ELEMENT_REPLICA,
                    MN_MODIFY_REPLICA_SYNCHRONIZATION, OP_REVERSE_ROLES, OS_ABORTED, OS_COMPLETED, OS_ERROR, OS_OK,
                    RC_FAILED, RC_INVALID, RC_INVALID_TRANSITION, RC_JOB, RC_NOT_SUPPORTED, RC_OK, RC_TIMEOUT,
                    RC_TIMEOUT_NOT_SUPPORTED, SC_SOURCE_OR_TARGET, VALID_REPLICATION_TYPES, Capabilities, Job, SVolume,
                    Service, Sync)

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
        self.groups = Groups(array)

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
            ("ReplicationService", "creategroup"): self.groups.create_group,
            ("ReplicationService", "deletegroup"): self.groups.delete_group,
            ("StorageConfigurationService", "returntostoragepool"):
                lambda service, params: return_to_storage_pool(self, service, params),
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
                  self.array.faults.take_job_failure(f"{method} {description}"))
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
        """PercentSynced: while a copy runs, its progress (99 at most); otherwise the share of the volume's
        blocks that are identical on both sides, rounded down, over the capacity in blocks (the larger
        volume's), so that ``100 - PercentSynced`` percent of the capacity bounds the bytes that differ.
        It does not say which side was written."""
        if sync.transfer is not None:
            return min(99, sync.transfer.progress)
        src, tgt = sync.src.fv.blocks, sync.tgt.fv.blocks
        capacity = max(sync.src.fv.nblocks, sync.tgt.fv.nblocks)
        differing = sum(1 for i in set(src) | set(tgt) if src.get(i) != tgt.get(i))
        return 100 * max(0, capacity - differing) // capacity

    @staticmethod
    def caught_up(sync: Sync) -> bool:
        """Whether the target holds the source's image now (no copy running, identical blocks)."""
        return sync.transfer is None and sync.src.fv.blocks == sync.tgt.fv.blocks

    def sync_properties(self, sync: Sync) -> Out:
        raise NotImplementedError

    # methods ------------------------------------------------------------------------------------------
    def create_element_replica(self, service: Service, params: Out) -> Result:
        raise NotImplementedError

    def modify_replica_synchronization(self, service: Service, params: Out) -> Result:
        raise NotImplementedError
