"""The VSP simulator over plain HTTPS: endpoints, storages, sessions and base paths.

LDEVs, ShadowImage pairs, jobs and errors are covered in test_vsp_sim_shadowimage.py;
both modules take the topology and the client from vsp_helpers.py.
"""

from __future__ import annotations

import time

import requests

from storage_replication_lab import vsp as vsp_sim
from storage_replication_lab.server import Lab
from storage_replication_lab.topology import Topology
from vsp_helpers import SID, TOPOLOGY, Vsp, assert_error

LAB_TOPOLOGY = TOPOLOGY


# storages, endpoints, sessions -----------------------------------------------------------------
def test_endpoints_and_storages_list_without_auth(lab):
    info = lab.array("vsp-a")
    assert info["vendor"] == "vsp" and info["storage_device_id"] == SID
    assert info["url"].startswith("https://127.0.0.1:")
    assert lab.array("vsp-b")["storage_device_id"] == "886000410002"
    vsp = Vsp(lab)
    reply = vsp.http.get(vsp.root + "/storages")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    (storage,) = reply.json()["data"]
    assert storage["storageDeviceId"] == SID and storage["serialNumber"] == 410001 and storage["model"] == "VSP G900"
    assert vsp.http.get(vsp.info["url"] + "/ConfigurationManager/configuration/version").status_code == 200
    assert vsp.http.get(f"{vsp.root}/storages/{SID}").status_code == 401  # detail needs a session
    vsp.login()
    assert vsp.get(f"/storages/{SID}").json()["storageDeviceId"] == SID
    assert vsp.get("/storages/instance").json()["serialNumber"] == 410001
    vsp.logout()


def test_session_create_use_delete(lab):
    vsp = Vsp(lab)
    mark = lab.mark()
    token = vsp.login()
    assert len(token) >= 16 and isinstance(vsp.session_id, int)
    assert vsp.get("/ldevs/256").status_code == 200
    assert vsp.get(f"/sessions/{vsp.session_id}").json()["sessionId"] == vsp.session_id
    reply = vsp.http.delete(f"{vsp.base}/sessions/{vsp.session_id}", json={"force": True})
    assert reply.status_code == 200 and reply.json() == {"sessionId": vsp.session_id}
    reply = vsp.get("/ldevs/256")
    body = assert_error(reply, 401, "KART00002-E")
    assert "The specified token is invalid" in body["message"]
    assert reply.headers["WWW-Authenticate"] == 'Session realm="Block storage"'
    # logging in, GETs and logging out change nothing: a check-mode run logs no mutation
    assert lab.mutations_since(mark, "vsp-a") == []
    assert [e["method"] for e in lab.log(array="vsp-a", since=mark)][:2] == ["POST", "GET"]


def test_session_refusals(lab):
    vsp = Vsp(lab)
    reply = vsp.http.post(vsp.base + "/sessions", auth=(vsp.info["username"], "wrong"))
    assert_error(reply, 401, "KART00002-E")
    assert reply.headers["WWW-Authenticate"] == 'Basic realm="Block storage"'
    assert_error(vsp.http.get(vsp.base + "/ldevs/256"), 401, "KART00002-E")
    vsp.http.headers["Authorization"] = "Session not-a-token"
    assert_error(vsp.http.get(vsp.base + "/ldevs/256"), 401, "KART00002-E")
    basic = requests.auth.HTTPBasicAuth(vsp.info["username"], vsp.info["password"])
    assert vsp.http.get(vsp.base + "/ldevs/256", auth=basic).status_code == 401  # Basic is for session create only
    reply = vsp.http.post(vsp.base + "/sessions", auth=basic, json={"aliveTime": 301})
    assert_error(reply, 400, "KART30004-E")


def test_session_idle_expiry_and_keep_alive(lab):
    lab.settings("vsp-a", alive_time_scale=0.01)  # aliveTime 30 -> 0.3 s idle
    try:
        idle, busy = Vsp(lab), Vsp(lab)
        idle.login(alive_time=30)
        busy.login(alive_time=30)
        for _step in range(6):
            time.sleep(0.1)
            assert busy.get(f"/sessions/{busy.session_id}").status_code == 200
        assert_error(idle.get("/ldevs/256"), 401, "KART00002-E")
        assert busy.get("/ldevs/256").status_code == 200
    finally:
        lab.settings("vsp-a", alive_time_scale=1.0)
    # the default idle time (300 s) on the lab clock
    vsp = Vsp(lab)
    vsp.login()
    lab.advance_clock(301)
    assert_error(vsp.get("/ldevs/256"), 401, "KART00002-E")


def test_session_cap_is_64(lab):
    mark = lab.mark()
    clients: list[Vsp] = []
    try:
        while len(clients) < 70:
            vsp = Vsp(lab)
            reply = vsp.http.post(vsp.base + "/sessions", auth=(vsp.info["username"], vsp.info["password"]))
            if reply.status_code != 200:
                break
            vsp.http.headers["Authorization"] = f"Session {reply.json()['token']}"
            vsp.session_id = reply.json()["sessionId"]
            clients.append(vsp)
        assert_error(reply, 503, "KART00003-E")
        assert len(clients[0].get("/sessions").json()["data"]) == 64
        clients.pop().logout()  # one released, one more fits
        extra = Vsp(lab)
        extra.login()
        clients.append(extra)
    finally:
        for vsp in clients:
            vsp.logout()
    assert lab.mutations_since(mark, "vsp-a") == []


# paths --------------------------------------------------------------------------------------------
def test_scoped_base_path_serves_the_same_objects(lab):
    vsp = Vsp(lab, scoped=True)
    vsp.login()
    try:
        assert vsp.get("/ldevs/270").json()["ldevId"] == 270
        pair_id = vsp.create_pair("cgK", "p1", 270, 526)
        job = vsp.action(pair_id, "split")
        assert job["affectedResources"][0].startswith(f"/ConfigurationManager/v1/objects/storages/{SID}/")
        vsp.wait_pair(pair_id, "PSUS")
        plain = Vsp(lab)
        plain.http.headers["Authorization"] = vsp.http.headers["Authorization"]
        assert plain.pair(pair_id)["svolStatus"] == "SSUS"
        assert plain.get(f"/local-clone-copypairs/{pair_id.replace(',', '%2C')}").status_code == 200
        reply = vsp.http.get(f"{vsp.root}/storages/886000999999/ldevs/270")
        assert_error(reply, 404, "KART30013-E")
        vsp.run("DELETE", f"/local-clone-copypairs/{pair_id}")
    finally:
        vsp.logout()


def test_vsp_b_is_served_too(lab):
    vsp = Vsp(lab, "vsp-b")
    vsp.login()
    try:
        assert vsp.get("/storages/instance").json()["storageDeviceId"] == "886000410002"
        assert vsp.get("/pools").json()["data"][0]["poolId"] == 0
    finally:
        vsp.logout()


def test_default_topology_has_vsp_a_and_vsp_b(tmp_path):
    topology = Topology.load()
    world = Lab(topology, str(tmp_path))  # built, never started: no sockets
    primary = vsp_sim.create_array(world, "vsp-a", topology.arrays["vsp-a"])
    second = vsp_sim.create_array(world, "vsp-b", topology.arrays["vsp-b"])
    assert primary.endpoint_extra()["storage_device_id"] == "886000410001"
    assert second.endpoint_extra()["storage_device_id"] == "886000410002"
    with_data = [ldev for ldev in primary.ldevs.values() if ldev.volume.blocks]
    assert len(with_data) == 8 and primary.pools and second.pools
    assert all(ldev.pool_id in primary.pools for ldev in primary.ldevs.values())
