"""Thin Image snapshots as DR test copies: input checks, the pure plan, the snapshot's facts and check mode.

An item names a P-VOL and a snapshot group. ``present`` is one split Thin Image pair (PSUS) of the P-VOL in
the group: its snapshot data is the P-VOL's image at the split. With ``svol_pool_id`` the module makes the
S-VOL itself (a DP volume of the P-VOL's capacity, labelled so that it is found and removed again) and maps
the snapshot data onto it, so hosts can reach the copy; with ``svol`` alone an existing unpaired LDEV takes
it. ``absent`` deletes the pair(s) (and with them the snapshot data) and then the S-VOL LDEVs the module
made, which carry its label; no other LDEV is ever deleted.

``plan()`` is pure: from what the driver observed for one item (``Observed``) it returns the ordered actions
(``["create_svol", "label_svol", "create", "wait_split"]``, ``["split", "wait_split"]``,
``["delete", "wait_deleted", "delete_svol"]``). The identity of a snapshot is declarative: a pair of the P-VOL
in the group with another pool or S-VOL than declared is an error naming the difference, never ``ok``.
Deleting a pair whose S-VOL was written (``isWrittenInSvol``) discards those writes; the array does not say
how many bytes, so the delete carries the S-VOL's capacity as the bound (``at_most``) and the engine's guard
refuses it unless ``allow_data_loss``.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items
from ._vsp import MAX_LDEV_ID, check_name, ldev_defined, ldev_size

ITEM_KEYS = ("pvol", "snapshot_group", "pool_id", "svol_pool_id", "svol", "label", "state", "allow_data_loss")
DIFF_KEYS = ("pvol", "pool_id", "svol", "svol_label", "svol_created", "status", "written")
MAX_GROUP = 32
MAX_LABEL = 32
MAX_POOL = 127
#: LDEV attributes of a volume that is in a ShadowImage or a Thin Image pair
PAIRED_ATTRIBUTES = ("MRCF", "HTI")
RERUN = "Rerun the task: it reads the snapshot and continues from there"

Key = t.Tuple[str, t.Optional[int]]
Record = t.Dict[str, t.Any]


@dataclasses.dataclass
class Observed:
    """What the driver read for one item.

    ``pairs`` are the Thin Image records of the item (the P-VOL's pairs in the group, or every pair of the
    group for an item without ``pvol``); ``ldevs`` the LDEV records read (the P-VOL, the S-VOLs of those
    pairs, the declared S-VOL); ``pools`` the pools a create needs (None: not found); ``new_svol`` the LDEV id
    to create for the S-VOL (chosen by the driver); ``made`` the LDEVs this run made for the item (a plan made
    again after a lost answer uses them); ``labelled`` the LDEVs in ``svol_pool_id`` that carry the item's label
    (read for an item to remove whose pairs are gone: S-VOLs an interrupted run made before their pair).
    """

    pairs: list[Record] = dataclasses.field(default_factory=list)
    ldevs: dict[int, Record] = dataclasses.field(default_factory=dict)
    pools: dict[int, Record | None] = dataclasses.field(default_factory=dict)
    new_svol: int | None = None
    made: set[int] = dataclasses.field(default_factory=set)
    labelled: set[int] = dataclasses.field(default_factory=set)


# input ------------------------------------------------------------------------------------------
def item_key(item: dict[str, t.Any]) -> Key:
    return str(item["snapshot_group"]), item.get("pvol")


def item_name(item: dict[str, t.Any]) -> str:
    group, pvol = item_key(item)
    return group if pvol is None else f"{group}/{pvol}"


def label_of(item: dict[str, t.Any]) -> str:
    """The label that marks an S-VOL the module made for the item."""
    return str(item.get("label") or item["snapshot_group"])


def _int_in(name: str, value: t.Any, high: int, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReplicationError(f"{name} must be an integer ({what}), not {value!r}")
    if not 0 <= value <= high:
        raise ReplicationError(f"{name} {value} is out of range: 0-{high} ({what})")
    return value


def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request."""
    problem = check_name("snapshot_group", item.get("snapshot_group"), MAX_GROUP)
    if problem:
        raise ReplicationError(f"{problem}; the snapshot group names the copy")
    name = str(item["snapshot_group"])
    pvol = _int_in("pvol", item.get("pvol"), MAX_LDEV_ID, "an LDEV id")
    svol = _int_in("svol", item.get("svol"), MAX_LDEV_ID, "an LDEV id")
    _int_in("pool_id", item.get("pool_id"), MAX_POOL, "the Thin Image snapshot pool")
    _int_in("svol_pool_id", item.get("svol_pool_id"), MAX_POOL, "the DP pool of the S-VOL to create")
    if item.get("state") != "absent" and pvol is None:
        raise ReplicationError(f"snapshot group {name}: pvol is required with state=present (the LDEV to snapshot)")
    if pvol is not None and svol == pvol:
        raise ReplicationError(f"{name}/{pvol}: pvol and svol are the same LDEV ({pvol}); the S-VOL must be another")
    label = item.get("label")
    if label is not None:
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            raise ReplicationError(f"label {label!r} of {name}: an LDEV label has 1-{MAX_LABEL} characters")
    if pvol is None and (svol is not None or item.get("svol_pool_id") is not None):
        raise ReplicationError(f"snapshot group {name}: svol and svol_pool_id need pvol (without pvol, state=absent "
                               "removes every pair of the group)")


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``snapshots`` list, or the single snapshot of the top-level options."""
    items = declared_items(params, "snapshots", ITEM_KEYS)
    for item in items:
        validate_item(item)
    seen: dict[Key, str] = {}
    whole: set[str] = {item_key(i)[0] for i in items if i.get("pvol") is None}
    svols: dict[int, str] = {}
    for item in items:
        key, name = item_key(item), item_name(item)
        if key in seen:
            raise ReplicationError(f"{name} is listed twice")
        seen[key] = name
        if key[1] is not None and key[0] in whole:
            raise ReplicationError(f"{name} is listed, and so is its whole snapshot group {key[0]} (without pvol): "
                                   "list the group once")
        svol = item.get("svol")
        if svol is not None:
            if svol in svols:
                raise ReplicationError(f"LDEV {svol} is the S-VOL of both {svols[svol]} and {name}")
            svols[svol] = name
    return items


# facts ------------------------------------------------------------------------------------------
def parse_time(value: t.Any) -> float | None:
    """Epoch seconds of an ISO 8601 time as the array writes it (``2026-12-07T02:00:00Z``); None if none."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).isoformat()


def snapshot_facts(record: Record, ldevs: dict[int, Record], label: str) -> dict[str, t.Any]:
    """The normalized facts of one Thin Image pair; ``label`` is the mark of an S-VOL the module made."""
    split = parse_time(record.get("splitTime"))
    svol = record.get("svolLdevId")
    svol_label = (ldevs.get(svol) or {}).get("label") if svol is not None else None
    return {
        "pvol": record.get("pvolLdevId"),
        "mu_number": record.get("muNumber"),
        "snapshot_group": record.get("snapshotGroupName"),
        "pool_id": record.get("snapshotPoolId"),
        "svol": svol,
        "svol_label": svol_label,
        "status": record.get("status"),
        "recovery_point": iso(split),
        "recovery_point_age_seconds": None if split is None else max(0, int(time.time() - split)),
        "written": bool(record.get("isWrittenInSvol")),
        "svol_created": svol is not None and bool(svol_label) and svol_label == label,
    }


def item_facts(item: dict[str, t.Any], observed: Observed) -> t.Any:
    """The item's facts: the pair's (None: no pair), or for a whole group a list of every pair's."""
    facts = [snapshot_facts(r, observed.ldevs, label_of(item)) for r in observed.pairs]
    if item.get("pvol") is None:
        return facts
    return facts[0] if facts else None


def describe(facts: t.Any) -> str:
    if not facts:
        return "no Thin Image pair"
    if isinstance(facts, list):
        return ", ".join(describe(f) for f in facts)
    return f"{facts.get('snapshot_group')}/{facts.get('pvol')} MU {facts.get('mu_number')}: {facts.get('status')}"


def diff_view(facts: t.Any) -> t.Any:
    if not facts:
        return [] if isinstance(facts, list) else {}
    if isinstance(facts, list):
        return [diff_view(f) for f in facts]
    return {k: facts.get(k) for k in DIFF_KEYS}


# the pure plan ----------------------------------------------------------------------------------
def plan(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    """The ordered actions that take what ``observed`` holds to ``item``; [] when nothing needs doing."""
    if item.get("state") == "absent":
        return _plan_absent(item, observed)
    if len(observed.pairs) > 1:
        mus = ", ".join(str(r.get("muNumber")) for r in observed.pairs)
        raise ReplicationError(f"{item_name(item)}: the P-VOL has {len(observed.pairs)} Thin Image pairs in snapshot "
                               f"group {item['snapshot_group']} (MU {mus}); this module keeps one per group and P-VOL. "
                               "Remove them (state: absent) or use another snapshot group")
    if not observed.pairs:
        return _plan_create(item, observed)
    record = observed.pairs[0]
    check_identity(item, record, observed)
    return _plan_existing(item, record)


def check_identity(item: dict[str, t.Any], record: Record, observed: Observed) -> None:
    """Refuse a pair that is not the snapshot the item declares, naming the difference."""
    name = item_name(item)
    facts = snapshot_facts(record, observed.ldevs, label_of(item))
    fix = "remove it (state: absent) or use another snapshot group"
    if record.get("isClone"):
        raise ReplicationError(f"{name} is a Thin Image clone pair (isClone), not a snapshot: this module neither takes "
                               f"it over nor removes it; use another snapshot group", snapshot=facts)
    pool = item.get("pool_id")
    if pool is not None and facts["pool_id"] != pool:
        raise ReplicationError(f"{name} exists with snapshot pool {facts['pool_id']}, not pool {pool}: {fix}",
                               snapshot=facts)
    svol, declared = facts["svol"], item.get("svol")
    if declared is not None and svol != declared:
        now = f"S-VOL {svol}" if svol is not None else "no S-VOL"
        raise ReplicationError(f"{name} exists with {now}, not S-VOL {declared}: {fix}", snapshot=facts)
    if item.get("state") == "absent":
        return
    wants_svol = declared is not None or item.get("svol_pool_id") is not None
    if wants_svol and svol is None:
        raise ReplicationError(f"{name} exists without an S-VOL, but the task declares one (svol/svol_pool_id): {fix}",
                               snapshot=facts)
    if not wants_svol and svol is not None:
        raise ReplicationError(f"{name} exists with S-VOL {svol}, but the task declares none (no svol or "
                               f"svol_pool_id): declare it, or {fix}", snapshot=facts)
    svol_pool = item.get("svol_pool_id")
    ldev = observed.ldevs.get(svol) if svol is not None else None
    if svol_pool is not None and ldev and ldev.get("poolId") is not None and ldev["poolId"] != svol_pool:
        raise ReplicationError(f"{name} exists with S-VOL {svol} in pool {ldev['poolId']}, not in svol_pool_id "
                               f"{svol_pool}: {fix}", snapshot=facts)


def _plan_existing(item: dict[str, t.Any], record: Record) -> list[Action]:
    status = record.get("status")
    snapshot_id = f"{record.get('pvolLdevId')},{record.get('muNumber')}"
    if status in ("PSUS", "SSUS"):
        return []
    if status == "PAIR":  # resynchronized by someone: no snapshot data; a split takes the point in time now
        return [Action("split", {"snapshot_id": snapshot_id}), Action("wait_split")]
    if status == "PSUE":  # the array lost the snapshot data; a resync with autoSplit takes a new one
        return [Action("resync", {"snapshot_id": snapshot_id, "parameters": {"autoSplit": True}}),
                Action("wait_split")]
    raise ReplicationError(f"{item_name(item)} is {status}: the module splits a pair in PAIR and resyncs one in PSUE, "
                           f"and waits for nothing else; rerun once the array has finished (a restore or clone copy)",
                           snapshot={"pvol": record.get("pvolLdevId"), "mu_number": record.get("muNumber"),
                                     "status": status})


def _plan_create(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    name = item_name(item)
    pool = item.get("pool_id")
    if pool is None:
        raise ReplicationError(f"cannot create {name}: pool_id (the snapshot pool) is required to create a snapshot")
    if observed.pools.get(pool) is None:
        raise ReplicationError(f"cannot create {name}: snapshot pool {pool} does not exist")
    pvol = observed.ldevs.get(item["pvol"])
    if not ldev_defined(pvol):
        raise ReplicationError(f"cannot create {name}: the P-VOL, LDEV {item['pvol']}, is not defined")
    if pvol is None:  # checked above
        raise AssertionError("pvol was checked above")
    actions: list[Action] = []
    svol = item.get("svol")
    if item.get("svol_pool_id") is not None:
        svol, actions = _svol_to_make(item, observed, pvol)
    elif svol is not None:
        _check_existing_svol(item, observed, pvol)
    body: dict[str, t.Any] = {"snapshotGroupName": item["snapshot_group"], "snapshotPoolId": pool,
                              "pvolLdevId": item["pvol"]}
    if svol is not None:
        body["svolLdevId"] = svol
    body["autoSplit"] = True
    made = [a.args["ldev_id"] for a in actions if a == "create_svol"] or \
        ([svol] if svol is not None and svol in observed.made else [])
    actions.append(Action("create", {"body": body, "made": made}))
    actions.append(Action("wait_split"))
    return actions


def _svol_to_make(item: dict[str, t.Any], observed: Observed, pvol: Record) -> tuple[int, list[Action]]:
    """The S-VOL to create in ``svol_pool_id`` (its id, and the steps that make and label it). An LDEV of that id
    already carrying the item's label is one made for the item before (its pair was not made): it is used."""
    name, label, pool = item_name(item), label_of(item), item["svol_pool_id"]
    if observed.pools.get(pool) is None:
        raise ReplicationError(f"cannot create {name}: svol_pool_id {pool} does not exist")
    ldev_id = item.get("svol") if item.get("svol") is not None else observed.new_svol
    if ldev_id is None:
        raise ReplicationError(f"cannot create {name}: no free LDEV id is left for the S-VOL; give svol")
    record = observed.ldevs.get(ldev_id)
    if not ldev_defined(record):
        return ldev_id, [Action("create_svol", {"ldev_id": ldev_id, "pool_id": pool,
                                                "block_capacity": ldev_size(pvol), "label": label}),
                         Action("label_svol", {"ldev_id": ldev_id, "label": label})]
    if record is None:  # checked above
        raise AssertionError("record was checked above")
    ours = record.get("label") == label or ldev_id in observed.made
    if not ours:
        raise ReplicationError(f"cannot create {name}: LDEV {ldev_id} (svol) is already defined (label "
                               f"{record.get('label')!r}); with svol_pool_id give the id of an LDEV to create, or "
                               "leave svol_pool_id out to map the snapshot onto that existing LDEV")
    _check_svol_record(name, ldev_id, record, pvol)
    actions = [] if record.get("label") == label else [Action("label_svol", {"ldev_id": ldev_id, "label": label})]
    return ldev_id, actions


def _check_existing_svol(item: dict[str, t.Any], observed: Observed, pvol: Record) -> None:
    name, svol = item_name(item), item["svol"]
    record = observed.ldevs.get(svol)
    if not ldev_defined(record):
        raise ReplicationError(f"cannot create {name}: the S-VOL, LDEV {svol}, is not defined (set svol_pool_id to "
                               "have the module create it)")
    if record is None:  # checked above
        raise AssertionError("record was checked above")
    _check_svol_record(name, svol, record, pvol)
    if record.get("label") == label_of(item) and svol not in observed.made:
        raise ReplicationError(f"cannot create {name}: LDEV {svol} carries the label {label_of(item)!r}, which marks an "
                               "S-VOL this module created and deletes with the snapshot; relabel the LDEV or set "
                               "another label")


def _check_svol_record(name: str, svol: int, record: Record, pvol: Record) -> None:
    paired = [a for a in record.get("attributes") or [] if a in PAIRED_ATTRIBUTES]
    if paired:
        raise ReplicationError(f"cannot create {name}: LDEV {svol} is in a copy pair (attributes "
                               f"{', '.join(paired)}); the S-VOL must be unpaired")
    if ldev_size(record) != ldev_size(pvol):
        raise ReplicationError(f"cannot create {name}: LDEV {svol} has {ldev_size(record)} blocks, the P-VOL "
                               f"{ldev_size(pvol)}; the S-VOL must have the P-VOL's capacity")


def _plan_absent(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    label = label_of(item)
    if not observed.pairs:
        return [Action("delete_svol", {"ldev_id": i}, rereads=False) for i in _leftover_svols(item, observed)]
    for record in observed.pairs:
        check_identity(item, record, observed)
    written = [r for r in observed.pairs if r.get("isWrittenInSvol")]
    at_most = sum(ldev_size(observed.ldevs.get(r.get("svolLdevId")) or {}) * 512 for r in written)
    ids = [f"{r.get('pvolLdevId')},{r.get('muNumber')}" for r in observed.pairs]
    facts = item_facts(item, observed)
    where = ", ".join(f"LDEV {r.get('svolLdevId')}" for r in written)
    delete = Action("delete", {"snapshot_ids": ids, "group": item.get("pvol") is None},
                    overwrites=f"the S-VOL ({where}) since the snapshot was taken (they exist nowhere else)"
                    if written else None,
                    at_most=at_most if written else None, details={"snapshot": facts},
                    bound=", the S-VOL's capacity: the array says that it was written, not how much")
    actions = [delete, Action("wait_deleted")]
    mine = [r.get("svolLdevId") for r in observed.pairs if r.get("svolLdevId") is not None
            and (((observed.ldevs.get(r["svolLdevId"]) or {}).get("label") == label) or r["svolLdevId"] in observed.made)]
    actions += [Action("delete_svol", {"ldev_id": i}, rereads=False) for i in mine]
    return actions


def _leftover_svols(item: dict[str, t.Any], observed: Observed) -> list[int]:
    """S-VOLs the module made for the item whose pair is gone already (a run stopped between the two deletes)
    or was never made (a run stopped between the S-VOL and the pair): the declared ``svol``, those this run
    made, and those of ``svol_pool_id`` carrying the item's label, when unpaired and carrying the label."""
    candidates = set(observed.made) | set(observed.labelled)
    if item.get("svol") is not None:
        candidates.add(item["svol"])
    out = []
    for ldev_id in sorted(candidates):
        record = observed.ldevs.get(ldev_id)
        if not ldev_defined(record) or record is None:
            continue
        unpaired = not any(a in PAIRED_ATTRIBUTES for a in record.get("attributes") or [])
        if unpaired and (record.get("label") == label_of(item) or ldev_id in observed.made):
            out.append(ldev_id)
    return out


# check mode -------------------------------------------------------------------------------------
def predict(item: dict[str, t.Any], observed: Observed, actions: list[Action]) -> t.Any:
    """The facts a check-mode run expects after ``actions``."""
    before = item_facts(item, observed)
    if item.get("state") == "absent":
        return [] if item.get("pvol") is None else (None if "delete" in actions else before)
    now = iso(time.time())
    if "create" in actions:
        body = next(a for a in actions if a == "create").args["body"]
        svol = body.get("svolLdevId")
        made = any(a in ("create_svol", "label_svol") for a in actions) or svol in observed.made
        svol_label = label_of(item) if made else (observed.ldevs.get(svol) or {}).get("label") if svol is not None \
            else None
        return {"pvol": item["pvol"], "mu_number": None, "snapshot_group": item["snapshot_group"],
                "pool_id": body["snapshotPoolId"], "svol": svol, "svol_label": svol_label, "status": "PSUS",
                "recovery_point": now, "recovery_point_age_seconds": 0, "written": False,
                "svol_created": svol is not None and svol_label == label_of(item)}
    after = dict(before or {})
    if any(a in ("split", "resync") for a in actions):
        after.update(status="PSUS", recovery_point=now, recovery_point_age_seconds=0, written=False)
    return after
