"""Issue 14, one run acts at a time: two runs of a role started together on the same sets end with one doing
the work and the other waiting for it (the claim on the array) and then finding it done, never sending a
request of the other run again and never hanging. Before, two failbacks sent every reverse twice and both
waited until wait_timeout, two ONTAP failovers both transferred and broke (one ended rc 2), two SMI-S setups
both created every mirror (one ended rc 2).
"""

from __future__ import annotations

import collections
import json

import pytest
import pywbem

from playbook_runs import playbook

from ansible_collections.storage.replication.plugins.module_utils._claim import CLAIM_NAME
from test_honest_outcomes import LAB_TOPOLOGY, a_set, run  # noqa: F401  pylint: disable=unused-import

ROLES = ("setup", "failover", "failback")
LAST_STEP = {"setup": None, "failover": "failover", "failback": "final"}
TARGET = {"setup": None, "failover": {"ontap": "broken_off", "vsp": "split", "smis": "failed_over"},
          "failback": {"ontap": "home", "vsp": "home", "smis": "home"}}


def is_claim(entry: dict) -> bool:
    """A request that takes, renews or drops a claim (ONTAP policy, VSP resource lock, SMI-S group)."""
    return "/snapmirror/policies" in entry["path"] or "resource-group-service" in entry["path"] or \
        entry.get("cim_method") in ("CreateGroup", "DeleteGroup", "ModifyInstance")


def request_of(entry: dict) -> tuple:
    return (entry["array"], entry["method"], entry["path"], entry.get("cim_method"), entry.get("cim_object"),
            json.dumps(entry.get("body") or entry.get("cim_params"), sort_keys=True), tuple(entry.get("cim_devices", ())))


@pytest.mark.parametrize("vendor", ["ontap", "vsp", "smis"])
@pytest.mark.parametrize("role", ROLES)
def test_two_runs_started_together_do_the_work_once(lab, tmp_path, vendor, role):
    sets = [a_set(vendor, role)]
    if role != "setup":
        run(lab, "setup", tmp_path, sets)
    if role == "failback":
        run(lab, "failover", tmp_path, sets)
    mark = lab.mark()
    arrays = {"ontap": ("ontap-a", "ontap-b"), "vsp": ("vsp-a",), "smis": ("smis-b",)}[vendor]
    for array in arrays:  # slow changes, so the runs overlap: one reads while the other changes
        lab.faults(array, latency_ms=300, only_mutating=True)
    procs, reports = [], []
    for n in (1, 2):
        folder = tmp_path / f"run{n}"
        folder.mkdir()
        reports.append(folder / "report.json")
        extra = {f"{r}_report_file": str(reports[-1]) for r in ("backend_replication", "failover", "failback")}
        extra.update(failover_wait_timeout=120, failback_wait_timeout=120, backend_replication_wait_timeout=120)
        procs.append(playbook(lab, role, folder, extra, sets=sets, wait=False))
    try:
        outs = [proc.communicate(timeout=400)[0] for proc in procs]
    finally:
        for array in arrays:
            lab.clear_faults(array)
    assert [proc.returncode for proc in procs] == [0, 0], "\n\n".join(out[-2500:] for out in outs)

    mutations = lab.mutations_since(mark)
    sent = collections.Counter(request_of(m) for m in mutations if not is_claim(m))
    assert sent and all(count == 1 for count in sent.values()), [r for r, c in sent.items() if c > 1]
    waited = [line for out in outs for line in out.splitlines() if "for another run acting on" in line]
    assert waited, "neither run says it waited for the other"
    print(f"{vendor} {role}: rc {[proc.returncode for proc in procs]}, {len(sent)} changes sent once each, "
          f"{len(waited)} waits: {waited[0].strip()[:160]}")
    for path in reports:
        report = json.loads(path.read_text(encoding="utf-8"))
        assert report["summary"]["failed"] == 0, report
        last = [r for r in report["rows"] if LAST_STEP[role] is None or r.get("step") == LAST_STEP[role]]
        assert len(last) == 3, report
        if TARGET[role] is not None:
            assert {r["state"] for r in last} == {TARGET[role][vendor]}, last
    assert claims_left(lab, vendor) == [], "a claim outlived its run"


def claims_left(lab, vendor: str) -> list:
    """The claims on the lab's arrays of ``vendor`` now."""
    if vendor == "ontap":
        left = []
        for cluster in ("ontap-a", "ontap-b"):
            reply = lab.session(cluster).get(lab.url(cluster, "/api/snapmirror/policies"),
                                             params={"name": CLAIM_NAME, "fields": "comment"}, timeout=30)
            left += reply.json()["records"]
        return left
    if vendor == "vsp":
        return [holder for holder in [vsp_lock_holder(lab, "vsp-a")] if holder is not None]
    info = lab.array("smis-b")
    conn = pywbem.WBEMConnection(info["url"], (info["username"], info["password"]),
                                 default_namespace=info["namespace"], ca_certs=info["ca_file"], timeout=30)
    conn.session.trust_env = False
    return [g for g in conn.EnumerateInstances("CIM_ReplicationGroup") if g["ElementName"] == CLAIM_NAME]


def vsp_lock_holder(lab, name: str):
    """The session that holds the VSP's resource lock, from the lab's own status of the array."""
    return lab.status(name).get("lock_holder")
