"""Run the ansible-test integration targets, each against a fresh lab of its own.

For every target this starts a lab (the target's ``lab-topology.yml`` if it has
one, else the default topology), writes ``tests/integration/integration_config.yml``
in the build tree with the lab's endpoints (ansible-test passes it to the target
as variables), runs ``ansible-test integration <target>``, and stops the lab.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import yaml
from storage_replication_lab.client import LabProcess


def targets(tree: str, wanted: list[str]) -> list[str]:
    root = os.path.join(tree, "tests", "integration", "targets")
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("setup_"))
    if wanted:
        missing = [w for w in wanted if w not in found]
        if missing:
            raise SystemExit(f"no such integration target: {', '.join(missing)}")
        return wanted
    return found


def run_target(tree: str, target: str, python: str) -> tuple[bool, float]:
    topology = os.path.join(tree, "tests", "integration", "targets", target, "lab-topology.yml")
    started = time.monotonic()
    process = LabProcess(topology if os.path.exists(topology) else None)
    client = process.start()
    ok = False
    try:
        config = {"lab_control_url": client.control_url, "lab_arrays": client.endpoints["arrays"]}
        with open(os.path.join(tree, "tests", "integration", "integration_config.yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle)
        command = [os.path.join(os.path.dirname(sys.executable), "ansible-test"), "integration", "--python", python,
                   "--color", "no", target]
        ok = subprocess.run(command, cwd=tree, check=False).returncode == 0
    finally:
        process.stop()
        if not ok:
            print(f"--- lab log of {target} ---\n{process.log_tail()}")
    return ok, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", required=True, help="the ansible_collections/storage/replication build tree")
    parser.add_argument("--python", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args()
    failed = []
    for target in targets(args.tree, args.targets):
        print(f"== integration target {target}", flush=True)
        ok, seconds = run_target(args.tree, target, args.python)
        print(f"== {target}: {'passed' if ok else 'FAILED'} in {seconds:.0f}s", flush=True)
        if not ok:
            failed.append(target)
            break
    if failed:
        print(f"integration targets failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
