"""Cases where a DR administrator lost data or could not run a shipped playbook as documented (issue 13).

The playbooks run as ansible-playbook processes against a lab of this module's own; digests prove what the
DR copies hold.
"""

from __future__ import annotations

from playbook_runs import playbook

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "256MiB"},
    "arrays": {
        "ontap-a": {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
                    "svms": [{"name": "svm_a", "volumes": [
                        {"name": "vol{n}", "count": 4, "size": "64MiB", "data_blocks": 4, "nas_path": "/vol{n}"}]}],
                    "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]},
        "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
                    "svms": [{"name": "svm_b"}]},
    },
}


def ontap_set(name: str, volumes: list[str]) -> dict:
    return {"name": name, "vendor": "ontap", "source": "ontap-a", "target": "ontap-b", "source_container": "svm_a",
            "target_container": "svm_b", "volumes": volumes, "target_name_suffix": "_dr"}


def relationship(lab, destination: str) -> dict:
    records = lab.session("ontap-b").get(lab.url("ontap-b", "/api/snapmirror/relationships"),
                                         params={"fields": "state,uuid", "destination.path": destination}).json()
    return records["records"][0]


def test_failover_takes_its_numbers_and_switches_from_the_command_line(lab, tmp_path):
    # exactly as the playbook's header says: -e failover_max_lag=900 (a string), and a survey-style "no"
    sets = [ontap_set("cli", ["vol1"])]
    playbook(lab, "setup", tmp_path, sets=sets)
    out = playbook(lab, "failover", tmp_path, sets=sets,
                   args=["-e", "failover_max_lag=900", "-e", "failover_mount=no", "-e", "failover_max_workers=4"])
    assert "1 changed, 0 failed" in out, out[-2000:]
    assert relationship(lab, "svm_b:vol1_dr")["state"] == "broken_off"


def test_a_role_variable_that_is_not_a_number_is_named_before_anything_changes(lab, tmp_path):
    sets = [ontap_set("badvalue", ["vol2"])]
    playbook(lab, "setup", tmp_path, sets=sets)
    mark = lab.mark()
    out = playbook(lab, "failover", tmp_path, sets=sets, args=["-e", "failover_max_lag=soon"], rc=2)
    # the role's argument spec names it first; replication_options would too, for kinds a spec cannot express
    assert "failover_max_lag" in out and "cannot be converted to an int" in out, out[-2000:]
    assert lab.mutations_since(mark) == []
    assert relationship(lab, "svm_b:vol2_dr")["state"] == "snapmirrored"


def test_a_planned_failover_of_a_relationship_quiesced_by_hand_transfers_the_source_writes_first(lab, tmp_path):
    # quiesced by hand before the change window, then the source is written: nothing may be left behind
    sets = [ontap_set("quiesced", ["vol3"])]
    playbook(lab, "setup", tmp_path, sets=sets)
    uuid = relationship(lab, "svm_b:vol3_dr")["uuid"]
    session = lab.session("ontap-b")
    session.patch(lab.url("ontap-b", f"/api/snapmirror/relationships/{uuid}"), json={"state": "paused"})
    lab.wait_for(lambda: relationship(lab, "svm_b:vol3_dr")["state"] == "paused")
    lab.write("ontap-a", "svm_a:vol3", 3)
    playbook(lab, "failover", tmp_path, sets=sets)
    assert relationship(lab, "svm_b:vol3_dr")["state"] == "broken_off"
    assert lab.digest("ontap-b", "svm_b:vol3_dr") == lab.digest("ontap-a", "svm_a:vol3")
