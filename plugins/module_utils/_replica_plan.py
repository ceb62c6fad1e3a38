"""SMI-S replicas (snapshots and clones as writable test copies): input, the pure plan, facts, predictions.

``plan()`` is pure: from what the driver observed for one item (``Observed``: the volume that holds the
replica's name, the synchronization into it, the source element, and the provider's answers the plan
needs) it returns the ordered actions: ``["create"]`` (a snapshot), ``["create", "wait_copied"]`` (a
clone), ``["return_to_pool"]`` (a snapshot removed: ModifyReplicaSynchronization 19, the provider
deletes pair and target), ``["detach", "delete_volume"]`` (a clone removed: ModifyReplicaSynchronization 8,
then StorageConfigurationService.ReturnToStoragePool of the target). Identity is declarative: an element of
the replica's name that is not a snapshot or clone of ``source`` is an error naming what it is, never
``ok``, never replaced. Only the replica's own synchronization is ever named in a request.

Removing a replica discards whatever was written to it; no SMI-S provider says how many bytes that is, so
the removing step carries ``overwrites`` with ``at_most`` = the replica's size and the engine's guard refuses
it unless ``allow_data_loss``.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items
from ._smis import REPLICATION_TYPES

ITEM_KEYS = ("source", "name", "sync_type", "state", "allow_data_loss")
RERUN = "The provider carries on; rerun the task: it reads the replica and continues from there"
#: ReplicationTypes (local) of each kind of copy, in the order of preference, with the Mode each is made with.
#: A clone prefers the asynchronous type: HPE 3PAR keeps a type-10 physical copy associated only while it
#: copies, and a replica that loses its synchronization loses its identity.
KIND_TYPES = {"snapshot": ((6, "sync"), (7, "async")), "clone": ((11, "async"), (10, "sync"))}
COPYING_STATES = (2, 3)
BROKEN_STATES = (5, 12, 16, 17)
DIFF_KEYS = ("name", "source", "sync_type", "size_bytes")

Facts = t.Optional[t.Dict[str, t.Any]]


@dataclasses.dataclass
class Observed:
    """What the driver read for one item.

    ``replica`` is the volume that holds the replica's name (None: there is none), ``sync`` the facts of the
    synchronization into it (``_smis.sync_facts``; None: none), ``feeds`` the targets of other
    synchronizations whose source it is, ``source`` the source element (None: not found or not given).
    ``types`` are the provider's SupportedReplicationTypes (None: it does not say), ``can_delete`` whether it
    offers ReturnToStoragePool (None: not asked), ``detached`` whether this run detached the replica already.
    """

    replica: Facts = None
    sync: Facts = None
    feeds: list[str] = dataclasses.field(default_factory=list)
    source: Facts = None
    types: list[int] | None = None
    can_delete: bool | None = None
    detached: bool = False
    created: float | None = None
    where: str = "the SMI-S provider"


# input ------------------------------------------------------------------------------------------
def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request."""
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ReplicationError("name is required: the ElementName of the replica volume")
    if name != name.strip():
        raise ReplicationError(f"name {name!r} has leading or trailing spaces")
    source = item.get("source")
    if item["state"] == "present" and (not isinstance(source, str) or not source.strip()):
        raise ReplicationError(f"{name}: source is required with state present (the DeviceID or ElementName of the "
                               "volume to copy, e.g. the target element of a mirror)")
    if source is not None and source == name:
        raise ReplicationError(f"{name}: source and name are the same: a replica needs a name of its own")
    if item.get("sync_type") not in (None, "auto", "snapshot", "clone"):
        raise ReplicationError(f"{name}: sync_type must be auto, snapshot or clone, not {item.get('sync_type')!r}")
    item["sync_type"] = item.get("sync_type") or "auto"


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``replicas`` list, or the single replica of the top-level options."""
    items = declared_items(params, "replicas", ITEM_KEYS)
    seen: set[str] = set()
    for item in items:
        validate_item(item)
        if item["name"] in seen:
            raise ReplicationError(f"replica {item['name']} is listed twice")
        seen.add(item["name"])
    return items


def resolve_volume(volumes: list[dict[str, t.Any]], value: str, what: str, where: str) -> Facts:
    """The volume a DeviceID or ElementName names; None when none does. Ambiguity is an error."""
    matches = {v["device_id"]: v for v in volumes if v["device_id"] == value or v.get("name") == value}
    if len(matches) > 1:
        listed = ", ".join(f"DeviceID {d} ({v.get('name')})" for d, v in sorted(matches.items()))
        raise ReplicationError(f"{what} {value!r} is ambiguous on {where}: it names {listed}; name the volume by its "
                               "DeviceID")
    return next(iter(matches.values()), None)


# facts ------------------------------------------------------------------------------------------
def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).isoformat()


def replica_facts(volume: Facts, sync: Facts, created: float | None = None, now: float | None = None) -> Facts:
    """The normalized facts of a replica volume and its synchronization; None for no volume."""
    if volume is None:
        return None
    sync = sync or {}
    point, age = sync.get("recovery_point"), sync.get("age_seconds")
    if point is None and created is not None:  # the provider does not say: when it was created
        now = now if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp()
        point, age = iso(created), max(0, int(now - created))
    return {"name": volume.get("name"), "device_id": volume.get("device_id"),
            "source": sync.get("source_device_id"), "source_name": sync.get("source"),
            "sync_type": sync.get("sync_type"), "copy_state": sync.get("copy_state"), "state": sync.get("state"),
            "recovery_point": point, "recovery_point_age_seconds": age, "written_bytes": None,
            "size_bytes": volume.get("size")}


def diff_view(facts: Facts) -> dict[str, t.Any]:
    return {k: facts.get(k) for k in DIFF_KEYS} if facts else {}


def describe(facts: Facts) -> t.Any:
    if not facts:
        return "no replica"
    return {k: facts.get(k) for k in ("device_id", "sync_type", "copy_state", "state")}


# the pure plan ----------------------------------------------------------------------------------
def plan(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    """The ordered actions that take what ``observed`` holds to ``item``; [] when nothing needs doing."""
    if item["state"] == "absent":
        return _plan_absent(item, observed)
    if observed.source is None:
        raise ReplicationError(f"{item['name']}: source {item['source']!r} is not a volume of {observed.where} (no "
                               "ElementName or DeviceID matches); nothing was changed")
    if observed.replica is None:
        kind, rtype, mode = choose_type(item, observed)
        create = Action("create", {"sync_type": kind, "mode": mode, "replication_type": rtype,
                                   "source": observed.source["device_id"]})
        return [create] if kind == "snapshot" else [create, Action("wait_copied")]
    check_identity(item, observed)
    sync = observed.sync or {}
    if sync.get("copy_state_value") in COPYING_STATES or sync.get("transferring"):
        return [Action("wait_copied")]  # a copy that runs already (another run's, or one that timed out)
    if sync.get("copy_state_value") in BROKEN_STATES:
        raise ReplicationError(
            f"{item['name']} is {sync.get('state')} ({sync.get('copy_state')}): its copy of {sync.get('source')} "
            "did not complete. Remove it (state absent) and create it again", replica=_facts(observed))
    return []


def choose_type(item: dict[str, t.Any], observed: Observed) -> tuple[str, int | None, str | None]:
    """The kind of copy to create, its ReplicationType and Mode, from what the provider lists."""
    types = observed.types
    wanted = item.get("sync_type") or "auto"
    kinds = ("snapshot", "clone") if wanted == "auto" else (wanted,)
    for kind in kinds:
        for rtype, mode in KIND_TYPES[kind]:
            if types is not None and rtype in types:
                return kind, rtype, mode
    if types is None:  # the provider does not list its types: a clone, as the interface says, in its default Mode
        return ("clone" if wanted == "auto" else wanted), None, None
    listed = ", ".join(f"{REPLICATION_TYPES.get(x, 'vendor-specific')} ({x})" for x in types) or "none"
    asked = " or ".join(f"{REPLICATION_TYPES[r]} ({r})" for kind in kinds for r, _m in KIND_TYPES[kind])
    raise ReplicationError(f"{item['name']}: {observed.where} does not offer {asked} (SupportedReplicationTypes: "
                           f"{listed}); nothing was changed")


def check_identity(item: dict[str, t.Any], observed: Observed) -> None:
    """Refuse an element of the replica's name that is not the replica the item declares, naming what it is."""
    name, replica, sync = item["name"], observed.replica or {}, observed.sync
    facts = _facts(observed)
    if sync is None:
        raise ReplicationError(
            f"{name} exists (DeviceID {replica.get('device_id')}) and is not a replica of "
            f"{item.get('source') or 'any element'}: no synchronization has it as its target. This module neither "
            "takes it over nor removes it; choose another name", replica=facts)
    actual = f"{sync.get('source')} (DeviceID {sync.get('source_device_id')})"
    if sync.get("sync_type") not in ("snapshot", "clone"):
        raise ReplicationError(
            f"{name} (DeviceID {replica.get('device_id')}) is the target of a {sync.get('sync_type') or 'synchronization'}"
            f" of {actual}, not a snapshot or clone: this module neither takes it over nor removes it; choose "
            "another name", replica=facts)
    source = observed.source
    if item.get("source") and (source is None or source["device_id"] != sync.get("source_device_id")):
        wanted = f"{source.get('name')} (DeviceID {source['device_id']})" if source else repr(item["source"])
        raise ReplicationError(
            f"{name} is a {sync.get('sync_type')} of {actual}, not of {wanted}: remove it (state absent) to copy "
            "another element, or choose another name", replica=facts)
    wanted_kind = item.get("sync_type") or "auto"
    if item["state"] == "present" and wanted_kind not in ("auto", sync.get("sync_type")):
        raise ReplicationError(
            f"{name} is a {sync.get('sync_type')} of {actual}, not a {wanted_kind}: remove it (state absent) to make "
            f"a {wanted_kind}", replica=facts)


def _plan_absent(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    if observed.replica is None:
        return []
    facts = _facts(observed) or {}
    size = observed.replica.get("size")
    if observed.detached and observed.sync is None:  # this run detached the clone: only the delete is left
        return [_delete(item, observed, facts, size)]
    check_identity(item, observed)
    if observed.feeds:
        raise ReplicationError(
            f"{item['name']} is the source of other synchronizations (targets {', '.join(observed.feeds)}): this "
            "module changes no other synchronization; remove them first", replica=facts)
    sync = observed.sync or {}
    origin = f"{sync.get('source')} (DeviceID {sync.get('source_device_id')})"
    if sync.get("sync_type") == "snapshot":
        return [Action("return_to_pool", {"verb": "remove", "operation": 19}, rereads=False,
                       overwrites=f"the snapshot {item['name']} of {origin} since it was made (they exist nowhere "
                                  "else)",
                       at_most=size, bound=BOUND, details={"replica": facts})]
    if observed.can_delete is False:
        raise ReplicationError(
            f"cannot remove clone {item['name']}: {observed.where} offers no way to delete a volume "
            "(CIM_StorageConfigurationService.ReturnToStoragePool), and detaching alone would leave the volume "
            "behind; nothing was changed", replica=facts)
    actions = [Action("wait_copied")] if sync.get("copy_state_value") in COPYING_STATES else []
    actions.append(Action("detach", {"operation": 8}))
    actions.append(_delete(item, observed, facts, size))
    return actions


BOUND = ", the replica's size: the provider does not say how much of it was written"


def _delete(item: dict[str, t.Any], observed: Observed, facts: dict[str, t.Any], size: int | None) -> Action:
    sync = observed.sync or {}
    origin = f" of {sync.get('source')} (DeviceID {sync.get('source_device_id')})" if sync else ""
    return Action("delete_volume", {"verb": "remove", "device_id": (observed.replica or {}).get("device_id")},
                  rereads=False, at_most=size, bound=BOUND, details={"replica": facts},
                  overwrites=f"the clone {item['name']}{origin} since it was made (they exist nowhere else)")


def _facts(observed: Observed) -> Facts:
    return replica_facts(observed.replica, observed.sync, observed.created)


# check mode -------------------------------------------------------------------------------------
def predict(item: dict[str, t.Any], observed: Observed, actions: list[Action], now: float) -> Facts:
    """The facts a check-mode run expects after ``actions``."""
    if item["state"] == "absent":
        return None if actions else _facts(observed)
    create = next((a for a in actions if a == "create"), None)
    if create is None:
        after = dict(_facts(observed) or {})
        if "wait_copied" in actions:
            after.update(copy_state="Synchronized", state="synchronized")
        return after or None
    source = observed.source or {}
    copied = "wait_copied" in actions  # a clone is waited for until Synchronized; a snapshot's state is the provider's
    return {"name": item["name"], "device_id": None, "source": source.get("device_id"),
            "source_name": source.get("name"), "sync_type": create.args["sync_type"],
            "copy_state": "Synchronized" if copied else None, "state": "synchronized" if copied else None,
            "recovery_point": iso(now), "recovery_point_age_seconds": 0,
            "written_bytes": None, "size_bytes": source.get("size")}
