"""The controller's watch (``_waiting.Controller``) on made-up process tables, and the runner's stop.

The tree of a module run by ansible-playbook with the local connection is: the module's python, the
shell(s) the connection started, the ansible-playbook worker, ansible-playbook itself, and whatever
started that (a shell, ansible-runner). The watch covers the chain up to the topmost Ansible process.
"""

from __future__ import annotations

import os

import pytest
from ansible_collections.storage.replication.plugins.module_utils._bulk import Item, Wait, run_items
from ansible_collections.storage.replication.plugins.module_utils._waiting import (Controller, ControllerGone, _Proc,
                                                                                   poll_until, watch_controller)

PLAYBOOK = ("/venv/bin/python", "/venv/bin/ansible-playbook", "site.yml")


class Table:
    """A process table the watch reads instead of /proc."""

    def __init__(self, chain):
        self.procs = {}
        pid = os.getppid()
        for number, argv in enumerate(chain):
            parent = 1 if number == len(chain) - 1 else 9000 + number
            self.procs[pid] = _Proc(pid, parent, f"start{pid}", "S", tuple(argv))
            pid = parent

    def read(self, pid, argv=True):
        proc = self.procs.get(pid)
        return proc if proc is None or argv else proc._replace(argv=())

    def pid(self, argv):
        return max(p for p, proc in self.procs.items() if proc.argv == tuple(argv))  # the topmost of its kind

    def kill(self, pid):
        """The process ends; its children are orphans (adopted by init)."""
        del self.procs[pid]
        for other, proc in list(self.procs.items()):
            if proc.ppid == pid:
                self.procs[other] = proc._replace(ppid=1)


def ansible_tree(top=(("bash",),)):
    return Table([("/bin/sh", "-c", "/venv/bin/python /root/.ansible/tmp/ansible-tmp-1/AnsiballZ_snapmirror.py"),
                  ("/bin/sh", "-c", "/bin/sh -c '...'"), PLAYBOOK, PLAYBOOK, *top])


def test_the_watch_covers_the_chain_up_to_ansible_playbook_and_not_its_parent_shell():
    table = ansible_tree()
    watch = Controller(table.read)
    assert [p.argv[:2] for p in watch.chain][-2:] == [PLAYBOOK[:2], PLAYBOOK[:2]]
    assert len(watch.chain) == 4
    table.kill(table.pid(("bash",)))  # nohup ansible-playbook: its shell may end, the controller runs on
    assert watch.gone() is None


def test_killing_ansible_playbook_alone_is_seen_through_its_orphaned_worker():
    table = ansible_tree()
    watch = Controller(table.read)
    main = watch.chain[-1].pid
    table.kill(main)
    table.procs[main] = _Proc(main, 1, "a zombie reaped, its pid taken", "S", ("sleep", "60"))
    assert watch.gone() == f"ansible-playbook pid {main} ended"
    assert watch.gone() == f"ansible-playbook pid {main} ended", "once gone, always gone"


def test_a_controller_that_is_a_zombie_or_a_new_process_with_its_pid_is_gone():
    for change in ({"state": "Z"}, {"started": "later"}):
        table = ansible_tree()
        watch = Controller(table.read)
        top = watch.chain[-1]
        table.procs[top.pid] = top._replace(**change)
        assert watch.gone() == f"ansible-playbook pid {top.pid} ended"


def test_ansible_runner_above_ansible_playbook_is_part_of_the_controller():
    runner = ("/usr/bin/python3", "/usr/local/bin/ansible-runner", "run", "/runner")
    table = ansible_tree(top=(runner, ("dumb-init",)))
    watch = Controller(table.read)
    assert watch.chain[-1].argv == runner
    table.procs[watch.chain[-1].pid] = watch.chain[-1]._replace(state="Z")
    assert watch.gone() == f"ansible-runner pid {watch.chain[-1].pid} ended"


def test_without_ansible_above_it_only_the_parent_is_watched():
    # a module run by hand, by a test, or detached by async_wrapper: its grandparents may come and go
    table = Table([("/venv/bin/python", "AnsiballZ_async_wrapper.py"), ("bash",)])
    watch = Controller(table.read)
    assert [p.argv for p in watch.chain] == [("/venv/bin/python", "AnsiballZ_async_wrapper.py")]
    table.kill(table.pid(("bash",)))
    assert watch.gone() is None


def test_a_wait_ends_with_controller_gone_and_nothing_is_polled_after_it():
    table = ansible_tree()
    watch = Controller(table.read)
    polls = []

    def steps():
        yield Wait("k", lambda state: state == "done", 30, "k done")
        return {"done": True}

    def poll(keys):
        polls.append(keys)
        if len(polls) == 2:
            table.procs[watch.chain[-1].pid] = watch.chain[-1]._replace(state="Z")
        return {k: "busy" for k in keys}

    results = run_items([Item("k", steps(), {})], poll, poll_interval=0.01, stop=watch.gone)
    assert results[0]["failed"] and results[0]["msg"].startswith("the controller is gone (ansible-playbook pid")
    assert len(polls) == 2


def test_a_job_wait_ends_with_controller_gone():
    table = ansible_tree()
    watch = watch_controller(Controller(table.read))
    fetched = []

    def fetch():
        fetched.append(1)
        if len(fetched) == 2:
            table.procs.pop(watch.chain[-1].pid)
        return {"state": "running"}

    try:
        with pytest.raises(ControllerGone, match="ansible-playbook pid .* ended"):
            poll_until(fetch, lambda job: job["state"] == "success", "job 1", 30, 0.01)
    finally:
        watch_controller(Controller(lambda pid, argv=True: None))
    assert len(fetched) == 2
