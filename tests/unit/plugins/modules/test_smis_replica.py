"""storage.replication.smis_replica against the lab's SMI-S providers, over CIM-XML on HTTPS.

A snapshot or clone of a mirror's target element is a DR test copy: it holds the target's data (digests
prove it) while the mirror goes on, and the module sends nothing to the mirror's synchronization (the
request log proves it). Every change runs in check mode first (the lab logs no mutation, not even a
claim), then for real, then again (reported unchanged).
"""

from __future__ import annotations

import pytest

from storage_replication_lab.client import LabError

from module_helpers import module_args

SIZE = 4 * 1024 * 1024
VOLUMES = [{"name": "vol{n}", "count": 6, "id_base": 0, "size": "4MiB", "data_blocks": 16}]
LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB", "tick_seconds": 0.02},
    "arrays": {
        "smis-a": {"vendor": "smis", "profile": "3par", "volumes": [dict(VOLUMES[0], id_base=101)]},
        # a generic provider with Block Services (ReturnToStoragePool), and one without
        "smis-b": {"vendor": "smis", "profile": "generic", "block_services": True,
                   "volumes": [dict(VOLUMES[0], id_base=201), {"name": "twin", "id": 230, "size": "4MiB"},
                               {"name": "twin", "id": 231, "size": "4MiB"}]},
        "smis-c": {"vendor": "smis", "profile": "generic", "volumes": [dict(VOLUMES[0], id_base=301)]},
    },
}
MODIFIES = ("ModifyReplicaSynchronization", "ModifySynchronization")


@pytest.fixture
def conn(lab):
    return module_args(lab, "smis-b", wait_timeout=30, namespace=True)


def step(lab, run_module, args, expect_actions):
    """Check mode (nothing logged, not even a claim), apply (changed, the same actions and diff), apply again
    (unchanged, two reads); return the applied result."""
    mark = lab.mark()
    check = run_module("smis_replica", args, check_mode=True, diff=True)
    assert not check["failed"], check
    assert check["changed"] is True and check["actions"] == expect_actions
    assert lab.mutations_since(mark, claims=True) == []
    applied = run_module("smis_replica", args, diff=True)
    assert not applied["failed"], applied
    assert applied["changed"] is True and applied["actions"] == expect_actions
    assert check["diff"] == applied["diff"]
    mark = lab.mark()
    again = run_module("smis_replica", args)
    assert not again["failed"], again
    assert again["changed"] is False and again["actions"] == []
    assert again["requests_sent"] == 2 and lab.mutations_since(mark, claims=True) == []
    return applied


def refused(lab, run_module, args, *fragments, claims=True):
    """The module fails with a message holding every fragment, and the lab logged no mutation (with ``claims``:
    not even a claim)."""
    mark = lab.mark()
    result = run_module("smis_replica", args)
    assert result["failed"], result
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]
    assert lab.mutations_since(mark, claims=claims) == []
    return result


def mirror(lab, run_module, array, source, target):
    """A synchronous mirror source -> target (created by the provider), synchronized; its facts."""
    result = run_module("smis_sync", module_args(lab, array, 30, namespace=True)(
        array, source=source, target=target, sync_type="mirror", mode="sync", sync_state="synchronized"))
    assert not result["failed"], result
    return result["synchronization"]


def pair_state(lab, array, source, target):
    found = [s for s in lab.status(array)["synchronizations"] if (s["source"], s["target"]) == (source, target)]
    return found[0]["copy_state"] if found else None


def gone(lab, array, dev):
    try:
        lab.volume(array, dev)
    except LabError:
        return True
    return False


def modifies_of(lab, mark, array, dev):
    """The Modify(Replica)Synchronization requests since ``mark`` that named volume ``dev``."""
    return [e for e in lab.mutations_since(mark, array) if e.get("cim_method") in MODIFIES
            and dev in (e.get("cim_devices") or [])]


def test_auto_makes_a_snapshot_of_the_mirror_target_and_leaves_the_mirror_alone(lab, run_module, conn):
    pair = mirror(lab, run_module, "smis-b", "vol1", "vol1_m")
    src, tgt = pair["source_device_id"], pair["target_device_id"]
    start = lab.mark()
    args = conn(source="vol1_m", name="vol1_m_drtest")
    created = step(lab, run_module, args, ["create"])
    replica = created["replica"]
    assert (replica["name"], replica["source"], replica["source_name"]) == ("vol1_m_drtest", tgt, "vol1_m")
    assert (replica["sync_type"], replica["copy_state"], replica["size_bytes"]) == ("snapshot", "Synchronized", SIZE)
    assert replica["written_bytes"] is None and replica["recovery_point"].endswith("+00:00")
    assert replica["recovery_point_age_seconds"] >= 0
    assert created["diff"]["before"] == {"vol1_m_drtest": {}}
    assert created["diff"]["after"]["vol1_m_drtest"]["sync_type"] == "snapshot"
    dev = replica["device_id"]
    sent = [e for e in lab.mutations_since(start, "smis-b") if e.get("cim_method") == "CreateElementReplica"]
    assert len(sent) == 1 and sent[0]["cim_params"]["SyncType"] == "7"
    assert lab.digest("smis-b", dev) == lab.digest("smis-b", tgt)
    assert lab.volume("smis-b", dev)["host_access"] == "rw"

    # production writes on; the mirror carries them, the test copy keeps its point in time
    image = lab.digest("smis-b", dev)
    lab.write("smis-b", src, 3)
    lab.wait_for(lambda: lab.digest("smis-b", tgt) == lab.digest("smis-b", src))
    assert lab.digest("smis-b", dev) == image
    # the test writes to its copy: removing it discards that, and the provider cannot say how much
    lab.write("smis-b", dev, 2)
    refusal = refused(lab, run_module, dict(args, state="absent"), "vol1_m_drtest", f"up to {SIZE} bytes",
                      "allow_data_loss")
    assert refusal["discarded_bytes"] == "unknown" and refusal["differing_bytes_at_most"] == SIZE
    assert refusal["replica"]["device_id"] == dev
    removed = step(lab, run_module, dict(args, state="absent", allow_data_loss=True), ["return_to_pool"])
    assert removed["replica"] is None and removed["diff"]["after"] == {"vol1_m_drtest": {}}
    assert gone(lab, "smis-b", dev)
    sent = [e for e in lab.mutations_since(start, "smis-b") if e.get("cim_method") in MODIFIES]
    assert [e["cim_params"]["Operation"] for e in sent] == ["19"] and dev in sent[0]["cim_devices"]
    assert modifies_of(lab, start, "smis-b", src) == []
    assert pair_state(lab, "smis-b", src, tgt) == 4, "the mirror stays Synchronized"


def test_a_clone_when_asked_is_copied_then_detached_and_deleted(lab, run_module, conn):
    pair = mirror(lab, run_module, "smis-b", "vol2", "vol2_m")
    src, tgt = pair["source_device_id"], pair["target_device_id"]
    start = lab.mark()
    args = conn(source=tgt, name="vol2_m_full", sync_type="clone")
    created = step(lab, run_module, args, ["create", "wait_copied"])
    replica = created["replica"]
    assert (replica["sync_type"], replica["copy_state"], replica["source"]) == ("clone", "Synchronized", tgt)
    dev = replica["device_id"]
    assert lab.digest("smis-b", dev) == lab.digest("smis-b", tgt)
    sent = [e for e in lab.mutations_since(start, "smis-b") if e.get("cim_method") == "CreateElementReplica"]
    assert sent[0]["cim_params"]["SyncType"] == "8"
    # another sync_type for the same name is an identity error, not a second copy
    refused(lab, run_module, dict(args, sync_type="snapshot"), "vol2_m_full is a clone of vol2_m", "not a snapshot")
    removed = step(lab, run_module, dict(args, state="absent", allow_data_loss=True), ["detach", "delete_volume"])
    assert removed["replica"] is None and gone(lab, "smis-b", dev)
    methods = [(e["cim_method"], e.get("cim_params", {}).get("Operation")) for e in lab.mutations_since(start, "smis-b")]
    assert ("ModifyReplicaSynchronization", "8") in methods and ("ReturnToStoragePool", None) in methods
    assert modifies_of(lab, start, "smis-b", src) == []
    assert pair_state(lab, "smis-b", src, tgt) == 4


def test_the_3par_provider_makes_virtual_and_physical_copies(lab, run_module):
    conn = module_args(lab, "smis-a", wait_timeout=30, namespace=True)
    snap = step(lab, run_module, conn(source="vol1", name="vol1_vc"), ["create"])["replica"]
    assert (snap["sync_type"], snap["copy_state"], snap["source"]) == ("snapshot", "Inactive", "101")
    assert lab.digest("smis-a", snap["device_id"]) == lab.digest("smis-a", "101")
    full = step(lab, run_module, conn(source="vol2", name="vol2_pc", sync_type="clone"), ["create", "wait_copied"])
    assert (full["replica"]["sync_type"], full["replica"]["copy_state"]) == ("clone", "Synchronized")
    mark = lab.mark()
    step(lab, run_module, conn(name="vol1_vc", state="absent", allow_data_loss=True), ["return_to_pool"])
    step(lab, run_module, conn(name="vol2_pc", state="absent", allow_data_loss=True), ["detach", "delete_volume"])
    assert gone(lab, "smis-a", snap["device_id"]) and gone(lab, "smis-a", full["replica"]["device_id"])
    assert [e["cim_params"].get("Operation") for e in lab.mutations_since(mark, "smis-a")
            if e["cim_method"] in MODIFIES] == ["19", "8"]


def test_an_element_of_the_name_that_is_no_replica_of_the_source_is_an_error(lab, run_module, conn):
    made = run_module("smis_replica", conn(source="vol3", name="vol3_copy"))
    assert not made["failed"] and made["changed"], made
    refused(lab, run_module, conn(source="vol4", name="vol3_copy"),
            "vol3_copy is a snapshot of vol3 (DeviceID 203), not of vol4 (DeviceID 204)")
    refused(lab, run_module, conn(source="vol4", name="vol3_copy", state="absent", allow_data_loss=True),
            "not of vol4 (DeviceID 204)")
    refused(lab, run_module, conn(source="vol4", name="vol5"), "vol5 exists (DeviceID 205) and is not a replica of vol4")
    refused(lab, run_module, conn(name="vol5", state="absent", allow_data_loss=True), "is not a replica")
    pair = mirror(lab, run_module, "smis-b", "vol6", "vol6_m")
    refused(lab, run_module, conn(source="vol4", name="vol6_m", state="absent", allow_data_loss=True),
            "is the target of a mirror of vol6 (DeviceID 206)")
    refused(lab, run_module, conn(source="vol4", name="twin"), "several volumes", "DeviceID 230, DeviceID 231")
    refused(lab, run_module, conn(source="nosuch", name="nosuch_copy"), "source 'nosuch' is not a volume")
    assert pair_state(lab, "smis-b", pair["source_device_id"], pair["target_device_id"]) == 4


@pytest.mark.parametrize("args, fragment", [
    ({"name": "x"}, "source is required with state present"),
    ({"name": "vol1", "source": "vol1"}, "source and name are the same"),
    ({"name": " x", "source": "vol1"}, "leading or trailing spaces"),
    ({"replicas": []}, "replicas is empty"),
    ({"replicas": [{"name": "a", "source": "vol1"}, {"name": "a", "source": "vol2"}]}, "replica a is listed twice"),
    ({"name": "x", "source": "vol1", "max_workers": 0}, "max_workers must be at least 1"),
])
def test_bad_input_fails_before_any_request(lab, run_module, conn, args, fragment):
    result = refused(lab, run_module, conn(**args), fragment)
    assert result["requests_sent"] == 0


def test_many_replicas_in_one_run(lab, run_module):
    conn = module_args(lab, "smis-c", wait_timeout=30, namespace=True)
    items = [{"source": f"vol{n}", "name": f"vol{n}_t"} for n in (1, 2, 3)] + [
        {"source": "vol4", "name": "vol4_t", "sync_type": "clone"}]
    mark = lab.mark()
    check = run_module("smis_replica", conn(replicas=items), check_mode=True)
    assert not check["failed"] and check["summary"]["changed"] == 4, check
    assert lab.mutations_since(mark, claims=True) == []
    applied = run_module("smis_replica", conn(replicas=items))
    assert not applied["failed"], applied
    assert [r["actions"] for r in applied["replicas"]] == [["create"]] * 3 + [["create", "wait_copied"]]
    assert [r["actions"] for r in check["replicas"]] == [r["actions"] for r in applied["replicas"]]
    assert {r["replica"]["sync_type"] for r in applied["replicas"][:3]} == {"snapshot"}
    again = run_module("smis_replica", conn(replicas=items))
    assert again["changed"] is False and again["summary"]["ok"] == 4 and again["requests_sent"] == 2
    # smis-c offers no ReturnToStoragePool: the clone is not removed (nothing sent), the snapshots are
    removal = [dict(i, state="absent") for i in items]
    failed = refused(lab, run_module, conn(replicas=removal, allow_data_loss=True), "vol4_t",
                     "offers no way to delete a volume", claims=False)
    assert failed["summary"] == {"total": 4, "changed": 0, "failed": 1, "skipped": 3, "ok": 0}
    done = run_module("smis_replica", conn(replicas=removal[:3], allow_data_loss=True))
    assert not done["failed"] and [r["actions"] for r in done["replicas"]] == [["return_to_pool"]] * 3
    assert run_module("smis_replica", conn(replicas=removal[:3]))["changed"] is False


@pytest.mark.parametrize("name, state, when", [("vol5_full", "present", "after"), ("vol5_full", "absent", "after")])
def test_a_write_without_an_answer_is_read_again_and_continued(lab, run_module, conn, dropping, name, state, when):
    args = conn(source="vol5", name=name, sync_type="clone", state=state, allow_data_loss=True)
    result = dropping("smis-b", when, "smis_replica", args, name)
    if state == "present":
        # the copy may have ended before the read: then nothing is left to wait for
        assert result["actions"] in (["create (no answer)"], ["create (no answer)", "wait_copied"])
        assert result["replica"]["copy_state"] == "Synchronized" and result["replica"]["sync_type"] == "clone"
    else:
        assert result["actions"] == ["detach (no answer)", "delete_volume"]
        assert result["replica"] is None
