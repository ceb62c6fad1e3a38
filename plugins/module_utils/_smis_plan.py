"""SMI-S synchronizations: items, the pure plan, and what a check-mode run predicts.

``plan()`` is pure: from a pair's current facts (``sync_facts``) and the desired
item it returns the ordered actions (``["resync", "wait_synchronized", "split",
"wait_split"]``). Idempotency keys on CopyState (never on the legacy SyncState
alone) and, for events whose end state is their start state (a resync of a clone,
Start Copy, a restore that returns the pair to idle), on the age of the pair's
last sync point (WhenSynced) against ``max_lag``. Which service and operation
carry out each action is chosen afterwards from the provider's capabilities
(``_smis_ops``).

Steps that overwrite one side with the other carry the data at stake for the
engine's guard (``_guarded``). The array tells PercentSynced (the share of the
volume's blocks identical on both sides when no copy runs), not which side was
written, so the bound is the bytes that differ; a failback is measured by
WhenSynced against WhenSuspended (the target held every source write when it was
failed over, and the source is read-only from then on: nothing at stake).

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import datetime
import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items, differing_bytes_at_most
from ._smis import (COPY_STATES, LEGACY_OPERATIONS, MODE_VALUES, OPERATIONS, STATE_NAMES, SYNC_TYPE_VALUES,
                    UNHEALTHY_COPY_STATES, op_label)

ITEM_KEYS = ("source", "target", "state", "sync_state", "sync_type", "mode", "interface", "resync", "max_lag",
             "restore", "start_copy", "stop_copy", "reverse", "operation", "create_target", "allow_data_loss",
             "update")
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
    "wait_stopped": None, "wait_caught_up": (4,)}
# steps that overwrite one side with the other: step -> the side overwritten
OVERWRITES = {"resync": "target", "start_copy": "target", "reset_replica": "target", "reverse": "target",
              "restore": "source", "failback": "source"}
# escape-hatch operations that are such steps (by interface: legacy or not)
OPERATION_STEPS = {False: {11: "failback", 14: "resync", 15: "restore", 27: "reset_replica"},
                   True: {4: "resync", 5: "restore", 12: "start_copy"}}
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
        given = [k for k in ("sync_state", "mode", "resync", "max_lag", "reverse", "update") if item.get(k)] + events
        if given:
            raise ReplicationError(f"{name}: {', '.join(given)} only apply to state=present")
        return
    _validate_event(item, name, interface, events)


def _validate_event(item: dict[str, t.Any], name: str, interface: str, events: list[str]) -> None:
    if len(events) > 1:
        raise ReplicationError(f"{name}: {' and '.join(events)} are separate events; give one per task")
    if events:
        others = [k for k in ("sync_state", "reverse", "resync", "mode", "update") if item.get(k)]
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


def plan(item: dict[str, t.Any], current: dict[str, t.Any] | None, opposite: dict[str, t.Any] | None = None,
         capacity: int | None = None, foreign: t.Sequence[tuple[str, str]] = ()) -> list[Action]:
    """The ordered actions that take the pair from ``current`` to ``item``; [] when nothing needs doing.

    ``current`` is the pair source -> target, ``opposite`` the pair target -> source (both ``sync_facts``,
    or None). ``capacity`` is the volumes' size in bytes (the larger one), the base of the data-loss bound;
    ``foreign`` the (DeviceID, name) of other sources whose synchronizations have the target as theirs.
    Raises ReplicationError for what cannot be done.
    """
    if item.get("state") == "absent":
        pair = current or opposite
        if pair is None:
            return []
        if pair.get("transferring"):
            # the copy may end the pair by itself: what is left to do is planned once it settled
            return [Action("wait_idle", {"replan": True}), Action("detach", rereads=False)]
        return [Action("detach", rereads=False)]
    if foreign:
        dev, origin = foreign[0]
        raise ReplicationError(
            f"{item_name(item)}: {item['target']} is already the target of {origin} (DeviceID {dev}), not of "
            f"{item['source']}: a volume is the target of one synchronization at most. Remove that "
            "synchronization (state absent) or choose another target; nothing was changed")
    begun = _begin(item, current, opposite)
    if not isinstance(begun, _Start):
        return _guarded(item, begun, current or opposite or {}, capacity)
    event = event_of(item)
    age = begun.facts.get("age_seconds")
    max_lag = item.get("max_lag")
    recent = max_lag is not None and age is not None and age <= max_lag
    names = begun.actions
    if event == "restore":
        if not (begun.state == 18 or begun.busy or recent):
            names = names + ["restore", "wait_restored"]
    elif event == "start_copy":
        if not (begun.busy or recent):
            names = names + ["start_copy", "wait_copied"]
    else:
        names = _Course(item, begun, recent).converge()
    return _guarded(item, names, begun.facts, capacity)


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


class _Course:
    """The steps to the declared sync_state and mode, after those that a ``_Start`` holds."""

    def __init__(self, item: dict[str, t.Any], begun: _Start, recent: bool) -> None:
        self.item = item
        self.name = item_name(item)
        self.begun = begun
        self.recent = recent
        self.actions = list(begun.actions)
        self.state = begun.state
        self.synced = SNAPSHOT_SYNCED if begun.sync_type == "snapshot" else (4,)
        self.mode_change: str | None = None
        self.update = bool(item.get("update"))
        if self.update and begun.sync_type != "mirror":
            raise ReplicationError(f"{self.name}: update applies to mirrors, and this synchronization is a "
                                   f"{begun.sync_type} (a point-in-time copy: resync it for a new one)")

    def converge(self) -> list[str]:
        item, facts, begun = self.item, self.begun.facts, self.begun
        if item.get("mode") and not begun.fresh and facts and facts.get("mode") != item["mode"]:
            if begun.sync_type != "mirror":
                raise ReplicationError(
                    f"{self.name}: the mode of a {begun.sync_type} is chosen when it is created (this one is "
                    f"{facts.get('mode')}); remove it (state absent) and create it again to change it")
            self.mode_change = f"reset_to_{item['mode']}"
        self.refresh()
        desired = TARGET_STATES.get(item.get("sync_state") or "")
        if desired is None and item.get("resync") and self.state not in self.synced:
            if self.state == 10:
                raise ReplicationError(
                    f"{self.name}: the synchronization is failed over; set sync_state: synchronized to fail back "
                    "(Failback copies what was written at the target back to the source)")
            desired = 4
        if desired == 4:
            self.reach_synced()
            self.change_mode()
            self.catch_up()
        elif desired is not None and self.state != desired:
            if self.update or not (desired == 10 and self.state in (5, 6, 7, 9)):
                self.reach_synced()
                self.change_mode()
                self.catch_up()
            self.actions.extend([STATE_OPS[desired], WAITS[desired]])
            self.state = desired
        self.change_mode()
        if self.mode_change:
            raise ReplicationError(
                f"{self.name}: the mode of a mirror can be changed only while it is synchronized (it is "
                f"{STATE_NAMES.get(self.state or 0, self.state)}); set sync_state: synchronized first")
        return self.actions

    def refresh(self) -> None:
        """A new point-in-time copy of a clone or snapshot (resync, or max_lag exceeded)."""
        begun, item = self.begun, self.item
        if begun.sync_type not in ("clone", "snapshot") or begun.fresh or begun.busy or self.state not in self.synced:
            return
        age, max_lag = begun.facts.get("age_seconds"), item.get("max_lag")
        due = not self.recent if item.get("resync") else max_lag is not None and (age is None or age > max_lag)
        if due:
            self.actions += ["resync", "wait_synchronized"]

    def reach_synced(self) -> None:
        if self.state in self.synced:
            return
        step = {9: "resume", 10: "failback", 8: "activate", 11: "activate"}.get(self.state or 0)
        if step is None and self.state in (5, 6, 7, 12, 18):
            step = "resync"
        if step is None:
            raise ReplicationError(f"{self.name}: cannot bring the synchronization from "
                                   f"{STATE_NAMES.get(self.state or 0, self.state)} to synchronized")
        self.actions.extend([step, "wait_synchronized"])
        self.state = 4

    def change_mode(self) -> None:
        if self.mode_change and self.state in (3, 4):
            self.actions.extend([self.mode_change, "wait_synchronized"])
            self.mode_change = None

    def catch_up(self) -> None:
        """With update, once synchronized: wait until the target holds every source write."""
        if self.update and self.state == 4:
            self.actions.append("wait_caught_up")


# the data-loss guard ------------------------------------------------------------------------------
def _guarded(item: dict[str, t.Any], names: list[str], facts: dict[str, t.Any], capacity: int | None) -> list[Action]:
    """The plan's steps as actions, with the data at stake of those that overwrite one side (``OVERWRITES``).

    The measure is read from the pair as observed, so it holds for a step that runs on the pair as it is (a
    reverse before it moves no data). A wait for what runs on the pair now, before such a step, asks for a new
    plan: the rest is measured again once it settled. After any other step the amount is unknown.
    """
    legacy = item.get("interface") == "configuration_service"
    state = facts.get("copy_state_value")
    out: list[Action] = []
    moved = False  # a step changed the data since the observation
    for index, name in enumerate(names):
        kind = None if name.startswith("wait_") else _overwriting(name, legacy, state)
        settle = [n for n, a in enumerate(out) if a.is_wait]
        if kind is not None and settle and not any(not a.is_wait and a != "reverse" for a in out):
            out[settle[0]] = Action(out[settle[0]], {"replan": True})
            return out + [Action(n) for n in names[index:]]
        if kind is None:
            out.append(Action(name))
        else:
            out.append(_measured(item, name, kind, state, {} if moved else facts, capacity, legacy))
        if not name.startswith("wait_") and name != "reverse":
            moved = True
        state = final_state(state, [name], legacy)
    return out


def _overwriting(name: str, legacy: bool, state: int | None) -> str | None:
    """The kind of overwriting step ``name`` is from ``state`` (a key of ``OVERWRITES``), or None."""
    if name.startswith("operation_"):
        return OPERATION_STEPS[legacy].get(int(name.split("_", 1)[1]))
    if name == "reverse":
        # a synchronized mirror copies at once in the new direction: what the old source had not sent is lost
        return "reverse" if state == 4 else None
    return name if name in OVERWRITES else None


def _measured(item: dict[str, t.Any], name: str, kind: str, state: int | None, facts: dict[str, t.Any],
              capacity: int | None, legacy: bool) -> Action:
    """An overwriting step with its measure: (at_stake, at_most) from PercentSynced, WhenSynced and
    WhenSuspended, the capacity and the state it runs from."""
    percent = facts.get("progress")
    at_stake: int | None = None
    if kind == "failback" and _held_every_write(facts):
        at_stake, at_most = 0, None
    elif kind == "reset_replica" or not facts:
        at_most = None  # back to the original point in time, which PercentSynced does not compare with
    elif state in (5, 12):
        at_most = 0 if percent == 100 else capacity  # PercentSynced of a broken copy may be the copy's progress
    else:
        at_most = differing_bytes_at_most(percent, capacity or 0)
    side = OVERWRITES[kind]
    what = f"the {side} {item[side]}"
    if kind == "reverse":
        what = f"the target {item['target']} (the source until now) that had not reached {item['source']}"
    verb = kind.replace("_", " ")
    if name.startswith("operation_"):
        verb = f"operation {op_label(int(name.split('_', 1)[1]), legacy)}"
    details = {"percent_synced": percent, "capacity_bytes": capacity}
    if kind == "failback":
        details.update(when_synced=facts.get("when_synced"), suspended_at=facts.get("suspended_at"))
    return Action(name, {"verb": verb}, overwrites=what, at_stake=at_stake, at_most=at_most, details=details)


def _held_every_write(facts: dict[str, t.Any]) -> bool:
    """Whether a failed-over pair's target held every source write when it was failed over: WhenSynced at or
    after WhenSuspended (the source is read-only to hosts while failed over)."""
    synced, suspended = facts.get("when_synced"), facts.get("suspended_at")
    if not synced or not suspended:
        return False
    return datetime.datetime.fromisoformat(synced) >= datetime.datetime.fromisoformat(suspended)


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
                 "when_synced": None, "lag_seconds": None, "recovery_point": None, "suspended_at": None}
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
