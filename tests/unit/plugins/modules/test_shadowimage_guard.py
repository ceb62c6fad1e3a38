"""storage.replication.shadowimage_pair refuses to discard data, against the lab's Hitachi VSP over HTTPS.

A resync (P-VOL -> S-VOL) or restore (S-VOL -> P-VOL) of a split pair overwrites what was written to the
other volume since the split. The array reports how much of the two volumes differs (copyProgressRate of a
split pair) but not which volume was written, so the module refuses, with the bound, unless the task says
allow_data_loss. It also refuses a task that declares an existing pair with other volumes or MU.
"""

from __future__ import annotations

import pytest

from module_helpers import module_args, vsp_topology

BLOCK = 64 * 1024
CAPACITY = 256 * 1024 * 1024
LAB_TOPOLOGY = vsp_topology(pvols=12, svols=12)


def up_to(blocks_differing: int) -> int:
    """The bound the module derives from the rate the lab reports after ``blocks_differing`` 64 KiB blocks."""
    nblocks = CAPACITY // BLOCK
    rate = 100 * (nblocks - blocks_differing) // nblocks
    return -(-CAPACITY * (100 - rate) // 100)


@pytest.fixture
def conn(lab):
    return module_args(lab, "vsp-a", wait_timeout=60)


def split_pair(run_module, args):
    made = run_module("shadowimage_pair", dict(args, pair_state="split"))
    assert not made["failed"], made
    assert made["pair"]["state"] == "split"


def converge(lab, run_module, args, actions):
    """Check mode (no mutation), apply, apply again (unchanged); the applied result."""
    mark = lab.mark()
    check = run_module("shadowimage_pair", args, check_mode=True)
    assert not check["failed"], check
    assert check["changed"] is True and check["actions"] == actions and lab.mutations_since(mark) == []
    applied = run_module("shadowimage_pair", args)
    assert not applied["failed"], applied
    assert applied["changed"] is True and applied["actions"] == actions
    again = run_module("shadowimage_pair", args)
    assert not again["failed"] and again["changed"] is False and again["actions"] == []
    return applied


def refused(lab, run_module, args):
    """The task fails in check mode and for real, the same way, changing nothing; the real run's result."""
    mark = lab.mark()
    results = [run_module("shadowimage_pair", args, check_mode=check) for check in (True, False)]
    for result in results:
        assert result["failed"], result
        assert result.get("changed") is False and result.get("actions", []) == []
    assert results[0]["msg"] == results[1]["msg"]
    assert lab.mutations_since(mark) == []
    return results[1]


def test_a_resync_over_svol_writes_is_refused_unless_allow_data_loss(lab, run_module, conn):
    args = conn(copy_group="g_svol", pair_name="p1", pvol=256, svol=512)
    split_pair(run_module, args)
    lab.write("vsp-a", "512", 8, offset=40)  # 524,288 bytes written to the S-VOL, e.g. by a backup job
    svol = lab.digest("vsp-a", "512")
    assert svol != lab.digest("vsp-a", "256")

    result = refused(lab, run_module, dict(args, pair_state="paired"))
    assert result["msg"].startswith("resync of g_svol/p1 would discard an unknown amount of data "
                                    f"(up to {up_to(8)} bytes differ between the two sides"), result["msg"]
    assert "written to the S-VOL (LDEV 512); set allow_data_loss: true to resync anyway" in result["msg"]
    assert result["discarded_bytes"] == "unknown" and result["differing_bytes_at_most"] == up_to(8)
    assert result["pair"]["state"] == "split" and result["pair"]["progress"] == 99
    assert lab.digest("vsp-a", "512") == svol

    resynced = converge(lab, run_module, dict(args, pair_state="paired", allow_data_loss=True),
                        ["resync", "wait_paired"])
    assert resynced["pair"]["state"] == "paired"
    assert lab.digest("vsp-a", "512") == lab.digest("vsp-a", "256") != svol


def test_allow_data_loss_of_an_item_overrides_the_tasks(lab, run_module, conn):
    pairs = [{"pair_name": "p1", "pvol": 257, "svol": 513}, {"pair_name": "p2", "pvol": 258, "svol": 514}]
    assert not run_module("shadowimage_pair", conn(copy_group="g_items", pairs=pairs, pair_state="split"))["failed"]
    lab.write("vsp-a", "513", 1, offset=0)
    lab.write("vsp-a", "514", 1, offset=0)
    items = [dict(pairs[0], allow_data_loss=False), pairs[1]]
    mark = lab.mark()
    result = run_module("shadowimage_pair", conn(copy_group="g_items", pairs=items, allow_data_loss=True,
                                                 continue_on_error=True))
    assert result["failed"] and result["summary"]["failed"] == 1 and result["summary"]["changed"] == 1
    first, second = result["pairs"]
    assert first["failed"] and "resync of g_items/p1 would discard" in first["msg"] and first["actions"] == []
    assert first["differing_bytes_at_most"] == up_to(1) and first["discarded_bytes"] == "unknown"
    assert second["actions"] == ["resync", "wait_paired"] and second["pair"]["state"] == "paired"
    assert [e["path"].split("/objects/")[1] for e in lab.mutations_since(mark)] == \
        ["local-clone-copypairs/g_items,g_itemsP_,g_itemsS_,p2/actions/resync/invoke"]
    assert lab.digest("vsp-a", "513") != lab.digest("vsp-a", "257")


def test_a_split_pair_with_nothing_written_is_resynced_without_allow_data_loss(lab, run_module, conn):
    args = conn(copy_group="g_clean", pair_name="p1", pvol=259, svol=515)
    split_pair(run_module, args)
    mark = lab.mark()
    resynced = converge(lab, run_module, args, ["resync", "wait_paired"])
    assert resynced["pair"]["state"] == "paired"
    # a split pair whose volumes are identical (progress 100) needs no LDEV read to know nothing is at stake
    assert not [e for e in lab.log(since=mark) if "/ldevs" in e["path"]]
    assert lab.digest("vsp-a", "515") == lab.digest("vsp-a", "259")


def test_a_restore_over_pvol_writes_is_refused_unless_allow_data_loss(lab, run_module, conn):
    args = conn(copy_group="g_pvol", pair_name="p1", pvol=260, svol=516)
    split_pair(run_module, args)
    svol = lab.digest("vsp-a", "516")
    lab.write("vsp-a", "260", 8, offset=100)  # production writes since the split
    pvol = lab.digest("vsp-a", "260")

    result = refused(lab, run_module, dict(args, restore=True))
    assert result["msg"].startswith(f"restore of g_pvol/p1 would discard an unknown amount of data (up to "
                                    f"{up_to(8)} bytes differ"), result["msg"]
    assert "written to the P-VOL (LDEV 260); set allow_data_loss: true to restore anyway" in result["msg"]
    assert result["differing_bytes_at_most"] == up_to(8) and result["discarded_bytes"] == "unknown"
    assert lab.digest("vsp-a", "260") == pvol

    restored = converge(lab, run_module, dict(args, restore=True, pair_state="split", allow_data_loss=True),
                        ["restore", "wait_paired", "split", "wait_split"])
    assert restored["pair"]["state"] == "split"
    assert lab.digest("vsp-a", "260") == svol == lab.digest("vsp-a", "516")


def test_copy_group_resync_and_restore_measure_every_pair(lab, run_module, conn):
    pairs = [{"pair_name": f"p{n}", "pvol": 261 + n, "svol": 517 + n} for n in range(3)]
    assert not run_module("shadowimage_pair", conn(copy_group="g_all", pairs=pairs, pair_state="split"))["failed"]
    lab.write("vsp-a", "518", 2, offset=10)  # S-VOL of p1
    lab.write("vsp-a", "263", 50, offset=10)  # P-VOL of p2
    mark = lab.mark()
    result = refused(lab, run_module, conn(copy_group="g_all"))
    assert result["msg"].startswith(f"resync of g_all would discard an unknown amount of data (up to "
                                    f"{up_to(2) + up_to(50)} bytes differ"), result["msg"]
    assert f"written to the S-VOLs of p1 (LDEV 518, up to {up_to(2)} bytes), p2 (LDEV 519, up to {up_to(50)} " \
        "bytes); set allow_data_loss: true" in result["msg"]
    assert result["differing_bytes_by_pair"] == {"p0": 0, "p1": up_to(2), "p2": up_to(50)}
    assert result["pair"] is None and result["group"]["state"] == "split" and result["group"]["pair_count"] == 3
    # only the P-VOLs of the pairs that differ are read for their capacity (check mode, then the real run)
    ldev_reads = [e["path"].rsplit("/", 1)[-1] for e in lab.log(since=mark) if "/ldevs" in e["path"]]
    assert sorted(ldev_reads) == ["262", "262", "263", "263"]

    group = converge(lab, run_module, conn(copy_group="g_all", allow_data_loss=True), ["resync", "wait_paired"])
    assert group["group"]["state"] == "paired"
    for n in range(3):
        assert lab.digest("vsp-a", str(517 + n)) == lab.digest("vsp-a", str(261 + n))

    assert not run_module("shadowimage_pair", conn(copy_group="g_all", pair_state="split"))["failed"]
    lab.write("vsp-a", "261", 3, offset=0)  # P-VOL of p0
    result = refused(lab, run_module, conn(copy_group="g_all", restore=True))
    assert f"restore of g_all would discard an unknown amount of data (up to {up_to(3)} bytes" in result["msg"]
    assert f"written to the P-VOLs of p0 (LDEV 261, up to {up_to(3)} bytes); set allow_data_loss" in result["msg"]
    restored = converge(lab, run_module, conn(copy_group="g_all", restore=True, pair_state="split",
                                              allow_data_loss=True),
                        ["restore", "wait_paired", "split", "wait_split"])
    assert restored["group"]["state"] == "split"
    assert lab.digest("vsp-a", "261") == lab.digest("vsp-a", "517")


IDENTITY = [
    ("another P-VOL", {"pvol": 266}, "pair g_id/p1 exists with P-VOL 265 (not 266); these cannot change"),
    ("another S-VOL", {"svol": 522}, "pair g_id/p1 exists with S-VOL 521 (not 522)"),
    ("another MU", {"mu_number": 2}, "pair g_id/p1 exists with MU 0 (not 2)"),
    ("another P-VOL, split", {"pvol": 266, "pair_state": "split"}, "exists with P-VOL 265 (not 266)"),
    ("another P-VOL, deleted", {"pvol": 266, "state": "absent"},
     "pair g_id/p1 exists with P-VOL 265 (not 266): not the pair the task declares, so it is not deleted"),
]


@pytest.mark.parametrize("name, override, message", IDENTITY, ids=[i[0] for i in IDENTITY])
def test_an_existing_pair_declared_with_another_identity_is_refused(lab, run_module, conn, name, override, message):
    args = conn(copy_group="g_id", pair_name="p1", pvol=265, svol=521, mu_number=0)
    made = run_module("shadowimage_pair", args)
    assert not made["failed"], made
    result = refused(lab, run_module, dict(args, **override))
    assert message in result["msg"], (name, result["msg"])
    assert result["pair"]["pvol"] == 265 and result["pair"]["svol"] == 521 and result["pair"]["state"] == "paired"
    assert run_module("shadowimage_pair", args)["changed"] is False
