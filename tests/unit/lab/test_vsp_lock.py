"""The VSP simulator's resource-group lock: lock / unlock jobs, waiting, refused writes, release.

``services/resource-group-service/actions/{lock,unlock}/invoke`` over plain HTTPS
against a lab of this module's own; the lab clock (``POST /_lab/clock``) stands
in for waiting and for session idle time.
"""

from __future__ import annotations

import time
import typing as t

import pytest
import requests

from vsp_helpers import Vsp, assert_error

SID = "886000410001"
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "16MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410001,
            "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": [
                {"id_base": 256, "count": 8, "size": "8MiB", "pool": 0, "data_blocks": 4, "label": "prod{n}"},
                {"id_base": 512, "count": 8, "size": "8MiB", "pool": 0},
            ],
            "settings": {"job_seconds": 0.02},
        },
    },
}
SERVICE = "/services/resource-group-service/actions"
FORMS = ("unscoped", "objects", "scoped")


class Client(Vsp):
    """The helper client, keeping its session token (to check that no error reveals it)."""

    token = ""

    def login(self, alive_time: int | None = None) -> str:
        self.token = super().login(alive_time)
        return self.token


def actions_url(vsp: Vsp, form: str = "unscoped") -> str:
    """The actions URL of the resource-group service in one of the three path forms the lab serves."""
    if form == "unscoped":
        return vsp.info["url"] + "/ConfigurationManager/v1" + SERVICE
    if form == "objects":
        return vsp.root + SERVICE
    return f"{vsp.root}/storages/{SID}{SERVICE}"


def invoke(vsp: Vsp, op: str, body: t.Any = None, form: str = "unscoped", method: str = "POST",
           **kwargs: t.Any) -> requests.Response:
    return vsp.http.request(method, f"{actions_url(vsp, form)}/{op}/invoke", json=body, timeout=30, **kwargs)


def lock(vsp: Vsp, wait_time: int | None = 0, form: str = "unscoped", method: str = "POST") -> int:
    """Send a lock request; the id of its job."""
    body = None if wait_time is None else {"parameters": {"waitTime": wait_time}}
    reply = invoke(vsp, "lock", body, form, method)
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["request"]["requestMethod"] == method and job["status"] in ("Initializing", "Running", "Completed")
    return int(job["jobId"])


def unlock(vsp: Vsp, form: str = "unscoped", method: str = "POST", body: t.Any = None) -> dict[str, t.Any]:
    reply = invoke(vsp, "unlock", body, form, method)
    assert reply.status_code == 202, reply.text
    return vsp.wait_job(reply.json()["jobId"])


def locked(vsp: Vsp, **kwargs: t.Any) -> dict[str, t.Any]:
    """Lock and wait for the job to succeed."""
    job = vsp.wait_job(lock(vsp, **kwargs))
    assert job["status"] == "Completed" and job["state"] == "Succeeded", job
    return job


def status(lab: t.Any) -> dict[str, t.Any]:
    return lab.http.get(lab.control_url + "/arrays/vsp-a", timeout=10).json()


def holder(lab: t.Any) -> int | None:
    return status(lab)["lock_holder"]


def wait_running(vsp: Vsp, job_id: int, timeout: float = 10.0) -> dict[str, t.Any]:
    """Wait until a (parked) lock job has started: it stays Running while it waits for the lock."""
    deadline = time.monotonic() + timeout
    while True:
        job = vsp.job(job_id)
        if job["status"] == "Running" or time.monotonic() > deadline:
            assert job["status"] == "Running" and job["state"] == "Started", job
            return job
        time.sleep(0.01)


def assert_lock_failed(job: dict[str, t.Any], holder_id: int, token: str) -> None:
    assert job["status"] == "Completed" and job["state"] == "Failed", job
    error = job["error"]
    assert error["messageId"] == "KART40050-E"
    assert "locked by another session" in error["message"] and f"sessionId = {holder_id}" in error["message"]
    assert token not in str(job)


@pytest.fixture(name="login")
def login_fixture(lab: t.Any) -> t.Iterator[t.Callable[..., Client]]:
    """A factory of logged-in clients; every session left is deleted (and so unlocked) afterwards."""
    clients: list[Client] = []

    def make(alive_time: int | None = None, scoped: bool = False) -> Client:
        client = Client(lab, scoped=scoped)
        client.login(alive_time)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.logout()
    assert holder(lab) is None


# lock and unlock -----------------------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_lock_unlock_in_every_path_form_with_post_and_put(lab, login, form):
    a = login()
    mark = lab.mark()
    job = locked(a, form=form)
    assert job["request"]["requestUrl"].endswith("/services/resource-group-service/actions/lock/invoke")
    assert "error" not in job and holder(lab) == a.session_id
    locked(a, wait_time=10, form=form, method="PUT")  # the holder again: idempotent
    assert holder(lab) == a.session_id
    template = a.http.get(f"{actions_url(a, form)}/lock", timeout=10).json()
    assert template == {"name": "lock", "parameters": {"waitTime": None}}
    job = unlock(a, form=form, method="PUT", body={"parameters": {}})
    assert job["state"] == "Succeeded" and holder(lab) is None
    assert unlock(a, form=form)["state"] == "Succeeded"  # nothing held: nothing to do
    locked(a, wait_time=None, form=form)  # no body: waitTime 0
    assert unlock(a, form=form)["state"] == "Succeeded" and holder(lab) is None
    # the lock changes what other sessions may do: mutating in the request log (a run's claim, CLAIMS)
    logged = lab.mutations_since(mark, "vsp-a", claims=True)
    assert logged and all("resource-group-service" in e["path"] for e in logged)
    assert lab.mutations_since(mark, "vsp-a") == []


def test_second_session_cannot_lock_a_held_lock(lab, login):
    a, b = login(), login(scoped=True)
    locked(a)
    assert_lock_failed(b.wait_job(lock(b, 0, form="scoped")), a.session_id, a.token)
    assert_lock_failed(b.wait_job(lock(b, None)), a.session_id, a.token)
    assert unlock(b)["state"] == "Succeeded"  # b holds no lock: nothing to do, a keeps it
    assert holder(lab) == a.session_id
    assert unlock(a)["state"] == "Succeeded"
    locked(b)
    assert holder(lab) == b.session_id
    assert_lock_failed(a.wait_job(lock(a, 0)), b.session_id, b.token)


def test_lock_refusals(lab, login):
    a = login()
    for body in ({"parameters": {"waitTime": -1}}, {"parameters": {"waitTime": 7201}},
                 {"parameters": {"waitTime": "5"}}, {"parameters": {"waitTime": 1.5}},
                 {"parameters": {"waitTime": True}}, {"parameters": {"waitTime": 5, "lockTime": 1}},
                 {"waitTime": 5}, {"parameters": []}, [1]):
        body_error = assert_error(invoke(a, "lock", body), 400, "KART30004-E")
        assert body_error["errorSource"].endswith("/lock/invoke")
    assert_error(invoke(a, "unlock", {"parameters": {"waitTime": 1}}), 400, "KART30004-E")
    assert holder(lab) is None
    locked(a, wait_time=7200)
    assert unlock(a)["state"] == "Succeeded"
    # a session token is required; GET of invoke, unknown actions and other arrays are refused
    anonymous = requests.Session()
    anonymous.trust_env = False
    reply = anonymous.post(f"{actions_url(a)}/lock/invoke", json={}, verify=a.info["ca_file"], timeout=10)
    assert_error(reply, 401, "KART00002-E")
    basic = invoke(a, "lock", {}, auth=(a.info["username"], a.info["password"]))
    assert_error(basic, 401, "KART00002-E")
    assert_error(a.http.get(f"{actions_url(a)}/lock/invoke", timeout=10), 405, "KART00005-E")
    assert_error(a.http.post(f"{actions_url(a)}/freeze/invoke", json={}, timeout=10), 404, "KART00004-E")
    other = a.root + "/storages/886000499999" + SERVICE + "/lock/invoke"
    assert_error(a.http.post(other, json={}, timeout=10), 404, "KART30013-E")
    assert holder(lab) is None


# writes while locked ---------------------------------------------------------------------------------
def assert_refused(reply: requests.Response, holder_id: int) -> None:
    body = assert_error(reply, 503, "KART40052-E")
    assert "locked by another session" in body["message"] and f"sessionId = {holder_id}" in body["message"]


def test_writes_of_other_sessions_are_refused(lab, login):
    a, b = login(), login()
    pair = a.create_pair("lk", "p1", 256, 512)
    locked(a)
    last_job = b.get("/jobs", count=1).json()["data"][0]["jobId"]
    mark = lab.mark()
    scoped = login(scoped=True)
    for client in (b, scoped):
        assert_refused(client.call("PATCH", "/ldevs/257", {"label": "changed"}), a.session_id)
        assert_refused(client.call("POST", "/ldevs", {"poolId": 0, "ldevId": 700, "byteFormatCapacity": "8M"}),
                       a.session_id)
        assert_refused(client.call("DELETE", "/ldevs/513"), a.session_id)
        body = {"copyGroupName": "lk2", "copyPairName": "p2", "replicationType": "SI", "pvolLdevId": 258,
                "svolLdevId": 514, "isNewGroupCreation": True}
        assert_refused(client.call("POST", "/local-clone-copypairs", body), a.session_id)
        assert_refused(client.call("POST", f"/local-clone-copypairs/{pair}/actions/split/invoke",
                                   {"parameters": {}}), a.session_id)
        assert_refused(client.call("PUT", "/local-clone-copygroups/lk,lkP_,lkS_/actions/split/invoke",
                                   {"parameters": {}}), a.session_id)
        assert_refused(client.call("DELETE", f"/local-clone-copypairs/{pair}"), a.session_id)
    # nothing changed, no job was made; reads, session create and delete still work
    assert b.get("/ldevs/257").json()["label"] == "prod2"
    assert b.get("/ldevs/513").json()["emulationType"] != "NOT DEFINED"
    assert b.get("/ldevs/700").json()["emulationType"] == "NOT DEFINED"
    assert b.pair(pair)["pvolStatus"] == "PAIR"
    assert b.get("/jobs", count=1).json()["data"][0]["jobId"] == last_job
    assert all(e["status"] == 503 for e in lab.mutations_since(mark, "vsp-a"))
    login().logout()
    assert holder(lab) == a.session_id
    # the holder's own writes work
    a.run("PATCH", "/ldevs/257", {"label": "mine"})
    a.action(pair, "split")
    assert b.pair(pair)["pvolStatus"] == "PSUS" and b.get("/ldevs/257").json()["label"] == "mine"
    # unlocked: b writes again
    assert unlock(a)["state"] == "Succeeded"
    b.run("PATCH", "/ldevs/257", {"label": "prod2"})
    b.run("DELETE", f"/local-clone-copypairs/{pair}")


# waiting, release by unlock, session delete and expiry ---------------------------------------------
def test_waiting_lock_gets_the_lock_when_the_holder_unlocks(lab, login):
    a, b = login(), login()
    locked(a)
    job_id = lock(b, 5)
    wait_running(b, job_id)
    assert status(lab)["lock_waiting_jobs"] == [job_id]
    lab.advance_clock(1)
    time.sleep(0.1)
    assert b.job(job_id)["status"] == "Running" and holder(lab) == a.session_id
    assert unlock(a)["state"] == "Succeeded"
    job = b.wait_job(job_id)
    assert job["state"] == "Succeeded", job
    assert holder(lab) == b.session_id and status(lab)["lock_waiting_jobs"] == []
    # a waiting lock job does not hold the serial job queue: the holder's writes go on
    job_id = lock(a, 60)
    wait_running(a, job_id)
    b.run("PATCH", "/ldevs/259", {"label": "prod4"})
    assert unlock(b)["state"] == "Succeeded"
    assert a.wait_job(job_id)["state"] == "Succeeded" and holder(lab) == a.session_id


def test_waiting_lock_fails_after_wait_time(lab, login):
    a, b = login(), login()
    locked(a)
    job_id = lock(b, 3)
    wait_running(b, job_id)
    lab.advance_clock(1.5)
    time.sleep(0.1)
    assert b.job(job_id)["status"] == "Running"
    lab.advance_clock(2)
    job = b.wait_job(job_id)
    assert_lock_failed(job, a.session_id, a.token)
    assert "waitTime (3 seconds)" in job["error"]["message"]
    assert holder(lab) == a.session_id


def test_session_delete_releases_the_lock(lab, login):
    a, b = login(), login()
    locked(a)
    job_id = lock(b, 600)
    wait_running(b, job_id)
    reply = a.http.delete(f"{a.base}/sessions/{a.session_id}", timeout=10)
    assert reply.status_code == 200, reply.text  # session delete is never refused
    a.session_id = None
    assert b.wait_job(job_id)["state"] == "Succeeded"
    assert holder(lab) == b.session_id
    c = login()
    c.http.delete(f"{c.base}/sessions/{b.session_id}", timeout=10)  # another session deletes the holder
    b.session_id = None
    assert holder(lab) is None
    locked(c)


def test_session_expiry_releases_the_lock(lab, login):
    a, b = login(alive_time=5), login()
    locked(a)
    job_id = lock(b, 600)
    wait_running(b, job_id)
    lab.advance_clock(6)  # a is idle longer than its aliveTime: the waiting job gets the lock
    assert b.wait_job(job_id)["state"] == "Succeeded"
    assert holder(lab) == b.session_id
    assert unlock(b)["state"] == "Succeeded"
    # nobody waiting: the expired holder does not block writes, nor a lock, nor shows in the status
    c, d, e = login(alive_time=2), login(), login()
    locked(c)
    assert_refused(d.call("PATCH", "/ldevs/260", {"label": "x"}), c.session_id)
    lab.advance_clock(3)
    d.run("PATCH", "/ldevs/260", {"label": "prod5"})
    locked(e)
    assert holder(lab) == e.session_id
    assert unlock(e)["state"] == "Succeeded"
    c2 = login(alive_time=2)
    locked(c2)
    lab.advance_clock(3)
    assert holder(lab) is None
