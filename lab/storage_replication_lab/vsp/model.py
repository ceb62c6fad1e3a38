"""Objects of the VSP simulator: errors, pools, LDEVs, sessions, jobs, copy groups and pairs.

Message ids: the fact sheet names ``KART00003-E`` (server busy), ``KART30013-E``
(object does not exist) and ``KART70000-E`` (storage-side error); the lab uses
them for exactly that. Where the sheet is silent the lab picks one id per kind of
refusal and keeps it stable (marked "lab" below), so a client can show it and a
test can assert it. No client should key on a lab-chosen id.
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
E_STORAGE = "KART70000-E"       # sheet: a job failed on the storage side (duplicate, LDEV in use, copy failure)

# SSB codes the lab puts into ``errorCode`` of a storage-side job failure (lab-chosen values)
SSB = {
    "duplicate_name": ("2E11", "9A05"),
    "ldev_in_use": ("2E10", "9A23"),
    "ldev_undefined": ("2E10", "9A01"),
    "size_mismatch": ("2E21", "9A31"),
    "group": ("2E11", "9A07"),
    "mu": ("2E10", "9A40"),
    "copy_failed": ("2E31", "9A60"),
    "pool": ("2E10", "9A70"),
    "injected": ("2E00", "0000"),
}

MAX_LDEV_ID = 65279
SI_MAX_MU = 3                   # MU numbers 0-2 at the first cascade layer
PAIR_STATUSES = ("SMPL", "COPY", "PAIR", "PSUS", "SSUS", "PSUE", "RCPY")
ZERO = ""                       # token of a block without data: a copy carries it so the destination drops the block


def timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    return VspError(500, E_STORAGE, message, "The storage system refused the operation.",
                    "Check the configuration of the storage system, and then try again.", SSB.get(kind))


def state_error(what: str, operation: str, status: str) -> VspError:
    return VspError(412, E_STATE, f"The {operation} operation cannot be performed because the pair status is "
                                  f"{status}. ({what})",
                    f"The {operation} operation is not allowed in pair status {status}.",
                    "Check the pair status, and then try again.")


class Pool:
    def __init__(self, pool_id: int, name: str, size: int) -> None:
        self.pool_id = pool_id
        self.name = name
        self.size = size

    def render(self, used: int) -> dict[str, t.Any]:
        mib = 1024 * 1024
        return {"poolId": self.pool_id, "poolName": self.name, "poolType": "HDP", "poolStatus": "POLN",
                "totalPoolCapacity": self.size // mib, "availableVolumeCapacity": max(0, self.size - used) // mib,
                "usedCapacityRate": int(100 * used // self.size) if self.size else 0}


def byte_format(size: int) -> str:
    for unit, factor in (("T", 1024 ** 4), ("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if size >= factor:
            return f"{size / factor:.2f} {unit}"
    return f"{size:.2f} B"


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

    def render(self, si_paired: bool) -> dict[str, t.Any]:
        attributes = ["CVS"]
        if self.pool_id is not None:
            attributes.append("HDP")
        if si_paired:
            attributes.append("MRCF")
        out: dict[str, t.Any] = {
            "ldevId": self.ldev_id, "clprId": 0, "emulationType": self.emulation,
            "byteFormatCapacity": byte_format(self.volume.size), "blockCapacity": self.block_capacity,
            "numOfPorts": 0, "ports": [], "attributes": attributes, "label": self.label, "status": "NML",
            "mpBladeId": 0, "ssid": f"{0x0004 + self.ldev_id // 256:04X}", "resourceGroupId": 0,
            "numOfUsedBlock": self.volume.used // 512, "isFullAllocationEnabled": False,
            "dataReductionMode": "disabled", "dataReductionStatus": "DISABLED",
        }
        if self.pool_id is not None:
            out["poolId"] = self.pool_id
        return out


def undefined_ldev(ldev_id: int) -> dict[str, t.Any]:
    return {"ldevId": ldev_id, "emulationType": "NOT DEFINED", "ssid": f"{0x0004 + ldev_id // 256:04X}",
            "resourceGroupId": 0}


class Session:
    _ids = itertools.count(1)

    def __init__(self, token: str, user: str, alive_time: int, auth_timeout: int, now: float) -> None:
        self.session_id = next(self._ids)
        self.token = token
        self.user = user
        self.alive_time = alive_time
        self.auth_timeout = auth_timeout
        self.created = now
        self.last_used = now

    def expired(self, now: float, scale: float) -> bool:
        return now - self.last_used > self.alive_time * scale

    def render(self) -> dict[str, t.Any]:
        return {"sessionId": self.session_id, "userId": self.user, "ipAddress": "127.0.0.1",
                "createdTime": timestamp(self.created), "lastAccessTime": timestamp(self.last_used),
                "aliveTime": self.alive_time}


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
        self.waits_for: list[tuple[Pair, str]] = []
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
        }

    def lab_state(self) -> dict[str, t.Any]:
        """What the control API shows about the pair (not part of the wire protocol)."""
        return {"status": self.status, "mode": self.mode, "direction": self.direction, "kind": self.kind,
                "target": self.target, "copying": self.transfer is not None, "background": self.background,
                "dirty_blocks": len(self.dirty), "pending_blocks": len(self.pending),
                "needs_full_copy": self.needs_full, "last_operation": self.last_operation,
                "last_error": self.last_error, "copy_pace": self.pace}
