"""The ONTAP simulator's REST conventions, through plain HTTPS with the lab's CA.

Auth, errors, jobs and their purge, ``return_timeout``, ``fields``/filters/paging,
body forms, volumes, snapshots (``delta``), durations and the request log.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest
import requests

from ontap_helpers import MIB, Rest, until

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "1GiB", "per_transfer_rate": "256MiB", "local_bandwidth": "1GiB",
            "tick_seconds": 0.02},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap",
            "job_seconds": 0.01,
            "aggregates": [{"name": "aggr1_a", "size": "1TiB"}, {"name": "aggr2_a", "size": "1TiB"}],
            "svms": [
                {"name": "svm_a", "volumes": [
                    {"name": "vol{n}", "count": 12, "size": "64MiB", "data_blocks": 32, "nas_path": "/vol{n}"},
                    {"name": "big", "size": "256MiB", "aggregate": "aggr2_a", "data_blocks": 4}]},
                {"name": "svm_other"},
            ],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {"vendor": "ontap", "job_seconds": 0.01, "aggregates": [{"name": "aggr1_b", "size": "1TiB"}],
                    "svms": [{"name": "svm_b"}]},
    },
    "links": [{"between": ["ontap-a", "ontap-b"]}],
}
BLOCK = 64 * 1024
VOLUMES = "/api/storage/volumes"
RELS = "/api/snapmirror/relationships"


@pytest.fixture(name="a")
def fixture_a(lab):
    return Rest(lab, "ontap-a", job_fields="*")


@pytest.fixture(name="b")
def fixture_b(lab):
    return Rest(lab, "ontap-b", job_fields="*")


def uuid_of(reply: requests.Response) -> str:
    return reply.headers["Location"].rsplit("/", 1)[1]


def mirrored(b: Rest, src: str) -> str:
    """An initialized async relationship svm_a:<src> -> svm_b:<src>_dst."""
    b.run("POST", VOLUMES, {"name": f"{src}_dst", "svm": {"name": "svm_b"}, "size": 64 * MIB, "type": "dp"})
    rel_uuid = uuid_of(b.run("POST", RELS, {"source": {"path": f"svm_a:{src}"},
                                            "destination": {"path": f"svm_b:{src}_dst"}, "state": "snapmirrored"}))
    until(lambda: b.get(f"{RELS}/{rel_uuid}")["state"] == "snapmirrored", what="snapmirrored")
    return rel_uuid


# ------------------------------------------------------------------------------------------- transport
def test_version_probe_and_identity(a):
    version = a.get("/api/cluster", fields="version")
    assert set(version) == {"version"}
    assert version["version"]["full"].startswith("NetApp Release 9.14.1")
    assert (version["version"]["generation"], version["version"]["major"], version["version"]["minor"]) == (9, 14, 1)
    identity = a.get("/api/cluster", fields="name,uuid")
    assert identity["name"] == "ontap-a" and identity["uuid"] and "version" not in identity


def test_tls_with_the_lab_ca_only(lab):
    info = lab.array("ontap-a")
    assert info["url"].startswith("https://127.0.0.1:")
    plain = requests.Session()
    plain.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(info["url"] + "/api/cluster", auth=(info["username"], info["password"]),
                  verify=requests.certs.where(), timeout=10)


def test_bad_credentials_get_401(lab):
    info = lab.array("ontap-a")
    plain = requests.Session()
    plain.trust_env = False
    for auth in ((info["username"], "wrong"), ("nobody", info["password"]), None):
        reply = plain.get(info["url"] + "/api/cluster", auth=auth, verify=info["ca_file"], timeout=10)
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "6"
        assert reply.headers["WWW-Authenticate"].startswith("Basic")
    reply = plain.get(info["url"] + "/api/cluster", auth=(info["username"], info["password"]),
                      verify=info["ca_file"], timeout=10)
    assert reply.status_code == 200


def test_unknown_uuid_gives_404_code_4(a, b):
    missing = "00000000-0000-4000-8000-000000000000"
    vol_uuid = a.volume("svm_a", "vol1")["uuid"]
    rel_uuid = mirrored(b, "vol2")
    expected = {"error": {"message": "entry doesn't exist", "code": "4", "target": "uuid"}}
    calls = [
        (a, "GET", f"{VOLUMES}/{missing}"), (a, "PATCH", f"{VOLUMES}/{missing}"), (a, "DELETE", f"{VOLUMES}/{missing}"),
        (a, "GET", f"{VOLUMES}/{missing}/snapshots"), (a, "GET", f"{VOLUMES}/{vol_uuid}/snapshots/{missing}"),
        (a, "DELETE", f"{VOLUMES}/{vol_uuid}/snapshots/{missing}"),
        (b, "GET", f"{RELS}/{missing}"), (b, "PATCH", f"{RELS}/{missing}"), (b, "DELETE", f"{RELS}/{missing}"),
        (b, "GET", f"{RELS}/{missing}/transfers"), (b, "POST", f"{RELS}/{missing}/transfers"),
        (b, "GET", f"{RELS}/{rel_uuid}/transfers/{missing}"),
        (b, "PATCH", f"{RELS}/{rel_uuid}/transfers/{missing}"),
        (a, "GET", f"/api/cluster/jobs/{missing}"), (a, "GET", f"/api/snapmirror/policies/{missing}"),
        (a, "GET", f"/api/cluster/peers/{missing}"), (a, "GET", f"/api/svm/peers/{missing}"),
    ]
    for rest, method, path in calls:
        body = {"state": "aborted"} if method == "PATCH" and "transfers" in path else ({} if method != "GET" else None)
        reply = rest.request(method, path, body)
        assert (reply.status_code, reply.json()) == (404, expected), (method, path, reply.text)


def test_unknown_api_and_method(a):
    reply = a.request("GET", "/api/no/such/thing")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "3"
    reply = a.request("PUT", VOLUMES, {})
    assert reply.status_code == 405 and reply.json()["error"]["code"] == "3"


def test_hal_links_and_plain_json(lab, a):
    info = lab.array("ontap-a")
    session = lab.session("ontap-a")
    session.headers["Accept"] = "application/hal+json"
    reply = session.get(info["url"] + VOLUMES, params={"max_records": 2}, timeout=10)
    assert reply.headers["Content-Type"].startswith("application/hal+json")
    body = reply.json()
    assert body["_links"]["self"]["href"].startswith("/api/storage/volumes")
    assert body["_links"]["next"]["href"].startswith("/api/storage/volumes?")
    assert all(r["_links"]["self"]["href"] == f"/api/storage/volumes/{r['uuid']}" for r in body["records"])
    vol_uuid = body["records"][0]["uuid"]
    reply = session.post(info["url"] + f"{VOLUMES}/{vol_uuid}/snapshots", json={"name": "hal"}, timeout=10)
    job = reply.json()["job"]
    assert reply.status_code == 202 and job["_links"]["self"]["href"] == f"/api/cluster/jobs/{job['uuid']}"
    a.job(job["uuid"])
    plain = a.get(VOLUMES, max_records=2)
    assert "_links" not in plain["records"][0]
    assert set(plain["_links"]) == {"next"}, "application/json keeps only _links.next"
    assert "_links" not in a.get(f"{VOLUMES}/{plain['records'][0]['uuid']}")


# -------------------------------------------------------------------------------------- return_timeout, jobs
@pytest.mark.parametrize("value", ["121", "600", "-1", "soon"])
def test_return_timeout_out_of_range(a, b, value):
    vol_uuid = a.volume("svm_a", "vol3")["uuid"]
    calls = [(a, "GET", VOLUMES), (a, "POST", VOLUMES), (a, "PATCH", f"{VOLUMES}/{vol_uuid}"),
             (a, "DELETE", f"{VOLUMES}/{vol_uuid}"), (a, "POST", f"{VOLUMES}/{vol_uuid}/snapshots"),
             (b, "POST", RELS), (a, "POST", "/api/svm/peers")]
    for rest, method, path in calls:
        reply = rest.request(method, path, {} if method != "GET" else None, return_timeout=value)
        assert reply.status_code == 400, (method, path, reply.text)
        error = reply.json()["error"]
        assert error["code"] == "262197" and error["target"] == "return_timeout", error
        if value.lstrip("-").isdigit():
            assert "<0..120>" in error["message"]
    assert a.volume("svm_a", "vol3")["state"] == "online", "nothing was done"


def test_return_timeout_waits_for_the_job(a):
    vol_uuid = a.volume("svm_a", "vol4")["uuid"]
    reply = a.request("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "rt0"})
    assert reply.status_code == 202
    job = reply.json()["job"]
    assert job["_links"] == {"self": {"href": f"/api/cluster/jobs/{job['uuid']}"}}, "a job keeps its link"
    reply = a.request("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "rt10"}, return_timeout=10)
    assert reply.status_code == 200
    job_uuid = reply.json()["job"]["uuid"]
    assert a.get(f"/api/cluster/jobs/{job_uuid}")["state"] == "success", "the job stays readable after a 200"
    # a job failing inside the window (unverified on arrays): the lab answers 400 with the job and its error
    a.lab.faults("ontap-a", fail_jobs=1, fail_job_message="Injected failure", fail_job_code=917504)
    try:
        reply = a.request("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "rt_fail"}, return_timeout=10)
    finally:
        a.lab.clear_faults("ontap-a")
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == {"code": "917504", "message": "Injected failure"}
    job = a.job(reply.json()["job"]["uuid"])
    assert job["state"] == "failure" and job["code"] == 917504 and job["message"] == "Injected failure"
    assert job["error"] == {"code": "917504", "message": "Injected failure"}
    assert a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name="rt_fail")["num_records"] == 0


def test_job_fields_and_purge_after_retention(lab, a):
    vol_uuid = a.volume("svm_a", "vol5")["uuid"]
    lab.settings("ontap-a", job_retention=1)
    try:
        reply = a.request("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "purged"})
        job_uuid = reply.json()["job"]["uuid"]
        job = a.job(job_uuid)
        for key in ("uuid", "description", "state", "message", "code", "start_time", "end_time", "node", "svm"):
            assert key in job, key
        assert job["code"] == 0 and job["description"] == f"POST /api/storage/volumes/{vol_uuid}/snapshots"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", job["end_time"])
        brief = a.get(f"/api/cluster/jobs/{job_uuid}", fields="message,state")
        assert set(brief) == {"uuid", "message", "state"}
        until(lambda: a.request("GET", f"/api/cluster/jobs/{job_uuid}").status_code == 404, timeout=5,
              what="job purge")
        reply = a.request("GET", f"/api/cluster/jobs/{job_uuid}", fields="message,state")
        assert reply.json() == {"error": {"message": "entry doesn't exist", "code": "4", "target": "uuid"}}
    finally:
        lab.settings("ontap-a", job_retention=300)
    assert lab.settings("ontap-a")["job_retention"] == 300


def test_relationship_patch_description(b):
    rel_uuid = mirrored(b, "vol6")
    reply = b.run("PATCH", f"{RELS}/{rel_uuid}", {"state": "paused"})
    job = b.job(reply.json()["job"]["uuid"])
    assert job["description"] == f"PATCH /api/snapmirror/relationships/{rel_uuid}"


# ----------------------------------------------------------------------------------- fields, filters, paging
def test_collection_default_fields_are_keys(a, b):
    record = a.get(VOLUMES, name="vol1")["records"][0]
    assert set(record) == {"uuid", "name"}
    rel_uuid = mirrored(b, "vol7")
    record = b.get(RELS, uuid=rel_uuid)["records"][0]
    assert set(record) == {"uuid", "source", "destination"}
    assert record["source"]["path"] == "svm_a:vol7" and record["destination"]["svm"]["name"] == "svm_b"
    assert "state" not in record
    empty = a.get(VOLUMES, name="no-such-volume")
    assert empty["records"] == [] and empty["num_records"] == 0


def test_collection_fields(a):
    record = a.get(VOLUMES, name="vol1", fields="size,svm.name,nas.path")["records"][0]
    assert record == {"uuid": record["uuid"], "name": "vol1", "size": 64 * MIB, "svm": {"name": "svm_a"},
                      "nas": {"path": "/vol1"}}
    record = a.get(VOLUMES, name="vol1", fields="aggregates.name")["records"][0]
    assert record["aggregates"] == [{"name": "aggr1_a"}]
    full = a.get(VOLUMES, name="vol1", fields="*")["records"][0]
    for key in ("type", "state", "style", "size", "svm", "aggregates", "nas", "space", "snapmirror"):
        assert key in full, key
    single = a.get(f"{VOLUMES}/{full['uuid']}", fields="type")
    assert single == {"uuid": full["uuid"], "name": "vol1", "type": "rw"}


def test_collection_filters(a):
    def names(**params: str) -> list[str]:
        return sorted(r["name"] for r in a.get(VOLUMES, **params)["records"])

    assert names(name="vol1") == ["vol1"]
    assert names(name="vol1*") == ["vol1", "vol10", "vol11", "vol12"]
    assert names(name="vol2|vol3|nope") == ["vol2", "vol3"]
    assert "vol1" not in names(name="!vol1") and "vol2" in names(name="!vol1")
    assert names(**{"nas.path": "/vol9"}) == ["vol9"]
    assert names(size=">100000000") == ["big"]
    assert names(size=f"<={64 * MIB}", name="vol1*") == ["vol1", "vol10", "vol11", "vol12"]
    assert names(**{"aggregates.name": "aggr2_a"}) == ["big"]
    assert names(**{"svm.name": "svm_other"}) == []
    assert "big" in names(**{"svm.name": "svm_a", "type": "rw", "state": "online"})
    assert names(**{"nas.path": "null", "svm.name": "svm_a"}) == ["big"]
    assert "big" not in names(**{"nas.path": "!null"})
    assert "vol1" in names(**{"snapmirror.is_protected": "false"})


def test_collection_paging_order_and_count(lab, a):
    params = {"name": "vol*", "fields": "name,size", "max_records": "5", "order_by": "name desc"}
    page = a.get(VOLUMES, **params)
    seen = [r["name"] for r in page["records"]]
    assert page["num_records"] == 5
    while "next" in page.get("_links", {}):
        href = page["_links"]["next"]["href"]
        assert href.startswith("/api/storage/volumes?")
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(href).query))
        assert {k: query[k] for k in params} == params, "next repeats every original parameter"
        reply = a.http.get(a.base + href, timeout=10)  # followed as-is
        assert reply.status_code == 200
        page = reply.json()
        seen.extend(r["name"] for r in page["records"])
        assert all(set(r) == {"uuid", "name", "size"} for r in page["records"])
    assert seen == sorted([f"vol{n}" for n in range(1, 13)], reverse=True)
    count = a.get(VOLUMES, name="vol*", return_records="false")
    assert count["num_records"] == 12 and "records" not in count
    a.refused("GET", VOLUMES, max_records="0")
    a.refused("GET", VOLUMES, max_records="many")
    # a server-side page size pages without max_records
    lab.settings("ontap-a", page_size=4)
    try:
        page = a.get(VOLUMES, name="vol*")
        assert page["num_records"] == 4 and "next" in page["_links"]
    finally:
        lab.settings("ontap-a", page_size=None)
    assert "_links" not in a.get(VOLUMES, name="vol*"), "one page: no next link (and no self link with plain JSON)"


def test_relationship_filters(lab, b):
    rel_uuid = mirrored(b, "vol8")
    assert [r["uuid"] for r in b.get(RELS, **{"destination.path": "svm_b:vol8_dst"})["records"]] == [rel_uuid]
    assert rel_uuid in [r["uuid"] for r in b.get(RELS, **{"source.path": "svm_a:*"})["records"]]
    assert b.get(RELS, **{"source.path": "svm_x:*"})["num_records"] == 0
    record = b.get(RELS, **{"destination.path": "svm_b:vol8_dst", "fields": "state,healthy,lag_time,policy.type"}
                   )["records"][0]
    assert record["state"] == "snapmirrored" and record["healthy"] is True and record["policy"] == {"type": "async"}
    assert b.get(RELS, state="snapmirrored|paused", **{"destination.path": "svm_b:vol8_dst"})["num_records"] == 1
    assert b.get(RELS, healthy="false", **{"destination.path": "svm_b:vol8_dst"})["num_records"] == 0


# ------------------------------------------------------------------------------------------------ bodies
def test_body_forms_dotted_nested_and_strings(lab, a, b):
    # dotted keys, a size as a string, the SVM from X-Dot-SVM-Name
    reply = a.http.post(a.base + VOLUMES, json={"name": "dotted", "size": "104857600", "nas.path": "/dotted",
                                                "aggregates": [{"name": "aggr1_a"}]},
                        headers={"X-Dot-SVM-Name": "svm_a"}, timeout=10)
    assert reply.status_code == 202, reply.text
    a.job(reply.json()["job"]["uuid"])
    vol = a.volume("svm_a", "dotted", "size,nas.path,type")
    assert vol["size"] == 100 * MIB and vol["nas"]["path"] == "/dotted" and vol["type"] == "rw"
    assert lab.volume("ontap-a", "svm_a:dotted")["host_access"] == "rw"
    # nested and dotted keys mixed; string booleans and numbers in a relationship
    rel_uuid = uuid_of(b.run("POST", RELS, {"source.path": "svm_a:vol9", "destination": {"path": "svm_b:vol9_dst"},
                                            "create_destination": {"enabled": "true"}, "restore": "false",
                                            "state": "snapmirrored"}))
    until(lambda: b.get(f"{RELS}/{rel_uuid}")["state"] == "snapmirrored")
    b.run("PATCH", f"{RELS}/{rel_uuid}", {"throttle": "100", "backoff_level": "medium"})
    rel = b.get(f"{RELS}/{rel_uuid}")
    assert rel["throttle"] == 100 and rel["backoff_level"] == "medium"
    assert b.volume("svm_b", "vol9_dst")["type"] == "dp"
    b.refused("PATCH", f"{RELS}/{rel_uuid}", {"throttle": "fast"}, code="2")
    b.refused("POST", RELS, {"source.path": "svm_a:vol10", "destination.path": "svm_b:vol10_dst",
                             "create_destination.enabled": "yes"}, code="2")
    b.refused("POST", RELS, ["not", "an", "object"], code="2")
    reply = b.http.post(b.base + RELS, data="{broken", headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "2"
    b.run("DELETE", f"{RELS}/{rel_uuid}", destination_only="true")
    b.refused("DELETE", f"{RELS}/{rel_uuid}", destination_only="maybe", code="2")


def test_unknown_field_refused(a):
    error = a.refused("POST", VOLUMES, {"name": "x", "svm": {"name": "svm_a"}, "colour": "blue"}, code="262179")
    assert error["message"] == 'Unexpected argument "colour".' and error["target"] == "colour"
    vol_uuid = a.volume("svm_a", "vol10")["uuid"]
    error = a.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"nas": {"path": "/v", "colour": 1}}, code="262179")
    assert error["target"] == "nas.colour"


# ---------------------------------------------------------------------------------------------- volumes
def test_volume_create_defaults_grow_mount_unmount_delete(lab, a):
    reply = a.run("POST", VOLUMES, {"name": "plain", "svm": {"name": "svm_a"}})
    assert reply.headers["Location"] == f"/api/storage/volumes/{uuid_of(reply)}"
    vol_uuid = uuid_of(reply)
    vol = a.get(f"{VOLUMES}/{vol_uuid}")
    assert (vol["type"], vol["state"], vol["style"], vol["size"]) == ("rw", "online", "flexvol", 20 * MIB)
    assert "path" not in vol["nas"], "GET omits nas.path while unmounted"
    assert lab.volume("ontap-a", "svm_a:plain")["host_access"] == "none"
    a.refused("POST", VOLUMES, {"name": "plain", "svm": {"name": "svm_a"}}, status=409, code="1")
    a.refused("POST", VOLUMES, {"name": "x", "svm": {"name": "svm_nope"}})
    a.refused("POST", VOLUMES, {"svm": {"name": "svm_a"}}, code="2")
    a.refused("POST", VOLUMES, {"name": "y", "svm": {"name": "svm_a"}, "aggregates": [{"name": "aggr9"}]})
    a.refused("POST", VOLUMES, {"name": "y", "svm": {"name": "svm_a"}, "type": "ls"}, code="2")
    a.refused("POST", VOLUMES, {"name": "y", "svm": {"name": "svm_a"}, "size": 10 * 1024 ** 4})
    # grow
    a.run("PATCH", f"{VOLUMES}/{vol_uuid}", {"size": 40 * MIB})
    assert a.get(f"{VOLUMES}/{vol_uuid}", fields="size")["size"] == 40 * MIB
    # mount (nested), write, unmount ("" ), offline drops the junction
    a.run("PATCH", f"{VOLUMES}/{vol_uuid}", {"nas": {"path": "/plain"}})
    assert a.get(f"{VOLUMES}/{vol_uuid}", fields="nas.path")["nas"] == {"path": "/plain"}
    lab.write("ontap-a", "svm_a:plain", blocks=8)
    a.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"size": BLOCK})  # below what is used
    a.run("PATCH", f"{VOLUMES}/{vol_uuid}", {"nas.path": ""})
    assert "path" not in a.get(f"{VOLUMES}/{vol_uuid}")["nas"]
    assert lab.volume("ontap-a", "svm_a:plain")["host_access"] == "none"
    a.run("PATCH", f"{VOLUMES}/{vol_uuid}", {"nas": {"path": "/plain"}})
    a.run("PATCH", f"{VOLUMES}/{vol_uuid}", {"state": "offline"})
    vol = a.get(f"{VOLUMES}/{vol_uuid}")
    assert vol["state"] == "offline" and "path" not in vol["nas"]
    a.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"state": "sideways"}, code="2")
    a.run("PATCH", f"{VOLUMES}/{vol_uuid}", {"state": "online"})
    a.run("DELETE", f"{VOLUMES}/{vol_uuid}")
    a.refused("GET", f"{VOLUMES}/{vol_uuid}", status=404, code="4")


def test_flexgroup_and_patch_by_query(a):
    vol_uuid = uuid_of(a.run("POST", VOLUMES, {"name": "fg", "svm": {"name": "svm_a"}, "size": 200 * MIB,
                                               "aggregates": [{"name": "aggr1_a"}, {"name": "aggr2_a"}]}))
    assert a.get(f"{VOLUMES}/{vol_uuid}", fields="style")["style"] == "flexgroup"
    reply = a.request("PATCH", VOLUMES, {"size": 300 * MIB}, name="fg")
    assert reply.status_code == 202 and set(reply.json()) == {"job"}, "one record matched: its job"
    a.job(reply.json()["job"]["uuid"])
    assert a.get(f"{VOLUMES}/{vol_uuid}", fields="size")["size"] == 300 * MIB
    a.refused("PATCH", VOLUMES, {"size": 300 * MIB}, code="2")  # a PATCH of the collection needs a query
    reply = a.request("DELETE", VOLUMES, name="fg")
    assert reply.status_code == 202 and set(reply.json()) == {"job"}
    a.job(reply.json()["job"]["uuid"])
    assert a.get(VOLUMES, name="fg")["num_records"] == 0


def test_flexclone(lab, a):
    vol = a.volume("svm_a", "vol11")
    a.run("POST", f"{VOLUMES}/{vol['uuid']}/snapshots", {"name": "for_clone"})
    lab.write("ontap-a", "svm_a:vol11", blocks=3)
    clone_uuid = uuid_of(a.run("POST", VOLUMES, {
        "name": "vol11_clone", "svm": {"name": "svm_a"},
        "clone": {"parent_volume": {"name": "vol11"}, "parent_snapshot": {"name": "for_clone"},
                  "is_flexclone": True}}))
    clone = a.get(f"{VOLUMES}/{clone_uuid}", fields="clone,type")
    assert clone["type"] == "rw" and clone["clone"]["is_flexclone"] is True
    assert clone["clone"]["parent_volume"]["name"] == "vol11" and clone["clone"]["parent_snapshot"]["name"] == "for_clone"
    assert lab.digest("ontap-a", "svm_a:vol11_clone") == lab.snapshot_digest("ontap-a", "svm_a:vol11", "for_clone")
    # the base snapshot is busy in the parent, and the clone holds it too: its delta is what the clone was written
    base = a.get(f"{VOLUMES}/{vol['uuid']}/snapshots", name="for_clone", fields="owners,uuid,create_time")["records"][0]
    assert base["owners"] == ["volume clone"]
    assert a.get(f"{VOLUMES}/{vol['uuid']}", fields="clone")["clone"]["has_flexclone"] is True
    a.refused("DELETE", f"{VOLUMES}/{vol['uuid']}/snapshots/{base['uuid']}", status=409, code="1638555")
    held = a.get(f"{VOLUMES}/{clone_uuid}/snapshots", name="for_clone", fields="create_time,delta")["records"][0]
    assert held["create_time"] == base["create_time"] and held["delta"]["size_consumed"] == 0
    lab.write("ontap-a", "svm_a:vol11_clone", blocks=2, force=True)
    held = a.get(f"{VOLUMES}/{clone_uuid}/snapshots", name="for_clone", fields="delta")["records"][0]
    assert held["delta"]["size_consumed"] == 2 * BLOCK
    # a parent with clones, and a mounted volume, are not deleted
    a.run("PATCH", f"{VOLUMES}/{vol['uuid']}", {"nas": {"path": ""}})
    a.refused("DELETE", f"{VOLUMES}/{vol['uuid']}", status=409, code="917552")
    a.run("PATCH", f"{VOLUMES}/{clone_uuid}", {"nas": {"path": "/vol11_clone"}})
    a.refused("DELETE", f"{VOLUMES}/{clone_uuid}", status=409, code="917548")
    a.run("PATCH", f"{VOLUMES}/{clone_uuid}", {"nas": {"path": ""}})
    # without a parent snapshot ONTAP takes one of a read-write parent
    auto_uuid = uuid_of(a.run("POST", VOLUMES, {"name": "vol11_auto", "svm": {"name": "svm_a"},
                                                "clone": {"parent_volume": {"name": "vol11"}}}))
    taken = a.get(f"{VOLUMES}/{auto_uuid}", fields="clone")["clone"]["parent_snapshot"]["name"]
    assert re.fullmatch(r"clone_vol11_auto\.\d{4}-\d\d-\d\d_\d{6}\.0", taken), taken
    assert lab.digest("ontap-a", "svm_a:vol11_auto") == lab.snapshot_digest("ontap-a", "svm_a:vol11", taken)
    a.run("DELETE", f"{VOLUMES}/{auto_uuid}")
    a.run("PATCH", f"{VOLUMES}/{clone_uuid}", {"clone": {"split_initiated": True}})
    assert a.get(f"{VOLUMES}/{clone_uuid}", fields="clone")["clone"]["is_flexclone"] is False
    assert a.get(f"{VOLUMES}/{vol['uuid']}/snapshots", name="for_clone", fields="owners")["records"][0]["owners"] == []
    a.run("DELETE", f"{VOLUMES}/{vol['uuid']}/snapshots/{base['uuid']}")


# -------------------------------------------------------------------------------------------- snapshots
def test_snapshots_and_delta(lab, a):
    vol_uuid = a.volume("svm_a", "vol12")["uuid"]
    reply = a.run("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "s1", "comment": "first",
                                                              "snapmirror_label": "daily"})
    assert reply.headers["Location"].startswith(f"/api/storage/volumes/{vol_uuid}/snapshots")
    record = a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name="s1",
                   fields="name,uuid,create_time,snapmirror_label,owners,size,comment")["records"][0]
    assert record["snapmirror_label"] == "daily" and record["comment"] == "first" and record["owners"] == []
    assert record["size"] == 32 * BLOCK
    delta = a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name="s1", fields="delta")["records"][0]["delta"]
    assert delta["size_consumed"] == 0
    lab.write("ontap-a", "svm_a:vol12", blocks=6, offset=2)
    lab.write("ontap-a", "svm_a:vol12", blocks=3, offset=400)
    for fields in ("delta", "delta.size_consumed", "name,delta"):
        record = a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name="s1", fields=fields)["records"][0]
        assert record["delta"]["size_consumed"] == 9 * BLOCK, fields
    single = a.get(f"{VOLUMES}/{vol_uuid}/snapshots/{record['uuid']}", fields="delta")
    assert single["delta"]["size_consumed"] == 9 * BLOCK
    assert "delta" not in a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name="s1", fields="name")["records"][0]
    # refusals and delete
    a.refused("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "s1"}, status=409, code="1")
    a.refused("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "s2", "snapmirror_label": "x" * 32}, code="2")
    a.refused("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {}, code="2")
    a.run("DELETE", f"{VOLUMES}/{vol_uuid}/snapshots/{record['uuid']}")
    assert a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name="s1")["num_records"] == 0


def test_snapmirror_snapshot_is_busy(b):
    rel_uuid = mirrored(b, "vol1")
    exported = b.get(f"{RELS}/{rel_uuid}")["exported_snapshot"]
    a = Rest(b.lab, "ontap-a", job_fields="*")
    vol_uuid = a.volume("svm_a", "vol1")["uuid"]
    snap = a.get(f"{VOLUMES}/{vol_uuid}/snapshots", name=exported, fields="owners")["records"][0]
    assert snap["owners"] == ["snapmirror_dependent"]
    a.refused("DELETE", f"{VOLUMES}/{vol_uuid}/snapshots/{snap['uuid']}", status=409)
    a.refused("DELETE", f"{VOLUMES}/{vol_uuid}", status=409)  # protected by a relationship
    assert a.volume("svm_a", "vol1", "snapmirror.is_protected")["snapmirror"]["is_protected"] is True


# ------------------------------------------------------------------------------------------ durations
def test_lag_time_day_form_and_duration_filters(lab, b):
    rel_uuid = mirrored(b, "vol5")
    rel = b.get(f"{RELS}/{rel_uuid}")
    assert re.fullmatch(r"PT(\d+S|0S)", rel["lag_time"]), rel["lag_time"]
    assert re.fullmatch(r"PT(\d+M)?(\d+S)?", rel["total_transfer_duration"])
    lab.advance_clock(90000)
    lag = b.get(f"{RELS}/{rel_uuid}", fields="lag_time")["lag_time"]
    assert re.fullmatch(r"P1DT1H(\d+S)?", lag), lag
    dest = {"destination.path": "svm_b:vol5_dst"}
    assert b.get(RELS, lag_time=">PT10H", **dest)["num_records"] == 1
    assert b.get(RELS, lag_time=">P1DT", **dest)["num_records"] == 1
    assert b.get(RELS, lag_time="<PT10H", **dest)["num_records"] == 0
    assert b.get(RELS, lag_time=">P2DT", **dest)["num_records"] == 0
    lab.advance_clock(86400 - 3600)
    lag = b.get(f"{RELS}/{rel_uuid}", fields="lag_time")["lag_time"]
    assert re.fullmatch(r"P2DT(\d+S)?", lag), lag
    # an update brings the lag back down
    b.run("POST", f"{RELS}/{rel_uuid}/transfers", {})
    until(lambda: re.fullmatch(r"PT\d+S", b.get(f"{RELS}/{rel_uuid}", fields="lag_time")["lag_time"]))


# --------------------------------------------------------------------------------------- the request log
def test_request_log_flags_mutations_and_hides_passwords(lab, a):
    mark = lab.mark()
    a.get(VOLUMES, name="vol2")
    a.get("/api/cluster", fields="version")
    vol_uuid = a.volume("svm_a", "vol2")["uuid"]
    a.run("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "logged"})
    a.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"password": "hunter2", "nas": {"secret": "x"}})
    entries = lab.log(array="ontap-a", since=mark)
    reads = [e for e in entries if e["method"] == "GET"]
    writes = [e for e in entries if e["method"] != "GET"]
    assert reads and all(e["mutating"] is False for e in reads)
    assert [(e["method"], e["mutating"]) for e in writes] == [("POST", True), ("PATCH", True)]
    assert writes[0]["body"] == {"name": "logged"} and writes[0]["status"] == 202
    assert writes[1]["body"]["password"] == "********" and writes[1]["body"]["nas"]["secret"] == "********"
    assert [e["path"] for e in lab.mutations_since(mark, "ontap-a")] == [e["path"] for e in writes]
    text = json.dumps(lab.log())
    for name in ("ontap-a", "ontap-b"):
        assert lab.array(name)["password"] not in text
    assert "hunter2" not in text


# ------------------------------------------------------------------------------------------------ peers
def test_peers(lab, a, b):
    peers = a.get("/api/cluster/peers", fields="name,status,remote,authentication")["records"]
    assert [(p["name"], p["status"]["state"], p["authentication"]["state"]) for p in peers] == \
        [("ontap-b", "available", "ok")]
    svm_peers = a.get("/api/svm/peers", fields="*")["records"]
    assert [(p["svm"]["name"], p["peer"]["svm"]["name"], p["name"], p["state"], p["applications"])
            for p in svm_peers] == [("svm_a", "svm_b", "svm_b", "peered", ["snapmirror"])]
    lab.down("ontap-b")
    try:
        peer = a.get("/api/cluster/peers", fields="status")["records"][0]
        assert peer["status"]["state"] == "unavailable"
        a.refused("POST", "/api/svm/peers", {"svm": {"name": "svm_other"}, "peer": {"svm": {"name": "svm_b"},
                                             "cluster": {"name": "ontap-b"}}, "applications": ["snapmirror"]},
                  code="262224")
    finally:
        lab.up("ontap-b")
    # a new SVM peering: initiated here, pending there, accepted only by the peer
    a.run("POST", "/api/svm/peers", {"svm": {"name": "svm_other"}, "peer": {"svm": {"name": "svm_b"},
                                     "cluster": {"name": "ontap-b"}}, "applications": ["snapmirror"]})
    mine = a.get("/api/svm/peers", fields="state", **{"svm.name": "svm_other"})["records"][0]
    theirs = b.get("/api/svm/peers", fields="state", **{"peer.svm.name": "svm_other"})["records"][0]
    assert (mine["state"], theirs["state"]) == ("initiated", "pending")
    a.refused("PATCH", f"/api/svm/peers/{mine['uuid']}", {"state": "peered"}, code="2")
    b.run("PATCH", f"/api/svm/peers/{theirs['uuid']}", {"state": "peered"})
    assert a.get(f"/api/svm/peers/{mine['uuid']}")["state"] == "peered"
    a.refused("POST", "/api/svm/peers", {"svm": {"name": "svm_other"}, "peer": {"svm": {"name": "svm_b"},
                                         "cluster": {"name": "ontap-b"}}, "applications": ["snapmirror"]},
              status=409, code="1")


def test_policies(a):
    records = a.get("/api/snapmirror/policies", fields="name,type,sync_type,scope")["records"]
    by_name = {p["name"]: p for p in records}
    for name in ("Asynchronous", "MirrorAllSnapshots", "MirrorAndVault", "MirrorLatest", "XDPDefault"):
        assert by_name[name]["type"] == "async" and by_name[name]["scope"] == "cluster"
    assert (by_name["Sync"]["type"], by_name["Sync"]["sync_type"]) == ("sync", "sync")
    assert by_name["StrictSync"]["sync_type"] == "strict_sync"
    assert by_name["AutomatedFailOver"]["sync_type"] == "automated_failover"
    policy_uuid = uuid_of(a.run("POST", "/api/snapmirror/policies", {"name": "Mine", "svm": {"name": "svm_a"},
                                                                     "type": "async",
                                                                     "transfer_schedule": {"name": "daily"}}))
    both = a.get("/api/snapmirror/policies", name="Mine", fields="svm.name,transfer_schedule,scope")["records"]
    assert both == [{"uuid": policy_uuid, "name": "Mine", "svm": {"name": "svm_a"},
                     "transfer_schedule": {"name": "daily"}, "scope": "svm"}]
    a.refused("PATCH", f"/api/snapmirror/policies/{by_name['Sync']['uuid']}", {"throttle": 5}, code="2")
    a.run("DELETE", f"/api/snapmirror/policies/{policy_uuid}")
