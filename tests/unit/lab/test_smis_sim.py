"""The SMI-S simulator: CIM-XML protocol and discovery.

Everything goes over real HTTP(S) to a lab of this module's own: pywbem for the
client side, plus raw requests where the wire format itself is checked.
The "generic" Replication Services profile is covered in test_smis_sim_replication.py,
the "3par" profile in test_smis_3par.py.
"""

from __future__ import annotations

import json

import pytest
import pywbem
import requests

from smis_helpers import CLONE, DETACH, FRACTURE, TOPOLOGY, U16, capabilities, connect, create, device, modify, service, volume

LAB_TOPOLOGY = TOPOLOGY


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
