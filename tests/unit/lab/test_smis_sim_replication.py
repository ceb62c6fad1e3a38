"""The SMI-S simulator's "generic" Replication Services profile: mirrors, clones, snapshots, capabilities and jobs.

Everything goes over real HTTPS to a lab of this module's own: pywbem for the
client side (plus one pywbem client in a separate process), the control API
for data and faults. CIM-XML protocol and discovery are covered in test_smis_sim.py,
the "3par" profile in test_smis_3par.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import typing as t
import xml.etree.ElementTree as ET

import pytest
import pywbem

from smis_helpers import (ABORT, CLONE, DETACH, DISSOLVE, FAILBACK, FAILOVER, FRACTURE, MIRROR, RESET_ASYNC, RESET_SYNC, RESTORE,
                          RESUME, RESYNC, RETURN_TO_POOL, REVERSE, SNAPSHOT, SPLIT, SUSPEND, TOPOLOGY, U16, capabilities,
                          connect, create, device, job_ok, modify, service, volume, wait_job)

LAB_TOPOLOGY = TOPOLOGY


# helpers ----------------------------------------------------------------------------------------
def modify_wait(conn: pywbem.WBEMConnection, op: int, sync: pywbem.CIMInstanceName) -> None:
    rc, out = modify(conn, op, sync)
    if rc == 4096:
        assert job_ok(wait_job(conn, out["Job"]))
    else:
        assert rc == 0, f"operation {op}: rc {rc}"


def copy_state(conn: pywbem.WBEMConnection, sync: pywbem.CIMInstanceName) -> int:
    return int(conn.GetInstance(sync)["CopyState"])


def digest(lab, array: str, path: pywbem.CIMInstanceName) -> str:
    return lab.digest(array, device(path))


def access(lab, array: str, path: pywbem.CIMInstanceName) -> str:
    return lab.volume(array, device(path))["host_access"]


def last_transfer(lab, kind: str) -> dict[str, t.Any]:
    return [tr for tr in lab.transfers()["finished"] if tr["kind"] == kind][-1]


def raw_booleans(conn: pywbem.WBEMConnection, name: str) -> list[bool]:
    """A boolean array out-parameter as sent on the wire.

    pywbem 1.9.1 turns boolean output parameters into ``bool(text)``, so "FALSE"
    arrives as True; the raw reply is what the server said.
    """
    root = ET.fromstring(conn.last_raw_reply)
    param = next(p for p in root.iter("PARAMVALUE") if p.get("NAME") == name)
    assert param.get("PARAMTYPE") == "boolean"
    return [v.text == "TRUE" for v in param.iter("VALUE")]


@pytest.fixture(scope="module", name="conn")
def conn_fixture(lab) -> pywbem.WBEMConnection:
    return connect(lab, "smis-b")


@pytest.fixture(autouse=True)
def _clean_knobs(lab) -> t.Iterator[None]:
    yield
    lab.clear_faults("smis-b")
    lab.settings("smis-b", job_retention=300, copy_rate=0, wait_timeout=60)


# the generic profile: mirrors ------------------------------------------------------------------------
def test_mirror_create_polls_job_to_synchronized(conn, lab):
    lab.settings("smis-b", copy_rate="2MiB")          # 1 MiB of data: half a second
    src = volume(conn, "vol1")
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), ElementName="vol1_dr", SyncType=U16(MIRROR),
                                Mode=U16(2), SourceElement=src)
    assert rc == 4096
    job, sync, target = out["Job"], out["Synchronization"], out["TargetElement"]
    running = conn.GetInstance(job)
    assert running["JobState"] == 4 and running["OperationalStatus"] == [2] and running["PercentComplete"] < 100
    during = conn.GetInstance(sync)
    assert (during["CopyState"], during["ProgressStatus"], during["RequestedCopyState"]) == (3, 6, 4)
    assert access(lab, "smis-b", target) == "ro"
    done = wait_job(conn, job)
    assert job_ok(done) and done["PercentComplete"] == 100 and list(done["OperationalStatus"]) == [2, 17]
    pair = conn.GetInstance(sync)
    assert (pair["CopyState"], pair["ProgressStatus"], pair["SyncState"], pair["RequestedCopyState"]) == (4, 2, 6, 15)
    assert pair["SyncType"] == MIRROR and pair["Mode"] == 2 and pair["SyncMaintained"] is True
    assert pair["WhenSynced"] is not None and pair["PercentSynced"] == 100
    assert conn.GetInstance(target)["ElementName"] == "vol1_dr"
    assert digest(lab, "smis-b", target) == digest(lab, "smis-b", src)
    created = last_transfer(lab, "smis-mirror-create")
    assert created["source"] == f"smis-b:{device(src)}" and created["blocks"] == 16
    # the job names what it created; the pair is found from either volume
    affected = conn.AssociatorNames(job, AssocClass="CIM_AffectedJobElement")
    assert [device(p) for p in affected] == [device(target)]
    assert len(conn.References(src, ResultClass="CIM_StorageSynchronized", Role="SystemElement")) == 1
    assert conn.ReferenceNames(target, ResultClass="CIM_StorageSynchronized", Role="SyncedElement")
    # a synchronous mirror carries every host write at once
    lab.write("smis-b", device(src), blocks=3)
    assert digest(lab, "smis-b", target) == digest(lab, "smis-b", src)
    modify(conn, DETACH, sync)


def test_write_fracture_write_resync_moves_only_changed_blocks(conn, lab):
    sync, target = create(conn, "vol2")
    src = volume(conn, "vol2")
    rc, _out = modify(conn, FRACTURE, sync)
    assert rc == 0 and copy_state(conn, sync) == 6
    assert conn.GetInstance(sync)["SyncState"] == 13
    assert access(lab, "smis-b", target) == "rw"
    lab.write("smis-b", device(src), blocks=3, offset=0)
    lab.write("smis-b", device(target), blocks=2, offset=40)
    assert digest(lab, "smis-b", target) != digest(lab, "smis-b", src)
    rc, out = modify(conn, RESYNC, sync)
    assert rc == 4096
    assert job_ok(wait_job(conn, out["Job"]))
    assert copy_state(conn, sync) == 4
    assert digest(lab, "smis-b", target) == digest(lab, "smis-b", src)
    assert last_transfer(lab, "smis-resync")["blocks"] == 5      # changed on either side, nothing else
    state = lab.http.get(f"{lab.control_url}/arrays/smis-b", timeout=10).json()
    described = [p for p in state["synchronizations"] if p["target"] == device(target)]
    assert described == [dict(described[0], source=device(src), kind="mirror", copy_state=4, activity=None)]
    assert access(lab, "smis-b", target) == "ro"
    modify(conn, DETACH, sync)


def test_split_then_restore_renews_the_source(conn, lab):
    sync, target = create(conn, "vol3")
    src = volume(conn, "vol3")
    assert modify(conn, SPLIT, sync)[0] == 0 and copy_state(conn, sync) == 7
    at_split = digest(lab, "smis-b", target)
    lab.write("smis-b", device(src), blocks=4)
    assert digest(lab, "smis-b", src) != at_split
    rc, out = modify(conn, RESTORE, sync)
    assert rc == 4096
    assert conn.GetInstance(sync)["ProgressStatus"] in (8, 2)
    assert job_ok(wait_job(conn, out["Job"]))
    pair = conn.GetInstance(sync)
    assert pair["CopyState"] == 18
    assert digest(lab, "smis-b", src) == at_split == digest(lab, "smis-b", target)
    modify_wait(conn, RESYNC, sync)
    assert copy_state(conn, sync) == 4
    modify(conn, DETACH, sync)


def test_reverse_roles_updates_the_path_and_back(conn, lab):
    sync, target = create(conn, "vol4")
    src = volume(conn, "vol4")
    rc, out = modify(conn, REVERSE, sync)
    assert rc == 0
    reversed_path = out["UpdatedSynchronization"]
    assert device(reversed_path.keybindings["SystemElement"]) == device(target)
    assert device(reversed_path.keybindings["SyncedElement"]) == device(src)
    with pytest.raises(pywbem.CIMError) as gone:
        conn.GetInstance(sync)
    assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    with pytest.raises(pywbem.CIMError) as stale:
        modify(conn, FRACTURE, sync)
    assert stale.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    assert copy_state(conn, reversed_path) == 4
    assert (access(lab, "smis-b", target), access(lab, "smis-b", src)) == ("rw", "ro")
    lab.write("smis-b", device(target), blocks=2)      # the new source mirrors to the old one
    assert digest(lab, "smis-b", src) == digest(lab, "smis-b", target)
    rc, out = modify(conn, REVERSE, reversed_path)
    assert rc == 0
    back = out["UpdatedSynchronization"]
    assert device(back.keybindings["SystemElement"]) == device(src)
    assert (access(lab, "smis-b", src), access(lab, "smis-b", target)) == ("rw", "ro")
    caps = conn.InvokeMethod("GetSupportedOperations", capabilities(conn), ReplicationType=U16(2))[1]
    flags = dict(zip(caps["SupportedOperations"], raw_booleans(conn, "UpdatesSynchronizedPath")))
    assert flags[REVERSE] is True and flags[FRACTURE] is False
    modify(conn, DETACH, back)


def test_failover_then_failback_keeps_the_dr_writes(conn, lab):
    sync, target = create(conn, "vol5")
    src = volume(conn, "vol5")
    assert modify(conn, FAILOVER, sync)[0] == 0
    assert copy_state(conn, sync) == 10
    assert (access(lab, "smis-b", src), access(lab, "smis-b", target)) == ("ro", "rw")
    lab.write("smis-b", device(target), blocks=5)
    rc, out = modify(conn, FAILBACK, sync)
    assert rc == 4096
    assert job_ok(wait_job(conn, out["Job"]))
    assert copy_state(conn, sync) == 4
    assert digest(lab, "smis-b", src) == digest(lab, "smis-b", target)
    assert last_transfer(lab, "smis-failback")["source"] == f"smis-b:{device(target)}"
    assert access(lab, "smis-b", src) == "rw"
    modify(conn, DISSOLVE, sync)


def test_suspend_resume_and_async_mirror_with_mode_changes(conn, lab):
    sync, target = create(conn, "vol6", mode=3)
    src = volume(conn, "vol6")
    pair = conn.GetInstance(sync)
    assert (pair["Mode"], pair["CopyType"]) == (3, 2)
    lab.write("smis-b", device(src), blocks=4)          # carried by a background update
    lab.wait_for(lambda: digest(lab, "smis-b", target) == digest(lab, "smis-b", src), timeout=5)
    assert last_transfer(lab, "smis-mirror-update")["blocks"] == 4
    assert modify(conn, RESET_SYNC, sync)[0] == 0 and conn.GetInstance(sync)["Mode"] == 2
    assert modify(conn, RESET_ASYNC, sync)[0] == 0 and conn.GetInstance(sync)["Mode"] == 3
    assert modify(conn, SUSPEND, sync)[0] == 0 and copy_state(conn, sync) == 9
    lab.write("smis-b", device(src), blocks=2)
    time.sleep(0.1)
    assert digest(lab, "smis-b", target) != digest(lab, "smis-b", src)
    modify_wait(conn, RESUME, sync)
    assert copy_state(conn, sync) == 4
    assert digest(lab, "smis-b", target) == digest(lab, "smis-b", src)
    modify(conn, DETACH, sync)


def test_detach_and_dissolve_end_the_pair_and_keep_both_volumes(conn, lab):
    for op in (DETACH, DISSOLVE):
        sync, target = create(conn, "vol7")
        src = volume(conn, "vol7")
        assert modify(conn, op, sync)[0] == 0
        with pytest.raises(pywbem.CIMError) as gone:
            conn.GetInstance(sync)
        assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND
        assert conn.GetInstance(target)["DeviceID"] == device(target)
        assert conn.References(target, ResultClass="CIM_StorageSynchronized") == []
        assert access(lab, "smis-b", target) == "rw"
        assert lab.volume("smis-b", device(src))["digest"] == digest(lab, "smis-b", target)


def test_refusals_change_nothing(conn, lab):
    sync, target = create(conn, "vol1")
    before = conn.GetInstance(sync)
    transfers = len(lab.transfers()["finished"])
    for op, rc_expected in ((RESYNC, 6), (RESUME, 6), (FAILBACK, 6), (RETURN_TO_POOL, 1), (3, 1), (24, 1),
                            (99, 5), (0x8001, 1)):
        assert modify(conn, op, sync)[0] == rc_expected, op
    after = conn.GetInstance(sync)
    assert (after["CopyState"], after["Mode"]) == (before["CopyState"], before["Mode"])
    assert len(lab.transfers()["finished"]) == transfers
    assert digest(lab, "smis-b", target) == digest(lab, "smis-b", volume(conn, "vol1"))
    rc, _out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(MIRROR),
                                 SourceElement=volume(conn, "vol2"), TargetElement=target)
    assert rc == 6                                     # already the target of a pair
    rc, _out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(MIRROR), Mode=U16(4),
                                 SourceElement=volume(conn, "vol2"))
    assert rc == 1                                     # adaptive mode is not offered
    modify(conn, DETACH, sync)


# clones and snapshots -------------------------------------------------------------------------------
def test_clone_into_an_existing_volume_then_restore(conn, lab):
    src, tgt = volume(conn, "vol2"), volume(conn, "vol8")
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(CLONE), SourceElement=src,
                                TargetElement=tgt)
    assert rc == 4096 and device(out["TargetElement"]) == device(tgt)
    assert job_ok(wait_job(conn, out["Job"]))
    sync = out["Synchronization"]
    pair = conn.GetInstance(sync)
    assert (pair["CopyState"], pair["SyncState"], pair["SyncMaintained"]) == (4, 14, False)
    assert access(lab, "smis-b", tgt) == "rw"
    clone_digest = digest(lab, "smis-b", tgt)
    lab.write("smis-b", device(src), blocks=2)
    assert digest(lab, "smis-b", tgt) == clone_digest          # a clone is a point in time
    modify_wait(conn, RESTORE, sync)
    assert copy_state(conn, sync) == 18 and digest(lab, "smis-b", src) == clone_digest
    modify(conn, DETACH, sync)


def test_snapshot_is_instant_resyncs_and_returns_to_the_pool(conn, lab):
    src = volume(conn, "vol3")
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), ElementName="vol3_snap",
                                SyncType=U16(SNAPSHOT), SourceElement=src)
    assert rc == 0 and "Job" not in out
    sync, snap = out["Synchronization"], out["TargetElement"]
    pair = conn.GetInstance(sync)
    assert (pair["CopyState"], pair["SyncType"], pair["ReplicaType"]) == (4, SNAPSHOT, 4)
    assert digest(lab, "smis-b", snap) == digest(lab, "smis-b", src)
    assert modify(conn, FRACTURE, sync)[0] == 1
    lab.write("smis-b", device(src), blocks=2)
    assert modify(conn, RESYNC, sync)[0] == 0                 # a new point in time, at once
    assert digest(lab, "smis-b", snap) == digest(lab, "smis-b", src)
    assert modify(conn, RETURN_TO_POOL, sync)[0] == 0
    with pytest.raises(pywbem.CIMError):
        conn.GetInstance(snap)
    assert device(snap) not in lab.volumes("smis-b")


# capabilities ------------------------------------------------------------------------------------------
def test_capability_queries(conn):
    caps = capabilities(conn)
    rc, out = conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(2))
    ops = list(out["SupportedOperations"])
    assert rc == 0 and {ABORT, DETACH, DISSOLVE, FAILOVER, FAILBACK, FRACTURE, RESYNC, RESTORE, RESUME,
                        RESET_SYNC, RESET_ASYNC, REVERSE, SPLIT, SUSPEND} <= set(ops)
    assert len(out["ServiceControlling"]) == len(out["RequiresForce"]) == len(ops)
    rc, out = conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(6))
    assert list(out["SupportedOperations"]) == [DETACH, DISSOLVE, RESYNC, RESTORE, RETURN_TO_POOL]
    rc, out = conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(10), CopyState=U16(4))
    assert set(out["SupportedOperations"]) == {DETACH, DISSOLVE, FRACTURE, RESYNC, RESTORE, SPLIT}
    assert conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(4))[0] == 1   # remote mirror
    assert conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(99))[0] == 5
    rc, out = conn.InvokeMethod("GetSupportedCopyStates", caps, ReplicationType=U16(2), Operation=U16(FRACTURE))
    assert list(out["SupportedCopyStates"]) == [3, 4]
    rc, out = conn.InvokeMethod("GetSupportedCopyStates", caps, ReplicationType=U16(2))
    accessible = dict(zip(out["SupportedCopyStates"], raw_booleans(conn, "HostAccessible")))
    assert accessible[4] is False and accessible[6] is True
    # "MethodName" clashes with InvokeMethod's own first argument: pass it in Params
    rc, out = conn.InvokeMethod("GetSupportedWaitForCopyStates", caps,
                                Params=[("ReplicationType", U16(2)), ("MethodName", U16(2))])
    assert list(out["SupportedCopyStates"]) == [4]
    rc, out = conn.InvokeMethod("GetSupportedWaitForCopyStates", caps, Params=[
        ("ReplicationType", U16(3)), ("MethodName", U16(4)), ("Operation", U16(SPLIT))])
    assert list(out["SupportedCopyStates"]) == [7]
    sync, _target = create(conn, "vol4")
    rc, out = conn.InvokeMethod("GetSupportedOperationsForSynchronization", caps, Synchronization=sync)
    now = set(out["SupportedOperations"])
    assert FRACTURE in now and SPLIT in now and RESYNC not in now and FAILBACK not in now
    modify(conn, DETACH, sync)


# jobs -----------------------------------------------------------------------------------------------
def test_failed_copy_breaks_the_pair_and_reports_the_error(conn, lab):
    lab.faults("smis-b", fail_jobs=1, fail_job_message="Injected: copy engine fault", fail_job_code="42")
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(MIRROR),
                                SourceElement=volume(conn, "vol5"))
    assert rc == 4096
    job = wait_job(conn, out["Job"])
    assert job["JobState"] == 10 and 6 in job["OperationalStatus"] and not job_ok(job)
    assert (job["ErrorCode"], job["ErrorDescription"]) == (42, "Injected: copy engine fault")
    rc, err = conn.InvokeMethod("GetError", out["Job"])
    assert rc == 0 and isinstance(err["Error"], pywbem.CIMInstance)
    assert err["Error"]["Message"] == "Injected: copy engine fault"
    assert conn.InvokeMethod("GetErrors", out["Job"])[1]["Errors"][0]["CIMStatusCode"] == 1
    sync = out["Synchronization"]
    pair = conn.GetInstance(sync)
    assert (pair["CopyState"], pair["SyncState"]) == (5, 12)
    modify_wait(conn, RESYNC, sync)                     # the generic provider restarts a Broken mirror
    assert copy_state(conn, sync) == 4
    assert digest(lab, "smis-b", out["TargetElement"]) == digest(lab, "smis-b", volume(conn, "vol5"))
    modify(conn, DETACH, sync)


def test_wait_for_copy_state_returns_when_done(conn, lab):
    lab.settings("smis-b", copy_rate="8MiB")
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(CLONE),
                                SourceElement=volume(conn, "vol6"), WaitForCopyState=U16(4))
    assert rc == 0 and copy_state(conn, out["Synchronization"]) == 4
    assert job_ok(conn.GetInstance(out["Job"]))
    rc, _out = modify(conn, FRACTURE, out["Synchronization"], WaitForCopyState=U16(7))
    assert rc == 5                                      # Fracture ends in 6, not 7
    modify(conn, DETACH, out["Synchronization"])


def test_abort_and_terminate_stop_a_running_copy(conn, lab):
    lab.settings("smis-b", copy_rate="256KiB")          # 1 MiB: four seconds
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(MIRROR),
                                SourceElement=volume(conn, "vol7"))
    assert rc == 4096
    assert modify(conn, ABORT, out["Synchronization"])[0] == 0
    assert copy_state(conn, out["Synchronization"]) == 12
    assert conn.GetInstance(out["Job"])["JobState"] == 8
    modify(conn, DETACH, out["Synchronization"])
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(CLONE),
                                SourceElement=volume(conn, "vol7"))
    assert conn.InvokeMethod("RequestStateChange", out["Job"], RequestedState=U16(3))[0] == 1
    assert conn.InvokeMethod("RequestStateChange", out["Job"], RequestedState=U16(4))[0] == 0
    assert conn.GetInstance(out["Job"])["JobState"] == 8
    assert copy_state(conn, out["Synchronization"]) == 12
    modify(conn, DETACH, out["Synchronization"])


def test_jobs_vanish_after_their_retention(conn, lab):
    lab.settings("smis-b", job_retention=0.2)
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(CLONE),
                                SourceElement=volume(conn, "vol8"))
    assert rc == 4096 and job_ok(wait_job(conn, out["Job"]))
    time.sleep(0.5)
    with pytest.raises(pywbem.CIMError) as gone:
        conn.GetInstance(out["Job"])
    assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    assert copy_state(conn, out["Synchronization"]) == 4   # judge by CopyState once the job is gone
    modify(conn, DETACH, out["Synchronization"])


# an independent client in a process of its own --------------------------------------------------------
CLIENT = r"""
import json, sys
import pywbem

info = json.loads(sys.argv[1])
conn = pywbem.WBEMConnection(info["url"], (info["username"], info["password"]),
                             default_namespace=info["namespace"], ca_certs=info["ca_file"])
conn.session.trust_env = False
pairs = conn.EnumerateInstances("CIM_StorageSynchronized")
mine = [p for p in pairs if p["SystemElement"]["DeviceID"] == info["device"]]
system = conn.EnumerateInstanceNames("CIM_ComputerSystem")[0]
svc = conn.AssociatorNames(system, AssocClass="CIM_HostedService", ResultClass="CIM_ReplicationService")[0]
rc, out = conn.InvokeMethod("ModifyReplicaSynchronization", svc, Operation=pywbem.Uint16(12),
                            Synchronization=mine[0].path)
after = conn.GetInstance(mine[0].path)
print(json.dumps({"pairs": len(pairs), "mine": len(mine), "rc": int(rc), "copy_state": int(after["CopyState"])}))
"""


def test_independent_pywbem_client_in_another_process(conn, lab, tmp_path):
    sync, _target = create(conn, "vol6")
    info = dict(lab.array("smis-b"))
    info["device"] = device(volume(conn, "vol6"))
    script = tmp_path / "client.py"
    script.write_text(CLIENT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    result = subprocess.run([sys.executable, str(script), json.dumps(info)], capture_output=True, text=True,
                            timeout=60, env=env, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["mine"] == 1 and answer["pairs"] >= 1
    assert answer["rc"] == 0 and answer["copy_state"] == 6
    assert copy_state(conn, sync) == 6
    modify(conn, DETACH, sync)
