"""SnapMirror relationships: read, plan, apply, report, for one or many at once.

``plan()`` is pure: from a relationship's current facts and the desired item it
returns the ordered actions (``["quiesce", "wait_paused", "break",
"wait_broken_off", "mount"]``). ``Engine`` reads every relationship of the run
with one collection query, plans each, runs the guards (reads that decide whether
a resync or reverse would discard data), and applies the plans through the bulk
engine, which polls all waiting relationships with one query per round.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import threading
import typing as t

from ._bulk import Call, Item, Wait, recovering, run_items
from ._common import ReplicationError, merge_item
from ._ontap import (CODE_NOT_FOUND, CODE_PEER_UNREACHABLE, OntapClient, active_state, newest_common_snapshot,
                     relationship_facts, split_path)
from ._rest import HttpError, UnansweredWriteError, UnreachableError
from ._waiting import WaitTimeout

ITEM_KEYS = ("source_path", "destination_path", "state", "relationship_state", "policy", "transfer_schedule",
             "throttle", "create_destination", "max_lag", "update", "allow_data_loss", "allow_full_baseline",
             "junction_path", "quiesce_timeout", "preserve", "release", "reverse", "resync_broken")
VOLUME_FIELDS = "uuid,name,svm.name,type,state,size,nas.path,aggregates.name"
TRANSFER_ACTIONS = ("initialize", "create", "update", "resync", "reverse", "rebaseline")
FACT_KEYS_FOR_DIFF = ("state", "healthy", "policy", "transfer_schedule", "throttle", "source_path")
RERUN = "Rerun the task: it reads the relationship's state and continues from there"


def validate_item(item: dict[str, t.Any]) -> None:
    """Bad input fails here, before any request."""
    for key in ("source_path", "destination_path"):
        value = item.get(key)
        if item.get("state") == "absent" and key == "source_path" and not value:
            continue
        if not value or not isinstance(value, str):
            raise ReplicationError(f"{key} is required")
        svm, volume = split_path(value)
        if ":" not in value or not svm or not volume:
            raise ReplicationError(f"{key} {value!r} is not of the form <svm>:<volume>")
        if volume.startswith("/") or "/" in volume:
            raise ReplicationError(f"{key} {value!r}: only FlexVol/FlexGroup paths <svm>:<volume> are supported")
    if item.get("source_path") and item["source_path"] == item["destination_path"]:
        raise ReplicationError(f"source_path and destination_path are the same ({item['source_path']})")
    if item.get("max_lag") is not None and item["max_lag"] < 0:
        raise ReplicationError("max_lag must be zero or more seconds")
    if item.get("throttle") is not None and item["throttle"] < 0:
        raise ReplicationError("throttle must be zero (unlimited) or more KB/s")
    junction = item.get("junction_path")
    if junction and not junction.startswith("/"):
        raise ReplicationError(f"junction_path {junction!r} must start with /")
    if item.get("quiesce_timeout") is not None and item["quiesce_timeout"] < 0:
        raise ReplicationError("quiesce_timeout must be zero or more seconds")


def plan(item: dict[str, t.Any], current: dict[str, t.Any] | None, opposite: dict[str, t.Any] | None = None,
         policy_type: str | None = None, destination_volume: dict[str, t.Any] | None = None,
         source_volume: dict[str, t.Any] | None = None) -> list[str]:
    """The ordered actions that take ``current`` to ``item``; [] when nothing needs doing.

    ``current`` and ``opposite`` are relationship facts (``relationship_facts``);
    ``opposite`` is the same pair in the other direction, found on the source
    cluster (for a reverse), or a source-side leftover (for state=absent).
    ``policy_type`` is the type of the policy a new relationship gets; the
    volumes are ``{"size", "junction_path"}`` facts when they were read.
    """
    if item.get("state") == "absent":
        if current is None:
            return ["release"] if opposite is not None else []
        return (["abort", "wait_idle"] if current.get("transferring") else []) + ["delete"]
    desired = item.get("relationship_state") or "snapmirrored"
    spec = item.get("create_destination") or {}
    grow = ["grow_destination"] if (spec.get("enabled") and spec.get("grow", True) and destination_volume
                                    and _too_small(destination_volume, source_volume)) else []
    actions: list[str] = []
    fresh = False  # a transfer of this run already brings the destination up to date
    if current is None:
        fresh = True
        lag: int | None = 0
        if opposite is not None:
            if not item.get("reverse"):
                raise ReplicationError(
                    f"{item['destination_path']} is the source of a relationship in the opposite direction "
                    f"({opposite.get('source_path')} -> {opposite.get('destination_path')}); set reverse: true "
                    "to reverse it (the new destination is rolled back to the newest common snapshot)")
            ptype = opposite.get("policy_type")
            actions += ["reverse", "wait_active"]
        else:
            ptype = policy_type
            if destination_volume is None and spec.get("enabled"):
                actions.append("create_destination")
            actions += grow + ["create", "wait_active"]
        state = active_state(ptype)
    else:
        ptype = current.get("policy_type") or policy_type
        state = current["state"]
        lag = current.get("lag_seconds")
        if _needs_modify(item, current):
            actions.append("modify")
    active = active_state(ptype)
    max_lag = item.get("max_lag")
    wants_update = bool(item.get("update")) or (max_lag is not None and lag is not None and lag > max_lag)

    if state == "broken_off" and desired in ("snapmirrored", "paused") and item.get("resync_broken") is False:
        return actions

    def reach_active() -> None:
        nonlocal state, fresh
        if state == "uninitialized":
            actions.extend(grow + ["initialize", "wait_active"])
            fresh = True
        elif state == "paused":
            actions.extend(["resume", "wait_active"])
        elif state in ("broken_off", "out_of_sync", "synchronizing"):
            actions.extend((grow if state == "broken_off" else []) + ["resync", "wait_active"])
            fresh = True
        state = active

    def final_update() -> None:
        if active == "snapmirrored" and state == active and wants_update and not fresh:
            actions.extend(grow + ["update", "wait_transfer"])

    if desired == "snapmirrored":
        reach_active()
        final_update()
    elif desired == "paused":
        if state != "paused":
            reach_active()
            final_update()
            actions.extend(["quiesce", "wait_paused"])
    elif desired == "broken_off":
        if current is not None and state == "uninitialized":
            raise ReplicationError(
                f"{item['destination_path']} is not initialized: its destination holds no data to break to. "
                "Initialize it first (relationship_state: snapmirrored)")
        if state != "broken_off":
            if state != "paused":
                final_update()
                actions.extend(["quiesce", "wait_paused"])
            actions.extend(["break", "wait_broken_off"])
        junction = item.get("junction_path")
        if junction and ("break" in actions or (destination_volume or {}).get("junction_path") != junction):
            actions.append("mount")
    else:
        raise ReplicationError(f"unknown relationship_state {desired!r}")
    return actions


def _too_small(destination: dict[str, t.Any], source: dict[str, t.Any] | None) -> bool:
    return source is not None and int(destination.get("size") or 0) < int(source.get("size") or 0)


def _needs_modify(item: dict[str, t.Any], current: dict[str, t.Any]) -> bool:
    if item.get("policy") and item["policy"] != current.get("policy"):
        return True
    schedule = item.get("transfer_schedule")
    if schedule is not None and (schedule or None) != current.get("transfer_schedule"):
        return True
    return item.get("throttle") is not None and item["throttle"] != (current.get("throttle") or 0)


def predict(before: dict[str, t.Any] | None, item: dict[str, t.Any], actions: list[str]) -> dict[str, t.Any] | None:
    """The facts a check-mode run expects after applying ``actions``."""
    if item.get("state") == "absent":
        return None
    after = dict(before or {"source_path": item["source_path"], "destination_path": item["destination_path"],
                            "healthy": True})
    if actions:
        desired = item.get("relationship_state") or "snapmirrored"
        after["state"] = active_state(after.get("policy_type")) if desired == "snapmirrored" else desired
    for key in ("policy", "throttle"):
        if item.get(key) is not None:
            after[key] = item[key]
    if item.get("transfer_schedule") is not None:
        after["transfer_schedule"] = item["transfer_schedule"] or None
    return after


def diff_view(facts: dict[str, t.Any] | None) -> dict[str, t.Any]:
    if facts is None:
        return {}
    return {k: facts.get(k) for k in FACT_KEYS_FOR_DIFF}


class Engine:
    """One module run over one destination cluster (and optionally its source cluster)."""

    def __init__(self, destination: OntapClient, source: OntapClient | None, items: list[dict[str, t.Any]],
                 check_mode: bool, wait: bool, wait_timeout: float, poll_interval: float) -> None:
        self.dst = destination
        self.src = source
        self.items = items
        self.check_mode = check_mode
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.current: dict[str, dict[str, t.Any]] = {}
        self.opposite: dict[str, dict[str, t.Any]] = {}
        self.dst_volumes: dict[str, dict[str, t.Any]] = {}
        self.src_volumes: dict[str, dict[str, t.Any]] = {}
        self.policies: dict[tuple[str | None, str], str] = {}
        self.warnings: list[str] = []
        self.plans: dict[str, list[str]] = {}
        self.plan_errors: dict[str, str] = {}
        # source clusters a break found unreachable (with the array's message): later breaks go straight to
        # force=true. The first break per source runs alone; the others wait for what it found out.
        self.unreachable_sources: dict[str, str] = {}
        self._source_probes: dict[str, threading.Event] = {}
        self._probe_lock = threading.Lock()

    # read -------------------------------------------------------------------------------
    def read(self) -> None:
        paths = [i["destination_path"] for i in self.items]
        self.current = {p: relationship_facts(r) for p, r in self.dst.relationships(paths).items()}
        missing = [i for i in self.items if i["destination_path"] not in self.current]
        reversible = [i for i in missing if i.get("source_path") or i["state"] == "absent"]
        if reversible and self.src is not None:
            wanted = [i["source_path"] for i in reversible if i["state"] == "present"]
            found = self.src.relationships(wanted) if wanted else {}
            self.opposite = {p: relationship_facts(r) for p, r in found.items()}
            orphans = [i["destination_path"] for i in reversible if i["state"] == "absent"]
            if orphans:
                try:
                    left = self.src.relationships(orphans, outgoing=True)
                except UnreachableError as exc:
                    self.warnings.append(f"could not look for source-side leftovers: {exc}")
                    left = {}
                for path, record in left.items():
                    self.opposite[f"release:{path}"] = relationship_facts(record)
        self._first_plans()
        self._read_context()

    def _first_plans(self) -> None:
        for item in self.items:
            key = item["destination_path"]
            try:
                self.plans[key] = self._plan(item)
            except ReplicationError as exc:
                self.plan_errors[key] = str(exc)

    def _plan(self, item: dict[str, t.Any]) -> list[str]:
        key = item["destination_path"]
        opposite = self.opposite.get(f"release:{key}") if item["state"] == "absent" else \
            self.opposite.get(item.get("source_path") or "")
        dst_vol = self.dst_volumes.get(key)
        return plan(item, self.current.get(key), opposite,
                    self.policies.get((split_path(key)[0], item.get("policy") or "Asynchronous")),
                    _volume_facts(dst_vol) if dst_vol else None,
                    _volume_facts(self.src_volumes.get(item["source_path"])) if item.get("source_path") and
                    item["source_path"] in self.src_volumes else None)

    def _read_context(self) -> None:
        """Reads that only some plans need: validation before creates, volumes before transfers."""
        creates = [i for i in self.items if "create" in self.plans.get(i["destination_path"], [])]
        modifies = [i for i in self.items if "modify" in self.plans.get(i["destination_path"], []) and i.get("policy")]
        transfers = [i for i in self.items if set(self.plans.get(i["destination_path"], [])) & set(TRANSFER_ACTIONS)]
        mounts = [i for i in self.items if i.get("junction_path")]
        if creates or modifies:
            for record in self.dst.records("/snapmirror/policies", {"fields": "name,type,svm.name"}):
                scope = (record.get("svm") or {}).get("name")
                self.policies[(scope, record["name"])] = record.get("type") or "async"
            for (scope, name), ptype in list(self.policies.items()):
                if scope is None:
                    for item in creates + modifies:
                        self.policies.setdefault((split_path(item["destination_path"])[0], name), ptype)
        if creates:
            self._validate_creates(creates)
        need_dst = {i["destination_path"] for i in creates + mounts}
        need_dst |= {i["destination_path"] for i in transfers
                     if (i.get("create_destination") or {}).get("enabled") and self.src is not None}
        if need_dst:
            self.dst_volumes = self.dst.volumes(need_dst, VOLUME_FIELDS)
        if self.src is not None:
            need_src = {i["source_path"] for i in creates + transfers if i.get("source_path")
                        and (i.get("create_destination") or {}).get("enabled") or i in creates}
            if need_src:
                try:
                    self.src_volumes = self.src.volumes({p for p in need_src if p}, VOLUME_FIELDS)
                except UnreachableError as exc:
                    self.warnings.append(f"source cluster not reachable, destination sizes not checked: {exc}")
        for item in creates:
            self._validate_volumes(item)
        for item in self.items:
            key = item["destination_path"]
            if key in self.plans:
                try:
                    self.plans[key] = self._plan(item)
                except ReplicationError as exc:
                    self.plan_errors[key] = str(exc)
                    del self.plans[key]

    def _validate_creates(self, creates: list[dict[str, t.Any]]) -> None:
        svms = {r["name"] for r in self.dst.records("/svm/svms", {"fields": "name"})}
        peers = self.dst.records("/svm/peers", {"fields": "name,svm.name,peer.svm.name,state,applications"})
        for item in creates:
            key = item["destination_path"]
            dst_svm = split_path(key)[0]
            src_svm = split_path(item["source_path"])[0]
            problem = None
            if dst_svm not in svms:
                problem = f"destination SVM {dst_svm!r} does not exist on {self.dst.label}"
            elif src_svm not in svms and not any(
                    p.get("name") == src_svm and (p.get("svm") or {}).get("name") == dst_svm for p in peers):
                problem = (f"source SVM {src_svm!r} is not peered with destination SVM {dst_svm!r} on "
                           f"{self.dst.label} (use the source SVM's local peer alias)")
            else:
                peer = next((p for p in peers if p.get("name") == src_svm
                             and (p.get("svm") or {}).get("name") == dst_svm), None)
                if peer and (peer.get("state") != "peered" or "snapmirror" not in (peer.get("applications") or [])):
                    problem = (f"SVM peer {src_svm!r} of {dst_svm!r} is {peer.get('state')} with applications "
                               f"{peer.get('applications')}; SnapMirror needs it peered for 'snapmirror'")
            policy = item.get("policy")
            if problem is None and policy and (dst_svm, policy) not in self.policies:
                problem = f"SnapMirror policy {policy!r} does not exist in SVM {dst_svm!r} or the cluster"
            if problem:
                self.plan_errors[key] = problem
                self.plans.pop(key, None)

    def _validate_volumes(self, item: dict[str, t.Any]) -> None:
        key = item["destination_path"]
        if key in self.plan_errors:
            return
        dst = self.dst_volumes.get(key)
        src = self.src_volumes.get(item["source_path"])
        create_dst = (item.get("create_destination") or {}).get("enabled")
        problem = None
        if self.src is not None and item["source_path"] not in self.src_volumes and not self.warnings:
            problem = f"source volume {item['source_path']} does not exist on the source cluster"
        elif dst is None and not create_dst:
            problem = (f"destination volume {key} does not exist; create it as type DP or set "
                       "create_destination.enabled")
        elif dst is not None and dst.get("type") != "dp":
            problem = (f"destination volume {key} exists and is of type {dst.get('type')!r}; a SnapMirror "
                       "destination must be a DP volume")
        elif dst is not None and src is not None and int(dst.get("size") or 0) < int(src.get("size") or 0) \
                and not (create_dst and (item.get("create_destination") or {}).get("grow", True)):
            problem = (f"destination volume {key} is too small: {dst.get('size')} bytes for a source of "
                       f"{src.get('size')} bytes; grow it or set create_destination.enabled (with grow)")
        if problem:
            self.plan_errors[key] = problem
            self.plans.pop(key, None)

    # poll ---------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        found = self.dst.relationships([str(k) for k in keys])
        return {k: relationship_facts(found[k]) if k in found else None for k in keys}

    # apply --------------------------------------------------------------------------------
    def run(self, max_workers: int, continue_on_error: bool) -> list[dict[str, t.Any]]:
        items = []
        for item in self.items:
            key = item["destination_path"]
            record: dict[str, t.Any] = {"source_path": item.get("source_path"), "destination_path": key,
                                        "changed": False, "actions": []}
            items.append(Item(key, self._steps(item, record), record))
        return run_items(items, self.poll, max_workers, continue_on_error, self.poll_interval,
                         max(10.0, self.poll_interval))

    def _steps(self, item: dict[str, t.Any], record: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, dict[str, t.Any]]:
        key = item["destination_path"]
        if key in self.plan_errors:
            raise ReplicationError(self.plan_errors[key], relationship=self.current.get(key))
        before = self.current.get(key)
        actions = yield from self._guarded(item, before, self.plans.get(key, []))
        record["relationship"] = before
        if before and before.get("state") == "broken_off" and item.get("resync_broken") is False and \
                (item.get("relationship_state") or "snapmirrored") != "broken_off" and not actions:
            record["note"] = "left broken off: resync_broken is false (after a failover the destination is production)"
        if self.check_mode:
            after = predict(before, item, actions)
            record.update({"changed": bool(actions), "actions": actions, "relationship": after,
                           "diff": {"before": diff_view(before), "after": diff_view(after)}})
            return record
        state: dict[str, t.Any] = {"facts": before, "issued": before, "actions": actions}

        def recover(exc: BaseException) -> t.Generator[t.Any, t.Any, None]:
            # a write got no answer: read what the array did and plan the rest from there
            record["actions"].append(f"{state.get('action')} (no answer)")
            fresh = yield Call(self.poll, {key})
            facts = fresh.get(key)
            if (item.get("create_destination") or {}).get("enabled") or item.get("junction_path"):
                found = yield Call(self.dst.volumes, [key], VOLUME_FIELDS)
                if key in found:
                    self.dst_volumes[key] = found[key]
            if (facts or {}).get("state") != (before or {}).get("state") or (facts is None) != (before is None):
                record["changed"] = True
            self.current[key] = facts
            rest = yield from self._guarded(item, facts, self._plan(item))
            state.update({"facts": facts, "issued": facts, "actions": rest})
            record.setdefault("warnings", []).append(
                f"{exc}. Read {key} again (now {(facts or {}).get('state') or 'absent'}) and continued with: "
                f"{', '.join(rest) or 'nothing left to do'}")

        yield from recovering(lambda: self._apply(item, state, record), recover, (UnansweredWriteError,))
        actions = state["actions"]
        record["relationship"] = state.get("facts") if record["actions"] else before
        if record["changed"] and item["state"] == "present" and actions and actions[-1] not in ("mount",) and \
                not actions[-1].startswith("wait_"):
            # the last step changed the relationship without waiting on it: read what it is now
            fresh = yield Call(self.poll, {key})
            record["relationship"] = fresh.get(key)
        if item["state"] == "absent":
            record["relationship"] = None
        record["diff"] = {"before": diff_view(before), "after": diff_view(record["relationship"])}
        return record

    def _guarded(self, item: dict[str, t.Any], current: dict[str, t.Any] | None,
                 actions: list[str]) -> t.Generator[t.Any, t.Any, list[str]]:
        """The plan's actions once the guards against data loss let them run."""
        if "resync" in actions and current and current.get("state") == "broken_off":
            yield from self._guard_resync(item, current)
        if "reverse" in actions:
            yield from self._guard_reverse(item)
            if item.get("_rebaseline"):
                actions = ["rebaseline" if a == "reverse" else a for a in actions]
        return actions

    def _apply(self, item: dict[str, t.Any], state: dict[str, t.Any],
               record: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, None]:
        actions = state["actions"]
        last_wait = max((n for n, a in enumerate(actions) if a.startswith("wait_")), default=-1)
        for index, action in enumerate(actions):
            if action.startswith("wait_") and not self.wait and index == last_wait:
                record["actions"].append(f"{action} (skipped: wait=false)")
                continue
            state["action"] = action
            yield from getattr(self, "_do_" + action)(item, state, record)
            if not action.startswith("wait_"):
                record["changed"] = True
            record["actions"].append(action)

    def _need_source(self) -> OntapClient:
        if self.src is None:
            raise ReplicationError("this step needs the source cluster: set source_cluster")
        return self.src

    # guards --------------------------------------------------------------------------------------
    def _guard_resync(self, item: dict[str, t.Any], before: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, None]:
        """Refuse a resync that would throw away what was written at the destination since the common snapshot."""
        if item.get("allow_data_loss"):
            return
        key = item["destination_path"]
        vol = self.dst_volumes.get(key)
        if vol is None:
            found = yield Call(self.dst.volumes, [key], VOLUME_FIELDS)
            vol = found.get(key)
        snapshot = before.get("exported_snapshot")
        if vol is None or not snapshot:
            raise ReplicationError(f"cannot tell what a resync of {key} would discard (no destination volume or no "
                                   "common snapshot); set allow_data_loss: true to resync anyway",
                                   relationship=before)
        discarded = yield Call(self.dst.discarded_bytes, vol["uuid"], snapshot)
        if discarded is None:
            raise ReplicationError(f"the common snapshot {snapshot} is gone from {key}: a resync cannot keep its "
                                   "data; set allow_full_baseline or allow_data_loss to proceed", relationship=before)
        if discarded > 0:
            raise ReplicationError(
                f"resync of {key} would discard {discarded} bytes written to the destination since the common "
                f"snapshot {snapshot}; set allow_data_loss: true to resync anyway", discarded_bytes=discarded,
                common_snapshot=snapshot, relationship=before)

    def _guard_reverse(self, item: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, None]:
        """Before a reverse: the newest common snapshot exists, and rolling the new destination back loses nothing."""
        key = item["destination_path"]
        src_path = item["source_path"]
        src = self._need_source()
        dst_vols = yield Call(self.dst.volumes, [key], VOLUME_FIELDS)
        src_vols = yield Call(src.volumes, [src_path], VOLUME_FIELDS)
        if key not in dst_vols or src_path not in src_vols:
            raise ReplicationError(f"cannot reverse to {key}: a volume of the pair is missing")
        dst_snaps = yield Call(self.dst.snapshots, dst_vols[key]["uuid"])
        src_snaps = yield Call(src.snapshots, src_vols[src_path]["uuid"])
        common = newest_common_snapshot(src_snaps, dst_snaps)
        item["_common_snapshot"] = common
        if common is None:
            if item.get("allow_full_baseline"):
                item["_rebaseline"] = True
                return
            raise ReplicationError(f"no common snapshot between {src_path} and {key}: reversing needs a full "
                                   "baseline that replaces all data on the new destination; set "
                                   "allow_full_baseline: true to do that", common_snapshot=None)
        if item.get("allow_data_loss"):
            return
        discarded = yield Call(self.dst.discarded_bytes, dst_vols[key]["uuid"], common)
        if discarded:
            raise ReplicationError(
                f"reversing would discard {discarded} bytes written to {key} since the common snapshot {common} "
                "(writes that never reached the other side); set allow_data_loss: true to reverse anyway",
                discarded_bytes=discarded, common_snapshot=common)

    # actions ---------------------------------------------------------------------------------------
    def _patch(self, client: OntapClient, uuid: str, body: dict[str, t.Any],
               params: dict[str, t.Any] | None = None) -> t.Any:
        return client.write("PATCH", f"/snapmirror/relationships/{uuid}", body, params)

    def _uuid(self, state: dict[str, t.Any]) -> str:
        facts = state.get("facts") or {}
        return str(facts.get("uuid"))

    def _active(self, item: dict[str, t.Any], state: dict[str, t.Any]) -> str:
        facts = state.get("facts") or {}
        ptype = facts.get("policy_type") or self.policies.get(
            (split_path(item["destination_path"])[0], item.get("policy") or "Asynchronous"))
        return active_state(ptype)

    def _wait(self, item: dict[str, t.Any], state: dict[str, t.Any], what: str,
              check: t.Callable[[t.Any], bool | str], timeout: float | None = None) -> t.Generator[t.Any, t.Any, None]:
        key = item["destination_path"]
        facts = yield Wait(key, check, timeout if timeout is not None else self.wait_timeout,
                           f"{key} to {what}", _describe, RERUN)
        state["facts"] = facts

    def _do_create_destination(self, item, state, record):  # type: ignore[no-untyped-def]
        key = item["destination_path"]
        svm, name = split_path(key)
        spec = item.get("create_destination") or {}
        source = self.src_volumes.get(item["source_path"])
        if source is None or not (spec.get("aggregate") or spec.get("aggregate_map")):
            # no placement asked for: ONTAP creates it with the relationship, sized to the source (one request)
            state["ontap_creates_destination"] = True
            return
        body: dict[str, t.Any] = {"name": name, "svm": {"name": svm}, "type": "dp", "size": int(source["size"])}
        aggregates = [a.get("name") for a in source.get("aggregates") or []]
        mapping = spec.get("aggregate_map") or {}
        if spec.get("aggregate"):
            body["aggregates"] = [{"name": spec["aggregate"]}]
        elif mapping and aggregates:
            missing = [a for a in aggregates if a not in mapping]
            if missing:
                raise ReplicationError(f"create_destination.aggregate_map has no destination aggregate for "
                                       f"{', '.join(missing)} (source aggregates of {item['source_path']})")
            body["aggregates"] = [{"name": mapping[a]} for a in aggregates]
        yield Call(self.dst.write, "POST", "/storage/volumes", body)
        record["destination_volume_created"] = True

    def _do_grow_destination(self, item, state, record):  # type: ignore[no-untyped-def]
        key = item["destination_path"]
        vol = self.dst_volumes.get(key)
        source = self.src_volumes.get(item["source_path"])
        if vol is None or source is None:
            return
        yield Call(self.dst.write, "PATCH", f"/storage/volumes/{vol['uuid']}", {"size": int(source["size"])})
        record["destination_grown_to"] = int(source["size"])

    def _do_create(self, item, state, record):  # type: ignore[no-untyped-def]
        active = self._active(item, state)
        body: dict[str, t.Any] = {"source": {"path": item["source_path"]},
                                  "destination": {"path": item["destination_path"]}, "state": active}
        if item.get("policy"):
            body["policy"] = {"name": item["policy"]}
        if item.get("transfer_schedule"):
            body["transfer_schedule"] = {"name": item["transfer_schedule"]}
        if state.get("ontap_creates_destination"):
            body["create_destination"] = {"enabled": True}
        elif item.get("throttle") is not None:
            body["throttle"] = item["throttle"]
        try:
            yield Call(self.dst.write, "POST", "/snapmirror/relationships", body)
        except HttpError as exc:
            if exc.code != "6619637":
                raise
        if state.get("ontap_creates_destination") and item.get("throttle"):
            found = yield Call(self.poll, {item["destination_path"]})
            state["facts"] = found.get(item["destination_path"])
            yield Call(self._patch, self.dst, self._uuid(state), {"throttle": item["throttle"]})
        state["issued"] = None

    def _do_modify(self, item, state, record):  # type: ignore[no-untyped-def]
        facts = state["facts"]
        body: dict[str, t.Any] = {}
        if item.get("policy") and item["policy"] != facts.get("policy"):
            body["policy"] = {"name": item["policy"]}
        if item.get("transfer_schedule") is not None and (item["transfer_schedule"] or None) != \
                facts.get("transfer_schedule"):
            body["transfer_schedule"] = {"name": item["transfer_schedule"]} if item["transfer_schedule"] else \
                {"name": None, "uuid": None}
        if item.get("throttle") is not None and item["throttle"] != (facts.get("throttle") or 0):
            body["throttle"] = item["throttle"]
        yield Call(self._patch, self.dst, self._uuid(state), body)

    def _do_initialize(self, item, state, record):  # type: ignore[no-untyped-def]
        state["issued"] = state.get("facts")
        yield Call(self._patch, self.dst, self._uuid(state), {"state": self._active(item, state)})

    def _do_resume(self, item, state, record):  # type: ignore[no-untyped-def]
        state["issued"] = state.get("facts")
        yield Call(self._patch, self.dst, self._uuid(state), {"state": self._active(item, state)})

    def _do_resync(self, item, state, record):  # type: ignore[no-untyped-def]
        state["issued"] = state.get("facts")
        body: dict[str, t.Any] = {"state": self._active(item, state)}
        if item.get("preserve"):
            body["preserve"] = True
        yield Call(self._patch, self.dst, self._uuid(state), body)

    def _do_reverse(self, item, state, record):  # type: ignore[no-untyped-def]
        src = self._need_source()
        opposite = self.opposite[item["source_path"]]
        state["issued"] = None
        body = {"source": {"path": opposite["destination_path"]},
                "destination": {"path": opposite["source_path"]},
                "state": active_state(opposite.get("policy_type"))}
        yield Call(self._patch, src, str(opposite["uuid"]), body)
        record["common_snapshot"] = item.get("_common_snapshot")

    def _do_rebaseline(self, item, state, record):  # type: ignore[no-untyped-def]
        """Reverse without a common snapshot: a full baseline into a new DP volume of the same shape.

        Only with allow_full_baseline. The opposite relationship is deleted on its
        destination and released on its source, the new destination volume (which
        held the old source data) is replaced by an empty DP volume of the same name,
        size and aggregates, and the reversed relationship is created and initialized.
        """
        src = self._need_source()
        opposite = self.opposite[item["source_path"]]
        state["issued"] = None
        key = item["destination_path"]
        uuid = str(opposite["uuid"])
        yield Call(src.write, "DELETE", f"/snapmirror/relationships/{uuid}", None, {"destination_only": "true"})
        try:
            yield Call(self.dst.write, "DELETE", f"/snapmirror/relationships/{uuid}", None, {"source_only": "true"})
        except HttpError as exc:
            if exc.status != 404 and exc.code != CODE_NOT_FOUND:
                raise
        found = yield Call(self.dst.volumes, [key], VOLUME_FIELDS)
        vol = found.get(key)
        if vol is None:
            raise ReplicationError(f"cannot re-baseline {key}: the volume is gone")
        svm, name = split_path(key)
        if (vol.get("nas") or {}).get("path"):
            yield Call(self.dst.write, "PATCH", f"/storage/volumes/{vol['uuid']}", {"nas": {"path": ""}})
        yield Call(self.dst.write, "DELETE", f"/storage/volumes/{vol['uuid']}")
        body: dict[str, t.Any] = {"name": name, "svm": {"name": svm}, "type": "dp", "size": int(vol["size"])}
        if vol.get("aggregates"):
            body["aggregates"] = [{"name": a["name"]} for a in vol["aggregates"]]
        yield Call(self.dst.write, "POST", "/storage/volumes", body)
        yield Call(self.dst.write, "POST", "/snapmirror/relationships", {
            "source": {"path": item["source_path"]}, "destination": {"path": key},
            "state": active_state(opposite.get("policy_type"))})
        record["rebaselined"] = True

    def _do_update(self, item, state, record):  # type: ignore[no-untyped-def]
        state["issued"] = state.get("facts")
        yield Call(self.dst.write, "POST", f"/snapmirror/relationships/{self._uuid(state)}/transfers", {})

    def _do_quiesce(self, item, state, record):  # type: ignore[no-untyped-def]
        yield Call(self._patch, self.dst, self._uuid(state), {"state": "paused"})

    def _do_break(self, item, state, record):  # type: ignore[no-untyped-def]
        source = (state.get("facts") or {}).get("source_cluster") or ""
        why = yield Call(self._break, self._uuid(state), source)
        if why:
            record.setdefault("warnings", []).append(
                f"break of {item['destination_path']} could not contact the source cluster ({why}); broke it with "
                "force=true, which only the destination needs")

    def _break(self, uuid: str, source: str) -> str | None:
        """Break one relationship (in a worker thread); return why force=true was needed, or None.

        ONTAP refuses a plain break when the source cluster cannot be reached. The first break per source
        finds that out; breaks of the same source wait for it instead of each sending a request that fails.
        """
        with self._probe_lock:
            probe = self._source_probes.get(source)
            first = probe is None
            if probe is None:
                probe = self._source_probes[source] = threading.Event()
        if not first:
            probe.wait()
        if source not in self.unreachable_sources:
            try:
                self._patch(self.dst, uuid, {"state": "broken_off"})
                return None
            except HttpError as exc:
                if exc.code != CODE_PEER_UNREACHABLE:
                    raise
                self.unreachable_sources[source] = exc.array_message
            finally:
                if first:
                    probe.set()
            why = self.unreachable_sources[source]
        else:
            why = f"source cluster {source} found unreachable by an earlier break of this run: " \
                  f"{self.unreachable_sources[source]}"
        self._patch(self.dst, uuid, {"state": "broken_off"}, {"force": "true"})
        return why

    def _do_mount(self, item, state, record):  # type: ignore[no-untyped-def]
        key = item["destination_path"]
        vol = self.dst_volumes.get(key)
        if vol is None:
            found = yield Call(self.dst.volumes, [key], VOLUME_FIELDS)
            vol = found.get(key)
        if vol is None:
            raise ReplicationError(f"cannot mount {key}: the destination volume is gone")
        yield Call(self.dst.write, "PATCH", f"/storage/volumes/{vol['uuid']}", {"nas": {"path": item["junction_path"]}})
        record["junction_path"] = item["junction_path"]

    def _do_abort(self, item, state, record):  # type: ignore[no-untyped-def]
        facts = state["facts"] or {}
        transfer = (facts.get("transfer") or {}).get("uuid")
        if transfer:
            try:
                yield Call(self.dst.write, "PATCH", f"/snapmirror/relationships/{facts['uuid']}/transfers/{transfer}",
                           {"state": "aborted"})
            except HttpError as exc:
                if exc.status not in (400, 404):
                    raise

    def _do_delete(self, item, state, record):  # type: ignore[no-untyped-def]
        uuid = self._uuid(state)
        release = item.get("release", True)
        params = None if release else {"destination_only": "true"}
        try:
            yield Call(self.dst.write, "DELETE", f"/snapmirror/relationships/{uuid}", None, params)
            record["released"] = bool(release)
            return
        except HttpError as exc:
            if exc.code == CODE_NOT_FOUND:
                return
            if exc.code != CODE_PEER_UNREACHABLE or not release:
                raise
        yield Call(self.dst.write, "DELETE", f"/snapmirror/relationships/{uuid}", None, {"destination_only": "true"})
        record["released"] = False
        yield from self._release(item, uuid, record)

    def _do_release(self, item, state, record):  # type: ignore[no-untyped-def]
        leftover = self.opposite.get(f"release:{item['destination_path']}") or {}
        yield from self._release(item, str(leftover.get("uuid")), record)

    def _release(self, item: dict[str, t.Any], uuid: str, record: dict[str, t.Any]) -> t.Generator[t.Any, t.Any, None]:
        if self.src is None:
            record.setdefault("warnings", []).append(
                f"the source side of {item['destination_path']} was not released (no source_cluster given); its "
                "SnapMirror snapshots stay on the source until it is")
            return
        try:
            yield Call(self.src.write, "DELETE", f"/snapmirror/relationships/{uuid}", None, {"source_only": "true"})
            record["released"] = True
        except UnreachableError as exc:
            record.setdefault("warnings", []).append(
                f"the source cluster is unreachable ({exc}); release of {item['destination_path']} is pending: "
                "rerun with state=absent when it is back")
        except HttpError as exc:
            if exc.code != CODE_NOT_FOUND and exc.status != 404:
                raise
            record["released"] = True

    # waits --------------------------------------------------------------------------------------------
    def _do_wait_active(self, item, state, record):  # type: ignore[no-untyped-def]
        active = self._active(item, state)
        issued = state.get("issued")
        yield from self._wait(item, state, active, lambda f: _reached(f, active, issued))

    def _do_wait_paused(self, item, state, record):  # type: ignore[no-untyped-def]
        limit = item.get("quiesce_timeout")
        try:
            yield from self._wait(item, state, "paused (quiesced)", lambda f: _state_is(f, "paused"),
                                  timeout=limit if limit is not None else None)
        except WaitTimeout:
            if limit is None:
                raise
            facts = yield Call(self.poll, {item["destination_path"]})
            state["facts"] = facts.get(item["destination_path"])
            record["actions"].append("abort")
            yield from self._do_abort(item, state, record)
            yield from self._wait(item, state, "paused (quiesced) after the abort", lambda f: _state_is(f, "paused"))

    def _do_wait_broken_off(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._wait(item, state, "broken_off", lambda f: _state_is(f, "broken_off"))

    def _do_wait_idle(self, item, state, record):  # type: ignore[no-untyped-def]
        yield from self._wait(item, state, "no transfer running", lambda f: f is None or not f.get("transferring"))

    def _do_wait_transfer(self, item, state, record):  # type: ignore[no-untyped-def]
        issued = state.get("issued") or {}

        def done(facts: t.Any) -> bool | str:
            if facts is None:
                return "the relationship disappeared"
            if facts.get("transferring"):
                return False
            if facts.get("exported_snapshot") != issued.get("exported_snapshot"):
                return True
            return _new_failure(facts, issued) or False

        yield from self._wait(item, state, "the update transfer to finish", done)


def _describe(facts: t.Any) -> t.Any:
    if not facts:
        return "relationship not found"
    out = {k: facts.get(k) for k in ("state", "healthy", "transferring", "lag_time")}
    if facts.get("transfer"):
        out["transfer"] = facts["transfer"]
    if facts.get("unhealthy_reasons"):
        out["unhealthy_reasons"] = facts["unhealthy_reasons"]
    return out


def _state_is(facts: t.Any, wanted: str) -> bool:
    return bool(facts) and facts.get("state") == wanted


def _new_failure(facts: dict[str, t.Any], issued: dict[str, t.Any] | None) -> str | None:
    transfer = facts.get("transfer") or {}
    if transfer.get("state") != "failed":
        return None
    before = (issued or {}).get("transfer") or {}
    if before.get("state") == "failed" and before.get("end_time") == transfer.get("end_time"):
        return None
    reasons = "; ".join(f"{r.get('message')} (code {r.get('code')})" for r in facts.get("unhealthy_reasons") or [])
    return f"the {transfer.get('type') or ''} transfer failed: {reasons or 'no reason given'}"


def _reached(facts: t.Any, active: str, issued: dict[str, t.Any] | None) -> bool | str:
    if not facts:
        return False
    if facts.get("state") == active and not facts.get("transferring"):
        return True
    if not facts.get("transferring"):
        failure = _new_failure(facts, issued)
        if failure:
            return failure
    return False


def _volume_facts(record: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"uuid": record.get("uuid"), "size": record.get("size"), "type": record.get("type"),
            "junction_path": (record.get("nas") or {}).get("path"),
            "aggregates": [a.get("name") for a in record.get("aggregates") or []]}


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``relationships`` list, or the single relationship of the top-level options."""
    if params.get("relationships"):
        items = [merge_item(params, dict(entry), ITEM_KEYS) for entry in params["relationships"]]
    else:
        items = [{key: params.get(key) for key in ITEM_KEYS}]
    for item in items:
        item["state"] = item.get("state") or "present"
        validate_item(item)
    seen: set[str] = set()
    for item in items:
        if item["destination_path"] in seen:
            raise ReplicationError(f"destination_path {item['destination_path']} is listed twice")
        seen.add(item["destination_path"])
    return items
