"""The remote-copy engine of the VSP simulator: TrueCopy (TC), Universal Replicator (UR) and global-active
device (GAD) pairs between two lab arrays (``vsp-a`` and ``vsp-b``), over the lab's fabric link.

Sources. [D] MK-98RD9014, REST API Reference Guide for VSP 5000, E and G/F series:
"Managing TrueCopy pairs or Universal Replicator pairs" and "Managing global-active
device pairs" (``remote-mirror-copygroups`` ids
``remoteStorageDeviceId,copyGroupName,localDeviceGroupName,remoteDeviceGroupName``;
``NotSpecified`` for the remote parts when the remote storage system failed: only
the local side is returned, and no ``Remote-Authorization`` header is needed;
``Remote-Authorization`` required for GAD operations and reads; ``GET
remote-copypairs?replicationType=TC|UR`` with ``headLdevId``/``count`` and its
per-LDEV record; the GAD create example with ``localDeviceGroupName``
``<cg>P_``/``remoteDeviceGroupName`` ``<cg>S_``, ``muNumber``, ``quorumDiskId``,
``fenceLevel: NEVER``, ``copyPace``, ``doInitialCopy``, ``isDataReductionForceCopy``;
``NoWait`` recommended). [D-GAD] Ops Center docs, "I/O stoppage detected in the
counterpart system": reads/writes continue on the volume whose I/O mode is Local,
Block volumes stop. [C] Cinder's HBSD driver (``hbsd_rest_api.py``: create body with
``remoteStorageDeviceId``, ``pathGroupId``, ``local/remoteDeviceGroupName``
``<cg>P``/``<cg>S``, ``isNewGroupCreation``, ``doInitialCopy``, UR ``muNumber`` +
``pvolJournalId``/``svolJournalId``, GAD ``quorumDiskId``; split/resync bodies
``{"parameters": {"replicationType"[, "doSwapSvol": true][, "copyPace"]}}``; takeover
on the secondary with ``{"parameters": {"mode": "forceSplit"}}`` and ``NotSpecified``
ids, no ``Remote-Authorization``; ``Remote-Authorization: Session <token>`` of the
remote array; ``journals`` with ``journalId``/``ldevIds``, PATCH
``dataOverflowWatchInSeconds``; waits for PAIR/PFUL after create, PSUS/SSUS after
split, SSWS after swap split; ``KART40054-E``/``KART40046-E`` journal ids),
Hitachi's vspone_block collection (gateways ``vsp_copy_groups_gateway.py``,
``vsp_replication_pairs_gateway.py``, ``vsp_hur_gateway.py``,
``vsp_gad_pair_gateway.py``, ``vsp_remote_storage_registration_gw.py``,
``vsp_remote_connection_gateway.py``: split ``svolAccessMode r|rw``,
``doPvolWriteProtect``, ``doDataSuspend``; swap split ``svolOperationMode: SSWS``;
swap resync ``doSwapSvol``; takeover ``{"mode": "auto"}`` on
``NotSpecified,<cg>,<dg>,NotSpecified``; UR ``fenceLevel`` ``ASYNC``, GAD ``NEVER``;
``remote-storages`` with ``storageDeviceId``, ``restServerIp``, ``restServerPort``,
``isMutualDiscovery``/``isMutualDeletion``; ``remotepath-groups``; ``quorum-disks``;
the pair record's fields ``pvol/svolIOMode``, ``pvol/svolJournalId``,
``quorumDiskId``, ``pvol/svolStorageDeviceId``, ``fenceLevel``). [sheet]
specs/vsp-rest.md appendix A. [lab] the lab's own decision, kept stable.

Statuses ([D]/[C]; P-VOL side / S-VOL side):

    ===================  =======================  ==================================
    situation            TC / UR                  GAD (pvolIOMode / svolIOMode)
    ===================  =======================  ==================================
    initial copy         COPY / COPY              COPY / COPY (Local / Block)
    in sync              PAIR / PAIR              PAIR / PAIR (Mirror / Mirror)
    UR journal >= 80%    PFUL / PFUL [lab 80%]    -
    split                PSUS / SSUS              PSUS / SSUS (Local / Block)
    swap split/takeover  PSUS|PSUE / SSWS         PSUS|PSUE / SSWS (Block / Local)
    link cut, array down PSUE / PSUE              PSUE / PSUE (Local / Block)
    UR journal full      PFUS / SSUS              -
    ===================  =======================  ==================================

Lab decisions:

- Data. Writes to a TC or GAD P-VOL in PAIR are in the S-VOL before the write
  returns (and GAD S-VOL writes in the P-VOL). UR writes go to the pair's journal;
  journal rounds (kind ``ur:journal``) move them over the link between the two
  arrays, oldest first, one round at a time. The journal lag is measurable:
  ``journals`` ``qCount`` (entries not restored), ``usageRate`` (the master journal's
  bytes waiting / its LDEVs' capacity), ``qMarker`` (written / restored sequence),
  and ``GET /_lab/arrays/<name>`` (``remote_pairs``: journal bytes, lag seconds).
  Initial copies and resyncs copy the differing blocks (kinds ``tc:copy``,
  ``ur:copy``, ``gad:copy``); writes meanwhile join the copy.
- PFUL at a master journal usage of 80 % or more; at 100 % for
  ``dataOverflowWatchInSeconds`` (lab clock; default 60) the pair goes PFUS/SSUS and
  the journal becomes differential data.
- A cut link or a down array suspends COPY/PAIR/PFUL pairs at once (PSUE on both
  sides, GAD: the P-VOL stays Local, the S-VOL Block). TC ``fenceLevel`` DATA and
  STATUS make the P-VOL refuse host writes while PSUE; NEVER keeps it writable.
- split: from PAIR/PFUL; PSUS/SSUS/PSUE/PFUS answer success with nothing applied;
  COPY is 412 (``KART30090-E``). A UR split copies the journal first (the pair stays
  PAIR meanwhile; later writes are differential data) unless ``doDataSuspend``.
  ``svolAccessMode: rw`` makes the SSUS S-VOL writable; ``doPvolWriteProtect`` (TC)
  makes the PSUS P-VOL read-only. ``svolOperationMode: SSWS`` (swap split): from
  PAIR/PFUL (TC/UR also from PSUS/PSUE/PFUS) -> S-VOL SSWS, writable; the P-VOL PSUS
  (GAD: Block). SSWS again is a no-op.
- resync: PSUS/PSUE/PFUS -> COPY -> PAIR copying the blocks written on either side
  (P -> S; a TC/UR S-VOL in SSWS loses its own writes, a GAD SSWS pair is 412);
  COPY/PAIR/PFUL answer success with nothing applied. ``doSwapSvol: true`` needs the
  S-VOL in SSWS (GAD also the P-VOL in PSUS, [D]); the S-VOL becomes the P-VOL and
  the blocks written on either side are copied in the new direction.
- takeover (on the array of the S-VOL; 412 on the P-VOL's array and in COPY): ``mode:
  auto`` with the P-VOL reachable and the pair in PAIR/PFUL copies the journal, then
  swaps (PAIR in the new direction); otherwise, and with ``forceSplit``, the S-VOL
  goes SSWS at once (the P-VOL PSUS, or PSUE when unreachable); UR journal data not
  yet sent stays on the old P-VOL as differential data (``lost_blocks`` in the lab
  view). Works with the primary array down (``NotSpecified`` ids).
- delete: any status; both arrays must be reachable (else the job fails, SSB
  2E10/9B05). The last pair takes the copy group with it on both arrays.
- Create checks in the job (``KART30000-E`` + SSB): remote storage not registered
  2E10/9B01, no path group ``pathGroupId`` (default 0; GAD also the reverse one)
  2E10/9B02, journal missing 2E10/9B03, quorum disk missing on either array 2E10/9B04,
  remote unreachable 2E10/9B05, group of another type or remote 2E11/9B07, and the
  ShadowImage codes for LDEVs, sizes, names and groups (``vsp/__init__.py``).
- ShadowImage on the same LDEV (rules: docstring of ``shadowimage.py``): host access
  is the strictest of both engines (``access_of``); blocks a remote copy lands in an
  SI volume reach its SI pairs like host writes (``_land``), and the other way round.
"""

from __future__ import annotations

import typing as t

from .model import Ldev, state_error
from .remote_model import (PFUL_RATE, PairView, RemoteGroup, RemotePair, image, land, remote_error)
from .remote_setup import RemoteSetup
from .shadowimage import strictest

if t.TYPE_CHECKING:  # pragma: no cover
    from ..fabric import Transfer
    from . import Vsp

SUSPENDED = ("PSUS", "PSUE", "PFUS")
MIRRORING = ("PAIR", "PFUL")


class RemoteCopy(RemoteSetup):
    """One array's side of remote copy: registrations, journals, groups and the pairs it holds a volume of."""

    def __init__(self, array: Vsp) -> None:
        super().__init__(array)
        self.groups: dict[str, RemoteGroup] = {}

    def pairs(self) -> list[RemotePair]:
        return [p for g in self.groups.values() for p in g.pairs.values()]

    def pairs_of(self, ldev_id: int) -> list[RemotePair]:
        return [p for p in self.pairs() if p.vols[p.role_of(self.array)].ldev_id == ldev_id]

    def journal_of(self, ldev_id: int) -> int | None:
        """The id of the journal ``ldev_id`` is a journal volume of, else None."""
        return next((j.journal_id for j in self.journals.values() if ldev_id in [v.ldev_id for v in j.ldevs]), None)

    def access_of(self, ldev_id: int) -> str:
        """What remote copy lets hosts do with the LDEV ("rw" when it is in no remote pair)."""
        return strictest("rw", *(self.role_access(p, p.role_of(self.array)) for p in self.pairs_of(ldev_id)))

    def in_use(self, ldev_id: int) -> bool:
        return bool(self.pairs_of(ldev_id)) or self.journal_of(ldev_id) is not None

    def describe(self) -> dict[str, t.Any]:
        now = self.array.clock.now()
        return {"remote_copy_groups": sorted(self.groups),
                "remote_pairs": {p.pair_id(self.array): p.lab_state(now) for p in self.pairs()},
                "remote_storages": sorted(self.registered), "journals": sorted(self.journals)}

    # create ------------------------------------------------------------------------------------
    def create(self, spec: dict[str, t.Any], remote: Vsp) -> RemotePair:
        """``POST remote-mirror-copypairs`` inside its job: checks, the group, the pair, its initial copy."""
        me = self.array
        group = self._group_for(spec, remote)
        pvol, svol = self._volumes(spec, remote)
        journals = self._journals_for(spec, group, remote)
        if spec["replicationType"] == "GAD":
            self._check_quorum(int(spec["quorumDiskId"]), remote)
        if group is None:
            mu = int(spec.get("muNumber") or 0)
            group = RemoteGroup(spec["copyGroupName"], {me.name: spec["localDeviceGroupName"],
                                                        remote.name: spec["remoteDeviceGroupName"]},
                                spec["replicationType"], mu)
            group.arrays = {me.name: me, remote.name: remote}
            self.groups[group.name] = remote.rc.groups[group.name] = group
        spec = dict(spec, pvolJournalId=journals[0], svolJournalId=journals[1])
        pair = RemotePair(group, spec["copyPairName"], {"P": me, "S": remote}, {"P": pvol, "S": svol}, spec)
        group.pairs[pair.name] = pair
        if spec.get("doInitialCopy") is False:
            pair.st = {"P": "PAIR", "S": "PAIR"}
        else:
            pair.pending = set(pvol.volume.blocks) | set(svol.volume.blocks)
        self.update_access(pair)
        self._start_next(pair, force=True)
        return pair

    def _group_for(self, spec: dict[str, t.Any], remote: Vsp) -> RemoteGroup | None:
        me, name = self.array, spec["copyGroupName"]
        if remote.storage_device_id not in self.registered:
            raise remote_error(f"The remote storage system ({remote.storage_device_id}) is not registered.",
                               "unregistered")
        why = me.fabric.reachable(me.name, remote.name)
        if why is not None:
            raise remote_error(f"The remote storage system cannot be reached: {why}.", "unreachable")
        key = (remote.storage_device_id, int(spec.get("pathGroupId") or 0))
        back = (me.storage_device_id, key[1])
        if key not in self.path_groups or (spec["replicationType"] == "GAD" and back not in remote.rc.path_groups):
            raise remote_error(f"No remote path group {key[1]} connects {me.storage_device_id} and "
                               f"{remote.storage_device_id}.", "path_group")
        group = self.groups.get(name)
        if spec["isNewGroupCreation"]:
            if group is not None or name in remote.rc.groups:
                raise remote_error(f"The copy group ({name}) already exists. Specify false for isNewGroupCreation "
                                   "to add a pair to it.", "group_exists")
            return None
        if group is None:
            raise remote_error(f"The copy group ({name}) does not exist. Specify true for isNewGroupCreation to "
                               "create it.", "group_missing")
        if group.other(me) is not remote or group.rtype != spec["replicationType"]:
            raise remote_error(f"The copy group ({name}) holds {group.rtype} pairs with "
                               f"{group.other(me).storage_device_id}.", "group_type")
        if spec["localDeviceGroupName"] != group.dgs[me.name] or \
                spec["remoteDeviceGroupName"] != group.dgs[remote.name]:
            raise remote_error(f"The device groups do not match those of the copy group ({name}).", "group_missing")
        if spec["copyPairName"] in group.pairs:
            raise remote_error(f"The specified pair name ({spec['copyPairName']}) (copyPairName) is already being "
                               "used by the chosen copy group.", "duplicate_name")
        return group

    def _volumes(self, spec: dict[str, t.Any], remote: Vsp) -> tuple[Ldev, Ldev]:
        pvol = self.array.ldevs.get(int(spec["pvolLdevId"]))
        svol = remote.ldevs.get(int(spec["svolLdevId"]))
        for ldev, role, ldev_id in ((pvol, "P-VOL", spec["pvolLdevId"]), (svol, "S-VOL", spec["svolLdevId"])):
            if ldev is None:
                raise remote_error(f"The {role} (LDEV {ldev_id}) is not defined.", "ldev_undefined")
        assert pvol is not None and svol is not None
        for ldev, rc in ((pvol, self), (svol, remote.rc)):
            if rc.in_use(ldev.ldev_id) or rc.array.si.pairs_of(ldev.ldev_id) and ldev is svol:
                raise remote_error(f"Another copy pair might already be using the specified LDEV ({ldev.ldev_id}).",
                                   "ldev_in_use")
        if pvol.block_capacity != svol.block_capacity:
            raise remote_error(f"The capacity of the S-VOL (LDEV {svol.ldev_id}: {svol.block_capacity} blocks) "
                               f"differs from that of the P-VOL (LDEV {pvol.ldev_id}: {pvol.block_capacity} blocks).",
                               "size_mismatch")
        return pvol, svol

    def _journals_for(self, spec: dict[str, t.Any], group: RemoteGroup | None,
                      remote: Vsp) -> tuple[int | None, int | None]:
        if spec["replicationType"] != "UR":
            return None, None
        if group is not None and group.pairs:
            first = next(iter(group.pairs.values()))
            return first.journals[first.role_of(self.array)], first.journals[first.role_of(remote)]
        pj, sj = spec.get("pvolJournalId"), spec.get("svolJournalId")
        for rc, jid, role in ((self, pj, "P-VOL"), (remote.rc, sj, "S-VOL")):
            if jid is None or int(jid) not in rc.journals:
                raise remote_error(f"The journal ({jid}) of the {role} does not exist on "
                                   f"{rc.array.storage_device_id}.", "journal")
        return pj, sj

    # actions ------------------------------------------------------------------------------------
    def check(self, pair: RemotePair, op: str, params: dict[str, t.Any]) -> bool:
        """True when ``op`` changes the pair, False when it is already there; 412 when the status refuses it."""
        p_st, s_st = pair.st["P"], pair.st["S"]
        what = pair.pair_id(self.array)
        if op == "split":
            if params.get("svolOperationMode") == "SSWS":
                if s_st == "SSWS":
                    return False
                if p_st in MIRRORING or (pair.rtype != "GAD" and p_st in SUSPENDED):
                    return True
            else:
                if p_st in SUSPENDED:
                    return False
                if p_st in MIRRORING:
                    return True
        elif op == "resync":
            if params.get("doSwapSvol"):
                if s_st != "SSWS":
                    raise state_error(what, "swap resync", f"{p_st}/{s_st} (the S-VOL must be SSWS)")
                if pair.rtype == "GAD" and p_st != "PSUS":
                    raise state_error(what, "swap resync", f"{p_st}/{s_st} (GAD needs the P-VOL PSUS, S-VOL SSWS)")
                return True
            if p_st in ("COPY",) + MIRRORING:
                return False
            if s_st == "SSWS" and pair.rtype == "GAD":
                raise state_error(what, op, f"{p_st}/SSWS (the P-VOL is Block: specify doSwapSvol)")
            if p_st in SUSPENDED:
                return True
        elif op == "takeover":
            if pair.role_of(self.array) != "S":
                raise state_error(what, op, f"{p_st} (takeover is run on the storage system of the S-VOL)")
            if s_st == "SSWS":
                return False
            if p_st != "COPY":
                return True
        raise state_error(what, op, f"{p_st}/{s_st}")

    def apply(self, pair: RemotePair, op: str, params: dict[str, t.Any]) -> PairView | None:
        """Run ``op`` on ``pair`` (checked); the side and status a waiting job waits for, None when nothing changed."""
        if not self.check(pair, op, params):
            return None
        pair.last_operation = op
        if "copyPace" in params:
            pair.pace = int(params["copyPace"])
        if op == "takeover":
            return self._takeover(pair, params.get("mode", "auto"))
        if op == "resync":
            self._need_link(pair)
            if params.get("doSwapSvol"):
                pair.last_operation = "swap-resync"
                self._swap(pair)
            self._resync(pair)
            return PairView(pair, "P")
        swap = params.get("svolOperationMode") == "SSWS"
        pair.last_operation = "swap-split" if swap else "split"
        if pair.rtype == "UR" and pair.queued() and not params.get("doDataSuspend") and pair.st["P"] in MIRRORING \
                and pair.roles["P"].fabric.reachable(pair.roles["P"].name, pair.roles["S"].name) is None:
            pair.after_drain = (pair.last_operation, params)
            return PairView(pair, "S" if swap else "P")
        self._split(pair, params, swap)
        return PairView(pair, "S" if swap else "P")

    def _need_link(self, pair: RemotePair) -> None:
        why = self.array.fabric.reachable(pair.roles["P"].name, pair.roles["S"].name)
        if why is not None:
            raise remote_error(f"The pair ({pair.label()}) cannot be resynchronized: {why}.", "unreachable")

    def _split(self, pair: RemotePair, params: dict[str, t.Any], swap: bool) -> None:
        self._stop(pair)
        pair.after_drain = None
        if swap:
            pair.st = {"P": pair.st["P"] if pair.st["P"] in ("PSUE", "PFUS") else "PSUS", "S": "SSWS"}
        else:
            pair.st = {"P": "PSUS", "S": "SSUS"}
            pair.split_mode = {"svol_rw": params.get("svolAccessMode") == "rw",
                               "pvol_protect": bool(params.get("doPvolWriteProtect"))}
        self.settled(pair)

    def _takeover(self, pair: RemotePair, mode: str) -> PairView:
        primary, secondary = pair.roles["P"], pair.roles["S"]
        why = secondary.fabric.reachable(primary.name, secondary.name)
        if mode == "auto" and why is None and pair.st["P"] in MIRRORING:
            pair.last_operation = "swap-takeover"
            if pair.queued():
                pair.after_drain = ("swap-takeover", {})
            else:
                self._swap_in_sync(pair)
            return PairView(pair, "P")
        if pair.rtype == "UR":
            left = set(pair.journal) | (set(pair.transfer.changed) if pair.transfer is not None and
                                        pair.kind == "journal" else set())
            pair.lost_blocks += len(left)
        self._stop(pair)
        pair.after_drain = None
        pair.st = {"P": "PSUS" if why is None else "PSUE", "S": "SSWS"}
        pair.last_operation = f"takeover-{mode}"
        if why is not None:
            pair.last_error = f"taken over while the P-VOL was unreachable: {why}"
        self.settled(pair)
        return PairView(pair, "S")

    def _swap(self, pair: RemotePair) -> None:
        self._stop(pair)
        for attr in ("roles", "vols", "journals", "st", "dirty"):
            value = getattr(pair, attr)
            value["P"], value["S"] = value["S"], value["P"]
        pair.split_mode = {"svol_rw": False, "pvol_protect": False}

    def _swap_in_sync(self, pair: RemotePair) -> None:
        """Swap takeover once the journal is copied: the S-VOL is the P-VOL, both PAIR."""
        self._swap(pair)
        pair.after_drain = None
        pair.st = {"P": "PAIR", "S": "PAIR"}
        self.settled(pair)

    def _resync(self, pair: RemotePair) -> None:
        if pair.needs_full:
            blocks = set(pair.vols["P"].volume.blocks) | set(pair.vols["S"].volume.blocks)
        else:
            blocks = pair.dirty["P"] | pair.dirty["S"]
        pair.dirty = {"P": set(), "S": set()}
        pair.needs_full = False
        pair.pending |= blocks
        pair.st = {"P": "COPY", "S": "COPY"}
        pair.op_total = pair.op_done = 0
        pair.last_error = ""
        self.update_access(pair)
        self._start_next(pair, force=True)

    def delete(self, pair: RemotePair) -> None:
        self._stop(pair)
        pair.deleted = True
        pair.st = {"P": "SMPL", "S": "SMPL"}
        group = pair.group
        group.pairs.pop(pair.name, None)
        if not group.pairs:
            for array in group.arrays.values():
                array.rc.groups.pop(group.name, None)
        for role, ldev in pair.vols.items():
            ldev.volume.host_access = pair.roles[role].si.access_of(ldev.ldev_id)
        self.wake(pair)

    # host writes ----------------------------------------------------------------------------------
    def on_host_write(self, ldev_id: int, indices: list[int]) -> None:
        for pair in self.pairs_of(ldev_id):
            role = pair.role_of(self.array)
            other = "S" if role == "P" else "P"
            if role == "P" and pair.st["P"] == "COPY":
                pair.pending.update(indices)
                if pair.transfer is None:
                    self._start_next(pair)
            elif pair.st["P"] in MIRRORING and pair.after_drain is None and \
                    (role == "P" or (pair.rtype == "GAD" and pair.st["S"] == "PAIR")):
                self._mirror(pair, role, other, indices)
            else:
                pair.dirty[role].update(indices)

    def _mirror(self, pair: RemotePair, role: str, other: str, indices: list[int]) -> None:
        """A write while mirroring: TC/GAD into the other volume before the write returns, UR into the journal."""
        why = self.array.fabric.reachable(pair.roles["P"].name, pair.roles["S"].name)
        if why is not None:
            self.suspend(pair, why)
            pair.dirty[role].update(indices)
            return
        written = image(pair.vols[role], indices)
        if pair.rtype != "UR":
            self._land(pair, other, written)
            return
        pair.journal.update(written)
        if pair.journal_since is None:
            pair.journal_since = self.array.clock.now()
        journal = self.journals.get(pair.journals["P"]) if pair.journals["P"] is not None else None
        if journal is not None:
            journal.marker += len(written)
        self._journal_level(pair)
        if pair.transfer is None:
            self._start_next(pair)

    @staticmethod
    def _land(pair: RemotePair, role: str, changed: dict[int, str]) -> None:
        """Copied blocks reach ``role``'s volume; a ShadowImage pair on it sees them as it sees host writes."""
        land(pair.vols[role], changed)
        if changed:
            pair.roles[role].si.on_host_write(pair.vols[role].ldev_id, sorted(changed))

    # journal fill ---------------------------------------------------------------------------------
    def _journal_level(self, pair: RemotePair) -> None:
        """PFUL from 80 % of the master journal, back to PAIR below; note when the journal is full."""
        master = pair.roles["P"].rc.journals.get(pair.journals["P"]) if pair.journals["P"] is not None else None
        if master is None or not master.capacity or pair.st["P"] not in MIRRORING:
            return
        used = sum(p.journal_bytes() for p in pair.roles["P"].rc.pairs()
                   if p.roles["P"] is pair.roles["P"] and p.journals["P"] == master.journal_id)
        rate = 100 * used / master.capacity
        status = "PFUL" if rate >= PFUL_RATE else "PAIR"
        if status != pair.st["P"]:
            pair.st = {"P": status, "S": status}
        if rate >= 100:
            pair.full_since = pair.full_since or self.array.clock.now()
            if self.array.clock.now() - pair.full_since >= master.overflow_watch:
                self._journal_full(pair)
        else:
            pair.full_since = None

    def _journal_full(self, pair: RemotePair) -> None:
        self._stop(pair)
        pair.after_drain = None
        pair.st = {"P": "PFUS", "S": "SSUS"}
        pair.last_error = "the master journal was full longer than dataOverflowWatchInSeconds"
        self.settled(pair)

    # copy rounds ----------------------------------------------------------------------------------
    def _start_next(self, pair: RemotePair, force: bool = False) -> None:
        """Start the pair's next copy or journal round, or settle it when nothing is left."""
        if pair.transfer is not None or pair.deleted:
            return
        primary, secondary = pair.roles["P"], pair.roles["S"]
        copying = pair.st["P"] == "COPY"
        if (copying and (pair.pending or force)) or (not copying and pair.journal):
            why = primary.fabric.reachable(primary.name, secondary.name)
            if why is not None:
                self.suspend(pair, why)
                return
        if copying and (pair.pending or force):
            changed, pair.pending, pair.kind = image(pair.vols["P"], pair.pending), set(), "copy"
            rate = primary.pace_rate * pair.pace if primary.pace_rate else None
        elif pair.journal and pair.st["P"] in MIRRORING:
            changed, pair.journal, pair.kind = pair.journal, {}, "journal"
            pair.in_flight_since, pair.journal_since = pair.journal_since, None
            rate = None
        else:
            self._drained(pair)
            return
        pair.transfer = primary.fabric.start_transfer(
            f"{pair.rtype.lower()}:{pair.kind}", primary.name, str(pair.vols["P"].ldev_id), pair.vols["S"].volume,
            changed, None, rate_cap=rate, on_done=lambda tr: self._round_done(pair, tr),
            on_fail=lambda tr: self._round_failed(pair, tr))
        if pair.kind == "copy":
            pair.op_total += pair.transfer.bytes_total

    def _round_done(self, pair: RemotePair, transfer: Transfer) -> None:
        if transfer is not pair.transfer:
            return
        pair.transfer = None
        self._land(pair, "S", transfer.changed)
        if pair.kind == "journal":
            pair.in_flight_since = None
            restore = pair.roles["S"].rc.journals.get(pair.journals["S"]) if pair.journals["S"] is not None else None
            if restore is not None:
                restore.marker += len(transfer.changed)
            self._journal_level(pair)
        else:
            pair.op_done += transfer.bytes_total
        self._start_next(pair)

    def _round_failed(self, pair: RemotePair, transfer: Transfer) -> None:
        if transfer is not pair.transfer:
            return
        pair.transfer = None
        pair.dirty["P"].update(transfer.changed)
        self.suspend(pair, f"the copy failed: {transfer.error or transfer.state}")

    def _drained(self, pair: RemotePair) -> None:
        """Nothing left to copy: an initial copy or resync is PAIR now; a waiting split or takeover goes on."""
        if pair.after_drain is not None:
            operation, params = pair.after_drain
            if operation == "swap-takeover":
                self._swap_in_sync(pair)
            else:
                self._split(pair, params, operation == "swap-split")
            return
        if pair.st["P"] == "COPY":
            pair.st = {"P": "PAIR", "S": "PAIR"}
            pair.op_total = pair.op_done = 0
            self._journal_level(pair)
            self.settled(pair)

    def _stop(self, pair: RemotePair) -> None:
        """End the pair's copying: a round on the link, the journal and the copy still due become differential."""
        transfer, pair.transfer = pair.transfer, None
        if transfer is not None:
            pair.dirty["P"].update(transfer.changed)
            pair.roles["P"].fabric.abort(transfer, "pair operation cancelled the copy")
        pair.dirty["P"].update(pair.journal)
        pair.dirty["P"].update(pair.pending)
        pair.journal, pair.pending = {}, set()
        pair.journal_since = pair.in_flight_since = pair.full_since = None

    def suspend(self, pair: RemotePair, reason: str) -> None:
        """PSUE on both sides (a cut link, a down array, a failed copy)."""
        self._stop(pair)
        pair.after_drain = None
        pair.st = {"P": "PSUE", "S": "PSUE"}
        pair.last_error = reason
        self.settled(pair)

    def settled(self, pair: RemotePair) -> None:
        self.update_access(pair)
        self.wake(pair)

    @staticmethod
    def wake(pair: RemotePair) -> None:
        for array in pair.group.arrays.values():
            array.check_jobs()

    def tick(self, now: float) -> None:
        """Suspend the pairs whose link or partner is gone; note full journals; go on with idle copies."""
        for pair in self.pairs():
            if pair.roles["P"] is not self.array:
                continue
            if pair.st["P"] in ("COPY",) + MIRRORING:
                why = self.array.fabric.reachable(pair.roles["P"].name, pair.roles["S"].name)
                if why is not None:
                    self.suspend(pair, why)
                    continue
            if pair.rtype == "UR" and pair.full_since is not None:
                self._journal_level(pair)
            if pair.transfer is None and (pair.pending or pair.journal or pair.after_drain):
                self._start_next(pair)
        del now

    # host access ------------------------------------------------------------------------------------
    @staticmethod
    def role_access(pair: RemotePair, role: str) -> str:
        """Host access of one side: GAD by I/O mode, TC/UR S-VOLs writable in SSWS (or SSUS with ``rw``)."""
        status = pair.st[role]
        if pair.rtype == "GAD":
            return "none" if pair.io_mode(role) == "Block" else "rw"
        if role == "P":
            protect = (status == "PSUE" and pair.fence in ("DATA", "STATUS")) or \
                (status == "PSUS" and pair.split_mode["pvol_protect"] and pair.st["S"] == "SSUS")
            return "ro" if protect else "rw"
        return "rw" if status == "SSWS" or (status == "SSUS" and pair.split_mode["svol_rw"]) else "ro"

    @staticmethod
    def update_access(pair: RemotePair) -> None:
        """Host access per side, never looser than a ShadowImage pair on the same LDEV allows."""
        for role in ("P", "S"):
            ldev = pair.vols[role]
            ldev.volume.host_access = strictest(RemoteCopy.role_access(pair, role),
                                                pair.roles[role].si.access_of(ldev.ldev_id))
