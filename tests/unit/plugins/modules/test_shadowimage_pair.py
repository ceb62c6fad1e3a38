"""storage.replication.shadowimage_pair against the lab's Hitachi VSP, over HTTPS.

Every step runs in check mode first (the lab logs no mutation), then for real,
then again (reported unchanged). Digests and the lab's transfer log prove what moved.
"""

from __future__ import annotations

import json
import time

import pytest

from module_helpers import module_args, vsp_topology
from storage_replication_lab.client import CLAIMS, LabError

BLOCK = 64 * 1024
LAB_TOPOLOGY = vsp_topology(
    pvols=30, svols=32,
    pools=[{"id": 1, "name": "tiny", "size": "512KiB"}, {"id": 2, "name": "small", "size": "1536KiB"}],
    ldevs=[
        {"id": 600, "size": "128MiB", "pool": 0, "label": "small"},
        {"id_base": 3000, "count": 4, "size": "64MiB", "pool": 0, "data_blocks": 4, "label": "rec{n}"},
        {"id_base": 3010, "count": 4, "size": "64MiB", "pool": 0, "label": "recs{n}"},
    ])


@pytest.fixture
def conn(lab):
    return module_args(lab, "vsp-a", wait_timeout=60)


def step(lab, run_module, args, expect_actions=None, module="shadowimage_pair"):
    """Check mode (no mutation logged), apply (changed), apply again (unchanged); return the applied result."""
    mark = lab.mark()
    check = run_module(module, args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True
    assert lab.mutations_since(mark) == []
    applied = run_module(module, args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True
    assert check["actions"] == applied["actions"]
    if expect_actions is not None:
        assert applied["actions"] == expect_actions
    again = run_module(module, args)
    assert not again["failed"], again
    assert again["changed"] is False and again["actions"] == []
    return applied


def last_transfer_id(lab):
    seen = lab.transfers()
    return max([t["id"] for t in seen["active"] + seen["finished"]], default=0)


def copied(lab, since, kind, svol=None):
    """Bytes the lab's transfers of ``kind`` moved since transfer ``since`` (into or out of ``svol``)."""
    finished = lab.transfers(since)["finished"]
    return sum(t["bytes_total"] for t in finished if t["kind"] == kind and
               (svol is None or f"vsp-a:{svol}" in (t["destination"], t["source"])) and t["state"] == "success")


def test_create_in_a_new_copy_group_with_an_svol_made_in_a_pool(lab, run_module, conn):
    args = conn(copy_group="cg_a", pair_name="p1", pvol=256, svol={"pool_id": 0})
    created = step(lab, run_module, args, ["create_svol", "create", "wait_paired"])
    pair = created["pair"]
    assert pair["state"] == "paired" and pair["healthy"] and pair["progress"] == 100
    assert (pair["pvol_device_group"], pair["svol_device_group"]) == ("cg_aP_", "cg_aS_")
    assert created["svol"]["created"] is True and created["svol"]["ldev_id"] == pair["svol"]
    assert created["svol"]["block_capacity"] == 256 * 1024 * 1024 // 512
    assert created["diff"] == {"before": {"cg_a/p1": {}}, "after": {"cg_a/p1": {
        k: pair[k] for k in ("state", "pvol_status", "svol_status", "pvol", "svol", "mu_number", "consistency_group")}}}
    assert lab.digest("vsp-a", str(pair["svol"])) == lab.digest("vsp-a", "256")

    # a converged pair costs three requests: session, one pair list (refresh=true), session closed
    mark = lab.mark()
    again = run_module("shadowimage_pair", args)
    served = [(e["method"], e["path"].rsplit("/", 1)[-1], e["query"]) for e in lab.log(since=mark)]
    assert again["requests_sent"] == 3 and len(served) == 3
    assert served[0][:2] == ("POST", "sessions") and served[2][0] == "DELETE"
    assert served[1] == ("GET", "local-clone-copypairs", "localCloneCopyGroupId=cg_a,cg_aP_,cg_aS_&refresh=true")


def test_an_svol_made_by_the_run_is_deleted_again_when_its_pair_cannot_be_made(lab, run_module, conn):
    assert not run_module("shadowimage_pair", conn(copy_group="cg_r", pair_name="p1", pvol=257, svol=513,
                                                   mu_number=0))["failed"]
    args = conn(copy_group="cg_r", pair_name="p2", pvol=257, svol={"pool_id": 0, "ldev_id": 701}, mu_number=0)
    failed = run_module("shadowimage_pair", args)
    assert failed["failed"]
    assert "creating pair cg_r/p2 (257 -> 701) failed" in failed["msg"] and "MU number 0" in failed["msg"]
    assert failed["array_code"] == "KART30000-E" and failed["array_error_code"]["SSB1"]
    assert failed["actions"] == ["create_svol", "delete_svol"]
    assert failed["svol"] == {"ldev_id": 701, "pool_id": 0, "created": True, "block_capacity": 524288,
                              "deleted": True}
    with pytest.raises(LabError):
        lab.volume("vsp-a", "701")
    # with a free MU the same task converges and an svol with the given ldev_id is made once
    fixed = step(lab, run_module, dict(args, mu_number=1), ["create_svol", "create", "wait_paired"])
    assert fixed["pair"]["svol"] == 701 and fixed["pair"]["mu_number"] == 1


def test_split_then_resync_copies_only_the_changed_blocks(lab, run_module, conn):
    args = conn(copy_group="cg_b", pair_name="p1", pvol=258, svol=514)
    assert not run_module("shadowimage_pair", args)["failed"]
    lab.write("vsp-a", "258", 2)
    split = step(lab, run_module, dict(args, pair_state="split"), ["split", "wait_split"])
    assert (split["pair"]["pvol_status"], split["pair"]["svol_status"]) == ("PSUS", "SSUS")
    assert lab.digest("vsp-a", "514") == lab.digest("vsp-a", "258")
    assert lab.volume("vsp-a", "514")["host_access"] == "rw"

    lab.write("vsp-a", "258", 3, offset=100)
    since = last_transfer_id(lab)
    # the array tells that blocks differ, not that the P-VOL wrote them: the task says the S-VOL may be overwritten
    resynced = step(lab, run_module, dict(args, allow_data_loss=True), ["resync", "wait_paired"])
    assert resynced["pair"]["state"] == "paired"
    assert copied(lab, since, "si:resync", 514) == 3 * BLOCK
    assert lab.digest("vsp-a", "514") == lab.digest("vsp-a", "258")


def test_restore_is_an_event_done_once_and_refused_when_the_pair_is_not_split(lab, run_module, conn):
    args = conn(copy_group="cg_c", pair_name="p1", pvol=259, svol=515)
    assert not run_module("shadowimage_pair", dict(args, pair_state="split"))["failed"]
    lab.write("vsp-a", "515", 4, offset=200)
    svol_digest = lab.digest("vsp-a", "515")
    since = last_transfer_id(lab)
    restored = step(lab, run_module, dict(args, restore=True, allow_data_loss=True), ["restore", "wait_paired"])
    assert restored["pair"]["state"] == "paired"
    assert lab.digest("vsp-a", "259") == svol_digest == lab.digest("vsp-a", "515")
    assert copied(lab, since, "si:restore", 515) == 4 * BLOCK

    # PAIR after a resync is not PAIR after a restore: the same task now refuses, and changes nothing
    assert not run_module("shadowimage_pair", dict(args, pair_state="split"))["failed"]
    assert not run_module("shadowimage_pair", args)["failed"]
    mark = lab.mark()
    refused = run_module("shadowimage_pair", dict(args, restore=True))
    assert refused["failed"] and "needs the pair split (PSUS/SSUS); it is PAIR/PAIR" in refused["msg"]
    assert "last operation on this pair was a resync" in refused["msg"] and refused["last_operation"] == "resync"
    assert lab.mutations_since(mark) == []


def test_restore_and_split_again_is_rerunnable(lab, run_module, conn):
    args = conn(copy_group="cg_d", pair_name="p1", pvol=260, svol=516)
    assert not run_module("shadowimage_pair", dict(args, pair_state="split"))["failed"]
    lab.write("vsp-a", "516", 2)
    done = step(lab, run_module, dict(args, restore=True, pair_state="split", allow_data_loss=True),
                ["restore", "wait_paired", "split", "wait_split"])
    assert done["pair"]["state"] == "split"
    assert lab.digest("vsp-a", "260") == lab.digest("vsp-a", "516")


def test_an_array_refusal_comes_through_as_a_reply_or_as_a_failed_job(lab, run_module, conn):
    """The lab refuses a restore while another pair of the same P-VOL is not split (412, or a failed job)."""
    one = conn(copy_group="cg_f", pair_name="p1", pvol=261, svol=517, pair_state="split")
    two = conn(copy_group="cg_f", pair_name="p2", pvol=261, svol=518)
    assert not run_module("shadowimage_pair", one)["failed"]
    assert not run_module("shadowimage_pair", two)["failed"]
    for reply in ("412", "job"):
        lab.settings("vsp-a", invalid_state_reply=reply)
        try:
            refused = run_module("shadowimage_pair", dict(two, pair_name="p1", svol=517, restore=True))
        finally:
            lab.settings("vsp-a", invalid_state_reply="412")
        assert refused["failed"], reply
        assert refused["msg"].startswith("restore of cg_f/p1 ")
        assert "The restore operation cannot be performed" in refused["msg"]
        assert refused["array_code"] == "KART30090-E"
        assert refused.get("http_status") == (412 if reply == "412" else None)
        assert refused["current"] == "PSUS/SSUS (split), progress 100%" and refused["pair"]["state"] == "split"
        assert refused["actions"] == [] and refused["changed"] is False


def test_copy_group_split_and_resync_of_eight_pairs_in_one_task(lab, run_module, conn):
    pairs = [{"pair_name": f"p{n}", "pvol": 262 + n, "svol": 519 + n} for n in range(8)]
    made = run_module("shadowimage_pair", conn(copy_group="cg_g", pairs=pairs, copy_pace=15))
    assert not made["failed"], made
    assert made["summary"] == {"total": 8, "changed": 8, "ok": 0, "failed": 0, "skipped": 0}
    assert [r["item"] for r in made["pairs"]] == [f"cg_g/p{n}" for n in range(8)]
    again = run_module("shadowimage_pair", conn(copy_group="cg_g", pairs=pairs))
    assert again["summary"]["ok"] == 8 and again["requests_sent"] == 3

    group = conn(copy_group="cg_g", pair_state="split")
    mark = lab.mark()
    split = step(lab, run_module, group, ["split", "wait_split"])
    invokes = lab.mutations_since(mark)
    assert [(e["method"], e["path"].split("/objects/")[1]) for e in invokes] == \
        [("POST", "local-clone-copygroups/cg_g,cg_gP_,cg_gS_/actions/split/invoke")]
    assert split["pair"] is None and split["group"]["state"] == "split" and split["group"]["pair_count"] == 8
    assert all(p["svol_status"] == "SSUS" for p in split["group"]["pairs"])

    lab.write("vsp-a", "262", 2, offset=300)
    lab.write("vsp-a", "269", 1, offset=300)
    since = last_transfer_id(lab)
    resynced = step(lab, run_module, conn(copy_group="cg_g", allow_data_loss=True), ["resync", "wait_paired"])
    assert resynced["group"]["state"] == "paired"
    assert copied(lab, since, "si:resync") == 3 * BLOCK
    for n in range(8):
        assert lab.digest("vsp-a", str(519 + n)) == lab.digest("vsp-a", str(262 + n))


def test_a_session_that_expires_during_a_long_wait_is_opened_again(lab, run_module, conn):
    args = conn(copy_group="cg_h", pair_name="p1", pvol=270, svol=527)
    assert not run_module("shadowimage_pair", dict(args, pair_state="split"))["failed"]
    lab.write("vsp-a", "270", 16, offset=400)  # 1 MiB to copy back
    # sessions idle out after 0.3 s, polls come every 0.5 s or more, and the copy takes about 2 s
    lab.settings("vsp-a", alive_time_scale=0.001, pace_rate="512KiB")
    mark = lab.mark()
    try:
        started = time.monotonic()
        result = run_module("shadowimage_pair", dict(args, copy_pace=1, poll_interval=0.5, allow_data_loss=True))
        elapsed = time.monotonic() - started
    finally:
        lab.settings("vsp-a", alive_time_scale=1.0, pace_rate=0)
    assert not result["failed"], result
    assert result["actions"] == ["resync", "wait_paired"] and result["pair"]["state"] == "paired"
    served = lab.log(since=mark)
    logins = [e for e in served if e["method"] == "POST" and e["path"].endswith("/sessions")]
    expired = [e for e in served if e["status"] == 401]
    assert elapsed > 1.5 and len(expired) >= 1 and len(logins) == len(expired) + 1
    assert served[-1]["method"] == "DELETE" and served[-1]["status"] == 200  # the last session is closed
    assert lab.digest("vsp-a", "527") == lab.digest("vsp-a", "270")


def test_a_pair_suspended_by_a_copy_failure_fails_the_task_and_a_rerun_converges(lab, run_module, conn):
    args = conn(copy_group="cg_i", pair_name="p1", pvol=271, svol=530)
    lab.settings("vsp-a", fail_copies=1)
    failed = run_module("shadowimage_pair", args)
    assert failed["failed"]
    assert "pair cg_i/p1 is PSUE/PSUE (suspended_error) while waiting for it to become paired (PAIR)" in failed["msg"]
    assert "suspended the pair because of a failure" in failed["msg"]
    assert failed["actions"] == ["create"] and failed["changed"] is True
    assert failed["pair"]["state"] == "suspended_error" and failed["pair"]["healthy"] is False
    assert failed["current"].startswith("PSUE/PSUE")
    # a PSUE pair is resynced in full: all of the S-VOL may differ, so the resync needs allow_data_loss
    mark = lab.mark()
    refused = run_module("shadowimage_pair", args)
    assert refused["failed"] and "resync of cg_i/p1 would discard" in refused["msg"], refused["msg"]
    assert refused["differing_bytes_at_most"] == 256 * 1024 * 1024 and refused["discarded_bytes"] == "unknown"
    assert lab.mutations_since(mark) == []
    # the copy works again: the rerun resyncs in full and reaches PAIR
    fixed = run_module("shadowimage_pair", dict(args, allow_data_loss=True))
    assert not fixed["failed"], fixed
    assert fixed["actions"] == ["resync", "wait_paired"] and fixed["pair"]["healthy"]
    assert lab.digest("vsp-a", "530") == lab.digest("vsp-a", "271")
    assert run_module("shadowimage_pair", args)["changed"] is False


def test_delete_a_pair_and_then_a_whole_copy_group(lab, run_module, conn):
    pairs = [{"pair_name": "p1", "pvol": 272, "svol": 531}, {"pair_name": "p2", "pvol": 273, "svol": 532},
             {"pair_name": "p3", "pvol": 274, "svol": 533}]
    assert not run_module("shadowimage_pair", conn(copy_group="cg_o", pairs=pairs, pair_state="split"))["failed"]
    gone = step(lab, run_module, conn(copy_group="cg_o", pair_name="p1", state="absent"), ["delete", "wait_deleted"])
    assert gone["pair"] is None
    whole = step(lab, run_module, conn(copy_group="cg_o", state="absent"), ["delete", "wait_deleted"])
    assert whole["group"]["pairs"] == []
    info = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), copy_group="cg_o"))
    assert info["pairs"] == [] and info["copy_groups"] == []
    assert lab.volume("vsp-a", "533")["host_access"] == "rw"


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_write_without_an_answer_is_read_back_and_the_run_continues(lab, run_module, conn, dropping, when):
    # the array drops the connection of a write, before or after applying it: first the pair create
    # that makes the copy group, then the copy group split
    n = 0 if when == "before" else 2
    group = f"cg_r{when}"
    pairs = [{"pair_name": f"p{k}", "pvol": 3000 + n + k, "svol": 3010 + n + k} for k in range(2)]
    made = dropping("vsp-a", when, "shadowimage_pair", conn(copy_group=group, pairs=pairs, max_workers=2), group)
    assert [r["pair"]["state"] for r in made["pairs"]] == ["paired", "paired"]
    split = dropping("vsp-a", when, "shadowimage_pair", conn(copy_group=group, pair_state="split"), group)
    assert split["group"]["state"] == "split" and split["group"]["pair_count"] == 2
    for k in range(2):
        assert lab.digest("vsp-a", str(3010 + n + k)) == lab.digest("vsp-a", str(3000 + n + k))


def test_a_bulk_run_reports_each_item_in_order(lab, run_module, conn):
    pairs = [{"pair_name": "ok1", "pvol": 275, "svol": 534}, {"pair_name": "bad", "pvol": 276, "svol": 4002},
             {"pair_name": "ok2", "pvol": 277, "svol": 535}]
    mark = lab.mark()
    result = run_module("shadowimage_pair", conn(copy_group="cg_l", pairs=pairs, continue_on_error=True),
                        check_mode=True)
    assert result["failed"] and result["summary"] == {"total": 3, "changed": 2, "ok": 0, "failed": 1, "skipped": 0}
    assert lab.mutations_since(mark) == []
    result = run_module("shadowimage_pair", conn(copy_group="cg_l", pairs=pairs, continue_on_error=True))
    assert [r["item"] for r in result["pairs"]] == ["cg_l/ok1", "cg_l/bad", "cg_l/ok2"]
    assert result["summary"] == {"total": 3, "changed": 2, "ok": 0, "failed": 1, "skipped": 0}
    bad = result["pairs"][1]
    assert bad["failed"] and "LDEV 4002, is not defined" in bad["msg"] and bad["actions"] == []
    assert "1 of 3 items failed: cg_l/bad" in result["msg"]
    assert result["pairs"][2]["pair"]["state"] == "paired" and result["pairs"][2]["actions"] == ["create", "wait_paired"]
    stopped = run_module("shadowimage_pair", conn(copy_group="cg_l", pairs=pairs[1:], pair_state="split"))
    assert stopped["summary"] == {"total": 2, "changed": 0, "ok": 0, "failed": 1, "skipped": 1}
    assert stopped["pairs"][1]["skipped"] and "continue_on_error is false" in stopped["pairs"][1]["msg"]
    assert stopped["pairs"][1]["pair"]["state"] == "paired"


def test_wait_false_starts_the_change_and_returns(lab, run_module, conn):
    args = conn(copy_group="cg_w", pair_name="p1", pvol=278, svol=512)
    assert not run_module("shadowimage_pair", args)["failed"]
    lab.settings("vsp-a", pace_rate="64KiB")
    try:
        lab.write("vsp-a", "278", 8)
        started = run_module("shadowimage_pair", dict(args, pair_state="split", wait=False))
        assert started["actions"] == ["split", "wait_split (skipped: wait=false)"]
    finally:
        lab.settings("vsp-a", pace_rate=0)
    assert started["changed"] and started["pair"]["state"] in ("copying", "split")
    rerun = run_module("shadowimage_pair", dict(args, pair_state="split"))
    assert rerun["changed"] is False and rerun["pair"]["state"] == "split"


def test_a_pair_still_copying_is_waited_for_before_it_is_split(lab, run_module, conn):
    args = conn(copy_group="cg_s", pair_name="p1", pvol=282, svol=540)
    lab.settings("vsp-a", pace_rate="256KiB")  # the initial copy of 1 MiB takes about 1.3 s
    try:
        started = run_module("shadowimage_pair", dict(args, wait=False))
        assert started["actions"] == ["create", "wait_paired (skipped: wait=false)"]
        assert started["pair"]["state"] == "copying" and started["pair"]["transferring"]
        mark = lab.mark()
        check = run_module("shadowimage_pair", dict(args, pair_state="split"), check_mode=True)
        assert check["actions"] == ["wait_settled", "split", "wait_split"] and lab.mutations_since(mark) == []
        split = run_module("shadowimage_pair", dict(args, pair_state="split"))
    finally:
        lab.settings("vsp-a", pace_rate=0)
    assert not split["failed"], split
    assert split["actions"] == ["wait_settled", "split", "wait_split"] and split["pair"]["state"] == "split"
    assert lab.digest("vsp-a", "540") == lab.digest("vsp-a", "282")


def test_consistency_group_pairs_are_copied_then_split_and_quick_mode_resyncs_at_once(lab, run_module, conn):
    pairs = [{"pair_name": "c1", "pvol": 283, "svol": 541}, {"pair_name": "c2", "pvol": 284, "svol": 542}]
    made = run_module("shadowimage_pair", conn(copy_group="cg_ctg", pairs=pairs, consistency_group=7,
                                               pair_state="split"))
    assert not made["failed"], made
    assert [r["actions"] for r in made["pairs"]] == [["create", "wait_paired", "split", "wait_split"]] * 2
    assert {(r["pair"]["consistency_group"], r["pair"]["state"]) for r in made["pairs"]} == {(7, "split")}
    lab.write("vsp-a", "283", 2, offset=900)
    quick = step(lab, run_module, conn(copy_group="cg_ctg", quick_mode=True, allow_data_loss=True),
                 ["resync", "wait_paired"])
    assert quick["group"]["state"] == "paired"
    lab.wait_for(lambda: lab.digest("vsp-a", "541") == lab.digest("vsp-a", "283"), timeout=10)
    other = run_module("shadowimage_pair", conn(copy_group="cg_ctg", pair_name="c1", consistency_group=8))
    assert other["failed"] and "exists with consistency group 7 (not 8)" in other["msg"]


def test_new_svols_of_one_task_are_checked_against_the_pool_together(lab, run_module, conn):
    pairs = [{"pair_name": "n1", "pvol": 285, "svol": {"pool_id": 2}},
             {"pair_name": "n2", "pvol": 256, "svol": {"pool_id": 2}}]
    mark = lab.mark()
    result = run_module("shadowimage_pair", conn(copy_group="cg_pool", pairs=pairs, continue_on_error=True),
                        check_mode=True)
    assert result["pairs"][0]["actions"] == ["create_svol", "create", "wait_paired"]
    assert result["pairs"][1]["failed"] and "pool 2 (small) has 1 MiB available; the S-VOL of P-VOL LDEV 256 " \
        "needs 1 MiB (the P-VOL's used capacity) after 1 MiB for the other S-VOLs of this task" in \
        result["pairs"][1]["msg"]
    assert lab.mutations_since(mark) == []


def test_an_html_error_page_is_reported_in_words_and_a_rerun_converges(lab, run_module, conn):
    args = conn(copy_group="cg_html", pair_name="p1", pvol=285, svol=543)
    assert not run_module("shadowimage_pair", args)["failed"]
    args["pair_state"] = "split"
    lab.settings("vsp-a", html_errors=True)
    lab.faults("vsp-a", spare=CLAIMS, error_count=1, error_status=500, only_mutating=True)
    try:
        failed = run_module("shadowimage_pair", args)
    finally:
        lab.clear_faults("vsp-a")
        lab.settings("vsp-a", html_errors=False)
    assert failed["failed"] and failed["http_status"] == 500
    assert failed["msg"].startswith("split of cg_html/p1 refused by VSP at ")
    assert "500 Error 500 Service Unavailable [HTTP 500]. cg_html/p1 is PAIR/PAIR (paired)" in failed["msg"]
    assert "<html>" not in failed["msg"] and failed["changed"] is False
    again = run_module("shadowimage_pair", args)
    assert not again["failed"] and again["actions"] == ["split", "wait_split"]


# bad input ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def occupied(lab):
    """A pair in PAIR that bad-input tests bump into (pvol 279 -> svol 536)."""
    from conftest import run_module as run  # pylint: disable=import-outside-toplevel
    args = dict(lab.connection("vsp-a"), poll_interval=0.05, copy_group="taken", pair_name="p1", pvol=279, svol=536)
    result = run("shadowimage_pair", args)
    assert not result["failed"], result
    return args


BAD_INPUT = [
    ("undefined P-VOL", {"pvol": 4000, "svol": 537}, "the P-VOL, LDEV 4000, is not defined on VSP at"),
    ("undefined S-VOL", {"pvol": 256, "svol": 4001}, "the S-VOL, LDEV 4001, is not defined"),
    ("S-VOL smaller than the P-VOL", {"pvol": 256, "svol": 600},
     "the S-VOL, LDEV 600 (262144 blocks, 128.00 M), is smaller than the P-VOL, LDEV 256 (524288 blocks"),
    ("S-VOL already in a pair", {"pvol": 256, "svol": 536},
     "the S-VOL, LDEV 536, is already in a ShadowImage pair (taken/p1, 279 -> 536, PAIR/PAIR)"),
    ("restore of a pair that is not split", {"copy_group": "taken", "pair_name": "p1", "restore": True},
     "restore of taken/p1 needs the pair split (PSUS/SSUS); it is PAIR/PAIR"),
    ("copy group name over 31", {"copy_group": "g" * 32, "pvol": 256, "svol": 537},
     "is 32 characters long; the array allows at most 29 for a new copy group"),
    ("new copy group name over 29", {"copy_group": "g" * 30, "pvol": 256, "svol": 537},
     "is 30 characters long; the array allows at most 29 for a new copy group"),
    ("pool too small for the S-VOL", {"pvol": 256, "svol": {"pool_id": 1}}, "pool 1 (tiny) has 0 MiB available; the S-VOL of P-VOL LDEV 256 needs 1 MiB"),
    ("pool that does not exist", {"pvol": 256, "svol": {"pool_id": 9}}, "pool 9 for the new S-VOL does not exist"),
    ("wrong credentials", {"password": "wrong-password", "pvol": 256, "svol": 537},
     "refused the credentials (HTTP 401): Authentication failed"),
    ("device groups other than the copy group's", {"copy_group": "taken", "pvol": 256, "svol": 537,
                                                   "pvol_device_group": "otherP"},
     "copy group taken exists with device groups takenP_ (P-VOLs) and takenS_ (S-VOLs), not the ones given"),
    ("other volumes for an existing pair", {"copy_group": "taken", "pair_name": "p1", "pvol": 279, "svol": 537},
     "pair taken/p1 exists with S-VOL 536 (not 537)"),
]


@pytest.mark.parametrize("name, override, message", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_fails_clearly_before_any_change(lab, run_module, conn, occupied, name, override, message):
    args = conn(copy_group="bad_cg", pair_name="bad")
    args.update(override)
    mark = lab.mark()
    for check_mode in (True, False):
        result = run_module("shadowimage_pair", args, check_mode=check_mode)
        assert result["failed"], name
        assert message in result["msg"], result["msg"]
        assert result["changed"] is False if "changed" in result else True
    assert lab.mutations_since(mark) == []
    if name == "wrong credentials":
        assert result["http_status"] == 401 and result["array_code"] == "KART00002-E"
        shown = json.dumps({k: v for k, v in result.items() if k != "invocation"})
        assert "wrong-password" not in shown and "********" not in shown


# connection ---------------------------------------------------------------------------------------------
def test_connection_options_fall_back_to_the_environment_and_the_password_never_shows(lab, run_module,
                                                                                      monkeypatch, occupied):
    info = lab.array("vsp-a")
    monkeypatch.setenv("VSP_HOSTNAME", info["url"])
    monkeypatch.setenv("VSP_USERNAME", info["username"])
    monkeypatch.setenv("VSP_PASSWORD", info["password"])
    monkeypatch.setenv("VSP_CA_PATH", info["ca_file"])
    monkeypatch.setenv("VSP_STORAGE_DEVICE_ID", info["storage_device_id"])
    mark = lab.mark()
    listed = run_module("shadowimage_pair_info", {"copy_group": "taken"})
    assert not listed["failed"], listed
    assert [p["pair_name"] for p in listed["pairs"]] == ["p1"]
    assert all("/storages/886000410001/" in e["path"] for e in lab.log(since=mark))
    refused = run_module("shadowimage_pair", {"copy_group": "taken", "pair_name": "p1", "restore": True})
    changed = run_module("shadowimage_pair", {"copy_group": "env", "pair_name": "p1", "pvol": 280, "svol": 538},
                         diff=True)
    assert refused["failed"] and not changed["failed"]
    for result in (listed, refused, changed):
        shown = json.dumps({k: v for k, v in result.items() if k != "invocation"})
        # Ansible would mask a leaked password as ********: neither may appear
        assert info["password"] not in shown and "********" not in shown


def test_an_unknown_storage_device_id_names_the_ones_served(lab, run_module):
    result = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), storage_device_id="886000999999"))
    assert result["failed"] and "storage_device_id 886000999999 is not a storage system of the REST server" in \
        result["msg"] and "It serves: 886000410001 (VSP G900)" in result["msg"]
    malformed = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), storage_device_id="4100"))
    assert malformed["failed"] and "is not a storage device ID: 12 digits" in malformed["msg"]


def test_a_certificate_that_does_not_verify_is_refused(lab, run_module):
    result = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), ca_path=None))
    assert result["failed"] and "does not verify" in result["msg"] and "ca_path" in result["msg"]


def test_sessions_are_closed_even_when_the_task_fails(lab, run_module, conn, occupied):
    mark = lab.mark()
    failures = [conn(copy_group="taken", pair_name="p1", restore=True),          # refused by the module
                conn(copy_group="taken", pair_name="p2", pvol=279, svol=537, mu_number=0),  # refused by the array
                conn(copy_group="sess", pair_name="p1", pvol=281, svol=539, wait_timeout=0)]
    lab.settings("vsp-a", pace_rate="64KiB")
    try:
        results = [run_module("shadowimage_pair", args) for args in failures]
    finally:
        lab.settings("vsp-a", pace_rate=0)
    assert [bool(r["failed"]) for r in results] == [True, True, True]
    assert "timed out after 0s waiting for sess/p1 to become paired (PAIR); current state: COPY/COPY" in \
        results[2]["msg"]
    assert "Rerun the task" in results[2]["msg"] and results[2]["actions"] == ["create"]
    served = lab.log(since=mark)
    opened = [e for e in served if e["method"] == "POST" and e["path"].endswith("/sessions")]
    closed = [e for e in served if e["method"] == "DELETE" and "/sessions/" in e["path"] and e["status"] == 200]
    assert len(opened) == len(closed) == 3
    rerun = run_module("shadowimage_pair", dict(failures[2], wait_timeout=60))
    assert not rerun["failed"] and rerun["changed"] is False and rerun["pair"]["state"] == "paired"
    assert rerun["actions"] in ([], ["wait_paired"])  # waiting for a copy an earlier run started is no change
