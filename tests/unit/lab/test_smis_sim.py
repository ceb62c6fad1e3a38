"""The SMI-S simulator: CIM-XML protocol, discovery and the "generic" Replication Services profile.

Everything goes over real HTTP(S) to a lab of this module's own: pywbem for the
client side (plus raw requests where the wire format itself is checked, and one
pywbem client in a separate process), the control API for data and faults.
The "3par" profile is covered in test_smis_3par.py.
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
import requests

U16 = pywbem.Uint16
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB", "tick_seconds": 0.02},
    "arrays": {
        "smis-a": {"vendor": "smis", "profile": "3par",
                   "volumes": [{"name": "vol{n}", "count": 8, "id_base": 101, "size": "4MiB", "data_blocks": 16}]},
        "smis-b": {"vendor": "smis", "profile": "generic",
                   "volumes": [{"name": "vol{n}", "count": 8, "id_base": 201, "size": "4MiB", "data_blocks": 16}]},
    },
}
TERMINAL = (7, 8, 9, 10)
MIRROR, SNAPSHOT, CLONE = 6, 7, 8
ABORT, DETACH, DISSOLVE, FAILOVER, FAILBACK, FRACTURE = 2, 8, 9, 10, 11, 12
RESYNC, RESTORE, RESUME, RESET_SYNC, RESET_ASYNC, RETURN_TO_POOL, REVERSE, SPLIT, SUSPEND = \
    14, 15, 16, 17, 18, 19, 20, 21, 22


# helpers ----------------------------------------------------------------------------------------
def connect(lab, name: str, url_key: str = "url", password: str | None = None) -> pywbem.WBEMConnection:
    info = lab.array(name)
    conn = pywbem.WBEMConnection(info[url_key], (info["username"], password or info["password"]),
                                 default_namespace=info["namespace"], ca_certs=info["ca_file"], timeout=30)
    conn.session.trust_env = False
    return conn


def volume(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstanceName:
    for inst in conn.EnumerateInstances("CIM_StorageVolume", PropertyList=["ElementName"]):
        if inst["ElementName"] == name:
            return inst.path
    raise AssertionError(f"no volume named {name}")


def device(path: pywbem.CIMInstanceName) -> str:
    return str(path.keybindings["DeviceID"])


def service(conn: pywbem.WBEMConnection, classname: str = "CIM_ReplicationService") -> pywbem.CIMInstanceName:
    system = conn.EnumerateInstanceNames("CIM_ComputerSystem")[0]
    return conn.AssociatorNames(system, AssocClass="CIM_HostedService", ResultClass=classname)[0]


def capabilities(conn: pywbem.WBEMConnection) -> pywbem.CIMInstanceName:
    return conn.AssociatorNames(service(conn), AssocClass="CIM_ElementCapabilities",
                                ResultClass="CIM_ReplicationServiceCapabilities")[0]


def wait_job(conn: pywbem.WBEMConnection, job: pywbem.CIMInstanceName, timeout: float = 15.0) -> pywbem.CIMInstance:
    deadline = time.monotonic() + timeout
    while True:
        inst = conn.GetInstance(job)
        if inst["JobState"] in TERMINAL:
            return inst
        assert time.monotonic() < deadline, f"job still running: {inst.tomof()}"
        time.sleep(0.02)


def job_ok(inst: pywbem.CIMInstance) -> bool:
    return inst["JobState"] == 7 and 2 in inst["OperationalStatus"] and 6 not in inst["OperationalStatus"]


def modify(conn: pywbem.WBEMConnection, op: int, sync: pywbem.CIMInstanceName, **params: t.Any):
    return conn.InvokeMethod("ModifyReplicaSynchronization", service(conn), Operation=U16(op),
                             Synchronization=sync, **params)


def modify_wait(conn: pywbem.WBEMConnection, op: int, sync: pywbem.CIMInstanceName) -> None:
    rc, out = modify(conn, op, sync)
    if rc == 4096:
        assert job_ok(wait_job(conn, out["Job"]))
    else:
        assert rc == 0, f"operation {op}: rc {rc}"


def create(conn: pywbem.WBEMConnection, source: str, sync_type: int = MIRROR, mode: int = 2,
           **params: t.Any) -> tuple[pywbem.CIMInstanceName, pywbem.CIMInstanceName]:
    """A replica of volume ``source``, waited for: (synchronization path, target path)."""
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(sync_type), Mode=U16(mode),
                                SourceElement=volume(conn, source), **params)
    assert rc in (0, 4096), rc
    if rc == 4096:
        assert job_ok(wait_job(conn, out["Job"]))
    return out["Synchronization"], out["TargetElement"]


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


def raw_session(lab, name: str) -> requests.Session:
    info = lab.array(name)
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_file"]
    session.auth = (info["username"], info["password"])
    return session


def envelope(call: str) -> str:
    return ('<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
            f'<MESSAGE ID="4711" PROTOCOLVERSION="1.0"><SIMPLEREQ>{call}</SIMPLEREQ></MESSAGE></CIM>')


CIMV2 = '<LOCALNAMESPACEPATH><NAMESPACE NAME="root"></NAMESPACE><NAMESPACE NAME="cimv2"></NAMESPACE></LOCALNAMESPACEPATH>'


@pytest.fixture(scope="module", name="conn")
def conn_fixture(lab) -> pywbem.WBEMConnection:
    return connect(lab, "smis-b")


@pytest.fixture(autouse=True)
def _clean_knobs(lab) -> t.Iterator[None]:
    yield
    lab.clear_faults("smis-b")
    lab.settings("smis-b", job_retention=300, copy_rate=0, wait_timeout=60)


# endpoints and discovery ---------------------------------------------------------------------------
def test_endpoints_list_both_arrays_with_namespaces_and_ports(lab):
    a, b = lab.array("smis-a"), lab.array("smis-b")
    assert (a["vendor"], a["namespace"], a["profile"]) == ("smis", "root/tpd", "3par")
    assert (b["vendor"], b["namespace"], b["profile"]) == ("smis", "root/cimv2", "generic")
    for info in (a, b):
        assert info["url"].startswith("https://127.0.0.1:")
        assert info["http_url"].startswith("http://127.0.0.1:")
        assert info["url"].rsplit(":", 1)[1] != info["http_url"].rsplit(":", 1)[1]


def test_discovery_systems_volumes_services_capabilities(conn, lab):
    systems = conn.EnumerateInstances("CIM_ComputerSystem")
    assert [s.classname for s in systems] == ["LAB_StorageSystem"]
    system = systems[0].path
    vols = conn.AssociatorNames(system, AssocClass="CIM_SystemDevice", ResultClass="CIM_StorageVolume")
    named = {inst["ElementName"]: inst for inst in conn.EnumerateInstances("CIM_StorageVolume")}
    assert {f"vol{n}" for n in range(1, 9)} <= set(named)
    assert {device(v) for v in vols} >= {str(n) for n in range(201, 209)}
    vol1 = named["vol1"]
    assert vol1["DeviceID"] == "201" and vol1["BlockSize"] == 512 and vol1["NumberOfBlocks"] == 4 * 2048
    assert lab.volume("smis-b", "201")["blocks_written"] == 16
    svc = service(conn)
    assert svc.classname == "LAB_ReplicationService"
    caps = conn.GetInstance(capabilities(conn))
    assert list(caps["SupportedReplicationTypes"]) == [2, 3, 6, 7, 10, 11]
    assert conn.EnumerateInstanceNames("CIM_StorageConfigurationService") == []
    # names only, then the references of the system
    assert len(conn.EnumerateInstanceNames("CIM_StorageVolume")) == len(named)
    hosted = conn.References(system, ResultClass="CIM_HostedService")
    assert [r.classname for r in hosted] == ["LAB_HostedService"]
    assert hosted[0]["Dependent"].classname == "LAB_ReplicationService"


def test_get_class_carries_value_maps(conn):
    cls = conn.GetClass("CIM_StorageSynchronized", LocalOnly=False, IncludeQualifiers=True)
    assert {"CopyState", "SyncState", "ProgressStatus", "SyncType", "Mode"} <= set(cls.properties)
    copy_states = pywbem.ValueMapping.for_property(conn, "root/cimv2", "CIM_StorageSynchronized", "CopyState")
    assert copy_states.tovalues(4) == "Synchronized" and copy_states.tovalues(6) == "Fractured"
    assert copy_states.tobinary("Failedover") == 10
    ops = pywbem.ValueMapping.for_parameter(conn, "root/cimv2", "LAB_ReplicationService",
                                            "ModifyReplicaSynchronization", "Operation")
    assert ops.tovalues(20) == "Reverse Roles" and ops.tovalues(21) == "Split"
    local = conn.GetClass("LAB_StorageVolume")
    assert local.superclass == "CIM_StorageVolume" and "DeviceID" not in local.properties
    names = conn.EnumerateClassNames(DeepInheritance=True)
    assert {"LAB_StorageSynchronized", "CIM_ConcreteJob", "LAB_AffectedJobElement"} <= set(names)
    assert "CIM_StorageVolume" in conn.EnumerateClassNames(ClassName="CIM_StorageExtent")
    assert any(q.name == "ValueMap" for q in conn.EnumerateQualifiers())


# protocol -------------------------------------------------------------------------------------------
def test_cim_errors(conn):
    ghost = pywbem.CIMInstanceName("LAB_StorageVolume", {"SystemCreationClassName": "LAB_StorageSystem",
                                                         "SystemName": "smis-b", "CreationClassName": "LAB_StorageVolume",
                                                         "DeviceID": "999"})
    cases = [
        (lambda: conn.GetInstance(ghost), pywbem.CIM_ERR_NOT_FOUND),
        (lambda: conn.EnumerateInstances("CIM_NoSuchClass"), pywbem.CIM_ERR_INVALID_CLASS),
        (lambda: conn.EnumerateInstances("CIM_StorageVolume", namespace="root/tpd"), pywbem.CIM_ERR_INVALID_NAMESPACE),
        (lambda: conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(6), SourceElement=ghost),
         pywbem.CIM_ERR_NOT_FOUND),
        (lambda: conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(6)),
         pywbem.CIM_ERR_INVALID_PARAMETER),
        (lambda: conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=pywbem.Uint32(6),
                                   SourceElement=volume(conn, "vol8")), pywbem.CIM_ERR_INVALID_PARAMETER),
        (lambda: conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(6), Colour="blue",
                                   SourceElement=volume(conn, "vol8")), pywbem.CIM_ERR_INVALID_PARAMETER),
        (lambda: conn.InvokeMethod("NoSuchMethod", service(conn)), pywbem.CIM_ERR_METHOD_NOT_FOUND),
        (lambda: conn.ExecQuery("WQL", "SELECT * FROM CIM_StorageVolume"), pywbem.CIM_ERR_NOT_SUPPORTED),
        (lambda: conn.OpenEnumerateInstances("CIM_StorageVolume"), pywbem.CIM_ERR_NOT_SUPPORTED),
    ]
    for call, code in cases:
        with pytest.raises(pywbem.CIMError) as failure:
            call()
        assert failure.value.status_code == code, failure.value
    # pywbem's Iter* operations fall back to the traditional ones
    conn2 = pywbem.WBEMConnection(conn.url, conn.creds, default_namespace="root/cimv2", ca_certs=conn.ca_certs)
    conn2.session.trust_env = False
    assert len(list(conn2.IterEnumerateInstances("CIM_StorageVolume"))) >= 8


def test_wrong_credentials_get_401(lab):
    with pytest.raises(pywbem.AuthError):
        connect(lab, "smis-b", password="wrong").EnumerateInstanceNames("CIM_StorageVolume")
    reply = raw_session(lab, "smis-b").post(lab.url("smis-b", "/cimom"), data=b"", auth=("admin", "wrong"))
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Basic ")


def test_bad_xml_is_400_request_not_well_formed(lab):
    session = raw_session(lab, "smis-b")
    reply = session.post(lab.url("smis-b", "/cimom"), data=b"<CIM><MESSAGE", headers={
        "Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
        "CIMMethod": "EnumerateInstances", "CIMObject": "root/cimv2"})
    assert reply.status_code == 400
    assert reply.headers["CIMError"] == "request-not-well-formed"
    reply = session.post(lab.url("smis-b", "/cimom"), data=b"<CIM/>", headers={"CIMOperation": "MethodCall"})
    assert (reply.status_code, reply.headers["CIMError"]) == (400, "request-not-valid")


def test_wire_format_for_other_clients(lab):
    """Explicit end tags, the content type and headers, HTTP 200 for CIM errors, untyped PARAMVALUEs."""
    session = raw_session(lab, "smis-b")
    headers = {"Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
               "CIMMethod": "EnumerateInstances", "CIMObject": "root/cimv2"}
    call = (f'<IMETHODCALL NAME="EnumerateInstances">{CIMV2}'
            '<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="CIM_StorageVolume"></CLASSNAME></IPARAMVALUE>'
            '<IPARAMVALUE NAME="DeepInheritance"><VALUE>TRUE</VALUE></IPARAMVALUE></IMETHODCALL>')
    reply = session.post(lab.url("smis-b", "/cimom"), data=envelope(call).encode(), headers=headers)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == 'application/xml; charset="utf-8"'
    assert reply.headers["CIMOperation"] == "MethodResponse"
    assert "/>" not in reply.text and "<VALUE.NAMEDINSTANCE>" in reply.text
    # sblim-wbemcli style: no PARAMTYPE, the type comes from the method declaration
    caps_path = ('<INSTANCENAME CLASSNAME="LAB_ReplicationServiceCapabilities"><KEYBINDING NAME="InstanceID">'
                 '<KEYVALUE VALUETYPE="string">LAB_ReplicationServiceCapabilities:smis-b</KEYVALUE></KEYBINDING>'
                 '</INSTANCENAME>')
    call = (f'<METHODCALL NAME="GetSupportedOperations"><LOCALINSTANCEPATH>{CIMV2}{caps_path}</LOCALINSTANCEPATH>'
            '<PARAMVALUE NAME="ReplicationType"><VALUE>6</VALUE></PARAMVALUE></METHODCALL>')
    headers.update({"CIMMethod": "GetSupportedOperations",
                    "CIMObject": "root/cimv2:LAB_ReplicationServiceCapabilities.InstanceID="
                                 "\"LAB_ReplicationServiceCapabilities:smis-b\""})
    reply = session.post(lab.url("smis-b", "/cimom"), data=envelope(call).encode(), headers=headers)
    assert reply.status_code == 200, reply.text
    assert '<RETURNVALUE PARAMTYPE="uint32"><VALUE>0</VALUE></RETURNVALUE>' in reply.text
    assert '<PARAMVALUE NAME="SupportedOperations" PARAMTYPE="uint16">' in reply.text
    # a CIM error is HTTP 200 with ERROR
    headers["CIMMethod"] = "GetInstance"
    call = (f'<IMETHODCALL NAME="GetInstance">{CIMV2}<IPARAMVALUE NAME="InstanceName">'
            '<INSTANCENAME CLASSNAME="LAB_ConcreteJob"><KEYBINDING NAME="InstanceID"><KEYVALUE>none</KEYVALUE>'
            '</KEYBINDING></INSTANCENAME></IPARAMVALUE></IMETHODCALL>')
    reply = session.post(lab.url("smis-b", "/cimom"), data=envelope(call).encode(), headers=headers)
    assert reply.status_code == 200 and '<ERROR CODE="6"' in reply.text and "</ERROR>" in reply.text


def test_plain_http_port_serves_the_same(lab):
    conn = connect(lab, "smis-b", url_key="http_url")
    assert conn.url.startswith("http://")
    assert len(conn.EnumerateInstanceNames("CIM_StorageVolume")) >= 8
    rc, out = conn.InvokeMethod("GetSupportedOperations", capabilities(conn), ReplicationType=U16(2))
    assert rc == 0 and FRACTURE in out["SupportedOperations"]


def test_array_down_closes_both_ports(lab):
    lab.down("smis-b")
    try:
        for key in ("url", "http_url"):
            with pytest.raises(pywbem.ConnectionError):
                conn = connect(lab, "smis-b", url_key=key)
                conn.timeout = 5
                conn.EnumerateInstanceNames("CIM_ComputerSystem")
    finally:
        lab.up("smis-b")
    for key in ("url", "http_url"):
        assert connect(lab, "smis-b", url_key=key).EnumerateInstanceNames("CIM_ComputerSystem")


def test_request_log_flags_mutations_without_secrets(conn, lab):
    mark = lab.mark()
    conn.EnumerateInstanceNames("CIM_StorageVolume")
    conn.InvokeMethod("GetSupportedOperations", capabilities(conn), ReplicationType=U16(2))
    sync, _target = create(conn, "vol8", CLONE)
    entries = lab.log(array="smis-b", since=mark)
    assert all(not e["mutating"] for e in entries if e["cim_method"] != "CreateElementReplica")
    created = [e for e in entries if e["cim_method"] == "CreateElementReplica"]
    assert len(created) == 1 and created[0]["mutating"] and created[0]["intrinsic"] is False
    assert created[0]["cim_params"]["SyncType"] == "8"
    assert "LAB_ReplicationService" in created[0]["cim_object"]
    assert lab.array("smis-b")["password"] not in json.dumps(entries)
    modify(conn, DETACH, sync)


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
