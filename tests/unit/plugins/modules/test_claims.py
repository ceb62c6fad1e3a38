"""One run acts at a time (issue 14): before its first change a run claims the array scope it changes (an
ONTAP SVM: a SnapMirror policy named storage_replication_claim; a VSP: the resource lock; an SMI-S system: an
empty replication group of that name) and a second run waits for it. These tests hold a claim as another run
would, straight against the lab's APIs, and run each vendor's module against it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import typing as t

import pytest
import pywbem
import requests

from ansible_collections.storage.replication.plugins.module_utils._claim import CLAIM_NAME, GRACE, Holder
from test_engine_rules import LAB_TOPOLOGY, VENDORS, connection  # noqa: F401  pylint: disable=unused-import

ONTAP_POLICIES = "/api/snapmirror/policies"


class Other:
    """A claim held by another run, made the way that run's module makes it."""

    def __init__(self, lab: t.Any, vendor: str, until: float, host: str = "elsewhere", pid: int = 4242) -> None:
        self.lab, self.vendor = lab, vendor
        self.holder = Holder("0ther0run0ab", host, pid, until)
        self.handle: t.Any = None
        self.session: requests.Session | None = None
        getattr(self, f"_take_{vendor}")()

    def _take_ontap(self) -> None:
        http = self.lab.session("ontap-b")
        reply = http.post(self.lab.url("ontap-b", ONTAP_POLICIES), timeout=30, params={"return_timeout": 30},
                          json={"name": CLAIM_NAME, "svm": {"name": "svm_b"}, "comment": self.holder.text()})
        assert reply.status_code < 300, reply.text

    def _take_vsp(self) -> None:
        info = self.lab.array("vsp-a")
        http = requests.Session()
        http.trust_env, http.verify = False, info["ca_file"]
        base = info["url"] + "/ConfigurationManager/v1/objects"
        login = http.post(base + "/sessions", auth=(info["username"], info["password"]), json={}, timeout=30)
        http.headers["Authorization"] = f"Session {login.json()['token']}"
        self.handle, self.session = (base, login.json()["sessionId"]), http
        storage = http.get(base + "/storages", timeout=30).json()["data"][0]["storageDeviceId"]
        lock = http.post(f"{base}/storages/{storage}/services/resource-group-service/actions/lock/invoke",
                         json={"parameters": {"waitTime": 0}}, timeout=30)
        assert lock.status_code == 202, lock.text
        self.lab.wait_for(lambda: http.get(f"{base}/jobs/{lock.json()['jobId']}", timeout=30).json()["status"]
                          == "Completed")

    def _smis(self) -> tuple[pywbem.WBEMConnection, t.Any]:
        info = self.lab.array("smis-b")
        conn = pywbem.WBEMConnection(info["url"], (info["username"], info["password"]),
                                     default_namespace=info["namespace"], ca_certs=info["ca_file"], timeout=30)
        conn.session.trust_env = False
        return conn, conn.EnumerateInstanceNames("CIM_ReplicationService")[0]

    def _take_smis(self) -> None:
        conn, service = self._smis()
        rc, out = conn.InvokeMethod("CreateGroup", service, Params=[("GroupName", CLAIM_NAME)])
        assert rc == 0
        self.handle = out["ReplicationGroup"]
        group = pywbem.CIMInstance(self.handle.classname, properties={"Description": self.holder.text()},
                                   path=self.handle)
        conn.ModifyInstance(group, PropertyList=["Description"])

    def release(self) -> None:
        if self.vendor == "ontap":
            http = self.lab.session("ontap-b")
            found = http.get(self.lab.url("ontap-b", ONTAP_POLICIES), params={"name": CLAIM_NAME}, timeout=30)
            for record in found.json()["records"]:
                http.delete(self.lab.url("ontap-b", f"{ONTAP_POLICIES}/{record['uuid']}"), timeout=30)
        elif self.vendor == "vsp":
            base, session_id = self.handle
            self.session.delete(f"{base}/sessions/{session_id}", timeout=30)
        else:
            conn, service = self._smis()
            try:
                conn.InvokeMethod("DeleteGroup", service, Params=[("ReplicationGroup", self.handle)])
            except pywbem.CIMError:
                pass  # removed by the run already


def args_for(lab: t.Any, vendor: str, n: int, **extra: t.Any) -> dict[str, t.Any]:
    return dict(connection(lab, vendor), **VENDORS[vendor].item(n), **extra)


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_run_stops_at_a_live_claim_of_another_run_naming_it_and_changes_nothing(lab, run_module, vendor):
    other = Other(lab, vendor, time.time() + 600)
    try:
        mark = lab.mark()
        result = run_module(VENDORS[vendor].module, args_for(lab, vendor, 5, wait_timeout=2))
        mutations = lab.mutations_since(mark)
    finally:
        other.release()
    assert result["failed"], result
    assert "another run acts on" in result["msg"] and "Waited" in result["msg"] and "changed nothing" in result["msg"]
    if vendor != "vsp":  # the VSP does not say which session holds its lock; the others carry the holder
        assert "run 0ther0run0ab on elsewhere (pid 4242)" in result["msg"], result["msg"]
    claims = ("/snapmirror/policies", "resource-group-service", "CreateGroup", "DeleteGroup", "ModifyInstance")
    assert [m for m in mutations if not any(c in f"{m['path']} {m.get('cim_method')}" for c in claims)] == []


def test_a_run_waits_for_the_claim_then_reads_again_and_does_its_work(lab, run_module, vendor):
    other = Other(lab, vendor, time.time() + 600)
    threading.Timer(1.5, other.release).start()
    result = run_module(VENDORS[vendor].module, args_for(lab, vendor, 6, wait_timeout=60))
    assert not result["failed"], result["msg"]
    assert result["changed"] is True
    assert any(w.startswith("waited") and "for another run acting on" in w for w in result["warnings"]), result
    assert run_module(VENDORS[vendor].module, args_for(lab, vendor, 6))["changed"] is False


@pytest.mark.parametrize("vendor", ["ontap", "smis"])
def test_the_expired_claim_of_a_run_that_died_is_removed_and_named(lab, run_module, vendor):
    other = Other(lab, vendor, time.time() - GRACE - 5)
    try:
        result = run_module(VENDORS[vendor].module, args_for(lab, vendor, 7, wait_timeout=30))
    finally:
        other.release()
    assert not result["failed"], result["msg"]
    assert any("removed the claim" in w and "0ther0run0ab" in w and "expired" in w for w in result["warnings"])


@pytest.mark.parametrize("vendor", ["ontap", "smis"])
def test_the_claim_of_an_ended_process_of_this_host_is_removed_at_once(lab, run_module, vendor):
    # a run whose array went down before it could remove its claim, or that was killed: no need to wait for
    # the claim's expiry when its process is known to be gone
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    other = Other(lab, vendor, time.time() + 600, host=socket.gethostname(), pid=int(ended.stdout))
    try:  # the claim expires in ten minutes: a run that waited for that would fail at wait_timeout
        result = run_module(VENDORS[vendor].module, args_for(lab, vendor, 4, wait_timeout=20))
    finally:
        other.release()
    assert not result["failed"], result["msg"]
    assert any("removed the claim" in w and "process has ended" in w for w in result["warnings"]), result


def test_check_mode_and_a_run_with_nothing_to_do_claim_nothing(lab, run_module, vendor):
    args = args_for(lab, vendor, 8)
    mark = lab.mark()
    assert run_module(VENDORS[vendor].module, args, check_mode=True)["changed"] is True
    assert lab.mutations_since(mark) == []
    assert run_module(VENDORS[vendor].module, args)["changed"] is True
    mark = lab.mark()
    assert run_module(VENDORS[vendor].module, args)["changed"] is False
    assert lab.mutations_since(mark) == []


def test_a_claim_refused_as_existing_but_gone_when_read_is_taken_again(lab, run_module):
    # two runs: this one's create is refused because the other's claim exists, and the other run removes its
    # claim before this one reads who holds it; the run takes the claim again instead of failing
    body = ('{"error": {"message": "Policy \\"storage_replication_claim\\" already exists in SVM \\"svm_b\\".", '
            '"code": "1", "target": "name"}}')
    lab.faults("ontap-b", answer_path=r"^/api/snapmirror/policies$", answer_method="POST", answer_status=409,
               answer_type="application/json", answer_body=body, answer_count=1)
    try:
        result = run_module(VENDORS["ontap"].module, args_for(lab, "ontap", 3, wait_timeout=30))
    finally:
        lab.clear_faults("ontap-b")
    assert not result["failed"], result["msg"]
    assert result["changed"] is True
    assert any(w.startswith("waited") and "for another run acting on SVM svm_b" in w for w in result["warnings"])
    posts = [e for e in lab.log("ontap-b") if e["method"] == "POST" and e["path"] == ONTAP_POLICIES]
    assert len(posts) >= 2, posts
