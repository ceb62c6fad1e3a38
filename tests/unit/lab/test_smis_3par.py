"""The SMI-S simulator's "3par" provider profile (array smis-a, namespace root/tpd).

Local physical copies (AttachOrModifyReplica, CreateElementReplica Clone) and
virtual copies (CreateReplica, CreateElementReplica Snapshot), the legacy
ModifySynchronization operations 2-13 as the 3PAR reference describes them, and
the restricted ReplicationService; over real HTTPS with pywbem.
"""

from __future__ import annotations

import typing as t

import pytest
import pywbem

from smis_helpers import TOPOLOGY, U16, connect, device, job_ok, service, volume, wait_job

LAB_TOPOLOGY = dict(TOPOLOGY, arrays={"smis-a": TOPOLOGY["arrays"]["smis-a"]})  # the 3par array alone
# legacy ModifySynchronization operations
DETACH, FRACTURE, RESYNC, RESTORE, PREPARE, UNPREPARE, QUIESCE, UNQUIESCE, RESET_SYNC, RESET_ASYNC, START_COPY, \
    STOP_COPY = range(2, 14)
UNSYNC_ASSOC, UNSYNC_UNASSOC = 4, 5


def config_service(conn: pywbem.WBEMConnection) -> pywbem.CIMInstanceName:
    return service(conn, "CIM_StorageConfigurationService")


def pair_of(conn: pywbem.WBEMConnection, target: pywbem.CIMInstanceName) -> pywbem.CIMInstance | None:
    pairs = conn.References(target, ResultClass="CIM_StorageSynchronized", Role="SyncedElement")
    return pairs[0] if pairs else None


def modify_sync(conn: pywbem.WBEMConnection, op: int, sync: pywbem.CIMInstanceName) -> tuple[int, t.Any]:
    return conn.InvokeMethod("ModifySynchronization", config_service(conn), Operation=U16(op), Synchronization=sync)


def physical_copy(conn: pywbem.WBEMConnection, source: str, target: str,
                  copy_type: int = UNSYNC_ASSOC) -> tuple[pywbem.CIMInstance, pywbem.CIMInstanceName]:
    """AttachOrModifyReplica, waited for: (the job when done, target path)."""
    tgt = volume(conn, target)
    rc, out = conn.InvokeMethod("AttachOrModifyReplica", config_service(conn), SourceElement=volume(conn, source),
                                TargetElement=tgt, CopyType=U16(copy_type))
    assert rc == 4096 and set(out) == {"Job"}
    return wait_job(conn, out["Job"]), tgt


def digest(lab, path: pywbem.CIMInstanceName) -> str:
    return lab.digest("smis-a", device(path))


def access(lab, path: pywbem.CIMInstanceName) -> str:
    return lab.volume("smis-a", device(path))["host_access"]


def last_transfer(lab, kind: str) -> dict[str, t.Any]:
    return [tr for tr in lab.transfers()["finished"] if tr["kind"] == kind][-1]


@pytest.fixture(scope="module", name="conn")
def conn_fixture(lab) -> pywbem.WBEMConnection:
    return connect(lab, "smis-a")


@pytest.fixture(autouse=True)
def _clean_knobs(lab) -> t.Iterator[None]:
    yield
    lab.clear_faults("smis-a")
    lab.settings("smis-a", job_retention=300, copy_rate=0)


# discovery ---------------------------------------------------------------------------------------------
def test_discovery_of_the_3par_provider(conn, lab):
    assert lab.array("smis-a")["namespace"] == "root/tpd"
    assert [s.classname for s in conn.EnumerateInstanceNames("CIM_ComputerSystem")] == ["TPD_StorageSystem"]
    vols = conn.EnumerateInstances("CIM_StorageVolume")
    assert {v.classname for v in vols} == {"TPD_StorageVolume"}
    assert {v["DeviceID"] for v in vols} >= {str(n) for n in range(101, 109)}
    assert config_service(conn).classname == "TPD_StorageConfigurationService"
    assert service(conn, "CIM_ReplicationService").classname == "TPD_ReplicationService"
    legacy = conn.Associators(config_service(conn), AssocClass="CIM_ElementCapabilities",
                              ResultClass="CIM_StorageReplicationCapabilities")
    by_type = {c["SupportedSynchronizationType"]: list(c["SupportedModifyOperations"]) for c in legacy}
    assert by_type == {5: [RESTORE], 4: [DETACH, RESYNC, START_COPY, STOP_COPY], 6: [STOP_COPY]}
    ops = pywbem.ValueMapping.for_parameter(conn, "root/tpd", "TPD_StorageConfigurationService",
                                            "ModifySynchronization", "Operation")
    assert ops.tovalues(FRACTURE) == "Fracture" and ops.tovalues(STOP_COPY) == "Stop Copy"
    with pytest.raises(pywbem.CIMError) as wrong_namespace:
        conn.EnumerateInstanceNames("CIM_StorageVolume", namespace="root/cimv2")
    assert wrong_namespace.value.status_code == pywbem.CIM_ERR_INVALID_NAMESPACE


# physical copies ----------------------------------------------------------------------------------------
def test_physical_copy_then_resync_after_writes(conn, lab):
    lab.settings("smis-a", copy_rate="2MiB")          # 1 MiB of data: half a second
    src, tgt = volume(conn, "vol1"), volume(conn, "vol2")
    rc, out = conn.InvokeMethod("AttachOrModifyReplica", config_service(conn), SourceElement=src,
                                TargetElement=tgt, CopyType=U16(UNSYNC_ASSOC))
    assert rc == 4096
    copying = pair_of(conn, tgt)
    assert copying is not None
    assert (copying["SyncState"], copying["CopyState"], copying["ProgressStatus"]) == (5, 3, 6)
    assert copying["WhenSynced"] is None and access(lab, tgt) == "none"
    running = conn.GetInstance(out["Job"])
    assert running["JobState"] == 4 and running["Name"] == "AttachOrModifyReplica"
    done = wait_job(conn, out["Job"])
    assert job_ok(done) and list(done["OperationalStatus"]) == [17, 2]
    pair = pair_of(conn, tgt)
    assert (pair["SyncState"], pair["CopyState"], pair["ProgressStatus"]) == (14, 4, 2)
    assert (pair["CopyType"], pair["ReplicaType"], pair["SyncType"], pair["SyncMaintained"]) == (4, 2, 8, False)
    assert pair["WhenSynced"] is not None and access(lab, tgt) == "rw"
    assert digest(lab, tgt) == digest(lab, src)
    assert last_transfer(lab, "smis-physical-copy")["blocks"] == 16
    lab.settings("smis-a", copy_rate=0)
    lab.write("smis-a", device(src), blocks=3, offset=0)
    first_sync = pair["WhenSynced"]
    rc, out = modify_sync(conn, RESYNC, pair.path)
    assert rc == 4096
    assert job_ok(wait_job(conn, out["Job"]))
    pair = pair_of(conn, tgt)
    assert pair["SyncState"] == 14 and pair["WhenSynced"].datetime >= first_sync.datetime
    assert digest(lab, tgt) == digest(lab, src)
    assert last_transfer(lab, "smis-resync")["blocks"] == 3
    assert modify_sync(conn, DETACH, pair.path)[0] == 0


def test_unassociated_physical_copy_leaves_no_pair(conn, lab):
    done, tgt = physical_copy(conn, "vol3", "vol4", UNSYNC_UNASSOC)
    assert job_ok(done)
    assert pair_of(conn, tgt) is None
    assert digest(lab, tgt) == digest(lab, volume(conn, "vol3")) and access(lab, tgt) == "rw"


def test_start_copy_recopies_and_stop_copy_halts(conn, lab):
    done, tgt = physical_copy(conn, "vol5", "vol6")
    assert job_ok(done)
    pair = pair_of(conn, tgt)
    rc, out = modify_sync(conn, START_COPY, pair.path)
    assert rc == 4096 and job_ok(wait_job(conn, out["Job"]))
    assert last_transfer(lab, "smis-physical-copy")["blocks"] == 16      # a full copy again
    assert pair_of(conn, tgt)["SyncState"] == 14
    lab.settings("smis-a", copy_rate="256KiB")                          # four seconds
    rc, out = modify_sync(conn, START_COPY, pair.path)
    assert rc == 4096
    copying = pair_of(conn, tgt)
    assert (copying["SyncState"], copying["CopyState"], copying["ProgressStatus"]) == (15, 3, 7)
    assert modify_sync(conn, RESYNC, pair.path)[0] == 4                  # busy: wrong state
    rc, stopped = modify_sync(conn, STOP_COPY, pair.path)
    assert rc == 0 and "Job" not in stopped
    assert pair_of(conn, tgt) is None
    assert conn.GetInstance(out["Job"])["JobState"] == 8
    assert access(lab, tgt) == "rw"


def test_detach_promotes_the_physical_copy(conn, lab):
    done, tgt = physical_copy(conn, "vol7", "vol8")
    assert job_ok(done)
    pair = pair_of(conn, tgt)
    rc, out = modify_sync(conn, DETACH, pair.path)
    assert rc == 0 and "Job" not in out
    assert pair_of(conn, tgt) is None
    assert conn.GetInstance(tgt)["DeviceID"] == device(tgt)
    assert conn.GetInstance(volume(conn, "vol7"))["ElementName"] == "vol7"
    lab.write("smis-a", device(tgt), blocks=1)                         # an independent volume now
    assert modify_sync(conn, DETACH, pair.path)[0] == 4                 # the pair is gone: "Failed"


def test_unsupported_operations_are_refused_and_change_nothing(conn, lab):
    done, tgt = physical_copy(conn, "vol1", "vol2")
    assert job_ok(done)
    pair = pair_of(conn, tgt)
    transfers = len(lab.transfers()["finished"])
    mark = lab.mark()
    for op in (FRACTURE, PREPARE, UNPREPARE, QUIESCE, UNQUIESCE, RESET_SYNC, RESET_ASYNC, RESTORE):
        rc, out = modify_sync(conn, op, pair.path)
        assert (rc, dict(out)) == (1, {}), op
    assert modify_sync(conn, 14, pair.path)[0] == 5                     # outside the ValueMap
    assert modify_sync(conn, STOP_COPY, pair.path)[0] == 4              # nothing is copying
    after = pair_of(conn, tgt)
    assert (after["SyncState"], after["CopyState"], after["WhenSynced"]) == \
        (pair["SyncState"], pair["CopyState"], pair["WhenSynced"])
    assert len(lab.transfers()["finished"]) == transfers and not lab.transfers()["active"]
    assert digest(lab, tgt) == digest(lab, volume(conn, "vol1"))
    logged = lab.log(array="smis-a", since=mark)
    assert {e["cim_params"]["Operation"] for e in logged if e["cim_method"] == "ModifySynchronization"} >= \
        {str(op) for op in (FRACTURE, PREPARE, QUIESCE, RESET_ASYNC)}
    assert modify_sync(conn, DETACH, pair.path)[0] == 0


def test_broken_target_cannot_be_resynced(conn, lab):
    lab.write("smis-a", device(volume(conn, "vol3")), blocks=6, offset=0)
    lab.faults("smis-a", fail_jobs=1, fail_job_message="Injected: physical copy failed", fail_job_code="7")
    done, tgt = physical_copy(conn, "vol3", "vol4")
    # 3PAR ends a failed task "Completed" with Error: judge by OperationalStatus
    assert done["JobState"] == 7 and list(done["OperationalStatus"]) == [17, 6] and not job_ok(done)
    assert (done["ErrorCode"], done["ErrorDescription"]) == (7, "Injected: physical copy failed")
    rc, err = conn.InvokeMethod("GetError", done.path)
    assert rc == 0 and err["Error"]["Message"] == "Injected: physical copy failed"
    pair = pair_of(conn, tgt)
    assert (pair["SyncState"], pair["CopyState"], pair["ProgressStatus"]) == (12, 5, 15)
    assert digest(lab, tgt) != digest(lab, volume(conn, "vol3"))
    assert modify_sync(conn, RESYNC, pair.path)[0] == 4
    assert modify_sync(conn, START_COPY, pair.path)[0] == 4
    rc, _out = conn.InvokeMethod("ModifyReplicaSynchronization", service(conn, "CIM_ReplicationService"),
                                 Operation=U16(14), Synchronization=pair.path)
    assert rc == 4
    assert pair_of(conn, tgt)["SyncState"] == 12
    assert modify_sync(conn, DETACH, pair.path)[0] == 0                 # clean up, then recreate
    assert job_ok(physical_copy(conn, "vol3", "vol4")[0])
    assert digest(lab, tgt) == digest(lab, volume(conn, "vol3"))
    assert modify_sync(conn, DETACH, pair_of(conn, tgt).path)[0] == 0


def test_attach_refusals(conn):
    svc = config_service(conn)
    vol5, vol6 = volume(conn, "vol5"), volume(conn, "vol6")
    assert conn.InvokeMethod("AttachOrModifyReplica", svc, SourceElement=vol5, TargetElement=vol6,
                             CopyType=U16(3))[0] == 4
    assert conn.InvokeMethod("AttachOrModifyReplica", svc, SourceElement=vol5, TargetElement=vol5,
                             CopyType=U16(4))[0] == 5
    ghost = pywbem.CIMInstanceName("TPD_StorageVolume", dict(vol6.keybindings, DeviceID="999"))
    assert conn.InvokeMethod("AttachOrModifyReplica", svc, SourceElement=vol5, TargetElement=ghost,
                             CopyType=U16(4))[0] == 5


# virtual copies ------------------------------------------------------------------------------------------
def test_virtual_copy_then_restore(conn, lab):
    svc = config_service(conn)
    src = volume(conn, "vol5")
    rc, out = conn.InvokeMethod("CreateReplica", svc, ElementName="vol5_vc", SourceElement=src,
                                CopyType=U16(UNSYNC_ASSOC))
    assert rc == 0 and "Job" not in out
    snap = out["TargetElement"]
    assert conn.GetInstance(snap)["ElementName"] == "vol5_vc"
    pair = pair_of(conn, snap)
    assert (pair["SyncState"], pair["CopyState"], pair["CopyType"], pair["ReplicaType"]) == (11, 8, 4, 4)
    snap_digest = digest(lab, snap)
    assert snap_digest == digest(lab, src)
    lab.write("smis-a", device(src), blocks=4)
    assert digest(lab, src) != snap_digest
    rc, job = modify_sync(conn, RESTORE, pair.path)
    assert rc == 4096
    assert job_ok(wait_job(conn, job["Job"]))
    assert pair_of(conn, snap)["SyncState"] == 11
    assert digest(lab, src) == snap_digest
    assert last_transfer(lab, "smis-promote")["blocks"] == 4
    # what a virtual copy does not offer, and CreateReplica's own refusals
    assert modify_sync(conn, DETACH, pair.path)[0] == 1
    assert modify_sync(conn, RESYNC, pair.path)[0] == 1
    assert conn.InvokeMethod("CreateReplica", svc, ElementName="vol5_vc", SourceElement=src,
                             CopyType=U16(UNSYNC_ASSOC))[0] == 4            # the name is taken
    assert conn.InvokeMethod("CreateReplica", svc, SourceElement=src, CopyType=U16(UNSYNC_UNASSOC))[0] == 4
    assert conn.InvokeMethod("CreateReplica", svc, SourceElement=src)[0] == 5


# the ReplicationService subset --------------------------------------------------------------------------------
def test_replication_service_offers_only_the_3par_rows(conn, lab):
    svc = service(conn, "CIM_ReplicationService")
    src = volume(conn, "vol6")
    assert conn.InvokeMethod("CreateElementReplica", svc, SyncType=U16(6), SourceElement=src)[0] == 1
    assert conn.InvokeMethod("CreateElementReplica", svc, SyncType=U16(7), SourceElement=src,
                             TargetElement=volume(conn, "vol7"))[0] == 5
    rc, out = conn.InvokeMethod("CreateElementReplica", svc, SyncType=U16(8), Mode=U16(3), SourceElement=src,
                                ElementName="vol6_pc")
    assert rc == 4096 and job_ok(wait_job(conn, out["Job"]))
    clone = out["Synchronization"]
    assert conn.GetInstance(out["TargetElement"])["ElementName"] == "vol6_pc"
    assert conn.GetInstance(clone)["CopyState"] == 4
    modify = "ModifyReplicaSynchronization"
    assert conn.InvokeMethod(modify, svc, Operation=U16(12), Synchronization=clone)[0] == 1   # Fracture
    assert conn.InvokeMethod(modify, svc, Operation=U16(15), Synchronization=clone)[0] == 1   # Restore
    assert conn.InvokeMethod(modify, svc, Operation=U16(14), Synchronization=clone,
                             Force=True)[0] == 5                                              # Force must be NULL
    lab.write("smis-a", device(src), blocks=2)
    rc, out2 = conn.InvokeMethod(modify, svc, Operation=U16(14), Synchronization=clone)
    assert rc == 4096 and job_ok(wait_job(conn, out2["Job"]))
    assert digest(lab, out["TargetElement"]) == digest(lab, src)
    assert conn.InvokeMethod(modify, svc, Operation=U16(9), Synchronization=clone)[0] == 0    # Dissolve
    with pytest.raises(pywbem.CIMError) as stale:
        conn.InvokeMethod(modify, svc, Operation=U16(9), Synchronization=clone)
    assert stale.value.status_code == pywbem.CIM_ERR_NOT_FOUND
    rc, out = conn.InvokeMethod("CreateElementReplica", svc, SyncType=U16(7), SourceElement=src)
    assert rc == 0 and "Job" not in out
    snap = out["TargetElement"]
    assert conn.GetInstance(out["Synchronization"])["CopyState"] == 8
    assert conn.InvokeMethod(modify, svc, Operation=U16(19), Synchronization=out["Synchronization"])[0] == 0
    assert device(snap) not in lab.volumes("smis-a")


def test_capabilities_of_the_3par_provider(conn):
    caps = conn.AssociatorNames(service(conn, "CIM_ReplicationService"), AssocClass="CIM_ElementCapabilities",
                                ResultClass="CIM_ReplicationServiceCapabilities")[0]
    assert list(conn.GetInstance(caps)["SupportedReplicationTypes"]) == [6, 10, 11]
    expected = {10: [2], 11: [2, 8, 9, 14], 6: [8, 9, 15, 19]}
    for repl_type, ops in expected.items():
        rc, out = conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(repl_type))
        assert (rc, list(out["SupportedOperations"])) == (0, ops)
    for repl_type in (2, 3, 4, 5, 7):
        rc, out = conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(repl_type))
        assert (rc, dict(out)) == (2, {}), repl_type                   # HP's "Not Supported"
    assert conn.InvokeMethod("GetSupportedOperations", caps, ReplicationType=U16(99))[0] == 5
    for repl_type, states in ((10, [4]), (11, [8]), (6, [4])):
        rc, out = conn.InvokeMethod("GetSupportedWaitForCopyStates", caps,
                                    Params=[("ReplicationType", U16(repl_type)), ("MethodName", U16(2))])
        assert (rc, list(out["SupportedCopyStates"])) == (0, states)
    rc, out = conn.InvokeMethod("GetSupportedCopyStates", caps, ReplicationType=U16(11), Operation=U16(14))
    assert list(out["SupportedCopyStates"]) == [4]


def test_terminating_a_copy_task_halts_it(conn, lab):
    lab.settings("smis-a", copy_rate="256KiB")
    done_before = len(lab.transfers()["finished"])
    tgt = volume(conn, "vol8")
    rc, out = conn.InvokeMethod("AttachOrModifyReplica", config_service(conn), SourceElement=volume(conn, "vol7"),
                                TargetElement=tgt, CopyType=U16(UNSYNC_ASSOC))
    assert rc == 4096
    assert conn.InvokeMethod("RequestStateChange", out["Job"], RequestedState=U16(4),
                             TimeoutPeriod=pywbem.CIMDateTime("00000000000010.000000:000"))[0] == 4098
    assert conn.InvokeMethod("RequestStateChange", out["Job"], RequestedState=U16(4))[0] == 4096
    assert conn.GetInstance(out["Job"])["JobState"] == 8
    assert pair_of(conn, tgt) is None
    aborted = lab.transfers()["finished"][done_before:]
    assert [tr["state"] for tr in aborted if tr["kind"] == "smis-physical-copy"] == ["aborted"]
    conn.DeleteInstance(out["Job"])
    with pytest.raises(pywbem.CIMError) as gone:
        conn.GetInstance(out["Job"])
    assert gone.value.status_code == pywbem.CIM_ERR_NOT_FOUND
