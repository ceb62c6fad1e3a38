"""Reading remote copy pairs for ``remote_copy_pair_info``: copy groups, their pairs and UR journal lag.

One copy group list request, then one group request per copy group (with the other
array's session when its connection is given, else with ``NotSpecified`` ids, which
show this array's side only), and one request per UR journal.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import datetime
import typing as t

from ._rest import HttpError, UnreachableError
from ._remote_client import RemoteClient, journal_lag, local_group_id, pair_facts, record_group_id


def read_pairs(local: RemoteClient, other: RemoteClient | None, copy_group: str | None,
               kind: str | None) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    """The pairs (as ``remote_copy_pair`` reports them, ``local`` as the primary) and the copy groups read."""
    facts: list[dict[str, t.Any]] = []
    groups: list[dict[str, t.Any]] = []
    for record in local.copy_groups():
        if copy_group and record.get("copyGroupName") != copy_group:
            continue
        gid = record_group_id(record) if other is not None else local_group_id(record)
        try:
            detail = local.group(gid) or {}
        except (UnreachableError, HttpError) as exc:
            if other is None or (isinstance(exc, HttpError) and exc.status != 502):
                raise
            gid = local_group_id(record)  # the other array does not answer: this array's side alone
            detail = local.group(gid) or {}
        pairs = [pair_facts(r, gid, record.get("remoteStorageDeviceId")) for r in detail.get("copyPairs") or []]
        pairs = [p for p in pairs if kind is None or p.get("replication_type") == kind]
        types = sorted({str(p.get("replication_type")) for p in pairs})
        if kind is not None and not pairs:
            continue
        groups.append({"copy_group": record.get("copyGroupName"), "copy_group_id": gid,
                       "remote_storage_device_id": record.get("remoteStorageDeviceId"),
                       "replication_type": types[0] if len(types) == 1 else None, "pair_count": len(pairs)})
        facts.extend(pairs)
    add_journal_lag(local, other, facts)
    return sorted(facts, key=lambda f: (str(f["copy_group"]), str(f["pair_name"]))), groups


def add_journal_lag(local: RemoteClient, other: RemoteClient | None, facts: list[dict[str, t.Any]]) -> None:
    """Each UR pair's journal lag (the master journal is on the P-VOL's array); in-sync pairs with nothing
    queued get lag 0 and the read's time as their recovery point."""
    seen: dict[tuple[str, t.Any], dict[str, t.Any] | None] = {}

    def journal(client: RemoteClient | None, journal_id: t.Any) -> dict[str, t.Any] | None:
        if client is None or journal_id is None:
            return None
        if (client.role, journal_id) not in seen:
            try:
                seen[(client.role, journal_id)] = client.journal(journal_id)
            except (UnreachableError, HttpError):
                seen[(client.role, journal_id)] = None
        return seen[(client.role, journal_id)]

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    for pair in facts:
        if pair.get("replication_type") == "UR":
            ends = [(local, pair.get("pvol_journal_id")), (other, pair.get("svol_journal_id"))]
            if pair.get("direction") == "reversed":
                ends.reverse()
            pair["journal"] = journal_lag(journal(*ends[0]), journal(*ends[1]))
            if pair["in_sync"] and pair["journal"] and pair["journal"].get("q_count") == 0:
                pair["lag_seconds"] = 0
        if pair.get("lag_seconds") == 0:
            pair["recovery_point"] = now


def summarize_pairs(facts: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    by_state: dict[str, int] = {}
    by_type: dict[str, int] = {}
    for pair in facts:
        by_state[str(pair["state"])] = by_state.get(str(pair["state"]), 0) + 1
        by_type[str(pair["replication_type"])] = by_type.get(str(pair["replication_type"]), 0) + 1
    queued = [int(p["journal"]["q_count"]) for p in facts if p.get("journal") and p["journal"].get("q_count") is not None]
    healthy = sum(1 for p in facts if p["healthy"])
    return {"count": len(facts), "in_sync": sum(1 for p in facts if p["in_sync"]), "healthy": healthy,
            "unhealthy": len(facts) - healthy, "by_state": by_state, "by_type": by_type,
            "max_journal_q_count": max(queued) if queued else None}
