"""A lab of the benchmark's own and timed ansible-playbook runs against it."""

from __future__ import annotations

import collections
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import typing as t

from storage_replication_lab.client import LabClient, LabProcess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Bench:
    """A lab process plus helpers to run playbooks and read what the lab saw."""

    def __init__(self, topology: dict[str, t.Any], results_dir: str) -> None:
        self.topology = topology
        self.results_dir = results_dir
        self.workdir = tempfile.mkdtemp(prefix="bench-")
        os.makedirs(os.path.join(self.workdir, "lab"))
        self.process = LabProcess(topology, os.path.join(self.workdir, "lab"))
        self.lab: LabClient = None  # type: ignore[assignment]
        self.wrapper = ""

    def __enter__(self) -> Bench:
        self.lab = self.process.start(timeout=120)
        self.endpoints = os.path.join(self.workdir, "endpoints.json")
        with open(self.endpoints, "w", encoding="utf-8") as handle:
            json.dump(self.lab.endpoints, handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    def _wrapper(self, log: str) -> str:
        path = os.path.join(self.workdir, f"python-rss-{os.path.basename(log)}.sh")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.join(REPO, "bench", "rss.py")}" "{log}" "$@"\n')
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return path

    def playbook(self, name: str, extra: dict[str, t.Any], label: str, rss: bool = False,
                 bench_dir: bool = False, allow_failure: bool = False) -> dict[str, t.Any]:
        """Run a playbook, timed; return seconds, requests the arrays saw, and module peak memory."""
        os.makedirs(self.results_dir, exist_ok=True)
        extra = dict(extra)
        rss_log = os.path.join(self.workdir, f"{label}.rss")
        if rss:
            extra["ansible_python_interpreter"] = self._wrapper(rss_log)
        vars_file = os.path.join(self.workdir, f"{label}.json")
        with open(vars_file, "w", encoding="utf-8") as handle:
            json.dump(extra, handle)
        path = os.path.join(REPO, "bench" if bench_dir else "", "playbooks", f"{name}.yml")
        env = dict(os.environ, LAB_ENDPOINTS=self.endpoints, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".venv", "collections"), ANSIBLE_NOCOLOR="1")
        env.pop("LAB_DIR", None)
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
                   os.path.join(REPO, "playbooks", "inventory", "lab.yml"), path, "-e", f"@{vars_file}"]
        mark = self.lab.mark()
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        with open(os.path.join(self.results_dir, f"{label}.log"), "w", encoding="utf-8") as handle:
            handle.write(done.stdout + done.stderr)
        if done.returncode != 0 and not allow_failure:
            raise RuntimeError(f"{label}: ansible-playbook exited {done.returncode}; see "
                               f"{os.path.join(self.results_dir, label + '.log')}")
        entries = [e for e in self.lab.log(since=mark) if e["vendor"] != "control"]
        by_path = collections.Counter(f"{e['method']} {_shape(e['path'])}" for e in entries)
        peak = 0
        if rss and os.path.exists(rss_log):
            with open(rss_log, encoding="utf-8") as handle:
                peak = max((int(line.split()[-1]) for line in handle if line.strip()), default=0)
        print(f"   {label}: {seconds:.1f} s, {len(entries)} requests", flush=True)
        return {"seconds": round(seconds, 2), "rc": done.returncode, "requests": len(entries), "mutating": sum(1 for e in entries if e["mutating"]),
                "by_path": dict(by_path.most_common(8)), "rss_mib": round(peak / 1024, 1)}


def _shape(path: str) -> str:
    """A request path with ids replaced, to count requests by kind."""
    parts = []
    for part in path.split("/"):
        parts.append("{id}" if len(part) >= 32 and "-" in part else part)
    return "/".join(parts)


def summarize_transfers(finished: list[dict[str, t.Any]], kind: str, part: str) -> dict[str, t.Any]:
    """Count, slowest and mean duration of the successful transfers of ``kind`` into volumes named with ``part``."""
    durations = [tr["ended"] - tr["started"] for tr in finished
                 if tr["kind"] == kind and tr["state"] == "success" and part in tr["destination"] and tr.get("ended")]
    if not durations:
        return {"count": 0, "slowest": None, "mean": None}
    return {"count": len(durations), "slowest": round(max(durations), 2),
            "mean": round(sum(durations) / len(durations), 2)}
