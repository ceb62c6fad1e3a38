"""The cells of the issue-13 conformance matrix, and what it takes to put one item in each start state.

Used by test_conformance.py. A cell is (vendor, run shape, start state, primary writes before failover,
DR writes before failback); each cell is one item (one volume and its DR copy) of a lab of the test's own.
The vendor drivers below build their lab topology and replication sets and bring items to a start state
through the arrays' own protocols (ONTAP REST, Configuration Manager REST, CIM-XML) and the lab's control
API, never through the collection's modules, so the state an operator left is set up independently of
the code under test.

A driver (``Ontap``, ``Vsp``, ``Smis``) has: ``source_array``/``dr_array``; ``topology(count)`` (a lab with
``count`` items); ``source_key``/``dr_key``/``token`` (an item's lab volumes and its name in report rows);
``replication_set(name, cells)`` and ``unplanned_group(cell)``; ``not_set_up`` (states made by hand, not by
setup), ``merged_setup``/``merged_failback`` (see test_conformance); ``prepare`` (every start state but
``running``), ``start_running`` (right before the failover), ``after_failover`` (undo the slow copy rate) and
``is_cutover(log_entry)`` (the first request of a cutover, where the killed shape kills the failover).
"""

from __future__ import annotations

import dataclasses
import re
import time
import typing as t

import pywbem
import requests
from storage_replication_lab.client import CLAIMS

STATES = ("in_sync", "paused", "split", "broken", "uninit", "running")
SHAPES = ("straight", "killed", "unplanned")
VENDORS = ("ontap", "vsp", "smis")
DATA_BLOCKS = 4          # blocks each source holds at the start (64 KiB each)
WRITE_BLOCKS = 2         # blocks of a primary write before failover, and of a DR write before failback
RUNNING_BLOCKS = 32      # blocks a "transfer running" item has still to copy when the failover starts
SLOW_KIB = 128           # KiB/s of that copy: 32 blocks take ~16 s, long enough to be seen running

# vendor -> start state -> how the lab reaches it (None: the vendor has no such state; see SKIPS)
MAPPING: dict[str, dict[str, str | None]] = {
    "ontap": {"in_sync": "snapmirrored, idle",
              "paused": "paused (PATCH state=paused: quiesced by hand)",
              "split": None,
              "broken": "broken_off (quiesce, break; the DR volume is writable and not written)",
              "uninit": "uninitialized (POST relationship without state, destination created)",
              "running": f"snapmirrored, update transfer running ({RUNNING_BLOCKS} blocks, throttle {SLOW_KIB} KB/s)"},
    "vsp": {"in_sync": "PAIR",
            "paused": "PSUE (copy-group split with forceSuspend)",
            "split": "PSUS/SSUS (pair split)",
            "broken": "PSUE (a resync whose copy fails part-way: fail_copies=1)",
            "uninit": "PSUS after the initial copy was cancelled by a split (COPY -> PSUS, next resync full)",
            "running": f"COPY (resync at copyPace 1, pace_rate {SLOW_KIB}KiB, {RUNNING_BLOCKS} blocks to copy)"},
    "smis": {"in_sync": "Synchronized (CopyState 4), async mirror",
             "paused": "Suspended (CopyState 9, Suspend)",
             "split": "Fractured (CopyState 6, Fracture)",
             "broken": "Broken (CopyState 5: a Resync whose job fails half way, fail_jobs)",
             "uninit": "Aborted (CopyState 12: the initial copy of CreateElementReplica aborted)",
             "running": f"Synchronizing (CopyState 3: Resync, copy_rate {SLOW_KIB}KiB, {RUNNING_BLOCKS} blocks)"},
}
SKIPS = {("ontap", "split"): "SnapMirror has no fracture or split apart from the break: the 'broken' cells "
                             "(broken_off, DR not written) are ONTAP's split"}
SHAPE_NOTES = {
    "straight": "planned failover, then failback",
    "killed": "planned failover killed (SIGKILL to its process group) at its first cutover request, rerun",
    "unplanned": "failover_mode unplanned; ONTAP: ontap-a (the source array) down during the failover. "
                 "VSP and SMI-S copies are local (source array = DR array): the array stays up, since taking "
                 "it down takes the DR copy with it",
}


@dataclasses.dataclass
class Cell:
    """One cell: ``index`` numbers its volumes within the test's lab."""

    vendor: str
    shape: str
    state: str
    pw: int
    dw: int
    index: int

    @property
    def id(self) -> str:
        return f"{self.vendor}/{self.shape}/{self.state}/pw{self.pw}/dw{self.dw}"

    @property
    def skip(self) -> str | None:
        return SKIPS.get((self.vendor, self.state))


def make_cells(vendor: str, shape: str) -> list[Cell]:
    """Every cell of a vendor and run shape, skipped ones included (they get no volume)."""
    cells, index = [], 0
    for state in STATES:
        for pw in (0, 1):
            for dw in (0, 1):
                cell = Cell(vendor, shape, state, pw, dw, -1)
                if not cell.skip:
                    cell.index, index = index, index + 1
                cells.append(cell)
    return cells


def group_sets(driver: t.Any, cells: list[Cell]) -> dict[str, list[Cell]]:
    """Set name -> its cells. Planned: one set per (start state, primary writes), its two items differing only
    in the DR writes that follow the failover, so a set refused as a whole refuses two identical items.
    Unplanned has no set-wide step (no catch-up): the vendor's fewest sets (``unplanned_group``)."""
    out: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.skip:
            continue
        name = driver.unplanned_group(cell) if cell.shape == "unplanned" else f"cf-{cell.state}-pw{cell.pw}"
        out.setdefault(name, []).append(cell)
    return out


def wait(predicate: t.Callable[[], t.Any], what: str, timeout: float = 60.0) -> t.Any:
    """Poll until ``predicate`` returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Ontap:
    """ONTAP SnapMirror: ontap-a (svm_a, volumes c00..) -> ontap-b (svm_b, <volume>_dr)."""

    name = "ontap"
    source_array = "ontap-a"
    dr_array = "ontap-b"
    not_set_up = ("uninit",)
    merged_setup = True  # a relationship does not remember the set that made it
    merged_failback = True  # per set, the failback reads both SVMs whole four times: one set reads them once

    def topology(self, count: int) -> dict[str, t.Any]:
        return {"lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "256MiB"},
                "arrays": {
                    "ontap-a": {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
                                "svms": [{"name": "svm_a", "volumes": [
                                    {"name": "c{n:02d}", "count": count, "size": "4MiB", "data_blocks": DATA_BLOCKS,
                                     "nas_path": "/c{n:02d}"}]}],
                                "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]},
                    "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
                                "svms": [{"name": "svm_b"}]}}}

    @staticmethod
    def volume(cell: Cell) -> str:
        return f"c{cell.index + 1:02d}"

    def source_key(self, cell: Cell) -> str:
        return f"svm_a:{self.volume(cell)}"

    def dr_key(self, cell: Cell) -> str:
        return f"svm_b:{self.volume(cell)}_dr"

    def token(self, cell: Cell) -> str:
        return self.volume(cell)

    def replication_set(self, name: str, cells: list[Cell]) -> dict[str, t.Any]:
        return {"name": name, "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
                "source_container": "svm_a", "target_container": "svm_b",
                "volumes": [self.volume(c) for c in cells], "target_name_suffix": "_dr"}

    def unplanned_group(self, cell: Cell) -> str:
        return "cf-unplanned"

    # start states ----------------------------------------------------------------------------------
    def _relationship(self, lab: t.Any, cell: Cell) -> dict[str, t.Any]:
        reply = lab.session("ontap-b").get(lab.url("ontap-b", "/api/snapmirror/relationships"), params={
            "fields": "state,uuid,transfer", "destination.path": self.dr_key(cell)})
        records = reply.json()["records"]
        return records[0] if records else {}

    def _to_state(self, lab: t.Any, cell: Cell, state: str) -> None:
        uuid = self._relationship(lab, cell)["uuid"]
        reply = lab.session("ontap-b").patch(lab.url("ontap-b", f"/api/snapmirror/relationships/{uuid}"),
                                             json={"state": state})
        assert reply.status_code in (200, 202), reply.text
        wait(lambda: self._relationship(lab, cell).get("state") == state, f"{cell.id} {state}")

    def prepare(self, lab: t.Any, cells: list[Cell], *_unused: t.Any) -> None:
        """Every state but ``running`` (``start_running``), which has to be fresh when the failover starts."""
        for cell in cells:
            if cell.state in ("paused", "broken"):
                self._to_state(lab, cell, "paused")
            if cell.state == "broken":
                self._to_state(lab, cell, "broken_off")
            if cell.state == "uninit":
                reply = lab.session("ontap-b").post(lab.url("ontap-b", "/api/snapmirror/relationships"), json={
                    "source": {"path": self.source_key(cell)}, "destination": {"path": self.dr_key(cell)},
                    "create_destination": {"enabled": True}})
                assert reply.status_code in (201, 202), reply.text
                wait(lambda c=cell: self._relationship(lab, c).get("state") == "uninitialized", f"{cell.id}")

    def start_running(self, lab: t.Any, cells: list[Cell], *_unused: t.Any) -> None:
        """Write RUNNING_BLOCKS to each source and start an update transfer throttled to SLOW_KIB KB/s."""
        for cell in cells:
            lab.write("ontap-a", self.source_key(cell), RUNNING_BLOCKS)
            uuid = self._relationship(lab, cell)["uuid"]
            reply = lab.session("ontap-b").post(
                lab.url("ontap-b", f"/api/snapmirror/relationships/{uuid}/transfers"), json={"throttle": SLOW_KIB})
            assert reply.status_code in (201, 202), reply.text
            wait(lambda c=cell: (self._relationship(lab, c).get("transfer") or {}).get("state") == "transferring",
                 f"{cell.id} transferring")

    def after_failover(self, lab: t.Any) -> None:
        """Nothing to undo: the throttle was the running transfer's own."""

    @staticmethod
    def is_cutover(entry: dict[str, t.Any]) -> bool:
        """A quiesce or break of the fence step (the catch-up only resumes, resyncs and transfers)."""
        return (entry.get("array") == "ontap-b" and entry.get("method") == "PATCH"
                and "/snapmirror/relationships/" in entry.get("path", "")
                and (entry.get("body") or {}).get("state") in ("paused", "broken_off"))


class VspRest:
    """Just enough of Configuration Manager REST: a session, NoWait jobs, pair reads."""

    def __init__(self, lab: t.Any, array: str = "vsp-a") -> None:
        info = lab.array(array)
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = info["ca_file"]
        self.base = info["url"] + "/ConfigurationManager/v1/objects"
        reply = self.http.post(self.base + "/sessions", json={}, auth=(info["username"], info["password"]),
                               timeout=30)
        assert reply.status_code == 200, reply.text
        self.session_id = reply.json()["sessionId"]
        self.http.headers["Authorization"] = f"Session {reply.json()['token']}"

    def close(self) -> None:
        self.http.delete(f"{self.base}/sessions/{self.session_id}", timeout=30)
        self.http.close()

    def run(self, method: str, path: str, body: t.Any = None) -> dict[str, t.Any]:
        """Send a change and wait for its job, which must succeed."""
        reply = self.http.request(method, self.base + path, json=body, timeout=30,
                                  headers={"Job-Mode-Wait-Configuration-Change": "NoWait"})
        assert reply.status_code == 202, reply.text
        job_id = reply.json()["jobId"]

        def completed() -> dict[str, t.Any] | None:
            job = self.http.get(f"{self.base}/jobs/{job_id}", timeout=30).json()
            return job if job["status"] == "Completed" else None

        job = wait(completed, f"VSP job {job_id}")
        assert job["state"] == "Succeeded", job
        return job

    @staticmethod
    def pair_id(group: str, pvol: int) -> str:
        return f"{group},{group}P_,{group}S_,p{pvol}"

    def status(self, group: str, pvol: int) -> str:
        reply = self.http.get(f"{self.base}/local-clone-copypairs/{self.pair_id(group, pvol)}", timeout=30)
        return str(reply.json().get("pvolStatus")) if reply.status_code == 200 else "none"

    def action(self, group: str, pvol: int, name: str, reach: str, **params: t.Any) -> None:
        self.run("POST", f"/local-clone-copypairs/{self.pair_id(group, pvol)}/actions/{name}/invoke",
                 {"parameters": params})
        wait(lambda: self.status(group, pvol) == reach, f"p{pvol} {reach}")


class Vsp:
    """ShadowImage on vsp-a: P-VOL LDEV 300+i, S-VOL 600+i, one copy group per set (the set's name)."""

    name = "vsp"
    source_array = dr_array = "vsp-a"
    not_set_up = ("uninit",)
    merged_setup = False  # a VSP set is a copy group: set_up makes each set's group through REST
    merged_failback = False  # the failback reads the copy group of the set's first item: one set per group

    def topology(self, count: int) -> dict[str, t.Any]:
        return {"lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
                "arrays": {"vsp-a": {
                    "vendor": "vsp", "model": "VSP G900", "serial": 410001, "settings": {"job_seconds": 0.02},
                    "pools": [{"id": 0, "name": "dp_pool0", "size": "1TiB"}],
                    "ldevs": [{"id_base": 300, "count": count, "size": "4MiB", "pool": 0, "data_blocks": DATA_BLOCKS},
                              {"id_base": 600, "count": count, "size": "4MiB", "pool": 0}]}}}

    def source_key(self, cell: Cell) -> str:
        return str(300 + cell.index)

    def dr_key(self, cell: Cell) -> str:
        return str(600 + cell.index)

    def token(self, cell: Cell) -> str:
        return f"p{300 + cell.index}"

    def replication_set(self, name: str, cells: list[Cell]) -> dict[str, t.Any]:
        return {"name": name, "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
                "volumes": [{"name": self.source_key(c), "target_name": int(self.dr_key(c))} for c in cells]}

    def unplanned_group(self, cell: Cell) -> str:
        """The forceSuspend split acts on a whole copy group: the paused pairs get one of their own."""
        return "cf-unplanned-paused" if cell.state == "paused" else "cf-unplanned"

    def set_up(self, lab: t.Any, groups: dict[str, list[Cell]]) -> None:
        """What setup.yml makes (pair p<P-VOL> in copy group <set name>, PAIR), through REST: quicker."""
        rest = VspRest(lab)
        try:
            for group, members in groups.items():
                members = [c for c in members if c.state not in self.not_set_up]
                for n, cell in enumerate(members):
                    rest.run("POST", "/local-clone-copypairs", {
                        "copyGroupName": group, "copyPairName": f"p{300 + cell.index}", "replicationType": "SI",
                        "pvolLdevId": 300 + cell.index, "svolLdevId": 600 + cell.index, "isNewGroupCreation": n == 0})
                for cell in members:
                    wait(lambda g=group, c=cell: rest.status(g, 300 + c.index) == "PAIR", f"{cell.id} PAIR")
        finally:
            rest.close()

    def prepare(self, lab: t.Any, cells: list[Cell], groups: dict[str, list[Cell]], set_up: set[str]) -> None:
        """PSUE (forceSuspend of each paused set's group), PSUS, PSUE by a failed copy (one pair at a time, so
        the injected failure hits that pair), then the uninit pairs: created slowly and split while COPY."""
        rest = VspRest(lab)
        try:
            group_of = {id(c): g for g, members in groups.items() for c in members}
            for group, members in groups.items():
                if any(c.state == "paused" for c in members):
                    rest.run("POST", f"/local-clone-copygroups/{group},{group}P_,{group}S_/actions/split/invoke",
                             {"parameters": {"forceSuspend": True}})
                    for cell in members:
                        wait(lambda c=cell: rest.status(group, 300 + c.index) == "PSUE", f"{cell.id} PSUE")
            for cell in cells:
                group, pvol = group_of[id(cell)], 300 + cell.index
                if cell.state in ("split", "broken"):
                    rest.action(group, pvol, "split", "PSUS")
                if cell.state == "broken":
                    lab.write("vsp-a", self.source_key(cell), DATA_BLOCKS)
                    lab.settings("vsp-a", fail_copies=1)
                    rest.run("POST", f"/local-clone-copypairs/{rest.pair_id(group, pvol)}/actions/resync/invoke",
                             {"parameters": {}})
                    wait(lambda g=group, p=pvol: rest.status(g, p) == "PSUE", f"{cell.id} PSUE")
            lab.settings("vsp-a", fail_copies=0, pace_rate="16KiB")
            for cell in cells:
                if cell.state == "uninit":
                    group, pvol = group_of[id(cell)], 300 + cell.index
                    rest.run("POST", "/local-clone-copypairs", {
                        "copyGroupName": group, "copyPairName": f"p{pvol}", "replicationType": "SI",
                        "pvolLdevId": pvol, "svolLdevId": 600 + cell.index, "copyPace": 1,
                        "isNewGroupCreation": group not in set_up})
                    set_up.add(group)
                    assert rest.status(group, pvol) == "COPY"
                    rest.action(group, pvol, "split", "PSUS")
            lab.settings("vsp-a", pace_rate=None)
        finally:
            rest.close()

    def start_running(self, lab: t.Any, cells: list[Cell], groups: dict[str, list[Cell]]) -> None:
        """Split each pair, write RUNNING_BLOCKS to its P-VOL, and resync it at copyPace 1 under a slow pace."""
        group_of = {id(c): g for g, members in groups.items() for c in members}
        rest = VspRest(lab)
        try:
            for cell in cells:
                rest.action(group_of[id(cell)], 300 + cell.index, "split", "PSUS")
                lab.write("vsp-a", self.source_key(cell), RUNNING_BLOCKS)
            lab.settings("vsp-a", pace_rate=f"{SLOW_KIB}KiB")
            for cell in cells:
                rest.action(group_of[id(cell)], 300 + cell.index, "resync", "COPY", copyPace=1)
        finally:
            rest.close()

    def after_failover(self, lab: t.Any) -> None:
        """Copies at full speed again for the failback."""
        lab.settings("vsp-a", pace_rate=None)

    @staticmethod
    def is_cutover(entry: dict[str, t.Any]) -> bool:
        """A pair or copy-group split (the catch-up only resyncs)."""
        return entry.get("method") in ("POST", "PUT") and entry.get("path", "").endswith("/actions/split/invoke")


U16 = pywbem.Uint16
FRACTURE, RESYNC, SUSPEND, ABORT, FAILOVER = 12, 14, 22, 2, 10


class Cim:
    """Just enough CIM-XML for the generic provider: find a synchronization, modify it, create one."""

    def __init__(self, lab: t.Any, array: str = "smis-b") -> None:
        info = lab.array(array)
        self.conn = pywbem.WBEMConnection(info["url"], (info["username"], info["password"]),
                                          default_namespace=info["namespace"], ca_certs=info["ca_file"], timeout=30)
        self.conn.session.trust_env = False
        system = self.conn.EnumerateInstanceNames("CIM_ComputerSystem")[0]
        self.service = self.conn.AssociatorNames(system, AssocClass="CIM_HostedService",
                                                 ResultClass="CIM_ReplicationService")[0]

    def volume(self, device: str) -> pywbem.CIMInstanceName:
        return next(p for p in self.conn.EnumerateInstanceNames("CIM_StorageVolume")
                    if str(p.keybindings["DeviceID"]) == device)

    def sync(self, source: str) -> pywbem.CIMInstance | None:
        for inst in self.conn.EnumerateInstances("CIM_StorageSynchronized"):
            if str(inst.path.keybindings["SystemElement"].keybindings["DeviceID"]) == source:
                return inst
        return None

    def copy_state(self, source: str) -> int:
        inst = self.sync(source)
        return int(inst["CopyState"]) if inst is not None else 0

    def modify(self, operation: int, source: str) -> None:
        inst = self.sync(source)
        assert inst is not None, f"no synchronization of {source}"
        rc, _out = self.conn.InvokeMethod("ModifyReplicaSynchronization", self.service, Operation=U16(operation),
                                          Synchronization=inst.path)
        assert rc in (0, 4096), f"operation {operation} on {source}: rc {rc}"

    def create(self, source: str, target: str) -> None:
        rc, _out = self.conn.InvokeMethod("CreateElementReplica", self.service, SyncType=U16(6), Mode=U16(3),
                                          SourceElement=self.volume(source), TargetElement=self.volume(target))
        assert rc == 4096, f"CreateElementReplica {source} -> {target}: rc {rc}"


class Smis:
    """The generic SMI-S provider on smis-b: local async mirrors, source DeviceID 300+i, target 600+i."""

    name = "smis"
    source_array = dr_array = "smis-b"
    not_set_up = ("uninit",)
    merged_setup = True  # a synchronization does not remember the set that made it
    merged_failback = True  # per set, the failback reads the whole namespace: one set reads it once

    def topology(self, count: int) -> dict[str, t.Any]:
        return {"lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
                "arrays": {"smis-b": {"vendor": "smis", "profile": "generic", "volumes": [
                    {"name": "src{n}", "count": count, "id_base": 300, "size": "4MiB", "data_blocks": DATA_BLOCKS},
                    {"name": "tgt{n}", "count": count, "id_base": 600, "size": "4MiB"}]}}}

    def source_key(self, cell: Cell) -> str:
        return str(300 + cell.index)

    def dr_key(self, cell: Cell) -> str:
        return str(600 + cell.index)

    def token(self, cell: Cell) -> str:
        return self.source_key(cell)

    def replication_set(self, name: str, cells: list[Cell]) -> dict[str, t.Any]:
        return {"name": name, "vendor": "smis", "source": "smis-b", "target": "smis-b",
                "volumes": [{"name": self.source_key(c), "target_name": self.dr_key(c)} for c in cells],
                "options": {"sync_type": "mirror", "mode": "async"}}

    def unplanned_group(self, cell: Cell) -> str:
        return "cf-unplanned"

    def _reach(self, cim: Cim, cell: Cell, copy_state: int) -> None:
        wait(lambda: cim.copy_state(self.source_key(cell)) == copy_state, f"{cell.id} CopyState {copy_state}")

    def prepare(self, lab: t.Any, cells: list[Cell], *_unused: t.Any) -> None:
        """Suspend, Fracture, Broken (a Resync failed by an injected job fault, one at a time), then the
        uninit synchronizations: created under a slow copy rate and aborted while copying."""
        cim = Cim(lab)
        for cell in cells:
            source = self.source_key(cell)
            if cell.state == "paused":
                cim.modify(SUSPEND, source)
                self._reach(cim, cell, 9)
            if cell.state in ("split", "broken"):
                cim.modify(FRACTURE, source)
                self._reach(cim, cell, 6)
            if cell.state == "broken":
                lab.write("smis-b", source, DATA_BLOCKS)
                lab.faults("smis-b", spare=CLAIMS, fail_jobs=1, fail_job_message="injected: copy failed", fail_job_code="42")
                cim.modify(RESYNC, source)
                self._reach(cim, cell, 5)
                lab.clear_faults("smis-b")
        lab.settings("smis-b", copy_rate="16KiB")
        for cell in cells:
            if cell.state == "uninit":
                cim.create(self.source_key(cell), self.dr_key(cell))
                self._reach(cim, cell, 3)
                cim.modify(ABORT, self.source_key(cell))
                self._reach(cim, cell, 12)
        lab.settings("smis-b", copy_rate=0)

    def start_running(self, lab: t.Any, cells: list[Cell], *_unused: t.Any) -> None:
        """Fracture each mirror, write RUNNING_BLOCKS to its source, and Resync it under a slow copy rate."""
        cim = Cim(lab)
        for cell in cells:
            cim.modify(FRACTURE, self.source_key(cell))
            self._reach(cim, cell, 6)
            lab.write("smis-b", self.source_key(cell), RUNNING_BLOCKS)
        lab.settings("smis-b", copy_rate=f"{SLOW_KIB}KiB")
        for cell in cells:
            cim.modify(RESYNC, self.source_key(cell))
            self._reach(cim, cell, 3)

    def after_failover(self, lab: t.Any) -> None:
        """Copies at full speed again for the failback."""
        lab.settings("smis-b", copy_rate=0)

    @staticmethod
    def is_cutover(entry: dict[str, t.Any]) -> bool:
        """ModifyReplicaSynchronization Failover (10); the catch-up only resumes and resyncs."""
        params = entry.get("cim_params") or {}
        return entry.get("cim_method") == "ModifyReplicaSynchronization" and str(params.get("Operation")) == "10"


DRIVERS: dict[str, t.Any] = {"ontap": Ontap(), "vsp": Vsp(), "smis": Smis()}


def mentions(row: dict[str, t.Any], token: str) -> bool:
    """Whether a report row is about the item whose volume is ``token`` (not a longer name)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(token)}(?![0-9])", str(row.get("item", ""))) is not None


BYTES = re.compile(r"\d+ bytes|unknown", re.IGNORECASE)
