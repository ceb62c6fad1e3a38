"""The engine's rules hold for every vendor: one parametrized test per rule, against the lab over real sockets.

The rules (``plugins/module_utils/_engine.py``): with ``wait: false`` only the waits after the last changing
step are skipped; a write that gets no answer is read back and the run continues; a refusal, whether the
plan made it or the array, keeps what the array and the object showed; check mode reports exactly the steps
a real run takes and changes nothing.
"""

from __future__ import annotations

import typing as t

import pytest
from storage_replication_lab.client import CLAIMS

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "256MiB", "local_bandwidth": "4GiB",
            "tick_seconds": 0.02},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap",
            "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 8, "size": "64MiB", "data_blocks": 4, "nas_path": "/vol{n}"}]}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
                    "svms": [{"name": "svm_b"}]},
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410001, "settings": {"job_seconds": 0.02},
            "pools": [{"id": 0, "name": "dp_pool0", "size": "20TiB"}],
            "ldevs": [{"id_base": 256, "count": 8, "size": "64MiB", "pool": 0, "data_blocks": 4, "label": "prod{n}"},
                      {"id_base": 512, "count": 8, "size": "64MiB", "pool": 0, "label": "svol{n}"}],
        },
        "smis-b": {"vendor": "smis", "profile": "generic", "volumes": [
            {"name": "vol{n}", "count": 8, "id_base": 201, "size": "4MiB", "data_blocks": 16}]},
    },
}


class Vendor(t.NamedTuple):
    """How a rule's scenario reads for one vendor: its module, array, list key and items (the n-th free one)."""

    module: str
    array: str
    list_key: str
    item: t.Callable[[int], dict[str, t.Any]]
    name: t.Callable[[int], str]


VENDORS = {
    "ontap": Vendor("snapmirror", "ontap-b", "relationships",
                    lambda n: {"source_path": f"svm_a:vol{n}", "destination_path": f"svm_b:vol{n}_dr",
                               "create_destination": {"enabled": True}},
                    lambda n: f"svm_b:vol{n}_dr"),
    "vsp": Vendor("shadowimage_pair", "vsp-a", "pairs",
                  lambda n: {"copy_group": f"rules{n}", "pair_name": "p", "pvol": 255 + n, "svol": 511 + n},
                  lambda n: f"rules{n}/p"),
    "smis": Vendor("smis_sync", "smis-b", "synchronizations",
                   lambda n: {"source": f"vol{n}", "target": f"vol{n}_m", "sync_type": "mirror", "mode": "sync"},
                   lambda n: f"vol{n} -> vol{n}_m"),
}

# a plan with a changing step after a wait, and a wait last: (item options, the actions of a wait=false run)
WAIT_FALSE = {
    "ontap": ({"relationship_state": "broken_off", "junction_path": "/vol1_dr"},
              ["create_destination", "create", "wait_active", "quiesce", "wait_paused", "break", "wait_broken_off",
               "mount"]),
    "vsp": ({"pair_state": "split", "consistency_group": 5},
            ["create", "wait_paired", "split", "wait_split (skipped: wait=false)"]),
    "smis": ({"sync_state": "fractured"},
             ["create", "wait_synchronized", "fracture", "wait_fractured (skipped: wait=false)"]),
}
# what the object is once a wait=true rerun of the same task is done
SETTLED = {"ontap": "broken_off", "vsp": "split", "smis": "fractured"}


def connection(lab: t.Any, vendor: str) -> dict[str, t.Any]:
    spec = VENDORS[vendor]
    args = dict(lab.connection(spec.array), poll_interval=0.05, wait_timeout=60)
    if vendor == "ontap":
        args["source_cluster"] = lab.connection("ontap-a")
    if "namespace" in lab.array(spec.array):
        args["namespace"] = lab.array(spec.array)["namespace"]
    return args


def state_of(result: dict[str, t.Any]) -> str | None:
    facts = next((result[k] for k in ("relationship", "pair", "synchronization") if k in result), None)
    return (facts or {}).get("state")


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_wait_false_skips_only_the_waits_after_the_last_change(lab, run_module, vendor):
    spec = VENDORS[vendor]
    extra, expected = WAIT_FALSE[vendor]
    args = dict(connection(lab, vendor), **spec.item(1), **extra)
    result = run_module(spec.module, dict(args, wait=False))
    assert not result["failed"], result
    # every wait that a later step depends on ran: the array accepted the steps after it
    assert result["actions"] == expected
    settled = run_module(spec.module, args)
    assert not settled["failed"], settled
    assert settled["changed"] is False and settled["actions"] in ([], ["wait_split"], ["wait_fractured"])
    assert state_of(settled) == SETTLED[vendor]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_write_without_an_answer_is_read_back_and_the_run_continues(lab, vendor, dropping, when):
    spec = VENDORS[vendor]
    n = 2 if when == "before" else 3
    args = dict(connection(lab, vendor), **spec.item(n))
    result = dropping(spec.array, when, spec.module, args, spec.name(n))
    assert state_of(result) in ("snapmirrored", "paired", "synchronized")


def test_an_array_refusal_keeps_the_arrays_message_and_code(lab, run_module, vendor):
    spec = VENDORS[vendor]
    args = dict(connection(lab, vendor), **{spec.list_key: [spec.item(4)]}, continue_on_error=True)
    lab.faults(spec.array, spare=CLAIMS, error_count=1, error_status=409, only_mutating=True)
    try:
        result = run_module(spec.module, args)
    finally:
        lab.clear_faults(spec.array)
    assert result["failed"]
    item = result[spec.list_key][0]
    assert item["failed"] and "injected" in item["msg"], item
    assert item.get("http_status") == 409 or item.get("array_code") is not None, item
    assert item.get("array_message"), item


def test_a_planned_refusal_keeps_the_objects_facts(lab, run_module, vendor):
    spec = VENDORS[vendor]
    base = dict(connection(lab, vendor), **spec.item(5))
    assert not run_module(spec.module, base)["failed"]
    # the same object declared with another identity: refused at plan time, in bulk, with its facts
    other = {"ontap": {"source_path": "svm_a:vol6"}, "vsp": {"pvol": 262}, "smis": {"sync_type": "clone"}}[vendor]
    item = dict(spec.item(5), **other)
    if vendor == "ontap":
        item.pop("create_destination")
    mark = lab.mark()
    result = run_module(spec.module, dict(connection(lab, vendor), **{spec.list_key: [item]}))
    assert result["failed"] and lab.mutations_since(mark) == []
    refused = result[spec.list_key][0]
    assert refused["failed"], refused
    facts = next(refused[k] for k in ("relationship", "pair", "synchronization") if k in refused)
    assert facts and facts.get("state") in ("snapmirrored", "paired", "synchronized"), refused


def test_check_mode_reports_the_steps_a_real_run_takes(lab, run_module, vendor):
    spec = VENDORS[vendor]
    pause = {"ontap": {"relationship_state": "paused"}, "vsp": {"pair_state": "split"},
             "smis": {"sync_state": "fractured"}}[vendor]
    active = {"ontap": {"relationship_state": "snapmirrored"}, "vsp": {"pair_state": "paired"},
              "smis": {"sync_state": "synchronized"}}[vendor]
    base = dict(connection(lab, vendor), **spec.item(7))
    for args in (base, dict(base, **pause), dict(base, **active)):
        mark = lab.mark()
        check = run_module(spec.module, args, check_mode=True, diff=True)
        assert not check["failed"], check
        assert lab.mutations_since(mark) == []
        applied = run_module(spec.module, args, diff=True)
        assert not applied["failed"], applied
        assert check["actions"] == applied["actions"] and check["changed"] is applied["changed"] is True
        assert state_of(check) == state_of(applied), (check, applied)
        again = run_module(spec.module, args)
        assert again["changed"] is False and again["actions"] == []
