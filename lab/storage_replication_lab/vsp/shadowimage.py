"""The ShadowImage engine: copy groups, pairs, their status transitions and the copies behind them.

Every copy is a fabric transfer on the array's internal link (``GET /_lab/transfers``
shows kind ``si:<initial|resync|restore|update|split>``, source and destination
LDEV and the bytes moved). A copy runs in rounds: a round moves the blocks that
were pending when it started; host writes that land meanwhile on the copy source
are pending for the next round. A pair settles (COPY -> PAIR, RCPY -> PAIR,
steady split COPY -> PSUS) when a round ends with nothing pending.

Differential tracking: while a pair is split (PSUS/SSUS) or suspended (PSUE) a
host write on either volume marks its blocks in the pair's bitmap; resync copies
exactly those blocks P -> S, restore S -> P. A split during the initial copy, a
copy failure (PSUE) or a forced suspend makes the next resync a full copy (every
block with data on either volume). Blocks without data on the source travel as
empty blocks, so after resync / restore the two digests are equal.

Remote copy (TrueCopy, Universal Replicator, global-active device; ``remote.py``).
ShadowImage User Guide (MK-98RD9021), "Sharing ShadowImage volumes": "You can
share SI P-VOLs and S-VOLs with TC P-VOLs and S-VOLs. However, you cannot share SI
S-VOLs with TC S-VOLs"; with UR, SI P-VOLs are shared with UR P-VOLs and S-VOLs and
SI S-VOLs with UR P-VOLs only, and its tables refuse "Create pairs" on an SI S-VOL
that is a UR P-VOL in COPY (plain table) and in PAIR, COPY, PSUS/PSUE ("3DC cascade:
Sharing a UR P-VOL with an SI S-VOL"); GAD volumes may be SI S-VOLs only from micro
versions 90-05-01 (VSP 5000), 93-06-81 (E), 88-08-08 (G/F), and not at all on older
ones (VSP G1000 GAD guide: "the volume at the GAD copy destination is the same as the
volume at the ShadowImage copy destination"). The lab therefore refuses to create an
SI pair whose S-VOL is in any remote pair (``KART30000-E``, SSB 2E10/9A23, as for an
S-VOL in use): the shared configurations the guide allows are reached by creating the
SI pair first (a remote pair may use an SI S-VOL as its P-VOL, ``remote.py``) or by
using the remote-copy volume as the SI P-VOL. A journal volume is in no SI pair (the
lab's mirror of ``remote_setup.add_journal``). Host access of a volume in both an SI
and a remote pair is the strictest of the two (``access_of`` here and in ``remote.py``):
an SI operation never resets what the remote pair decided, nor the other way round.
Blocks an SI copy writes into a remote-pair volume reach the remote pair as host writes
do, and blocks a remote copy writes into an SI volume reach the SI pair.
"""

from __future__ import annotations

import typing as t

from .model import ZERO, CopyGroup, Ldev, Pair, not_found, state_error, storage_error

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer
    from . import Vsp

OPERATIONS = ("split", "resync", "restore")
ACCESS_ORDER = ("none", "ro", "rw")


class ShadowImage:
    def __init__(self, array: Vsp) -> None:
        self.array = array
        self.groups: dict[str, CopyGroup] = {}

    # lookups -----------------------------------------------------------------------------
    def pairs(self) -> list[Pair]:
        return [p for g in self.groups.values() for p in g.pairs.values()]

    def pairs_of(self, ldev_id: int) -> list[Pair]:
        return [p for p in self.pairs() if ldev_id in (p.pvol.ldev_id, p.svol.ldev_id)]

    def group(self, group_id: str) -> CopyGroup:
        parts = group_id.split(",")
        group = self.groups.get(parts[0]) if len(parts) == 3 else None
        if group is None or group.group_id != group_id:
            raise not_found(f"localCloneCopygroupId = {group_id}")
        return group

    def pair(self, pair_id: str) -> Pair:
        parts = pair_id.split(",")
        group = self.groups.get(parts[0]) if len(parts) == 4 else None
        pair = group.pairs.get(parts[3]) if group is not None else None
        if pair is None or pair.pair_id != pair_id:
            raise not_found(f"localCloneCopypairId = {pair_id}")
        return pair

    # create ------------------------------------------------------------------------------------
    def create(self, spec: dict[str, t.Any]) -> Pair:
        """Create a pair (inside its job): the storage-side checks, then the initial copy."""
        array = self.array
        cg_name, name = spec["copyGroupName"], spec["copyPairName"]
        pdg = spec.get("pvolDeviceGroupName") or f"{cg_name}P_"
        sdg = spec.get("svolDeviceGroupName") or f"{cg_name}S_"
        group = self.groups.get(cg_name)
        if spec["isNewGroupCreation"]:
            if group is not None:
                raise storage_error(f"The copy group ({cg_name}) already exists. Specify false for "
                                    "isNewGroupCreation to add a pair to it.", "group_exists")
            if pdg == sdg:
                raise storage_error("The P-VOL and S-VOL device group names must differ.", "group_exists")
        else:
            if group is None:
                raise storage_error(f"The copy group ({cg_name}) does not exist. Specify true for "
                                    "isNewGroupCreation to create it.", "group_missing")
            if (spec.get("pvolDeviceGroupName") or group.pdg) != group.pdg or \
                    (spec.get("svolDeviceGroupName") or group.sdg) != group.sdg:
                raise storage_error(f"The device groups do not match those of the copy group ({cg_name}: "
                                    f"{group.pdg}, {group.sdg}).", "group_missing")
            if name in group.pairs:
                raise storage_error(f"The specified pair name ({name}) (copyPairName) is already being used by "
                                    "the chosen copy group.", "duplicate_name")
        pvol = self._ldev(spec["pvolLdevId"], "P-VOL")
        svol = self._ldev(spec["svolLdevId"], "S-VOL")
        if pvol is svol:
            raise storage_error("The P-VOL and the S-VOL must be different LDEVs.", "ldev_in_use")
        if pvol.block_capacity != svol.block_capacity:
            raise storage_error(f"The capacity of the S-VOL (LDEV {svol.ldev_id}: {svol.block_capacity} blocks) "
                                f"differs from that of the P-VOL (LDEV {pvol.ldev_id}: {pvol.block_capacity} "
                                "blocks).", "size_mismatch")
        if self.pairs_of(svol.ldev_id):
            raise storage_error(f"Another copy pair might already be using the specified LDEV ({svol.ldev_id}).",
                                "ldev_in_use")
        if any(p.svol is pvol for p in self.pairs()):
            raise storage_error(f"Another copy pair might already be using the specified LDEV ({pvol.ldev_id}): "
                                "it is an S-VOL (cascading is not supported by the lab).", "ldev_in_use")
        self._remote_refusal(pvol, svol)
        for ldev in (pvol, svol):
            if array.ti.svol_of(ldev.ldev_id) is not None:
                raise storage_error(f"Another copy pair might already be using the specified LDEV ({ldev.ldev_id}): "
                                    "it is a Thin Image S-VOL.", "ldev_in_use")
        used = {p.mu for p in self.pairs() if p.pvol is pvol} | array.ti.mus_of(pvol.ldev_id)
        mu = spec.get("pvolMuNumber")
        if mu is None:
            free = [m for m in range(3) if m not in used]
            if not free:
                raise storage_error(f"No MU number is free on the P-VOL (LDEV {pvol.ldev_id}).", "mu")
            mu = free[0]
        elif mu in used:
            raise storage_error(f"The MU number {mu} of the P-VOL (LDEV {pvol.ldev_id}) is already in use.", "mu")
        if group is None:
            group = CopyGroup(cg_name, pdg, sdg)
            self.groups[cg_name] = group
        ctg = spec.get("consistencyGroupId", -1) if spec.get("isConsistencyGroup") else -1
        pair = Pair(group, name, pvol, svol, int(mu), int(spec.get("copyPace") or array.default_copy_pace), ctg)
        group.pairs[name] = pair
        if spec.get("autoSplit"):
            pair.target = "PSUS"
            if spec.get("quickMode"):
                pair.status, pair.background = "PSUS", True
                pair.mode = "split"
        pair.frozen = self._image(pvol, set(pvol.volume.blocks) | set(svol.volume.blocks))
        self.update_access(pair)
        self._start_next(pair, force=True)
        return pair

    def _remote_refusal(self, pvol: Ldev, svol: Ldev) -> None:
        """Refuse an S-VOL in a remote pair and a journal volume (see "Remote copy" in the module docstring)."""
        rc = self.array.rc
        for ldev in (pvol, svol):
            if rc.journal_of(ldev.ldev_id) is not None:
                raise storage_error(f"Another copy pair might already be using the specified LDEV ({ldev.ldev_id}): "
                                    f"it is a journal volume (journal {rc.journal_of(ldev.ldev_id)}).", "ldev_in_use")
        for pair in rc.pairs_of(svol.ldev_id):
            role = pair.role_of(self.array)
            raise storage_error(f"Another copy pair might already be using the specified LDEV ({svol.ldev_id}): it is "
                                f"the {role}-VOL of the {pair.rtype} pair {pair.label()} ({pair.st[role]}), and a "
                                "remote-copy volume cannot be made a ShadowImage S-VOL. Use it as the ShadowImage "
                                "P-VOL, or create the ShadowImage pair first.", "ldev_in_use")

    def _ldev(self, ldev_id: int, role: str) -> Ldev:
        ldev = self.array.ldevs.get(int(ldev_id))
        if ldev is None:
            raise storage_error(f"The {role} (LDEV {ldev_id}) is not defined.", "ldev_undefined")
        return ldev

    # actions ---------------------------------------------------------------------------------
    def check(self, pair: Pair, op: str, params: dict[str, t.Any]) -> bool:
        """True when ``op`` changes the pair, False when it is already there; raise when refused."""
        status = pair.status
        if op == "split":
            if params.get("forceSuspend"):
                return status != "PSUE"
            if status == "PSUS" or (status == "COPY" and pair.kind == "split"):
                return False
            if status == "PAIR" or (status == "COPY" and pair.kind == "initial"):
                return True
        elif op == "resync":
            if status in ("COPY", "PAIR", "RCPY"):
                return False
            if status in ("PSUS", "PSUE"):
                return True
        elif op == "restore":
            if status == "RCPY":
                return False
            if status == "PSUS":
                if pair.needs_full:
                    raise state_error(pair.pair_id, op, "PSUS (the S-VOL does not hold a complete copy)")
                busy = [p for p in self.pairs() if p is not pair and p.pvol is pair.pvol and p.mode != "split"]
                if busy:
                    raise state_error(pair.pair_id, op, f"PSUS (pair {busy[0].pair_id} on the same P-VOL is "
                                                        f"{busy[0].status})")
                return True
        raise state_error(pair.pair_id, op, status)

    def apply(self, pair: Pair, op: str, params: dict[str, t.Any]) -> None:
        if not self.check(pair, op, params):
            return
        if "copyPace" in params:
            pair.pace = int(params["copyPace"])
        pair.last_operation = op
        quick = bool(params.get("quickMode"))
        if op == "split":
            if params.get("forceSuspend"):
                self._suspend(pair, "forcibly suspended by a split with forceSuspend")
            else:
                self._split(pair, quick)
        elif op == "resync":
            self._resync(pair, quick)
        else:
            self._restore(pair, quick)

    def _split(self, pair: Pair, quick: bool) -> None:
        if pair.status == "COPY":  # initial copy: cancel it, copy everything at the next resync
            self._abort(pair)
            pair.pending, pair.frozen = set(), None
            pair.needs_full = True
            pair.mode, pair.status, pair.target, pair.kind = "split", "PSUS", "PSUS", "split"
            self.update_access(pair)
            return
        pair.mode = "split"
        pair.target = "PSUS"
        if pair.pending:
            frozen = dict(pair.frozen or {})
            frozen.update(self._image(pair.pvol, pair.pending))
            pair.frozen, pair.pending = frozen, set()
        if pair.transfer is None and not pair.frozen:
            pair.status, pair.kind = "PSUS", "split"
        elif quick:
            pair.status, pair.kind, pair.background = "PSUS", "split", True
            self._start_next(pair)
        else:
            pair.status, pair.kind, pair.background = "COPY", "split", False
            self._reset_progress(pair)
            self._start_next(pair)
        self.update_access(pair)

    def _resync(self, pair: Pair, quick: bool) -> None:
        if pair.needs_full:
            blocks = set(pair.pvol.volume.blocks) | set(pair.svol.volume.blocks)
            pair.needs_full = False
        else:
            blocks = set(pair.dirty)
        pair.dirty = set()
        pair.mode, pair.direction, pair.kind, pair.target = "sync", "P>S", "resync", "PAIR"
        pair.last_error = ""
        pair.pending |= blocks
        if quick:
            pair.status, pair.background = "PAIR", True
        else:
            pair.status, pair.background = "COPY", False
            self._reset_progress(pair)
        self.update_access(pair)
        self._start_next(pair, force=True)

    def _restore(self, pair: Pair, quick: bool) -> None:
        blocks = set(pair.dirty)
        pair.dirty = set()
        pair.mode, pair.direction, pair.kind, pair.target = "sync", "S>P", "restore", "PAIR"
        pair.status, pair.background = "RCPY", False
        self._reset_progress(pair)
        if quick:  # a real array swaps the volumes; the lab hands the S-VOL image to the P-VOL at once
            self._land(pair, pair.pvol, self._image(pair.svol, blocks))
            blocks = set()
        pair.pending |= blocks
        self.update_access(pair)
        self._start_next(pair, force=True)

    def delete(self, pair: Pair) -> None:
        self._abort(pair)
        pair.deleted = True
        pair.status = "SMPL"
        group = pair.group
        group.pairs.pop(pair.name, None)
        if not group.pairs:
            self.groups.pop(group.name, None)
        self.update_access(pair)
        self.array.check_jobs()

    # host writes -----------------------------------------------------------------------------
    def on_host_write(self, ldev_id: int, indices: list[int]) -> None:
        for pair in self.pairs_of(ldev_id):
            written = pair.pvol if pair.pvol.ldev_id == ldev_id else pair.svol
            if pair.mode == "split":
                if written is pair.svol:  # the host's data wins over a split image still on its way
                    for index in indices:
                        if pair.transfer is not None and pair.transfer.dst is written.volume:
                            pair.transfer.changed.pop(index, None)
                        if pair.frozen:
                            pair.frozen.pop(index, None)
                pair.dirty.update(indices)
                continue
            pair.pending.update(indices)
            if pair.transfer is None and pair.status == "PAIR":
                pair.kind = "update"
                self._start_next(pair)

    # copy rounds -----------------------------------------------------------------------------
    @staticmethod
    def _image(ldev: Ldev, blocks: t.Iterable[int]) -> dict[int, str]:
        data = ldev.volume.blocks
        return {i: data.get(i, ZERO) for i in blocks}

    @staticmethod
    def _reset_progress(pair: Pair) -> None:
        pair.op_total = pair.op_done = pair.progress = 0

    def _start_next(self, pair: Pair, force: bool = False) -> None:
        """Start the next round of the pair's copy, or settle it when there is nothing left."""
        if pair.transfer is not None or pair.deleted:
            return
        if pair.frozen is not None:
            image, pair.frozen = pair.frozen, None
            dst = pair.svol
        elif pair.mode == "sync" and (pair.pending or force):
            image = self._image(pair.source(), pair.pending)
            pair.pending = set()
            dst = pair.destination()
        else:
            self._settle(pair)
            return
        array = self.array
        rate = array.pace_rate * pair.pace if array.pace_rate else None
        src = pair.pvol if dst is pair.svol else pair.svol
        transfer = array.fabric.start_transfer(
            f"si:{pair.kind}", array.name, str(src.ldev_id), dst.volume, image, None, rate_cap=rate,
            on_done=lambda tr: self._round_done(pair, tr), on_fail=lambda tr: self._round_failed(pair, tr))
        pair.transfer = transfer
        pair.op_total += transfer.bytes_total
        if array.fail_copies > 0:
            array.fail_copies -= 1
            pair.fail_round = transfer

    def _land(self, pair: Pair, dst: Ldev, changed: dict[int, str]) -> None:
        """Blocks a copy wrote into ``dst``: empty ones dropped, other pairs of a restored P-VOL marked."""
        volume = dst.volume
        if any(v == ZERO for v in changed.values()) or any(volume.blocks.get(i) != v for i, v in changed.items()):
            blocks = dict(volume.blocks)
            for index, token in changed.items():
                if token == ZERO:
                    blocks.pop(index, None)
                else:
                    blocks[index] = token
            volume.set_blocks(blocks)
        if dst is pair.pvol:
            for other in self.pairs():
                if other is not pair and other.pvol is dst:
                    other.dirty.update(changed)
        if changed:  # a remote pair on ``dst`` (an SI S-VOL that is a TC/UR/GAD P-VOL) sees it as a host write
            self.array.rc.on_host_write(dst.ldev_id, sorted(changed))

    def _round_done(self, pair: Pair, transfer: Transfer) -> None:
        if transfer is not pair.transfer:
            return
        pair.transfer = None
        pair.op_done += transfer.bytes_total
        self._land(pair, pair.pvol if transfer.dst is pair.pvol.volume else pair.svol, transfer.changed)
        if pair.fail_round is transfer:
            pair.fail_round = None
            self._suspend(pair, "the copy failed (injected by the lab)")
            return
        self._start_next(pair)

    def _round_failed(self, pair: Pair, transfer: Transfer) -> None:
        if transfer is not pair.transfer:
            return
        pair.transfer = None
        pair.fail_round = None
        self._suspend(pair, f"the copy failed: {transfer.error or transfer.state}")

    def _settle(self, pair: Pair) -> None:
        if pair.target == "PSUS":
            pair.mode = "split"
        pair.status = pair.target
        pair.direction = "P>S"
        pair.background = False
        self._reset_progress(pair)
        self.update_access(pair)
        self.array.check_jobs()

    def _abort(self, pair: Pair) -> None:
        transfer, pair.transfer = pair.transfer, None
        pair.fail_round = None
        if transfer is not None:
            self.array.fabric.abort(transfer, "pair operation cancelled the copy")

    def _suspend(self, pair: Pair, reason: str) -> None:
        self._abort(pair)
        pair.status, pair.mode, pair.target, pair.kind = "PSUE", "split", "PSUE", "suspend"
        pair.needs_full = True
        pair.pending, pair.frozen = set(), None
        pair.background = False
        pair.direction = "P>S"
        pair.last_error = reason
        self._reset_progress(pair)
        self.update_access(pair)
        self.array.check_jobs()

    def tick(self, _now: float) -> None:
        """Fail the copy rounds the lab was told to fail, part-way through."""
        for pair in self.pairs():
            transfer = pair.fail_round
            if transfer is not None and transfer is pair.transfer and \
                    transfer.bytes_done >= self.array.fail_copy_at * transfer.bytes_total:
                self._suspend(pair, "the copy failed (injected by the lab)")

    # host access (fact sheet §8) ----------------------------------------------------------------
    def access_of(self, ldev_id: int) -> str:
        """What ShadowImage lets hosts do with the LDEV: the strictest of its pairs ("rw" in none)."""
        access = "rw"
        for other in self.pairs_of(ldev_id):
            if other.pvol.ldev_id == ldev_id:
                mine = "none" if other.status == "RCPY" else "rw"
            else:
                mine = "rw" if other.status == "PSUS" else "ro"
            access = strictest(access, mine)
        return access

    def update_access(self, pair: Pair) -> None:
        """Host access of the pair's volumes: ShadowImage's and that of a remote pair on the same LDEV."""
        for ldev in (pair.pvol, pair.svol):
            ldev.volume.host_access = strictest(self.access_of(ldev.ldev_id), self.array.rc.access_of(ldev.ldev_id))


def strictest(*modes: str) -> str:
    """The strictest host access of ``modes`` ("none" < "ro" < "rw")."""
    return min(modes, key=ACCESS_ORDER.index)
