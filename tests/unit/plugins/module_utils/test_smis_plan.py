"""The SMI-S planner and fact mapping: pure data in, ordered actions and normalized facts out."""

from __future__ import annotations

import datetime

import pytest
import pywbem

from ansible_collections.storage.replication.plugins.module_utils._common import ReplicationError
from ansible_collections.storage.replication.plugins.module_utils._smis import (
    job_facts, legacy_sync_type, normalized_state, op_label, replication_type, sync_facts)
from ansible_collections.storage.replication.plugins.module_utils._smis_plan import (
    build_items, final_state, plan, predict, validate_item)


def item(**kw):
    base = {"source": "vol1", "target": "vol1_m", "state": "present", "interface": "auto"}
    base.update(kw)
    return base


def pair(copy_state=4, **kw):
    base = {"source": "vol1", "target": "vol1_m", "source_device_id": "201", "target_device_id": "209",
            "copy_state_value": copy_state, "progress_status_value": 2, "transferring": False, "healthy": True,
            "sync_type": "mirror", "mode": "sync", "age_seconds": 0, "state": "synchronized"}
    base.update(kw)
    return base


# create, converge ---------------------------------------------------------------------------------------
def test_a_missing_pair_is_created_and_waited_for():
    assert plan(item(), None) == ["create", "wait_synchronized"]
    assert plan(item(sync_state="split"), None) == ["create", "wait_synchronized", "split", "wait_split"]


def test_a_converged_pair_needs_nothing():
    assert plan(item(), pair()) == []
    assert plan(item(sync_state="synchronized"), pair()) == []
    assert plan(item(sync_state="fractured"), pair(6)) == []
    assert plan(item(resync=True), pair()) == []  # a synchronized mirror has nothing to resync
    assert plan(item(mode="sync"), pair()) == []


def test_no_sync_state_leaves_an_existing_pair_alone():
    for state in (5, 6, 7, 9, 10, 12, 18):
        assert plan(item(), pair(state)) == []


@pytest.mark.parametrize("current,expected", [
    (6, ["resync", "wait_synchronized"]), (7, ["resync", "wait_synchronized"]),
    (5, ["resync", "wait_synchronized"]), (12, ["resync", "wait_synchronized"]),
    (18, ["resync", "wait_synchronized"]), (9, ["resume", "wait_synchronized"]),
    (10, ["failback", "wait_synchronized"]), (8, ["activate", "wait_synchronized"]),
])
def test_synchronized_is_reached_with_the_operation_of_the_current_copy_state(current, expected):
    assert plan(item(sync_state="synchronized"), pair(current)) == expected


def test_other_states_pass_through_synchronized():
    assert plan(item(sync_state="fractured"), pair()) == ["fracture", "wait_fractured"]
    assert plan(item(sync_state="split"), pair(6)) == ["resync", "wait_synchronized", "split", "wait_split"]
    assert plan(item(sync_state="suspended"), pair(7)) == ["resync", "wait_synchronized", "suspend",
                                                           "wait_suspended"]


def test_failover_goes_directly_from_broken_fractured_split_and_suspended():
    for state in (4, 5, 6, 7, 9):
        assert plan(item(sync_state="failed_over"), pair(state)) == ["failover", "wait_failed_over"]
    assert plan(item(sync_state="failed_over"), pair(12)) == ["resync", "wait_synchronized", "failover",
                                                              "wait_failed_over"]
    assert plan(item(sync_state="failed_over"), pair(10)) == []


def test_a_running_copy_is_waited_for_and_that_is_no_change():
    copying = pair(3, transferring=True, progress_status_value=6)
    assert plan(item(sync_state="synchronized"), copying) == ["wait_synchronized"]
    assert plan(item(sync_state="fractured"), copying) == ["wait_synchronized", "fracture", "wait_fractured"]
    restoring = pair(7, transferring=True, progress_status_value=8)
    assert plan(item(), restoring) == ["wait_restored"]
    assert plan(item(restore=True), restoring) == ["wait_restored"]


# mode ---------------------------------------------------------------------------------------------------
def test_mode_of_a_mirror_changes_while_synchronized():
    assert plan(item(mode="async"), pair()) == ["reset_to_async", "wait_synchronized"]
    assert plan(item(mode="async", sync_state="split"), pair()) == ["reset_to_async", "wait_synchronized", "split",
                                                                    "wait_split"]
    assert plan(item(mode="sync", sync_state="synchronized"), pair(9, mode="async")) == \
        ["resume", "wait_synchronized", "reset_to_sync", "wait_synchronized"]
    with pytest.raises(ReplicationError, match="only while it is synchronized"):
        plan(item(mode="async", sync_state="fractured"), pair(6))


def test_mode_of_a_clone_or_snapshot_is_fixed():
    with pytest.raises(ReplicationError, match="chosen when it is created"):
        plan(item(mode="sync"), pair(sync_type="clone", mode="async"))
    assert plan(item(mode="async"), pair(sync_type="clone", mode="async")) == []


def test_another_kind_of_pair_is_not_silently_accepted():
    with pytest.raises(ReplicationError, match="is a clone, not a mirror"):
        plan(item(sync_type="mirror"), pair(sync_type="clone"))


# events -------------------------------------------------------------------------------------------------
def test_restore_is_done_once_the_pair_shows_restored():
    assert plan(item(restore=True), pair(7)) == ["restore", "wait_restored"]
    assert plan(item(restore=True), pair(18)) == []


def test_restore_that_leaves_no_trace_is_guarded_by_max_lag():
    virtual = pair(8, sync_type="snapshot", age_seconds=3)
    assert plan(item(restore=True), virtual) == ["restore", "wait_restored"]
    assert plan(item(restore=True, max_lag=5), virtual) == []
    assert plan(item(restore=True, max_lag=2), virtual) == ["restore", "wait_restored"]


def test_resync_of_a_clone_is_an_event_and_max_lag_makes_it_idempotent():
    clone = pair(sync_type="clone", mode="async", age_seconds=100)
    assert plan(item(resync=True), clone) == ["resync", "wait_synchronized"]
    assert plan(item(resync=True, max_lag=200), clone) == []
    assert plan(item(max_lag=50), clone) == ["resync", "wait_synchronized"]
    assert plan(item(max_lag=500), clone) == []
    assert plan(item(max_lag=50), pair(sync_type="clone", age_seconds=None)) == ["resync", "wait_synchronized"]
    assert plan(item(max_lag=50), pair(age_seconds=100)) == []  # mirrors keep themselves in step
    assert plan(item(resync=True), pair(8, sync_type="snapshot")) == ["resync", "wait_synchronized"]


def test_resync_true_of_a_failed_over_mirror_asks_for_failback_explicitly():
    with pytest.raises(ReplicationError, match="sync_state: synchronized to fail back"):
        plan(item(resync=True), pair(10))
    assert plan(item(resync=True), pair(6)) == ["resync", "wait_synchronized"]


def test_start_and_stop_copy():
    clone = pair(sync_type="clone", age_seconds=10)
    assert plan(item(start_copy=True), clone) == ["start_copy", "wait_copied"]
    assert plan(item(start_copy=True, max_lag=60), clone) == []
    running = pair(3, sync_type="clone", transferring=True, progress_status_value=7)
    assert plan(item(start_copy=True), running) == ["wait_synchronized"]
    assert plan(item(stop_copy=True), running) == ["stop_copy", "wait_stopped"]
    assert plan(item(stop_copy=True), clone) == []
    assert plan(item(stop_copy=True), None) == []


def test_events_need_an_existing_pair():
    for event in ("restore", "start_copy"):
        with pytest.raises(ReplicationError, match="create it first"):
            plan(item(**{event: True}), None)
    with pytest.raises(ReplicationError, match="Resync Replica"):
        plan(item(operation=14, interface="replication_service"), None)


def test_reverse_swaps_only_when_the_pair_runs_the_other_way():
    other = pair(source="vol1_m", target="vol1", source_device_id="209", target_device_id="201")
    assert plan(item(reverse=True), None, other) == ["reverse"]
    assert plan(item(reverse=True), pair()) == []
    assert plan(item(reverse=True, sync_state="split"), None, other) == ["reverse", "split", "wait_split"]
    with pytest.raises(ReplicationError, match="opposite direction"):
        plan(item(), None, other)


def test_operation_escape_hatch():
    hatch = item(operation=12, interface="replication_service")
    assert plan(hatch, pair()) == ["operation_12", "wait_idle"]
    assert plan(hatch, pair(6)) == []  # already fractured
    assert plan(item(operation=9, interface="replication_service"), None) == []  # Dissolve of a gone pair
    legacy = item(operation=12, interface="configuration_service")  # Start Copy: an event every time
    assert plan(legacy, pair(sync_type="clone")) == ["operation_12", "wait_idle"]
    assert plan(item(operation=13, interface="configuration_service"), None) == []  # Stop Copy, pair gone


# absent -------------------------------------------------------------------------------------------------
def test_absent_detaches_in_either_direction_and_waits_for_a_running_copy():
    assert plan(item(state="absent"), pair()) == ["detach"]
    assert plan(item(state="absent"), None, pair()) == ["detach"]
    assert plan(item(state="absent"), pair(3, transferring=True)) == ["wait_idle", "detach"]
    assert plan(item(state="absent"), None) == []


# predictions --------------------------------------------------------------------------------------------
def test_final_state_and_predicted_facts():
    assert final_state(6, ["resync", "wait_synchronized", "split", "wait_split"]) == 7
    assert final_state(4, ["detach"]) is None
    assert final_state(4, ["operation_12", "wait_idle"]) == 6
    assert final_state(4, ["operation_3", "wait_idle"], legacy=True) == 6
    assert final_state(3, ["wait_synchronized"]) == 4
    after = predict(pair(6), item(sync_state="split"), ["resync", "wait_synchronized", "split", "wait_split"])
    assert (after["state"], after["copy_state"], after["healthy"]) == ("split", "Split", True)
    assert predict(pair(), item(state="absent"), ["detach"]) is None
    new = predict(None, item(sync_type="clone"), ["create", "wait_synchronized"])
    assert (new["source"], new["target"], new["state"], new["sync_type"], new["mode"]) == \
        ("vol1", "vol1_m", "synchronized", "clone", "async")
    swapped = predict(pair(source="vol1_m", target="vol1"), item(reverse=True), ["reverse"])
    assert (swapped["source"], swapped["target"]) == ("vol1", "vol1_m")
    assert predict(pair(), item(mode="async"), ["reset_to_async", "wait_synchronized"])["mode"] == "async"


# validation --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,message", [
    ({"source": "vol1", "target": "vol1"}, "same volume"),
    ({"source": "", "target": "x"}, "source is required"),
    ({"restore": True, "start_copy": True}, "separate events"),
    ({"restore": True, "sync_state": "split"}, "cannot be combined"),
    ({"state": "absent", "sync_state": "split"}, "only apply to state=present"),
    ({"operation": 12}, "needs interface"),
    ({"operation": 14, "interface": "configuration_service"}, "not a ModifySynchronization operation"),
    ({"operation": 1, "interface": "replication_service"}, "not a ModifyReplicaSynchronization operation"),
    ({"max_lag": -1}, "zero or more"),
    ({"stop_copy": True, "max_lag": 5}, "not to stop_copy"),
])
def test_bad_input_fails_before_any_request(bad, message):
    with pytest.raises(ReplicationError, match=message):
        validate_item(item(**bad))


def test_bulk_items_inherit_task_options_and_may_not_repeat_a_target():
    params = {"synchronizations": [{"source": "a", "target": "b"}, {"source": "c", "target": "d", "mode": "async"}],
              "mode": "sync", "sync_state": "split", "interface": "auto"}
    items = build_items(params)
    expected = [("sync", "split", True), ("async", "split", True)]
    assert [(i["mode"], i["sync_state"], i["create_target"]) for i in items] == expected
    with pytest.raises(ReplicationError, match="listed twice"):
        build_items({"synchronizations": [{"source": "a", "target": "b"}, {"source": "c", "target": "b"}]})


# fact mapping ------------------------------------------------------------------------------------------
def _volume(dev):
    return pywbem.CIMInstanceName("LAB_StorageVolume", {"SystemCreationClassName": "LAB_StorageSystem",
                                                        "SystemName": "b", "CreationClassName": "LAB_StorageVolume",
                                                        "DeviceID": dev}, namespace="root/cimv2")


def _sync(**props):
    path = pywbem.CIMInstanceName("LAB_StorageSynchronized", {"SystemElement": _volume("201"),
                                                              "SyncedElement": _volume("209")})
    return pywbem.CIMInstance("LAB_StorageSynchronized", properties=props, path=path)


def test_sync_facts_normalize_a_mirror_and_its_lag():
    synced = datetime.datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=datetime.timezone.utc)
    inst = _sync(CopyState=pywbem.Uint16(4), ProgressStatus=pywbem.Uint16(2), SyncState=pywbem.Uint16(6),
                 SyncType=pywbem.Uint16(6), Mode=pywbem.Uint16(3), CopyType=pywbem.Uint16(2),
                 PercentSynced=pywbem.Uint16(100), WhenSynced=pywbem.CIMDateTime(synced))
    facts = sync_facts(inst, {"201": "vol1", "209": "vol1_m"}, synced + datetime.timedelta(seconds=90))
    assert (facts["source"], facts["target"], facts["source_device_id"]) == ("vol1", "vol1_m", "201")
    assert (facts["state"], facts["copy_state"], facts["sync_state"]) == ("synchronized", "Synchronized",
                                                                          "Synchronized")
    assert (facts["mode"], facts["sync_type"], facts["copy_type"], facts["replication_type"]) == \
        ("async", "mirror", "Async", 3)
    assert facts["lag_seconds"] == 90 and facts["recovery_point"] == "2026-01-01T12:00:00+00:00"
    assert facts["healthy"] and not facts["transferring"]


def test_sync_facts_of_copies_broken_pairs_and_running_work():
    clone = sync_facts(_sync(CopyState=pywbem.Uint16(5), SyncType=pywbem.Uint16(8), SyncState=pywbem.Uint16(12)),
                       {})
    assert (clone["state"], clone["healthy"], clone["lag_seconds"], clone["when_synced"]) == \
        ("broken", False, None, None)
    assert clone["source"] == "201"  # no ElementName known: the DeviceID
    restoring = sync_facts(_sync(CopyState=pywbem.Uint16(6), ProgressStatus=pywbem.Uint16(8)), {})
    assert restoring["state"] == "restoring" and restoring["transferring"]
    assert normalized_state(12, 2) == "aborted" and normalized_state(3, 12) == "failing_back"
    assert normalized_state(10, 2) == "failed_over"


def test_jobs_are_judged_by_operational_status():
    def job(state, status, **extra):
        path = pywbem.CIMInstanceName("TPD_ConcreteJob", {"InstanceID": "a:JOB:1"})
        props = {"JobState": pywbem.Uint16(state), "OperationalStatus": [pywbem.Uint16(s) for s in status]}
        props.update(extra)
        return job_facts(pywbem.CIMInstance("TPD_ConcreteJob", properties=props, path=path))
    assert job(4, [2])["terminal"] is False
    assert job(7, [2, 17])["ok"] and job(7, [17, 2])["ok"]
    assert not job(7, [17, 6])["ok"] and job(7, [17, 6])["terminal"]  # HPE 3PAR: failed yet Completed
    assert not job(10, [6, 17])["ok"] and not job(8, [14])["ok"]


def test_type_and_operation_tables():
    assert replication_type("mirror", "sync") == 2 and replication_type("clone", "async") == 11
    assert replication_type("snapshot", None) == 6
    assert legacy_sync_type("clone", "async") == 4 and legacy_sync_type("clone", "sync") == 6
    assert legacy_sync_type("snapshot", None) == 5 and legacy_sync_type("mirror", "sync") == 3
    assert legacy_sync_type("clone", None, copy_type=4, replica_type=2) == 4
    assert legacy_sync_type("snapshot", None, copy_type=4, replica_type=4) == 5
    assert op_label(12) == "Fracture (12)" and op_label(12, legacy=True) == "Start Copy (12)"
    assert op_label(0x8001) == "vendor-specific (32769)"
