# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Replication sets, vendor-neutral: what the roles' filters do with every vendor's sets alike.

Arrays resolve to module connection options; sets expand into module items, target
candidates and failback items through their vendor's set logic (``_vendors.py``
names it); results turn into report rows, summaries and lines of one shape for
every vendor. No function here names a vendor.

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import (
    COPY_STATES, FENCED, Item, SetError, array_name, module_items, set_targets)
from ansible_collections.storage.replication.plugins.plugin_utils._vendors import VENDORS, vendor_named, vendor_of

CONNECTION_KEYS = ("hostname", "username", "password", "validate_certs", "ca_path", "port", "timeout")
HOSTVAR_KEYS = {"hostname": "replication_endpoint", "username": "replication_username",
                "password": "replication_password", "validate_certs": "replication_validate_certs",
                "ca_path": "replication_ca_path", "port": "replication_port", "timeout": "replication_timeout"}
# What an AWX credential type injects per vendor, and the roles read for inventory hosts.
ENV_KEYS = ("username", "password", "ca_path", "validate_certs")
ROW_FACTS = ("state", "healthy", "lag_seconds", "recovery_point", "transferring")
ARRAYS = ("all", "sources", "targets")


# ---------------------------------------------------------------------------- arrays and connections

def array_connection(ref: t.Any, hostvars: t.Mapping[str, t.Any] | None = None,
                     vendor: str | None = None) -> dict[str, t.Any]:
    """Module connection options for an array given by inventory host name or as a dict.

    For an inventory host, what its ``replication_*`` variables do not give comes from
    the environment variables of its vendor (``ONTAP_USERNAME``, ``VSP_PASSWORD``,
    ``SMIS_CA_PATH``...), as AWX credential types inject them. Its vendor is its
    ``replication_vendor``, else ``vendor`` (the vendor of the set naming it).
    """
    if isinstance(ref, str):
        if hostvars is None or ref not in hostvars:
            raise SetError(f"array {ref!r} is not an inventory host (or give a connection dict)")
        host = hostvars[ref]
        extra = {key: var for row in VENDORS.values() for key, var in row.hostvars.items()}
        conn = {key: host[var] for key, var in dict(HOSTVAR_KEYS, **extra).items() if host.get(var) is not None}
        if "hostname" not in conn:
            raise SetError(f"inventory host {ref!r} has no replication_endpoint")
        row = VENDORS.get(str(host.get("replication_vendor") or vendor))
        for key in ENV_KEYS:
            value = os.environ.get(f"{row.env_prefix}_{key.upper()}") if row else None
            if key not in conn and value:
                conn[key] = value.lower() in ("1", "true", "yes") if key == "validate_certs" else value
        return conn
    if isinstance(ref, dict):
        if not ref.get("hostname"):
            raise SetError("an array given as a dict needs at least hostname")
        return dict(ref)
    raise SetError(f"an array is an inventory host name or a connection dict, not {type(ref).__name__}")


def connections(sets: list[dict[str, t.Any]], hostvars: t.Mapping[str, t.Any] | None = None,
                arrays: str = "all") -> dict[str, dict[str, t.Any]]:
    """The connection options of every array of the sets, by array name, for ``module_defaults``.

    Each holds only the options of its set's vendor's modules (the common ones and the
    vendor's ``hostvars``). ``arrays`` picks the sources, the targets, or all of them.
    """
    if arrays not in ARRAYS:
        raise SetError(f"arrays is one of {', '.join(ARRAYS)}, not {arrays!r}")
    out: dict[str, dict[str, t.Any]] = {}
    for rset in sets:
        row = vendor_of(rset)
        refs = [rset.get("source")] if arrays in ("all", "sources") else []
        refs += set_targets(rset) if arrays in ("all", "targets") else []
        keys = set(CONNECTION_KEYS) | set(row.hostvars)
        for ref in refs:
            try:
                conn = array_connection(ref, hostvars, row.name)
            except SetError as exc:
                raise SetError(f"set {rset.get('name')!r}: {exc}") from None
            conn = {k: v for k, v in conn.items() if k in keys}
            name = array_name(ref)
            if out.get(name, conn) != conn:
                raise SetError(f"set {rset.get('name')!r}: array {name!r} is given twice with different connection "
                               "options")
            out[name] = conn
    return out


def public_sets(sets: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The sets with every array given as a connection dict replaced by its name, so that loops and facts
    over them never carry a password (the connections come from ``connections``, kept out of the logs)."""
    out = []
    for rset in sets or []:
        clean = dict(rset)
        for key in ("source", "target"):
            if isinstance(clean.get(key), dict):
                clean[key] = array_name(clean[key])
        if isinstance(clean.get("targets"), list):
            clean["targets"] = [array_name(ref) if isinstance(ref, dict) else ref for ref in clean["targets"]]
        out.append(clean)
    return out


def array_names(refs: t.Any) -> t.Any:
    """The name of an array reference, or the names of a list of them."""
    return [array_name(r) for r in refs] if isinstance(refs, list) else array_name(refs)


def set_target_pairs(sets: list[dict[str, t.Any]]) -> list[list[t.Any]]:
    """``[set, target]`` for every target of every set."""
    return [[rset, target] for rset in sets for target in set_targets(rset)]


def vendor_info(ref: t.Any) -> dict[str, t.Any]:
    """The registry's row of a vendor, given by name or by one of its sets."""
    return (vendor_of(ref) if isinstance(ref, dict) else vendor_named(ref)).public()


# ---------------------------------------------------------------------------- items, through the vendor's set logic

def items(rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[Item]:
    """The items of the vendor's bulk module for a set (``volumes: all`` takes the ``discovered`` names)."""
    return vendor_of(rset).sets.items(rset, discovered)


def candidates(results: list[dict[str, t.Any]], rset: dict[str, t.Any], loop_var: str,
               mount: bool = True) -> list[dict[str, t.Any]]:
    """Failover target candidates from the registered results of the vendor's info module over the set's targets."""
    row = vendor_of(rset)
    out = []
    for result in results:
        target = result.get(loop_var)
        if result.get("failed") or row.list_key not in result:
            out.append({"target": target, "items": [], "error": result.get("msg", "not read")})
        else:
            out.append(dict(row.sets.candidate(rset, result[row.list_key], mount), target=target, error=None))
    return out


def failback_items(rset: dict[str, t.Any], *reads: list[Item]) -> list[Item]:
    """The set's items with their failback phase, from the lists the vendor's info module read.

    How many lists the vendor's set logic takes is its ``failback_reads``.
    """
    row = vendor_of(rset)
    if len(reads) != row.sets.failback_reads:
        raise SetError(f"set {rset.get('name')!r}: {row.name} failback items need {row.sets.failback_reads} "
                       f"read(s), got {len(reads)}")
    return row.sets.failback_items(rset, *reads)


def failover_waves(entry: dict[str, t.Any]) -> list[list[Item]]:
    """The module items of each failover step of a plan entry (the chosen candidate and its ``set``)."""
    return vendor_of(entry.get("set")).sets.failover_waves(entry)


def lab_volume_pairs(rset: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """For rehearsals in the lab: each item's source and target volume as the lab's control API names them.

    Needs an explicit ``volumes`` list; the vendor's set logic names each volume as its
    lab simulator does.
    """
    row = vendor_of(rset)
    source = array_name(rset.get("source"))
    target = array_name(set_targets(rset)[0])
    return [{"set": rset.get("name"), "vendor": row.name, "item": item, "source_array": source,
             "source_key": source_key, "target_array": target, "target_key": target_key}
            for item, source_key, target_key in row.sets.lab_volume_pairs(rset)]


# ---------------------------------------------------------------------------- failover decisions

def choose_target(candidates_: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Of the reachable targets (``{target, items, error}``), the one with the smallest worst lag.

    An item without a relationship or without data counts as infinitely late.
    """
    usable = [c for c in candidates_ if not c.get("error")]
    if not usable:
        reasons = "; ".join(f"{array_name(c.get('target'))}: {c.get('error')}" for c in candidates_)
        raise SetError(f"no target of the set can be read ({reasons})")

    def worst(candidate: dict[str, t.Any]) -> float:
        lags = [(i.get("facts") or {}).get("lag_seconds") for i in candidate.get("items") or []]
        if not lags or any(lag is None for lag in lags):
            return float("inf")
        return float(max(lags))

    best = min(usable, key=worst)
    chosen = dict(best)
    chosen["target_name"] = array_name(best.get("target"))
    chosen["worst_lag_seconds"] = None if worst(best) == float("inf") else int(worst(best))
    chosen["considered"] = [{"target": array_name(c.get("target")), "worst_lag_seconds":
                             None if c.get("error") or worst(c) == float("inf") else int(worst(c)),
                             "error": c.get("error")} for c in candidates_]
    return chosen


def catch_up_items(entry: dict[str, t.Any]) -> list[Item]:
    """The module items a planned failover brings in sync before it cuts anything over.

    Every item with a replica on the target whose state is not its vendor's in-sync state, whatever an
    operator left it in (paused, quiesced, fractured, split, broken off, still copying), except an item
    in the state its failover leaves (``cutover_state_of``) that holds all of its source's data
    (``cut_over_whole``): that one an earlier run failed over, so a rerun does not repeat it. An item
    broken off or split by hand before its source was written is brought back in sync; the vendor's
    module does that only when it overwrites nothing (its data-loss guard), else the set is refused.
    """
    rset = entry.get("set") or {}
    sets = vendor_of(rset).sets
    cut = sets.cutover_state_of(rset)
    late = [i for i in entry.get("items") or [] if i.get("facts")
            and i["facts"].get("state") not in sets.in_sync_states
            and not (i["facts"].get("state") == cut and sets.cut_over_whole(i["facts"]))]
    return module_items(late, sets.cutover_drop)


def caught_up(entry: dict[str, t.Any], result: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """A failover plan entry after its catch-up run: items carry the facts the module reported, and
    ``refused`` names each item that could not be brought in sync, and why (the set is then not cut over).
    """
    row_vendor = vendor_of(entry.get("set"))
    out = dict(entry, refused=[])
    if not result or result.get("skipped"):
        return out
    entries = result.get(row_vendor.list_key)
    if not isinstance(entries, list):
        out["refused"] = [f"the catch-up did not run: {result.get('msg', 'no result')}"]
        return out
    by_name = {_entry_name(e): e for e in entries}
    items = []
    for item in entry.get("items") or []:
        done = by_name.get(row_vendor.sets.item_name(item))
        if done is not None and done.get("failed"):
            out["refused"].append(f"{row_vendor.sets.item_name(item)}: {done.get('msg')}")
        elif done is not None and done.get(row_vendor.object_key):
            item = dict(item, facts=row_vendor.sets.result_facts(done[row_vendor.object_key]))
        items.append(item)
    out["items"] = items
    return out


def refused_rows(entry: dict[str, t.Any], step: str = "failover") -> list[dict[str, t.Any]]:
    """Failed report rows for every item of a set whose catch-up refused: none of them was cut over."""
    sets = vendor_of(entry.get("set")).sets
    base = _row_base(entry["set"], entry.get("target_name"), step)
    why = "; ".join(entry.get("refused") or [])
    return [_failed_row(base, sets.item_name(item), f"not failed over: the set could not be brought in sync first "
                        f"({why})", item.get("facts")) for item in entry.get("items") or []]


def rpo_violations(items_: list[Item], max_lag: int | None) -> list[str]:
    """Items that a planned failover must refuse for: lag over ``max_lag``, no data, or no relationship.

    Items already broken off were fenced by an earlier run and do not count.
    """
    out = []
    for item in items_:
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


# ---------------------------------------------------------------------------- reports

def _row_base(rset: dict[str, t.Any], target: t.Any, step: str) -> dict[str, t.Any]:
    return {"set": rset.get("name"), "vendor": rset.get("vendor", ""), "source": array_name(rset.get("source")),
            "target": array_name(target) if target is not None else None, "step": step}


def _entry_name(entry: dict[str, t.Any]) -> t.Any:
    """How a bulk module's result entry names its item (ONTAP by destination path, the others by ``item``)."""
    return entry.get("destination_path") or entry.get("item") or entry.get("name")


def _failed_row(base: dict[str, t.Any], item: str, msg: str, facts: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """A failed report row for an item the step did not touch, with the facts known of it."""
    row = dict(base, item=item, failed=True, changed=False, skipped=False, actions=[], msg=msg)
    row.update({k: (facts or {}).get(k) for k in ROW_FACTS})
    return row


def report_rows(result: dict[str, t.Any], rset: dict[str, t.Any], target: t.Any = None,
                step: str = "", expected: list[Item] | None = None, checking: bool = False) -> list[dict[str, t.Any]]:
    """One report row per item of a bulk module result, the same shape for every vendor.

    The rows say what the module did: a module that failed as a whole (an array unreachable, a login
    refused, bad input) fails a row for every item it was given (the loop's list of module items, else
    ``expected``), and a failover row whose item is not in the set's cutover state failed, whatever
    the module's flag said (not in check mode, ``checking``, where the arrays keep their states).
    """
    row_vendor = vendor_of(rset)
    base = _row_base(rset, target, step)
    entries = result.get(row_vendor.list_key)
    if not isinstance(entries, list):
        return _whole_result_rows(result, rset, base, expected)
    rows = []
    for entry in row_vendor.sets.report_entries(entries):
        facts = entry.get(row_vendor.object_key) or {}
        row = dict(base)
        row["item"] = _entry_name(entry)
        row.update({k: facts.get(k) for k in ROW_FACTS})
        row.update({"changed": bool(entry.get("changed")), "failed": bool(entry.get("failed")),
                    "skipped": bool(entry.get("skipped")), "actions": entry.get("actions") or [],
                    "msg": entry.get("msg") or entry.get("note") or ""})
        row = row_vendor.sets.adjust_row(row, step, facts)
        cut = row_vendor.sets.cutover_state_of(rset)
        if step == "failover" and not checking and not row["failed"] and not row["skipped"] and row.get("state") != cut:
            row.update(failed=True, msg=f"not failed over: the array reports {row.get('state')}, not {cut}"
                       + (f" ({row['msg']})" if row["msg"] else ""))
        if step == "protect" and not row["failed"] and not row["changed"] and row.get("state") in FENCED:
            row["msg"] = (f"left {row['state']}: protecting it again would undo a failover "
                          "(backend_replication_resync_broken: true resyncs it)")
        rows.append(row)
    return rows


def _whole_result_rows(result: dict[str, t.Any], rset: dict[str, t.Any], base: dict[str, t.Any],
                       expected: list[Item] | None) -> list[dict[str, t.Any]]:
    """Rows of a module result without a list of items: skipped, or failed for every item it was given."""
    sets = vendor_of(rset).sets
    failed = bool(result.get("failed")) or bool(result.get("unreachable"))
    given = result.get(str(result.get("ansible_loop_var"))) if result.get("ansible_loop_var") else None
    if not isinstance(given, list):
        given = ((result.get("invocation") or {}).get("module_args") or {}).get(vendor_of(rset).list_key)
    if isinstance(given, list) and given and all(isinstance(i, dict) for i in given):
        names = [sets.module_item_name(i) for i in given]
    elif expected:
        names = [sets.item_name(i) for i in expected]
    else:
        names = [None]  # type: ignore[list-item]
    msg = str(result.get("msg", ""))
    if failed:
        return [_failed_row(base, name, f"the module failed before it reported this item: {msg}", None)
                for name in names]
    row = dict(base, item=None, failed=False, changed=bool(result.get("changed")), msg=msg, actions=[],
               skipped=bool(result.get("skipped")))
    row.update({k: None for k in ROW_FACTS})
    return [row]


def missing_rows(items_: list[Item], rset: dict[str, t.Any], target: t.Any,
                 step: str = "failover") -> list[dict[str, t.Any]]:
    """A failed report row for each item that has no replica on ``target`` (no ``facts``)."""
    sets = vendor_of(rset).sets
    base = _row_base(rset, target, step)
    return [_failed_row(base, sets.item_name(item), sets.missing_msg(item, base["target"]), None)
            for item in items_ if not item.get("facts")]


def failback_rows(items_: list[Item], rset: dict[str, t.Any], target: t.Any,
                  checking: bool = False) -> list[dict[str, t.Any]]:
    """A final report row per failback item: the phase it ended in (``home`` when it is)."""
    sets = vendor_of(rset).sets
    base = _row_base(rset, target, "final")
    rows = []
    for item in items_:
        phase = str(item.get("phase"))
        home = phase == "home"
        rows.append(dict(base, item=sets.item_name(item), state=item.get("phase"), changed=False, actions=[],
                         failed=not home and not checking, msg=sets.final_msg(phase) if home else
                         (f"check mode: {phase} now" if checking else
                          f"not home yet: {phase} (the arrays' state after the failback); see the failed step "
                          "above, then run the failback again: it goes on from where the item stands")))
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


def fill_states(rows: list[dict[str, t.Any]], relationships: list[Item]) -> list[dict[str, t.Any]]:
    """Report rows whose state is unknown (the item failed mid-way) get the state the array reports now.

    ``relationships`` holds what was read again: items with ``facts`` (a candidate's items, for every vendor),
    or the facts themselves when they name their item (as ONTAP relationships do by ``destination_path``).
    """
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


def status_rows(result: dict[str, t.Any], rset: dict[str, t.Any], target: t.Any,
                max_lag: int | None = None) -> list[dict[str, t.Any]]:
    """Status rows of one set on one target from its vendor's ``*_info`` result."""
    row_vendor = vendor_of(rset)
    base = {"set": rset.get("name"), "vendor": row_vendor.name, "source": array_name(rset.get("source")),
            "target": array_name(target), "rpo_seconds": max_lag}
    if result.get("failed"):
        return [dict(base, item=None, state="unreadable", healthy=False, lag_seconds=None, over_rpo=True,
                     recovery_point=None, last_transfer=None, msg=result.get("msg", ""))]
    listed = result.get(row_vendor.list_key) or []
    rows = []
    for item in row_vendor.sets.set_facts(rset, listed, mount=False):
        facts = item.get("facts") or {}
        lag = facts.get("lag_seconds")
        rows.append(dict(base, item=row_vendor.sets.item_name(item), state=facts.get("state", "missing"),
                         healthy=bool(facts.get("healthy")), lag_seconds=lag,
                         recovery_point=facts.get("recovery_point"),
                         last_transfer=facts.get("last_transfer_end") or facts.get("last_transfer"),
                         over_rpo=bool(max_lag is not None and (lag is None or lag > max_lag)
                                       and facts.get("state") not in FENCED + ("missing",)),
                         msg="" if facts else "no replica on the target"))
    return rows


# ---------------------------------------------------------------------------- DR test copies

VERIFY_RESULTS = ("passed", "failed", "skipped")


def test_copies(rset: dict[str, t.Any], settings: dict[str, t.Any],
                read: dict[str, t.Any] | None = None) -> list[Item]:
    """The DR test copies of a set, as items of its vendor's clone module (see ``VendorSets.test_copies``).

    ``read`` is the registered result of the vendor's info module on the set's DR array; without it the
    set and ``settings`` are only checked (nothing can be started). When the read failed, every copy is
    ``missing`` with the reason, and none is sent.
    """
    sets = vendor_of(rset).sets
    list_key = vendor_of(rset).list_key
    if read is None:
        return sets.test_copies(rset, settings, None)
    if read.get("failed") or not isinstance(read.get(list_key), list):
        why = f"the set could not be read on its DR array: {read.get('msg', 'not read')}"
        copies = sets.test_copies(rset, dict(settings, state="stopped"), None) or \
            [{"set": rset.get("name"), "item": None, "copy": None, "order": 0}]
        state = COPY_STATES.get(str((settings or {}).get("state")), "present")
        return [dict(c, missing=why, state=state) for c in copies]
    return sets.test_copies(rset, settings, read[list_key])


def _copy_entries(result: dict[str, t.Any] | None, copies: list[Item],
                  list_key: str) -> list[tuple[Item, dict[str, t.Any]]]:
    """Each copy with what the clone module reported for it (in the order sent), or why there is nothing."""
    sent = [c for c in copies if c.get("missing") is None]
    entries = (result or {}).get(list_key)
    if not isinstance(entries, list):
        entries = []
        whole = f"the module failed before it reported this copy: {(result or {}).get('msg', 'no result')}"
    else:
        whole = "the module reported nothing for this copy"
    found = {id(c): e for c, e in zip(sent, entries)}
    out = []
    for copy in copies:
        if copy.get("missing") is not None:
            out.append((copy, {"failed": True, "msg": copy["missing"]}))
        else:
            out.append((copy, found.get(id(copy), {"failed": True, "msg": whole})))
    return out


def test_copy_rows(result: dict[str, t.Any] | None, rset: dict[str, t.Any], target: t.Any,
                   copies: list[Item]) -> list[dict[str, t.Any]]:
    """One report row per item of a set from the registered clone module result over its ``copies``.

    Row: set, vendor, target, item (the DR volume), copy, state (started or stopped), recovery_point,
    recovery_point_age_seconds, equal (the copy holds the replicated point in time unwritten; None when
    the array cannot tell, or the copy is gone), changed, failed, msg, actions and copy_facts (the module's
    facts of the copy). Several module items of one item (a stop that looks in more than one place) make
    one row.
    """
    row_vendor = vendor_of(rset)
    sets = row_vendor.sets
    states = {v: k for k, v in COPY_STATES.items()}
    grouped: dict[t.Any, list[tuple[Item, dict[str, t.Any]]]] = {}
    for copy, entry in _copy_entries(result, copies, sets.copy_list_key):
        grouped.setdefault(copy.get("item"), []).append((copy, entry))
    rows = []
    for item, parts in grouped.items():
        facts = next((e.get(sets.copy_object_key) for _c, e in parts if isinstance(e.get(sets.copy_object_key), dict)),
                     None)
        first = next((c for c, e in parts if facts is not None and e.get(sets.copy_object_key) is facts), parts[0][0])
        failed = any(e.get("failed") or e.get("skipped") for _c, e in parts)
        started = first.get("state") == "present"
        names = list(dict.fromkeys(sets.copy_name(c, e.get(sets.copy_object_key)) for c, e in parts))
        rows.append({
            "set": rset.get("name"), "vendor": row_vendor.name, "target": array_name(target), "item": item,
            "copy": names[0] if facts is not None or len(names) == 1 else ", ".join(names),
            "state": states.get(str(first.get("state")), first.get("state")),
            "recovery_point": (facts or {}).get("recovery_point"),
            "recovery_point_age_seconds": (facts or {}).get("recovery_point_age_seconds"),
            "equal": sets.copy_equal(first, facts) if started and facts and not failed else None,
            "changed": any(bool(e.get("changed")) for _c, e in parts), "failed": failed,
            "msg": "; ".join(dict.fromkeys(str(e.get("msg") or ("not run" if e.get("skipped") else ""))
                                           for _c, e in parts if e.get("msg") or e.get("skipped"))),
            "actions": [a for _c, e in parts for a in e.get("actions") or []],
            "copy_facts": facts})
        if rows[-1]["equal"] is False and not rows[-1]["msg"]:
            rows[-1]["msg"] = sets.copy_note(first, facts)
    return rows


def test_copy_summary(rows: list[dict[str, t.Any]], state: str,
                      verify: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Counts of DR test copy rows, the oldest recovery point, the verify hook's result and a one-line ``text``."""
    verify = dict(verify or {"result": "skipped", "msg": ""})
    if verify.get("result") not in VERIFY_RESULTS:
        raise SetError(f"a verify result is one of {', '.join(VERIFY_RESULTS)}, not {verify.get('result')!r}")
    ages = [r["recovery_point_age_seconds"] for r in rows if r.get("recovery_point_age_seconds") is not None]
    done = [r for r in rows if not r.get("failed") and r.get("state") == "started"]
    summary = {
        "state": state, "items": len(rows),
        "changed": sum(1 for r in rows if r.get("changed")),
        "failed": sum(1 for r in rows if r.get("failed")),
        "equal": sum(1 for r in done if r.get("equal") is True),
        "not_equal": sum(1 for r in done if r.get("equal") is False),
        "equal_unknown": sum(1 for r in done if r.get("equal") is None),
        "targets": sorted({str(r["target"]) for r in rows if r.get("target")}),
        "oldest_recovery_point_age_seconds": max(ages) if ages else None,
        "failed_items": [f"{r['set']}/{r['item']}: {r['msg']}" for r in rows if r.get("failed")],
        "verify": verify,
    }
    text = (f"DR test {state}: {summary['items']} item(s) on {', '.join(summary['targets']) or 'no array'}, "
            f"{summary['changed']} changed, {summary['failed']} failed")
    if state == "started":
        text += (f", {summary['equal']} equal to the replicated point in time, {summary['not_equal']} not, "
                 f"{summary['equal_unknown']} unknown, oldest recovery point "
                 f"{summary['oldest_recovery_point_age_seconds']}s old")
    summary["text"] = text + f"; verify {verify['result']}" + (f" ({verify['msg']})" if verify.get("msg") else "")
    return summary


def test_copy_lines(rows: list[dict[str, t.Any]]) -> list[str]:
    """One readable line per DR test copy row."""
    lines = []
    for row in rows:
        where = f"{row.get('set')} {row.get('item')} on {row.get('target')}"
        if row.get("failed"):
            lines.append(f"{where}: FAILED: {row.get('msg')}")
            continue
        text = f"{where}: {row.get('state')} {row.get('copy')}"
        if row.get("state") == "started":
            text += f", recovery point {row.get('recovery_point')}, equal={row.get('equal')}"
        if row.get("actions"):
            text += f", actions {','.join(row['actions'])}"
        lines.append(text + (f" ({row['msg']})" if row.get("msg") else ""))
    return lines
