"""Every object the VSP simulator serves has exactly the fields ``vsp/fields.py`` (and so ``lab.rst``) lists.

A lab of this module's own is read over HTTPS once (``records``): each object of
``fields.OBJECTS`` in the states its conditional fields need. Per object the test
checks that every always-served field is there, that no record carries a field
the table does not list, and that each conditional field shows up in some state.
A second test keeps the table in ``docs/docsite/rst/lab.rst`` equal to
``fields.rst_table()``.
"""

from __future__ import annotations

import pathlib
import typing as t

import pytest

from storage_replication_lab.vsp import fields
from vsp_helpers import Vsp

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "16MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410011,
            "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": [{"id_base": 256, "count": 4, "size": "8MiB", "pool": 0, "data_blocks": 4},
                      {"id_base": 512, "count": 4, "size": "8MiB", "pool": 0}],
            "settings": {"job_seconds": 0.02},
        },
        "vsp-5": {"vendor": "vsp", "model": "VSP 5500", "serial": 410012, "settings": {"job_seconds": 0.02}},
    },
}
RST = pathlib.Path(__file__).resolve().parents[3] / "docs" / "docsite" / "rst" / "lab.rst"
LOCK = "/ConfigurationManager/v1/services/resource-group-service/actions"
Records = dict[str, list[dict[str, t.Any]]]


def _storages(lab: t.Any, records: Records) -> None:
    """The version, storage and session objects of both arrays (a G900 and a VSP 5500)."""
    for name in ("vsp-a", "vsp-5"):
        vsp = Vsp(lab, name)
        records["storages (list)"] += vsp.http.get(vsp.root + "/storages", timeout=10).json()["data"]
        records["version"].append(vsp.http.get(vsp.info["url"] + "/ConfigurationManager/configuration/version",
                                               timeout=10).json())
        reply = vsp.http.post(vsp.base + "/sessions", json={}, auth=(vsp.info["username"], vsp.info["password"]),
                              timeout=10)
        records["sessions (create)"].append(reply.json())
        vsp.http.headers["Authorization"] = f"Session {reply.json()['token']}"
        vsp.session_id = reply.json()["sessionId"]
        records["storages/{id}"] += [vsp.get(f"/storages/{vsp.info['storage_device_id']}").json(),
                                     vsp.get("/storages/instance").json()]
        records["sessions/{id}"] += [vsp.get(f"/sessions/{vsp.session_id}").json()]
        records["sessions/{id}"] += vsp.get("/sessions").json()["data"]
        vsp.logout()


def _objects(vsp: Vsp, records: Records) -> None:
    """Jobs (succeeded, failed), errors, LDEVs, pools, a copy group with its pair, an action template."""
    ok = vsp.run("POST", "/ldevs", {"poolId": 0, "byteFormatCapacity": "8M", "ldevId": 700})
    failed = vsp.run("POST", "/ldevs", {"poolId": 0, "byteFormatCapacity": "8M", "ldevId": 700}, ok=False)
    records["jobs/{id}"] += [ok, failed, vsp.get("/jobs", count=5).json()["data"][0]]
    records["error object"] += [failed["error"], vsp.get("/ldevs/abc").json(), vsp.get("/jobs/999999").json()]
    records["ldevs/{id} (defined)"] += [vsp.get("/ldevs/256").json(), vsp.get("/ldevs/700").json()]
    records["ldevs/{id} (defined)"] += vsp.get("/ldevs", ldevOption="defined", count=3).json()["data"]
    records["ldevs/{id} (undefined)"] += [vsp.get("/ldevs/900").json()]
    records["pools"] += vsp.get("/pools").json()["data"] + [vsp.get("/pools/0").json()]
    pair_id = vsp.create_pair("cgF", "p1", 256, 512)
    group_id = "cgF,cgFP_,cgFS_"
    group = vsp.get(f"/local-clone-copygroups/{group_id}").json()
    records["local-clone-copygroups/{id}"].append(group)
    records["local-clone-copygroups (list)"] += vsp.get("/local-clone-copygroups").json()["data"]
    records["local-clone-copypairs/{id}"] += [vsp.pair(pair_id)] + group["copyPairs"]
    records["local-clone-copypairs/{id}"] += vsp.get("/local-clone-copypairs",
                                                     localCloneCopyGroupId=group_id).json()["data"]
    records["action template"].append(vsp.get(f"/local-clone-copypairs/{pair_id}/actions/split").json())


def _lock_jobs(lab: t.Any, records: Records) -> None:
    """Lock (taken, refused to a second session) and unlock jobs of the resource-group service."""
    holder, other = Vsp(lab), Vsp(lab)
    holder.login()
    other.login()
    url = holder.info["url"] + LOCK
    records["action template"].append(holder.http.get(url + "/lock", timeout=10).json())
    for client, body in ((holder, {"parameters": {"waitTime": 0}}), (other, {"parameters": {"waitTime": 0}}),
                         (holder, {"parameters": {}})):
        action = "unlock" if body == {"parameters": {}} else "lock"
        reply = client.http.post(f"{url}/{action}/invoke", json=body, timeout=10)
        assert reply.status_code == 202, reply.text
        records["resource-group-service"] += [reply.json(), client.wait_job(reply.json()["jobId"])]
    holder.logout()
    other.logout()


@pytest.fixture(scope="module")
def records(lab: t.Any) -> Records:
    """Every object of ``fields.OBJECTS``, read from the lab (several records each, in several states)."""
    out: Records = {obj.name: [] for obj in fields.OBJECTS}
    _storages(lab, out)
    vsp = Vsp(lab)
    vsp.login()
    try:
        _objects(vsp, out)
    finally:
        vsp.logout()
    _lock_jobs(lab, out)
    return out


def test_every_object_of_the_table_is_read(records: Records) -> None:
    assert set(records) == set(fields.by_name())
    assert all(records.values()), [name for name, got in records.items() if not got]


@pytest.mark.parametrize("name", [obj.name for obj in fields.OBJECTS])
def test_object_serves_the_fields_the_table_lists(records: Records, name: str) -> None:
    obj = fields.by_name()[name]
    seen: set[str] = set()
    for record in records[name]:
        missing = set(obj.served) - set(record)
        extra = set(record) - obj.allowed
        assert not missing, f"{name} lacks {sorted(missing)}: {record}"
        assert not extra, f"{name} serves fields the table does not list: {sorted(extra)}"
        seen |= set(record)
    for field, state in obj.when:
        assert field in seen, f"{name}: {field} ({state}) was served in none of the states read"
    for field in obj.not_served:
        assert field not in obj.allowed, f"{name}: {field} is both served and not served"


def test_nested_objects_follow_their_rows(records: Records) -> None:
    pair = fields.by_name()["local-clone-copypairs/{id}"]
    for group in records["local-clone-copygroups/{id}"]:
        assert group["copyPairs"] and all(set(p) == set(pair.served) for p in group["copyPairs"])
    jobs = records["jobs/{id}"] + records["resource-group-service"]
    for job in jobs:
        assert set(job["request"]) <= {"requestUrl", "requestMethod", "requestBody"}
        assert {"requestUrl", "requestMethod"} <= set(job["request"])
    error = fields.by_name()["error object"]
    for job in jobs:
        if "error" in job:
            assert set(error.served) <= set(job["error"]) <= error.allowed


def test_storage_addresses_follow_the_model(records: Records) -> None:
    for storage in records["storages (list)"] + records["storages/{id}"]:
        if storage["storageDeviceId"].startswith("900000"):
            assert "svpIp" in storage and "ctl1Ip" not in storage, storage
        else:
            assert {"ctl1Ip", "ctl2Ip"} <= set(storage) and "svpIp" not in storage, storage


def test_lab_rst_table_is_the_one_fields_py_renders() -> None:
    text = RST.read_text(encoding="utf-8")
    assert fields.BEGIN in text and fields.END in text, "lab.rst lost the markers of the VSP field table"
    start = text.index(fields.BEGIN)
    end = text.index(fields.END) + len(fields.END) + 1
    assert text[start:end] == fields.rst_table(), (
        "docs/docsite/rst/lab.rst differs from vsp/fields.py: replace the table with the output of "
        "python -m storage_replication_lab.vsp.fields")
