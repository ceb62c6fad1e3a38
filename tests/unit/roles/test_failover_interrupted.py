"""Kill a planned failover in the middle, rerun it: it completes, no item is broken twice or resynced back.

The playbooks run as ansible-playbook processes against a lab of this module's own;
what happened is read from the lab's request log.
"""

from __future__ import annotations

import os
import signal
import time

from playbook_runs import playbook as run_playbook

SETS = [{"name": "interrupted", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
         "source_container": "svm_a", "target_container": "svm_b",
         "volumes": ["vol1", "vol2", "vol3", "vol4", "vol5"], "target_name_suffix": "_dr", "fence_order": ["vol1"]}]


def playbook(lab, name, tmp_path, extra=None, wait=True):
    return run_playbook(lab, name, tmp_path, extra, wait, sets=SETS)


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
