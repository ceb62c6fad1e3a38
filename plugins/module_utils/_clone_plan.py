"""FlexClone volumes: input checks, the pure plan, the clone's facts and what check mode predicts.

``plan()`` is pure: from what the driver observed for one item (``Observed``: the volume that holds the
clone's name, its base snapshot, and for a new clone its parent and the snapshot it is made from) it
returns the ordered actions (``["create"]``, ``["unmount", "mount"]``, ``["unmount", "delete"]``). The
identity of a clone is declarative: a volume of the clone's name that is not a FlexClone, or a clone of
another parent or snapshot, is an error, never ``ok`` and never replaced. Removing a clone that was
written since it was made discards those writes (they exist nowhere else): the delete names them in
``overwrites`` and ``at_stake``, and the engine's guard refuses it unless ``allow_data_loss``.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items
from ._ontap import parse_duration, parse_time

ITEM_KEYS = ("svm", "name", "parent_volume", "parent_snapshot", "junction_path", "export_policy", "comment",
             "state", "allow_data_loss")
VOLUME_FIELDS = "uuid,name,svm.name,type,state,style,comment,nas.path,nas.export_policy.name,clone"
SNAPSHOT_FIELDS = "name,create_time,delta"
FACT_KEYS_FOR_DIFF = ("parent_volume", "parent_snapshot", "junction_path", "export_policy", "comment", "state")
RERUN = "Rerun the task: it reads the clone and continues from there"

Facts = t.Optional[t.Dict[str, t.Any]]


@dataclasses.dataclass
class Observed:
    """What the driver read for one item.

    ``volume`` is the record of the volume that holds the clone's name (None: there is none) and ``base``
    the clone's base snapshot as the clone holds it (name, create_time, delta). For a clone to create,
    ``parent`` is the parent volume's record, ``snapshot`` the parent snapshot it is made from (None: ONTAP
    takes one of a read-write parent) and ``chosen`` says how that snapshot was chosen.
    """

    volume: Facts = None
    base: Facts = None
    parent: Facts = None
    snapshot: Facts = None
    chosen: str | None = None


# input ------------------------------------------------------------------------------------------
def _check_name(item: dict[str, t.Any], key: str, required: bool) -> None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise ReplicationError(f"{key} is required")
        return
    if not isinstance(value, str) or any(c in value for c in ":/ *|,"):
        raise ReplicationError(f"{key} {value!r} is not a plain ONTAP name (no ':', '/', spaces or wildcards)")


def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request."""
    present = item.get("state") != "absent"
    _check_name(item, "svm", True)
    _check_name(item, "name", True)
    _check_name(item, "parent_volume", present)
    _check_name(item, "parent_snapshot", False)
    _check_name(item, "export_policy", False)
    if item.get("parent_volume") and item["parent_volume"] == item["name"]:
        raise ReplicationError(f"name and parent_volume are the same ({item['name']}): a clone needs a name of its own")
    if item.get("parent_snapshot") and not item.get("parent_volume"):
        raise ReplicationError("parent_snapshot needs parent_volume")
    junction = item.get("junction_path")
    if junction and not junction.startswith("/"):
        raise ReplicationError(f"junction_path {junction!r} must start with / (an empty string unmounts)")


def key_of(item: dict[str, t.Any]) -> str:
    return f"{item['svm']}:{item['name']}"


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``clones`` list, or the single clone of the top-level options."""
    items = declared_items(params, "clones", ITEM_KEYS)
    seen: set[str] = set()
    for item in items:
        validate_item(item)
        if key_of(item) in seen:
            raise ReplicationError(f"clone {key_of(item)} is listed twice")
        seen.add(key_of(item))
    return items


# facts ------------------------------------------------------------------------------------------
def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).isoformat()


def point_in_time(snapshot: Facts) -> tuple[str | None, int | None]:
    """A snapshot's creation time (ISO, UTC) and its age in seconds, as the array counts it (``delta.time_elapsed``)
    when it says, else by this host's clock."""
    if not snapshot:
        return None, None
    created = parse_time(snapshot.get("create_time"))
    age = parse_duration(((snapshot.get("delta") or {}).get("time_elapsed")))
    if age is None and created is not None:
        age = max(0, int(time.time() - created))
    return iso(created), age


def written_bytes(base: Facts) -> int | None:
    """Bytes written to a clone since it was made: the delta of its base snapshot to its active image."""
    delta = (base or {}).get("delta")
    if not isinstance(delta, dict) or delta.get("size_consumed") is None:
        return None
    return int(delta["size_consumed"])


def clone_facts(volume: Facts, base: Facts = None) -> Facts:
    """The normalized facts of a clone (of any volume holding its name) and its base snapshot; None for no volume."""
    if volume is None:
        return None
    clone = volume.get("clone") or {}
    recovery_point, age = point_in_time(base)
    return {
        "name": volume.get("name"),
        "uuid": volume.get("uuid"),
        "svm": (volume.get("svm") or {}).get("name"),
        "is_flexclone": bool(clone.get("is_flexclone")),
        "parent_volume": (clone.get("parent_volume") or {}).get("name"),
        "parent_snapshot": (clone.get("parent_snapshot") or {}).get("name"),
        "recovery_point": recovery_point,
        "recovery_point_age_seconds": age,
        "junction_path": (volume.get("nas") or {}).get("path") or None,
        "export_policy": ((volume.get("nas") or {}).get("export_policy") or {}).get("name"),
        "state": volume.get("state"),
        "comment": volume.get("comment") or "",
        "written_bytes": written_bytes(base),
    }


def default_comment(item: dict[str, t.Any], snapshot: str | None) -> str:
    where = f"{item['svm']}:{item['parent_volume']}"
    if snapshot is None:
        return f"storage.replication test copy of {where} at the snapshot ONTAP took for it"
    return f"storage.replication test copy of {where}@{snapshot}"


# the pure plan ----------------------------------------------------------------------------------
def plan(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    """The ordered actions that take what ``observed`` holds to ``item``; [] when nothing needs doing."""
    if item.get("state") == "absent":
        return _plan_absent(item, observed)
    if observed.volume is None:
        return [_create(item, observed)]
    check_identity(item, observed)
    return _plan_existing(item, observed)


def check_identity(item: dict[str, t.Any], observed: Observed) -> None:
    """Refuse a volume of the clone's name that is not the clone the item declares, naming the difference."""
    facts = clone_facts(observed.volume) or {}
    key = key_of(item)
    if not facts.get("is_flexclone"):
        raise ReplicationError(
            f"{key} exists and is not a FlexClone volume (a {observed.volume.get('type')} volume"
            f"{', split from its parent' if (observed.volume.get('clone') or {}).get('split_initiated') else ''}): "
            "this module neither takes it over nor removes it; choose another name", clone=facts)
    parent = item.get("parent_volume")
    if parent and facts.get("parent_volume") != parent:
        raise ReplicationError(
            f"{key} is a clone of {facts.get('parent_volume')}@{facts.get('parent_snapshot')}, not of {parent}: "
            "remove it (state: absent) to make it a clone of another volume", clone=facts)
    snapshot = item.get("parent_snapshot")
    if snapshot and facts.get("parent_snapshot") != snapshot:
        raise ReplicationError(
            f"{key} is a clone of {parent}@{facts.get('parent_snapshot')}, not of snapshot {snapshot}: remove it "
            "(state: absent) to clone another point in time", clone=facts)


def _create(item: dict[str, t.Any], observed: Observed) -> Action:
    key = key_of(item)
    parent = observed.parent
    where = f"{item['svm']}:{item['parent_volume']}"
    if parent is None:
        raise ReplicationError(f"cannot create {key}: parent volume {where} does not exist")
    if parent.get("style") not in (None, "flexvol"):
        raise ReplicationError(f"cannot create {key}: {where} is a {parent.get('style')} volume; ONTAP clones FlexVol "
                               "volumes only")
    if parent.get("state") != "online":
        raise ReplicationError(f"cannot create {key}: parent volume {where} is {parent.get('state')}, not online")
    snapshot = (observed.snapshot or {}).get("name")
    if snapshot is None and parent.get("type") != "rw":
        raise ReplicationError(
            f"cannot create {key}: {where} is a {parent.get('type')} volume without a snapshot to clone (no SnapMirror "
            "transfer has finished yet); set parent_snapshot, or wait for the relationship to be initialized")
    clone: dict[str, t.Any] = {"is_flexclone": True, "parent_volume": {"name": item["parent_volume"]}}
    if snapshot is not None:
        clone["parent_snapshot"] = {"name": snapshot}
    body: dict[str, t.Any] = {"name": item["name"], "svm": {"name": item["svm"]}, "clone": clone,
                              "comment": item.get("comment") if item.get("comment") is not None
                              else default_comment(item, snapshot)}
    if item.get("junction_path"):
        body["nas"] = {"path": item["junction_path"]}
    if item.get("export_policy"):
        body.setdefault("nas", {})["export_policy"] = {"name": item["export_policy"]}
    return Action("create", {"body": body})


def _plan_existing(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    facts = clone_facts(observed.volume) or {}
    uuid = facts.get("uuid")
    actions: list[Action] = []
    junction = item.get("junction_path")
    current = facts.get("junction_path")
    if junction is not None and (junction or None) != current:
        if current:
            actions.append(Action("unmount", {"uuid": uuid, "from": current}))
        if junction:
            actions.append(Action("mount", {"uuid": uuid, "junction_path": junction}))
    policy = item.get("export_policy")
    if policy and policy != facts.get("export_policy"):
        actions.append(Action("export", {"uuid": uuid, "export_policy": policy, "from": facts.get("export_policy")}))
    comment = item.get("comment")
    if comment is not None and comment != facts.get("comment"):
        actions.append(Action("modify", {"uuid": uuid, "body": {"comment": comment}}))
    return actions


def _plan_absent(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    if observed.volume is None:
        return []
    check_identity(item, observed)
    facts = clone_facts(observed.volume, observed.base) or {}
    key = key_of(item)
    if (observed.volume.get("clone") or {}).get("has_flexclone"):
        raise ReplicationError(f"{key} is the parent of other FlexClone volumes: remove them first", clone=facts)
    uuid = facts.get("uuid")
    actions = [Action("unmount", {"uuid": uuid, "from": facts["junction_path"]})] if facts.get("junction_path") else []
    origin = f"{facts.get('svm')}:{facts.get('parent_volume')}@{facts.get('parent_snapshot')}"
    actions.append(Action("delete", {"uuid": uuid}, rereads=False,
                          overwrites=f"the clone since it was made from {origin} (they exist nowhere else)",
                          at_stake=facts.get("written_bytes"),
                          details={"written_bytes": facts.get("written_bytes"), "clone": facts}))
    return actions


# check mode and reporting -----------------------------------------------------------------------
def predict(item: dict[str, t.Any], observed: Observed, actions: list[Action]) -> Facts:
    """The facts a check-mode run expects after ``actions``."""
    if item.get("state") == "absent":
        return None if "delete" in actions else clone_facts(observed.volume, observed.base)
    if "create" in actions:
        body = next(a for a in actions if a == "create").args["body"]
        recovery_point, age = point_in_time(observed.snapshot)
        if observed.snapshot is None:  # ONTAP takes the snapshot when it makes the clone
            recovery_point, age = iso(time.time()), 0
        return {"name": item["name"], "uuid": None, "svm": item["svm"], "is_flexclone": True,
                "parent_volume": item["parent_volume"], "parent_snapshot": (observed.snapshot or {}).get("name"),
                "recovery_point": recovery_point, "recovery_point_age_seconds": age,
                "junction_path": item.get("junction_path") or None,
                "export_policy": item.get("export_policy") or "default", "state": "online", "comment": body["comment"],
                "written_bytes": 0}
    after = dict(clone_facts(observed.volume, observed.base) or {})
    for action in actions:
        if action in ("mount", "unmount"):
            after["junction_path"] = action.args.get("junction_path")
        elif action == "export":
            after["export_policy"] = action.args["export_policy"]
        elif action == "modify":
            after.update(action.args["body"])
    return after


def diff_view(facts: Facts) -> dict[str, t.Any]:
    if facts is None:
        return {}
    return {k: facts.get(k) for k in FACT_KEYS_FOR_DIFF}
