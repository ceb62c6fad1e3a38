"""Claims: one run acts on a part of an array at a time.

Two runs on the same sets (the CLI twice, two AWX jobs on different nodes) read the same state at the same
moment and would plan the same changes. Before a run sends its first change it claims, on the array itself,
every scope its changes touch (an ONTAP SVM, a VSP storage system, an SMI-S system); a second run finds the
claim taken and waits, and when it gets the claim it reads the state again and plans from there (usually:
nothing left to do, or a wait to join). Nothing is kept on the controller, so runs on different nodes see
each other.

A claim carries its holder (run id, host, process) and an expiry time; the holder renews it from a thread
while it works and removes it when it ends. A claim whose holder died expires (``TTL`` seconds after its last
renewal, plus ``GRACE`` for clocks that disagree) and the next run removes it, naming it. A claim whose
array keeps it with a session (the VSP resource lock) needs none of this: the array drops it with the
session.

Each vendor supplies a ``ClaimStore`` per scope; the driver names them (``Driver.claims``); the engine
holds them around its changes (``Claims``). This is a private module: its API may change at any time.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime
import os
import re
import socket
import threading
import time
import typing as t
import uuid

from ._common import ReplicationError
from ._waiting import stop_if_controller_gone

#: the name of the object that is a claim, where the array needs one
CLAIM_NAME = "storage_replication_claim"
#: seconds a claim lasts after its last renewal; the holder renews it every TTL / 4
TTL = 120.0
#: how far two controllers' clocks may disagree before a live claim could look expired
GRACE = 30.0
_TEXT = re.compile(r"run (?P<run>\S+) on (?P<host>\S+) \(pid (?P<pid>\d+)\) .*until (?P<until>\S+Z)")


def iso(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class ClaimUnsupported(ReplicationError):
    """The array offers nothing to keep a claim with: the run goes on without one, and says so."""


@dataclasses.dataclass
class Holder:
    """Who holds a claim, and until when (UTC seconds)."""

    run: str
    host: str
    pid: int
    until: float

    @classmethod
    def me(cls) -> Holder:
        return cls(uuid.uuid4().hex[:12], socket.gethostname() or "localhost", os.getpid(), time.time() + TTL)

    def text(self) -> str:
        """What the array keeps on the claim object: readable by an administrator, parsed by other runs."""
        return (f"storage.replication run {self.run} on {self.host} (pid {self.pid}) acts here until "
                f"{iso(self.until)}")

    @classmethod
    def parse(cls, text: t.Any) -> Holder | None:
        found = _TEXT.search(str(text or ""))
        if found is None:
            return None
        try:
            until = parse_iso(found["until"])
        except ValueError:
            return None
        return cls(found["run"], found["host"], int(found["pid"]), until)

    def expired(self, now: float) -> bool:
        """Past its expiry, or held by a process of this host that has ended (a run whose array went away
        before it could remove its claim, or that was killed)."""
        if now > self.until + GRACE:
            return True
        if self.host != (socket.gethostname() or "localhost") or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False  # it exists (another user's process)
        return False


@dataclasses.dataclass
class Seen:
    """A claim of another run found on the array: its holder (None when the array does not say or it is
    still being written) and the handle that removes it."""

    holder: Holder | None
    handle: t.Any = None
    text: str = ""

    def who(self) -> str:
        if self.holder is not None:
            return (f"run {self.holder.run} on {self.holder.host} (pid {self.holder.pid}), whose claim expires "
                    f"at {iso(self.holder.until + GRACE)} unless it renews it")
        return self.text or "another run"


class ClaimStore(abc.ABC):
    """One claimable scope on one array."""

    #: where the claim is, for messages ("SVM svm_b on ontap-b")
    where = "the array"
    #: a claim of a dead holder can be removed by another run (False: the array expires it by itself)
    evictable = True
    #: how an administrator removes a claim left behind, for messages
    removal = ""

    @property
    @abc.abstractmethod
    def key(self) -> tuple[str, ...]:
        """The global order of claims (every run takes them in this order, so two runs never deadlock)."""

    @abc.abstractmethod
    def take(self, holder: Holder, patience: float) -> Seen | None:
        """Create the claim for ``holder``: None when it is ours now, else the claim found in the way.
        ``patience`` is how long the array may wait for it, where the array can wait."""

    def peek(self) -> Seen | None:
        """The claim in the way now (None: free, try to take it). By default: try to take it again."""
        return None

    @abc.abstractmethod
    def renew(self, holder: Holder) -> None:
        """Push our claim's expiry to ``holder.until``."""

    @abc.abstractmethod
    def drop(self) -> None:
        """Remove our claim (gone already is fine)."""

    def evict(self, seen: Seen) -> None:
        """Remove a dead holder's claim by its handle (gone already is fine)."""
        raise ReplicationError(f"the claim on {self.where} cannot be removed by another run")


class Claims:
    """The claims of one run: taken in order (waiting for other runs), renewed from a thread, dropped."""

    def __init__(self, stores: t.Sequence[ClaimStore], warnings: list[str]) -> None:
        self.stores = sorted(stores, key=lambda s: s.key)
        self.holder = Holder.me()
        self.held: list[ClaimStore] = []
        self.warnings = warnings
        self.waited = 0.0
        #: whether another run held a claim this run wanted
        self.contended = False
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, timeout: float, interval: float) -> None:
        """Take every claim, waiting at most ``timeout`` seconds in all for runs that hold them."""
        self._start = time.monotonic()
        deadline = self._start + timeout
        for store in self.stores:
            self._take(store, deadline, max(0.05, interval))
        self.waited = time.monotonic() - self._start
        self._thread = threading.Thread(target=self._renewing, name="claim-renewal", daemon=True)
        self._thread.start()

    def _take(self, store: ClaimStore, deadline: float, interval: float) -> None:
        anonymous: dict[t.Any, float] = {}  # claims without a readable holder: when this run first saw them
        while True:
            stop_if_controller_gone()
            self.holder.until = time.time() + TTL
            try:
                seen = store.take(self.holder, max(0.0, min(30.0, deadline - time.monotonic())))
            except ClaimUnsupported as exc:
                self.warnings.append(f"{exc}: this run holds no claim there, so a run started at the same time "
                                     "may send the same requests")
                return
            if seen is None:
                self.held.append(store)
                return
            self.contended = True
            while seen is not None:  # wait until it is free (peek None), ours, or stale; then take it again
                if seen.holder is not None and seen.holder.run == self.holder.run:
                    break  # ours after all (its create was answered late): taking it again adopts it
                if self._stale(store, seen, anonymous):
                    store.evict(seen)
                    self.warnings.append(f"removed the claim on {store.where} of {seen.who()}: it expired or its "
                                         "process has ended, so that run is gone")
                    break
                if time.monotonic() >= deadline:
                    self.drop()
                    waited = int(time.monotonic() - self._start)
                    removal = f"; if that run is gone and its claim stays, {store.removal}" if store.removal else ""
                    raise ReplicationError(
                        f"another run acts on {store.where}: {seen.who()}. Waited {waited}s (wait_timeout) and "
                        f"changed nothing. Run again when it has ended (the state it leaves is read first){removal}",
                        claimed_by=seen.text or None)
                stop_if_controller_gone()
                time.sleep(interval)
                seen = store.peek()

    @staticmethod
    def _stale(store: ClaimStore, seen: Seen, anonymous: dict[t.Any, float]) -> bool:
        if not store.evictable:
            return False
        if seen.holder is not None:
            return seen.holder.expired(time.time())
        first = anonymous.setdefault(seen.handle, time.monotonic())
        return time.monotonic() - first > TTL + GRACE

    def _renewing(self) -> None:
        failed = False
        while not self._stop.wait(TTL / 4):
            self.holder.until = time.time() + TTL
            for store in list(self.held):
                try:
                    store.renew(self.holder)
                except ReplicationError as exc:
                    if not failed:
                        self.warnings.append(f"could not renew the claim on {store.where}: {exc}")
                    failed = True

    def drop(self) -> None:
        """Stop renewing and remove every claim held (a failure is a warning: the claim expires by itself)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        while self.held:
            store = self.held.pop()
            try:
                store.drop()
            except ReplicationError as exc:
                self.warnings.append(f"could not remove the claim on {store.where} ({exc}); it expires by itself "
                                     f"at {iso(self.holder.until + GRACE)}")
