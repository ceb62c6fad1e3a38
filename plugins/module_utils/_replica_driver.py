"""SMI-S replicas on the shared engine: read, observe, poll, and the action handlers.

``ReplicaDriver.read`` reads the volumes and every synchronization of the namespace (two requests, all an
unchanged rerun sends); only when a plan may change something it also reads the replication service with
its SupportedReplicationTypes (a new replica's kind and Mode) and, for a clone to remove, whether the
provider offers StorageConfigurationService.ReturnToStoragePool. The handlers send CreateElementReplica
(ElementName = the replica's name, no TargetElement: the provider creates the volume),
ModifyReplicaSynchronization 19 (Return To ResourcePool) or 8 (Detach) naming the replica's own
synchronization and nothing else, and ReturnToStoragePool of the detached clone; jobs are followed to their
end. The claim of a changing run is the SMI-S ``GroupClaim`` of ``_smis_ops``, as for ``smis_sync``.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import time
import typing as t

from ._bulk import Wait
from ._claim import ClaimStore
from ._common import ReplicationError
from ._engine import Action, Driver, Handler, Step, Steps
from ._replica_plan import (RERUN, Observed, describe, diff_view, plan, predict, replica_facts,
                            resolve_volume)
from ._smis import (MODE_VALUES, RC_JOB, RC_OK, SYNC_TYPE_VALUES, UNAVAILABLE, CimError, SmisClient, keys_of,
                    op_label, rc_label, sync_facts, uint16)
from ._smis_ops import GroupClaim
from ._smis_plan import describe_job

Item = t.Dict[str, t.Any]
Pair = t.Tuple[str, str]
WAITING_STATES = ("initialized", "copying")
_UNREAD = object()


class ReplicaDriver(Driver):
    """One module run over one SMI-S provider."""

    object_key = "replica"
    list_key = "replicas"
    item_key = "name"
    noun = "replicas"
    rerun = RERUN

    @classmethod
    def connect(cls, params: dict[str, t.Any], _items: list[Item]) -> ReplicaDriver:
        return cls(SmisClient(params))

    def __init__(self, client: SmisClient) -> None:
        super().__init__()
        self.client = client
        self.volumes: list[dict[str, t.Any]] = []
        self.syncs: dict[Pair, dict[str, t.Any]] = {}
        self.paths: dict[Pair, t.Any] = {}
        self.observations: dict[str, Observed | ReplicationError] = {}
        self.replication: t.Any = _UNREAD  # the ReplicationService path (None: the provider has none)
        self.types: list[int] | None = None
        self.configuration: t.Any = _UNREAD  # the StorageConfigurationService path, when it offers the delete
        self.detached: dict[str, str] = {}  # replica name -> DeviceID this run detached (its delete is left)
        self.created: dict[str, float] = {}
        self.job_paths: dict[str, t.Any] = {}

    def requests_sent(self) -> int:
        return int(self.client.sent)

    def claims(self, items: list[Item]) -> list[ClaimStore]:
        return [GroupClaim(self.client)]

    # identity -----------------------------------------------------------------------------------
    def key(self, item: Item) -> str:
        return str(item["name"])

    def record(self, item: Item) -> dict[str, t.Any]:
        return {"name": item["name"], "source": item.get("source")}

    # read ---------------------------------------------------------------------------------------
    def read(self, items: list[Item]) -> None:
        """The volumes and synchronizations; the services only when a plan may change something."""
        self._read_state()
        where = self.client.where()
        drafts = []
        for item in items:
            try:
                self.observations[self.key(item)] = observed = self._observe(item, where)
            except ReplicationError as exc:
                self.observations[self.key(item)] = exc
                continue
            drafts.append((item, observed))
        if any(self._may_create(i, o) or self._may_remove(i, o) for i, o in drafts):
            self._read_replication()
        if any(self._may_remove(i, o) and (o.detached or (o.sync or {}).get("sync_type") == "clone")
               for i, o in drafts):
            self._read_configuration()
        for _item, observed in drafts:
            observed.types = self.types
            observed.can_delete = None if self.configuration is _UNREAD else self.configuration is not None

    @staticmethod
    def _may_create(item: Item, observed: Observed) -> bool:
        return item["state"] == "present" and observed.replica is None

    @staticmethod
    def _may_remove(item: Item, observed: Observed) -> bool:
        return item["state"] == "absent" and observed.replica is not None

    def _read_state(self) -> None:
        self.volumes = self.client.volumes()
        names = {v["device_id"]: v["name"] for v in self.volumes if v.get("name") is not None}
        self.syncs, self.paths = {}, {}
        for inst in self.client.synchronizations():
            pair = keys_of(inst.path)
            if pair[0] is None or pair[1] is None:
                continue
            self.syncs[t.cast(Pair, pair)] = sync_facts(inst, names)
            self.paths[t.cast(Pair, pair)] = inst.path

    def _observe(self, item: Item, where: str) -> Observed:
        name = item["name"]
        named = [v for v in self.volumes if v.get("name") == name]
        if len(named) > 1:
            listed = ", ".join(f"DeviceID {v['device_id']}" for v in named)
            raise ReplicationError(f"{name}: several volumes of {where} have this ElementName ({listed}); this module "
                                   "neither takes one of them over nor removes them; choose another name")
        replica = named[0] if named else None
        source = resolve_volume(self.volumes, item["source"], "source", where) if item.get("source") else None
        if replica is not None and source is not None and source is replica:
            raise ReplicationError(f"{name}: source {item['source']!r} names the replica volume itself "
                                   f"(DeviceID {replica['device_id']})")
        sync, feeds = None, []
        if replica is not None:
            dev = replica["device_id"]
            into = [facts for (src, tgt), facts in sorted(self.syncs.items()) if tgt == dev]
            preferred = [f for f in into if source is not None and f["source_device_id"] == source["device_id"]]
            sync = (preferred or into or [None])[0]
            feeds = [f"{facts['target']} (DeviceID {tgt})" for (src, tgt), facts in sorted(self.syncs.items())
                     if src == dev]
        return Observed(replica=replica, sync=sync, feeds=feeds, source=source,
                        detached=replica is not None and self.detached.get(name) == replica["device_id"],
                        created=self.created.get(name), where=where)

    def _read_replication(self) -> None:
        if self.replication is not _UNREAD:
            return
        self.replication = self.client.service("CIM_ReplicationService", self.client.system)
        caps = self.client.capabilities(self.replication, "CIM_ReplicationServiceCapabilities") \
            if self.replication is not None else []
        listed = caps[0].get("SupportedReplicationTypes") if caps else None
        self.types = [int(x) for x in listed] if listed is not None else None

    def _read_configuration(self) -> None:
        """The StorageConfigurationService when it offers ReturnToStoragePool (its class declares it)."""
        if self.configuration is not _UNREAD:
            return
        conf = self.client.service("CIM_StorageConfigurationService", self.client.system)
        if conf is not None:
            try:
                cls = self.client.call(f"reading the class {conf.classname}", "GetClass", conf.classname,
                                       LocalOnly=False, IncludeQualifiers=False)
                if "ReturnToStoragePool" not in cls.methods:
                    conf = None
            except CimError as exc:
                if exc.status not in UNAVAILABLE:
                    raise
        self.configuration = conf

    def observe(self, item: Item) -> Observed:
        found = self.observations[self.key(item)]
        if isinstance(found, ReplicationError):
            raise found
        return found

    def plan(self, item: Item, observed: Observed) -> list[Action]:
        return plan(item, observed)

    def facts(self, item: Item, observed: Observed) -> t.Any:
        return replica_facts(observed.replica, observed.sync, observed.created)

    def predict(self, item: Item, observed: Observed, actions: list[Action]) -> t.Any:
        return predict(item, observed, actions, time.time())

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def describe(self, facts: t.Any) -> t.Any:
        return describe(facts)

    # poll ---------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """Replicas with one read of the volumes and synchronizations; jobs one by one."""
        out: dict[t.Hashable, t.Any] = {}
        names = [k for k in keys if isinstance(k, str)]
        if names:
            self._read_state()
            for name in names:
                observed = self._observe({"name": name, "source": None, "state": "present"}, self.client.where())
                out[name] = replica_facts(observed.replica, observed.sync, self.created.get(name))
        for key in keys:
            if isinstance(key, tuple) and key[0] == "job":
                out[key] = self.client.job(self.job_paths[key[1]])
        return out

    # handlers -----------------------------------------------------------------------------------
    def handlers(self) -> t.Mapping[str, Handler]:
        return {"create": self.create, "wait_copied": self.wait_copied, "return_to_pool": self.modify,
                "detach": self.modify, "delete_volume": self.delete_volume}

    def create(self, step: Step) -> Steps:
        """CreateElementReplica: SyncType 7 / 8, the Mode chosen, ElementName = name, no TargetElement."""
        args, source = step.action.args, step.observed.source
        if self.replication is None or self.replication is _UNREAD:
            raise ReplicationError(f"{step.name}: {self.client.where()} has no replication service "
                                   "(CIM_ReplicationService); nothing was changed")
        params: dict[str, t.Any] = {"SourceElement": source["path"], "ElementName": step.item["name"],
                                    "SyncType": uint16(SYNC_TYPE_VALUES[args["sync_type"]])}
        if args.get("mode"):
            params["Mode"] = uint16(MODE_VALUES[args["mode"]])
        what = f"CreateElementReplica ({args['sync_type']} of {source.get('name')}) of {step.name}"
        self.created[step.key] = time.time()
        rc, out = yield from step.call(self.client.invoke, what, self.replication, "CreateElementReplica", **params)
        self._check_rc(step, what, rc)
        step.vars.update(job=out.get("Job") if rc == RC_JOB else None, job_label=what)
        if not self._next_is_wait(step):
            yield from self._wait_job(step)

    def modify(self, step: Step) -> Steps:
        """ModifyReplicaSynchronization (19 Return To ResourcePool, 8 Detach) of the replica's own synchronization."""
        number = int(step.action.args["operation"])
        sync = step.observed.sync or {}
        pair = (sync.get("source_device_id"), sync.get("target_device_id"))
        path = self.paths.get(t.cast(Pair, pair))
        if path is None:
            raise ReplicationError(f"{step.name}: its synchronization disappeared before {op_label(number)}")
        what = f"ModifyReplicaSynchronization operation {op_label(number)} of {step.name}"
        if number == 8:
            self.detached[step.key] = str(pair[1])
        rc, out = yield from step.call(self.client.invoke, what, self.replication, "ModifyReplicaSynchronization",
                                       Operation=uint16(number), Synchronization=path)
        self._check_rc(step, what, rc)
        step.vars.update(job=out.get("Job") if rc == RC_JOB else None, job_label=what)
        yield from self._wait_job(step)
        step.facts = None if number == 19 else step.facts

    def delete_volume(self, step: Step) -> Steps:
        """StorageConfigurationService.ReturnToStoragePool of the detached clone."""
        if self.configuration is None or self.configuration is _UNREAD:
            raise ReplicationError(f"{step.name}: {self.client.where()} offers no ReturnToStoragePool to delete the "
                                   "volume")
        replica = step.observed.replica or {}
        volume = next((v for v in self.volumes if v["device_id"] == replica.get("device_id")), replica)
        what = f"ReturnToStoragePool of {step.name} (DeviceID {replica.get('device_id')})"
        rc, out = yield from step.call(self.client.invoke, what, self.configuration, "ReturnToStoragePool",
                                       TheElement=volume["path"])
        self._check_rc(step, what, rc)
        step.vars.update(job=out.get("Job") if rc == RC_JOB else None, job_label=what)
        yield from self._wait_job(step)
        self.detached.pop(step.key, None)
        step.facts = None

    def wait_copied(self, step: Step) -> Steps:
        """The create's job, then the replica's CopyState past copying (a finished job is not enough)."""
        yield from self._wait_job(step)

        def check(facts: t.Any) -> bool | str:
            if facts is None:
                return f"{step.name} disappeared while waiting for its copy"
            if facts.get("state") in WAITING_STATES:
                return False
            if facts.get("sync_type") is None or facts.get("state") in ("broken", "aborted", "partitioned", "invalid"):
                return (f"{step.name} is {facts.get('state') or 'without a synchronization'} "
                        f"({facts.get('copy_state')}): its copy did not complete")
            return True
        yield from step.wait(check, "be copied")

    # jobs ---------------------------------------------------------------------------------------
    def _check_rc(self, step: Step, what: str, rc: int) -> None:
        if rc in (RC_OK, RC_JOB):
            return
        raise ReplicationError(f"{step.name}: {what} failed on {self.client.where()} with return code {rc} "
                               f"({rc_label(rc)})", array_code=rc, array_message=rc_label(rc), replica=step.facts)

    @staticmethod
    def _next_is_wait(step: Step) -> bool:
        index = step.index
        return index + 1 < len(step.actions) and step.actions[index + 1].is_wait

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
        message = done.get("error_description") or next((e["message"] for e in errors if e.get("message")), None)
        message = message or "the provider gave no reason"
        code = done.get("error_code")
        raise ReplicationError(
            f"{step.name}: {label} failed on {self.client.where()}: {message}"
            + (f" (error code {code})" if code else "") + f"; job {job_id}",
            array_message=message, array_code=code, job=done, cim_errors=errors or None)
