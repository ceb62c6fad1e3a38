"""Issue 16, the DR rehearsal (role dr_test, playbooks/dr_test.yml), run as an operator runs it: the shipped
playbook as an ansible-playbook process against a lab of this module's own with an ONTAP, a VSP and an SMI-S
set. What the copies hold is read from the lab's digests, what was sent from its request log.

- A start killed half way (the ansible-playbook process group, SIGKILL) leaves copies; ``stopped`` removes
  every one of them and the relationships, pairs and synchronizations stand as before the start.
- A whole rehearsal (start, stop) sends no change to a relationship, pair or synchronization, and each copy
  holds the DR side's image at the copy's recovery point.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import typing as t

import pytest
from storage_replication_lab.client import CLAIMS

from playbook_runs import playbook

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
    "arrays": {
        "ontap-a": {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "1TiB"}],
                    "svms": [{"name": "svm_a", "volumes": [
                        {"name": "dt{n}", "count": 3, "size": "64MiB", "data_blocks": 4, "nas_path": "/dt{n}"}]}],
                    "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]},
        "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "1TiB"}], "svms": [{"name": "svm_b"}]},
        "vsp-a": {"vendor": "vsp", "serial": 410001, "settings": {"job_seconds": 0.02},
                  "pools": [{"id": 0, "name": "dp_pool0", "size": "1TiB"}],
                  "ldevs": [{"id_base": 256, "count": 2, "size": "64MiB", "pool": 0, "data_blocks": 4},
                            {"id_base": 512, "count": 2, "size": "64MiB", "pool": 0}]},
        "smis-b": {"vendor": "smis", "profile": "generic",
                   "volumes": [{"name": "vol{n}", "count": 2, "id_base": 201, "size": "64MiB", "data_blocks": 4},
                               {"name": "mirror{n}", "count": 2, "id_base": 251, "size": "64MiB"}]},
    },
    "links": [{"between": ["ontap-a", "ontap-b"]}],
}
VENDORS = ["ontap", "vsp", "smis"]
SETS = {
    "ontap": {"name": "dt-ontap", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
              "source_container": "svm_a", "target_container": "svm_b", "volumes": ["dt1", "dt2", "dt3"],
              "target_name_suffix": "_dr"},
    # the pair of LDEV 257 is split after the setup: its copy is a snapshot of the S-VOL, that of 256 of the P-VOL
    "vsp": {"name": "dt-vsp", "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
            "volumes": [{"name": "256", "target_name": 512}, {"name": "257", "target_name": 513}]},
    "smis": {"name": "dt-smis", "vendor": "smis", "source": "smis-b", "target": "smis-b",
             "volumes": [{"name": "201", "target_name": "251"}, {"name": "202", "target_name": "252"}],
             "options": {"sync_type": "mirror", "mode": "async"}},
}
DR = {"ontap": "ontap-b", "vsp": "vsp-a", "smis": "smis-b"}
# the DR volumes (lab keys) and the source volume each holds the image of
DR_VOLUMES = {"ontap": {f"svm_b:dt{n}_dr": ("ontap-a", f"svm_a:dt{n}") for n in (1, 2, 3)},
              "vsp": {"512": ("vsp-a", "256"), "513": ("vsp-a", "257")},
              "smis": {"251": ("smis-b", "201"), "252": ("smis-b", "202")}}
ROLE_VARS = {"dr_test_poll_interval": 0.1, "dr_test_wait_timeout": 120, "dr_test_vsp_pool_id": 0,
             "dr_test_vsp_svol_pool_id": 0}


def rehearsal(lab, tmp_path, vendor: str, state: str, wait: bool = True, rc: int = 0, **extra: t.Any) -> t.Any:
    """playbooks/dr_test.yml on the vendor's set; waits, checks the exit code and returns the report, or returns
    the process (``wait`` false)."""
    report_file = os.path.join(tmp_path, f"dr_test-{state}.json")
    variables = dict(ROLE_VARS, dr_test_state=state, dr_test_report_file=report_file, **extra)
    proc = playbook(lab, "dr_test", tmp_path, variables, wait=wait, sets=[SETS[vendor]], rc=rc)
    if not wait:
        return proc
    with open(report_file, encoding="utf-8") as handle:
        return json.load(handle)


def copies(lab, vendor: str) -> dict[str, str]:
    """The test copies on the lab now: DR volume (the item's target) -> the lab volume holding its copy."""
    if vendor == "ontap":
        present = lab.volumes("ontap-b")
        return {key: f"{key}_drtest" for key in DR_VOLUMES["ontap"] if f"{key}_drtest" in present}
    if vendor == "vsp":
        status = lab.status("vsp-a")
        # a snapshot of an S-VOL (split pair) or of its pair's P-VOL (PAIR): named by the item's S-VOL
        svol_of = {"256": "512", "257": "513", "512": "512", "513": "513"}
        return {svol_of[snapshot_id.split(",")[0]]: str(snap["svol"])
                for snapshot_id, snap in status["snapshots"].items()}
    syncs = lab.status("smis-b")["synchronizations"]
    return {s["source"]: s["target"] for s in syncs if s["source"] in DR_VOLUMES["smis"]}


def leftovers(lab, vendor: str, before: dict[str, t.Any]) -> dict[str, t.Any]:
    """Everything a rehearsal may have made that was not there before it: copies, volumes, snapshot groups."""
    state = replication_state(lab, vendor)
    out: dict[str, t.Any] = {"copies": copies(lab, vendor)}
    out["new volumes"] = sorted(set(lab.volumes(DR[vendor])) - set(before["volumes"]))
    if vendor == "vsp":
        out["snapshot groups"] = sorted(set(lab.status("vsp-a")["snapshot_groups"]) - set(before["groups"]))
    return {k: v for k, v in out.items() if v} | ({} if state == before["state"] else {"state": state})


def replication_state(lab, vendor: str) -> t.Any:
    """The relationships, ShadowImage pairs or synchronizations of the vendor's set, as the array shows them."""
    if vendor == "ontap":
        reply = lab.session("ontap-b").get(lab.url("ontap-b", "/api/snapmirror/relationships"), timeout=30, params={
            "fields": "state,healthy,source.path,destination.path,policy.name", "destination.svm.name": "svm_b"})
        reply.raise_for_status()
        return sorted((r["source"]["path"], r["destination"]["path"], r["state"], r["healthy"], r["policy"]["name"])
                      for r in reply.json()["records"])
    if vendor == "vsp":
        return {pair_id: (pair["status"], pair["mode"], pair["direction"])
                for pair_id, pair in lab.status("vsp-a")["pairs"].items()}
    return sorted((s["source"], s["target"], s["kind"], s["mode"], s["copy_state"], s["sync_state"])
                  for s in lab.status("smis-b")["synchronizations"] if s["source"] not in DR_VOLUMES["smis"])


def before_rehearsal(lab, vendor: str) -> dict[str, t.Any]:
    return {"state": replication_state(lab, vendor), "volumes": list(lab.volumes(DR[vendor])),
            "groups": lab.status("vsp-a")["snapshot_groups"] if vendor == "vsp" else []}


@pytest.fixture(scope="module", name="protected")
def protected_fixture(lab, tmp_path_factory) -> None:
    """Every set protected; the VSP pair of LDEV 257 split and its P-VOL written since, so the S-VOL is the DR
    image and differs from the P-VOL; ONTAP sources written after the last transfer."""
    from conftest import run_module  # pylint: disable=import-outside-toplevel

    playbook(lab, "setup", tmp_path_factory.mktemp("setup"), sets=list(SETS.values()))
    split = run_module("shadowimage_pair", dict(lab.connection("vsp-a"), copy_group="dt-vsp", pair_name="p257",
                                                pair_state="split", poll_interval=0.05))
    assert not split["failed"], split
    lab.write("vsp-a", "257", blocks=2)
    for n in (1, 2, 3):
        lab.write("ontap-a", f"svm_a:dt{n}", blocks=2)


def mutations_on_replication(entries: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Changes sent to a relationship, a ShadowImage pair, a synchronization of a set (the mirror's: it names the
    source), a set's LDEV, or a source array: a rehearsal acts on the DR side's copies only."""
    sources = {source for volumes in DR_VOLUMES.values() for source in volumes.values()}
    ldevs = {("vsp-a", ldev) for ldev in ("256", "257", "512", "513")}
    out = []
    for entry in entries:
        text = f"{entry['path']} {json.dumps(entry.get('body'))}"
        named = {(entry["array"], device) for device in entry.get("cim_devices") or ()}
        ldev = {(entry["array"], part.split("/")[0]) for part in entry["path"].split("/ldevs/")[1:]}
        if "/snapmirror/" in text or "local-clone-copy" in text or entry["array"] == "ontap-a" or \
                named & sources or ldev & ldevs:
            out.append(entry)
    return out


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_rehearsal_killed_half_way_is_cleaned_up_by_stop(lab, protected, tmp_path, vendor):
    before = before_rehearsal(lab, vendor)
    # every change of the run is slow (not the claims) and the items go one at a time, so the kill lands after
    # the first copy and before the last
    lab.faults(DR[vendor], latency_ms=400, only_mutating=True, spare=CLAIMS)
    try:
        proc = rehearsal(lab, tmp_path, vendor, "started", wait=False, dr_test_max_workers=1)
        try:
            lab.wait_for(lambda: copies(lab, vendor) or proc.poll() is not None, timeout=120, interval=0.05)
            running = proc.poll() is None
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            out = proc.communicate(timeout=30)[0]
    finally:
        lab.clear_faults(DR[vendor])
    assert running, f"the start ended before a copy was seen: {out[-3000:]}"
    left = copies(lab, vendor)
    assert 1 <= len(left) < len(DR_VOLUMES[vendor]), f"the kill should land half way: {left}"
    # the killed run's VSP session (and its lock) idles out on the array's clock; ONTAP and SMI-S claims of a
    # dead process are removed by the next run at once
    lab.advance_clock(301)
    # nothing was written to the copies; SMI-S replicas are removed only when told (no provider can say)
    report = rehearsal(lab, tmp_path, vendor, "stopped", dr_test_allow_data_loss=vendor == "smis")
    assert report["summary"]["failed"] == 0, report
    assert leftovers(lab, vendor, before) == {}


def _at(when: str | float) -> float:
    if isinstance(when, str):
        return datetime.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    return float(when)


def dr_image(lab, vendor: str, dr_volume: str, recovery_point: str) -> str:
    """The digest of the DR volume at the recovery point: ONTAP, its newest snapshot then; VSP and SMI-S keep no
    snapshot of the DR side, whose volumes nothing writes to during the test: the volume's digest now."""
    volume = lab.volume(DR[vendor], dr_volume)
    if vendor != "ontap":
        return volume["digest"]
    point = _at(recovery_point)
    newest = max(volume["snapshots"].values(), key=lambda s: s["create_time"])
    # the copy is of the newest point in time the relationship brought (nothing was transferred since)
    assert int(_at(newest["create_time"])) == int(point), f"{dr_volume}: {recovery_point} is not its newest snapshot"
    return newest["digest"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_rehearsal_leaves_replication_alone_and_copies_the_recovery_point(lab, protected, tmp_path, vendor):
    before = before_rehearsal(lab, vendor)
    mark = lab.mark()
    started = rehearsal(lab, tmp_path, vendor, "started")
    made = copies(lab, vendor)
    assert sorted(made) == sorted(DR_VOLUMES[vendor]), made
    rows = started["rows"]
    assert len(rows) == len(DR_VOLUMES[vendor]) and started["summary"]["failed"] == 0, started
    for row in rows:
        dr_volume = next(key for key in DR_VOLUMES[vendor] if str(row["item"]) in (key, key.split(":")[-1]))
        digest = lab.digest(DR[vendor], made[dr_volume])
        assert digest == dr_image(lab, vendor, dr_volume, row["recovery_point"]), row
        # nothing was written to the copy; SMI-S providers do not say so either way
        assert row["equal"] is (None if vendor == "smis" else True), row
        source_array, source = DR_VOLUMES[vendor][dr_volume]
        if vendor == "ontap" or source == "257":  # the source was written after the DR image was taken
            assert digest != lab.digest(source_array, source), f"{row['copy']} holds the source, not the DR image"
    if vendor == "smis":  # no provider says what was written to a replica: removing one is refused unless told
        refused = rehearsal(lab, tmp_path, vendor, "stopped", rc=2)
        assert refused["summary"]["failed"] == 2 and all("allow_data_loss" in r["msg"] for r in refused["rows"])
        assert copies(lab, vendor) == made, "a refused removal removed a copy"
    stopped = rehearsal(lab, tmp_path, vendor, "stopped", dr_test_allow_data_loss=vendor == "smis")
    assert stopped["summary"]["failed"] == 0, stopped
    assert leftovers(lab, vendor, before) == {}
    touched = mutations_on_replication(lab.mutations_since(mark))
    assert touched == [], json.dumps(touched, indent=1)[:3000]
