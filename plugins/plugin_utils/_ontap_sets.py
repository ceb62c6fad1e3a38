# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ONTAP sets: SnapMirror relationships from a source SVM to a target SVM, one per volume.

Besides the ``VendorSets`` interface, the failback of ONTAP sets is a flow of its
own (reverse resync, cutover, re-establish, cleanup); the functions below the
class tell where each item of it stands and what each step takes.

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import (
    Item, SetError, VendorSets, volume_entries)

# Failback phases, read from both sides, and the steps of the role's ONTAP failback.
PHASES = ("failed_over", "reversing", "reversed", "cut_over", "home")
STEP_PHASES = {"reverse": ("failed_over",), "cutover": ("reversing", "reversed"), "reestablish": ("cut_over",)}
REMAINING = {"failed_over": ["reverse", "cutover", "reestablish"], "reversing": ["cutover", "reestablish"],
             "reversed": ["cutover", "reestablish"], "cut_over": ["reestablish"], "home": [], "missing": []}
MIRRORED = ("snapmirrored", "in_sync")


class OntapSets(VendorSets):
    """Items are ``snapmirror`` relationships ``<source SVM>:<volume>`` -> ``<target SVM>:<replica>``."""

    failback_reads = 2
    in_sync_states = MIRRORED

    def items(self, rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[Item]:
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

    def set_facts(self, rset: dict[str, t.Any], listed: list[Item], mount: bool = True) -> list[Item]:
        """The set's items as a DR cluster sees them, from its ``snapmirror_info`` relationships.

        Explicit volumes map to their destination paths; ``volumes: all`` means
        every relationship whose source is in the set's source SVM. Each item keeps
        the relationship's facts under ``facts`` (None when the DR cluster has no
        such relationship) and gets a ``junction_path`` (``/<destination volume>``)
        when ``mount`` is true and the volume entry does not name one.
        """
        by_dest = {r.get("destination_path"): r for r in listed}
        if rset.get("volumes") not in (None, "all"):
            items = self.items(rset)
        else:
            src_svm = rset.get("source_container")
            by_source = {r.get("source_path"): r for r in listed if r.get("source_svm") == src_svm}
            names = [r.get("source_volume") for r in by_source.values() if r.get("source_volume")]
            items = []
            for item in self.items(rset, names) if names else []:
                item["destination_path"] = by_source[item["source_path"]]["destination_path"]
                items.append(item)
        for item in items:
            item["facts"] = by_dest.get(item["destination_path"])
            if mount and "junction_path" not in item:
                item["junction_path"] = "/" + item["destination_path"].split(":", 1)[1]
        return items

    def failback_items(self, rset: dict[str, t.Any], *reads: list[Item]) -> list[Item]:
        """The set's items for a failback, each with the phase the arrays show.

        The reads are the relationships the DR cluster lists (forward, primary -> DR)
        and the ones the primary lists (reverse, DR -> primary). An item is known by
        its primary path (``source_path``) and DR path (``destination_path``).
        """
        forward, reverse = reads
        rev_by_dest = {r.get("destination_path"): r for r in reverse}
        fwd_by_source = {r.get("source_path"): r for r in forward}
        if rset.get("volumes") not in (None, "all"):
            items = self.items(rset)
        else:
            src_svm = rset.get("source_container")
            names = {r.get("source_volume") for r in forward if r.get("source_svm") == src_svm}
            names |= {r.get("destination_volume") for r in reverse if r.get("destination_svm") == src_svm}
            items = self.items(rset, sorted(n for n in names if n)) if names else []
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

    def cut_over_whole(self, facts: Item) -> bool:
        """A broken-off relationship whose source has not been written since the snapshot its destination
        exports (``source_written_bytes`` from ``snapmirror_info`` with ``source_cluster``; unknown counts
        as whole, as before the source could be read)."""
        return not facts.get("source_written_bytes")

    def item_name(self, item: Item) -> str:
        return str(item.get("destination_path"))

    def missing_msg(self, item: Item, target: str) -> str:
        return f"no SnapMirror relationship for this volume on {target}"

    def lab_volume_pairs(self, rset: dict[str, t.Any]) -> list[tuple[str, str, str]]:
        return [(i["destination_path"], i["source_path"], i["destination_path"]) for i in self.items(rset)]

    # DR test copies: a FlexClone of each destination volume, at the snapshot its relationship last transferred.
    copy_list_key = "clones"
    copy_object_key = "clone"

    def copy_target(self, item: Item) -> str:
        return str(item["destination_path"])

    def copy_missing(self, item: Item) -> str | None:
        if not item.get("facts"):
            return self.missing_msg(item, "the DR cluster")
        if not item["facts"].get("exported_snapshot"):
            return "the relationship has transferred no snapshot yet: there is no point in time to copy"
        return None

    def copy_items(self, rset: dict[str, t.Any], item: Item, name: str, opts: dict[str, t.Any]) -> list[Item]:
        """One ``volume_clone`` clone ``<svm>:<volume><suffix>`` of the destination volume; started, mounted at
        ``<junction_prefix>/<clone name>`` with the export policy when one is given, and ``base``: the
        snapshot the relationship exports now, which the clone is made from (parent_snapshot omitted)."""
        svm, volume = item["destination_path"].split(":", 1)
        clone_name = name.split(":", 1)[1]
        copy: Item = {"svm": svm, "name": clone_name, "parent_volume": volume, "copy": name}
        if opts["state"] == "present":
            copy["junction_path"] = f"{str(opts.get('junction_prefix') or '').rstrip('/')}/{clone_name}"
            if opts.get("export_policy"):
                copy["export_policy"] = str(opts["export_policy"])
            copy["base"] = (item.get("facts") or {}).get("exported_snapshot")
        return [copy]

    def copy_equal(self, copy: Item, facts: Item) -> bool | None:
        """The clone is of the snapshot the relationship exported and nothing was written to it."""
        if facts.get("parent_snapshot") != copy.get("base") and facts.get("parent_snapshot") is not None:
            return False
        written = facts.get("written_bytes")
        if written is None or facts.get("parent_snapshot") is None:
            return None
        return written == 0

    def copy_note(self, copy: Item, facts: Item) -> str:
        notes = [f"{facts['written_bytes']} bytes were written to it since it was made"] \
            if facts.get("written_bytes") else []
        if facts.get("parent_snapshot") not in (None, copy.get("base")):
            notes.append(f"it holds {facts['parent_snapshot']}, an older transfer than {copy.get('base')}, which "
                         "the relationship exports now (stop and start again for a copy of it)")
        return "; ".join(notes)


def failback_phase(forward: Item | None, reverse: Item | None) -> str:
    """Where one item of a failback stands, read from the arrays.

    ``forward`` is the relationship primary -> DR as the DR cluster reports it,
    ``reverse`` the relationship DR -> primary as the primary reports it (None when absent).
    """
    if reverse is not None:
        if reverse.get("state") == "broken_off":
            return "cut_over"
        if reverse.get("state") in MIRRORED:
            return "reversed"
        return "reversing"
    if forward is None:
        return "missing"
    if forward.get("state") == "broken_off":
        return "failed_over"
    return "home"


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


def failback_step_items(items: list[Item], step: str) -> list[Item]:
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


def stale_reverses(items: list[Item], forward: list[Item], reverse: list[Item]) -> list[Item]:
    """Reverse relationships left on the primary for items that are home again (forward mirrored)."""
    fwd = {r.get("source_path"): r for r in forward}
    rev = {r.get("destination_path"): r for r in reverse}
    out = []
    for item in items:
        home = (fwd.get(item["source_path"]) or {}).get("state") in MIRRORED
        if home and item["source_path"] in rev:
            out.append({"destination_path": item["source_path"], "source_path": item["destination_path"]})
    return out
