"""storage.replication.thin_image_snapshot against the lab's Hitachi VSP, over HTTPS.

A Thin Image snapshot is a DR test copy: its S-VOL holds the P-VOL's image at the split (digests prove it)
while the P-VOL goes on changing, and the module sends nothing to ShadowImage pairs. Every change runs in
check mode first (the lab logs no mutation, not even a claim), then for real, then again (reported unchanged).
"""

from __future__ import annotations

import re

import pytest

from module_helpers import module_args
from storage_replication_lab.client import LabError

MIB = 1024 * 1024
SIZE = 8 * MIB
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410001, "settings": {"job_seconds": 0.02},
            "pools": [{"id": 0, "name": "dp_pool0", "size": "20TiB"}, {"id": 1, "name": "svols", "size": "1TiB"},
                      {"id": 5, "name": "snapshots", "size": "1TiB"}],
            "ldevs": [
                {"id_base": 256, "count": 24, "size": "8MiB", "pool": 0, "data_blocks": 4, "label": "prod{n:02d}"},
                {"id_base": 512, "count": 8, "size": "8MiB", "pool": 0, "label": "spare{n:02d}"},
                {"id": 600, "size": "16MiB", "pool": 0, "label": "big"},
                {"id_base": 700, "count": 4, "size": "8MiB", "pool": 0, "data_blocks": 4, "label": "si{n}"},
            ],
        },
    },
}
MODULE = "thin_image_snapshot"


@pytest.fixture
def conn(lab):
    return module_args(lab, "vsp-a", wait_timeout=60)


def step(lab, run_module, args, expect_actions):
    """Check mode (nothing sent that changes anything, not even a claim), apply (changed, the same actions and
    the diff check mode predicted), apply again (unchanged); return the applied result."""
    mark = lab.mark()
    check = run_module(MODULE, args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True and check["actions"] == expect_actions
    assert lab.mutations_since(mark, claims=True) == []
    applied = run_module(MODULE, args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True and applied["actions"] == expect_actions
    assert check["diff"]["after"] == applied["diff"]["after"]
    again = run_module(MODULE, args)
    assert not again["failed"], again
    assert again["changed"] is False and again["actions"] == []
    return applied


def defined(lab, ldev):
    try:
        lab.volume("vsp-a", str(ldev))
    except LabError:
        return False
    return True


def si_mutations(lab, mark):
    return [e for e in lab.log(mutating=True, since=mark) if "copypair" in e["path"] or "copygroup" in e["path"]]


def test_a_copy_with_an_svol_made_in_a_pool_through_its_whole_life(lab, run_module, conn):
    args = conn(snapshot_group="dr_a", pvol=256, pool_id=5, svol_pool_id=1)
    created = step(lab, run_module, args, ["create_svol", "label_svol", "create", "wait_split"])
    snap = created["snapshot"]
    svol = snap["svol"]
    assert (snap["pvol"], snap["snapshot_group"], snap["pool_id"], snap["status"]) == (256, "dr_a", 5, "PSUS")
    assert (snap["svol_label"], snap["svol_created"], snap["written"]) == ("dr_a", True, False)
    assert snap["mu_number"] == 3 and snap["recovery_point"].endswith("+00:00")
    assert snap["recovery_point_age_seconds"] >= 0
    assert created["diff"]["before"] == {"dr_a/256": {}}
    at_split = lab.digest("vsp-a", "256")
    assert lab.digest("vsp-a", str(svol)) == at_split
    assert lab.volume("vsp-a", str(svol))["host_access"] == "rw"
    assert svol == 0, "the lowest undefined LDEV id"

    # a converged copy costs four requests: session, the group's pairs, the S-VOL's LDEV, session closed
    mark = lab.mark()
    again = run_module(MODULE, args)
    assert again["changed"] is False and again["requests_sent"] == 4
    assert [e["path"].rsplit("/", 1)[-1] for e in lab.log(since=mark)][1:3] == ["snapshots", str(svol)]

    # production goes on writing; the copy keeps its point in time
    lab.write("vsp-a", "256", 3, offset=50)
    assert lab.digest("vsp-a", str(svol)) == at_split != lab.digest("vsp-a", "256")
    assert run_module(MODULE, args)["changed"] is False

    # removing it deletes the pair and the LDEV the module made; a rerun changes nothing
    removed = step(lab, run_module, dict(args, state="absent"), ["delete", "wait_deleted", "delete_svol"])
    assert removed["snapshot"] is None and removed["diff"]["after"] == {"dr_a/256": {}}
    assert not defined(lab, svol)
    assert lab.digest("vsp-a", "256") != at_split


def test_a_copy_without_an_svol_and_one_on_an_existing_ldev_which_stays(lab, run_module, conn):
    bare = step(lab, run_module, conn(snapshot_group="dr_b", pvol=257, pool_id=5), ["create", "wait_split"])
    assert bare["snapshot"]["svol"] is None and bare["snapshot"]["svol_created"] is False
    mapped = step(lab, run_module, conn(snapshot_group="dr_b", pvol=258, pool_id=5, svol=512), ["create", "wait_split"])
    assert (mapped["snapshot"]["svol"], mapped["snapshot"]["svol_label"]) == (512, "spare01")
    assert mapped["snapshot"]["svol_created"] is False
    assert lab.digest("vsp-a", "512") == lab.digest("vsp-a", "258")

    # the whole group goes; the LDEV the module did not make stays
    removed = step(lab, run_module, conn(snapshot_group="dr_b", state="absent"), ["delete", "wait_deleted"])
    assert removed["snapshot"] == [] and [s["pvol"] for s in removed["diff"]["before"]["dr_b"]] == [257, 258]
    assert defined(lab, 512) and lab.volume("vsp-a", "512")["host_access"] == "rw"


def test_deleting_a_written_copy_is_refused_naming_the_bytes_unless_allowed(lab, run_module, conn):
    args = conn(snapshot_group="dr_c", pvol=259, pool_id=5, svol_pool_id=1)
    svol = run_module(MODULE, args)["snapshot"]["svol"]
    lab.write("vsp-a", str(svol), 2, offset=10)  # the DR test writes to its copy
    assert run_module(MODULE, args)["snapshot"]["written"] is True

    mark = lab.mark()
    refused = run_module(MODULE, dict(args, state="absent"))
    assert refused["failed"] and refused["actions"] == []
    assert f"delete of dr_c/259 would discard an unknown amount of data (up to {SIZE} bytes" in refused["msg"]
    assert f"LDEV {svol}" in refused["msg"] and "allow_data_loss" in refused["msg"]
    assert refused["discarded_bytes"] == "unknown" and refused["differing_bytes_at_most"] == SIZE
    assert refused["snapshot"]["written"] is True
    assert lab.mutations_since(mark, claims=True) == [] and defined(lab, svol)

    removed = step(lab, run_module, dict(args, state="absent", allow_data_loss=True),
                   ["delete", "wait_deleted", "delete_svol"])
    assert removed["snapshot"] is None and not defined(lab, svol)


def test_a_pair_with_another_pool_or_svol_than_declared_is_an_error_naming_it(lab, run_module, conn):
    assert not run_module(MODULE, conn(snapshot_group="dr_d", pvol=260, pool_id=5, svol=513))["failed"]
    cases = [
        (dict(pool_id=0, svol=513), "dr_d/260 exists with snapshot pool 5, not pool 0"),
        (dict(pool_id=5, svol=514), "dr_d/260 exists with S-VOL 513, not S-VOL 514"),
        (dict(pool_id=5), "dr_d/260 exists with S-VOL 513, but the task declares none"),
    ]
    mark = lab.mark()
    for extra, expected in cases:
        failed = run_module(MODULE, conn(snapshot_group="dr_d", pvol=260, **extra))
        assert failed["failed"] and expected in failed["msg"], failed["msg"]
        assert failed["snapshot"]["svol"] == 513 and failed["changed"] is False
    # absent with another pool declared does not delete it either
    failed = run_module(MODULE, conn(snapshot_group="dr_d", pvol=260, pool_id=1, state="absent", allow_data_loss=True))
    assert failed["failed"] and "exists with snapshot pool 5, not pool 1" in failed["msg"]
    assert lab.mutations_since(mark, claims=True) == []

    # an existing LDEV that carries the module's label is not taken as an S-VOL it did not make
    assert not run_module(MODULE, conn(snapshot_group="dr_e", pvol=261, pool_id=5, svol_pool_id=1))["failed"]
    refused = run_module(MODULE, conn(snapshot_group="dr_e", pvol=262, pool_id=5, svol=515, label="spare04"))
    assert refused["failed"] and "LDEV 515 carries the label 'spare04'" in refused["msg"]


@pytest.mark.parametrize("args, expected", [
    ({"snapshot_group": "g" * 33, "pvol": 256, "pool_id": 5}, "is 33 characters long; the array allows at most 32"),
    ({"snapshot_group": "a,b", "pvol": 256, "pool_id": 5}, "contains a comma"),
    ({"snapshot_group": "dr", "pool_id": 5}, "pvol is required with state=present"),
    ({"snapshot_group": "dr", "pvol": 256, "svol": 256}, "pvol and svol are the same LDEV (256)"),
    ({"snapshot_group": "dr", "pvol": 70000}, "pvol 70000 is out of range"),
    ({"snapshot_group": "dr", "pvol": 256, "pool_id": 128}, "pool_id 128 is out of range"),
    ({"snapshot_group": "dr", "pvol": 256, "label": "x" * 33}, "an LDEV label has 1-32 characters"),
    ({"snapshot_group": "dr", "state": "absent", "svol": 5}, "svol and svol_pool_id need pvol"),
    ({"snapshots": [{"snapshot_group": "dr", "pvol": 1}, {"snapshot_group": "dr", "pvol": 1}]}, "dr/1 is listed twice"),
    ({"snapshots": [{"snapshot_group": "dr", "pvol": 1, "svol": 9}, {"snapshot_group": "dr", "pvol": 2, "svol": 9}]},
     "LDEV 9 is the S-VOL of both dr/1 and dr/2"),
    ({"snapshots": []}, "snapshots is empty"),
])
def test_bad_input_fails_before_any_request(lab, run_module, conn, args, expected):
    mark = lab.mark()
    failed = run_module(MODULE, conn(**args))
    assert failed["failed"] and expected in failed["msg"], failed["msg"]
    assert failed["requests_sent"] == 0 and lab.log(since=mark) == []


def test_what_the_array_has_that_a_create_needs_is_checked_before_any_change(lab, run_module, conn):
    mark = lab.mark()
    for extra, expected in [
        ({"pvol": 263}, "pool_id (the snapshot pool) is required to create a snapshot"),
        ({"pvol": 263, "pool_id": 9}, "snapshot pool 9 does not exist"),
        ({"pvol": 263, "pool_id": 5, "svol_pool_id": 9}, "svol_pool_id 9 does not exist"),
        ({"pvol": 4000, "pool_id": 5}, "the P-VOL, LDEV 4000, is not defined"),
        ({"pvol": 263, "pool_id": 5, "svol": 600}, "LDEV 600 has 32768 blocks, the P-VOL 16384"),
        ({"pvol": 263, "pool_id": 5, "svol": 4000}, "the S-VOL, LDEV 4000, is not defined"),
        ({"pvol": 263, "pool_id": 5, "svol": 256, "svol_pool_id": 1}, "LDEV 256 (svol) is already defined"),
    ]:
        failed = run_module(MODULE, conn(snapshot_group="dr_f", **extra))
        assert failed["failed"] and expected in failed["msg"], (expected, failed["msg"])
    assert lab.mutations_since(mark, claims=True) == []


def test_shadowimage_pvol_in_pair_works_its_svol_in_pair_fails_and_no_request_reaches_a_shadowimage_pair(
        lab, run_module, conn):
    si = run_module("shadowimage_pair", conn(copy_group="si_cg", pair_name="p1", pvol=700, svol=701))
    assert not si["failed"] and si["pair"]["state"] == "paired"
    mark = lab.mark()

    # the P-VOL of a pair in PAIR: the snapshot holds what the S-VOL would hold if split now
    of_pvol = step(lab, run_module, conn(snapshot_group="dr_si", pvol=700, pool_id=5, svol_pool_id=1),
                   ["create_svol", "label_svol", "create", "wait_split"])
    assert lab.digest("vsp-a", str(of_pvol["snapshot"]["svol"])) == lab.digest("vsp-a", "701")

    # the S-VOL of a pair in PAIR: the array refuses; its message and code come through, the S-VOL made is gone
    args = conn(snapshot_group="dr_si", pvol=701, pool_id=5, svol_pool_id=1)
    failed = run_module(MODULE, args)
    assert failed["failed"] and failed["changed"] is True
    made = int(re.search(r"\(P-VOL 701, S-VOL (\d+)\) failed", failed["msg"]).group(1))
    assert failed["msg"].startswith(f"creating the Thin Image pair dr_si/701 (P-VOL 701, S-VOL {made}) failed")
    assert "ShadowImage pair" in failed["msg"] and "(SSB1 2E10, SSB2 9A24)" in failed["msg"]
    assert failed["array_code"] == "KART30000-E" and failed["array_error_code"] == {"SSB1": "2E10", "SSB2": "9A24"}
    assert failed["actions"] == ["create_svol", "label_svol", "delete_svol"]
    assert f"(LDEV {made}) was deleted again" in failed["msg"] and not defined(lab, made)
    assert si_mutations(lab, mark) == []

    # once the ShadowImage pair is split, its S-VOL can be snapshotted
    assert not run_module("shadowimage_pair", conn(copy_group="si_cg", pair_name="p1", pair_state="split"))["failed"]
    split_mark = lab.mark()
    of_svol = step(lab, run_module, args, ["create_svol", "label_svol", "create", "wait_split"])
    assert lab.digest("vsp-a", str(of_svol["snapshot"]["svol"])) == lab.digest("vsp-a", "701")
    removed = run_module(MODULE, conn(snapshot_group="dr_si", state="absent"))
    assert removed["actions"] == ["delete", "wait_deleted", "delete_svol", "delete_svol"]
    assert si_mutations(lab, split_mark) == []
    untouched = run_module("shadowimage_pair", conn(copy_group="si_cg", pair_name="p1", pair_state="split"),
                           check_mode=True)
    assert untouched["changed"] is False and untouched["pair"]["state"] == "split"


def test_a_split_pair_found_resynced_is_split_again(lab, run_module, conn):
    args = conn(snapshot_group="dr_g", pvol=263, pool_id=5, svol_pool_id=1)
    first = run_module(MODULE, args)["snapshot"]
    session = lab.session("vsp-a")
    base = lab.url("vsp-a", "/ConfigurationManager/v1/objects")
    login = session.post(f"{base}/sessions", json={}).json()
    session.auth = None
    session.headers["Authorization"] = f"Session {login['token']}"
    try:
        reply = session.post(f"{base}/snapshots/263,{first['mu_number']}/actions/resync/invoke",
                             json={"parameters": {}}, headers={"Response-Job-Status": "Completed"})
        assert reply.status_code == 202, reply.text
    finally:
        session.delete(f"{base}/sessions/{login['sessionId']}")
    check = run_module(MODULE, args, check_mode=True, diff=True)
    assert check["diff"]["before"]["dr_g/263"]["status"] == "PAIR" and check["actions"] == ["split", "wait_split"]
    lab.write("vsp-a", "263", 1, offset=70)
    split = step(lab, run_module, args, ["split", "wait_split"])
    assert split["snapshot"]["status"] == "PSUS" and split["snapshot"]["svol"] == first["svol"]
    assert lab.digest("vsp-a", str(first["svol"])) == lab.digest("vsp-a", "263")


def test_many_snapshots_in_one_run_then_the_whole_group_removed(lab, run_module, conn):
    items = [{"pvol": n} for n in range(264, 268)]
    args = conn(snapshot_group="dr_bulk", pool_id=5, svol_pool_id=1, label="drtest_bulk", snapshots=items)
    mark = lab.mark()
    check = run_module(MODULE, args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert lab.mutations_since(mark, claims=True) == []
    mark = lab.mark()
    applied = run_module(MODULE, args, diff=True)
    assert not applied["failed"], applied
    assert applied["summary"] == {"total": 4, "changed": 4, "ok": 0, "failed": 0, "skipped": 0}
    sent = [(e["method"], e["path"].split("/v1/")[-1]) for e in lab.mutations_since(mark, claims=True)]
    # one run acts at a time: the storage system's resource lock is held around the changes
    assert sent[0] == ("POST", "services/resource-group-service/actions/lock/invoke")
    assert sent[-1] == ("POST", "services/resource-group-service/actions/unlock/invoke")
    assert sorted(m for m, _p in sent[1:-1]) == ["PATCH"] * 4 + ["POST"] * 8
    assert [r["item"] for r in applied["snapshots"]] == [f"dr_bulk/{n}" for n in range(264, 268)]
    assert check["diff"]["after"] == applied["diff"]["after"]
    svols = [r["snapshot"]["svol"] for r in applied["snapshots"]]
    assert len(set(svols)) == 4 and all(r["snapshot"]["svol_label"] == "drtest_bulk" for r in applied["snapshots"])
    for n, svol in zip(range(264, 268), svols):
        assert lab.digest("vsp-a", str(svol)) == lab.digest("vsp-a", str(n))
    again = run_module(MODULE, args)
    assert again["summary"]["ok"] == 4 and again["changed"] is False

    group = conn(snapshot_group="dr_bulk", state="absent", label="drtest_bulk")
    removed = run_module(MODULE, group)
    assert removed["actions"] == ["delete", "wait_deleted"] + ["delete_svol"] * 4
    assert removed["snapshot"] == [] and not any(defined(lab, s) for s in svols)
    assert run_module(MODULE, group)["changed"] is False


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_write_without_an_answer_is_read_again_and_the_run_goes_on(lab, run_module, conn, dropping, when):
    pvol = 268 if when == "before" else 269
    args = conn(snapshot_group=f"dr_drop_{when}", pvol=pvol, pool_id=5, svol_pool_id=1)
    result = dropping("vsp-a", when, MODULE, args, f"dr_drop_{when}/{pvol}")
    assert result["snapshot"]["status"] == "PSUS" and result["snapshot"]["svol_created"] is True
    svol = result["snapshot"]["svol"]
    assert lab.digest("vsp-a", str(svol)) == lab.digest("vsp-a", str(pvol))
    removed = run_module(MODULE, dict(args, state="absent"))
    assert not removed["failed"] and not defined(lab, svol)


def test_an_svol_left_by_a_stopped_run_is_found_in_its_pool_by_its_label(lab, run_module, conn):
    # a run stopped between the pair's delete and the S-VOL's (or between the S-VOL's create and the pair's)
    # leaves an unpaired LDEV carrying the label: with svol_pool_id, state=absent finds and deletes it, and
    # leaves the pool's other LDEVs alone
    import requests  # pylint: disable=import-outside-toplevel
    args = conn(snapshot_group="dr_k", pvol=270, pool_id=5, svol_pool_id=1)
    made = run_module(MODULE, args)
    assert not made["failed"], made
    svol, mu = made["snapshot"]["svol"], made["snapshot"]["mu_number"]
    info = lab.array("vsp-a")
    http = requests.Session()
    http.trust_env, http.verify = False, info["ca_file"]
    base = info["url"] + "/ConfigurationManager/v1/objects"
    login = http.post(base + "/sessions", auth=(info["username"], info["password"]), json={}, timeout=30).json()
    http.headers["Authorization"] = f"Session {login['token']}"
    try:
        reply = http.delete(f"{base}/snapshots/270,{mu}", timeout=30)
        assert reply.status_code == 202, reply.text
        lab.wait_for(lambda: http.get(f"{base}/jobs/{reply.json()['jobId']}", timeout=30).json()["status"]
                     == "Completed")
    finally:
        http.delete(f"{base}/sessions/{login['sessionId']}", timeout=30)
    assert defined(lab, svol)
    without_pool = conn(snapshot_group="dr_k", pvol=270, state="absent")
    assert run_module(MODULE, without_pool)["changed"] is False, "without the pool, nothing says which LDEV it was"
    removed = step(lab, run_module, dict(without_pool, svol_pool_id=1), ["delete_svol"])
    assert removed["snapshot"] == [] or removed["snapshot"] is None or removed["snapshot"]["svol"] is None
    assert not defined(lab, svol) and defined(lab, 512)
