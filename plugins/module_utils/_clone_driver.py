"""FlexClone volumes on the shared engine: the driver (read, poll, the action handlers).

One run talks to one cluster. ``read`` asks for every volume the items name (the clones and their
parents) with one collection query per SVM, then, for each clone that exists, its base snapshot with the
bytes written since (``delta``), and for each clone to create the snapshot of its parent it is made
from: the one the item names, or for a SnapMirror destination the snapshot its relationship last
transferred (``exported_snapshot``, else the newest ``snapmirror.*`` snapshot of the parent). The
module reads relationships and never changes one: a clone of a DP volume leaves its relationship alone.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._claim import ClaimStore
from ._clone_plan import (RERUN, SNAPSHOT_FIELDS, VOLUME_FIELDS, Observed, clone_facts, diff_view, key_of, plan,
                          predict)
from ._common import ReplicationError, for_each
from ._engine import Action, Driver, Handler, Step, Steps
from ._ontap import CODE_NOT_FOUND, OntapClient, SvmClaim, parse_time, split_path
from ._rest import HttpError

Item = t.Dict[str, t.Any]
Record = t.Optional[t.Dict[str, t.Any]]


class CloneReader:
    """What one run read from the cluster, by clone path (``svm:name``)."""

    def __init__(self, client: OntapClient, max_workers: int = 10) -> None:
        self.client = client
        self.max_workers = max(1, max_workers)
        self.volumes: dict[str, dict[str, t.Any]] = {}
        self.bases: dict[str, Record] = {}
        self.snapshots: dict[str, tuple[Record, str | None]] = {}
        self.problems: dict[str, ReplicationError] = {}
        self.exported: dict[str, str] = {}

    def read(self, items: list[Item]) -> None:
        """Read what the plans of ``items`` need (again, for items read before)."""
        for item in items:
            for cache in (self.problems, self.bases, self.snapshots):
                cache.pop(key_of(item), None)
        paths = {key_of(i) for i in items} | {self._parent(i) for i in items if i.get("parent_volume")}
        found = self.client.volumes(paths, VOLUME_FIELDS)
        for path in paths:
            self.volumes.pop(path, None)
        self.volumes.update(found)
        existing = [i for i in items if _is_clone(self.volumes.get(key_of(i)))]
        self._each(self._read_base, existing)
        creates = [i for i in items if i["state"] == "present" and key_of(i) not in self.volumes
                   and self.volumes.get(self._parent(i)) is not None]
        self._read_exported([i for i in creates if not i.get("parent_snapshot")])
        self._each(self._read_snapshot, creates)

    def observe(self, item: Item) -> Observed:
        key = key_of(item)
        if key in self.problems:
            raise self.problems[key]
        snapshot, chosen = self.snapshots.get(key, (None, None))
        return Observed(volume=self.volumes.get(key), base=self.bases.get(key),
                        parent=self.volumes.get(self._parent(item)) if item.get("parent_volume") else None,
                        snapshot=snapshot, chosen=chosen)

    # reads ------------------------------------------------------------------------------------------
    def _read_base(self, item: Item) -> None:
        """The clone's base snapshot as the clone holds it (its creation time and what was written since)."""
        volume = self.volumes[key_of(item)]
        name = ((volume.get("clone") or {}).get("parent_snapshot") or {}).get("name")
        if not name:
            return
        records = self.client.snapshots(volume["uuid"], SNAPSHOT_FIELDS, {"name": name})
        self.bases[key_of(item)] = next((r for r in records if r.get("name") == name), None)

    def _read_exported(self, items: list[Item]) -> None:
        """The snapshot each DP parent's relationship last transferred: one query for all of them."""
        parents = {self._parent(i) for i in items if (self.volumes.get(self._parent(i)) or {}).get("type") == "dp"}
        for path in parents:
            self.exported.pop(path, None)
        if not parents:
            return
        found = self.client.relationships(parents, fields="destination.path,exported_snapshot")
        for path, record in found.items():
            if record.get("exported_snapshot"):
                self.exported[path] = str(record["exported_snapshot"])

    def _read_snapshot(self, item: Item) -> None:
        """The parent snapshot a new clone is made from, with how it was chosen (None: ONTAP takes one)."""
        key = key_of(item)
        parent_path = self._parent(item)
        parent = self.volumes[parent_path]
        wanted = item.get("parent_snapshot")
        if not wanted and parent.get("type") == "rw":
            self.snapshots[key] = (None, "taken_by_ontap")
            return
        query = {"name": wanted} if wanted else {}
        records = self.client.snapshots(parent["uuid"], SNAPSHOT_FIELDS, query)
        if wanted:
            found = next((r for r in records if r.get("name") == wanted), None)
            if found is None:
                self.problems[key] = ReplicationError(f"cannot create {key}: snapshot {wanted} does not exist in "
                                                      f"{parent_path}")
            self.snapshots[key] = (found, "given")
            return
        exported = self.exported.get(parent_path)
        found = next((r for r in records if exported and r.get("name") == exported), None)
        if found is not None:
            self.snapshots[key] = (found, "exported_snapshot")
            return
        mirrored = [r for r in records if str(r.get("name") or "").startswith("snapmirror.")]
        newest = max(mirrored, key=lambda r: parse_time(r.get("create_time")) or 0.0, default=None)
        self.snapshots[key] = (newest, "newest_snapmirror_snapshot" if newest else None)

    def _each(self, read: t.Callable[[Item], None], items: list[Item]) -> None:
        """``read`` every item, on up to ``max_workers`` threads; a failure is that item's problem."""
        def one(item: Item) -> None:
            try:
                read(item)
            except ReplicationError as exc:
                self.problems[key_of(item)] = exc

        for_each(one, items, self.max_workers)

    @staticmethod
    def _parent(item: Item) -> str:
        return f"{item['svm']}:{item.get('parent_volume')}"


def _is_clone(record: Record) -> bool:
    return bool(record) and bool((record.get("clone") or {}).get("is_flexclone"))


class CloneDriver(Driver):
    """One module run over one cluster."""

    object_key = "clone"
    list_key = "clones"
    item_key = "clone_path"
    noun = "clones"
    rerun = RERUN

    @classmethod
    def connect(cls, params: dict[str, t.Any]) -> CloneDriver:
        workers = params["max_workers"]
        client = OntapClient(params, "cluster", workers, job_timeout=max(30.0, float(params["wait_timeout"])),
                             poll_interval=params["poll_interval"])
        return cls(client, workers)

    def __init__(self, client: OntapClient, max_workers: int = 10) -> None:
        super().__init__()
        self.client = client
        self.reader = CloneReader(client, max_workers)

    def requests_sent(self) -> int:
        return self.client.rest.sent

    def close(self) -> None:
        self.client.rest.close()

    # identity, read and plan ------------------------------------------------------------------------
    def key(self, item: Item) -> t.Hashable:
        return key_of(item)

    def record(self, item: Item) -> dict[str, t.Any]:
        return {"clone_path": key_of(item)}

    def read(self, items: list[Item]) -> None:
        self.reader.read(items)

    def observe(self, item: Item) -> Observed:
        return self.reader.observe(item)

    def plan(self, item: Item, observed: Observed) -> list[Action]:
        return plan(item, observed)

    def facts(self, item: Item, observed: Observed) -> t.Any:
        return clone_facts(observed.volume, observed.base)

    def predict(self, item: Item, observed: Observed, actions: list[Action]) -> t.Any:
        return predict(item, observed, actions)

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """The facts of the clones now (their volumes in one query per SVM, then each one's base snapshot)."""
        paths = sorted(str(k) for k in keys)
        reader = CloneReader(self.client, self.reader.max_workers)
        reader.read([{"svm": split_path(p)[0], "name": split_path(p)[1], "state": "present"} for p in paths])
        for path in paths:
            if path in reader.problems:
                raise reader.problems[path]
        return {path: clone_facts(reader.volumes.get(path), reader.bases.get(path)) for path in paths}

    def claims(self, items: list[Item]) -> list[ClaimStore]:
        """A claim on each SVM whose clones the run changes."""
        return [SvmClaim(self.client, svm) for svm in sorted({i["svm"] for i in items})]

    def finish(self, step: Step) -> None:
        _snapshot, chosen = self.reader.snapshots.get(str(step.key), (None, None))
        if "create" in step.actions and chosen:
            step.record["parent_snapshot_chosen"] = chosen

    # the action table -------------------------------------------------------------------------------
    def handlers(self) -> t.Mapping[str, Handler]:
        return {"create": self.create, "mount": self.mount, "unmount": self.unmount, "export": self.export,
                "modify": self.modify, "delete": self.delete}

    def create(self, step: Step) -> Steps:
        yield from step.call(self.client.write, "POST", "/storage/volumes", step.action.args["body"])

    def mount(self, step: Step) -> Steps:
        yield from self._patch(step, {"nas": {"path": step.action.args["junction_path"]}})

    def unmount(self, step: Step) -> Steps:
        yield from self._patch(step, {"nas": {"path": ""}})

    def export(self, step: Step) -> Steps:
        yield from self._patch(step, {"nas": {"export_policy": {"name": step.action.args["export_policy"]}}})

    def modify(self, step: Step) -> Steps:
        yield from self._patch(step, step.action.args["body"])

    def delete(self, step: Step) -> Steps:
        try:
            yield from step.call(self.client.write, "DELETE", f"/storage/volumes/{step.action.args['uuid']}")
        except HttpError as exc:
            if exc.status != 404 and exc.code != CODE_NOT_FOUND:
                raise
        step.facts = None

    def _patch(self, step: Step, body: dict[str, t.Any]) -> Steps:
        yield from step.call(self.client.write, "PATCH", f"/storage/volumes/{step.action.args['uuid']}", body)
