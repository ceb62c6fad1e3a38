"""Issue 15 (VSP): the simulator answers like a real Configuration Manager REST server.

One named test per defect real clients found, over real sockets against a lab of
this module's own: pool records with the documented capacity fields and values
that follow the lab's state (defect 1), storage-side job failures with the
message id and SSB codes Hitachi's docs and clients use (defect 2), documented
field names (defect 3; the full field table is checked in
test_vsp_fidelity_fields.py).
"""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.storage.replication.plugins.module_utils._vsp import CODE_STORAGE, VspJobError
from vsp_helpers import Vsp, assert_error

MIB = 1024 * 1024
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "16MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410021,
            "pools": [{"id": 0, "name": "dp0", "size": "1TiB"},
                      {"id": 1, "name": "tiny", "size": "4MiB"},
                      {"id": 2, "name": "capped", "size": "16MiB", "subscription_limit": 100}],
            "ldevs": [
                {"id_base": 256, "count": 8, "size": "8MiB", "pool": 0, "data_blocks": 16},
                {"id_base": 512, "count": 8, "size": "8MiB", "pool": 0},
                {"id": 600, "size": "16MiB", "pool": 0},
                {"id": 800, "size": "8MiB", "pool": 1},
                {"id": 900, "size": "8MiB", "pool": 2},
            ],
            "settings": {"job_seconds": 0.02},
        },
    },
}
STORAGE_MESSAGE = "An error occurred in the storage system. (message = "
STORAGE_CAUSE = "An error occurred during execution of a RAID Manager command."
# what the issue names, and what MK-98RD9014's HDP pool example carries
POOL_FIELDS = ("totalLocatedCapacity", "locatedVolumeCount", "totalReservedCapacity", "reservedVolumeCount",
               "poolName", "poolStatus", "usedCapacityRate", "totalPoolCapacity", "availableVolumeCapacity",
               "totalPhysicalCapacity", "availablePhysicalVolumeCapacity", "numOfLdevs", "firstLdevId",
               "warningThreshold", "depletionThreshold", "virtualVolumeCapacityRate", "isMainframe", "isShrinking",
               "poolType", "duplicationNumber", "dataReductionAccelerateCompCapacity", "snapshotCount",
               "snapshotUsedCapacity", "suspendSnapshot", "blockingMode")


@pytest.fixture(name="vsp", scope="module")
def vsp_fixture(lab: t.Any) -> t.Iterator[Vsp]:
    client = Vsp(lab)
    client.login()
    yield client
    client.logout()


def storage_failure(vsp: Vsp, method: str, path: str, body: t.Any, ssb: tuple[str, str]) -> dict[str, t.Any]:
    """Run a change that the storage refuses: its job ends Failed with KART30000-E and SSB ``ssb``."""
    job = vsp.run(method, path, body, ok=False)
    assert job["status"] == "Completed" and job["state"] == "Failed", job
    error = job["error"]
    assert error["messageId"] == "KART30000-E" and error["message"].startswith(STORAGE_MESSAGE), error
    assert error["cause"] == STORAGE_CAUSE and error["solutionType"] == "SEE_ERROR_DETAIL"
    assert (error["errorCode"]["SSB1"], error["errorCode"]["SSB2"]) == ssb, error
    return job


def pool_ldevs(vsp: Vsp, pool_id: int) -> list[dict[str, t.Any]]:
    return vsp.get("/ldevs", ldevOption="defined", poolId=pool_id, count=16384).json()["data"]


# defect 1 --------------------------------------------------------------------------------------------------
def test_defect1_pool_records_carry_the_documented_capacity_fields(vsp: Vsp) -> None:
    listed = vsp.get("/pools").json()["data"]
    assert [p["poolId"] for p in listed] == [0, 1, 2]
    for pool in listed:
        assert set(POOL_FIELDS) <= set(pool), sorted(set(POOL_FIELDS) - set(pool))
        assert pool == vsp.get(f"/pools/{pool['poolId']}").json()
        # what Cinder's get_pool_info does with the first pool: capacities in GB from MB fields
        assert all(isinstance(pool[key] // 1024, int) for key in
                   ("totalPoolCapacity", "availableVolumeCapacity", "totalLocatedCapacity"))
    pool = listed[0]
    ldevs = pool_ldevs(vsp, 0)
    used = sum(ldev["numOfUsedBlock"] * 512 for ldev in ldevs)
    assert pool["poolName"] == "dp0" and pool["poolType"] == "HDP" and pool["poolStatus"] == "POLN"
    assert pool["totalPoolCapacity"] == pool["totalPhysicalCapacity"] == 1024 * 1024  # 1 TiB in MB
    assert pool["locatedVolumeCount"] == len(ldevs) == 17
    assert pool["totalLocatedCapacity"] == sum(ldev["blockCapacity"] * 512 for ldev in ldevs) // MIB == 144
    assert pool["availableVolumeCapacity"] == (1024 ** 4 - used) // MIB == pool["availablePhysicalVolumeCapacity"]
    assert pool["usedCapacityRate"] == 100 * used // 1024 ** 4
    assert (pool["totalReservedCapacity"], pool["reservedVolumeCount"]) == (0, 0)  # no full-allocation volumes
    assert (pool["warningThreshold"], pool["depletionThreshold"], pool["virtualVolumeCapacityRate"]) == (70, 80, -1)
    vsp.run("POST", "/ldevs", {"poolId": 0, "byteFormatCapacity": "10M", "ldevId": 1000})
    grown = vsp.get("/pools/0").json()
    assert grown["locatedVolumeCount"] == 18 and grown["totalLocatedCapacity"] == 154
    assert vsp.get("/pools", poolType="DP").json()["data"][0]["poolId"] == 0
    assert vsp.get("/pools", poolType="HTI").json() == {"data": []}
    assert_error(vsp.get("/pools", poolType="XX"), 400, "KART30004-E")


def test_defect1_pool_status_and_refusals_follow_the_data(vsp: Vsp, lab: t.Any) -> None:
    tiny = vsp.get("/pools/1").json()
    assert (tiny["poolStatus"], tiny["usedCapacityRate"], tiny["totalLocatedCapacity"]) == ("POLN", 0, 8)
    assert tiny["totalLocatedCapacity"] > tiny["totalPoolCapacity"] == 4  # thin: more located than held
    lab.write("vsp-a", "800", blocks=52, offset=0)  # 3.25 MiB of 4: past the depletion threshold (80%)
    over = vsp.get("/pools/1").json()
    assert (over["poolStatus"], over["usedCapacityRate"], over["availableVolumeCapacity"]) == ("POLF", 81, 0)
    lab.write("vsp-a", "800", blocks=12, offset=52)  # full
    full = vsp.get("/pools/1").json()
    assert (full["poolStatus"], full["usedCapacityRate"], full["availableVolumeCapacity"]) == ("POLS", 100, 0)
    job = storage_failure(vsp, "POST", "/ldevs", {"poolId": 1, "byteFormatCapacity": "1M"}, ("2E10", "9A71"))
    assert "is full" in job["error"]["message"]
    # pool 2 may locate 100% of its 16 MiB: 8 MiB located, 8 more fit, 9 do not
    job = storage_failure(vsp, "POST", "/ldevs", {"poolId": 2, "byteFormatCapacity": "9M"}, ("2E10", "9A71"))
    assert "subscription limit" in job["error"]["message"]
    vsp.run("POST", "/ldevs", {"poolId": 2, "byteFormatCapacity": "8M"})
    assert vsp.get("/pools/2").json()["totalLocatedCapacity"] == 16


# defect 2 --------------------------------------------------------------------------------------------------
def test_defect2_ldev_already_defined_carries_the_documented_codes(vsp: Vsp, lab: t.Any) -> None:
    mark = lab.mark()
    body = {"poolId": 0, "byteFormatCapacity": "8M", "ldevId": 256}
    job = storage_failure(vsp, "POST", "/ldevs", body, ("2E22", "0001"))  # Cinder's LDEV_ALREADY_DEFINED
    assert "LDEV (256) is already defined" in job["error"]["message"]
    assert job["error"]["errorSource"] == "/ConfigurationManager/v1/objects/ldevs"
    assert [e["method"] for e in lab.mutations_since(mark, "vsp-a")] == ["POST"]
    # the collection's client reads it as a storage refusal with the array's codes
    error = VspJobError("creating LDEV 256 failed", job)
    assert error.code == CODE_STORAGE == "KART30000-E"
    assert error.details["array_error_code"] == {"SSB1": "2E22", "SSB2": "0001"}
    assert "(SSB1 2E22, SSB2 0001)" in str(error.array_message)


def test_defect2_ldev_id_and_undefined_ldev_failures_carry_the_documented_codes(vsp: Vsp) -> None:
    body = {"poolId": 0, "byteFormatCapacity": "8M", "startLdevId": 256, "endLdevId": 263}
    job = storage_failure(vsp, "POST", "/ldevs", body, ("2E11", "2209"))  # Cinder's NO_AVAILABLE_LDEV_ID
    assert "No undefined LDEV id is left between 256 and 263" in job["error"]["message"]
    storage_failure(vsp, "DELETE", "/ldevs/1200", None, ("2E20", "0000"))  # raidcom delete ldev, undefined
    storage_failure(vsp, "PATCH", "/ldevs/1200", {"label": "x"}, ("2E20", "0000"))
    pair = {"copyGroupName": "cgU", "copyPairName": "p1", "replicationType": "SI", "pvolLdevId": 257,
            "svolLdevId": 1200, "isNewGroupCreation": True}
    job = storage_failure(vsp, "POST", "/local-clone-copypairs", pair, ("2E20", "0000"))
    assert "(LDEV 1200) is not defined" in job["error"]["message"]
    storage_failure(vsp, "POST", "/ldevs", {"poolId": 7, "byteFormatCapacity": "8M"}, ("2E10", "9A70"))


def test_defect2_pair_refusals_are_storage_errors_with_distinct_codes(vsp: Vsp) -> None:
    vsp.create_pair("cgR", "p1", 258, 514)
    base = {"copyGroupName": "cgR", "replicationType": "SI", "isNewGroupCreation": False}
    cases = [
        (dict(base, copyPairName="p1", pvolLdevId=259, svolLdevId=515), ("2E11", "9A05"),
         "is already being used by the chosen copy group"),
        (dict(base, copyPairName="p2", pvolLdevId=259, svolLdevId=514), ("2E10", "9A23"),
         "Another copy pair might already be using the specified LDEV"),
        (dict(base, copyPairName="p2", pvolLdevId=259, svolLdevId=600), ("2E21", "9A31"), "capacity"),
        (dict(base, copyPairName="p2", pvolLdevId=258, svolLdevId=515, pvolMuNumber=0), ("2E10", "9A40"),
         "MU number 0"),
        (dict(base, copyPairName="p2", pvolLdevId=259, svolLdevId=515, isNewGroupCreation=True), ("2E11", "9A07"),
         "already exists"),
        (dict(base, copyGroupName="cgNone", copyPairName="p2", pvolLdevId=259, svolLdevId=515), ("2E10", "9A08"),
         "does not exist"),
    ]
    codes = set()
    for body, ssb, text in cases:
        job = storage_failure(vsp, "POST", "/local-clone-copypairs", body, ssb)
        assert text in job["error"]["message"] and job["affectedResources"] == [], job["error"]
        codes.add(ssb)
    assert len(codes) == len(cases)
    storage_failure(vsp, "DELETE", "/ldevs/514", None, ("2E10", "9A23"))  # an LDEV in a pair stays


def test_defect2_refusals_outside_the_storage_keep_their_codes(vsp: Vsp) -> None:
    pair_id = vsp.create_pair("cgS", "p1", 260, 516)
    body = assert_error(vsp.call("POST", f"/local-clone-copypairs/{pair_id}/actions/restore/invoke", {}), 412,
                        "KART30090-E")
    assert body["solutionType"] == "SEE_ERROR_DETAIL" and "errorCode" not in body
    missing = assert_error(vsp.get("/local-clone-copygroups/zz,zzP_,zzS_"), 404, "KART30013-E")
    assert "errorCode" not in missing


# defect 3 --------------------------------------------------------------------------------------------------
def test_defect3_field_names_follow_the_documentation(vsp: Vsp) -> None:
    session = vsp.get(f"/sessions/{vsp.session_id}").json()
    assert set(session) == {"sessionId", "userId", "ipAddress", "createdTime", "lastAccessedTime"}
    storage = vsp.get("/storages/instance").json()
    assert {"ctl1Ip", "ctl2Ip"} <= set(storage) and "svpIp" not in storage  # a G900: controllers, no SVP
    pair = vsp.pair(vsp.create_pair("cgD", "p1", 261, 517))
    assert (pair["pvolDifferenceDataManagement"], pair["svolProcessingStatus"]) == ("S", "N")
    ldev = vsp.get("/ldevs/261").json()
    assert ldev["isAluaEnabled"] is False and "isDataReductionSharedVolumeEnabled" not in ldev
