"""storage.replication.smis_sync against the lab's SMI-S providers, over CIM-XML on HTTPS.

Every step runs in check mode first (the lab logs no mutation), then for real,
then again (reported unchanged). Digests from the control API prove what moved;
the request log proves that refusals and check runs changed nothing.
"""

from __future__ import annotations

import json
import time

import pytest

from storage_replication_lab.client import CLAIMS

from module_helpers import module_args, smis_topology

LAB_TOPOLOGY = smis_topology(
    local=6, remote=8,
    more_local=[{"name": "tiny", "id": 170, "size": "1MiB"}],
    more_remote=[
        {"name": "small", "id": 220, "size": "1MiB"},
        {"name": "dup", "id": 221, "size": "4MiB", "data_blocks": 4},
        {"name": "dup", "id": 222, "size": "4MiB", "data_blocks": 4},
        {"name": "spare", "id": 223, "size": "4MiB"},
    ])
SEED_UNSUPPORTED = {3: "Fracture", 6: "Prepare", 7: "Unprepare", 8: "Quiesce", 9: "Unquiesce", 10: "Reset to Sync",
                    11: "Reset to Async"}


@pytest.fixture
def conn(lab):
    return module_args(lab, "smis-b", wait_timeout=30, namespace=True)


def without(args, *keys):
    return {k: v for k, v in args.items() if k not in keys}


def info_args(lab, array: str = "smis-b", **kwargs):
    return dict(lab.connection(array), namespace=lab.array(array)["namespace"], **kwargs)


@pytest.fixture(autouse=True)
def _clean_knobs(lab):
    yield
    for array in ("smis-a", "smis-b"):
        lab.clear_faults(array)
        lab.settings(array, copy_rate=0, job_retention=300)


def step(lab, run_module, args, expect_actions=None):
    """Check mode (no mutation logged), apply (changed), apply again (unchanged); return the applied result."""
    mark = lab.mark()
    check = run_module("smis_sync", args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True
    assert lab.mutations_since(mark) == []
    applied = run_module("smis_sync", args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True
    assert check["actions"] == applied["actions"]
    if expect_actions is not None:
        assert applied["actions"] == expect_actions
    if check["synchronization"] and applied["synchronization"] and applied["synchronization"]["sync_type"] != "snapshot":
        assert check["synchronization"]["state"] == applied["synchronization"]["state"]
    mark = lab.mark()
    again = run_module("smis_sync", args)
    assert not again["failed"], again
    assert again["changed"] is False and again["actions"] == []
    assert lab.mutations_since(mark) == []
    assert again["requests_sent"] == 2
    return applied


def refused(lab, run_module, args, *fragments):
    """The module fails with a message holding every fragment, and the lab logged no mutation."""
    mark = lab.mark()
    result = run_module("smis_sync", args)
    assert result["failed"], result
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]
    assert lab.mutations_since(mark) == []
    return result


def digest(lab, array, dev):
    return lab.digest(array, dev)


# generic provider (smis-b): a mirror through its life -------------------------------------------------
def test_mirror_through_its_whole_life(lab, run_module, conn):
    base = conn(source="vol1", target="vol1_m")
    created = step(lab, run_module, dict(base, sync_type="mirror", mode="sync", sync_state="synchronized"),
                   ["create", "wait_synchronized"])
    facts = created["synchronization"]
    src, tgt = facts["source_device_id"], facts["target_device_id"]
    assert (facts["source"], facts["target"], src) == ("vol1", "vol1_m", "201")
    assert facts["state"] == "synchronized" and facts["copy_state"] == "Synchronized" and facts["healthy"]
    assert facts["mode"] == "sync" and facts["sync_type"] == "mirror" and facts["transferring"] is False
    assert facts["lag_seconds"] is not None and facts["recovery_point"]
    assert created["diff"]["before"] == {"vol1 -> vol1_m": {}}
    assert created["diff"]["after"]["vol1 -> vol1_m"]["state"] == "synchronized"
    assert digest(lab, "smis-b", tgt) == digest(lab, "smis-b", src)
    assert lab.volume("smis-b", tgt)["host_access"] == "ro"

    lab.write("smis-b", src, 3)
    fractured = step(lab, run_module, dict(base, sync_state="fractured"), ["fracture", "wait_fractured"])
    assert fractured["synchronization"]["copy_state"] == "Fractured"
    assert lab.volume("smis-b", tgt)["host_access"] == "rw"
    lab.write("smis-b", src, 2)
    assert digest(lab, "smis-b", tgt) != digest(lab, "smis-b", src)

    mark = max((tr["id"] for tr in lab.transfers()["finished"]), default=0)
    refused(lab, run_module, dict(base, sync_state="synchronized"), "resync of vol1 -> vol1_m", "up to ",
            "written to the target vol1_m", "allow_data_loss")
    resynced = step(lab, run_module, dict(base, sync_state="synchronized", allow_data_loss=True),
                    ["resync", "wait_synchronized"])
    assert resynced["synchronization"]["state"] == "synchronized"
    assert digest(lab, "smis-b", tgt) == digest(lab, "smis-b", src)
    resync = [tr for tr in lab.transfers(mark)["finished"] if tr["kind"] == "smis-resync"][-1]
    assert resync["blocks"] <= 2, resync  # changed blocks only, not a full copy

    step(lab, run_module, dict(base, sync_state="split"), ["split", "wait_split"])
    lab.write("smis-b", src, 4)
    assert digest(lab, "smis-b", src) != digest(lab, "smis-b", tgt)
    refused(lab, run_module, dict(base, restore=True), "restore of vol1 -> vol1_m", "written to the source vol1")
    restored = step(lab, run_module, dict(base, restore=True, allow_data_loss=True), ["restore", "wait_restored"])
    assert restored["synchronization"]["state"] == "restored"
    assert digest(lab, "smis-b", src) == digest(lab, "smis-b", tgt)

    reversed_ = step(lab, run_module, dict(base, source="vol1_m", target="vol1", reverse=True), ["reverse"])
    assert (reversed_["synchronization"]["source"], reversed_["synchronization"]["target"]) == ("vol1_m", "vol1")
    assert reversed_["synchronization"]["source_device_id"] == tgt
    back = step(lab, run_module, dict(base, reverse=True), ["reverse"])
    assert (back["synchronization"]["source"], back["synchronization"]["target"]) == ("vol1", "vol1_m")

    detached = step(lab, run_module, dict(base, state="absent"), ["detach"])
    assert detached["synchronization"] is None
    info = run_module("smis_sync_info", info_args(lab, volumes=["vol1"]))
    assert info["synchronizations"] == []
    assert lab.volume("smis-b", tgt)["host_access"] == "rw"


def test_a_pair_found_the_other_way_round_needs_reverse(lab, run_module, conn):
    assert not run_module("smis_sync", conn(source="vol2", target="vol2_m"))["failed"]
    refused(lab, run_module, conn(source="vol2_m", target="vol2"), "opposite direction", "reverse: true")


def test_failover_and_failback_bring_the_dr_writes_home(lab, run_module, conn):
    base = conn(source="vol3", target="vol3_m")
    created = run_module("smis_sync", base)
    src, tgt = created["synchronization"]["source_device_id"], created["synchronization"]["target_device_id"]
    failed_over = step(lab, run_module, dict(base, sync_state="failed_over"), ["failover", "wait_failed_over"])
    assert failed_over["synchronization"]["state"] == "failed_over"
    assert lab.volume("smis-b", tgt)["host_access"] == "rw"
    lab.write("smis-b", tgt, 5)
    back = step(lab, run_module, dict(base, sync_state="synchronized"), ["failback", "wait_synchronized"])
    assert back["synchronization"]["state"] == "synchronized"
    assert digest(lab, "smis-b", src) == digest(lab, "smis-b", tgt)
    assert lab.volume("smis-b", src)["blocks_written"] >= 16


def test_mode_changes_with_reset_and_resync_implies_nothing_for_a_synchronized_mirror(lab, run_module, conn):
    base = conn(source="vol4", target="vol4_m")
    assert not run_module("smis_sync", base)["failed"]
    changed = step(lab, run_module, dict(base, mode="async"), ["reset_to_async", "wait_synchronized"])
    assert changed["synchronization"]["mode"] == "async"
    assert run_module("smis_sync", dict(base, resync=True))["changed"] is False
    step(lab, run_module, dict(base, sync_state="suspended"), ["suspend", "wait_suspended"])
    refused(lab, run_module, dict(base, mode="sync"), "only while it is synchronized")
    step(lab, run_module, dict(base, sync_state="synchronized", mode="sync"),
         ["resume", "wait_synchronized", "reset_to_sync", "wait_synchronized"])


def test_wait_false_starts_the_copy_and_a_rerun_waits_for_it(lab, run_module, conn):
    lab.settings("smis-b", copy_rate="1MiB")
    base = conn(source="vol5", target="vol5_m")
    started = run_module("smis_sync", dict(base, wait=False))
    assert started["actions"] == ["create", "wait_synchronized (skipped: wait=false)"]
    assert started["synchronization"]["state"] == "copying" and started["synchronization"]["transferring"]
    mark = lab.mark()
    waited = run_module("smis_sync", base)
    assert not waited["failed"], waited
    assert waited["changed"] is False and waited["actions"] == ["wait_synchronized"]
    assert waited["synchronization"]["state"] == "synchronized"
    assert lab.mutations_since(mark) == []


def test_a_timeout_says_where_things_stand_and_a_rerun_continues(lab, run_module, conn):
    lab.settings("smis-b", copy_rate="512KiB")
    base = conn(source="vol5", target="vol5_slow", sync_type="clone")
    late = run_module("smis_sync", dict(base, wait_timeout=1))
    assert late["failed"] and late["changed"] is True and late["actions"] == ["create"]
    assert "timed out after 1s waiting for job" in late["msg"] and "CreateElementReplica" in late["msg"]
    assert "rerun the task" in late["msg"]
    assert late["current"]["job_state"] == 4  # still running
    lab.settings("smis-b", copy_rate=0)
    resumed = run_module("smis_sync", base)
    assert not resumed["failed"], resumed
    assert resumed["changed"] is False and resumed["synchronization"]["state"] == "synchronized"


def test_stop_copy_aborts_a_running_clone_on_the_generic_provider(lab, run_module, conn):
    lab.settings("smis-b", copy_rate="256KiB")
    base = conn(source="vol5", target="vol5_c")
    started = run_module("smis_sync", dict(base, sync_type="clone", wait=False))
    assert started["synchronization"]["transferring"] is True
    stopped = step(lab, run_module, dict(base, stop_copy=True), ["stop_copy", "wait_stopped"])
    assert stopped["synchronization"]["state"] == "aborted" and stopped["synchronization"]["healthy"] is False
    logged = lab.mutations_since(0, "smis-b")[-1]
    assert (logged["cim_method"], logged["cim_params"]["Operation"]) == ("ModifyReplicaSynchronization", "2")


def test_a_failed_copy_is_reported_with_the_arrays_message(lab, run_module, conn):
    lab.faults("smis-b", spare=CLAIMS, fail_jobs=1, fail_job_message="simulated disk failure on the target pool",
               fail_job_code=4711)
    result = run_module("smis_sync", conn(source="vol6", target="vol6_m"))
    assert result["failed"]
    assert "simulated disk failure on the target pool" in result["msg"]
    assert "error code 4711" in result["msg"]
    assert result["array_message"] == "simulated disk failure on the target pool"
    assert result["array_code"] == 4711
    assert result["synchronization"]["state"] == "broken" and result["synchronization"]["healthy"] is False
    assert result["actions"] == ["create"] and result["changed"] is True
    assert result["job"]["ok"] is False and result["cim_errors"][0]["message"]
    # a broken copy: PercentSynced may be the copy's progress, so the whole volume is at stake
    kept = refused(lab, run_module, conn(source="vol6", target="vol6_m", sync_state="synchronized"),
                   "resync of vol6 -> vol6_m", "up to 4194304 bytes")
    assert kept["differing_bytes_at_most"] == 4194304 and kept["synchronization"]["state"] == "broken"
    healed = run_module("smis_sync", conn(source="vol6", target="vol6_m", sync_state="synchronized",
                                          allow_data_loss=True))
    assert healed["actions"] == ["resync", "wait_synchronized"] and healed["synchronization"]["healthy"]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_write_without_an_answer_is_read_back_and_the_run_continues(lab, run_module, conn, dropping, when):
    # the provider drops the connection of a write, before or after applying it: first the create, then a fracture
    base = conn(source="vol7", target=f"vol7_{when}")
    name = f"vol7 -> vol7_{when} again"
    made = dropping("smis-b", when, "smis_sync", base, name)
    assert made["synchronization"]["state"] == "synchronized"
    src, tgt = made["synchronization"]["source_device_id"], made["synchronization"]["target_device_id"]
    assert digest(lab, "smis-b", tgt) == digest(lab, "smis-b", src)
    fractured = dropping("smis-b", when, "smis_sync", dict(base, sync_state="fractured"), name)
    assert fractured["synchronization"]["state"] == "fractured"
    assert lab.volume("smis-b", tgt)["host_access"] == "rw"


# bulk --------------------------------------------------------------------------------------------------
def test_bulk_reports_per_item_in_input_order_and_a_converged_rerun_costs_two_requests(lab, run_module, conn):
    items = [{"source": "vol7", "target": "vol7_m"},
             {"source": "vol8", "target": "vol8_c", "sync_type": "clone"},
             {"source": "nowhere", "target": "nowhere_m"},
             {"source": "dup", "target": "dup_m"},
             {"source": "221", "target": "dup_s", "sync_type": "snapshot"}]
    args = conn(synchronizations=items, max_workers=4, continue_on_error=True)
    mark = lab.mark()
    check = run_module("smis_sync", args, check_mode=True)
    assert lab.mutations_since(mark) == []
    first = run_module("smis_sync", args)
    assert first["failed"] and first["msg"].startswith("2 of 5 synchronizations failed")
    results = first["synchronizations"]
    expected = ["vol7 -> vol7_m", "vol8 -> vol8_c", "nowhere -> nowhere_m", "dup -> dup_m", "221 -> dup_s"]
    assert [r["item"] for r in results] == expected
    assert [r.get("failed", False) for r in results] == [False, False, True, True, False]
    assert [r["actions"] for r in check["synchronizations"]] == [r["actions"] for r in results]
    assert results[0]["synchronization"]["state"] == "synchronized"
    assert results[1]["synchronization"]["sync_type"] == "clone"
    assert results[4]["synchronization"]["sync_type"] == "snapshot"
    assert "is not a volume" in results[2]["msg"]
    assert "ambiguous" in results[3]["msg"] and "221" in results[3]["msg"] and "222" in results[3]["msg"]
    assert first["summary"] == {"total": 5, "changed": 3, "ok": 0, "failed": 2, "skipped": 0}
    for entry in results:
        assert set(entry) >= {"item", "source", "target", "changed", "actions"}
    converged = [i for i in items if i["source"] not in ("nowhere", "dup")]
    mark = lab.mark()
    again = run_module("smis_sync", conn(synchronizations=converged))
    assert not again["failed"] and again["changed"] is False
    assert again["summary"] == {"total": 3, "changed": 0, "ok": 3, "failed": 0, "skipped": 0}
    assert again["requests_sent"] == 2
    served = lab.log(since=mark)
    assert [e["cim_method"] for e in served] == ["EnumerateInstances", "EnumerateInstances"]
    assert lab.mutations_since(mark) == []


def test_bulk_waits_share_one_poll_per_round(lab, run_module, conn):
    items = [{"source": f"vol{n}", "target": f"vol{n}_b"} for n in (1, 2, 3, 4)]
    created = run_module("smis_sync", conn(synchronizations=items, max_workers=4))
    assert created["summary"]["changed"] == 4, created
    mark = lab.mark()
    fractured = run_module("smis_sync", conn(synchronizations=items, max_workers=4, sync_state="fractured"))
    assert fractured["summary"]["changed"] == 4, fractured
    assert [r["synchronization"]["state"] for r in fractured["synchronizations"]] == ["fractured"] * 4
    methods = [e["cim_method"] for e in lab.log(since=mark)]
    assert fractured["requests_sent"] == len(methods)
    # the plan is read once, and once more after the run's claim (another run may have acted in between)
    assert methods.count("GetSupportedOperationsForSynchronization") == 8
    assert methods.count("CreateGroup") == 1 and methods.count("DeleteGroup") == 1
    assert methods.count("ModifyReplicaSynchronization") == 4
    assert "GetInstance" not in methods  # the waits were answered by shared enumerations
    assert methods.count("EnumerateInstances") < 2 + 4


def test_bulk_stops_at_the_first_failure_without_continue_on_error(lab, run_module, conn):
    items = [{"source": "vol1", "target": "vol1_x", "sync_type": "snapshot"},
             {"source": "vol1", "target": "small", "sync_type": "clone"}]
    mark = lab.mark()
    result = run_module("smis_sync", conn(synchronizations=items, max_workers=1))
    assert result["failed"]
    assert result["synchronizations"][1]["failed"] and "smaller" in result["synchronizations"][1]["msg"]
    assert result["synchronizations"][0]["skipped"] is True and result["synchronizations"][0]["changed"] is False
    assert "continue_on_error is false" in result["synchronizations"][0]["msg"]
    assert result["summary"]["skipped"] == 1
    assert lab.mutations_since(mark) == []


# HPE 3PAR provider (smis-a): the seed's legacy operations ------------------------------------------------
def test_physical_copy_resync_start_stop_and_detach_with_the_legacy_service(lab, run_module, conn):
    base = conn("smis-a", source="vol1", target="copy1", interface="configuration_service")
    created = step(lab, run_module, dict(base, sync_type="clone"), ["create", "wait_synchronized"])
    facts = created["synchronization"]
    assert (facts["sync_type"], facts["sync_state"], facts["copy_type"], facts["mode"]) == \
        ("clone", "Frozen", "UnSyncAssoc", "async")
    assert digest(lab, "smis-a", "151") == digest(lab, "smis-a", "101")
    methods = [e["cim_method"] for e in lab.mutations_since(0, "smis-a")]
    assert methods == ["AttachOrModifyReplica"]

    lab.write("smis-a", "101", 3)
    time.sleep(2.1)
    # a refresh replaces the copy: the array does not say whether the source or the copy was written
    refused(lab, run_module, dict(base, resync=True, max_lag=1), "resync of vol1 -> copy1", "up to ",
            "written to the target copy1")
    resynced = step(lab, run_module, dict(base, resync=True, max_lag=1, allow_data_loss=True),
                    ["resync", "wait_synchronized"])
    assert resynced["synchronization"]["age_seconds"] <= 1
    assert digest(lab, "smis-a", "151") == digest(lab, "smis-a", "101")
    logged = lab.mutations_since(0, "smis-a")[-1]
    assert (logged["cim_method"], logged["cim_params"]["Operation"]) == ("ModifySynchronization", "4")

    time.sleep(2.1)
    step(lab, run_module, dict(base, start_copy=True, max_lag=1), ["start_copy", "wait_copied"])
    assert lab.mutations_since(0, "smis-a")[-1]["cim_params"]["Operation"] == "12"

    lab.settings("smis-a", copy_rate="128KiB")
    started = run_module("smis_sync", dict(base, start_copy=True, wait=False))
    assert started["synchronization"]["transferring"] is True
    stopped = step(lab, run_module, dict(base, stop_copy=True), ["stop_copy", "wait_stopped"])
    assert stopped["synchronization"] is None  # HPE 3PAR halts the copy and removes the pair
    assert lab.mutations_since(0, "smis-a")[-1]["cim_params"]["Operation"] == "13"

    lab.settings("smis-a", copy_rate=0)
    assert not run_module("smis_sync", dict(base, sync_type="clone"))["failed"]
    detached = step(lab, run_module, dict(base, state="absent"), ["detach"])
    assert detached["synchronization"] is None
    assert lab.mutations_since(0, "smis-a")[-1]["cim_params"]["Operation"] == "2"
    assert lab.volume("smis-a", "151")["host_access"] == "rw"


def test_virtual_copy_restore_is_not_repeated_within_max_lag(lab, run_module, conn):
    base = conn("smis-a", source="vol2", target="vol2_vc", interface="configuration_service")
    created = step(lab, run_module, dict(base, sync_type="snapshot"), ["create", "wait_synchronized"])
    snap = created["synchronization"]["target_device_id"]
    assert created["synchronization"]["state"] == "inactive"  # HPE 3PAR: an idle virtual copy (SyncState Idle)
    assert created["synchronization"]["sync_state"] == "Idle"
    lab.write("smis-a", "102", 4)
    time.sleep(2.1)
    assert digest(lab, "smis-a", "102") != digest(lab, "smis-a", snap)
    refused(lab, run_module, dict(base, restore=True, max_lag=1), "restore of vol2 -> vol2_vc", "written to the source vol2")
    assert digest(lab, "smis-a", "102") != digest(lab, "smis-a", snap)
    step(lab, run_module, dict(base, restore=True, max_lag=1, allow_data_loss=True), ["restore", "wait_restored"])
    assert digest(lab, "smis-a", "102") == digest(lab, "smis-a", snap)
    assert lab.mutations_since(0, "smis-a")[-1]["cim_params"]["Operation"] == "5"


@pytest.mark.parametrize("operation", sorted(SEED_UNSUPPORTED))
def test_the_seeds_unsupported_operations_are_refused_before_invoking(lab, run_module, conn, operation):
    base = conn("smis-a", source="vol3", target="copy3", interface="configuration_service")
    assert not run_module("smis_sync", dict(base, sync_type="clone"))["failed"]
    result = refused(lab, run_module, dict(base, operation=operation),
                     f"{SEED_UNSUPPORTED[operation]} ({operation})", "smis-a", "TPD_StorageConfigurationService",
                     "Nothing was changed")
    assert result["synchronization"]["state"] == "synchronized"


def test_fracture_of_a_local_copy_is_refused_by_both_services(lab, run_module, conn):
    base = conn("smis-a", source="vol3", target="copy3", sync_type="clone")
    assert not run_module("smis_sync", base)["failed"]
    refused(lab, run_module, dict(base, sync_state="fractured"), "Fracture (12)", "Fracture (3)",
            "TPD_ReplicationService", "TPD_StorageConfigurationService")


def test_resync_of_a_broken_physical_copy_is_refused(lab, run_module, conn):
    base = conn("smis-a", source="vol4", target="copy4", sync_type="clone", interface="configuration_service")
    lab.faults("smis-a", spare=CLAIMS, fail_jobs=1, fail_job_message="copy failed: target volume offline", fail_job_code=77)
    failed = run_module("smis_sync", base)
    assert failed["failed"] and "copy failed: target volume offline" in failed["msg"]
    assert failed["synchronization"]["sync_state"] == "Broken" and failed["synchronization"]["state"] == "broken"
    for interface in ("configuration_service", "auto"):
        refused(lab, run_module, dict(base, interface=interface, resync=True), "Resync", "Broken")
    removed = run_module("smis_sync", dict(without(base, "sync_type"), state="absent"))
    assert removed["actions"] == ["detach"]


def test_replication_service_of_3par_for_clones_and_a_mirror_it_cannot_make(lab, run_module, conn):
    base = conn("smis-a", source="vol5", target="copy5", sync_type="clone")
    created = step(lab, run_module, base, ["create", "wait_synchronized"])
    assert created["synchronization"]["replication_type"] == 11
    assert [e["cim_method"] for e in lab.mutations_since(0, "smis-a")][-1] == "CreateElementReplica"
    refused(lab, run_module, conn("smis-a", source="vol6", target="copy6", sync_type="mirror"),
            "Synchronous Mirror Local (2)", "cannot be created", "smis-a")
    refused(lab, run_module, dict(base, start_copy=True, interface="replication_service"),
            "start copy is not available with interface replication_service", "Start Copy (12)")


# bad input ------------------------------------------------------------------------------------------
def test_unknown_element(lab, run_module, conn):
    refused(lab, run_module, conn(source="no_such_volume", target="vol1_m"), "source 'no_such_volume'",
            "is not a volume")
    refused(lab, run_module, conn(source="vol1", target="999", restore=True), "999")


def test_source_equals_target(lab, run_module, conn):
    mark = lab.mark()
    same = run_module("smis_sync", conn(source="vol1", target="vol1"))
    assert same["failed"] and "source and target are the same volume" in same["msg"]
    assert same["requests_sent"] == 0
    refused(lab, run_module, conn(source="vol1", target="201"), "name the same volume (DeviceID 201)")
    assert lab.mutations_since(mark) == []


def test_a_target_smaller_than_the_source(lab, run_module, conn):
    refused(lab, run_module, conn(source="vol2", target="small", sync_type="clone"), "smaller than the source",
            "1048576 bytes", "4194304 bytes")
    refused(lab, run_module, conn("smis-a", source="vol1", target="tiny", sync_type="clone",
                                  interface="configuration_service"), "smaller than the source")


def test_an_operation_the_provider_does_not_offer(lab, run_module, conn):
    assert not run_module("smis_sync", conn(source="vol2", target="vol2_s", sync_type="snapshot"))["failed"]
    refused(lab, run_module, conn(source="vol2", target="vol2_s", operation=10, interface="replication_service"),
            "Failover (10)", "smis-b", "does not support")
    refused(lab, run_module, conn(source="vol2", target="vol2_s", operation=12), "needs interface")
    refused(lab, run_module, conn(source="vol2", target="vol2_s", operation=4, interface="configuration_service"),
            "Resync (4)", "smis-b", "no legacy Copy Services")
    result = refused(lab, run_module, conn(source="vol2", target="vol2_s", operation=99,
                                           interface="replication_service"), "not a ModifyReplicaSynchronization")
    assert result["requests_sent"] == 0


def test_operation_escape_hatch_is_idempotent_on_its_result_state(lab, run_module, conn):
    base = conn(source="vol2", target="spare", sync_type="clone")
    assert not run_module("smis_sync", base)["failed"]
    op = dict(without(base, "sync_type"), operation=21, interface="replication_service")
    split = step(lab, run_module, op, ["operation_21", "wait_idle"])
    assert split["synchronization"]["state"] == "split"
    gone = step(lab, run_module, dict(op, operation=9), ["operation_9", "wait_idle"])
    assert gone["synchronization"] is None


def test_wrong_credentials(lab, run_module, conn):
    result = refused(lab, run_module, conn(password="wrong-password", source="vol1", target="vol1_m"), "refused the credentials of user 'admin'",
                     "HTTP 401")
    assert result["http_status"] == 401
    assert "wrong-password" not in json.dumps(result)


def test_plain_http_to_the_https_port_and_https_to_the_http_port(lab, run_module, conn):
    info = lab.array("smis-b")
    plain = info["url"].replace("https://", "http://")
    refused(lab, run_module, conn(hostname=plain, source="vol1", target="vol1_m"), "plain-HTTP request",
            "expects HTTPS")
    tls = info["http_url"].replace("http://", "https://")
    refused(lab, run_module, conn(hostname=tls, source="vol1", target="vol1_m"), "does not speak TLS")


def test_tls_is_verified_by_default(lab, run_module, conn):
    args = conn(source="vol1", target="vol1_m", state="absent")
    del args["ca_path"]
    refused(lab, run_module, args, "certificate", "does not verify", "ca_path")
    insecure = run_module("smis_sync", dict(args, validate_certs=False))
    assert not insecure["failed"], insecure


def test_wrong_namespace(lab, run_module, conn):
    refused(lab, run_module, conn(namespace="root/tpd", source="vol1", target="vol1_m"), "namespace 'root/tpd' does not exist")


# environment and secrets -------------------------------------------------------------------------------
def test_connection_from_environment_variables(lab, run_module, monkeypatch):
    info = lab.array("smis-b")
    monkeypatch.setenv("SMIS_HOSTNAME", info["url"])
    monkeypatch.setenv("SMIS_USERNAME", info["username"])
    monkeypatch.setenv("SMIS_PASSWORD", info["password"])
    monkeypatch.setenv("SMIS_CA_PATH", info["ca_file"])
    monkeypatch.setenv("SMIS_NAMESPACE", info["namespace"])
    monkeypatch.setenv("SMIS_TIMEOUT", "20")
    result = run_module("smis_sync", {"source": "vol1", "target": "env_m", "poll_interval": 0.05})
    assert not result["failed"], result
    assert result["synchronization"]["target"] == "env_m"
    monkeypatch.setenv("SMIS_VALIDATE_CERTS", "false")
    monkeypatch.delenv("SMIS_CA_PATH")
    assert not run_module("smis_sync", {"source": "vol1", "target": "env_m", "state": "absent"})["failed"]


def test_the_password_never_appears_in_results(lab, run_module, conn):
    password = lab.array("smis-b")["password"]
    results = [
        run_module("smis_sync", conn(source="vol1", target="secret_m"), diff=True),
        run_module("smis_sync", conn(source="vol1", target="secret_m", sync_state="fractured"), check_mode=True),
        run_module("smis_sync", conn(source="vol1", target="secret_m", operation=24, interface="replication_service")),
        run_module("smis_sync", conn(synchronizations=[{"source": "vol1", "target": "secret_m"},
                                                       {"source": "missing", "target": "x"}],
                                     continue_on_error=True)),
        run_module("smis_sync_info", info_args(lab, capabilities=True)),
    ]
    assert results[2]["failed"] and results[3]["failed"]
    for result in results:
        assert password not in json.dumps(result)
