"""Replication sets: the vendor-neutral input of the roles, turned into module items.

A set names its vendor, its source and target arrays (inventory host names or
connection dicts) and its volumes. These pure functions resolve the arrays,
expand the volumes into the items of the vendor's bulk module, order them into
fencing waves, and tell where each item of a failback stands.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import datetime
import fnmatch
import os
import typing as t

CONNECTION_KEYS = ("hostname", "username", "password", "validate_certs", "ca_path", "port", "timeout")
HOSTVAR_KEYS = {"hostname": "replication_endpoint", "username": "replication_username",
                "password": "replication_password", "validate_certs": "replication_validate_certs",
                "ca_path": "replication_ca_path", "port": "replication_port", "timeout": "replication_timeout"}
VENDOR_HOSTVARS = {"namespace": "replication_namespace", "storage_device_id": "replication_storage_device_id"}
ENV_PREFIX = {"ontap": "ONTAP", "vsp": "VSP", "smis": "SMIS"}
ENV_KEYS = ("username", "password", "ca_path", "validate_certs")


class SetError(ValueError):
    pass


def array_connection(ref: t.Any, hostvars: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Module connection options for an array given by inventory host name or as a dict.

    For an inventory host, what its ``replication_*`` variables do not give comes from
    the vendor's environment variables (``ONTAP_USERNAME``, ``VSP_PASSWORD``,
    ``SMIS_CA_PATH``...), as AWX credential types inject them.
    """
    if isinstance(ref, str):
        if hostvars is None or ref not in hostvars:
            raise SetError(f"array {ref!r} is not an inventory host (or give a connection dict)")
        host = hostvars[ref]
        conn = {key: host[var] for key, var in HOSTVAR_KEYS.items() if host.get(var) is not None}
        conn.update({key: host[var] for key, var in VENDOR_HOSTVARS.items() if host.get(var) is not None})
        if "hostname" not in conn:
            raise SetError(f"inventory host {ref!r} has no replication_endpoint")
        prefix = ENV_PREFIX.get(str(host.get("replication_vendor")))
        for key in ENV_KEYS:
            value = os.environ.get(f"{prefix}_{key.upper()}") if prefix else None
            if key not in conn and value:
                conn[key] = value.lower() in ("1", "true", "yes") if key == "validate_certs" else value
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


def set_target_pairs(sets: list[dict[str, t.Any]]) -> list[list[t.Any]]:
    """``[set, target]`` for every target of every set."""
    return [[rset, target] for rset in sets for target in set_targets(rset)]


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
        if not discovered:
            raise SetError(f"set {rset.get('name')!r}: volumes: all, and no volume was found in "
                           f"{rset.get('source_container')!r}")
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


METADATA_KEYS = ("order", "set", "volume", "facts", "phase", "item")


def module_items(items: list[dict[str, t.Any]], drop: t.Iterable[str] = ()) -> list[dict[str, t.Any]]:
    """The items without the keys the roles keep for themselves (order, set, volume...) and ``drop``."""
    skip = set(METADATA_KEYS) | set(drop)
    return [{k: v for k, v in item.items() if k not in skip} for item in items]


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
STEP_PHASES = {"reverse": ("failed_over",), "cutover": ("reversing", "reversed"), "reestablish": ("cut_over",)}
REMAINING = {"failed_over": ["reverse", "cutover", "reestablish"], "reversing": ["cutover", "reestablish"],
             "reversed": ["cutover", "reestablish"], "cut_over": ["reestablish"], "home": [], "missing": []}


def failback_needs(phase: str, step: str) -> bool:
    """Whether an item now in ``phase`` goes through failback ``step`` next.

    The role reads the arrays again before every step, so an item that finished
    a step moves on and one that failed it stays behind: a rerun picks each item
    up where the arrays say it stopped and never repeats a finished step.
    """
    return phase in STEP_PHASES[step]


def failback_remaining(phase: str) -> list[str]:
    """The failback steps still ahead of an item in ``phase``."""
    return list(REMAINING.get(phase, []))


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
        row = dict(base, item=None, failed=bool(result.get("failed")), changed=bool(result.get("changed")),
                   msg=result.get("msg", ""), actions=[], skipped=bool(result.get("skipped")))
        row.update({k: None for k in ROW_FACTS})
        return [row]
    rows = []
    for entry in _group_entries(items) if vendor == "vsp" else items:
        facts = entry.get(key) or {}
        row = dict(base)
        row["item"] = entry.get("destination_path") or entry.get("item") or entry.get("name")
        row.update({k: facts.get(k) for k in ROW_FACTS})
        row.update({"changed": bool(entry.get("changed")), "failed": bool(entry.get("failed")),
                    "skipped": bool(entry.get("skipped")), "actions": entry.get("actions") or [],
                    "msg": entry.get("msg") or entry.get("note") or ""})
        if vendor == "vsp" and step == "failover" and row.get("state") == "split" and row["changed"]:
            # a local pair in PAIR holds the P-VOL's data up to the split, which happened now
            row["recovery_point"] = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
            row["lag_seconds"] = 0
        if step == "protect" and not row["failed"] and not row["changed"] and row.get("state") in FENCED:
            row["msg"] = (f"left {row['state']}: protecting it again would undo a failover "
                          "(backend_replication_resync_broken: true resyncs it)")
        rows.append(row)
    return rows


def _group_entries(entries: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """``shadowimage_pair`` results with each copy group item turned into one entry per pair of the group."""
    out = []
    for entry in entries:
        group = entry.get("group")
        if entry.get("pair_name") is not None or not isinstance(group, dict) or not group.get("pairs"):
            out.append(entry)
            continue
        note = "split with its copy group in one operation: every S-VOL of the group holds the same point in time"
        for pair in group["pairs"]:
            row = dict(entry, item=f"{entry['copy_group']}/{pair.get('pair_name')}", pair=pair)
            if not entry.get("failed") and not entry.get("msg") and entry.get("changed"):
                row["msg"] = note
            out.append(row)
    return out


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


def ontap_set_relationships(rset: dict[str, t.Any], relationships: list[dict[str, t.Any]],
                            mount: bool = True) -> list[dict[str, t.Any]]:
    """The set's items as a DR cluster sees them, from its ``snapmirror_info`` facts.

    Explicit volumes map to their destination paths; ``volumes: all`` means
    every relationship whose source is in the set's source SVM. Each item keeps
    the relationship's facts under ``facts`` (None when the DR cluster has no
    such relationship) and gets a ``junction_path`` (``/<destination volume>``)
    when ``mount`` is true and the volume entry does not name one.
    """
    by_dest = {r.get("destination_path"): r for r in relationships}
    explicit = rset.get("volumes") not in (None, "all")
    if explicit:
        items = ontap_items(rset)
    else:
        src_svm = rset.get("source_container")
        by_source = {r.get("source_path"): r for r in relationships if r.get("source_svm") == src_svm}
        names = [r.get("source_volume") for r in by_source.values() if r.get("source_volume")]
        items = []
        for item in ontap_items(rset, names) if names else []:
            item["destination_path"] = by_source[item["source_path"]]["destination_path"]
            items.append(item)
    for item in items:
        item["facts"] = by_dest.get(item["destination_path"])
        if mount and "junction_path" not in item:
            item["junction_path"] = "/" + item["destination_path"].split(":", 1)[1]
    return items


def choose_target(candidates: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Of the reachable targets (``{target, items, error}``), the one with the smallest worst lag.

    An item without a relationship or without data counts as infinitely late.
    """
    usable = [c for c in candidates if not c.get("error")]
    if not usable:
        reasons = "; ".join(f"{array_name(c.get('target'))}: {c.get('error')}" for c in candidates)
        raise SetError(f"no target of the set can be read ({reasons})")

    def worst(candidate: dict[str, t.Any]) -> float:
        lags = [(i.get("facts") or {}).get("lag_seconds") for i in candidate.get("items") or []]
        if not lags or any(lag is None for lag in lags):
            return float("inf")
        return float(max(lags))

    best = min(usable, key=worst)
    chosen = dict(best)
    chosen["worst_lag_seconds"] = None if worst(best) == float("inf") else int(worst(best))
    chosen["considered"] = [{"target": array_name(c.get("target")), "worst_lag_seconds":
                             None if c.get("error") or worst(c) == float("inf") else int(worst(c)),
                             "error": c.get("error")} for c in candidates]
    return chosen


FENCED = ("broken_off", "split", "failed_over", "fractured", "suspended")


def rpo_violations(items: list[dict[str, t.Any]], max_lag: int | None) -> list[str]:
    """Items that a planned failover must refuse for: lag over ``max_lag``, no data, or no relationship.

    Items already broken off were fenced by an earlier run and do not count.
    """
    out = []
    for item in items:
        facts = item.get("facts")
        name = f"{item.get('set')}/{item.get('destination_path') or item.get('item')}"
        if facts is None:
            out.append(f"{name}: no replica on the target")
        elif facts.get("state") in FENCED:
            continue
        elif max_lag is not None and facts.get("lag_seconds") is None:
            out.append(f"{name}: no data transferred yet")
        elif max_lag is not None and facts["lag_seconds"] > max_lag:
            out.append(f"{name}: lag {facts['lag_seconds']}s exceeds max_lag {max_lag}s")
    return out


def ontap_candidates(results: list[dict[str, t.Any]], rset: dict[str, t.Any], loop_var: str,
                     mount: bool = True) -> list[dict[str, t.Any]]:
    """Target candidates from the registered results of a ``snapmirror_info`` loop over the set's targets."""
    out = []
    for result in results:
        target = result.get(loop_var)
        if result.get("failed") or "relationships" not in result:
            out.append({"target": target, "items": [], "error": result.get("msg", "not read")})
            continue
        items = ontap_set_relationships(rset, result["relationships"], mount)
        out.append({"target": target, "items": items, "error": None})
    return out


def ontap_failback_items(rset: dict[str, t.Any], forward: list[dict[str, t.Any]],
                         reverse: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The set's items for a failback, each with the phase the arrays show.

    ``forward`` are the relationships the DR cluster lists (primary -> DR),
    ``reverse`` the ones the primary lists (DR -> primary). An item is known by
    its primary path (``source_path``) and DR path (``destination_path``).
    """
    rev_by_dest = {r.get("destination_path"): r for r in reverse}
    fwd_by_source = {r.get("source_path"): r for r in forward}
    if rset.get("volumes") not in (None, "all"):
        items = ontap_items(rset)
    else:
        src_svm = rset.get("source_container")
        names = {r.get("source_volume") for r in forward if r.get("source_svm") == src_svm}
        names |= {r.get("destination_volume") for r in reverse if r.get("destination_svm") == src_svm}
        items = ontap_items(rset, sorted(n for n in names if n)) if names else []
    for item in items:
        fwd = fwd_by_source.get(item["source_path"])
        if fwd is not None:
            item["destination_path"] = fwd["destination_path"]
        rev = rev_by_dest.get(item["source_path"])
        if rev is not None and fwd is None:
            item["destination_path"] = rev.get("source_path") or item["destination_path"]
        item["phase"] = failback_phase(fwd, rev)
        item.setdefault("junction_path", "/" + item["source_path"].split(":", 1)[1])
    return items


def failback_step_items(items: list[dict[str, t.Any]], step: str) -> list[dict[str, t.Any]]:
    """The items that go through ``step`` (reverse, cutover, reestablish), as module items for it."""
    if step not in STEP_PHASES:
        raise SetError(f"unknown failback step {step!r}: one of {', '.join(STEP_PHASES)}")
    out = []
    for item in items:
        if not failback_needs(item.get("phase", ""), step):
            continue
        primary, dr = item["source_path"], item["destination_path"]
        if step == "reestablish":
            entry = {"source_path": primary, "destination_path": dr}
        else:
            entry = {"source_path": dr, "destination_path": primary}
        if step == "cutover":
            entry["junction_path"] = item["junction_path"]
        entry["order"] = item.get("order", 0)
        entry["set"] = item.get("set")
        out.append(entry)
    return out


def failback_target(results: list[dict[str, t.Any]], rset: dict[str, t.Any], loop_var: str) -> t.Any:
    """The DR target a set failed over to: the one holding broken-off relationships of the set's
    source SVM, else the first target that could be read."""
    readable = [r for r in results if not r.get("failed") and "relationships" in r]
    if not readable:
        raise SetError(f"set {rset.get('name')!r}: none of its targets can be read")
    src_svm = rset.get("source_container")
    for result in readable:
        if any(r.get("state") == "broken_off" and r.get("source_svm") == src_svm for r in result["relationships"]):
            return result[loop_var]
    return readable[0][loop_var]


def stale_reverses(items: list[dict[str, t.Any]], forward: list[dict[str, t.Any]],
                   reverse: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Reverse relationships left on the primary for items that are home again (forward mirrored)."""
    fwd = {r.get("source_path"): r for r in forward}
    rev = {r.get("destination_path"): r for r in reverse}
    out = []
    for item in items:
        home = (fwd.get(item["source_path"]) or {}).get("state") in ("snapmirrored", "in_sync")
        if home and item["source_path"] in rev:
            out.append({"destination_path": item["source_path"], "source_path": item["destination_path"]})
    return out


def lab_volume_pairs(rset: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """For rehearsals in the lab: each item's source and target volume as the lab's control API names them.

    Needs an explicit ``volumes`` list. ONTAP volumes are ``<svm>:<volume>``; VSP
    LDEVs and SMI-S volumes are named as the set names them (``name`` and
    ``target_name`` of each volume entry).
    """
    vendor = rset.get("vendor")
    source = array_name(rset.get("source"))
    target = array_name(set_targets(rset)[0])
    out = []
    if vendor == "ontap":
        for item in ontap_items(rset):
            out.append({"set": rset.get("name"), "vendor": vendor, "item": item["destination_path"],
                        "source_array": source, "source_key": item["source_path"],
                        "target_array": target, "target_key": item["destination_path"]})
        return out
    if vendor == "vsp":
        for item in vsp_items(rset):
            if not isinstance(item["svol"], int):
                raise SetError(f"set {rset.get('name')!r}: lab rehearsals need the S-VOL of each LDEV (target_name)")
            out.append({"set": rset.get("name"), "vendor": vendor, "item": f"{item['copy_group']}/{item['pair_name']}",
                        "source_array": source, "source_key": str(item["pvol"]),
                        "target_array": target, "target_key": str(item["svol"])})
        return out
    if vendor == "smis":
        for item in smis_items(rset):
            out.append({"set": rset.get("name"), "vendor": vendor, "item": item["item"], "source_array": source,
                        "source_key": item["source"], "target_array": target, "target_key": item["target"]})
        return out
    for entry in volume_entries(rset):
        out.append({"set": rset.get("name"), "vendor": vendor, "item": str(entry["target_name"]),
                    "source_array": source, "source_key": str(entry["name"]),
                    "target_array": target, "target_key": str(entry["target_name"])})
    return out


def status_rows(result: dict[str, t.Any], rset: dict[str, t.Any], target: t.Any,
                max_lag: int | None = None) -> list[dict[str, t.Any]]:
    """Status rows of one set on one target from its vendor's ``*_info`` result."""
    vendor = rset.get("vendor")
    base = {"set": rset.get("name"), "vendor": vendor, "source": array_name(rset.get("source")),
            "target": array_name(target), "rpo_seconds": max_lag}
    if result.get("failed"):
        return [dict(base, item=None, state="unreadable", healthy=False, lag_seconds=None, over_rpo=True,
                     recovery_point=None, last_transfer=None, msg=result.get("msg", ""))]
    if vendor == "ontap":
        entries = [(i["destination_path"], i.get("facts")) for i in ontap_set_relationships(rset, result.get(
            "relationships") or [], mount=False)]
    elif vendor == "vsp":
        entries = [(i["item"], i.get("facts")) for i in vsp_set_pairs(rset, result.get("pairs") or [])]
    else:
        entries = [(i["item"], i.get("facts")) for i in smis_set_syncs(rset, result.get("synchronizations") or [])]
    rows = []
    for name, facts in entries:
        facts = facts or {}
        lag = facts.get("lag_seconds")
        rows.append(dict(base, item=name, state=facts.get("state", "missing"), healthy=bool(facts.get("healthy")),
                         lag_seconds=lag, recovery_point=facts.get("recovery_point"),
                         last_transfer=facts.get("last_transfer_end") or facts.get("last_transfer"),
                         over_rpo=bool(max_lag is not None and (lag is None or lag > max_lag)
                                       and facts.get("state") not in FENCED + ("missing",)),
                         msg="" if facts else "no replica on the target"))
    return rows


def fill_states(rows: list[dict[str, t.Any]], relationships: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Report rows whose state is unknown (the item failed mid-way) get the state the array reports now."""
    by_item = {r.get("destination_path") or r.get("item"): r.get("facts", r) for r in relationships}
    out = []
    for row in rows:
        row = dict(row)
        facts = by_item.get(row.get("item"))
        if row.get("state") is None and facts is not None:
            row.update({k: facts.get(k) for k in ROW_FACTS})
            row["state_read_after_failure"] = True
        out.append(row)
    return out


def _copy_group(rset: dict[str, t.Any]) -> str:
    group = (rset.get("options") or {}).get("copy_group") or str(rset.get("name", ""))
    if len(group) > 29:
        raise SetError(f"set {rset.get('name')!r}: the copy group name {group!r} is over 29 characters; "
                       "set options.copy_group")
    return group


def vsp_items(rset: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """``shadowimage_pair`` items for a VSP set: one pair per P-VOL in the set's copy group.

    A volume entry that names its ``target_name`` pairs with that LDEV; otherwise the
    S-VOL is created in the pool ``target_container``.
    """
    if rset.get("volumes") in (None, "all"):
        raise SetError(f"set {rset.get('name')!r}: VSP sets list their P-VOL LDEV ids in volumes")
    explicit = {str(v["name"]): v["target_name"] for v in rset["volumes"] if isinstance(v, dict) and "target_name" in v}
    group = _copy_group(rset)
    out = []
    for entry in volume_entries(rset):
        name = entry["name"]
        if not name.isdigit():
            raise SetError(f"set {rset.get('name')!r}: VSP volume {name!r} is not an LDEV id")
        try:
            if name in explicit:
                svol: t.Any = int(explicit[name])
            elif rset.get("target_container") is not None:
                svol = {"pool_id": int(rset["target_container"])}
            else:
                svol = None
        except (TypeError, ValueError) as exc:
            raise SetError(f"set {rset.get('name')!r}: the S-VOL of LDEV {name} (target_name) and the pool "
                           "(target_container) must be numbers") from exc
        if svol is None:
            raise SetError(f"set {rset.get('name')!r}: LDEV {name} has no target_name (S-VOL) and the set no "
                           "target_container (pool for new S-VOLs)")
        out.append({"copy_group": group, "pair_name": f"p{name}", "pvol": int(name), "svol": svol,
                    "order": entry["order"], "set": rset.get("name"), "volume": name})
    return out


def _pair_facts(facts: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    """ShadowImage pair facts with a lag: a local PAIR is in sync (0 s); a split pair has none."""
    if facts is None:
        return None
    out = dict(facts)
    if out.get("lag_seconds") is None and out.get("state") == "paired":
        out["lag_seconds"] = 0
    return out


def vsp_set_pairs(rset: dict[str, t.Any], pairs: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The set's items with the facts ``shadowimage_pair_info`` reports for them (None when missing)."""
    by_name = {(p.get("copy_group"), p.get("pair_name")): p for p in pairs}
    items = vsp_items(rset)
    for item in items:
        item["facts"] = _pair_facts(by_name.get((item["copy_group"], item["pair_name"])))
        item["item"] = f"{item['copy_group']}/{item['pair_name']}"
    return items


def vsp_candidates(results: list[dict[str, t.Any]], rset: dict[str, t.Any], loop_var: str) -> list[dict[str, t.Any]]:
    """Target candidates from a ``shadowimage_pair_info`` loop (a local pair has one: its array)."""
    out = []
    for result in results:
        target = result.get(loop_var)
        if result.get("failed") or "pairs" not in result:
            out.append({"target": target, "items": [], "error": result.get("msg", "not read")})
        else:
            set_items = vsp_set_pairs(rset, result["pairs"])
            out.append({"target": target, "items": set_items, "error": None,
                        "group_split": vsp_group_split(set_items, result["pairs"])})
    return out


def vsp_group_split(set_items: list[dict[str, t.Any]], pairs: list[dict[str, t.Any]]) -> bool:
    """Whether a failover splits the set's copy group in one operation instead of pair by pair.

    So it does when the set is the whole copy group, in one fencing wave, and every pair is in PAIR:
    the array then splits every pair at the same moment, so the S-VOLs hold one point in time (what a
    database spread over several LDEVs needs) and one job replaces one per pair. Anything else (a pair
    missing, split already, copying, or waves the set orders) goes pair by pair.
    """
    if not set_items or len({int(i.get("order", 0)) for i in set_items}) != 1:
        return False
    group = set_items[0]["copy_group"]
    in_group = {p.get("pair_name") for p in pairs if p.get("copy_group") == group}
    return in_group == {i["pair_name"] for i in set_items} and \
        all((i.get("facts") or {}).get("state") == "paired" for i in set_items)


def vsp_failback_items(rset: dict[str, t.Any], pairs: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The set's pairs for a failback: split ones need a restore (S-VOL -> P-VOL); paired ones are home."""
    items = vsp_set_pairs(rset, pairs)
    for item in items:
        state = (item.get("facts") or {}).get("state")
        item["phase"] = {"split": "failed_over", "restoring": "reversing", "paired": "home"}.get(
            str(state), "missing" if state is None else str(state))
    return items


def items(rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[dict[str, t.Any]]:
    """The items of the vendor's bulk module for a set (``volumes: all`` takes the ``discovered`` names)."""
    vendor = rset.get("vendor")
    if vendor == "ontap":
        return ontap_items(rset, discovered)
    if vendor == "vsp":
        return vsp_items(rset)
    if vendor == "smis":
        return smis_items(rset)
    raise SetError(f"set {rset.get('name')!r}: unknown vendor {vendor!r}")


def candidates(results: list[dict[str, t.Any]], rset: dict[str, t.Any], loop_var: str,
               mount: bool = True) -> list[dict[str, t.Any]]:
    """Failover target candidates from the registered results of the vendor's info module over the set's targets."""
    vendor = rset.get("vendor")
    if vendor == "ontap":
        return ontap_candidates(results, rset, loop_var, mount)
    if vendor == "vsp":
        return vsp_candidates(results, rset, loop_var)
    if vendor == "smis":
        return smis_candidates(results, rset, loop_var)
    raise SetError(f"set {rset.get('name')!r}: unknown vendor {vendor!r}")


def failback_items(rset: dict[str, t.Any], *reads: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The set's items with their failback phase, from what the vendor's info module read.

    ONTAP takes the DR side's and the primary's relationships; VSP the pairs; SMI-S the synchronizations.
    """
    vendor = rset.get("vendor")
    needed = 2 if vendor == "ontap" else 1
    if len(reads) != needed:
        raise SetError(f"set {rset.get('name')!r}: {vendor} failback items need {needed} read(s), got {len(reads)}")
    if vendor == "ontap":
        return ontap_failback_items(rset, reads[0], reads[1])
    if vendor == "vsp":
        return vsp_failback_items(rset, reads[0])
    if vendor == "smis":
        return smis_failback_items(rset, reads[0])
    raise SetError(f"set {rset.get('name')!r}: unknown vendor {vendor!r}")


def smis_items(rset: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """``smis_sync`` items for an SMI-S set: one synchronization per source volume.

    Volumes are named by ElementName or DeviceID; a volume entry's ``target_name``
    names the target (default: the source name with the set's prefix and suffix),
    which the provider creates when it does not exist.
    """
    if rset.get("volumes") in (None, "all"):
        raise SetError(f"set {rset.get('name')!r}: SMI-S sets list their source volumes in volumes")
    out = []
    for entry in volume_entries(rset):
        target = str(entry["target_name"])
        if target == entry["name"]:
            raise SetError(f"set {rset.get('name')!r}: volume {entry['name']} would be its own target; give a "
                           "target_name or a target_name_suffix")
        out.append({"source": entry["name"], "target": target, "order": entry["order"], "set": rset.get("name"),
                    "volume": entry["name"], "item": f"{entry['name']} -> {target}"})
    return out


def smis_set_syncs(rset: dict[str, t.Any], syncs: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The set's items with the facts ``smis_sync_info`` reports for them (None when missing).

    A synchronization matches an item when its source and target match the item's by
    ElementName or DeviceID.
    """
    out = smis_items(rset)
    for item in out:
        item["facts"] = next((f for f in syncs
                              if item["source"] in (f.get("source"), str(f.get("source_device_id")))
                              and item["target"] in (f.get("target"), str(f.get("target_device_id")))), None)
    return out


def smis_candidates(results: list[dict[str, t.Any]], rset: dict[str, t.Any], loop_var: str) -> list[dict[str, t.Any]]:
    """Target candidates from a ``smis_sync_info`` loop (local synchronizations have one: their array)."""
    out = []
    for result in results:
        target = result.get(loop_var)
        if result.get("failed") or "synchronizations" not in result:
            out.append({"target": target, "items": [], "error": result.get("msg", "not read")})
        else:
            out.append({"target": target, "items": smis_set_syncs(rset, result["synchronizations"]), "error": None})
    return out


def smis_failback_items(rset: dict[str, t.Any], syncs: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The set's synchronizations for a failback: failed-over ones need a Failback (which copies the DR writes
    home); synchronized ones are home."""
    out = smis_set_syncs(rset, syncs)
    for item in out:
        state = (item.get("facts") or {}).get("state")
        item["phase"] = {"failed_over": "failed_over", "synchronized": "home"}.get(
            str(state), "missing" if state is None else str(state))
    return out


def report_lines(rows: list[dict[str, t.Any]]) -> list[str]:
    """One readable line per report row: what happened to the item, its state, lag and recovery point."""
    lines = []
    for row in rows:
        where = f"{row.get('set')} {row.get('item')} on {row.get('target')}"
        step = f" [{row['step']}]" if row.get("step") else ""
        if row.get("failed"):
            lines.append(f"{where}{step}: FAILED: {row.get('msg')}")
            continue
        text = f"{where}{step}: {row.get('state')}"
        if row.get("healthy") is not None:
            text += f", healthy={row.get('healthy')}"
        if row.get("lag_seconds") is not None:
            text += f", lag={row['lag_seconds']}s"
        if row.get("recovery_point"):
            text += f", recovery point {row['recovery_point']}"
        if row.get("actions"):
            text += f", actions {','.join(row['actions'])}"
        if row.get("msg"):
            text += f" ({row['msg']})"
        lines.append(text)
    return lines
