"""SMI-S synchronizations: items, the pure plan, and what a check-mode run predicts.

``plan()`` is pure: from a pair's current facts (``sync_facts``) and the desired
item it returns the ordered actions (``["resync", "wait_synchronized", "split",
"wait_split"]``). Idempotency keys on CopyState (never on the legacy SyncState
alone) and, for events whose end state is their start state (a resync of a clone,
Start Copy, a restore that returns the pair to idle), on the age of the pair's
last sync point (WhenSynced) against ``max_lag``. Which service and operation
carry out each action is chosen afterwards from the provider's capabilities
(``_smis_ops``).

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._common import ReplicationError
from ._engine import Action, actions_of, declared_items
from ._smis import (COPY_STATES, LEGACY_OPERATIONS, MODE_VALUES, OPERATIONS, STATE_NAMES, SYNC_TYPE_VALUES,
                    UNHEALTHY_COPY_STATES, op_label)

ITEM_KEYS = ("source", "target", "state", "sync_state", "sync_type", "mode", "interface", "resync", "max_lag",
             "restore", "start_copy", "stop_copy", "reverse", "operation", "create_target")
TARGET_STATES = {"synchronized": 4, "fractured": 6, "split": 7, "suspended": 9, "failed_over": 10}
STATE_OPS = {6: "fracture", 7: "split", 9: "suspend", 10: "failover"}
WAITS = {4: "wait_synchronized", 6: "wait_fractured", 7: "wait_split", 9: "wait_suspended", 10: "wait_failed_over"}
INTERFACES = ("auto", "replication_service", "configuration_service")
# action -> (ModifyReplicaSynchronization operation, legacy ModifySynchronization operation)
ACTION_OPS: dict[str, tuple[int | None, int | None]] = {
    "resync": (14, 4), "restore": (15, 5), "fracture": (12, 3), "split": (21, None), "suspend": (22, None),
    "resume": (16, None), "activate": (4, None), "failover": (10, None), "failback": (11, None),
    "reverse": (20, None), "detach": (8, 2), "dissolve": (9, None), "stop_copy": (2, 13), "start_copy": (None, 12),
    "reset_to_sync": (17, 10), "reset_to_async": (18, 11),
}
# the CopyState an action leaves the pair in; None: the pair ends
ACTION_RESULTS: dict[str, int | None] = {
    "create": 4, "resync": 4, "resume": 4, "failback": 4, "activate": 4, "start_copy": 4, "fracture": 6, "split": 7,
    "suspend": 9, "failover": 10, "restore": 18, "detach": None, "dissolve": None, "stop_copy": 12}
# operation: -> the CopyState it leads to (an operation whose result the pair already shows is not repeated)
OP_RESULTS = {4: 4, 7: 8, 10: 10, 11: 4, 12: 6, 14: 4, 16: 4, 21: 7, 22: 9}
LEGACY_OP_RESULTS = {3: 6}
OP_ENDS_PAIR = (8, 9, 19)
LEGACY_OP_ENDS_PAIR = (2, 13)
WAIT_TARGETS: dict[str, tuple[int, ...] | None] = {
    "wait_synchronized": (4,), "wait_copied": (4,), "wait_fractured": (6,), "wait_split": (7,),
    "wait_suspended": (9,), "wait_failed_over": (10,), "wait_restored": None, "wait_idle": None,
    "wait_stopped": None}
SNAPSHOT_SYNCED = (4, 8)  # HPE 3PAR reports an idle virtual copy as Inactive (8)
DIFF_KEYS = ("source", "target", "state", "copy_state", "sync_type", "mode", "healthy")
DESCRIBED = ("state", "copy_state", "progress_status", "progress", "healthy")
RERUN = "The array carries on; rerun the task: it reads the synchronization's state and continues from there"


# items ---------------------------------------------------------------------------------------------
def item_name(item: dict[str, t.Any]) -> str:
    return f"{item.get('source')} -> {item.get('target')}"


def event_of(item: dict[str, t.Any]) -> str | None:
    for key in ("restore", "start_copy", "stop_copy"):
        if item.get(key):
            return key
    return "operation" if item.get("operation") is not None else None


def create_mode(item: dict[str, t.Any]) -> str | None:
    """The Mode a new synchronization is created with: as given, else sync for mirrors, async for clones.

    Async clones stay associated with their source on providers that tie association to the mode (an HPE
    3PAR synchronous clone detaches itself once copied), so a rerun finds them.
    """
    if item.get("mode"):
        return str(item["mode"])
    return {"mirror": "sync", "clone": "async"}.get(item.get("sync_type") or "mirror")


def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request."""
    for key in ("source", "target"):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ReplicationError(f"{key} is required (an ElementName or DeviceID of a volume)")
        item[key] = value.strip()
    name = item_name(item)
    if item["source"] == item["target"]:
        raise ReplicationError(f"{name}: source and target are the same volume ({item['source']})")
    interface = item.get("interface") or "auto"
    if interface not in INTERFACES:
        raise ReplicationError(f"{name}: interface must be one of {', '.join(INTERFACES)}")
    item["interface"] = interface
    if item.get("sync_state") is not None and item["sync_state"] not in TARGET_STATES:
        raise ReplicationError(f"{name}: sync_state must be one of {', '.join(TARGET_STATES)}")
    if item.get("sync_type") is not None and item["sync_type"] not in SYNC_TYPE_VALUES:
        raise ReplicationError(f"{name}: sync_type must be one of {', '.join(SYNC_TYPE_VALUES)}")
    if item.get("mode") is not None and item["mode"] not in MODE_VALUES:
        raise ReplicationError(f"{name}: mode must be sync or async")
    events = [k for k in ("restore", "start_copy", "stop_copy") if item.get(k)]
    if item.get("operation") is not None:
        events.append("operation")
    if item.get("state") == "absent":
        given = [k for k in ("sync_state", "mode", "resync", "max_lag", "reverse") if item.get(k)] + events
        if given:
            raise ReplicationError(f"{name}: {', '.join(given)} only apply to state=present")
        return
    _validate_event(item, name, interface, events)


def _validate_event(item: dict[str, t.Any], name: str, interface: str, events: list[str]) -> None:
    if len(events) > 1:
        raise ReplicationError(f"{name}: {' and '.join(events)} are separate events; give one per task")
    if events:
        others = [k for k in ("sync_state", "reverse", "resync", "mode") if item.get(k)]
        if others:
            raise ReplicationError(f"{name}: {events[0]} is an event of its own and cannot be combined with "
                                   f"{', '.join(others)} (its result would be undone, so a rerun would repeat it)")
    if item.get("max_lag") is not None and item["max_lag"] < 0:
        raise ReplicationError(f"{name}: max_lag must be zero or more seconds")
    if item.get("max_lag") is not None and events and events[0] in ("stop_copy", "operation"):
        raise ReplicationError(f"{name}: max_lag applies to resync, restore and start_copy, not to {events[0]}")
    operation = item.get("operation")
    if operation is None:
        return
    if interface == "auto":
        raise ReplicationError(
            f"{name}: operation {operation} needs interface replication_service or configuration_service: "
            "the two services number their operations differently (12 is Fracture for "
            "ModifyReplicaSynchronization and Start Copy for ModifySynchronization)")
    if interface == "configuration_service" and operation not in LEGACY_OPERATIONS:
        raise ReplicationError(f"{name}: operation {operation} is not a ModifySynchronization operation "
                               "(2 to 13: 2 Detach, 3 Fracture, 4 Resync, 5 Restore, ..., 12 Start Copy, "
                               "13 Stop Copy)")
    if interface == "replication_service" and operation not in OPERATIONS and not 0x8000 <= operation <= 0xFFFF:
        raise ReplicationError(f"{name}: operation {operation} is not a ModifyReplicaSynchronization operation "
                               "(2 to 27, or a vendor value from 32768 to 65535)")


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``synchronizations`` list, or the single one of the top-level options."""
    items = declared_items(params, "synchronizations", ITEM_KEYS)
    for item in items:
        if item.get("create_target") is None:
            item["create_target"] = True
        validate_item(item)
    seen: set[str] = set()
    targets: set[str] = set()
    for item in items:
        pair = item_name(item)
        if pair in seen:
            raise ReplicationError(f"synchronization {pair} is listed twice")
        if item["target"] in targets:
            raise ReplicationError(f"target {item['target']} is listed twice (a volume is the target of one "
                                   "synchronization at most)")
        seen.add(pair)
        targets.add(item["target"])
    return items


# planning -----------------------------------------------------------------------------------------
class _Start(t.NamedTuple):
    """Where a plan starts: the steps so far, the CopyState they leave, the pair's kind and facts."""

    actions: list[str]
    state: int | None
    sync_type: str
    facts: dict[str, t.Any]
    fresh: bool  # this run creates the pair
    busy: bool  # a copy or restore runs now: it stands for the requested event


def _settle(pair: dict[str, t.Any]) -> tuple[list[str], int | None]:
    """Waits for what runs on a pair now, and the CopyState it will then be in."""
    state = pair.get("copy_state_value")
    if not pair.get("transferring"):
        return [], state
    if pair.get("progress_status_value") == 8:
        return ["wait_restored"], 18 if state in (6, 7) else state
    return ["wait_synchronized"], 4


def settled_state(pair: dict[str, t.Any]) -> int | None:
    """The CopyState a pair will be in once what runs on it now is done."""
    return _settle(pair)[1]


def plan(item: dict[str, t.Any], current: dict[str, t.Any] | None,
         opposite: dict[str, t.Any] | None = None) -> list[Action]:
    """The ordered actions that take the pair from ``current`` to ``item``; [] when nothing needs doing.

    ``current`` is the pair source -> target, ``opposite`` the pair target -> source
    (both ``sync_facts``, or None). Raises ReplicationError for what cannot be done.
    """
    if item.get("state") == "absent":
        pair = current or opposite
        if pair is None:
            return []
        if pair.get("transferring"):
            # the copy may end the pair by itself: what is left to do is planned once it settled
            return [Action("wait_idle", {"replan": True}), Action("detach", rereads=False)]
        return [Action("detach", rereads=False)]
    begun = _begin(item, current, opposite)
    if not isinstance(begun, _Start):
        return actions_of(begun)
    event = event_of(item)
    age = begun.facts.get("age_seconds")
    max_lag = item.get("max_lag")
    recent = max_lag is not None and age is not None and age <= max_lag
    if event == "restore":
        if begun.state == 18 or begun.busy or recent:
            return actions_of(begun.actions)
        return actions_of(begun.actions + ["restore", "wait_restored"])
    if event == "start_copy":
        if begun.busy or recent:
            return actions_of(begun.actions)
        return actions_of(begun.actions + ["start_copy", "wait_copied"])
    return actions_of(_converge(item, begun, recent))


def _begin(item: dict[str, t.Any], current: dict[str, t.Any] | None,
           opposite: dict[str, t.Any] | None) -> _Start | list[str]:
    """The pair a plan acts on (to be created when missing), or the whole plan of an event that needs no more."""
    name = item_name(item)
    event = event_of(item)
    legacy = item.get("interface") == "configuration_service"
    pair = current
    if pair is None and opposite is not None:
        if not item.get("reverse"):
            raise ReplicationError(
                f"{name}: the synchronization exists in the opposite direction ({item['target']} -> "
                f"{item['source']}); set reverse: true to swap its roles (Reverse Roles), or swap source and target")
        pair = opposite
    if pair is None:
        operation = item.get("operation")
        if event == "stop_copy" or (event == "operation" and operation in (
                LEGACY_OP_ENDS_PAIR if legacy else OP_ENDS_PAIR)):
            return []
        if event:
            what = f"operation {op_label(operation, legacy)}" if event == "operation" else event
            raise ReplicationError(f"{name}: there is no synchronization from {item['source']} to {item['target']} "
                                   f"for {what} to act on; create it first (state present without {event})")
        return _Start(["create", "wait_synchronized"], 4, item.get("sync_type") or "mirror", {}, True, False)
    sync_type = pair.get("sync_type") or "mirror"
    if item.get("sync_type") and item["sync_type"] != sync_type:
        raise ReplicationError(f"{name}: the synchronization is a {sync_type}, not a {item['sync_type']}; "
                               "remove it (state absent) to create another kind")
    if event == "stop_copy":
        return ["stop_copy", "wait_stopped"] if pair.get("transferring") else []
    if event == "operation":
        operation = item["operation"]
        result = (LEGACY_OP_RESULTS if legacy else OP_RESULTS).get(operation)
        if result is not None and pair.get("copy_state_value") == result and not pair.get("transferring"):
            return []
        return [f"operation_{operation}", "wait_idle"]
    settle, state = _settle(pair)
    return _Start(settle + (["reverse"] if pair is opposite else []), state, sync_type, pair, False, bool(settle))


def _converge(item: dict[str, t.Any], begun: _Start, recent: bool) -> list[str]:
    """The steps to the declared sync_state and mode, after those that ``begun`` holds."""
    name = item_name(item)
    actions = list(begun.actions)
    state = begun.state
    facts, sync_type = begun.facts, begun.sync_type
    synced = SNAPSHOT_SYNCED if sync_type == "snapshot" else (4,)
    max_lag = item.get("max_lag")
    mode_change = None
    if item.get("mode") and not begun.fresh and facts and facts.get("mode") != item["mode"]:
        if sync_type != "mirror":
            raise ReplicationError(f"{name}: the mode of a {sync_type} is chosen when it is created (this one is "
                                   f"{facts.get('mode')}); remove it (state absent) and create it again to change it")
        mode_change = f"reset_to_{item['mode']}"
    if sync_type in ("clone", "snapshot") and not begun.fresh and not begun.busy and state in synced:
        age = facts.get("age_seconds")
        refresh = not recent if item.get("resync") else max_lag is not None and (age is None or age > max_lag)
        if refresh:
            actions += ["resync", "wait_synchronized"]
    desired = TARGET_STATES.get(item.get("sync_state") or "")
    if desired is None and item.get("resync") and state not in synced:
        if state == 10:
            raise ReplicationError(f"{name}: the synchronization is failed over; set sync_state: synchronized to "
                                   "fail back (Failback copies what was written at the target back to the source)")
        desired = 4

    def reach_synced() -> None:
        nonlocal state
        if state in synced:
            return
        step = {9: "resume", 10: "failback", 8: "activate", 11: "activate"}.get(state or 0)
        if step is None and state in (5, 6, 7, 12, 18):
            step = "resync"
        if step is None:
            raise ReplicationError(f"{name}: cannot bring the synchronization from "
                                   f"{STATE_NAMES.get(state or 0, state)} to synchronized")
        actions.extend([step, "wait_synchronized"])
        state = 4

    def change_mode() -> None:
        nonlocal mode_change
        if mode_change and state in (3, 4):
            actions.extend([mode_change, "wait_synchronized"])
            mode_change = None

    if desired == 4:
        reach_synced()
    elif desired is not None and state != desired:
        if not (desired == 10 and state in (5, 6, 7, 9)):
            reach_synced()
            change_mode()
        actions.extend([STATE_OPS[desired], WAITS[desired]])
        state = desired
    change_mode()
    if mode_change:
        raise ReplicationError(f"{name}: the mode of a mirror can be changed only while it is synchronized (it is "
                               f"{STATE_NAMES.get(state or 0, state)}); set sync_state: synchronized first")
    return actions


def final_state(start: int | None, actions: t.Iterable[str], legacy: bool = False) -> int | None:
    """The CopyState the actions end in (None: the pair ends)."""
    state = start
    for action in actions:
        if action in ACTION_RESULTS:
            state = ACTION_RESULTS[action]
        elif action == "wait_synchronized" and state in (2, 3):
            state = 4
        elif action == "wait_restored" and state in (6, 7):
            state = 18
        elif action.startswith("operation_"):
            number = int(action.split("_", 1)[1])
            if number in (LEGACY_OP_ENDS_PAIR if legacy else OP_ENDS_PAIR):
                state = None
            else:
                state = (LEGACY_OP_RESULTS if legacy else OP_RESULTS).get(number, state)
    return state


def predict(before: dict[str, t.Any] | None, item: dict[str, t.Any], actions: list[str],
            src: dict[str, t.Any] | None = None, tgt: dict[str, t.Any] | None = None) -> dict[str, t.Any] | None:
    """The facts a check-mode run expects after applying ``actions`` (``src``/``tgt``: the resolved volumes)."""
    if item.get("state") == "absent":
        return None if actions else before
    if not actions:
        return before
    start = before.get("copy_state_value") if before else None
    state = final_state(start, actions, item.get("interface") == "configuration_service")
    if before is not None and state is None:
        return None
    if before is not None:
        after = dict(before)
    else:
        after = {"source": item["source"], "target": item["target"],
                 "source_device_id": (src or {}).get("device_id"), "target_device_id": (tgt or {}).get("device_id"),
                 "sync_type": item.get("sync_type") or "mirror", "mode": create_mode(item) or "sync",
                 "when_synced": None, "lag_seconds": None, "recovery_point": None}
    if "reverse" in actions:
        for one, other in (("source", "target"), ("source_device_id", "target_device_id")):
            after[one], after[other] = after.get(other), after.get(one)
    after.update(_state_facts(state))
    if item.get("mode") and any(a.startswith("reset_to_") for a in actions):
        after["mode"] = item["mode"]
    return after


def _state_facts(state: int | None) -> dict[str, t.Any]:
    return {"state": STATE_NAMES.get(state or 0, f"copy_state_{state}"), "copy_state_value": state,
            "copy_state": COPY_STATES.get(state or 0), "healthy": state not in UNHEALTHY_COPY_STATES,
            "transferring": False}


def diff_view(facts: dict[str, t.Any] | None) -> dict[str, t.Any]:
    return {k: facts.get(k) for k in DIFF_KEYS} if facts is not None else {}


def describe(facts: t.Any) -> t.Any:
    """A synchronization's state as a wait's failure or timeout shows it."""
    return {k: facts.get(k) for k in DESCRIBED} if facts else "synchronization not found"


def describe_job(job: t.Any) -> t.Any:
    """A job's state as a wait's timeout shows it."""
    return {k: job.get(k) for k in ("job_state", "operational_status", "percent_complete")} if job else "job gone"
