"""SnapMirror relationships: input checks, the pure plan, and what check mode predicts.

``plan()`` is pure: from a relationship's current facts and the desired item it returns the
ordered actions (``["quiesce", "wait_paused", "break", "wait_broken_off", "mount"]``), each an
``Action`` whose ``args`` hold what its handler sends. ``plan_observed()`` plans from one
``Observed`` (what the driver read for the item) and decides what the data-loss guards need: a
resync of a broken relationship and a reverse name what they overwrite and how many bytes are at
stake, a reverse without a common snapshot becomes a full re-baseline when allowed, and what
cannot be measured is refused.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ._common import ReplicationError
from ._engine import Action, declared_items
from ._ontap import active_state, split_path

ITEM_KEYS = ("source_path", "destination_path", "state", "relationship_state", "policy", "transfer_schedule",
             "throttle", "create_destination", "max_lag", "update", "allow_data_loss", "allow_full_baseline",
             "junction_path", "quiesce_timeout", "preserve", "release", "reverse", "resync_broken")
VOLUME_FIELDS = "uuid,name,svm.name,type,state,size,nas.path,aggregates.name"
TRANSFER_ACTIONS = ("initialize", "create", "update", "resync", "reverse", "rebaseline")
FACT_KEYS_FOR_DIFF = ("state", "healthy", "policy", "transfer_schedule", "throttle", "source_path")
RERUN = "Rerun the task: it reads the relationship's state and continues from there"
DESIRED_STATES = ("snapmirrored", "paused", "broken_off")

Facts = t.Optional[t.Dict[str, t.Any]]


@dataclasses.dataclass
class Guard:
    """What a resync of a broken relationship or a reverse would overwrite, read before planning.

    ``volume`` is the destination volume's record; ``discarded_bytes`` is measured (``measured``) unless
    the item allows data loss; ``missing`` says a volume of a reversed pair does not exist.
    """

    volume: Facts = None
    common_snapshot: str | None = None
    discarded_bytes: int | None = None
    measured: bool = False
    missing: bool = False


@dataclasses.dataclass
class Observed:
    """What the driver read for one item: the relationship, its opposite, and the volume records plans need."""

    current: Facts = None
    opposite: Facts = None
    policy_type: str | None = None
    destination_volume: Facts = None
    source_volume: Facts = None
    guard: Guard | None = None


# input ------------------------------------------------------------------------------------------
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


def build_items(params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The run's items: the ``relationships`` list, or the single relationship of the top-level options."""
    items = declared_items(params, "relationships", ITEM_KEYS)
    for item in items:
        validate_item(item)
    seen: set[str] = set()
    for item in items:
        if item["destination_path"] in seen:
            raise ReplicationError(f"destination_path {item['destination_path']} is listed twice")
        seen.add(item["destination_path"])
    return items


def volume_facts(record: Facts) -> Facts:
    """The facts of a volume record that plans use (None stays None)."""
    if record is None:
        return None
    return {"uuid": record.get("uuid"), "size": record.get("size"), "type": record.get("type"),
            "junction_path": (record.get("nas") or {}).get("path"),
            "aggregates": [a.get("name") for a in record.get("aggregates") or []]}


# the pure plan ----------------------------------------------------------------------------------
def plan(item: dict[str, t.Any], current: Facts, opposite: Facts = None, policy_type: str | None = None,
         destination_volume: Facts = None, source_volume: Facts = None) -> list[Action]:
    """The ordered actions that take ``current`` to ``item``; [] when nothing needs doing.

    ``current`` and ``opposite`` are relationship facts (``relationship_facts``);
    ``opposite`` is the same pair in the other direction, found on the source
    cluster (for a reverse), or a source-side leftover (for state=absent).
    ``policy_type`` is the type of the policy a new relationship gets; the
    volumes are ``volume_facts`` when they were read.
    """
    if item.get("state") == "absent":
        return _plan_absent(current, opposite)
    course = _Course(item, destination_volume, source_volume)
    if current is None:
        course.start(opposite, policy_type)
    else:
        course.resume(current, policy_type)
    desired = item.get("relationship_state") or "snapmirrored"
    if course.state == "broken_off" and desired in ("snapmirrored", "paused") and item.get("resync_broken") is False:
        return course.actions
    if desired not in DESIRED_STATES:
        raise ReplicationError(f"unknown relationship_state {desired!r}")
    if desired == "broken_off":
        course.to_broken_off(current, destination_volume)
    elif desired == "paused":
        course.to_paused()
    else:
        course.reach_active()
        course.final_update()
    return course.actions


def _plan_absent(current: Facts, opposite: Facts) -> list[Action]:
    if current is None:
        return [Action("release", {"uuid": str(opposite.get("uuid"))}, rereads=False)] if opposite is not None else []
    transfer = (current.get("transfer") or {}).get("uuid")
    abort = [Action("abort", {"transfer": transfer}), Action("wait_idle")] if current.get("transferring") else []
    return abort + [Action("delete", rereads=False)]


class _Course:
    """The plan of one present item while it is made: the actions so far and the state they lead to."""

    def __init__(self, item: dict[str, t.Any], destination_volume: Facts, source_volume: Facts) -> None:
        self.item = item
        self.actions: list[Action] = []
        spec = item.get("create_destination") or {}
        self.grow: list[Action] = []
        # a reverse's destination (the old source) exists already: it grows when the DR copy outgrew it
        if (spec.get("enabled") or item.get("reverse")) and spec.get("grow", True) and destination_volume \
                and source_volume is not None \
                and int(destination_volume.get("size") or 0) < int(source_volume.get("size") or 0):
            self.grow = [Action("grow_destination", {"uuid": destination_volume.get("uuid"),
                                                     "size": int(source_volume.get("size") or 0)})]
        self.destination_volume = destination_volume
        self.source_volume = source_volume
        self.fresh = False  # a transfer of this run already brings the destination up to date
        self.transferring = False  # a transfer runs now (a rerun joins it instead of starting another)
        self.state = "uninitialized"
        self.lag: int | None = 0
        self.active = "snapmirrored"

    def start(self, opposite: Facts, policy_type: str | None) -> None:
        """A relationship that does not exist yet: created, or reversed from the opposite direction."""
        item = self.item
        self.fresh = True
        if opposite is not None:
            if not item.get("reverse"):
                raise ReplicationError(
                    f"{item['destination_path']} is the source of a relationship in the opposite direction "
                    f"({opposite.get('source_path')} -> {opposite.get('destination_path')}); set reverse: true "
                    "to reverse it (the new destination is rolled back to the newest common snapshot)")
            self.active = active_state(opposite.get("policy_type"))
            body = {"source": {"path": opposite.get("destination_path")},
                    "destination": {"path": opposite.get("source_path")}, "state": self.active}
            reverse = Action("reverse", {"uuid": str(opposite.get("uuid")), "body": body})
            self.actions += self.grow + [reverse, self._wait_active()]
        else:
            self.active = active_state(policy_type)
            ontap_creates = False
            if self.destination_volume is None and (item.get("create_destination") or {}).get("enabled"):
                volume = _new_volume(item, self.source_volume)
                ontap_creates = volume is None
                self.actions.append(Action("create_destination", {"body": volume}))
            self.actions += self.grow + [self._create(ontap_creates), self._wait_active()]
        self.state = self.active

    def resume(self, current: dict[str, t.Any], policy_type: str | None) -> None:
        """An existing relationship: its configuration first."""
        item = self.item
        if item.get("source_path") and current.get("source_path") and item["source_path"] != current["source_path"]:
            raise ReplicationError(
                f"{item['destination_path']} replicates from {current['source_path']}, not from "
                f"{item['source_path']}: delete it (state: absent) to replicate it from another source")
        self.active = active_state(current.get("policy_type") or policy_type)
        self.state = current["state"]
        self.transferring = bool(current.get("transferring"))
        self.lag = current.get("lag_seconds")
        body = _modify_body(item, current)
        if body:
            self.actions.append(Action("modify", {"body": body}))

    def _create(self, ontap_creates: bool) -> Action:
        item = self.item
        body: dict[str, t.Any] = {"source": {"path": item["source_path"]},
                                  "destination": {"path": item["destination_path"]}, "state": self.active}
        if item.get("policy"):
            body["policy"] = {"name": item["policy"]}
        if item.get("transfer_schedule"):
            body["transfer_schedule"] = {"name": item["transfer_schedule"]}
        if ontap_creates:
            body["create_destination"] = {"enabled": True}
        elif item.get("throttle") is not None:
            body["throttle"] = item["throttle"]
        # ONTAP takes no throttle with create_destination: it is set once the relationship exists
        return Action("create", {"body": body, "throttle": item.get("throttle") if ontap_creates else None})

    def _wait_active(self) -> Action:
        return Action("wait_active", {"state": self.active})

    def wants_update(self) -> bool:
        max_lag = self.item.get("max_lag")
        return bool(self.item.get("update")) or (max_lag is not None and self.lag is not None and self.lag > max_lag)

    def join(self, wait: str) -> None:
        """Wait for the transfer that runs now (started by an earlier run, a schedule or someone else) instead
        of starting another, which ONTAP refuses while one runs; the rest is planned again once it ended."""
        self.actions.append(Action(wait, {"state": self.active, "replan": True}))
        self.transferring = False

    def reach_active(self) -> None:
        body = {"state": self.active}
        if self.transferring and self.state in ("uninitialized", "broken_off", "out_of_sync", "synchronizing"):
            # a baseline or resync that runs now leads to the active state: join it
            self.join("wait_active")
        elif self.state == "uninitialized":
            self.actions += self.grow + [Action("initialize", {"body": body}), self._wait_active()]
            self.fresh = True
        elif self.state == "paused":
            self.actions += [Action("resume", {"body": body}), self._wait_active()]
        elif self.state in ("broken_off", "out_of_sync", "synchronizing"):
            if self.item.get("preserve"):
                body["preserve"] = True
            self.actions += (self.grow if self.state == "broken_off" else []) + [
                Action("resync", {"body": body, "from": self.state}), self._wait_active()]
            self.fresh = True
        self.state = self.active

    def final_update(self) -> None:
        if self.active == "snapmirrored" and self.state == self.active and self.wants_update() and not self.fresh:
            if self.transferring:
                self.join("wait_idle")  # a transfer that runs now is waited for; whether another follows is
                # decided once it ended (update: always; max_lag: when the lag still exceeds it)
            self.actions += self.grow + [Action("update"), Action("wait_transfer")]

    def quiesce(self) -> None:
        self.actions += [Action("quiesce"), Action("wait_paused", {"quiesce_timeout": self.item.get("quiesce_timeout")})]

    def to_paused(self) -> None:
        if self.state != "paused":
            self.reach_active()
            self.final_update()
            self.quiesce()

    def to_broken_off(self, current: Facts, destination_volume: Facts) -> None:
        item = self.item
        if current is not None and self.state == "uninitialized":
            raise ReplicationError(
                f"{item['destination_path']} is not initialized: its destination holds no data to break to. "
                "Initialize it first (relationship_state: snapmirrored)")
        if self.state != "broken_off":
            if self.state == "paused" and self.item.get("update"):
                # quiesced by someone else: the destination may miss the source's latest writes. An update asked
                # for (a planned failover) resumes it first, so the break keeps everything the source holds
                self.reach_active()
            if self.state != "paused":
                self.final_update()
                self.quiesce()
            self.actions += [Action("break"), Action("wait_broken_off")]
        junction = item.get("junction_path")
        if junction and ("break" in self.actions or (destination_volume or {}).get("junction_path") != junction):
            # a mount does not change the relationship: nothing to read again after it
            self.actions.append(Action("mount", {"junction_path": junction,
                                                 "volume_uuid": (destination_volume or {}).get("uuid")},
                                       rereads=False))


def _new_volume(item: dict[str, t.Any], source: Facts) -> dict[str, t.Any] | None:
    """The body of a destination volume this module creates itself, or None when ONTAP creates it with the
    relationship (no placement asked for, or the source's size unknown), sized to the source."""
    spec = item.get("create_destination") or {}
    if source is None or not (spec.get("aggregate") or spec.get("aggregate_map")):
        return None
    svm, name = split_path(item["destination_path"])
    body: dict[str, t.Any] = {"name": name, "svm": {"name": svm}, "type": "dp", "size": int(source.get("size") or 0)}
    aggregates = source.get("aggregates") or []
    mapping = spec.get("aggregate_map") or {}
    if spec.get("aggregate"):
        body["aggregates"] = [{"name": spec["aggregate"]}]
    elif mapping and aggregates:
        missing = [a for a in aggregates if a not in mapping]
        if missing:
            raise ReplicationError(f"create_destination.aggregate_map has no destination aggregate for "
                                   f"{', '.join(missing)} (source aggregates of {item['source_path']})")
        body["aggregates"] = [{"name": mapping[a]} for a in aggregates]
    return body


def _modify_body(item: dict[str, t.Any], current: dict[str, t.Any]) -> dict[str, t.Any]:
    """The PATCH that brings the relationship's configuration to the item's; {} when it matches."""
    body: dict[str, t.Any] = {}
    if item.get("policy") and item["policy"] != current.get("policy"):
        body["policy"] = {"name": item["policy"]}
    schedule = item.get("transfer_schedule")
    if schedule is not None and (schedule or None) != current.get("transfer_schedule"):
        body["transfer_schedule"] = {"name": schedule} if schedule else {"name": None, "uuid": None}
    if item.get("throttle") is not None and item["throttle"] != (current.get("throttle") or 0):
        body["throttle"] = item["throttle"]
    return body


# the plan from an observation, with its guards --------------------------------------------------
def first_plan(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    """The plan before the guards: it tells which reads the guards need."""
    return plan(item, observed.current, observed.opposite, observed.policy_type,
                volume_facts(observed.destination_volume), volume_facts(observed.source_volume))


def plan_observed(item: dict[str, t.Any], observed: Observed) -> list[Action]:
    """The final plan: ``first_plan`` with what the data-loss guards decided for its resync or reverse."""
    out = []
    for action in first_plan(item, observed):
        if action == "resync" and action.args.get("from") == "broken_off":
            action = _guard_resync(item, observed, action)
        elif action == "reverse":
            action = _guard_reverse(item, observed, action)
        out.append(action)
    return out


def needs_guard(item: dict[str, t.Any], actions: list[Action]) -> str | None:
    """Which guard reads a first plan needs: ``"resync"``, ``"reverse"`` or None."""
    if "reverse" in actions:
        return "reverse"
    resyncs_broken = any(a == "resync" and a.args.get("from") == "broken_off" for a in actions)
    if resyncs_broken and not item.get("allow_data_loss"):
        return "resync"
    return None


def _guard_resync(item: dict[str, t.Any], observed: Observed, action: Action) -> Action:
    """A resync of a broken relationship rolls the destination back to the common snapshot."""
    key = item["destination_path"]
    snapshot = (observed.current or {}).get("exported_snapshot")
    guard = observed.guard or Guard()
    if not item.get("allow_data_loss"):
        if guard.volume is None or not snapshot:
            raise ReplicationError(f"cannot tell what a resync of {key} would discard (no destination volume or no "
                                   "common snapshot); set allow_data_loss: true to resync anyway")
        if guard.discarded_bytes is None:
            raise ReplicationError(f"the common snapshot {snapshot} is gone from {key}: a resync cannot keep its "
                                   "data; set allow_full_baseline or allow_data_loss to proceed")
    return Action(action.name, dict(action.args, verb="resync"), at_stake=guard.discarded_bytes,
                  overwrites=f"the destination since the common snapshot {snapshot}",
                  details={"common_snapshot": snapshot})


def _guard_reverse(item: dict[str, t.Any], observed: Observed, action: Action) -> Action:
    """A reverse rolls the new destination back to the newest common snapshot; without one it can only
    re-baseline in full (with allow_full_baseline)."""
    key = item["destination_path"]
    guard = observed.guard
    if guard is None or guard.missing:
        raise ReplicationError(f"cannot reverse to {key}: a volume of the pair is missing")
    common = guard.common_snapshot
    if common is None:
        if item.get("allow_full_baseline"):
            return _rebaseline(item, action, guard)
        raise ReplicationError(f"no common snapshot between {item['source_path']} and {key}: reversing needs a full "
                               "baseline that replaces all data on the new destination; set "
                               "allow_full_baseline: true to do that")
    return Action(action.name, dict(action.args, common_snapshot=common), at_stake=guard.discarded_bytes,
                  overwrites=f"the new destination since the common snapshot {common} (writes that never "
                             "reached the other side)", details={"common_snapshot": common})


def _rebaseline(item: dict[str, t.Any], reverse: Action, guard: Guard) -> Action:
    """Reverse without a common snapshot: the new destination is replaced by an empty DP volume of the same
    name, size and aggregates, and the reversed relationship is created and initialized."""
    volume = guard.volume or {}
    svm, name = split_path(item["destination_path"])
    body: dict[str, t.Any] = {"name": name, "svm": {"name": svm}, "type": "dp", "size": int(volume.get("size") or 0)}
    if volume.get("aggregates"):
        body["aggregates"] = [{"name": a["name"]} for a in volume["aggregates"]]
    relationship = {"source": {"path": item["source_path"]}, "destination": {"path": item["destination_path"]},
                    "state": reverse.args["body"]["state"]}
    return Action("rebaseline", {"uuid": reverse.args["uuid"], "volume_uuid": volume.get("uuid"),
                                 "unmount": bool((volume.get("nas") or {}).get("path")), "volume": body,
                                 "relationship": relationship})


# check mode and reporting -----------------------------------------------------------------------
def predict(before: Facts, item: dict[str, t.Any], actions: list[str]) -> Facts:
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


def diff_view(facts: Facts) -> dict[str, t.Any]:
    if facts is None:
        return {}
    return {k: facts.get(k) for k in FACT_KEYS_FOR_DIFF}


def describe(facts: t.Any) -> t.Any:
    """The state a wait shows when it fails or times out."""
    if not facts:
        return "relationship not found"
    out = {k: facts.get(k) for k in ("state", "healthy", "transferring", "lag_time")}
    if facts.get("transfer"):
        out["transfer"] = facts["transfer"]
    if facts.get("unhealthy_reasons"):
        out["unhealthy_reasons"] = facts["unhealthy_reasons"]
    return out
