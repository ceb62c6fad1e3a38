"""Which items a planned failover catches up, and how a failover reports a ShadowImage pair split before it:
an item left in its cutover state counts as failed over only when it holds all of its source's data."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.plugin_utils._sets import catch_up_items, report_rows

ONTAP_SET = {"name": "fin", "vendor": "ontap", "source": "a", "target": "b", "source_container": "svm_a",
             "target_container": "svm_b", "volumes": ["v1", "v2", "v3"]}
VSP_SET = {"name": "pay", "vendor": "vsp", "source": "vsp", "target": "vsp",
           "volumes": [{"name": "256", "target_name": 512}, {"name": "257", "target_name": 513}]}


def ontap_entry(*facts):
    items = [{"source_path": f"svm_a:v{n}", "destination_path": f"svm_b:v{n}", "order": 0, "set": "fin",
              "facts": f} for n, f in enumerate(facts, 1)]
    return {"set": ONTAP_SET, "items": items}


def vsp_entry(*facts):
    items = [{"copy_group": "pay", "pair_name": f"p{256 + n}", "pvol": 256 + n, "svol": 512 + n, "order": 0,
              "set": "pay", "facts": f} for n, f in enumerate(facts)]
    return {"set": VSP_SET, "items": items}


@pytest.mark.parametrize("facts, caught_up", [
    ([{"state": "snapmirrored"}, {"state": "snapmirrored"}, {"state": "snapmirrored"}], []),
    # a rerun after a run stopped mid-way: what it broke after its final transfer stays broken
    ([{"state": "broken_off", "source_written_bytes": 0}, {"state": "snapmirrored"}, {"state": "paused"}],
     ["svm_b:v3"]),
    # broken by hand, then the source was written: the failover must transfer those writes first
    ([{"state": "broken_off", "source_written_bytes": 65536}, {"state": "broken_off", "source_written_bytes": 0},
      {"state": "broken_off", "source_written_bytes": None}], ["svm_b:v1"]),
    ([{"state": "uninitialized"}, None, {"state": "snapmirrored"}], ["svm_b:v1"]),
])
def test_ontap_catches_up_what_is_not_mirrored_and_what_was_broken_before_the_source_was_written(facts, caught_up):
    assert [i["destination_path"] for i in catch_up_items(ontap_entry(*facts))] == caught_up


@pytest.mark.parametrize("facts, caught_up", [
    ([{"state": "split", "progress": 100}, {"state": "paired", "progress": 100}], []),
    ([{"state": "split", "progress": 100}, {"state": "split", "progress": 100}], []),
    # split by hand and written, or the initial copy cancelled: ShadowImage cannot tell it from DR writes
    ([{"state": "split", "progress": 97}, {"state": "split", "progress": 0}], ["p256", "p257"]),
    ([{"state": "suspended_error", "progress": 0}, {"state": "copying", "progress": 40}], ["p256", "p257"]),
])
def test_vsp_catches_up_every_pair_that_is_not_paired_unless_split_with_identical_volumes(facts, caught_up):
    out = catch_up_items(vsp_entry(*facts))
    assert [i["pair_name"] for i in out] == caught_up
    assert all("svol" not in i for i in out)


def vsp_result(progress, changed):
    pair = {"copy_group": "pay", "pair_name": "p256", "state": "split", "healthy": True, "progress": progress,
            "lag_seconds": None, "recovery_point": None}
    return {"pairs": [{"item": "pay/p256", "copy_group": "pay", "pair_name": "p256", "changed": changed,
                       "actions": ["split"] if changed else [], "pair": pair}]}


@pytest.mark.parametrize("changed", [True, False])
def test_a_split_pair_with_identical_volumes_reports_now_as_its_recovery_point(changed):
    row = report_rows(vsp_result(100, changed), VSP_SET, "vsp", "failover")[0]
    assert not row["failed"] and row["lag_seconds"] == 0 and row["recovery_point"]


@pytest.mark.parametrize("progress", [0, 62])
def test_a_pair_split_before_the_failover_with_differing_volumes_is_a_failed_row(progress):
    row = report_rows(vsp_result(progress, False), VSP_SET, "vsp", "failover")[0]
    assert row["failed"] and row["recovery_point"] is None
    assert f"({progress}% identical)" in row["msg"] and "pair_state: paired" in row["msg"]
    status = report_rows(vsp_result(progress, False), VSP_SET, "vsp", "status")[0]
    assert not status["failed"]
