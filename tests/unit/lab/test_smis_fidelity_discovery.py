"""Standard WBEM discovery against the SMI-S simulator: the interop namespace of both provider profiles.

pywbem's ``WBEMServer`` end to end (interop namespace, namespaces, brand and
version from CIM_ObjectManager, registered profiles, central instances across
namespaces) and then the way SMI-S clients start: Array profile -> storage
system -> replication service; plus the ``pywbemcli`` command line (pywbemtools)
against each array. The names and versions checked are the lab's decisions
recorded in ``smis/interop.py``.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import typing as t

import pytest
import pywbem

from smis_helpers import TOPOLOGY, connect

# smis-a: profile 3par (root/tpd), smis-b: profile generic (root/cimv2); smis-c: another interop namespace name
LAB_TOPOLOGY = dict(TOPOLOGY, arrays=dict(TOPOLOGY["arrays"], **{"smis-c": {
    "vendor": "smis", "profile": "generic", "interop_namespace": "root/PG_InterOp",
    "volumes": [{"name": "c1", "size": "4MiB"}]}}))
BRAND = "storage.replication lab WBEM server"
SUBPROFILES = {
    "smis-a": {"Block Services", "Copy Services", "Replication Services", "Job Control"},
    "smis-b": {"Block Services", "Replication Services", "Job Control"},
}
EXPECTED = {  # array -> (interop namespace, implementation namespace, SMI-S version, vendor prefix)
    "smis-a": ("interop", "root/tpd", "1.4.0", "TPD_"),
    "smis-b": ("root/interop", "root/cimv2", "1.5.0", "LAB_"),
}
ARRAYS = sorted(EXPECTED)


@pytest.fixture(scope="module", name="servers")
def servers_fixture(lab) -> dict[str, pywbem.WBEMServer]:
    return {name: pywbem.WBEMServer(connect(lab, name)) for name in ARRAYS}


def keys(path: pywbem.CIMInstanceName) -> dict[str, t.Any]:
    """Keybindings without host and namespace (paths from the server carry the host)."""
    return {k.lower(): (keys(v) if isinstance(v, pywbem.CIMInstanceName) else v) for k, v in path.keybindings.items()}


def profile(server: pywbem.WBEMServer, name: str) -> pywbem.CIMInstance:
    found = server.get_selected_profiles("SNIA", name)
    assert len(found) == 1, [p.path for p in found]
    return found[0]


# the WBEM server --------------------------------------------------------------------------------------
@pytest.mark.parametrize("array", ARRAYS)
def test_interop_namespace_namespaces_and_object_manager(lab, servers, array):
    server = servers[array]
    interop, implementation, _version, prefix = EXPECTED[array]
    info = lab.array(array)
    assert (info["interop_namespace"], info["namespace"]) == (interop, implementation)
    assert server.interop_ns == interop
    assert server.namespace_classname == "CIM_Namespace"
    assert sorted(server.namespaces) == sorted([interop, implementation])
    assert server.brand == BRAND
    assert server.version == importlib.metadata.version("storage-replication-lab")
    cimom = server.cimom_inst
    assert cimom.classname == "CIM_ObjectManager" and cimom["CreationClassName"] == "CIM_ObjectManager"
    assert (cimom["SystemCreationClassName"], cimom["SystemName"]) == (prefix + "StorageSystem", info["system_name"])
    assert cimom["Name"] and cimom["ElementName"] == BRAND
    assert f"({info['profile']} provider profile)" in cimom["Description"]
    # every namespace is associated to the object manager, the interop namespace included
    conn = server.conn
    in_manager = conn.AssociatorNames(cimom.path, AssocClass="CIM_NamespaceInManager", ResultRole="Dependent")
    assert sorted(p["Name"] for p in in_manager) == sorted([interop, implementation])
    assert all(keys(p)["objectmanagername"] == cimom["Name"] for p in in_manager)


@pytest.mark.parametrize("array", ARRAYS)
def test_registered_profiles(servers, array):
    server = servers[array]
    _interop, _impl, version, _prefix = EXPECTED[array]
    orgs = pywbem.ValueMapping.for_property(server, server.interop_ns, "CIM_RegisteredProfile",
                                            "RegisteredOrganization")
    found = {(orgs.tovalues(p["RegisteredOrganization"]), p["RegisteredName"], p["RegisteredVersion"])
             for p in server.profiles}
    names = {"Server", "Profile Registration", "Array"} | SUBPROFILES[array]
    assert found == {("SNIA", name, version) for name in names}
    assert all(p["RegisteredOrganization"] == 11 for p in server.profiles)
    ids = [p["InstanceID"] for p in server.profiles]
    assert len(set(ids)) == len(ids) == len(names)
    kinds = {p["RegisteredName"]: p.classname for p in server.profiles}
    assert {name for name, cls in kinds.items() if cls == "CIM_RegisteredSubProfile"} == SUBPROFILES[array]
    assert {name for name, cls in kinds.items() if cls == "CIM_RegisteredProfile"} == \
        {"Server", "Profile Registration", "Array"}
    assert profile(server, "Array")["AdvertiseTypes"] == [2]  # no SLP in the lab
    assert server.get_selected_profiles("SNIA", "Array", version)[0].path == profile(server, "Array").path
    assert server.get_selected_profiles("DMTF") == []


@pytest.mark.parametrize("array", ARRAYS)
def test_profile_relations_use_the_snia_direction(servers, array):
    server = servers[array]
    conn = server.conn
    array_profile = profile(server, "Array").path
    for name in SUBPROFILES[array]:
        sub = profile(server, name).path
        scoping = conn.AssociatorNames(sub, AssocClass="CIM_SubProfileRequiresProfile", ResultRole="Antecedent")
        assert [keys(p) for p in scoping] == [keys(array_profile)], name
        # SubProfileRequiresProfile is a ReferencedProfile: pywbem's 'snia' direction finds the same profile
        assert [keys(p) for p in conn.AssociatorNames(sub, AssocClass="CIM_ReferencedProfile",
                                                      ResultRole="Antecedent")] == [keys(array_profile)]
    subs = conn.AssociatorNames(array_profile, AssocClass="CIM_SubProfileRequiresProfile", Role="Antecedent")
    assert {conn.GetInstance(p)["RegisteredName"] for p in subs} == SUBPROFILES[array]
    registration = conn.AssociatorNames(profile(server, "Server").path, AssocClass="CIM_ReferencedProfile",
                                        ResultRole="Dependent")
    assert [keys(p) for p in registration] == [keys(profile(server, "Profile Registration").path)]
    refs = conn.References(profile(server, "Profile Registration").path, ResultClass="CIM_ReferencedProfile")
    assert [r.classname for r in refs] == ["CIM_ReferencedProfile"]


# from the profile to the array -----------------------------------------------------------------------
@pytest.mark.parametrize("array", ARRAYS)
def test_central_instances_lead_to_the_replication_service(lab, servers, array):
    server = servers[array]
    conn = server.conn
    _interop, implementation, _version, prefix = EXPECTED[array]
    info = lab.array(array)
    systems = server.get_central_instances(profile(server, "Array").path, reference_direction="snia")
    assert len(systems) == 1
    system = systems[0]
    assert (system.namespace, system.classname) == (implementation, prefix + "StorageSystem")
    assert keys(system) == {"creationclassname": prefix + "StorageSystem", "name": info["system_name"]}
    assert conn.GetInstance(system)["ElementName"] == array
    services = conn.AssociatorNames(system, AssocClass="CIM_HostedService", ResultClass="CIM_ReplicationService")
    assert [(s.namespace, s.classname) for s in services] == [(implementation, prefix + "ReplicationService")]
    legacy = conn.AssociatorNames(system, AssocClass="CIM_HostedService",
                                  ResultClass="CIM_StorageConfigurationService")
    assert len(legacy) == (1 if array == "smis-a" else 0)  # Copy Services only on the 3par profile
    # the Server profile's central instance is the object manager
    managers = server.get_central_instances(profile(server, "Server").path, reference_direction="snia")
    assert [keys(m) for m in managers] == [keys(server.cimom_inst.path)]
    # GetCentralInstances (DSP1033 1.1) is not implemented: pywbem falls back to the central class methodology
    assert server.get_central_instances(profile(server, "Array").path, reference_direction="snia",
                                        try_gci_method=True) == systems


@pytest.mark.parametrize("array", ARRAYS)
def test_scoping_path_from_a_subprofile(servers, array):
    """SMI-S clients find a subprofile's elements through its scoping profile's central instance."""
    server = servers[array]
    conn = server.conn
    replication = profile(server, "Replication Services").path
    # subprofiles have no ElementConformsToProfile of their own (pywbem: no central instances)
    assert server.get_central_instances(replication, reference_direction="snia") == []
    scoping = conn.AssociatorNames(replication, AssocClass="CIM_ReferencedProfile", ResultRole="Antecedent")
    assert len(scoping) == 1
    system = server.get_central_instances(scoping[0], reference_direction="snia")[0]
    services = conn.Associators(system, AssocClass="CIM_HostedService", ResultClass="CIM_ReplicationService")
    assert len(services) == 1 and services[0]["Name"] == "ReplicationService"
    caps = conn.AssociatorNames(services[0].path, AssocClass="CIM_ElementCapabilities",
                                ResultClass="CIM_ReplicationServiceCapabilities")
    assert len(caps) == 1


@pytest.mark.parametrize("array", ARRAYS)
def test_element_conforms_to_profile_in_both_namespaces(servers, array):
    server = servers[array]
    conn = server.conn
    interop, implementation, _version, prefix = EXPECTED[array]
    array_profile = profile(server, "Array").path
    system = server.get_central_instances(array_profile, reference_direction="snia")[0]
    # from the system back to its profile (the request goes to the implementation namespace)
    back = conn.AssociatorNames(system, AssocClass="CIM_ElementConformsToProfile")
    assert [(p.namespace, keys(p)) for p in back] == [(interop, keys(array_profile))]
    assert conn.AssociatorNames(system, AssocClass="CIM_ElementConformsToProfile",
                                ResultClass="CIM_RegisteredSubProfile") == []
    for namespace in (interop, implementation):
        links = [i for i in conn.EnumerateInstances("CIM_ElementConformsToProfile", namespace=namespace)
                 if i["ManagedElement"].classname == prefix + "StorageSystem"]
        assert len(links) == 1, namespace
        link = links[0]
        assert link.path.namespace == namespace
        assert (link["ConformantStandard"].namespace, link["ManagedElement"].namespace) == (interop, implementation)
        assert keys(conn.GetInstance(link.path).path) == keys(link.path)
    only_server = conn.EnumerateInstances("CIM_ElementConformsToProfile", namespace=interop)
    assert sorted(i["ManagedElement"].classname for i in only_server) == \
        sorted(["CIM_ObjectManager", prefix + "StorageSystem"])
    # ResultClass is judged in the namespace of the far end: the system is a CIM_ComputerSystem
    found = conn.AssociatorNames(array_profile, AssocClass="CIM_ElementConformsToProfile",
                                 ResultClass="CIM_ComputerSystem")
    assert [keys(p) for p in found] == [keys(system)]


# namespaces -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("array", ARRAYS)
def test_namespaces_are_separate(lab, array):
    interop, implementation, _version, prefix = EXPECTED[array]
    conn = connect(lab, array)
    other_interop = {"interop", "root/interop"} - {interop}
    for missing in (*other_interop, "root/PG_InterOp", "root/nowhere"):
        with pytest.raises(pywbem.CIMError) as failure:
            conn.EnumerateInstanceNames("CIM_Namespace", namespace=missing)
        assert failure.value.status_code == pywbem.CIM_ERR_INVALID_NAMESPACE, missing
    # profiles live in interop only; the array's elements in the implementation namespace only
    assert conn.EnumerateInstanceNames("CIM_RegisteredProfile", namespace=implementation) == []
    assert conn.EnumerateInstanceNames("CIM_StorageVolume", namespace=interop) == []
    with pytest.raises(pywbem.CIMError) as failure:
        conn.EnumerateInstanceNames(prefix + "StorageVolume", namespace=interop)
    assert failure.value.status_code == pywbem.CIM_ERR_INVALID_CLASS
    assert len(conn.EnumerateInstanceNames("CIM_StorageVolume", namespace=implementation)) >= 8
    cls = conn.GetClass("CIM_RegisteredProfile", namespace=interop, LocalOnly=False)
    assert {"InstanceID", "RegisteredOrganization", "RegisteredName", "RegisteredVersion"} <= set(cls.properties)
    # nothing to call in interop
    cimom = conn.EnumerateInstanceNames("CIM_ObjectManager", namespace=interop)[0]
    with pytest.raises(pywbem.CIMError) as failure:
        conn.InvokeMethod("StopService", cimom)
    assert failure.value.status_code == pywbem.CIM_ERR_METHOD_NOT_FOUND


def test_interop_namespace_name_is_a_topology_setting(lab):
    server = pywbem.WBEMServer(connect(lab, "smis-c"))
    assert lab.array("smis-c")["interop_namespace"] == "root/PG_InterOp"
    assert server.interop_ns == "root/PG_InterOp"  # the third name pywbem tries
    assert sorted(server.namespaces) == ["root/PG_InterOp", "root/cimv2"]
    system = server.get_central_instances(profile(server, "Array").path, reference_direction="snia")[0]
    assert keys(system)["name"] == "smis-c"


# the pywbemcli command line -----------------------------------------------------------------------------
def pywbemcli(lab, array: str, tmp_path, *args: str) -> str:
    """Run ``pywbemcli`` against ``array`` in a scratch cwd and HOME (it may write a connections file)."""
    command = os.path.join(os.path.dirname(sys.executable), "pywbemcli")
    if not os.path.exists(command):
        pytest.skip("pywbemcli is not installed (pip install pywbemtools)")
    info = lab.array(array)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") and not k.startswith("PYWBEMCLI_")}
    env["HOME"] = str(tmp_path)
    done = subprocess.run([command, "-s", info["url"], "-u", info["username"], "-p", info["password"],
                           "--ca-certs", info["ca_file"], "-o", "plain", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("array", ARRAYS)
def test_pywbemcli_profile_list(lab, tmp_path, array):
    rows = set()
    for line in pywbemcli(lab, array, tmp_path, "profile", "list").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "SNIA":
            rows.add((" ".join(parts[1:-1]), parts[-1]))
    version = EXPECTED[array][2]
    assert ("Replication Services", version) in rows and ("Array", version) in rows
    assert (("Copy Services", version) in rows) == (array == "smis-a")
    info = pywbemcli(lab, array, tmp_path, "server", "info")
    assert BRAND in info and EXPECTED[array][0] in info
