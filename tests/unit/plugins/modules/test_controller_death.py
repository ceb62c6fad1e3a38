"""Issue 14, item 5: a module whose controller died stops at its next safe point and says so in its log.

"After ``ansible-playbook`` is killed (OOM, a cancelled AWX job), its module process keeps running; one went on
polling for 950 s, and with a rerun one relationship was broken twice." A real ``ansible-playbook`` runs a wave
(four relationships: final update, quiesce, break) against the lab; the test kills the ansible-playbook process
alone (SIGKILL, not its process group: its worker, the shell and the module live on, as after an OOM kill)
while the module waits for the updates. The lab's request log shows what the module sent after that; a
``sitecustomize`` on the module's path copies what it writes to syslog into a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from ontap_actors import two_clusters, Console

LAB_TOPOLOGY = two_clusters()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SITECUSTOMIZE = textwrap.dedent("""\
    import os
    import syslog

    def _capture(*args):
        with open(os.environ["SYSLOG_CAPTURE"], "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {args[-1]}\\n")

    if os.environ.get("SYSLOG_CAPTURE"):
        syslog.syslog = _capture
""")


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    stat = handle.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rfind(")") + 2:].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        todo += kids
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def start_playbook(tmp_path, lab, module_args):
    playbook = tmp_path / "wave.yml"
    play = {"hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "tasks": [{"name": "one wave", "storage.replication.snapmirror": module_args}]}
    playbook.write_text(json.dumps([play]))  # JSON is YAML
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".venv", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), SYSLOG_CAPTURE=str(tmp_path / "syslog.txt"),
               PYTHONPATH=str(site), ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_PIPELINING="false")
    output = open(tmp_path / "playbook.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(playbook)],
        env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
    output.close()
    return proc


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the module process through /proc")
def test_a_module_whose_controller_is_killed_during_a_wave_stops_and_logs_it(lab, run_module, tmp_path):
    conn = dict(lab.connection("ontap-b"), source_cluster=lab.connection("ontap-a"))
    items = [{"source_path": f"svm_a:vol{n}", "destination_path": f"svm_b:vol{n}_dr"} for n in range(1, 5)]
    created = run_module("snapmirror", dict(conn, relationships=items, create_destination={"enabled": True},
                                            poll_interval=0.05))
    assert not created["failed"], created
    for n in range(1, 5):
        lab.write("ontap-a", f"svm_a:vol{n}", 96)
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")  # each final update takes seconds
    wave = dict(conn, relationships=items, relationship_state="broken_off", update=True, max_workers=1,
                poll_interval=0.2, wait_timeout=120)
    mark = lab.mark()
    proc = start_playbook(tmp_path, lab, wave)
    try:
        lab.wait_for(lambda: len([e for e in lab.mutations_since(mark, "ontap-b")
                                  if e["path"].endswith("/transfers")]) == 4, timeout=120, interval=0.05)
        modules = [p for p in children(proc.pid) if "AnsiballZ_snapmirror" in command_line(p)
                   and "/bin/sh" not in command_line(p)]
        assert len(modules) == 1, [command_line(p) for p in children(proc.pid)]
        os.kill(proc.pid, signal.SIGKILL)  # the controller alone: its worker, the shell and the module live on
        proc.wait(30)
        killed = lab.mark()
        deadline = time.monotonic() + 60
        while running(modules[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(modules[0]), "the module went on after its controller was killed"
        after = lab.mutations_since(killed, "ontap-b")
        assert len(after) <= 1, f"sent after the controller was killed: {after}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")
    logged = (tmp_path / "syslog.txt").read_text(encoding="utf-8")
    # ansible-core before 2.17 also logs each warning ("[WARNING] ..."); one line per item is the module's own
    stopped = [line for line in logged.splitlines() if "the controller is gone" in line and "[WARNING]" not in line]
    assert len(stopped) == 4, logged
    assert all(line.startswith(f"{modules[0]} ") for line in stopped)
    assert "ansible-playbook pid" in stopped[0] and "ended" in stopped[0]
    assert all("stopped before quiesce (in wait_transfer)" in line for line in stopped), stopped
    states = {n: Console(lab).relationship(f"svm_b:vol{n}_dr")["state"] for n in range(1, 5)}
    assert states == {n: "snapmirrored" for n in range(1, 5)}, "nothing was quiesced or broken after the kill"
