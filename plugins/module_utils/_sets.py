"""Replication sets: the vendor-neutral input of the roles, turned into module items.

A set names its vendor, its source and target arrays (inventory host names or
connection dicts) and its volumes. These pure functions resolve the arrays,
expand the volumes into the items of the vendor's bulk module, order them into
fencing waves, and tell where each item of a failback stands.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import fnmatch
import typing as t

CONNECTION_KEYS = ("hostname", "username", "password", "validate_certs", "ca_path", "port", "timeout")
HOSTVAR_KEYS = {"hostname": "replication_endpoint", "username": "replication_username",
                "password": "replication_password", "validate_certs": "replication_validate_certs",
                "ca_path": "replication_ca_path", "port": "replication_port", "timeout": "replication_timeout"}
VENDOR_HOSTVARS = {"namespace": "replication_namespace", "storage_device_id": "replication_storage_device_id"}


class SetError(ValueError):
    pass


def array_connection(ref: t.Any, hostvars: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Module connection options for an array given by inventory host name or as a dict."""
    if isinstance(ref, str):
        if hostvars is None or ref not in hostvars:
            raise SetError(f"array {ref!r} is not an inventory host (or give a connection dict)")
        host = hostvars[ref]
        conn = {key: host[var] for key, var in HOSTVAR_KEYS.items() if host.get(var) is not None}
        conn.update({key: host[var] for key, var in VENDOR_HOSTVARS.items() if host.get(var) is not None})
        if "hostname" not in conn:
            raise SetError(f"inventory host {ref!r} has no replication_endpoint")
        return conn
    if isinstance(ref, dict):
        if not ref.get("hostname"):
            raise SetError("an array given as a dict needs at least hostname")
        return dict(ref)
    raise SetError(f"an array is an inventory host name or a connection dict, not {type(ref).__name__}")


def array_name(ref: t.Any) -> str:
    return ref if isinstance(ref, str) else str(ref.get("name") or ref.get("hostname"))


def set_targets(rset: dict[str, t.Any]) -> list[t.Any]:
    targets = rset.get("targets") or ([rset["target"]] if rset.get("target") else [])
    if not targets:
        raise SetError(f"set {rset.get('name')!r} names no target (target or targets)")
    return list(targets)


def volume_entries(rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[dict[str, t.Any]]:
    """The set's volumes as ``{name, target_name, order}``, in fencing order.

    ``volumes`` is a list of names or dicts, or ``all`` for every discovered
    volume of the source container (minus ``exclude`` patterns). ``fence_order``
    lists names fenced first, in that order; the rest follow together.
    """
    raw = rset.get("volumes")
    if raw in (None, "all"):
        if discovered is None:
            raise SetError(f"set {rset.get('name')!r}: volumes: all needs the discovered volumes")
        raw = sorted(discovered)
    if not isinstance(raw, list) or not raw:
        raise SetError(f"set {rset.get('name')!r}: volumes must be a non-empty list or 'all'")
    excludes = rset.get("exclude") or []
    suffix = rset.get("target_name_suffix") or ""
    prefix = rset.get("target_name_prefix") or ""
    fence = list(rset.get("fence_order") or [])
    entries = []
    for item in raw:
        entry = {"name": item} if isinstance(item, (str, int)) else dict(item)
        entry["name"] = str(entry["name"])
        if any(fnmatch.fnmatchcase(entry["name"], pat) for pat in excludes):
            continue
        entry.setdefault("target_name", f"{prefix}{entry['name']}{suffix}")
        if "order" not in entry:
            entry["order"] = fence.index(entry["name"]) if entry["name"] in fence else len(fence)
        entries.append(entry)
    names = [e["name"] for e in entries]
    unknown = [n for n in fence if n not in names]
    if unknown:
        raise SetError(f"set {rset.get('name')!r}: fence_order names volumes not in the set: {', '.join(unknown)}")
    if len(set(names)) != len(names):
        raise SetError(f"set {rset.get('name')!r}: a volume is listed twice")
    return sorted(entries, key=lambda e: (e["order"], e["name"]))


METADATA_KEYS = ("order", "set", "volume")


def module_items(items: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The items without the keys the roles keep for themselves (order, set, volume)."""
    return [{k: v for k, v in item.items() if k not in METADATA_KEYS} for item in items]


def fence_waves(items: list[dict[str, t.Any]], reverse: bool = False) -> list[list[dict[str, t.Any]]]:
    """Items grouped by ``order``: wave 0 first (fencing) or last (``reverse``, unfencing)."""
    orders = sorted({int(i.get("order", 0)) for i in items}, reverse=reverse)
    return [[i for i in items if int(i.get("order", 0)) == order] for order in orders]


def ontap_items(rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[dict[str, t.Any]]:
    """``snapmirror`` items for an ONTAP set: source SVM volume -> target SVM volume."""
    src_svm = rset.get("source_container")
    dst_svm = rset.get("target_container")
    if not src_svm or not dst_svm:
        raise SetError(f"set {rset.get('name')!r}: ONTAP sets need source_container and target_container (SVMs)")
    out = []
    for entry in volume_entries(rset, discovered):
        item = {"source_path": f"{src_svm}:{entry['name']}", "destination_path": f"{dst_svm}:{entry['target_name']}",
                "order": entry["order"], "set": rset.get("name"), "volume": entry["name"]}
        if entry.get("junction_path"):
            item["junction_path"] = entry["junction_path"]
        out.append(item)
    return out


def failback_phase(forward: dict[str, t.Any] | None, reverse: dict[str, t.Any] | None) -> str:
    """Where one item of a failback stands, read from the arrays.

    ``forward`` is the relationship primary -> DR as the DR cluster reports it,
    ``reverse`` the relationship DR -> primary as the primary reports it (None when absent).
    """
    if reverse is not None:
        if reverse.get("state") == "broken_off":
            return "cut_over"
        if reverse.get("state") in ("snapmirrored", "in_sync"):
            return "reversed"
        return "reversing"
    if forward is None:
        return "missing"
    if forward.get("state") == "broken_off":
        return "failed_over"
    return "home"


PHASES = ("failed_over", "reversing", "reversed", "cut_over", "home")
STEP_FROM = {"reverse": "failed_over", "cutover": "reversed", "reestablish": "cut_over"}


def failback_needs(phase: str, step: str) -> bool:
    """Whether an item that was in ``phase`` when the run started goes through failback ``step``.

    A step applies to every item that had not yet passed it, so a rerun picks
    each item up where the arrays say it stopped and never repeats a finished step.
    """
    if phase not in PHASES[:-1]:
        return False
    return PHASES.index(phase) <= PHASES.index(STEP_FROM[step])


OBJECT_KEYS = {"ontap": "relationship", "vsp": "pair", "smis": "synchronization"}
ITEM_LISTS = ("relationships", "pairs", "synchronizations")
ROW_FACTS = ("state", "healthy", "lag_seconds", "recovery_point", "transferring")


def report_rows(result: dict[str, t.Any], rset: dict[str, t.Any], target: t.Any = None,
                step: str = "") -> list[dict[str, t.Any]]:
    """One report row per item of a bulk module result, the same shape for every vendor."""
    vendor = rset.get("vendor", "")
    key = OBJECT_KEYS.get(vendor, "relationship")
    items = next((result[k] for k in ITEM_LISTS if isinstance(result.get(k), list)), None)
    base = {"set": rset.get("name"), "vendor": vendor, "source": array_name(rset.get("source")),
            "target": array_name(target) if target is not None else None, "step": step}
    if items is None:
        return [dict(base, item=None, failed=bool(result.get("failed")), changed=bool(result.get("changed")),
                     msg=result.get("msg", ""), actions=[])]
    rows = []
    for entry in items:
        facts = entry.get(key) or {}
        row = dict(base)
        row["item"] = entry.get("destination_path") or entry.get("item") or entry.get("name")
        row.update({k: facts.get(k) for k in ROW_FACTS})
        row.update({"changed": bool(entry.get("changed")), "failed": bool(entry.get("failed")),
                    "skipped": bool(entry.get("skipped")), "actions": entry.get("actions") or [],
                    "msg": entry.get("msg", "")})
        rows.append(row)
    return rows


def report_summary(rows: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Counts, targets and the worst lag of report rows."""
    lags = [r["lag_seconds"] for r in rows if r.get("lag_seconds") is not None]
    return {
        "items": len(rows),
        "changed": sum(1 for r in rows if r.get("changed")),
        "failed": sum(1 for r in rows if r.get("failed")),
        "healthy": sum(1 for r in rows if r.get("healthy")),
        "targets": sorted({str(r["target"]) for r in rows if r.get("target")}),
        "worst_lag_seconds": max(lags) if lags else None,
        "failed_items": [f"{r['set']}/{r['item']}: {r['msg']}" for r in rows if r.get("failed")],
    }
