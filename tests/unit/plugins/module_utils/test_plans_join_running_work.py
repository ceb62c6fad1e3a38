"""Plans of a rerun while the array still works: the running transfer or copy is joined (a wait that asks for a
new plan once it ended), never started a second time (issue 14, item 4). Pure data in, actions out."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.module_utils._shadowimage_plan import plan as pair_plan
from ansible_collections.storage.replication.plugins.module_utils._shadowimage_plan import plan_group
from ansible_collections.storage.replication.plugins.module_utils._snapmirror_plan import plan as relationship_plan


def relationship(state="snapmirrored", transfer=None, **kw):
    base = {"state": state, "policy": "Asynchronous", "policy_type": "async", "lag_seconds": 900, "throttle": 0,
            "transfer_schedule": None, "uuid": "u", "transferring": transfer is not None,
            "transfer": {"state": "transferring", "type": transfer, "uuid": "t"} if transfer else None}
    base.update(kw)
    return base


def item(**kw):
    return dict({"source_path": "svm_a:v1", "destination_path": "svm_b:v1", "state": "present"}, **kw)


def replans(actions):
    return [str(a) for a in actions if a.args.get("replan")]


@pytest.mark.parametrize("options, expected", [
    ({"update": True}, ["wait_idle", "update", "wait_transfer"]),
    ({"max_lag": 60}, ["wait_idle", "update", "wait_transfer"]),
    ({"update": True, "relationship_state": "broken_off"},
     ["wait_idle", "update", "wait_transfer", "quiesce", "wait_paused", "break", "wait_broken_off"]),
])
def test_an_update_asked_for_while_one_runs_waits_for_it_first(options, expected):
    actions = relationship_plan(item(**options), relationship(transfer="update"))
    assert actions == expected
    assert replans(actions) == ["wait_idle"], "whether the update is still needed is decided once the running one ended"


def test_a_running_update_within_max_lag_or_without_update_is_left_alone():
    assert relationship_plan(item(max_lag=3600), relationship(transfer="update")) == []
    assert relationship_plan(item(relationship_state="paused"), relationship(transfer="update")) == \
        ["quiesce", "wait_paused"], "a quiesce lets the running transfer finish: nothing to join"


@pytest.mark.parametrize("state, transfer", [
    ("uninitialized", "initialize"), ("broken_off", "resync"), ("out_of_sync", "resync"),
])
def test_a_baseline_or_resync_that_runs_is_joined_not_asked_for_again(state, transfer):
    current = relationship(state, transfer, policy_type="sync" if state == "out_of_sync" else "async")
    actions = relationship_plan(item(), current)
    assert actions == ["wait_active"] and replans(actions) == ["wait_active"]


def pair(state, name="p1"):
    statuses = {"split": ("PSUS", "SSUS"), "copying": ("COPY", "COPY"), "paired": ("PAIR", "PAIR")}[state]
    return {"copy_group": "cg", "pair_name": name, "pvol": 256, "svol": 512, "mu_number": 0,
            "consistency_group": None, "state": state, "pvol_status": statuses[0], "svol_status": statuses[1]}


def test_a_restore_and_split_rerun_joins_the_split_that_still_copies():
    restore = {"copy_group": "cg", "pair_name": "p1", "pvol": 256, "svol": 512, "state": "present",
               "pair_state": "split", "restore": True}
    assert pair_plan(restore, pair("copying"), ["split", "restore"]) == ["wait_settled"]
    group = dict(restore, pair_name=None, pvol=None, svol=None)
    pairs = [pair("copying", "p1"), pair("split", "p2")]
    history = {"p1": ["split", "restore"], "p2": ["split", "restore"]}
    assert plan_group(group, pairs, history) == ["wait_settled"]


def test_a_copy_that_is_not_the_split_of_a_restore_is_still_refused_for_a_restore():
    restore = {"copy_group": "cg", "pair_name": "p1", "pvol": 256, "svol": 512, "state": "present",
               "pair_state": "split", "restore": True}
    with pytest.raises(Exception, match="restore of cg/p1 needs the pair split"):
        pair_plan(restore, pair("copying"), ["resync"])
