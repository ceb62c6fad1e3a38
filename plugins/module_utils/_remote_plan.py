"""Remote copy pairs (TC, UR, GAD): the items of a run, and the pure plan of each.

``plan()`` takes one item (a pair, or a copy group as a whole) and what the read observed
and returns the ordered actions. The plan works in two directions: ``forward`` (the
primary's volume is the P-VOL, as declared) and ``reversed`` (after a swap). It first
brings the pair to mirroring without losing the side production writes to (the P-VOL of
a split or suspended pair: ``resync``; an S-VOL made writable by a swap split or a
takeover, SSWS: ``swap_resync``, which keeps the S-VOL's data and reverses the
direction), then swaps when the direction is not the declared one (``swap_split`` from
mirroring, then ``swap_resync``: nothing differs, nothing is lost), then splits for
``pair_state: split``. ``takeover`` makes the secondary's volume writable with the
array's takeover, sent to the secondary only, so it works with the primary down.

Data-loss guard: a resync or swap resync of a pair whose volumes differ overwrites
whatever was written to the side it copies onto. The array reports how much of the
volumes differs (``copyProgressRate``) but not which side was written, so the action
carries that bound (``at_most``) and the engine refuses it unless ``allow_data_loss``.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items, differing_bytes_at_most
from ._remote_client import FENCE_LEVELS, TYPES, describe_pair
from ._vsp import MAX_LDEV_ID, check_name
from ._vsp_pairs import describe_pairs, int_in, pairs_diff_view

ITEM_KEYS = ("copy_group", "pair_name", "pvol", "svol", "replication_type", "state", "pair_state", "takeover",
             "allow_data_loss", "mu_number", "fence_level", "pvol_journal_id", "svol_journal_id", "quorum_disk_id",
             "path_group_id", "copy_pace")
PAIR_ONLY_KEYS = ("pvol", "svol", "mu_number", "pvol_journal_id", "svol_journal_id", "quorum_disk_id",
                  "path_group_id", "fence_level")
DIFF_KEYS = ("state", "direction", "pvol_status", "svol_status", "pvol", "svol", "replication_type", "fence_level")
#: states in which the P-VOL holds the data production wrote last (a resync copies it over the S-VOL)
DIVERGED = ("split", "swapped_split", "suspended_error")
#: states in which the S-VOL is writable (SSWS): a swap resync keeps its data
WRITABLE_SVOL = ("svol_writable", "pvol_writable")
REVERSED = ("swapped", "swapped_split", "pvol_writable")
DONE = {"paired": ("paired",), "split": ("split",), "swapped": ("swapped",),
        "taken_over": ("svol_writable", "swapped", "swapped_split")}
STATUSES = {"paired": ("PAIR", "PAIR", "forward"), "split": ("PSUS", "SSUS", "forward"),
            "swapped": ("PAIR", "PAIR", "reversed"), "taken_over": ("PSUS", "SSWS", "forward")}

Key = t.Tuple[str, t.Optional[str], t.Optional[int]]


@dataclasses.dataclass
class Observed:
    """What the read found for one item: the pair's facts (every pair's for a copy group; None: no pair),
    whether the primary array answered, its copy group's record, the P-VOLs' bytes (for the guard) and what
    makes the item impossible (its plan raises it)."""

    facts: t.Any
    primary_down: bool = False
    group: dict[str, t.Any] | None = None
    capacities: dict[int, int] = dataclasses.field(default_factory=dict)
    refusal: ReplicationError | None = None


# items ---------------------------------------------------------------------------------------------
def item_key(item: dict[str, t.Any]) -> Key:
    return item["copy_group"], item.get("pair_name") or None, None if item.get("pair_name") else item.get("pvol")


def item_name(item: dict[str, t.Any]) -> str:
    if item.get("pair_name"):
        return f"{item['copy_group']}/{item['pair_name']}"
    if item.get("pvol") is not None:
        return f"{item['copy_group']}/ldev{item['pvol']}"
    return str(item["copy_group"])


def is_group(item: dict[str, t.Any]) -> bool:
    return not item.get("pair_name") and item.get("pvol") is None


def target(item: dict[str, t.Any]) -> str:
    return "taken_over" if item.get("takeover") else item.get("pair_state") or "paired"


def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request."""
    group = item.get("copy_group")
    problem = check_name("copy_group", group, 31)
    if problem:
        raise ReplicationError(problem)
    if item.get("pair_name") is not None:
        problem = check_name("pair_name", item["pair_name"], 31)
        if problem:
            raise ReplicationError(problem)
    name = item_name(item)
    kind = item.get("replication_type")
    if kind is not None and kind not in TYPES:
        raise ReplicationError(f"{name}: replication_type must be one of {', '.join(TYPES)}, not {kind!r}")
    if kind is None and item["state"] == "present":
        raise ReplicationError(f"{name}: replication_type (TC, UR or GAD) is required; it is part of the pair's "
                               "identity (an existing pair of another type is an error, not changed)")
    if is_group(item):
        given = [k for k in PAIR_ONLY_KEYS if item.get(k) is not None]
        if given:
            raise ReplicationError(f"{', '.join(given)} given without pvol or pair_name: name the pair to create it; "
                                   f"without them the task acts on every pair of copy group {group}")
    for key in ("pvol", "svol"):
        item[key] = int_in(key, item.get(key), 0, MAX_LDEV_ID, " (an LDEV id)")
    int_in("mu_number", item.get("mu_number"), 0, 3, " (remote copy MU numbers)")
    int_in("copy_pace", item.get("copy_pace"), 1, 15, " (1 is slowest, 15 fastest)")
    int_in("path_group_id", item.get("path_group_id"), 0, 255, " (a remote path group)")
    for key in ("pvol_journal_id", "svol_journal_id"):
        int_in(key, item.get(key), 0, 255, " (a journal id)")
        if item.get(key) is not None and kind not in (None, "UR"):
            raise ReplicationError(f"{name}: {key} is for Universal Replicator (UR) pairs, not {kind}")
    int_in("quorum_disk_id", item.get("quorum_disk_id"), 0, 31, " (a quorum disk id)")
    if item.get("quorum_disk_id") is not None and kind not in (None, "GAD"):
        raise ReplicationError(f"{name}: quorum_disk_id is for global-active device (GAD) pairs, not {kind}")
    fence = item.get("fence_level")
    if fence is not None and kind is not None and fence not in FENCE_LEVELS[kind]:
        raise ReplicationError(f"{name}: fence_level {fence} is not one of {kind}: {', '.join(FENCE_LEVELS[kind])}")
    if item.get("takeover"):
        if item["state"] == "absent":
            raise ReplicationError(f"{name}: takeover and state=absent contradict each other")
        if item.get("pair_state") is not None:
            raise ReplicationError(f"{name}: takeover makes the secondary's volume writable (SSWS, or swapped); "
                                   "leave pair_state out, it says another target")


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``pairs`` list, or the single pair (or copy group) of the top-level options."""
    items = declared_items(params, "pairs", ITEM_KEYS)
    seen: dict[Key, str] = {}
    for item in items:
        item["takeover"] = bool(item.get("takeover"))
        validate_item(item)
        key, name = item_key(item), item_name(item)
        if key in seen:
            raise ReplicationError(f"{name} is listed twice")
        seen[key] = name
    for side in ("pvol", "svol"):
        used: dict[int, str] = {}
        for item in items:
            ldev = item.get(side)
            if ldev is not None and ldev in used:
                raise ReplicationError(f"LDEV {ldev} is the {side} of both {used[ldev]} and {item_name(item)}")
            if ldev is not None:
                used[ldev] = item_name(item)
    groups = {k[0] for k in seen if k[1] is None and k[2] is None}
    mixed = sorted(g for g in groups if any(k[0] == g and (k[1] or k[2] is not None) for k in seen))
    if mixed:
        raise ReplicationError(f"copy group {mixed[0]} is listed as a whole and by pair in the same task; "
                               "use two tasks so the order is clear")
    return items


# identity ------------------------------------------------------------------------------------------
def check_identity(item: dict[str, t.Any], current: dict[str, t.Any]) -> None:
    """An existing pair with another volume, type, journal, quorum disk, MU or fence level is not the declared
    one: an error, never a no-op (and never deleted)."""
    wrong = []
    for key, label in (("replication_type", "type"), ("pvol", "P-VOL"), ("svol", "S-VOL"), ("mu_number", "MU"),
                       ("fence_level", "fence level"), ("pvol_journal_id", "P-VOL journal"),
                       ("svol_journal_id", "S-VOL journal"), ("quorum_disk_id", "quorum disk")):
        want, have = item.get(key), current.get(key)
        if want is not None and have is not None and want != have:
            wrong.append(f"{label} {have} (not {want})")
    if not wrong:
        return
    name = item_name(item)
    if item["state"] == "absent":
        raise ReplicationError(f"pair {name} exists with {', '.join(wrong)}: not the pair the task declares, so it "
                               "is not deleted. Give its own values (or leave them out) to delete it", pair=current)
    raise ReplicationError(f"pair {name} exists with {', '.join(wrong)}; these cannot change on an existing pair. "
                           "Delete it first (state=absent) to create it anew", pair=current)


def check_group(item: dict[str, t.Any], group: dict[str, t.Any] | None, secondary_sid: str | None) -> None:
    """The copy group must replicate to the declared remote array (and hold pairs of the declared type)."""
    if not group:
        return
    remote = group.get("remoteStorageDeviceId")
    if secondary_sid and remote not in (None, "NotSpecified", secondary_sid):
        raise ReplicationError(f"copy group {item['copy_group']} replicates to storage system {remote}, not to "
                               f"remote_array {secondary_sid}; it is another copy group than the one declared")


# planning ------------------------------------------------------------------------------------------
def _wait(direction: str) -> Action:
    return Action("wait_paired" if direction == "forward" else "wait_swapped",
                  {"target": ["paired"] if direction == "forward" else ["swapped"]})


def _flip(direction: str) -> str:
    return "reversed" if direction == "forward" else "forward"


def _side(direction: str, role: str, pairs: list[dict[str, t.Any]]) -> str:
    """Which array's volume is the P-VOL (``role`` P) or S-VOL (S) in ``direction``, in words."""
    primary = (direction == "forward") == (role == "P")
    key = "pvol" if primary else "svol"
    ldevs = ", ".join(str(p.get(key)) for p in pairs[:5]) + (" ..." if len(pairs) > 5 else "")
    return f"the {'primary' if primary else 'secondary'} array's volume{'s' if len(pairs) > 1 else ''} (LDEV {ldevs})"


def _measured(name: str, args: dict[str, t.Any], direction: str, role: str, pairs: list[dict[str, t.Any]],
              capacities: dict[int, int]) -> Action:
    """A resync or swap resync with what it overwrites (the side ``role`` in ``direction``) and the bound."""
    bounds = []
    for pair in pairs:
        rate = pair.get("progress")
        capacity = capacities.get(pair.get("pvol")) if pair.get("pvol") is not None else None
        bounds.append(0 if rate is not None and int(rate) >= 100 else
                      differing_bytes_at_most(rate, capacity) if capacity else None)
    at_most = None if None in bounds else sum(t.cast("list[int]", bounds))
    details = {"differing_bytes_by_pair": {p.get("pair_name"): b for p, b in zip(pairs, bounds)}} \
        if len(pairs) > 1 else {}
    return Action(name, dict(args, verb=name.replace("_", " ")), overwrites=_side(direction, role, pairs),
                  at_most=at_most, details=details)


def steps_for(item: dict[str, t.Any], state: str, direction: str, pairs: list[dict[str, t.Any]],
              capacities: dict[int, int], primary_down: bool = False) -> list[Action]:
    """From an existing pair's state (every pair of a group in the same one) to the item's target."""
    goal = target(item)
    if state in DONE[goal] or (goal == "taken_over" and direction == "reversed" and state == "suspended_error"):
        return []
    if state == "copying":
        settled = ["paired", "swapped", "split", "swapped_split", "suspended_error", "svol_writable", "pvol_writable"]
        return [Action("wait_settled", {"replan": True, "target": settled})]
    if goal == "taken_over":
        # the takeover is sent to the secondary only; with the primary down the array splits at once
        return [Action("takeover", {"mode": "forceSplit" if primary_down else "auto"}),
                Action("wait_taken_over", {"target": list(DONE["taken_over"])})]
    if state not in DIVERGED + WRITABLE_SVOL + ("paired", "swapped"):
        raise ReplicationError(f"{item_name(item)} is {listing(pairs)}, a status this module does not act on; wait "
                               "until it settles or look at the arrays")
    want = "reversed" if goal == "swapped" else "forward"
    out: list[Action] = []
    if state in WRITABLE_SVOL:
        # production writes to the S-VOL (SSWS): the swap resync keeps them and copies them over the P-VOL side
        out += [_measured("swap_resync", {"swap": True}, direction, "P", pairs, capacities), _wait(_flip(direction))]
        direction = _flip(direction)
    elif state in DIVERGED:
        out += [_measured("resync", {}, direction, "S", pairs, capacities), _wait(direction)]
    if direction != want:
        out += [Action("swap_split", {"swap": True}),
                Action("wait_swap_split", {"target": ["svol_writable" if direction == "forward" else "pvol_writable"]}),
                Action("swap_resync", {"swap": True, "verb": "swap resync"}), _wait(want)]
    if goal == "split":
        out += [Action("split"), Action("wait_split", {"target": ["split"]})]
    return out


def plan(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    """The ordered actions that take the item from what was observed to what it declares (pure)."""
    if observed.refusal is not None:
        raise observed.refusal
    name = item_name(item)
    facts = observed.facts
    if observed.primary_down and not item.get("takeover"):
        raise ReplicationError(f"{name}: the primary array does not answer; only a takeover on the secondary "
                               "works now (takeover: true makes the secondary's volume writable)")
    if is_group(item):
        return _group_plan(item, facts or [], observed)
    if item["state"] == "absent":
        if facts is None:
            return []
        check_identity(item, facts)
        return [Action("delete", rereads=False), Action("wait_deleted")]
    if facts is None:
        return _create_plan(item, observed)
    check_identity(item, facts)
    return steps_for(item, facts["state"], facts["direction"], [facts], observed.capacities, observed.primary_down)


def _create_plan(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    name = item_name(item)
    if item.get("takeover"):
        raise ReplicationError(f"cannot take over {name}: the pair does not exist")
    if item.get("pvol") is None or item.get("svol") is None:
        raise ReplicationError(f"pair {name} does not exist; give pvol and svol to create it")
    new_group = observed.group is None
    if new_group and len(item["copy_group"]) > 29:
        raise ReplicationError(f"copy_group {item['copy_group']!r} is {len(item['copy_group'])} characters long; "
                               "the array allows at most 29 for a new copy group")
    kind = item["replication_type"]
    if kind == "UR" and new_group and (item.get("pvol_journal_id") is None or item.get("svol_journal_id") is None):
        raise ReplicationError(f"{name}: a new Universal Replicator copy group needs pvol_journal_id and "
                               "svol_journal_id (the master journal on the primary, the restore journal on the "
                               "secondary)")
    if kind == "GAD" and item.get("quorum_disk_id") is None:
        raise ReplicationError(f"{name}: a global-active device pair needs quorum_disk_id")
    out = [Action("create", {"new_group": new_group}), _wait("forward")]
    return out + steps_for(item, "paired", "forward", [], {})


def _group_plan(item: dict[str, t.Any], pairs: list[dict[str, t.Any]], observed: Observed) -> list[Action]:
    name = item["copy_group"]
    if item["state"] == "absent":
        for pair in pairs:
            check_identity(item, pair)
        return [Action("delete", rereads=False), Action("wait_deleted")] if pairs else []
    if not pairs:
        raise ReplicationError(f"copy group {name} does not exist; name its pairs (pvol, svol) to create them")
    for pair in pairs:
        check_identity(item, pair)
    states = {(p["state"], p["direction"]) for p in pairs}
    if any(s == "copying" for s, _d in states):
        return steps_for(item, "copying", "forward", pairs, observed.capacities)
    if len(states) > 1 and not item.get("takeover"):
        raise ReplicationError(f"copy group {name}: {listing(pairs)}; its pairs are in different states, so one "
                               "request for the whole group cannot bring them to one. Act on them by pvol or "
                               "pair_name first")
    state, direction = sorted(states)[0]
    return steps_for(item, state, direction, pairs, observed.capacities, observed.primary_down)


def needs_capacity(item: dict[str, t.Any], facts: t.Any) -> list[int]:
    """The primary's LDEVs whose bytes the guard needs (pairs that differ and could be overwritten)."""
    if item.get("allow_data_loss") or item["state"] != "present" or not facts or item.get("takeover"):
        return []
    pairs = facts if isinstance(facts, list) else [facts]
    return [p["pvol"] for p in pairs if p.get("state") in DIVERGED + WRITABLE_SVOL and p.get("pvol") is not None
            and (p.get("progress") is None or int(p["progress"]) < 100)]


# views ---------------------------------------------------------------------------------------------
def listing(value: t.Any, limit: int = 5) -> str:
    if not isinstance(value, list):
        return describe_pair(value)
    if not value:
        return "the copy group has no pairs"
    shown = ", ".join(f"{p.get('pair_name')} is {describe_pair(p)}" for p in value[:limit])
    return shown + (f" and {len(value) - limit} more" if len(value) > limit else "")


def describe(value: t.Any) -> t.Any:
    return describe_pairs(value, describe_pair)


def diff_view(facts: t.Any) -> dict[str, t.Any]:
    return pairs_diff_view(facts, DIFF_KEYS)


def predict_pair(before: dict[str, t.Any] | None, item: dict[str, t.Any], actions: list[Action],
                 pair_name: str | None = None) -> dict[str, t.Any] | None:
    """The facts a check-mode run expects after ``actions``."""
    if item["state"] == "absent":
        return None
    if before is not None and not actions:
        return before
    after = dict(before or {"copy_group": item["copy_group"], "pair_name": pair_name, "pvol": item.get("pvol"),
                            "svol": item.get("svol"), "replication_type": item.get("replication_type"),
                            "fence_level": item.get("fence_level") or FENCE_LEVELS[item["replication_type"]][0],
                            "mu_number": item.get("mu_number"), "progress": None, "journal": None,
                            "lag_seconds": None, "recovery_point": None})
    goal = target(item)
    if goal == "taken_over":
        take = next((a for a in actions if a == "takeover"), None)
        if take is None:
            return after
        if take.args.get("mode") == "auto" and (before or {}).get("state") == "paired":
            goal = "swapped"  # with the primary up, the array copies the journal and swaps
    pstat, sstat, direction = STATUSES[goal]
    reversed_ = direction == "reversed"
    after.update({"state": "svol_writable" if goal == "taken_over" else goal, "pvol_status": pstat,
                  "svol_status": sstat, "direction": direction, "in_sync": pstat == "PAIR",
                  "primary_status": sstat if reversed_ else pstat, "secondary_status": pstat if reversed_ else sstat,
                  "healthy": True, "transferring": False})
    return after


def predict(item: dict[str, t.Any], before: t.Any, actions: list[Action], pair_name: str | None) -> t.Any:
    if not is_group(item):
        return predict_pair(before, item, actions, pair_name)
    if item["state"] == "absent":
        return []
    if not actions:
        return before
    return [predict_pair(p, item, actions) for p in before or []]
