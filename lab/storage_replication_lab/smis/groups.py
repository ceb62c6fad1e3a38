"""Replication groups (CIM Replication Services profile), the same in both SMI-S profiles.

``CreateGroup`` and ``DeleteGroup`` on the ReplicationService, ``ModifyInstance`` of a group (through
``Provider``), and what the provider renders of them: the group (``<prefix>ReplicationGroup``, key
InstanceID ``<array>:RG:<n>``, never reused), ``<prefix>HostedCollection`` (system -> group) and
``<prefix>OrderedMemberOfCollection`` (group -> member volume, AssignedSequence from 1).

Group names (ElementName) are unique per system, compared exactly (case matters). The name check and the
insertion happen in one synchronous handler: every array of the lab runs on one asyncio loop and nothing
here awaits, so no other request runs in between and of concurrent CreateGroup calls with one name
exactly one returns 0 (a group name works as a claim). The lab has no group synchronizations: the flags
are kept and shown, and only DeleteOnEmptyElement acts (when the last member volume is deleted).
"""

from __future__ import annotations

import itertools
import typing as t

from .cimxml import CIM_ERR_FAILED, CIM_ERR_NOT_FOUND, CIMFault
from .model import RC_FAILED, RC_INVALID, RC_OK, Assoc, Group, Service, SVolume

if t.TYPE_CHECKING:  # pragma: no cover
    from . import SmisArray

Out = dict[str, t.Any]
Result = tuple[int, Out]
FLAGS = ("Persistent", "DeleteOnEmptyElement", "DeleteOnUnassociated")
#: the flags of a group whose CreateGroup left them NULL
DEFAULT_FLAGS = {"Persistent": True, "DeleteOnEmptyElement": False, "DeleteOnUnassociated": False}
#: what ModifyInstance may change: property (lower case) -> attribute of the Group
WRITABLE = {"description": "description", "persistent": "persistent",
            "deleteonemptyelement": "delete_on_empty", "deleteonunassociated": "delete_on_unassociated"}
WRITABLE_NAMES = "Description, Persistent, DeleteOnEmptyElement, DeleteOnUnassociated"


class Groups:
    """The replication groups of one array, in creation order."""

    def __init__(self, array: SmisArray) -> None:
        self.array = array
        self.groups: list[Group] = []
        self._seq = itertools.count(1)

    # lookups ------------------------------------------------------------------------------------
    def named(self, name: str) -> Group | None:
        """The group whose ElementName is ``name`` (exactly), if any."""
        return next((g for g in self.groups if g.name == name), None)

    def alive(self, group: Group) -> bool:
        return any(g is group for g in self.groups)

    def group_or_fault(self, path: t.Any) -> Group:
        """The group a client's path names; CIM_ERR_NOT_FOUND for anything else (a deleted group too)."""
        obj = self.array.provider.resolve(path)
        if not isinstance(obj, Group):
            raise CIMFault(CIM_ERR_NOT_FOUND, f"no replication group {path} (deleted already?)")
        return obj

    def _members(self, paths: list[t.Any] | None) -> list[SVolume] | None:
        """The volumes ``Members`` names, in order and once each; None if one names no volume of the system."""
        members: list[SVolume] = []
        for path in paths or []:
            vol = None if path is None else self.array.engine.volume(path)
            if vol is None:
                return None
            if all(vol is not m for m in members):
                members.append(vol)
        return members

    # methods --------------------------------------------------------------------------------------
    def create_group(self, _service: Service, params: Out) -> Result:
        """CreateGroup: rc 0 + ReplicationGroup; 5 for a missing or blank GroupName or a member that is no
        volume of this system; 4 when a group of that name exists (nothing is created)."""
        name = params.get("GroupName")
        if name is None or not name.strip():
            return RC_INVALID, {}
        members = self._members(params.get("Members"))
        if members is None:
            return RC_INVALID, {}
        if self.named(name) is not None:
            return RC_FAILED, {}
        flags = {flag: DEFAULT_FLAGS[flag] if params.get(flag) is None else bool(params[flag]) for flag in FLAGS}
        group = Group(f"{self.array.name}:RG:{next(self._seq)}", name, members, flags, self.array.clock.now())
        self.groups.append(group)
        return RC_OK, {"ReplicationGroup": group}

    def delete_group(self, _service: Service, params: Out) -> Result:
        """DeleteGroup: rc 0; 4 for a group with members unless RemoveElements is true (the lab's choice;
        member volumes are never deleted); CIM_ERR_NOT_FOUND for a group that does not exist."""
        group = self.group_or_fault(params["ReplicationGroup"])
        if group.members and not params.get("RemoveElements"):
            return RC_FAILED, {}
        self.groups.remove(group)
        return RC_OK, {}

    def modify(self, group: Group, current: dict[str, t.Any], given: dict[str, t.Any],
               designated: dict[str, str]) -> None:
        """ModifyInstance of ``group``: each ``designated`` property (lower case -> declared name) takes its
        value in ``given`` (NULL when the instance lacks it). Description and the flags change; any other
        property must keep its ``current`` value, else CIM_ERR_FAILED naming it, and nothing changes."""
        changes: dict[str, t.Any] = {}
        for key, name in sorted(designated.items()):
            value = given.get(key)
            attr = WRITABLE.get(key)
            if attr is not None:
                changes[attr] = value
            elif value != current.get(key):
                raise CIMFault(CIM_ERR_FAILED, self._refusal(name))
        for attr, value in changes.items():
            setattr(group, attr, value)

    @staticmethod
    def _refusal(name: str) -> str:
        if name.lower() == "elementname":
            return ("ElementName of a replication group cannot be changed with ModifyInstance: it is the group's "
                    "name (DeleteGroup and CreateGroup instead)")
        if name.lower() == "instanceid":
            return "InstanceID of a replication group cannot be changed with ModifyInstance: it is the key"
        return f"{name} of a replication group cannot be changed with ModifyInstance (writable: {WRITABLE_NAMES})"

    # the model changes under the groups --------------------------------------------------------------
    def forget_volume(self, vol: SVolume) -> None:
        """A volume was deleted: it leaves its groups; one left empty goes if DeleteOnEmptyElement says so."""
        for group in list(self.groups):
            if any(m is vol for m in group.members):
                group.members = [m for m in group.members if m is not vol]
                if not group.members and group.delete_on_empty:
                    self.groups.remove(group)

    # rendering ------------------------------------------------------------------------------------------
    @staticmethod
    def properties(group: Group) -> dict[str, t.Any]:
        return {"ElementName": group.name, "Description": group.description, "Persistent": group.persistent,
                "DeleteOnEmptyElement": group.delete_on_empty,
                "DeleteOnUnassociated": group.delete_on_unassociated}

    def associations(self) -> list[Assoc]:
        """HostedCollection (system -> group) and OrderedMemberOfCollection (group -> volume) instances."""
        system = self.array.system
        out: list[Assoc] = []
        for group in self.groups:
            out.append(Assoc("HostedCollection", {"Antecedent": system, "Dependent": group}))
            for place, vol in enumerate(group.members, 1):
                out.append(Assoc("OrderedMemberOfCollection", {"Collection": group, "Member": vol},
                                 {"AssignedSequence": place}))
        return out

    def describe(self) -> list[dict[str, t.Any]]:
        """The groups for ``GET /_lab/arrays/<array>``."""
        return [{"instance_id": g.instance_id, "name": g.name, "description": g.description,
                 "members": [m.device_id for m in g.members], "persistent": g.persistent,
                 "delete_on_empty_element": g.delete_on_empty, "delete_on_unassociated": g.delete_on_unassociated}
                for g in self.groups]
