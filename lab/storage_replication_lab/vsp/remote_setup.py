"""What remote copy needs before a pair exists: registered remote storage systems, remote path groups,
journals and quorum disks of one VSP array (the base of ``remote.RemoteCopy``).

Topology (per VSP array, all optional)::

    remote:
      storages: [vsp-b]                          # registered remote storage systems (remote-storages)
      path_groups: [{remote: vsp-b, id: 0}]      # remotepath-groups to an array (ports CL1-A -> CL1-B)
      journals: [{id: 0, ldevs: [1024], overflow_watch: 60}]
      quorum_disks: [{id: 0, remote: vsp-b, ldev: -1}]

A registration, path group or quorum disk names the other array of the lab; a
journal names LDEVs of this array (no pair may use them). Lab decisions: a path
group's paths are "NML" while the fabric link between the arrays is up and "ERR"
while it is cut or the remote array is down; registering with
``isMutualDiscovery: true`` (the default, [C]) registers this array on the remote
one too, ``isMutualDeletion`` likewise on delete; a journal, path group or quorum
disk in use by a pair cannot be deleted (``KART30000-E``, SSB 2E10/9B03, 9B02, 9B04).
"""

from __future__ import annotations

import typing as t

from .model import VspError, storage_error
from .remote_model import E_JOURNAL_USED, E_NO_JOURNAL_ID, Journal, PathGroup, QuorumDisk, remote_error

if t.TYPE_CHECKING:  # pragma: no cover
    from . import Vsp
    from .remote_model import RemotePair

MAX_JOURNAL_ID = 255


class RemoteSetup:
    """Registrations, path groups, journals and quorum disks of one array."""

    def __init__(self, array: Vsp) -> None:
        self.array = array
        self.registered: dict[str, dict[str, t.Any]] = {}      # storageDeviceId -> restServerIp / Port
        self.path_groups: dict[tuple[str, int], PathGroup] = {}
        self.journals: dict[int, Journal] = {}
        self.quorums: dict[int, QuorumDisk] = {}

    def pairs(self) -> list[RemotePair]:  # pragma: no cover - RemoteCopy has them
        raise NotImplementedError

    # lab topology ---------------------------------------------------------------------------------
    def load(self, spec: dict[str, t.Any]) -> None:
        """The journals of the topology (LDEVs of this array, defined before)."""
        for item in spec.get("journals") or []:
            self.add_journal(int(item["id"]), [int(i) for i in item.get("ldevs") or []])
            self.journals[int(item["id"])].overflow_watch = int(item.get("overflow_watch", 60))

    def post_init(self, spec: dict[str, t.Any]) -> None:
        """Registrations, path groups and quorum disks of the topology (they name other arrays)."""
        for name in spec.get("storages") or []:
            self.register(self.named(name), mutual=False)
        for item in spec.get("path_groups") or []:
            self.add_path_group(self.named(item["remote"]), int(item.get("id", 0)),
                                [{"localPortId": item.get("local_port", "CL1-A"),
                                  "remotePortId": item.get("remote_port", "CL1-B")}])
        for item in spec.get("quorum_disks") or []:
            self.add_quorum(int(item["id"]), self.named(item["remote"]), int(item.get("ldev", -1)))

    def named(self, name: str) -> Vsp:
        array = self.array.lab.arrays.get(name)
        if array is None or getattr(array, "vendor", "") != "vsp" or array is self.array:
            raise ValueError(f"{self.array.name}: remote array {name!r} is not another VSP array of the lab")
        return t.cast("Vsp", array)

    def peer(self, sid: str) -> Vsp | None:
        """The other VSP array of the lab with storageDeviceId ``sid``."""
        for array in self.array.lab.arrays.values():
            if getattr(array, "vendor", "") == "vsp" and array is not self.array and \
                    getattr(array, "storage_device_id", "") == sid:
                return t.cast("Vsp", array)
        return None

    def peer_by_serial(self, serial: str) -> Vsp | None:
        for array in self.array.lab.arrays.values():
            if getattr(array, "vendor", "") == "vsp" and array is not self.array and str(array.serial) == str(serial):
                return t.cast("Vsp", array)
        return None

    # remote storages ------------------------------------------------------------------------------
    def register(self, remote: Vsp, ip: str = "127.0.0.1", port: int | None = None, mutual: bool = True) -> None:
        self.registered[remote.storage_device_id] = {"restServerIp": ip, "restServerPort": port or remote.port}
        if mutual:
            remote.rc.registered.setdefault(self.array.storage_device_id,
                                            {"restServerIp": "127.0.0.1", "restServerPort": self.array.port})

    def unregister(self, remote: Vsp, mutual: bool = True) -> None:
        for array, other in ((self.array, remote), (remote, self.array)) if mutual else ((self.array, remote),):
            if any(other in p.roles.values() for p in array.rc.pairs()):
                raise remote_error(f"The remote storage system ({other.storage_device_id}) is used by remote copy "
                                   "pairs.", "unregistered")
        self.registered.pop(remote.storage_device_id, None)
        if mutual:
            remote.rc.registered.pop(self.array.storage_device_id, None)

    def storage_record(self, sid: str) -> dict[str, t.Any]:
        """A ``remote-storages`` entry: this array (``dkcType`` Local) or a registered one (Remote)."""
        if sid == self.array.storage_device_id:
            array, where = self.array, {"restServerIp": "127.0.0.1", "restServerPort": self.array.port}
            kind = "Local"
        else:
            array, where, kind = t.cast("Vsp", self.peer(sid)), self.registered[sid], "Remote"
        return {"storageDeviceId": array.storage_device_id, "dkcType": kind, **where, "model": array.model,
                "serialNumber": array.serial, "ctl1Ip": "127.0.0.1", "ctl2Ip": "127.0.0.1",
                "communicationModes": [{"communicationMode": "lanConnectionMode"}]}

    # path groups ----------------------------------------------------------------------------------
    def add_path_group(self, remote: Vsp, path_group_id: int, paths: list[dict[str, str]],
                       min_paths: int = 1) -> PathGroup:
        key = (remote.storage_device_id, path_group_id)
        group = self.path_groups.get(key)
        if group is None:
            group = self.path_groups[key] = PathGroup(remote, path_group_id, [], min_paths)
        for path in paths:
            if path not in group.paths:
                group.paths.append(path)
        return group

    def path_group(self, object_id: str) -> PathGroup | None:
        return next((g for g in self.path_groups.values() if g.object_id() == object_id), None)

    def delete_path_group(self, group: PathGroup) -> None:
        if any(p.path_group == group.path_group_id and group.remote in p.roles.values() for p in self.pairs()):
            raise remote_error(f"The remote path group ({group.object_id()}) is used by remote copy pairs.",
                               "path_group")
        self.path_groups.pop((group.remote.storage_device_id, group.path_group_id), None)

    def path_ok(self, group: PathGroup) -> bool:
        return self.array.fabric.reachable(self.array.name, group.remote.name) is None

    # journals -------------------------------------------------------------------------------------
    def add_journal(self, journal_id: int | None, ldev_ids: list[int]) -> Journal:
        if journal_id is None:
            journal_id = next((i for i in range(MAX_JOURNAL_ID + 1) if i not in self.journals), -1)
            if journal_id < 0:
                raise VspError(500, E_NO_JOURNAL_ID, "No journal ID is available.", "Every journal ID is in use.",
                               "Delete a journal that is no longer needed, and then try again.")
        if journal_id in self.journals:
            raise VspError(500, E_JOURNAL_USED, f"The specified journal ID ({journal_id}) is already used.",
                           "A journal with this ID exists.", "Specify another journal ID.")
        if not ldev_ids:
            raise remote_error("A journal needs at least one LDEV (ldevIds).", "journal")
        ldevs = []
        for ldev_id in ldev_ids:
            ldev = self.array.ldevs.get(ldev_id)
            if ldev is None:
                raise storage_error(f"The LDEV ({ldev_id}) is not defined.", "ldev_undefined")
            if self.array.si.pairs_of(ldev_id) or any(ldev_id in [j.ldev_id for j in jr.ldevs]
                                                      for jr in self.journals.values()) or \
                    any(p.vols[p.role_of(self.array)].ldev_id == ldev_id for p in self.pairs()):
                raise storage_error(f"The LDEV ({ldev_id}) is in use and cannot be a journal volume.", "ldev_in_use")
            ldevs.append(ldev)
        journal = self.journals[journal_id] = Journal(journal_id, ldevs)
        return journal

    def journal_pairs(self, journal: Journal) -> tuple[list[RemotePair], bool]:
        """The UR pairs using ``journal`` and whether it is their master journal (P-VOL side)."""
        master = [p for p in self.pairs() if p.roles["P"] is self.array and p.journals["P"] == journal.journal_id]
        restore = [p for p in self.pairs() if p.roles["S"] is self.array and p.journals["S"] == journal.journal_id]
        return (master, True) if master or not restore else (restore, False)

    def journal_record(self, journal: Journal) -> dict[str, t.Any]:
        pairs, master = self.journal_pairs(journal)
        used = sum(p.journal_bytes() for p in pairs) if master else 0
        return journal.render(pairs, master, used)

    def delete_journal(self, journal: Journal) -> None:
        if self.journal_pairs(journal)[0]:
            raise remote_error(f"The journal ({journal.journal_id}) is used by Universal Replicator pairs.", "journal")
        self.journals.pop(journal.journal_id, None)

    # quorum disks ---------------------------------------------------------------------------------
    def add_quorum(self, quorum_id: int, remote: Vsp, ldev_id: int = -1) -> QuorumDisk:
        if quorum_id in self.quorums:
            raise remote_error(f"The quorum disk ID ({quorum_id}) is already used.", "quorum")
        disk = self.quorums[quorum_id] = QuorumDisk(quorum_id, remote, ldev_id)
        return disk

    def delete_quorum(self, disk: QuorumDisk) -> None:
        if any(p.quorum == disk.quorum_id for p in self.pairs()):
            raise remote_error(f"The quorum disk ({disk.quorum_id}) is used by global-active device pairs.", "quorum")
        self.quorums.pop(disk.quorum_id, None)

    def _check_quorum(self, quorum_id: int, remote: Vsp) -> None:
        for rc, other in ((self, remote), (remote.rc, self.array)):
            disk = rc.quorums.get(quorum_id)
            if disk is None or disk.remote is not other:
                raise remote_error(f"The quorum disk ({quorum_id}) for {other.storage_device_id} is not set up on "
                                   f"{rc.array.storage_device_id}.", "quorum")
