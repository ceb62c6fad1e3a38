"""The lab's control API: outages, link cuts, injected faults, the request log, the clock.

Arrays are reached over HTTPS with the lab's CA, the control API over plain HTTP
on its own loopback port, the same way tests, the bench and the demo use them.
"""

from __future__ import annotations

import time
import typing as t

import pytest
import requests

import ontap_helpers
from ontap_helpers import MIB, until
from storage_replication_lab.client import LabError

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "1GiB", "per_transfer_rate": "256MiB", "local_bandwidth": "1GiB",
            "tick_seconds": 0.02},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap",
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 8, "size": "64MiB", "data_blocks": 32, "nas_path": "/vol{n}"}]}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {"vendor": "ontap", "svms": [{"name": "svm_b"}]},
        "ontap-c": {"vendor": "ontap", "username": "operator", "password": "fixed-Secret-1",
                    "faults": {"latency_ms": 20}, "svms": [{"name": "svm_c"}]},
    },
    "links": [{"between": ["ontap-a", "ontap-b"], "bandwidth": "512MiB", "per_transfer_rate": "128MiB"}],
}
BLOCK = 64 * 1024
RELS = "/api/snapmirror/relationships"


class Rest(ontap_helpers.Rest):
    """The shared client, reading whole jobs; a volume's uuid by name."""

    def __init__(self, lab: t.Any, name: str) -> None:
        super().__init__(lab, name, job_fields="*")

    def vol_uuid(self, name: str) -> str:
        return self.get("/api/storage/volumes", name=name)["records"][0]["uuid"]


@pytest.fixture(name="a")
def fixture_a(lab):
    return Rest(lab, "ontap-a")


@pytest.fixture(name="b")
def fixture_b(lab):
    return Rest(lab, "ontap-b")


def control(lab: t.Any, method: str, path: str, body: t.Any = None, **params: t.Any) -> requests.Response:
    return lab.http.request(method, lab.control_url + path, json=body, params=params or None, timeout=30)


def relationship(b: Rest, src: str, initialize: bool = True, **extra: t.Any) -> str:
    b.run("POST", "/api/storage/volumes", {"name": f"{src}_dst", "svm": {"name": "svm_b"}, "size": 64 * MIB,
                                           "type": "dp"})
    body = {"source": {"path": f"svm_a:{src}"}, "destination": {"path": f"svm_b:{src}_dst"}}
    body.update(extra)
    rel_uuid = b.run("POST", RELS, body).headers["Location"].rsplit("/", 1)[1]
    if initialize:
        b.run("PATCH", f"{RELS}/{rel_uuid}", {"state": "snapmirrored"})
        until(lambda: b.get(f"{RELS}/{rel_uuid}")["state"] == "snapmirrored", what="snapmirrored")
    return rel_uuid


# ------------------------------------------------------------------------------------------ read-only calls
def test_health_endpoints_and_arrays(lab):
    assert lab.http.get(lab.control_url + "/health", timeout=10).json() == {
        "ok": True, "arrays": {"ontap-a": True, "ontap-b": True, "ontap-c": True}}
    endpoints = lab.http.get(lab.control_url + "/endpoints", timeout=10).json()
    assert endpoints["control_url"] == lab.control_url
    info = endpoints["arrays"]["ontap-c"]
    assert (info["vendor"], info["username"], info["password"]) == ("ontap", "operator", "fixed-Secret-1")
    assert info["url"].startswith("https://127.0.0.1:") and info["ca_file"].endswith("ca.pem")
    assert info["control_url"] == lab.control_url + "/arrays/ontap-c"
    assert endpoints["arrays"]["ontap-a"]["svms"] == ["svm_a"]
    assert endpoints["arrays"]["ontap-a"]["password"] != endpoints["arrays"]["ontap-b"]["password"]
    arrays = lab.http.get(lab.control_url + "/arrays", timeout=10).json()
    assert set(arrays) == {"ontap-a", "ontap-b", "ontap-c"}
    assert arrays["ontap-c"]["faults"]["latency_ms"] == 20, "faults from the topology"
    one = lab.http.get(lab.control_url + "/arrays/ontap-a", timeout=10).json()
    assert one["up"] is True and one["vendor"] == "ontap" and one["volumes"] == 8
    reply = control(lab, "GET", "/arrays/nope")
    assert reply.status_code == 404 and "nope" in reply.json()["error"]
    assert control(lab, "GET", "/arrays/ontap-a/volumes/nope").status_code == 404
    vols = lab.volumes("ontap-a")
    assert set(vols) == {f"svm_a:vol{n}" for n in range(1, 9)}
    vol = vols["svm_a:vol1"]
    assert (vol["size"], vol["block_size"], vol["blocks_written"], vol["host_access"]) == (64 * MIB, BLOCK, 32, "rw")


# ------------------------------------------------------------------------------------------------ outages
def test_array_down_refuses_connections_and_comes_back(lab, a):
    a.get("/api/cluster")  # a kept-alive connection exists
    lab.down("ontap-a")
    try:
        assert lab.http.get(lab.control_url + "/health", timeout=10).json()["arrays"]["ontap-a"] is False
        with pytest.raises(requests.exceptions.ConnectionError):
            a.request("GET", "/api/cluster")
        fresh = Rest(lab, "ontap-a")
        with pytest.raises(requests.exceptions.ConnectionError) as refused:
            fresh.request("GET", "/api/cluster")
        assert "refused" in str(refused.value).lower()
        assert Rest(lab, "ontap-b").get("/api/cluster")["name"] == "ontap-b", "other arrays keep serving"
        with pytest.raises(LabError, match="409"):
            lab.write("ontap-a", "svm_a:vol1", blocks=1)
        lab.down("ontap-a")  # down twice is fine
    finally:
        lab.up("ontap-a")
    assert a.get("/api/cluster")["name"] == "ontap-a"
    lab.up("ontap-a")  # up twice is fine
    assert a.get("/api/cluster")["name"] == "ontap-a"


def test_array_down_for_a_while(lab, a):
    started = time.monotonic()
    lab.down("ontap-a", duration=0.5)
    with pytest.raises(requests.exceptions.ConnectionError):
        Rest(lab, "ontap-a").request("GET", "/api/cluster")
    until(lambda: lab.http.get(lab.control_url + "/health", timeout=10).json()["arrays"]["ontap-a"], timeout=5)
    assert time.monotonic() - started >= 0.4
    assert a.get("/api/cluster")["name"] == "ontap-a"
    # an earlier timed outage does not end a later one
    lab.down("ontap-a", duration=0.3)
    lab.up("ontap-a")
    lab.down("ontap-a")
    try:
        time.sleep(0.5)
        assert lab.http.get(lab.control_url + "/health", timeout=10).json()["arrays"]["ontap-a"] is False
    finally:
        lab.up("ontap-a")
    assert control(lab, "POST", "/arrays/ontap-a/down", {"duration": "soon"}).status_code == 400
    assert control(lab, "POST", "/arrays/ontap-a/down", {"duration": -1}).status_code == 400
    assert lab.http.get(lab.control_url + "/health", timeout=10).json()["arrays"]["ontap-a"] is True


def test_link_cut_fails_transfers_and_turns_unhealthy(lab, b):
    rel_uuid = relationship(b, "vol2")
    b.run("PATCH", f"{RELS}/{rel_uuid}", {"throttle": 1024})
    lab.write("ontap-a", "svm_a:vol2", blocks=32, offset=100)  # 2 MiB at 1 MiB/s
    mark = lab.transfers()["finished"][-1]["id"] if lab.transfers()["finished"] else 0
    b.run("POST", f"{RELS}/{rel_uuid}/transfers", {})
    until(lambda: b.get(f"{RELS}/{rel_uuid}")["transfer"]["bytes_transferred"] > 0, what="bytes moving")
    lab.cut("ontap-a", "ontap-b")
    try:
        assert [link["cut"] for link in lab.http.get(lab.control_url + "/links", timeout=10).json()
                if link["ends"] == ["ontap-a", "ontap-b"]] == [True]
        rel = until(lambda: b.get(f"{RELS}/{rel_uuid}"), lambda r: r["transfer"]["state"] == "failed",
                    what="transfer failed")
        assert rel["healthy"] is False and rel["state"] == "snapmirrored"
        reason = rel["unhealthy_reason"][0]
        assert reason["code"] == "13303844" and "cut" in reason["message"]
        assert 0 < rel["transfer"]["bytes_transferred"] < 32 * BLOCK
        finished = [x for x in lab.transfers(since_id=mark)["finished"] if x["destination"] == "ontap-b:svm_b:vol2_dst"]
        assert finished[-1]["state"] == "failed" and "cut" in finished[-1]["error"]
        # a new update fails at once while the link is cut
        b.run("POST", f"{RELS}/{rel_uuid}/transfers", {})
        assert b.get(f"{RELS}/{rel_uuid}")["transfer"]["state"] == "failed"
    finally:
        lab.restore("ontap-a", "ontap-b")
    b.run("PATCH", f"{RELS}/{rel_uuid}", {"throttle": 0})
    b.run("POST", f"{RELS}/{rel_uuid}/transfers", {})
    rel = until(lambda: b.get(f"{RELS}/{rel_uuid}"), lambda r: r["transfer"]["state"] == "success")
    assert rel["healthy"] is True and "unhealthy_reason" not in rel
    assert lab.digest("ontap-b", "svm_b:vol2_dst") == lab.digest("ontap-a", "svm_a:vol2")


def test_link_settings(lab):
    link = lab.link("ontap-a", "ontap-b", bandwidth="256MiB", per_transfer_rate=64 * MIB)
    assert (link["bandwidth"], link["per_transfer_rate"], link["cut"]) == (256 * MIB, 64 * MIB, False)
    link = lab.link("ontap-a", "ontap-b", bandwidth="512MiB", per_transfer_rate="128MiB")
    assert link["bandwidth"] == 512 * MIB
    assert control(lab, "PATCH", "/links/ontap-a/nope", {"cut": True}).status_code == 404
    assert control(lab, "PATCH", "/links/ontap-a/ontap-b", {"bandwidth": "lots"}).status_code == 400
    assert control(lab, "PATCH", "/links/ontap-a/ontap-b", {"per_transfer_rate": 0}).status_code == 400
    assert lab.link("ontap-a", "ontap-b")["bandwidth"] == 512 * MIB


# --------------------------------------------------------------------------------------------- faults
def test_injected_latency(lab, a):
    a.get("/api/cluster")
    started = time.monotonic()
    a.get("/api/cluster")
    fast = time.monotonic() - started
    lab.faults("ontap-a", latency_ms=300)
    try:
        started = time.monotonic()
        a.get("/api/cluster")
        assert time.monotonic() - started >= 0.3
    finally:
        lab.clear_faults("ontap-a")
    assert fast < 0.3
    lab.faults("ontap-a", latency_ms=300, only_mutating=True)
    try:
        started = time.monotonic()
        a.get("/api/cluster")
        assert time.monotonic() - started < 0.3, "only_mutating spares reads"
    finally:
        lab.clear_faults("ontap-a")
    started = time.monotonic()
    Rest(lab, "ontap-c").get("/api/cluster")  # ontap-c has 20 ms from its topology
    assert time.monotonic() - started >= 0.02


def test_injected_5xx(lab, a):
    mark = lab.mark()
    lab.faults("ontap-a", error_count=2, error_status=503)
    try:
        for attempt in (1, 2):
            reply = a.request("GET", "/api/cluster")
            assert reply.status_code == 503, attempt
            assert reply.json()["error"]["message"] and reply.json()["error"]["code"]
        assert a.request("GET", "/api/cluster").status_code == 200, "the count is used up"
        injected = [e for e in lab.log(array="ontap-a", since=mark) if e.get("injected")]
        assert [e["status"] for e in injected] == [503, 503]
        lab.faults("ontap-a", error_rate=1.0, error_status=500, only_mutating=True)
        assert a.request("GET", "/api/cluster").status_code == 200
        vol_uuid = a.vol_uuid("vol3")
        reply = a.request("POST", f"/api/storage/volumes/{vol_uuid}/snapshots", {"name": "never"})
        assert reply.status_code == 500
    finally:
        lab.clear_faults("ontap-a")
    assert a.get(f"/api/storage/volumes/{vol_uuid}/snapshots", name="never")["num_records"] == 0, \
        "an injected error changes nothing"
    assert lab.http.get(lab.control_url + "/arrays/ontap-a", timeout=10).json()["faults"]["error_rate"] == 0


def test_dropped_connections(lab, a):
    lab.faults("ontap-a", drop_count=1)
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            a.request("GET", "/api/cluster")
        assert a.request("GET", "/api/cluster").status_code == 200
        # dropped after the array acted: the client sees an error, the change happened
        vol_uuid = a.vol_uuid("vol4")
        lab.faults("ontap-a", drop_count=1, drop_when="after", only_mutating=True)
        with pytest.raises(requests.exceptions.ConnectionError):
            a.request("POST", f"/api/storage/volumes/{vol_uuid}/snapshots", {"name": "happened"})
    finally:
        lab.clear_faults("ontap-a")
    until(lambda: a.get(f"/api/storage/volumes/{vol_uuid}/snapshots", name="happened")["num_records"] == 1)
    statuses = [e["status"] for e in lab.log(array="ontap-a") if e["status"] in ("dropped", "dropped-after")]
    assert statuses == ["dropped", "dropped-after"]


def test_failing_jobs(lab, a):
    vol_uuid = a.vol_uuid("vol5")
    lab.faults("ontap-a", fail_jobs=1, fail_job_message="Volume is busy", fail_job_code="917536")
    try:
        reply = a.request("POST", f"/api/storage/volumes/{vol_uuid}/snapshots", {"name": "failing"})
        assert reply.status_code == 202
        job = a.job(reply.json()["job"]["uuid"])
    finally:
        lab.clear_faults("ontap-a")
    assert job["state"] == "failure" and job["message"] == "Volume is busy" and job["code"] == 917536
    assert job["error"] == {"code": "917536", "message": "Volume is busy"}
    assert a.get(f"/api/storage/volumes/{vol_uuid}/snapshots", name="failing")["num_records"] == 0
    a.run("POST", f"/api/storage/volumes/{vol_uuid}/snapshots", {"name": "failing"})


def test_faults_for_every_array_and_validation(lab):
    described = lab.faults(latency_ms=1, seed=7)
    assert set(described) == {"ontap-a", "ontap-b", "ontap-c"}
    assert all(f["latency_ms"] == 1 for f in described.values())
    lab.clear_faults()
    arrays = lab.http.get(lab.control_url + "/arrays", timeout=10).json()
    assert all(info["faults"]["latency_ms"] == 0 for info in arrays.values())
    reply = control(lab, "POST", "/arrays/ontap-a/faults", {"latency": 5})
    assert reply.status_code == 400 and "latency" in reply.json()["error"]
    assert control(lab, "POST", "/arrays/ontap-a/faults", {"drop_when": "during", "latency_ms": 9}).status_code == 400
    assert control(lab, "POST", "/arrays/ontap-a/faults", {"latency_ms": "slow"}).status_code == 400
    assert control(lab, "POST", "/arrays/ontap-a/faults", [1, 2]).status_code == 400
    reply = lab.http.post(lab.control_url + "/arrays/ontap-a/faults", data="{nope", timeout=10)
    assert reply.status_code == 400
    assert control(lab, "POST", "/faults", {"latency": 5}).status_code == 400
    assert control(lab, "POST", "/arrays/nope/faults", {}).status_code == 404
    arrays = lab.http.get(lab.control_url + "/arrays", timeout=10).json()
    assert arrays["ontap-a"]["faults"]["drop_when"] == "before", "a refused update leaves the faults as they were"
    assert arrays["ontap-a"]["faults"]["latency_ms"] == 0
    lab.clear_faults()


# ---------------------------------------------------------------------------------------------- the log
def test_mutation_log_read_filter_and_reset(lab, a, b):
    a.get("/api/cluster")
    vol_uuid = a.vol_uuid("vol6")
    a.run("POST", f"/api/storage/volumes/{vol_uuid}/snapshots", {"name": "logme"})
    b.get("/api/cluster")
    everything = lab.log()
    assert {e["array"] for e in everything} >= {"ontap-a", "ontap-b"}
    for entry in everything:
        for key in ("seq", "time", "array", "vendor", "method", "path", "query", "mutating", "status"):
            assert key in entry, key
    only_a = lab.log(array="ontap-a")
    assert only_a and all(e["array"] == "ontap-a" for e in only_a)
    mutations = lab.log(mutating=True)
    assert [(e["method"], e["path"]) for e in mutations if vol_uuid in e["path"]] == \
        [("POST", f"/api/storage/volumes/{vol_uuid}/snapshots")]
    assert all(e["method"] in ("POST", "PATCH", "DELETE") for e in mutations)
    assert all(not e["mutating"] for e in lab.log(mutating=False))
    query_entry = [e for e in only_a if e["path"] == "/api/storage/volumes" and e["method"] == "GET"][-1]
    assert query_entry["query"] == "name=vol6"
    mark = lab.mark()
    assert lab.log(since=mark) == []
    a.get("/api/cluster")
    assert [e["path"] for e in lab.log(since=mark)] == ["/api/cluster"]
    lab.reset_log()
    reply = lab.http.get(lab.control_url + "/log", timeout=10).json()
    assert reply["entries"] == [] and reply["count"] == 0 and reply["last_seq"] >= mark + 1
    a.get("/api/cluster")
    assert [e["seq"] for e in lab.log()] == [reply["last_seq"] + 1], "sequence numbers go on after a reset"
    assert lab.mutations_since(lab.mark()) == []


# ------------------------------------------------------------------------------------ clock, volumes, settings
def test_clock(lab):
    before = lab.http.get(lab.control_url + "/clock", timeout=10).json()
    after = lab.http.post(lab.control_url + "/clock", json={"advance": 3600}, timeout=10).json()
    assert after["offset"] == before["offset"] + 3600
    assert after["now"] >= before["now"] + 3600
    assert control(lab, "POST", "/clock", {"advance": -10}).status_code == 400, "the clock never goes back"
    assert control(lab, "POST", "/clock", {"advance": "later"}).status_code == 400
    assert control(lab, "GET", "/log", since="x").status_code == 400
    assert control(lab, "GET", "/transfers", since_id="x").status_code == 400


def test_volume_writes(lab, b):
    first = lab.write("ontap-a", "svm_a:vol7", blocks=3, offset=10)
    assert first["written"] == [10, 11, 12] and first["digest"] == lab.digest("ontap-a", "svm_a:vol7")
    random_write = lab.write("ontap-a", "svm_a:vol7", blocks=5)
    assert len(set(random_write["written"])) == 5
    assert lab.volume("ontap-a", "svm_a:vol7")["blocks_written"] >= 32
    with pytest.raises(LabError, match="400"):
        lab.write("ontap-a", "svm_a:vol7", blocks=1, offset=10 ** 6)
    with pytest.raises(LabError, match="404"):
        lab.write("ontap-a", "svm_a:nope", blocks=1)
    b.run("POST", "/api/storage/volumes", {"name": "dp_only", "svm": {"name": "svm_b"}, "type": "dp",
                                           "nas": {"path": "/dp_only"}})
    assert lab.volume("ontap-b", "svm_b:dp_only")["host_access"] == "ro"
    with pytest.raises(LabError, match="409"):
        lab.write("ontap-b", "svm_b:dp_only", blocks=1)
    assert lab.write("ontap-b", "svm_b:dp_only", blocks=1, force=True)["written"]


def test_settings(lab):
    assert lab.settings("ontap-b", job_seconds=0.01) == {"job_seconds": 0.01, "job_retention": 300.0,
                                                         "page_size": None}
    lab.settings("ontap-b", job_seconds=0.05)
    reply = control(lab, "PATCH", "/arrays/ontap-b/settings", {"colour": "red"})
    assert reply.status_code == 400 and "colour" in reply.json()["error"]
