"""The ONTAP simulator answers like a real cluster, so real clients work unchanged (issue 15).

One test per defect real clients found, over real sockets: paths with a trailing or doubled slash, job
references without their link, volume records without the fields clients copy, the shape of a PATCH or
DELETE on a collection, the nodes and the CLI passthrough. The last test drives the lab with NetApp's own
Python client (netapp-ontap) where it is installed. test_ontap_fidelity_schema.py checks every record
against that client's models.
"""

from __future__ import annotations

import typing as t

import pytest
import requests

from ontap_helpers import MIB, Rest, make_rel, until, wait_state

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "1GiB", "per_transfer_rate": "256MiB", "local_bandwidth": "1GiB",
            "tick_seconds": 0.02},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap", "job_seconds": 0.01,
            "aggregates": [{"name": "aggr1_a", "size": "1TiB"}],
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 8, "size": "64MiB", "data_blocks": 32, "nas_path": "/vol{n}"}]}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {"vendor": "ontap", "job_seconds": 0.01, "aggregates": [{"name": "aggr1_b", "size": "1TiB"}],
                    "svms": [{"name": "svm_b"}]},
    },
    "links": [{"between": ["ontap-a", "ontap-b"]}],
}
VOLUMES = "/api/storage/volumes"
RELS = "/api/snapmirror/relationships"
CLI = "/api/private/cli"


@pytest.fixture(name="a")
def fixture_a(lab: t.Any) -> Rest:
    return Rest(lab, "ontap-a", job_fields="*")


@pytest.fixture(name="b")
def fixture_b(lab: t.Any) -> Rest:
    return Rest(lab, "ontap-b", job_fields="*")


def job_of(reply: requests.Response) -> dict[str, t.Any]:
    """The job reference of an answer, checked for its link."""
    job = reply.json()["job"]
    assert job["_links"]["self"]["href"] == f"/api/cluster/jobs/{job['uuid']}", reply.text
    return job


# ---------------------------------------------------------------------------------------- 1. paths
def test_paths_with_trailing_or_doubled_slashes_are_served(a, b):
    cluster = a.get("/api/cluster", fields="name,uuid")
    for path in ("/api/cluster/", "/api//cluster/", "/api//cluster", "//api/cluster"):
        reply = a.request("GET", path, fields="name,uuid")
        assert reply.status_code == 200 and reply.json() == cluster, (path, reply.text)
    rel_uuid = make_rel(b, "vol1", initialize=True)
    assert b.get(f"{RELS}/{rel_uuid}/")["uuid"] == rel_uuid
    assert b.get(f"/api/{RELS[5:]}//{rel_uuid}/", fields="state")["state"] == "snapmirrored"
    # clients that build "/api/" + "/storage/volumes/": every method
    reply = a.request("POST", "/api/" + "/storage/volumes/", {"name": "slashed", "svm": {"name": "svm_a"}})
    assert reply.status_code == 202, reply.text
    assert a.job(job_of(reply)["uuid"])["state"] == "success"
    vol_uuid = a.volume("svm_a", "slashed")["uuid"]
    assert reply.headers["Location"] == f"{VOLUMES}/{vol_uuid}", "the new object's own path, canonical"
    a.run("PATCH", f"/api//storage/volumes/{vol_uuid}/", {"comment": "patched"})
    assert a.get(f"{VOLUMES}/{vol_uuid}/", fields="comment")["comment"] == "patched"
    records = a.get("/api/storage/volumes/", name="slashed", fields="comment")["records"]
    assert [r["comment"] for r in records] == ["patched"], "the query survives the rewrite"
    a.run("DELETE", f"/api/storage//volumes/{vol_uuid}/")
    a.refused("GET", f"{VOLUMES}/{vol_uuid}/", status=404, code="4")
    a.refused("GET", "/api/no/such/path/", status=404, code="3")


# ---------------------------------------------------------------------------------------- 2. job links
def test_job_references_carry_their_link(a):
    assert a.http.headers["Accept"] == "application/json", "the plain JSON answer drops other HAL links"
    vol_uuid = a.volume("svm_a", "vol2")["uuid"]
    reply = a.request("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "linked"})
    assert reply.status_code == 202 and "_links" not in reply.json()
    href = job_of(reply)["_links"]["self"]["href"]
    followed = a.http.get(a.base + href, timeout=30)  # a client follows the link as given
    assert followed.status_code == 200 and followed.json()["uuid"] == job_of(reply)["uuid"]
    reply = a.request("PATCH", f"{VOLUMES}/{vol_uuid}", {"comment": "waited"}, return_timeout=10)
    assert reply.status_code == 200 and job_of(reply)
    hal = a.http.post(a.base + f"{VOLUMES}/{vol_uuid}/snapshots", json={"name": "hal"}, timeout=30,
                      headers={"Accept": "application/hal+json"})
    assert hal.status_code == 202 and job_of(hal)
    reply = a.request("PATCH", VOLUMES, {"comment": "many"}, name="vol3|vol4")
    assert reply.status_code == 202
    for job in reply.json()["jobs"]:
        assert job["_links"]["self"]["href"] == f"/api/cluster/jobs/{job['uuid']}"
        assert a.job(job["uuid"])["state"] == "success"
    assert "_links" not in a.get(f"/api/cluster/jobs/{job_of(hal)['uuid']}"), "other links stay dropped"


# ---------------------------------------------------------------------------------------- 3. volume fields
CLIENT_FIELDS = ("is_svm_root", "error_state.is_inconsistent", "guarantee.type", "guarantee.honored",
                 "snapshot_policy.name", "snapshot_policy.uuid", "language", "space.snapshot.reserve_percent",
                 "efficiency.compression", "efficiency.dedupe", "encryption.enabled", "encryption.state", "style",
                 "tiering.policy", "create_time", "comment", "aggregates", "svm.name", "nas.security_style")


def _get(record: dict[str, t.Any], dotted: str) -> t.Any:
    for part in dotted.split("."):
        record = record[part]
    return record


def test_volume_records_carry_what_clients_copy(a, b):
    source = a.get(VOLUMES, name="vol5", fields="*")["records"][0]
    for field in CLIENT_FIELDS:
        assert _get(source, field) is not None, field
    assert (source["is_svm_root"], source["error_state"]["is_inconsistent"]) == (False, False)
    assert source["guarantee"] == {"type": "volume", "honored": True} and source["snapshot_policy"]["name"] == "default"
    assert source["space"]["snapshot"]["reserve_percent"] == 5 and source["encryption"]["enabled"] is False
    assert a.get(VOLUMES, is_svm_root="false", **{"error_state.is_inconsistent": "false", "name": "vol5"}
                 )["num_records"] == 1, "clients filter on them"
    # the writable ones, set on the source and copied to a destination created "like the source"
    a.run("PATCH", f"{VOLUMES}/{source['uuid']}", {"comment": "tier 1", "snapshot_policy": {"name": "none"},
                                                   "space": {"snapshot": {"reserve_percent": 0}},
                                                   "guarantee": {"type": "none"}, "tiering": {"policy": "auto"},
                                                   "efficiency": {"compression": "both"},
                                                   "nas.security_style": "mixed"})
    source = a.get(f"{VOLUMES}/{source['uuid']}")
    like = {"name": "vol5_like", "svm": {"name": "svm_b"}, "type": "dp", "size": source["size"],
            "comment": source["comment"], "language": source["language"],
            "snapshot_policy": {"name": source["snapshot_policy"]["name"]},
            "guarantee": {"type": source["guarantee"]["type"]},
            "space": {"snapshot": {"reserve_percent": source["space"]["snapshot"]["reserve_percent"]}},
            "tiering": {"policy": source["tiering"]["policy"]},
            "efficiency": {"compression": source["efficiency"]["compression"], "dedupe": "background"},
            "nas": {"security_style": source["nas"]["security_style"]}}
    b.run("POST", VOLUMES, like)
    copy = b.volume("svm_b", "vol5_like", fields="*")
    for field in ("comment", "language", "snapshot_policy.name", "guarantee.type", "space.snapshot.reserve_percent",
                  "tiering.policy", "efficiency.compression", "nas.security_style"):
        assert _get(copy, field) == _get(source, field), field
    assert copy["snapshot_policy"]["uuid"] != source["snapshot_policy"]["uuid"], "policies are the cluster's own"
    # refusals: unknown fields as before, values outside the documented ones, settings a PATCH cannot change
    vol_uuid = copy["uuid"]
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"colour": "blue"}, code="262179")
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"language": "c"}, code="262179")
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"guarantee": {"type": "file"}}, code="2")
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"guarantee": "none"}, code="2")  # an object, not its value
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"space": {"snapshot": {"reserve_percent": 95}}}, code="262197")
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"snapshot_policy": {"name": "hourly-forever"}}, code="2")
    b.refused("PATCH", f"{VOLUMES}/{vol_uuid}", {"encryption": {"enabled": True}}, code="3")
    b.refused("POST", VOLUMES, {"name": "x", "svm": {"name": "svm_b"}, "language": "klingon"}, code="2")


# ---------------------------------------------------------------------------------------- 4. collections
def test_patch_and_delete_on_a_collection_answer_with_jobs(a):
    reply = a.request("PATCH", VOLUMES, {"comment": "one"}, name="vol6")
    assert reply.status_code == 202 and set(reply.json()) == {"job"}, "one record: the job, as a PATCH of it"
    assert a.job(job_of(reply)["uuid"])["state"] == "success"
    reply = a.request("PATCH", VOLUMES, {"comment": "one"}, name="vol6", return_timeout=10)
    assert reply.status_code == 200 and set(reply.json()) == {"job"}
    reply = a.request("PATCH", VOLUMES, {"comment": "two"}, name="vol7|vol8")
    body = reply.json()
    assert reply.status_code == 202 and body["num_records"] == 2 and len(body["jobs"]) == 2, reply.text
    for job in body["jobs"]:
        assert a.job(job["uuid"])["state"] == "success"
    assert [r["comment"] for r in a.get(VOLUMES, name="vol7|vol8", fields="comment")["records"]] == ["two", "two"]
    reply = a.request("PATCH", VOLUMES, {"comment": "none"}, name="no-such-volume")
    assert reply.status_code == 200 and reply.json() == {"num_records": 0}
    for name in ("gone1", "gone2", "gone3"):
        a.run("POST", VOLUMES, {"name": name, "svm": {"name": "svm_a"}})
    reply = a.request("DELETE", VOLUMES, name="gone1")
    assert reply.status_code == 202 and set(reply.json()) == {"job"}
    a.job(job_of(reply)["uuid"])
    reply = a.request("DELETE", VOLUMES, name="gone*", return_timeout=10)
    assert reply.status_code == 200 and reply.json()["num_records"] == 2, reply.text
    assert a.get(VOLUMES, name="gone*")["num_records"] == 0
    a.refused("PATCH", VOLUMES, {"comment": "all"}, code="2")  # a collection PATCH needs a query


# ---------------------------------------------------------------------------------------- 5. nodes, CLI
def test_nodes_are_served(lab, a):
    nodes = a.get("/api/cluster/nodes", fields="*")["records"]
    assert sorted(n["name"] for n in nodes) == ["ontap-a-01", "ontap-a-02"]
    by_name = {n["name"]: n for n in nodes}
    first, second = by_name["ontap-a-01"], by_name["ontap-a-02"]
    assert first["state"] == "up" and first["model"] and first["serial_number"] != second["serial_number"]
    assert first["version"] == a.get("/api/cluster", fields="version")["version"]
    assert first["ha"]["enabled"] is True and first["ha"]["partners"][0]["name"] == "ontap-a-02"
    assert first["management_interfaces"][0]["ip"]["address"] == "127.0.0.1"
    assert a.get(f"/api/cluster/nodes/{first['uuid']}", fields="name")["name"] == "ontap-a-01"
    assert a.get("/api/cluster/nodes", name="ontap-a-02")["records"][0]["uuid"] == second["uuid"]
    a.refused("GET", "/api/cluster/nodes/00000000-0000-0000-0000-000000000000", status=404, code="4")
    aggregate = a.get("/api/storage/aggregates", fields="node")["records"][0]
    assert aggregate["node"]["name"] in by_name, "aggregates live on the nodes"
    vol_uuid = a.volume("svm_a", "vol2")["uuid"]
    job = a.job(job_of(a.request("POST", f"{VOLUMES}/{vol_uuid}/snapshots", {"name": "on_node"}))["uuid"])
    assert job["node"]["name"] in by_name


def test_cli_passthrough_serves_the_show_commands(a, b):
    reply = a.request("GET", f"{CLI}/volume/efficiency", vserver="svm_a", volume="vol1", fields="state")
    assert reply.status_code == 200 and reply.json() == {
        "records": [{"vserver": "svm_a", "volume": "vol1", "state": "enabled"}], "num_records": 1}
    volumes = a.get(f"{CLI}/volume", vserver="svm_a", fields="state,junction-path,type,size")
    vol1 = next(r for r in volumes["records"] if r["volume"] == "vol1")
    assert vol1 == {"vserver": "svm_a", "volume": "vol1", "state": "online", "junction_path": "/vol1", "type": "rw",
                    "size": 64 * MIB}
    assert volumes["num_records"] == len(volumes["records"]) == a.get(VOLUMES, **{"svm.name": "svm_a"})["num_records"]
    rel_uuid = make_rel(b, "vol7", initialize=True)
    wait_state(b, rel_uuid, "snapmirrored")
    rows = b.get(f"{CLI}/snapmirror", fields="state,status,healthy,lag-time,relationship-id",
                 **{"destination-path": "svm_b:vol7_dst"})["records"]
    assert len(rows) == 1 and rows[0]["source_path"] == "svm_a:vol7"
    assert (rows[0]["state"], rows[0]["status"], rows[0]["healthy"]) == ("snapmirrored", "idle", True)
    assert rows[0]["lag_time"].startswith("P") and rows[0]["relationship_id"] == rel_uuid
    assert b.get(f"{CLI}/snapmirror", healthy="true", lag_time="<24:00:00",
                 destination_path="svm_b:vol7_dst")["num_records"] == 1
    b.run("PATCH", f"{RELS}/{rel_uuid}", {"state": "paused"})
    wait_state(b, rel_uuid, "paused")
    row = b.get(f"{CLI}/snapmirror", fields="state,status", destination_path="svm_b:vol7_dst")["records"][0]
    assert (row["state"], row["status"]) == ("snapmirrored", "quiesced")
    assert b.get(f"{CLI}/snapmirror", return_records="false", destination_path="svm_b:vol7_dst") == {"num_records": 1}
    # what a cluster answers to what it does not have
    error = a.refused("GET", f"{CLI}/volume/teleport", status=404, code="3")
    assert "API not found" in error["message"]
    a.refused("GET", f"{CLI}/volume", fields="colour", status=400, code="262197")
    a.refused("GET", f"{CLI}/volume", colour="blue", status=400, code="262179")
    a.refused("PATCH", f"{CLI}/volume", {"comment": "x"}, status=400, code="3", vserver="svm_a", volume="vol1")
    assert a.get(VOLUMES, name="vol1", fields="comment")["records"][0]["comment"] == "", "nothing changed"


# ---------------------------------------------------------------------------------------- NetApp's own client
def test_netapp_ontap_client_works_unchanged(lab, a):
    """netapp-ontap posts and polls jobs by their links, patches by query, reads nodes and runs CLI shows."""
    pytest.importorskip("netapp_ontap", reason="needs the netapp-ontap test dependency")
    from netapp_ontap import HostConnection  # pylint: disable=import-outside-toplevel
    from netapp_ontap.resources import CLI as Cli, Node, Volume  # pylint: disable=import-outside-toplevel

    info = lab.array("ontap-a")
    host, port = info["url"].rsplit("//", 1)[1].split(":")
    connection = HostConnection(host, port=int(port), username=info["username"], password=info["password"],
                                verify=info["ca_file"], poll_interval=1, poll_timeout=15)
    connection.session.trust_env = False  # the environment's CA bundle would replace the lab's CA
    with connection:
        assert sorted(n.name for n in Node.get_collection()) == ["ontap-a-01", "ontap-a-02"]
        volume = Volume(name="by_netapp", svm={"name": "svm_a"}, size=40 * MIB, comment="made by netapp-ontap")
        volume.post(hydrate=True)
        assert volume.uuid and volume.comment == "made by netapp-ontap" and volume.guarantee.type == "volume"
        Volume.patch_collection({"comment": "patched by query"}, name="by_netapp")
        volume.get(fields="comment")
        assert volume.comment == "patched by query"
        shown = Cli().execute("volume efficiency show", vserver="svm_a", volume="by_netapp", fields="state")
        assert shown.http_response.json()["records"][0]["state"] == "enabled"
        Volume.delete_collection(name="by_netapp")
    until(lambda: a.get(VOLUMES, name="by_netapp")["num_records"], lambda n: n == 0, what="the volume deleted")
