"""Credentials stay with the configured endpoint, and answers that are not the API's are errors in words.

Issue 14: a paging link or a redirect to another scheme, host or port is never requested; an error body that
echoes the request (its ``Authorization`` header, a session token, the password) never puts a credential into
the module result; an HTML page, plain text or an empty body where the API answers JSON is an error naming the
endpoint and the HTTP status, never an AttributeError. Everything goes through real HTTP(S) / CIM-XML to the
lab, whose faults (``answer_*``, ``echo_headers``, ``link_origin``) play the misbehaving array; a plain-HTTP
listener of the test's own on 127.0.0.1 plays the other endpoint and records what reaches it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from storage_replication_lab.client import CLAIMS

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB"},
    "arrays": {
        "ontap-b": {"vendor": "ontap", "page_size": 1, "svms": [{"name": "svm_b", "volumes": [
            {"name": "vol{n}", "count": 2, "size": "16MiB"}]}]},
        "vsp-a": {"vendor": "vsp", "serial": 410001, "settings": {"job_seconds": 0.02},
                  "pools": [{"id": 0, "name": "pool0", "size": "1TiB"}],
                  "ldevs": [{"id_base": 256, "count": 1, "size": "16MiB"}]},
        "smis-a": {"vendor": "smis", "profile": "3par", "volumes": [{"name": "vol1", "id_base": 101, "size": "4MiB"}]},
    },
}
EXCERPT = "Sign in This page is served by the lab in place of the API"
MASKED_BASIC = "Authorization: Basic ********"


class Listener:
    """A plain-HTTP server on 127.0.0.1 that records every request reaching it: (method, path, Authorization)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen.append((self.command, self.path, self.headers.get("Authorization")))
                body = b'{"records": [], "num_records": 0}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = answer

            def log_message(self, *args: t.Any) -> None:  # pylint: disable=arguments-differ
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(name="listener")
def listener_fixture() -> t.Iterator[Listener]:
    listener = Listener()
    listener.thread.start()
    yield listener
    listener.server.shutdown()
    listener.server.server_close()


@pytest.fixture(name="faults")
def faults_fixture(lab: t.Any) -> t.Iterator[t.Callable[..., None]]:
    """``faults(array, **values)`` for this test only: every array's faults are cleared after it."""
    yield lab.faults
    lab.clear_faults()


def credentials(lab: t.Any, array: str) -> tuple[str, str]:
    """(password, base64 of ``user:password``): what must never be in a result."""
    info = lab.array(array)
    return info["password"], base64.b64encode(f"{info['username']}:{info['password']}".encode()).decode()


def assert_no_credentials(result: dict[str, t.Any], lab: t.Any, array: str) -> None:
    text = json.dumps(result)
    password, basic = credentials(lab, array)
    assert password not in text
    assert basic not in text and basic.rstrip("=") not in text
    assert not re.search(r"(?i)(basic|session)\s+[A-Za-z0-9+/=-]{16,}", text), text


def netloc(lab: t.Any, array: str) -> str:
    return urlsplit(lab.array(array)["url"]).netloc


def smis_args(lab: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    args = dict(lab.connection("smis-a"), namespace=lab.array("smis-a")["namespace"])
    args.update(extra)
    return args


# links and redirects ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("elsewhere", ["port", "scheme", "host"])
def test_a_next_link_to_another_port_scheme_or_host_is_not_followed(lab, run_module, faults, listener, elsewhere):
    args = dict(lab.connection("ontap-b"), list_volumes="svm_b")
    paged = run_module("snapmirror_info", args)
    assert not paged["failed"], paged
    assert sorted(v["name"] for v in paged["volumes"]) == ["vol1", "vol2"] and paged["requests_sent"] == 3, \
        "one page per volume, on the same endpoint"
    port = urlsplit(lab.array("ontap-b")["url"]).port
    origin = {"port": listener.origin, "scheme": f"http://127.0.0.1:{port}",
              "host": f"https://localhost:{port}"}[elsewhere]
    faults("ontap-b", link_origin=origin)
    mark = lab.mark()
    result = run_module("snapmirror_info", args)
    assert result["failed"]
    assert "the next page of /api/storage/volumes" in result["msg"]
    assert f"named the URL {origin}/api/storage/volumes?" in result["msg"]
    assert f"configured endpoint https://{netloc(lab, 'ontap-b')}" in result["msg"]
    assert "not followed" in result["msg"] and result["link"].startswith(origin)
    assert listener.requests == [], "nothing, and no Authorization, reached the other endpoint"
    assert [e["path"] for e in lab.log(array="ontap-b", since=mark)] == \
        ["/api/snapmirror/relationships", "/api/storage/volumes"], "the link was not requested from the lab either"
    assert_no_credentials(result, lab, "ontap-b")


def test_a_redirect_from_ontap_to_another_endpoint_is_not_followed(lab, run_module, faults, listener):
    target = listener.origin + "/api/storage/volumes"
    faults("ontap-b", answer_path="^/api/snapmirror/relationships$", answer_status=307, answer_type="text/plain",
           answer_body="moved", answer_headers={"Location": target})
    result = run_module("snapmirror_info", lab.connection("ontap-b"))
    assert result["failed"] and result["http_status"] == 307
    assert f"a redirect to {target}: redirects are not followed" in result["msg"]
    assert "GET /api/snapmirror/relationships" in result["msg"] and netloc(lab, "ontap-b") in result["msg"]
    assert listener.requests == []


def test_a_redirect_from_smis_to_another_endpoint_is_not_followed(lab, run_module, faults, listener):
    target = listener.origin + "/cimom"
    faults("smis-a", answer_path="^/cimom$", answer_status=307, answer_type="text/plain", answer_body="moved",
           answer_headers={"Location": target})
    result = run_module("smis_sync_info", smis_args(lab))
    assert result["failed"] and result["http_status"] == 307
    assert f"a redirect to {target}" in result["msg"] and "not followed" in result["msg"]
    assert listener.requests == [], "neither the CIM-XML request nor the credentials went there"


# echoed credentials ------------------------------------------------------------------------------------------
def test_an_echoed_basic_authorization_from_ontap_never_reaches_the_result(lab, run_module, faults):
    faults("ontap-b", spare=CLAIMS, echo_headers=True, error_count=1, error_status=400)
    result = run_module("snapmirror_info", lab.connection("ontap-b"))
    assert result["failed"] and result["http_status"] == 400
    assert "Service temporarily unavailable (injected)" in result["msg"]
    assert MASKED_BASIC in result["msg"], "the array did echo the header; the module masked it"
    assert_no_credentials(result, lab, "ontap-b")


def test_an_echoed_basic_authorization_from_the_vsp_login_never_reaches_the_result(lab, run_module, faults):
    faults("vsp-a", spare=CLAIMS, echo_headers=True, error_count=1, error_status=400)
    result = run_module("shadowimage_pair_info", lab.connection("vsp-a"))
    assert result["failed"] and result["http_status"] == 400
    assert "/sessions failed on VSP" in result["msg"] and MASKED_BASIC in result["msg"]
    assert_no_credentials(result, lab, "vsp-a")


def test_an_echoed_vsp_session_token_never_reaches_the_result(lab, run_module, faults):
    body = {"errorSource": "/ConfigurationManager/v1/objects/local-clone-copygroups", "messageId": "KART30004-E",
            "message": "The request is not valid. Request headers: {request_headers}"}
    faults("vsp-a", answer_path="/local-clone-copygroups$", answer_status=400, answer_type="application/json",
           answer_body=json.dumps(body))
    result = run_module("shadowimage_pair_info", lab.connection("vsp-a"))
    assert result["failed"] and result["http_status"] == 400 and result["array_code"] == "KART30004-E"
    assert "Authorization: Session ********" in result["msg"], "the array did echo the token; the module masked it"
    assert_no_credentials(result, lab, "vsp-a")


def test_an_echoed_authorization_in_a_cim_error_never_reaches_the_result(lab, run_module, faults):
    faults("smis-a", echo_headers=True)
    result = run_module("smis_sync_info", smis_args(lab, namespace="root/nothing"))
    assert result["failed"] and "does not exist" in result["msg"]
    assert MASKED_BASIC in result["msg"] and MASKED_BASIC in result["array_message"]
    assert_no_credentials(result, lab, "smis-a")


def test_the_password_and_its_base64_form_in_an_error_body_never_reach_the_result(lab, run_module, faults):
    password, basic = credentials(lab, "ontap-b")
    user = lab.array("ontap-b")["username"]
    message = f"user {user} with password {password} (credentials {basic}) may not run this command"
    faults("ontap-b", answer_path="^/api/snapmirror/relationships$", answer_status=403,
           answer_type="application/json", answer_body=json.dumps({"error": {"message": message, "code": "6"}}))
    result = run_module("snapmirror_info", lab.connection("ontap-b"))
    assert result["failed"] and result["http_status"] == 403 and result["array_code"] == "6"
    assert f"user {user} with password ******** (credentials ********) may not run" in result["msg"]
    assert_no_credentials(result, lab, "ontap-b")


# answers that are not JSON -------------------------------------------------------------------------------
@pytest.mark.parametrize("status, kind, body", [
    (200, "text/html", None),
    (403, "text/html", None),
    (200, "application/json", ""),
], ids=["html-200", "html-403", "empty-200"])
def test_an_html_answer_from_ontap_is_a_clear_error_naming_the_endpoint_and_status(lab, run_module, faults,
                                                                                   status, kind, body):
    values: dict[str, t.Any] = {"answer_path": "^/api/snapmirror/relationships$", "answer_status": status,
                                "answer_type": kind}
    if body is not None:
        values["answer_body"] = body
    faults("ontap-b", **values)
    result = run_module("snapmirror_info", lab.connection("ontap-b"))
    assert result["failed"] and result["http_status"] == status
    msg = result["msg"]
    assert "GET /api/snapmirror/relationships" in msg and netloc(lab, "ontap-b") in msg and f"HTTP {status}" in msg
    assert "'str' object" not in msg and "NoneType" not in msg and "<" not in msg
    if body is None:
        assert "text/html" in msg and EXCERPT in msg
    else:
        assert "an empty body" in msg


def test_an_html_answer_from_vsp_is_a_clear_error_naming_the_endpoint_and_status(lab, run_module, faults):
    faults("vsp-a", answer_path="/local-clone-copygroups$", answer_status=200)
    result = run_module("shadowimage_pair_info", lab.connection("vsp-a"))
    assert result["failed"] and result["http_status"] == 200
    msg = result["msg"]
    assert "GET /ConfigurationManager/v1/objects/local-clone-copygroups" in msg
    assert netloc(lab, "vsp-a") in msg and "answered HTTP 200 with text/html instead of a JSON object" in msg
    assert EXCERPT in msg and "<" not in msg and "'str' object" not in msg
