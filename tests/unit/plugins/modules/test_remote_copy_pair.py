"""storage.replication.remote_copy_pair and remote_copy_pair_info against the lab's two VSP arrays, over HTTPS.

vsp-a (primary) and vsp-b (secondary) are registered with each other, with path group 0,
journal 0 on both and quorum disk 0. P-VOLs on vsp-a 256-271 hold data; vsp-b 256-271 are
empty S-VOLs of the same size. Every change runs in check mode first (no mutation logged),
then for real, then again (unchanged). Digests come from the lab.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.storage.replication.plugins.module_utils._common import ReplicationError
from ansible_collections.storage.replication.plugins.module_utils._engine import guard
from ansible_collections.storage.replication.plugins.module_utils._remote_plan import Observed, check_group, plan

SID_A, SID_B = "886000410061", "886000410062"
LDEVS = {"id_base": 256, "count": 16, "size": "8MiB", "pool": 0}
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "64MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "serial": 410061, "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": [dict(LDEVS, data_blocks=4), {"id": 1000, "size": "8MiB", "pool": 0}],
            "settings": {"job_seconds": 0.02},
            "remote": {"storages": ["vsp-b"], "path_groups": [{"remote": "vsp-b", "id": 0}],
                       "journals": [{"id": 0, "ldevs": [1000]}], "quorum_disks": [{"id": 0, "remote": "vsp-b"}]},
        },
        "vsp-b": {
            "vendor": "vsp", "serial": 410062, "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": [LDEVS, {"id": 1000, "size": "8MiB", "pool": 0}], "settings": {"job_seconds": 0.02},
            "remote": {"storages": ["vsp-a"], "path_groups": [{"remote": "vsp-a", "id": 0}],
                       "journals": [{"id": 0, "ldevs": [1000]}], "quorum_disks": [{"id": 0, "remote": "vsp-a"}]},
        },
    },
    "links": [{"between": ["vsp-a", "vsp-b"], "bandwidth": "64MiB", "per_transfer_rate": "32MiB"}],
}
EXTRA = {"TC": {"fence_level": "NEVER"}, "UR": {"pvol_journal_id": 0, "svol_journal_id": 0},
         "GAD": {"quorum_disk_id": 0}}


@pytest.fixture(name="conn")
def conn_fixture(lab):
    def make(**kwargs):
        remote = dict(lab.connection("vsp-b"), storage_device_id=SID_B)
        args = dict(lab.connection("vsp-a"), remote_array=remote, poll_interval=0.05, wait_timeout=60)
        args.update(kwargs)
        return args
    return make


def info_args(lab, **kwargs):
    return dict(lab.connection("vsp-a"), remote_array=dict(lab.connection("vsp-b"), storage_device_id=SID_B), **kwargs)


def same(lab, ldev):
    return lab.digest("vsp-a", str(ldev)) == lab.digest("vsp-b", str(ldev))


def step(lab, run_module, args, expect_actions=None, module="remote_copy_pair"):
    """Check mode (no mutation logged), apply (changed, the same steps), apply again (unchanged)."""
    mark = lab.mark()
    check = run_module(module, args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True
    assert lab.mutations_since(mark) == []
    applied = run_module(module, args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True

    def steps(result):
        return result["actions"] if "pairs" not in result else [r["actions"] for r in result["pairs"]]

    assert steps(check) == steps(applied)
    if expect_actions is not None:
        assert applied["actions"] == expect_actions
    if applied.get("pair"):
        assert check["pair"]["state"] == applied["pair"]["state"]
    again = run_module(module, args)
    assert not again["failed"], again
    assert again["changed"] is False and not any(steps(again))
    applied["check_mode_result"] = check
    return applied


@pytest.mark.parametrize("kind,ldev", [("TC", 256), ("UR", 257), ("GAD", 258)])
def test_lifecycle_per_replication_type(lab, run_module, conn, kind, ldev):
    base = conn(replication_type=kind, copy_group=f"life_{kind}", pair_name="p1", pvol=ldev, svol=ldev,
                **EXTRA[kind])
    created = step(lab, run_module, base, ["create", "wait_paired"])
    pair = created["pair"]
    assert (pair["state"], pair["direction"], pair["pvol_status"], pair["svol_status"]) == \
        ("paired", "forward", "PAIR", "PAIR")
    assert pair["replication_type"] == kind and pair["in_sync"] and pair["state_on_secondary"] == "paired"
    assert created["diff"]["before"] == {f"life_{kind}/p1": {}}
    after = created["diff"]["after"][f"life_{kind}/p1"]
    assert after == created["check_mode_result"]["diff"]["after"][f"life_{kind}/p1"]  # --diff in check mode = real
    assert (after["state"], after["direction"], after["pvol"], after["svol"]) == ("paired", "forward", ldev, ldev)
    assert same(lab, ldev)
    if kind == "UR":
        assert pair["journal"]["journal_id"] == 0 and pair["journal"]["q_count"] == 0
        assert pair["lag_seconds"] == 0 and pair["recovery_point"]
    if kind == "GAD":
        assert (pair["pvol_io_mode"], pair["svol_io_mode"]) == ("Mirror", "Mirror")

    split = step(lab, run_module, dict(base, pair_state="split"), ["split", "wait_split"])
    assert (split["pair"]["pvol_status"], split["pair"]["svol_status"]) == ("PSUS", "SSUS")
    lab.write("vsp-a", str(ldev), blocks=2, offset=20)  # P-VOL writes while split: the resync copies them
    resynced = step(lab, run_module, dict(base, allow_data_loss=True), ["resync", "wait_paired"])
    assert resynced["pair"]["state"] == "paired" and same(lab, ldev)

    swapped = step(lab, run_module, dict(base, pair_state="swapped"),
                   ["swap_split", "wait_swap_split", "swap_resync", "wait_swapped"])
    pair = swapped["pair"]
    assert swapped["diff"]["before"][f"life_{kind}/p1"]["direction"] == "forward"
    assert swapped["diff"]["after"] == swapped["check_mode_result"]["diff"]["after"]
    assert (pair["state"], pair["direction"], pair["pvol"], pair["svol"]) == ("swapped", "reversed", ldev, ldev)
    assert (pair["primary_status"], pair["secondary_status"]) == ("PAIR", "PAIR")
    lab.write("vsp-b", str(ldev), blocks=1, offset=40)  # production on vsp-b now, mirrored to vsp-a
    lab.wait_for(lambda: same(lab, ldev), timeout=15)

    back = step(lab, run_module, base, ["swap_split", "wait_swap_split", "swap_resync", "wait_paired"])
    assert (back["pair"]["state"], back["pair"]["direction"]) == ("paired", "forward")
    assert same(lab, ldev)

    gone = step(lab, run_module, dict(base, state="absent"), ["delete", "wait_deleted"])
    assert gone["pair"] is None
    info = run_module("remote_copy_pair_info", info_args(lab, copy_group=f"life_{kind}"))
    assert not info["failed"] and info["pairs"] == []


def test_takeover_with_the_primary_down_then_failback_keeps_the_dr_writes(lab, run_module, conn):
    base = conn(replication_type="TC", copy_group="tko", pair_name="p1", pvol=260, svol=260)
    step(lab, run_module, base, ["create", "wait_paired"])
    lab.down("vsp-a")
    try:
        refused = run_module("remote_copy_pair", dict(base, pair_state="split"))
        assert refused["failed"] and "takeover" in refused["msg"]
        taken = step(lab, run_module, dict(base, takeover=True), ["takeover", "wait_taken_over"])
        assert taken["pair"]["state"] == "svol_writable" and taken["pair"]["svol_status"] == "SSWS"
        takeovers = [e for e in lab.log("vsp-b", mutating=True) if e["path"].endswith("/takeover/invoke")]
        assert takeovers and all("NotSpecified" in e["path"] for e in takeovers)
        lab.write("vsp-b", "260", blocks=2, offset=50)  # production runs on vsp-b
    finally:
        lab.up("vsp-a")
    # back home: a swap resync keeps vsp-b's writes; the array cannot say vsp-a was not written meanwhile
    args = dict(base, pair_state="swapped")
    mark = lab.mark()
    refused = run_module("remote_copy_pair", args)
    assert refused["failed"] and "swap resync" in refused["msg"] and "bytes" in refused["msg"]
    assert refused["discarded_bytes"] == "unknown" and refused["differing_bytes_at_most"] > 0
    assert lab.mutations_since(mark) == []
    swapped = step(lab, run_module, dict(args, allow_data_loss=True), ["swap_resync", "wait_swapped"])
    assert swapped["pair"]["direction"] == "reversed" and same(lab, 260)
    home = step(lab, run_module, base, ["swap_split", "wait_swap_split", "swap_resync", "wait_paired"])
    assert home["pair"]["state"] == "paired" and same(lab, 260)


def test_a_resync_that_would_overwrite_differing_blocks_is_refused_naming_bytes(lab, run_module, conn):
    base = conn(replication_type="TC", copy_group="guard", pair_name="p1", pvol=261, svol=261)
    step(lab, run_module, dict(base, pair_state="split"), ["create", "wait_paired", "split", "wait_split"])
    lab.write("vsp-a", "261", blocks=3, offset=10)
    mark = lab.mark()
    for check_mode in (True, False):
        refused = run_module("remote_copy_pair", base, check_mode=check_mode)
        assert refused["failed"], refused
        assert "resync of guard/p1 would discard an unknown amount of data (up to" in refused["msg"]
        assert "the secondary array's volume (LDEV 261)" in refused["msg"]
        assert refused["differing_bytes_at_most"] > 0 and refused["pair"]["state"] == "split"
    assert lab.mutations_since(mark) == []
    step(lab, run_module, dict(base, allow_data_loss=True), ["resync", "wait_paired"])
    assert same(lab, 261)


def test_identity_mismatch_is_an_error_never_a_change(lab, run_module, conn):
    base = conn(replication_type="TC", copy_group="ident", pair_name="p1", pvol=262, svol=262)
    step(lab, run_module, base, ["create", "wait_paired"])
    mark = lab.mark()
    for wrong in ({"svol": 263}, {"replication_type": "UR"}, {"fence_level": "DATA"}):
        result = run_module("remote_copy_pair", dict(base, **wrong))
        assert result["failed"] and "cannot change on an existing pair" in result["msg"], result
    result = run_module("remote_copy_pair", dict(base, svol=263, state="absent"))
    assert result["failed"] and "is not deleted" in result["msg"]
    result = run_module("remote_copy_pair", dict(base, pair_name=None, pvol=262, svol=263))
    assert result["failed"] and "S-VOL 262 (not 263)" in result["msg"]
    other_type = dict(base, replication_type="GAD", pair_name="p2", pvol=263, svol=263, quorum_disk_id=0)
    result = run_module("remote_copy_pair", other_type)
    assert result["failed"] and "copy group ident holds TC pairs" in result["msg"], result
    assert lab.mutations_since(mark) == []
    step(lab, run_module, dict(base, state="absent"), ["delete", "wait_deleted"])


@pytest.mark.parametrize("bad,says", [
    ({"pvol_journal_id": 0}, "pvol_journal_id is for Universal Replicator"),
    ({"quorum_disk_id": 0}, "quorum_disk_id is for global-active device"),
    ({"fence_level": "ASYNC"}, "fence_level ASYNC is not one of TC"),
    ({"copy_group": "bad name"}, "contains a character"),
    ({"replication_type": None}, "replication_type (TC, UR or GAD) is required"),
    ({"takeover": True, "pair_state": "split"}, "leave pair_state out"),
    ({"copy_pace": 16}, "copy_pace 16 is out of range"),
])
def test_bad_input_fails_before_any_request(lab, run_module, conn, bad, says):
    args = conn(replication_type="TC", copy_group="bad", pair_name="p1", pvol=263, svol=263)
    args.update(bad)
    args = {k: v for k, v in args.items() if v is not None}
    mark = lab.mark()
    result = run_module("remote_copy_pair", args)
    assert result["failed"] and says in result["msg"], result
    assert lab.log(since=mark) == [] and result["requests_sent"] == 0


def test_remote_credentials_never_show(lab, run_module, conn):
    secret = lab.connection("vsp-b")["password"]
    args = conn(replication_type="TC", copy_group="nolog", pair_name="p1", pvol=264, svol=9999, _ansible_no_log=False)
    result = run_module("remote_copy_pair", args)
    assert result["failed"] and "not defined" in result["msg"]
    assert secret not in json.dumps(result)
    bad = conn(replication_type="TC", copy_group="nolog", pair_name="p1", pvol=264, svol=264,
               remote_array=dict(lab.connection("vsp-b"), password="wrong-secret-42"))
    result = run_module("remote_copy_pair", bad)
    assert result["failed"] and "wrong-secret-42" not in json.dumps(result)


def test_bulk_pairs_and_the_copy_group_as_a_whole_with_info(lab, run_module, conn):
    bulk = conn(replication_type="UR", copy_group="bulk", pvol_journal_id=0, svol_journal_id=0,
                pairs=[{"pvol": 265, "svol": 265}, {"pvol": 266, "svol": 266}])
    created = step(lab, run_module, bulk)
    assert [r["actions"] for r in created["pairs"]] == [["create", "wait_paired"]] * 2
    assert [r["pair"]["pair_name"] for r in created["pairs"]] == ["ldev265", "ldev266"]
    group = conn(replication_type="UR", copy_group="bulk", pair_state="split")
    split = step(lab, run_module, group, ["split", "wait_split"])
    assert split["group"]["pair_count"] == 2 and split["group"]["state"] == "split"
    info = run_module("remote_copy_pair_info", info_args(lab, replication_type="UR"))
    assert not info["failed"], info
    mine = [p for p in info["pairs"] if p["copy_group"] == "bulk"]
    assert [p["state"] for p in mine] == ["split", "split"] and info["summary"]["by_type"]["UR"] >= 2
    assert mine[0]["journal"]["journal_id"] == 0
    local = run_module("remote_copy_pair_info", dict(lab.connection("vsp-b"), copy_group="bulk"))
    assert not local["failed"] and [p["svol_status"] for p in local["pairs"]] == ["SSUS", "SSUS"]
    step(lab, run_module, conn(replication_type="UR", copy_group="bulk", state="absent"), ["delete", "wait_deleted"])


def test_universal_replicator_journal_lag_in_the_facts_and_info(lab, run_module, conn):
    base = conn(replication_type="UR", copy_group="lag", pair_name="p1", pvol=267, svol=267, pvol_journal_id=0,
                svol_journal_id=0)
    step(lab, run_module, base, ["create", "wait_paired"])
    lab.link("vsp-a", "vsp-b", bandwidth="128KiB", per_transfer_rate="128KiB")  # 2 blocks a second
    try:
        lab.write("vsp-a", "267", blocks=8, offset=10)
        again = run_module("remote_copy_pair", base)
        assert not again["failed"] and again["changed"] is False
        journal = again["pair"]["journal"]
        assert journal["q_count"] > 0 and journal["bytes"] > 0 and journal["seconds"] is None
        assert again["pair"]["lag_seconds"] is None and again["pair"]["recovery_point"] is None
        info = run_module("remote_copy_pair_info", info_args(lab, copy_group="lag"))
        assert info["summary"]["max_journal_q_count"] > 0 and info["pairs"][0]["in_sync"] is True
    finally:
        lab.link("vsp-a", "vsp-b", bandwidth="64MiB", per_transfer_rate="32MiB")
    lab.wait_for(lambda: same(lab, 267), timeout=20)
    info = run_module("remote_copy_pair_info", info_args(lab, copy_group="lag"))
    assert info["pairs"][0]["journal"]["q_count"] == 0 and info["pairs"][0]["lag_seconds"] == 0
    step(lab, run_module, dict(base, state="absent"), ["delete", "wait_deleted"])


def test_a_cut_link_suspends_the_pair_and_the_resync_keeps_the_arrays_answer(lab, run_module, conn):
    base = conn(replication_type="TC", copy_group="cut", pair_name="p1", pvol=268, svol=268)
    step(lab, run_module, base, ["create", "wait_paired"])
    lab.cut("vsp-a", "vsp-b")
    try:
        failed = run_module("remote_copy_pair", dict(base, allow_data_loss=True))
        assert failed["failed"] and failed["pair"]["state"] == "suspended_error"
        assert "KART30000-E" in failed["msg"] and "9B05" in failed["msg"], failed
        assert failed["array_error_code"] == {"SSB1": "2E10", "SSB2": "9B05"}
    finally:
        lab.restore("vsp-a", "vsp-b")
    resynced = step(lab, run_module, dict(base, allow_data_loss=True), ["resync", "wait_paired"])
    assert resynced["pair"]["healthy"] and same(lab, 268)


def test_the_secondary_down_shows_the_primarys_side_and_changes_nothing(lab, run_module, conn):
    base = conn(replication_type="TC", copy_group="sdown", pair_name="p1", pvol=269, svol=269)
    step(lab, run_module, base, ["create", "wait_paired"])
    lab.down("vsp-b")
    try:
        mark = lab.mark()
        result = run_module("remote_copy_pair", dict(base, pair_state="split"))
        assert result["failed"] and "the secondary array does not answer" in result["msg"], result
        assert result["pair"]["primary_status"] == "PSUE" and result["pair"]["secondary_status"] is None
        assert lab.mutations_since(mark) == []
    finally:
        lab.up("vsp-b")
    step(lab, run_module, dict(base, state="absent", allow_data_loss=True), ["delete", "wait_deleted"])


def test_a_copy_group_swaps_and_is_taken_over_as_a_whole(lab, run_module, conn):
    bulk = conn(replication_type="TC", copy_group="whole", pairs=[{"pvol": 270, "svol": 270}, {"pvol": 271, "svol": 271}])
    step(lab, run_module, bulk)
    group = conn(replication_type="TC", copy_group="whole")
    mark = lab.mark()
    swapped = step(lab, run_module, dict(group, pair_state="swapped"),
                   ["swap_split", "wait_swap_split", "swap_resync", "wait_swapped"])
    assert swapped["group"]["state"] == "swapped" and swapped["group"]["in_sync"]
    assert all(p["direction"] == "reversed" for p in swapped["group"]["pairs"])
    sent = [e["path"] for e in lab.mutations_since(mark)]
    assert len(sent) == 2 and all("/remote-mirror-copygroups/886000410062,whole,wholeP_,wholeS_/" in p for p in sent)
    step(lab, run_module, group, ["swap_split", "wait_swap_split", "swap_resync", "wait_paired"])
    lab.down("vsp-a")
    try:
        taken = step(lab, run_module, dict(group, takeover=True), ["takeover", "wait_taken_over"])
        assert [p["svol_status"] for p in taken["group"]["pairs"]] == ["SSWS", "SSWS"]
    finally:
        lab.up("vsp-a")
    step(lab, run_module, dict(group, state="absent"), ["delete", "wait_deleted"])


def test_takeover_with_both_arrays_up_swaps_after_the_journal_and_asks_the_secondary_its_id(lab, run_module, conn):
    remote = lab.connection("vsp-b")  # no storage_device_id: the module asks vsp-b (storages/instance)
    base = conn(replication_type="UR", copy_group="tkup", pair_name="p1", pvol=259, svol=259, remote_array=remote,
                pvol_journal_id=0, svol_journal_id=0)
    step(lab, run_module, base, ["create", "wait_paired"])
    lab.write("vsp-a", "259", blocks=2, offset=30)
    mark = lab.mark()
    taken = step(lab, run_module, dict(base, takeover=True), ["takeover", "wait_taken_over"])
    assert taken["pair"]["state"] == "swapped" and taken["pair"]["direction"] == "reversed"
    sent = lab.mutations_since(mark)
    assert [(e["array"], e["path"].rsplit("/", 4)[-4]) for e in sent] == \
        [("vsp-b", "NotSpecified,tkup,tkupS_,NotSpecified,p1")]
    assert lab.status("vsp-b")["remote_pairs"]["886000410061,tkup,tkupS_,tkupP_,p1"]["lost_blocks"] == 0
    assert same(lab, 259)
    step(lab, run_module, dict(base, state="absent"), ["delete", "wait_deleted"])


# the plan alone (pure: no lab) ---------------------------------------------------------------------------
def facts(state, direction="forward", progress=100, **extra):
    return dict({"pair_name": "p1", "pvol": 1, "svol": 2, "replication_type": "TC", "state": state,
                 "direction": direction, "progress": progress, "pvol_status": "x", "svol_status": "y"}, **extra)


ITEM = {"copy_group": "cg", "pair_name": "p1", "pvol": 1, "svol": 2, "replication_type": "TC", "state": "present"}


@pytest.mark.parametrize("state,direction,goal,expected", [
    ("paired", "forward", "paired", []),
    ("split", "forward", "paired", ["resync", "wait_paired"]),
    ("suspended_error", "forward", "split", ["resync", "wait_paired", "split", "wait_split"]),
    ("svol_writable", "forward", "swapped", ["swap_resync", "wait_swapped"]),
    ("svol_writable", "forward", "paired", ["swap_resync", "wait_swapped", "swap_split", "wait_swap_split",
                                            "swap_resync", "wait_paired"]),
    ("swapped_split", "reversed", "swapped", ["resync", "wait_swapped"]),
    ("swapped", "reversed", "split", ["swap_split", "wait_swap_split", "swap_resync", "wait_paired", "split",
                                      "wait_split"]),
    ("copying", "forward", "paired", ["wait_settled"]),
])
def test_the_plan_keeps_the_side_production_writes_to(state, direction, goal, expected):
    assert plan(dict(ITEM, pair_state=goal), Observed(facts(state, direction))) == expected


def test_the_plan_measures_what_a_swap_resync_overwrites():
    item = dict(ITEM, pair_state="swapped")
    with pytest.raises(ReplicationError, match=r"swap resync of cg/p1 would discard .*up to 1048576 bytes.*"
                                               r"the primary array's volume \(LDEV 1\)"):
        guard("cg/p1", item, plan(item, Observed(facts("svol_writable", progress=99), capacities={1: 100 * 1048576})))
    assert plan(dict(item, allow_data_loss=True), Observed(facts("svol_writable", progress=99))) == \
        ["swap_resync", "wait_swapped"]


def test_a_copy_group_of_another_remote_array_is_another_group():
    with pytest.raises(ReplicationError, match="replicates to storage system 886000000001, not to remote_array "
                                               "886000000002"):
        check_group(ITEM, {"remoteStorageDeviceId": "886000000001"}, "886000000002")
    check_group(ITEM, {"remoteStorageDeviceId": "886000000002"}, "886000000002")


def test_info_reads_one_side_with_the_other_array_down(lab, run_module, conn):
    base = conn(replication_type="TC", copy_group="odown", pair_name="p1", pvol=263, svol=263)
    step(lab, run_module, base, ["create", "wait_paired"])
    lab.down("vsp-b")
    try:
        info = run_module("remote_copy_pair_info", info_args(lab, copy_group="odown"))
        assert not info["failed"], info
        assert info["pairs"][0]["copy_group_id"] == "NotSpecified,odown,odownP_,NotSpecified"
        assert info["pairs"][0]["primary_status"] == "PSUE" and info["summary"]["unhealthy"] == 1
    finally:
        lab.up("vsp-b")
    step(lab, run_module, dict(base, state="absent"), ["delete", "wait_deleted"])
