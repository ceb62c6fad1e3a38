"""storage.replication.volume_clone against the lab's ONTAP clusters, over HTTPS.

A clone of a SnapMirror destination is a DR test copy: it holds the data of the snapshot the relationship
transferred (digests prove it) while the source goes on writing and transfers go on, and the module sends
nothing to the relationship. Every change runs in check mode first (the lab logs no mutation, not even a
claim), then for real, then again (reported unchanged).
"""

from __future__ import annotations

import pytest
from ontap_actors import Console
from storage_replication_lab.client import LabError, is_claim

BLOCK = 64 * 1024
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "256MiB"},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap",
            "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 6, "size": "64MiB", "data_blocks": 16, "nas_path": "/vol{n}"}]}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {
            "vendor": "ontap",
            "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
            "svms": [{"name": "svm_b", "volumes": [
                {"name": "rw{n}", "count": 2, "size": "64MiB", "data_blocks": 8, "nas_path": "/rw{n}"},
                {"name": "taken", "size": "64MiB", "data_blocks": 4, "nas_path": "/taken"},
                {"name": "empty_dp", "size": "64MiB", "type": "dp"},
            ]}],
        },
    },
}


@pytest.fixture
def conn(lab):
    def make(**kwargs):
        return dict(lab.connection("ontap-b"), poll_interval=0.05, wait_timeout=60, svm="svm_b", **kwargs)
    return make


def mirror(lab, run_module, *numbers):
    """Relationships svm_a:vol<n> -> svm_b:vol<n>_dr, initialized; their exported snapshots by destination."""
    items = [{"source_path": f"svm_a:vol{n}", "destination_path": f"svm_b:vol{n}_dr"} for n in numbers]
    result = run_module("snapmirror", dict(lab.connection("ontap-b"), source_cluster=lab.connection("ontap-a"),
                                           poll_interval=0.05, wait_timeout=60, relationships=items,
                                           create_destination={"enabled": True}))
    assert not result["failed"], result
    return {r["destination_path"]: r["relationship"]["exported_snapshot"] for r in result["relationships"]}


def update(lab, run_module, n):
    result = run_module("snapmirror", dict(lab.connection("ontap-b"), source_path=f"svm_a:vol{n}",
                                           destination_path=f"svm_b:vol{n}_dr", update=True, poll_interval=0.05))
    assert not result["failed"], result
    return result["relationship"]["exported_snapshot"]


def step(lab, run_module, args, expect_actions):
    """Check mode (nothing sent that changes anything), apply (changed, the same actions), apply again
    (unchanged); return the applied result."""
    mark = lab.mark()
    check = run_module("volume_clone", args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True and check["actions"] == expect_actions
    assert lab.mutations_since(mark, claims=True) == []
    applied = run_module("volume_clone", args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True and applied["actions"] == expect_actions
    assert check["diff"]["after"] == applied["diff"]["after"]
    again = run_module("volume_clone", args)
    assert not again["failed"], again
    assert again["changed"] is False and again["actions"] == []
    return applied


def snapshots(lab, key):
    return lab.volume("ontap-b", key)["snapshots"]


def gone(lab, key):
    try:
        lab.volume("ontap-b", key)
    except LabError:
        return True
    return False


def test_a_dr_test_copy_through_its_whole_life(lab, run_module, conn):
    exported = mirror(lab, run_module, 1)["svm_b:vol1_dr"]
    args = conn(name="vol1_test", parent_volume="vol1_dr", junction_path="/vol1_test")
    created = step(lab, run_module, args, ["create"])
    clone = created["clone"]
    assert created["parent_snapshot_chosen"] == "exported_snapshot"
    assert (clone["parent_volume"], clone["parent_snapshot"], clone["junction_path"]) == \
        ("vol1_dr", exported, "/vol1_test")
    assert clone["comment"] == f"storage.replication test copy of svm_b:vol1_dr@{exported}"
    assert clone["written_bytes"] == 0 and clone["state"] == "online" and clone["uuid"]
    assert clone["recovery_point"].endswith("+00:00") and clone["recovery_point_age_seconds"] >= 0
    assert created["diff"]["before"] == {"svm_b:vol1_test": {}}
    digest = lab.snapshot_digest("ontap-b", "svm_b:vol1_dr", exported)
    assert lab.digest("ontap-b", "svm_b:vol1_test") == digest
    assert lab.volume("ontap-b", "svm_b:vol1_test")["host_access"] == "rw"

    # the source goes on writing and transfers go on; the clone keeps its point in time
    for blocks in (5, 3):
        lab.write("ontap-a", "svm_a:vol1", blocks)
        newer = update(lab, run_module, 1)
        assert newer != exported
    assert lab.digest("ontap-b", "svm_b:vol1_dr") == lab.snapshot_digest("ontap-a", "svm_a:vol1", newer)
    assert lab.digest("ontap-b", "svm_b:vol1_test") == digest
    assert exported in snapshots(lab, "svm_b:vol1_dr"), "ONTAP keeps the snapshot a clone is made from"
    again = run_module("volume_clone", args)
    assert again["changed"] is False and again["clone"]["parent_snapshot"] == exported

    # what a test writes to the clone exists nowhere else: removing it is refused, naming the bytes
    lab.write("ontap-b", "svm_b:vol1_test", 2)
    mark = lab.mark()
    refused = run_module("volume_clone", dict(args, state="absent"))
    assert refused["failed"] and refused["discarded_bytes"] == 2 * BLOCK == refused["clone"]["written_bytes"]
    assert f"would discard {2 * BLOCK} bytes written to the clone since it was made from svm_b:vol1_dr@{exported}" \
        in refused["msg"] and "allow_data_loss" in refused["msg"]
    assert lab.mutations_since(mark, claims=True) == []
    removed = step(lab, run_module, dict(args, state="absent", allow_data_loss=True), ["unmount", "delete"])
    assert removed["clone"] is None and removed["diff"]["after"] == {"svm_b:vol1_test": {}}
    assert gone(lab, "svm_b:vol1_test")
    update(lab, run_module, 1)
    assert exported not in snapshots(lab, "svm_b:vol1_dr"), "freed, the next transfer removes it"


def test_the_module_sends_nothing_to_a_relationship_while_a_transfer_runs(lab, run_module, conn):
    exported = mirror(lab, run_module, 2)["svm_b:vol2_dr"]
    console = Console(lab)
    lab.write("ontap-a", "svm_a:vol2", 64)
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
    try:
        console.update("svm_b:vol2_dr")
        console.wait_transferring("svm_b:vol2_dr")
        mark = lab.mark()
        args = conn(name="vol2_test", parent_volume="vol2_dr")
        created = run_module("volume_clone", args)
        assert not created["failed"], created
        assert created["clone"]["parent_snapshot"] == exported, "the snapshot the relationship last transferred"
        assert console.relationship("svm_b:vol2_dr")["transfer"]["state"] == "transferring"
        removed = run_module("volume_clone", dict(args, state="absent"))
        assert not removed["failed"] and removed["actions"] == ["delete"], "0 bytes written: no refusal"
        sent = lab.mutations_since(mark, claims=True)
        assert [e["path"] for e in sent if "/snapmirror/" in e["path"] and not is_claim(e)] == []
        assert sorted(e["method"] for e in sent if not is_claim(e)) == ["DELETE", "POST"]
        assert all(e["path"].startswith("/api/storage/volumes") for e in sent if not is_claim(e))
    finally:
        lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")
    lab.wait_for(lambda: console.relationship("svm_b:vol2_dr")["transfer"]["state"] == "success", timeout=60)
    assert lab.digest("ontap-b", "svm_b:vol2_dr") == lab.digest("ontap-a", "svm_a:vol2")


def test_a_clone_of_a_read_write_volume_at_a_snapshot_ontap_takes(lab, run_module, conn):
    args = conn(name="rw1_test", parent_volume="rw1", comment="smoke test copy")
    mark = lab.mark()
    check = run_module("volume_clone", args, check_mode=True)
    assert check["actions"] == ["create"] and check["parent_snapshot_chosen"] == "taken_by_ontap"
    assert check["clone"]["parent_snapshot"] is None and lab.mutations_since(mark, claims=True) == []
    created = run_module("volume_clone", args)
    assert not created["failed"], created
    snapshot = created["clone"]["parent_snapshot"]
    assert snapshot.startswith("clone_rw1_test.") and created["clone"]["comment"] == "smoke test copy"
    assert created["clone"]["junction_path"] is None
    assert lab.digest("ontap-b", "svm_b:rw1_test") == lab.snapshot_digest("ontap-b", "svm_b:rw1", snapshot)
    assert run_module("volume_clone", args)["changed"] is False
    named = run_module("volume_clone", conn(name="rw1_same", parent_volume="rw1", parent_snapshot=snapshot))
    assert named["changed"] is True and named["parent_snapshot_chosen"] == "given"
    assert lab.digest("ontap-b", "svm_b:rw1_same") == lab.digest("ontap-b", "svm_b:rw1_test")
    recommented = run_module("volume_clone", dict(args, comment="renamed test"), diff=True)
    assert recommented["actions"] == ["modify"] and recommented["clone"]["comment"] == "renamed test"
    assert recommented["diff"]["before"]["svm_b:rw1_test"]["comment"] == "smoke test copy"


def test_a_junction_path_change_is_applied(lab, run_module, conn):
    args = conn(name="rw2_test", parent_volume="rw2")
    assert run_module("volume_clone", args)["clone"]["junction_path"] is None
    mounted = step(lab, run_module, dict(args, junction_path="/t1"), ["mount"])
    assert mounted["clone"]["junction_path"] == "/t1"
    assert lab.volume("ontap-b", "svm_b:rw2_test")["host_access"] == "rw"
    moved = step(lab, run_module, dict(args, junction_path="/t2"), ["unmount", "mount"])
    assert moved["clone"]["junction_path"] == "/t2"
    assert run_module("volume_clone", args)["changed"] is False, "not set: the junction is left as it is"
    unmounted = step(lab, run_module, dict(args, junction_path=""), ["unmount"])
    assert unmounted["clone"]["junction_path"] is None
    assert lab.volume("ontap-b", "svm_b:rw2_test")["host_access"] == "none"


def test_a_test_export_policy_is_given_to_a_new_clone_and_set_on_an_existing_one(lab, run_module, conn):
    http = lab.session("ontap-b")
    policies = lab.url("ontap-b", "/api/protocols/nfs/export-policies")
    for name in ("drtest_hosts", "drtest_other"):
        made = http.post(policies, json={"name": name, "svm": {"name": "svm_b"},
                                         "rules": [{"clients": [{"match": "10.0.9.0/24"}], "rw_rule": ["sys"]}]},
                         timeout=30)
        assert made.status_code == 201, made.text
    mirror(lab, run_module, 6)
    args = conn(name="vol6_exp", parent_volume="vol6_dr", junction_path="/vol6_exp", export_policy="drtest_hosts")
    created = step(lab, run_module, args, ["create"])
    assert created["clone"]["export_policy"] == "drtest_hosts"
    record = http.get(lab.url("ontap-b", "/api/storage/volumes"), timeout=30,
                      params={"name": "vol6_exp", "fields": "nas.export_policy.name"}).json()["records"][0]
    assert record["nas"]["export_policy"]["name"] == "drtest_hosts"
    changed = step(lab, run_module, dict(args, export_policy="drtest_other"), ["export"])
    assert changed["clone"]["export_policy"] == "drtest_other"
    assert run_module("volume_clone", dict(args, export_policy=None))["changed"] is False, "not set: left as it is"
    missing = run_module("volume_clone", conn(name="vol6_other", parent_volume="vol6_dr", export_policy="nope"))
    assert missing["failed"] and 'Export policy "nope" does not exist' in missing["msg"], missing
    assert gone(lab, "svm_b:vol6_other")
    assert run_module("volume_clone", dict(args, state="absent"))["changed"] is True
    in_use = http.get(policies, params={"name": "drtest_other"}, timeout=30).json()["records"][0]["id"]
    assert http.delete(f"{policies}/{in_use}", timeout=30).status_code == 200, "no clone uses it any more"


def test_identity_is_declared_and_never_taken_over(lab, run_module, conn):
    mark = lab.mark()
    plain = run_module("volume_clone", conn(name="taken", parent_volume="rw1"))
    assert plain["failed"] and "svm_b:taken exists and is not a FlexClone volume (a rw volume)" in plain["msg"]
    kept = run_module("volume_clone", conn(name="taken", state="absent", allow_data_loss=True))
    assert kept["failed"] and "is not a FlexClone volume" in kept["msg"]
    assert lab.mutations_since(mark, claims=True) == [] and not gone(lab, "svm_b:taken")

    assert not run_module("volume_clone", conn(name="other_test", parent_volume="rw1"))["failed"]
    snapshot = run_module("volume_clone", conn(name="other_test", parent_volume="rw1"))["clone"]["parent_snapshot"]
    other_parent = run_module("volume_clone", conn(name="other_test", parent_volume="rw2"))
    assert other_parent["failed"] and f"is a clone of rw1@{snapshot}, not of rw2" in other_parent["msg"]
    assert other_parent["clone"]["parent_volume"] == "rw1"
    other_snapshot = run_module("volume_clone", conn(name="other_test", parent_volume="rw1", parent_snapshot="s0"))
    assert other_snapshot["failed"] and f"rw1@{snapshot}, not of snapshot s0" in other_snapshot["msg"]
    not_its_parent = run_module("volume_clone", conn(name="other_test", parent_volume="rw2", state="absent"))
    assert not_its_parent["failed"] and "not of rw2" in not_its_parent["msg"]

    missing = run_module("volume_clone", conn(name="x_test", parent_volume="nope"))
    assert missing["failed"] and "parent volume svm_b:nope does not exist" in missing["msg"]
    no_snapshot = run_module("volume_clone", conn(name="x_test", parent_volume="empty_dp"))
    assert no_snapshot["failed"] and "without a snapshot to clone" in no_snapshot["msg"]
    unknown = run_module("volume_clone", conn(name="x_test", parent_volume="rw1", parent_snapshot="nope"))
    assert unknown["failed"] and "snapshot nope does not exist in svm_b:rw1" in unknown["msg"]
    for bad, why in (({"junction_path": "t"}, "must start with /"), ({"name": "a:b"}, "not a plain ONTAP name"),
                     ({"parent_volume": "x_test"}, "the same"), ({"parent_volume": None}, "parent_volume is required")):
        result = run_module("volume_clone", dict(conn(name="x_test", parent_volume="rw1"), **bad))
        assert result["failed"] and why in result["msg"] and result["requests_sent"] == 0, result


def test_three_copies_in_one_run(lab, run_module, conn):
    exported = mirror(lab, run_module, 3, 4, 5)
    items = [{"name": f"vol{n}_test", "parent_volume": f"vol{n}_dr"} for n in (3, 4, 5)]
    items[0]["junction_path"] = "/vol3_test"
    args = conn(clones=items, max_workers=3)
    mark = lab.mark()
    check = run_module("volume_clone", args, check_mode=True)
    assert check["summary"] == {"total": 3, "changed": 3, "ok": 0, "failed": 0, "skipped": 0}
    assert lab.mutations_since(mark, claims=True) == []
    created = run_module("volume_clone", args)
    assert created["summary"]["changed"] == 3, created
    for result, n in zip(created["clones"], (3, 4, 5)):
        assert result["clone_path"] == f"svm_b:vol{n}_test" and result["actions"] == ["create"]
        assert result["clone"]["parent_snapshot"] == exported[f"svm_b:vol{n}_dr"]
        assert lab.digest("ontap-b", f"svm_b:vol{n}_test") == \
            lab.snapshot_digest("ontap-b", f"svm_b:vol{n}_dr", exported[f"svm_b:vol{n}_dr"])
    assert created["clones"][0]["clone"]["junction_path"] == "/vol3_test"
    again = run_module("volume_clone", args)
    assert again["changed"] is False and again["summary"]["ok"] == 3
    assert again["requests_sent"] == 4, "one volume query, then each clone's base snapshot"
    removed = run_module("volume_clone", conn(clones=[{"name": i["name"]} for i in items], state="absent"))
    assert removed["summary"]["changed"] == 3, removed
    assert [r["actions"] for r in removed["clones"]] == [["unmount", "delete"], ["delete"], ["delete"]]
    assert all(gone(lab, f"svm_b:vol{n}_test") for n in (3, 4, 5))


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_create_without_an_answer_is_read_back_and_the_run_continues(lab, conn, dropping, when):
    # the cluster drops the connection of the create, before or after making the clone
    result = dropping("ontap-b", when, "volume_clone", conn(name=f"rw2_{when}", parent_volume="rw2"),
                      f"svm_b:rw2_{when} again")
    assert result["clone"]["parent_volume"] == "rw2" and result["clone"]["uuid"]
    assert lab.digest("ontap-b", f"svm_b:rw2_{when}") == \
        lab.snapshot_digest("ontap-b", "svm_b:rw2", result["clone"]["parent_snapshot"])
