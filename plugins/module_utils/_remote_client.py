"""Hitachi VSP remote copy (TrueCopy, Universal Replicator, global-active device): the two arrays of a pair,
their reads, and the normalized facts of a remote pair.

A remote pair spans two storage systems, each behind its own REST server and session. Every
request on a copy group or pair whose object id names the other array carries
``Remote-Authorization: Session <token of the other array>`` (``RemoteClient``); the copy
group list without a filter and ids with ``NotSpecified`` for the remote parts (the other
array down) need none. A 401 on such a request opens a new session on the other array
and sends it once more.

Orientation. The task declares a *primary* array (the module's connection, holding the
declared P-VOL) and a *secondary* (``remote_array``, the declared S-VOL). A swap (swap
split then swap resync, or a takeover) makes the secondary's volume the P-VOL: the
pair's ``direction`` is then ``reversed``. The facts keep ``pvol``/``svol`` as declared
(the primary's and the secondary's LDEV) and report the array's statuses both by role
(``pvol_status``/``svol_status``, of the current P-VOL and S-VOL) and by array
(``primary_status``/``secondary_status``, each as the array holding that volume says).

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._common import ReplicationError, nonempty_env_fallback
from ._rest import HttpError
from ._vsp import OBJECTS, VspClient, data_of, split_id, vsp_connection_options
from ._vsp import describe_pair as vsp_describe_pair

NOT_SPECIFIED = "NotSpecified"
TYPES = ("TC", "UR", "GAD")
FENCE_LEVELS = {"TC": ("NEVER", "DATA", "STATUS"), "UR": ("ASYNC",), "GAD": ("NEVER",)}
MIRRORING = ("PAIR", "PFUL")
GROUPS = "remote-mirror-copygroups"
PAIRS = "remote-mirror-copypairs"


def remote_array_options() -> dict[str, t.Any]:
    """``remote_array``: the secondary's connection, each suboption with a ``VSP_REMOTE_*`` fallback."""
    sub = vsp_connection_options()
    for key, opts in sub.items():
        opts.pop("aliases", None)
        opts["fallback"] = (nonempty_env_fallback, [f"VSP_REMOTE_{key.upper()}"])
    return {"type": "dict", "required": True, "options": sub}


class RemoteClient(VspClient):
    """A VSP client that sends the other array's session as ``Remote-Authorization`` where the API wants it."""

    def __init__(self, params: dict[str, t.Any], role: str, pool_size: int = 10, poll_interval: float = 1.0,
                 job_timeout: float = 1800.0) -> None:
        super().__init__(params, pool_size, poll_interval, job_timeout)
        self.role = role
        self.label = f"{role} array ({self.label})"
        self.peer: RemoteClient | None = None
        self._hidden: set[str] = set()
        self._sid: str | None = self.storage_device_id

    @staticmethod
    def needs_remote(method: str, path: str) -> bool:
        if "/remote-mirror-copy" not in path or NOT_SPECIFIED in path:
            return False
        return not (method == "GET" and path.split("?")[0].endswith("/" + GROUPS))

    def request(self, method: str, path: str, body: t.Any = None, headers: dict[str, str] | None = None,
                expect: t.Iterable[int] = (200, 201, 202)) -> tuple[int, t.Any]:
        peer = self.peer
        if peer is None or not self.needs_remote(method, path):
            return super().request(method, path, body, headers, expect)
        expect = tuple(expect)
        for attempt in (1, 2):
            token = peer.login()
            if token not in self._hidden:
                self._hidden.add(token)
                self.rest.hide(token)
            sent = dict(headers or {}, **{"Remote-Authorization": f"Session {token}"})
            try:
                return super().request(method, path, body, sent, expect)
            except HttpError as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                peer.login(stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    # reads ------------------------------------------------------------------------------------------
    def storage_id(self) -> str:
        """This array's storage device ID: the connection's, else what its REST server says of itself."""
        if self._sid is None:
            record = self.get(OBJECTS + "/storages/instance") or {}
            sid = str(record.get("storageDeviceId") or "")
            if not sid:
                raise ReplicationError(f"{self.label} did not say its storage device ID; set storage_device_id")
            self._sid = sid
        return self._sid

    def copy_groups(self) -> list[dict[str, t.Any]]:
        """Every remote copy group of this array (no filter: no Remote-Authorization needed)."""
        return data_of(self.get(self.path(GROUPS)), f"the remote copy group list of {self.label}")

    def group(self, group_id: str) -> dict[str, t.Any] | None:
        """One copy group with its ``copyPairs``; None when the array does not know it."""
        try:
            return self.get(self.path(GROUPS, group_id)) or {}
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def journal(self, journal_id: int) -> dict[str, t.Any] | None:
        try:
            return self.get(self.path("journals", int(journal_id))) or {}
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise


def local_group_id(record: dict[str, t.Any]) -> str:
    """The id of a copy group record, with ``NotSpecified`` for the remote parts (the other array down)."""
    return f"{NOT_SPECIFIED},{record.get('copyGroupName')},{record.get('localDeviceGroupName')},{NOT_SPECIFIED}"


def record_group_id(record: dict[str, t.Any]) -> str:
    return str(record.get("remoteMirrorCopyGroupId") or
               f"{record.get('remoteStorageDeviceId')},{record.get('copyGroupName')},"
               f"{record.get('localDeviceGroupName')},{record.get('remoteDeviceGroupName')}")


# facts ------------------------------------------------------------------------------------------------
def remote_state(pstat: str | None, sstat: str | None, reversed_: bool) -> str:
    """One normalized state of a remote pair from both statuses and its direction.

    ``paired`` (forward, PAIR/PFUL), ``swapped`` (reversed, PAIR/PFUL), ``split`` (forward PSUS/SSUS),
    ``swapped_split`` (reversed PSUS/SSUS), ``svol_writable`` (forward, the S-VOL SSWS: after a swap
    split or a takeover), ``pvol_writable`` (reversed and SSWS: the primary's volume writable),
    ``copying``, ``suspended_error`` (PSUE, or PFUS: a full journal), ``simplex``, ``unknown``."""
    statuses = {pstat, sstat}
    if sstat == "SSWS":
        return "pvol_writable" if reversed_ else "svol_writable"
    if statuses & {"PSUE", "PFUS"}:
        return "suspended_error"
    if "COPY" in statuses:
        return "copying"
    if pstat in MIRRORING and sstat in MIRRORING:
        return "swapped" if reversed_ else "paired"
    if pstat == "PSUS" and sstat == "SSUS":
        return "swapped_split" if reversed_ else "split"
    if statuses == {"SMPL"}:
        return "simplex"
    return "unknown"


def pair_facts(record: dict[str, t.Any], group_id: str, secondary_sid: str | None) -> dict[str, t.Any]:
    """Normalized facts of one ``remote-mirror-copypairs`` record read from the primary array (whose copy
    group id is ``group_id``); ``secondary_sid`` is the other array's storage device ID."""
    pstat, sstat = record.get("pvolStatus"), record.get("svolStatus")
    reversed_ = bool(secondary_sid) and record.get("pvolStorageDeviceId") == secondary_sid
    state = remote_state(pstat, sstat, reversed_)
    kind = record.get("replicationType")
    parts = split_id(group_id)
    ctg = record.get("consistencyGroupId")
    primary, secondary = ("svol", "pvol") if reversed_ else ("pvol", "svol")
    facts: dict[str, t.Any] = {
        "copy_group": record.get("copyGroupName"), "pair_name": record.get("copyPairName"),
        "pair_id": f"{group_id},{record.get('copyPairName')}", "copy_group_id": group_id,
        "replication_type": kind, "remote_storage_device_id": parts[0] if parts else None,
        "pvol": record.get(f"{primary}LdevId"), "svol": record.get(f"{secondary}LdevId"),
        "pvol_status": pstat, "svol_status": sstat,
        "primary_status": record.get(f"{primary}Status"), "secondary_status": record.get(f"{secondary}Status"),
        "direction": "reversed" if reversed_ else "forward", "state": state,
        "fence_level": record.get("fenceLevel"), "mu_number": record.get("muNumber"),
        "consistency_group": None if ctg in (None, -1) else ctg, "progress": record.get("copyProgressRate"),
        "in_sync": pstat in MIRRORING and sstat in MIRRORING,
        "healthy": state not in ("suspended_error", "unknown", "simplex"),
        "transferring": state == "copying",
        "pvol_journal_id": record.get(f"{primary}JournalId"), "svol_journal_id": record.get(f"{secondary}JournalId"),
        "quorum_disk_id": record.get("quorumDiskId"),
        "pvol_io_mode": record.get(f"{primary}IOMode"), "svol_io_mode": record.get(f"{secondary}IOMode"),
        "journal": None, "lag_seconds": None, "recovery_point": None,
    }
    if kind != "UR":
        facts["lag_seconds"] = 0 if facts["in_sync"] else None
    return facts


def journal_lag(master: dict[str, t.Any] | None, restore: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    """The UR journal lag from the master journal (P-VOL side) and the restore journal (S-VOL side), as far as
    the array says: entries not restored (``qCount``), the sequence numbers between the two ``qMarker``,
    and the master journal's bytes in use (``usageRate`` of its capacity). Seconds: the API does not say."""
    if not master:
        return None
    capacity = int(master.get("blockCapacity") or 0) * 512
    rate = master.get("usageRate")
    out: dict[str, t.Any] = {
        "journal_id": master.get("journalId"), "status": master.get("journalStatus"),
        "q_count": master.get("qCount"), "q_marker": master.get("qMarker"),
        "usage_rate": rate, "capacity_bytes": capacity or None,
        "bytes": -(-capacity * int(rate) // 100) if capacity and rate is not None else None,
        "restore_q_marker": (restore or {}).get("qMarker"), "markers_behind": None, "seconds": None,
    }
    try:
        out["markers_behind"] = max(0, int(str(master.get("qMarker")), 16) - int(str((restore or {})["qMarker"]), 16))
    except (KeyError, TypeError, ValueError):
        pass
    return out


def describe_pair(facts: t.Any) -> str:
    """A remote pair's statuses in words, with its state and direction."""
    return vsp_describe_pair(facts, ("state", "direction"))
