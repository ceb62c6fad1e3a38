"""storage.replication.snapmirror against the lab's ONTAP clusters, over HTTPS.

Every step runs in check mode first (the lab logs no mutation), then for real,
then again (reported unchanged). Digests prove what moved.
"""

from __future__ import annotations

import json

import pytest
from storage_replication_lab.client import CLAIMS

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "256MiB"},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap",
            "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 7, "size": "256MiB", "data_blocks": 32, "nas_path": "/vol{n}"},
                {"name": "bulk{n:02d}", "count": 50, "size": "64MiB", "data_blocks": 4, "nas_path": "/bulk{n:02d}"},
                {"name": "brk{n:02d}", "count": 20, "size": "64MiB", "data_blocks": 4},
                {"name": "rec{n}", "count": 2, "size": "64MiB", "data_blocks": 4},
                {"name": "grow1", "size": "64MiB", "data_blocks": 4},
                {"name": "cut1", "size": "64MiB", "data_blocks": 4, "nas_path": "/cut1"},
            ]}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {
            "vendor": "ontap",
            "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
            "svms": [{"name": "svm_b", "volumes": [
                {"name": "small_dst", "size": "16MiB", "type": "dp"},
                {"name": "rw_dst", "size": "1GiB", "nas_path": "/rw_dst"},
            ]}],
        },
    },
}


@pytest.fixture
def conn(lab):
    def make(extra=None, **kwargs):
        args = dict(lab.connection("ontap-b"), source_cluster=lab.connection("ontap-a"), poll_interval=0.05,
                    wait_timeout=60)
        args.update(extra or {})
        args.update(kwargs)
        return args
    return make


def step(lab, run_module, args, expect_actions=None):
    """Check mode (no mutation logged), apply (changed), apply again (unchanged); return the applied result."""
    mark = lab.mark()
    check = run_module("snapmirror", args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True
    assert lab.mutations_since(mark) == []
    applied = run_module("snapmirror", args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True
    assert check["actions"] == applied["actions"]
    if expect_actions is not None:
        assert applied["actions"] == expect_actions
    again = run_module("snapmirror", args)
    assert not again["failed"], again
    assert again["changed"] is False and again["actions"] == []
    return applied


def assert_mirrored(lab, result, source_key, dest_key):
    snapshot = result["relationship"]["exported_snapshot"]
    assert lab.digest("ontap-b", dest_key) == lab.snapshot_digest("ontap-a", source_key, snapshot)


def test_one_relationship_through_its_whole_life(lab, run_module, conn):
    base = conn(source_path="svm_a:vol1", destination_path="svm_b:vol1_dr", create_destination={"enabled": True})
    created = step(lab, run_module, base, ["create_destination", "create", "wait_active"])
    assert created["relationship"]["state"] == "snapmirrored" and created["relationship"]["healthy"]
    assert created["diff"]["before"] == {"svm_b:vol1_dr": {}}
    assert_mirrored(lab, created, "svm_a:vol1", "svm_b:vol1_dr")

    lab.write("ontap-a", "svm_a:vol1", 7)
    lab.advance_clock(600)
    updated = step(lab, run_module, dict(base, max_lag=300), ["update", "wait_transfer"])
    assert updated["relationship"]["lag_seconds"] < 300
    assert_mirrored(lab, updated, "svm_a:vol1", "svm_b:vol1_dr")

    paused = step(lab, run_module, dict(base, relationship_state="paused"), ["quiesce", "wait_paused"])
    assert paused["relationship"]["state"] == "paused"

    broken = step(lab, run_module, dict(base, relationship_state="broken_off", junction_path="/vol1_dr"),
                  ["break", "wait_broken_off", "mount"])
    assert broken["relationship"]["state"] == "broken_off"
    assert lab.volume("ontap-b", "svm_b:vol1_dr")["host_access"] == "rw"

    resynced = step(lab, run_module, base, ["resync", "wait_active"])
    assert resynced["relationship"]["state"] == "snapmirrored"
    assert_mirrored(lab, resynced, "svm_a:vol1", "svm_b:vol1_dr")

    deleted = step(lab, run_module, dict(base, state="absent"), ["delete"])
    assert deleted["relationship"] is None and deleted["released"] is True
    source = lab.volume("ontap-a", "svm_a:vol1")
    assert not [s for s in source["snapshots"] if s.startswith("snapmirror.")]


def test_a_converged_set_of_fifty_costs_one_request(lab, run_module, conn):
    items = [{"source_path": f"svm_a:bulk{n:02d}", "destination_path": f"svm_b:bulk{n:02d}_dr"} for n in range(1, 51)]
    args = conn(relationships=items, create_destination={"enabled": True}, max_workers=16)
    first = run_module("snapmirror", args)
    assert not first["failed"], first["msg"] if first.get("msg") else first["summary"]
    assert first["summary"] == {"total": 50, "changed": 50, "ok": 0, "failed": 0, "skipped": 0}
    mark = lab.mark()
    again = run_module("snapmirror", args)
    assert again["changed"] is False and again["summary"]["ok"] == 50
    served = lab.log(since=mark)
    assert [(e["array"], e["method"], e["mutating"]) for e in served] == [("ontap-b", "GET", False)]
    assert served[0]["path"] == "/api/snapmirror/relationships"
    assert again["requests_sent"] == 1
    for n in (1, 25, 50):
        assert lab.digest("ontap-b", f"svm_b:bulk{n:02d}_dr") == lab.digest("ontap-a", f"svm_a:bulk{n:02d}")


def test_break_and_delete_work_with_the_source_cluster_down(lab, run_module, conn):
    args = conn(source_path="svm_a:vol2", destination_path="svm_b:vol2_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", args)["failed"]
    lab.down("ontap-a")
    try:
        dr_only = {k: v for k, v in args.items() if k != "source_cluster"}
        broken = run_module("snapmirror", dict(dr_only, relationship_state="broken_off", junction_path="/vol2_dr"))
        assert not broken["failed"], broken
        assert broken["actions"] == ["quiesce", "wait_paused", "break", "wait_broken_off", "mount"]
        assert any("force" in w for w in broken.get("warnings", []))
        assert lab.volume("ontap-b", "svm_b:vol2_dr")["host_access"] == "rw"
        deleted = run_module("snapmirror", dict(args, state="absent"))
        assert not deleted["failed"], deleted
        assert deleted["changed"] is True and deleted["released"] is False
        assert any("pending" in w for w in deleted.get("warnings", []))
    finally:
        lab.up("ontap-a")
    released = run_module("snapmirror", dict(args, state="absent"))
    assert released["changed"] is True and released["actions"] == ["release"]
    assert run_module("snapmirror", dict(args, state="absent"))["changed"] is False


def test_a_bulk_break_with_the_source_down_tries_without_force_once(lab, run_module, conn):
    items = [{"source_path": f"svm_a:brk{n:02d}", "destination_path": f"svm_b:brk{n:02d}_dr"} for n in range(1, 21)]
    args = conn(relationships=items, create_destination={"enabled": True}, max_workers=16)
    assert not run_module("snapmirror", args)["failed"]
    lab.down("ontap-a")
    try:
        mark = lab.mark()
        dr_only = {k: v for k, v in args.items() if k not in ("source_cluster", "create_destination")}
        broken = run_module("snapmirror", dict(dr_only, relationship_state="broken_off"))
        assert not broken["failed"], broken["summary"]
        assert broken["summary"]["changed"] == 20
        breaks = [e for e in lab.log(array="ontap-b", mutating=True, since=mark)
                  if e["method"] == "PATCH" and (e.get("body") or {}).get("state") == "broken_off"]
        forced = [e for e in breaks if "force=true" in e["query"]]
        assert (len(breaks), len(forced)) == (21, 20)
        assert len({w for w in broken["warnings"] if "_dr could not" in w and ":brk" in w and "force=true" in w}) == 20
        again = run_module("snapmirror", dict(dr_only, relationship_state="broken_off"))
        assert again["changed"] is False and again["summary"]["ok"] == 20
    finally:
        lab.up("ontap-a")


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_write_without_an_answer_is_read_back_and_the_run_continues(lab, run_module, conn, dropping, when):
    # the array drops the connection of the first write, before or after applying it
    n = 1 if when == "before" else 2
    args = conn(source_path=f"svm_a:rec{n}", destination_path=f"svm_b:rec{n}_dr", create_destination={"enabled": True})
    result = dropping("ontap-b", when, "snapmirror", args, f"svm_b:rec{n}_dr again")
    assert result["relationship"]["state"] == "snapmirrored"
    assert_mirrored(lab, result, f"svm_a:rec{n}", f"svm_b:rec{n}_dr")


def test_quiesce_then_abort_when_the_transfer_outlasts_quiesce_timeout(lab, run_module, conn):
    args = conn(source_path="svm_a:vol3", destination_path="svm_b:vol3_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", args)["failed"]
    lab.write("ontap-a", "svm_a:vol3", 200)
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
    try:
        started = run_module("snapmirror", dict(args, update=True, wait=False))
        assert started["actions"][:1] == ["update"]
        result = run_module("snapmirror", dict(args, relationship_state="paused", quiesce_timeout=1))
    finally:
        lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")
    assert not result["failed"], result
    assert result["actions"] == ["quiesce", "abort", "wait_paused"]
    assert result["relationship"]["state"] == "paused"
    assert result["relationship"]["transfer"]["state"] == "aborted"


def test_sync_policy_reaches_in_sync_and_mirrors_writes(lab, run_module, conn):
    args = conn(source_path="svm_a:vol4", destination_path="svm_b:vol4_dr", policy="Sync",
                create_destination={"enabled": True})
    result = step(lab, run_module, args)
    assert result["relationship"]["state"] == "in_sync" and result["relationship"]["policy_type"] == "sync"
    lab.write("ontap-a", "svm_a:vol4", 3)
    assert lab.digest("ontap-b", "svm_b:vol4_dr") == lab.digest("ontap-a", "svm_a:vol4")
    assert run_module("snapmirror", dict(args, update=True))["changed"] is False


def test_reverse_and_back_keeps_the_dr_writes(lab, run_module, conn):
    forward = conn(source_path="svm_a:vol5", destination_path="svm_b:vol5_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", forward)["failed"]
    assert not run_module("snapmirror", dict(forward, relationship_state="broken_off", junction_path="/vol5_dr"))["failed"]
    lab.write("ontap-b", "svm_b:vol5_dr", 4)
    dr_digest = lab.digest("ontap-b", "svm_b:vol5_dr")
    backward = dict(lab.connection("ontap-a"), source_cluster=lab.connection("ontap-b"), poll_interval=0.05,
                    source_path="svm_b:vol5_dr", destination_path="svm_a:vol5")
    refused = run_module("snapmirror", backward)
    assert refused["failed"] and "reverse: true" in refused["msg"]
    mark = lab.mark()
    check = run_module("snapmirror", dict(backward, reverse=True), check_mode=True)
    assert check["actions"] == ["reverse", "wait_active"] and lab.mutations_since(mark) == []
    reversed_ = run_module("snapmirror", dict(backward, reverse=True))
    assert not reversed_["failed"], reversed_
    assert reversed_["common_snapshot"]
    assert lab.digest("ontap-a", "svm_a:vol5") == dr_digest
    assert run_module("snapmirror", dict(backward, reverse=True))["changed"] is False


def test_reverse_refuses_to_discard_writes_on_the_new_destination(lab, run_module, conn):
    forward = conn(source_path="svm_a:vol6", destination_path="svm_b:vol6_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", forward)["failed"]
    assert not run_module("snapmirror", dict(forward, relationship_state="broken_off"))["failed"]
    lab.write("ontap-a", "svm_a:vol6", 2)
    backward = dict(lab.connection("ontap-a"), source_cluster=lab.connection("ontap-b"), poll_interval=0.05,
                    source_path="svm_b:vol6_dr", destination_path="svm_a:vol6", reverse=True)
    mark = lab.mark()
    refused = run_module("snapmirror", backward)
    assert refused["failed"] and "discard 131072 bytes" in refused["msg"]
    assert lab.mutations_since(mark) == []


def test_snapmirror_info_reports_and_selects(lab, run_module, conn):
    mark = lab.mark()
    info = run_module("snapmirror_info", dict(lab.connection("ontap-b"), max_lag=3600,
                                              query="[?state=='snapmirrored'].destination_path"))
    assert not info["failed"], info
    assert "svm_b:bulk01_dr" in info["relationships"]
    assert info["summary"]["count"] >= 50 and info["summary"]["over_rpo"] == 0
    assert info["requests_sent"] == 1 and len(lab.log(since=mark)) == 1
    outgoing = run_module("snapmirror_info", dict(lab.connection("ontap-a"), outgoing=True,
                                                  destination_paths=["svm_b:bulk02_dr"]))
    assert [r["source_path"] for r in outgoing["relationships"]] == ["svm_a:bulk02"]
    newest = outgoing["relationships"][0]["exported_snapshot"]  # what a DR test copy is cloned from
    assert newest.startswith("snapmirror.") and newest in lab.volume("ontap-b", "svm_b:bulk02_dr")["snapshots"]
    scalar = run_module("snapmirror_info", dict(lab.connection("ontap-b"), query="length(@)"))
    assert scalar["query_result"] == len(scalar["relationships"])


def test_connection_options_fall_back_to_the_environment(lab, run_module, monkeypatch):
    info = lab.array("ontap-b")
    monkeypatch.setenv("ONTAP_HOSTNAME", info["url"])
    monkeypatch.setenv("ONTAP_USERNAME", info["username"])
    monkeypatch.setenv("ONTAP_PASSWORD", info["password"])
    monkeypatch.setenv("ONTAP_CA_PATH", info["ca_file"])
    result = run_module("snapmirror_info", {})
    assert not result["failed"], result
    assert info["password"] not in json.dumps(result)


BAD_INPUT = [
    ("malformed path", {"destination_path": "vol1_dr"}, "not of the form <svm>:<volume>", None),
    ("unknown SVM", {"destination_path": "svm_nope:vol1_dr"}, "destination SVM 'svm_nope' does not exist", None),
    ("unknown policy", {"policy": "NoSuchPolicy"}, "policy 'NoSuchPolicy' does not exist", None),
    ("destination too small", {"destination_path": "svm_b:small_dst"}, "is too small", None),
    ("read-write destination", {"destination_path": "svm_b:rw_dst"}, "must be a DP volume", None),
]


@pytest.mark.parametrize("name, override, message, code", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_fails_before_any_change(lab, run_module, conn, name, override, message, code):
    args = conn(source_path="svm_a:vol1", destination_path="svm_b:bad_dst")
    args.update(override)
    mark = lab.mark()
    result = run_module("snapmirror", args)
    assert result["failed"], name
    assert message in result["msg"]
    assert lab.mutations_since(mark) == []


def test_a_resync_that_would_discard_destination_writes_is_refused(lab, run_module, conn):
    args = conn(source_path="svm_a:vol2", destination_path="svm_b:vol2_keep", create_destination={"enabled": True})
    assert not run_module("snapmirror", args)["failed"]
    assert not run_module("snapmirror", dict(args, relationship_state="broken_off", junction_path="/vol2_keep"))["failed"]
    lab.write("ontap-b", "svm_b:vol2_keep", 3)
    mark = lab.mark()
    refused = run_module("snapmirror", args)
    assert refused["failed"] and "would discard 196608 bytes" in refused["msg"] and "allow_data_loss" in refused["msg"]
    assert refused["discarded_bytes"] == 196608
    assert lab.mutations_since(mark) == []
    assert not run_module("snapmirror", dict(args, allow_data_loss=True))["failed"]


def test_wrong_credentials_say_so_with_the_array_answer(lab, run_module, conn):
    args = conn(source_path="svm_a:vol1", destination_path="svm_b:vol1_dr", password="wrong")
    result = run_module("snapmirror", args)
    assert result["failed"] and "refused the credentials (HTTP 401)" in result["msg"]
    assert result["array_code"] == "6" and result["http_status"] == 401
    assert "wrong" not in json.dumps({k: v for k, v in result.items() if k != "invocation"})


def test_unreachable_host_is_named(run_module, conn):
    result = run_module("snapmirror", conn(hostname="https://127.0.0.1:9", source_path="svm_a:v",
                                           destination_path="svm_b:v", source_cluster=None))
    assert result["failed"] and "cannot reach" in result["msg"] and "127.0.0.1:9" in result["msg"]


def test_a_certificate_that_does_not_verify_is_refused(lab, run_module, conn):
    result = run_module("snapmirror_info", dict(lab.connection("ontap-b"), ca_path=None))
    assert result["failed"] and "does not verify" in result["msg"] and "ca_path" in result["msg"]


def test_the_array_message_and_code_come_through(lab, run_module, conn):
    info = run_module("snapmirror_info", dict(lab.connection("ontap-b"), destination_svm="svm_b",
                                              query="[?destination_path=='svm_b:vol1_dr']"))
    assert not info["failed"]
    lab.faults("ontap-b", spare=CLAIMS, fail_jobs=1, fail_job_message="Volume is busy", fail_job_code="917555")
    try:
        args = conn(source_path="svm_a:vol3", destination_path="svm_b:vol3_dr", relationship_state="broken_off")
        result = run_module("snapmirror", args)
    finally:
        lab.clear_faults("ontap-b")
    assert result["failed"] and "Volume is busy" in result["msg"] and result["array_code"] == "917555"
    assert result["actions"] == []


def test_reverse_without_a_common_snapshot_needs_allow_full_baseline(lab, run_module, conn):
    forward = conn(source_path="svm_a:vol7", destination_path="svm_b:vol7_fb", create_destination={"enabled": True})
    created = run_module("snapmirror", forward)
    assert not created["failed"], created
    assert not run_module("snapmirror", dict(forward, relationship_state="broken_off", junction_path="/vol7_fb"))["failed"]
    # the primary loses the common snapshot: its side of the relationship is dropped, then the snapshot
    primary = lab.session("ontap-a")
    base = lab.url("ontap-a", "/api")
    uuid = created["relationship"]["uuid"]
    dropped = primary.delete(f"{base}/snapmirror/relationships/{uuid}",
                             params={"source_info_only": "true", "return_timeout": 30})
    assert dropped.ok
    vol = primary.get(f"{base}/storage/volumes", params={"name": "vol7", "svm.name": "svm_a"}).json()["records"][0]
    for snap in primary.get(f"{base}/storage/volumes/{vol['uuid']}/snapshots").json()["records"]:
        assert primary.delete(f"{base}/storage/volumes/{vol['uuid']}/snapshots/{snap['uuid']}",
                              params={"return_timeout": 30}).ok
    lab.write("ontap-b", "svm_b:vol7_fb", 3)
    backward = dict(lab.connection("ontap-a"), source_cluster=lab.connection("ontap-b"), poll_interval=0.05,
                    source_path="svm_b:vol7_fb", destination_path="svm_a:vol7", reverse=True)
    mark = lab.mark()
    refused = run_module("snapmirror", backward)
    assert refused["failed"] and "no common snapshot" in refused["msg"] and "allow_full_baseline" in refused["msg"]
    assert lab.mutations_since(mark) == []
    check = run_module("snapmirror", dict(backward, allow_full_baseline=True), check_mode=True)
    assert check["actions"] == ["rebaseline", "wait_active"] and lab.mutations_since(mark) == []
    rebased = run_module("snapmirror", dict(backward, allow_full_baseline=True))
    assert not rebased["failed"], rebased
    assert rebased["rebaselined"] is True and rebased["relationship"]["state"] == "snapmirrored"
    assert lab.digest("ontap-a", "svm_a:vol7") == lab.digest("ontap-b", "svm_b:vol7_fb")
    assert run_module("snapmirror", dict(backward, allow_full_baseline=True))["changed"] is False


def test_another_source_for_an_existing_relationship_is_an_error_naming_both(lab, run_module, conn):
    # issue 13: it used to answer ok and keep the old source
    base = conn(source_path="svm_a:rec1", destination_path="svm_b:rec1_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", base)["failed"]
    other = dict(base, source_path="svm_a:rec2")
    mark = lab.mark()
    for check_mode in (True, False):
        result = run_module("snapmirror", other, check_mode=check_mode)
        assert result["failed"], result
        assert "svm_a:rec1" in result["msg"] and "svm_a:rec2" in result["msg"], result["msg"]
    assert lab.mutations_since(mark) == []


def test_a_reverse_grows_the_old_source_when_the_dr_copy_outgrew_it(lab, run_module, conn):
    # issue 13 and the expandable-volume seed: the DR volume grew while failed over; failing back grows the
    # primary to match instead of failing with "smaller than the source volume"
    forward = conn(source_path="svm_a:grow1", destination_path="svm_b:grow1_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", forward)["failed"]
    assert not run_module("snapmirror", dict(forward, relationship_state="broken_off", junction_path="/grow1_dr"))["failed"]
    session = lab.session("ontap-b")
    dr = session.get(lab.url("ontap-b", "/api/storage/volumes"),
                     params={"name": "grow1_dr", "fields": "uuid,size"}).json()["records"][0]
    grown = 2 * int(dr["size"])
    answer = session.patch(lab.url("ontap-b", f"/api/storage/volumes/{dr['uuid']}"), json={"size": grown})
    assert answer.status_code in (200, 202), answer.text
    lab.wait_for(lambda: int(lab.volume("ontap-b", "svm_b:grow1_dr")["size"]) == grown)
    lab.write("ontap-b", "svm_b:grow1_dr", 3)
    backward = dict(lab.connection("ontap-a"), source_cluster=lab.connection("ontap-b"), poll_interval=0.05,
                    source_path="svm_b:grow1_dr", destination_path="svm_a:grow1", reverse=True)
    mark = lab.mark()
    check = run_module("snapmirror", backward, check_mode=True)
    assert check["actions"][:2] == ["grow_destination", "reverse"], check
    assert lab.mutations_since(mark) == []
    reversed_ = run_module("snapmirror", backward)
    assert not reversed_["failed"], reversed_
    assert reversed_["destination_grown_to"] == grown
    assert int(lab.volume("ontap-a", "svm_a:grow1")["size"]) == grown
    assert lab.digest("ontap-a", "svm_a:grow1") == lab.digest("ontap-b", "svm_b:grow1_dr")


def test_snapmirror_info_measures_what_a_broken_off_destination_misses_of_its_source(lab, run_module, conn):
    args = conn(source_path="svm_a:cut1", destination_path="svm_b:cut1_dr", create_destination={"enabled": True})
    assert not run_module("snapmirror", args)["failed"]
    assert not run_module("snapmirror", dict(args, relationship_state="broken_off"))["failed"]
    info_args = dict(lab.connection("ontap-b"), destination_paths=["svm_b:cut1_dr"],
                     source_cluster=lab.connection("ontap-a"))
    clean = run_module("snapmirror_info", info_args)
    assert clean["relationships"][0]["source_written_bytes"] == 0, clean
    lab.write("ontap-a", "svm_a:cut1", 2)
    written = run_module("snapmirror_info", info_args)
    assert written["relationships"][0]["source_written_bytes"] == 131072
    plain = run_module("snapmirror_info", dict(info_args, source_cluster=None))
    assert "source_written_bytes" not in plain["relationships"][0]
    down = run_module("snapmirror_info", dict(info_args, source_cluster=dict(lab.connection("ontap-a"), password="x")))
    assert not down["failed"] and down["relationships"][0]["source_written_bytes"] is None
    assert any("source cluster could not be read" in w for w in down.get("warnings", [])), down
