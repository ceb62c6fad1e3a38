"""SMI-S synchronizations: read, plan, check capabilities, apply, report, for one or many at once.

``plan()`` is pure: from a pair's current facts (``sync_facts``) and the desired
item it returns the ordered actions (``["resync", "wait_synchronized", "split",
"wait_split"]``). Idempotency keys on CopyState (never on the legacy SyncState
alone) and, for events whose end state is their start state (a resync of a clone,
Start Copy, a restore that returns the pair to idle), on the age of the pair's
last sync point (WhenSynced) against ``max_lag``.

``Engine`` reads the volumes and every synchronization of the namespace with two
requests, plans each item, and before anything changes asks the provider whether
it offers each planned operation (GetSupportedOperationsForSynchronization for
the pair as it is, GetSupportedOperations for the states the plan passes
through, the legacy StorageReplicationCapabilities.SupportedModifyOperations),
so an operation the provider does not offer is refused with a message naming it
and the provider, and nothing is sent. It then applies the plans through the
bulk engine: jobs and pairs of all waiting items are polled with one
enumeration per round.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import datetime
import threading
import typing as t

from ._bulk import Call, Item, Wait, run_items
from ._common import ReplicationError, merge_item
from ._smis import (COPY_STATES, LEGACY_OPERATIONS, LEGACY_SYNC_TYPES, MODE_VALUES, OPERATIONS, RC_JOB, RC_OK,
                    REPLICATION_TYPES, STATE_NAMES, SYNC_TYPE_VALUES, UNHEALTHY_COPY_STATES, SmisClient, keys_of,
                    legacy_sync_type, op_label, rc_label, replication_type, sync_facts, uint16)

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
    if operation is not None:
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
    if params.get("synchronizations"):
        items = [merge_item(params, dict(entry), ITEM_KEYS) for entry in params["synchronizations"]]
    else:
        items = [{key: params.get(key) for key in ITEM_KEYS}]
    for item in items:
        item["state"] = item.get("state") or "present"
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
def _settle(pair: dict[str, t.Any]) -> tuple[list[str], int | None]:
    """Waits for what runs on a pair now, and the CopyState it will then be in."""
    state = pair.get("copy_state_value")
    if not pair.get("transferring"):
        return [], state
    if pair.get("progress_status_value") == 8:
        return ["wait_restored"], 18 if state in (6, 7) else state
    return ["wait_synchronized"], 4


def plan(item: dict[str, t.Any], current: dict[str, t.Any] | None,
         opposite: dict[str, t.Any] | None = None) -> list[str]:
    """The ordered actions that take the pair from ``current`` to ``item``; [] when nothing needs doing.

    ``current`` is the pair source -> target, ``opposite`` the pair target -> source
    (both ``sync_facts``, or None). Raises ReplicationError for what cannot be done.
    """
    name = item_name(item)
    if item.get("state") == "absent":
        pair = current or opposite
        if pair is None:
            return []
        return (["wait_idle"] if pair.get("transferring") else []) + ["detach"]
    event = event_of(item)
    legacy = item.get("interface") == "configuration_service"
    actions: list[str] = []
    fresh = False  # this run creates the pair
    busy = False  # a copy or restore runs now: it stands for the requested event
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
        sync_type = item.get("sync_type") or "mirror"
        actions += ["create", "wait_synchronized"]
        state: int | None = 4
        fresh = True
    else:
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
        actions += settle
        if pair is opposite:
            actions.append("reverse")
        busy = bool(settle)
    synced = SNAPSHOT_SYNCED if sync_type == "snapshot" else (4,)
    facts = pair or {}
    age = facts.get("age_seconds")
    max_lag = item.get("max_lag")
    recent = max_lag is not None and age is not None and age <= max_lag
    if event == "restore":
        if state == 18 or busy or recent:
            return actions
        return actions + ["restore", "wait_restored"]
    if event == "start_copy":
        if busy or recent:
            return actions
        return actions + ["start_copy", "wait_copied"]
    mode_change = None
    if item.get("mode") and not fresh and pair is not None and facts.get("mode") != item["mode"]:
        if sync_type != "mirror":
            raise ReplicationError(f"{name}: the mode of a {sync_type} is chosen when it is created (this one is "
                                   f"{facts.get('mode')}); remove it (state absent) and create it again to change it")
        mode_change = f"reset_to_{item['mode']}"
    if sync_type in ("clone", "snapshot") and not fresh and not busy and state in synced:
        if item.get("resync"):
            refresh = not recent
        else:
            refresh = max_lag is not None and (age is None or age > max_lag)
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


def final_state(start: int | None, actions: list[str], legacy: bool = False) -> int | None:
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


def predict(before: dict[str, t.Any] | None, item: dict[str, t.Any], actions: list[str]) -> dict[str, t.Any] | None:
    """The facts a check-mode run expects after applying ``actions``."""
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
        src, tgt = item.get("_src") or {}, item.get("_tgt") or {}
        after = {"source": item["source"], "target": item["target"], "source_device_id": src.get("device_id"),
                 "target_device_id": tgt.get("device_id"), "sync_type": item.get("sync_type") or "mirror",
                 "mode": create_mode(item) or "sync", "when_synced": None, "lag_seconds": None,
                 "recovery_point": None}
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
    if facts is None:
        return {}
    return {k: facts.get(k) for k in DIFF_KEYS}


def _describe(facts: t.Any) -> t.Any:
    if not facts:
        return "synchronization not found"
    return {k: facts.get(k) for k in ("state", "copy_state", "progress_status", "progress", "healthy")}


def _describe_job(job: t.Any) -> t.Any:
    if not job:
        return "job gone"
    return {k: job.get(k) for k in ("job_state", "operational_status", "percent_complete")}


# engine --------------------------------------------------------------------------------------------
class Op(t.NamedTuple):
    """A planned action resolved to a method of a service: what is sent, if the plan gets that far."""

    action: str
    interface: str
    method: str
    number: int | None
    service: t.Any

    def label(self) -> str:
        if self.number is None:
            return self.method
        return f"{self.method} operation {op_label(self.number, self.interface == 'configuration_service')}"


class Engine:
    """One module run over one SMI-S provider."""

    def __init__(self, client: SmisClient, items: list[dict[str, t.Any]], check_mode: bool, wait: bool,
                 wait_timeout: float, poll_interval: float) -> None:
        self.client = client
        self.items = items
        self.check_mode = check_mode
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.volumes: list[dict[str, t.Any]] = []
        self.names: dict[str, str] = {}
        self.pairs: dict[tuple[str, str], dict[str, t.Any]] = {}
        self.paths: dict[tuple[str, str], t.Any] = {}
        self.current: dict[str, dict[str, t.Any] | None] = {}
        self.opposite: dict[str, dict[str, t.Any] | None] = {}
        self.plans: dict[str, list[str]] = {}
        self.plan_errors: dict[str, ReplicationError] = {}
        self.job_paths: dict[str, t.Any] = {}
        self.warnings: list[str] = []
        self._context: dict[str, t.Any] | None = None
        self._type_ops: dict[tuple[int, int | None], list[int] | None] = {}
        self._lock = threading.Lock()

    # read ---------------------------------------------------------------------------------------
    def read(self) -> None:
        self.volumes = self.client.volumes()
        self.names = {v["device_id"]: v["name"] for v in self.volumes if v.get("name") is not None}
        self.pairs = self._store(self.client.synchronizations())
        for item in self.items:
            try:
                self._prepare(item)
            except ReplicationError as exc:
                self.plan_errors[item_name(item)] = exc

    def _store(self, instances: list[t.Any]) -> dict[tuple[str, str], dict[str, t.Any]]:
        now = datetime.datetime.now(datetime.timezone.utc)
        found = {}
        for inst in instances:
            src, tgt = keys_of(inst.path)
            if src is None or tgt is None:
                continue
            found[(src, tgt)] = sync_facts(inst, self.names, now)
            self.paths[(src, tgt)] = inst.path
        return found

    def resolve(self, value: str, what: str) -> dict[str, t.Any] | None:
        """The volume an ElementName or DeviceID names; None when none does. Ambiguity is an error."""
        matches = {v["device_id"]: v for v in self.volumes if v["device_id"] == value or v.get("name") == value}
        if len(matches) > 1:
            listed = ", ".join(f"DeviceID {d} ({v.get('name')})" for d, v in sorted(matches.items()))
            raise ReplicationError(f"{what} {value!r} is ambiguous on {self.client.where()}: it names {listed}; "
                                   "name the volume by its DeviceID")
        return next(iter(matches.values()), None)

    def _prepare(self, item: dict[str, t.Any]) -> None:
        key = item_name(item)
        absent = item["state"] == "absent"
        src = self.resolve(item["source"], "source")
        tgt = self.resolve(item["target"], "target")
        item["_src"], item["_tgt"] = src, tgt
        where = self.client.where()
        if src is None and not absent:
            raise ReplicationError(f"{key}: source {item['source']!r} is not a volume of {where} (no ElementName or "
                                   "DeviceID matches)")
        if tgt is None and not absent and not item.get("create_target"):
            raise ReplicationError(f"{key}: target {item['target']!r} is not a volume of {where} and create_target "
                                   "is false")
        if src is not None and tgt is not None and src is tgt:
            raise ReplicationError(f"{key}: source and target name the same volume (DeviceID {src['device_id']})")
        current = opposite = None
        if src is not None and tgt is not None:
            current = self.pairs.get((src["device_id"], tgt["device_id"]))
            opposite = self.pairs.get((tgt["device_id"], src["device_id"]))
        self.current[key], self.opposite[key] = current, opposite
        if src is None or (absent and tgt is None):
            self.plans[key] = []  # nothing to remove: no such volume, so no such pair
            return
        actions = plan(item, current, opposite)
        if "create" in actions:
            if tgt is not None:
                others = [k for k in self.pairs if k[1] == tgt["device_id"]]
                if others:
                    origin = self.names.get(others[0][0], others[0][0])
                    raise ReplicationError(f"{key}: target {item['target']} is already the target of a "
                                           f"synchronization from {origin} (DeviceID {others[0][0]})")
                if tgt["size"] < src["size"]:
                    raise ReplicationError(f"{key}: target {item['target']} (DeviceID {tgt['device_id']}) is smaller "
                                           f"than the source: {tgt['size']} bytes for a source of {src['size']} bytes")
            elif item["target"].isdigit():
                raise ReplicationError(f"{key}: target {item['target']!r} looks like a DeviceID but no volume of "
                                       f"{where} has it; name a new target by the ElementName it should get")
        self.plans[key] = actions

    # provider context (read once, only when something needs doing) ----------------------------------
    def context(self) -> dict[str, t.Any]:
        with self._lock:
            if self._context is None:
                client = self.client
                system = client.system
                repl = client.service("CIM_ReplicationService", system)
                conf = client.service("CIM_StorageConfigurationService", system)
                caps = client.capabilities(repl, "CIM_ReplicationServiceCapabilities") if repl is not None else []
                legacy = client.capabilities(conf, "CIM_StorageReplicationCapabilities") if conf is not None else []
                legacy_ops: dict[int, list[int]] = {}
                for inst in legacy:
                    kind = inst.get("SupportedSynchronizationType")
                    if kind is not None:
                        legacy_ops[int(kind)] = [int(o) for o in inst.get("SupportedModifyOperations") or []]
                types = caps[0].get("SupportedReplicationTypes") if caps else None
                self._context = {"replication": repl, "configuration": conf, "caps": caps[0].path if caps else None,
                                 "types": [int(x) for x in types] if types is not None else None,
                                 "legacy": legacy_ops if legacy else None}
            return self._context

    def type_operations(self, rtype: int | None, state: int | None) -> list[int] | None:
        ctx = self.context()
        if rtype is None or ctx["caps"] is None:
            return None
        with self._lock:
            if (rtype, state) not in self._type_ops:
                self._type_ops[(rtype, state)] = self.client.supported_operations(ctx["caps"], rtype, state)
            return self._type_ops[(rtype, state)]

    # poll ---------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        out: dict[t.Hashable, t.Any] = {}
        sync_keys = [k for k in keys if isinstance(k, tuple) and k[0] == "sync"]
        if sync_keys:
            found = self._store(self.client.synchronizations())
            for key in sync_keys:
                out[key] = found.get((key[1], key[2]))
        job_keys = [k for k in keys if isinstance(k, tuple) and k[0] == "job"]
        if len(job_keys) > 3:
            jobs = self.client.jobs()
            out.update({key: jobs.get(str(key[1])) for key in job_keys})
        else:
            for key in job_keys:
                out[key] = self.client.job(self.job_paths[key[1]])
        return out

    def read_pair(self, pair: tuple[str, str] | None) -> dict[str, t.Any] | None:
        """One pair's facts now: GetInstance of its path, or the enumeration when the path is not known."""
        if pair is None:
            return None
        path = self.paths.get(pair)
        if path is None:
            found = self._store(self.client.synchronizations())
            return found.get(pair)
        inst = self.client.get_instance(path, "reading the synchronization")
        if inst is None:
            return None
        return sync_facts(inst, self.names)

    # apply --------------------------------------------------------------------------------------
    def run(self, max_workers: int, continue_on_error: bool) -> list[dict[str, t.Any]]:
        items = []
        for item in self.items:
            key = item_name(item)
            record: dict[str, t.Any] = {"item": key, "source": item["source"], "target": item["target"],
                                        "changed": False, "actions": []}
            items.append(Item(key, self._steps(item, record), record))
        return run_items(items, self.poll, max_workers, continue_on_error, self.poll_interval,
                         max(10.0, self.poll_interval))

    def _steps(self, item: dict[str, t.Any], record: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, dict[str, t.Any]]:
        key = item_name(item)
        before = self.current.get(key)
        if before is None and (item["state"] == "absent" or item.get("reverse")):
            before = self.opposite.get(key)
        record["synchronization"] = before
        if key in self.plan_errors:
            exc = self.plan_errors[key]
            exc.details.setdefault("synchronization", before)
            raise exc
        actions = list(self.plans.get(key, []))
        pair = (before["source_device_id"], before["target_device_id"]) if before else None
        st: dict[str, t.Any] = {"pair": pair, "facts": before, "job": None, "job_label": "",
                                "before_cs": before.get("copy_state_value") if before else None}
        ops: dict[int, Op] = {}
        if any(not a.startswith("wait_") for a in actions):
            ops = yield from self._preflight(item, st, actions)
        if self.check_mode:
            actions = [ops[i].action if i in ops else a for i, a in enumerate(actions)]
            after = predict(before, item, actions)
            record.update({"changed": _changes(actions), "actions": actions, "synchronization": after,
                           "diff": {"before": diff_view(before), "after": diff_view(after)}})
            return record
        last_wait = max((n for n, a in enumerate(actions) if a.startswith("wait_")), default=-1)
        for index, action in enumerate(actions):
            if action.startswith("wait_"):
                if not self.wait and index == last_wait:
                    record["actions"].append(f"{action} (skipped: wait=false)")
                    continue
                yield from self._wait_for(item, st, action)
                record["actions"].append(action)
                st["fresh"] = True
                continue
            follows_wait = index + 1 < len(actions) and actions[index + 1].startswith("wait_")
            done = yield from self._apply(item, st, action, ops.get(index), follows_wait)
            if done:
                record["changed"] = True
                record["actions"].append(done)
                st["fresh"] = False
        facts = st.get("facts")
        if record["changed"] and item["state"] == "present" and not st.get("fresh"):
            facts = yield Call(self.read_pair, st.get("pair"))
        if item["state"] == "absent" and record["changed"]:
            facts = None
        record["synchronization"] = facts
        record["diff"] = {"before": diff_view(before), "after": diff_view(facts)}
        return record

    # preflight: is every planned operation offered? ---------------------------------------------
    def _preflight(self, item: dict[str, t.Any], st: dict[str, t.Any],
                   actions: list[str]) -> t.Generator[t.Any, t.Any, dict[int, Op]]:
        ctx = yield Call(self.context)
        ops: dict[int, Op] = {}
        facts = st.get("facts") or {}
        state = facts.get("copy_state_value")
        sync_type = facts.get("sync_type") or item.get("sync_type") or "mirror"
        mode = facts.get("mode") if facts else create_mode(item)
        first = True
        for index, action in enumerate(actions):
            if action.startswith("wait_"):
                if first and facts:
                    state = _settle(facts)[1]
                first = False
                continue
            if action == "create":
                ops[index] = self._create_op(item, ctx)
                state, first = 4, False
                continue
            if item["state"] == "absent" and facts.get("transferring"):
                continue  # chosen once the copy is done (the pair may end by itself)
            now_offered = None
            if first and facts and ctx["caps"] is not None and st.get("pair") in self.paths:
                now_offered = yield Call(self.client.supported_operations_for, ctx["caps"], self.paths[st["pair"]])
            ops[index] = yield from self._choose(item, ctx, action, facts, sync_type, mode, state, now_offered)
            if action in ("reset_to_sync", "reset_to_async"):
                mode = action[len("reset_to_"):]
            elif action != "reverse":
                state = final_state(state, [ops[index].action], item.get("interface") == "configuration_service")
            first = False
        return ops

    def _create_op(self, item: dict[str, t.Any], ctx: dict[str, t.Any]) -> Op:
        key = item_name(item)
        sync_type = item.get("sync_type") or "mirror"
        mode = create_mode(item)
        rtype = replication_type(sync_type, mode)
        interface = item["interface"]
        reasons = []
        what = f"a {mode + ' ' if mode else ''}{sync_type}"
        if interface in ("auto", "replication_service"):
            repl = ctx["replication"]
            if repl is None:
                reasons.append("it has no replication service (CIM_ReplicationService)")
            elif ctx["types"] is None or rtype in ctx["types"]:
                return Op("create", "replication_service", "CreateElementReplica", None, repl)
            else:
                offered = ", ".join(f"{REPLICATION_TYPES.get(x, x)} ({x})" for x in ctx["types"]) or "none"
                reasons.append(f"its replication service ({repl.classname}) does not offer ReplicationType "
                               f"{REPLICATION_TYPES.get(rtype or 0, rtype)} ({rtype}) for CreateElementReplica "
                               f"(SupportedReplicationTypes: {offered})")
        if interface in ("auto", "configuration_service"):
            conf = ctx["configuration"]
            ltype = legacy_sync_type(sync_type, mode)
            if conf is None:
                reasons.append("it has no legacy Copy Services (CIM_StorageConfigurationService)")
            elif ctx["legacy"] is not None and ltype not in ctx["legacy"]:
                offered = ", ".join(f"{LEGACY_SYNC_TYPES.get(x, x)} ({x})" for x in ctx["legacy"]) or "none"
                reasons.append(f"its legacy service ({conf.classname}) does not support "
                               f"{LEGACY_SYNC_TYPES.get(ltype or 0, ltype)} copies (SupportedSynchronizationType: "
                               f"{offered})")
            elif sync_type == "clone" and item.get("_tgt") is None:
                reasons.append(f"its legacy service ({conf.classname}) copies a clone into an existing volume "
                               f"(AttachOrModifyReplica), and no volume {item['target']!r} exists")
            elif sync_type != "clone" and item.get("_tgt") is not None:
                reasons.append(f"its legacy service ({conf.classname}) creates a {sync_type}'s target itself "
                               f"(CreateReplica), and volume {item['target']!r} already exists")
            else:
                method = "AttachOrModifyReplica" if sync_type == "clone" else "CreateReplica"
                return Op("create", "configuration_service", method, None, conf)
        raise ReplicationError(f"{key}: {what} cannot be created on {self.client.where()}: " + "; ".join(reasons)
                               + ". Nothing was changed")

    def _choose(self, item: dict[str, t.Any], ctx: dict[str, t.Any], action: str, facts: dict[str, t.Any],
                sync_type: str, mode: str | None, state: int | None,
                now_offered: list[int] | None) -> t.Generator[t.Any, t.Any, Op]:
        """The service and operation that perform ``action`` from ``state``, or a refusal naming what was asked."""
        key = item_name(item)
        interface = item["interface"]
        legacy_kind = legacy_sync_type(sync_type, mode, facts.get("copy_type_value"), facts.get("replica_type_value"))
        rtype = facts.get("replication_type") if facts else replication_type(sync_type, mode)
        rtype = rtype or replication_type(sync_type, mode)
        if action.startswith("operation_"):
            number = int(action.split("_", 1)[1])
            candidates = [(action, number, None)] if interface == "replication_service" else [(action, None, number)]
        elif action == "detach":
            candidates = [("detach", 8, None), ("dissolve", 9, None), ("detach", None, 2)]
        else:
            new, old = ACTION_OPS[action]
            candidates = [(action, new, old)]
        state_name = STATE_NAMES.get(state or 0, state)
        reasons: list[str] = []
        asked: list[str] = []
        for name, new, old in candidates:
            if new is not None and interface in ("auto", "replication_service"):
                asked.append(f"ModifyReplicaSynchronization operation {op_label(new)}")
                repl = ctx["replication"]
                if repl is None:
                    reasons.append("it has no replication service")
                else:
                    offered = now_offered
                    if offered is None:
                        offered = yield Call(self.type_operations, rtype, state)
                    if offered is None or new in offered:
                        return Op(name, "replication_service", "ModifyReplicaSynchronization", new, repl)
                    reason = (f"its replication service ({repl.classname}) does not offer {op_label(new)} for this "
                              f"{sync_type} while it is {state_name}")
                    everywhere = yield Call(self.type_operations, rtype, None)
                    if everywhere is not None and new in everywhere:
                        accepted = yield Call(self.client.supported_copy_states, ctx["caps"], rtype, new)
                        if accepted:
                            reason += f" (it accepts it from: {', '.join(STATE_NAMES.get(s, str(s)) for s in accepted)})"
                    elif everywhere is not None:
                        reason = (f"its replication service ({repl.classname}) does not support {op_label(new)} for "
                                  f"{REPLICATION_TYPES.get(rtype or 0, rtype)} at all")
                        offered = everywhere
                    shown = ", ".join(op_label(o) for o in offered) or "nothing"
                    reasons.append(f"{reason} (it offers {shown})")
            if old is not None and interface in ("auto", "configuration_service"):
                asked.append(f"ModifySynchronization operation {op_label(old, True)}")
                conf = ctx["configuration"]
                legacy = ctx["legacy"]
                if conf is None:
                    reasons.append("it has no legacy Copy Services")
                elif legacy is not None and old not in legacy.get(legacy_kind or 0, []):
                    supported = ", ".join(op_label(o, True) for o in legacy.get(legacy_kind or 0, [])) or "nothing"
                    reasons.append(f"its legacy service ({conf.classname}) does not support {op_label(old, True)} "
                                   f"for {LEGACY_SYNC_TYPES.get(legacy_kind or 0, 'these')} copies "
                                   f"(SupportedModifyOperations: {supported})")
                elif old == 4 and state == 5:
                    reasons.append("a Broken target cannot be resynchronized through ModifySynchronization (HPE "
                                   "3PAR CIM API); remove the copy (state absent) and create it again")
                else:
                    return Op(name, "configuration_service", "ModifySynchronization", old, conf)
        if not asked:
            new, old = candidates[0][1], candidates[0][2]
            other = (f"ModifySynchronization operation {op_label(old, True)}" if old is not None
                     else f"ModifyReplicaSynchronization operation {op_label(new or 0)}")
            raise ReplicationError(f"{key}: {action.replace('_', ' ')} is not available with interface {interface}: "
                                   f"it exists only as {other}. Nothing was changed", synchronization=facts or None)
        raise ReplicationError(
            f"{key}: {' / '.join(dict.fromkeys(asked))} is not supported by {self.client.where()} "
            f"(namespace {self.client.namespace}) for this {sync_type} ({state_name}): {'; '.join(reasons)}. "
            "Nothing was changed", synchronization=facts or None)

    # steps --------------------------------------------------------------------------------------
    def _apply(self, item: dict[str, t.Any], st: dict[str, t.Any], action: str, op: Op | None,
               follows_wait: bool) -> t.Generator[t.Any, t.Any, str | None]:
        """Perform one action; the name of what was done (None when it turned out not to be needed)."""
        if action == "create":
            if op is None:
                raise ReplicationError(f"{item_name(item)}: no method was chosen to create the synchronization")
            yield from self._create(item, st, op)
        else:
            if op is None:  # removal of a pair that was copying: chosen now that the copy is done
                facts = st.get("facts")
                if facts is None:
                    return None  # the pair ended by itself
                ctx = yield Call(self.context)
                offered = None
                if ctx["caps"] is not None and st["pair"] in self.paths:
                    offered = yield Call(self.client.supported_operations_for, ctx["caps"], self.paths[st["pair"]])
                op = yield from self._choose(item, ctx, action, facts, facts.get("sync_type") or "mirror",
                                             facts.get("mode"), facts.get("copy_state_value"), offered)
            yield from self._modify(item, st, op)
        if st.get("job") is not None and not follows_wait:
            yield from self._wait_job(item, st)
        return op.action

    def _what(self, item: dict[str, t.Any], op: Op) -> str:
        return f"{op.label()} of {item_name(item)}"

    def _check_rc(self, item: dict[str, t.Any], st: dict[str, t.Any], op: Op, rc: int) -> None:
        if rc in (RC_OK, RC_JOB):
            return
        raise ReplicationError(f"{item_name(item)}: {op.label()} failed on {self.client.where()} with return code "
                               f"{rc} ({rc_label(rc)})", array_code=rc, array_message=rc_label(rc),
                               synchronization=st.get("facts"))

    def _create(self, item: dict[str, t.Any], st: dict[str, t.Any], op: Op) -> t.Generator[t.Any, t.Any, None]:
        src, tgt = item["_src"], item.get("_tgt")
        sync_type = item.get("sync_type") or "mirror"
        mode = create_mode(item)
        params: dict[str, t.Any] = {"SourceElement": src["path"]}
        if op.method == "CreateElementReplica":
            params["SyncType"] = uint16(SYNC_TYPE_VALUES[sync_type])
            if mode:
                params["Mode"] = uint16(MODE_VALUES[mode])
        else:
            copy_type = {"snapshot": 4, "clone": 5 if mode == "sync" else 4}.get(sync_type, 2 if mode == "async" else 3)
            params["CopyType"] = uint16(copy_type)
        if tgt is not None:
            params["TargetElement"] = tgt["path"]
        else:
            params["ElementName"] = item["target"]
        rc, out = yield Call(self.client.invoke, self._what(item, op), op.service, op.method, **params)
        self._check_rc(item, st, op, rc)
        job = out.get("Job") if rc == RC_JOB else None
        target = out.get("TargetElement") or (tgt["path"] if tgt is not None else None)
        if target is None and job is not None:
            created = yield Call(self.client.associated_volumes, job)
            target = next((p for p in created if str(p.keybindings.get("DeviceID")) != src["device_id"]), None)
        if target is None:
            raise ReplicationError(f"{item_name(item)}: {op.method} answered rc {rc} but named no target volume")
        dev = str(target.keybindings.get("DeviceID"))
        self.names.setdefault(dev, item["target"])
        st["pair"] = (src["device_id"], dev)
        if out.get("Synchronization") is not None:
            self.paths[st["pair"]] = out["Synchronization"]
        st["job"], st["job_label"] = job, self._what(item, op)
        st["created"] = True

    def _modify(self, item: dict[str, t.Any], st: dict[str, t.Any], op: Op) -> t.Generator[t.Any, t.Any, None]:
        pair = st["pair"]
        path = self.paths.get(pair)
        if path is None:
            facts = yield Call(self.read_pair, pair)
            path = self.paths.get(pair)
            if facts is None or path is None:
                raise ReplicationError(f"{item_name(item)}: the synchronization disappeared before {op.label()}")
        rc, out = yield Call(self.client.invoke, self._what(item, op), op.service, op.method,
                             Operation=uint16(op.number or 0), Synchronization=path)
        self._check_rc(item, st, op, rc)
        st["job"] = out.get("Job") if rc == RC_JOB else None
        st["job_label"] = self._what(item, op)
        if op.interface == "replication_service" and op.number == 20:
            swapped = (pair[1], pair[0])
            updated = out.get("UpdatedSynchronization")
            if updated is not None:
                swapped = keys_of(updated)  # type: ignore[assignment]
                self.paths[swapped] = updated
            else:
                self.paths.pop(swapped, None)
            self.paths.pop(pair, None)
            st["pair"] = swapped

    def _wait_job(self, item: dict[str, t.Any], st: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, None]:
        job = st.pop("job", None)
        st["job"] = None
        if job is None:
            return
        job_id = str(job.keybindings.get("InstanceID"))
        self.job_paths[job_id] = job
        done = yield Wait(("job", job_id), lambda j: j is None or bool(j.get("terminal")), self.wait_timeout,
                          f"job {job_id} ({st.get('job_label')})", _describe_job, RERUN)
        if done is None or done.get("ok"):
            return
        errors = yield Call(self.client.job_errors, job)
        facts = yield Call(self.read_pair, st.get("pair"))
        message = done.get("error_description") or next((e["message"] for e in errors if e.get("message")), None)
        message = message or "the provider gave no reason"
        code = done.get("error_code")
        raise ReplicationError(
            f"{item_name(item)}: {st.get('job_label')} failed on {self.client.where()}: {message}"
            + (f" (error code {code})" if code else "") + f"; job {job_id}"
            + (f"; the synchronization is now {facts['state']} ({facts['copy_state']})" if facts else ""),
            array_message=message, array_code=code, job=done, cim_errors=errors or None, synchronization=facts)

    def _wait_for(self, item: dict[str, t.Any], st: dict[str, t.Any], action: str) -> t.Generator[t.Any, t.Any, None]:
        yield from self._wait_job(item, st)
        targets = WAIT_TARGETS[action]
        facts0 = st.get("facts") or {}
        sync_type = facts0.get("sync_type") or item.get("sync_type") or "mirror"
        if targets == (4,) and sync_type == "snapshot":
            targets = SNAPSHOT_SYNCED
        allow_gone = action in ("wait_idle", "wait_stopped") or item["state"] == "absent" or (
            st.get("created") and sync_type == "clone")
        before_cs = st.get("before_cs")

        def check(facts: t.Any) -> bool | str:
            if facts is None:
                return True if allow_gone else "the synchronization disappeared"
            if facts.get("transferring"):
                return False
            if targets is None or facts.get("copy_state_value") in targets:
                return True
            if not facts.get("healthy") and facts.get("copy_state_value") != before_cs:
                return f"the synchronization is {facts.get('state')} ({facts.get('copy_state')})"
            return False

        pair = st.get("pair")
        facts: t.Any = None
        verdict: bool | str = False
        if len(self.items) == 1:  # one pair: read it now; many: wait for the shared poll round
            facts = yield Call(self.read_pair, pair)
            verdict = check(facts)
        if verdict is not True:
            if isinstance(verdict, str):
                raise ReplicationError(f"{item_name(item)}: {verdict} while waiting for {action[5:]}",
                                       synchronization=facts)
            what = f"{item_name(item)} to be {action[5:].replace('_', ' ')}"
            facts = yield Wait(("sync", pair[0], pair[1]) if pair else ("sync", "", ""), check, self.wait_timeout,
                               what, _describe, RERUN)
        st["facts"] = facts
        st["before_cs"] = facts.get("copy_state_value") if facts else None
        if facts is None and pair is not None:
            self.paths.pop(pair, None)


def _changes(actions: list[str]) -> bool:
    return any(not a.startswith("wait_") for a in actions)
