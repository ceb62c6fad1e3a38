# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""VSP sets: ShadowImage pairs (local copies), one per P-VOL, in the set's copy group.

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import (
    Item, SetError, VendorSets, optional_int, phase_of, volume_entries)

FAILBACK_PHASES = {"split": "failed_over", "restoring": "reversing", "paired": "home"}
SNAPSHOT_GROUP_PREFIX = "drtest_"
GROUP_NOTE = "split with its copy group in one operation: every S-VOL of the group holds the same point in time"


class VspSets(VendorSets):
    """Items are ``shadowimage_pair`` pairs ``{copy_group, pair_name, pvol, svol}``, named ``<copy_group>/<pair_name>``."""

    in_sync_states = ("paired",)
    cutover_drop = ("svol",)

    def items(self, rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[Item]:
        """One pair per P-VOL in the set's copy group.

        A volume entry that names its ``target_name`` pairs with that LDEV; otherwise the
        S-VOL is created in the pool ``target_container``.
        """
        if rset.get("volumes") in (None, "all"):
            raise SetError(f"set {rset.get('name')!r}: VSP sets list their P-VOL LDEV ids in volumes")
        explicit = {str(v["name"]): v["target_name"] for v in rset["volumes"]
                    if isinstance(v, dict) and "target_name" in v}
        group = copy_group(rset)
        out = []
        for entry in volume_entries(rset):
            name = entry["name"]
            if not name.isdigit():
                raise SetError(f"set {rset.get('name')!r}: VSP volume {name!r} is not an LDEV id")
            out.append({"copy_group": group, "pair_name": f"p{name}", "pvol": int(name),
                        "svol": _svol(rset, name, explicit), "order": entry["order"], "set": rset.get("name"),
                        "volume": name})
        return out

    def set_facts(self, rset: dict[str, t.Any], listed: list[Item], mount: bool = True) -> list[Item]:
        """The set's pairs with the facts ``shadowimage_pair_info`` reports for them (None when missing)."""
        by_name = {(p.get("copy_group"), p.get("pair_name")): p for p in listed}
        items = self.items(rset)
        for item in items:
            item["facts"] = _pair_facts(by_name.get((item["copy_group"], item["pair_name"])))
            item["item"] = f"{item['copy_group']}/{item['pair_name']}"
        return items

    def candidate(self, rset: dict[str, t.Any], listed: list[Item], mount: bool = True) -> dict[str, t.Any]:
        """A local pair has one candidate, its array; ``group_split`` says whether one split takes the whole group."""
        items = self.set_facts(rset, listed)
        return {"items": items, "group_split": group_split(items, listed)}

    def failback_items(self, rset: dict[str, t.Any], *reads: list[Item]) -> list[Item]:
        """The set's pairs for a failback: split ones need a restore (S-VOL -> P-VOL); paired ones are home."""
        items = self.set_facts(rset, reads[0])
        for item in items:
            item["phase"] = phase_of(item.get("facts"), FAILBACK_PHASES)
        return items

    def failover_waves(self, entry: dict[str, t.Any]) -> list[list[Item]]:
        """One split of the whole copy group when the plan says so, else the pairs wave by wave (without ``svol``)."""
        if entry.get("group_split"):
            return [[{"copy_group": entry["items"][0]["copy_group"]}]]
        return super().failover_waves(entry)

    def cutover_state_of(self, rset: dict[str, t.Any]) -> str:
        return "split"

    def cut_over_whole(self, facts: Item) -> bool:
        """A split pair whose volumes are identical (``copyProgressRate`` 100): nothing written on either side
        since the split. ShadowImage does not say which side a difference was written on, so a split pair with
        writes is caught up again, and its resync refuses (unknown bytes) without ``allow_data_loss``."""
        return facts.get("progress") == 100

    def result_facts(self, facts: Item) -> Item:
        return _pair_facts(facts) or facts

    def module_item_name(self, item: Item) -> str:
        if item.get("pair_name") is None:
            return str(item.get("copy_group"))
        return f"{item.get('copy_group')}/{item.get('pair_name')}"

    def missing_msg(self, item: Item, target: str) -> str:
        return f"no ShadowImage pair for this P-VOL in copy group {item.get('copy_group')}"

    def final_msg(self, phase: str) -> str:
        return ("local pair: the restore brings the DR writes to the P-VOL and the pair mirrors P-VOL to S-VOL "
                "again, so cutover, re-establish and cleanup have nothing to do")

    def report_entries(self, entries: list[Item]) -> list[Item]:
        """``shadowimage_pair`` results with each copy group item turned into one entry per pair of the group."""
        out = []
        for entry in entries:
            group = entry.get("group")
            if entry.get("pair_name") is not None or not isinstance(group, dict) or not group.get("pairs"):
                out.append(entry)
                continue
            for pair in group["pairs"]:
                row = dict(entry, item=f"{entry['copy_group']}/{pair.get('pair_name')}", pair=pair)
                if not entry.get("failed") and not entry.get("msg") and entry.get("changed"):
                    row["msg"] = GROUP_NOTE
                out.append(row)
        return out

    def adjust_row(self, row: dict[str, t.Any], step: str, facts: Item) -> dict[str, t.Any]:
        """A failover's split pair: with identical volumes (``copyProgressRate`` 100) the S-VOL holds the
        P-VOL's data up to now, its recovery point; otherwise it holds an older point in time the array does
        not date (split before this run, or its copy never completed), and the row fails saying so."""
        if step != "failover" or row.get("state") != "split" or row["failed"]:
            return row
        if facts.get("progress") == 100:
            row["recovery_point"] = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
            row["lag_seconds"] = 0
            return row
        row.update(failed=True, msg=(
            f"split, but its volumes differ ({facts.get('progress')}% identical): the S-VOL holds an older point "
            "in time than the P-VOL, which the array does not date (split before this run, or its copy never "
            "completed), so the P-VOL's later writes are not on it; the S-VOL is writable as it is. Resync the "
            "pair first (shadowimage_pair pair_state: paired) to fail over with every write"))
        return row

    # DR test copies: Thin Image snapshots in the snapshot group drtest_<set name>, never touching the pairs.
    copy_list_key = "snapshots"
    copy_object_key = "snapshot"

    def copy_target(self, item: Item) -> str:
        """The S-VOL LDEV id (the set's, else the pair's); ``p<P-VOL>`` when neither is known yet."""
        svol = item["svol"] if isinstance(item["svol"], int) else (item.get("facts") or {}).get("svol")
        return str(svol) if svol is not None else f"p{item['pvol']}"

    def copy_items(self, rset: dict[str, t.Any], item: Item, name: str, opts: dict[str, t.Any]) -> list[Item]:
        """Started: one ``thin_image_snapshot`` of the S-VOL when the ShadowImage pair is split (it holds the
        DR copy), else of the P-VOL (Thin Image refuses an S-VOL whose pair is not split; a snapshot of the
        P-VOL holds what the S-VOL would hold if split now). Stopped: the snapshots of both, so whatever an
        earlier run made goes, found by the snapshot group and the S-VOL label."""
        common = {"snapshot_group": snapshot_group(rset), "label": name[:32], "copy": name}
        facts = item.get("facts") or {}
        svol = item["svol"] if isinstance(item["svol"], int) else facts.get("svol")
        options = rset.get("options") or {}
        svol_pool = optional_int(_first(options.get("dr_test_svol_pool_id"), opts.get("vsp_svol_pool_id")),
                                 "the S-VOL pool id")
        if opts["state"] == "absent":  # with the S-VOL pool, S-VOLs a run made before it was stopped are found too
            extra = {"svol_pool_id": svol_pool} if svol_pool is not None else {}
            return [dict(common, pvol=pvol, **extra) for pvol in dict.fromkeys((item["pvol"], svol)) if pvol is not None]
        pool = optional_int(_first(options.get("dr_test_pool_id"), opts.get("vsp_pool_id")), "the snapshot pool id")
        if pool is None:
            raise SetError(f"set {rset.get('name')!r}: Thin Image test copies need a snapshot pool: set "
                           "dr_test_vsp_pool_id or the set's options.dr_test_pool_id")
        copy = dict(common, pvol=svol if facts.get("state") == "split" and svol is not None else item["pvol"],
                    pool_id=pool)
        if svol_pool is not None:
            copy["svol_pool_id"] = svol_pool
        return [copy]

    def copy_equal(self, copy: Item, facts: Item) -> bool | None:
        """Unwritten since the snapshot was taken (the array's ``isWrittenInSvol``)."""
        written = facts.get("written")
        return None if written is None else not written

    def copy_note(self, copy: Item, facts: Item) -> str:
        return "its S-VOL was written since the snapshot was taken" if facts.get("written") else ""

    def copy_name(self, copy: Item, facts: Item | None) -> str:
        """``<snapshot group>/<P-VOL snapshotted>``, with the S-VOL LDEV that hosts reach it on."""
        name = f"{copy.get('snapshot_group')}/{copy.get('pvol')}"
        svol = (facts or {}).get("svol")
        return f"{name} (S-VOL {svol})" if svol is not None else name

    def lab_volume_pairs(self, rset: dict[str, t.Any]) -> list[tuple[str, str, str]]:
        out = []
        for item in self.items(rset):
            if not isinstance(item["svol"], int):
                raise SetError(f"set {rset.get('name')!r}: lab rehearsals need the S-VOL of each LDEV (target_name)")
            out.append((f"{item['copy_group']}/{item['pair_name']}", str(item["pvol"]), str(item["svol"])))
        return out


def copy_group(rset: dict[str, t.Any]) -> str:
    """The set's copy group: ``options.copy_group``, else the set's name (at most 29 characters)."""
    group = (rset.get("options") or {}).get("copy_group") or str(rset.get("name", ""))
    if len(group) > 29:
        raise SetError(f"set {rset.get('name')!r}: the copy group name {group!r} is over 29 characters; "
                       "set options.copy_group")
    return group


def snapshot_group(rset: dict[str, t.Any]) -> str:
    """The Thin Image snapshot group of a set's DR test copies: ``drtest_<set name>``, at most 32 characters."""
    return f"{SNAPSHOT_GROUP_PREFIX}{rset.get('name', '')}"[:32]


def _first(*values: t.Any) -> t.Any:
    """The first value that is set (not None, not an empty string)."""
    return next((v for v in values if v is not None and v != ""), None)


def _svol(rset: dict[str, t.Any], name: str, explicit: dict[str, t.Any]) -> t.Any:
    """The S-VOL of P-VOL ``name``: the LDEV its entry names, else a new one in the pool ``target_container``."""
    try:
        if name in explicit:
            return int(explicit[name])
        if rset.get("target_container") is not None:
            return {"pool_id": int(rset["target_container"])}
    except (TypeError, ValueError) as exc:
        raise SetError(f"set {rset.get('name')!r}: the S-VOL of LDEV {name} (target_name) and the pool "
                       "(target_container) must be numbers") from exc
    raise SetError(f"set {rset.get('name')!r}: LDEV {name} has no target_name (S-VOL) and the set no "
                   "target_container (pool for new S-VOLs)")


def _pair_facts(facts: Item | None) -> Item | None:
    """ShadowImage pair facts with a lag: a local PAIR is in sync (0 s); a split pair has none."""
    if facts is None:
        return None
    out = dict(facts)
    if out.get("lag_seconds") is None and out.get("state") == "paired":
        out["lag_seconds"] = 0
    return out


def group_split(set_items: list[Item], pairs: list[Item]) -> bool:
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
