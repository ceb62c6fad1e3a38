"""Thin Image snapshots on the engine: reading, polling and changing Thin Image pairs and their S-VOLs.

``ThinImageDriver`` reads the pairs of every snapshot group of the run with one ``GET snapshots`` request
each (filtered by ``snapshotGroupName``), then the LDEVs the plans need (the S-VOLs of those pairs for their
labels and capacity; for a new snapshot its P-VOL and S-VOL) with as few LDEV requests as their ids allow,
the pools of new snapshots, and for each S-VOL to create the lowest free LDEV id (one ``ldevOption=undefined``
list for all of them). Waiting items are polled with one ``GET snapshots`` per snapshot group and round.

Its handlers carry out the plan's steps: an S-VOL LDEV is created (``POST ldevs`` with the id chosen) and
labelled (``PATCH ldevs/<id>``), the pair is created split (``POST snapshots`` with ``autoSplit``), split
or resynced with ``autoSplit``, deleted (one pair, or the whole snapshot group), and the S-VOL the module
made is deleted once its pair is gone. A pair the array refuses to create leaves no S-VOL behind: the one the
run made for it is deleted again. The driver sends nothing to ShadowImage objects: its only paths are
``snapshots``, ``snapshot-groups``, ``ldevs`` and ``pools`` (and the session and the resource lock).

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from ._claim import ClaimStore
from ._common import ReplicationError
from ._engine import Course, Driver, Handler, Step, Steps
from ._rest import HttpError
from ._thin_image_plan import (PAIRED_ATTRIBUTES, RERUN, Key, Observed, describe, diff_view, item_facts, item_key,
                               item_name, label_of, plan, predict)
from ._vsp import ALIVE_TIME, ResourceLock, VspClient, data_of, ldev_defined
from ._waiting import ControllerGone

Item = t.Dict[str, t.Any]
Record = t.Dict[str, t.Any]
SPLIT = ("PSUS", "SSUS")


class ThinImageDriver(Driver):
    """The engine's driver for Thin Image snapshots on one storage system."""

    object_key = "snapshot"
    list_key = "snapshots"
    item_key = "item"
    noun = "snapshots"
    rerun = RERUN
    # the polls also keep the session alive: never further apart than a third of its idle timeout
    poll_ceiling = ALIVE_TIME / 3

    @classmethod
    def connect(cls, params: dict[str, t.Any]) -> ThinImageDriver:
        return cls(VspClient(params, params["max_workers"], params["poll_interval"], max(params["wait_timeout"], 120)))

    def __init__(self, client: VspClient) -> None:
        super().__init__()
        self.client = client
        self.items: dict[Key, Item] = {}
        self.groups: dict[str, list[Record]] = {}
        self.ldevs: dict[int, Record] = {}
        self.pools: dict[int, Record | None] = {}
        #: the LDEV id chosen for each S-VOL to create (kept across reads of the run)
        self.new_svols: dict[Key, int] = {}
        #: the LDEVs this run created, by item (a plan made again after a lost answer uses them)
        self.made: dict[Key, set[int]] = {}
        #: for items to remove without pairs: the LDEVs of their svol_pool_id carrying their label
        self.labelled: dict[Key, set[int]] = {}

    def requests_sent(self) -> int:
        return int(self.client.rest.sent)

    def claims(self, items: list[Item]) -> list[ClaimStore]:
        return [ResourceLock(self.client)]

    def close(self) -> None:
        self.client.close()

    # identity ------------------------------------------------------------------------------------
    def key(self, item: Item) -> Key:
        return item_key(item)

    def name(self, item: Item) -> str:
        return item_name(item)

    def record(self, item: Item) -> dict[str, t.Any]:
        return {"item": item_name(item), "snapshot_group": item["snapshot_group"], "pvol": item.get("pvol")}

    # read ----------------------------------------------------------------------------------------
    def read(self, items: list[Item]) -> None:
        for item in items:
            self.items[item_key(item)] = item
        for group in dict.fromkeys(str(i["snapshot_group"]) for i in items):
            self.groups[group] = self._group_records(group)
        wanted: set[int] = set()
        creates: list[Item] = []
        for item in items:
            key = item_key(item)
            pairs = self._pairs(item)
            wanted |= {r["svolLdevId"] for r in pairs if r.get("svolLdevId") is not None}
            wanted |= self.made.get(key, set())
            if item.get("svol") is not None:
                wanted.add(item["svol"])
            if item["state"] == "present" and not pairs:
                creates.append(item)
                wanted.add(item["pvol"])
        if wanted:
            self.ldevs.update(self.client.ldevs(wanted))
        self._read_labelled([i for i in items if i["state"] == "absent" and i.get("svol_pool_id") is not None
                             and not self._pairs(i)])
        for pool in sorted({p for i in creates for p in (i.get("pool_id"), i.get("svol_pool_id")) if p is not None}):
            self.pools[pool] = self.client.pool(pool)
        self._choose_svols([i for i in creates if i.get("svol_pool_id") is not None and i.get("svol") is None])

    def _read_labelled(self, items: list[Item]) -> None:
        """The S-VOLs an interrupted run made before their pair: the LDEVs of each item's ``svol_pool_id`` that
        carry its label (one list of the pool's DP volumes per pool)."""
        for pool in sorted({int(i["svol_pool_id"]) for i in items}):
            listed = data_of(self.client.get(self.client.path("ldevs") + f"?ldevOption=dpVolume&poolId={pool}"
                                             "&count=16384"), f"the DP volumes of pool {pool} on {self.client.label}")
            for item in (i for i in items if int(i["svol_pool_id"]) == pool):
                found = {int(r["ldevId"]): r for r in listed
                         if r.get("ldevId") is not None and r.get("label") == label_of(item)}
                self.ldevs.update(found)
                self.labelled[item_key(item)] = set(found)

    def _group_records(self, group: str) -> list[Record]:
        records = data_of(self.client.get(self.client.path("snapshots") + "?snapshotGroupName=" + quote(group)),
                          f"the Thin Image pairs of snapshot group {group} on {self.client.label}")
        return [r for r in records if r.get("snapshotGroupName") in (None, group)]

    def _pairs(self, item: Item) -> list[Record]:
        records = self.groups.get(str(item["snapshot_group"]), [])
        pvol = item.get("pvol")
        return sorted((r for r in records if pvol is None or r.get("pvolLdevId") == pvol),
                      key=lambda r: (r.get("pvolLdevId") or 0, r.get("muNumber") or 0))

    def _choose_svols(self, items: list[Item]) -> None:
        """The lowest free LDEV ids for the S-VOLs to create (one list request for all of them); an item that
        made its S-VOL in this run keeps it, and one that chose an id keeps it while it is still free."""
        taken = {i["svol"] for i in self.items.values() if i.get("svol") is not None}
        taken |= {ldev for made in self.made.values() for ldev in made}
        needing = []
        for item in items:
            key = item_key(item)
            if self.made.get(key):
                continue
            chosen = self.new_svols.get(key)
            if chosen is not None and not ldev_defined(self.ldevs.get(chosen)):
                continue
            self.new_svols.pop(key, None)
            needing.append(key)
        if not needing:
            return
        others = set(self.new_svols.values())
        count = len(needing) + len(taken) + len(others)
        listed = data_of(self.client.get(self.client.path("ldevs") + f"?ldevOption=undefined&count={count}"),
                         f"the undefined LDEVs of {self.client.label}")
        free = [int(r["ldevId"]) for r in listed if r.get("ldevId") is not None and not ldev_defined(r)]
        free = [ldev for ldev in sorted(free) if ldev not in taken and ldev not in others]
        for key, ldev in zip(needing, free):
            self.new_svols[key] = ldev
            self.ldevs[ldev] = {"ldevId": ldev, "emulationType": "NOT DEFINED"}

    def observe(self, item: Item) -> Observed:
        key = item_key(item)
        made = set(self.made.get(key, set()))
        defined = sorted(m for m in made if ldev_defined(self.ldevs.get(m)))
        new_svol = defined[0] if defined else self.new_svols.get(key)
        return Observed(pairs=self._pairs(item), ldevs=self.ldevs, pools=self.pools, new_svol=new_svol, made=made,
                        labelled=set(self.labelled.get(key, set())))

    # plan ----------------------------------------------------------------------------------------
    def plan(self, item: Item, observed: Observed) -> list[t.Any]:
        try:
            return plan(item, observed)
        except ReplicationError as exc:
            exc.details.setdefault("snapshot", item_facts(item, observed))
            raise

    def facts(self, item: Item, observed: Observed) -> t.Any:
        return item_facts(item, observed)

    def predict(self, item: Item, observed: Observed, actions: list[t.Any]) -> t.Any:
        return predict(item, observed, actions)

    def diff_view(self, facts: t.Any) -> t.Any:
        return diff_view(facts)

    def describe(self, facts: t.Any) -> t.Any:
        return describe(facts)

    # apply ---------------------------------------------------------------------------------------
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """The facts of the waiting items now: one ``GET snapshots`` per snapshot group."""
        by_group: dict[str, list[Key]] = {}
        for key in keys:
            by_group.setdefault(t.cast(Key, key)[0], []).append(t.cast(Key, key))
        out: dict[t.Hashable, t.Any] = {}
        for group, group_keys in by_group.items():
            records = self._group_records(group)
            unknown = {r["svolLdevId"] for r in records if r.get("svolLdevId") is not None} - set(self.ldevs)
            if unknown:
                self.ldevs.update(self.client.ldevs(unknown))
            for key in group_keys:
                item = self.items.get(key) or {"snapshot_group": group, "pvol": key[1], "state": "present"}
                pairs = [r for r in records if key[1] is None or r.get("pvolLdevId") == key[1]]
                out[key] = item_facts(item, Observed(pairs=pairs, ldevs=self.ldevs))
        return out

    def handlers(self) -> t.Mapping[str, Handler]:
        return {"create_svol": self.create_svol, "label_svol": self.label_svol, "create": self.create,
                "split": self.split, "resync": self.resync, "delete": self.delete, "delete_svol": self.delete_svol,
                "wait_split": self.wait_split, "wait_deleted": self.wait_deleted}

    def course(self, step: Step, facts: t.Any) -> Course:
        """While waiting for the split: a pair gone, or suspended by a failure (PSUE), cannot be split any more."""
        if step.action != "wait_split":
            return None
        if not facts:
            return f"{step.name} disappeared while waiting for it to be split (PSUS)"
        if facts.get("status") == "PSUE":
            return (f"{step.name} is PSUE while waiting for it to be split: the array suspended the pair and dropped "
                    "its snapshot data; a rerun takes a new snapshot")
        return None

    # the S-VOL -------------------------------------------------------------------------------------
    def create_svol(self, step: Step) -> Steps:
        args = step.action.args
        ldev_id = args["ldev_id"]
        body = {"poolId": args["pool_id"], "blockCapacity": args["block_capacity"], "ldevId": ldev_id}
        made = self.made.setdefault(step.key, set())
        made.add(ldev_id)  # a lost answer leaves it here: the read after it tells whether the array made it
        try:
            yield from step.call(self.client.write, "POST", self.client.path("ldevs"), body,
                                 f"creating the S-VOL of {step.name}, LDEV {ldev_id} in pool {args['pool_id']}")
        except HttpError:
            made.discard(ldev_id)
            raise
        self.ldevs[ldev_id] = {"ldevId": ldev_id, "emulationType": "OPEN-V-CVS", "poolId": args["pool_id"],
                               "blockCapacity": args["block_capacity"], "label": "", "attributes": ["CVS", "HDP"]}

    def label_svol(self, step: Step) -> Steps:
        args = step.action.args
        yield from step.call(self.client.write, "PATCH", self.client.path("ldevs", args["ldev_id"]),
                             {"label": args["label"]}, f"labelling the S-VOL of {step.name}, LDEV {args['ldev_id']}")
        self.ldevs.setdefault(args["ldev_id"], {"ldevId": args["ldev_id"]})["label"] = args["label"]

    def delete_svol(self, step: Step) -> Steps:
        ldev_id = step.action.args["ldev_id"]
        yield from self._delete_ldev(step, ldev_id, f"deleting the S-VOL of {step.name}, LDEV {ldev_id}")

    def _delete_ldev(self, step: Step, ldev_id: int, what: str) -> Steps:
        """Delete an LDEV the module made (read again first: one that is not its own any more stays)."""
        record = yield from step.call(self.client.ldev, ldev_id)
        if ldev_defined(record):
            ours = record.get("label") == label_of(step.item) or ldev_id in self.made.get(step.key, set())
            paired = [a for a in record.get("attributes") or [] if a in PAIRED_ATTRIBUTES]
            if not ours or paired:
                why = f"it is in a copy pair ({', '.join(paired)})" if paired else \
                    f"its label is {record.get('label')!r} now, not {label_of(step.item)!r}"
                raise ReplicationError(f"{what}: not deleted, {why}; the module deletes only the unpaired S-VOLs it "
                                       "made", ldev=record)
            try:
                yield from step.call(self.client.write, "DELETE", self.client.path("ldevs", ldev_id), None, what)
            except (HttpError, ReplicationError):
                again = yield from step.call(self.client.ldev, ldev_id)
                if ldev_defined(again):
                    raise
                # gone meanwhile: another item of the run (a copy named under two P-VOLs) deleted it first
        self.ldevs[ldev_id] = {"ldevId": ldev_id, "emulationType": "NOT DEFINED"}
        self.made.get(step.key, set()).discard(ldev_id)

    # the pair --------------------------------------------------------------------------------------
    def create(self, step: Step) -> Steps:
        body = step.action.args["body"]
        what = f"creating the Thin Image pair {step.name} (P-VOL {body['pvolLdevId']}"
        what += f", S-VOL {body['svolLdevId']})" if body.get("svolLdevId") is not None else ", no S-VOL)"
        try:
            yield from step.call(self.client.write, "POST", self.client.path("snapshots"), body, what)
        except HttpError as exc:
            dropped = yield from self._drop_made(step, step.action.args.get("made") or [])
            if dropped:
                raise ReplicationError(f"{exc.msg}. The S-VOL this run created for it (LDEV "
                                       f"{', '.join(map(str, dropped))}) was deleted again", **exc.details) from exc
            raise

    def _drop_made(self, step: Step, ldevs: list[int]) -> Steps:
        """Delete the S-VOLs this run made for a pair the array refused (they hold no data); the ones deleted."""
        dropped = []
        for ldev_id in ldevs:
            try:
                yield from self._delete_ldev(step, ldev_id, f"deleting the unused S-VOL LDEV {ldev_id} of {step.name}")
            except ControllerGone:
                raise
            except ReplicationError as exc:
                step.warn(f"the S-VOL LDEV {ldev_id} made for {step.name} could not be deleted again: {exc}")
                continue
            step.record["actions"].append("delete_svol")
            dropped.append(ldev_id)
        return dropped

    def _act(self, step: Step, operation: str) -> Steps:
        args = step.action.args
        path = self.client.path("snapshots", args["snapshot_id"]) + f"/actions/{operation}/invoke"
        yield from step.call(self.client.write, "POST", path, {"parameters": dict(args.get("parameters") or {})},
                             f"{operation} of the Thin Image pair {step.name} ({args['snapshot_id']})")

    def split(self, step: Step) -> Steps:
        yield from self._act(step, "split")

    def resync(self, step: Step) -> Steps:
        yield from self._act(step, "resync")

    def delete(self, step: Step) -> Steps:
        args = step.action.args
        if args.get("group"):
            group = str(step.item["snapshot_group"])
            paths = [(self.client.path("snapshot-groups", group), f"deleting snapshot group {group}")]
        else:
            paths = [(self.client.path("snapshots", sid), f"deleting the Thin Image pair {step.name} ({sid})")
                     for sid in args["snapshot_ids"]]
        for path, what in paths:
            try:
                yield from step.call(self.client.write, "DELETE", path, None, what)
            except HttpError as exc:
                if exc.status != 404:  # not found: gone already, which is what the delete is for
                    raise

    # waits -------------------------------------------------------------------------------------------
    def wait_split(self, step: Step) -> Steps:
        def check(facts: t.Any) -> bool:
            return bool(facts) and facts.get("status") in SPLIT

        yield from step.wait(check, "be split (PSUS)")

    def wait_deleted(self, step: Step) -> Steps:
        yield from step.wait(lambda facts: not facts, "be deleted")


def connect(params: dict[str, t.Any], _items: list[Item]) -> ThinImageDriver:
    return ThinImageDriver.connect(params)
