"""What the ONTAP lab tests share: the topology, a REST client, relationships.

test_ontap_snapmirror.py and test_ontap_snapmirror_refusals.py each start a lab of their own on ``TOPOLOGY``
(their ``LAB_TOPOLOGY``); test_ontap_rest.py and test_control_api.py use the client, and
tests/unit/report/test_status_report.py a smaller ``topology()``.
"""

from __future__ import annotations

import time
import typing as t

import requests

LAB = {"block_size": "64KiB", "bandwidth": "1GiB", "per_transfer_rate": "256MiB", "local_bandwidth": "1GiB",
       "tick_seconds": 0.02}


def topology(volumes: int = 24, data_blocks: int = 32, lab: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Two clusters, svm_a on ontap-a peered with svm_b on ontap-b: ``volumes`` volumes vol{n} of 64 MiB on svm_a,
    each with ``data_blocks`` blocks written; ``lab`` replaces the lab settings ``LAB``."""
    return {
        "lab": dict(LAB if lab is None else lab),
        "arrays": {
            "ontap-a": {
                "vendor": "ontap",
                "job_seconds": 0.01,
                "aggregates": [{"name": "aggr1_a", "size": "1TiB"}],
                "svms": [{"name": "svm_a", "volumes": [
                    {"name": "vol{n}", "count": volumes, "size": "64MiB", "data_blocks": data_blocks,
                     "nas_path": "/vol{n}"}]}],
                "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
            },
            "ontap-b": {"vendor": "ontap", "job_seconds": 0.01, "aggregates": [{"name": "aggr1_b", "size": "1TiB"}],
                        "svms": [{"name": "svm_b"}]},
        },
        "links": [{"between": ["ontap-a", "ontap-b"]}],
    }


TOPOLOGY = topology()
MIB = 1024 * 1024


def until(fetch: t.Callable[[], t.Any], check: t.Callable[[t.Any], t.Any] = bool, timeout: float = 15.0,
          what: str = "condition") -> t.Any:
    """Poll ``fetch()`` until ``check`` accepts what it returns; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s: {value!r}")
        time.sleep(0.02)


class Rest:
    """One simulated ONTAP cluster, over HTTPS with the lab's CA and Basic auth.

    ``job_fields`` is what ``job()`` reads of a job: ``"*"`` for a test that looks at more than its end.
    """

    def __init__(self, lab: t.Any, name: str, job_fields: str = "state,message,code,error") -> None:
        self.lab = lab
        self.http = lab.session(name)
        self.base = lab.url(name)
        self.job_fields = job_fields

    def request(self, method: str, path: str, body: t.Any = None, **params: t.Any) -> requests.Response:
        return self.http.request(method, self.base + path, json=body, params=params or None, timeout=30)

    def get(self, path: str, **params: t.Any) -> t.Any:
        reply = self.request("GET", path, **params)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def job(self, job_uuid: str, timeout: float = 15.0) -> dict[str, t.Any]:
        return until(lambda: self.get(f"/api/cluster/jobs/{job_uuid}", fields=self.job_fields),
                     lambda j: j["state"] in ("success", "failure"), timeout, "job end")

    def run(self, method: str, path: str, body: t.Any = None, **params: t.Any) -> requests.Response:
        """An asynchronous call whose job must succeed."""
        reply = self.request(method, path, body, **params)
        assert reply.status_code in (200, 201, 202), f"{method} {path}: {reply.status_code} {reply.text}"
        job = self.job(reply.json()["job"]["uuid"])
        assert job["state"] == "success", job
        return reply

    def refused(self, method: str, path: str, body: t.Any = None, status: int = 400, code: str | None = None,
                **params: t.Any) -> dict[str, t.Any]:
        reply = self.request(method, path, body, **params)
        assert reply.status_code == status, f"{method} {path}: {reply.status_code} {reply.text}"
        error = reply.json()["error"]
        assert error["message"]
        if code is not None:
            assert error["code"] == code, error
        return error

    def rel(self, rel_uuid: str) -> dict[str, t.Any]:
        return self.get(f"/api/snapmirror/relationships/{rel_uuid}")

    def volume(self, svm: str, name: str, fields: str = "uuid,type,state,size,nas.path") -> dict[str, t.Any]:
        records = self.get("/api/storage/volumes", name=name, **{"svm.name": svm, "fields": fields})["records"]
        assert len(records) == 1, records
        return records[0]


def make_dp(b: Rest, name: str, size: int = 64 * MIB) -> str:
    reply = b.run("POST", "/api/storage/volumes", {"name": name, "svm": {"name": "svm_b"},
                                                   "aggregates": [{"name": "aggr1_b"}], "size": size, "type": "dp"})
    assert reply.headers["Location"].startswith("/api/storage/volumes/")
    return reply.headers["Location"].rsplit("/", 1)[1]


def make_rel(b: Rest, src: str, policy: str | None = None, initialize: bool = False, **extra: t.Any) -> str:
    make_dp(b, f"{src}_dst")
    body: dict[str, t.Any] = {"source": {"path": f"svm_a:{src}"}, "destination": {"path": f"svm_b:{src}_dst"}}
    if policy:
        body["policy"] = {"name": policy}
    body.update(extra)
    reply = b.run("POST", "/api/snapmirror/relationships", body)
    rel_uuid = reply.headers["Location"].rsplit("/", 1)[1]
    if initialize:
        active = "in_sync" if policy in ("Sync", "StrictSync", "AutomatedFailOver") else "snapmirrored"
        b.run("PATCH", f"/api/snapmirror/relationships/{rel_uuid}", {"state": active})
        wait_state(b, rel_uuid, active)
    return rel_uuid


def wait_state(b: Rest, rel_uuid: str, state: str, timeout: float = 15.0) -> dict[str, t.Any]:
    return until(lambda: b.rel(rel_uuid), lambda r: r["state"] == state and "uuid" not in r.get("transfer", {}),
                 timeout, f"state {state}")
