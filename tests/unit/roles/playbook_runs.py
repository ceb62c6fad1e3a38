"""Run the collection's playbooks as ansible-playbook processes against a test module's lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def playbook(lab: t.Any, name: str, tmp_path: t.Any, extra: dict[str, t.Any] | None = None, wait: bool = True,
             sets: list[dict[str, t.Any]] | None = None, args: t.Sequence[str] = (), rc: int = 0) -> t.Any:
    """``playbooks/<name>.yml`` on the lab inventory with ``sets`` as ``replication_sets`` and ``extra`` as
    extra variables (a JSON file); ``args`` go on the command line as they are (``-e key=value`` gives strings).
    Waits for it and checks its exit code (returns the output), or returns the process when ``wait`` is false."""
    endpoints = os.path.join(tmp_path, "endpoints.json")
    with open(endpoints, "w", encoding="utf-8") as handle:
        json.dump(lab.endpoints, handle)
    extra_file = os.path.join(tmp_path, f"{name}-vars.json")
    with open(extra_file, "w", encoding="utf-8") as handle:
        json.dump(dict({"replication_sets": sets or [], "failover_poll_interval": 0.1,
                        "backend_replication_poll_interval": 0.1, "failback_poll_interval": 0.1}, **(extra or {})),
                  handle)
    env = dict(os.environ, LAB_ENDPOINTS=endpoints, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".venv", "collections"))
    env.pop("LAB_DIR", None)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               "-i", os.path.join(REPO, "playbooks", "inventory", "lab.yml"),
               os.path.join(REPO, "playbooks", f"{name}.yml"), "-e", f"@{extra_file}", *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                            start_new_session=True, text=True)
    if not wait:
        return proc
    out, _err = proc.communicate(timeout=300)
    assert proc.returncode == rc, out[-3000:]
    return out
