"""ShadowImage pairs and copy groups: the items of a run, and the pure plan of each.

``plan()`` (one pair) and ``plan_group()`` (every pair of a copy group) are pure:
from the current facts, and for a restore the array's record of the pair's last
operations, they return the ordered actions (``["create_svol", "create",
"wait_paired"]``). ``check_create()`` judges a new pair's volumes and pool from
the records the driver read. ``predict()`` is what a check-mode run expects.

Data-loss guard: a resync (P-VOL -> S-VOL) or restore (S-VOL -> P-VOL) of a split or
suspended pair overwrites whatever was written to the other side since the split. The
array reports how many blocks differ (``copyProgressRate``, the share identical on both
volumes, rounded down) but not which volume was written, so the action carries the bound
it gives (``at_most``) and the engine refuses it unless the item says ``allow_data_loss``.

Restore is an event, not a state: PAIR after a restore looks exactly like PAIR
after a resync. It is performed when the pair is split; on a pair in PAIR it is
accepted as already done only when the array's job history shows that the last
operation on the pair was a restore; otherwise it is refused.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items, differing_bytes_at_most
from ._vsp import (JOB_HISTORY_COUNT, MAX_LDEV_ID, check_name, describe_pair, group_id, ldev_defined, ldev_size,
                   split_id)
from ._vsp_pairs import describe_pairs, pairs_diff_view
from ._vsp_pairs import int_in as _int_in

ITEM_KEYS = ("copy_group", "pair_name", "pvol", "svol", "state", "pair_state", "restore", "copy_pace", "mu_number",
             "consistency_group", "auto_split", "quick_mode", "resync_split", "pvol_device_group", "svol_device_group",
             "allow_data_loss")
SVOL_KEYS = ("pool_id", "ldev_id", "start_ldev_id", "end_ldev_id", "data_reduction_mode")
DATA_REDUCTION_MODES = ("disabled", "compression", "compression_deduplication")
PAIR_ONLY_KEYS = ("pvol", "svol", "mu_number", "consistency_group", "auto_split")
DIFF_KEYS = ("state", "pvol_status", "svol_status", "pvol", "svol", "mu_number", "consistency_group")
STATUSES = {"paired": ("PAIR", "PAIR"), "split": ("PSUS", "SSUS")}
TRANSIENT = ("copying", "restoring")
#: states of a pair whose volumes may differ: a resync or restore overwrites one with the other
DIVERGED = ("split", "suspended_error")

Key = t.Tuple[str, t.Optional[str]]


# items ---------------------------------------------------------------------------------------------
def item_key(item: dict[str, t.Any]) -> Key:
    return item["copy_group"], item.get("pair_name") or None


def item_name(item: dict[str, t.Any]) -> str:
    return f"{item['copy_group']}/{item['pair_name']}" if item.get("pair_name") else str(item["copy_group"])


def desired_state(item: dict[str, t.Any]) -> str:
    return item.get("pair_state") or ("split" if item.get("auto_split") else "paired")


def _svol_spec(name: str, value: t.Any) -> int | dict[str, t.Any] | None:
    """``svol`` as an LDEV id, or the spec of an S-VOL to create in a pool."""
    if not isinstance(value, dict):
        return _int_in("svol", value, 0, MAX_LDEV_ID, " (an LDEV id, or a dict with pool_id to create one)")
    unknown = sorted(set(value) - set(SVOL_KEYS))
    if unknown:
        raise ReplicationError(f"svol of {name}: unknown key(s) {', '.join(unknown)}; an S-VOL to create takes "
                               f"{', '.join(SVOL_KEYS)}")
    spec = {key: value.get(key) for key in SVOL_KEYS}
    if spec["pool_id"] is None:
        raise ReplicationError(f"svol of {name}: pool_id is required to create an S-VOL (or give an LDEV id)")
    spec["pool_id"] = _int_in("svol.pool_id", spec["pool_id"], 0, 127)
    for key in ("ldev_id", "start_ldev_id", "end_ldev_id"):
        spec[key] = _int_in(f"svol.{key}", spec[key], 0, MAX_LDEV_ID)
    if spec["ldev_id"] is not None and (spec["start_ldev_id"] is not None or spec["end_ldev_id"] is not None):
        raise ReplicationError(f"svol of {name}: give ldev_id or a start_ldev_id/end_ldev_id range, not both")
    if spec["start_ldev_id"] is not None and spec["end_ldev_id"] is not None and \
            spec["start_ldev_id"] > spec["end_ldev_id"]:
        raise ReplicationError(f"svol of {name}: start_ldev_id is above end_ldev_id")
    mode = spec["data_reduction_mode"]
    if mode is not None and mode not in DATA_REDUCTION_MODES:
        raise ReplicationError(f"svol.data_reduction_mode of {name} must be one of {', '.join(DATA_REDUCTION_MODES)}")
    return spec


def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request. Normalizes ``pvol``/``svol``."""
    group = item.get("copy_group")
    if not group:
        raise ReplicationError("copy_group is required")
    if isinstance(group, str) and len(group) > 31:
        raise ReplicationError(f"copy_group {group!r} is {len(group)} characters long; the array allows at most 29 "
                               "for a new copy group (31 for an existing one)")
    for kind, value, limit in (("copy_group", group, 31), ("pair_name", item.get("pair_name"), 31),
                               ("pvol_device_group", item.get("pvol_device_group"), 31),
                               ("svol_device_group", item.get("svol_device_group"), 31)):
        if value is not None or kind == "copy_group":
            problem = check_name(kind, value, limit)
            if problem:
                raise ReplicationError(problem)
    name = item_name(item)
    pdg, sdg = item.get("pvol_device_group"), item.get("svol_device_group")
    if (pdg or f"{group}P_") == (sdg or f"{group}S_"):
        raise ReplicationError(f"{name}: the P-VOL and S-VOL device groups must have different names")
    if not item.get("pair_name"):
        given = [k for k in PAIR_ONLY_KEYS if item.get(k) not in (None, False)]
        if given:
            raise ReplicationError(f"{', '.join(given)} given without pair_name: name the pair (pair_name) to create "
                                   f"it; without pair_name the task acts on every pair of copy group {group}")
    item["pvol"] = _int_in("pvol", item.get("pvol"), 0, MAX_LDEV_ID, " (an LDEV id)")
    item["svol"] = _svol_spec(name, item.get("svol"))
    if item["pvol"] is not None and item["svol"] == item["pvol"]:
        raise ReplicationError(f"{name}: pvol and svol are the same LDEV ({item['pvol']})")
    _int_in("copy_pace", item.get("copy_pace"), 1, 15, " (1 is slowest, 15 fastest)")
    _int_in("mu_number", item.get("mu_number"), 0, 2, " (ShadowImage uses MU 0-2)")
    _int_in("consistency_group", item.get("consistency_group"), 0, 127, " (ShadowImage consistency groups)")
    if item.get("state") == "absent" and item.get("restore"):
        raise ReplicationError(f"{name}: restore and state=absent contradict each other")
    if item.get("auto_split"):
        if item.get("pair_state") == "paired":
            raise ReplicationError(f"{name}: auto_split splits the pair after its initial copy, which contradicts "
                                   "pair_state=paired")
        if item.get("consistency_group") is not None:
            raise ReplicationError(f"{name}: the array does not create a pair with auto_split in a consistency group; "
                                   "leave auto_split out (pair_state=split creates, waits for PAIR, then splits)")


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``pairs`` list, or the single pair (or copy group) of the top-level options."""
    items = declared_items(params, "pairs", ITEM_KEYS)
    for item in items:
        item["restore"] = bool(item.get("restore"))
        validate_item(item)
    seen: set[Key] = set()
    svols: dict[int, str] = {}
    pvols: dict[int, str] = {}
    for item in items:
        key, name = item_key(item), item_name(item)
        if key in seen:
            raise ReplicationError(f"{name} is listed twice")
        seen.add(key)
        svol = item["svol"]
        svol_id = svol.get("ldev_id") if isinstance(svol, dict) else svol
        if svol_id is not None:
            if svol_id in svols:
                raise ReplicationError(f"LDEV {svol_id} is the S-VOL of both {svols[svol_id]} and {name}")
            svols[svol_id] = name
        if item["pvol"] is not None:
            pvols[item["pvol"]] = name
    for ldev_id, name in svols.items():
        if ldev_id in pvols:
            raise ReplicationError(f"LDEV {ldev_id} is the S-VOL of {name} and the P-VOL of {pvols[ldev_id]}; "
                                   "cascaded pairs are not managed by this module")
    whole = {k[0] for k in seen if k[1] is None}
    mixed = sorted(g for g in whole if any(k[0] == g and k[1] is not None for k in seen))
    if mixed:
        raise ReplicationError(f"copy group {mixed[0]} is listed as a whole and by pair in the same task; "
                               "use two tasks so the order is clear")
    return items


# planning ------------------------------------------------------------------------------------------
def steps(*names: str) -> list[Action]:
    """Step names as the plan's actions: a wait for a copy that was already running ends with a new plan for the
    rest (the copy may end split, which leaves nothing to do), and a delete needs no read after it."""
    out = []
    for name in names:
        if name == "wait_settled":
            out.append(Action(name, {"replan": True}))
        elif name == "delete":
            out.append(Action(name, rereads=False))
        else:
            out.append(Action(name))
    return out


def _same_pair(item: dict[str, t.Any], current: dict[str, t.Any]) -> None:
    """A pair's volumes, MU and consistency group cannot change: a different request is an error, not a no-op."""
    name = item_name(item)
    svol = item.get("svol")
    svol_id = svol.get("ldev_id") if isinstance(svol, dict) else svol
    wrong = []
    if item.get("pvol") is not None and current.get("pvol") is not None and item["pvol"] != current["pvol"]:
        wrong.append(f"P-VOL {current['pvol']} (not {item['pvol']})")
    if svol_id is not None and current.get("svol") is not None and svol_id != current["svol"]:
        wrong.append(f"S-VOL {current['svol']} (not {svol_id})")
    if item.get("mu_number") is not None and current.get("mu_number") is not None and \
            item["mu_number"] != current["mu_number"]:
        wrong.append(f"MU {current['mu_number']} (not {item['mu_number']})")
    if item.get("consistency_group") is not None and item["consistency_group"] != current.get("consistency_group"):
        wrong.append(f"consistency group {current.get('consistency_group')} (not {item['consistency_group']})")
    if not wrong:
        return
    if item.get("state") == "absent":
        raise ReplicationError(f"pair {name} exists with {', '.join(wrong)}: not the pair the task declares, so it "
                               "is not deleted. Give its own values (or leave them out) to delete it", pair=current)
    raise ReplicationError(f"pair {name} exists with {', '.join(wrong)}; these cannot change on an existing pair. "
                           "Delete it first (state=absent) to create it anew", pair=current)


def plan(item: dict[str, t.Any], current: dict[str, t.Any] | None, history: list[str] | None = None,
         create_svol: bool = False, capacities: dict[int, int] | None = None) -> list[Action]:
    """The ordered actions that take one pair from ``current`` (its facts, or None) to ``item``.

    ``history`` is the array's record of the operations on the pair, newest first
    (``job_operations``); it is read only to decide a restore. ``create_svol`` is
    whether the S-VOL has to be created first. ``capacities`` are the bytes of the
    P-VOLs a resync or restore overwrites (``overwritten_ldevs``), which bound what
    it may discard.
    """
    actions = steps(*_pair_steps(item, current, history, create_svol))
    return guarded(item, actions, [current] if current else [], capacities or {})


def _pair_steps(item: dict[str, t.Any], current: dict[str, t.Any] | None, history: list[str] | None,
                create_svol: bool) -> list[str]:
    name = item_name(item)
    if item.get("state") == "absent":
        if current is None:
            return []
        _same_pair(item, current)  # a pair other than the one declared is not deleted either
        if current["state"] == "simplex":
            return ["wait_deleted"]
        return (["wait_paired"] if current["state"] == "restoring" else []) + ["delete", "wait_deleted"]
    desired = desired_state(item)
    if current is None:
        if item.get("restore"):
            raise ReplicationError(f"cannot restore {name}: the pair does not exist")
        if item.get("pvol") is None or item.get("svol") is None:
            raise ReplicationError(f"pair {name} does not exist; give pvol and svol to create it")
        actions = ["create_svol"] if create_svol else []
        if desired == "split" and item.get("consistency_group") is None:
            return actions + ["create", "wait_split"]  # the array splits it after the initial copy (autoSplit)
        actions += ["create", "wait_paired"]
        return actions + (["split", "wait_split"] if desired == "split" else [])
    _same_pair(item, current)
    state = current["state"]
    if state in ("unknown", "simplex"):
        raise ReplicationError(f"pair {name} is {describe_pair(current)}, a status this module does not act on; "
                               "wait until it settles or look at the array", pair=current)
    tail = ["split", "wait_split"] if desired == "split" else []
    if item.get("restore"):
        return _restore_plan(name, desired, current, history or [], tail)
    if desired == "paired" and state == "split" and item.get("resync_split") is False:
        return []
    if desired == "paired":
        return {"paired": [], "copying": ["wait_paired"], "restoring": ["wait_paired"],
                "split": ["resync", "wait_paired"], "suspended_error": ["resync", "wait_paired"]}[state]
    return {"split": [], "paired": ["split", "wait_split"], "copying": ["wait_settled", "split", "wait_split"],
            "restoring": ["wait_settled", "split", "wait_split"],
            "suspended_error": ["resync", "wait_paired", "split", "wait_split"]}[state]


def _restore_plan(name: str, desired: str, current: dict[str, t.Any], history: list[str], tail: list[str]) -> list[str]:
    state = current["state"]
    if state == "split":
        if desired == "split" and history[:2] == ["split", "restore"]:
            return []  # restored and split again by an earlier run: nothing was done to it since
        return ["restore", "wait_paired"] + tail
    if state == "restoring":
        return ["wait_paired"] + tail
    if state == "copying" and desired == "split" and history[:2] == ["split", "restore"]:
        return ["wait_settled"]  # the split after an earlier run's restore still copies: join it, then decide
    if state == "paired" and history[:1] == ["restore"]:
        return tail  # an earlier run restored it; nothing was done to it since
    raise ReplicationError(_not_split(name, current, history), pair=current,
                           last_operation=history[0] if history else None)


def _not_split(name: str, current: dict[str, t.Any], history: list[str]) -> str:
    text = f"restore of {name} needs the pair split (PSUS/SSUS); it is {describe_pair(current)}."
    if current["state"] == "paired":
        if history:
            text += (f" PAIR follows a resync as well as a restore, and the array's job history shows the last "
                     f"operation on this pair was a {history[0]}, not a restore.")
        else:
            text += (f" PAIR follows a resync as well as a restore, and the array's job history (its last "
                     f"{JOB_HISTORY_COUNT} jobs) holds no operation on this pair to tell which.")
    return text + " Split it first (pair_state=split), or leave restore out"


def plan_group(item: dict[str, t.Any], pairs: list[dict[str, t.Any]] | None,
               histories: dict[str, list[str]] | None = None, capacities: dict[int, int] | None = None) \
        -> list[Action]:
    """The ordered actions for every pair of a copy group at once (the array's copy group actions)."""
    return guarded(item, steps(*_group_steps(item, pairs, histories)), pairs or [], capacities or {})


def _group_steps(item: dict[str, t.Any], pairs: list[dict[str, t.Any]] | None,
                 histories: dict[str, list[str]] | None) -> list[str]:
    name = item["copy_group"]
    histories = histories or {}
    if item.get("state") == "absent":
        if not pairs:
            return []
        return (["wait_paired"] if any(p["state"] == "restoring" for p in pairs) else []) + ["delete", "wait_deleted"]
    if not pairs:
        raise ReplicationError(f"copy group {name} does not exist; name its pairs (pair_name, pvol, svol) to create "
                               "them")
    odd = [p for p in pairs if p["state"] in ("unknown", "simplex")]
    if odd:
        raise ReplicationError(f"copy group {name}: {_listing(odd)}: a status this module does not act on")
    desired = desired_state(item)
    tail = ["split", "wait_split"] if desired == "split" else []
    states = {p["state"] for p in pairs}
    if item.get("restore"):
        if states <= {"split", "copying"} and "copying" in states and desired == "split" and \
                all(histories.get(p["pair_name"], [])[:2] == ["split", "restore"] for p in pairs):
            return ["wait_settled"]  # an earlier run's restore and split: the split still copies, join it
        if states == {"split"}:
            if desired == "split" and all(histories.get(p["pair_name"], [])[:2] == ["split", "restore"] for p in pairs):
                return []
            return ["restore", "wait_paired"] + tail
        done = [p for p in pairs if p["state"] == "restoring" or
                (p["state"] == "paired" and histories.get(p["pair_name"], [])[:1] == ["restore"])]
        if len(done) == len(pairs):
            return (["wait_paired"] if "restoring" in states else []) + tail
        blocking = [p for p in pairs if p not in done]
        raise ReplicationError(f"restore of copy group {name} needs every pair split (PSUS/SSUS), or restored by the "
                               f"last operation the array's job history shows; not so for {_listing(blocking)}. "
                               "Split the copy group first (pair_state=split), or leave restore out")
    if desired == "paired":
        if states & {"split", "suspended_error"}:
            return ["resync", "wait_paired"]
        return ["wait_paired"] if states & set(TRANSIENT) else []
    if "suspended_error" in states:
        failed = [p for p in pairs if p["state"] == "suspended_error"]
        raise ReplicationError(f"copy group {name}: {_listing(failed)}, suspended by a failure; resync the copy group "
                               "first (pair_state=paired), then split it")
    if states == {"split"}:
        return []
    return (["wait_settled"] if states & set(TRANSIENT) else []) + tail


# the data-loss guard ------------------------------------------------------------------------------
def differing_bytes(pair: dict[str, t.Any], capacities: dict[int, int]) -> int | None:
    """The most bytes that differ between the volumes of a split or suspended pair (None: no figure).

    A split pair's ``copyProgressRate`` is the share of blocks identical on both volumes; a pair suspended
    by a failure (PSUE) is resynchronized with a full copy, so all of it may differ."""
    rate = 0 if pair.get("state") == "suspended_error" else pair.get("progress")
    if rate is not None and int(rate) >= 100:
        return 0
    pvol = pair.get("pvol")
    capacity = capacities.get(pvol) if pvol is not None else None
    return differing_bytes_at_most(rate, capacity) if capacity else None


def _overwrite(item: dict[str, t.Any], action: Action, pairs: list[dict[str, t.Any]],
               capacities: dict[int, int]) -> Action:
    """``action`` (a resync or restore) with what it overwrites on the pairs it acts on, and the bound."""
    side, key = ("P-VOL", "pvol") if action.name == "restore" else ("S-VOL", "svol")
    bounds = {str(p.get("pair_name")): (p.get(key), differing_bytes(p, capacities))
              for p in pairs if p.get("state") in DIVERGED}
    known = [b for _ldev, b in bounds.values() if b is not None]
    at_most = sum(known) if len(known) == len(bounds) else None
    if item.get("pair_name"):
        ldev = pairs[0].get(key) if pairs else None
        return Action(action.name, action.args, overwrites=f"the {side} (LDEV {ldev})", at_most=at_most,
                      details=action.details, rereads=action.rereads)
    shown = [f"{name} (LDEV {ldev}, {'no figure from the array' if b is None else f'up to {b} bytes'})"
             for name, (ldev, b) in bounds.items() if b != 0]
    listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    return Action(action.name, action.args, overwrites=f"the {side}s of {listed}", at_most=at_most,
                  details=dict(action.details, differing_bytes_by_pair={n: b for n, (_l, b) in bounds.items()}),
                  rereads=action.rereads)


def guarded(item: dict[str, t.Any], actions: list[Action], pairs: list[dict[str, t.Any]],
            capacities: dict[int, int]) -> list[Action]:
    """The plan with its resync and restore measured for the engine's data-loss guard (``guard``)."""
    return [_overwrite(item, a, pairs, capacities) if a.name in ("resync", "restore") else a for a in actions]


def overwritten_ldevs(item: dict[str, t.Any], current: t.Any, history: t.Any) -> list[int]:
    """The P-VOLs whose capacity the guard needs: those of the pairs a resync or restore of the item would
    overwrite with a share of blocks differing (none when the item allows data loss or the plan fails)."""
    if item.get("allow_data_loss") or item.get("state") != "present" or not current:
        return []
    try:
        if item.get("pair_name"):
            names = _pair_steps(item, current, history, False)
        else:
            names = _group_steps(item, current, history)
    except ReplicationError:
        return []
    if not {"resync", "restore"} & set(names):
        return []
    pairs = current if isinstance(current, list) else [current]
    return [p["pvol"] for p in pairs if p.get("state") in DIVERGED and p.get("pvol") is not None and
            differing_bytes(p, {}) != 0]


def _listing(pairs: list[dict[str, t.Any]], limit: int = 5) -> str:
    shown = ", ".join(f"{p['pair_name']} is {p['pvol_status']}/{p['svol_status']}" for p in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def predict_pair(before: dict[str, t.Any] | None, item: dict[str, t.Any], actions: list[str],
                 svol: int | None = None) -> dict[str, t.Any] | None:
    """The facts a check-mode run expects after applying ``actions``."""
    if item.get("state") == "absent":
        return None
    if before is not None and not actions:
        return before
    after = dict(before or {"copy_group": item["copy_group"], "pair_name": item["pair_name"], "pvol": item["pvol"],
                            "svol": svol, "mu_number": item.get("mu_number"),
                            "consistency_group": item.get("consistency_group"), "healthy": True, "progress": None,
                            "lag_seconds": None, "recovery_point": None})
    state = desired_state(item)
    after.update({"state": state, "pvol_status": STATUSES[state][0], "svol_status": STATUSES[state][1],
                  "healthy": True, "transferring": False})
    return after


def diff_view(facts: t.Any) -> dict[str, t.Any]:
    return pairs_diff_view(facts, DIFF_KEYS)


def group_view(copy_group: str, copy_group_id: str | None, pairs: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Facts of a copy group as a whole: its pairs, and their common state (``mixed`` when they differ)."""
    parts = split_id(copy_group_id) if copy_group_id else [copy_group, None, None]
    states = {p.get("state") for p in pairs}
    return {"copy_group": copy_group, "copy_group_id": copy_group_id, "pvol_device_group": parts[1],
            "svol_device_group": parts[2], "pair_count": len(pairs),
            "state": (states.pop() if len(states) == 1 else "mixed") if pairs else None,
            "healthy": all(p.get("healthy") for p in pairs), "transferring": any(p.get("transferring") for p in pairs),
            "pairs": pairs}


def predict(item: dict[str, t.Any], before: t.Any, actions: list[str]) -> t.Any:
    """What a check-mode run expects after ``actions``: a pair's facts, or the facts of every pair of a group."""
    if item.get("pair_name"):
        svol = item["svol"]
        return predict_pair(before, item, actions, svol.get("ldev_id") if isinstance(svol, dict) else svol)
    if item["state"] == "absent":
        return []
    if not actions:
        return before
    return [predict_pair(p, dict(item, pair_name=p["pair_name"]), actions) for p in before]


def describe(value: t.Any) -> t.Any:
    """The status of a pair (or of every pair of a group) as a failure or timeout shows it."""
    return describe_pairs(value, describe_pair)


def listing(value: t.Any) -> str:
    """The status of a pair, or of the pairs of a group, in words."""
    if isinstance(value, list):
        return _listing(value) if value else "the copy group has no pairs"
    return describe_pair(value)


# what the read tells about an item -----------------------------------------------------------------
def check_device_groups(item: dict[str, t.Any], copy_group_id: str | None) -> None:
    """Device groups given for an existing copy group must be its own: they cannot be renamed here."""
    cg = item["copy_group"]
    given = item.get("pvol_device_group") or item.get("svol_device_group")
    if item["state"] != "present" or not copy_group_id or not given:
        return
    parts = split_id(copy_group_id)
    wanted = split_id(group_id(cg, item.get("pvol_device_group"), item.get("svol_device_group")))
    if (item.get("pvol_device_group") and wanted[1] != parts[1]) or \
            (item.get("svol_device_group") and wanted[2] != parts[2]):
        raise ReplicationError(f"copy group {cg} exists with device groups {parts[1]} (P-VOLs) and {parts[2]} "
                               "(S-VOLs), not the ones given; device groups cannot be renamed here")


def needs_history(item: dict[str, t.Any], current: t.Any) -> bool:
    """Whether deciding a restore needs the array's job history (a pair in PAIR, or split after a restore)."""
    if not item.get("restore") or item["state"] != "present" or not current:
        return False
    states = {p["state"] for p in current} if isinstance(current, list) else {current["state"]}
    return "paired" in states or (states <= {"split", "copying"} and desired_state(item) == "split")


def is_create(item: dict[str, t.Any], current: t.Any) -> bool:
    """Whether the plan of an item creates its pair (so its volumes and pool have to be read and checked)."""
    return bool(item.get("pair_name")) and item["state"] == "present" and current is None and \
        item.get("pvol") is not None and item.get("svol") is not None and not item.get("restore")


def check_create(item: dict[str, t.Any], ldevs: dict[int, dict[str, t.Any]],
                 pools: dict[int, dict[str, t.Any] | None], claims: dict[int, int], where: str,
                 owner_of: t.Callable[[int], dict[str, t.Any] | None]) -> bool:
    """Whether a new pair's S-VOL has to be created in its pool; raises what is wrong with its volumes or pool.

    ``claims`` are the bytes the S-VOLs of earlier items of the run take from each pool (this item's are added);
    ``owner_of`` names the pair an LDEV is in, to explain a refusal."""
    name = item_name(item)
    pvol = ldevs.get(item["pvol"])
    if not ldev_defined(pvol):
        raise ReplicationError(f"{name}: the P-VOL, LDEV {item['pvol']}, is not defined on {where} "
                               "(emulationType NOT DEFINED)")
    pvol = t.cast("dict[str, t.Any]", pvol)
    svol = item["svol"]
    if not isinstance(svol, dict):
        record = ldevs.get(svol)
        if not ldev_defined(record):
            raise ReplicationError(f"{name}: the S-VOL, LDEV {svol}, is not defined on {where} "
                                   "(emulationType NOT DEFINED)")
        _check_svol(name, item["pvol"], pvol, svol, t.cast("dict[str, t.Any]", record), owner_of)
        return False
    pool = pools.get(svol["pool_id"])
    if pool is None:
        raise ReplicationError(f"{name}: pool {svol['pool_id']} for the new S-VOL does not exist on {where}")
    existing = ldevs.get(svol["ldev_id"]) if svol.get("ldev_id") is not None else None
    if ldev_defined(existing):
        _check_svol(name, item["pvol"], pvol, svol["ldev_id"], t.cast("dict[str, t.Any]", existing), owner_of)
        return False  # a leftover of an earlier run, or made by hand: used as it is
    used = pvol.get("numOfUsedBlock")
    need = (int(used) if used is not None else ldev_size(pvol)) * 512
    free = pool.get("availableVolumeCapacity")
    earlier = claims.get(svol["pool_id"], 0)
    if free is not None and int(free) * 1024 * 1024 < earlier + need:
        others = f" after {earlier // (1024 * 1024)} MiB for the other S-VOLs of this task" if earlier else ""
        raise ReplicationError(
            f"{name}: pool {svol['pool_id']} ({pool.get('poolName')}) has {int(free)} MiB available; the S-VOL "
            f"of P-VOL LDEV {item['pvol']} needs {-(-need // (1024 * 1024))} MiB (the P-VOL's used "
            f"capacity){others}")
    claims[svol["pool_id"]] = earlier + need
    return True


def _check_svol(name: str, pvol_id: int, pvol: dict[str, t.Any], svol_id: int, svol: dict[str, t.Any],
                owner_of: t.Callable[[int], dict[str, t.Any] | None]) -> None:
    psize, ssize = ldev_size(pvol), ldev_size(svol)
    if ssize != psize:
        relation = "smaller" if ssize < psize else "larger"
        raise ReplicationError(
            f"{name}: the S-VOL, LDEV {svol_id} ({ssize} blocks, {svol.get('byteFormatCapacity')}), is {relation} "
            f"than the P-VOL, LDEV {pvol_id} ({psize} blocks, {pvol.get('byteFormatCapacity')}); a ShadowImage "
            "S-VOL must be exactly the P-VOL's size", pvol_blocks=psize, svol_blocks=ssize)
    if "MRCF" in (svol.get("attributes") or []):
        owner = owner_of(svol_id)
        raise ReplicationError(f"{name}: the S-VOL, LDEV {svol_id}, is already in a ShadowImage pair"
                               + (f" ({owner['copy_group']}/{owner['pair_name']}, {owner['pvol']} -> "
                                  f"{owner['svol']}, {owner['pvol_status']}/{owner['svol_status']})" if owner else "")
                               + "; choose another S-VOL or delete that pair first", in_pair=owner)
