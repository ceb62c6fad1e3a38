"""storage.replication.smis_sync_info against the lab's SMI-S providers, over CIM-XML on HTTPS.

The synchronizations are made with pywbem directly (a client independent of
the module under test), then read back through the module.
"""

from __future__ import annotations

import time

import pytest
import pywbem

from module_helpers import smis_topology

LAB_TOPOLOGY = smis_topology(local=3, remote=5)
U16 = pywbem.Uint16


def connect(lab, array):
    info = lab.array(array)
    conn = pywbem.WBEMConnection(info["url"], (info["username"], info["password"]),
                                 default_namespace=info["namespace"], ca_certs=info["ca_file"], timeout=30)
    conn.session.trust_env = False
    return conn


def volume(conn, name):
    return next(i.path for i in conn.EnumerateInstances("CIM_StorageVolume", PropertyList=["ElementName"])
                if i["ElementName"] == name)


def service(conn, classname="CIM_ReplicationService"):
    return conn.EnumerateInstanceNames(classname)[0]


def wait_job(conn, job, timeout=15.0):
    deadline = time.monotonic() + timeout
    while conn.GetInstance(job)["JobState"] not in (7, 8, 9, 10):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def create(conn, source, sync_type, name, mode=2, wait=True):
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(sync_type), Mode=U16(mode),
                                SourceElement=volume(conn, source), ElementName=name)
    assert rc in (0, 4096)
    if rc == 4096 and wait:
        wait_job(conn, out["Job"])
    return out


def args(lab, array="smis-b", **kwargs):
    return dict(lab.connection(array), namespace=lab.array(array)["namespace"], **kwargs)


@pytest.fixture(scope="module", autouse=True)
def pairs(lab):
    conn = connect(lab, "smis-b")
    create(conn, "vol1", 6, "vol1_m")                       # sync mirror
    create(conn, "vol2", 6, "vol2_am", mode=3)              # async mirror
    create(conn, "vol3", 8, "vol3_c")                       # clone
    create(conn, "vol3", 7, "vol3_s")                       # snapshot
    split = conn.References(volume(conn, "vol2_am"), ResultClass="CIM_StorageSynchronized", Role="SyncedElement")
    rc, _out = conn.InvokeMethod("ModifyReplicaSynchronization", service(conn), Operation=U16(21),
                                 Synchronization=split[0].path)
    assert rc == 0
    lab.faults("smis-b", fail_jobs=1, fail_job_message="link lost")
    create(conn, "vol4", 6, "vol4_m")                       # broken
    lab.clear_faults("smis-b")
    tpd = connect(lab, "smis-a")
    rc, out = tpd.InvokeMethod("AttachOrModifyReplica", service(tpd, "CIM_StorageConfigurationService"),
                               SourceElement=volume(tpd, "vol1"), TargetElement=volume(tpd, "copy1"), CopyType=U16(4))
    assert rc == 4096
    wait_job(tpd, out["Job"])
    rc, _out = tpd.InvokeMethod("CreateReplica", service(tpd, "CIM_StorageConfigurationService"),
                                SourceElement=volume(tpd, "vol2"), ElementName="vol2_vc", CopyType=U16(4))
    assert rc == 0


def test_every_synchronization_with_normalized_facts_in_two_requests(lab, run_module):
    mark = lab.mark()
    result = run_module("smis_sync_info", args(lab))
    assert not result["failed"], result
    assert result["changed"] is False and result["requests_sent"] == 2
    assert lab.mutations_since(mark) == []
    found = {(f["source"], f["target"]): f for f in result["synchronizations"]}
    assert list(found) == sorted(found)
    assert set(found) == {("vol1", "vol1_m"), ("vol2", "vol2_am"), ("vol3", "vol3_c"), ("vol3", "vol3_s"),
                          ("vol4", "vol4_m")}
    mirror = found[("vol1", "vol1_m")]
    assert mirror["source_device_id"] == "201" and mirror["target_device_id"]
    assert (mirror["state"], mirror["copy_state"], mirror["copy_state_value"]) == ("synchronized", "Synchronized", 4)
    assert (mirror["sync_state"], mirror["mode"], mirror["sync_type"]) == ("Synchronized", "sync", "mirror")
    assert mirror["healthy"] is True and mirror["transferring"] is False and mirror["progress"] == 100
    assert mirror["lag_seconds"] is not None and mirror["lag_seconds"] < 60
    assert mirror["recovery_point"] and mirror["when_synced"].startswith(mirror["recovery_point"][:19])
    assert mirror["replication_type"] == 2
    split = found[("vol2", "vol2_am")]
    assert (split["state"], split["mode"], split["replication_type"]) == ("split", "async", 3)
    clone, snap = found[("vol3", "vol3_c")], found[("vol3", "vol3_s")]
    assert (clone["sync_type"], clone["lag_seconds"], snap["sync_type"]) == ("clone", None, "snapshot")
    assert clone["recovery_point"] is not None
    broken = found[("vol4", "vol4_m")]
    assert (broken["state"], broken["healthy"], broken["copy_state_value"]) == ("broken", False, 5)
    summary = result["summary"]
    assert summary["count"] == 5 and summary["unhealthy"] == 1 and summary["healthy"] == 4
    assert summary["by_state"] == {"synchronized": 3, "split": 1, "broken": 1}


def test_volumes_select_pairs_by_name_or_device_id(lab, run_module):
    result = run_module("smis_sync_info", args(lab, volumes=["vol3_c", "201"]))
    pairs_found = [(f["source"], f["target"]) for f in result["synchronizations"]]
    assert pairs_found == [("vol1", "vol1_m"), ("vol3", "vol3_c")]
    missing = run_module("smis_sync_info", args(lab, volumes=["nope"]))
    assert missing["failed"] and "'nope' is not a volume" in missing["msg"]


def test_query_and_rpo(lab, run_module):
    unhealthy = run_module("smis_sync_info", args(lab, query="[?!healthy].target"))
    assert unhealthy["synchronizations"] == ["vol4_m"]
    count = run_module("smis_sync_info", args(lab, query="length([?sync_type=='mirror'])"))
    assert count["query_result"] == 3 and len(count["synchronizations"]) == 5
    late = run_module("smis_sync_info", args(lab, max_lag=3600, query="[?over_rpo].target"))
    assert late["synchronizations"] == ["vol4_m"]  # never synchronized
    assert late["summary"]["over_rpo"] == 1
    bad = run_module("smis_sync_info", args(lab, query="[?"))
    assert bad["failed"] and "not valid JMESPath" in bad["msg"]


def test_a_copy_in_progress_is_transferring(lab, run_module):
    lab.settings("smis-b", copy_rate="1MiB")
    try:
        create(connect(lab, "smis-b"), "vol5", 8, "vol5_c", wait=False)
        result = run_module("smis_sync_info", args(lab, volumes=["vol5"]))
        copying = result["synchronizations"][0]
        assert copying["state"] == "copying" and copying["transferring"] is True and copying["progress"] < 100
        assert copying["progress_status"] == "Synchronizing"
        assert result["summary"]["transferring"] == 1
    finally:
        lab.settings("smis-b", copy_rate=0)


def test_3par_copies_and_capabilities(lab, run_module):
    result = run_module("smis_sync_info", args(lab, "smis-a", capabilities=True))
    assert not result["failed"], result
    found = {f["target"]: f for f in result["synchronizations"]}
    physical, virtual = found["copy1"], found["vol2_vc"]
    assert (physical["sync_type"], physical["sync_state"], physical["state"]) == ("clone", "Frozen", "synchronized")
    assert (virtual["sync_type"], virtual["sync_state"], virtual["state"]) == ("snapshot", "Idle", "inactive")
    caps = result["capabilities"]
    assert (caps["system"], caps["namespace"]) == ("smis-a", "root/tpd")
    assert (caps["replication_service"], caps["configuration_service"]) == ("TPD_ReplicationService",
                                                                            "TPD_StorageConfigurationService")
    by_type = {t["value"]: [o["value"] for o in t["operations"]] for t in caps["replication_types"]}
    assert by_type == {6: [8, 9, 15, 19], 10: [2], 11: [2, 8, 9, 14]}
    legacy = {t["name"]: [o["name"] for o in t["modify_operations"]] for t in caps["legacy_synchronization_types"]}
    assert legacy == {"UnSyncAssoc-Delta": ["Restore"], "UnSyncAssoc-Full": ["Detach", "Resync", "Start Copy",
                                                                             "Stop Copy"],
                      "UnSyncUnAssoc": ["Stop Copy"]}


def test_generic_capabilities_have_no_legacy_service(lab, run_module):
    caps = run_module("smis_sync_info", args(lab, capabilities=True))["capabilities"]
    assert caps["configuration_service"] is None and caps["legacy_synchronization_types"] == []
    types = {t["value"]: t for t in caps["replication_types"]}
    assert sorted(types) == [2, 3, 6, 7, 10, 11]
    assert 20 in [o["value"] for o in types[2]["operations"]]
    assert {"value": 18, "name": "Restored"} in types[2]["copy_states"]
