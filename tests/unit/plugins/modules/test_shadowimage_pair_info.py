"""storage.replication.shadowimage_pair_info against the lab's Hitachi VSP, over HTTPS."""

from __future__ import annotations

import json

import pytest

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB"},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp",
            "serial": 410001,
            "settings": {"job_seconds": 0.02},
            "pools": [{"id": 0, "name": "dp_pool0", "size": "1TiB"}],
            "ldevs": [
                {"id_base": 256, "count": 6, "size": "64MiB", "data_blocks": 8},
                {"id_base": 512, "count": 6, "size": "64MiB"},
            ],
        },
    },
}


@pytest.fixture(scope="module")
def pairs(lab):
    """cg_std (default device groups): p1 paired, p2 split; cg_own (own device groups): q1 in a consistency group;
    cg_bad: r1 suspended by a copy failure (PSUE)."""
    from conftest import run_module  # pylint: disable=import-outside-toplevel
    base = dict(lab.connection("vsp-a"), poll_interval=0.05)
    for args in ({"copy_group": "cg_std", "pairs": [{"pair_name": "p1", "pvol": 256, "svol": 512},
                                                    {"pair_name": "p2", "pvol": 257, "svol": 513,
                                                     "pair_state": "split"}]},
                 {"copy_group": "cg_own", "pair_name": "q1", "pvol": 258, "svol": 514, "consistency_group": 5,
                  "pvol_device_group": "ownPVOLS", "svol_device_group": "ownSVOLS"}):
        assert not run_module("shadowimage_pair", dict(base, **args))["failed"]
    lab.settings("vsp-a", fail_copies=1)
    assert run_module("shadowimage_pair", dict(base, copy_group="cg_bad", pair_name="r1", pvol=259, svol=515))["failed"]
    return base


def test_every_pair_with_normalized_facts(lab, run_module, pairs):
    mark = lab.mark()
    info = run_module("shadowimage_pair_info", lab.connection("vsp-a"))
    assert not info["failed"], info
    assert [(p["copy_group"], p["pair_name"]) for p in info["pairs"]] == \
        [("cg_bad", "r1"), ("cg_own", "q1"), ("cg_std", "p1"), ("cg_std", "p2")]
    by_name = {p["pair_name"]: p for p in info["pairs"]}
    assert {k: by_name["p2"][k] for k in ("pvol", "svol", "pvol_status", "svol_status", "state", "healthy",
                                          "progress", "transferring", "consistency_group")} == \
        {"pvol": 257, "svol": 513, "pvol_status": "PSUS", "svol_status": "SSUS", "state": "split", "healthy": True,
         "progress": 100, "transferring": False, "consistency_group": None}
    assert by_name["q1"]["consistency_group"] == 5 and by_name["q1"]["pvol_device_group"] == "ownPVOLS"
    assert by_name["r1"]["state"] == "suspended_error" and by_name["r1"]["healthy"] is False
    assert by_name["p1"]["lag_seconds"] is None and by_name["p1"]["recovery_point"] is None
    assert info["summary"] == {"count": 4, "healthy": 3, "unhealthy": 1, "transferring": 0,
                               "by_state": {"suspended_error": 1, "split": 1, "paired": 2}}
    assert {g["copy_group"]: g["pair_count"] for g in info["copy_groups"]} == {"cg_std": 2, "cg_own": 1, "cg_bad": 1}
    # session, copy group list, one pair list per copy group (refresh=true), session closed
    served = lab.log(since=mark)
    assert info["requests_sent"] == len(served) == 6
    assert sum(1 for e in served if "refresh=true" in e["query"]) == 3
    assert not [e for e in served if e["mutating"]]


def test_one_copy_group_is_found_whatever_its_device_groups_are_called(lab, run_module, pairs):
    own = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), copy_group="cg_own", refresh=False))
    assert [p["pair_name"] for p in own["pairs"]] == ["q1"]
    assert own["copy_groups"] == [{"copy_group": "cg_own", "copy_group_id": "cg_own,ownPVOLS,ownSVOLS",
                                   "pvol_device_group": "ownPVOLS", "svol_device_group": "ownSVOLS", "pair_count": 1}]
    assert own["requests_sent"] == 5  # the default-named guess, the copy group list, the real pair list
    std = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), copy_group="cg_std"))
    assert len(std["pairs"]) == 2 and std["requests_sent"] == 3
    none = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), copy_group="nothing"))
    assert none["pairs"] == [] and none["copy_groups"] == [] and not none["failed"]


def test_query_selects_with_jmespath(lab, run_module, pairs):
    selected = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"),
                                                        query="[?!healthy].{pair: pair_name, status: pvol_status}"))
    assert selected["pairs"] == [{"pair": "r1", "status": "PSUE"}]
    scalar = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), query="length([?state=='paired'])"))
    assert scalar["query_result"] == 2 and len(scalar["pairs"]) == 4
    broken = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), query="[?"))
    assert broken["failed"] and "not valid JMESPath" in broken["msg"]


def test_bad_input_and_credentials(lab, run_module, pairs):
    named = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), copy_group="a,b"))
    assert named["failed"] and "contains a comma" in named["msg"] and named["requests_sent"] == 0
    wrong = run_module("shadowimage_pair_info", dict(lab.connection("vsp-a"), password="not-it"))
    assert wrong["failed"] and "refused the credentials (HTTP 401)" in wrong["msg"]
    shown = json.dumps({k: v for k, v in wrong.items() if k != "invocation"})
    assert "not-it" not in shown and "********" not in shown  # Ansible would mask a leaked password
