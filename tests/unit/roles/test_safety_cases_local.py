"""Cases of issue 13 on the arrays whose copies are local (ShadowImage, SMI-S), run as a DR administrator
would: the shipped playbooks as ansible-playbook processes against a lab of this module's own; digests
prove what each copy holds. Each case once lost a write silently.
"""

from __future__ import annotations

import json
import os

from playbook_runs import playbook

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
    "arrays": {
        "vsp-a": {"vendor": "vsp", "model": "VSP G900", "serial": 410001, "settings": {"job_seconds": 0.02},
                  "pools": [{"id": 0, "name": "dp_pool0", "size": "1TiB"}],
                  "ldevs": [{"id_base": 256, "count": 6, "size": "64MiB", "pool": 0, "data_blocks": 8},
                            {"id_base": 512, "count": 6, "size": "64MiB", "pool": 0}]},
        "smis-b": {"vendor": "smis", "profile": "generic",
                   "volumes": [{"name": "vol{n}", "count": 6, "id_base": 201, "size": "64MiB", "data_blocks": 8},
                               {"name": "mirror{n}", "count": 6, "id_base": 251, "size": "64MiB"}]},
    },
}


def vsp_set(name: str, pairs: list[tuple[int, int]]) -> dict:
    return {"name": name, "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
            "volumes": [{"name": str(p), "target_name": s} for p, s in pairs]}


def smis_set(name: str, pairs: list[tuple[int, int]], mode: str = "async") -> dict:
    return {"name": name, "vendor": "smis", "source": "smis-b", "target": "smis-b",
            "volumes": [{"name": str(p), "target_name": str(s)} for p, s in pairs],
            "options": {"sync_type": "mirror", "mode": mode}}


def report(tmp_path, role: str) -> dict:
    with open(os.path.join(tmp_path, f"{role}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def report_vars(tmp_path, role: str, **extra) -> dict:
    return dict({f"{role}_report_file": os.path.join(tmp_path, f"{role}.json")}, **extra)


def vsp_pair(run_module, lab, set_name: str, pvol: int, **args) -> dict:
    result = run_module("shadowimage_pair", dict(lab.connection("vsp-a"), copy_group=f"{set_name}",
                                                 pair_name=f"p{pvol}", poll_interval=0.05, **args))
    assert not result["failed"], result
    return result


def test_a_pair_split_by_hand_and_written_refuses_its_planned_failover_until_told(lab, run_module, tmp_path):
    # issue 13: a pair of vsp-payroll split by hand and its P-VOL written; planned failover and failback both
    # succeeded and the P-VOL writes were gone. Now the catch-up cannot prove the resync safe (ShadowImage does
    # not say which side was written), so the set is refused before any pair is split.
    sets = [vsp_set("vsp-payroll", [(256, 512), (257, 513)])]
    playbook(lab, "setup", tmp_path, sets=sets)
    vsp_pair(run_module, lab, "vsp-payroll", 256, pair_state="split")
    lab.write("vsp-a", "256", 3)
    pvol = lab.digest("vsp-a", "256")
    out = playbook(lab, "failover", tmp_path, sets=sets, extra=report_vars(tmp_path, "failover"), rc=2)
    rows = report(tmp_path, "failover")["rows"]
    assert all(r["failed"] for r in rows), rows
    assert any("up to" in r["msg"] and "vsp-payroll/p256" in r["msg"] for r in rows), rows
    assert "not failed over" in out
    # nothing was cut over: the other pair is still PAIR, the split one still split and unresynced
    states = {p["pair_name"]: p["state"] for p in
              run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), copy_group="vsp-payroll"))["pairs"]}
    assert states == {"p256": "split", "p257": "paired"}, states
    assert lab.digest("vsp-a", "256") == pvol
    # told that the S-VOL holds nothing of its own, the failover brings it in sync first and then splits
    playbook(lab, "failover", tmp_path, sets=sets, extra={"failover_allow_data_loss": True})
    assert lab.digest("vsp-a", "512") == pvol
    assert lab.digest("vsp-a", "513") == lab.digest("vsp-a", "257")


def test_setup_with_resync_broken_does_not_discard_svol_writes(lab, run_module, tmp_path):
    # issue 13: setup.yml -e backend_replication_resync_broken=true discarded the S-VOL writes of a split pair
    sets = [vsp_set("vsp-resync", [(258, 514)])]
    playbook(lab, "setup", tmp_path, sets=sets)
    vsp_pair(run_module, lab, "vsp-resync", 258, pair_state="split")
    lab.write("vsp-a", "514", 8)
    svol = lab.digest("vsp-a", "514")
    mark = lab.mark()
    out = playbook(lab, "setup", tmp_path, sets=sets, args=["-e", "backend_replication_resync_broken=true"], rc=2)
    assert "allow_data_loss" in out and "written to the S-VOL (LDEV 514)" in out, out[-3000:]
    assert lab.digest("vsp-a", "514") == svol
    assert [m for m in lab.mutations_since(mark) if "resync" in json.dumps(m)] == []


def test_a_mirror_fractured_by_hand_and_written_refuses_its_planned_failover(lab, run_module, tmp_path):
    # issue 13: an SMI-S mirror of smis-orders fractured by hand, its source written; the planned failover
    # (failover_max_lag: 60) succeeded with a lag of seconds and the failback lost the source writes
    sets = [smis_set("smis-orders", [(201, 251), (202, 252), (203, 253)])]
    playbook(lab, "setup", tmp_path, sets=sets)
    fractured = run_module("smis_sync", dict(lab.connection("smis-b", namespace="root/cimv2"), source="vol1", target="mirror1",
                                             sync_state="fractured", poll_interval=0.05))
    assert not fractured["failed"], fractured
    lab.write("smis-b", "201", 3)
    source = lab.digest("smis-b", "201")
    playbook(lab, "failover", tmp_path, sets=sets, rc=2,
             extra=report_vars(tmp_path, "failover", failover_max_lag=60))
    rows = report(tmp_path, "failover")["rows"]
    assert all(r["failed"] for r in rows), rows
    assert any("up to" in r["msg"] and "201 -> 251" in r["msg"] for r in rows), rows
    info = run_module("smis_sync_info", lab.connection("smis-b", namespace="root/cimv2"))["synchronizations"]
    assert sorted(s["state"] for s in info) == ["fractured", "synchronized", "synchronized"], info
    # told, it resyncs, waits until every target holds its source's writes, and fails over
    playbook(lab, "failover", tmp_path, sets=sets, extra={"failover_allow_data_loss": True, "failover_max_lag": 60})
    assert lab.digest("smis-b", "251") == source
    # DR writes come home, and a failback from a clean failover refuses nothing (the source was read-only)
    lab.write("smis-b", "252", 2)
    dr = lab.digest("smis-b", "252")
    playbook(lab, "failback", tmp_path, sets=sets)
    assert lab.digest("smis-b", "202") == dr
    assert lab.digest("smis-b", "201") == source
