"""The VSP simulator over plain HTTPS: LDEVs, ShadowImage pairs, jobs, refusals and copy modes.

Each test uses LDEVs of its own (P-VOLs 256-279 hold data, 512-535 are empty)
so that the tests of this module can share one lab. Sessions, endpoints and
base paths are covered in test_vsp_sim.py.
"""

from __future__ import annotations

import time
import typing as t

import pytest

from vsp_helpers import DATA_BLOCKS, SID, TOPOLOGY, Vsp, assert_error

BLOCK = 64 * 1024
LAB_TOPOLOGY = TOPOLOGY
DEFAULTS = {"job_seconds": 0.02, "pace_rate": None, "fail_copies": 0, "alive_time_scale": 1.0,
            "max_sessions": 64, "invalid_state_reply": "412", "serial_jobs": True, "html_errors": False}


@pytest.fixture(name="vsp")
def vsp_fixture(lab: t.Any) -> t.Iterator[Vsp]:
    client = Vsp(lab)
    client.login()
    yield client
    client.logout()
    lab.settings("vsp-a", **DEFAULTS)
    lab.clear_faults("vsp-a")


def transfers_since(lab: t.Any, since: int, kind: str | None = None) -> list[dict[str, t.Any]]:
    data = lab.transfers(since_id=since)
    done = [tr for tr in data["finished"] + data["active"] if kind is None or tr["kind"] == kind]
    return sorted(done, key=lambda tr: tr["id"])


def last_transfer_id(lab: t.Any) -> int:
    data = lab.transfers()
    return max([tr["id"] for tr in data["finished"] + data["active"]] or [0])


# LDEVs -----------------------------------------------------------------------------------------
def test_ldev_get_defined_and_undefined(vsp):
    ldev = vsp.get("/ldevs/256").json()
    assert ldev["emulationType"] == "OPEN-V-CVS" and ldev["status"] == "NML"
    assert ldev["blockCapacity"] == 64 * 1024 * 1024 // 512 and ldev["byteFormatCapacity"] == "64.00 M"
    assert "CVS" in ldev["attributes"] and "HDP" in ldev["attributes"] and ldev["poolId"] == 0
    assert ldev["label"] == "prod1"
    reply = vsp.get("/ldevs/4000")
    assert reply.status_code == 200 and reply.json()["emulationType"] == "NOT DEFINED"
    assert_error(vsp.get("/ldevs/abc"), 400, "KART30004-E")
    defined = vsp.get("/ldevs", ldevOption="defined", headLdevId=512, count=3).json()["data"]
    assert [d["ldevId"] for d in defined] == [512, 513, 514]
    undefined = vsp.get("/ldevs", ldevOption="undefined", headLdevId=256, count=2).json()["data"]
    assert [d["ldevId"] for d in undefined] == [280, 281]
    assert vsp.get("/pools/0").json()["poolId"] == 0


def test_ldev_create_for_an_svol(vsp, lab):
    capacity = vsp.get("/ldevs/256").json()["blockCapacity"]
    job = vsp.run("POST", "/ldevs", {"poolId": 0, "blockCapacity": capacity, "ldevId": 700})
    assert job["status"] == "Completed" and job["affectedResources"] == ["/ConfigurationManager/v1/objects/ldevs/700"]
    ldev = vsp.get("/ldevs/700").json()
    assert ldev["blockCapacity"] == capacity and ldev["poolId"] == 0
    assert lab.volume("vsp-a", "700")["host_access"] == "rw"
    job = vsp.run("POST", "/ldevs", {"poolId": 0, "byteFormatCapacity": "64M", "startLdevId": 700,
                                     "endLdevId": 800})
    assert job["affectedResources"] == ["/ConfigurationManager/v1/objects/ldevs/701"]
    failed = vsp.run("POST", "/ldevs", {"poolId": 0, "blockCapacity": capacity, "ldevId": 700}, ok=False)
    assert failed["state"] == "Failed" and failed["error"]["messageId"] == "KART30000-E"
    assert set(failed["error"]["errorCode"]) == {"SSB1", "SSB2"}
    assert vsp.run("POST", "/ldevs", {"poolId": 9, "blockCapacity": capacity}, ok=False)["state"] == "Failed"
    assert_error(vsp.call("POST", "/ldevs", {"poolId": 0}), 400, "KART30004-E")
    vsp.run("PATCH", "/ldevs/701", {"label": "svol_x"})
    assert vsp.get("/ldevs/701").json()["label"] == "svol_x"
    vsp.run("DELETE", "/ldevs/701")
    assert vsp.get("/ldevs/701").json()["emulationType"] == "NOT DEFINED"


# pairs ------------------------------------------------------------------------------------------
def test_create_pair_in_new_group_copy_to_pair(vsp, lab):
    lab.settings("vsp-a", pace_rate="1MiB")  # copyPace 3 -> 3 MiB/s: the 2 MiB copy takes ~0.7 s
    since = last_transfer_id(lab)
    job = vsp.run("POST", "/local-clone-copypairs", {
        "copyGroupName": "cgA", "copyPairName": "p1", "replicationType": "SI", "pvolLdevId": 256, "svolLdevId": 512,
        "isNewGroupCreation": True, "copyPace": 3})
    pair_id = "cgA,cgAP_,cgAS_,p1"
    assert job["affectedResources"] == [f"/ConfigurationManager/v1/objects/local-clone-copypairs/{pair_id}"]
    groups = vsp.get("/local-clone-copygroups").json()["data"]
    assert {"localCloneCopygroupId": "cgA,cgAP_,cgAS_", "copyGroupName": "cgA", "pvolDeviceGroupName": "cgAP_",
            "svolDeviceGroupName": "cgAS_"} in groups
    seen = []
    while True:
        pair = vsp.pair(pair_id)
        seen.append((pair["pvolStatus"], pair["svolStatus"], pair["copyProgressRate"]))
        if pair["pvolStatus"] != "COPY":
            break
        assert lab.volume("vsp-a", "512")["host_access"] == "ro"
        time.sleep(0.05)
    assert seen[0][:2] == ("COPY", "COPY") and seen[-1] == ("PAIR", "PAIR", 100)
    rates = [rate for status, _s, rate in seen if status == "COPY"]
    assert rates == sorted(rates) and any(0 < r < 100 for r in rates), seen
    assert pair["replicationType"] == "SI" and pair["copyMode"] == "NotSnapshot"
    assert pair["pvolLdevId"] == 256 and pair["svolLdevId"] == 512 and pair["pvolMuNumber"] == 0
    assert pair["consistencyGroupId"] == -1
    assert lab.digest("vsp-a", "256") == lab.digest("vsp-a", "512")
    (copy,) = transfers_since(lab, since, "si:initial")
    assert copy["bytes_total"] == DATA_BLOCKS * BLOCK and copy["source"] == "vsp-a:256"
    assert "MRCF" in vsp.get("/ldevs/512").json()["attributes"]
    assert lab.volume("vsp-a", "512")["host_access"] == "ro"
    listed = vsp.get("/local-clone-copypairs", localCloneCopyGroupId="cgA,cgAP_,cgAS_", refresh="true").json()
    assert [p["localCloneCopypairId"] for p in listed["data"]] == [pair_id]
    detail = vsp.get("/local-clone-copygroups/cgA,cgAP_,cgAS_").json()
    assert [p["copyPairName"] for p in detail["copyPairs"]] == ["p1"]


def test_second_pair_into_existing_group_and_create_failures(vsp):
    vsp.create_pair("cgB", "p1", 257, 513)
    second = vsp.create_pair("cgB", "p2", 258, 514, new=False)
    listed = vsp.get("/local-clone-copypairs", localCloneCopyGroupId="cgB,cgBP_,cgBS_").json()["data"]
    assert sorted(p["copyPairName"] for p in listed) == ["p1", "p2"]
    assert vsp.pair(second)["pvolStatus"] == "PAIR"
    base = {"copyGroupName": "cgB", "replicationType": "SI"}
    cases = [
        (dict(base, copyPairName="p1", pvolLdevId=259, svolLdevId=515, isNewGroupCreation=False),
         "already being used by the chosen copy group"),
        (dict(base, copyPairName="p3", pvolLdevId=259, svolLdevId=513, isNewGroupCreation=False),
         "Another copy pair might already be using the specified LDEV"),
        (dict(base, copyPairName="p3", pvolLdevId=259, svolLdevId=515, isNewGroupCreation=True), "already exists"),
        (dict(base, copyGroupName="cgNone", copyPairName="p1", pvolLdevId=259, svolLdevId=515,
              isNewGroupCreation=False), "does not exist"),
        (dict(base, copyPairName="p3", pvolLdevId=259, svolLdevId=600, isNewGroupCreation=False), "capacity"),
        (dict(base, copyPairName="p3", pvolLdevId=259, svolLdevId=999, isNewGroupCreation=False), "not defined"),
    ]
    for body, text in cases:
        job = vsp.run("POST", "/local-clone-copypairs", body, ok=False)
        assert job["state"] == "Failed" and job["error"]["messageId"] == "KART30000-E", job
        assert text in job["error"]["message"], job["error"]
        assert job["affectedResources"] == []
    assert len(vsp.get("/local-clone-copypairs", localCloneCopyGroupId="cgB,cgBP_,cgBS_").json()["data"]) == 2
    # unknown groups list as empty
    assert vsp.get("/local-clone-copypairs", localCloneCopyGroupId="zz,zzP_,zzS_").json() == {"data": []}


def test_split_then_resync_copies_only_changed_blocks(vsp, lab):
    pair_id = vsp.create_pair("cgC", "p1", 259, 515)
    job = vsp.action(pair_id, "split")
    assert job["affectedResources"] == [f"/ConfigurationManager/v1/objects/local-clone-copypairs/{pair_id}"]
    pair = vsp.wait_pair(pair_id, "PSUS")
    assert pair["svolStatus"] == "SSUS" and pair["copyProgressRate"] == 100
    assert lab.volume("vsp-a", "515")["host_access"] == "rw"
    lab.write("vsp-a", "259", blocks=5, offset=500)
    lab.write("vsp-a", "515", blocks=3, offset=700)
    lab.write("vsp-a", "515", blocks=1, offset=0)  # over a block P-VOL also holds
    assert vsp.pair(pair_id)["copyProgressRate"] < 100
    assert lab.digest("vsp-a", "259") != lab.digest("vsp-a", "515")
    since = last_transfer_id(lab)
    vsp.action(pair_id, "resync")
    vsp.wait_pair(pair_id, "PAIR")
    (copy,) = transfers_since(lab, since, "si:resync")
    assert copy["blocks"] == 9 and copy["bytes_total"] == 9 * BLOCK and copy["state"] == "success"
    assert lab.digest("vsp-a", "259") == lab.digest("vsp-a", "515")
    assert lab.volume("vsp-a", "515")["host_access"] == "ro"


def test_split_write_restore_rcpy_to_pair(vsp, lab):
    pair_id = vsp.create_pair("cgD", "p1", 260, 516)
    lab.settings("vsp-a", pace_rate="256KiB")  # 6 blocks at 768 KiB/s: RCPY is visible
    vsp.action(pair_id, "split")
    vsp.wait_pair(pair_id, "PSUS")
    lab.write("vsp-a", "516", blocks=4, offset=100)   # the S-VOL image to bring back
    lab.write("vsp-a", "260", blocks=2, offset=300)   # P-VOL writes the restore undoes
    wanted = lab.digest("vsp-a", "516")
    since = last_transfer_id(lab)
    vsp.action(pair_id, "restore")
    pair = vsp.pair(pair_id)
    assert (pair["pvolStatus"], pair["svolStatus"]) == ("RCPY", "RCPY")
    assert lab.volume("vsp-a", "260")["host_access"] == "none"
    assert lab.volume("vsp-a", "516")["host_access"] == "ro"
    vsp.wait_pair(pair_id, "PAIR")
    assert lab.digest("vsp-a", "260") == wanted == lab.digest("vsp-a", "516")
    (copy,) = transfers_since(lab, since, "si:restore")
    assert copy["blocks"] == 6 and copy["source"] == "vsp-a:516" and copy["destination"] == "vsp-a:260"
    assert lab.volume("vsp-a", "260")["host_access"] == "rw"


def test_group_split_resync_and_delete_with_last_pair(vsp, lab):
    pairs = [vsp.create_pair("cgE", "p1", 261, 517), vsp.create_pair("cgE", "p2", 262, 518, new=False),
             vsp.create_pair("cgE", "p3", 263, 519, new=False)]
    group = "/local-clone-copygroups/cgE,cgEP_,cgES_"
    job = vsp.run("PUT", f"{group}/actions/split/invoke", {"parameters": {"quickMode": False}})
    assert job["affectedResources"] == [f"/ConfigurationManager/v1/objects{group}"]
    for pair_id in pairs:
        assert vsp.wait_pair(pair_id, "PSUS")["svolStatus"] == "SSUS"
    for ldev in ("261", "262", "263"):
        lab.write("vsp-a", ldev, blocks=2, offset=900)
    vsp.run("POST", f"{group}/actions/resync/invoke", {"parameters": {"copyPace": 15}}, nowait=False)
    for pair_id in pairs:  # without NoWait the job ended after the copies
        assert vsp.pair(pair_id)["pvolStatus"] == "PAIR"
    for p, s in (("261", "517"), ("262", "518"), ("263", "519")):
        assert lab.digest("vsp-a", p) == lab.digest("vsp-a", s)
    vsp.run("POST", f"{group}/actions/split/invoke", {})
    for ldev in ("517", "518", "519"):
        lab.write("vsp-a", ldev, blocks=3, offset=10)
    vsp.run("POST", f"{group}/actions/restore/invoke", {"parameters": {"copyPace": 8}}, nowait=False)
    for p, s in (("261", "517"), ("262", "518"), ("263", "519")):
        assert vsp.pair(f"cgE,cgEP_,cgES_,p{int(p) - 260}")["pvolStatus"] == "PAIR"
        assert lab.digest("vsp-a", p) == lab.digest("vsp-a", s)
    state = lab.http.get(lab.control_url + "/arrays/vsp-a", timeout=10).json()
    assert state["pairs"][pairs[0]]["last_operation"] == "restore"
    assert state["storage_device_id"] == SID and "cgE" in state["copy_groups"]
    vsp.run("DELETE", f"/local-clone-copypairs/{pairs[0]}")
    assert_error(vsp.get(f"/local-clone-copypairs/{pairs[0]}"), 404, "KART30013-E")
    assert lab.volume("vsp-a", "517")["host_access"] == "rw"
    assert "MRCF" not in vsp.get("/ldevs/517").json()["attributes"]
    vsp.run("DELETE", f"/local-clone-copypairs/{pairs[1]}")
    assert vsp.get(group).status_code == 200
    vsp.run("DELETE", f"/local-clone-copypairs/{pairs[2]}")
    assert_error(vsp.get(group), 404, "KART30013-E")
    assert "cgE" not in [g["copyGroupName"] for g in vsp.get("/local-clone-copygroups").json()["data"]]


def test_group_delete_takes_every_pair(vsp):
    vsp.create_pair("cgF", "p1", 264, 520)
    vsp.create_pair("cgF", "p2", 265, 521, new=False)
    vsp.run("DELETE", "/local-clone-copygroups/cgF,cgFP_,cgFS_", {"forceDelete": True})
    assert vsp.get("/local-clone-copypairs", localCloneCopyGroupId="cgF,cgFP_,cgFS_").json() == {"data": []}
    assert "MRCF" not in vsp.get("/ldevs/520").json()["attributes"]


# jobs ---------------------------------------------------------------------------------------------
def test_nowait_completes_before_the_copy_and_waiting_job_after(vsp, lab):
    lab.settings("vsp-a", pace_rate="1MiB")
    body = {"copyGroupName": "cgG", "copyPairName": "p1", "replicationType": "SI", "pvolLdevId": 266,
            "svolLdevId": 522, "isNewGroupCreation": True}
    job = vsp.run("POST", "/local-clone-copypairs", body, nowait=True)
    assert job["state"] == "Succeeded"
    pair_id = "cgG,cgGP_,cgGS_,p1"
    assert vsp.pair(pair_id)["pvolStatus"] == "COPY"  # NoWait: the job does not wait for the copy
    vsp.wait_pair(pair_id, "PAIR")
    vsp.action(pair_id, "split")
    vsp.wait_pair(pair_id, "PSUS")
    lab.write("vsp-a", "266", blocks=DATA_BLOCKS, offset=0)
    reply = vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/resync/invoke", {"parameters": {}},
                     nowait=False)
    assert reply.status_code == 202
    job = reply.json()
    assert job["status"] == "Initializing" and job["state"] == "Queued" and job["self"].endswith(str(job["jobId"]))
    saw_running_during_copy = False
    while True:
        job = vsp.job(job["jobId"])
        status = vsp.pair(pair_id)["pvolStatus"]
        if job["status"] == "Completed":
            break
        if job["status"] == "Running" and status == "COPY":
            saw_running_during_copy = True
        time.sleep(0.02)
    assert saw_running_during_copy
    assert job["state"] == "Succeeded" and vsp.pair(pair_id)["pvolStatus"] == "PAIR"
    assert job["completedTime"] and job["request"]["requestMethod"] == "POST"
    # Response-Job-Status: Completed holds the reply until the job ends (still 202)
    reply = vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/split/invoke", {}, nowait=False, hold=True)
    assert reply.status_code == 202 and reply.json()["status"] == "Completed"
    assert vsp.pair(pair_id)["pvolStatus"] == "PSUS"
    assert vsp.job(job["jobId"])["state"] == "Succeeded"  # still readable after completion
    assert_error(vsp.get("/jobs/999999"), 404, "KART30013-E")


def test_a_waiting_job_holds_the_jobs_behind_it(vsp, lab):
    lab.settings("vsp-a", pace_rate="1MiB")
    pair_id = vsp.create_pair("cgH", "p1", 267, 523)
    vsp.action(pair_id, "split")
    lab.write("vsp-a", "267", blocks=DATA_BLOCKS, offset=0)
    first = vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/resync/invoke", {}, nowait=False).json()
    second = vsp.call("PATCH", "/ldevs/523", {"label": "behind"}).json()
    time.sleep(0.2)
    assert vsp.job(first["jobId"])["status"] == "Running"
    assert vsp.job(second["jobId"])["status"] == "Initializing"
    assert vsp.wait_job(second["jobId"])["state"] == "Succeeded"
    assert vsp.job(first["jobId"])["status"] == "Completed"


# refusals, failures -----------------------------------------------------------------------------------
def test_invalid_actions_are_refused_with_kart_ids(vsp, lab):
    pair_id = vsp.create_pair("cgI", "p1", 268, 524)
    since = last_transfer_id(lab)
    reply = vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/restore/invoke", {"parameters": {}})
    body = assert_error(reply, 412, "KART30090-E")
    assert "PAIR" in body["message"] and pair_id in body["message"]
    assert body["errorSource"].endswith("/actions/restore/invoke")
    assert vsp.action(pair_id, "resync")["state"] == "Succeeded"  # already PAIR: success, nothing applied
    assert transfers_since(lab, since) == []
    vsp.action(pair_id, "split")
    vsp.wait_pair(pair_id, "PSUS")
    assert vsp.action(pair_id, "split")["state"] == "Succeeded"  # already split
    lab.settings("vsp-a", pace_rate="64KiB")
    lab.write("vsp-a", "268", blocks=DATA_BLOCKS, offset=0)
    vsp.action(pair_id, "resync")
    assert vsp.pair(pair_id)["pvolStatus"] == "COPY"
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/restore/invoke", {}), 412, "KART30090-E")
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/split/invoke", {}), 412, "KART30090-E")
    lab.settings("vsp-a", invalid_state_reply="job")
    job = vsp.action(pair_id, "restore", ok=False)
    assert job["state"] == "Failed" and job["error"]["messageId"] == "KART30090-E"
    lab.settings("vsp-a", pace_rate=None)
    vsp.wait_pair(pair_id, "PAIR")
    # bad requests are refused before any job
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/split/invoke",
                          {"parameters": {"isQuickModeEnabled": True}}), 400, "KART30004-E")
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/split/invoke",
                          {"parameters": {"copyPace": 16}}), 400, "KART30004-E")
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/swap/invoke", {}), 404, "KART00004-E")
    assert_error(vsp.call("POST", "/local-clone-copypairs", {
        "copyGroupName": "x" * 30, "copyPairName": "p", "replicationType": "SI", "pvolLdevId": 1, "svolLdevId": 2,
        "isNewGroupCreation": True}), 400, "KART30004-E")
    assert_error(vsp.call("POST", "/local-clone-copypairs", {
        "copyGroupName": "x", "copyPairName": "p", "replicationType": "SI", "pvolLdevId": 1, "svolLdevId": 2,
        "isNewGroupCreation": True, "muNumber": 0}), 400, "KART30004-E")
    reply = vsp.get("/local-clone-copypairs", localCloneCopygroupId="cgI,cgIP_,cgIS_")
    assert "capital G" in assert_error(reply, 400, "KART30004-E")["message"]
    assert_error(vsp.get("/local-clone-copypairs/cgI,cgIP_,cgIS_,nope"), 404, "KART30013-E")
    assert_error(vsp.call("PATCH", f"/local-clone-copypairs/{pair_id}", {}), 405, "KART00005-E")


def test_injected_copy_failure_suspends_the_pair(vsp, lab):
    pair_id = vsp.create_pair("cgJ", "p1", 269, 525)
    vsp.action(pair_id, "split")
    vsp.wait_pair(pair_id, "PSUS")
    lab.write("vsp-a", "269", blocks=4, offset=200)
    lab.settings("vsp-a", fail_copies=1, pace_rate="64KiB")
    job = vsp.action(pair_id, "resync", nowait=False, ok=False)
    assert job["state"] == "Failed" and job["error"]["messageId"] == "KART30000-E"
    pair = vsp.pair(pair_id)
    assert (pair["pvolStatus"], pair["svolStatus"]) == ("PSUE", "PSUE")
    assert lab.volume("vsp-a", "525")["host_access"] == "ro"
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/split/invoke", {}), 412, "KART30090-E")
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/restore/invoke", {}), 412, "KART30090-E")
    lab.settings("vsp-a", pace_rate=None)
    since = last_transfer_id(lab)
    vsp.action(pair_id, "resync")  # after PSUE: a full copy
    vsp.wait_pair(pair_id, "PAIR")
    (copy,) = transfers_since(lab, since, "si:resync")
    assert copy["blocks"] == DATA_BLOCKS + 4
    assert lab.digest("vsp-a", "269") == lab.digest("vsp-a", "525")


def test_generic_job_failure_fault(vsp, lab):
    lab.faults("vsp-a", fail_jobs=1, fail_job_message="Injected job failure")
    job = vsp.run("POST", "/ldevs", {"poolId": 0, "blockCapacity": 131072, "ldevId": 710}, ok=False)
    assert job["state"] == "Failed" and job["error"]["messageId"] == "KART30000-E"
    assert vsp.get("/ldevs/710").json()["emulationType"] == "NOT DEFINED"


def test_injected_5xx_has_the_error_shape_or_html(vsp, lab):
    lab.faults("vsp-a", error_count=1, error_status=503)
    assert_error(vsp.get("/ldevs/256"), 503, "KART00003-E")
    lab.settings("vsp-a", html_errors=True)
    lab.faults("vsp-a", error_count=1, error_status=500)
    reply = vsp.get("/ldevs/256")
    assert reply.status_code == 500 and reply.headers["Content-Type"].startswith("text/html")


# copy modes ---------------------------------------------------------------------------------------
def test_updates_in_pair_are_copied_and_a_steady_split_flushes_them(vsp, lab):
    pair_id = vsp.create_pair("cgL", "p1", 271, 527)
    lab.settings("vsp-a", pace_rate="128KiB")  # 8 blocks at 384 KiB/s
    since = last_transfer_id(lab)
    lab.write("vsp-a", "271", blocks=8, offset=400)
    at_split = lab.digest("vsp-a", "271")
    assert vsp.pair(pair_id)["pvolStatus"] == "PAIR"  # the update copy runs behind PAIR
    assert [tr["kind"] for tr in transfers_since(lab, since)] == ["si:update"]
    vsp.action(pair_id, "split")
    assert vsp.pair(pair_id)["pvolStatus"] == "COPY"  # steady split: pending updates first
    lab.write("vsp-a", "271", blocks=2, offset=800)  # after the split: not part of the S-VOL image
    lab.settings("vsp-a", pace_rate=None)
    pair = vsp.wait_pair(pair_id, "PSUS")
    assert pair["svolStatus"] == "SSUS"
    assert lab.digest("vsp-a", "527") == at_split != lab.digest("vsp-a", "271")


def test_quick_resync_is_pair_at_once_and_copies_in_the_background(vsp, lab):
    pair_id = vsp.create_pair("cgM", "p1", 272, 528)
    vsp.action(pair_id, "split")
    vsp.wait_pair(pair_id, "PSUS")
    lab.write("vsp-a", "272", blocks=6, offset=100)
    lab.settings("vsp-a", pace_rate="128KiB")
    since = last_transfer_id(lab)
    job = vsp.action(pair_id, "resync", nowait=False, quickMode=True)
    assert job["state"] == "Succeeded" and vsp.pair(pair_id)["pvolStatus"] == "PAIR"
    assert [tr["state"] for tr in transfers_since(lab, since, "si:resync")] == ["running"]
    lab.settings("vsp-a", pace_rate=None)
    lab.wait_for(lambda: transfers_since(lab, since, "si:resync")[0]["state"] == "success", timeout=10)
    assert lab.digest("vsp-a", "272") == lab.digest("vsp-a", "528")


def test_auto_split_and_split_during_the_initial_copy(vsp, lab):
    auto = vsp.create_pair("cgN", "p1", 273, 529, wait="PSUS", autoSplit=True)
    assert vsp.pair(auto)["svolStatus"] == "SSUS"
    assert lab.digest("vsp-a", "273") == lab.digest("vsp-a", "529")
    lab.settings("vsp-a", pace_rate="64KiB")
    cancelled = vsp.create_pair("cgN", "p2", 274, 530, new=False, wait=None)
    assert vsp.pair(cancelled)["pvolStatus"] == "COPY"
    vsp.action(cancelled, "split")  # cancels the initial copy
    pair = vsp.pair(cancelled)
    assert (pair["pvolStatus"], pair["copyProgressRate"]) == ("PSUS", 0)
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{cancelled}/actions/restore/invoke", {}), 412,
                 "KART30090-E")  # the S-VOL never got a complete copy
    lab.settings("vsp-a", pace_rate=None)
    since = last_transfer_id(lab)
    vsp.action(cancelled, "resync")
    vsp.wait_pair(cancelled, "PAIR")
    (copy,) = transfers_since(lab, since, "si:resync")
    assert copy["blocks"] == DATA_BLOCKS  # a full copy
    assert lab.digest("vsp-a", "274") == lab.digest("vsp-a", "530")


def test_two_pairs_on_one_pvol_and_group_force_suspend(vsp, lab):
    first = vsp.create_pair("cgO", "p1", 275, 531)
    second = vsp.create_pair("cgO", "p2", 275, 532, new=False)
    assert [vsp.pair(first)["pvolMuNumber"], vsp.pair(second)["pvolMuNumber"]] == [0, 1]
    vsp.action(first, "split")
    vsp.wait_pair(first, "PSUS")
    # restore onto a P-VOL whose other pair still mirrors it is refused
    assert_error(vsp.call("POST", f"/local-clone-copypairs/{first}/actions/restore/invoke", {}), 412, "KART30090-E")
    group = "/local-clone-copygroups/cgO,cgOP_,cgOS_"
    vsp.run("POST", f"{group}/actions/split/invoke", {"parameters": {"forceSuspend": True}})
    assert [vsp.pair(p)["pvolStatus"] for p in (first, second)] == ["PSUE", "PSUE"]
    reply = vsp.call("POST", f"{group}/actions/restore/invoke", {})
    assert_error(reply, 412, "KART30090-E")
    vsp.run("POST", f"{group}/actions/resync/invoke", {}, nowait=False)
    assert [vsp.pair(p)["pvolStatus"] for p in (first, second)] == ["PAIR", "PAIR"]
    assert lab.digest("vsp-a", "531") == lab.digest("vsp-a", "275") == lab.digest("vsp-a", "532")
