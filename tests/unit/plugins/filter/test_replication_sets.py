"""The pure helpers behind the roles' filters: sets in, module items, waves, phases and reports out."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.plugin_utils._ontap_sets import (
    failback_needs, failback_phase, failback_remaining, failback_step_items, stale_reverses)
from ansible_collections.storage.replication.plugins.plugin_utils._set_base import (
    SetError, fence_waves, module_items, volume_entries)
from ansible_collections.storage.replication.plugins.plugin_utils._sets import (
    array_connection, array_names, candidates, choose_target, connections, failback_items, failback_rows,
    failover_waves, items, lab_volume_pairs, missing_rows, report_lines, report_rows,
    report_summary, rpo_violations, status_rows)
from ansible_collections.storage.replication.plugins.plugin_utils._vendors import VENDORS

ONTAP = VENDORS["ontap"].sets

HOSTVARS = {"dr": {"replication_endpoint": "https://dr:443", "replication_username": "u",
                   "replication_password": "p", "replication_ca_path": "/ca.pem", "other": 1}}
SET = {"name": "s", "vendor": "ontap", "source": "prod", "target": "dr", "source_container": "svm_a",
       "target_container": "svm_b", "volumes": ["v1", "v2", "v3"], "target_name_suffix": "_dr", "fence_order": ["v2"]}


def rel(src, dst, state="snapmirrored", lag=10, **kw):
    svm, vol = src.split(":")
    base = {"source_path": src, "destination_path": dst, "state": state, "lag_seconds": lag, "healthy": True,
            "source_svm": svm, "source_volume": vol, "destination_svm": dst.split(":")[0],
            "destination_volume": dst.split(":")[1], "uuid": dst}
    base.update(kw)
    return base


def test_arrays_resolve_from_inventory_or_dicts():
    assert array_connection("dr", HOSTVARS) == {"hostname": "https://dr:443", "username": "u", "password": "p",
                                                "ca_path": "/ca.pem"}
    assert array_connection({"hostname": "h", "username": "u"}) == {"hostname": "h", "username": "u"}
    for bad in ("nowhere", {"username": "u"}, 5):
        with pytest.raises(SetError):
            array_connection(bad, HOSTVARS)


def test_volume_entries_follow_fence_order_names_and_excludes():
    entries = volume_entries(dict(SET, volumes="all", exclude=["*_root"]), ["v3", "svm_root", "v1", "v2"])
    assert [(e["name"], e["target_name"], e["order"]) for e in entries] == \
        [("v2", "v2_dr", 0), ("v1", "v1_dr", 1), ("v3", "v3_dr", 1)]
    with pytest.raises(SetError, match="fence_order"):
        volume_entries(dict(SET, fence_order=["nope"]))
    with pytest.raises(SetError, match="listed twice"):
        volume_entries(dict(SET, volumes=["v1", "v1"], fence_order=[]))


def test_waves_fence_in_order_and_unfence_in_reverse():
    ontap_items = items(SET)
    assert [[i["volume"] for i in w] for w in fence_waves(ontap_items)] == [["v2"], ["v1", "v3"]]
    assert [[i["volume"] for i in w] for w in fence_waves(ontap_items, reverse=True)] == [["v1", "v3"], ["v2"]]
    assert module_items(ontap_items)[0] == {"source_path": "svm_a:v2", "destination_path": "svm_b:v2_dr"}


def test_failover_items_come_from_the_dr_side():
    rels = [rel("svm_a:v1", "svm_b:v1_dr"), rel("svm_a:v2", "svm_b:v2_dr", lag=99), rel("other:x", "svm_b:x")]
    explicit = ONTAP.set_facts(SET, rels)
    assert [i["destination_path"] for i in explicit] == ["svm_b:v2_dr", "svm_b:v1_dr", "svm_b:v3_dr"]
    assert explicit[2]["facts"] is None and explicit[0]["junction_path"] == "/v2_dr"
    discovered = ONTAP.set_facts(dict(SET, volumes="all", target_name_suffix=""), rels)
    assert [i["destination_path"] for i in discovered] == ["svm_b:v2_dr", "svm_b:v1_dr"]


def test_the_target_with_the_smallest_worst_lag_wins_and_unreadable_ones_are_skipped():
    fast = {"target": "b", "items": [{"facts": {"lag_seconds": 5}}, {"facts": {"lag_seconds": 50}}]}
    slow = {"target": "c", "items": [{"facts": {"lag_seconds": 1}}, {"facts": {"lag_seconds": 500}}]}
    down = {"target": "d", "items": [], "error": "unreachable"}
    chosen = choose_target([slow, down, fast])
    assert chosen["target"] == "b" and chosen["worst_lag_seconds"] == 50
    assert [c["worst_lag_seconds"] for c in chosen["considered"]] == [500, None, 50]
    with pytest.raises(SetError, match="no target"):
        choose_target([down])


def test_rpo_gate_names_lagging_and_missing_items_but_not_fenced_ones():
    items = [{"set": "s", "destination_path": "a", "facts": {"state": "snapmirrored", "lag_seconds": 10}},
             {"set": "s", "destination_path": "b", "facts": {"state": "snapmirrored", "lag_seconds": 7200}},
             {"set": "s", "destination_path": "c", "facts": {"state": "broken_off", "lag_seconds": 9000}},
             {"set": "s", "destination_path": "d", "facts": None}]
    assert rpo_violations(items, 3600) == ["s/b: lag 7200s exceeds max_lag 3600s", "s/d: no replica on the target"]
    assert rpo_violations([{"set": "v", "item": "cg/p1", "facts": {"state": "paired", "lag_seconds": None}}], 60) == \
        ["v/cg/p1: no data transferred yet"]


@pytest.mark.parametrize("forward, reverse, phase", [
    (rel("a:v", "b:v", "broken_off"), None, "failed_over"),
    (None, rel("b:v", "a:v", "uninitialized"), "reversing"),
    (None, rel("b:v", "a:v", "snapmirrored"), "reversed"),
    (None, rel("b:v", "a:v", "broken_off"), "cut_over"),
    (rel("a:v", "b:v", "snapmirrored"), None, "home"),
    (None, None, "missing"),
])
def test_failback_phase_is_read_from_both_sides(forward, reverse, phase):
    assert failback_phase(forward, reverse) == phase


def test_each_failback_step_takes_exactly_the_items_in_its_entry_phase():
    assert failback_needs("failed_over", "reverse") and not failback_needs("reversed", "reverse")
    assert failback_needs("reversing", "cutover") and failback_needs("reversed", "cutover")
    assert not failback_needs("failed_over", "cutover") and not failback_needs("home", "reestablish")
    assert failback_remaining("reversed") == ["cutover", "reestablish"] and failback_remaining("home") == []


def test_failback_items_and_their_steps():
    forward = [rel("svm_a:v1", "svm_b:v1_dr", "broken_off"), rel("svm_a:v3", "svm_b:v3_dr", "snapmirrored")]
    reverse = [rel("svm_b:v2_dr", "svm_a:v2", "snapmirrored")]
    items = failback_items(SET, forward, reverse)
    assert {i["source_path"]: i["phase"] for i in items} == {"svm_a:v1": "failed_over", "svm_a:v2": "reversed",
                                                             "svm_a:v3": "home"}
    assert module_items(failback_step_items(items, "reverse")) == [
        {"source_path": "svm_b:v1_dr", "destination_path": "svm_a:v1"}]
    assert module_items(failback_step_items(items, "cutover")) == [
        {"source_path": "svm_b:v2_dr", "destination_path": "svm_a:v2", "junction_path": "/v2"}]
    assert stale_reverses(items, forward, reverse) == []
    assert stale_reverses(items, forward + [rel("svm_a:v2", "svm_b:v2_dr")], reverse) == [
        {"destination_path": "svm_a:v2", "source_path": "svm_b:v2_dr"}]


def test_report_rows_and_summary_are_vendor_neutral():
    result = {"relationships": [
        {"destination_path": "svm_b:v1_dr", "changed": True, "actions": ["create"],
         "relationship": {"state": "snapmirrored", "healthy": True, "lag_seconds": 3}},
        {"destination_path": "svm_b:v2_dr", "failed": True, "msg": "boom"}]}
    rows = report_rows(result, SET, "dr", "protect")
    expected = [("svm_b:v1_dr", "snapmirrored", False), ("svm_b:v2_dr", None, True)]
    assert [(r["item"], r["state"], r["failed"]) for r in rows] == expected
    summary = report_summary(rows)
    assert summary["failed"] == 1 and summary["worst_lag_seconds"] == 3 and summary["targets"] == ["dr"]
    assert summary["failed_items"] == ["s/svm_b:v2_dr: boom"]
    whole = report_rows({"failed": True, "msg": "cannot reach"}, SET, "dr")
    assert whole[0]["failed"] and whole[0]["msg"].endswith(": cannot reach")


def test_a_module_that_failed_as_a_whole_fails_a_row_for_every_item_it_was_given():
    # issue 14: with the DR cluster down, setup.yml reported "1 items on ontap-b: 0 changed, 0 failed"
    given = [{"source_path": "svm_a:v1", "destination_path": "svm_b:v1_dr"},
             {"source_path": "svm_a:v3", "destination_path": "svm_b:v3_dr"}]
    looped = {"failed": True, "msg": "ONTAP cluster dr unreachable", "ansible_loop_var": "wave", "wave": given}
    invoked = {"failed": True, "msg": "ONTAP cluster dr unreachable",
               "invocation": {"module_args": {"relationships": given}}}
    for result in (looped, invoked):
        rows = report_rows(result, SET, "dr", "failover")
        assert [(r["item"], r["failed"]) for r in rows] == [("svm_b:v1_dr", True), ("svm_b:v3_dr", True)]
        assert all("unreachable" in r["msg"] for r in rows)
    assert report_summary(report_rows(looped, SET, "dr", "failover"))["failed"] == 2
    skipped = report_rows({"skipped": True, "changed": False}, SET, "dr", "failover")
    assert [(r["failed"], r["skipped"]) for r in skipped] == [(False, True)]


def test_a_failover_row_whose_item_did_not_reach_the_cutover_state_failed():
    # issue 14: a failover whose break did not happen ended "0 changed, 0 failed"
    result = {"relationships": [
        {"destination_path": "svm_b:v1_dr", "changed": True, "relationship": {"state": "broken_off"}},
        {"destination_path": "svm_b:v2_dr", "changed": False, "relationship": {"state": "snapmirrored"}}]}
    rows = report_rows(result, SET, "dr", "failover")
    assert [(r["item"], r["failed"]) for r in rows] == [("svm_b:v1_dr", False), ("svm_b:v2_dr", True)]
    assert "reports snapmirrored, not broken_off" in rows[1]["msg"]


def test_status_rows_flag_items_over_the_rpo_and_unprotected_ones():
    result = {"relationships": [rel("svm_a:v1", "svm_b:v1_dr", lag=10), rel("svm_a:v2", "svm_b:v2_dr", lag=9999)]}
    rows = status_rows(result, SET, "dr", 3600)
    assert [(r["item"], r["over_rpo"]) for r in rows] == [("svm_b:v2_dr", True), ("svm_b:v1_dr", False),
                                                          ("svm_b:v3_dr", True)]
    assert rows[2]["state"] == "missing"


def test_lab_volume_pairs_name_both_sides_as_the_lab_does():
    assert lab_volume_pairs(SET)[0] == {"set": "s", "vendor": "ontap", "item": "svm_b:v2_dr", "source_array": "prod",
                                        "source_key": "svm_a:v2", "target_array": "dr", "target_key": "svm_b:v2_dr"}
    vsp = {"name": "si", "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
           "volumes": [{"name": 256, "target_name": 512}]}
    assert lab_volume_pairs(vsp)[0] == {"set": "si", "vendor": "vsp", "item": "si/p256", "source_array": "vsp-a",
                                        "source_key": "256", "target_array": "vsp-a", "target_key": "512"}


def test_credentials_missing_from_the_inventory_come_from_the_vendor_environment(monkeypatch):
    hostvars = {"a": {"replication_endpoint": "https://a", "replication_vendor": "ontap"}}
    monkeypatch.setenv("ONTAP_USERNAME", "awx")
    monkeypatch.setenv("ONTAP_PASSWORD", "from-credential")
    monkeypatch.setenv("ONTAP_VALIDATE_CERTS", "false")
    assert array_connection("a", hostvars) == {"hostname": "https://a", "username": "awx",
                                               "password": "from-credential", "validate_certs": False}
    hostvars["a"]["replication_password"] = "inventory"
    assert array_connection("a", hostvars)["password"] == "inventory"


def test_smis_items_match_synchronizations_by_name_or_device_id():
    rset = {"name": "o", "vendor": "smis", "source": "smis-b", "target": "smis-b",
            "volumes": [{"name": "201", "target_name": "251"}, "vol2"], "target_name_suffix": "_m"}
    assert [(i["source"], i["target"], i["item"]) for i in items(rset)] == [("201", "251", "201 -> 251"),
                                                                            ("vol2", "vol2_m", "vol2 -> vol2_m")]
    syncs = [{"source": "vol1", "source_device_id": "201", "target": "mirror1", "target_device_id": "251",
              "state": "failed_over"},
             {"source": "vol2", "source_device_id": "202", "target": "vol2_m", "target_device_id": "270",
              "state": "synchronized"}]
    assert [i["phase"] for i in failback_items(rset, syncs)] == ["failed_over", "home"]
    with pytest.raises(SetError, match="its own target"):
        items(dict(rset, volumes=["x"], target_name_suffix=""))


def test_report_lines_say_what_happened_to_each_item():
    rows = [{"set": "s", "item": "svm_b:v1", "target": "dr", "step": "failover", "state": "broken_off", "healthy": True,
             "lag_seconds": 12, "recovery_point": "2026-01-01T00:00:00+00:00", "actions": ["quiesce", "break"], "msg": ""},
            {"set": "s", "item": "svm_b:v2", "target": "dr", "failed": True, "msg": "array said no"}]
    assert report_lines(rows) == [
        "s svm_b:v1 on dr [failover]: broken_off, healthy=True, lag=12s, recovery point 2026-01-01T00:00:00+00:00, "
        "actions quiesce,break",
        "s svm_b:v2 on dr: FAILED: array said no"]


VSP_SET = {"name": "pay", "vendor": "vsp", "source": "vsp", "target": "vsp", "target_container": 0,
           "volumes": [256, 257, 258]}


def pair(name, state="paired", group="pay", progress=100):
    return {"copy_group": group, "pair_name": name, "state": state, "healthy": True, "progress": progress}


@pytest.mark.parametrize("rset, pairs, expected", [
    (VSP_SET, [pair("p256"), pair("p257"), pair("p258")], True),
    (VSP_SET, [pair("p256"), pair("p257"), pair("p258"), pair("p259")], False),  # the group has a pair more
    (VSP_SET, [pair("p256"), pair("p257")], False),  # a pair missing
    (VSP_SET, [pair("p256"), pair("p257", "split"), pair("p258")], False),  # a rerun after a partial split
    (VSP_SET, [pair("p256"), pair("p257", "copying"), pair("p258")], False),
    (dict(VSP_SET, fence_order=["257"]), [pair("p256"), pair("p257"), pair("p258")], False),  # two waves
])
def test_a_vsp_failover_splits_the_copy_group_at_once_only_when_the_set_is_the_whole_paired_group(
        rset, pairs, expected):
    candidate = candidates([{"t": "vsp", "pairs": pairs}], rset, "t")[0]
    assert candidate["error"] is None and candidate["group_split"] is expected


def test_a_copy_group_result_reports_one_row_per_pair():
    pairs = [pair("p256", "split"), pair("p257", "split")]
    result = {"changed": True, "pairs": [{"item": "pay", "copy_group": "pay", "pair_name": None, "changed": True,
                                          "actions": ["split", "wait_split"], "pair": None,
                                          "group": {"copy_group": "pay", "pairs": pairs}}]}
    rows = report_rows(result, VSP_SET, "vsp", "failover")
    assert [(r["item"], r["state"], r["changed"], r["lag_seconds"]) for r in rows] == \
        [("pay/p256", "split", True, 0), ("pay/p257", "split", True, 0)]
    assert all("same point in time" in r["msg"] for r in rows)
    assert len({r["recovery_point"] for r in rows}) == 1


def test_connections_resolve_every_array_once_with_only_its_vendors_options(monkeypatch):
    hostvars = {"prod": {"replication_endpoint": "https://prod", "replication_storage_device_id": "886"},
                "dr": dict(HOSTVARS["dr"], replication_namespace="root/x")}
    source = {"name": "arr", "hostname": "h", "namespace": "root/tpd", "password": "p"}
    smis = {"name": "m", "vendor": "smis", "source": source, "target": {"hostname": "h2"}}
    monkeypatch.setenv("SMIS_USERNAME", "from-env")
    conns = connections([SET, smis], hostvars)
    assert list(conns) == ["prod", "dr", "arr", "h2"]
    assert conns["prod"] == {"hostname": "https://prod"}, "an ONTAP host gets no storage_device_id"
    assert conns["dr"] == {"hostname": "https://dr:443", "username": "u", "password": "p", "ca_path": "/ca.pem"}
    assert conns["arr"] == {"hostname": "h", "namespace": "root/tpd", "password": "p"}, "no name key"
    assert list(connections([SET], hostvars, "targets")) == ["dr"]
    assert connections([SET], hostvars, "sources") == {"prod": {"hostname": "https://prod"}}
    assert connections([dict(smis, source="dr", target="dr")], hostvars)["dr"] == {
        "hostname": "https://dr:443", "username": "u", "password": "p", "ca_path": "/ca.pem", "namespace": "root/x"}
    env_only = {"e": {"replication_endpoint": "https://e"}}
    assert connections([dict(smis, source="e", target="e")], env_only)["e"]["username"] == "from-env", \
        "a host without replication_vendor reads the environment of its set's vendor"
    with pytest.raises(SetError, match="set 's': array 'nowhere' is not an inventory host"):
        connections([dict(SET, target="nowhere")], hostvars)
    with pytest.raises(SetError, match="given twice with different connection options"):
        connections([dict(smis, target={"name": "arr", "hostname": "other"})], hostvars)
    with pytest.raises(SetError, match="unknown vendor 'x'"):
        connections([dict(SET, vendor="x")], hostvars)
    assert array_names(["dr", {"hostname": "h"}, {"name": "n", "hostname": "h"}]) == ["dr", "h", "n"]
    assert array_names({"hostname": "h"}) == "h"


def test_failover_waves_fence_items_with_a_replica_and_vsp_splits_whole_groups_at_once():
    rels = [rel("svm_a:v1", "svm_b:v1_dr"), rel("svm_a:v2", "svm_b:v2_dr")]
    entry = {"set": SET, "items": ONTAP.set_facts(SET, rels)}
    assert failover_waves(entry) == [[{"source_path": "svm_a:v2", "destination_path": "svm_b:v2_dr",
                                       "junction_path": "/v2_dr"}],
                                     [{"source_path": "svm_a:v1", "destination_path": "svm_b:v1_dr",
                                       "junction_path": "/v1_dr"}]]
    vsp = candidates([{"t": "vsp", "pairs": [pair("p256"), pair("p257"), pair("p258")]}], VSP_SET, "t")[0]
    assert failover_waves(dict(vsp, set=VSP_SET)) == [[{"copy_group": "pay"}]]
    split = candidates([{"t": "vsp", "pairs": [pair("p256"), pair("p257", "split")]}], VSP_SET, "t")[0]
    assert failover_waves(dict(split, set=VSP_SET)) == [[
        {"copy_group": "pay", "pair_name": "p256", "pvol": 256}, {"copy_group": "pay", "pair_name": "p257", "pvol": 257}]]


def test_missing_and_final_rows_say_what_each_vendor_lacks_or_did():
    rels = [rel("svm_a:v1", "svm_b:v1_dr")]
    rows = missing_rows(ONTAP.set_facts(SET, rels), SET, {"name": "dr", "hostname": "h", "password": "x"})
    assert [(r["item"], r["target"], r["failed"], r["msg"]) for r in rows] == [
        ("svm_b:v2_dr", "dr", True, "no SnapMirror relationship for this volume on dr"),
        ("svm_b:v3_dr", "dr", True, "no SnapMirror relationship for this volume on dr")]
    vsp_items = candidates([{"t": "vsp", "pairs": [pair("p256")]}], VSP_SET, "t")[0]["items"]
    assert [r["msg"] for r in missing_rows(vsp_items, VSP_SET, "vsp")] == [
        "no ShadowImage pair for this P-VOL in copy group pay"] * 2
    forward = [rel("svm_a:v1", "svm_b:v1_dr", "broken_off"), rel("svm_a:v3", "svm_b:v3_dr")]
    final = failback_rows(failback_items(SET, forward, []), SET, "dr")
    assert [(r["item"], r["state"], r["msg"][:25], r["step"], r["failed"]) for r in final] == [
        ("svm_b:v2_dr", "missing", "not home yet: missing (th", "final", True),
        ("svm_b:v1_dr", "failed_over", "not home yet: failed_over", "final", True),
        ("svm_b:v3_dr", "home", "", "final", False)]
    vsp_final = failback_rows(failback_items(VSP_SET, [pair("p256"), pair("p257", "split")]), VSP_SET, "vsp")
    expected = [("home", False), ("failed_over", True), ("missing", True)]
    assert [(r["state"], r["failed"]) for r in vsp_final] == expected
    assert vsp_final[0]["msg"].startswith("local pair: the restore")


def test_in_check_mode_an_item_short_of_its_target_is_not_a_failed_row():
    # the arrays keep their states in check mode: a planned step is not a failure
    result = {"relationships": [{"destination_path": "svm_b:v1_dr", "changed": True,
                                 "relationship": {"state": "snapmirrored"}}]}
    assert not report_rows(result, SET, "dr", "failover", None, True)[0]["failed"]
    forward = [rel("svm_a:v1", "svm_b:v1_dr", "broken_off")]
    rows = failback_rows(failback_items(SET, forward, []), SET, "dr", True)
    assert not any(r["failed"] for r in rows) and rows[1]["msg"] == "check mode: failed_over now"
