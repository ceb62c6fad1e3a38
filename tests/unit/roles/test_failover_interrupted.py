"""Kill a planned failover in the middle, rerun it: it completes, no item is broken twice or resynced back.

The playbooks run as ansible-playbook processes against a lab of this module's own;
what happened is read from the lab's request log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SETS = [{"name": "interrupted", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
         "source_container": "svm_a", "target_container": "svm_b",
         "volumes": ["vol1", "vol2", "vol3", "vol4", "vol5"], "target_name_suffix": "_dr", "fence_order": ["vol1"]}]


def playbook(lab, name, tmp_path, extra=None, wait=True):
    endpoints = os.path.join(tmp_path, "endpoints.json")
    with open(endpoints, "w", encoding="utf-8") as handle:
        json.dump(lab.endpoints, handle)
    extra_file = os.path.join(tmp_path, f"{name}-vars.json")
    with open(extra_file, "w", encoding="utf-8") as handle:
        json.dump(dict({"replication_sets": SETS, "failover_poll_interval": 0.1,
                        "backend_replication_poll_interval": 0.1}, **(extra or {})), handle)
    env = dict(os.environ, LAB_ENDPOINTS=endpoints, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".venv", "collections"))
    env.pop("LAB_DIR", None)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               "-i", os.path.join(REPO, "playbooks", "inventory", "lab.yml"),
               os.path.join(REPO, "playbooks", f"{name}.yml"), "-e", f"@{extra_file}"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                            start_new_session=True, text=True)
    if not wait:
        return proc
    out, _err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    return out


def breaks(entries):
    return [e for e in entries if e["method"] == "PATCH" and "/snapmirror/relationships/" in e["path"]
            and (e.get("body") or {}).get("state") == "broken_off" and e["status"] in (200, 202)]


def test_an_interrupted_failover_completes_on_rerun_without_repeating_a_step(lab, tmp_path):
    playbook(lab, "setup", tmp_path)
    for n in range(2, 6):
        lab.write("ontap-a", f"svm_a:vol{n}", 64)
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
    mark = lab.mark()
    proc = playbook(lab, "failover", tmp_path, wait=False)
    try:
        lab.wait_for(lambda: breaks(lab.log(array="ontap-b", since=mark)), timeout=120, interval=0.1)
        lab.wait_for(lambda: any(e["path"].endswith("/transfers") for e in lab.log(array="ontap-b", since=mark)
                                 if e["method"] == "POST" and "vol1" not in str(e.get("body"))), timeout=60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    first = breaks(lab.log(array="ontap-b", since=mark))
    assert 1 <= len(first) < 5, "the kill should land after some items broke and before all did"
    lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")
    time.sleep(0.5)
    playbook(lab, "failover", tmp_path)
    entries = lab.log(array="ontap-b", since=mark)
    all_breaks = breaks(entries)
    per_relationship = {}
    for entry in all_breaks:
        per_relationship[entry["path"]] = per_relationship.get(entry["path"], 0) + 1
    assert len(per_relationship) == 5 and set(per_relationship.values()) == {1}, per_relationship
    backwards = [e for e in entries if e["method"] == "PATCH" and (e.get("body") or {}).get("state") == "snapmirrored"]
    assert backwards == []
    states = lab.session("ontap-b").get(lab.url("ontap-b", "/api/snapmirror/relationships"),
                                        params={"fields": "state", "destination.svm.name": "svm_b"}).json()["records"]
    assert sorted(r["state"] for r in states) == ["broken_off"] * 5
