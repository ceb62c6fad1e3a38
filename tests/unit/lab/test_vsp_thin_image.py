"""The VSP simulator's Thin Image pairs over plain HTTPS: ``snapshots``, ``snapshot-groups``, their data and refusals.

A lab of this module's own (``LAB_TOPOLOGY``); each test uses LDEVs of its own: P-VOLs
256-279 hold ``DATA_BLOCKS`` blocks, 512-535 are empty S-VOLs, 600 is of another size
and 700-703 take part in ShadowImage pairs. Digests come from the lab's control API
(``GET /_lab/arrays/vsp-a/volumes/<ldev>``), host writes go through it too.
"""

from __future__ import annotations

import typing as t

import pytest

from storage_replication_lab.vsp import fields
from vsp_helpers import Vsp, assert_error

DATA_BLOCKS = 4
SID = "886000410031"
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "16MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410031,
            "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}, {"id": 5, "name": "hti5", "size": "1TiB"}],
            "ldevs": [
                {"id_base": 256, "count": 24, "size": "8MiB", "pool": 0, "data_blocks": DATA_BLOCKS},
                {"id_base": 512, "count": 24, "size": "8MiB", "pool": 0},
                {"id": 600, "size": "16MiB", "pool": 0},
                {"id_base": 700, "count": 4, "size": "8MiB", "pool": 0, "data_blocks": DATA_BLOCKS},
            ],
            "settings": {"job_seconds": 0.02},
        },
    },
}
DEFAULTS = {"job_seconds": 0.02, "pace_rate": None, "fail_copies": 0, "invalid_state_reply": "412"}
BASE = "/ConfigurationManager/v1/objects"


class Client(Vsp):
    """The helper client plus Thin Image calls."""

    def create(self, group: str, pvol: int, svol: int | None = None, ok: bool = True,
               **extra: t.Any) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {"snapshotGroupName": group, "snapshotPoolId": 0, "pvolLdevId": pvol}
        if svol is not None:
            body["svolLdevId"] = svol
        body.update(extra)
        return self.run("POST", "/snapshots", body, ok=ok)

    def snap(self, snapshot_id: str) -> dict[str, t.Any]:
        reply = self.get(f"/snapshots/{snapshot_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def act(self, path: str, op: str, ok: bool = True, nowait: bool = True, **params: t.Any) -> dict[str, t.Any]:
        return self.run("POST", f"{path}/actions/{op}/invoke", {"parameters": params}, ok=ok, nowait=nowait)

    def refused(self, path: str, op: str, **params: t.Any) -> dict[str, t.Any]:
        reply = self.call("POST", f"{path}/actions/{op}/invoke", {"parameters": params})
        return assert_error(reply, 412, "KART30090-E")

    def attributes(self, ldev: int) -> list[str]:
        return list(self.get(f"/ldevs/{ldev}").json()["attributes"])


@pytest.fixture(name="vsp")
def vsp_fixture(lab: t.Any) -> t.Iterator[Client]:
    client = Client(lab)
    client.login()
    yield client
    client.logout()
    lab.settings("vsp-a", **DEFAULTS)


def failed(job: dict[str, t.Any], ssb: tuple[str, str]) -> str:
    """The storage-side failure of ``job``: KART30000-E with the SSB pair ``ssb``; its message."""
    assert job["state"] == "Failed", job
    error = job["error"]
    assert error["messageId"] == "KART30000-E" and error["errorCode"] == {"SSB1": ssb[0], "SSB2": ssb[1]}, error
    return str(error["message"])


def transfers(lab: t.Any, kind: str, since: int = 0) -> list[dict[str, t.Any]]:
    """The lab's transfers of ``kind`` after transfer id ``since``, oldest first."""
    data = lab.transfers(since_id=since)
    return sorted((tr for tr in data["finished"] + data["active"] if tr["kind"] == kind and tr["id"] > since),
                  key=lambda tr: tr["id"])


def last_transfer(lab: t.Any) -> int:
    data = lab.transfers()
    return max([tr["id"] for tr in data["finished"] + data["active"]] or [0])


def ids(vsp: Client, **query: t.Any) -> list[str]:
    """The ``snapshotId`` of every pair ``GET snapshots`` lists for ``query``."""
    return [r["snapshotId"] for r in vsp.get("/snapshots", **query).json()["data"]]


# create, data ---------------------------------------------------------------------------------
def test_auto_split_takes_the_point_in_time_and_the_volumes_part(vsp, lab):
    job = vsp.create("tiA", 256, 512, autoSplit=True, isDataReductionForceCopy=True, canCascade=True)
    assert job["affectedResources"] == [f"{BASE}/snapshots/256,3"]
    at_split = lab.digest("vsp-a", "256")
    assert lab.digest("vsp-a", "512") == at_split
    snap = vsp.snap("256,3")
    assert (snap["status"], snap["primaryOrSecondary"], snap["snapshotId"]) == ("PSUS", "P-VOL", "256,3")
    assert (snap["pvolLdevId"], snap["muNumber"], snap["svolLdevId"], snap["snapshotPoolId"]) == (256, 3, 512, 0)
    assert snap["snapshotGroupName"] == "tiA" and snap["splitTime"].endswith("Z") and snap["canCascade"]
    assert (snap["concordanceRate"], snap["isWrittenInSvol"], snap["isClone"]) == (100, False, False)
    assert lab.volume("vsp-a", "512")["host_access"] == "rw"
    lab.write("vsp-a", "256", blocks=3, offset=40)  # later P-VOL writes leave the snapshot
    assert lab.digest("vsp-a", "512") == at_split != lab.digest("vsp-a", "256")
    assert vsp.snap("256,3")["concordanceRate"] < 100
    before = lab.digest("vsp-a", "256")
    lab.write("vsp-a", "512", blocks=2, offset=90)  # S-VOL writes change the S-VOL only
    assert lab.digest("vsp-a", "256") == before and lab.digest("vsp-a", "512") != at_split
    assert vsp.snap("256,3")["isWrittenInSvol"] is True
    assert "HTI" in vsp.attributes(256) and "HTI" in vsp.attributes(512)
    assert vsp.get("/ldevs/512").json()["snapshotPoolId"] == 0 and "snapshotPoolId" not in vsp.get("/ldevs/256").json()
    (seen,) = vsp.get("/snapshots", svolLdevId=512).json()["data"]
    assert (seen["primaryOrSecondary"], seen["status"], seen["snapshotId"]) == ("S-VOL", "SSUS", "256,3")
    assert lab.status("vsp-a")["snapshots"]["256,3"]["snapshot_data"] is True


def test_without_auto_split_the_pair_waits_for_a_split(vsp, lab):
    scoped = Client(lab, scoped=True)
    scoped.login()
    job = scoped.create("tiB", 257, 513, muNumber=10)
    scoped.logout()
    assert job["affectedResources"] == [f"{BASE}/storages/{SID}/snapshots/257,10"]
    snap = vsp.snap("257,10")
    assert snap["status"] == "PAIR" and "splitTime" not in snap and snap["concordanceRate"] == 100
    assert lab.volume("vsp-a", "513")["host_access"] == "none"  # no snapshot data: hosts cannot read the S-VOL
    lab.write("vsp-a", "257", blocks=2, offset=20)
    at_split = lab.digest("vsp-a", "257")
    split = vsp.act("/snapshots/257,10", "split")
    assert split["affectedResources"] == [f"{BASE}/snapshots/257,10"]
    assert vsp.snap("257,10")["status"] == "PSUS" and lab.digest("vsp-a", "513") == at_split
    assert vsp.act("/snapshots/257,10", "split")["state"] == "Succeeded"  # PSUS: success, nothing applied
    assert lab.volume("vsp-a", "513")["host_access"] == "rw"


def test_resync_then_split_gives_a_new_point_in_time(vsp, lab):
    vsp.create("tiC", 258, 514, autoSplit=True)
    first = lab.digest("vsp-a", "514")
    lab.write("vsp-a", "258", blocks=5, offset=60)
    vsp.act("/snapshots/258,3", "resync")
    snap = vsp.snap("258,3")
    assert snap["status"] == "PAIR" and "splitTime" not in snap
    assert lab.volume("vsp-a", "514")["host_access"] == "none"
    assert vsp.act("/snapshots/258,3", "resync")["state"] == "Succeeded"  # PAIR: nothing applied
    vsp.act("/snapshots/258,3", "split")
    second = lab.digest("vsp-a", "514")
    assert second == lab.digest("vsp-a", "258") != first
    lab.write("vsp-a", "258", blocks=1, offset=70)
    vsp.act("/snapshots/258,3", "resync", autoSplit=True)  # resync and split again in one job
    assert vsp.snap("258,3")["status"] == "PSUS"
    assert lab.digest("vsp-a", "514") == lab.digest("vsp-a", "258") != second


def test_restore_copies_the_snapshot_and_its_svol_writes_back(vsp, lab):
    vsp.create("tiD", 259, 515, autoSplit=True)
    lab.write("vsp-a", "515", blocks=4, offset=100)  # the S-VOL image to bring back
    lab.write("vsp-a", "259", blocks=2, offset=30)   # P-VOL writes the restore undoes
    wanted = lab.digest("vsp-a", "515")
    lab.settings("vsp-a", pace_rate="64KiB")  # 6 blocks at 192 KiB/s: RCPY is visible
    since = last_transfer(lab)
    job = vsp.act("/snapshots/259,3", "restore")
    assert job["state"] == "Succeeded" and job["affectedResources"] == [f"{BASE}/snapshots/259,3"]
    snap = vsp.snap("259,3")
    assert snap["status"] == "RCPY" and 0 <= snap["progressRate"] < 100
    assert lab.volume("vsp-a", "515")["host_access"] == "none"
    assert vsp.act("/snapshots/259,3", "restore")["state"] == "Succeeded"  # RCPY: nothing applied
    assert_error(vsp.call("DELETE", "/snapshots/259,3"), 412, "KART30090-E")
    vsp.refused("/snapshots/259,3", "split")
    lab.settings("vsp-a", pace_rate=None)
    lab.wait_for(lambda: vsp.snap("259,3")["status"] == "PAIR", timeout=10)
    assert lab.digest("vsp-a", "259") == wanted
    (copy,) = transfers(lab, "ti:restore", since)
    assert copy["blocks"] == 6 and copy["destination"] == "vsp-a:259" and copy["state"] == "success"
    lab.write("vsp-a", "259", blocks=1, offset=5)
    vsp.act("/snapshots/259,3", "split")
    job = vsp.act("/snapshots/259,3", "restore", nowait=False, autoSplit=True)  # Cinder's restore_ldev
    assert job["state"] == "Succeeded" and vsp.snap("259,3")["status"] == "PSUS"
    assert lab.digest("vsp-a", "259") == lab.digest("vsp-a", "515")


# ShadowImage, groups ----------------------------------------------------------------------------
def test_snapshot_of_a_shadowimage_svol_leaves_the_pair_alone(vsp, lab):
    si_id = vsp.create_pair("cgTI", "p1", 700, 701, wait="PSUS", autoSplit=True)
    si_before = vsp.pair(si_id)
    jobs_before = {j["jobId"] for j in vsp.get("/jobs").json()["data"]}
    since = last_transfer(lab)
    mark = lab.mark()
    vsp.create("tiSI", 701, 516, autoSplit=True)
    assert lab.digest("vsp-a", "516") == lab.digest("vsp-a", "701")
    assert vsp.pair(si_id) == si_before  # status, progress, MU: untouched
    assert set(vsp.attributes(701)) >= {"MRCF", "HTI"}
    new_jobs = [j for j in vsp.get("/jobs").json()["data"] if j["jobId"] not in jobs_before]
    assert [j["request"]["requestUrl"] for j in new_jobs] == [f"{BASE}/snapshots"]
    assert [tr["kind"] for tr in lab.transfers(since_id=since)["finished"] if tr["id"] > since] == []
    assert {e["path"] for e in lab.mutations_since(mark, array="vsp-a")} == {f"{BASE}/snapshots"}
    snapshot = lab.digest("vsp-a", "516")
    lab.write("vsp-a", "700", blocks=3, offset=10)
    vsp.action(si_id, "resync")  # the SI copy lands on 701; the snapshot of 701 stays
    vsp.wait_pair(si_id, "PAIR")
    assert lab.digest("vsp-a", "701") == lab.digest("vsp-a", "700") and lab.digest("vsp-a", "516") == snapshot
    body = vsp.refused("/snapshots/701,3", "restore")  # [TI]: the SI pair is no longer PSUS
    assert si_id in body["message"] and "PAIR" in body["message"]
    message = failed(vsp.create("tiSI2", 701, 517, ok=False), ("2E10", "9A24"))  # [TI]: SI pair must be PSUS
    assert si_id in message
    failed(vsp.create("tiSI3", 702, 516, ok=False), ("2E10", "9A23"))  # a TI S-VOL joins no other pair
    job = vsp.run("POST", "/local-clone-copypairs", {
        "copyGroupName": "cgTI2", "copyPairName": "p1", "replicationType": "SI", "pvolLdevId": 702,
        "svolLdevId": 516, "isNewGroupCreation": True}, ok=False)
    assert "Thin Image S-VOL" in failed(job, ("2E10", "9A23"))


def test_consistency_group_of_three(vsp, lab):
    pairs = [(260, 517), (261, 518), (262, 519)]
    for pvol, svol in pairs:
        vsp.create("ctgE", pvol, svol, isConsistencyGroup=True)
    failed(vsp.create("ctgE", 263, 520, isConsistencyGroup=False, ok=False), ("2E11", "9A0A"))
    assert {"snapshotGroupName": "ctgE", "snapshotGroupId": "ctgE"} in vsp.get("/snapshot-groups").json()["data"]
    (listed,) = vsp.get("/snapshot-groups", snapshotGroupName="ctgE", detailInfoType="pair").json()["data"]
    assert [s["snapshotId"] for s in listed["snapshots"]] == [f"{p},3" for p, _s in pairs]
    group = vsp.get("/snapshot-groups/ctgE").json()
    assert all(s["isConsistencyGroup"] and s["status"] == "PAIR" for s in group["snapshots"])
    for pvol, _svol in pairs:
        lab.write("vsp-a", str(pvol), blocks=2, offset=pvol - 250)
    at_split = {pvol: lab.digest("vsp-a", str(pvol)) for pvol, _s in pairs}
    job = vsp.act("/snapshot-groups/ctgE", "split")
    assert job["affectedResources"] == [f"{BASE}/snapshot-groups/ctgE"]
    records = vsp.get("/snapshots", snapshotGroupName="ctgE").json()["data"]
    assert {r["status"] for r in records} == {"PSUS"} and len({r["splitTime"] for r in records}) == 1
    assert all(lab.digest("vsp-a", str(svol)) == at_split[pvol] for pvol, svol in pairs)
    for pvol, svol in pairs:
        lab.write("vsp-a", str(svol), blocks=4, offset=40)  # 4 blocks at 192 KiB/s each: RCPY is visible
    lab.settings("vsp-a", pace_rate="64KiB")
    vsp.act("/snapshot-groups/ctgE", "restore")
    assert {s["status"] for s in vsp.get("/snapshot-groups/ctgE").json()["snapshots"]} == {"RCPY"}
    assert_error(vsp.call("DELETE", "/snapshot-groups/ctgE"), 412, "KART30090-E")
    lab.settings("vsp-a", pace_rate=None)
    lab.wait_for(lambda: {s["status"] for s in vsp.get("/snapshot-groups/ctgE").json()["snapshots"]} == {"PAIR"})
    assert all(lab.digest("vsp-a", str(pvol)) == lab.digest("vsp-a", str(svol)) for pvol, svol in pairs)
    vsp.act("/snapshot-groups/ctgE", "split")
    vsp.act("/snapshot-groups/ctgE", "resync", autoSplit=True)
    assert {r["status"] for r in vsp.get("/snapshots", snapshotGroupName="ctgE").json()["data"]} == {"PSUS"}
    job = vsp.run("DELETE", "/snapshot-groups/ctgE")
    assert job["affectedResources"] == [f"{BASE}/snapshot-groups/ctgE"]
    assert_error(vsp.get("/snapshot-groups/ctgE"), 404, "KART30013-E")
    assert vsp.get("/snapshots", snapshotGroupName="ctgE").json() == {"data": []}
    for _pvol, svol in pairs:
        assert "HTI" not in vsp.attributes(svol) and lab.volume("vsp-a", str(svol))["host_access"] == "rw"


def test_list_filters_and_lookups(vsp):
    vsp.create("tiF", 264, 521, autoSplit=True)
    vsp.create("tiF", 264, 522, muNumber=7)
    vsp.create("tiF2", 265)
    assert ids(vsp, pvolLdevId=264) == ["264,3", "264,7"]
    assert ids(vsp, pvolLdevId=264, muNumber=7) == ["264,7"] == ids(vsp, muNumber=7, snapshotGroupName="tiF")
    assert ids(vsp, svolLdevId=522) == ["264,7"] and ids(vsp, svolLdevId=523) == []
    assert ids(vsp, snapshotGroupName="tiF2") == ["265,3"] and ids(vsp, snapshotGroupName="nope") == []
    assert ids(vsp, pvolLdevId=264, detailInfoType="retention") == ["264,3", "264,7"]
    assert {"264,3", "264,7", "265,3"} <= set(ids(vsp))
    no_svol = vsp.snap("265,3")
    assert "svolLdevId" not in no_svol and no_svol["status"] == "PAIR"
    assert vsp.get("/snapshots/264%2C7").json()["snapshotId"] == "264,7"
    assert_error(vsp.get("/snapshots", pvolLdevId="x"), 400, "KART30004-E")
    assert_error(vsp.get("/snapshots", detailInfoType="bogus"), 400, "KART30004-E")
    assert_error(vsp.get("/snapshots/264,9"), 404, "KART30013-E")
    assert_error(vsp.get("/snapshots/264"), 404, "KART30013-E")
    assert_error(vsp.get("/snapshot-groups/nope"), 404, "KART30013-E")
    assert vsp.get("/snapshots/264,3/actions/split").json() == {"name": "split", "parameters": {}}
    template = vsp.get("/snapshot-groups/tiF/actions/restore").json()
    assert template == {"name": "restore", "parameters": {"autoSplit": None}}


def test_assign_and_unassign_an_svol(vsp, lab):
    vsp.create("tiG", 266, autoSplit=True)
    at_split = lab.digest("vsp-a", "266")
    lab.write("vsp-a", "266", blocks=2, offset=11)
    job = vsp.act("/snapshots/266,3", "assign-volume", svolLdevId=523)
    assert job["affectedResources"] == [f"{BASE}/snapshots/266,3"]
    assert vsp.snap("266,3")["svolLdevId"] == 523 and lab.digest("vsp-a", "523") == at_split
    assert vsp.act("/snapshots/266,3", "assign-volume", svolLdevId=523)["state"] == "Succeeded"  # the same: no-op
    vsp.refused("/snapshots/266,3", "assign-volume", svolLdevId=524)
    empty = lab.digest("vsp-a", "535")
    vsp.act("/snapshots/266,3", "unassign-volume")
    assert "svolLdevId" not in vsp.snap("266,3") and lab.digest("vsp-a", "523") == empty
    assert lab.volume("vsp-a", "523")["host_access"] == "rw" and "HTI" not in vsp.attributes(523)
    vsp.act("/snapshots/266,3", "assign-volume", svolLdevId=524)  # the snapshot data went with the pair
    assert lab.digest("vsp-a", "524") == at_split
    assert_error(vsp.call("POST", "/snapshots/266,3/actions/assign-volume/invoke", {"parameters": {}}), 400,
                 "KART30004-E")


def test_clone_copies_the_pvol_and_ends_the_pair(vsp, lab):
    lab.settings("vsp-a", pace_rate="64KiB")
    since = last_transfer(lab)
    at_clone = lab.digest("vsp-a", "267")
    vsp.create("tiH", 267, 525, isClone=True, clonesAutomation=True, copySpeed="Slower")
    snap = vsp.snap("267,3")
    assert (snap["status"], snap["isClone"], snap["canCascade"]) == ("PSUP", True, True)
    lab.write("vsp-a", "267", blocks=1, offset=3)  # after the clone started: not part of the copy
    vsp.refused("/snapshots/267,3", "split")
    lab.settings("vsp-a", pace_rate=None)
    lab.wait_for(lambda: vsp.get("/snapshots/267,3").status_code == 404, timeout=10)
    assert lab.digest("vsp-a", "525") == at_clone and "HTI" not in vsp.attributes(525)
    assert transfers(lab, "ti:clone", since)[-1]["blocks"] == DATA_BLOCKS
    vsp.create("tiH", 268, 526, isClone=True)
    assert vsp.snap("268,3")["status"] == "PAIR"
    vsp.refused("/snapshots/268,3", "restore")
    job = vsp.act("/snapshots/268,3", "clone", nowait=False, copySpeed="faster")
    assert job["state"] == "Succeeded" and vsp.get("/snapshots/268,3").status_code == 404
    assert lab.digest("vsp-a", "526") == lab.digest("vsp-a", "268")
    vsp.create("tiH2", 269, 527, autoSplit=True)
    vsp.refused("/snapshots/269,3", "clone")


# delete, refusals ---------------------------------------------------------------------------------
def test_delete_drops_the_snapshot_data_and_the_group(vsp, lab):
    vsp.create("tiJ", 270, 528, autoSplit=True)
    empty = lab.digest("vsp-a", "535")
    assert_error(vsp.call("PATCH", "/snapshots/270,3", {}), 405, "KART00005-E")
    failed(vsp.run("DELETE", "/ldevs/528", ok=False), ("2E10", "9A23"))
    job = vsp.run("DELETE", "/snapshots/270,3")
    assert job["affectedResources"] == [f"{BASE}/snapshots/270,3"]
    assert_error(vsp.get("/snapshots/270,3"), 404, "KART30013-E")
    assert_error(vsp.get("/snapshot-groups/tiJ"), 404, "KART30013-E")  # its last pair took it along
    assert lab.digest("vsp-a", "528") == empty and lab.volume("vsp-a", "528")["host_access"] == "rw"
    assert "HTI" not in vsp.attributes(270) and "HTI" not in vsp.attributes(528)


def test_create_refusals(vsp):
    vsp.create("tiK", 271, 529)
    failed(vsp.create("tiK2", 4000, 530, ok=False), ("2E20", "0000"))        # P-VOL not defined
    failed(vsp.create("tiK2", 272, 4001, ok=False), ("2E20", "0000"))        # S-VOL not defined
    failed(vsp.create("tiK2", 272, 529, ok=False), ("2E10", "9A23"))         # S-VOL in a TI pair
    failed(vsp.create("tiK2", 272, 272, ok=False), ("2E10", "9A23"))         # P-VOL = S-VOL
    failed(vsp.create("tiK2", 529, 531, ok=False), ("2E10", "9A23"))         # a TI S-VOL as P-VOL: no cascade
    failed(vsp.create("tiK2", 272, 600, ok=False), ("2E21", "9A31"))         # other capacity
    failed(vsp.create("tiK2", 271, 531, muNumber=3, ok=False), ("2E10", "9A40"))  # MU taken
    failed(vsp.create("tiK2", 272, 531, snapshotPoolId=9, ok=False), ("2E30", "600E"))  # no such pool
    assert vsp.create("tiK3", 272, 531, snapshotPoolId=5)["state"] == "Succeeded"
    si_id = vsp.create_pair("cgK", "p1", 703, 532, wait="PAIR")
    failed(vsp.create("tiK2", 273, 532, ok=False), ("2E10", "9A23"))         # S-VOL in an SI pair
    failed(vsp.create("tiK2", 703, 533, muNumber=0, ok=False), ("2E10", "9A40"))  # the SI pair's MU
    assert vsp.pair(si_id)["pvolStatus"] == "PAIR"
    bad = [{"snapshotPoolId": 0, "pvolLdevId": 273},
           {"snapshotGroupName": "x" * 33, "snapshotPoolId": 0, "pvolLdevId": 273},
           {"snapshotGroupName": "a,b", "snapshotPoolId": 0, "pvolLdevId": 273},
           {"snapshotGroupName": "x", "snapshotPoolId": 0, "pvolLdevId": 273, "quickMode": True},
           {"snapshotGroupName": "x", "snapshotPoolId": 0, "pvolLdevId": 273, "isClone": True},
           {"snapshotGroupName": "x", "snapshotPoolId": 0, "pvolLdevId": 273, "muNumber": 1024},
           {"snapshotGroupName": "x", "snapshotPoolId": 0, "pvolLdevId": 273, "svolLdevId": 534,
            "copySpeed": "warp"}]
    for body in bad:
        assert_error(vsp.call("POST", "/snapshots", body), 400, "KART30004-E")
    assert_error(vsp.call("POST", "/snapshots/271,3/actions/swap/invoke", {}), 404, "KART00004-E")


def test_action_refusals_follow_the_status(vsp, lab):
    vsp.create("tiL", 274, 534, autoSplit=True)
    lab.write("vsp-a", "534", blocks=8, offset=0)
    lab.settings("vsp-a", fail_copies=1, pace_rate="64KiB")
    job = vsp.act("/snapshots/274,3", "restore", ok=False, nowait=False)
    assert "did not reach PAIR" in failed(job, ("2E31", "9A60"))
    snap = vsp.snap("274,3")
    assert snap["status"] == "PSUE" and "splitTime" not in snap  # the snapshot data is lost
    assert lab.volume("vsp-a", "534")["host_access"] == "none"
    body = vsp.refused("/snapshots/274,3", "split")
    assert "PSUE" in body["message"] and body["errorSource"].endswith("/actions/split/invoke")
    vsp.refused("/snapshots/274,3", "restore")
    lab.settings("vsp-a", invalid_state_reply="job")
    job = vsp.act("/snapshots/274,3", "split", ok=False)
    assert job["state"] == "Failed" and job["error"]["messageId"] == "KART30090-E"
    lab.settings("vsp-a", invalid_state_reply="412", pace_rate=None)
    vsp.act("/snapshots/274,3", "resync", autoSplit=True)  # PSUE -> PAIR -> a new snapshot
    assert vsp.snap("274,3")["status"] == "PSUS"
    assert lab.digest("vsp-a", "534") == lab.digest("vsp-a", "274")


# lock, request log, fields -------------------------------------------------------------------------
def test_the_resource_lock_and_the_request_log_cover_thin_image(vsp, lab):
    other = Client(lab)
    other.login()
    lock = vsp.info["url"] + "/ConfigurationManager/v1/services/resource-group-service/actions"
    reply = vsp.http.post(f"{lock}/lock/invoke", json={"parameters": {"waitTime": 0}}, timeout=30)
    assert vsp.wait_job(reply.json()["jobId"])["state"] == "Succeeded"
    mark = lab.mark()
    try:
        body = {"snapshotGroupName": "tiM", "snapshotPoolId": 0, "pvolLdevId": 275, "svolLdevId": 535}
        assert_error(other.call("POST", "/snapshots", body), 503, "KART40052-E")
        vsp.run("POST", "/snapshots", body)  # the holder may write
        assert other.get("/snapshots/275,3").status_code == 200  # reading stays open
        for path, op in (("/snapshots/275,3", "split"), ("/snapshot-groups/tiM", "split")):
            assert_error(other.call("POST", f"{path}/actions/{op}/invoke", {}), 503, "KART40052-E")
        assert_error(other.call("DELETE", "/snapshot-groups/tiM"), 503, "KART40052-E")
        vsp.act("/snapshots/275,3", "split")
        vsp.get("/snapshot-groups/tiM")
        vsp.run("DELETE", "/snapshots/275,3")
    finally:
        vsp.http.post(f"{lock}/unlock/invoke", json={"parameters": {}}, timeout=30)
        other.logout()
    entries = [e for e in lab.log(array="vsp-a", since=mark) if "/snapshot" in e["path"]]
    writes = [(e["method"], e["path"].removeprefix(BASE), e.get("status")) for e in entries if e["mutating"]]
    assert ("POST", "/snapshots", 503) in writes and ("POST", "/snapshots", 202) in writes
    assert ("POST", "/snapshots/275,3/actions/split/invoke", 202) in writes
    assert ("DELETE", "/snapshot-groups/tiM", 503) in writes and ("DELETE", "/snapshots/275,3", 202) in writes
    assert all(not e["mutating"] for e in entries if e["method"] == "GET")


def test_thin_image_objects_serve_the_fields_the_table_lists(vsp, lab):
    vsp.create("tiN", 276, 520, autoSplit=True)
    vsp.create("tiN", 277)
    lab.settings("vsp-a", pace_rate="64KiB")
    lab.write("vsp-a", "520", blocks=8, offset=8)
    vsp.act("/snapshots/276,3", "restore")
    records = {
        "snapshots/{id}": [vsp.snap("276,3"), vsp.snap("277,3")] + vsp.get("/snapshots", svolLdevId=520).json()["data"],
        "snapshot-groups (list)": vsp.get("/snapshot-groups").json()["data"]
        + vsp.get("/snapshot-groups", detailInfoType="pair").json()["data"],
        "snapshot-groups/{id}": [vsp.get("/snapshot-groups/tiN").json()],
        "ldevs/{id} (Thin Image pair)": [vsp.get("/ldevs/276").json(), vsp.get("/ldevs/520").json()],
    }
    lab.settings("vsp-a", pace_rate=None)
    lab.wait_for(lambda: vsp.snap("276,3")["status"] == "PAIR", timeout=10)
    vsp.act("/snapshots/276,3", "split")
    records["snapshots/{id}"].append(vsp.snap("276,3"))
    table = fields.by_name(fields.THIN_IMAGE_OBJECTS)
    assert set(records) == set(table)
    for name, got in records.items():
        obj, seen = table[name], set()
        for record in got:
            assert set(obj.served) <= set(record) <= obj.allowed, (name, record)
            seen |= set(record)
        assert {field for field, _state in obj.when} <= seen, name
    for group in records["snapshot-groups/{id}"]:
        assert all(set(table["snapshots/{id}"].served) <= set(s) for s in group["snapshots"])
    template = fields.by_name()["action template"]
    for op in ("split", "resync", "restore", "clone", "assign-volume", "unassign-volume"):
        assert set(vsp.get(f"/snapshots/276,3/actions/{op}").json()) == set(template.served)
