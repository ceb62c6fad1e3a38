"""The ONTAP simulator's SnapMirror state machine, through plain HTTPS with the lab's CA.

The DR cycle, sync policies, reverse resync, outages, delete flags, transfers and
schedules. Every call goes over the wire the way a real ONTAP REST client sends it;
data is checked through the control API (digests of volumes and snapshots).
What the transition table refuses is covered in test_ontap_snapmirror_refusals.py.
"""

from __future__ import annotations

import re
import time
import typing as t

import pytest

from ontap_helpers import MIB, TOPOLOGY, Rest, make_dp, make_rel, until, wait_state

LAB_TOPOLOGY = TOPOLOGY
BLOCK = 64 * 1024


@pytest.fixture(name="a")
def fixture_a(lab):
    return Rest(lab, "ontap-a")


@pytest.fixture(name="b")
def fixture_b(lab):
    return Rest(lab, "ontap-b")


def wait_transfer(b: Rest, rel_uuid: str, state: str = "success", kind: str | None = None) -> dict[str, t.Any]:
    def done() -> t.Any:
        rel = b.rel(rel_uuid)
        transfer = rel.get("transfer", {})
        if transfer.get("state") == state and (kind is None or transfer.get("type") == kind):
            return rel
        return None
    return until(done, what=f"transfer {kind or ''} {state}")


def seconds(duration: str) -> int:
    """An ISO-8601 duration of the fact sheet (``P1DT2H3M4S``, ``PT3M``, ``P2DT``) in seconds."""
    match = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    days, hours, minutes, secs = (int(x or 0) for x in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def src_snapshot_digest(lab: t.Any, vol: str, snapshot: str) -> str:
    return lab.snapshot_digest("ontap-a", f"svm_a:{vol}", snapshot)


# -------------------------------------------------------------------------------------------- the DR cycle
def test_async_lifecycle(lab, a, b):
    """create DP volume, relationship, initialize (watched), update, quiesce, break, resync, delete, release."""
    dst_uuid = make_dp(b, "vol1_dst", 64 * MIB)
    vol = b.get(f"/api/storage/volumes/{dst_uuid}")
    assert (vol["type"], vol["state"], vol["size"], vol["style"]) == ("dp", "online", 64 * MIB, "flexvol")
    assert "path" not in vol["nas"]
    assert lab.volume("ontap-b", "svm_b:vol1_dst")["host_access"] == "none"

    reply = b.run("POST", "/api/snapmirror/relationships",
                  {"source": {"path": "svm_a:vol1"}, "destination": {"path": "svm_b:vol1_dst"},
                   "throttle": 2048})  # 2 MiB/s: the 2 MiB baseline takes about a second
    rel_uuid = reply.headers["Location"].rsplit("/", 1)[1]
    rel = b.rel(rel_uuid)
    assert rel["state"] == "uninitialized"
    assert rel["healthy"] is True
    assert rel["policy"]["name"] == "Asynchronous" and rel["policy"]["type"] == "async"
    assert rel["source"]["path"] == "svm_a:vol1" and rel["destination"]["path"] == "svm_b:vol1_dst"
    assert rel["source"]["cluster"]["name"] == "ontap-a" and rel["destination"]["cluster"]["name"] == "ontap-b"
    assert rel["throttle"] == 2048 and rel["backoff_level"] == "high"
    for absent in ("transfer", "lag_time", "exported_snapshot", "last_transfer_type"):
        assert absent not in rel

    # initialize: the job succeeds at once, the transfer then runs while the state stays uninitialized
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "snapmirrored"})
    rel = b.rel(rel_uuid)
    assert rel["state"] == "uninitialized"
    assert rel["transfer"]["state"] == "transferring" and rel["transfer"]["type"] == "initialize"
    assert rel["transfer"]["uuid"]
    first = rel["transfer"]["bytes_transferred"]
    moving = until(lambda: b.rel(rel_uuid), lambda r: r["transfer"]["bytes_transferred"] > first,
                   what="bytes moving")
    assert moving["state"] == "uninitialized"
    transfers = b.get(f"/api/snapmirror/relationships/{rel_uuid}/transfers", fields="state,type")["records"]
    assert [x["state"] for x in transfers] == ["transferring"]
    assert lab.transfers()["active"], "the lab shows the running transfer"

    rel = wait_state(b, rel_uuid, "snapmirrored")
    assert rel["transfer"]["state"] == "success" and "uuid" not in rel["transfer"]
    assert rel["transfer"]["bytes_transferred"] == 32 * BLOCK
    assert rel["last_transfer_type"] == "initialize"
    assert rel["total_transfer_bytes"] == 32 * BLOCK
    assert rel["lag_time"].startswith("PT")
    exported = rel["exported_snapshot"]
    assert exported.startswith("snapmirror.")
    assert lab.digest("ontap-b", "svm_b:vol1_dst") == src_snapshot_digest(lab, "vol1", exported)
    assert lab.digest("ontap-b", "svm_b:vol1_dst") == lab.digest("ontap-a", "svm_a:vol1")
    assert lab.volume("ontap-b", "svm_b:vol1_dst")["host_access"] == "none"

    # update after writes: only the changed blocks move; the destination equals the new source snapshot
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"throttle": 0})
    lab.write("ontap-a", "svm_a:vol1", blocks=5, offset=100)
    assert lab.digest("ontap-b", "svm_b:vol1_dst") != lab.digest("ontap-a", "svm_a:vol1")
    b.run("POST", f"/api/snapmirror/relationships/{rel_uuid}/transfers", {})
    rel = wait_transfer(b, rel_uuid, "success", "update")
    assert rel["last_transfer_type"] == "update"
    assert rel["exported_snapshot"] != exported
    assert rel["transfer"]["bytes_transferred"] == 5 * BLOCK
    assert rel["total_transfer_bytes"] == 37 * BLOCK
    new_exported = rel["exported_snapshot"]
    assert lab.digest("ontap-b", "svm_b:vol1_dst") == src_snapshot_digest(lab, "vol1", new_exported)
    src_snaps = lab.volume("ontap-a", "svm_a:vol1")["snapshots"]
    assert exported not in src_snaps and new_exported in src_snaps, "the older SnapMirror snapshot is rotated out"
    history = b.get(f"/api/snapmirror/relationships/{rel_uuid}/transfers", fields="state,snapshot")["records"]
    assert [x["state"] for x in history] == ["success", "success"] and new_exported in [x["snapshot"] for x in history]

    # quiesce
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "paused"})
    assert wait_state(b, rel_uuid, "paused")["healthy"] is True

    # break: the destination becomes rw (writable once mounted); the source is untouched
    source_digest = lab.digest("ontap-a", "svm_a:vol1")
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "broken_off"})
    wait_state(b, rel_uuid, "broken_off")
    assert b.get(f"/api/storage/volumes/{dst_uuid}")["type"] == "rw"
    assert lab.digest("ontap-a", "svm_a:vol1") == source_digest
    b.run("PATCH", f"/api/storage/volumes/{dst_uuid}", {"nas": {"path": "/vol1_dst"}})
    assert b.get(f"/api/storage/volumes/{dst_uuid}", fields="nas.path")["nas"]["path"] == "/vol1_dst"
    lab.write("ontap-b", "svm_b:vol1_dst", blocks=7, offset=500)
    assert lab.digest("ontap-b", "svm_b:vol1_dst") != src_snapshot_digest(lab, "vol1", new_exported)
    lab.write("ontap-a", "svm_a:vol1", blocks=3, offset=900)

    # resync: destination writes since the common snapshot are discarded, the destination is dp again
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "snapmirrored"})
    rel = wait_state(b, rel_uuid, "snapmirrored")
    assert rel["last_transfer_type"] == "resync"
    assert rel["transfer"]["bytes_transferred"] == 3 * BLOCK, "a resync moves only the blocks changed since the base"
    assert lab.digest("ontap-b", "svm_b:vol1_dst") == src_snapshot_digest(lab, "vol1", rel["exported_snapshot"])
    assert lab.digest("ontap-b", "svm_b:vol1_dst") == lab.digest("ontap-a", "svm_a:vol1")
    assert b.get(f"/api/storage/volumes/{dst_uuid}")["type"] == "dp"
    assert lab.volume("ontap-b", "svm_b:vol1_dst")["host_access"] == "ro"

    # delete on the destination (destination_only), then release on the source
    outgoing = a.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]
    assert rel_uuid in [r["uuid"] for r in outgoing]
    assert a.get("/api/snapmirror/relationships")["num_records"] == 0, "the source lists no incoming relationship"
    b.run("DELETE", f"/api/snapmirror/relationships/{rel_uuid}", destination_only="true")
    b.refused("GET", f"/api/snapmirror/relationships/{rel_uuid}", status=404, code="4")
    assert rel_uuid in [r["uuid"] for r in
                        a.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    assert any(n.startswith("snapmirror.") for n in lab.volume("ontap-a", "svm_a:vol1")["snapshots"])
    a.run("DELETE", f"/api/snapmirror/relationships/{rel_uuid}", source_only="true")
    assert rel_uuid not in [r["uuid"] for r in
                            a.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    assert not any(n.startswith("snapmirror.") for n in lab.volume("ontap-a", "svm_a:vol1")["snapshots"])
    assert a.volume("svm_a", "vol1", "snapmirror.is_protected")["snapmirror"]["is_protected"] is False


def test_post_with_state_creates_and_initializes(lab, b):
    make_dp(b, "vol2_dst")
    reply = b.run("POST", "/api/snapmirror/relationships",
                  {"source.path": "svm_a:vol2", "destination.path": "svm_b:vol2_dst", "state": "snapmirrored",
                   "policy.name": "MirrorAllSnapshots", "transfer_schedule": {"name": "hourly"}})
    rel_uuid = reply.headers["Location"].rsplit("/", 1)[1]
    rel = wait_state(b, rel_uuid, "snapmirrored")
    assert rel["policy"]["name"] == "MirrorAllSnapshots"
    assert rel["transfer_schedule"]["name"] == "hourly" and rel["transfer_schedule"]["uuid"]
    assert lab.digest("ontap-b", "svm_b:vol2_dst") == lab.digest("ontap-a", "svm_a:vol2")
    # the schedule is removed by null or by {"name": null, "uuid": null}
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"transfer_schedule": {"name": None, "uuid": None}})
    assert "transfer_schedule" not in b.rel(rel_uuid)
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"transfer_schedule.name": "daily"})
    assert b.rel(rel_uuid)["transfer_schedule"]["name"] == "daily"
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"transfer_schedule": None})
    assert "transfer_schedule" not in b.rel(rel_uuid)


def test_initialize_by_post_transfers(lab, b):
    rel_uuid = make_rel(b, "vol3")
    b.run("POST", f"/api/snapmirror/relationships/{rel_uuid}/transfers", {})
    rel = wait_state(b, rel_uuid, "snapmirrored")
    assert rel["last_transfer_type"] == "initialize"
    assert lab.digest("ontap-b", "svm_b:vol3_dst") == lab.digest("ontap-a", "svm_a:vol3")


def test_quiesce_mid_transfer_lets_it_finish(lab, b):
    rel_uuid = make_rel(b, "vol4", initialize=True)
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"throttle": 2048})
    lab.write("ontap-a", "svm_a:vol4", blocks=16, offset=200)  # 1 MiB at 2 MiB/s
    b.run("POST", f"/api/snapmirror/relationships/{rel_uuid}/transfers", {})
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "paused"})
    rel = b.rel(rel_uuid)
    assert rel["state"] == "snapmirrored" and rel["transfer"]["state"] == "transferring"
    rel = wait_state(b, rel_uuid, "paused")
    assert rel["transfer"]["state"] == "success" and rel["transfer"]["type"] == "update"
    assert lab.digest("ontap-b", "svm_b:vol4_dst") == lab.digest("ontap-a", "svm_a:vol4")
    # nothing starts while paused; resume makes it snapmirrored again and updates work again
    b.refused("POST", f"/api/snapmirror/relationships/{rel_uuid}/transfers", {}, status=400)
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "snapmirrored"})
    wait_state(b, rel_uuid, "snapmirrored")
    b.run("POST", f"/api/snapmirror/relationships/{rel_uuid}/transfers", {})


def test_abort_keeps_state(lab, b):
    rel_uuid = make_rel(b, "vol5", throttle=256)
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "snapmirrored"})
    transfer_uuid = b.rel(rel_uuid)["transfer"]["uuid"]
    record = b.get(f"/api/snapmirror/relationships/{rel_uuid}/transfers/{transfer_uuid}")
    assert record["state"] == "transferring" and record["snapshot"].startswith("snapmirror.")
    b.refused("PATCH", f"/api/snapmirror/relationships/{rel_uuid}/transfers/{transfer_uuid}", {"state": "paused"})
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}/transfers/{transfer_uuid}", {"state": "aborted"})
    rel = until(lambda: b.rel(rel_uuid), lambda r: r["transfer"]["state"] == "aborted")
    assert rel["state"] == "uninitialized"
    record = b.get(f"/api/snapmirror/relationships/{rel_uuid}/transfers/{transfer_uuid}", fields="*")
    assert record["state"] == "aborted"
    assert record["error_info"]["code"] == 6620046 and record["error_info"]["message"] == "Transfer aborted"
    # an ended transfer cannot be aborted again
    b.refused("PATCH", f"/api/snapmirror/relationships/{rel_uuid}/transfers/{transfer_uuid}",
              {"state": "hard_aborted"})
    b.refused("PATCH", f"/api/snapmirror/relationships/{rel_uuid}/transfers/{transfer_uuid}x",
              {"state": "aborted"}, status=404, code="4")


# ------------------------------------------------------------------------------------- sync policy
def test_sync_policy_mirrors_writes_and_resyncs_after_a_cut(lab, b):
    rel_uuid = make_rel(b, "vol12", policy="Sync")
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "in_sync"})
    rel = wait_state(b, rel_uuid, "in_sync")
    assert rel["lag_time"] == "PT0S" and rel["healthy"] is True
    lab.write("ontap-a", "svm_a:vol12", blocks=4, offset=40)
    assert lab.digest("ontap-b", "svm_b:vol12_dst") == lab.digest("ontap-a", "svm_a:vol12"), "writes are mirrored"
    lab.cut("ontap-a", "ontap-b")
    try:
        rel = until(lambda: b.rel(rel_uuid), lambda r: r["state"] == "out_of_sync",
                    what="out_of_sync after the cut")
        assert rel["healthy"] is False and rel["unhealthy_reason"][0]["message"]
        lab.write("ontap-a", "svm_a:vol12", blocks=6, offset=60)
        assert lab.digest("ontap-b", "svm_b:vol12_dst") != lab.digest("ontap-a", "svm_a:vol12")
        time.sleep(0.2)
        assert b.rel(rel_uuid)["state"] == "out_of_sync", "no resync while the link is cut"
    finally:
        lab.restore("ontap-a", "ontap-b")
    rel = wait_state(b, rel_uuid, "in_sync")
    assert rel["healthy"] is True and "unhealthy_reason" not in rel
    assert lab.digest("ontap-b", "svm_b:vol12_dst") == lab.digest("ontap-a", "svm_a:vol12")
    # writes while a resync runs are not lost either
    lab.cut("ontap-a", "ontap-b")
    until(lambda: b.rel(rel_uuid)["state"] == "out_of_sync")
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"throttle": 1024})
    lab.write("ontap-a", "svm_a:vol12", blocks=8, offset=100)  # 512 KiB at 1 MiB/s
    lab.restore("ontap-a", "ontap-b")
    until(lambda: b.rel(rel_uuid).get("transfer", {}).get("state") == "transferring")
    lab.write("ontap-a", "svm_a:vol12", blocks=3, offset=700)
    wait_state(b, rel_uuid, "in_sync")
    assert lab.digest("ontap-b", "svm_b:vol12_dst") == lab.digest("ontap-a", "svm_a:vol12")
    # break stops the mirroring; the destination becomes writable
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "broken_off"})
    wait_state(b, rel_uuid, "broken_off")
    lab.write("ontap-a", "svm_a:vol12", blocks=2, offset=1000)
    assert lab.digest("ontap-b", "svm_b:vol12_dst") != lab.digest("ontap-a", "svm_a:vol12")


# ------------------------------------------------------------------------------------- reverse
def test_reverse_resync(lab, a, b):
    rel_uuid = make_rel(b, "vol13", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    b.run("PATCH", path, {"state": "broken_off"})
    wait_state(b, rel_uuid, "broken_off")
    dst_uuid = b.volume("svm_b", "vol13_dst")["uuid"]
    b.run("PATCH", f"/api/storage/volumes/{dst_uuid}", {"nas.path": "/vol13_dst"})
    lab.write("ontap-b", "svm_b:vol13_dst", blocks=5, offset=10)  # DR writes, to be kept
    lab.write("ontap-a", "svm_a:vol13", blocks=4, offset=400)  # late source writes, to be rolled back
    dr_digest = lab.digest("ontap-b", "svm_b:vol13_dst")

    b.run("PATCH", path, {"source": {"path": "svm_b:vol13_dst"}, "destination": {"path": "svm_a:vol13"},
                          "state": "snapmirrored"})
    # the relationship now lives on ontap-a (the new destination), ontap-b lists it as outgoing
    rel = wait_state(a, rel_uuid, "snapmirrored")
    assert rel["source"]["path"] == "svm_b:vol13_dst" and rel["destination"]["path"] == "svm_a:vol13"
    assert rel["source"]["cluster"]["name"] == "ontap-b" and rel["destination"]["cluster"]["name"] == "ontap-a"
    assert rel["last_transfer_type"] == "resync"
    assert rel_uuid in [r["uuid"] for r in a.get("/api/snapmirror/relationships")["records"]]
    assert rel_uuid not in [r["uuid"] for r in b.get("/api/snapmirror/relationships")["records"]]
    assert rel_uuid in [r["uuid"] for r in
                        b.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    assert a.volume("svm_a", "vol13")["type"] == "dp"
    assert b.volume("svm_b", "vol13_dst")["type"] == "rw"
    assert lab.digest("ontap-a", "svm_a:vol13") == dr_digest, "DR writes kept, late source writes discarded"
    assert lab.volume("ontap-a", "svm_a:vol13")["host_access"] == "ro"
    # updates now flow DR -> primary
    lab.write("ontap-b", "svm_b:vol13_dst", blocks=2, offset=20)
    a.run("POST", f"{path}/transfers", {})
    wait_transfer(a, rel_uuid, "success", "update")
    assert lab.digest("ontap-a", "svm_a:vol13") == lab.digest("ontap-b", "svm_b:vol13_dst")
    # and back again: break on ontap-a, reverse to the original direction
    a.run("PATCH", path, {"state": "broken_off"})
    wait_state(a, rel_uuid, "broken_off")
    a.run("PATCH", path, {"source": {"path": "svm_a:vol13"}, "destination": {"path": "svm_b:vol13_dst"},
                          "state": "snapmirrored"})
    rel = wait_state(b, rel_uuid, "snapmirrored")
    assert rel["source"]["path"] == "svm_a:vol13"
    assert b.volume("svm_b", "vol13_dst")["type"] == "dp" and a.volume("svm_a", "vol13")["type"] == "rw"


def test_reverse_refused_with_schedule_or_throttle(b):
    rel_uuid = make_rel(b, "vol14", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    b.run("PATCH", path, {"state": "broken_off"})
    wait_state(b, rel_uuid, "broken_off")
    swap = {"source": {"path": "svm_b:vol14_dst"}, "destination": {"path": "svm_a:vol14"}, "state": "snapmirrored"}
    b.refused("PATCH", path, dict(swap, throttle=10), code="2")
    b.refused("PATCH", path, dict(swap, transfer_schedule={"name": "hourly"}), code="2")
    b.refused("PATCH", path, {"state": "snapmirrored", "transfer_schedule": {"name": "hourly"}}, code="2",
              failback="true")


# ------------------------------------------------------------------------------ outages, delete flags
def test_break_with_the_source_down(lab, b):
    rel_uuid = make_rel(b, "vol15", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    lab.down("ontap-a")
    try:
        error = b.refused("PATCH", path, {"state": "broken_off"}, code="262224")
        assert "Failed to contact peer cluster" in error["message"]
        assert b.rel(rel_uuid)["state"] == "snapmirrored"
        # an update fails while the source is down: healthy turns false, lag keeps growing
        b.run("POST", path + "/transfers", {})
        rel = wait_transfer(b, rel_uuid, "failed")
        assert rel["healthy"] is False and rel["unhealthy_reason"][0]["code"] == "13303844"
        lab.advance_clock(100)
        assert seconds(b.rel(rel_uuid)["lag_time"]) >= 100
        # a flagless delete needs the source
        b.refused("DELETE", path, code="262224")
        b.run("PATCH", path, {"state": "broken_off"}, force="true")
        wait_state(b, rel_uuid, "broken_off")
        assert b.volume("svm_b", "vol15_dst")["type"] == "rw"
        b.run("DELETE", path, destination_only="true")
    finally:
        lab.up("ontap-a")
    a = Rest(lab, "ontap-a")
    assert rel_uuid in [r["uuid"] for r in
                        a.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    a.run("DELETE", path, source_only="true")
    a.refused("DELETE", path, source_only="true", status=404, code="4")


def test_flagless_delete_removes_both_sides(lab, a, b):
    rel_uuid = make_rel(b, "vol16", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    b.refused("DELETE", path, code="2", destination_only="true", source_info_only="true")
    b.refused("DELETE", path, code="2", source_only="true")  # source_only belongs on the source
    b.run("DELETE", path)
    b.refused("GET", path, status=404, code="4")
    assert rel_uuid not in [r["uuid"] for r in
                            a.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    assert not [n for n in lab.volume("ontap-a", "svm_a:vol16")["snapshots"] if n.startswith("snapmirror.")]
    assert not [n for n in lab.volume("ontap-b", "svm_b:vol16_dst")["snapshots"] if n.startswith("snapmirror.")]
    b.refused("DELETE", path, status=404, code="4")


def test_source_info_only_keeps_common_snapshots(lab, a, b):
    rel_uuid = make_rel(b, "vol17", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    exported = b.rel(rel_uuid)["exported_snapshot"]
    b.run("DELETE", path, source_info_only="true")
    b.refused("GET", path, status=404, code="4")
    assert exported in lab.volume("ontap-b", "svm_b:vol17_dst")["snapshots"]
    a.run("DELETE", path, source_info_only="true")
    assert rel_uuid not in [r["uuid"] for r in
                            a.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    snaps = a.get(f"/api/storage/volumes/{a.volume('svm_a', 'vol17')['uuid']}/snapshots", name=exported,
                  fields="owners")["records"]
    assert len(snaps) == 1 and snaps[0]["owners"] == [], "the common snapshot stays, no longer owned"


# ------------------------------------------------------------------------------- transfers and schedules
def test_update_with_source_snapshot_and_throttle(lab, a, b):
    rel_uuid = make_rel(b, "vol18", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    vol_uuid = a.volume("svm_a", "vol18")["uuid"]
    lab.write("ontap-a", "svm_a:vol18", blocks=4, offset=64)
    a.run("POST", f"/api/storage/volumes/{vol_uuid}/snapshots", {"name": "app_consistent"})
    lab.write("ontap-a", "svm_a:vol18", blocks=4, offset=128)  # after the snapshot: not transferred
    b.refused("POST", path + "/transfers", {"source_snapshot": "nope"}, code="2")
    reply = b.run("POST", path + "/transfers", {"source_snapshot": "app_consistent", "throttle": "1024"})
    transfer_uuid = reply.headers["Location"].rsplit("/", 1)[1]
    assert reply.headers["Location"] == f"{path}/transfers/{transfer_uuid}", "the new transfer's own path"
    record = b.get(f"{path}/transfers/{transfer_uuid}", fields="state,snapshot")
    assert record["snapshot"] == "app_consistent" and record["state"] in ("transferring", "success")
    rel = wait_transfer(b, rel_uuid, "success", "update")
    assert rel["exported_snapshot"] == "app_consistent"
    assert rel["transfer"]["bytes_transferred"] == 4 * BLOCK
    assert lab.digest("ontap-b", "svm_b:vol18_dst") == src_snapshot_digest(lab, "vol18", "app_consistent")
    assert lab.digest("ontap-b", "svm_b:vol18_dst") != lab.digest("ontap-a", "svm_a:vol18")
    assert "app_consistent" in lab.volume("ontap-a", "svm_a:vol18")["snapshots"], "a named snapshot is kept"
    b.run("POST", path + "/transfers", {})
    wait_transfer(b, rel_uuid, "success", "update")
    assert lab.digest("ontap-b", "svm_b:vol18_dst") == lab.digest("ontap-a", "svm_a:vol18")


def test_scheduled_updates_follow_the_lab_clock(lab, b):
    rel_uuid = make_rel(b, "vol19", initialize=True, transfer_schedule={"name": "hourly"})
    lab.write("ontap-a", "svm_a:vol19", blocks=2, offset=33)
    time.sleep(0.1)
    assert b.rel(rel_uuid)["last_transfer_type"] == "initialize", "nothing runs before the hour"
    lab.advance_clock(3601)
    rel = wait_transfer(b, rel_uuid, "success", "update")
    assert seconds(rel["lag_time"]) < 60
    assert lab.digest("ontap-b", "svm_b:vol19_dst") == lab.digest("ontap-a", "svm_a:vol19")
    # paused relationships skip their schedule
    b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": "paused"})
    wait_state(b, rel_uuid, "paused")
    lab.write("ontap-a", "svm_a:vol19", blocks=2, offset=40)
    lab.advance_clock(7200)
    time.sleep(0.1)
    rel = b.rel(rel_uuid)
    assert rel["state"] == "paused" and seconds(rel["lag_time"]) >= 7200


def test_intra_cluster_relationship(lab, b):
    b.run("POST", "/api/storage/volumes", {"name": "local_src", "svm": {"name": "svm_b"}, "size": 64 * MIB,
                                           "nas": {"path": "/local_src"}})
    lab.write("ontap-b", "svm_b:local_src", blocks=10)
    make_dp(b, "local_dst")
    rel_uuid = b.run("POST", "/api/snapmirror/relationships",
                     {"source": {"path": "svm_b:local_src"}, "destination": {"path": "svm_b:local_dst"},
                      "state": "snapmirrored"}).headers["Location"].rsplit("/", 1)[1]
    rel = wait_state(b, rel_uuid, "snapmirrored")
    assert rel["source"]["cluster"]["name"] == rel["destination"]["cluster"]["name"] == "ontap-b"
    assert lab.digest("ontap-b", "svm_b:local_dst") == lab.digest("ontap-b", "svm_b:local_src")
    assert rel_uuid in [r["uuid"] for r in
                        b.get("/api/snapmirror/relationships", list_destinations_only="true")["records"]]
    b.run("DELETE", f"/api/snapmirror/relationships/{rel_uuid}")
    assert b.get("/api/snapmirror/relationships", list_destinations_only="true", uuid=rel_uuid)["num_records"] == 0
    assert not [n for n in lab.volume("ontap-b", "svm_b:local_src")["snapshots"] if n.startswith("snapmirror.")]
