"""storage.replication.smis_sync against the lab: the data-loss guard, the final synchronization (update),
the lag of mirrors and the declared identity of a target (issue 13), over CIM-XML on HTTPS.

Volumes are 4 MiB of 64 KiB blocks (64 blocks), so one differing block is at most 2 percent of the
capacity: PercentSynced 98 bounds the differing bytes at 83887.
"""

from __future__ import annotations

import datetime
import time

import pytest

from module_helpers import module_args, smis_topology

LAB_TOPOLOGY = smis_topology(local=2, remote=16)
CAPACITY = 4 * 1024 * 1024


def bound(differing_blocks: int) -> int:
    """The bound the module derives from PercentSynced for this many differing 64 KiB blocks of 64."""
    percent = 100 * (64 - differing_blocks) // 64
    return -(-CAPACITY * (100 - percent) // 100)


@pytest.fixture
def conn(lab):
    return module_args(lab, "smis-b", wait_timeout=30, namespace=True)


@pytest.fixture(autouse=True)
def _clean_knobs(lab):
    yield
    for array in ("smis-a", "smis-b"):
        lab.settings(array, copy_rate=0)


def ok(run_module, args, **kwargs):
    result = run_module("smis_sync", args, **kwargs)
    assert not result["failed"], result
    return result


def refused(lab, run_module, args, *fragments):
    """Refused in check mode and for real, with every fragment in the message, and nothing sent that changes."""
    mark = lab.mark()
    for check_mode in (True, False):
        result = run_module("smis_sync", args, check_mode=check_mode)
        assert result["failed"], result
        for fragment in fragments:
            assert fragment in result["msg"], result["msg"]
    assert lab.mutations_since(mark) == []
    return result


def digests(lab, facts, array="smis-b"):
    return lab.digest(array, facts["source_device_id"]), lab.digest(array, facts["target_device_id"])


def mirror(run_module, conn, source, target, **kwargs):
    return ok(run_module, conn(source=source, target=target, **kwargs))["synchronization"]


def allowed(lab, run_module, args, facts, actions, kept):
    """A refused run again with allow_data_loss: it takes ``actions`` and both volumes then hold ``kept``."""
    result = ok(run_module, dict(args, allow_data_loss=True))
    assert result["actions"] == actions
    src, tgt = digests(lab, facts)
    assert src == tgt == kept


# the guard -------------------------------------------------------------------------------------------------
def test_a_resync_after_target_writes_is_refused_with_the_bytes_at_stake(lab, run_module, conn):
    base = conn(source="vol1", target="vol1_m")
    facts = mirror(run_module, conn, "vol1", "vol1_m")
    ok(run_module, dict(base, sync_state="split"))
    lab.write("smis-b", facts["target_device_id"], 2)  # the backup host wrote to the split mirror
    before = digests(lab, facts)
    result = refused(lab, run_module, dict(base, sync_state="synchronized"), "resync of vol1 -> vol1_m",
                     f"up to {bound(2)} bytes differ", "written to the target vol1_m",
                     "does not say which side was written", "allow_data_loss: true")
    assert result["discarded_bytes"] == "unknown" and result["differing_bytes_at_most"] == bound(2)
    assert (result["percent_synced"], result["capacity_bytes"]) == (96, CAPACITY)
    assert result["synchronization"]["state"] == "split"
    assert digests(lab, facts) == before
    allowed(lab, run_module, dict(base, sync_state="synchronized"), facts, ["resync", "wait_synchronized"], before[0])


def test_a_restore_over_source_writes_is_refused_then_allowed(lab, run_module, conn):
    base = conn(source="vol2", target="vol2_m")
    facts = mirror(run_module, conn, "vol2", "vol2_m", sync_state="fractured")
    lab.write("smis-b", facts["source_device_id"], 1)
    before = digests(lab, facts)
    result = refused(lab, run_module, dict(base, restore=True), "restore of vol2 -> vol2_m",
                     f"up to {bound(1)} bytes differ", "written to the source vol2")
    assert result["differing_bytes_at_most"] == bound(1) == 83887
    assert digests(lab, facts) == before
    allowed(lab, run_module, dict(base, restore=True), facts, ["restore", "wait_restored"], before[1])


def test_nothing_differing_is_no_refusal(lab, run_module, conn):
    base = conn(source="vol3", target="vol3_m")
    facts = mirror(run_module, conn, "vol3", "vol3_m", sync_state="split")
    assert ok(run_module, dict(base, sync_state="synchronized"))["actions"] == ["resync", "wait_synchronized"]
    ok(run_module, dict(base, sync_state="fractured"))
    assert ok(run_module, dict(base, restore=True))["actions"] == ["restore", "wait_restored"]
    src, tgt = digests(lab, facts)
    assert src == tgt


def test_a_resync_behind_a_running_restore_is_measured_once_it_settled(lab, run_module, conn):
    base = conn(source="vol12", target="vol12_m")
    facts = mirror(run_module, conn, "vol12", "vol12_m", sync_state="split")
    lab.write("smis-b", facts["source_device_id"], 8)
    lab.settings("smis-b", copy_rate="256KiB")
    started = ok(run_module, dict(base, restore=True, allow_data_loss=True, wait=False))
    assert started["synchronization"]["state"] == "restoring"
    # PercentSynced of a running restore is its progress: the resync is measured after the restore
    planned = ok(run_module, dict(base, sync_state="synchronized"), check_mode=True)
    assert planned["actions"] == ["wait_restored", "resync", "wait_synchronized"]
    done = ok(run_module, dict(base, sync_state="synchronized"))
    assert done["actions"] == planned["actions"] and done["synchronization"]["state"] == "synchronized"
    src, tgt = digests(lab, facts)
    assert src == tgt


def test_allow_data_loss_of_an_item_overrides_the_tasks(lab, run_module, conn):
    items = [{"source": "vol4", "target": "vol4_m"}, {"source": "vol5", "target": "vol5_m"}]
    ok(run_module, conn(synchronizations=items, sync_state="split"))
    for n in (4, 5):
        lab.write("smis-b", str(200 + n), 1)
    mark = lab.mark()
    result = run_module("smis_sync", conn(synchronizations=[dict(items[0], allow_data_loss=False), items[1]],
                                          sync_state="synchronized", allow_data_loss=True, continue_on_error=True))
    first, second = result["synchronizations"]
    assert first["failed"] and "resync of vol4 -> vol4_m" in first["msg"] and first["actions"] == []
    assert not second.get("failed") and second["actions"] == ["resync", "wait_synchronized"]
    assert [e["cim_params"]["Operation"] for e in lab.mutations_since(mark)] == ["14"]


def test_failback_after_dr_writes_is_not_refused_and_brings_them_home(lab, run_module, conn):
    base = conn(source="vol6", target="vol6_m")
    mirror(run_module, conn, "vol6", "vol6_m", mode="async")
    over = ok(run_module, dict(base, sync_state="failed_over"))["synchronization"]
    # the target held every source write when it was failed over, and the source is read-only since
    assert over["suspended_at"] and over["when_synced"] >= over["suspended_at"]
    assert lab.volume("smis-b", over["source_device_id"])["host_access"] == "ro"
    lab.write("smis-b", over["target_device_id"], 5)
    back = ok(run_module, dict(base, sync_state="synchronized"))
    assert back["actions"] == ["failback", "wait_synchronized"]
    src, tgt = digests(lab, over)
    assert src == tgt


def test_failback_of_a_failover_that_found_the_target_behind_is_refused(lab, run_module, conn):
    base = conn(source="vol7", target="vol7_m")
    facts = mirror(run_module, conn, "vol7", "vol7_m", sync_state="fractured")
    lab.write("smis-b", facts["source_device_id"], 1, offset=40)  # never reached the target
    over = ok(run_module, dict(base, sync_state="failed_over"))  # straight from fractured
    assert over["actions"] == ["failover", "wait_failed_over"]
    assert over["synchronization"]["when_synced"] < over["synchronization"]["suspended_at"]
    lab.write("smis-b", facts["target_device_id"], 1, offset=41)
    before = digests(lab, facts)
    result = refused(lab, run_module, dict(base, sync_state="synchronized"), "failback of vol7 -> vol7_m",
                     f"up to {bound(2)} bytes differ", "written to the source vol7")
    assert result["suspended_at"] == over["synchronization"]["suspended_at"]
    assert digests(lab, facts) == before
    ok(run_module, dict(base, sync_state="synchronized", allow_data_loss=True))
    src, tgt = digests(lab, facts)
    assert src == tgt == before[1]


# the final synchronization ------------------------------------------------------------------------------
def test_update_waits_until_the_target_holds_the_last_writes_before_the_failover(lab, run_module, conn):
    late = mirror(run_module, conn, "vol8", "vol8_m", mode="async")
    planned = mirror(run_module, conn, "vol9", "vol9_m", mode="async")
    lab.settings("smis-b", copy_rate="256KiB")  # 4 blocks a second
    for facts in (late, planned):
        lab.write("smis-b", facts["source_device_id"], 6)
    # without update the failover takes what the target had so far: not the primary's last writes
    ok(run_module, conn(source="vol8", target="vol8_m", sync_state="failed_over"))
    src, tgt = digests(lab, late)
    assert src != tgt
    args = conn(source="vol9", target="vol9_m", sync_state="failed_over", update=True)
    mark = lab.mark()
    check = ok(run_module, args, check_mode=True)
    assert lab.mutations_since(mark) == []
    done = ok(run_module, args)
    assert check["actions"] == done["actions"] == ["wait_caught_up", "failover", "wait_failed_over"]
    src, tgt = digests(lab, planned)
    assert src == tgt
    assert ok(run_module, args)["actions"] == []


def test_update_that_never_catches_up_ends_at_wait_timeout_with_nothing_cut_over(lab, run_module, conn):
    facts = mirror(run_module, conn, "vol16", "vol16_am", mode="async")
    lab.settings("smis-b", copy_rate="64KiB")  # a block a second; the hosts keep writing
    lab.write("smis-b", facts["source_device_id"], 8)
    mark = lab.mark()
    late = run_module("smis_sync", conn(source="vol16", target="vol16_am", sync_state="failed_over", update=True,
                                        wait_timeout=1))
    assert late["failed"] and "to be caught up" in late["msg"], late
    assert late["actions"] == [] and late["changed"] is False
    assert lab.mutations_since(mark) == []
    src, tgt = digests(lab, facts)
    assert src != tgt


def test_update_with_synchronized_waits_until_caught_up(lab, run_module, conn):
    facts = mirror(run_module, conn, "vol10", "vol10_m", mode="async")
    lab.settings("smis-b", copy_rate="256KiB")
    lab.write("smis-b", facts["source_device_id"], 4)
    mark = lab.mark()
    waited = ok(run_module, conn(source="vol10", target="vol10_m", sync_state="synchronized", update=True))
    assert waited["actions"] == ["wait_caught_up"] and waited["changed"] is False
    assert waited["synchronization"]["progress"] == 100
    src, tgt = digests(lab, facts)
    assert src == tgt
    assert lab.mutations_since(mark) == []


def test_update_from_fractured_resyncs_first_and_is_guarded(lab, run_module, conn):
    base = conn(source="vol11", target="vol11_m")
    facts = mirror(run_module, conn, "vol11", "vol11_m", mode="async", sync_state="fractured")
    lab.write("smis-b", facts["source_device_id"], 1)
    refused(lab, run_module, dict(base, sync_state="failed_over", update=True), "resync of vol11 -> vol11_m")
    done = ok(run_module, dict(base, sync_state="failed_over", update=True, allow_data_loss=True))
    assert done["actions"] == ["resync", "wait_synchronized", "wait_caught_up", "failover", "wait_failed_over"]
    src, tgt = digests(lab, facts)
    assert src == tgt


def test_update_of_a_clone_fails(lab, run_module, conn):
    ok(run_module, conn(source="vol14", target="vol14_c", sync_type="clone"))
    refused(lab, run_module, conn(source="vol14", target="vol14_c", sync_state="split", update=True),
            "update applies to mirrors")


# lag ------------------------------------------------------------------------------------------------
def info(lab, run_module, volume, array="smis-b"):
    result = run_module("smis_sync_info", dict(lab.connection(array), namespace=lab.array(array)["namespace"],
                                               volumes=[volume]))
    assert not result["failed"], result
    return result["synchronizations"][0]


def test_the_lag_of_a_fractured_mirror_keeps_growing(lab, run_module, conn):
    facts = mirror(run_module, conn, "vol13", "vol13_m")
    lab.write("smis-b", facts["source_device_id"], 1)
    synced = info(lab, run_module, "vol13_m")
    assert synced["state"] == "synchronized" and synced["lag_seconds"] <= 1  # a synchronous mirror: none
    ok(run_module, conn(source="vol13", target="vol13_m", sync_state="fractured"))
    lab.write("smis-b", facts["source_device_id"], 2)  # nothing renews the point in time the target holds
    time.sleep(2.1)
    first = info(lab, run_module, "vol13_m")
    assert first["state"] == "fractured" and first["lag_seconds"] >= 2
    assert first["recovery_point"] == first["when_synced"][:19] + "+00:00"
    assert first["suspended_at"][:19] == first["recovery_point"][:19]  # fractured while caught up
    time.sleep(1.1)
    assert info(lab, run_module, "vol13_m")["lag_seconds"] > first["lag_seconds"]


def test_the_age_of_a_3par_physical_copy_grows_and_it_has_no_lag(lab, run_module, conn):
    ok(run_module, conn("smis-a", source="vol1", target="copy1", sync_type="clone"))
    time.sleep(2.1)
    copy = info(lab, run_module, "copy1", "smis-a")
    assert copy["sync_maintained"] is False and copy["suspended_at"] is None
    assert copy["age_seconds"] >= 2 and copy["lag_seconds"] is None
    age = datetime.datetime.now(datetime.timezone.utc) - datetime.datetime.fromisoformat(copy["when_synced"])
    assert age.total_seconds() >= 2


# declared identity ---------------------------------------------------------------------------------------
def test_a_target_of_another_source_is_refused_naming_both(lab, run_module, conn):
    facts = mirror(run_module, conn, "vol15", "vol15_m")
    for extra in ({}, {"sync_state": "fractured"}, {"sync_type": "clone"}):
        refused(lab, run_module, conn(source="vol16", target="vol15_m", **extra),
                f"vol15_m is already the target of vol15 (DeviceID {facts['source_device_id']}), not of vol16")
    bulk = run_module("smis_sync", conn(synchronizations=[{"source": "vol16", "target": facts["target_device_id"]}]))
    assert bulk["failed"] and "is already the target of vol15" in bulk["synchronizations"][0]["msg"]
    assert ok(run_module, conn(source="vol15", target="vol15_m"))["changed"] is False
