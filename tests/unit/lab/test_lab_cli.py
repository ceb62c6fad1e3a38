"""``storage-replication-lab up|status|down`` (what ``make lab-up``/``lab-status``/``lab-down`` run), in a directory of its own.

The console script and ``python -m storage_replication_lab`` are one program; most tests run the latter
(the interpreter of the tests), one runs the console script next to it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
import yaml

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts lab processes through /proc")
SCRIPT = os.path.join(os.path.dirname(sys.executable), "storage-replication-lab")
TOPOLOGY = {
    "arrays": {
        "ontap-a": {"vendor": "ontap", "svms": [{"name": "svm_a", "volumes": [{"name": "vol1", "size": "64MiB"}]}]},
    },
}


def lab_cli(state_dir: str, *args: str, timeout: float = 90, dir_first: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("LAB_DIR", None)
    env.pop("LAB_TOPOLOGY", None)
    # a proxy in the environment must not be used for the loopback health check
    env["http_proxy"] = env["HTTP_PROXY"] = "http://127.0.0.1:9"
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    argv = ["--dir", state_dir, *args] if dir_first else [*args, "--dir", state_dir]
    return subprocess.run([sys.executable, "-m", "storage_replication_lab", *argv],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def serving(state_dir: str) -> list[int]:
    """Pids of the lab processes serving ``state_dir``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"storage_replication_lab" in argv and b"serve" in argv and state_dir.encode() in argv:
            pids.append(int(entry))
    return pids


@pytest.fixture(name="state_dir")
def fixture_state_dir(tmp_path):
    topology = tmp_path / "topology.yml"
    topology.write_text(yaml.safe_dump(TOPOLOGY), encoding="utf-8")
    state = str(tmp_path / "state")
    yield state
    for pid in serving(state):  # a failed test must not leave a lab behind
        os.kill(pid, signal.SIGKILL)


def test_up_twice_down_twice(state_dir, tmp_path):
    topology = str(tmp_path / "topology.yml")
    first = lab_cli(state_dir, "up", "--topology", topology, dir_first=True)  # the Makefile's order
    assert first.returncode == 0, first.stdout + first.stderr
    assert "lab running" in first.stdout
    with open(os.path.join(state_dir, "endpoints.json"), encoding="utf-8") as handle:
        endpoints = json.load(handle)
    with open(os.path.join(state_dir, "lab.pid"), encoding="utf-8") as handle:
        pid = int(handle.read())
    assert endpoints["pid"] == pid and serving(state_dir) == [pid]
    assert oct(os.stat(os.path.join(state_dir, "endpoints.json")).st_mode & 0o777) == "0o600", "it holds passwords"
    info = endpoints["arrays"]["ontap-a"]
    session = requests.Session()
    session.trust_env = False
    reply = session.get(info["url"] + "/api/cluster", auth=(info["username"], info["password"]),
                        verify=info["ca_file"], params={"fields": "name"}, timeout=10)
    assert reply.json()["name"] == "ontap-a"

    second = lab_cli(state_dir, "up", "--topology", topology)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already running" in second.stdout
    assert serving(state_dir) == [pid], "one lab, the first one"

    status = lab_cli(state_dir, "status")
    assert status.returncode == 0 and "ontap-a" in status.stdout and info["url"] in status.stdout

    down = lab_cli(state_dir, "down", dir_first=True)
    assert down.returncode == 0 and f"pid {pid}" in down.stdout
    assert serving(state_dir) == []
    assert not os.path.exists(os.path.join(state_dir, "endpoints.json"))
    assert not os.path.exists(os.path.join(state_dir, "lab.pid"))
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(info["url"] + "/api/cluster", verify=info["ca_file"], timeout=5)

    again = lab_cli(state_dir, "down")
    assert again.returncode == 0 and "not running" in again.stdout
    status = lab_cli(state_dir, "status")
    assert status.returncode == 1 and "not running" in status.stdout


def test_stale_pid_file_is_not_a_lab(state_dir, tmp_path):
    """A pid file left by a killed lab may name another process by now: down and up leave it alone."""
    os.makedirs(state_dir)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as bystander:
        try:
            with open(os.path.join(state_dir, "lab.pid"), "w", encoding="utf-8") as handle:
                handle.write(str(bystander.pid))
            down = lab_cli(state_dir, "down")
            assert down.returncode == 0 and "not running" in down.stdout
            status = lab_cli(state_dir, "status")
            assert status.returncode == 1
            up = lab_cli(state_dir, "up", "--topology", str(tmp_path / "topology.yml"))
            assert up.returncode == 0, up.stdout + up.stderr
            time.sleep(0.1)
            assert bystander.poll() is None, "the bystander process is still alive"
            assert len(serving(state_dir)) == 1
            assert lab_cli(state_dir, "down").returncode == 0
            assert serving(state_dir) == []
        finally:
            bystander.kill()


def test_up_fails_cleanly_on_a_bad_topology(state_dir, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"arrays": {"x": {"vendor": "nope"}}}), encoding="utf-8")
    up = lab_cli(state_dir, "up", "--topology", str(bad), timeout=60)
    assert up.returncode == 1 and "lab.log" in up.stderr
    assert serving(state_dir) == []
    assert not os.path.exists(os.path.join(state_dir, "endpoints.json"))
    with open(os.path.join(state_dir, "lab.log"), encoding="utf-8") as handle:
        assert "vendor must be ontap, vsp or smis" in handle.read()


@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="the lab is not installed next to this interpreter")
def test_console_script_is_the_module(state_dir, tmp_path):
    """``storage-replication-lab`` runs the same program: it lists the vendors and stops a lab ``-m`` started."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAB_DIR", "LAB_TOPOLOGY", "PYTHONPATH")}
    script = subprocess.run([SCRIPT, "vendors"], capture_output=True, text=True, env=env, timeout=60, check=False)
    module = lab_cli(state_dir, "vendors")
    assert script.returncode == 0 and script.stdout == module.stdout
    assert [line.split()[0] for line in script.stdout.splitlines() if not line.startswith(" ")] == ["ontap", "vsp", "smis"]
    assert lab_cli(state_dir, "up", "--topology", str(tmp_path / "topology.yml")).returncode == 0
    status = subprocess.run([SCRIPT, "status", "--dir", state_dir], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert status.returncode == 0 and "ontap-a" in status.stdout
    down = subprocess.run([SCRIPT, "--dir", state_dir, "down"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert down.returncode == 0 and "lab stopped" in down.stdout
    assert serving(state_dir) == []
