"""Objects of a simulated SMI-S array and the value tables of the fact sheet.

Numbers are the DMTF / SMI-S ValueMap values (``docs``: the project's SMI-S fact
sheet, sections 3 to 7). Tables that the fact sheet leaves to the simulator
([sim]) are marked so below.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import typing as t

import pywbem

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer, Volume

# method return codes (section 6)
RC_OK = 0
RC_NOT_SUPPORTED = 1
RC_UNKNOWN = 2
RC_TIMEOUT = 3
RC_FAILED = 4
RC_INVALID = 5
RC_IN_USE = 6
RC_JOB = 4096
RC_TRANSITION_STARTED = 4096
RC_INVALID_TRANSITION = 4097
RC_TIMEOUT_NOT_SUPPORTED = 4098

# CopyState (section 3)
CS_INITIALIZED = 2
CS_UNSYNCHRONIZED = 3
CS_SYNCHRONIZED = 4
CS_BROKEN = 5
CS_FRACTURED = 6
CS_SPLIT = 7
CS_INACTIVE = 8
CS_SUSPENDED = 9
CS_FAILEDOVER = 10
CS_PREPARED = 11
CS_ABORTED = 12
CS_NOT_APPLICABLE = 15
CS_RESTORED = 18

# ProgressStatus
PS_COMPLETED = 2
PS_DORMANT = 3
PS_INITIALIZING = 4
PS_SYNCHRONIZING = 6
PS_RESYNCING = 7
PS_RESTORING = 8
PS_FAILING_BACK = 12
PS_NOT_APPLICABLE = 15
PS_REQUIRES_RESYNC = 18

# SyncState (legacy)
SS_UNKNOWN = 0
SS_INITIALIZED = 2
SS_RESYNC_IN_PROGRESS = 5
SS_SYNCHRONIZED = 6
SS_QUIESCED = 9
SS_RESTORE_IN_PROGRESS = 10
SS_IDLE = 11
SS_BROKEN = 12
SS_FRACTURED = 13
SS_FROZEN = 14
SS_COPY_IN_PROGRESS = 15

# SyncType, Mode, CopyType, ReplicaType
ST_MIRROR = 6
ST_SNAPSHOT = 7
ST_CLONE = 8
ST_TOKENIZED_CLONE = 9
MODE_SYNC = 2
MODE_ASYNC = 3
CT_ASYNC = 2
CT_SYNC = 3
CT_UNSYNC_ASSOC = 4
CT_UNSYNC_UNASSOC = 5
RT_FULL_COPY = 2
RT_AFTER_DELTA = 4

# ReplicationType (section 4): (kind, mode) of the local types
REPLICATION_TYPES = {2: ("mirror", MODE_SYNC), 3: ("mirror", MODE_ASYNC), 6: ("snapshot", MODE_SYNC),
                     7: ("snapshot", MODE_ASYNC), 10: ("clone", MODE_SYNC), 11: ("clone", MODE_ASYNC)}
VALID_REPLICATION_TYPES = range(2, 14)
KIND_SYNC_TYPE = {"mirror": ST_MIRROR, "snapshot": ST_SNAPSHOT, "clone": ST_CLONE}

# ModifyReplicaSynchronization operations (section 4)
OP_ABORT = 2
OP_ACTIVATE_CONSISTENCY = 3
OP_ACTIVATE = 4
OP_ADD_SYNC_PAIR = 5
OP_DEACTIVATE_CONSISTENCY = 6
OP_DEACTIVATE = 7
OP_DETACH = 8
OP_DISSOLVE = 9
OP_FAILOVER = 10
OP_FAILBACK = 11
OP_FRACTURE = 12
OP_REMOVE_SYNC_PAIR = 13
OP_RESYNC = 14
OP_RESTORE = 15
OP_RESUME = 16
OP_RESET_TO_SYNC = 17
OP_RESET_TO_ASYNC = 18
OP_RETURN_TO_POOL = 19
OP_REVERSE_ROLES = 20
OP_SPLIT = 21
OP_SUSPEND = 22
OP_UNPREPARE = 23
OP_PREPARE = 24
OP_RESET_TO_ADAPTIVE = 25
OP_RESET_TO_ACTIVE = 26
OP_RESET_REPLICA = 27
OP_NAMES = {2: "Abort", 3: "Activate Consistency", 4: "Activate", 5: "AddSyncPair", 6: "Deactivate Consistency",
            7: "Deactivate", 8: "Detach", 9: "Dissolve", 10: "Failover", 11: "Failback", 12: "Fracture",
            13: "RemoveSyncPair", 14: "Resync Replica", 15: "Restore from Replica", 16: "Resume",
            17: "Reset To Sync", 18: "Reset To Async", 19: "Return To ResourcePool", 20: "Reverse Roles",
            21: "Split", 22: "Suspend", 23: "Unprepare", 24: "Prepare", 25: "Reset To Adaptive",
            26: "Reset To Active", 27: "Reset Replica"}

# ModifySynchronization operations (legacy, section 5 and the 3PAR seed)
LOP_DETACH = 2
LOP_FRACTURE = 3
LOP_RESYNC = 4
LOP_RESTORE = 5
LOP_PREPARE = 6
LOP_UNPREPARE = 7
LOP_QUIESCE = 8
LOP_UNQUIESCE = 9
LOP_RESET_TO_SYNC = 10
LOP_RESET_TO_ASYNC = 11
LOP_START_COPY = 12
LOP_STOP_COPY = 13
LOP_NAMES = {2: "Detach", 3: "Fracture", 4: "Resync", 5: "Restore", 6: "Prepare", 7: "Unprepare", 8: "Quiesce",
             9: "Unquiesce", 10: "Reset to Sync", 11: "Reset to Async", 12: "Start Copy", 13: "Stop Copy"}

# GetSupportedWaitForCopyStates MethodName
MN_CREATE_ELEMENT_REPLICA = 2
MN_MODIFY_REPLICA_SYNCHRONIZATION = 4

# JobState, OperationalStatus
JS_RUNNING = 4
JS_COMPLETED = 7
JS_TERMINATED = 8
JS_EXCEPTION = 10
OS_OK = 2
OS_ERROR = 6
OS_ABORTED = 14
OS_COMPLETED = 17

# ServiceControlling
SC_SOURCE_OR_TARGET = 4

# ------------------------------------------------------------------------------------------
# "generic" profile: operations per kind and the CopyStates each is accepted from. [sim] where
# the fact sheet's table 7b gives no "from" state of its own.
ALL_MIRROR_STATES = (2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 18)
GENERIC_OPS: dict[str, dict[int, tuple[int, ...]]] = {
    "mirror": {
        OP_ABORT: (2, 3),
        OP_ACTIVATE: (8, 11),
        OP_DEACTIVATE: (3, 4),
        OP_DETACH: ALL_MIRROR_STATES,
        OP_DISSOLVE: ALL_MIRROR_STATES,
        OP_FAILOVER: (4, 5, 6, 7, 9, 16),
        OP_FAILBACK: (10,),
        OP_FRACTURE: (3, 4),
        OP_RESYNC: (5, 6, 7, 12, 18),
        OP_RESTORE: (6, 7),
        OP_RESUME: (9,),
        OP_RESET_TO_SYNC: (3, 4),
        OP_RESET_TO_ASYNC: (3, 4),
        OP_REVERSE_ROLES: (4, 5, 6, 7, 8, 9, 10, 12, 18),
        OP_SPLIT: (4,),
        OP_SUSPEND: (3, 4),
    },
    "clone": {
        OP_ABORT: (2, 3),
        OP_DETACH: (2, 3, 4, 5, 6, 7, 12, 18),
        OP_DISSOLVE: (2, 3, 4, 5, 6, 7, 12, 18),
        OP_FRACTURE: (4,),
        OP_RESYNC: (4, 5, 6, 7, 12, 18),
        OP_RESTORE: (4, 6, 7),
        OP_SPLIT: (4,),
    },
    "snapshot": {
        OP_DETACH: (4, 5, 18),
        OP_DISSOLVE: (4, 5, 18),
        OP_RESYNC: (4, 5, 18),
        OP_RESTORE: (4, 18),
        OP_RETURN_TO_POOL: (4, 5, 18),
    },
}
GENERIC_STATES = {"mirror": ALL_MIRROR_STATES, "clone": (2, 3, 4, 5, 6, 7, 12, 18), "snapshot": (4, 5, 18)}
# target writable by hosts in these CopyStates (GetSupportedCopyStates.HostAccessible)
GENERIC_HOST_ACCESSIBLE = {"mirror": (6, 7, 10, 18), "clone": (4, 5, 6, 7, 12, 18), "snapshot": (4, 5, 18)}
# CopyState an operation ends in (GetSupportedWaitForCopyStates); ops that end the pair have none
GENERIC_RESULT = {OP_ABORT: 12, OP_ACTIVATE: 4, OP_DEACTIVATE: 8, OP_FAILOVER: 10, OP_FAILBACK: 4, OP_FRACTURE: 6,
                  OP_RESYNC: 4, OP_RESTORE: 18, OP_RESUME: 4, OP_SPLIT: 7, OP_SUSPEND: 9}

# "3par" profile: ReplicationService operations per ReplicationType (section 1), from CopyStates
# of table 7c (physical copy: 2/3 copying, 4 idle, 5 broken; virtual copy: 8 idle, 4 promoting).
TPD_OPS: dict[int, dict[int, tuple[int, ...]]] = {
    10: {OP_ABORT: (2, 3)},
    11: {OP_ABORT: (2, 3), OP_DETACH: (4, 5), OP_DISSOLVE: (4, 5), OP_RESYNC: (4,)},
    6: {OP_DETACH: (8, 5), OP_DISSOLVE: (8, 5), OP_RESTORE: (8,), OP_RETURN_TO_POOL: (8, 5)},
}
TPD_STATES = {10: (2, 3, 5), 11: (2, 3, 4, 5), 6: (4, 5, 8)}
TPD_HOST_ACCESSIBLE = {10: (5,), 11: (4, 5), 6: (5, 8)}
TPD_WAIT_STATES = {(10, MN_CREATE_ELEMENT_REPLICA): (4,), (10, MN_MODIFY_REPLICA_SYNCHRONIZATION): (),
                   (11, MN_CREATE_ELEMENT_REPLICA): (8,), (11, MN_MODIFY_REPLICA_SYNCHRONIZATION): (8,),
                   (6, MN_CREATE_ELEMENT_REPLICA): (4,), (6, MN_MODIFY_REPLICA_SYNCHRONIZATION): (4,)}
# table 7c: SyncState -> (CopyState, ProgressStatus)
TPD_STATE_MAP = {SS_INITIALIZED: (2, 2), SS_RESYNC_IN_PROGRESS: (3, 6), SS_COPY_IN_PROGRESS: (3, 7),
                 SS_FROZEN: (4, 2), SS_IDLE: (8, 2), SS_RESTORE_IN_PROGRESS: (4, 8), SS_SYNCHRONIZED: (4, 2),
                 SS_BROKEN: (5, 15)}
# legacy ModifySynchronization operations per copy kind (= SupportedModifyOperations of the
# StorageReplicationCapabilities instance of that kind) and the SyncStates they are accepted from
TPD_LEGACY_OPS: dict[str, dict[int, tuple[int, ...]]] = {
    "physical-assoc": {LOP_DETACH: (SS_FROZEN, SS_BROKEN), LOP_RESYNC: (SS_FROZEN,),
                       LOP_START_COPY: (SS_FROZEN,),
                       LOP_STOP_COPY: (SS_INITIALIZED, SS_RESYNC_IN_PROGRESS, SS_COPY_IN_PROGRESS)},
    "physical-unassoc": {LOP_STOP_COPY: (SS_INITIALIZED, SS_RESYNC_IN_PROGRESS, SS_COPY_IN_PROGRESS)},
    "virtual": {LOP_RESTORE: (SS_IDLE,)},
}


def cim_time(when: float) -> pywbem.CIMDateTime:
    return pywbem.CIMDateTime(datetime.datetime.fromtimestamp(when, tz=datetime.timezone.utc))


def cim_interval(seconds: float) -> pywbem.CIMDateTime:
    return pywbem.CIMDateTime(datetime.timedelta(seconds=max(0.0, seconds)))


# ------------------------------------------------------------------------------------------
class System:
    suffix = "StorageSystem"

    def __init__(self, name: str, element_name: str) -> None:
        self.name = name
        self.element_name = element_name


class Service:
    def __init__(self, suffix: str, name: str) -> None:
        self.suffix = suffix
        self.name = name


class Capabilities:
    def __init__(self, suffix: str, instance_id: str, element_name: str, props: dict[str, t.Any],
                 owner: Service) -> None:
        self.suffix = suffix
        self.instance_id = instance_id
        self.element_name = element_name
        self.props = props
        self.owner = owner


class SVolume:
    """A StorageVolume; its data is the fabric volume ``fv`` (control-API key = DeviceID)."""

    suffix = "StorageVolume"

    def __init__(self, device_id: str, name: str, fv: Volume, wwn: str, created: float) -> None:
        self.device_id = device_id
        self.name = name
        self.fv = fv
        self.wwn = wwn
        self.created = created

    @property
    def size(self) -> int:
        return self.fv.size


class Sync:
    """A StorageSynchronized: ``src`` (SystemElement) and its replica ``tgt`` (SyncedElement)."""

    suffix = "StorageSynchronized"

    def __init__(self, src: SVolume, tgt: SVolume, kind: str, sync_type: int, mode: int, copy_type: int,
                 replica_type: int, created: float) -> None:
        self.src = src
        self.tgt = tgt
        self.kind = kind                 # mirror | clone | snapshot
        self.sync_type = sync_type
        self.mode = mode
        self.copy_type = copy_type
        self.replica_type = replica_type
        self.repl_type = 0               # 3par: ReplicationType 6, 10 or 11
        self.copy_state = CS_INITIALIZED
        self.progress = PS_INITIALIZING
        self.sync_state = SS_INITIALIZED
        self.requested = CS_NOT_APPLICABLE
        self.when_synced: float | None = None   # the point in time the target holds (its image's time)
        self.when_suspended: float | None = None  # last Fracture, Split, Suspend or Failover
        self.copy_priority = 2
        self.created = created
        self.transfer: Transfer | None = None
        self.token = 0
        self.activity: str | None = None  # copy | resync | restore | failback | update | startcopy
        self.job: Job | None = None

    @property
    def busy(self) -> bool:
        return self.activity is not None and self.activity != "update"


class Job:
    suffix = "ConcreteJob"
    _seq = itertools.count(1)

    def __init__(self, system: str, method: str, description: str, owner: Service, now: float,
                 retention: float, failure: tuple[str, str] | None) -> None:
        self.seq = next(self._seq)
        self.instance_id = f"{system}:JOB:{self.seq}"
        self.method = method
        self.description = description
        self.owner = owner
        self.submitted = now
        self.changed = now
        self.ended: float | None = None
        self.retention = retention
        self.state = JS_RUNNING
        self.op_status = [OS_OK]
        self.status_text = "Running"
        self.percent = 0
        self.error_code = 0
        self.error_description = ""
        self.failed = False
        self.failure = failure
        self.sync: Sync | None = None
        self.transfer: Transfer | None = None
        self.affected: list[tuple[t.Any, list[int]]] = []
        self.waiters: list[asyncio.Future[bool]] = []

    @property
    def terminal(self) -> bool:
        return self.state in (JS_COMPLETED, JS_TERMINATED, 9, JS_EXCEPTION)

    def current_percent(self) -> int:
        if self.terminal:
            return self.percent
        if self.transfer is not None:
            return min(99, self.transfer.progress)
        return self.percent

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(True)
        self.waiters.clear()


class Assoc:
    """An association instance computed from the model (HostedService, SystemDevice, ...)."""

    def __init__(self, suffix: str, roles: dict[str, t.Any], props: dict[str, t.Any] | None = None) -> None:
        self.suffix = suffix
        self.roles = roles
        self.props = props or {}


class Group:
    """A CIM_ReplicationGroup: a named, ordered set of the array's volumes (CreateGroup / DeleteGroup).

    ``name`` is its ElementName (unique on the system, fixed for its life); ``members`` are in
    AssignedSequence order. Description and the three flags change with ModifyInstance.
    """

    suffix = "ReplicationGroup"

    def __init__(self, instance_id: str, name: str, members: list[SVolume], flags: dict[str, bool | None],
                 created: float) -> None:
        self.instance_id = instance_id
        self.name = name
        self.members = members
        self.description: str | None = None
        self.persistent = flags.get("Persistent")
        self.delete_on_empty = flags.get("DeleteOnEmptyElement")
        self.delete_on_unassociated = flags.get("DeleteOnUnassociated")
        self.created = created
