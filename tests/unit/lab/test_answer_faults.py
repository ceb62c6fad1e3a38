"""The lab's faults that play an array answering what its API does not: canned answers (``answer_*``),
error answers that echo the request's headers (``echo_headers``) and links to another origin (``link_origin``).

Each is per array, set through the control API or the topology, and applies to every vendor's protocol.
"""

from __future__ import annotations

import json
import typing as t

import pytest
import pywbem

import smis_helpers

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB"},
    "arrays": {
        "ontap-a": {"vendor": "ontap", "page_size": 1, "svms": [{"name": "svm_a", "volumes": [
            {"name": "vol{n}", "count": 2, "size": "16MiB"}]}]},
        "ontap-c": {"vendor": "ontap", "faults": {"answer_path": "^/api/cluster$", "answer_status": 502}},
        "vsp-a": {"vendor": "vsp", "serial": 410001},
        "smis-a": {"vendor": "smis", "profile": "3par", "volumes": [{"name": "vol1", "id_base": 101, "size": "4MiB"}]},
    },
}


@pytest.fixture(name="faults")
def faults_fixture(lab: t.Any) -> t.Iterator[t.Callable[..., t.Any]]:
    yield lab.faults
    for array in ("ontap-a", "vsp-a", "smis-a"):
        lab.clear_faults(array)


def test_a_canned_answer_replaces_the_arrays_own_for_matching_requests(lab, faults):
    session = lab.session("ontap-a")
    described = faults("ontap-a", answer_path="^/api/storage/volumes$", answer_method="get", answer_status=503,
                       answer_type="text/plain", answer_body="down for maintenance",
                       answer_headers={"Retry-After": "1"}, answer_count=2)
    assert described["answer_method"] == "GET" and described["answer_count"] == 2
    mark = lab.mark()
    for _attempt in range(2):
        reply = session.get(lab.url("ontap-a", "/api/storage/volumes"), timeout=10)
        assert (reply.status_code, reply.text, reply.headers["Retry-After"]) == (503, "down for maintenance", "1")
        assert reply.headers["Content-Type"].startswith("text/plain")
    assert session.get(lab.url("ontap-a", "/api/storage/volumes"), timeout=10).status_code == 200, "two, then off"
    assert session.get(lab.url("ontap-a", "/api/cluster"), timeout=10).status_code == 200, "other paths untouched"
    entries = lab.log(array="ontap-a", since=mark)
    assert [(e["status"], bool(e.get("injected"))) for e in entries] == \
        [(503, True), (503, True), (200, False), (200, False)]


def test_the_default_canned_answer_is_an_html_page_and_the_topology_can_set_one(lab, faults):
    faults("ontap-a", answer_path="/snapmirror/")
    reply = lab.session("ontap-a").get(lab.url("ontap-a", "/api/snapmirror/relationships"), timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert reply.text.startswith("<!DOCTYPE html>")
    from_topology = lab.session("ontap-c").get(lab.url("ontap-c", "/api/cluster"), timeout=10)
    assert from_topology.status_code == 502 and "<html>" in from_topology.text


def test_a_canned_json_body_carries_the_request_headers_escaped(lab, faults):
    body = {"error": {"message": "rejected: {request_headers}", "code": "6"}}
    faults("ontap-a", answer_path="^/api/cluster$", answer_status=403, answer_type="application/json",
           answer_body=json.dumps(body))
    session = lab.session("ontap-a")
    reply = session.get(lab.url("ontap-a", "/api/cluster"), headers={"X-Quote": 'say "hi"'}, timeout=10)
    assert reply.status_code == 403
    message = reply.json()["error"]["message"]
    assert 'X-Quote: say "hi"' in message and "Authorization: Basic " in message


def test_echo_headers_puts_the_request_headers_into_every_error_answer(lab, faults):
    session = lab.session("ontap-a")
    faults("ontap-a", echo_headers=True)
    missing = session.get(lab.url("ontap-a", "/api/storage/volumes/no-such-uuid"), timeout=10)
    assert missing.status_code == 404
    assert "(request headers: " in missing.json()["error"]["message"]
    assert "Authorization: Basic " in missing.json()["error"]["message"]
    fine = session.get(lab.url("ontap-a", "/api/cluster"), timeout=10)
    assert fine.status_code == 200 and "request headers" not in fine.text, "only error answers echo"
    faults("ontap-a", error_count=1, error_status=500)
    injected = session.get(lab.url("ontap-a", "/api/cluster"), timeout=10)
    assert injected.status_code == 500 and "Authorization: Basic " in injected.json()["error"]["message"]


def test_echo_headers_in_vsp_errors_and_smis_cim_errors(lab, faults):
    faults("vsp-a", echo_headers=True)
    reply = lab.session("vsp-a").post(lab.url("vsp-a", "/ConfigurationManager/v1/objects/sessions"),
                                      auth=("nobody", "wrong"), json={}, timeout=10)
    assert reply.status_code == 401 and "Authorization: Basic " in reply.json()["message"]
    faults("smis-a", echo_headers=True)
    conn = smis_helpers.connect(lab, "smis-a")
    with pytest.raises(pywbem.CIMError) as raised:
        conn.EnumerateInstances("CIM_StorageVolume", namespace="root/nothing")
    assert raised.value.status_code == 3
    assert "(request headers: " in raised.value.status_description
    assert "Authorization: Basic " in raised.value.status_description
    assert len(conn.EnumerateInstances("CIM_StorageVolume")) == 1, "answers that are not errors are left alone"


def test_link_origin_points_the_paging_links_at_another_origin(lab, faults):
    session = lab.session("ontap-a")
    first = session.get(lab.url("ontap-a", "/api/storage/volumes"), timeout=10).json()
    assert first["_links"]["next"]["href"].startswith("/api/storage/volumes?")
    faults("ontap-a", link_origin="http://127.0.0.1:9/")
    moved = session.get(lab.url("ontap-a", "/api/storage/volumes"), timeout=10).json()
    assert moved["_links"]["next"]["href"] == "http://127.0.0.1:9" + first["_links"]["next"]["href"]
    assert moved["records"] == first["records"]


@pytest.mark.parametrize("values, words", [
    ({"answer_path": "(unclosed"}, "answer_path is not a regular expression"),
    ({"answer_status": 42}, "answer_status must be an HTTP status"),
    ({"answer_status": "often"}, "answer_status must be a number"),
    ({"answer_headers": {"Location": 1}}, "answer_headers must map header names to strings"),
    ({"answer_body": 7}, "answer_body must be a string"),
    ({"link_origin": "ftp://127.0.0.1:9"}, "link_origin must be scheme://host[:port]"),
    ({"link_origin": "http://127.0.0.1:9/api"}, "link_origin must be scheme://host[:port]"),
])
def test_answer_and_link_faults_are_checked(lab, faults, values, words):
    reply = lab.http.post(lab.control_url + "/arrays/ontap-a/faults", json=values, timeout=10)
    assert reply.status_code == 400 and words in reply.json()["error"]
    described = lab.http.get(lab.control_url + "/arrays/ontap-a", timeout=10).json()["faults"]
    assert described["answer_path"] == "" and described["link_origin"] == "", "a refused update changes nothing"
