"""ShadowImage on the engine: reading, polling and changing pairs and copy groups.

``ShadowImageDriver`` reads every copy group of the run with one pair list request
each (found by name, whatever its device groups are called), the array's job
history only when a restore needs it, the P-VOLs' capacity only when a resync or
restore would overwrite blocks that differ (the data-loss guard's bound), and the
LDEVs and pools only when a pair is to be created; waiting items are polled with
one pair list request per copy group and round. Its handlers carry out the plan's
steps: the S-VOL and the pair are created (the pairs of a new copy group one at a
time, the first creating the group), a pair or a whole copy group is split,
resynced, restored or deleted, and each wait ends at the status the step leads to.
A failure shows the pair's (or the copy group's) status as the run last saw it.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import typing as t

from ._common import ReplicationError
from ._claim import ClaimStore
from ._engine import Action, Course, Driver, Handler, Step, Steps, guard
from ._rest import HttpError, UnansweredWriteError
from ._shadowimage_plan import (TRANSIENT, Key, check_create, check_device_groups, describe, desired_state,
                                diff_view, group_view, is_create, item_key, item_name, listing, needs_history,
                                overwritten_ldevs, plan as plan_pair, plan_group, predict)
from ._vsp import (ALIVE_TIME, ResourceLock, VspClient, group_id, id_of, job_operations, ldev_defined, ldev_size,
                   pair_facts, pair_history, record_group_id, split_id)
from ._vsp_pairs import PairWait, stuck
from ._waiting import ControllerGone

RERUN = "Rerun the task: it reads the pair's status and continues from there (the array carries on copying)"


@dataclasses.dataclass
class Observed:
    """What the read found for one item: the pair's facts (a list of every pair's for a copy group), the
    array's record of the operations on it (read for a restore only), whether its S-VOL is to be created,
    what makes the item impossible (its plan raises it), and the bytes of the P-VOLs read for the guard."""

    facts: t.Any
    history: t.Any = None
    create_svol: bool = False
    refusal: ReplicationError | None = None
    capacities: dict[int, int] = dataclasses.field(default_factory=dict)


class ShadowImageDriver(Driver):
    """The engine's driver for ShadowImage pairs and copy groups on one storage system."""

    object_key = "pair"
    list_key = "pairs"
    item_key = "item"
    rerun = RERUN

    # the polls also keep the session alive: never further apart than a third of its idle timeout
    poll_ceiling = ALIVE_TIME / 3

    @classmethod
    def connect(cls, params: dict[str, t.Any]) -> ShadowImageDriver:
        # a job completes once its change is applied; it may queue behind other clients' jobs for a while
        return cls(VspClient(params, params["max_workers"], params["poll_interval"], max(params["wait_timeout"], 120)))

    def requests_sent(self) -> int:
        return int(self.client.rest.sent)

    def claims(self, items: list[dict[str, t.Any]]) -> list[ClaimStore]:
        return [ResourceLock(self.client)]

    def close(self) -> None:
        self.client.close()

    def __init__(self, client: VspClient) -> None:
        super().__init__()
        self.client = client
        self.group_pairs: dict[str, dict[str, dict[str, t.Any]]] = {}
        self.group_ids: dict[str, str] = {}
        self.histories: dict[Key, t.Any] = {}
        self.ldevs: dict[int, dict[str, t.Any]] = {}
        #: bytes of the P-VOLs whose pairs a resync or restore would overwrite (the guard's bound)
        self.capacities: dict[int, int] = {}
        self.new_svols: dict[Key, bool] = {}
        self.refusals: dict[Key, ReplicationError] = {}
        #: the S-VOLs this run created, by item (a create planned again after a lost answer uses it)
        self.svols: dict[Key, int] = {}
        #: new copy groups whose first create got no answer: the id to look for before the group is used again
        self.unsure: dict[str, str] = {}
        self._catalog: list[dict[str, t.Any]] | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # identity ------------------------------------------------------------------------------------
    def key(self, item: dict[str, t.Any]) -> Key:
        return item_key(item)

    def name(self, item: dict[str, t.Any]) -> str:
        return item_name(item)

    def record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """The item's identity, and the facts read (what an item that never runs reports)."""
        record = {"item": item_name(item), "copy_group": item["copy_group"], "pair_name": item.get("pair_name")}
        record.update(self.view(item, self.current(item)))
        return record

    def view(self, item: dict[str, t.Any], facts: t.Any) -> dict[str, t.Any]:
        """The result's facts: ``pair``, or for a copy group as a whole ``group`` (and ``pair`` null)."""
        if item.get("pair_name"):
            return {"pair": facts}
        cg = item["copy_group"]
        return {"pair": None, "group": group_view(cg, self.group_ids.get(cg), facts or [])}

    def _show(self, item: dict[str, t.Any], facts: t.Any, exc: ReplicationError) -> None:
        """A failure reports the facts it happened on (unless it names its own)."""
        for key, value in self.view(item, facts).items():
            exc.details.setdefault(key, value)

    # read ----------------------------------------------------------------------------------------
    def catalog(self) -> list[dict[str, t.Any]]:
        if self._catalog is None:
            self._catalog = self.client.copy_groups()
        return self._catalog

    def read(self, items: list[dict[str, t.Any]]) -> None:
        for cg in dict.fromkeys(item["copy_group"] for item in items):
            hinted = next((i for i in items if i["copy_group"] == cg and
                           (i.get("pvol_device_group") or i.get("svol_device_group"))), {})
            hint = group_id(cg, hinted.get("pvol_device_group"), hinted.get("svol_device_group"))
            gid, records = self.client.find_group(cg, hint, refresh=True, catalog=self.catalog)
            self.group_pairs[cg] = {f["pair_name"]: f for f in map(pair_facts, records)}
            if gid:
                self.group_ids[cg] = gid
        for item in items:
            try:
                check_device_groups(item, self.group_ids.get(item["copy_group"]))
            except ReplicationError as exc:
                self.refusals[item_key(item)] = exc
        wanting = [i for i in items if item_key(i) not in self.refusals and needs_history(i, self.current(i))]
        if wanting:
            operations = self._operations()
            for item in wanting:
                self.histories[item_key(item)] = self._history(item, operations, self.current(item))
        self._measure([(i, self.current(i), self.histories.get(item_key(i))) for i in items
                       if item_key(i) not in self.refusals])
        self._read_creates([i for i in items if item_key(i) not in self.refusals and is_create(i, self.current(i))])

    def current(self, item: dict[str, t.Any]) -> t.Any:
        pairs = self.group_pairs.get(item["copy_group"], {})
        if item.get("pair_name"):
            return pairs.get(item["pair_name"])
        return sorted(pairs.values(), key=lambda p: str(p.get("pair_name")))

    def _operations(self) -> list[tuple[int, str, str, str | None]]:
        return job_operations(self.client.jobs())

    @staticmethod
    def _history(item: dict[str, t.Any], operations: list[tuple[int, str, str, str | None]], facts: t.Any) -> t.Any:
        cg = item["copy_group"]
        if item.get("pair_name"):
            return pair_history(operations, cg, item["pair_name"])
        return {p["pair_name"]: pair_history(operations, cg, p["pair_name"]) for p in facts or []}

    def _measure(self, reads: list[tuple[dict[str, t.Any], t.Any, t.Any]]) -> None:
        """Read the capacity of the P-VOLs that a resync or restore of the items (with the facts and history
        read) would overwrite, in as few LDEV requests as their ids allow; none when nothing would."""
        wanted = {ldev for item, facts, history in reads for ldev in overwritten_ldevs(item, facts, history)}
        wanted -= set(self.capacities)
        if wanted:
            for ldev_id, record in self.client.ldevs(wanted).items():
                if ldev_defined(record) and ldev_size(record):
                    self.capacities[ldev_id] = ldev_size(record) * 512

    def _read_creates(self, creates: list[dict[str, t.Any]]) -> None:
        """Reads only creates need: the LDEVs (defined, same size, not in a pair) and the pools of new S-VOLs."""
        for item in list(creates):
            cg = item["copy_group"]
            if cg not in self.group_ids and len(cg) > 29:
                self.refusals[item_key(item)] = ReplicationError(
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
        self.ldevs = self.client.ldevs(ids)
        pool_records = {pool_id: self.client.pool(pool_id) for pool_id in sorted(pools)}
        claims: dict[int, int] = {}
        for item in creates:
            try:
                self.new_svols[item_key(item)] = check_create(item, self.ldevs, pool_records, claims,
                                                              self.client.label, self._owner_of)
            except ReplicationError as exc:
                self.refusals[item_key(item)] = exc

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

    def observe(self, item: dict[str, t.Any]) -> Observed:
        key = item_key(item)
        return Observed(self.current(item), self.histories.get(key), self.new_svols.get(key, False),
                        self.refusals.get(key), self.capacities)

    # plan ----------------------------------------------------------------------------------------
    def plan(self, item: dict[str, t.Any], observed: Observed) -> list[Action]:
        try:
            if observed.refusal is not None:
                raise observed.refusal
            if item.get("pair_name"):
                actions = plan_pair(item, observed.facts, observed.history, observed.create_svol,
                                    observed.capacities)
            else:
                actions = plan_group(item, observed.facts, observed.history, observed.capacities)
            guard(item_name(item), item, actions)  # the engine's guard, run here so its refusal shows the facts
            return actions
        except ReplicationError as exc:
            self._show(item, observed.facts, exc)
            raise

    def facts(self, item: dict[str, t.Any], observed: Observed) -> t.Any:
        return observed.facts

    def predict(self, item: dict[str, t.Any], observed: Observed, actions: list[Action]) -> t.Any:
        return predict(item, observed.facts, actions)

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def describe(self, facts: t.Any) -> t.Any:
        return describe(facts)

    # apply ---------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """Current facts of the waiting items: one pair list request per copy group."""
        by_group: dict[str, list[str | None]] = {}
        for key in keys:
            cg, name = t.cast(Key, key)
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

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "create_svol": self.create_svol, "create": self.create, "split": self.split, "resync": self.resync,
            "restore": self.restore, "delete": self.delete, "wait_paired": self.wait_paired,
            "wait_split": self.wait_split, "wait_settled": self.wait_settled, "wait_deleted": self.wait_deleted}
        return {name: self._reporting(handler) for name, handler in table.items()}

    def _reporting(self, handler: Handler) -> Handler:
        """The handler, with its failure showing the pair's status as the run last saw it."""
        def run(step: Step) -> Steps:
            try:
                return (yield from handler(step))
            except ReplicationError as exc:
                self._show(step.item, step.facts, exc)
                raise
        return run

    def reread(self, step: Step) -> Steps:
        """The pair (or copy group) again after a write without an answer: one pair list request, and the job
        history for a restore. A new copy group the lost write may have made is looked for first."""
        item = step.item
        if step.action == "create_svol":
            raise ReplicationError(
                f"{step.vars.get('unanswered')}. Whether the array created the S-VOL only its job list tells: if it "
                f"did, pool {item['svol']['pool_id']} holds an LDEV of the P-VOL's size that no pair uses. Give that "
                "LDEV as svol, or delete it, before the rerun (a rerun creates a new S-VOL)")
        if item["copy_group"] in self.unsure:
            yield from step.call(self._settle_group, item["copy_group"])
        fresh = yield from step.call(self.poll, {step.key})
        facts = fresh.get(step.key)
        history = None
        if item.get("restore") and facts:
            history = self._history(item, (yield from step.call(self._operations)), facts)
        yield from step.call(self._measure, [(item, facts, history)])
        return Observed(facts, history, capacities=self.capacities)

    def settled(self, step: Step) -> Observed:
        """After a wait for a running copy: plan the rest from the status it ended in (split may leave nothing)."""
        return Observed(step.facts, step.observed.history, capacities=self.capacities)

    def finish(self, step: Step) -> None:
        record, item = step.record, step.item
        facts = record.get("pair")
        if item["state"] == "absent" and not step.engine.check_mode:
            facts = None if item.get("pair_name") else []
            record["diff"]["after"] = diff_view(facts)
        record.update(self.view(item, facts))
        if step.engine.check_mode and "create_svol" in step.actions:
            svol = item["svol"]
            record["svol"] = {"ldev_id": svol.get("ldev_id"), "pool_id": svol["pool_id"], "created": True,
                              "block_capacity": ldev_size(self.ldevs.get(item["pvol"]) or {})}

    # the S-VOL and the pair ----------------------------------------------------------------------
    def create_svol(self, step: Step) -> Steps:
        item, name = step.item, step.name
        spec = item["svol"]
        pvol = self.ldevs[item["pvol"]]
        body: dict[str, t.Any] = {"poolId": spec["pool_id"], "blockCapacity": ldev_size(pvol)}
        for option, field in (("ldev_id", "ldevId"), ("start_ldev_id", "startLdevId"), ("end_ldev_id", "endLdevId"),
                              ("data_reduction_mode", "dataReductionMode")):
            if spec.get(option) is not None:
                body[field] = spec[option]
        try:
            job = yield from step.call(self.client.write, "POST", self.client.path("ldevs"), body,
                                       f"creating the S-VOL of {name} in pool {spec['pool_id']}")
        except UnansweredWriteError as exc:
            step.vars["unanswered"] = exc  # what the read after it says (only the job list can tell)
            raise
        resources = job.get("affectedResources") or []
        made = id_of(resources[0]) if resources else ""
        ldev_id = int(made) if made.isdigit() else spec.get("ldev_id")
        if ldev_id is None:
            raise ReplicationError(f"the array created an S-VOL for {name} in pool {spec['pool_id']} but did not say "
                                   f"which LDEV (job {job.get('jobId')}); find it and give it as svol")
        self.svols[step.key] = ldev_id
        step.record["svol"] = {"ldev_id": ldev_id, "pool_id": spec["pool_id"], "created": True}
        created = yield from step.call(self.client.ldev, ldev_id)
        step.record["svol"]["block_capacity"] = ldev_size(created)
        if ldev_size(created) != ldev_size(pvol):
            yield from self._drop_svol(step)
            raise ReplicationError(f"the S-VOL the array created for {name}, LDEV {ldev_id}, has {ldev_size(created)} "
                                   f"blocks, not the P-VOL's {ldev_size(pvol)}; it was deleted again")

    def _drop_svol(self, step: Step) -> Steps:
        """Delete the S-VOL this run created when its pair could not be created (it holds no data)."""
        ldev_id = self.svols[step.key]
        try:
            yield from step.call(self.client.write, "DELETE", self.client.path("ldevs", ldev_id), None,
                                 f"deleting the unused S-VOL LDEV {ldev_id} of {step.name}")
            step.record["actions"].append("delete_svol")
            step.record["svol"]["deleted"] = True
        except ControllerGone:
            raise
        except ReplicationError as exc:
            step.record["svol"]["delete_error"] = str(exc)

    def create(self, step: Step) -> Steps:
        item, name = step.item, step.name
        svol = item["svol"]
        svol_id = self.svols.get(step.key, svol.get("ldev_id") if isinstance(svol, dict) else svol)
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
        step.vars.update(last_op="create", issued_from=set())
        try:
            job = yield from step.call(self._create_pair, item, body,
                                       f"creating pair {name} ({item['pvol']} -> {svol_id})")
        except HttpError:
            if step.key in self.svols:
                yield from self._drop_svol(step)
            raise
        resources = job.get("affectedResources") or []
        made = split_id(id_of(resources[0])) if resources else []
        if len(made) == 4:
            step.vars["pair_id"] = ",".join(made)

    def _lock_for(self, copy_group: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(copy_group, threading.Lock())

    def _create_pair(self, item: dict[str, t.Any], body: dict[str, t.Any], what: str) -> dict[str, t.Any]:
        """Create on a worker thread; pairs of a copy group that does not exist yet go one at a time, the first
        creating the group (``isNewGroupCreation``), the others joining it."""
        cg = item["copy_group"]
        with self._lock_for(cg):
            self._find_unsure(cg)
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
                    # the group may exist now: whoever uses it next (another pair's create, or this item's read
                    # after the lost answer) looks for it first, so no other pair creates it again
                    self.unsure[cg] = group_id(cg, item.get("pvol_device_group"), item.get("svol_device_group"))
                    raise
                resources = job.get("affectedResources") or []
                made = split_id(id_of(resources[0])) if resources else []
                self.group_ids[cg] = ",".join(made[:3]) if len(made) == 4 else \
                    group_id(cg, item.get("pvol_device_group"), item.get("svol_device_group"))
                return job
        parts = split_id(gid)
        body.update({"isNewGroupCreation": False, "pvolDeviceGroupName": parts[1], "svolDeviceGroupName": parts[2]})
        return self.client.write("POST", self.client.path("local-clone-copypairs"), body, what)

    def _settle_group(self, copy_group: str) -> None:
        with self._lock_for(copy_group):
            self._find_unsure(copy_group)

    def _find_unsure(self, copy_group: str) -> None:
        """Find a copy group whose first create got no answer (with its lock held)."""
        hint = self.unsure.get(copy_group)
        if hint is None:
            return
        self._catalog = None
        found, _records = self.client.find_group(copy_group, hint, refresh=True, catalog=self.catalog)
        if found:
            self.group_ids[copy_group] = found
        del self.unsure[copy_group]

    # pair and copy group actions -----------------------------------------------------------------
    def _pair_id(self, step: Step) -> str:
        if step.vars.get("pair_id"):
            return str(step.vars["pair_id"])
        if isinstance(step.facts, dict) and step.facts.get("pair_id"):
            return str(step.facts["pair_id"])
        cg = step.item["copy_group"]
        return f"{self.group_ids.get(cg) or group_id(cg)},{step.item['pair_name']}"

    def _object_path(self, step: Step) -> str:
        if step.item.get("pair_name"):
            return self.client.path("local-clone-copypairs", self._pair_id(step))
        cg = step.item["copy_group"]
        return self.client.path("local-clone-copygroups", self.group_ids.get(cg) or group_id(cg))

    def _refused(self, step: Step, exc: HttpError) -> Steps:
        """An action the array refused (synchronously or as a failed job): its answer plus the pair's status now."""
        fresh = yield from step.call(self.poll, {step.key})
        step.facts = fresh.get(step.key)
        now = listing(step.facts)
        raise ReplicationError(f"{exc.msg}. {step.name} is {now}", **dict(exc.details, current=now)) from exc

    def _act(self, step: Step, operation: str) -> Steps:
        item = step.item
        params: dict[str, t.Any] = {}
        if item.get("copy_pace") is not None:
            params["copyPace"] = item["copy_pace"]
        if item.get("quick_mode"):
            params["quickMode"] = True
        facts = step.facts
        step.vars.update(last_op=operation,
                         issued_from={p.get("state") for p in (facts if isinstance(facts, list) else [facts or {}])})
        try:
            yield from step.call(self.client.write, "POST", self._object_path(step) + f"/actions/{operation}/invoke",
                                 {"parameters": params}, f"{operation} of {step.name}")
        except HttpError as exc:
            yield from self._refused(step, exc)

    def split(self, step: Step) -> Steps:
        yield from self._act(step, "split")

    def resync(self, step: Step) -> Steps:
        yield from self._act(step, "resync")

    def restore(self, step: Step) -> Steps:
        yield from self._act(step, "restore")

    def delete(self, step: Step) -> Steps:
        try:
            yield from step.call(self.client.write, "DELETE", self._object_path(step), None, f"deleting {step.name}")
        except HttpError as exc:
            if exc.status != 404:  # not found: gone already, which is what the delete is for
                yield from self._refused(step, exc)

    # waits ---------------------------------------------------------------------------------------
    def _wait(self, step: Step, what: str, target: set[str], intermediate: set[str]) -> Steps:
        """Wait until the pair (every pair of the group) is in ``target``; ``intermediate`` statuses are
        expected on the way, any other ends the wait at once (``course``)."""
        step.vars["wait"] = PairWait(step.action, what, target, intermediate, step.vars.pop("issued_from", set()),
                                     time.monotonic())

        def check(value: t.Any) -> bool:
            step.facts = value
            pairs = value if isinstance(value, list) else [value]
            return bool(pairs) and all(p is not None and p["state"] in target for p in pairs)

        yield from step.wait(check, f"become {what}")

    def course(self, step: Step, facts: t.Any) -> Course:
        """A pair (a pair of the group) in a status that neither is the wait's target nor leads to it (PSUE while
        waiting for PAIR, PSUS while waiting for PAIR after a resync, gone) cannot reach the target any more."""
        wait = step.vars.get("wait")
        if not isinstance(wait, PairWait) or wait.action is not step.action:
            return None
        item = step.item
        if not item.get("pair_name"):
            if not facts:
                return f"copy group {step.name} has no pairs any more while waiting for them to become {wait.what}"
            failures = [f for f in (self._stuck(wait, p, f"{item['copy_group']}/{p['pair_name']}") for p in facts)
                        if f is not None]
            if failures:
                return "; ".join(failures[:5]) + (f" (and {len(failures) - 5} more)" if len(failures) > 5 else "")
            return None
        return self._stuck(wait, facts, step.name)

    _stuck = staticmethod(stuck)

    def _intermediate(self, step: Step) -> set[str]:
        operation = step.vars.get("last_op")
        if operation == "restore":
            return {"restoring"}
        if operation in ("resync", "create", "split"):
            return {"copying"}
        facts = step.facts
        current = {p.get("state") for p in facts} if isinstance(facts, list) else {(facts or {}).get("state")}
        return (current & set(TRANSIENT)) or set(TRANSIENT)

    def wait_paired(self, step: Step) -> Steps:
        yield from self._wait(step, "paired (PAIR)", {"paired"}, self._intermediate(step))

    def wait_split(self, step: Step) -> Steps:
        intermediate = {"copying"} | ({"paired"} if step.vars.get("last_op") == "create" else set())
        yield from self._wait(step, "split (PSUS/SSUS)", {"split"}, intermediate)

    def wait_settled(self, step: Step) -> Steps:
        yield from self._wait(step, "settled (PAIR or PSUS/SSUS)", {"paired", "split"}, set(TRANSIENT))

    def wait_deleted(self, step: Step) -> Steps:
        def check(value: t.Any) -> bool:
            step.facts = value
            return not value

        yield from step.wait(check, "be deleted")
