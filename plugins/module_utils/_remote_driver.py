"""Remote copy (TC, UR, GAD) on the engine: reading, polling and changing pairs between two VSP arrays.

``RemoteCopyDriver`` holds one session on each array (``_remote_client``). It reads each
copy group of the run from the primary with the copy group list and one group request
(its ``copyPairs``), the secondary's storage device ID (unless given), the LDEVs only for a
create or for the data-loss guard's bound, and for Universal Replicator pairs the master
and restore journals (the lag). With the primary down it reads the secondary's side of
each group with ``NotSpecified`` ids; only a takeover is planned then. Waiting items are
polled with one group request per copy group on each array, and a wait ends when the
pair is at its target on both. Splits, resyncs and deletes go to the primary (with
``Remote-Authorization``), takeovers to the secondary.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import threading
import time
import typing as t

from ._claim import ClaimStore
from ._common import ReplicationError
from ._engine import Action, Course, Driver, Handler, Step, Steps, changes
from ._remote_client import GROUPS, NOT_SPECIFIED, PAIRS, RemoteClient, local_group_id, pair_facts, record_group_id
from ._remote_read import add_journal_lag
from ._remote_plan import (Key, Observed, check_group, describe, diff_view, is_group, item_key, item_name,
                           listing, needs_capacity, plan as plan_item, predict)
from ._rest import HttpError, UnreachableError
from ._vsp import ALIVE_TIME, ResourceLock, id_of, ldev_defined, ldev_size, split_id
from ._vsp_pairs import PairWait, stuck

RERUN = "Rerun the task: it reads the pair's status on both arrays and continues from there"
INTERMEDIATE = {"create": {"copying"}, "resync": {"copying"}, "swap_resync": {"copying"},
                "split": {"paired", "swapped"}, "swap_split": {"paired", "swapped"}, "takeover": {"paired"}}


def remote_why(facts: dict[str, t.Any], what: str) -> str:
    if facts["state"] == "suspended_error":
        return (": the arrays suspended the pair because of a failure (PSUE: a cut link or an array down; PFUS: "
                "a full journal). Once the cause is fixed, a rerun resyncs the pair")
    return ""


class RemoteCopyDriver(Driver):
    """The engine's driver for TC, UR and GAD pairs and copy groups between a primary and a secondary array."""

    object_key = "pair"
    list_key = "pairs"
    item_key = "item"
    rerun = RERUN
    noun = "pairs"
    poll_ceiling = ALIVE_TIME / 3

    @classmethod
    def connect(cls, params: dict[str, t.Any]) -> RemoteCopyDriver:
        timeout = max(params["wait_timeout"], 120)
        primary = RemoteClient(params, "primary", params["max_workers"], params["poll_interval"], timeout)
        secondary = RemoteClient(params["remote_array"], "secondary", params["max_workers"],
                                 params["poll_interval"], timeout)
        primary.peer, secondary.peer = secondary, primary
        return cls(primary, secondary)

    def __init__(self, primary: RemoteClient, secondary: RemoteClient) -> None:
        super().__init__()
        self.primary = primary
        self.secondary = secondary
        self.primary_down: UnreachableError | None = None
        self.secondary_down: ReplicationError | None = None
        self.secondary_sid: str | None = None
        self.groups: dict[str, dict[str, t.Any]] = {}
        self.pairs: dict[str, list[dict[str, t.Any]]] = {}
        self.secondary_ids: dict[str, str] = {}
        self.names: dict[Key, str] = {}
        self.capacities: dict[int, int] = {}
        self.refusals: dict[Key, ReplicationError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # connections ---------------------------------------------------------------------------------
    def requests_sent(self) -> int:
        return int(self.primary.rest.sent) + int(self.secondary.rest.sent)

    def claims(self, items: list[dict[str, t.Any]]) -> list[ClaimStore]:
        return [ResourceLock(self.secondary if self.primary_down else self.primary)]

    def close(self) -> None:
        self.primary.close()
        self.secondary.close()

    # identity ------------------------------------------------------------------------------------
    def key(self, item: dict[str, t.Any]) -> Key:
        return item_key(item)

    def name(self, item: dict[str, t.Any]) -> str:
        return item_name(item)

    def record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        record = {"item": item_name(item), "copy_group": item["copy_group"], "pair_name": item.get("pair_name")}
        record.update(self.view(item, self.current(item)))
        return record

    def view(self, item: dict[str, t.Any], facts: t.Any) -> dict[str, t.Any]:
        if not is_group(item):
            return {"pair": facts}
        pairs = facts or []
        states = {p.get("state") for p in pairs}
        return {"pair": None, "group": {
            "copy_group": item["copy_group"], "copy_group_id": (self.groups.get(item["copy_group"]) or {}).get(
                "remoteMirrorCopyGroupId"), "pair_count": len(pairs),
            "state": (states.pop() if len(states) == 1 else "mixed") if pairs else None,
            "in_sync": bool(pairs) and all(p.get("in_sync") for p in pairs),
            "healthy": all(p.get("healthy") for p in pairs), "pairs": pairs}}

    # read ----------------------------------------------------------------------------------------
    def read(self, items: list[dict[str, t.Any]]) -> None:
        wanted = list(dict.fromkeys(item["copy_group"] for item in items))
        try:
            listed = self.primary.copy_groups()
        except UnreachableError as exc:
            self.primary_down = exc
            self._read_secondary(wanted)
        else:
            self._read_primary(wanted, listed)
        for item in items:
            try:
                if not self.primary_down:
                    check_group(item, self.groups.get(item["copy_group"]), self._declared_secondary())
                if not is_group(item):
                    self.names.setdefault(item_key(item), str((self.current(item) or {}).get("pair_name") or ""))
            except ReplicationError as exc:
                self.refusals[item_key(item)] = exc
        if self.primary_down:
            return
        self._measure(items)
        self._read_creates([i for i in items if item_key(i) not in self.refusals and not is_group(i)
                            and i["state"] == "present" and self.current(i) is None])
        self._journals([p for cg in wanted for p in self.pairs.get(cg, [])])

    def _declared_secondary(self) -> str | None:
        """The secondary's storage device ID (given, or as its REST server says; None when it does not answer)."""
        try:
            return self.secondary.storage_id()
        except (UnreachableError, HttpError):
            return None

    def _read_primary(self, wanted: list[str], listed: list[dict[str, t.Any]]) -> None:
        for cg in wanted:
            record = next((g for g in listed if g.get("copyGroupName") == cg), None)
            if record is None:
                continue
            self.groups[cg] = record
            self.secondary_sid = self.secondary_sid or record.get("remoteStorageDeviceId")
            self.pairs[cg] = self._group_facts(self.primary, record_group_id(record), record)

    def _group_facts(self, client: RemoteClient, gid: str, record: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """Every pair of a copy group as ``client`` reads it (its group request with ``copyPairs``)."""
        try:
            detail = client.group(gid) or {}
        except (UnreachableError, HttpError) as exc:
            if client is not self.primary or (isinstance(exc, HttpError) and exc.status != 502):
                raise
            # the secondary does not answer: the primary's side alone, with NotSpecified for the remote parts
            self.secondary_down = exc
            gid = local_group_id(record)
            detail = client.group(gid) or {}
        sid = self.secondary_sid if client is self.primary else self.secondary_sid or self.secondary.storage_id()
        facts = [pair_facts(r, gid, sid) for r in detail.get("copyPairs") or []]
        if client is self.secondary and not self.primary_down:
            gid = record_group_id(record)  # ids from the primary's side, as the results show them
            for pair in facts:
                pair.update(copy_group_id=gid, pair_id=f"{gid},{pair.get('pair_name')}")
        return sorted(facts, key=lambda f: str(f.get("pair_name")))

    def _read_secondary(self, wanted: list[str]) -> None:
        """The primary does not answer: each group's side on the secondary, with ``NotSpecified`` ids."""
        listed = self.secondary.copy_groups()
        for cg in wanted:
            record = next((g for g in listed if g.get("copyGroupName") == cg), None)
            if record is None:
                continue
            self.groups[cg] = record
            self.pairs[cg] = self._group_facts(self.secondary, local_group_id(record), record)

    def current(self, item: dict[str, t.Any]) -> t.Any:
        pairs = self.pairs.get(item["copy_group"], [])
        if is_group(item):
            return pairs
        return find_pair(pairs, item, self.names.get(item_key(item)), bool(self.primary_down))

    def _measure(self, items: list[dict[str, t.Any]]) -> None:
        wanted = {ldev for item in items for ldev in needs_capacity(item, self.current(item))} - set(self.capacities)
        if wanted:
            for ldev_id, record in self.primary.ldevs(wanted).items():
                if ldev_defined(record) and ldev_size(record):
                    self.capacities[ldev_id] = ldev_size(record) * 512

    def _read_creates(self, creates: list[dict[str, t.Any]]) -> None:
        """A new pair's volumes: both defined, of the same size (the P-VOL on the primary, the S-VOL on the
        secondary)."""
        for item in creates:
            if item.get("pvol") is None or item.get("svol") is None:
                continue
            name = item_name(item)
            try:
                kinds = sorted({str(p.get("replication_type")) for p in self.pairs.get(item["copy_group"], [])})
                if kinds and kinds != [item["replication_type"]]:
                    raise ReplicationError(f"{name}: copy group {item['copy_group']} holds {', '.join(kinds)} pairs, "
                                           f"not {item['replication_type']}; a copy group holds one type")
                pvol, svol = self.primary.ldev(item["pvol"]), self.secondary.ldev(item["svol"])
                for record, side, client in ((pvol, "P-VOL", self.primary), (svol, "S-VOL", self.secondary)):
                    if not ldev_defined(record):
                        raise ReplicationError(f"{name}: the {side}, LDEV {record.get('ldevId')}, is not defined on "
                                               f"{client.label} (emulationType NOT DEFINED)")
                if ldev_size(pvol) != ldev_size(svol):
                    raise ReplicationError(f"{name}: the S-VOL, LDEV {item['svol']} ({ldev_size(svol)} blocks), is "
                                           f"not the size of the P-VOL, LDEV {item['pvol']} ({ldev_size(pvol)} blocks)",
                                           pvol_blocks=ldev_size(pvol), svol_blocks=ldev_size(svol))
            except ReplicationError as exc:
                self.refusals[item_key(item)] = exc

    def _journals(self, pairs: list[dict[str, t.Any]]) -> None:
        """The UR journal lag of each pair (master journal on the P-VOL's array, restore journal on the other)."""
        add_journal_lag(self.primary, self.secondary, pairs)

    def observe(self, item: dict[str, t.Any]) -> Observed:
        return Observed(self.current(item), bool(self.primary_down), self.groups.get(item["copy_group"]),
                        self.capacities, self.refusals.get(item_key(item)))

    # plan ----------------------------------------------------------------------------------------
    def plan(self, item: dict[str, t.Any], observed: Observed) -> list[Action]:
        try:
            actions = plan_item(item, observed)
            if self.secondary_down is not None and changes(actions):
                raise ReplicationError(f"{item_name(item)}: the secondary array does not answer "
                                       f"({self.secondary_down}); the steps planned ({', '.join(actions)}) need both "
                                       "arrays. The facts show the primary's side only", secondary_error=str(
                                           self.secondary_down))
            return actions
        except ReplicationError as exc:
            if self.primary_down and not item.get("takeover"):
                exc.details.setdefault("primary_error", str(self.primary_down))
            for key, value in self.view(item, observed.facts).items():
                exc.details.setdefault(key, value)
            raise

    def facts(self, item: dict[str, t.Any], observed: Observed) -> t.Any:
        return observed.facts

    def predict(self, item: dict[str, t.Any], observed: Observed, actions: list[Action]) -> t.Any:
        return predict(item, observed.facts, actions, item.get("pair_name") or f"ldev{item.get('pvol')}")

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def describe(self, facts: t.Any) -> t.Any:
        return describe(facts)

    # poll ----------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """Current facts of the waiting items: one group request per copy group on each array that answers."""
        out: dict[t.Hashable, t.Any] = {}
        for cg in {t.cast(Key, k)[0] for k in keys}:
            record = self.groups.get(cg)
            if record is None:
                pairs: list[dict[str, t.Any]] = []
            elif self.primary_down:
                pairs = self._group_facts(self.secondary, local_group_id(record), record)
            else:
                pairs = self._group_facts(self.primary, record_group_id(record), record)
                self._seen_by_secondary(cg, record, pairs)
            self.pairs[cg] = pairs
            for key in keys:
                cg_of, name, pvol = t.cast(Key, key)
                if cg_of == cg:
                    item = {"copy_group": cg, "pair_name": name, "pvol": pvol}
                    out[key] = pairs if name is None and pvol is None else \
                        find_pair(pairs, item, self.names.get(t.cast(Key, key)), bool(self.primary_down))
        return out

    def _seen_by_secondary(self, cg: str, record: dict[str, t.Any], pairs: list[dict[str, t.Any]]) -> None:
        """Each pair's state as the secondary array reports it (``state_on_secondary``); a wait ends on both."""
        gid = self.secondary_ids.get(cg)
        try:
            if gid is None:
                found = next((g for g in self.secondary.copy_groups() if g.get("copyGroupName") == cg), None)
                if found is None:
                    return
                gid = self.secondary_ids[cg] = record_group_id(found)
            theirs = {f["pair_name"]: f for f in self._group_facts(self.secondary, gid, record)}
        except (UnreachableError, HttpError):
            return
        for pair in pairs:
            other = theirs.get(pair.get("pair_name"))
            pair["state_on_secondary"] = other.get("state") if other else None

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "create": self.create, "split": self.act, "swap_split": self.act, "resync": self.act,
            "swap_resync": self.act, "takeover": self.takeover, "delete": self.delete,
            "wait_deleted": self.wait_deleted}
        for name in ("wait_paired", "wait_swapped", "wait_split", "wait_swap_split", "wait_taken_over",
                     "wait_settled"):
            table[name] = self.wait_for
        return {name: self._reporting(handler) for name, handler in table.items()}

    def _reporting(self, handler: Handler) -> Handler:
        def run(step: Step) -> Steps:
            try:
                return (yield from handler(step))
            except ReplicationError as exc:
                for key, value in self.view(step.item, step.facts).items():
                    exc.details.setdefault(key, value)
                raise
        return run

    def settled(self, step: Step) -> Observed:
        return Observed(step.facts, bool(self.primary_down), self.groups.get(step.item["copy_group"]),
                        self.capacities)

    def finish(self, step: Step) -> None:
        record, item = step.record, step.item
        facts = record.get("pair")
        if item["state"] == "absent" and not step.engine.check_mode:
            facts = None if not is_group(item) else []
            record["diff"]["after"] = diff_view(facts)
        elif step.record.get("changed") and not step.engine.check_mode and facts:
            pairs = facts if isinstance(facts, list) else [facts]
            if any(p.get("replication_type") == "UR" or p.get("in_sync") for p in pairs):
                self._journals(pairs)
        record.update(self.view(item, facts))

    # actions -------------------------------------------------------------------------------------
    def _lock_for(self, copy_group: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(copy_group, threading.Lock())

    def create(self, step: Step) -> Steps:
        item = step.item
        name = item.get("pair_name") or f"ldev{item['pvol']}"
        body: dict[str, t.Any] = {"copyGroupName": item["copy_group"], "copyPairName": name,
                                  "replicationType": item["replication_type"],
                                  "pvolLdevId": item["pvol"], "svolLdevId": item["svol"]}
        for option, field in (("path_group_id", "pathGroupId"), ("fence_level", "fenceLevel"),
                              ("copy_pace", "copyPace"), ("mu_number", "muNumber"),
                              ("pvol_journal_id", "pvolJournalId"), ("svol_journal_id", "svolJournalId"),
                              ("quorum_disk_id", "quorumDiskId")):
            if item.get(option) is not None:
                body[field] = item[option]
        step.vars.update(last_op="create", issued_from=set())
        self.names[step.key] = name
        yield from step.call(self._create_pair, item, body, f"creating pair {step.name} ({item['pvol']} on the "
                                                            f"primary -> {item['svol']} on the secondary)")

    def _create_pair(self, item: dict[str, t.Any], body: dict[str, t.Any], what: str) -> dict[str, t.Any]:
        """Create on a worker thread; the pairs of a new copy group go one at a time, the first creating it."""
        cg = item["copy_group"]
        with self._lock_for(cg):
            sid = self.secondary.storage_id()
            body["remoteStorageDeviceId"] = sid
            record = self.groups.get(cg)
            if record is None:
                body.update({"isNewGroupCreation": True, "localDeviceGroupName": f"{cg}P_",
                             "remoteDeviceGroupName": f"{cg}S_"})
            else:
                body.update({"isNewGroupCreation": False, "localDeviceGroupName": record.get("localDeviceGroupName"),
                             "remoteDeviceGroupName": record.get("remoteDeviceGroupName")})
            job = self.primary.write("POST", self.primary.path(PAIRS), body, what)
            if record is None:
                resources = job.get("affectedResources") or []
                made = split_id(id_of(resources[0])) if resources else []
                parts = made[:4] if len(made) == 5 else [sid, cg, f"{cg}P_", f"{cg}S_"]
                self.groups[cg] = {"remoteMirrorCopyGroupId": ",".join(parts), "copyGroupName": cg,
                                   "remoteStorageDeviceId": parts[0], "localDeviceGroupName": parts[2],
                                   "remoteDeviceGroupName": parts[3]}
                self.secondary_sid = self.secondary_sid or sid
            return job

    def _path(self, step: Step) -> str:
        record = self.groups.get(step.item["copy_group"]) or {}
        gid = record_group_id(record)
        if is_group(step.item):
            return self.primary.path(GROUPS, gid)
        return self.primary.path(PAIRS, f"{gid},{self.names.get(step.key)}")

    def _kind(self, step: Step) -> str:
        facts = step.facts if isinstance(step.facts, list) else [step.facts or {}]
        return str(step.item.get("replication_type") or next((p.get("replication_type") for p in facts), ""))

    def _issued(self, step: Step, operation: str) -> None:
        facts = step.facts if isinstance(step.facts, list) else [step.facts or {}]
        step.vars.update(last_op=operation, issued_from={p.get("state") for p in facts})

    def _refused(self, step: Step, exc: HttpError) -> Steps:
        fresh = yield from step.call(self.poll, {step.key})
        step.facts = fresh.get(step.key)
        now = listing(step.facts)
        raise ReplicationError(f"{exc.msg}. {step.name} is {now}", **dict(exc.details, current=now)) from exc

    def act(self, step: Step) -> Steps:
        """split, swap_split (the S-VOL made writable: SSWS), resync, swap_resync (the direction reversed)."""
        action = step.action.name
        params: dict[str, t.Any] = {"replicationType": self._kind(step)}
        if action == "swap_split":
            params["svolOperationMode"] = "SSWS"
        if action == "swap_resync":
            params["doSwapSvol"] = True
        if action in ("resync", "swap_resync") and step.item.get("copy_pace") is not None:
            params["copyPace"] = step.item["copy_pace"]
        operation = "split" if "split" in action else "resync"
        self._issued(step, action)
        try:
            yield from step.call(self.primary.write, "POST", self._path(step) + f"/actions/{operation}/invoke",
                                 {"parameters": params}, f"{action.replace('_', ' ')} of {step.name}")
        except HttpError as exc:
            yield from self._refused(step, exc)

    def takeover(self, step: Step) -> Steps:
        """The takeover, sent to the secondary with ``NotSpecified`` for the primary's parts of the id."""
        record = self.groups.get(step.item["copy_group"]) or {}
        dg = record.get("localDeviceGroupName") if self.primary_down else record.get("remoteDeviceGroupName")
        gid = f"{NOT_SPECIFIED},{step.item['copy_group']},{dg},{NOT_SPECIFIED}"
        path = self.secondary.path(GROUPS, gid) if is_group(step.item) else \
            self.secondary.path(PAIRS, f"{gid},{self.names.get(step.key)}")
        self._issued(step, "takeover")
        try:
            yield from step.call(self.secondary.write, "POST", path + "/actions/takeover/invoke",
                                 {"parameters": {"mode": step.action.args.get("mode", "auto")}},
                                 f"takeover of {step.name} on the secondary")
        except HttpError as exc:
            yield from self._refused(step, exc)

    def delete(self, step: Step) -> Steps:
        try:
            yield from step.call(self.primary.write, "DELETE", self._path(step), None, f"deleting {step.name}")
        except HttpError as exc:
            if exc.status != 404:
                yield from self._refused(step, exc)

    # waits ---------------------------------------------------------------------------------------
    def wait_for(self, step: Step) -> Steps:
        """Wait until the pair (every pair of the group) is in the action's target state, as both arrays say."""
        targets = set(step.action.args.get("target") or [])
        operation = step.vars.get("last_op", "")
        intermediate = {"copying"} if step.action == "wait_settled" else INTERMEDIATE.get(operation, set())
        what = " or ".join(sorted(targets))
        step.vars["wait"] = PairWait(step.action, what, targets, intermediate, step.vars.pop("issued_from", set()),
                                     time.monotonic())

        def check(value: t.Any) -> bool:
            step.facts = value
            pairs = value if isinstance(value, list) else [value]
            return bool(pairs) and all(p is not None and p["state"] in targets and
                                       p.get("state_on_secondary", p["state"]) in targets for p in pairs)

        yield from step.wait(check, f"become {what}")

    def course(self, step: Step, facts: t.Any) -> Course:
        wait = step.vars.get("wait")
        if not isinstance(wait, PairWait) or wait.action is not step.action:
            return None
        if isinstance(facts, list):
            if not facts:
                return f"copy group {step.name} has no pairs any more while waiting for them to become {wait.what}"
            failures = [f for f in (stuck(wait, p, f"{step.item['copy_group']}/{p['pair_name']}", remote_why)
                                    for p in facts) if f is not None]
            return "; ".join(failures[:5]) if failures else None
        return stuck(wait, facts, step.name, remote_why)

    def wait_deleted(self, step: Step) -> Steps:
        def check(value: t.Any) -> bool:
            step.facts = value
            return not value

        yield from step.wait(check, "be deleted")


def find_pair(pairs: list[dict[str, t.Any]], item: dict[str, t.Any], known: str | None,
              primary_down: bool) -> dict[str, t.Any] | None:
    """The item's pair in its copy group: by name, else by the primary's LDEV (the secondary's with the
    primary down, when its side is all there is)."""
    name = item.get("pair_name") or known
    if name:
        return next((p for p in pairs if p.get("pair_name") == name), None)
    if primary_down and item.get("svol") is not None:
        return next((p for p in pairs if p.get("svol") == item["svol"]), None)
    return next((p for p in pairs if item.get("pvol") is not None and p.get("pvol") == item["pvol"]), None)
