"""Issue 14, item 4: a rerun while the array still works joins the running transfer instead of failing.

"A rerun during a running transfer fails with 409 'A transfer is already in progress' until the transfer
ends; the runbook says to simply run again." A first run starts the work and returns (``wait: false``, as a
run killed in its wait leaves it); the rerun, started while the array still works, waits for that work and
then decides what is still needed.
"""

from __future__ import annotations

import pytest
from module_helpers import module_args
from ontap_actors import two_clusters, Console, patched_state, posted_transfer

LAB_TOPOLOGY = two_clusters(lab={"local_bandwidth": "4GiB"}, **{
    "vsp-a": {
        "vendor": "vsp", "model": "VSP G900", "serial": 410001, "settings": {"job_seconds": 0.02},
        "pools": [{"id": 0, "name": "dp_pool0", "size": "20TiB"}],
        "ldevs": [{"id_base": 256, "count": 2, "size": "256MiB", "pool": 0, "data_blocks": 16, "label": "prod{n}"},
                  {"id_base": 512, "count": 2, "size": "256MiB", "pool": 0, "label": "svol{n}"}],
    },
})


@pytest.fixture
def conn(lab):
    def make(n, **kwargs):
        args = dict(lab.connection("ontap-b"), source_cluster=lab.connection("ontap-a"), poll_interval=0.05,
                    wait_timeout=60, source_path=f"svm_a:vol{n}", destination_path=f"svm_b:vol{n}_dr",
                    create_destination={"enabled": True})
        args.update(kwargs)
        return args
    return make


@pytest.fixture
def slow_link(lab):
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
    yield
    lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")


def transfer_refusals(entries):
    return [e for e in entries if posted_transfer(e) and e["status"] == 409]


def test_a_rerun_during_a_running_update_joins_it_instead_of_failing_with_409(lab, run_module, conn):
    assert not run_module("snapmirror", conn(1))["failed"]
    lab.write("ontap-a", "svm_a:vol1", 96)
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
    try:
        first = run_module("snapmirror", conn(1, update=True, wait=False))
        assert first["actions"] == ["update", "wait_transfer (skipped: wait=false)"]
        Console(lab).wait_transferring("svm_b:vol1_dr")
        lab.write("ontap-a", "svm_a:vol1", 4)  # written after the running transfer took its snapshot
        mark = lab.mark()
        rerun = run_module("snapmirror", conn(1, update=True))
    finally:
        lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")
    assert not rerun["failed"], rerun["msg"]
    assert rerun["actions"] == ["wait_idle", "update", "wait_transfer"]
    entries = lab.log(array="ontap-b", since=mark)
    assert transfer_refusals(entries) == []
    assert len([e for e in entries if posted_transfer(e)]) == 1, "one update of its own, once the running one ended"
    snapshot = rerun["relationship"]["exported_snapshot"]
    assert lab.digest("ontap-b", "svm_b:vol1_dr") == lab.snapshot_digest("ontap-a", "svm_a:vol1", snapshot)
    assert lab.digest("ontap-b", "svm_b:vol1_dr") == lab.digest("ontap-a", "svm_a:vol1")


def test_a_rerun_within_max_lag_joins_the_running_update_and_starts_no_other(lab, run_module, conn, slow_link):
    assert not run_module("snapmirror", conn(2))["failed"]
    lab.write("ontap-a", "svm_a:vol2", 96)
    lab.advance_clock(900)
    console = Console(lab)
    console.update("svm_b:vol2_dr")
    console.wait_transferring("svm_b:vol2_dr")
    mark = lab.mark()
    rerun = run_module("snapmirror", conn(2, max_lag=600))
    assert not rerun["failed"], rerun["msg"]
    assert rerun["actions"] == ["wait_idle"], "the joined update brought the lag within max_lag: no second one"
    assert rerun["changed"] is False
    assert lab.mutations_since(mark, "ontap-b") == []
    assert rerun["relationship"]["lag_seconds"] < 600


def test_a_planned_failover_rerun_during_its_final_update_joins_it_then_breaks(lab, run_module, conn, slow_link):
    assert not run_module("snapmirror", conn(3))["failed"]
    lab.write("ontap-a", "svm_a:vol3", 96)
    failover = conn(3, relationship_state="broken_off", update=True)
    first = run_module("snapmirror", dict(failover, wait=False, quiesce_timeout=0, wait_timeout=1))
    # the final update of the first run is still running when it gives up (as when it is killed)
    assert first["failed"] and first["actions"] == ["update"], first
    mark = lab.mark()
    rerun = run_module("snapmirror", failover)
    assert not rerun["failed"], rerun["msg"]
    assert rerun["actions"] == ["wait_idle", "update", "wait_transfer", "quiesce", "wait_paused", "break",
                                "wait_broken_off"]
    entries = lab.log(array="ontap-b", since=mark)
    assert transfer_refusals(entries) == []
    assert len([e for e in entries if patched_state("broken_off")(e)]) == 1
    assert lab.digest("ontap-b", "svm_b:vol3_dr") == lab.digest("ontap-a", "svm_a:vol3")


def test_a_rerun_during_the_baseline_joins_it_without_asking_for_another(lab, run_module, conn, slow_link):
    lab.write("ontap-a", "svm_a:vol4", 64)  # a baseline of seconds
    first = run_module("snapmirror", conn(4, wait=False))
    assert first["actions"] == ["create_destination", "create", "wait_active (skipped: wait=false)"]
    mark = lab.mark()
    rerun = run_module("snapmirror", conn(4))
    assert not rerun["failed"], rerun["msg"]
    assert rerun["actions"] == ["wait_active"]
    assert lab.mutations_since(mark, "ontap-b") == [], "the rerun sent no initialize of its own"
    assert rerun["relationship"]["state"] == "snapmirrored"
    assert lab.digest("ontap-b", "svm_b:vol4_dr") == lab.snapshot_digest(
        "ontap-a", "svm_a:vol4", rerun["relationship"]["exported_snapshot"])


def test_a_restore_rerun_while_its_split_still_copies_joins_the_split(lab, run_module):
    conn = module_args(lab, "vsp-a", 60)
    pair = conn(copy_group="rj1", pair_name="p", pvol=256, svol=512)
    assert not run_module("shadowimage_pair", dict(pair, pair_state="split"))["failed"]
    restored = run_module("shadowimage_pair", dict(pair, restore=True, pair_state="paired", allow_data_loss=True))
    assert restored["actions"] == ["restore", "wait_paired"], restored
    # writes that the split still has to copy to the S-VOL, slowly: the split of the restore task is in COPY
    lab.settings("vsp-a", pace_rate="64KiB")
    try:
        lab.write("vsp-a", "256", 16)
        split = run_module("shadowimage_pair", dict(pair, pair_state="split", wait=False))
        assert split["actions"] == ["split", "wait_split (skipped: wait=false)"]
        assert split["pair"]["state"] == "copying"
        mark = lab.mark()
        rerun = run_module("shadowimage_pair", dict(pair, restore=True, pair_state="split"))
    finally:
        lab.settings("vsp-a", pace_rate=0)
    assert not rerun["failed"], rerun["msg"]
    assert rerun["actions"] == ["wait_settled"], "the split is joined; the restore is not repeated"
    assert rerun["pair"]["state"] == "split"
    assert lab.mutations_since(mark, "vsp-a") == []
