"""The ShadowImage planner and its pure helpers: data in, ordered actions (or a clear refusal) out."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.module_utils._common import ReplicationError
from ansible_collections.storage.replication.plugins.module_utils._shadowimage_plan import (
    build_items, group_view, plan, plan_group, predict_pair, validate_item)
from ansible_collections.storage.replication.plugins.module_utils._vsp import (
    job_operations, pair_facts, pair_history, pair_state, vsp_error)

STATUSES = {"paired": ("PAIR", "PAIR"), "split": ("PSUS", "SSUS"), "copying": ("COPY", "COPY"),
            "restoring": ("RCPY", "RCPY"), "suspended_error": ("PSUE", "PSUE"), "simplex": ("SMPL", "SMPL")}


def item(**kw):
    base = {"copy_group": "cg", "pair_name": "p1", "pvol": 256, "svol": 512, "state": "present", "pair_state": None,
            "restore": False}
    base.update(kw)
    return base


def pair(state="paired", **kw):
    pstat, sstat = STATUSES[state]
    base = {"copy_group": "cg", "pair_name": kw.pop("pair_name", "p1"), "pvol": 256, "svol": 512, "mu_number": 0,
            "consistency_group": None, "state": state, "pvol_status": pstat, "svol_status": sstat,
            "pair_id": "cg,cgP_,cgS_,p1"}
    base.update(kw)
    return base


# states ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pvol_status, svol_status, expected", [
    ("PAIR", "PAIR", "paired"), ("PSUS", "SSUS", "split"), ("COPY", "COPY", "copying"), ("RCPY", "RCPY", "restoring"),
    ("PSUE", "PSUE", "suspended_error"), ("PSUS", "PSUE", "suspended_error"), ("SMPL", "SMPL", "simplex"),
    ("PSUS", "PAIR", "unknown"), ("PFUL", "PFUL", "unknown"),
])
def test_state_comes_from_both_sides(pvol_status, svol_status, expected):
    assert pair_state(pvol_status, svol_status) == expected


def test_pair_facts_are_normalized_from_the_record():
    facts = pair_facts({"localCloneCopypairId": "cg,grpP,grpS,p1", "copyGroupName": "cg", "copyPairName": "p1",
                        "replicationType": "SI", "copyProgressRate": 42, "pvolLdevId": 256, "svolLdevId": 512,
                        "pvolMuNumber": 1, "pvolStatus": "COPY", "svolStatus": "COPY", "consistencyGroupId": -1})
    assert facts["state"] == "copying" and facts["transferring"] and facts["healthy"]
    assert (facts["pvol_device_group"], facts["svol_device_group"]) == ("grpP", "grpS")
    assert facts["copy_group_id"] == "cg,grpP,grpS"
    assert facts["consistency_group"] is None and facts["progress"] == 42 and facts["mu_number"] == 1
    assert facts["lag_seconds"] is None and facts["recovery_point"] is None
    psue = pair_facts({"pvolStatus": "PSUE", "svolStatus": "PSUE", "consistencyGroupId": 3})
    assert not psue["healthy"] and psue["consistency_group"] == 3 and psue["pvol"] is None


def test_group_view_summarizes_its_pairs():
    view = group_view("cg", "cg,cgP_,cgS_", [pair("split"), pair("paired", pair_name="p2")])
    assert view["state"] == "mixed" and view["pair_count"] == 2 and view["svol_device_group"] == "cgS_"
    assert group_view("cg", None, [])["state"] is None


# one pair ----------------------------------------------------------------------------------------
def test_a_converged_pair_needs_nothing():
    assert not plan(item(), pair("paired"))
    assert not plan(item(pair_state="split"), pair("split"))
    assert not plan(item(state="absent"), None)


def test_a_new_pair_is_created_and_waited_for():
    assert plan(item(), None) == ["create", "wait_paired"]
    assert plan(item(svol={"pool_id": 0}), None, create_svol=True) == ["create_svol", "create", "wait_paired"]


def test_a_new_split_pair_uses_auto_split_unless_it_joins_a_consistency_group():
    assert plan(item(pair_state="split"), None) == ["create", "wait_split"]
    assert plan(item(auto_split=True), None) == ["create", "wait_split"]
    assert plan(item(pair_state="split", consistency_group=3), None) == ["create", "wait_paired", "split", "wait_split"]


@pytest.mark.parametrize("current, expected", [
    ("paired", []),
    ("copying", ["wait_paired"]),
    ("restoring", ["wait_paired"]),
    ("split", ["resync", "wait_paired"]),
    ("suspended_error", ["resync", "wait_paired"]),
])
def test_reaching_paired_depends_on_where_it_is(current, expected):
    assert plan(item(pair_state="paired"), pair(current)) == expected


@pytest.mark.parametrize("current, expected", [
    ("split", []),
    ("paired", ["split", "wait_split"]),
    ("copying", ["wait_settled", "split", "wait_split"]),
    ("restoring", ["wait_settled", "split", "wait_split"]),
    ("suspended_error", ["resync", "wait_paired", "split", "wait_split"]),
])
def test_reaching_split_depends_on_where_it_is(current, expected):
    assert plan(item(pair_state="split"), pair(current)) == expected


def test_delete_waits_for_a_restore_to_finish_first():
    assert plan(item(state="absent"), pair("split")) == ["delete", "wait_deleted"]
    assert plan(item(state="absent"), pair("copying")) == ["delete", "wait_deleted"]
    assert plan(item(state="absent"), pair("restoring")) == ["wait_paired", "delete", "wait_deleted"]
    assert plan(item(state="absent"), pair("simplex")) == ["wait_deleted"]


def test_a_pair_cannot_be_created_without_its_volumes():
    with pytest.raises(ReplicationError, match="give pvol and svol to create it"):
        plan(item(pvol=None, svol=None), None)


@pytest.mark.parametrize("override, message", [
    ({"pvol": 300}, "P-VOL 256 \\(not 300\\)"),
    ({"svol": 600}, "S-VOL 512 \\(not 600\\)"),
    ({"svol": {"pool_id": 0, "ldev_id": 700}}, "S-VOL 512 \\(not 700\\)"),
    ({"mu_number": 2}, "MU 0 \\(not 2\\)"),
    ({"consistency_group": 4}, "consistency group None \\(not 4\\)"),
])
def test_an_existing_pair_with_other_volumes_is_an_error_not_a_no_op(override, message):
    with pytest.raises(ReplicationError, match=message):
        plan(item(**override), pair("paired"))


def test_an_unknown_status_is_not_acted_on():
    with pytest.raises(ReplicationError, match="a status this module does not act on"):
        plan(item(), dict(pair("paired"), state="unknown", pvol_status="PFUL"))


# restore -----------------------------------------------------------------------------------------
def test_restore_is_performed_from_split_only():
    assert plan(item(restore=True), pair("split"), ["split", "resync"]) == ["restore", "wait_paired"]
    assert plan(item(restore=True), pair("restoring"), []) == ["wait_paired"]


def test_restore_on_pair_counts_as_done_only_when_the_array_shows_it_was_the_last_operation():
    assert plan(item(restore=True), pair("paired"), ["restore", "split", "resync"]) == []
    for history in (["resync", "restore"], ["create"], []):
        with pytest.raises(ReplicationError, match="needs the pair split") as refused:
            plan(item(restore=True), pair("paired"), history)
    assert "holds no operation on this pair" in str(refused.value)
    with pytest.raises(ReplicationError, match="last operation on this pair was a resync"):
        plan(item(restore=True), pair("paired"), ["resync", "restore"])


@pytest.mark.parametrize("current", ["copying", "suspended_error"])
def test_restore_is_refused_from_other_statuses(current):
    with pytest.raises(ReplicationError, match="needs the pair split"):
        plan(item(restore=True), pair(current), ["restore"])


def test_restore_of_a_missing_pair_is_refused():
    with pytest.raises(ReplicationError, match="does not exist"):
        plan(item(restore=True), None)


def test_restore_then_split_is_rerunnable():
    wanted = item(restore=True, pair_state="split")
    assert plan(wanted, pair("split"), ["split", "resync"]) == ["restore", "wait_paired", "split", "wait_split"]
    assert plan(wanted, pair("split"), ["split", "restore", "split"]) == []
    # an earlier run restored but did not get to the split
    assert plan(wanted, pair("paired"), ["restore", "split"]) == ["split", "wait_split"]
    assert plan(wanted, pair("restoring"), []) == ["wait_paired", "split", "wait_split"]


# copy groups -------------------------------------------------------------------------------------
def group_item(**kw):
    return item(pair_name=None, pvol=None, svol=None, **kw)


def test_copy_group_operations_act_on_every_pair_at_once():
    split = [pair("split", pair_name=f"p{n}") for n in range(3)]
    paired = [pair("paired", pair_name=f"p{n}") for n in range(3)]
    assert plan_group(group_item(pair_state="split"), paired) == ["split", "wait_split"]
    assert plan_group(group_item(pair_state="split"), split) == []
    assert plan_group(group_item(), split) == ["resync", "wait_paired"]
    assert plan_group(group_item(), paired) == []
    assert plan_group(group_item(), paired[:2] + [pair("copying", pair_name="p2")]) == ["wait_paired"]
    assert plan_group(group_item(pair_state="split"), split[:2] + [pair("paired", pair_name="p2")]) == \
        ["split", "wait_split"]
    assert plan_group(group_item(pair_state="split"), paired[:2] + [pair("copying", pair_name="p2")]) == \
        ["wait_settled", "split", "wait_split"]
    assert plan_group(group_item(state="absent"), split) == ["delete", "wait_deleted"]
    assert plan_group(group_item(state="absent"), []) == []


def test_copy_group_restore_needs_every_pair_split():
    split = [pair("split", pair_name=f"p{n}") for n in range(2)]
    assert plan_group(group_item(restore=True), split, {}) == ["restore", "wait_paired"]
    done = [pair("paired", pair_name=f"p{n}") for n in range(2)]
    assert plan_group(group_item(restore=True), done, {"p0": ["restore"], "p1": ["restore"]}) == []
    with pytest.raises(ReplicationError, match="p1 is PAIR/PAIR"):
        plan_group(group_item(restore=True), done, {"p0": ["restore"], "p1": ["resync"]})


def test_a_suspended_pair_stops_a_copy_group_split():
    pairs = [pair("paired", pair_name="p0"), pair("suspended_error", pair_name="p1")]
    with pytest.raises(ReplicationError, match="p1 is PSUE/PSUE, suspended by a failure; resync the copy group"):
        plan_group(group_item(pair_state="split"), pairs)
    assert plan_group(group_item(), pairs) == ["resync", "wait_paired"]


def test_a_copy_group_that_does_not_exist_cannot_be_acted_on():
    with pytest.raises(ReplicationError, match="copy group cg does not exist"):
        plan_group(group_item(pair_state="split"), [])


# prediction --------------------------------------------------------------------------------------
def test_check_mode_predicts_the_target_status():
    after = predict_pair(None, item(pair_state="split"), ["create", "wait_split"], 512)
    assert (after["state"], after["pvol_status"], after["svol_status"], after["svol"]) == ("split", "PSUS", "SSUS", 512)
    assert predict_pair(pair("split"), item(state="absent"), ["delete"]) is None
    unchanged = pair("paired")
    assert predict_pair(unchanged, item(), []) is unchanged


# input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("override, message", [
    ({"copy_group": None}, "copy_group is required"),
    ({"copy_group": "x" * 32}, "is 32 characters long; the array allows at most 29 for a new copy group"),
    ({"copy_group": "a,b"}, "contains a comma"),
    ({"copy_group": "a b"}, "a character the array does not allow"),
    ({"copy_group": "-ab"}, "starts with a hyphen"),
    ({"pair_name": "p" * 32}, "at most 31"),
    ({"pvol": 70000}, "pvol 70000 is out of range"),
    ({"svol": "five"}, "svol must be an integer"),
    ({"svol": {"ldev_id": 9}}, "pool_id is required"),
    ({"svol": {"pool_id": 0, "size": 9}}, "unknown key\\(s\\) size"),
    ({"svol": {"pool_id": 0, "ldev_id": 9, "start_ldev_id": 1}}, "not both"),
    ({"svol": 256}, "pvol and svol are the same LDEV"),
    ({"copy_pace": 16}, "copy_pace 16 is out of range: 1-15"),
    ({"mu_number": 3}, "mu_number 3 is out of range"),
    ({"consistency_group": 128}, "consistency_group 128 is out of range"),
    ({"state": "absent", "restore": True}, "contradict"),
    ({"auto_split": True, "pair_state": "paired"}, "contradicts pair_state=paired"),
    ({"auto_split": True, "consistency_group": 1}, "auto_split in a consistency group"),
    ({"pvol_device_group": "same", "svol_device_group": "same"}, "must have different names"),
    ({"pair_name": None}, "pvol, svol given without pair_name"),
])
def test_bad_input_is_refused_before_any_request(override, message):
    with pytest.raises(ReplicationError, match=message):
        validate_item(item(**override))


def test_svol_as_text_or_dict_is_normalized():
    parsed = item(svol="513")
    validate_item(parsed)
    assert parsed["svol"] == 513
    made = item(svol={"pool_id": "0"})
    validate_item(made)
    assert made["svol"] == {"pool_id": 0, "ldev_id": None, "start_ldev_id": None, "end_ldev_id": None,
                            "data_reduction_mode": None}


def test_bulk_items_take_task_defaults_and_may_not_collide():
    params = {key: None for key in ("pair_name", "pvol", "svol", "pair_state", "copy_pace", "mu_number",
                                    "consistency_group", "pvol_device_group", "svol_device_group")}
    params.update({"copy_group": "cg", "state": "present", "restore": False, "auto_split": False, "quick_mode": False})
    items = build_items(dict(params, pairs=[{"pair_name": "a", "pvol": 1, "svol": 2},
                                            {"pair_name": "b", "pvol": 3, "svol": 4, "copy_group": "other"}]))
    assert [(i["copy_group"], i["pair_name"]) for i in items] == [("cg", "a"), ("other", "b")]
    for pairs, message in (
            ([{"pair_name": "a", "pvol": 1, "svol": 2}, {"pair_name": "a", "pvol": 3, "svol": 4}], "listed twice"),
            ([{"pair_name": "a", "pvol": 1, "svol": 2}, {"pair_name": "b", "pvol": 3, "svol": 2}], "S-VOL of both"),
            ([{"pair_name": "a", "pvol": 1, "svol": 2}, {"pair_name": "b", "pvol": 2, "svol": 4}], "cascaded"),
            ([{"pair_name": "a", "pvol": 1, "svol": 2}, {}], "listed as a whole and by pair"),
    ):
        with pytest.raises(ReplicationError, match=message):
            build_items(dict(params, pairs=pairs))


# job history and errors --------------------------------------------------------------------------
def job(job_id, method, url, state="Succeeded", body=None):
    out = {"jobId": job_id, "status": "Completed", "state": state,
           "request": {"requestUrl": url, "requestMethod": method}}
    if body is not None:
        out["request"]["requestBody"] = body
    return out


def test_the_job_history_tells_the_last_operation_on_a_pair():
    base = "/ConfigurationManager/v1/objects"
    jobs = [
        job(1, "POST", f"{base}/local-clone-copypairs", body='{"copyGroupName": "cg", "copyPairName": "p1"}'),
        job(2, "POST", f"{base}/local-clone-copypairs/cg,cgP_,cgS_,p1/actions/split/invoke"),
        job(3, "PUT", f"{base}/storages/886000410001/local-clone-copypairs/cg%2CcgP_%2CcgS_%2Cp1/actions/restore/invoke"),
        job(4, "POST", f"{base}/local-clone-copypairs/cg,cgP_,cgS_,p2/actions/resync/invoke"),
        job(5, "POST", f"{base}/local-clone-copygroups/cg,cgP_,cgS_/actions/split/invoke"),
        job(6, "POST", f"{base}/local-clone-copypairs/cg,cgP_,cgS_,p1/actions/resync/invoke", state="Failed"),
        job(7, "GET", f"{base}/ldevs/5"),
        job(8, "DELETE", f"{base}/local-clone-copypairs/other,otherP_,otherS_,p1"),
    ]
    operations = job_operations(reversed(jobs))
    assert [op[0] for op in operations] == [8, 5, 4, 3, 2, 1]
    assert pair_history(operations, "cg", "p1") == ["split", "restore", "split", "create"]
    assert pair_history(operations, "cg", "p2") == ["split", "resync"]
    assert pair_history(operations, "other", "p1") == ["delete"]


def test_array_errors_keep_the_arrays_own_words():
    message, code = vsp_error(412, {"errorSource": "/x", "messageId": "KART30090-E", "message": "Not allowed.",
                                    "cause": "Status.", "solution": "Check.", "errorCode": {"SSB1": "2E10",
                                                                                            "SSB2": "9A23"}})
    assert code == "KART30090-E"
    assert message == "Not allowed. Cause: Status. Solution: Check. (SSB1 2E10, SSB2 9A23)"
    assert vsp_error(503, "<html><body><h1>503 Service Unavailable</h1></body></html>") == \
        ("503 Service Unavailable", None)
    assert vsp_error(500, None) == ("HTTP 500", None)
