"""Options of the modules that wait for arrays to reach a state."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the array reports the target state, not just until it accepted the request.
      - With V(false) the module starts the last transition and returns; steps that need an earlier
        one to finish (a break after a quiesce) are still waited for.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each target state. A timeout fails the item with its current state,
        the time waited and what a rerun will do; the array carries on.
      - A wait ends sooner when the state seen rules the target out, for example a relationship broken
        off by someone else while the task waits for it to be paused, or a pair suspended by a failure (PSUE)
        while it waits for PAIR. The item fails at once, naming that state. When the state is already past
        the target in the direction of the task (the same relationship, when the task breaks it), the wait
        is reported with the state seen ("wait_paused (already broken_off)") and the rest is planned from
        there, with no second break.
      - Work the array already runs on the object (a transfer started by an earlier run, a schedule or
        someone else) is waited for and joined, reported as a C(wait_*) step, before anything else is
        started; an update follows only if it is still needed.
      - One run acts at a time. Before its first change the module claims, on the array, what it changes
        (ONTAP, each SVM it changes; a SnapMirror policy named C(storage_replication_claim) whose comment
        names the run and its expiry. VSP, the storage system's resource lock, held by the module's
        session. SMI-S, an empty replication group named C(storage_replication_claim)). A module that finds
        the claim of another run waits for it, at most O(wait_timeout) in all, then reads the state again
        and plans from there, so it joins or skips what that run did instead of sending it twice. The claim
        is renewed while the module works and removed when it ends; the claim of a run that died expires
        two and a half minutes after its last renewal (the VSP lock goes with its session) and the next run
        removes it, saying so. Check mode and runs with nothing to change claim nothing.
      - If the controller is killed while the module runs (ansible-playbook ended by OOM, a cancelled AWX
        job), the module stops before its next request or status check, sends nothing more, and writes
        where each item stopped to the system log (syslog or journal).
    type: int
    default: 1800
  poll_interval:
    description:
      - Seconds before the first status check. Later checks come after a tenth of the time already
        waited (so a state is seen at most about 10% late), never sooner than this value nor later than
        10 seconds (or this value, if larger). All waiting items are checked with one request per round.
    type: float
    default: 1.0
"""
