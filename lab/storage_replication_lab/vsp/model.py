"""Objects of the VSP simulator: errors, LDEVs, sessions, jobs, copy groups and pairs (pools: ``pool.py``,
Thin Image pairs: ``thin_image.py``).

Message ids and SSB codes: the table in the docstring of ``vsp/__init__.py`` gives
the source of each. Ids the docs and public clients name are used for exactly
that; where they are silent the lab picks one id (or SSB pair) per kind of refusal
and keeps it stable (marked "lab" below), so a client can show it and a test can
assert it. No client should key on a lab-chosen code.
"""

from __future__ import annotations

import datetime
import itertools
import json
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer, Volume

BASE = "/ConfigurationManager/v1/objects"
E_AUTH = "KART00002-E"          # lab: 401, bad credentials or an invalid / expired session token
E_BUSY = "KART00003-E"          # sheet: server busy (503; also the 64-session cap)
E_NO_SUCH_URL = "KART00004-E"   # lab: 404, the URL names no resource type of this API
E_METHOD = "KART00005-E"        # lab: 405, the method is not supported on this URL
E_BAD_REQUEST = "KART30004-E"   # lab: 400, a header, query or body value is missing or invalid
E_NOT_FOUND = "KART30013-E"     # sheet: 404, the object does not exist
E_STATE = "KART30090-E"         # lab: 412, the action is not allowed in the pair's current status
E_STORAGE = "KART30000-E"       # docs: "An error occurred in the storage system." + errorCode {SSB1, SSB2}
E_LOCKED = "KART40050-E"        # docs: a lock job did not get the resource-group lock (another session holds it)
E_LOCKED_WRITE = "KART40052-E"  # docs (the 503 is lab): a write while another session holds the lock

# SSB1/SSB2 of a storage-side job failure, per kind (sources: the table in ``vsp/__init__.py``)
SSB = {
    "ldev_defined": ("2E22", "0001"),     # docs/clients: the LDEV is already defined (Cinder: do not retry)
    "no_ldev_id": ("2E11", "2209"),       # docs/clients: no undefined LDEV id left in the range (Cinder: do not retry)
    "ldev_undefined": ("2E20", "0000"),   # docs/clients: the LDEV is not defined (Cinder: raidcom delete ldev)
    "duplicate_name": ("2E11", "9A05"),   # lab: the pair name is taken in the copy group
    "ldev_in_use": ("2E10", "9A23"),      # lab: the LDEV is in another pair / cannot be deleted while paired
    "size_mismatch": ("2E21", "9A31"),    # lab: S-VOL and P-VOL capacities differ
    "group_exists": ("2E11", "9A07"),     # lab: isNewGroupCreation true for an existing copy group
    "group_missing": ("2E10", "9A08"),    # lab: isNewGroupCreation false for a missing copy group, DG mismatch
    "mu": ("2E10", "9A40"),               # lab: no free / a taken MU number on the P-VOL
    "copy_failed": ("2E31", "9A60"),      # lab: the copy failed, the pair went PSUE
    "pool": ("2E10", "9A70"),             # lab: the pool does not exist
    "pool_full": ("2E10", "9A71"),        # lab: the pool is full or over its subscription limit
    "snapshot_pool": ("2E30", "600E"),    # clients: Thin Image snapshot pool invalid (Cinder INVALID_SNAPSHOT_POOL)
    "pvol_busy": ("2E10", "9A24"),        # lab: the Thin Image P-VOL is an SI S-VOL not split, or under restore
    "snapshot_group": ("2E11", "9A0A"),   # lab: isConsistencyGroup differs from the snapshot group's mode
    "injected": ("2E00", "0000"),         # lab: a failure injected with the fail_jobs fault
}
STORAGE_CAUSE = "An error occurred during execution of a RAID Manager command."   # docs (HCS CM REST example)

MAX_LDEV_ID = 65279
SI_MAX_MU = 3                   # MU numbers 0-2 at the first cascade layer
PAIR_STATUSES = ("SMPL", "COPY", "PAIR", "PSUS", "SSUS", "PSUE", "RCPY")
TRANSIENT = ("COPY", "RCPY", "PSUP")  # statuses a waiting job waits out (PSUP: a Thin Image clone copying)
ZERO = ""                       # token of a block without data: a copy carries it so the destination drops the block


def timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Settling(t.Protocol):
    """A pair a job can wait for: a ShadowImage pair (``Pair``) or a Thin Image pair (``thin_image.Snapshot``)."""

    pair_id: str
    status: str
    deleted: bool
    last_error: str

    @property
    def settled(self) -> bool:
        """No transient status (``TRANSIENT``) left."""


class VspError(Exception):
    """An error of the Configuration Manager: HTTP status plus the error object of the fact sheet (§9)."""

    def __init__(self, status: int, message_id: str, message: str, cause: str = "", solution: str = "",
                 ssb: tuple[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message_id = message_id
        self.message = message
        self.cause = cause
        self.solution = solution
        self.ssb = ssb
        self.headers = headers or {}

    def body(self, source: str) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"errorSource": source, "messageId": self.message_id, "message": self.message}
        if self.cause:
            out["cause"] = self.cause
        if self.solution:
            out["solution"] = self.solution
        out["solutionType"] = "RETRY" if self.status == 503 else "SEE_ERROR_DETAIL"
        if self.ssb:
            out["errorCode"] = {"SSB1": self.ssb[0], "SSB2": self.ssb[1]}
        return out


def bad_request(message: str) -> VspError:
    return VspError(400, E_BAD_REQUEST, message, "A value in the request is missing or invalid.",
                    "Correct the request, and then try again.")


def not_found(what: str) -> VspError:
    return VspError(404, E_NOT_FOUND, f"The specified object does not exist. ({what})",
                    "The object might have been deleted, or the ID is wrong.",
                    "Check the object ID, and then try again.")


def storage_error(message: str, kind: str) -> VspError:
    """A failure the storage system reports: ``KART30000-E`` with the storage's ``message`` and its SSB codes."""
    return VspError(500, E_STORAGE, f"An error occurred in the storage system. (message = {message})",
                    STORAGE_CAUSE, "Check the configuration of the storage system, and then try again.",
                    SSB.get(kind, SSB["injected"]))


def state_error(what: str, operation: str, status: str) -> VspError:
    return VspError(412, E_STATE, f"The {operation} operation cannot be performed because the pair status is "
                                  f"{status}. ({what})",
                    f"The {operation} operation is not allowed in pair status {status}.",
                    "Check the pair status, and then try again.")


def byte_format(size: int) -> str:
    for unit, factor in (("T", 1024 ** 4), ("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if size >= factor:
            return f"{size / factor:.2f} {unit}"
    return f"{size:.2f} B"


# LDEV attributes of remote copy, in the order the lab lists them. HCS Configuration Manager REST API
# reference, "ldev" resource: HORC = a TrueCopy / Universal Replicator pair volume (P-VOL or S-VOL),
# JNL = a journal volume; Cinder's HBSD driver: REP_ATTR = 'HORC' and MIRROR_ATTR = 'GAD' (a global-active
# device pair volume), the attributes it checks before it treats an LDEV as replicated.
REMOTE_ATTRIBUTES = ("HORC", "GAD", "JNL")


class Ldev:
    """A defined LDEV; its data is a lab volume keyed by the decimal LDEV id."""

    def __init__(self, ldev_id: int, volume: Volume, pool_id: int | None, label: str = "") -> None:
        self.ldev_id = ldev_id
        self.volume = volume
        self.pool_id = pool_id
        self.label = label
        self.emulation = "OPEN-V-CVS"

    @property
    def block_capacity(self) -> int:
        return self.volume.size // 512

    def render(self, si_paired: bool, ti_paired: bool = False, snapshot_pool_id: int | None = None,
               remote: t.Sequence[str] = ()) -> dict[str, t.Any]:
        """The LDEV record: ``MRCF`` while in a ShadowImage pair, ``HTI`` while in a Thin Image pair, and
        ``snapshotPoolId`` for the S-VOL of a Thin Image pair (Cinder's check for a snapshot S-VOL);
        ``remote`` are the remote-copy attributes (``REMOTE_ATTRIBUTES``) the caller found."""
        attributes = ["CVS"]
        if self.pool_id is not None:
            attributes.append("HDP")
        if si_paired:
            attributes.append("MRCF")
        if ti_paired:
            attributes.append("HTI")
        attributes += [name for name in REMOTE_ATTRIBUTES if name in remote]
        out: dict[str, t.Any] = {
            "ldevId": self.ldev_id, "clprId": 0, "emulationType": self.emulation,
            "byteFormatCapacity": byte_format(self.volume.size), "blockCapacity": self.block_capacity,
            "numOfPorts": 0, "ports": [], "attributes": attributes, "label": self.label, "status": "NML",
            "mpBladeId": 0, "ssid": f"{0x0004 + self.ldev_id // 256:04X}", "resourceGroupId": 0,
            "numOfUsedBlock": self.volume.used // 512, "isFullAllocationEnabled": False,
            "dataReductionMode": "disabled", "dataReductionStatus": "DISABLED", "isAluaEnabled": False,
        }
        if self.pool_id is not None:
            out["poolId"] = self.pool_id
        if snapshot_pool_id is not None:
            out["snapshotPoolId"] = snapshot_pool_id
        return out


def undefined_ldev(ldev_id: int) -> dict[str, t.Any]:
    return {"ldevId": ldev_id, "emulationType": "NOT DEFINED", "ssid": f"{0x0004 + ldev_id // 256:04X}",
            "resourceGroupId": 0}


class Session:
    _ids = itertools.count(1)

    def __init__(self, token: str, user: str, alive_time: int, auth_timeout: int, now: float,
                 ip_address: str = "127.0.0.1") -> None:
        self.session_id = next(self._ids)
        self.ip_address = ip_address
        self.token = token
        self.user = user
        self.alive_time = alive_time
        self.auth_timeout = auth_timeout
        self.created = now
        self.last_used = now

    def expired(self, now: float, scale: float) -> bool:
        return now - self.last_used > self.alive_time * scale

    def render(self) -> dict[str, t.Any]:
        return {"sessionId": self.session_id, "userId": self.user, "ipAddress": self.ip_address,
                "createdTime": timestamp(self.created), "lastAccessedTime": timestamp(self.last_used)}


class Job:
    """One asynchronous request: Initializing/Queued -> Running/Started -> Completed/Succeeded|Failed."""

    _ids = itertools.count(1)

    def __init__(self, user: str, method: str, url: str, body: t.Any, nowait: bool, now: float) -> None:
        self.job_id = next(self._ids)
        self.user = user
        self.method = method
        self.url = url
        self.body = body
        self.nowait = nowait
        self.status = "Initializing"
        self.state = "Queued"
        self.created = now
        self.updated = now
        self.completed: float | None = None
        self.affected: list[str] = []
        self.error: dict[str, t.Any] | None = None
        self.ready = False
        self.waits_for: list[tuple[Settling, str]] = []
        self.parked = False         # a lock job waiting for the lock, outside the serial queue (lock.py)
        self.waiters: list[t.Any] = []
        self.action: t.Callable[[Job], None] | None = None

    @property
    def done(self) -> bool:
        return self.status == "Completed"

    def url_of(self) -> str:
        return f"{BASE}/jobs/{self.job_id}"

    def render(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "jobId": self.job_id, "self": self.url_of(), "userId": self.user,
            "status": self.status, "state": self.state,
            "createdTime": timestamp(self.created), "updatedTime": timestamp(self.updated),
            "request": {"requestUrl": self.url, "requestMethod": self.method},
            "affectedResources": list(self.affected),
        }
        if self.body:
            out["request"]["requestBody"] = json.dumps(self.body)
        if self.completed is not None:
            out["completedTime"] = timestamp(self.completed)
        if self.error is not None:
            out["error"] = dict(self.error)
        return out


class CopyGroup:
    def __init__(self, name: str, pdg: str, sdg: str) -> None:
        self.name = name
        self.pdg = pdg
        self.sdg = sdg
        self.pairs: dict[str, Pair] = {}

    @property
    def group_id(self) -> str:
        return f"{self.name},{self.pdg},{self.sdg}"

    def render(self, with_pairs: bool = False) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {"localCloneCopygroupId": self.group_id, "copyGroupName": self.name,
                                 "pvolDeviceGroupName": self.pdg, "svolDeviceGroupName": self.sdg}
        if with_pairs:
            out["copyPairs"] = [p.render() for p in self.pairs.values()]
        return out


class Pair:
    """A ShadowImage pair and its copy state (the engine in ``shadowimage.py`` drives it).

    ``mode`` is "sync" while host writes to the copy source must reach the
    destination (COPY, PAIR, RCPY) and "split" while they only mark the
    differential bitmap ``dirty`` (PSUS, PSUE, or a steady split in progress).
    ``pending`` are blocks the operation in progress still has to copy (their
    content read when the round starts); ``frozen`` is the point-in-time image a
    split still has to deliver to the S-VOL.
    """

    def __init__(self, group: CopyGroup, name: str, pvol: Ldev, svol: Ldev, mu: int, pace: int,
                 ctg: int) -> None:
        self.group = group
        self.name = name
        self.pvol = pvol
        self.svol = svol
        self.mu = mu
        self.pace = pace
        self.ctg = ctg
        self.status = "COPY"
        self.mode = "sync"
        self.direction = "P>S"
        self.target = "PAIR"
        self.kind = "initial"
        self.background = False
        self.transfer: Transfer | None = None
        self.pending: set[int] = set()
        self.frozen: dict[int, str] | None = None
        self.dirty: set[int] = set()
        self.needs_full = False
        self.op_total = 0
        self.op_done = 0
        self.progress = 0
        self.fail_round: Transfer | None = None
        self.last_error = ""
        self.last_operation = "create"
        self.deleted = False

    @property
    def pair_id(self) -> str:
        return f"{self.group.group_id},{self.name}"

    @property
    def settled(self) -> bool:
        """No transient status: what a waiting job waits for."""
        return self.deleted or self.status not in ("COPY", "RCPY")

    def source(self) -> Ldev:
        return self.pvol if self.direction == "P>S" else self.svol

    def destination(self) -> Ldev:
        return self.svol if self.direction == "P>S" else self.pvol

    def progress_rate(self) -> int:
        if self.status == "PAIR":
            return 100
        if self.status in ("COPY", "RCPY"):
            done = self.op_done + (self.transfer.bytes_done if self.transfer is not None else 0)
            rate = int(100 * done // self.op_total) if self.op_total else 0
            self.progress = max(self.progress, min(rate, 99))
            return self.progress
        if self.needs_full:
            return 0
        differ = set(self.dirty) | self.pending | set(self.frozen or ())
        if self.transfer is not None:
            differ |= set(self.transfer.changed)
        nblocks = self.pvol.volume.nblocks
        return max(0, 100 * (nblocks - len(differ)) // nblocks)

    def statuses(self) -> tuple[str, str]:
        if self.status == "PSUS":
            return "PSUS", "SSUS"
        return self.status, self.status

    def render(self) -> dict[str, t.Any]:
        pstat, sstat = self.statuses()
        return {
            "localCloneCopypairId": self.pair_id, "copyGroupName": self.group.name, "copyPairName": self.name,
            "replicationType": "SI", "copyMode": "NotSnapshot", "copyProgressRate": self.progress_rate(),
            "pvolLdevId": self.pvol.ldev_id, "svolLdevId": self.svol.ldev_id, "pvolMuNumber": self.mu,
            "pvolStatus": pstat, "svolStatus": sstat, "consistencyGroupId": self.ctg,
            "pvolDifferenceDataManagement": "S", "svolDifferenceDataManagement": "S",
            "pvolProcessingStatus": "N", "svolProcessingStatus": "N",
        }

    def lab_state(self) -> dict[str, t.Any]:
        """What the control API shows about the pair (not part of the wire protocol)."""
        return {"status": self.status, "mode": self.mode, "direction": self.direction, "kind": self.kind,
                "target": self.target, "copying": self.transfer is not None, "background": self.background,
                "dirty_blocks": len(self.dirty), "pending_blocks": len(self.pending),
                "needs_full_copy": self.needs_full, "last_operation": self.last_operation,
                "last_error": self.last_error, "copy_pace": self.pace}
