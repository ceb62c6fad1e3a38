"""Waiting for arrays: deadlines, backoff, the error a timeout raises, and the controller's watch.

A module outlives its controller when ``ansible-playbook`` is killed (OOM, a cancelled AWX job): its
process is not in the controller's process group, so nothing ends it. ``watch_controller`` remembers the
processes between the module and the controller at the start of a run; ``controller_gone`` says (cheaply,
from ``/proc`` where there is one) when one of them has ended, and every wait and every request of the
engine asks it first, so a module whose controller died sends nothing more.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import os
import time
import typing as t

from ._common import ReplicationError


class WaitTimeout(ReplicationError):
    """The array did not reach the target state in time; says where it is and what a rerun does."""

    def __init__(self, what: str, elapsed: float, current: t.Any = None, rerun: str = "") -> None:
        msg = f"timed out after {elapsed:.0f}s waiting for {what}"
        if current is not None:
            msg += f"; current state: {current}"
        if rerun:
            msg += f". {rerun}"
        super().__init__(msg, elapsed_seconds=round(elapsed, 1), current=current)


class Backoff:
    """Poll intervals that grow with the time already waited.

    The next interval is ``fraction`` of the time waited so far, never less than
    ``initial`` nor more than ``maximum``: a state reached at any moment is seen at
    most about ``fraction`` late, and a long wait costs few polls.
    """

    def __init__(self, initial: float, maximum: float | None = None, fraction: float = 0.1) -> None:
        self.initial = max(0.01, float(initial))
        self.maximum = max(self.initial, maximum if maximum is not None else max(10.0, self.initial))
        self.fraction = fraction

    def next(self, waited: float) -> float:
        return min(self.maximum, max(self.initial, self.fraction * max(0.0, waited)))


def poll_until(fetch: t.Callable[[], t.Any], check: t.Callable[[t.Any], bool | str], what: str,
               timeout: float, interval: float, describe: t.Callable[[t.Any], t.Any] | None = None,
               rerun: str = "") -> t.Any:
    """Call ``fetch`` until ``check`` says done (True), failed (a message), or the deadline passes.

    The first check happens at once; later ones back off from ``interval`` (see ``Backoff``). A controller
    that is gone ends the wait (``ControllerGone``).
    """
    start = time.monotonic()
    backoff = Backoff(interval)
    while True:
        stop_if_controller_gone()
        value = fetch()
        verdict = check(value)
        if verdict is True:
            return value
        if isinstance(verdict, str):
            raise ReplicationError(verdict, current=describe(value) if describe else value)
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise WaitTimeout(what, elapsed, describe(value) if describe else value, rerun)
        pause = min(backoff.next(elapsed), max(0.0, timeout - elapsed))
        while pause > 0 and controller_gone() is None:  # a dead controller is noticed within a second
            time.sleep(min(pause, 1.0))
            pause -= 1.0


class ControllerGone(ReplicationError):
    """The controller that started this module has ended: the module stops before its next request.

    ``why`` names the process that ended; the engine words the message for the item (what was not done)."""

    def __init__(self, why: str, msg: str | None = None) -> None:
        super().__init__(msg or f"the controller is gone ({why})")
        self.why = why


class _Proc(t.NamedTuple):
    pid: int
    ppid: int
    started: str  # what tells this process from a later one with the same pid
    state: str
    argv: tuple[str, ...]


def _from_proc(pid: int, argv: bool = True) -> _Proc | None:
    """A process from Linux's /proc (None when it does not exist); without its ``argv`` (one read less) for a
    check of a process already known."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("utf-8", "replace")
        args: tuple[str, ...] = ()
        if argv:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                args = tuple(a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a)
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state ppid ... starttime is the 20th
    if len(fields) < 20:
        return None
    return _Proc(pid, int(fields[1]), fields[19], fields[0], args)


def _from_os(pid: int, argv: bool = True) -> _Proc | None:
    """A process on a system without /proc (macOS, BSD): only whether it exists; its parent is not known, so
    the chain ends with it (the module's own parent is still watched, and ``getppid`` tells when it goes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return _Proc(pid, 1, "", "S", ())


def _is_ansible(proc: _Proc) -> bool:
    """Whether a process runs an Ansible command (ansible-playbook, ansible, ansible-runner, ...): its program or
    script (``python .../ansible-playbook``, ``python -m ansible...``) is named ansible*. A module's own
    AnsiballZ wrapper and the shell that starts it are not."""
    argv = list(proc.argv[:3])
    if len(argv) > 1 and argv[1] == "-m":
        argv = argv[2:]
    return any(os.path.basename(a).startswith("ansible") for a in argv[:2] if not a.startswith("-"))


class Controller:
    """The processes from this module up to its controller, as they were when the run started.

    With Ansible that is the shell(s) the connection started, the ansible-playbook worker and the
    ansible-playbook process itself (and an ansible-runner above it): the ancestors up to the topmost of the
    first run of Ansible processes. Without an Ansible process among the ancestors (a module run by hand, by a
    test, or by ``async``, whose wrapper is detached on purpose) only the parent is watched. The controller is
    gone when one of them has ended (or was replaced, or a process of the chain lost its parent); the
    controller's own parent is not watched (``nohup ansible-playbook &`` outlives its shell).
    """

    def __init__(self, read: t.Callable[..., _Proc | None] | None = None, interval: float = 0.0) -> None:
        self.read = read or (_from_proc if os.path.isdir("/proc/self") else _from_os)
        self.interval = interval if read is not None or os.path.isdir("/proc/self") else max(interval, 1.0)
        self.parent = os.getppid()
        self.chain: list[_Proc] = []
        self.reason: str | None = None
        self._checked = 0.0
        pid, seen = self.parent, set()
        while pid > 1 and pid not in seen and len(seen) < 64:
            seen.add(pid)
            proc = self.read(pid)
            if proc is None:
                break
            self.chain.append(proc)
            pid = proc.ppid
        ansible = [n for n, proc in enumerate(self.chain) if _is_ansible(proc)]
        top = 0
        if ansible:
            top = ansible[0]
            while top + 1 < len(self.chain) and _is_ansible(self.chain[top + 1]):
                top += 1
        del self.chain[top + 1:]

    @staticmethod
    def label(proc: _Proc) -> str:
        name = next((os.path.basename(a) for a in proc.argv[:3] if os.path.basename(a).startswith("ansible")),
                    os.path.basename(proc.argv[0]) if proc.argv else "process")
        return f"{name} pid {proc.pid}"

    def gone(self) -> str | None:
        """Why the controller is gone (the process that ended), or None while it runs. Once gone, always gone."""
        if self.reason is not None or not self.chain:
            return self.reason
        now = time.monotonic()
        if self.interval and now - self._checked < self.interval:
            return None
        self._checked = now
        if os.getppid() != self.parent:
            self.reason = f"{self.label(self.chain[0])} ended"
            return self.reason
        for n, proc in enumerate(self.chain):
            now_proc = self.read(proc.pid, argv=False)
            if now_proc is None or now_proc.started != proc.started or now_proc.state in ("Z", "X"):
                self.reason = f"{self.label(proc)} ended"
                return self.reason
            if n + 1 < len(self.chain) and now_proc.ppid != proc.ppid:
                self.reason = f"{self.label(self.chain[n + 1])} ended"
                return self.reason
        return None


_WATCH: list[Controller] = []


def watch_controller(controller: Controller | None = None) -> Controller:
    """Start watching this run's controller (the processes above this one now)."""
    _WATCH[:] = [controller or Controller()]
    return _WATCH[0]


def controller_gone() -> str | None:
    """Why the controller of this run is gone, or None (also when nothing is watched)."""
    return _WATCH[0].gone() if _WATCH else None


def stop_if_controller_gone() -> None:
    """Raise ControllerGone when the controller is gone: called before a request that changes something."""
    why = controller_gone()
    if why is not None:
        raise ControllerGone(why)
