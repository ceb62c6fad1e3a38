"""The resource-group lock of the VSP simulator: one lock per array, held by one session.

``.../services/resource-group-service/actions/lock/invoke`` runs as a job. Its
action takes the lock when the lock is free or already the caller's; else, with
``waitTime`` 0, it fails the job at once (``KART40050-E``), and with a positive
``waitTime`` it parks the job: the job stays ``Running`` outside the serial job
queue (so the holder's unlock job can still run) until the lock is handed to it
or ``waitTime`` seconds of lab clock have passed (then ``Failed``,
``KART40050-E``). ``unlock`` releases the caller's lock; a caller without the
lock has nothing to release.

A lock whose session was deleted or has expired is free. Sessions expire lazily
(``Vsp.purge_sessions``), so the lock looks at its holder's idle time itself
whenever it is asked (a write to check, a lock job, the lab status, every lab
tick): a dead holder never blocks anyone.
"""

from __future__ import annotations

import typing as t

from .model import E_AUTH, E_LOCKED, E_LOCKED_WRITE, Job, Session, VspError

if t.TYPE_CHECKING:  # pragma: no cover
    from . import Vsp

MAX_WAIT = 7200  # seconds: the largest waitTime of a lock request


def locked_error(holder: int, wait_time: int) -> VspError:
    """The job error of a lock request that did not get the lock held by session ``holder``."""
    waited = f" It was not released within waitTime ({wait_time} seconds)." if wait_time else ""
    return VspError(409, E_LOCKED, f"The resource group is locked by another session (sessionId = {holder})."
                                   f"{waited}",
                    "Another session holds the lock of the resource groups.",
                    "Wait until the other session unlocks the resource groups or ends, or specify a longer "
                    "waitTime, and then try again.")


def write_refused(holder: int) -> VspError:
    """The synchronous 503 of a write while session ``holder`` holds the lock."""
    return VspError(503, E_LOCKED_WRITE, f"The resources are locked by another session (sessionId = {holder}); "
                                         "the request was not processed.",
                    "Another session holds the lock of the resource groups.",
                    "Wait until the lock is released, and then try the request again.")


def session_ended(session_id: int) -> VspError:
    return VspError(401, E_AUTH, f"The session (sessionId = {session_id}) ended before the lock was obtained.",
                    "The session was deleted or has timed out.", "Create a session, and then try again.")


class LockWait:
    """A parked lock job: the session it locks for and its deadline on the lab clock."""

    def __init__(self, job: Job, session_id: int, deadline: float, wait_time: int) -> None:
        self.job = job
        self.session_id = session_id
        self.deadline = deadline
        self.wait_time = wait_time


class ResourceLock:
    """The array's one resource-group lock and the lock jobs waiting for it (oldest first)."""

    def __init__(self, array: Vsp) -> None:
        self.array = array
        self.holder: int | None = None
        self.since: float | None = None
        self.waits: list[LockWait] = []

    def _alive(self, session_id: int) -> bool:
        session = self.array.sessions.get(session_id)
        return session is not None and not session.expired(self.array.clock.now(), self.array.alive_time_scale)

    def holder_id(self) -> int | None:
        """The id of the session holding the lock; None when free (a deleted or expired holder frees it)."""
        if self.holder is not None and not self._alive(self.holder):
            self.holder, self.since = None, None
        return self.holder

    def _take(self, session_id: int) -> None:
        if self.holder != session_id:
            self.holder, self.since = session_id, self.array.clock.now()

    def check_write(self, session: Session) -> None:
        """Refuse (503 ``KART40052-E``) a write of ``session`` while another session holds the lock."""
        holder = self.holder_id()
        if holder is not None and holder != session.session_id:
            raise write_refused(holder)

    def lock(self, job: Job, session_id: int, wait_time: int) -> None:
        """The action of a lock job: take the lock, fail, or park the job for up to ``wait_time`` seconds."""
        if not self._alive(session_id):
            raise session_ended(session_id)
        holder = self.holder_id()
        if holder is None or holder == session_id:
            self._take(session_id)
            return
        if wait_time <= 0:
            raise locked_error(holder, 0)
        job.parked = True
        self.waits.append(LockWait(job, session_id, self.array.clock.now() + wait_time, wait_time))

    def unlock(self, session_id: int) -> None:
        """The action of an unlock job: release the caller's lock (nothing to do when it holds none)."""
        if self.holder_id() == session_id:
            self.holder, self.since = None, None
        self.settle()

    def settle(self) -> None:
        """Hand a free lock to the oldest waiting job; end the waits that timed out or lost their session."""
        if not self.waits:
            return
        now = self.array.clock.now()
        for wait in list(self.waits):
            holder = self.holder_id()
            if not self._alive(wait.session_id):
                self._end(wait, session_ended(wait.session_id))
            elif holder is None or holder == wait.session_id:
                self._take(wait.session_id)
                self._end(wait, None)
            elif now >= wait.deadline:
                self._end(wait, locked_error(holder, wait.wait_time))

    def _end(self, wait: LockWait, error: VspError | None) -> None:
        self.waits.remove(wait)
        self.array.resume(wait.job, error)

    def describe(self) -> dict[str, t.Any]:
        """The lab status of the lock (not part of the wire protocol)."""
        holder = self.holder_id()
        return {"lock_holder": holder, "lock_since": self.since if holder is not None else None,
                "lock_waiting_jobs": [w.job.job_id for w in self.waits]}
