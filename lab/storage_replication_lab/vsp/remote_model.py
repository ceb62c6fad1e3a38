"""Objects of the VSP remote-copy simulator: journals, path groups, quorum disks, remote copy groups and pairs.

The engine that drives them is ``remote.py`` (its docstring holds the sources and
the lab's decisions). A remote pair and its copy group are one Python object shared
by the two arrays: each array's ``RemoteCopy`` registry refers to it, and every
record is rendered from the point of view of the array that serves the request
("local" / "remote" in the REST API's words). ``roles`` maps "P" and "S" to the
array holding the P-VOL and the S-VOL now; a swap exchanges them, device group
names stay with their arrays.
"""

from __future__ import annotations

import typing as t

from .model import E_STORAGE, STORAGE_CAUSE, ZERO, Ldev, VspError

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer
    from . import Vsp

NOT_SPECIFIED = "NotSpecified"
TYPES = ("TC", "UR", "GAD")
FENCE_LEVELS = {"TC": ("NEVER", "DATA", "STATUS"), "UR": ("ASYNC",), "GAD": ("NEVER",)}
PFUL_RATE = 80                  # lab: a master journal this full (percent) makes its UR pairs PFUL
E_REMOTE_DOWN = "KART30095-E"   # lab: 502, the remote storage system does not answer
E_JOURNAL_USED = "KART40054-E"  # clients (Cinder _MSGID_JOURNAL_ID_ALREADY_USED): the journal id is in use
E_NO_JOURNAL_ID = "KART40046-E"  # clients (Cinder _MSGID_NO_AVAILABLE_JOURNAL_ID)
# SSB1/SSB2 of the remote-copy refusals inside a job; no public source names them: the lab's own, kept stable
REMOTE_SSB = {
    "unregistered": ("2E10", "9B01"),   # the remote storage system is not registered (remote-storages)
    "path_group": ("2E10", "9B02"),     # no remote path group to the remote storage system with that id
    "journal": ("2E10", "9B03"),        # journal missing, or in use in another way
    "quorum": ("2E10", "9B04"),         # quorum disk missing on one of the arrays
    "unreachable": ("2E10", "9B05"),    # the remote storage system or the link to it is down
    "group_type": ("2E11", "9B07"),     # the copy group holds pairs of another type / remote storage
    "ldev_in_use": ("2E10", "9A23"),    # (ShadowImage's code) the LDEV is in another pair
    "ldev_undefined": ("2E20", "0000"),
    "size_mismatch": ("2E21", "9A31"),
    "duplicate_name": ("2E11", "9A05"),
    "group_exists": ("2E11", "9A07"),
    "group_missing": ("2E10", "9A08"),
    "copy_failed": ("2E31", "9A60"),
}


def remote_error(message: str, kind: str) -> VspError:
    """A storage-side failure of a remote-copy job: ``KART30000-E`` with the lab's SSB pair for ``kind``."""
    return VspError(500, E_STORAGE, f"An error occurred in the storage system. (message = {message})",
                    STORAGE_CAUSE, "Check the configuration of the storage systems, and then try again.",
                    REMOTE_SSB[kind])


def remote_down(sid: str, why: str) -> VspError:
    return VspError(502, E_REMOTE_DOWN, f"The remote storage system ({sid}) cannot be reached: {why}.",
                    "The remote storage system or its REST API server is not responding.",
                    "Specify NotSpecified for the remote parts of the object ID to get or take over the local "
                    "side, or try again when the remote storage system is back.")


def type_id(array: Vsp) -> str:
    """``storageTypeId``: R9 for VSP 5000, M8 for the E and G/F series ([D] remote-copypairs)."""
    return "R9" if array.storage_device_id.startswith("900000") else "M8"


class Journal:
    """A journal: its LDEVs hold the journal data of the UR pairs that use it (master or restore journal)."""

    def __init__(self, journal_id: int, ldevs: list[Ldev], overflow_watch: int = 60) -> None:
        self.journal_id = journal_id
        self.ldevs = ldevs
        self.overflow_watch = overflow_watch   # dataOverflowWatchInSeconds
        self.cache_mode = True
        self.copy_speed = 256
        self.mu_settings: dict[str, t.Any] = {}
        self.marker = 0                        # qMarker: journal sequence number (written / restored)

    @property
    def capacity(self) -> int:
        return sum(ldev.volume.size for ldev in self.ldevs)

    def render(self, pairs: list[RemotePair], master: bool, used: int) -> dict[str, t.Any]:
        suspended = [p for p in pairs if p.st["P"] not in ("COPY", "PAIR", "PFUL")]
        error = any(p.st["P"] in ("PSUE", "PFUS") for p in pairs)
        rate = min(100, int(100 * used // self.capacity)) if self.capacity else 0
        if not pairs:
            status = "SMPL"
        elif master:
            status = "PJSE" if error else "PJSN" if suspended else "PJNF" if rate >= PFUL_RATE else "PJNN"
        else:
            status = "SJSE" if error else "SJSN" if suspended else "SJNF" if rate >= PFUL_RATE else "SJNN"
        blocks = self.capacity // 512
        return {"journalId": self.journal_id, "muNumber": pairs[0].group.mu if pairs else 0,
                "consistencyGroupId": pairs[0].ctg if pairs else 0, "journalStatus": status,
                "numOfActivePaths": 1 if pairs else 0, "usageRate": rate, "qMarker": f"{self.marker:08x}",
                "qCount": sum(p.queued() for p in pairs) if master else 0,
                "byteFormatCapacity": f"{self.capacity / 1024 ** 3:.2f} G", "blockCapacity": blocks,
                "numOfLdevs": len(self.ldevs), "firstLdevId": self.ldevs[0].ldev_id if self.ldevs else -1,
                "isMainframe": False, "isCacheModeEnabled": self.cache_mode, "isInflowControlEnabled": False,
                "dataOverflowWatchInSeconds": self.overflow_watch, "copySpeed": self.copy_speed,
                "isDataCopying": any(p.transfer is not None for p in pairs), "mpBladeId": 0}


class PathGroup:
    """A remote path group (remote connection) from this array to ``remote``; paths follow the fabric link."""

    def __init__(self, remote: Vsp, path_group_id: int, paths: list[dict[str, str]], min_paths: int = 1) -> None:
        self.remote = remote
        self.path_group_id = path_group_id
        self.paths = paths
        self.min_paths = min_paths
        self.timeout = 15
        self.round_trip = 1

    def object_id(self) -> str:
        return f"{self.remote.serial},{type_id(self.remote)},{self.path_group_id}"

    def render(self, ok: bool) -> dict[str, t.Any]:
        state = "NML" if ok else "ERR"
        return {"remotepathGroupId": self.object_id(), "remoteStorageDeviceId": self.remote.storage_device_id,
                "remoteSerialNumber": str(self.remote.serial), "remoteStorageModel": self.remote.model,
                "remoteStorageTypeId": type_id(self.remote), "pathGroupId": self.path_group_id,
                "cuType": "REMOTE", "portType": "FIBRE", "cuStatus": state, "minNumOfPaths": self.min_paths,
                "numOfPaths": len(self.paths), "timeoutValueForRemoteIOInSeconds": self.timeout,
                "roundTripTimeInMilliSeconds": self.round_trip,
                "remotePaths": [{"cuType": "REMOTE", "portType": "FIBRE", "pathStatus": state, **p}
                                for p in self.paths]}


class QuorumDisk:
    """A GAD quorum disk id of this array, set up for the pairs with ``remote``."""

    def __init__(self, quorum_id: int, remote: Vsp, ldev_id: int = -1) -> None:
        self.quorum_id = quorum_id
        self.remote = remote
        self.ldev_id = ldev_id

    def render(self) -> dict[str, t.Any]:
        return {"quorumDiskId": self.quorum_id, "remoteSerialNumber": str(self.remote.serial),
                "remoteStorageTypeId": type_id(self.remote), "ldevId": self.ldev_id,
                "readResponseGuaranteedTime": 40, "status": "NORMAL"}


class RemoteGroup:
    """A remote copy group: its name, one device group per array, its pairs (one replication type)."""

    def __init__(self, name: str, dgs: dict[str, str], rtype: str, mu: int) -> None:
        self.name = name
        self.dgs = dgs            # array name -> device group name on that array
        self.rtype = rtype
        self.mu = mu
        self.pairs: dict[str, RemotePair] = {}
        self.arrays: dict[str, Vsp] = {}

    def other(self, me: Vsp) -> Vsp:
        return next(a for name, a in self.arrays.items() if name != me.name)

    def group_id(self, me: Vsp, local_only: bool = False) -> str:
        other = self.other(me)
        if local_only:
            return f"{NOT_SPECIFIED},{self.name},{self.dgs[me.name]},{NOT_SPECIFIED}"
        return f"{other.storage_device_id},{self.name},{self.dgs[me.name]},{self.dgs[other.name]}"

    def render(self, me: Vsp, local_only: bool, with_pairs: bool) -> dict[str, t.Any]:
        other = self.other(me)
        out: dict[str, t.Any] = {
            "remoteMirrorCopyGroupId": self.group_id(me, local_only), "copyGroupName": self.name,
            "remoteStorageDeviceId": NOT_SPECIFIED if local_only else other.storage_device_id,
            "localDeviceGroupName": self.dgs[me.name], "muNumber": self.mu,
            "remoteDeviceGroupName": NOT_SPECIFIED if local_only else self.dgs[other.name]}
        if with_pairs:
            out["copyPairs"] = [p.render(me, local_only) for p in self.pairs.values()]
        return out


class RemotePair:
    """A TC, UR or GAD pair between two arrays, its statuses per role and its copy state (``remote.py``).

    ``pending`` are blocks an initial copy or a resync still has to copy P -> S;
    ``journal`` are UR writes not yet sent (block -> content at write time);
    ``dirty`` per role are blocks written on that side while the pair was not
    mirroring (the differential bitmaps a resync copies).
    """

    def __init__(self, group: RemoteGroup, name: str, roles: dict[str, Vsp], vols: dict[str, Ldev],
                 spec: dict[str, t.Any]) -> None:
        self.group = group
        self.name = name
        self.rtype = group.rtype
        self.roles = dict(roles)
        self.vols = dict(vols)
        self.st = {"P": "COPY", "S": "COPY"}
        self.fence = spec["fenceLevel"]
        self.pace = int(spec.get("copyPace") or 3)
        self.ctg = int(spec.get("consistencyGroupId") if spec.get("consistencyGroupId") is not None else -1)
        self.journals = {"P": spec.get("pvolJournalId"), "S": spec.get("svolJournalId")}
        self.quorum = spec.get("quorumDiskId")
        self.path_group = int(spec.get("pathGroupId") or 0)
        self.pending: set[int] = set()
        self.journal: dict[int, str] = {}
        self.journal_since: float | None = None
        self.in_flight_since: float | None = None
        self.full_since: float | None = None
        self.dirty: dict[str, set[int]] = {"P": set(), "S": set()}
        self.needs_full = False
        self.transfer: Transfer | None = None
        self.kind = "initial"
        self.op_total = 0
        self.op_done = 0
        self.after_drain: tuple[str, dict[str, t.Any]] | None = None
        self.split_mode = {"svol_rw": False, "pvol_protect": False}
        self.last_error = ""
        self.last_operation = "create"
        self.lost_blocks = 0           # UR journal data a forced takeover left behind on the old P-VOL
        self.deleted = False

    # roles ---------------------------------------------------------------------------------------
    def role_of(self, array: Vsp) -> str:
        return "P" if self.roles["P"] is array else "S"

    def label(self) -> str:
        return f"{self.group.name},{self.name}"

    def queued(self) -> int:
        """Journal entries not yet restored on the S-VOL (in the journal and on the link)."""
        return len(self.journal) + (len(self.transfer.changed) if self.transfer is not None and
                                    self.kind == "journal" else 0)

    def journal_bytes(self) -> int:
        size = self.vols["P"].volume.block_size
        out = len(self.journal) * size
        if self.transfer is not None and self.kind == "journal":
            out += int(self.transfer.bytes_total - self.transfer.bytes_done)
        return out

    def lag_seconds(self, now: float) -> float:
        oldest = [s for s in (self.in_flight_since, self.journal_since) if s is not None]
        return max(0.0, now - min(oldest)) if oldest else 0.0

    def io_mode(self, role: str) -> str:
        """GAD ``pvolIOMode`` / ``svolIOMode``: Mirror in PAIR, Local on the side hosts use alone, else Block."""
        mine, theirs = self.st[role], self.st["S" if role == "P" else "P"]
        if mine == "PAIR" and theirs == "PAIR":
            return "Mirror"
        if role == "P":
            return "Block" if theirs == "SSWS" else "Local"
        return "Local" if mine == "SSWS" else "Block"

    def progress(self) -> int:
        if self.st["P"] in ("PAIR", "PFUL"):
            return 100
        if self.st["P"] == "COPY":
            done = self.op_done + (self.transfer.bytes_done if self.transfer is not None else 0)
            return min(99, int(100 * done // self.op_total)) if self.op_total else 0
        if self.needs_full:
            return 0
        differ = self.dirty["P"] | self.dirty["S"] | self.pending | set(self.journal)
        return int(100 * (1 - len(differ) / max(1, self.vols["P"].volume.nblocks)))

    # records ---------------------------------------------------------------------------------------
    def pair_id(self, me: Vsp, local_only: bool = False) -> str:
        return f"{self.group.group_id(me, local_only)},{self.name}"

    def render(self, me: Vsp, local_only: bool = False) -> dict[str, t.Any]:
        """The pair record from ``me``'s side; ``local_only`` (NotSpecified ids) leaves the remote volume out."""
        out: dict[str, t.Any] = {
            "remoteMirrorCopyPairId": self.pair_id(me, local_only), "copyGroupName": self.group.name,
            "copyPairName": self.name, "replicationType": self.rtype, "fenceLevel": self.fence,
            "consistencyGroupId": self.ctg, "copyProgressRate": self.progress(),
        }
        for role, prefix in (("P", "pvol"), ("S", "svol")):
            out.update({f"{prefix}LdevId": self.vols[role].ldev_id, f"{prefix}Status": self.st[role],
                        f"{prefix}StorageDeviceId": self.roles[role].storage_device_id})
            if self.rtype == "UR":
                out[f"{prefix}JournalId"] = self.journals[role]
            if self.rtype == "GAD":
                out[f"{prefix}IOMode"] = self.io_mode(role)
        if self.rtype == "GAD":
            out["quorumDiskId"] = self.quorum
        if local_only:
            gone = "svol" if self.role_of(me) == "P" else "pvol"
            out = {k: v for k, v in out.items() if not k.startswith(gone)}
        return out

    def render_ldev(self, me: Vsp) -> dict[str, t.Any]:
        """The entry of ``GET remote-copypairs`` for ``me``'s volume of the pair."""
        role = self.role_of(me)
        other = self.roles["S" if role == "P" else "P"]
        out: dict[str, t.Any] = {
            "replicationType": self.rtype, "ldevId": self.vols[role].ldev_id, "remoteSerialNumber": str(other.serial),
            "remoteStorageTypeId": type_id(other), "remoteLdevId": self.vols["S" if role == "P" else "P"].ldev_id,
            "primaryOrSecondary": "P-VOL" if role == "P" else "S-VOL", "muNumber": self.group.mu,
            "status": self.st[role], "serialNumber": str(me.serial), "storageTypeId": type_id(me),
            "isMainframe": False}
        if self.rtype == "GAD":
            out.update({"isSSWS": self.st[role] == "SSWS", "quorumDiskId": self.quorum})
        return out

    def lab_state(self, now: float) -> dict[str, t.Any]:
        """The lab's view (``GET /_lab/arrays/<name>``): what the REST API does not show."""
        return {"type": self.rtype, "primary": self.roles["P"].name, "secondary": self.roles["S"].name,
                "pvol": self.vols["P"].ldev_id, "svol": self.vols["S"].ldev_id, "status": dict(self.st),
                "pending_blocks": len(self.pending), "journal_blocks": self.queued(),
                "journal_bytes": self.journal_bytes(), "lag_seconds": round(self.lag_seconds(now), 3),
                "dirty_blocks": {r: len(d) for r, d in self.dirty.items()}, "needs_full_copy": self.needs_full,
                "lost_blocks": self.lost_blocks, "last_operation": self.last_operation,
                "last_error": self.last_error, "transferring": self.transfer is not None}


class PairView:
    """One side of a remote pair, as a job waits for it (``model.Settling``)."""

    def __init__(self, pair: RemotePair, role: str) -> None:
        self.pair = pair
        self.role = role

    @property
    def pair_id(self) -> str:
        return self.pair.label()

    @property
    def status(self) -> str:
        return self.pair.st[self.role]

    @property
    def deleted(self) -> bool:
        return self.pair.deleted

    @property
    def last_error(self) -> str:
        return self.pair.last_error

    @property
    def settled(self) -> bool:
        return self.pair.deleted or (self.pair.st[self.role] != "COPY" and self.pair.after_drain is None)


def image(ldev: Ldev, blocks: t.Iterable[int]) -> dict[int, str]:
    """The content of ``blocks`` of ``ldev`` now (ZERO for a block without data)."""
    data = ldev.volume.blocks
    return {i: data.get(i, ZERO) for i in blocks}


def land(ldev: Ldev, changed: dict[int, str]) -> None:
    """Write ``changed`` into ``ldev`` (a copy round or a synchronous update); ZERO blocks are dropped."""
    volume = ldev.volume
    if any(v == ZERO for v in changed.values()):
        blocks = dict(volume.blocks)
        for index, token in changed.items():
            if token == ZERO:
                blocks.pop(index, None)
            else:
                blocks[index] = token
        volume.set_blocks(blocks)
    elif any(volume.blocks.get(i) != v for i, v in changed.items()):
        volume.apply(changed)
