"""What test_vsp_sim.py and test_vsp_sim_shadowimage.py share: the VSP topology and a Configuration Manager client.

Each of the two modules starts a lab of its own on ``TOPOLOGY`` (its ``LAB_TOPOLOGY``).
"""

from __future__ import annotations

import time
import typing as t

import requests

DATA_BLOCKS = 32
TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "16MiB", "tick_seconds": 0.02},
    "arrays": {
        "vsp-a": {
            "vendor": "vsp", "model": "VSP G900", "serial": 410001,
            "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}],
            "ldevs": [
                {"id_base": 256, "count": 24, "size": "64MiB", "pool": 0, "data_blocks": DATA_BLOCKS,
                 "label": "prod{n}"},
                {"id_base": 512, "count": 24, "size": "64MiB", "pool": 0},
                {"id": 600, "size": "32MiB", "pool": 0},
            ],
            "settings": {"job_seconds": 0.02},
        },
        "vsp-b": {"vendor": "vsp", "serial": 410002, "pools": [{"id": 0, "name": "dp0", "size": "1TiB"}]},
    },
}
SID = "886000410001"


class Vsp:
    """A minimal Configuration Manager client: what a module does, written out."""

    def __init__(self, lab: t.Any, name: str = "vsp-a", scoped: bool = False) -> None:
        self.info = lab.array(name)
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = self.info["ca_file"]
        self.root = self.info["url"] + "/ConfigurationManager/v1/objects"
        self.base = self.root + (f"/storages/{self.info['storage_device_id']}" if scoped else "")
        self.session_id: int | None = None

    def login(self, alive_time: int | None = None) -> str:
        body = {} if alive_time is None else {"aliveTime": alive_time}
        reply = self.http.post(self.base + "/sessions", json=body, auth=(self.info["username"], self.info["password"]))
        assert reply.status_code == 200, reply.text
        data = reply.json()
        self.http.headers["Authorization"] = f"Session {data['token']}"
        self.session_id = data["sessionId"]
        return str(data["token"])

    def logout(self) -> None:
        if self.session_id is not None:
            self.http.delete(f"{self.base}/sessions/{self.session_id}")
            self.session_id = None
        self.http.close()

    def call(self, method: str, path: str, body: t.Any = None, nowait: bool = True, hold: bool = False,
             **params: t.Any) -> requests.Response:
        headers = {}
        if nowait:
            headers["Job-Mode-Wait-Configuration-Change"] = "NoWait"
        if hold:
            headers["Response-Job-Status"] = "Completed"
        return self.http.request(method, self.base + path, json=body, params=params or None, headers=headers,
                                 timeout=30)

    def get(self, path: str, **params: t.Any) -> requests.Response:
        return self.call("GET", path, nowait=False, **params)

    def job(self, job_id: int) -> dict[str, t.Any]:
        reply = self.get(f"/jobs/{job_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def run(self, method: str, path: str, body: t.Any = None, nowait: bool = True, ok: bool = True) -> dict[str, t.Any]:
        """Send an asynchronous request and wait for its job."""
        reply = self.call(method, path, body, nowait=nowait)
        assert reply.status_code == 202, reply.text
        job = self.wait_job(reply.json()["jobId"])
        if ok:
            assert job["state"] == "Succeeded", job
        return job

    def wait_job(self, job_id: int, timeout: float = 15.0) -> dict[str, t.Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] == "Completed" or time.monotonic() > deadline:
                return job
            time.sleep(0.01)

    def pair(self, pair_id: str) -> dict[str, t.Any]:
        reply = self.get(f"/local-clone-copypairs/{pair_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait_pair(self, pair_id: str, status: str, timeout: float = 15.0) -> dict[str, t.Any]:
        deadline = time.monotonic() + timeout
        while True:
            pair = self.pair(pair_id)
            if pair["pvolStatus"] == status or time.monotonic() > deadline:
                assert pair["pvolStatus"] == status, pair
                return pair
            time.sleep(0.01)

    def create_pair(self, group: str, name: str, pvol: int, svol: int, new: bool = True, wait: str | None = "PAIR",
                    **extra: t.Any) -> str:
        body = {"copyGroupName": group, "copyPairName": name, "replicationType": "SI", "pvolLdevId": pvol,
                "svolLdevId": svol, "isNewGroupCreation": new}
        body.update(extra)
        self.run("POST", "/local-clone-copypairs", body)
        pair_id = f"{group},{group}P_,{group}S_,{name}"
        if wait:
            self.wait_pair(pair_id, wait)
        return pair_id

    def action(self, pair_id: str, op: str, nowait: bool = True, ok: bool = True, **params: t.Any) -> dict[str, t.Any]:
        return self.run("POST", f"/local-clone-copypairs/{pair_id}/actions/{op}/invoke", {"parameters": params},
                        nowait=nowait, ok=ok)


def assert_error(reply: requests.Response, status: int, message_id: str) -> dict[str, t.Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body["messageId"] == message_id, body
    assert body["errorSource"].startswith("/ConfigurationManager/")
    assert body["message"] and body["cause"] and body["solution"]
    return body
