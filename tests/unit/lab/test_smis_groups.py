"""The SMI-S simulator's replication groups, in both profiles: CreateGroup, DeleteGroup and ModifyInstance.

A uniquely named empty group works as a claim on the array: CreateGroup of a taken name fails (rc 4) and
creates nothing, also when many clients ask at once. Everything goes over HTTPS with pywbem to a lab of
this module's own (smis-a: the ``3par`` profile, smis-b: ``generic``).
"""

from __future__ import annotations

import threading
import typing as t

import pytest
import pywbem
import requests

from smis_helpers import connect, service

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "tick_seconds": 0.02},
    "arrays": {
        "smis-a": {"vendor": "smis", "profile": "3par",
                   "volumes": [{"name": "vol{n}", "count": 3, "id_base": 101, "size": "4MiB"}]},
        "smis-b": {"vendor": "smis", "profile": "generic",
                   "volumes": [{"name": "vol{n}", "count": 3, "id_base": 201, "size": "4MiB"}]},
    },
}
PREFIX = {"smis-a": "TPD_", "smis-b": "LAB_"}
ARRAYS = pytest.mark.parametrize("array", sorted(PREFIX))


def create_group(conn: pywbem.WBEMConnection, name: str | None, **params: t.Any) -> tuple[int, t.Any]:
    """(rc, the out ReplicationGroup or None) of CreateGroup."""
    if name is not None:
        params["GroupName"] = name
    rc, out = conn.InvokeMethod("CreateGroup", service(conn), **params)
    return int(rc), out.get("ReplicationGroup")


def delete_group(conn: pywbem.WBEMConnection, group: pywbem.CIMInstanceName, **params: t.Any) -> int:
    rc, _out = conn.InvokeMethod("DeleteGroup", service(conn), ReplicationGroup=group, **params)
    return int(rc)


def named(conn: pywbem.WBEMConnection, name: str) -> list[pywbem.CIMInstance]:
    return [g for g in conn.EnumerateInstances("CIM_ReplicationGroup") if g["ElementName"] == name]


def cim_error(call: t.Callable[[], t.Any]) -> pywbem.CIMError:
    with pytest.raises(pywbem.CIMError) as failure:
        call()
    return failure.value


@ARRAYS
def test_create_group_answers_its_path_and_the_system_hosts_it(lab, array):
    conn = connect(lab, array)
    rc, group = create_group(conn, f"claim-{array}")
    assert rc == 0 and group.classname == f"{PREFIX[array]}ReplicationGroup"
    inst = conn.GetInstance(group)
    assert inst["ElementName"] == f"claim-{array}" and inst["InstanceID"] == group.keybindings["InstanceID"]
    assert (inst["Persistent"], inst["DeleteOnEmptyElement"], inst["DeleteOnUnassociated"]) == (True, False, False)
    system = conn.EnumerateInstanceNames("CIM_ComputerSystem")[0]
    hosted = conn.AssociatorNames(system, ResultClass="CIM_ReplicationGroup")
    assert group.keybindings in [p.keybindings for p in hosted]
    links = conn.References(system, ResultClass="CIM_HostedCollection")
    assert {r.classname for r in links} == {f"{PREFIX[array]}HostedCollection"}
    assert len(named(conn, f"claim-{array}")) == 1
    # an empty Members array is an empty group too
    rc, empty = create_group(conn, f"empty-{array}", Members=[], Persistent=False)
    assert rc == 0 and conn.GetInstance(empty)["Persistent"] is False
    assert conn.AssociatorNames(empty, AssocClass="CIM_MemberOfCollection") == []
    assert delete_group(conn, empty) == 0 and delete_group(conn, group) == 0


@ARRAYS
def test_group_members_and_delete_with_remove_elements(lab, array):
    conn = connect(lab, array)
    vols = sorted(conn.EnumerateInstanceNames("CIM_StorageVolume"), key=lambda p: int(p.keybindings["DeviceID"]))
    rc, group = create_group(conn, f"members-{array}", Members=vols[:2])
    assert rc == 0
    members = conn.References(group, ResultClass="CIM_OrderedMemberOfCollection")
    assert {m.classname for m in members} == {f"{PREFIX[array]}OrderedMemberOfCollection"}
    assert sorted((int(m["AssignedSequence"]), m["Member"].keybindings["DeviceID"]) for m in members) == \
        [(1, vols[0].keybindings["DeviceID"]), (2, vols[1].keybindings["DeviceID"])]
    control = requests.get(lab.array(array)["control_url"], timeout=30).json()
    assert {g["name"]: g["members"] for g in control["replication_groups"]}[f"members-{array}"] == \
        [vols[0].keybindings["DeviceID"], vols[1].keybindings["DeviceID"]]
    # a group with members stays unless RemoveElements says so; its volumes always stay
    assert delete_group(conn, group) == 4 and conn.GetInstance(group)
    assert delete_group(conn, group, RemoveElements=True) == 0
    assert len(conn.EnumerateInstanceNames("CIM_StorageVolume")) == len(vols)


@ARRAYS
def test_duplicate_or_missing_name_creates_nothing(lab, array):
    conn = connect(lab, array)
    rc, group = create_group(conn, f"dup-{array}")
    assert rc == 0
    before = conn.EnumerateInstanceNames("CIM_ReplicationGroup")
    assert create_group(conn, f"dup-{array}") == (4, None)
    assert create_group(conn, f"dup-{array}", Members=conn.EnumerateInstanceNames("CIM_StorageVolume")[:1]) == \
        (4, None)
    assert create_group(conn, None) == (5, None)
    assert create_group(conn, "") == (5, None)
    ghost = pywbem.CIMInstanceName(f"{PREFIX[array]}StorageVolume", {
        "SystemCreationClassName": f"{PREFIX[array]}StorageSystem", "SystemName": array,
        "CreationClassName": f"{PREFIX[array]}StorageVolume", "DeviceID": "999"})
    assert create_group(conn, f"ghost-{array}", Members=[ghost]) == (5, None)
    assert conn.EnumerateInstanceNames("CIM_ReplicationGroup") == before
    assert len(named(conn, f"dup-{array}")) == 1
    assert create_group(conn, f"Dup-{array}")[0] == 0, "names are compared exactly"
    for inst in named(conn, f"dup-{array}") + named(conn, f"Dup-{array}"):
        assert delete_group(conn, inst.path) == 0


@ARRAYS
def test_concurrent_creates_of_one_name_make_one_group(lab, array):
    name, clients = f"race-{array}", 8
    conns = [connect(lab, array) for _n in range(clients)]
    svc = service(conns[0])
    barrier = threading.Barrier(clients)
    codes: list[int] = []
    errors: list[BaseException] = []

    def race(conn: pywbem.WBEMConnection) -> None:
        try:
            barrier.wait(timeout=30)
            rc, _out = conn.InvokeMethod("CreateGroup", svc, GroupName=name)
            codes.append(int(rc))
        except BaseException as exc:  # pylint: disable=broad-except
            # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(c,)) for c in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(codes) == [0] + [4] * (clients - 1)
    groups = named(conns[0], name)
    assert len(groups) == 1
    assert delete_group(conns[0], groups[0].path) == 0


@ARRAYS
def test_modify_instance_changes_description_and_flags(lab, array):
    conn = connect(lab, array)
    rc, group = create_group(conn, f"modify-{array}")
    assert rc == 0
    inst = conn.GetInstance(group)
    inst["Description"] = "held by run 1 until 2030-01-01T00:00:00Z"
    conn.ModifyInstance(inst, PropertyList=["Description"])
    assert conn.GetInstance(group)["Description"] == "held by run 1 until 2030-01-01T00:00:00Z"
    # with a PropertyList only the properties it names change
    inst = conn.GetInstance(group)
    inst["Description"] = "not this"
    inst["Persistent"] = False
    conn.ModifyInstance(inst, PropertyList=["Persistent"])
    after = conn.GetInstance(group)
    assert after["Description"] == "held by run 1 until 2030-01-01T00:00:00Z" and after["Persistent"] is False
    # without one, every property sent (unchanged ElementName and InstanceID pass)
    after["Description"] = "renewed"
    after["DeleteOnEmptyElement"] = True
    conn.ModifyInstance(after)
    again = conn.GetInstance(group)
    assert (again["Description"], again["DeleteOnEmptyElement"], again["ElementName"]) == \
        ("renewed", True, f"modify-{array}")
    assert delete_group(conn, group) == 0


@ARRAYS
def test_modify_instance_refusals(lab, array):
    conn = connect(lab, array)
    rc, group = create_group(conn, f"refuse-{array}")
    assert rc == 0
    inst = conn.GetInstance(group)
    inst["ElementName"] = "stolen"
    for plist in (None, ["ElementName"], ["ElementName", "Description"]):
        error = cim_error(lambda p=plist: conn.ModifyInstance(inst, PropertyList=p))
        assert error.status_code == pywbem.CIM_ERR_FAILED and "ElementName" in error.status_description
    assert conn.GetInstance(group)["ElementName"] == f"refuse-{array}"
    inst = conn.GetInstance(group)
    inst["Description"] = "x"
    assert cim_error(lambda: conn.ModifyInstance(inst, PropertyList=["NoSuchProperty"])).status_code == \
        pywbem.CIM_ERR_INVALID_PARAMETER
    typo = conn.GetInstance(group)
    typo.properties["Persistent"] = pywbem.CIMProperty("Persistent", "yes")
    assert cim_error(lambda: conn.ModifyInstance(typo, PropertyList=["Persistent"])).status_code == \
        pywbem.CIM_ERR_TYPE_MISMATCH
    assert conn.GetInstance(group)["Persistent"] is True
    volume = conn.GetInstance(conn.EnumerateInstanceNames("CIM_StorageVolume")[0])
    volume["ElementName"] = "renamed"
    assert cim_error(lambda: conn.ModifyInstance(volume, PropertyList=["ElementName"])).status_code == \
        pywbem.CIM_ERR_NOT_SUPPORTED
    assert delete_group(conn, group) == 0
    assert cim_error(lambda: conn.ModifyInstance(inst, PropertyList=["Description"])).status_code == \
        pywbem.CIM_ERR_NOT_FOUND


@ARRAYS
def test_delete_group_twice_is_not_found(lab, array):
    conn = connect(lab, array)
    rc, group = create_group(conn, f"twice-{array}")
    assert rc == 0 and delete_group(conn, group) == 0
    assert cim_error(lambda: delete_group(conn, group)).status_code == pywbem.CIM_ERR_NOT_FOUND
    assert cim_error(lambda: conn.GetInstance(group)).status_code == pywbem.CIM_ERR_NOT_FOUND
    assert named(conn, f"twice-{array}") == []
    # a new group of the same name is a new instance
    rc, fresh = create_group(conn, f"twice-{array}")
    assert rc == 0 and fresh.keybindings["InstanceID"] != group.keybindings["InstanceID"]
    assert delete_group(conn, fresh) == 0


@ARRAYS
def test_request_log_marks_group_requests_mutating(lab, array):
    conn = connect(lab, array)
    mark = lab.mark()
    rc, group = create_group(conn, f"logged-{array}")
    assert rc == 0 and create_group(conn, f"logged-{array}")[0] == 4
    inst = conn.GetInstance(group)
    inst["Description"] = "renewed"
    conn.ModifyInstance(inst, PropertyList=["Description"])
    conn.EnumerateInstances("CIM_ReplicationGroup")
    assert delete_group(conn, group) == 0
    entries = lab.log(array=array, since=mark)
    by_method: dict[str, list[dict[str, t.Any]]] = {}
    for entry in entries:
        by_method.setdefault(entry["cim_method"], []).append(entry)
    assert [len(by_method[m]) for m in ("CreateGroup", "ModifyInstance", "DeleteGroup")] == [2, 1, 1]
    for method, intrinsic in (("CreateGroup", False), ("ModifyInstance", True), ("DeleteGroup", False)):
        assert all(e["mutating"] and e["intrinsic"] is intrinsic for e in by_method[method]), by_method[method]
    assert {e["cim_params"]["GroupName"] for e in by_method["CreateGroup"]} == {f"logged-{array}"}
    reads = [e for e in entries if e["cim_method"] not in ("CreateGroup", "ModifyInstance", "DeleteGroup")]
    assert reads and not any(e["mutating"] for e in reads)
    mutations = lab.mutations_since(mark, array=array, claims=True)
    assert sorted(e["cim_method"] for e in mutations) == ["CreateGroup", "CreateGroup", "DeleteGroup",
                                                          "ModifyInstance"]
