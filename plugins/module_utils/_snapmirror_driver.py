"""SnapMirror relationships on the shared engine: the driver (read, poll, the action handlers).

The engine (``_engine``) plans every item, guards against data loss, steps through the plans and
reports. This driver reads through ``SnapMirrorReader``, plans with ``plan_observed``, polls all
waiting relationships with one collection query per round, and carries out each action with a
handler of its own. A bulk break with the source cluster down sends one unforced break per source
cluster; the other breaks of that source wait for its answer and use ``force=true`` straight away.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import threading
import typing as t

from ._claim import ClaimStore
from ._common import ReplicationError
from ._engine import Action, Course, Driver, Handler, Passed, Step, Steps
from ._ontap import (CODE_NOT_FOUND, CODE_PEER_UNREACHABLE, OntapClient, SvmClaim, active_state,
                     relationship_facts, split_path)
from ._rest import HttpError, UnreachableError
from ._snapmirror_plan import (RERUN, VOLUME_FIELDS, Observed, describe, diff_view, plan_observed, predict)
from ._snapmirror_read import SnapMirrorReader
from ._waiting import WaitTimeout, stop_if_controller_gone

CODE_RELATIONSHIP_EXISTS = "6619637"
Facts = t.Optional[t.Dict[str, t.Any]]


class SnapMirrorDriver(Driver):
    """One module run over one destination cluster (and optionally its source cluster)."""

    object_key = "relationship"
    list_key = "relationships"
    item_key = "destination_path"
    noun = "relationships"
    rerun = RERUN

    @classmethod
    def connect(cls, params: dict[str, t.Any]) -> SnapMirrorDriver:
        """The destination cluster's client, and the source cluster's when ``source_cluster`` is given."""
        workers, poll = params["max_workers"], params["poll_interval"]
        dst = OntapClient(params, "destination cluster", workers, poll_interval=poll)
        src = OntapClient(params["source_cluster"], "source cluster", workers, poll_interval=poll) \
            if params.get("source_cluster") else None
        return cls(dst, src, workers)

    def requests_sent(self) -> int:
        return sum(c.rest.sent for c in (self.dst, self.src) if c is not None)

    def close(self) -> None:
        for client in (self.dst, self.src):
            if client is not None:
                client.rest.close()

    def __init__(self, destination: OntapClient, source: OntapClient | None, max_workers: int = 10) -> None:
        super().__init__()
        self.dst = destination
        self.src = source
        self.reader = SnapMirrorReader(destination, source, max_workers)
        self.warnings = self.reader.warnings
        # source clusters a break found unreachable (with the array's message): later breaks go straight to
        # force=true. The first break per source runs alone; the others wait for what it found out.
        self.unreachable_sources: dict[str, str] = {}
        self._source_probes: dict[str, threading.Event] = {}
        self._probe_lock = threading.Lock()

    # identity, read and plan ------------------------------------------------------------------------
    def key(self, item: dict[str, t.Any]) -> t.Hashable:
        return item["destination_path"]

    def record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        return {"source_path": item.get("source_path"), "destination_path": item["destination_path"]}

    def read(self, items: list[dict[str, t.Any]]) -> None:
        self.reader.read(items)

    def observe(self, item: dict[str, t.Any]) -> Observed:
        return self.reader.observe(item)

    def plan(self, item: dict[str, t.Any], observed: Observed) -> list[Action]:
        return plan_observed(item, observed)

    def facts(self, item: dict[str, t.Any], observed: Observed) -> Facts:
        return observed.current

    def predict(self, item: dict[str, t.Any], observed: Observed, actions: list[Action]) -> Facts:
        return predict(observed.current, item, list(actions))

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def describe(self, facts: t.Any) -> t.Any:
        return describe(facts)

    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        found = self.dst.relationships([str(k) for k in keys])
        return {k: relationship_facts(found[k]) if k in found else None for k in keys}

    def claims(self, items: list[dict[str, t.Any]]) -> list[ClaimStore]:
        """A claim on each SVM of the destination cluster whose relationships the run changes."""
        return [SvmClaim(self.dst, svm) for svm in sorted({split_path(i["destination_path"])[0] for i in items})]

    def finish(self, step: Step) -> None:
        item = step.item
        current = step.observed.current if isinstance(step.observed, Observed) else None
        if current and current.get("state") == "broken_off" and item.get("resync_broken") is False and \
                (item.get("relationship_state") or "snapmirrored") != "broken_off" and not step.actions:
            step.record["note"] = \
                "left broken off: resync_broken is false (after a failover the destination is production)"

    # the action table -------------------------------------------------------------------------------
    def handlers(self) -> t.Mapping[str, Handler]:
        return {
            "create_destination": self.create_destination, "grow_destination": self.grow_destination,
            "create": self.create, "modify": self.modify, "initialize": self.start_transfer,
            "resume": self.start_transfer, "resync": self.start_transfer, "reverse": self.reverse,
            "rebaseline": self.rebaseline, "update": self.update, "quiesce": self.quiesce, "break": self.break_,
            "mount": self.mount, "abort": self.abort, "delete": self.delete, "release": self.release,
            "wait_active": self.wait_active, "wait_paused": self.wait_paused,
            "wait_broken_off": self.wait_broken_off, "wait_idle": self.wait_idle,
            "wait_transfer": self.wait_transfer,
        }

    # volumes ----------------------------------------------------------------------------------------
    def create_destination(self, step: Step) -> Steps:
        body = step.action.args.get("body")
        if body is None:
            # no placement asked for: ONTAP creates it with the relationship, sized to the source (the create
            # step asks for it), so this step sends nothing of its own
            return
        yield from step.call(self.dst.write, "POST", "/storage/volumes", body)
        step.record["destination_volume_created"] = True

    def grow_destination(self, step: Step) -> Steps:
        size = step.action.args["size"]
        yield from step.call(self.dst.write, "PATCH", f"/storage/volumes/{step.action.args['uuid']}", {"size": size})
        step.record["destination_grown_to"] = size

    def mount(self, step: Step) -> Steps:
        uuid = step.action.args.get("volume_uuid")
        if uuid is None:
            # a destination created in this run: its volume was not there to read before
            found = yield from step.call(self.dst.volumes, [step.key], VOLUME_FIELDS)
            if step.key not in found:
                raise ReplicationError(f"cannot mount {step.name}: the destination volume is gone")
            uuid = found[step.key]["uuid"]
        junction = step.action.args["junction_path"]
        yield from step.call(self.dst.write, "PATCH", f"/storage/volumes/{uuid}", {"nas": {"path": junction}})
        step.record["junction_path"] = junction

    # relationships ------------------------------------------------------------------------------------
    def create(self, step: Step) -> Steps:
        try:
            yield from step.call(self.dst.write, "POST", "/snapmirror/relationships", step.action.args["body"])
        except HttpError as exc:
            if exc.code != CODE_RELATIONSHIP_EXISTS:
                raise
        throttle = step.action.args.get("throttle")
        if throttle:
            found = yield from step.call(self.poll, {step.key})
            step.facts = found.get(step.key)
            yield from step.call(self._patch, self.dst, self._uuid(step), {"throttle": throttle})
        step.vars["issued"] = None

    def modify(self, step: Step) -> Steps:
        yield from step.call(self._patch, self.dst, self._uuid(step), step.action.args["body"])

    def start_transfer(self, step: Step) -> Steps:
        """initialize, resume and resync: the relationship's state set to the active one."""
        step.vars["issued"] = step.facts
        yield from step.call(self._patch, self.dst, self._uuid(step), step.action.args["body"])

    def update(self, step: Step) -> Steps:
        step.vars["issued"] = step.facts
        yield from step.call(self.dst.write, "POST", f"/snapmirror/relationships/{self._uuid(step)}/transfers", {})

    def reverse(self, step: Step) -> Steps:
        step.vars["issued"] = None
        yield from step.call(self._patch, self._source(), step.action.args["uuid"], step.action.args["body"])
        step.record["common_snapshot"] = step.action.args.get("common_snapshot")

    def rebaseline(self, step: Step) -> Steps:
        """Reverse without a common snapshot: a full baseline into a new DP volume of the same shape.

        The opposite relationship is deleted on its destination and released on its source, the new
        destination volume (which held the old source data) is replaced by an empty DP volume of the same
        name, size and aggregates, and the reversed relationship is created and initialized.
        """
        args = step.action.args
        src = self._source()
        step.vars["issued"] = None
        relationship = f"/snapmirror/relationships/{args['uuid']}"
        yield from step.call(src.write, "DELETE", relationship, None, {"destination_only": "true"})
        try:
            yield from step.call(self.dst.write, "DELETE", relationship, None, {"source_only": "true"})
        except HttpError as exc:
            if exc.status != 404 and exc.code != CODE_NOT_FOUND:
                raise
        volume = f"/storage/volumes/{args['volume_uuid']}"
        if args.get("unmount"):
            yield from step.call(self.dst.write, "PATCH", volume, {"nas": {"path": ""}})
        yield from step.call(self.dst.write, "DELETE", volume)
        yield from step.call(self.dst.write, "POST", "/storage/volumes", args["volume"])
        yield from step.call(self.dst.write, "POST", "/snapmirror/relationships", args["relationship"])
        step.record["rebaselined"] = True

    def quiesce(self, step: Step) -> Steps:
        yield from step.call(self._patch, self.dst, self._uuid(step), {"state": "paused"})

    def break_(self, step: Step) -> Steps:
        source = (step.facts or {}).get("source_cluster") or ""
        why = yield from step.call(self._break, self._uuid(step), source)
        if why:
            step.warn(f"break of {step.name} could not contact the source cluster ({why}); broke it with "
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
        stop_if_controller_gone()  # a second request of the same step: not after the controller ended
        self._patch(self.dst, uuid, {"state": "broken_off"}, {"force": "true"})
        return why

    def abort(self, step: Step) -> Steps:
        yield from self._abort(step, step.action.args.get("transfer"))

    def _abort(self, step: Step, transfer: str | None) -> Steps:
        if not transfer:
            return
        try:
            yield from step.call(self.dst.write, "PATCH",
                                 f"/snapmirror/relationships/{self._uuid(step)}/transfers/{transfer}",
                                 {"state": "aborted"})
        except HttpError as exc:
            if exc.status not in (400, 404):
                raise

    def delete(self, step: Step) -> Steps:
        uuid = self._uuid(step)
        release = step.item.get("release", True)
        path = f"/snapmirror/relationships/{uuid}"
        try:
            yield from step.call(self.dst.write, "DELETE", path, None, None if release else {"destination_only": "true"})
            step.record["released"] = bool(release)
        except HttpError as exc:
            if exc.code != CODE_NOT_FOUND and (exc.code != CODE_PEER_UNREACHABLE or not release):
                raise
            if exc.code == CODE_PEER_UNREACHABLE:
                # the source is down: delete the destination side, release the source side when it is back
                yield from step.call(self.dst.write, "DELETE", path, None, {"destination_only": "true"})
                step.record["released"] = False
                yield from self._release(step, uuid)
        step.facts = None

    def release(self, step: Step) -> Steps:
        yield from self._release(step, step.action.args["uuid"])
        step.facts = None

    def _release(self, step: Step, uuid: str) -> Steps:
        if self.src is None:
            step.warn(f"the source side of {step.name} was not released (no source_cluster given); its "
                      "SnapMirror snapshots stay on the source until it is")
            return
        try:
            yield from step.call(self.src.write, "DELETE", f"/snapmirror/relationships/{uuid}", None,
                                 {"source_only": "true"})
            step.record["released"] = True
        except UnreachableError as exc:
            step.warn(f"the source cluster is unreachable ({exc}); release of {step.name} is pending: "
                      "rerun with state=absent when it is back")
        except HttpError as exc:
            if exc.code != CODE_NOT_FOUND and exc.status != 404:
                raise
            step.record["released"] = True

    # waits ----------------------------------------------------------------------------------------------
    def wait_active(self, step: Step) -> Steps:
        active = step.action.args.get("state") or active_state((step.facts or {}).get("policy_type"))
        issued = self._issued(step)
        yield from step.wait(lambda f: _reached(f, active, issued), active)

    def wait_paused(self, step: Step) -> Steps:
        """Wait for the quiesce; past ``quiesce_timeout`` the running transfer is aborted (quiesce-then-abort)."""
        limit = step.action.args.get("quiesce_timeout")
        try:
            yield from step.wait(_state("paused"), "paused (quiesced)", timeout=limit)
        except WaitTimeout:
            if limit is None:
                raise
            found = yield from step.call(self.poll, {step.key})
            step.facts = found.get(step.key)
            step.record["actions"].append("abort")
            yield from self._abort(step, ((step.facts or {}).get("transfer") or {}).get("uuid"))
            yield from step.wait(_state("paused"), "paused (quiesced) after the abort")

    def wait_broken_off(self, step: Step) -> Steps:
        yield from step.wait(_state("broken_off"), "broken_off")

    def wait_idle(self, step: Step) -> Steps:
        yield from step.wait(lambda f: f is None or not f.get("transferring"), "no transfer running")

    def wait_transfer(self, step: Step) -> Steps:
        issued = self._issued(step) or {}

        def done(facts: t.Any) -> bool | str:
            if facts is None:
                return "the relationship disappeared"
            if facts.get("transferring"):
                return False
            if facts.get("exported_snapshot") != issued.get("exported_snapshot"):
                return True
            return _new_failure(facts, issued) or False

        yield from step.wait(done, "the update transfer to finish")

    # the state machine ----------------------------------------------------------------------------------
    def course(self, step: Step, facts: t.Any) -> Course:
        """A wait for paused that finds the relationship broken off ends at once: past the target when the item
        declares broken_off (the rest is planned again: no second break), else it cannot become paused any more.
        A wait for the active state or for an update transfer fails at once when the transfer was aborted or
        the relationship was quiesced or broken off meanwhile; one for paused or broken_off when it is gone."""
        wait = step.action.name
        if wait not in ("wait_active", "wait_paused", "wait_broken_off", "wait_transfer"):
            return None
        if facts is None:
            # a relationship just created may not be listed yet; one waited for after a change is gone
            return None if wait == "wait_active" else f"the relationship disappeared while waiting for {wait[5:]}"
        if facts.get("transferring"):
            return None
        state = facts.get("state")
        desired = step.item.get("relationship_state") or "snapmirrored"
        if wait == "wait_paused" and state == "broken_off":
            if desired == "broken_off":
                return Passed("broken_off")
            return (f"{step.name} is broken_off while waiting for it to become paused: someone else broke it off. "
                    "It becomes paused again only through a resync, which this run does not start on its own; a "
                    "rerun plans one (refused if it would discard writes on the destination)")
        if wait not in ("wait_active", "wait_transfer"):
            return None
        issued = self._issued(step) or {}
        aborted = _new_end(facts, issued, ("aborted", "hard_aborted"))
        if aborted:
            return (f"the {aborted} transfer of {step.name} was aborted while waiting for it (by someone else); the "
                    f"relationship is {state}. A rerun reads its state and continues from there")
        moved = state in ("paused", "broken_off") and state != issued.get("state")
        if moved and (wait == "wait_active" or facts.get("exported_snapshot") == issued.get("exported_snapshot")):
            target = "the update transfer to finish" if wait == "wait_transfer" else \
                step.action.args.get("state") or "the active state"
            return (f"{step.name} is {state} while waiting for {target}: someone else "
                    f"{'quiesced' if state == 'paused' else 'broke it off'} meanwhile. A rerun reads its state and "
                    "continues from there")
        return None

    def settled(self, step: Step) -> Observed:
        """The relationship as a joined transfer left it, or past a wait's target: the rest is planned from it
        (what a guard measured before is not reused: a resync planned now is refused unless allow_data_loss)."""
        observed = step.observed if isinstance(step.observed, Observed) else Observed()
        return dataclasses.replace(observed, current=step.facts, guard=None)

    # helpers ----------------------------------------------------------------------------------------------
    def _patch(self, client: OntapClient, uuid: str, body: dict[str, t.Any],
               params: dict[str, t.Any] | None = None) -> t.Any:
        return client.write("PATCH", f"/snapmirror/relationships/{uuid}", body, params)

    @staticmethod
    def _uuid(step: Step) -> str:
        return str((step.facts or {}).get("uuid"))

    @staticmethod
    def _issued(step: Step) -> Facts:
        """The facts a transfer was started from (to tell its failure from an older one)."""
        if "issued" in step.vars:
            return t.cast(Facts, step.vars["issued"])
        return step.observed.current if isinstance(step.observed, Observed) else None

    def _source(self) -> OntapClient:
        if self.src is None:
            raise ReplicationError("this step needs the source cluster: set source_cluster")
        return self.src


def _state(wanted: str) -> t.Callable[[t.Any], bool]:
    return lambda facts: bool(facts) and facts.get("state") == wanted


def _new_end(facts: dict[str, t.Any], issued: Facts, states: tuple[str, ...]) -> str | None:
    """The type of the transfer that ended in one of ``states`` since ``issued`` (an older end is not new)."""
    transfer = facts.get("transfer") or {}
    if transfer.get("state") not in states:
        return None
    before = (issued or {}).get("transfer") or {}
    if before.get("state") == transfer.get("state") and before.get("end_time") == transfer.get("end_time"):
        return None
    return str(transfer.get("type") or "running")


def _new_failure(facts: dict[str, t.Any], issued: Facts) -> str | None:
    transfer = facts.get("transfer") or {}
    if _new_end(facts, issued, ("failed",)) is None:
        return None
    reasons = "; ".join(f"{r.get('message')} (code {r.get('code')})" for r in facts.get("unhealthy_reasons") or [])
    return f"the {transfer.get('type') or ''} transfer failed: {reasons or 'no reason given'}"


def _reached(facts: t.Any, active: str, issued: Facts) -> bool | str:
    if not facts:
        return False
    if facts.get("state") == active and not facts.get("transferring"):
        return True
    if not facts.get("transferring"):
        failure = _new_failure(facts, issued)
        if failure:
            return failure
    return False
