"""What the Hitachi VSP pair drivers share: the wait for a pair status and its verdict, and integer options.

``PairWait`` is what a wait for a pair status (of one pair, or of every pair of a copy
group) expects; ``stuck`` says why a pair cannot reach that target from the status it
shows. ShadowImage (``_shadowimage_driver``) and remote copy (``_remote_driver``) use
them alike; each says in its own words why a status is a dead end.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import time
import typing as t

from ._common import ReplicationError

if t.TYPE_CHECKING:  # pragma: no cover
    from ._engine import Action

GRACE_SECONDS = 10.0


def describe_pairs(value: t.Any, describe_pair: t.Callable[[t.Any], str]) -> t.Any:
    """The status of a pair (or of every pair of a group, by pair name) as a failure or timeout shows it."""
    if isinstance(value, list):
        return {p.get("pair_name"): describe_pair(p) for p in value} or "no pairs"
    return describe_pair(value)


def pairs_diff_view(facts: t.Any, keys: t.Sequence[str]) -> dict[str, t.Any]:
    """The ``keys`` of a pair's facts (or of every pair of a group, by pair name) for ``--diff``."""
    if not facts:
        return {}
    if isinstance(facts, list):
        return {p.get("pair_name"): {k: p.get(k) for k in keys} for p in facts}
    return {k: facts.get(k) for k in keys}


class PairWait(t.NamedTuple):
    """What a wait for a pair status (of a pair, or of every pair of a group) expects: ``target`` statuses end
    it, ``intermediate`` ones are on the way, and the statuses the change was ``issued_from`` may still show for
    ``GRACE_SECONDS`` after ``started``."""

    action: Action
    what: str
    target: set[str]
    intermediate: set[str]
    issued_from: set[str]
    started: float


def shadowimage_why(facts: dict[str, t.Any], what: str) -> str:
    """Why a ShadowImage pair's status is a dead end for a wait, in words for the user."""
    if facts["state"] == "suspended_error":
        return (": the array suspended the pair because of a failure (PSUE), so the S-VOL is not a usable copy. "
                "The array's event log (SIM) tells the cause; once it is fixed, a rerun resyncs the pair with a full "
                "copy")
    if facts["state"] == "split" and "paired" in what:
        return ": another operation split it meanwhile; a rerun resyncs it"
    return ""


def stuck(wait: PairWait, facts: t.Any, label: str,
          why: t.Callable[[dict[str, t.Any], str], str] = shadowimage_why) -> str | None:
    """Why one pair cannot reach the wait's target from its status, or None."""
    if facts is None:
        return f"pair {label} disappeared while waiting for it to become {wait.what}"
    state = facts["state"]
    if state in wait.target or state in wait.intermediate:
        return None
    if state in wait.issued_from and time.monotonic() - wait.started < GRACE_SECONDS:
        return None  # the array accepted the change; its status may show it a moment later
    return (f"pair {label} is {facts.get('pvol_status')}/{facts.get('svol_status')} ({state}) "
            f"while waiting for it to become {wait.what}{why(facts, wait.what)}")


def int_in(name: str, value: t.Any, low: int, high: int, what: str = "") -> int | None:
    """An integer option checked against its range (a digit string is taken too); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise ReplicationError(f"{name} must be an integer{what}, not {value!r}")
    if not low <= value <= high:
        raise ReplicationError(f"{name} {value} is out of range: {low}-{high}{what}")
    return value
