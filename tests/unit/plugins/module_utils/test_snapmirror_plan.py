"""The SnapMirror planner: pure data in, ordered actions out."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.module_utils._common import ReplicationError
from ansible_collections.storage.replication.plugins.module_utils._snapmirror_plan import (
    Guard, Observed, plan, plan_observed, validate_item)


def item(**kw):
    base = {"source_path": "svm_a:v1", "destination_path": "svm_b:v1", "state": "present",
            "relationship_state": "snapmirrored"}
    base.update(kw)
    return base


def rel(state="snapmirrored", **kw):
    base = {"state": state, "policy": "Asynchronous", "policy_type": "async", "lag_seconds": 10,
            "transferring": False, "throttle": 0, "transfer_schedule": None, "uuid": "u"}
    base.update(kw)
    return base


def test_converged_relationship_needs_nothing():
    assert not plan(item(), rel())
    assert not plan(item(max_lag=60), rel(lag_seconds=59))


def test_new_relationship_is_created_initialized_and_waited_for():
    assert plan(item(), None, policy_type="async") == ["create", "wait_active"]
    assert plan(item(create_destination={"enabled": True}), None) == ["create_destination", "create", "wait_active"]


def test_existing_destination_that_is_too_small_is_grown_before_the_baseline():
    actions = plan(item(create_destination={"enabled": True}), None, destination_volume={"size": 1},
                   source_volume={"size": 2})
    assert actions == ["grow_destination", "create", "wait_active"]


@pytest.mark.parametrize("current, expected", [
    ("uninitialized", ["initialize", "wait_active"]),
    ("paused", ["resume", "wait_active"]),
    ("broken_off", ["resync", "wait_active"]),
])
def test_reaching_snapmirrored_depends_on_where_it_is(current, expected):
    assert plan(item(), rel(current)) == expected


def test_update_only_when_lag_exceeds_max_lag_or_asked():
    assert plan(item(max_lag=60), rel(lag_seconds=61)) == ["update", "wait_transfer"]
    assert plan(item(update=True), rel(lag_seconds=0)) == ["update", "wait_transfer"]
    # a resync already brings it up to date: no second transfer
    assert plan(item(max_lag=60), rel("broken_off", lag_seconds=5000)) == ["resync", "wait_active"]


def test_sync_policies_are_active_in_sync_and_never_updated_on_demand():
    assert not plan(item(update=True), rel("in_sync", policy_type="sync"))
    assert plan(item(), rel("out_of_sync", policy_type="sync")) == ["resync", "wait_active"]


def test_break_quiesces_first_and_mounts_when_asked():
    assert plan(item(relationship_state="broken_off", junction_path="/v1"), rel()) == \
        ["quiesce", "wait_paused", "break", "wait_broken_off", "mount"]
    assert plan(item(relationship_state="broken_off"), rel("paused")) == ["break", "wait_broken_off"]


def test_broken_relationship_already_mounted_needs_nothing():
    assert not plan(item(relationship_state="broken_off", junction_path="/v1"), rel("broken_off"),
                    destination_volume={"junction_path": "/v1"})
    assert plan(item(relationship_state="broken_off", junction_path="/v1"), rel("broken_off"),
                destination_volume={"junction_path": None}) == ["mount"]


def test_planned_failover_updates_before_the_quiesce():
    assert plan(item(relationship_state="broken_off", update=True), rel()) == \
        ["update", "wait_transfer", "quiesce", "wait_paused", "break", "wait_broken_off"]


def test_planned_failover_resumes_a_relationship_quiesced_by_someone_else_and_transfers_first():
    # the source may hold writes the quiesced destination never got: an update asked for reaches them first
    assert plan(item(relationship_state="broken_off", update=True), rel("paused")) == \
        ["resume", "wait_active", "update", "wait_transfer", "quiesce", "wait_paused", "break", "wait_broken_off"]
    # without update (unplanned, the source gone) the quiesced relationship is broken as it is
    assert plan(item(relationship_state="broken_off"), rel("paused")) == ["break", "wait_broken_off"]


def test_breaking_an_uninitialized_relationship_is_refused():
    with pytest.raises(ReplicationError, match="not initialized"):
        plan(item(relationship_state="broken_off"), rel("uninitialized"))


def test_configuration_changes_come_first():
    assert plan(item(policy="MirrorLatest", relationship_state="paused"), rel()) == \
        ["modify", "quiesce", "wait_paused"]
    assert plan(item(transfer_schedule=""), rel(transfer_schedule="hourly")) == ["modify"]
    assert not plan(item(transfer_schedule=""), rel(transfer_schedule=None))
    assert plan(item(throttle=100), rel()) == ["modify"]


def test_absent_aborts_a_running_transfer_then_deletes():
    assert plan(item(state="absent"), rel(transferring=True)) == ["abort", "wait_idle", "delete"]
    assert plan(item(state="absent"), rel()) == ["delete"]
    assert not plan(item(state="absent"), None)
    assert plan(item(state="absent"), None, opposite=rel()) == ["release"]


def test_reverse_needs_to_be_asked_for():
    opposite = rel("broken_off", source_path="svm_b:v1", destination_path="svm_a:v1")
    with pytest.raises(ReplicationError, match="reverse: true"):
        plan(item(), None, opposite=opposite)
    assert plan(item(reverse=True), None, opposite=opposite) == ["reverse", "wait_active"]


@pytest.mark.parametrize("bad, message", [
    ({"destination_path": "vol1"}, "<svm>:<volume>"),
    ({"source_path": "svm_a:"}, "<svm>:<volume>"),
    ({"destination_path": "svm_b:/cg/x"}, "FlexVol"),
    ({"destination_path": "svm_a:v1"}, "the same"),
    ({"max_lag": -1}, "max_lag"),
    ({"junction_path": "v1"}, "junction_path"),
])
def test_bad_items_fail_validation(bad, message):
    with pytest.raises(ReplicationError, match=message):
        validate_item(item(**bad))


def test_a_resync_of_a_broken_relationship_names_what_it_overwrites():
    broken = rel("broken_off", exported_snapshot="s1")
    actions = plan_observed(item(), Observed(current=broken, guard=Guard(volume={"uuid": "v"}, discarded_bytes=7)))
    assert actions == ["resync", "wait_active"]
    assert (actions[0].at_stake, actions[0].args["verb"]) == (7, "resync") and "s1" in actions[0].overwrites
    with pytest.raises(ReplicationError, match="cannot tell"):
        plan_observed(item(), Observed(current=broken, guard=Guard()))
    with pytest.raises(ReplicationError, match="is gone"):
        plan_observed(item(), Observed(current=broken, guard=Guard(volume={"uuid": "v"})))
    assert plan_observed(item(allow_data_loss=True), Observed(current=broken)) == ["resync", "wait_active"]


def test_a_reverse_without_a_common_snapshot_rebaselines_only_when_allowed():
    opposite = rel("broken_off", source_path="svm_b:v1", destination_path="svm_a:v1")
    volume = {"uuid": "v", "size": 4, "aggregates": [{"name": "aggr1"}], "nas": {"path": "/v1"}}
    none = Observed(opposite=opposite, guard=Guard(volume=volume))
    with pytest.raises(ReplicationError, match="no common snapshot"):
        plan_observed(item(reverse=True), none)
    rebaseline = plan_observed(item(reverse=True, allow_full_baseline=True), none)
    assert rebaseline == ["rebaseline", "wait_active"] and rebaseline[0].args["unmount"] is True
    common = Observed(opposite=opposite, guard=Guard(volume=volume, common_snapshot="s1", discarded_bytes=0))
    reverse = plan_observed(item(reverse=True), common)
    assert reverse == ["reverse", "wait_active"] and reverse[0].at_stake == 0
    assert reverse[0].args["common_snapshot"] == "s1"
    with pytest.raises(ReplicationError, match="a volume of the pair is missing"):
        plan_observed(item(reverse=True), Observed(opposite=opposite, guard=Guard(missing=True)))


def test_a_relationship_from_another_source_is_refused():
    with pytest.raises(ReplicationError, match="replicates from svm_a:v2"):
        plan(item(), rel(source_path="svm_a:v2"))
