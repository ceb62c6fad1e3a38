"""Waiting for arrays: deadlines, backoff, and the error a timeout raises.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

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

    The first check happens at once; later ones back off from ``interval`` (see ``Backoff``).
    """
    start = time.monotonic()
    backoff = Backoff(interval)
    while True:
        value = fetch()
        verdict = check(value)
        if verdict is True:
            return value
        if isinstance(verdict, str):
            raise ReplicationError(verdict, current=describe(value) if describe else value)
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise WaitTimeout(what, elapsed, describe(value) if describe else value, rerun)
        time.sleep(min(backoff.next(elapsed), max(0.0, timeout - elapsed)))
