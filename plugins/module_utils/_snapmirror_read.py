"""SnapMirror relationships: everything a run's plans need, read with as few requests as ONTAP allows.

``SnapMirrorReader.read`` works in stages: the relationships of every item with one collection
query (and their opposites on the source cluster when some are missing), a first plan of each,
then only what those plans need: policies and SVM peers before creates, volumes before creates,
transfers and mounts, and the guard reads (volumes, snapshots, newest common snapshot, bytes a
rollback discards) of the items whose first plan resyncs a broken relationship or reverses one,
on worker threads when there are several. ``observe`` hands one item's findings to the plan.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._common import ReplicationError, for_each
from ._engine import Action
from ._ontap import OntapClient, newest_common_snapshot, relationship_facts, split_path
from ._rest import UnreachableError
from ._snapmirror_plan import TRANSFER_ACTIONS, VOLUME_FIELDS, Guard, Observed, first_plan, needs_guard

Item = t.Dict[str, t.Any]


class SnapMirrorReader:
    """What one run read from the destination cluster (and the source cluster, when given), by item."""

    def __init__(self, destination: OntapClient, source: OntapClient | None, max_workers: int = 10) -> None:
        self.dst = destination
        self.src = source
        self.max_workers = max(1, max_workers)
        self.current: dict[str, dict[str, t.Any] | None] = {}
        self.opposite: dict[str, dict[str, t.Any]] = {}
        self.dst_volumes: dict[str, dict[str, t.Any]] = {}
        self.src_volumes: dict[str, dict[str, t.Any]] = {}
        self.policies: dict[tuple[str | None, str], str] = {}
        self.guards: dict[str, Guard] = {}
        self.problems: dict[str, ReplicationError] = {}
        self.warnings: list[str] = []
        self._svms: set[str] | None = None
        self._peers: list[dict[str, t.Any]] = []
        self._policies_read = False
        self._sizes_unknown = False

    # stages ---------------------------------------------------------------------------------------
    def read(self, items: list[Item]) -> None:
        """Read what the plans of ``items`` need (again, for items read before)."""
        for item in items:
            key = item["destination_path"]
            for cache in (self.problems, self.guards, self.dst_volumes):
                cache.pop(key, None)
        self._read_relationships(items)
        plans = self._first_plans(items)
        self._read_context(items, plans)
        self._read_guards(items, plans)

    def observe(self, item: Item) -> Observed:
        """What was read for one item; raises the problem the reads found with it."""
        key = item["destination_path"]
        current = self.current.get(key)
        if key in self.problems:
            problem = self.problems[key]
            if current is not None:
                problem.details.setdefault("relationship", current)
            raise problem
        source = item.get("source_path")
        opposite = self.opposite.get(f"release:{key}") if item["state"] == "absent" else self.opposite.get(source or "")
        return Observed(current=current, opposite=opposite,
                        policy_type=self.policies.get((split_path(key)[0], item.get("policy") or "Asynchronous")),
                        destination_volume=self.dst_volumes.get(key),
                        source_volume=self.src_volumes.get(source) if source else None,
                        guard=self.guards.get(key))

    def _read_relationships(self, items: list[Item]) -> None:
        paths = [i["destination_path"] for i in items]
        found = self.dst.relationships(paths)
        for path in paths:
            self.current[path] = relationship_facts(found[path]) if path in found else None
        for item in items:
            self.opposite.pop(item.get("source_path") or "", None)
            self.opposite.pop(f"release:{item['destination_path']}", None)
        missing = [i for i in items if self.current[i["destination_path"]] is None]
        reversible = [i for i in missing if i.get("source_path") or i["state"] == "absent"]
        if not reversible or self.src is None:
            return
        wanted = [i["source_path"] for i in reversible if i["state"] == "present"]
        if wanted:
            self.opposite.update({p: relationship_facts(r) for p, r in self.src.relationships(wanted).items()})
        orphans = [i["destination_path"] for i in reversible if i["state"] == "absent"]
        if orphans:
            try:
                left = self.src.relationships(orphans, outgoing=True)
            except UnreachableError as exc:
                self._warn(f"could not look for source-side leftovers: {exc}")
                left = {}
            for path, record in left.items():
                self.opposite[f"release:{path}"] = relationship_facts(record)

    def _first_plans(self, items: list[Item]) -> dict[str, list[Action]]:
        """Each item's plan from what is known so far ([] when it fails: planning it again reports why)."""
        plans: dict[str, list[Action]] = {}
        for item in items:
            try:
                plans[item["destination_path"]] = first_plan(item, self.observe(item))
            except ReplicationError:
                plans[item["destination_path"]] = []
        return plans

    def _read_context(self, items: list[Item], plans: dict[str, list[Action]]) -> None:
        """Reads that only some plans need: validation before creates, volumes before transfers and mounts."""
        creates = [i for i in items if "create" in plans[i["destination_path"]]]
        modifies = [i for i in items if "modify" in plans[i["destination_path"]] and i.get("policy")]
        transfers = [i for i in items if set(plans[i["destination_path"]]) & set(TRANSFER_ACTIONS)]
        mounts = [i for i in items if i.get("junction_path")]
        if creates or modifies:
            self._read_policies(creates + modifies)
        if creates:
            self._validate_creates(creates)
        need_dst = {i["destination_path"] for i in creates + mounts}
        need_dst |= {i["destination_path"] for i in transfers
                     if (i.get("create_destination") or {}).get("enabled") and self.src is not None}
        if need_dst:
            self.dst_volumes.update(self.dst.volumes(need_dst, VOLUME_FIELDS))
        if self.src is not None:
            need_src = {i["source_path"] for i in creates + transfers if i.get("source_path")
                        and (i.get("create_destination") or {}).get("enabled") or i in creates}
            if need_src:
                try:
                    self.src_volumes.update(self.src.volumes({p for p in need_src if p}, VOLUME_FIELDS))
                except UnreachableError as exc:
                    self._sizes_unknown = True
                    self._warn(f"source cluster not reachable, destination sizes not checked: {exc}")
        for item in creates:
            self._validate_volumes(item)

    def _read_policies(self, items: list[Item]) -> None:
        if not self._policies_read:
            for record in self.dst.records("/snapmirror/policies", {"fields": "name,type,svm.name"}):
                scope = (record.get("svm") or {}).get("name")
                self.policies[(scope, record["name"])] = record.get("type") or "async"
            self._policies_read = True
        for (scope, name), ptype in list(self.policies.items()):
            if scope is None:
                for item in items:
                    self.policies.setdefault((split_path(item["destination_path"])[0], name), ptype)

    # validation -----------------------------------------------------------------------------------
    def _validate_creates(self, creates: list[Item]) -> None:
        if self._svms is None:
            self._svms = {r["name"] for r in self.dst.records("/svm/svms", {"fields": "name"})}
            self._peers = self.dst.records("/svm/peers", {"fields": "name,svm.name,peer.svm.name,state,applications"})
        for item in creates:
            problem = self._create_problem(item, self._svms, self._peers)
            if problem:
                self.problems[item["destination_path"]] = ReplicationError(problem)

    def _create_problem(self, item: Item, svms: set[str], peers: list[dict[str, t.Any]]) -> str | None:
        dst_svm = split_path(item["destination_path"])[0]
        src_svm = split_path(item["source_path"])[0]
        if dst_svm not in svms:
            return f"destination SVM {dst_svm!r} does not exist on {self.dst.label}"
        peer = next((p for p in peers if p.get("name") == src_svm and (p.get("svm") or {}).get("name") == dst_svm),
                    None)
        if src_svm not in svms and peer is None:
            return (f"source SVM {src_svm!r} is not peered with destination SVM {dst_svm!r} on "
                    f"{self.dst.label} (use the source SVM's local peer alias)")
        if peer and (peer.get("state") != "peered" or "snapmirror" not in (peer.get("applications") or [])):
            return (f"SVM peer {src_svm!r} of {dst_svm!r} is {peer.get('state')} with applications "
                    f"{peer.get('applications')}; SnapMirror needs it peered for 'snapmirror'")
        policy = item.get("policy")
        if policy and (dst_svm, policy) not in self.policies:
            return f"SnapMirror policy {policy!r} does not exist in SVM {dst_svm!r} or the cluster"
        return None

    def _validate_volumes(self, item: Item) -> None:
        key = item["destination_path"]
        if key in self.problems:
            return
        dst = self.dst_volumes.get(key)
        src = self.src_volumes.get(item["source_path"])
        spec = item.get("create_destination") or {}
        problem = None
        if self.src is not None and item["source_path"] not in self.src_volumes and not self._sizes_unknown:
            problem = f"source volume {item['source_path']} does not exist on the source cluster"
        elif dst is None and not spec.get("enabled"):
            problem = (f"destination volume {key} does not exist; create it as type DP or set "
                       "create_destination.enabled")
        elif dst is not None and dst.get("type") != "dp":
            problem = (f"destination volume {key} exists and is of type {dst.get('type')!r}; a SnapMirror "
                       "destination must be a DP volume")
        elif dst is not None and src is not None and int(dst.get("size") or 0) < int(src.get("size") or 0) \
                and not (spec.get("enabled") and spec.get("grow", True)):
            problem = (f"destination volume {key} is too small: {dst.get('size')} bytes for a source of "
                       f"{src.get('size')} bytes; grow it or set create_destination.enabled (with grow)")
        if problem:
            self.problems[key] = ReplicationError(problem)

    # guard reads ----------------------------------------------------------------------------------
    def _read_guards(self, items: list[Item], plans: dict[str, list[Action]]) -> None:
        """The reads the data-loss guards need, one collection query per cluster for the volumes, then
        each item's snapshots and discarded bytes (on worker threads when there are several)."""
        wanted = {i["destination_path"]: needs_guard(i, plans[i["destination_path"]]) for i in items}
        resyncs = [i for i in items if wanted[i["destination_path"]] == "resync"]
        reverses = [i for i in items if wanted[i["destination_path"]] == "reverse"]
        if not resyncs and not reverses:
            return
        try:
            need = {i["destination_path"] for i in resyncs + reverses} - set(self.dst_volumes)
            if need:
                self.dst_volumes.update(self.dst.volumes(need, VOLUME_FIELDS))
        except ReplicationError as exc:
            self._fail(resyncs + reverses, exc)
            return
        if reverses:
            try:
                self.src_volumes.update(self._source().volumes({i["source_path"] for i in reverses}, VOLUME_FIELDS))
            except ReplicationError as exc:
                self._fail(reverses, exc)
                reverses = []
        self._each(self._resync_guard, resyncs)
        self._each(self._reverse_guard, reverses)

    def _resync_guard(self, item: Item) -> Guard:
        """How much a resync of a broken relationship discards: what was written since its snapshot."""
        key = item["destination_path"]
        volume = self.dst_volumes.get(key)
        snapshot = (self.current.get(key) or {}).get("exported_snapshot")
        if volume is None or not snapshot:
            return Guard(volume=volume)
        return Guard(volume=volume, common_snapshot=snapshot, measured=True,
                     discarded_bytes=self.dst.discarded_bytes(volume["uuid"], snapshot))

    def _reverse_guard(self, item: Item) -> Guard:
        """The newest common snapshot of a pair to reverse, and what rolling the new destination back to it
        discards (unless the item allows data loss)."""
        key = item["destination_path"]
        volume = self.dst_volumes.get(key)
        source = self.src_volumes.get(item["source_path"])
        if volume is None or source is None:
            return Guard(missing=True)
        dst_snaps = self.dst.snapshots(volume["uuid"])
        src_snaps = self._source().snapshots(source["uuid"])
        guard = Guard(volume=volume, common_snapshot=newest_common_snapshot(src_snaps, dst_snaps))
        if guard.common_snapshot is not None and not item.get("allow_data_loss"):
            guard.discarded_bytes = self.dst.discarded_bytes(volume["uuid"], guard.common_snapshot)
            guard.measured = True
        return guard

    def _each(self, read: t.Callable[[Item], Guard], items: list[Item]) -> None:
        """``read`` every item's guard, on up to ``max_workers`` threads; a failure is that item's problem."""
        def one(item: Item) -> None:
            try:
                self.guards[item["destination_path"]] = read(item)
            except ReplicationError as exc:
                self.problems[item["destination_path"]] = exc

        for_each(one, items, self.max_workers)

    # helpers --------------------------------------------------------------------------------------
    def _fail(self, items: list[Item], exc: ReplicationError) -> None:
        """A read that several items needed failed: each of them fails with what the array answered."""
        for item in items:
            self.problems[item["destination_path"]] = ReplicationError(str(exc), **exc.details)

    def _source(self) -> OntapClient:
        if self.src is None:
            raise ReplicationError("this step needs the source cluster: set source_cluster")
        return self.src

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
