"""SMI-S operations: the service and method that carry out each planned action, chosen from capabilities.

Before anything changes, the provider is asked whether it offers each planned
operation: GetSupportedOperationsForSynchronization for the pair as it is,
GetSupportedOperations for the states the plan passes through, and the legacy
StorageReplicationCapabilities.SupportedModifyOperations. ``resolve`` is pure: it
takes the answers already read (``Answers``) and raises ``Missing`` for one it
still needs, so the driver reads exactly the questions a plan asks (and check mode
asks them too). An operation the provider does not offer is refused with a
message naming it and the provider, and nothing is sent.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._claim import CLAIM_NAME, ClaimStore, ClaimUnsupported, Holder, Seen
from ._common import ReplicationError
from ._engine import Action
from ._smis import (CIM_ERR_NOT_FOUND, LEGACY_SYNC_TYPES, REPLICATION_TYPES, STATE_NAMES, UNAVAILABLE, CimError,
                    SmisClient, legacy_sync_type, op_label, pywbem, rc_label, replication_type)
from ._smis_plan import ACTION_OPS, create_mode, final_state, item_name, settled_state

Query = t.Tuple[t.Any, ...]
RC_NOT_SUPPORTED = 1


class Op(t.NamedTuple):
    """A planned action resolved to a method of a service: what is sent."""

    action: str
    interface: str
    method: str
    number: int | None
    service: t.Any

    def label(self) -> str:
        if self.number is None:
            return self.method
        return f"{self.method} operation {op_label(self.number, self.interface == 'configuration_service')}"


class Missing(Exception):
    """A capability answer that a choice needs and that was not read yet: read ``query`` into ``store``."""

    def __init__(self, query: Query, store: dict[Query, t.Any]) -> None:
        super().__init__(f"the provider's answer to {query[0]} was not read")
        self.query = query
        self.store = store


class Answers:
    """The provider's answers to capability questions: shared ones, and those about the pair as observed.

    ``("context",)``: the services and their capabilities; ``("for_sync", pair)``: the operations the pair
    accepts now; ``("type_ops", rtype, state)`` and ``("copy_states", rtype, operation)``. An answer that
    was an error is raised again for every plan that needs it.
    """

    def __init__(self, shared: dict[Query, t.Any], own: dict[Query, t.Any] | None = None) -> None:
        self.shared = shared
        self.own = {} if own is None else own

    def get(self, query: Query) -> t.Any:
        store = self.own if query[0] == "for_sync" else self.shared
        if query not in store:
            raise Missing(query, store)
        value = store[query]
        if isinstance(value, ReplicationError):
            raise ReplicationError(value.msg, **value.details)  # each item's failure gets facts of its own
        return value


def _type_operations(answers: Answers, ctx: dict[str, t.Any], rtype: int | None, state: int | None) -> t.Any:
    if rtype is None or ctx["caps"] is None:
        return None
    return answers.get(("type_ops", rtype, state))


def resolve(item: dict[str, t.Any], facts: dict[str, t.Any] | None, actions: list[Action], answers: Answers,
            target_exists: bool) -> list[Action]:
    """The plan with each changing action resolved to its ``Op`` (in ``args["op"]``, named by what it does).

    ``facts`` are those of the pair before the run (None for a pair to create). The actions after a wait that
    asks for a new plan are left as they are: they are planned again from the state the wait ends in.
    """
    if not any(not a.is_wait for a in actions):
        return actions
    ctx = answers.get(("context",))
    facts = facts or {}
    state = facts.get("copy_state_value")
    sync_type = facts.get("sync_type") or item.get("sync_type") or "mirror"
    mode = facts.get("mode") if facts else create_mode(item)
    legacy = item.get("interface") == "configuration_service"
    out: list[Action] = []
    first, replanned = True, False
    for action in actions:
        if action.is_wait or replanned:
            if action.is_wait and first and facts:
                state = settled_state(facts)
            first = False
            replanned = replanned or bool(action.args.get("replan"))
            out.append(action)
            continue
        if action == "create":
            op = create_op(item, ctx, target_exists)
            state, first = 4, False
        else:
            now_offered = None
            if first and facts and ctx["caps"] is not None:
                now_offered = answers.get(("for_sync", (facts["source_device_id"], facts["target_device_id"])))
            op = choose(item, ctx, answers, action, facts, sync_type, mode, state, now_offered)
            if action in ("reset_to_sync", "reset_to_async"):
                mode = action[len("reset_to_"):]
            elif action != "reverse":
                state = final_state(state, [op.action], legacy)
            first = False
        out.append(Action(op.action, dict(action.args, op=op), overwrites=action.overwrites, at_stake=action.at_stake,
                          at_most=action.at_most, details=action.details, rereads=action.rereads))
    return out


def create_op(item: dict[str, t.Any], ctx: dict[str, t.Any], target_exists: bool) -> Op:
    """The method that creates the synchronization, or a refusal saying why neither service can."""
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
        elif sync_type == "clone" and not target_exists:
            reasons.append(f"its legacy service ({conf.classname}) copies a clone into an existing volume "
                           f"(AttachOrModifyReplica), and no volume {item['target']!r} exists")
        elif sync_type != "clone" and target_exists:
            reasons.append(f"its legacy service ({conf.classname}) creates a {sync_type}'s target itself "
                           f"(CreateReplica), and volume {item['target']!r} already exists")
        else:
            method = "AttachOrModifyReplica" if sync_type == "clone" else "CreateReplica"
            return Op("create", "configuration_service", method, None, conf)
    raise ReplicationError(f"{item_name(item)}: {what} cannot be created on {ctx['where']}: " + "; ".join(reasons)
                           + ". Nothing was changed")


class _Asked(t.NamedTuple):
    """What one choice is about, for the refusal messages."""

    ctx: dict[str, t.Any]
    answers: Answers
    sync_type: str
    state: int | None
    rtype: int | None
    legacy_kind: int | None


def choose(item: dict[str, t.Any], ctx: dict[str, t.Any], answers: Answers, action: str, facts: dict[str, t.Any],
           sync_type: str, mode: str | None, state: int | None, now_offered: list[int] | None) -> Op:
    """The service and operation that perform ``action`` from ``state``, or a refusal naming what was asked."""
    interface = item["interface"]
    rtype = facts.get("replication_type") if facts else replication_type(sync_type, mode)
    asked = _Asked(ctx, answers, sync_type, state, rtype or replication_type(sync_type, mode),
                   legacy_sync_type(sync_type, mode, facts.get("copy_type_value"), facts.get("replica_type_value")))
    if action.startswith("operation_"):
        number = int(action.split("_", 1)[1])
        candidates = [(action, number, None)] if interface == "replication_service" else [(action, None, number)]
    elif action == "detach":
        candidates = [("detach", 8, None), ("dissolve", 9, None), ("detach", None, 2)]
    else:
        new, old = ACTION_OPS[action]
        candidates = [(action, new, old)]
    reasons: list[str] = []
    questions: list[str] = []
    for name, new, old in candidates:
        if new is not None and interface in ("auto", "replication_service"):
            questions.append(f"ModifyReplicaSynchronization operation {op_label(new)}")
            refusal = _replica_refusal(asked, new, now_offered)
            if refusal is None:
                return Op(name, "replication_service", "ModifyReplicaSynchronization", new, ctx["replication"])
            reasons.append(refusal)
        if old is not None and interface in ("auto", "configuration_service"):
            questions.append(f"ModifySynchronization operation {op_label(old, True)}")
            refusal = _legacy_refusal(asked, old)
            if refusal is None:
                return Op(name, "configuration_service", "ModifySynchronization", old, ctx["configuration"])
            reasons.append(refusal)
    key = item_name(item)
    if not questions:
        new, old = candidates[0][1], candidates[0][2]
        other = (f"ModifySynchronization operation {op_label(old, True)}" if old is not None
                 else f"ModifyReplicaSynchronization operation {op_label(new or 0)}")
        raise ReplicationError(f"{key}: {action.replace('_', ' ')} is not available with interface {interface}: "
                               f"it exists only as {other}. Nothing was changed", synchronization=facts or None)
    state_name = STATE_NAMES.get(state or 0, state)
    raise ReplicationError(
        f"{key}: {' / '.join(dict.fromkeys(questions))} is not supported by {ctx['where']} "
        f"(namespace {ctx['namespace']}) for this {sync_type} ({state_name}): {'; '.join(reasons)}. "
        "Nothing was changed", synchronization=facts or None)


def _replica_refusal(asked: _Asked, new: int, now_offered: list[int] | None) -> str | None:
    """Why the replication service will not perform operation ``new``; None when it will."""
    ctx, answers, rtype = asked.ctx, asked.answers, asked.rtype
    repl = ctx["replication"]
    if repl is None:
        return "it has no replication service"
    offered = now_offered
    if offered is None:
        offered = _type_operations(answers, ctx, rtype, asked.state)
    if offered is None or new in offered:
        return None
    reason = (f"its replication service ({repl.classname}) does not offer {op_label(new)} for this "
              f"{asked.sync_type} while it is {STATE_NAMES.get(asked.state or 0, asked.state)}")
    everywhere = _type_operations(answers, ctx, rtype, None)
    if everywhere is not None and new in everywhere:
        accepted = answers.get(("copy_states", rtype, new))
        if accepted:
            reason += f" (it accepts it from: {', '.join(STATE_NAMES.get(s, str(s)) for s in accepted)})"
    elif everywhere is not None:
        reason = (f"its replication service ({repl.classname}) does not support {op_label(new)} for "
                  f"{REPLICATION_TYPES.get(rtype or 0, rtype)} at all")
        offered = everywhere
    shown = ", ".join(op_label(o) for o in offered) or "nothing"
    return f"{reason} (it offers {shown})"


def _legacy_refusal(asked: _Asked, old: int) -> str | None:
    """Why the legacy Copy Services will not perform ModifySynchronization ``old``; None when they will."""
    conf = asked.ctx["configuration"]
    legacy = asked.ctx["legacy"]
    kind = asked.legacy_kind
    if conf is None:
        return "it has no legacy Copy Services"
    if legacy is not None and old not in legacy.get(kind or 0, []):
        supported = ", ".join(op_label(o, True) for o in legacy.get(kind or 0, [])) or "nothing"
        return (f"its legacy service ({conf.classname}) does not support {op_label(old, True)} "
                f"for {LEGACY_SYNC_TYPES.get(kind or 0, 'these')} copies (SupportedModifyOperations: {supported})")
    if old == 4 and asked.state == 5:
        return ("a Broken target cannot be resynchronized through ModifySynchronization (HPE 3PAR CIM API); "
                "remove the copy (state absent) and create it again")
    return None


class GroupClaim(ClaimStore):
    """A run's claim on an SMI-S system: an empty replication group named ``storage_replication_claim``
    (ReplicationService.CreateGroup; group names are unique per system, so of two runs creating it together
    one gets it) whose Description names the holder and its expiry (ModifyInstance). A provider without
    replication groups gives no claim: the run says so and goes on."""

    def __init__(self, client: SmisClient) -> None:
        self.client = client
        self.where = client.where()
        self.removal = f"delete the replication group {CLAIM_NAME} (ReplicationService.DeleteGroup)"
        self.path: t.Any = None
        self._service: t.Any = None

    @property
    def key(self) -> tuple[str, ...]:
        return ("smis", self.client.url, self.client.system or "")

    def service(self) -> t.Any:
        if self._service is None:
            self._service = self.client.service("CIM_ReplicationService", self.client.system)
            if self._service is None:
                raise ClaimUnsupported(f"{self.where} has no replication service to keep a claim")
        return self._service

    def peek(self) -> Seen | None:
        try:
            groups = self.client.call(f"looking for the claim on {self.where}", "EnumerateInstances",
                                      "CIM_ReplicationGroup", PropertyList=["ElementName", "Description"])
        except CimError as exc:
            if exc.status in UNAVAILABLE:
                raise ClaimUnsupported(f"{self.where} has no replication groups ({exc})") from None
            raise
        for group in groups:
            if group.get("ElementName") == CLAIM_NAME:
                return Seen(Holder.parse(group.get("Description")), group.path, str(group.get("Description") or ""))
        return None

    def take(self, holder: Holder, patience: float) -> Seen | None:
        try:
            rc, out = self.client.invoke(f"claiming {self.where}", self.service(), "CreateGroup",
                                         GroupName=CLAIM_NAME, Persistent=True, DeleteOnEmptyElement=False)
        except CimError as exc:
            if exc.status in UNAVAILABLE:
                raise ClaimUnsupported(f"{self.where} does not offer CreateGroup ({exc})") from None
            raise
        if rc != 0 or out.get("ReplicationGroup") is None:
            seen = self.peek()
            if seen is None:
                if rc == RC_NOT_SUPPORTED:
                    raise ClaimUnsupported(f"{self.where} does not offer CreateGroup ({rc_label(rc)})")
                # the other run's claim was removed between its refusal and this read: take it again
                return Seen(None, text=f"a claim that was gone again (CreateGroup answered {rc_label(rc)})")
            return seen
        self.path = out["ReplicationGroup"]
        self.renew(holder)
        return None

    def renew(self, holder: Holder) -> None:
        if self.path is not None:
            group = pywbem.CIMInstance(self.path.classname, properties={"Description": holder.text()}, path=self.path)
            self.client.call(f"renewing the claim on {self.where}", "ModifyInstance", group,
                             PropertyList=["Description"])

    def _delete(self, path: t.Any) -> None:
        try:
            self.client.invoke(f"removing the claim on {self.where}", self.service(), "DeleteGroup",
                               ReplicationGroup=path, RemoveElements=False)
        except CimError as exc:
            if exc.status != CIM_ERR_NOT_FOUND:
                raise

    def drop(self) -> None:
        if self.path is not None:
            self._delete(self.path)
            self.path = None

    def evict(self, seen: Seen) -> None:
        self._delete(seen.handle)
