"""Run many items at once with bounded concurrency and aggregated polling.

Each item is a generator that describes its work step by step: it yields a
``Call`` when it needs an HTTP request (the engine runs it on one of
``max_workers`` threads and sends the result back) and a ``Wait`` when it needs
the array to reach a state. Waiting items hold no thread: the engine calls one
``poll`` function for all of them per round, so 500 waiting relationships cost
one collection request per round, not 500. An item's generator returns its
result dict; an exception fails the item only. A ``stop`` function (the
controller's watch) is asked at least once a second: once it gives a reason,
every waiting item gets ``ControllerGone`` and nothing is polled any more.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import collections
import inspect
import time
import typing as t
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from ._common import ReplicationError
from ._waiting import Backoff, ControllerGone, WaitTimeout


class Call:
    """Run ``fn(*args, **kwargs)`` on a worker thread."""

    def __init__(self, fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs


class Wait:
    """Resume once the polled state of ``key`` passes ``check``.

    ``check(state)`` answers True (done: the generator gets the state), False
    (keep waiting) or a message (the wait failed: raises ReplicationError in the
    generator). After ``timeout`` seconds the generator gets a WaitTimeout.
    """

    def __init__(self, key: t.Hashable, check: t.Callable[[t.Any], bool | str], timeout: float, what: str,
                 describe: t.Callable[[t.Any], t.Any] | None = None, rerun: str = "") -> None:
        self.key = key
        self.check = check
        self.timeout = timeout
        self.what = what
        self.describe = describe
        self.rerun = rerun
        self.started = 0.0


class Item:
    """One unit of bulk work. ``record`` is the item's result so far (its generator keeps
    ``record["actions"]`` up to date), so a failure still reports the steps that were done."""

    def __init__(self, name: str, steps: t.Generator[t.Any, t.Any, dict[str, t.Any]],
                 record: dict[str, t.Any] | None = None) -> None:
        self.name = name
        self.steps = steps
        self.record = record if record is not None else {}
        self.result: dict[str, t.Any] | None = None
        self.started = False


Poll = t.Callable[[t.Set[t.Hashable]], t.Dict[t.Hashable, t.Any]]
Steps = t.Generator[t.Any, t.Any, t.Any]


def recovering(attempt: t.Callable[[], Steps], recover: t.Callable[[BaseException], Steps],
               retry_on: tuple[type[BaseException], ...], limit: int = 2) -> Steps:
    """Run an item's steps; when one raises ``retry_on`` (a write that got no answer), run ``recover``
    (which reads what the array really did and plans the rest from there) and ``attempt`` again, at most
    ``limit`` times. A rerun of the task would do the same; this spares the rerun when the array is up."""
    tries = 0
    while True:
        try:
            return (yield from attempt())
        except retry_on as exc:
            if tries >= limit:
                raise
            tries += 1
            yield from recover(exc)


def run_items(items: list[Item], poll: Poll | None, max_workers: int = 10, continue_on_error: bool = True,
              poll_interval: float = 1.0, max_poll_interval: float = 10.0,
              stop: t.Callable[[], str | None] | None = None) -> list[dict[str, t.Any]]:
    """Drive every item to its end; return their results in input order.

    A failed item's result has ``failed: true`` and ``msg``. With
    ``continue_on_error`` false, the first failure stops items whose next
    request has not started yet; they are reported ``skipped`` (or
    ``stopped`` after the steps they completed). ``stop`` gives a reason to end
    every wait at once (``ControllerGone``), or None.
    """
    runner = _Runner(poll, continue_on_error, Backoff(poll_interval, maximum=max(max_poll_interval, poll_interval)))
    runner.stop = stop
    runner.ready.extend((item, None, None) for item in items)
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        while runner.ready or runner.waiting or runner.inflight:
            runner.check_stop()
            runner.advance(pool)
            if runner.stopping and runner.stop_pending():
                continue
            runner.collect()
            runner.poll_round()
    return [item.result or {} for item in items]


class _Runner:
    """The state of one ``run_items`` call: items ready to step, requests in flight, items waiting."""

    def __init__(self, poll: Poll | None, continue_on_error: bool, backoff: Backoff) -> None:
        self.poll = poll
        self.continue_on_error = continue_on_error
        self.backoff = backoff
        self.ready: collections.deque[tuple[Item, t.Any, BaseException | None]] = collections.deque()
        self.waiting: dict[int, tuple[Item, Wait]] = {}
        self.inflight: dict[Future[t.Any], Item] = {}
        self.next_poll: float | None = None
        self.last_poll_error: str | None = None
        self.stopping = False
        self.latest: dict[t.Hashable, t.Any] = {}
        self.stop: t.Callable[[], str | None] | None = None
        self.stop_reason: str | None = None

    def stopped(self) -> str | None:
        """Why the run must stop (the controller is gone), or None; once given, always given."""
        if self.stop_reason is None and self.stop is not None:
            self.stop_reason = self.stop()
        return self.stop_reason

    def check_stop(self) -> None:
        """Once ``stop`` gives a reason: every waiting item resumes with ControllerGone (polls are over)."""
        why = self.stopped()
        if why is None:
            return
        for key, (item, _wait) in list(self.waiting.items()):
            del self.waiting[key]
            self.ready.append((item, None, ControllerGone(why)))

    def fail(self, item: Item, exc: BaseException) -> None:
        result = dict(item.record)
        result.update({"failed": True, "msg": str(exc)})
        if isinstance(exc, ReplicationError):
            result.update(exc.details)
        item.result = result
        if not self.continue_on_error:
            self.stopping = True

    def advance(self, pool: ThreadPoolExecutor) -> None:
        """Step every ready item to its next request, wait or end."""
        while self.ready:
            item, value, error = self.ready.popleft()
            gone = self.stopped() if self.stopping and item.result is None else None
            if gone and inspect.getgeneratorstate(item.steps) != inspect.GEN_CREATED:
                error = ControllerGone(gone)  # the item says itself where it stopped
            elif self.stopping and item.result is None:
                item.steps.close()
                item.result = dict(item.record)
                why = f"the controller is gone ({gone}) before it began" if gone else \
                    "an earlier item failed and continue_on_error is false"
                item.result.update({"skipped": True, "changed": bool(item.record.get("changed")),
                                    "msg": f"stopped: {why}"})
                continue
            try:
                step = item.steps.throw(error) if error is not None else item.steps.send(value)
            except StopIteration as done:
                item.result = done.value or {}
                continue
            except Exception as exc:  # pylint: disable=broad-except
                self.fail(item, exc)
                continue
            if isinstance(step, Call):
                item.started = True
                self.inflight[pool.submit(step.fn, *step.args, **step.kwargs)] = item
            elif isinstance(step, Wait):
                step.started = time.monotonic()
                self.waiting[id(item)] = (item, step)
                soon = step.started + self.backoff.initial
                self.next_poll = soon if self.next_poll is None else min(self.next_poll, soon)
            else:
                self.fail(item, TypeError(f"item {item.name} yielded {step!r}"))

    def stop_pending(self) -> bool:
        """After a failure without continue_on_error: hand back what has not started; whether any was."""
        for future, item in list(self.inflight.items()):
            if future.cancel():
                del self.inflight[future]
                self.ready.append((item, None, None))
        for key, (item, _wait) in list(self.waiting.items()):
            del self.waiting[key]
            self.ready.append((item, None, None))
        return bool(self.ready)

    def collect(self) -> None:
        """Take the requests that finished (waiting at most until the next poll is due)."""
        now = time.monotonic()
        # at most a second without asking ``stop`` again
        if self.inflight:
            timeout = 1.0 if self.next_poll is None else min(1.0, max(0.0, self.next_poll - now))
            done, _pending = wait_futures(list(self.inflight), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                item = self.inflight.pop(future)
                exc = future.exception()
                self.ready.append((item, None, exc) if exc is not None else (item, future.result(), None))
        elif self.waiting and self.next_poll is not None and self.next_poll > now:
            time.sleep(min(1.0, self.next_poll - now))

    def poll_round(self) -> None:
        """When a poll is due: one poll for every waiting item, then release those that are done."""
        if not self.waiting or self.next_poll is None or time.monotonic() < self.next_poll or self.stop_reason:
            return
        keys = {w.key for _item, w in self.waiting.values()}
        try:
            self.latest.update(self.poll(keys) if self.poll else {})
            self.last_poll_error = None
        except ReplicationError as exc:
            self.last_poll_error = str(exc)
        now = time.monotonic()
        for key, (item, w) in list(self.waiting.items()):
            outcome = self.verdict(w, now)
            if outcome is not None:
                self.ready.append((item,) + outcome)
                del self.waiting[key]
        if self.waiting:
            # poll again after a share of the time the longest-waiting item has waited (see Backoff)
            oldest = min(w.started for _item, w in self.waiting.values())
            self.next_poll = time.monotonic() + self.backoff.next(time.monotonic() - oldest)
        else:
            self.next_poll = None

    def verdict(self, w: Wait, now: float) -> tuple[t.Any, BaseException | None] | None:
        """What a waiting item resumes with (a state or an error), or None to keep it waiting."""
        state = self.latest.get(w.key)
        verdict = False if self.last_poll_error else w.check(state)
        shown = w.describe(state) if w.describe else state
        if verdict is True:
            return state, None
        if isinstance(verdict, str):
            return None, ReplicationError(verdict, current=shown)
        if now - w.started >= w.timeout:
            why = f"{shown} (last poll failed: {self.last_poll_error})" if self.last_poll_error else shown
            return None, WaitTimeout(w.what, now - w.started, why, w.rerun)
        return None
