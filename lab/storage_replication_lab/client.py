"""A small client of a running lab, for tests, benchmarks and the demo.

It talks to the lab the way everything else does: over HTTP(S), the arrays with
their own credentials and the lab's CA, the control API on its own port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import typing as t

import requests
import yaml

from .faults import CLAIMS, is_claim  # noqa: F401  (CLAIMS: for the faults of a test)
from .topology import DEFAULT

PACKAGE = __package__ or "storage_replication_lab"


class LabError(RuntimeError):
    pass



class LabClient:
    def __init__(self, endpoints: dict[str, t.Any] | str) -> None:
        if isinstance(endpoints, str):
            with open(endpoints, encoding="utf-8") as handle:
                endpoints = json.load(handle)
        assert isinstance(endpoints, dict)
        self.endpoints = endpoints
        self.control_url = endpoints["control_url"]
        self.http = requests.Session()
        self.http.trust_env = False

    # arrays -------------------------------------------------------------------------
    def array(self, name: str) -> dict[str, t.Any]:
        return self.endpoints["arrays"][name]

    def session(self, name: str) -> requests.Session:
        """A session for an array's own REST API, authenticated and verifying the lab's CA."""
        info = self.array(name)
        session = requests.Session()
        session.trust_env = False
        session.auth = (info["username"], info["password"])
        session.verify = info["ca_file"]
        session.headers["Accept"] = "application/json"
        return session

    def url(self, name: str, path: str = "") -> str:
        return self.array(name)["url"] + path

    def connection(self, name: str, **extra: t.Any) -> dict[str, t.Any]:
        """Module connection options for an array (what an inventory would hold)."""
        info = self.array(name)
        options = {"hostname": info["url"], "username": info["username"], "password": info["password"],
                   "ca_path": info["ca_file"]}
        options.update(extra)
        return options

    # control API ----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, t.Any] | None = None,
              params: dict[str, t.Any] | None = None) -> t.Any:
        reply = self.http.request(method, self.control_url + path, json=body, params=params, timeout=60)
        if reply.status_code >= 400:
            raise LabError(f"{method} {path}: {reply.status_code} {reply.text}")
        return reply.json()

    def volume(self, array: str, key: str) -> dict[str, t.Any]:
        return self._call("GET", f"/arrays/{array}/volumes/{key}")

    def status(self, array: str) -> dict[str, t.Any]:
        """The lab's own view of an array (sessions, the VSP lock holder, SMI-S replication groups, ...)."""
        return self._call("GET", f"/arrays/{array}")

    def volumes(self, array: str) -> dict[str, t.Any]:
        return self._call("GET", f"/arrays/{array}/volumes")

    def digest(self, array: str, key: str) -> str:
        return self.volume(array, key)["digest"]

    def snapshot_digest(self, array: str, key: str, snapshot: str) -> str:
        return self.volume(array, key)["snapshots"][snapshot]["digest"]

    def write(self, array: str, key: str, blocks: int = 1, offset: int | None = None,
              force: bool = False) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {"blocks": blocks}
        if offset is not None:
            body["offset"] = offset
        if force:
            body["force"] = True
        return self._call("POST", f"/arrays/{array}/volumes/{key}/write", body)

    def down(self, array: str, duration: float | None = None) -> None:
        self._call("POST", f"/arrays/{array}/down", {"duration": duration} if duration else {})

    def up(self, array: str) -> None:
        self._call("POST", f"/arrays/{array}/up")

    def faults(self, array: str | None = None, **values: t.Any) -> t.Any:
        return self._call("POST", f"/arrays/{array}/faults" if array else "/faults", values)

    def clear_faults(self, array: str | None = None) -> None:
        self._call("DELETE", f"/arrays/{array}/faults" if array else "/faults")

    def settings(self, array: str, **values: t.Any) -> t.Any:
        return self._call("PATCH", f"/arrays/{array}/settings", values)

    def link(self, a: str, b: str, **values: t.Any) -> dict[str, t.Any]:
        return self._call("PATCH", f"/links/{a}/{b}", values)

    def cut(self, a: str, b: str) -> None:
        self.link(a, b, cut=True)

    def restore(self, a: str, b: str) -> None:
        self.link(a, b, cut=False)

    def transfers(self, since_id: int = 0) -> dict[str, t.Any]:
        return self._call("GET", "/transfers", params={"since_id": since_id})

    def advance_clock(self, seconds: float) -> None:
        self._call("POST", "/clock", {"advance": seconds})

    def log(self, array: str | None = None, mutating: bool | None = None, since: int = 0) -> list[dict[str, t.Any]]:
        params: dict[str, t.Any] = {"since": since}
        if array:
            params["array"] = array
        if mutating is not None:
            params["mutating"] = "true" if mutating else "false"
        return self._call("GET", "/log", params=params)["entries"]

    def mark(self) -> int:
        """The log position now; ``log(since=mark)`` shows what happened after."""
        return int(self._call("GET", "/log", params={"since": 10**12})["last_seq"])

    def mutations_since(self, mark: int, array: str | None = None, claims: bool = False) -> list[dict[str, t.Any]]:
        """The changes sent since ``mark``; a run's claim requests (``CLAIMS``) only with ``claims``."""
        entries = self.log(array=array, mutating=True, since=mark)
        if claims:
            return entries
        return [e for e in entries if not is_claim(e)]

    def reset_log(self) -> None:
        self._call("DELETE", "/log")

    def vendors(self) -> dict[str, t.Any]:
        """The lab's simulator table: vendor -> protocol, default settings."""
        return self._call("GET", "/vendors")

    def wait_for(self, predicate: t.Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval)
        raise LabError(f"condition not met within {timeout}s")


class LabProcess:
    """A lab of its own on random ports, for one test module or one benchmark."""

    def __init__(self, topology: str | dict[str, t.Any] | None = None, state_dir: str | None = None) -> None:
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="lab-")
        if isinstance(topology, dict):
            path = os.path.join(self.state_dir, "topology.yml")
            with open(path, "w", encoding="utf-8") as handle:
                yaml.safe_dump(topology, handle)
            topology = path
        self.topology = topology or DEFAULT
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: LabClient | None = None

    def start(self, timeout: float = 60.0) -> LabClient:
        log = open(os.path.join(self.state_dir, "lab.log"), "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, "-m", PACKAGE, "serve", "--dir", self.state_dir, "--topology", self.topology],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        endpoints = os.path.join(self.state_dir, "endpoints.json")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"lab exited with {self.proc.returncode}: {self.log_tail()}")
            if os.path.exists(endpoints):
                self.client = LabClient(endpoints)
                return self.client
            time.sleep(0.05)
        self.stop()
        raise LabError(f"lab did not start within {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(os.path.join(self.state_dir, "lab.log"), encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> LabClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
