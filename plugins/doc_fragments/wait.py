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
