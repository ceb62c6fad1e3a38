"""The Thin Image (HTI) engine: snapshot groups, Thin Image pairs, their status transitions and data.

Sources: [D] MK-98RD9014 (REST API Reference Guide for VSP 5000, E and G/F series),
"Managing Thin Image pairs": ``POST snapshots`` with ``snapshotGroupName`` (1-32
characters, a new name creates the group), ``snapshotPoolId`` (a Thin Image or an
HDP pool), ``pvolLdevId``, optional ``svolLdevId`` (required with ``isClone``; without
it the pair has no S-VOL), ``isConsistencyGroup``, ``autoSplit``,
``isDataReductionForceCopy``, ``isClone``, ``canCascade``; object id
``pvolLdevId,muNumber`` (MU 0-1023); ``split`` ("snapshot data at the time of the split
is stored"), ``clone`` (``copySpeed`` slower | medium | faster, default medium, not
case sensitive), group ``restore`` with ``{"parameters": {"autoSplit": bool}}``; 412 for
an action the pair cannot run. [TI] Thin Image User Guide (G series): the pair status
definitions (S-VOL readable and writable in PSUS only; PSUS shown for the P-VOL, SSUS
for the S-VOL), host access per status (the P-VOL stays read/write), the operation
matrix per status (below), resync deletes the snapshot data (PAIR), a restore
failure suspends the pair (PSUE), the tasks allowed while the P-VOL is a ShadowImage
S-VOL (create, split and restore only while that pair is PSUS), clone pairs
(PSUP while the data is copied, then the pair is deleted). [C] clients on real arrays:
Cinder's HBSD driver (``hbsd_rest.py``: create with ``autoSplit``/``canCascade``/
``isDataReductionForceCopy``, clones with ``isClone``/``clonesAutomation``/
``copySpeed``, ``GET snapshots?svolLdevId=`` answering ``primaryOrSecondary: S-VOL``,
``restore`` with ``autoSplit``, ``unassign-volume`` then ``DELETE``, the LDEV attribute
``HTI`` and ``snapshotPoolId``, SSB ``2E30/600E`` for an invalid snapshot pool),
Hitachi's vspone_block collection (``muNumber`` on create, ``assign-volume`` with
``svolLdevId``, ``snapshot-groups`` with ``snapshotGroupId``) and Hitachi's Terraform
provider (the record's fields, the list filters ``snapshotGroupName``, ``pvolLdevId``,
``svolLdevId``, ``muNumber``, ``detailInfoType``; ``detailInfoType=pair`` on the group
list; ``autoSplit`` on resync; ``canCascade`` defaults to ``isClone``).

Operation matrix of a pair with the snapshot attribute ([TI]; Y applied, YN success
with nothing applied, N refused with 412 ``KART30090-E``):

    ======  =====  ======  =======  ======  =============================
    status  split  resync  restore  delete  notes
    ======  =====  ======  =======  ======  =============================
    PAIR    Y      YN      YN       Y
    PSUS    YN     Y       Y        Y       restore: S-VOL image -> P-VOL
    COPY    N      YN      YN       N       (the lab never shows COPY)
    RCPY    N      YN      YN       N
    PSUE    N      Y       N        Y
    ======  =====  ======  =======  ======  =============================

Lab decisions:

- Snapshot data is the P-VOL's image when the pair is split (create with
  ``autoSplit`` or ``split``, inside the job). With an S-VOL the S-VOL's blocks are
  that data: later P-VOL writes leave it, S-VOL writes change only it (and set
  ``isWrittenInSvol``). Without an S-VOL the pair keeps the data itself;
  ``assign-volume`` (``{"parameters": {"svolLdevId"}}``, in PAIR or PSUS) maps it
  onto an S-VOL, ``unassign-volume`` takes it back and empties the S-VOL. Creating and
  splitting take no time (copy on write); a pair without ``autoSplit`` is PAIR at once.
- ``resync`` deletes the snapshot data: PAIR at once (``autoSplit``: PSUS again, a
  new point in time). In PAIR the S-VOL cannot be read; its blocks stay as they were
  until the next split. ``restore`` copies the snapshot data (with the S-VOL's
  writes) to the P-VOL on the array's internal link (kind ``ti:restore``, RCPY),
  then PAIR, or PSUS with ``autoSplit``; host writes to the P-VOL meanwhile win over
  the blocks still on their way; ShadowImage pairs of the P-VOL see the restored
  blocks as host writes (a group restore with ``autoSplit`` splits each pair when its
  own copy ends). A copy that fails (``fail_copies`` or a down link) leaves PSUE and
  drops the snapshot data. The pairs of one split or resync job (a group's pairs)
  share one ``splitTime``.
- Clone pairs (``isClone``, S-VOL required, no ``autoSplit``): PAIR; ``clone`` (or
  ``clonesAutomation`` on create) copies the P-VOL image of that moment to the
  S-VOL (kind ``ti:clone``, status PSUP, S-VOL read/write), then the pair is
  deleted and the S-VOL keeps the copy. ``copySpeed`` slower/medium/faster counts
  as copy pace 1/3/15 for the ``pace_rate`` setting (Cinder maps copy speed 1-2,
  3, 4-15 onto them). Snapshot actions on clone pairs and ``clone`` on snapshot
  pairs are 412.
- Deleting a pair deletes its snapshot data: the S-VOL is emptied and unpaired
  (``SMPP`` is never shown: deletion ends within the job). The last pair of a
  snapshot group takes the group with it. Delete is 412 in RCPY; in PSUP it
  cancels the clone (the S-VOL is then not guaranteed, as [TI] says).
- ``muNumber``: free 0-1023 (an MU of a ShadowImage pair of the P-VOL counts as
  taken); without it the lowest free MU from 3 (the doc examples use 3; 0-2 stay
  for ShadowImage).
- The S-VOL must be defined, unpaired (no ShadowImage or Thin Image pair), not the
  P-VOL, and of the P-VOL's capacity. No cascade: a Thin Image S-VOL cannot be a
  P-VOL (``canCascade`` is recorded only). ``isConsistencyGroup`` is fixed by the
  group's first pair; a later pair with another value is refused. Any lab pool
  serves as the snapshot pool (the lab's pools are HDP pools); snapshot data is not
  charged to it.
- Refusals inside the job (``KART30000-E``, the SSBs of ``vsp/__init__.py``): LDEV not
  defined 2E20/0000, S-VOL in a pair or equal to the P-VOL or P-VOL a Thin Image
  S-VOL 2E10/9A23, capacity 2E21/9A31, MU 2E10/9A40, pool 2E30/600E, the P-VOL an SI
  S-VOL whose pair is not PSUS (or, with ``autoSplit``, under restore by another
  pair) 2E10/9A24, group mode 2E11/9A0A. Split and restore in that case are 412. An
  SI pair refuses a Thin Image S-VOL as either volume (2E10/9A23).
- Records: ``status`` SSUS instead of PSUS in the S-VOL's view (a list filtered by
  ``svolLdevId``, answered with ``primaryOrSecondary: S-VOL``); ``concordanceRate``
  100 in PAIR, in PSUS the share of blocks equal in P-VOL and snapshot data, in RCPY /
  PSUP the copy's progress (also ``progressRate``); ``splitTime`` while snapshot data
  is stored; ``svolLdevId`` while an S-VOL is assigned.
"""

from __future__ import annotations

import typing as t

from .model import TRANSIENT, ZERO, Ldev, not_found, state_error, storage_error, timestamp

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer
    from . import Vsp

MAX_MU = 1023
FIRST_AUTO_MU = 3
COPY_SPEEDS = {"slower": 1, "medium": 3, "faster": 15}
OPERATIONS = ("split", "resync", "restore", "clone", "assign-volume", "unassign-volume")


class SnapshotGroup:
    """A snapshot group: its pairs, in creation order, and whether it is in CTG mode."""

    def __init__(self, name: str, ctg: bool) -> None:
        self.name = name
        self.ctg = ctg
        self.snapshots: dict[str, Snapshot] = {}

    def render(self, with_snapshots: bool) -> dict[str, t.Any]:
        """The group record; ``snapshots`` holds the pairs' records when asked for."""
        out: dict[str, t.Any] = {"snapshotGroupName": self.name, "snapshotGroupId": self.name}
        if with_snapshots:
            out["snapshots"] = [s.render() for s in self.snapshots.values()]
        return out


class Snapshot:
    """A Thin Image pair: P-VOL, MU number, optional S-VOL, and its snapshot data."""

    def __init__(self, group: SnapshotGroup, pvol: Ldev, mu: int, pool_id: int, spec: dict[str, t.Any]) -> None:
        self.group = group
        self.pvol = pvol
        self.mu = mu
        self.pool_id = pool_id
        self.svol: Ldev | None = None
        self.is_clone = bool(spec.get("isClone"))
        self.can_cascade = bool(spec["canCascade"] if spec.get("canCascade") is not None else self.is_clone)
        self.pace = COPY_SPEEDS[spec.get("copySpeed") or "medium"]
        self.status = "PAIR"
        self.target = "PAIR"
        self.has_data = False
        self.data: dict[int, str] | None = None   # the snapshot data while no S-VOL is assigned
        self.split_time: float | None = None
        self.written_in_svol = False
        self.transfer: Transfer | None = None
        self.fail_round: Transfer | None = None
        self.last_error = ""
        self.last_operation = "create"
        self.deleted = False

    @property
    def snapshot_id(self) -> str:
        return f"{self.pvol.ldev_id},{self.mu}"

    @property
    def pair_id(self) -> str:
        """The id a job names when the pair missed its target (``Vsp.check_jobs``)."""
        return self.snapshot_id

    @property
    def settled(self) -> bool:
        return self.deleted or self.status not in TRANSIENT

    def image(self) -> dict[int, str]:
        """The snapshot data: the S-VOL's blocks, or the pair's own copy without an S-VOL."""
        if self.svol is not None:
            return self.svol.volume.blocks
        return self.data or {}

    def progress(self) -> int:
        transfer = self.transfer
        if transfer is None or not transfer.bytes_total:
            return 0
        return min(99, int(100 * transfer.bytes_done // transfer.bytes_total))

    def concordance(self) -> int:
        if self.status == "PAIR":
            return 100
        if self.status in TRANSIENT:
            return self.progress()
        if not self.has_data:
            return 0
        mine, theirs = self.image(), self.pvol.volume.blocks
        differ = sum(1 for i in set(mine) | set(theirs) if mine.get(i) != theirs.get(i))
        nblocks = self.pvol.volume.nblocks
        return max(0, 100 * (nblocks - differ) // nblocks)

    def render(self, view: str = "P-VOL") -> dict[str, t.Any]:
        """The record of ``GET snapshots``; ``view`` "S-VOL" when it was asked for by ``svolLdevId``."""
        status = "SSUS" if view == "S-VOL" and self.status == "PSUS" else self.status
        out: dict[str, t.Any] = {
            "snapshotGroupName": self.group.name, "primaryOrSecondary": view, "status": status,
            "pvolLdevId": self.pvol.ldev_id, "muNumber": self.mu}
        if self.svol is not None:
            out["svolLdevId"] = self.svol.ldev_id
        out.update({"snapshotPoolId": self.pool_id, "concordanceRate": self.concordance()})
        if self.status in TRANSIENT:
            out["progressRate"] = self.progress()
        out.update({
            "isConsistencyGroup": self.group.ctg, "isWrittenInSvol": self.written_in_svol, "isClone": self.is_clone,
            "canCascade": self.can_cascade, "isRedirectOnWrite": False, "pvolProcessingStatus": "N"})
        if self.has_data and self.split_time is not None:
            out["splitTime"] = timestamp(self.split_time)
        out["snapshotId"] = self.snapshot_id
        return out

    def lab_state(self) -> dict[str, t.Any]:
        """What the control API shows about the pair (not part of the wire protocol)."""
        return {"status": self.status, "target": self.target, "group": self.group.name,
                "svol": None if self.svol is None else self.svol.ldev_id, "snapshot_data": self.has_data,
                "copying": self.transfer is not None, "clone": self.is_clone, "written_in_svol": self.written_in_svol,
                "last_operation": self.last_operation, "last_error": self.last_error}


class ThinImage:
    """The array's snapshot groups and Thin Image pairs."""

    def __init__(self, array: Vsp) -> None:
        self.array = array
        self.groups: dict[str, SnapshotGroup] = {}

    # lookups -----------------------------------------------------------------------------
    def snapshots(self) -> list[Snapshot]:
        return [s for g in self.groups.values() for s in g.snapshots.values()]

    def snapshots_of(self, ldev_id: int) -> list[Snapshot]:
        """The pairs ``ldev_id`` belongs to, as P-VOL or S-VOL."""
        return [s for s in self.snapshots()
                if s.pvol.ldev_id == ldev_id or (s.svol is not None and s.svol.ldev_id == ldev_id)]

    def svol_of(self, ldev_id: int) -> Snapshot | None:
        return next((s for s in self.snapshots() if s.svol is not None and s.svol.ldev_id == ldev_id), None)

    def mus_of(self, ldev_id: int) -> set[int]:
        return {s.mu for s in self.snapshots() if s.pvol.ldev_id == ldev_id}

    def group(self, name: str) -> SnapshotGroup:
        group = self.groups.get(name)
        if group is None:
            raise not_found(f"snapshotGroupId = {name}")
        return group

    def snapshot(self, snapshot_id: str) -> Snapshot:
        parts = snapshot_id.split(",")
        found = None
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            found = next((s for s in self.snapshots() if s.snapshot_id == f"{int(parts[0])},{int(parts[1])}"), None)
        if found is None:
            raise not_found(f"snapshotId = {snapshot_id}")
        return found

    def ldev_info(self, ldev_id: int) -> tuple[bool, int | None]:
        """Whether the LDEV is in a Thin Image pair, and the snapshot pool when it is an S-VOL."""
        svol = self.svol_of(ldev_id)
        return bool(self.snapshots_of(ldev_id)), None if svol is None else svol.pool_id

    # create ------------------------------------------------------------------------------------
    def create(self, spec: dict[str, t.Any]) -> Snapshot:
        """Create a pair (inside its job): the storage-side checks, then PAIR, PSUS or a clone copy."""
        array = self.array
        name = spec["snapshotGroupName"]
        group = self.groups.get(name)
        ctg = bool(spec.get("isConsistencyGroup"))
        if group is not None and spec.get("isConsistencyGroup") is not None and group.ctg != ctg:
            raise storage_error(f"The snapshot group ({name}) is {'' if group.ctg else 'not '}in consistency group "
                                "mode; isConsistencyGroup must match it.", "snapshot_group")
        pool_id = int(spec["snapshotPoolId"])
        if pool_id not in array.pools:
            raise storage_error(f"The specified pool ({pool_id}) does not exist or cannot store snapshot data.",
                                "snapshot_pool")
        pvol = self._ldev(spec["pvolLdevId"], "P-VOL")
        svol = None if spec.get("svolLdevId") is None else self._ldev(spec["svolLdevId"], "S-VOL")
        if self.svol_of(pvol.ldev_id) is not None:
            raise storage_error(f"Another copy pair might already be using the specified LDEV ({pvol.ldev_id}): it "
                                "is a Thin Image S-VOL (cascading is not supported by the lab).", "ldev_in_use")
        if svol is not None:
            self._check_svol(pvol, svol)
        busy = self._si_busy(pvol) or \
            (self._restoring(pvol, None) if spec.get("autoSplit") or spec.get("clonesAutomation") else "")
        if busy:
            raise storage_error(f"The P-VOL (LDEV {pvol.ldev_id}) cannot be used now: {busy}.", "pvol_busy")
        mu = self._mu(pvol, spec.get("muNumber"))
        if group is None:
            group = self.groups[name] = SnapshotGroup(name, ctg)
        snap = Snapshot(group, pvol, mu, pool_id, spec)
        group.snapshots[snap.snapshot_id] = snap
        if svol is not None:
            snap.svol = svol
        if spec.get("autoSplit"):
            self._take(snap)
        self.update_access(snap)
        if snap.is_clone and spec.get("clonesAutomation"):
            self._clone(snap)
        return snap

    def _ldev(self, ldev_id: int, role: str) -> Ldev:
        ldev = self.array.ldevs.get(int(ldev_id))
        if ldev is None:
            raise storage_error(f"The {role} (LDEV {ldev_id}) is not defined.", "ldev_undefined")
        return ldev

    def _check_svol(self, pvol: Ldev, svol: Ldev) -> None:
        """The S-VOL must be another LDEV, unpaired, of the P-VOL's capacity."""
        if svol is pvol:
            raise storage_error("The P-VOL and the S-VOL must be different LDEVs.", "ldev_in_use")
        if self.array.si.pairs_of(svol.ldev_id) or self.snapshots_of(svol.ldev_id):
            raise storage_error(f"Another copy pair might already be using the specified LDEV ({svol.ldev_id}).",
                                "ldev_in_use")
        if pvol.block_capacity != svol.block_capacity:
            raise storage_error(f"The capacity of the S-VOL (LDEV {svol.ldev_id}: {svol.block_capacity} blocks) "
                                f"differs from that of the P-VOL (LDEV {pvol.ldev_id}: {pvol.block_capacity} "
                                "blocks).", "size_mismatch")

    def _mu(self, pvol: Ldev, wanted: int | None) -> int:
        used = self.mus_of(pvol.ldev_id) | {p.mu for p in self.array.si.pairs() if p.pvol is pvol}
        if wanted is None:
            free = next((m for m in range(FIRST_AUTO_MU, MAX_MU + 1) if m not in used), None)
            if free is None:
                raise storage_error(f"No MU number is free on the P-VOL (LDEV {pvol.ldev_id}).", "mu")
            return free
        if wanted in used:
            raise storage_error(f"The MU number {wanted} of the P-VOL (LDEV {pvol.ldev_id}) is already in use.", "mu")
        return int(wanted)

    def _si_busy(self, pvol: Ldev) -> str:
        """Why a ShadowImage pair keeps Thin Image from creating, splitting or restoring on ``pvol`` ("" when
        none does): [TI] allows these while a pair with the P-VOL as its S-VOL is PSUS (copy complete) only."""
        for pair in self.array.si.pairs_of(pvol.ldev_id):
            if pair.svol is pvol and (pair.status != "PSUS" or pair.background or pair.transfer is not None):
                shown = "PSUS(SP)" if pair.status == "PSUS" else pair.status
                return f"it is the S-VOL of ShadowImage pair {pair.pair_id}, which is {shown}"
        return ""

    def _restoring(self, pvol: Ldev, snap: Snapshot | None) -> str:
        """Another Thin Image pair restoring ``pvol`` ("" when none is): its image is not taken meanwhile."""
        for other in self.snapshots():
            if other is not snap and other.pvol is pvol and other.status == "RCPY":
                return f"Thin Image pair {other.snapshot_id} is restoring it (RCPY)"
        return ""

    # actions ---------------------------------------------------------------------------------
    def check(self, snap: Snapshot, op: str, params: dict[str, t.Any]) -> bool:
        """True when ``op`` changes the pair, False when there is nothing to do; raise 412 when refused."""
        status = snap.status
        if op == "clone" or snap.is_clone:
            if op == "clone" and snap.is_clone and status in ("PAIR", "PSUP"):
                return status == "PAIR"
            raise state_error(snap.snapshot_id, op, f"{status} ({'a clone' if snap.is_clone else 'a snapshot'} pair)")
        if op in ("assign-volume", "unassign-volume"):
            return self._check_volume(snap, op, params)
        if op == "split" and status in ("PAIR", "PSUS"):
            self._refuse_busy(snap, op)
            return status == "PAIR"
        if op == "resync" and status in ("PAIR", "PSUS", "PSUE", "COPY", "RCPY"):
            return status in ("PSUS", "PSUE")
        if op == "restore" and status in ("PAIR", "PSUS", "COPY", "RCPY"):
            if status == "PSUS":
                self._refuse_busy(snap, op)
            return status == "PSUS"
        raise state_error(snap.snapshot_id, op, status)

    def _refuse_busy(self, snap: Snapshot, op: str) -> None:
        busy = self._si_busy(snap.pvol) or self._restoring(snap.pvol, snap)
        if busy:
            raise state_error(snap.snapshot_id, op, f"{snap.status} (the P-VOL: {busy})")

    def _check_volume(self, snap: Snapshot, op: str, params: dict[str, t.Any]) -> bool:
        if snap.status not in ("PAIR", "PSUS", "PSUE") or (op == "assign-volume" and snap.status == "PSUE"):
            raise state_error(snap.snapshot_id, op, snap.status)
        if op == "unassign-volume":
            return snap.svol is not None
        if snap.svol is not None:
            if snap.svol.ldev_id == params["svolLdevId"]:
                return False
            raise state_error(snap.snapshot_id, op, f"{snap.status} (LDEV {snap.svol.ldev_id} is assigned)")
        return True

    def apply(self, snap: Snapshot, op: str, params: dict[str, t.Any], when: float | None = None) -> str | None:
        """Run ``op`` (checked again); the status a job waits for when a copy starts, else None. The pairs of
        one job share ``when``, the time of their snapshot (a group's pairs are split at one point in time)."""
        if not self.check(snap, op, params):
            return None
        snap.last_operation = op
        if op == "split":
            self._take(snap, when)
        elif op == "resync":
            self._discard(snap)
            snap.status = snap.target = "PAIR"
            if params.get("autoSplit"):
                self._take(snap, when)
        elif op == "restore":
            return self._restore(snap, bool(params.get("autoSplit")))
        elif op == "clone":
            if params.get("copySpeed"):
                snap.pace = COPY_SPEEDS[params["copySpeed"]]
            return self._clone(snap)
        elif op == "assign-volume":
            self._assign(snap, self._ldev(params["svolLdevId"], "S-VOL"))
        else:
            self._unassign(snap)
        self.update_access(snap)
        return None

    def _take(self, snap: Snapshot, when: float | None = None) -> None:
        """Store snapshot data: the P-VOL's image now (``when``: the time the job took it)."""
        image = dict(snap.pvol.volume.blocks)
        if snap.svol is not None:
            snap.svol.volume.set_blocks(image)
        else:
            snap.data = image
        snap.has_data, snap.written_in_svol = True, False
        snap.split_time = self.array.clock.now() if when is None else when
        snap.status = snap.target = "PSUS"
        snap.last_error = ""

    def _discard(self, snap: Snapshot) -> None:
        snap.has_data, snap.data, snap.split_time, snap.written_in_svol = False, None, None, False

    def _assign(self, snap: Snapshot, svol: Ldev) -> None:
        self._check_svol(snap.pvol, svol)
        snap.svol = svol
        if snap.has_data:
            svol.volume.set_blocks(snap.data or {})
            snap.data = None

    def _unassign(self, snap: Snapshot) -> None:
        svol, snap.svol = snap.svol, None
        if svol is None:
            return
        if snap.has_data:
            snap.data = dict(svol.volume.blocks)
        svol.volume.set_blocks({})
        svol.volume.host_access = "rw"

    def delete(self, snap: Snapshot, keep_svol: bool = False) -> None:
        """Delete the pair and its snapshot data (the S-VOL is emptied unless a finished clone keeps it)."""
        self._abort(snap)
        svol = snap.svol
        snap.deleted, snap.status, snap.svol = True, "SMPL", None
        self._discard(snap)
        if svol is not None:
            if not keep_svol:
                svol.volume.set_blocks({})
            svol.volume.host_access = "rw"
        group = snap.group
        group.snapshots.pop(snap.snapshot_id, None)
        if not group.snapshots:
            self.groups.pop(group.name, None)
        self.array.check_jobs()

    def check_delete(self, snap: Snapshot) -> None:
        if snap.status in ("COPY", "RCPY"):
            raise state_error(snap.snapshot_id, "delete", snap.status)

    # copies -----------------------------------------------------------------------------------
    def _restore(self, snap: Snapshot, auto_split: bool) -> str:
        """Copy the snapshot data to the P-VOL (RCPY), then PAIR, or PSUS with ``auto_split``."""
        image, current = snap.image(), snap.pvol.volume.blocks
        changed = {i: image.get(i, ZERO) for i in set(image) | set(current) if image.get(i) != current.get(i)}
        snap.status, snap.target = "RCPY", "PSUS" if auto_split else "PAIR"
        self.update_access(snap)
        self._start(snap, "ti:restore", snap.pvol, changed)
        return snap.target

    def _clone(self, snap: Snapshot) -> str:
        """Copy the P-VOL's image now to the S-VOL (PSUP); the pair is deleted when the copy ends."""
        assert snap.svol is not None
        image, current = snap.pvol.volume.blocks, snap.svol.volume.blocks
        changed = {i: image.get(i, ZERO) for i in set(image) | set(current) if image.get(i) != current.get(i)}
        snap.status, snap.target = "PSUP", "SMPL"
        self.update_access(snap)
        self._start(snap, "ti:clone", snap.svol, changed)
        return "SMPL"

    def _start(self, snap: Snapshot, kind: str, dst: Ldev, changed: dict[int, str]) -> None:
        array = self.array
        src = snap.pvol if dst is not snap.pvol else snap.svol
        label = str(src.ldev_id) if src is not None else f"snapshot {snap.snapshot_id}"
        pace = snap.pace if snap.is_clone else array.default_copy_pace
        snap.transfer = array.fabric.start_transfer(
            kind, array.name, label, dst.volume, changed, None,
            rate_cap=array.pace_rate * pace if array.pace_rate else None,
            on_done=lambda tr: self._copied(snap, tr), on_fail=lambda tr: self._failed(snap, tr))
        if array.fail_copies > 0:
            array.fail_copies -= 1
            snap.fail_round = snap.transfer

    def rate_changed(self) -> None:
        """The ``pace_rate`` setting changed: running copies follow it at once."""
        array = self.array
        for snap in self.snapshots():
            if snap.transfer is not None:
                pace = snap.pace if snap.is_clone else array.default_copy_pace
                snap.transfer.rate_cap = array.pace_rate * pace if array.pace_rate else None

    def _copied(self, snap: Snapshot, transfer: Transfer) -> None:
        if transfer is not snap.transfer:
            return
        snap.transfer = None
        dst = snap.pvol if transfer.dst is snap.pvol.volume else snap.svol
        assert dst is not None
        if any(v == ZERO for v in transfer.changed.values()):
            dst.volume.set_blocks({i: v for i, v in dst.volume.blocks.items() if v != ZERO})
        if snap.fail_round is transfer:
            self._suspend(snap, "the copy failed (injected by the lab)")
            return
        if dst is snap.pvol:  # ShadowImage pairs of the P-VOL see the restored blocks as host writes
            self.array.si.on_host_write(dst.ldev_id, sorted(transfer.changed))
        if snap.status == "PSUP":
            self.delete(snap, keep_svol=True)
            return
        self._discard(snap)
        snap.status = "PAIR"
        if snap.target == "PSUS":
            self._take(snap)
        self.update_access(snap)
        self.array.check_jobs()

    def _failed(self, snap: Snapshot, transfer: Transfer) -> None:
        if transfer is snap.transfer:
            snap.transfer = None
            self._suspend(snap, f"the copy failed: {transfer.error or transfer.state}")

    def _abort(self, snap: Snapshot) -> None:
        transfer, snap.transfer = snap.transfer, None
        snap.fail_round = None
        if transfer is not None:
            self.array.fabric.abort(transfer, "pair operation cancelled the copy")

    def _suspend(self, snap: Snapshot, reason: str) -> None:
        """A failed copy: PSUE, the snapshot data is lost ([TI])."""
        self._abort(snap)
        self._discard(snap)
        snap.status, snap.target, snap.last_error = "PSUE", "PSUE", reason
        self.update_access(snap)
        self.array.check_jobs()

    def tick(self, _now: float) -> None:
        """Fail the copies the lab was told to fail, part-way through."""
        for snap in self.snapshots():
            transfer = snap.fail_round
            if transfer is not None and transfer is snap.transfer and \
                    transfer.bytes_done >= self.array.fail_copy_at * transfer.bytes_total:
                self._suspend(snap, "the copy failed (injected by the lab)")

    # host side --------------------------------------------------------------------------------
    def on_host_write(self, ldev_id: int, indices: list[int]) -> None:
        """A host wrote ``indices`` of LDEV ``ldev_id``: host data wins over blocks a copy still brings."""
        for snap in self.snapshots_of(ldev_id):
            written = snap.pvol if snap.pvol.ldev_id == ldev_id else snap.svol
            if written is snap.svol and snap.status == "PSUS":
                snap.written_in_svol = True
            transfer = snap.transfer
            if written is not None and transfer is not None and transfer.dst is written.volume:
                for index in indices:
                    transfer.changed.pop(index, None)

    def update_access(self, snap: Snapshot) -> None:
        """[TI]: the S-VOL is read/write while split (PSUS) or cloned (PSUP), else not accessible."""
        if snap.svol is not None:
            snap.svol.volume.host_access = "rw" if snap.status in ("PSUS", "PSUP") else "none"

    def describe(self) -> dict[str, t.Any]:
        """The lab status of the Thin Image pairs (not part of the wire protocol)."""
        return {"snapshot_groups": sorted(self.groups),
                "snapshots": {s.snapshot_id: s.lab_state() for s in self.snapshots()}}
