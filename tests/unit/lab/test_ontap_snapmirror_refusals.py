"""The ONTAP simulator's SnapMirror transition table: what it refuses, from each state and on create.

Every call goes over the wire the way a real ONTAP REST client sends it, through
plain HTTPS with the lab's CA. The DR cycle and the other transitions that succeed
are covered in test_ontap_snapmirror.py.
"""

from __future__ import annotations

import pytest

from ontap_helpers import MIB, TOPOLOGY, Rest, make_dp, make_rel, until, wait_state

LAB_TOPOLOGY = TOPOLOGY


@pytest.fixture(name="b")
def fixture_b(lab):
    return Rest(lab, "ontap-b")


# -------------------------------------------------------------------------------- the transition table
def test_refusals_from_uninitialized(b):
    rel_uuid = make_rel(b, "vol6")
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    b.refused("PATCH", path, {"state": "broken_off"}, code="13303812")
    b.refused("PATCH", path, {"state": "paused"}, code="13303812")
    b.refused("PATCH", path, {"state": "in_sync"}, code="13303812")  # in_sync is not ACTIVE for an async policy
    b.refused("PATCH", path, {"state": "synchronizing"}, code="2")  # system-set only
    b.refused("PATCH", path, {"state": "bogus"}, code="2")
    b.refused("PATCH", path, {"source": {"path": "svm_b:vol6_dst"}, "destination": {"path": "svm_a:vol6"},
                              "state": "snapmirrored"}, code="13303812")
    b.refused("PATCH", path, {"policy": {"name": "Sync"}}, code="2")  # the policy type cannot change
    b.refused("PATCH", path, {"policy": {"name": "NoSuchPolicy"}})
    b.refused("PATCH", path, {"transfer_schedule": {"name": "fortnightly"}})
    b.refused("PATCH", path, {"backoff_level": "extreme"}, code="2")
    b.refused("PATCH", path, {"unknown_field": 1}, code="262179")
    assert b.rel(rel_uuid)["state"] == "uninitialized", "nothing changed"


def test_refusals_while_transferring(lab, b):
    rel_uuid = make_rel(b, "vol7", throttle=64)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    b.run("PATCH", path, {"state": "snapmirrored"})
    transfer = b.rel(rel_uuid)["transfer"]
    assert transfer["state"] == "transferring"
    b.refused("POST", path + "/transfers", {}, status=409, code="13303808")
    b.refused("PATCH", path, {"state": "broken_off"}, code="13303812")  # still uninitialized
    b.refused("DELETE", path, status=409, code="13303808")
    b.run("PATCH", f"{path}/transfers/{transfer['uuid']}", {"state": "hard_aborted"})
    until(lambda: b.rel(rel_uuid)["transfer"]["state"] == "hard_aborted")
    b.run("PATCH", path, {"throttle": 0})
    b.run("POST", path + "/transfers", {})
    wait_state(b, rel_uuid, "snapmirrored")
    b.run("PATCH", path, {"throttle": 64})
    lab.write("ontap-a", "svm_a:vol7", blocks=16, offset=300)
    b.run("POST", path + "/transfers", {})
    b.refused("POST", path + "/transfers", {}, status=409, code="13303808")
    b.refused("PATCH", path, {"state": "broken_off"}, status=409, code="13303808")  # quiesce or abort first
    b.refused("PATCH", path, {"source": {"path": "svm_b:vol7_dst"}, "destination": {"path": "svm_a:vol7"}},
              status=409, code="13303808")
    b.refused("DELETE", path, status=409, code="13303808")
    assert b.rel(rel_uuid)["state"] == "snapmirrored"
    b.run("PATCH", f"{path}/transfers/{b.rel(rel_uuid)['transfer']['uuid']}", {"state": "aborted"})
    rel = until(lambda: b.rel(rel_uuid), lambda r: r["transfer"]["state"] == "aborted")
    assert rel["state"] == "snapmirrored"
    b.run("PATCH", path, {"state": "broken_off"})  # an aborted last transfer does not stand in the way
    wait_state(b, rel_uuid, "broken_off")


def test_refusals_from_paused_and_broken_off(b):
    rel_uuid = make_rel(b, "vol8", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    exported = b.rel(rel_uuid)["exported_snapshot"]
    b.run("PATCH", path, {"state": "snapmirrored"})  # to the current state: a no-op (unverified)
    rel = b.rel(rel_uuid)
    assert rel["state"] == "snapmirrored" and rel["exported_snapshot"] == exported
    assert rel["transfer"]["type"] == "initialize", "no transfer was started"
    b.run("PATCH", path, {"state": "paused"})
    wait_state(b, rel_uuid, "paused")
    b.run("PATCH", path, {"state": "paused"})  # to the current state: a no-op (unverified)
    b.refused("POST", path + "/transfers", {}, code="13303812")
    b.refused("PATCH", path, {"state": "in_sync"}, code="13303812")
    b.run("PATCH", path, {"state": "broken_off"})
    wait_state(b, rel_uuid, "broken_off")
    b.run("PATCH", path, {"state": "broken_off"})  # to the current state: a no-op (unverified)
    b.refused("POST", path + "/transfers", {}, code="13303812")
    b.refused("PATCH", path, {"state": "paused"}, code="13303812")
    b.refused("PATCH", path, {"source": {"path": "svm_b:other"}, "destination": {"path": "svm_a:vol8"}}, code="2")
    assert b.rel(rel_uuid)["state"] == "broken_off"


def test_refusals_on_create(lab, b):
    make_dp(b, "vol9_dst")
    rels = "/api/snapmirror/relationships"
    ok = {"source": {"path": "svm_a:vol9"}, "destination": {"path": "svm_b:vol9_dst"}}
    b.refused("POST", rels, {"source": {"path": "svm_a:vol9"}}, code="2")
    b.refused("POST", rels, {"destination": {"path": "svm_b:vol9_dst"}}, code="2")
    b.refused("POST", rels, dict(ok, transfer_schedule=None), code="2")
    b.refused("POST", rels, dict(ok, throttle=10, create_destination={"enabled": True}), code="2")
    b.refused("POST", rels, dict(ok, restore=True, throttle=10), code="2")
    b.refused("POST", rels, dict(ok, state="in_sync"), code="13303812")
    b.refused("POST", rels, dict(ok, state="paused"), code="2")
    b.refused("POST", rels, dict(ok, policy={"name": "Nope"}))
    b.refused("POST", rels, {"source": {"path": "svm_x:vol9"}, "destination": {"path": "svm_b:vol9_dst"}})
    b.refused("POST", rels, {"source": {"path": "svm_a:nope"}, "destination": {"path": "svm_b:vol9_dst"}})
    b.refused("POST", rels, {"source": {"path": "svm_a:vol9"}, "destination": {"path": "svm_b:nope"}})
    b.refused("POST", rels, {"source": {"path": "svm_a:vol9"}, "destination": {"path": "svm_b:vol9_dst"},
                             "surprise": True}, code="262179")
    # the destination must be DP; the source must be rw
    rw_uuid = b.run("POST", "/api/storage/volumes", {"name": "vol9_rw", "svm": {"name": "svm_b"}, "size": 64 * MIB}
                    ).headers["Location"].rsplit("/", 1)[1]
    assert b.get(f"/api/storage/volumes/{rw_uuid}")["type"] == "rw"
    b.refused("POST", rels, {"source": {"path": "svm_a:vol9"}, "destination": {"path": "svm_b:vol9_rw"}})
    b.run("POST", rels, ok)
    b.refused("POST", rels, ok, status=409, code="6619637")
    dst_again = make_dp(b, "vol9_cascade")
    assert dst_again
    b.refused("POST", rels, {"source": {"path": "svm_b:vol9_dst"}, "destination": {"path": "svm_b:vol9_cascade"}})


def test_sync_policy_refusals(lab, b):
    rel_uuid = make_rel(b, "vol10", policy="Sync")
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    rel = b.rel(rel_uuid)
    assert rel["policy"]["type"] == "sync"
    b.refused("PATCH", path, {"state": "snapmirrored"}, code="13303812")
    b.run("PATCH", path, {"state": "in_sync"})
    wait_state(b, rel_uuid, "in_sync")
    b.refused("POST", path + "/transfers", {}, code="13303812")
    b.refused("PATCH", path, {"policy": {"name": "Asynchronous"}}, code="2")


def test_automated_failover_refuses_quiesce_and_break(b):
    rel_uuid = make_rel(b, "vol11", policy="AutomatedFailOver", initialize=True)
    path = f"/api/snapmirror/relationships/{rel_uuid}"
    b.refused("PATCH", path, {"state": "paused"}, code="13303812")
    b.refused("PATCH", path, {"state": "broken_off"}, code="13303812")
    assert b.rel(rel_uuid)["state"] == "in_sync"
