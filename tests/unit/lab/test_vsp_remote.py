"""The VSP simulator's remote copy (TrueCopy, Universal Replicator, global-active device) over plain HTTPS.

A lab of this module's own (``LAB_TOPOLOGY``): ``vsp-a`` and ``vsp-b`` registered with
each other, path group 0 both ways, journals 0 (and a small journal 1 on ``vsp-a``),
quorum disk 0; ``vsp-c`` exists for a registration. Every test uses LDEVs of its own:
P-VOLs on ``vsp-a`` 256-271 hold ``DATA_BLOCKS`` blocks, ``vsp-b`` 256-271 are empty
S-VOLs of the same size. Digests and host writes go through the lab's control API.
"""

from __future__ import annotations

import time
import typing as t

import pytest
import requests
from storage_replication_lab.client import LabError

from vsp_helpers import Vsp, assert_error

DATA_BLOCKS = 4
SID_A, SID_B, SID_C = "886000410051", "886000410052", "886000410053"
LDEVS = [{"id_base": 256, "count": 16, "size": "8MiB", "pool": 0}]
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "64MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "serial": 410051, "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": [dict(LDEVS[0], data_blocks=DATA_BLOCKS), {"id": 1000, "size": "8MiB", "pool": 0},
                      {"id": 1001, "size": "1MiB", "pool": 0}],
            "settings": {"job_seconds": 0.02},
            "remote": {"storages": ["vsp-b"], "path_groups": [{"remote": "vsp-b", "id": 0}],
                       "journals": [{"id": 0, "ldevs": [1000]}, {"id": 1, "ldevs": [1001], "overflow_watch": 0}],
                       "quorum_disks": [{"id": 0, "remote": "vsp-b"}]},
        },
        "vsp-b": {
            "vendor": "vsp", "serial": 410052, "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": LDEVS + [{"id": 1000, "size": "8MiB", "pool": 0}], "settings": {"job_seconds": 0.02},
            "remote": {"storages": ["vsp-a"], "path_groups": [{"remote": "vsp-a", "id": 0}],
                       "journals": [{"id": 0, "ldevs": [1000]}], "quorum_disks": [{"id": 0, "remote": "vsp-a"}]},
        },
        "vsp-c": {"vendor": "vsp", "serial": 410053, "settings": {"job_seconds": 0.02}},
    },
    "links": [{"between": ["vsp-a", "vsp-b"], "bandwidth": "64MiB", "per_transfer_rate": "32MiB"}],
}
FAST = {"bandwidth": "64MiB", "per_transfer_rate": "32MiB", "cut": False}
PAIRS = "/remote-mirror-copypairs"


class Site(Vsp):
    """The helper client of one array, sending the other array's session as ``Remote-Authorization``."""

    def remote(self, other: Site) -> None:
        self.http.headers["Remote-Authorization"] = other.http.headers["Authorization"]

    def raw(self, method: str, path: str, body: t.Any = None, **headers: t.Any) -> requests.Response:
        """A request with ``headers`` changed (a None value leaves the header out)."""
        return self.http.request(method, self.base + path, json=body, headers=headers, timeout=30)

    def record(self, pair_id: str) -> dict[str, t.Any]:
        reply = self.get(f"{PAIRS}/{pair_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait(self, pair_id: str, pvol: str, svol: str | None = None, timeout: float = 15.0) -> dict[str, t.Any]:
        deadline = time.monotonic() + timeout
        while True:
            rec = self.record(pair_id)
            if rec.get("pvolStatus", pvol) == pvol and rec.get("svolStatus", svol) == (svol or pvol):
                return rec
            assert time.monotonic() < deadline, rec
            time.sleep(0.02)

    def act(self, pair_id: str, op: str, ok: bool = True, **params: t.Any) -> dict[str, t.Any]:
        return self.run("POST", f"{PAIRS}/{pair_id}/actions/{op}/invoke", {"parameters": params}, ok=ok)

    def refused(self, pair_id: str, op: str, **params: t.Any) -> dict[str, t.Any]:
        reply = self.call("POST", f"{PAIRS}/{pair_id}/actions/{op}/invoke", {"parameters": params})
        return assert_error(reply, 412, "KART30090-E")


@pytest.fixture(name="sites")
def sites_fixture(lab: t.Any) -> t.Iterator[tuple[Site, Site]]:
    a, b = Site(lab, "vsp-a"), Site(lab, "vsp-b")
    a.login()
    b.login()
    a.remote(b)
    b.remote(a)
    yield a, b
    lab.link("vsp-a", "vsp-b", **FAST)
    lab.up("vsp-a")
    a.logout()
    b.logout()


def create(a: Site, kind: str, group: str, ldev: int, wait: bool = True, **extra: t.Any) -> tuple[str, str]:
    """Create a ``kind`` pair vsp-a:ldev -> vsp-b:ldev in a new group; its ids from vsp-a and from vsp-b."""
    body = {"copyGroupName": group, "copyPairName": "p1", "replicationType": kind, "remoteStorageDeviceId": SID_B,
            "pvolLdevId": ldev, "svolLdevId": ldev, "isNewGroupCreation": True}
    body.update(extra)
    job = a.run("POST", PAIRS, body)
    from_a = f"{SID_B},{group},{group}P_,{group}S_,p1"
    assert job["affectedResources"] == [f"/ConfigurationManager/v1/objects{PAIRS}/{from_a}"]
    if wait:
        a.wait(from_a, "PAIR")
    return from_a, f"{SID_A},{group},{group}S_,{group}P_,p1"


def same(lab: t.Any, ldev: int) -> bool:
    return bool(lab.digest("vsp-a", str(ldev)) == lab.digest("vsp-b", str(ldev)))


def wait_same(lab: t.Any, ldev: int, timeout: float = 15.0) -> None:
    lab.wait_for(lambda: same(lab, ldev), timeout=timeout)


def journal(site: Site, journal_id: int) -> dict[str, t.Any]:
    return dict(site.get(f"/journals/{journal_id}").json())


# setup objects --------------------------------------------------------------------------------------
def test_remote_storages_paths_journals_and_quorum_disks(sites, lab):
    a, _b = sites
    storages = a.get("/remote-storages").json()["data"]
    assert [(s["storageDeviceId"], s["dkcType"]) for s in storages] == [(SID_A, "Local"), (SID_B, "Remote")]
    assert a.get("/remotestorages").json() == {"data": storages}
    paths = a.get("/remotepath-groups").json()["data"]
    assert paths[0]["remotepathGroupId"] == "410052,M8,0" and paths[0]["cuStatus"] == "NML"
    lab.cut("vsp-a", "vsp-b")
    assert a.get("/remotepath-groups/410052,M8,0").json()["cuStatus"] == "ERR"
    lab.restore("vsp-a", "vsp-b")
    assert (journal(a, 0)["journalStatus"], journal(a, 0)["qCount"]) == ("SMPL", 0)
    quorum = a.get("/quorum-disks/0").json()
    assert (quorum["remoteSerialNumber"], quorum["status"]) == ("410052", "NORMAL")
    c = Site(lab, "vsp-c")
    c.login()
    try:
        body = {"storageDeviceId": SID_C, "restServerIp": "127.0.0.1", "restServerPort": 443}
        assert_error(a.raw("POST", "/remote-storages", body, **{"Remote-Authorization": None}), 400, "KART30004-E")
        assert_error(a.raw("POST", "/remote-storages", body, **{"Remote-Authorization": "Session bogus"}), 401,
                     "KART00002-E")
        reply = a.raw("POST", "/remote-storages", body, **{"Remote-Authorization": c.http.headers["Authorization"],
                                                           "Job-Mode-Wait-Configuration-Change": "NoWait"})
        assert a.wait_job(reply.json()["jobId"])["state"] == "Succeeded"
        assert a.get(f"/remote-storages/{SID_C}").json()["dkcType"] == "Remote"
        assert [s["storageDeviceId"] for s in c.get("/remote-storages").json()["data"]] == [SID_C, SID_A]
    finally:
        c.logout()


# TrueCopy ---------------------------------------------------------------------------------------------
def test_truecopy_lifecycle_split_resync_swap_delete(sites, lab):
    a, b = sites
    from_a, from_b = create(a, "TC", "tc1", 256, fenceLevel="NEVER", pathGroupId=0)
    rec = b.record(from_b)
    assert (rec["pvolStorageDeviceId"], rec["svolStorageDeviceId"], rec["fenceLevel"]) == (SID_A, SID_B, "NEVER")
    assert same(lab, 256) and rec["copyProgressRate"] == 100
    copies = [tr for tr in lab.transfers()["finished"] if tr["kind"] == "tc:copy"]
    assert copies and copies[0]["destination"] == "vsp-b:256" and copies[0]["blocks"] == DATA_BLOCKS
    lab.write("vsp-a", "256", blocks=3, offset=20)
    assert same(lab, 256)  # synchronous: on the S-VOL before the write returned
    entry = b.get("/remote-copypairs", replicationType="TC").json()["data"]
    assert [(e["ldevId"], e["primaryOrSecondary"], e["status"], e["remoteLdevId"]) for e in entry] == \
        [(256, "S-VOL", "PAIR", 256)]
    with pytest.raises(LabError):
        lab.write("vsp-b", "256", blocks=1)  # S-VOL read-only while paired
    a.act(from_a, "split", replicationType="TC", svolAccessMode="rw")
    assert (a.record(from_a)["pvolStatus"], b.record(from_b)["svolStatus"]) == ("PSUS", "SSUS")
    a.act(from_a, "split", replicationType="TC")  # already split: success, nothing applied
    lab.write("vsp-a", "256", blocks=2, offset=40)
    lab.write("vsp-b", "256", blocks=1, offset=60)
    assert not same(lab, 256)
    a.act(from_a, "resync", replicationType="TC")
    a.wait(from_a, "PAIR")
    assert same(lab, 256)
    a.act(from_a, "split", replicationType="TC", svolOperationMode="SSWS")
    b.wait(from_b, "PSUS", "SSWS")
    lab.write("vsp-b", "256", blocks=2, offset=80)  # DR writes on the swapped S-VOL
    a.act(from_a, "resync", replicationType="TC", doSwapSvol=True)
    rec = b.wait(from_b, "PAIR")
    assert (rec["pvolStorageDeviceId"], rec["pvolLdevId"]) == (SID_B, 256)
    assert same(lab, 256)
    lab.write("vsp-b", "256", blocks=1, offset=90)  # the new direction: vsp-b -> vsp-a
    assert same(lab, 256)
    b.run("DELETE", f"{PAIRS}/{from_b}")
    assert_error(a.get(f"{PAIRS}/{from_a}"), 404, "KART30013-E")
    assert a.get("/remote-mirror-copygroups").json() == {"data": []}
    lab.write("vsp-a", "256", blocks=1)  # both volumes are plain volumes again


def test_link_cut_suspends_both_sides_and_fence_level_data_refuses_writes(sites, lab):
    a, b = sites
    never, never_b = create(a, "TC", "tcn", 257)
    data, data_b = create(a, "TC", "tcd", 258, fenceLevel="DATA")
    lab.cut("vsp-a", "vsp-b")
    for pair_a, pair_b in ((never, never_b), (data, data_b)):
        assert (a.record(pair_a)["pvolStatus"], b.record(pair_b)["svolStatus"]) == ("PSUE", "PSUE")
    lab.write("vsp-a", "257", blocks=2, offset=30)  # fence NEVER: the P-VOL goes on
    with pytest.raises(LabError, match="not writable"):
        lab.write("vsp-a", "258", blocks=1)  # fence DATA: refused
    assert not same(lab, 257)
    job = a.act(never, "resync", ok=False, replicationType="TC")
    assert job["state"] == "Failed" and job["error"]["errorCode"] == {"SSB1": "2E10", "SSB2": "9B05"}
    lab.restore("vsp-a", "vsp-b")
    for pair in (never, data):
        a.act(pair, "resync", replicationType="TC")
        a.wait(pair, "PAIR")
    assert same(lab, 257) and same(lab, 258)


# Universal Replicator ---------------------------------------------------------------------------------
def test_universal_replicator_journal_lag_grows_on_a_slow_link_and_drains(sites, lab):
    a, b = sites
    body = {"copyGroupName": "ur1", "copyPairName": "p1", "replicationType": "UR", "remoteStorageDeviceId": SID_B,
            "pvolLdevId": 259, "svolLdevId": 259, "isNewGroupCreation": True, "pvolJournalId": 0,
            "svolJournalId": 0, "muNumber": 1}
    job = a.run("POST", PAIRS, body, nowait=False)  # without NoWait the job ends when the pair is PAIR
    from_a, from_b = f"{SID_B},ur1,ur1P_,ur1S_,p1", f"{SID_A},ur1,ur1S_,ur1P_,p1"
    assert job["state"] == "Succeeded" and a.record(from_a)["pvolStatus"] == "PAIR"
    rec = b.record(from_b)
    assert (rec["pvolJournalId"], rec["svolJournalId"], rec["fenceLevel"]) == (0, 0, "ASYNC")
    assert same(lab, 259) and journal(a, 0)["journalStatus"] == "PJNN"
    lab.link("vsp-a", "vsp-b", bandwidth="128KiB", per_transfer_rate="128KiB")  # 2 blocks a second
    lab.write("vsp-a", "259", blocks=6, offset=10)
    first = journal(a, 0)
    assert first["qCount"] == 6 and first["usageRate"] > 0 and not same(lab, 259)
    lab.write("vsp-a", "259", blocks=4, offset=30)
    state = lab.status("vsp-a")["remote_pairs"][from_a]
    assert state["journal_blocks"] == 10 and state["lag_seconds"] > 0
    assert journal(a, 0)["qCount"] == 10
    lab.link("vsp-a", "vsp-b", **FAST)
    lab.wait_for(lambda: journal(a, 0)["qCount"] == 0, timeout=15)
    wait_same(lab, 259)
    assert lab.status("vsp-a")["remote_pairs"][from_a]["lag_seconds"] == 0
    assert journal(a, 0)["qMarker"] == journal(b, 0)["qMarker"]
    lab.link("vsp-a", "vsp-b", bandwidth="64KiB", per_transfer_rate="64KiB")
    lab.write("vsp-a", "259", blocks=2, offset=50)
    reply = a.call("POST", f"{PAIRS}/{from_a}/actions/split/invoke", {"parameters": {"replicationType": "UR"}})
    assert reply.status_code == 202  # a split copies the journal first: PAIR meanwhile
    assert a.record(from_a)["pvolStatus"] == "PAIR"
    lab.link("vsp-a", "vsp-b", **FAST)
    a.wait(from_a, "PSUS", "SSUS")
    assert same(lab, 259)
    a.act(from_a, "resync", replicationType="UR")
    a.wait(from_a, "PAIR")
    a.run("DELETE", f"{PAIRS}/{from_a}")


def test_universal_replicator_journal_threshold_pful_then_pfus(sites, lab):
    a, _b = sites
    from_a, _from_b = create(a, "UR", "ur2", 260, pvolJournalId=1, svolJournalId=0)
    lab.link("vsp-a", "vsp-b", bandwidth="16KiB", per_transfer_rate="16KiB")
    lab.write("vsp-a", "260", blocks=13, offset=0)  # 13 of 16 journal blocks: over 80 %
    assert (a.record(from_a)["pvolStatus"], journal(a, 1)["journalStatus"]) == ("PFUL", "PJNF")
    lab.write("vsp-a", "260", blocks=4, offset=20)  # full; dataOverflowWatchInSeconds 0
    rec = a.record(from_a)
    assert (rec["pvolStatus"], rec["svolStatus"]) == ("PFUS", "SSUS")
    lab.link("vsp-a", "vsp-b", **FAST)
    a.act(from_a, "resync", replicationType="UR")
    a.wait(from_a, "PAIR")
    assert same(lab, 260)


# global-active device ---------------------------------------------------------------------------------
def test_gad_both_sides_writable_split_swap_and_refusals(sites, lab):
    a, b = sites
    from_a, from_b = create(a, "GAD", "gad1", 261, quorumDiskId=0)
    rec = a.record(from_a)
    assert (rec["pvolIOMode"], rec["svolIOMode"], rec["quorumDiskId"]) == ("Mirror", "Mirror", 0)
    lab.write("vsp-b", "261", blocks=2, offset=5)  # the S-VOL takes writes too, mirrored to the P-VOL
    lab.write("vsp-a", "261", blocks=2, offset=9)
    assert same(lab, 261)
    a.refused(from_a, "resync", replicationType="GAD", doSwapSvol=True)  # PAIR: not P PSUS / S SSWS
    a.act(from_a, "split", replicationType="GAD")
    rec = b.record(from_b)
    assert (rec["pvolStatus"], rec["svolStatus"], rec["svolIOMode"]) == ("PSUS", "SSUS", "Block")
    with pytest.raises(LabError):
        lab.write("vsp-b", "261", blocks=1)  # Block
    a.refused(from_a, "resync", replicationType="GAD", doSwapSvol=True)  # S-VOL not SSWS
    a.act(from_a, "resync", replicationType="GAD")
    a.wait(from_a, "PAIR")
    a.act(from_a, "split", replicationType="GAD", svolOperationMode="SSWS")
    rec = a.wait(from_a, "PSUS", "SSWS")
    assert (rec["pvolIOMode"], rec["svolIOMode"]) == ("Block", "Local")
    a.refused(from_a, "resync", replicationType="GAD")  # P-VOL Block: a plain resync is refused
    lab.write("vsp-b", "261", blocks=3, offset=40)
    a.act(from_a, "resync", replicationType="GAD", doSwapSvol=True)
    rec = b.wait(from_b, "PAIR")
    assert (rec["pvolStorageDeviceId"], rec["pvolIOMode"]) == (SID_B, "Mirror")
    assert same(lab, 261)
    entry = a.get("/remote-copypairs", replicationType="GAD").json()["data"]
    assert [(e["ldevId"], e["primaryOrSecondary"], e["isSSWS"]) for e in entry] == [(261, "S-VOL", False)]
    b.run("DELETE", f"{PAIRS}/{from_b}")


# takeover, NotSpecified ----------------------------------------------------------------------------------
def test_takeover_on_the_secondary_with_the_primary_down(sites, lab):
    a, b = sites
    from_a, from_b = create(a, "TC", "tko", 262)
    lab.write("vsp-a", "262", blocks=2, offset=3)
    a.refused(from_a, "takeover", mode="auto")  # takeover runs on the array of the S-VOL
    lab.down("vsp-a")
    assert_error(b.get(f"{PAIRS}/{from_b}"), 502, "KART30095-E")
    local = "NotSpecified,tko,tkoS_,NotSpecified,p1"
    rec = b.raw("GET", f"{PAIRS}/{local}", **{"Remote-Authorization": None}).json()
    assert rec["svolStatus"] == "PSUE" and "pvolStatus" not in rec and "pvolLdevId" not in rec
    assert rec["remoteMirrorCopyPairId"] == local
    group = b.raw("GET", "/remote-mirror-copygroups/NotSpecified,tko,tkoS_,NotSpecified").json()
    assert group["remoteStorageDeviceId"] == "NotSpecified" and len(group["copyPairs"]) == 1
    assert_error(b.raw("POST", f"{PAIRS}/{local}/actions/split/invoke",
                       {"parameters": {"replicationType": "TC"}}), 400, "KART30004-E")
    reply = b.raw("POST", f"{PAIRS}/{local}/actions/takeover/invoke", {"parameters": {"mode": "forceSplit"}},
                  **{"Remote-Authorization": None, "Job-Mode-Wait-Configuration-Change": "NoWait"})
    assert reply.status_code == 202, reply.text
    assert b.wait_job(reply.json()["jobId"])["state"] == "Succeeded"
    assert b.raw("GET", f"{PAIRS}/{local}").json()["svolStatus"] == "SSWS"
    lab.write("vsp-b", "262", blocks=2, offset=50)  # production runs on vsp-b
    lab.up("vsp-a")
    rec = b.record(from_b)
    assert (rec["pvolStatus"], rec["svolStatus"]) == ("PSUE", "SSWS")
    b.act(from_b, "resync", replicationType="TC", doSwapSvol=True)
    rec = b.wait(from_b, "PAIR")
    assert rec["pvolStorageDeviceId"] == SID_B
    assert same(lab, 262)
    b.run("DELETE", f"{PAIRS}/{from_b}")


def test_copy_group_of_two_pairs_split_and_resync_as_a_whole(sites, lab):
    a, b = sites
    first = create(a, "TC", "grp", 264)[0]
    body = {"copyGroupName": "grp", "copyPairName": "p2", "replicationType": "TC", "remoteStorageDeviceId": SID_B,
            "pvolLdevId": 265, "svolLdevId": 265, "isNewGroupCreation": False, "localDeviceGroupName": "grpP_",
            "remoteDeviceGroupName": "grpS_"}
    a.run("POST", PAIRS, body)
    group_a, group_b = f"{SID_B},grp,grpP_,grpS_", f"{SID_A},grp,grpS_,grpP_"
    listed = a.get("/remote-mirror-copygroups", remoteStorageDeviceId=SID_B).json()["data"]
    assert group_a in [g["remoteMirrorCopyGroupId"] for g in listed]
    a.wait(f"{group_a},p2", "PAIR")
    b.run("POST", f"/remote-mirror-copygroups/{group_b}/actions/split/invoke",
          {"parameters": {"replicationType": "TC"}})
    pairs = a.get(f"/remote-mirror-copygroups/{group_a}").json()["copyPairs"]
    assert [(p["copyPairName"], p["pvolStatus"], p["svolStatus"]) for p in pairs] == \
        [("p1", "PSUS", "SSUS"), ("p2", "PSUS", "SSUS")]
    lab.write("vsp-a", "265", blocks=2)
    a.run("PUT", f"/remote-mirror-copygroups/{group_a}/actions/resync/invoke",
          {"parameters": {"replicationType": "TC", "copyPace": 15}})
    a.wait(first, "PAIR")
    a.wait(f"{group_a},p2", "PAIR")
    assert same(lab, 264) and same(lab, 265)
    a.run("DELETE", f"/remote-mirror-copygroups/{group_a}")
    assert_error(b.get(f"/remote-mirror-copygroups/{group_b}"), 404, "KART30013-E")


# refusals ---------------------------------------------------------------------------------------------
def test_refusals_the_docs_name(sites, lab):
    a, _b = sites
    body = {"copyGroupName": "ref", "copyPairName": "p1", "replicationType": "TC", "remoteStorageDeviceId": SID_B,
            "pvolLdevId": 263, "svolLdevId": 263, "isNewGroupCreation": True}
    assert_error(a.raw("POST", PAIRS, body, **{"Remote-Authorization": None}), 400, "KART30004-E")
    assert_error(a.raw("POST", PAIRS, body, **{"Remote-Authorization": "Session nope"}), 401, "KART00002-E")
    assert_error(a.call("POST", PAIRS, dict(body, replicationType="UR")), 400, "KART30004-E")  # no journals
    assert_error(a.call("POST", PAIRS, dict(body, replicationType="GAD")), 400, "KART30004-E")  # no quorum disk
    assert_error(a.call("POST", PAIRS, dict(body, fenceLevel="ASYNC")), 400, "KART30004-E")
    job = a.run("POST", PAIRS, dict(body, pathGroupId=7), ok=False)
    assert job["error"]["messageId"] == "KART30000-E" and job["error"]["errorCode"]["SSB2"] == "9B02"
    job = a.run("POST", PAIRS, dict(body, svolLdevId=1000), ok=False)  # a journal volume
    assert job["error"]["errorCode"] == {"SSB1": "2E10", "SSB2": "9A23"}
    lab.link("vsp-a", "vsp-b", bandwidth="64KiB", per_transfer_rate="64KiB")
    from_a, _from_b = create(a, "TC", "ref", 263, wait=False)
    assert a.record(from_a)["pvolStatus"] == "COPY"
    a.refused(from_a, "split", replicationType="TC")  # split during the initial copy
    assert_error(a.call("POST", f"{PAIRS}/{from_a}/actions/split/invoke",
                        {"parameters": {"replicationType": "UR"}}), 400, "KART30004-E")
    assert_error(a.call("POST", f"{PAIRS}/{from_a}/actions/split/invoke",
                        {"parameters": {"replicationType": "TC", "doDataSuspend": True}}), 400, "KART30004-E")
    assert_error(a.get("/remote-copypairs"), 400, "KART30004-E")
    lab.settings("vsp-a", invalid_state_reply="job")
    try:
        job = a.act(from_a, "split", ok=False, replicationType="TC")
        assert job["state"] == "Failed" and job["error"]["messageId"] == "KART30090-E"
    finally:
        lab.settings("vsp-a", invalid_state_reply="412")
    lab.link("vsp-a", "vsp-b", **FAST)
    a.wait(from_a, "PAIR")
    a.run("DELETE", f"{PAIRS}/{from_a}")


def test_no_request_of_this_module_hit_a_simulator_bug(lab):
    """Runs last: no answer of the module's requests was a 500 (a simulator exception)."""
    assert [e for e in lab.log() if e.get("status") == 500] == []
    jobs = [j for site in ("vsp-a", "vsp-b") for j in lab.status(site).get("remote_pairs", {}).values()]
    assert all(not j["last_error"].startswith("The lab") for j in jobs)
