"""Issue 14, item 3: a wait ends at once when the object is already past its target, or can no longer reach it.

"If a relationship is broken (by anyone) while the run waits for ``paused``, the run waits the whole
``wait_timeout``, holding up the later waves, then fails." Each test lets someone else move the object while
the module waits (an administrator's REST calls on a thread, timed by the lab's request log) and checks that
the run ends without a timeout: done, with the rest planned from the state seen, or failed naming it.
"""

from __future__ import annotations

import pytest
from ontap_actors import two_clusters, Console, patched_state, posted_transfer, when_logged

LAB_TOPOLOGY = two_clusters()
WAIT_TIMEOUT = 40  # what a run that does not see the state machine waits for (it is never reached here)


@pytest.fixture
def conn(lab):
    def make(n, **kwargs):
        args = dict(lab.connection("ontap-b"), source_cluster=lab.connection("ontap-a"), poll_interval=0.05,
                    wait_timeout=WAIT_TIMEOUT, source_path=f"svm_a:vol{n}", destination_path=f"svm_b:vol{n}_dr",
                    create_destination={"enabled": True})
        args.update(kwargs)
        return args
    return make


@pytest.fixture
def slow_update(lab, run_module, conn):
    """A relationship whose update transfer takes seconds: ``start(n)`` creates it, writes to its source, slows
    the link and starts an update (as a schedule would); the link is fast again afterwards."""
    console = Console(lab)

    def start(n):
        created = run_module("snapmirror", conn(n))
        assert not created["failed"], created
        lab.write("ontap-a", f"svm_a:vol{n}", 96)
        lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
        console.update(f"svm_b:vol{n}_dr")
        console.wait_transferring(f"svm_b:vol{n}_dr")
        return console

    yield start
    lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")


def abort_and_break(console, destination):
    def act():
        console.abort(destination)
        console.set_state(destination, "broken_off")
    return act


def test_a_break_by_someone_else_while_waiting_for_paused_is_past_the_target_of_a_break(
        lab, run_module, conn, slow_update):
    console = slow_update(1)
    # the quiesce waits for the running transfer; meanwhile an administrator aborts it and breaks the relationship
    actor = when_logged(lab, "ontap-b", patched_state("paused"), abort_and_break(console, "svm_b:vol1_dr"))
    mark = lab.mark()
    # polls 2 s apart: the administrator's abort and break land between two of them
    result = run_module("snapmirror", conn(1, relationship_state="broken_off", poll_interval=2))
    actor.join(60)
    assert actor.error is None, actor.error
    assert not result["failed"], result
    assert result["actions"] == ["quiesce", "wait_paused (already broken_off)"]
    assert result["relationship"]["state"] == "broken_off"
    breaks = [e for e in lab.mutations_since(mark, "ontap-b") if patched_state("broken_off")(e)]
    assert len(breaks) == 1, "the relationship was broken once, by the administrator; the run sent no second break"


def test_a_break_by_someone_else_while_waiting_for_paused_fails_at_once_when_paused_is_declared(
        lab, run_module, conn, slow_update):
    console = slow_update(2)
    actor = when_logged(lab, "ontap-b", patched_state("paused"), abort_and_break(console, "svm_b:vol2_dr"))
    mark = lab.mark()
    result = run_module("snapmirror", conn(2, relationship_state="paused", poll_interval=2))
    actor.join(60)
    assert actor.error is None, actor.error
    assert result["failed"]
    assert "timed out" not in result["msg"]
    assert "is broken_off while waiting for it to become paused: someone else broke it off" in result["msg"]
    assert result["current"]["state"] == "broken_off"
    assert result["actions"] == ["quiesce"]
    assert [e["method"] for e in lab.mutations_since(mark, "ontap-b") if patched_state("snapmirrored")(e)] == [], \
        "nothing resynced on its own"


def test_an_update_transfer_aborted_by_someone_else_fails_the_wait_at_once(lab, run_module, conn):
    console = Console(lab)
    created = run_module("snapmirror", conn(3))
    assert not created["failed"], created
    lab.write("ontap-a", "svm_a:vol3", 96)
    lab.link("ontap-a", "ontap-b", per_transfer_rate="1MiB")
    try:
        actor = when_logged(lab, "ontap-b", posted_transfer, lambda: console.abort("svm_b:vol3_dr"))
        result = run_module("snapmirror", conn(3, update=True, poll_interval=2))
        actor.join(60)
    finally:
        lab.link("ontap-a", "ontap-b", per_transfer_rate="256MiB")
    assert actor.error is None, actor.error
    assert result["failed"]
    assert "timed out" not in result["msg"]
    assert "the update transfer of svm_b:vol3_dr was aborted while waiting for it" in result["msg"]
    assert result["actions"] == ["update"]
