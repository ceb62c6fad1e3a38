"""Issue 14, credentials that stay home: no role prints a password at any verbosity, whichever documented form
the arrays take (inventory hosts, or connection dicts in the sets, which once printed their passwords at -v
through the loop variable: 5 times in a failover, 19 in a failback). The shipped playbooks run at -vvv as
ansible-playbook processes against a lab of this module's own, every vendor's set in one run.
"""

from __future__ import annotations

import base64

import pytest

from playbook_runs import playbook

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
    "arrays": {
        "ontap-a": {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "1TiB"}],
                    "svms": [{"name": "svm_a", "volumes": [
                        {"name": "sh{n}", "count": 4, "size": "64MiB", "data_blocks": 2, "nas_path": "/sh{n}"}]}],
                    "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]},
        "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "1TiB"}], "svms": [{"name": "svm_b"}]},
        "vsp-a": {"vendor": "vsp", "serial": 410001, "settings": {"job_seconds": 0.02},
                  "pools": [{"id": 0, "name": "dp_pool0", "size": "1TiB"}],
                  "ldevs": [{"id_base": 256, "count": 4, "size": "64MiB", "pool": 0, "data_blocks": 2},
                            {"id_base": 512, "count": 4, "size": "64MiB", "pool": 0}]},
        "smis-b": {"vendor": "smis", "profile": "generic",
                   "volumes": [{"name": "vol{n}", "count": 4, "id_base": 201, "size": "64MiB", "data_blocks": 2},
                               {"name": "mirror{n}", "count": 4, "id_base": 251, "size": "64MiB"}]},
    },
    "links": [{"between": ["ontap-a", "ontap-b"]}],
}


def sets(lab, form: str, first: int) -> list[dict]:
    """One set per vendor on two volumes from ``first``; arrays as inventory hosts or as connection dicts."""
    def ref(name: str):
        if form == "inventory":
            return name
        extra = {"namespace": "root/cimv2"} if name == "smis-b" else {}
        return dict(lab.connection(name, **extra), name=name)

    numbers = [first, first + 1]
    return [
        {"name": f"{form}-finance", "vendor": "ontap", "source": ref("ontap-a"), "target": ref("ontap-b"),
         "source_container": "svm_a", "target_container": "svm_b", "volumes": [f"sh{n}" for n in numbers],
         "target_name_suffix": f"_{form[:3]}"},
        {"name": f"{form}-payroll", "vendor": "vsp", "source": ref("vsp-a"), "target": ref("vsp-a"),
         "volumes": [{"name": str(255 + n), "target_name": 511 + n} for n in numbers]},
        {"name": f"{form}-orders", "vendor": "smis", "source": ref("smis-b"), "target": ref("smis-b"),
         "volumes": [{"name": str(200 + n), "target_name": str(250 + n)} for n in numbers],
         "options": {"sync_type": "mirror", "mode": "async"}},
    ]


def secrets(lab) -> list[str]:
    """Every password of the lab's arrays, and the basic-auth token each would make."""
    out = []
    for name in ("ontap-a", "ontap-b", "vsp-a", "smis-b"):
        conn = lab.connection(name)
        out.append(conn["password"])
        out.append(base64.b64encode(f"{conn['username']}:{conn['password']}".encode()).decode())
    return out


@pytest.mark.parametrize("form,first", [("inventory", 1), ("dict", 3)])
def test_no_role_prints_a_password_at_vvv(lab, tmp_path, form, first):
    the_sets = sets(lab, form, first)
    counts = {}
    for role in ("setup", "failover", "failback"):
        out = playbook(lab, role, tmp_path, sets=the_sets, args=["-vvv"])
        assert "PLAY RECAP" in out and "failed=0" in out, out[-3000:]
        counts[role] = sum(out.count(secret) for secret in secrets(lab))
    assert counts == {"setup": 0, "failover": 0, "failback": 0}, counts
