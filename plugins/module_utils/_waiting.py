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
    """Poll intervals that start at ``initial`` and grow by ``factor`` up to ``maximum``."""

    def __init__(self, initial: float, factor: float = 1.5, maximum: float | None = None) -> None:
        self.initial = max(0.01, float(initial))
        self.factor = factor
        self.maximum = max(self.initial, maximum if maximum is not None else max(10.0, self.initial))
        self.current = self.initial

    def next(self) -> float:
        value = self.current
        self.current = min(self.maximum, self.current * self.factor)
        return value

    def reset(self) -> None:
        self.current = self.initial


def poll_until(fetch: t.Callable[[], t.Any], check: t.Callable[[t.Any], bool | str], what: str,
               timeout: float, interval: float, describe: t.Callable[[t.Any], t.Any] | None = None,
               rerun: str = "") -> t.Any:
    """Call ``fetch`` until ``check`` says done (True), failed (a message), or the deadline passes.

    The first check happens at once; later ones back off from ``interval``.
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
        time.sleep(min(backoff.next(), max(0.0, timeout - elapsed)))
