"""Each driver's ``course`` hook: what a state seen during a wait means for it (issue 14, item 3).

The hook is asked while a wait's own check says "not yet": None keeps waiting, ``Passed`` ends the wait with
the rest planned from the state seen, a message fails the item at once. Steps are stand-ins with the fields
the hooks read; the lab tests (``test_waits_know_the_state_machine.py``) show the same over real sockets.
"""

from __future__ import annotations

import time
import types

from ansible_collections.storage.replication.plugins.module_utils._engine import Action, Passed
from ansible_collections.storage.replication.plugins.module_utils._shadowimage_driver import (PairWait,
                                                                                              ShadowImageDriver)
from ansible_collections.storage.replication.plugins.module_utils._smis_driver import (GRACE_SECONDS, SmisDriver,
                                                                                       StateWait)
from ansible_collections.storage.replication.plugins.module_utils._snapmirror_driver import SnapMirrorDriver
from ansible_collections.storage.replication.plugins.module_utils._snapmirror_plan import Observed


def step(action, item=None, observed=None, **variables):
    return types.SimpleNamespace(action=action, item=item or {}, vars=dict(variables), observed=observed,
                                 name="the item")


# SnapMirror ------------------------------------------------------------------------------------------
def relationship(state, transfer=None, **kw):
    return dict({"state": state, "transferring": False, "transfer": transfer, "exported_snapshot": "s1"}, **kw)


def ontap_course(action, facts, desired="broken_off", before=None):
    driver = SnapMirrorDriver.__new__(SnapMirrorDriver)
    observed = Observed(current=before or relationship("snapmirrored"))
    return driver.course(step(Action(action), {"relationship_state": desired}, observed), facts)


def test_broken_off_while_waiting_for_paused_is_past_a_break_and_out_of_reach_of_paused():
    assert ontap_course("wait_paused", relationship("broken_off")) == Passed("broken_off")
    refusal = ontap_course("wait_paused", relationship("broken_off"), desired="paused")
    assert "is broken_off while waiting for it to become paused: someone else broke it off" in refusal
    assert ontap_course("wait_paused", relationship("snapmirrored", transferring=True)) is None
    assert ontap_course("wait_paused", None) == "the relationship disappeared while waiting for paused"


def test_an_aborted_transfer_or_a_relationship_stopped_meanwhile_fails_an_update_or_resync_wait():
    aborted = relationship("snapmirrored", {"state": "aborted", "type": "update", "end_time": "t2"})
    assert "the update transfer of the item was aborted" in ontap_course("wait_transfer", aborted, "snapmirrored")
    assert "is paused while waiting for the update transfer to finish" in \
        ontap_course("wait_transfer", relationship("paused"), "snapmirrored")
    resync = relationship("broken_off", {"state": "aborted", "type": "resync", "end_time": "t2"})
    assert "the resync transfer" in ontap_course("wait_active", resync, "snapmirrored",
                                                 before=relationship("broken_off"))
    # the state the step was issued from is not "moved": a resume may show paused a moment longer
    assert ontap_course("wait_active", relationship("paused"), "snapmirrored", before=relationship("paused")) is None
    # an older abort is not this step's
    old = {"state": "aborted", "type": "update", "end_time": "t1"}
    assert ontap_course("wait_transfer", relationship("snapmirrored", old), "snapmirrored",
                        before=relationship("snapmirrored", old)) is None


# ShadowImage -----------------------------------------------------------------------------------------
def pair(state, pvol_status, svol_status):
    return {"state": state, "pvol_status": pvol_status, "svol_status": svol_status, "pair_name": "p1"}


def test_psue_while_waiting_for_pair_fails_at_once_and_copy_keeps_waiting():
    driver = ShadowImageDriver.__new__(ShadowImageDriver)
    action = Action("wait_paired")
    wait = PairWait(action, "paired (PAIR)", {"paired"}, {"copying"}, set(), time.monotonic())
    waiting = step(action, {"pair_name": "p1", "copy_group": "cg"}, wait=wait)
    assert driver.course(waiting, pair("copying", "COPY", "COPY")) is None
    failed = driver.course(waiting, pair("suspended_error", "PSUE", "PSUE"))
    assert "is PSUE/PSUE (suspended_error) while waiting for it to become paired (PAIR)" in failed


# SMI-S -----------------------------------------------------------------------------------------------
def sync(state, value, healthy):
    return {"state": state, "copy_state": state.capitalize(), "copy_state_value": value, "healthy": healthy,
            "transferring": False}


def test_broken_while_waiting_for_synchronized_fails_at_once_or_after_the_grace_when_it_began_broken():
    driver = SmisDriver.__new__(SmisDriver)
    action = Action("wait_synchronized")
    from_synchronized = step(action, wait=StateWait(action, (4,), False, 4, time.monotonic()))
    assert "the synchronization is broken (Broken) while waiting for it to be synchronized" in \
        driver.course(from_synchronized, sync("broken", 5, False))
    # a resync of a Broken pair may show Broken a moment longer; still Broken after the grace, it failed
    fresh = step(action, wait=StateWait(action, (4,), False, 5, time.monotonic()))
    assert driver.course(fresh, sync("broken", 5, False)) is None
    stale = step(action, wait=StateWait(action, (4,), False, 5, time.monotonic() - GRACE_SECONDS))
    assert "is broken (Broken)" in driver.course(stale, sync("broken", 5, False))
    assert driver.course(stale, sync("fractured", 6, True)) is None
