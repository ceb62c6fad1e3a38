"""The bulk engine: concurrent calls, aggregated polls, per-item outcomes (pure orchestration)."""

from __future__ import annotations

import threading
import time

from ansible_collections.storage.replication.plugins.module_utils._bulk import Call, Item, Wait, run_items


class World:
    """A fake poll target: states flip to 'done' after a delay; counts the polls."""

    def __init__(self, delay):
        self.delay = delay
        self.started = {}
        self.polls = 0
        self.lock = threading.Lock()

    def start(self, key):
        with self.lock:
            self.started[key] = time.monotonic()
        return key

    def poll(self, keys):
        self.polls += 1
        now = time.monotonic()
        return {k: ("done" if now - self.started.get(k, now) >= self.delay else "busy") for k in keys}


def steps(world, key, record, fail=False, timeout=5):
    record["actions"] = []
    yield Call(world.start, key)
    record["actions"].append("start")
    if fail:
        raise RuntimeError(f"{key} broke")
    state = yield Wait(key, lambda s: s == "done", timeout, f"{key} done")
    record["actions"].append("wait")
    return {"key": key, "state": state, "changed": True}


def test_many_waiting_items_share_one_poll_per_round():
    world = World(0.2)
    items = []
    for n in range(200):
        record = {}
        items.append(Item(str(n), steps(world, n, record), record))
    started = time.monotonic()
    results = run_items(items, world.poll, max_workers=8, poll_interval=0.05, max_poll_interval=0.1)
    elapsed = time.monotonic() - started
    assert all(r["state"] == "done" for r in results)
    assert [r["key"] for r in results] == list(range(200))
    assert world.polls < 20
    assert elapsed < 3


def test_a_failure_is_per_item_with_continue_on_error():
    world = World(0.01)
    records = [{} for _n in range(3)]
    items = [Item(str(n), steps(world, n, records[n], fail=(n == 1)), records[n]) for n in range(3)]
    results = run_items(items, world.poll, continue_on_error=True, poll_interval=0.01)
    assert results[1]["failed"] is True and "1 broke" in results[1]["msg"]
    assert results[1]["actions"] == ["start"]
    assert results[0]["state"] == results[2]["state"] == "done"


def test_first_failure_stops_items_that_have_not_started():
    world = World(0.01)
    records = [{} for _n in range(50)]
    items = [Item(str(n), steps(world, n, records[n], fail=(n == 0)), records[n]) for n in range(50)]
    results = run_items(items, world.poll, max_workers=1, continue_on_error=False, poll_interval=0.01)
    assert results[0]["failed"]
    assert any(r.get("skipped") for r in results[1:])


def test_wait_timeout_reports_the_current_state():
    world = World(60)
    record = {}
    results = run_items([Item("x", steps(world, "x", record, timeout=0.3), record)], world.poll, poll_interval=0.01)
    failure = results[0]
    assert failure["failed"] and "timed out" in failure["msg"] and "busy" in failure["msg"]
