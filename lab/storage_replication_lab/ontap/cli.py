"""The CLI passthrough, ``/api/private/cli/<command>``, for the show commands replication tools use.

A CLI command maps to a path word by word and its verb to the method (``volume efficiency show``
is ``GET /api/private/cli/volume/efficiency``). The lab serves three show commands as GET:
``volume``, ``volume/efficiency`` and ``snapmirror``, with ``fields=`` and field filters. As
ONTAP does (seen in NetApp's own collectors and in scripts reading the answers), a field may be
named with hyphens or underscores in ``fields=`` and filters (``lag-time``, ``lag_time``) while
the answer names it with underscores (``lag_time``, ``source_path``); durations are ISO 8601
(``PT5M12S``) and a duration filter also takes the CLI form ``h:mm:ss`` (``lag_time=>24:00:00``);
enumerations are lower case (``snapmirrored``, ``broken_off``, ``idle``, ``xdp``). The key fields
(``vserver`` and ``volume``; ``source_path`` and ``destination_path``) always come back. The answer
is ``{"records": [...], "num_records": N}`` without HAL links.

Lab decisions where no public source settles it: ``fields=*`` gives every field the lab knows;
``max_records`` truncates without a ``next`` link; a field the command lacks in ``fields=`` is
400 code 262197 ('The value "x" is invalid for field "fields"'), an unknown filter 400 code
262179 ('Unexpected argument "x".'); an unknown command is 404 'API not found' code 3 (what a
cluster answered for a command path it lacked); other verbs on the three commands are 400 code 3
(the lab changes nothing through the passthrough); policy types are ``async_mirror``,
``mirror_vault``, ``vault``, ``sync_mirror``, ``strict_sync_mirror``.
"""

from __future__ import annotations

import re
import typing as t

from .body import OntapError
from .model import E_NOT_AVAILABLE, E_RANGE, Relationship
from .query import iso_duration, matches
from .volume import snapshot_bytes

if t.TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster

RESERVED = {"fields", "max_records", "return_records", "return_timeout", "privilege_level"}
PRIVILEGES = ("admin", "advanced", "diagnostic")
E_UNEXPECTED = "262179"
POLICY_TYPES = {"Asynchronous": "mirror_vault", "MirrorAndVault": "mirror_vault", "XDPDefault": "vault",
                "StrictSync": "strict_sync_mirror"}
_CLI_DURATION = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})$")


def _volume_rows(cluster: Cluster) -> list[dict[str, t.Any]]:
    """``volume show``."""
    rows = []
    for vol in cluster.volumes.values():
        s = vol.settings
        reserve = vol.size * s.reserve_percent // 100
        flexgroup = len(vol.aggregates) > 1
        rows.append({
            "vserver": vol.svm.name, "volume": vol.name, "uuid": vol.uuid, "msid": vol.msid,
            "aggregate": "-" if flexgroup else vol.aggregates[0].name, "aggr_list": [a.name for a in vol.aggregates],
            "size": vol.size, "used": vol.fv.used, "available": max(0, vol.size - reserve - vol.fv.used),
            "percent_used": min(100, vol.fv.used * 100 // max(1, vol.size - reserve)),
            "state": vol.state, "type": vol.type, "junction_path": vol.nas_path, "comment": s.comment or None,
            "language": s.language, "snapshot_policy": s.snapshot_policy, "security_style": s.security_style,
            "space_guarantee": s.guarantee, "percent_snapshot_space": s.reserve_percent,
            "snapshot_space_used": snapshot_bytes(vol), "tiering_policy": s.tiering_policy,
            "volume_style_extended": "flexgroup" if flexgroup else "flexvol", "vsroot": False,
            "node": vol.aggregates[0].node.name,
        })
    return rows


def _efficiency_rows(cluster: Cluster) -> list[dict[str, t.Any]]:
    """``volume efficiency show``: what the volume's ``efficiency`` settings say, never running."""
    rows = []
    for vol in cluster.volumes.values():
        s = vol.settings
        enabled = s.dedupe != "none" or s.compression != "none"
        rows.append({
            "vserver": vol.svm.name, "volume": vol.name, "path": f"/vol/{vol.name}",
            "state": "enabled" if enabled else "disabled", "status": "idle",
            "progress": "Idle for 00:00:00" if enabled else "-", "type": "regular", "schedule": "sun-sat@0",
            "policy": "auto" if enabled else "-",
            "compression": s.compression in ("background", "both"),
            "inline_compression": s.compression in ("inline", "both"),
            "inline_dedupe": s.dedupe in ("inline", "both"), "data_compaction": s.compaction == "inline",
            "cross_volume_inline_dedupe": s.cross_volume_dedupe in ("inline", "both"),
            "cross_volume_background_dedupe": s.cross_volume_dedupe in ("background", "both"),
        })
    return rows


def _mirror_state(rel: Relationship) -> tuple[str, str]:
    """The CLI's (mirror state, relationship status) of a relationship."""
    initialized = rel.exported_snapshot is not None
    if rel.state == "broken_off":
        return "broken_off", "idle"
    state = "snapmirrored" if initialized else "uninitialized"
    if rel.active is not None:
        return state, "quiescing" if rel.pending_quiesce else "transferring"
    if rel.state == "paused":
        return state, "quiesced"
    if rel.state in ("in_sync", "out_of_sync"):
        return state, rel.state
    return state, "idle"


def _last_transfer(rel: Relationship) -> dict[str, t.Any]:
    if not rel.history:
        return {}
    last = rel.history[-1]
    error = (last.get("error_info") or {}).get("message") if last.get("state") == "failed" else None
    return {"last_transfer_size": last.get("bytes_transferred"), "last_transfer_duration": last.get("total_duration"),
            "last_transfer_end_timestamp": last.get("end_time"), "last_transfer_error": error}


def _snapmirror_rows(cluster: Cluster) -> list[dict[str, t.Any]]:
    """``snapmirror show``: the relationships whose destination is on this cluster."""
    rows = []
    for rel in cluster.relationships.values():
        record = rel.render()
        state, status = _mirror_state(rel)
        policy_type = "sync_mirror" if rel.policy.type == "sync" else "async_mirror"
        row = {
            "source_path": rel.source_path, "destination_path": rel.destination_path,
            "source_vserver": rel.source_alias(), "source_volume": rel.src.name,
            "source_cluster": rel.src.cluster.cluster_name, "destination_vserver": rel.dst.svm.name,
            "destination_volume": rel.dst.name, "destination_cluster": rel.dst.cluster.cluster_name,
            "vserver": rel.dst.svm.name, "type": "xdp", "relationship_id": rel.uuid, "relationship_group_type": "none",
            "policy": rel.policy.name, "policy_type": POLICY_TYPES.get(rel.policy.name, policy_type),
            "schedule": rel.transfer_schedule, "throttle": rel.throttle or "unlimited", "state": state,
            "status": status, "healthy": rel.healthy,
            "unhealthy_reason": "; ".join(r["message"] for r in rel.unhealthy_reason) or None,
            "lag_time": record.get("lag_time"), "exported_snapshot": rel.exported_snapshot,
            "newest_snapshot": rel.exported_snapshot, "last_transfer_type": rel.last_transfer_type,
            "total_transfer_bytes": rel.total_bytes, "total_transfer_time_secs": int(rel.total_duration),
            "destination_volume_node": rel.dst.aggregates[0].node.name,
        }
        row.update(_last_transfer(rel))
        rows.append(row)
    return rows


# command -> (its key fields, its rows); FIELDS lists the other fields of each
COMMANDS: dict[str, tuple[tuple[str, ...], t.Callable[[Cluster], list[dict[str, t.Any]]]]] = {
    "volume": (("vserver", "volume"), _volume_rows),
    "volume/efficiency": (("vserver", "volume"), _efficiency_rows),
    "snapmirror": (("source_path", "destination_path"), _snapmirror_rows),
}
FIELDS = {
    "volume": ("uuid", "msid", "aggregate", "aggr_list", "size", "used", "available", "percent_used", "state",
               "type", "junction_path", "comment", "language", "snapshot_policy", "security_style", "space_guarantee",
               "percent_snapshot_space", "snapshot_space_used", "tiering_policy", "volume_style_extended", "vsroot",
               "node"),
    "volume/efficiency": ("path", "state", "status", "progress", "type", "schedule", "policy", "compression",
                          "inline_compression", "inline_dedupe", "data_compaction", "cross_volume_inline_dedupe",
                          "cross_volume_background_dedupe"),
    "snapmirror": ("source_vserver", "source_volume", "source_cluster", "destination_vserver", "destination_volume",
                   "destination_cluster", "vserver", "type", "relationship_id", "relationship_group_type", "policy",
                   "policy_type", "schedule", "throttle", "state", "status", "healthy", "unhealthy_reason",
                   "lag_time", "exported_snapshot", "newest_snapshot", "last_transfer_type", "last_transfer_size",
                   "last_transfer_duration", "last_transfer_end_timestamp", "last_transfer_error",
                   "total_transfer_bytes", "total_transfer_time_secs", "destination_volume_node"),
}


def command_of(path: str) -> str | None:
    """The served command a passthrough path names (``/api/private/cli/volume/efficiency`` -> ``volume/efficiency``)."""
    command = path[len("/api/private/cli/"):].strip("/") if path.startswith("/api/private/cli/") else ""
    return command if command in COMMANDS else None


def _name(field: str) -> str:
    return field.strip().replace("-", "_")


def _operand(field: str, pattern: str) -> str:
    """A filter value with CLI durations (``24:00:00``) written as ISO 8601, for the lab's duration compare."""
    if not field.endswith(("lag_time", "_duration")):
        return pattern

    def convert(part: str) -> str:
        op = re.match(r"^(<=|>=|<|>|!)?(.*)$", part)
        assert op is not None
        found = _CLI_DURATION.match(op.group(2))
        if not found:
            return part
        hours, minutes, seconds = (int(x) for x in found.groups())
        return (op.group(1) or "") + iso_duration(hours * 3600 + minutes * 60 + seconds)

    return "|".join(convert(p) for p in pattern.split("|"))


def _wanted(command: str, query: t.Mapping[str, str]) -> list[str]:
    known = FIELDS[command]
    wanted: list[str] = []
    for raw in (query.get("fields") or "").split(","):
        if not raw.strip():
            continue
        field = _name(raw)
        if field == "*":
            wanted.extend(known)
        elif field in known or field in COMMANDS[command][0]:
            wanted.append(field)
        else:
            raise OntapError(400, f'The value "{raw.strip()}" is invalid for field "fields" (<field,...>)', E_RANGE,
                             "fields")
    return wanted


def _filters(command: str, query: t.Mapping[str, str]) -> dict[str, str]:
    known = set(FIELDS[command]) | set(COMMANDS[command][0])
    filters: dict[str, str] = {}
    for raw, value in query.items():
        if raw in RESERVED:
            continue
        field = _name(raw)
        if field not in known:
            raise OntapError(400, f'Unexpected argument "{raw}".', E_UNEXPECTED, raw)
        filters[field] = _operand(field, value)
    return filters


def show(cluster: Cluster, command: str, query: t.Mapping[str, str]) -> dict[str, t.Any]:
    """The answer to ``GET /api/private/cli/<command>``."""
    privilege = query.get("privilege_level", "admin")
    if privilege not in PRIVILEGES:
        raise OntapError(400, f'Invalid value "{privilege}" for field "privilege_level".', "2", "privilege_level")
    keys, rows_of = COMMANDS[command]
    wanted = _wanted(command, query)
    filters = _filters(command, query)
    rows = [r for r in rows_of(cluster) if matches(r, filters)]
    rows.sort(key=lambda r: tuple(str(r.get(k)) for k in keys))
    if str(query.get("return_records", "true")).lower() == "false":
        return {"num_records": len(rows)}
    if query.get("max_records", "").isdigit():
        rows = rows[:max(1, int(query["max_records"]))]
    records = [{k: r[k] for k in (*keys, *wanted) if r.get(k) is not None} for r in rows]
    return {"records": records, "num_records": len(records)}


def refuse_change(method: str, command: str) -> OntapError:
    return OntapError(400, f"{method} /api/private/cli/{command}: the lab's ONTAP simulator serves only show commands "
                           "(GET) through the CLI passthrough.", E_NOT_AVAILABLE)
