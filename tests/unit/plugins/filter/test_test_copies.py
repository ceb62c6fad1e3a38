"""DR test copies (the dr_test role's set logic): names, module items, report rows and summary."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import SetError, module_items
from ansible_collections.storage.replication.plugins.plugin_utils._sets import (
    test_copies as copies_of, test_copy_lines as copy_lines, test_copy_rows as copy_rows,
    test_copy_summary as copy_summary)

ONTAP = {"name": "finance", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b", "source_container": "svm_a",
         "target_container": "svm_b", "volumes": ["vol1", "vol2"], "target_name_suffix": "_dr", "fence_order": ["vol2"]}
VSP = {"name": "payroll", "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
       "volumes": [{"name": 256, "target_name": 512}, {"name": 257, "target_name": 513}],
       "options": {"copy_group": "pay", "dr_test_pool_id": "3"}}
SMIS = {"name": "orders", "vendor": "smis", "source": "smis-b", "target": "smis-b",
        "volumes": [{"name": "201", "target_name": "251"}]}
STARTED = {"state": "started", "suffix": "_drtest", "junction_prefix": "", "allow_data_loss": False}
STOPPED = dict(STARTED, state="stopped", allow_data_loss=True)


def relationship(dest: str, snapshot: str | None = "snapmirror.1") -> dict:
    return {"source_path": "svm_a:" + dest.split(":")[1][:-3], "destination_path": dest, "state": "snapmirrored",
            "exported_snapshot": snapshot}


def test_ontap_copies_are_clones_of_the_destinations_mounted_under_the_prefix():
    read = {"relationships": [relationship("svm_b:vol1_dr"), relationship("svm_b:vol2_dr", "snapmirror.2")]}
    copies = copies_of(ONTAP, dict(STARTED, junction_prefix="/drtest/", export_policy="testers"), read)
    assert [c["copy"] for c in copies] == ["svm_b:vol2_dr_drtest", "svm_b:vol1_dr_drtest"]  # fencing order
    assert module_items(copies)[1] == {"svm": "svm_b", "name": "vol1_dr_drtest", "parent_volume": "vol1_dr",
                                       "junction_path": "/drtest/vol1_dr_drtest", "export_policy": "testers",
                                       "state": "present"}
    assert copies[0]["base"] == "snapmirror.2" and copies[0]["missing"] is None


def test_ontap_items_without_a_relationship_or_a_transfer_are_not_sent():
    read = {"relationships": [relationship("svm_b:vol1_dr", None)]}
    copies = copies_of(ONTAP, STARTED, read)
    assert [c["missing"] for c in copies] == ["no SnapMirror relationship for this volume on the DR cluster",
                                              "the relationship has transferred no snapshot yet: there is no point "
                                              "in time to copy"]


def test_stopping_needs_no_relationship_and_passes_allow_data_loss():
    copies = copies_of(ONTAP, STOPPED, {"relationships": []})
    assert module_items(copies) == [
        {"svm": "svm_b", "name": "vol2_dr_drtest", "parent_volume": "vol2_dr", "state": "absent",
         "allow_data_loss": True},
        {"svm": "svm_b", "name": "vol1_dr_drtest", "parent_volume": "vol1_dr", "state": "absent",
         "allow_data_loss": True}]


def test_a_failed_read_fails_every_copy_without_sending_it():
    copies = copies_of(ONTAP, STARTED, {"failed": True, "msg": "unreachable"})
    assert {c["missing"] for c in copies} == {"the set could not be read on its DR array: unreachable"}
    assert {c["state"] for c in copies} == {"present"}
    rows = copy_rows({"skipped": True}, ONTAP, "ontap-b", copies)
    assert [r["failed"] for r in rows] == [True, True]


@pytest.mark.parametrize("settings, match", [
    (dict(STARTED, suffix=""), "dr_test_suffix is empty"),
    (dict(STARTED, state="running"), "dr_test_state is 'running'"),
])
def test_bad_settings_fail_naming_the_variable(settings, match):
    with pytest.raises(SetError, match=match):
        copies_of(ONTAP, settings)


def test_vsp_snapshots_the_svol_of_a_split_pair_and_the_pvol_of_a_paired_one():
    read = {"pairs": [{"copy_group": "pay", "pair_name": "p256", "pvol": 256, "svol": 512, "state": "split"},
                      {"copy_group": "pay", "pair_name": "p257", "pvol": 257, "svol": 513, "state": "paired"}]}
    copies = copies_of(VSP, dict(STARTED, vsp_pool_id=9, vsp_svol_pool_id="0"), read)
    assert module_items(copies) == [
        {"snapshot_group": "drtest_payroll", "label": "512_drtest", "pvol": 512, "pool_id": 3, "svol_pool_id": 0,
         "state": "present"},
        {"snapshot_group": "drtest_payroll", "label": "513_drtest", "pvol": 257, "pool_id": 3, "svol_pool_id": 0,
         "state": "present"}]
    assert [c["item"] for c in copies] == ["512", "513"]


def test_vsp_needs_a_pool_and_cuts_the_group_name():
    with pytest.raises(SetError, match="dr_test_vsp_pool_id"):
        copies_of(dict(VSP, options={}), STARTED)
    long = dict(VSP, name="x" * 40)
    assert copies_of(long, STOPPED)[0]["snapshot_group"] == ("drtest_" + "x" * 40)[:32]
    with pytest.raises(SetError, match="the snapshot pool id is 'a'"):
        copies_of(dict(VSP, options={"dr_test_pool_id": "a"}), STARTED)


def test_vsp_stop_removes_the_snapshots_of_both_volumes_in_one_row():
    copies = copies_of(VSP, STOPPED, {"pairs": []})
    assert [(c["item"], c["pvol"]) for c in copies] == [("512", 256), ("512", 512), ("513", 257), ("513", 513)]
    result = {"snapshots": [{"changed": True, "actions": ["delete"], "snapshot": None}, {"changed": False},
                            {"changed": False}, {"failed": True, "msg": "refused: written"}]}
    rows = copy_rows(result, VSP, "vsp-a", copies)
    assert [(r["item"], r["changed"], r["failed"], r["state"]) for r in rows] == [
        ("512", True, False, "stopped"), ("513", False, True, "stopped")]
    assert rows[0]["copy"] == "drtest_payroll/256, drtest_payroll/512" and rows[1]["msg"] == "refused: written"


def test_smis_copies_replicate_the_mirror_target():
    copies = copies_of(SMIS, dict(STARTED, smis_sync_type="snapshot"), {"synchronizations": [
        {"source": "vol1", "source_device_id": "201", "target": "mirror1", "target_device_id": "251"}]})
    assert module_items(copies) == [{"source": "251", "name": "251_drtest", "sync_type": "snapshot",
                                     "state": "present"}]


@pytest.mark.parametrize("facts, equal", [
    ({"parent_snapshot": "snapmirror.1", "written_bytes": 0}, True),
    ({"parent_snapshot": "snapmirror.1", "written_bytes": 65536}, False),
    ({"parent_snapshot": "snapmirror.0", "written_bytes": 0}, False),
    ({"parent_snapshot": "snapmirror.1", "written_bytes": None}, None),
])
def test_ontap_rows_say_whether_the_clone_holds_the_exported_snapshot_unwritten(facts, equal):
    copies = copies_of(ONTAP, STARTED, {"relationships": [relationship("svm_b:vol1_dr")]})
    result = {"clones": [dict(changed=True, actions=["create"],
                              clone=dict(facts, recovery_point="2026-12-03T00:00:00+00:00",
                                         recovery_point_age_seconds=60))]}
    rows = copy_rows(result, ONTAP, "ontap-b", copies)
    assert rows[0]["failed"] and "no SnapMirror relationship" in rows[0]["msg"]  # vol2: not sent
    msg = {True: "", None: "", False: "65536 bytes were written to it since it was made" if facts["written_bytes"]
           else "it holds snapmirror.0, an older transfer than snapmirror.1, which the relationship exports now"
                " (stop and start again for a copy of it)"}[equal]
    assert rows[1] == {"set": "finance", "vendor": "ontap", "target": "ontap-b", "item": "svm_b:vol1_dr",
                       "copy": "svm_b:vol1_dr_drtest", "state": "started",
                       "recovery_point": "2026-12-03T00:00:00+00:00", "recovery_point_age_seconds": 60,
                       "equal": equal, "changed": True, "failed": False, "msg": msg, "actions": ["create"],
                       "copy_facts": result["clones"][0]["clone"]}


@pytest.mark.parametrize("vendor_set, key, facts, equal", [
    (VSP, "snapshots", {"written": False, "svol": 600}, True),
    (VSP, "snapshots", {"written": True, "svol": 600}, False),
    (SMIS, "replicas", {"written_bytes": None}, None),
    (SMIS, "replicas", {"written_bytes": 0}, True),
])
def test_other_vendors_equal(vendor_set, key, facts, equal):
    read = {"pairs": [{"copy_group": "pay", "pair_name": "p256", "pvol": 256, "svol": 512, "state": "paired"},
                      {"copy_group": "pay", "pair_name": "p257", "pvol": 257, "svol": 513, "state": "paired"}],
            "synchronizations": [{"source_device_id": "201", "target_device_id": "251"}]}
    copies = copies_of(vendor_set, STARTED, read)
    single = key[:-1]
    rows = copy_rows({key: [{single: facts} for _c in copies]}, vendor_set, "x", copies)
    assert rows[0]["equal"] is equal and not rows[0]["failed"]
    assert rows[0]["msg"] == ("its S-VOL was written since the snapshot was taken" if facts.get("written") else "")
    if vendor_set is VSP:
        assert rows[0]["copy"] == "drtest_payroll/256 (S-VOL 600)"


def test_a_module_that_failed_as_a_whole_fails_every_row():
    copies = copies_of(SMIS, STARTED, {"synchronizations": [{"source_device_id": "201", "target_device_id": "251"}]})
    rows = copy_rows({"failed": True, "msg": "login refused"}, SMIS, "smis-b", copies)
    assert rows[0]["failed"] and rows[0]["msg"] == "the module failed before it reported this copy: login refused"


def test_summary_counts_equal_copies_and_the_verify_result():
    rows = [{"set": "s", "item": "a", "target": "t", "state": "started", "equal": True, "changed": True,
             "recovery_point_age_seconds": 30},
            {"set": "s", "item": "b", "target": "t", "state": "started", "equal": None,
             "recovery_point_age_seconds": 90},
            {"set": "s", "item": "c", "target": "t", "state": "started", "failed": True, "msg": "boom"}]
    summary = copy_summary(rows, "started", {"result": "failed", "msg": "no data"})
    assert {k: summary[k] for k in ("items", "changed", "failed", "equal", "not_equal", "equal_unknown",
                                    "oldest_recovery_point_age_seconds", "failed_items")} == {
        "items": 3, "changed": 1, "failed": 1, "equal": 1, "not_equal": 0, "equal_unknown": 1,
        "oldest_recovery_point_age_seconds": 90, "failed_items": ["s/c: boom"]}
    assert summary["text"].startswith("DR test started: 3 item(s) on t, 1 changed, 1 failed")
    assert summary["text"].endswith("verify failed (no data)")
    assert copy_summary([], "stopped")["verify"] == {"result": "skipped", "msg": ""}
    with pytest.raises(SetError):
        copy_summary([], "stopped", {"result": "maybe"})
    assert copy_lines(rows)[2] == "s c on t: FAILED: boom"
    assert copy_lines(rows)[0].startswith("s a on t: started None, recovery point None, equal=True")
