"""SMI-S synchronizations on the shared engine: read, observe, poll, and the action handlers.

``SmisDriver.read`` reads the volumes and every synchronization of the namespace
with two requests and plans each item; then it asks the provider the capability
questions those plans need (``_smis_ops``: the services, the operations the pair
accepts now and those of the states the plan passes through), so the plan names
the service, method and operation of every step before anything changes, and
check mode reports the same steps and refusals as a real run. Jobs and pairs of
all waiting items are polled with one enumeration per round. Bulk workers each
hold a pywbem connection of their own (``SmisClient``).

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ._bulk import Wait
from ._claim import ClaimStore
from ._common import ReplicationError
from ._engine import Action, Course, Driver, Handler, Step, Steps
from ._smis import (MODE_VALUES, RC_JOB, RC_OK, SYNC_TYPE_VALUES, SmisClient, keys_of, rc_label, sync_facts,
                    uint16)
from ._smis_ops import Answers, GroupClaim, Missing, Op, Query, resolve
from ._smis_plan import (ACTION_OPS, RERUN, SNAPSHOT_SYNCED, WAIT_TARGETS, create_mode, describe, describe_job,
                         diff_view, item_name, plan, predict)

Pair = t.Tuple[str, str]
#: seconds a pair may still show the unhealthy CopyState a change was issued from (its provider may update it late)
GRACE_SECONDS = 10.0


class StateWait(t.NamedTuple):
    """What a wait for a CopyState expects: ``targets`` (None: any idle state), and from where it started."""

    action: Action
    targets: tuple[int, ...] | None
    caught_up: bool
    before: int | None
    started: float


@dataclasses.dataclass
class Observation:
    """What a read found for one item: its volumes, the pair either way round, and the provider's answers."""

    src: dict[str, t.Any] | None
    tgt: dict[str, t.Any] | None
    current: dict[str, t.Any] | None
    opposite: dict[str, t.Any] | None
    others: list[tuple[str, str]]  # (DeviceID, name) of the sources of other synchronizations into the target
    answers: Answers


class SmisDriver(Driver):
    """One module run over one SMI-S provider."""

    object_key = "synchronization"
    list_key = "synchronizations"
    noun = "synchronizations"
    rerun = RERUN

    @classmethod
    def connect(cls, params: dict[str, t.Any], items: list[dict[str, t.Any]]) -> SmisDriver:
        return cls(SmisClient(params), items, params["max_workers"])

    def requests_sent(self) -> int:
        return int(self.client.sent)

    def claims(self, items: list[dict[str, t.Any]]) -> list[ClaimStore]:
        return [GroupClaim(self.client)]

    def __init__(self, client: SmisClient, items: list[dict[str, t.Any]], max_workers: int = 10) -> None:
        super().__init__()
        self.client = client
        self.items = items
        self.max_workers = max_workers
        self.volumes: list[dict[str, t.Any]] = []
        self.names: dict[str, str] = {}
        self.paths: dict[Pair, t.Any] = {}
        self.pair_of: dict[str, Pair | None] = {}  # item -> the pair it acts on now (a reverse swaps it)
        self.observations: dict[str, Observation | ReplicationError] = {}
        self.answers: dict[Query, t.Any] = {}  # capability answers that hold for the whole run
        self.job_paths: dict[str, t.Any] = {}

    # identity -----------------------------------------------------------------------------------
    def key(self, item: dict[str, t.Any]) -> str:
        return item_name(item)

    def record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        return {"item": item_name(item), "source": item["source"], "target": item["target"]}

    # read ---------------------------------------------------------------------------------------
    def read(self, items: list[dict[str, t.Any]]) -> None:
        """The volumes and synchronizations (two requests), then the capability answers the plans need."""
        self.volumes = self.client.volumes()
        self.names.update({v["device_id"]: v["name"] for v in self.volumes if v.get("name") is not None})
        pairs = self._store(self.client.synchronizations())
        pending: dict[str, tuple[dict[str, t.Any], Observation, list[Action]]] = {}
        for item in items:
            key = self.key(item)
            try:
                observed = self._observe(item, pairs)
            except ReplicationError as exc:
                self.observations[key] = exc
                continue
            self.observations[key] = observed
            before = self.facts(item, observed)
            self.pair_of[key] = (before["source_device_id"], before["target_device_id"]) if before else None
            try:
                pending[key] = (item, observed, self._draft(item, observed))
            except ReplicationError:
                continue  # plan() raises it again
        self._answer(pending)

    def observe(self, item: dict[str, t.Any]) -> Observation:
        found = self.observations[self.key(item)]
        if isinstance(found, ReplicationError):
            raise found
        return found

    def _store(self, instances: list[t.Any]) -> dict[Pair, dict[str, t.Any]]:
        now = datetime.datetime.now(datetime.timezone.utc)
        found = {}
        for inst in instances:
            src, tgt = keys_of(inst.path)
            if src is None or tgt is None:
                continue
            found[(src, tgt)] = sync_facts(inst, self.names, now)
            self.paths[(src, tgt)] = inst.path
        return found

    def _resolve_volume(self, value: str, what: str) -> dict[str, t.Any] | None:
        """The volume an ElementName or DeviceID names; None when none does. Ambiguity is an error."""
        matches = {v["device_id"]: v for v in self.volumes if v["device_id"] == value or v.get("name") == value}
        if len(matches) > 1:
            listed = ", ".join(f"DeviceID {d} ({v.get('name')})" for d, v in sorted(matches.items()))
            raise ReplicationError(f"{what} {value!r} is ambiguous on {self.client.where()}: it names {listed}; "
                                   "name the volume by its DeviceID")
        return next(iter(matches.values()), None)

    def _observe(self, item: dict[str, t.Any], pairs: dict[Pair, dict[str, t.Any]]) -> Observation:
        key = item_name(item)
        absent = item["state"] == "absent"
        src = self._resolve_volume(item["source"], "source")
        tgt = self._resolve_volume(item["target"], "target")
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
        others: list[tuple[str, str]] = []
        if src is not None and tgt is not None:
            current = pairs.get((src["device_id"], tgt["device_id"]))
            opposite = pairs.get((tgt["device_id"], src["device_id"]))
        if tgt is not None:
            others = [(s, self.names.get(s, s)) for s, d in pairs if d == tgt["device_id"]]
        return Observation(src, tgt, current, opposite, others, Answers(self.answers))

    # capabilities -------------------------------------------------------------------------------
    def _answer(self, pending: dict[str, tuple[dict[str, t.Any], Observation, list[Action]]]) -> None:
        """Read, round by round, the capability answers that resolving the ``pending`` plans asks for."""
        while pending:
            needed: dict[Query, list[dict[Query, t.Any]]] = {}
            for key, (item, observed, draft) in list(pending.items()):
                try:
                    self._resolve(item, observed, draft)
                except Missing as need:
                    needed.setdefault(need.query, []).append(need.store)
                    continue
                except ReplicationError:
                    pass  # plan() raises it again
                del pending[key]
            for query, answer in self._ask(list(needed)):
                for store in needed[query]:
                    store[query] = answer

    def _ask(self, queries: list[Query]) -> list[tuple[Query, t.Any]]:
        if len(queries) <= 1 or self.max_workers <= 1:
            return [(query, self._fetch(query)) for query in queries]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(queries))) as pool:
            return list(zip(queries, pool.map(self._fetch, queries)))

    def _fetch(self, query: Query) -> t.Any:
        """The provider's answer to one capability question (an error is an answer too)."""
        client = self.client
        try:
            if query[0] == "context":
                return self._context()
            caps = self.answers[("context",)]["caps"]
            if query[0] == "for_sync":
                path = self.paths.get(query[1])
                return client.supported_operations_for(caps, path) if path is not None else None
            if query[0] == "type_ops":
                return client.supported_operations(caps, query[1], query[2])
            return client.supported_copy_states(caps, query[1], query[2])
        except ReplicationError as exc:
            return exc

    def _context(self) -> dict[str, t.Any]:
        """The provider's services and their capabilities (read once, only when something needs doing)."""
        client = self.client
        repl = client.service("CIM_ReplicationService", client.system)
        conf = client.service("CIM_StorageConfigurationService", client.system)
        caps = client.capabilities(repl, "CIM_ReplicationServiceCapabilities") if repl is not None else []
        legacy = client.capabilities(conf, "CIM_StorageReplicationCapabilities") if conf is not None else []
        legacy_ops: dict[int, list[int]] = {}
        for inst in legacy:
            kind = inst.get("SupportedSynchronizationType")
            if kind is not None:
                legacy_ops[int(kind)] = [int(o) for o in inst.get("SupportedModifyOperations") or []]
        types = caps[0].get("SupportedReplicationTypes") if caps else None
        return {"replication": repl, "configuration": conf, "caps": caps[0].path if caps else None,
                "types": [int(x) for x in types] if types is not None else None,
                "legacy": legacy_ops if legacy else None, "where": client.where(), "namespace": client.namespace}

    # plan ---------------------------------------------------------------------------------------
    def _draft(self, item: dict[str, t.Any], observed: Observation) -> list[Action]:
        """The plan before its operations are chosen; raises for what cannot be done."""
        if observed.src is None or (item["state"] == "absent" and observed.tgt is None):
            return []  # nothing to remove: no such volume, so no such pair
        src, tgt = observed.src, observed.tgt
        capacity = max(src["size"], tgt["size"]) if tgt is not None else src["size"]
        foreign = [(dev, origin) for dev, origin in observed.others if dev != src["device_id"]]
        actions = plan(item, observed.current, observed.opposite, capacity or None, foreign)
        if "create" in actions:
            self._check_create(item, observed)
        return actions

    def _check_create(self, item: dict[str, t.Any], observed: Observation) -> None:
        key = item_name(item)
        src, tgt = observed.src or {}, observed.tgt
        if tgt is not None:
            if tgt["size"] < src["size"]:
                raise ReplicationError(f"{key}: target {item['target']} (DeviceID {tgt['device_id']}) is smaller "
                                       f"than the source: {tgt['size']} bytes for a source of {src['size']} bytes")
        elif item["target"].isdigit():
            raise ReplicationError(f"{key}: target {item['target']!r} looks like a DeviceID but no volume of "
                                   f"{self.client.where()} has it; name a new target by the ElementName it should get")

    def _resolve(self, item: dict[str, t.Any], observed: Observation, draft: list[Action]) -> list[Action]:
        return resolve(item, self.facts(item, observed), draft, observed.answers, observed.tgt is not None)

    def plan(self, item: dict[str, t.Any], observed: Observation) -> list[Action]:
        try:
            return self._resolve(item, observed, self._draft(item, observed))
        except Missing as need:
            raise ReplicationError(f"{item_name(item)}: {need}") from None

    def facts(self, item: dict[str, t.Any], observed: Observation) -> dict[str, t.Any] | None:
        before = observed.current
        if before is None and (item["state"] == "absent" or item.get("reverse")):
            before = observed.opposite
        return before

    def predict(self, item: dict[str, t.Any], observed: Observation, actions: list[Action]) -> t.Any:
        return predict(self.facts(item, observed), item, actions, observed.src, observed.tgt)

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def describe(self, facts: t.Any) -> t.Any:
        return describe(facts)

    # poll ---------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """Items' pairs with one enumeration; jobs one by one, or with one enumeration when many wait."""
        out: dict[t.Hashable, t.Any] = {}
        names = [k for k in keys if isinstance(k, str)]
        if names:
            found = self._store(self.client.synchronizations())
            for key in names:
                pair = self.pair_of.get(key)
                out[key] = found.get(pair) if pair is not None else None
        job_keys = [k for k in keys if isinstance(k, tuple) and k[0] == "job"]
        if len(job_keys) > 3:
            jobs = self.client.jobs()
            out.update({key: jobs.get(str(key[1])) for key in job_keys})
        else:
            for key in job_keys:
                out[key] = self.client.job(self.job_paths[key[1]])
        return out

    def read_pair(self, pair: Pair | None) -> dict[str, t.Any] | None:
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

    # handlers -----------------------------------------------------------------------------------
    def handlers(self) -> t.Mapping[str, Handler]:
        table: dict[str, Handler] = {"create": self.create}
        table.update({name: self.modify for name in ACTION_OPS})
        table.update({f"operation_{item['operation']}": self.modify for item in self.items
                      if item.get("operation") is not None})
        table.update({name: self.wait_state for name in WAIT_TARGETS})
        return table

    def create(self, step: Step) -> Steps:
        """CreateElementReplica (SyncType, Mode) or the legacy CreateReplica / AttachOrModifyReplica (CopyType)."""
        op = _op(step)
        item, src, tgt = step.item, step.observed.src, step.observed.tgt
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
        what = f"{op.label()} of {step.name}"
        rc, out = yield from step.call(self.client.invoke, what, op.service, op.method, **params)
        self._check_rc(step, op, rc)
        job = out.get("Job") if rc == RC_JOB else None
        target = out.get("TargetElement") or (tgt["path"] if tgt is not None else None)
        if target is None and job is not None:
            created = yield from step.call(self.client.associated_volumes, job)
            target = next((p for p in created if str(p.keybindings.get("DeviceID")) != src["device_id"]), None)
        if target is None:
            raise ReplicationError(f"{step.name}: {op.method} answered rc {rc} but named no target volume")
        dev = str(target.keybindings.get("DeviceID"))
        self.names.setdefault(dev, item["target"])
        pair = (src["device_id"], dev)
        self.pair_of[step.key] = pair
        if out.get("Synchronization") is not None:
            self.paths[pair] = out["Synchronization"]
        step.vars.update(job=job, job_label=what, created=True)
        yield from self._job_unless_waited(step)

    def modify(self, step: Step) -> Steps:
        """ModifyReplicaSynchronization or the legacy ModifySynchronization with the operation chosen."""
        op = _op(step)
        pair = self.pair_of.get(step.key)
        path = self.paths.get(pair) if pair is not None else None
        if path is None:
            facts = yield from step.call(self.read_pair, pair)
            path = self.paths.get(pair) if pair is not None else None
            if facts is None or path is None:
                raise ReplicationError(f"{step.name}: the synchronization disappeared before {op.label()}")
        what = f"{op.label()} of {step.name}"
        rc, out = yield from step.call(self.client.invoke, what, op.service, op.method,
                                       Operation=uint16(op.number or 0), Synchronization=path)
        self._check_rc(step, op, rc)
        step.vars.update(job=out.get("Job") if rc == RC_JOB else None, job_label=what)
        if op.interface == "replication_service" and op.number == 20 and pair is not None:
            swapped: Pair = (pair[1], pair[0])
            updated = out.get("UpdatedSynchronization")
            if updated is not None:
                swapped = t.cast(Pair, keys_of(updated))
                self.paths[swapped] = updated
            else:
                self.paths.pop(swapped, None)
            self.paths.pop(pair, None)
            self.pair_of[step.key] = swapped
        yield from self._job_unless_waited(step)
        if op.action in ("detach", "dissolve"):
            step.facts = None  # the synchronization is gone

    def _check_rc(self, step: Step, op: Op, rc: int) -> None:
        if rc in (RC_OK, RC_JOB):
            return
        raise ReplicationError(f"{step.name}: {op.label()} failed on {self.client.where()} with return code "
                               f"{rc} ({rc_label(rc)})", array_code=rc, array_message=rc_label(rc),
                               synchronization=step.facts)

    def _job_unless_waited(self, step: Step) -> Steps:
        """Wait for the action's job here unless the plan's next step is a wait (which waits for it first)."""
        index = next((n for n, a in enumerate(step.actions) if a is step.action), len(step.actions))
        if index + 1 < len(step.actions) and step.actions[index + 1].is_wait:
            return
        yield from self._wait_job(step)

    def _wait_job(self, step: Step) -> Steps:
        job = step.vars.pop("job", None)
        if job is None:
            return
        job_id = str(job.keybindings.get("InstanceID"))
        self.job_paths[job_id] = job
        label = step.vars.get("job_label")
        done = yield Wait(("job", job_id), lambda j: j is None or bool(j.get("terminal")), step.engine.wait_timeout,
                          f"job {job_id} ({label})", describe_job, RERUN)
        if done is None or done.get("ok"):
            return
        errors = yield from step.call(self.client.job_errors, job)
        facts = yield from step.call(self.read_pair, self.pair_of.get(step.key))
        message = done.get("error_description") or next((e["message"] for e in errors if e.get("message")), None)
        message = message or "the provider gave no reason"
        code = done.get("error_code")
        raise ReplicationError(
            f"{step.name}: {label} failed on {self.client.where()}: {message}"
            + (f" (error code {code})" if code else "") + f"; job {job_id}"
            + (f"; the synchronization is now {facts['state']} ({facts['copy_state']})" if facts else ""),
            array_message=message, array_code=code, job=done, cim_errors=errors or None, synchronization=facts)

    def wait_state(self, step: Step) -> Steps:
        """Wait for the job of the step before, then for the pair's CopyState (a finished job is not enough)."""
        action = step.action
        yield from self._wait_job(step)
        check = self._state_check(step)
        pair = self.pair_of.get(step.key)
        facts: t.Any = None
        verdict: bool | str = False
        if len(self.items) == 1:  # one pair: read it now; many: wait for the shared poll round
            facts = yield from step.call(self.read_pair, pair)
            verdict = step.judge(check, facts)
        if isinstance(verdict, str):
            raise ReplicationError(f"{step.name}: {verdict}", synchronization=facts)
        if verdict is not True:
            facts = yield from step.wait(check, f"be {action[5:].replace('_', ' ')}")
        step.facts = facts
        if facts is None and pair is not None:
            self.paths.pop(pair, None)
        if action.args.get("replan"):
            step.vars["settled"] = yield from step.call(self.resettle, step.item, step.observed, facts)

    def _state_check(self, step: Step) -> t.Callable[[t.Any], bool | str]:
        action = step.action.name
        targets = WAIT_TARGETS[action]
        before = step.facts or {}
        sync_type = before.get("sync_type") or step.item.get("sync_type") or "mirror"
        if targets == (4,) and sync_type == "snapshot":
            targets = SNAPSHOT_SYNCED
        allow_gone = action in ("wait_idle", "wait_stopped") or step.item["state"] == "absent" or bool(
            step.vars.get("created") and sync_type == "clone")
        caught_up = action == "wait_caught_up"
        step.vars["wait"] = StateWait(step.action, targets, caught_up, before.get("copy_state_value"), time.monotonic())

        def check(facts: t.Any) -> bool | str:
            if facts is None:
                return True if allow_gone else f"the synchronization disappeared while waiting for {action[5:]}"
            if facts.get("transferring"):
                return False
            if targets is None or facts.get("copy_state_value") in targets:
                # caught up: Synchronized, no update in flight and every block on the target (PercentSynced 100)
                return not caught_up or facts.get("progress") == 100
            return False
        return check

    def course(self, step: Step, facts: t.Any) -> Course:
        """A synchronization that stopped short of the target cannot reach it any more: waiting to catch up and
        not Synchronized, or in an unhealthy CopyState (Broken, Aborted, ...) other than the one the step began
        from, or still in that one once the provider had ``GRACE_SECONDS`` to show the change."""
        wait = step.vars.get("wait")
        if not isinstance(wait, StateWait) or wait.action is not step.action or not facts or \
                facts.get("transferring"):
            return None
        state = facts.get("copy_state_value")
        stuck = wait.caught_up and state not in (wait.targets or ())
        if not facts.get("healthy"):
            stuck = stuck or state != wait.before or time.monotonic() - wait.started >= GRACE_SECONDS
        if stuck:
            return (f"the synchronization is {facts.get('state')} ({facts.get('copy_state')}) while waiting for it "
                    f"to be {step.action.name[5:].replace('_', ' ')}")
        return None

    # settle -------------------------------------------------------------------------------------
    def resettle(self, item: dict[str, t.Any], observed: Observation, facts: dict[str, t.Any] | None) -> Observation:
        """The observation once a running copy settled: the pair as the wait left it, and the answers its new
        plan needs (read here, on a worker thread)."""
        current = opposite = None
        if facts is not None:
            forward = (observed.src or {}).get("device_id"), (observed.tgt or {}).get("device_id")
            if (facts.get("source_device_id"), facts.get("target_device_id")) == forward:
                current = facts
            else:
                opposite = facts
        settled = dataclasses.replace(observed, current=current, opposite=opposite, answers=Answers(self.answers))
        try:
            draft = self._draft(item, settled)
        except ReplicationError:
            return settled  # plan() raises it again
        self._answer({self.key(item): (item, settled, draft)})
        return settled

    def settled(self, step: Step) -> t.Any:
        if "settled" not in step.vars:
            return super().settled(step)
        return t.cast(Observation, step.vars.pop("settled"))


def _op(step: Step) -> Op:
    op = step.action.args.get("op")
    if not isinstance(op, Op):
        raise ReplicationError(f"{step.name}: no method was chosen for {step.action}")
    return op
