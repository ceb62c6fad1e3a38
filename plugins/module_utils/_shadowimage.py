"""ShadowImage pairs and copy groups: read, plan, apply, report, for one or many at once.

``plan()`` (one pair) and ``plan_group()`` (every pair of a copy group) are pure:
from the current facts, and for a restore the array's record of the pair's last
operations, they return the ordered actions (``["create_svol", "create",
"wait_paired"]``). ``Engine`` reads every copy group of the run with one pair
list request each, reads what only creates need (LDEVs, pools), plans, and
applies the plans through the bulk engine, which polls all waiting items with
one pair list request per copy group and round.

Restore is an event, not a state: PAIR after a restore looks exactly like PAIR
after a resync. It is performed when the pair is split; on a pair in PAIR it is
accepted as already done only when the array's job history shows that the last
operation on the pair was a restore; otherwise it is refused.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import threading
import time
import typing as t

from ._bulk import Call, Item, Wait, recovering, run_items
from ._common import ReplicationError, merge_item
from ._rest import HttpError, UnansweredWriteError
from ._vsp import (ALIVE_TIME, JOB_HISTORY_COUNT, MAX_LDEV_ID, VspClient, check_name, describe_pair, group_id,
                   id_of, job_operations, ldev_defined, ldev_size, pair_facts, pair_history, record_group_id,
                   split_id)

ITEM_KEYS = ("copy_group", "pair_name", "pvol", "svol", "state", "pair_state", "restore", "copy_pace", "mu_number",
             "consistency_group", "auto_split", "quick_mode", "resync_split", "pvol_device_group", "svol_device_group")
SVOL_KEYS = ("pool_id", "ldev_id", "start_ldev_id", "end_ldev_id", "data_reduction_mode")
DATA_REDUCTION_MODES = ("disabled", "compression", "compression_deduplication")
PAIR_ONLY_KEYS = ("pvol", "svol", "mu_number", "consistency_group", "auto_split")
DIFF_KEYS = ("state", "pvol_status", "svol_status", "pvol", "svol", "mu_number", "consistency_group")
STATUSES = {"paired": ("PAIR", "PAIR"), "split": ("PSUS", "SSUS")}
TRANSIENT = ("copying", "restoring")
GRACE_SECONDS = 10.0
RERUN = "Rerun the task: it reads the pair's status and continues from there (the array carries on copying)"

Key = t.Tuple[str, t.Optional[str]]


# items ---------------------------------------------------------------------------------------------
def item_key(item: dict[str, t.Any]) -> Key:
    return item["copy_group"], item.get("pair_name") or None


def item_name(item: dict[str, t.Any]) -> str:
    return f"{item['copy_group']}/{item['pair_name']}" if item.get("pair_name") else str(item["copy_group"])


def desired_state(item: dict[str, t.Any]) -> str:
    return item.get("pair_state") or ("split" if item.get("auto_split") else "paired")


def _int_in(name: str, value: t.Any, low: int, high: int, what: str = "") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise ReplicationError(f"{name} must be an integer{what}, not {value!r}")
    if not low <= value <= high:
        raise ReplicationError(f"{name} {value} is out of range: {low}-{high}{what}")
    return value


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
    if params.get("pairs"):
        items = [merge_item(params, dict(entry), ITEM_KEYS) for entry in params["pairs"]]
    else:
        items = [{key: params.get(key) for key in ITEM_KEYS}]
    for item in items:
        item["state"] = item.get("state") or "present"
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
def _changes(actions: list[str]) -> bool:
    return any(not a.startswith("wait_") for a in actions)


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
    if wrong:
        raise ReplicationError(f"pair {name} exists with {', '.join(wrong)}; these cannot change on an existing pair. "
                               "Delete it first (state=absent) to create it anew", pair=current)


def plan(item: dict[str, t.Any], current: dict[str, t.Any] | None, history: list[str] | None = None,
         create_svol: bool = False) -> list[str]:
    """The ordered actions that take one pair from ``current`` (its facts, or None) to ``item``.

    ``history`` is the array's record of the operations on the pair, newest first
    (``job_operations``); it is read only to decide a restore. ``create_svol`` is
    whether the S-VOL has to be created first.
    """
    name = item_name(item)
    if item.get("state") == "absent":
        if current is None:
            return []
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
               histories: dict[str, list[str]] | None = None) -> list[str]:
    """The ordered actions for every pair of a copy group at once (the array's copy group actions)."""
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
    if not facts:
        return {}
    if isinstance(facts, list):
        return {p.get("pair_name"): {k: p.get(k) for k in DIFF_KEYS} for p in facts}
    return {k: facts.get(k) for k in DIFF_KEYS}


def group_view(copy_group: str, copy_group_id: str | None, pairs: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Facts of a copy group as a whole: its pairs, and their common state (``mixed`` when they differ)."""
    parts = split_id(copy_group_id) if copy_group_id else [copy_group, None, None]
    states = {p.get("state") for p in pairs}
    return {"copy_group": copy_group, "copy_group_id": copy_group_id, "pvol_device_group": parts[1],
            "svol_device_group": parts[2], "pair_count": len(pairs),
            "state": (states.pop() if len(states) == 1 else "mixed") if pairs else None,
            "healthy": all(p.get("healthy") for p in pairs), "transferring": any(p.get("transferring") for p in pairs),
            "pairs": pairs}


# the engine ------------------------------------------------------------------------------------------
class Engine:
    """One module run against one storage system."""

    def __init__(self, client: VspClient, items: list[dict[str, t.Any]], check_mode: bool, wait: bool,
                 wait_timeout: float, poll_interval: float) -> None:
        self.client = client
        self.items = items
        self.check_mode = check_mode
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.group_pairs: dict[str, dict[str, dict[str, t.Any]]] = {}
        self.group_ids: dict[str, str] = {}
        self.histories: dict[Key, t.Any] = {}
        self.ldev_records: dict[int, dict[str, t.Any]] = {}
        self.pool_records: dict[int, dict[str, t.Any] | None] = {}
        self.pool_claims: dict[int, int] = {}
        self.create_svol: dict[Key, bool] = {}
        self.plans: dict[Key, list[str]] = {}
        self.plan_errors: dict[Key, ReplicationError] = {}
        self._catalog: list[dict[str, t.Any]] | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # read ---------------------------------------------------------------------------------------------
    def catalog(self) -> list[dict[str, t.Any]]:
        if self._catalog is None:
            self._catalog = self.client.copy_groups()
        return self._catalog

    def read(self) -> None:
        for cg in dict.fromkeys(item["copy_group"] for item in self.items):
            hinted = next((i for i in self.items if i["copy_group"] == cg and
                           (i.get("pvol_device_group") or i.get("svol_device_group"))), {})
            hint = group_id(cg, hinted.get("pvol_device_group"), hinted.get("svol_device_group"))
            gid, records = self.client.find_group(cg, hint, refresh=True, catalog=self.catalog)
            facts = [pair_facts(r) for r in records]
            self.group_pairs[cg] = {f["pair_name"]: f for f in facts}
            if gid:
                self.group_ids[cg] = gid
        for item in self.items:
            self._check_device_groups(item)
        wanting = [i for i in self.items if self._needs_history(i) and item_key(i) not in self.plan_errors]
        if wanting:
            operations = job_operations(self.client.jobs())
            for item in wanting:
                cg = item["copy_group"]
                if item.get("pair_name"):
                    self.histories[item_key(item)] = pair_history(operations, cg, item["pair_name"])
                else:
                    self.histories[item_key(item)] = {n: pair_history(operations, cg, n) for n in self.group_pairs[cg]}
        self._read_creates()
        for item in self.items:
            key = item_key(item)
            if key in self.plan_errors:
                continue
            try:
                self.plans[key] = self._plan(item)
            except ReplicationError as exc:
                self.plan_errors[key] = exc

    def current(self, item: dict[str, t.Any]) -> t.Any:
        pairs = self.group_pairs.get(item["copy_group"], {})
        if item.get("pair_name"):
            return pairs.get(item["pair_name"])
        return sorted(pairs.values(), key=lambda p: str(p.get("pair_name")))

    def _plan(self, item: dict[str, t.Any]) -> list[str]:
        key = item_key(item)
        if item.get("pair_name"):
            return plan(item, self.current(item), self.histories.get(key), self.create_svol.get(key, False))
        return plan_group(item, self.current(item), self.histories.get(key))

    def _check_device_groups(self, item: dict[str, t.Any]) -> None:
        cg = item["copy_group"]
        gid = self.group_ids.get(cg)
        given = item.get("pvol_device_group") or item.get("svol_device_group")
        if item["state"] == "present" and gid and given:
            parts = split_id(gid)
            wanted = split_id(group_id(cg, item.get("pvol_device_group"), item.get("svol_device_group")))
            if (item.get("pvol_device_group") and wanted[1] != parts[1]) or \
                    (item.get("svol_device_group") and wanted[2] != parts[2]):
                self.plan_errors[item_key(item)] = ReplicationError(
                    f"copy group {cg} exists with device groups {parts[1]} (P-VOLs) and {parts[2]} (S-VOLs), not the "
                    "ones given; device groups cannot be renamed here")

    def _needs_history(self, item: dict[str, t.Any]) -> bool:
        if not item.get("restore") or item["state"] != "present":
            return False
        current = self.current(item)
        if not current:
            return False
        split_wanted = desired_state(item) == "split"
        states = {p["state"] for p in current} if isinstance(current, list) else {current["state"]}
        return "paired" in states or (states == {"split"} and split_wanted)

    def _read_creates(self) -> None:
        """Reads only creates need: the LDEVs (defined, same size, not in a pair) and the pools of new S-VOLs."""
        creates = [i for i in self.items if i.get("pair_name") and i["state"] == "present" and
                   self.current(i) is None and i.get("pvol") is not None and i.get("svol") is not None and
                   not i.get("restore") and item_key(i) not in self.plan_errors]
        for item in list(creates):
            cg = item["copy_group"]
            if cg not in self.group_ids and len(cg) > 29:
                self.plan_errors[item_key(item)] = ReplicationError(
                    f"copy_group {cg!r} is {len(cg)} characters long; the array allows at most 29 for a new copy "
                    "group (it appends P_ and S_ for the device groups)")
                creates.remove(item)
        if not creates:
            return
        ids: set[int] = set()
        pools: set[int] = set()
        for item in creates:
            ids.add(item["pvol"])
            svol = item["svol"]
            if isinstance(svol, dict):
                pools.add(svol["pool_id"])
                if svol.get("ldev_id") is not None:
                    ids.add(svol["ldev_id"])
            else:
                ids.add(svol)
        self.ldev_records = self.client.ldevs(ids)
        for pool_id in sorted(pools):
            self.pool_records[pool_id] = self.client.pool(pool_id)
        for item in creates:
            try:
                self._validate_create(item)
            except ReplicationError as exc:
                self.plan_errors[item_key(item)] = exc

    def _validate_create(self, item: dict[str, t.Any]) -> None:
        name, key = item_name(item), item_key(item)
        where = self.client.label
        pvol = self.ldev_records.get(item["pvol"])
        if not ldev_defined(pvol):
            raise ReplicationError(f"{name}: the P-VOL, LDEV {item['pvol']}, is not defined on {where} "
                                   "(emulationType NOT DEFINED)")
        pvol = t.cast("dict[str, t.Any]", pvol)
        svol = item["svol"]
        if isinstance(svol, dict):
            pool = self.pool_records.get(svol["pool_id"])
            if pool is None:
                raise ReplicationError(f"{name}: pool {svol['pool_id']} for the new S-VOL does not exist on {where}")
            existing = self.ldev_records.get(svol["ldev_id"]) if svol.get("ldev_id") is not None else None
            if ldev_defined(existing):
                self._validate_svol(name, item["pvol"], pvol, svol["ldev_id"], t.cast("dict[str, t.Any]", existing))
                return  # a leftover of an earlier run, or made by hand: used as it is
            used = pvol.get("numOfUsedBlock")
            need = (int(used) if used is not None else ldev_size(pvol)) * 512
            free = pool.get("availableVolumeCapacity")
            earlier = self.pool_claims.get(svol["pool_id"], 0)
            if free is not None and int(free) * 1024 * 1024 < earlier + need:
                others = f" after {earlier // (1024 * 1024)} MiB for the other S-VOLs of this task" if earlier else ""
                raise ReplicationError(
                    f"{name}: pool {svol['pool_id']} ({pool.get('poolName')}) has {int(free)} MiB available; the S-VOL "
                    f"of P-VOL LDEV {item['pvol']} needs {-(-need // (1024 * 1024))} MiB (the P-VOL's used "
                    f"capacity){others}")
            self.pool_claims[svol["pool_id"]] = earlier + need
            self.create_svol[key] = True
            return
        record = self.ldev_records.get(svol)
        if not ldev_defined(record):
            raise ReplicationError(f"{name}: the S-VOL, LDEV {svol}, is not defined on {where} "
                                   "(emulationType NOT DEFINED)")
        self._validate_svol(name, item["pvol"], pvol, svol, t.cast("dict[str, t.Any]", record))

    def _validate_svol(self, name: str, pvol_id: int, pvol: dict[str, t.Any], svol_id: int,
                       svol: dict[str, t.Any]) -> None:
        psize, ssize = ldev_size(pvol), ldev_size(svol)
        if ssize != psize:
            relation = "smaller" if ssize < psize else "larger"
            raise ReplicationError(
                f"{name}: the S-VOL, LDEV {svol_id} ({ssize} blocks, {svol.get('byteFormatCapacity')}), is {relation} "
                f"than the P-VOL, LDEV {pvol_id} ({psize} blocks, {pvol.get('byteFormatCapacity')}); a ShadowImage "
                "S-VOL must be exactly the P-VOL's size", pvol_blocks=psize, svol_blocks=ssize)
        if "MRCF" in (svol.get("attributes") or []):
            owner = self._owner_of(svol_id)
            raise ReplicationError(f"{name}: the S-VOL, LDEV {svol_id}, is already in a ShadowImage pair"
                                   + (f" ({owner['copy_group']}/{owner['pair_name']}, {owner['pvol']} -> "
                                      f"{owner['svol']}, {owner['pvol_status']}/{owner['svol_status']})" if owner else "")
                                   + "; choose another S-VOL or delete that pair first", in_pair=owner)

    def _owner_of(self, ldev_id: int) -> dict[str, t.Any] | None:
        """The pair that uses an LDEV (read only to explain a refusal)."""
        try:
            for group in self.catalog():
                cg = str(group.get("copyGroupName"))
                pairs = self.group_pairs.get(cg)
                if pairs is None:
                    pairs = {f["pair_name"]: f for f in map(pair_facts, self.client.pairs(record_group_id(group)))}
                for facts in pairs.values():
                    if ldev_id in (facts.get("pvol"), facts.get("svol")):
                        return facts
        except ReplicationError:
            return None
        return None

    # poll ---------------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """Current facts of the waiting items: one pair list request per copy group."""
        by_group: dict[str, list[str | None]] = {}
        for key in keys:
            cg, name = key  # type: ignore[misc]
            by_group.setdefault(cg, []).append(name)
        out: dict[t.Hashable, t.Any] = {}
        for cg, names in by_group.items():
            gid = self.group_ids.get(cg)
            records = self.client.pairs(gid) if gid else []
            facts = {f["pair_name"]: f for f in map(pair_facts, records)}
            for name in names:
                out[(cg, name)] = facts.get(name) if name is not None else \
                    sorted(facts.values(), key=lambda p: str(p.get("pair_name")))
        return out

    # run ----------------------------------------------------------------------------------------------
    def run(self, max_workers: int, continue_on_error: bool) -> list[dict[str, t.Any]]:
        items = []
        for item in self.items:
            record: dict[str, t.Any] = {"item": item_name(item), "copy_group": item["copy_group"],
                                        "pair_name": item.get("pair_name"), "changed": False, "actions": []}
            self._set_facts(record, item, self.current(item))
            items.append(Item(record["item"], self._steps(item, record), record))
        # the polls also keep the session alive: never further apart than a third of its idle timeout
        interval = min(self.poll_interval, ALIVE_TIME / 3)
        return run_items(items, self.poll, max_workers, continue_on_error, interval,
                         min(max(10.0, interval), ALIVE_TIME / 3))

    def _set_facts(self, record: dict[str, t.Any], item: dict[str, t.Any], facts: t.Any) -> None:
        if item.get("pair_name"):
            record["pair"] = facts
        else:
            record["pair"] = None
            record["group"] = group_view(item["copy_group"], self.group_ids.get(item["copy_group"]), facts or [])

    def _steps(self, item: dict[str, t.Any], record: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, dict[str, t.Any]]:
        key = item_key(item)
        before = self.current(item)
        self._set_facts(record, item, before)
        if key in self.plan_errors:
            error = self.plan_errors[key]
            raise ReplicationError(error.msg, **error.details)
        actions = self.plans[key]
        if self.check_mode:
            after = self._predict(item, before, actions)
            record.update({"changed": _changes(actions), "actions": list(actions)})
            if "create_svol" in actions:
                svol = item["svol"]
                record["svol"] = {"ldev_id": svol.get("ldev_id"), "pool_id": svol["pool_id"], "created": True,
                                  "block_capacity": ldev_size(self.ldev_records.get(item["pvol"]) or {})}
            self._set_facts(record, item, after)
            record["diff"] = {"before": diff_view(before), "after": diff_view(after)}
            return record
        state: dict[str, t.Any] = {"facts": before, "actions": actions}
        try:
            yield from recovering(lambda: self._apply(item, state, record),
                                  lambda exc: self._recover(item, state, record, exc), (UnansweredWriteError,))
        except ReplicationError:
            self._set_facts(record, item, state.get("facts"))
            raise
        actions = state["actions"]
        facts = state.get("facts")
        settled = bool(actions) and record["actions"][-1:] == actions[-1:] and actions[-1].startswith("wait_")
        if record["changed"] and item["state"] == "present" and not settled:
            fresh = yield Call(self.poll, {key})
            facts = fresh.get(key)
        if item["state"] == "absent":
            facts = None if item.get("pair_name") else []
        self._set_facts(record, item, facts)
        record["diff"] = {"before": diff_view(before), "after": diff_view(facts)}
        return record

    def _apply(self, item: dict[str, t.Any], state: dict[str, t.Any],
               record: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, None]:
        actions = state["actions"]
        waits = [n for n, a in enumerate(actions) if a.startswith("wait_")]
        for index, action in enumerate(actions):
            if not self.wait and waits and index == waits[-1] and index == len(actions) - 1:
                record["actions"].append(f"{action} (skipped: wait=false)")
                continue
            state["action"] = action
            yield from getattr(self, "_do_" + action)(item, state, record)
            if state.pop("noop", False):
                continue
            if not action.startswith("wait_"):
                record["changed"] = True
            record["actions"].append(action)

    def _recover(self, item: dict[str, t.Any], state: dict[str, t.Any], record: dict[str, t.Any],
                 exc: BaseException) -> t.Generator[t.Any, t.Any, None]:
        """A write got no answer: read the pair (or group) again and plan the rest from what the array did."""
        key, name, action = item_key(item), item_name(item), state.get("action")
        record["actions"].append(f"{action} (no answer)")
        if action == "create_svol":
            raise ReplicationError(
                f"{exc}. Whether the array created the S-VOL only its job list tells: if it did, pool "
                f"{item['svol']['pool_id']} holds an LDEV of the P-VOL's size that no pair uses. Give that LDEV as "
                "svol, or delete it, before the rerun (a rerun creates a new S-VOL)") from exc
        fresh = yield Call(self.poll, {key})
        facts = fresh.get(key)
        history: t.Any = None
        if item.get("restore") and facts:
            operations = yield Call(lambda: job_operations(self.client.jobs()))
            cg = item["copy_group"]
            history = pair_history(operations, cg, item["pair_name"]) if item.get("pair_name") else \
                {p["pair_name"]: pair_history(operations, cg, p["pair_name"]) for p in facts}
        if diff_view(facts) != diff_view(state.get("facts")):
            record["changed"] = True
        rest = plan(item, facts, history) if item.get("pair_name") else plan_group(item, facts, history)
        state.update({"facts": facts, "actions": rest, "issued_from": set()})
        now = describe_pair(facts) if item.get("pair_name") else (_listing(facts) if facts else "no pairs")
        record.setdefault("warnings", []).append(
            f"{exc}. Read {name} again (now {now}) and continued with: {', '.join(rest) or 'nothing left to do'}")

    def _predict(self, item: dict[str, t.Any], before: t.Any, actions: list[str]) -> t.Any:
        if item.get("pair_name"):
            svol = item["svol"]
            return predict_pair(before, item, actions, svol.get("ldev_id") if isinstance(svol, dict) else svol)
        if item["state"] == "absent":
            return []
        if not actions:
            return before
        return [predict_pair(p, dict(item, pair_name=p["pair_name"]), actions) for p in before]

    # actions ------------------------------------------------------------------------------------------
    def _pair_id(self, item: dict[str, t.Any], state: dict[str, t.Any]) -> str:
        facts = state.get("facts") or {}
        if state.get("pair_id"):
            return str(state["pair_id"])
        if isinstance(facts, dict) and facts.get("pair_id"):
            return str(facts["pair_id"])
        cg = item["copy_group"]
        return f"{self.group_ids.get(cg) or group_id(cg)},{item['pair_name']}"

    def _object_path(self, item: dict[str, t.Any], state: dict[str, t.Any]) -> str:
        if item.get("pair_name"):
            return self.client.path("local-clone-copypairs", self._pair_id(item, state))
        cg = item["copy_group"]
        return self.client.path("local-clone-copygroups", self.group_ids.get(cg) or group_id(cg))

    def _lock_for(self, copy_group: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(copy_group, threading.Lock())

    def _refused(self, item: dict[str, t.Any], state: dict[str, t.Any],
                 exc: HttpError) -> t.Generator[t.Any, t.Any, None]:
        """An action the array refused (synchronously or as a failed job): its answer plus the pair's status now."""
        key = item_key(item)
        fresh = yield Call(self.poll, {key})
        facts = fresh.get(key)
        state["facts"] = facts
        now = describe_pair(facts) if item.get("pair_name") else \
            (_listing(facts) if facts else "the copy group has no pairs")
        raise ReplicationError(f"{exc.msg}. {item_name(item)} is {now}", **dict(exc.details, current=now)) from exc

    def _do_create_svol(self, item, state, record):  # type: ignore[no-untyped-def]
        name = item_name(item)
        spec = item["svol"]
        pvol = self.ldev_records[item["pvol"]]
        body: dict[str, t.Any] = {"poolId": spec["pool_id"], "blockCapacity": ldev_size(pvol)}
        for option, field in (("ldev_id", "ldevId"), ("start_ldev_id", "startLdevId"), ("end_ldev_id", "endLdevId"),
                              ("data_reduction_mode", "dataReductionMode")):
            if spec.get(option) is not None:
                body[field] = spec[option]
        job = yield Call(self.client.write, "POST", self.client.path("ldevs"), body,
                         f"creating the S-VOL of {name} in pool {spec['pool_id']}")
        resources = job.get("affectedResources") or []
        made = id_of(resources[0]) if resources else ""
        ldev_id = int(made) if made.isdigit() else spec.get("ldev_id")
        if ldev_id is None:
            raise ReplicationError(f"the array created an S-VOL for {name} in pool {spec['pool_id']} but did not say "
                                   f"which LDEV (job {job.get('jobId')}); find it and give it as svol")
        state.update({"svol_id": ldev_id, "svol_created": True})
        record["svol"] = {"ldev_id": ldev_id, "pool_id": spec["pool_id"], "created": True}
        created = yield Call(self.client.ldev, ldev_id)
        record["svol"]["block_capacity"] = ldev_size(created)
        if ldev_size(created) != ldev_size(pvol):
            yield from self._drop_svol(item, state, record)
            raise ReplicationError(f"the S-VOL the array created for {name}, LDEV {ldev_id}, has {ldev_size(created)} "
                                   f"blocks, not the P-VOL's {ldev_size(pvol)}; it was deleted again")

    def _drop_svol(self, item, state, record):  # type: ignore[no-untyped-def]
        """Delete the S-VOL this run created when its pair could not be created (it holds no data)."""
        ldev_id = state["svol_id"]
        try:
            yield Call(self.client.write, "DELETE", self.client.path("ldevs", ldev_id), None,
                       f"deleting the unused S-VOL LDEV {ldev_id} of {item_name(item)}")
            record["actions"].append("delete_svol")
            record["svol"]["deleted"] = True
        except ReplicationError as exc:
            record["svol"]["delete_error"] = str(exc)

    def _do_create(self, item, state, record):  # type: ignore[no-untyped-def]
        name = item_name(item)
        svol = item["svol"]
        svol_id = state.get("svol_id", svol.get("ldev_id") if isinstance(svol, dict) else svol)
        body: dict[str, t.Any] = {"copyGroupName": item["copy_group"], "copyPairName": item["pair_name"],
                                  "replicationType": "SI", "pvolLdevId": item["pvol"], "svolLdevId": svol_id}
        if item.get("copy_pace") is not None:
            body["copyPace"] = item["copy_pace"]
        if item.get("mu_number") is not None:
            body["pvolMuNumber"] = item["mu_number"]
        if item.get("consistency_group") is not None:
            body.update({"isConsistencyGroup": True, "consistencyGroupId": item["consistency_group"]})
        elif desired_state(item) == "split":
            body["autoSplit"] = True
            if item.get("quick_mode"):
                body["quickMode"] = True
        state["last_op"] = "create"
        state["issued_from"] = set()
        try:
            job = yield Call(self._create_pair, item, body, f"creating pair {name} ({item['pvol']} -> {svol_id})")
        except HttpError:
            if state.get("svol_created"):
                yield from self._drop_svol(item, state, record)
            raise
        resources = job.get("affectedResources") or []
        made = split_id(id_of(resources[0])) if resources else []
        if len(made) == 4:
            state["pair_id"] = ",".join(made)

    def _create_pair(self, item: dict[str, t.Any], body: dict[str, t.Any], what: str) -> dict[str, t.Any]:
        """Create on a worker thread; pairs of a copy group that does not exist yet go one at a time, the first
        creating the group (``isNewGroupCreation``), the others joining it."""
        cg = item["copy_group"]
        with self._lock_for(cg):
            gid = self.group_ids.get(cg)
            if gid is None:
                body["isNewGroupCreation"] = True
                for option, field in (("pvol_device_group", "pvolDeviceGroupName"),
                                      ("svol_device_group", "svolDeviceGroupName")):
                    if item.get(option):
                        body[field] = item[option]
                try:
                    job = self.client.write("POST", self.client.path("local-clone-copypairs"), body, what)
                except UnansweredWriteError:
                    # the group may exist now: find it before the group's other pairs are created
                    self._catalog = None
                    hint = group_id(cg, item.get("pvol_device_group"), item.get("svol_device_group"))
                    found, _records = self.client.find_group(cg, hint, refresh=True, catalog=self.catalog)
                    if found:
                        self.group_ids[cg] = found
                    raise
                resources = job.get("affectedResources") or []
                made = split_id(id_of(resources[0])) if resources else []
                self.group_ids[cg] = ",".join(made[:3]) if len(made) == 4 else \
                    group_id(cg, item.get("pvol_device_group"), item.get("svol_device_group"))
                return job
        parts = split_id(gid)
        body.update({"isNewGroupCreation": False, "pvolDeviceGroupName": parts[1], "svolDeviceGroupName": parts[2]})
        return self.client.write("POST", self.client.path("local-clone-copypairs"), body, what)

    def _act(self, item, state, record, operation):  # type: ignore[no-untyped-def]
        facts = state.get("facts")
        if operation == "split" and facts and all(
                p.get("state") == "split" for p in (facts if isinstance(facts, list) else [facts])):
            state["noop"] = True  # the copy it waited for ended split: nothing left to do
            return
        params: dict[str, t.Any] = {}
        if item.get("copy_pace") is not None:
            params["copyPace"] = item["copy_pace"]
        if item.get("quick_mode"):
            params["quickMode"] = True
        state["last_op"] = operation
        state["issued_from"] = {p.get("state") for p in (facts if isinstance(facts, list) else [facts or {}])}
        try:
            yield Call(self.client.write, "POST", self._object_path(item, state) + f"/actions/{operation}/invoke",
                       {"parameters": params}, f"{operation} of {item_name(item)}")
        except HttpError as exc:
            yield from self._refused(item, state, exc)

    def _do_split(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._act(item, state, record, "split")

    def _do_resync(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._act(item, state, record, "resync")

    def _do_restore(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._act(item, state, record, "restore")

    def _do_delete(self, item, state, record):  # type: ignore[no-untyped-def]
        try:
            yield Call(self.client.write, "DELETE", self._object_path(item, state), None, f"deleting {item_name(item)}")
        except HttpError as exc:
            if exc.status == 404:
                state["noop"] = True  # gone already
                return
            yield from self._refused(item, state, exc)

    # waits ---------------------------------------------------------------------------------------------
    def _wait(self, item: dict[str, t.Any], state: dict[str, t.Any], what: str, target: set[str],
              intermediate: set[str]) -> t.Generator[t.Any, t.Any, None]:
        """Wait until the pair (every pair of the group) is in ``target``; ``intermediate`` statuses are
        expected on the way, any other fails at once with the status the array reports."""
        name = item_name(item)
        issued_from = state.pop("issued_from", set())
        started = time.monotonic()

        def one(facts: t.Any, label: str) -> bool | str:
            if facts is None:
                return f"pair {label} disappeared while waiting for it to become {what}"
            if facts["state"] in target:
                return True
            if facts["state"] in intermediate:
                return False
            if facts["state"] in issued_from and time.monotonic() - started < GRACE_SECONDS:
                return False  # the array accepted the change; its status may show it a moment later
            return (f"pair {label} is {facts.get('pvol_status')}/{facts.get('svol_status')} ({facts['state']}) "
                    f"while waiting for it to become {what}{_why(facts, what)}")

        def check(value: t.Any) -> bool | str:
            state["facts"] = value
            if not item.get("pair_name"):
                if not value:
                    return f"copy group {name} has no pairs any more while waiting for them to become {what}"
                verdicts = [one(p, f"{item['copy_group']}/{p['pair_name']}") for p in value]
                failures = [v for v in verdicts if isinstance(v, str)]
                if failures:
                    return "; ".join(failures[:5]) + (f" (and {len(failures) - 5} more)" if len(failures) > 5 else "")
                return all(v is True for v in verdicts)
            return one(value, name)

        facts = yield Wait(item_key(item), check, self.wait_timeout, f"{name} to become {what}", _describe, RERUN)
        state["facts"] = facts

    def _intermediate(self, state: dict[str, t.Any]) -> set[str]:
        operation = state.get("last_op")
        if operation == "restore":
            return {"restoring"}
        if operation in ("resync", "create", "split"):
            return {"copying"}
        facts = state.get("facts")
        current = {p.get("state") for p in facts} if isinstance(facts, list) else {(facts or {}).get("state")}
        return (current & set(TRANSIENT)) or set(TRANSIENT)

    def _do_wait_paired(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._wait(item, state, "paired (PAIR)", {"paired"}, self._intermediate(state))

    def _do_wait_split(self, item, state, record):  # type: ignore[no-untyped-def]
        intermediate = {"copying"} | ({"paired"} if state.get("last_op") == "create" else set())
        yield from self._wait(item, state, "split (PSUS/SSUS)", {"split"}, intermediate)

    def _do_wait_settled(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._wait(item, state, "settled (PAIR or PSUS/SSUS)", {"paired", "split"}, set(TRANSIENT))

    def _do_wait_deleted(self, item, state, record):  # type: ignore[no-untyped-def]
        def check(value: t.Any) -> bool:
            state["facts"] = value
            return not value

        facts = yield Wait(item_key(item), check, self.wait_timeout, f"{item_name(item)} to be deleted", _describe,
                           RERUN)
        state["facts"] = facts


def _why(facts: dict[str, t.Any], what: str) -> str:
    if facts["state"] == "suspended_error":
        return (": the array suspended the pair because of a failure (PSUE), so the S-VOL is not a usable copy. "
                "The array's event log (SIM) tells the cause; once it is fixed, a rerun resyncs the pair with a full "
                "copy")
    if facts["state"] == "split" and "paired" in what:
        return ": another operation split it meanwhile; a rerun resyncs it"
    return ""


def _describe(value: t.Any) -> t.Any:
    if isinstance(value, list):
        return {p.get("pair_name"): describe_pair(p) for p in value} or "no pairs"
    return describe_pair(value)
