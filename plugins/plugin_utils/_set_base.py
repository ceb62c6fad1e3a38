# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The replication set format, and the interface every vendor's set logic implements.

A set names its vendor, its source and target arrays (inventory host names or
connection dicts) and its volumes. This module reads what every vendor reads the
same way (arrays, targets, volume entries, fencing waves) and defines
``VendorSets``: the few things the roles ask of one vendor's sets. Each vendor
has a subclass in ``_<vendor>_sets.py``; ``_vendors.py`` names them.

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import fnmatch
import typing as t

Item = dict[str, t.Any]

# States in which an item's replica was made writable (fenced) by a failover.
FENCED = ("broken_off", "split", "failed_over", "fractured", "suspended")
# Keys the roles keep on items for themselves; never sent to a module.
METADATA_KEYS = ("order", "set", "volume", "facts", "phase", "item", "copy", "missing", "base")
# The dr_test role's states, and the state of its vendors' copy modules for each.
COPY_STATES = {"started": "present", "stopped": "absent"}


class SetError(ValueError):
    """A replication set (or what was read for it) that the roles cannot work with."""


def array_name(ref: t.Any) -> str:
    """The name of an array reference: the inventory host name, or a dict's ``name`` (else ``hostname``)."""
    return ref if isinstance(ref, str) else str(ref.get("name") or ref.get("hostname"))


def set_targets(rset: dict[str, t.Any]) -> list[t.Any]:
    """The set's target arrays: ``targets``, else ``[target]``."""
    targets = rset.get("targets") or ([rset["target"]] if rset.get("target") else [])
    if not targets:
        raise SetError(f"set {rset.get('name')!r} names no target (target or targets)")
    return list(targets)


def volume_entries(rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[Item]:
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


def module_items(items: list[Item], drop: t.Iterable[str] = ()) -> list[Item]:
    """The items without the keys the roles keep for themselves (order, set, volume...) and ``drop``."""
    skip = set(METADATA_KEYS) | set(drop)
    return [{k: v for k, v in item.items() if k not in skip} for item in items]


def fence_waves(items: list[Item], reverse: bool = False) -> list[list[Item]]:
    """Items grouped by ``order``: wave 0 first (fencing) or last (``reverse``, unfencing)."""
    orders = sorted({int(i.get("order", 0)) for i in items}, reverse=reverse)
    return [[i for i in items if int(i.get("order", 0)) == order] for order in orders]


def phase_of(facts: dict[str, t.Any] | None, phases: t.Mapping[str, str]) -> str:
    """The failback phase of an item from its facts: ``phases`` maps states; unknown states stay as they are."""
    state = (facts or {}).get("state")
    if state is None:
        return "missing"
    return phases.get(str(state), str(state))


class VendorSets:
    """What the roles and filters need to know about one vendor's sets.

    A subclass per vendor implements ``items``, ``set_facts`` and ``failback_items``
    and overrides the hooks whose defaults do not fit. Items are dicts: the options
    of one item of the vendor's bulk module plus the keys of ``METADATA_KEYS``.
    """

    #: How many lists of the info module ``failback_items`` takes (ONTAP: the DR side's and the primary's).
    failback_reads = 1
    #: The states of an item whose target follows its source; a planned failover brings every other item
    #: into one of them (its catch-up step) before it cuts any item of the set over.
    in_sync_states: tuple[str, ...] = ()
    #: Item keys the catch-up and the cutover do not send (e.g. how to create a missing target).
    cutover_drop: tuple[str, ...] = ()
    #: The results of the vendor's clone module (DR test copies): its list of a bulk run, the facts of one copy.
    copy_list_key = ""
    copy_object_key = ""

    def items(self, rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[Item]:
        """The items of the vendor's bulk module for a set, in fencing order."""
        raise NotImplementedError

    def set_facts(self, rset: dict[str, t.Any], listed: list[Item], mount: bool = True) -> list[Item]:
        """The set's items as an array reports them: each with ``facts`` from the info module's list (or None)."""
        raise NotImplementedError

    def failback_items(self, rset: dict[str, t.Any], *reads: list[Item]) -> list[Item]:
        """The set's items, each with the ``phase`` of the failback it is in, from what the info module read."""
        raise NotImplementedError

    def candidate(self, rset: dict[str, t.Any], listed: list[Item], mount: bool = True) -> dict[str, t.Any]:
        """A failover target candidate from the info module's list on that target (``items``, and any extra)."""
        return {"items": self.set_facts(rset, listed, mount)}

    def result_facts(self, facts: Item) -> Item:
        """An item's facts as the bulk module reported them, in the shape ``set_facts`` gives."""
        return facts

    def cutover_state_of(self, rset: dict[str, t.Any]) -> str:
        """The state a failover of the set leaves its items in (a SnapMirror break's by default)."""
        return "broken_off"

    def cut_over_whole(self, facts: Item) -> bool:
        """Whether an item in its cutover state holds all of its source's data: failed over by a run that
        caught it up first, not broken or split by hand before the source was written. A planned failover
        catches up the items this denies, so a rerun skips only what is really done."""
        return True

    def failover_waves(self, entry: dict[str, t.Any]) -> list[list[Item]]:
        """The module items of each failover step of a plan entry, fencing order first.

        The default fences the items that have a replica on the target (``facts``), wave by wave.
        """
        return [module_items(wave, self.cutover_drop)
                for wave in fence_waves([i for i in entry["items"] if i.get("facts")])]

    def item_name(self, item: Item) -> str:
        """How reports name an item."""
        return str(item.get("item"))

    def module_item_name(self, item: Item) -> str:
        """How reports name an item given as the vendor's module takes it (without the roles' keys)."""
        return self.item_name(item)

    def missing_msg(self, item: Item, target: str) -> str:
        """Why a failover reports an item without a replica on its target."""
        return f"no replica of this volume on {target}"

    def final_msg(self, phase: str) -> str:
        """What the failback report says of an item that came home (``phase`` is ``home``)."""
        return ""

    def report_entries(self, entries: list[Item]) -> list[Item]:
        """The entries of a bulk module result, one per report row (a group result may stand for several)."""
        return entries

    def adjust_row(self, row: dict[str, t.Any], step: str, facts: Item) -> dict[str, t.Any]:
        """A report row with what the vendor knows beyond the row's facts (``facts``: the module's, whole)."""
        return row

    def lab_volume_pairs(self, rset: dict[str, t.Any]) -> list[tuple[str, str, str]]:
        """``(item, source volume, target volume)`` of each item, as the lab's control API names volumes."""
        return [(str(e["target_name"]), str(e["name"]), str(e["target_name"])) for e in volume_entries(rset)]

    # ------------------------------------------------------------------------ DR test copies
    def test_copies(self, rset: dict[str, t.Any], settings: dict[str, t.Any],
                    listed: list[Item] | None) -> list[Item]:
        """The DR test copies of a set: per item of the set, the items of the vendor's clone module.

        ``listed`` is what the info module read on the DR array (None when it was not read: the items
        then have no facts and starting them is not possible). Every copy item carries ``set``, ``item``
        (the DR volume it copies), ``copy`` (its name), ``order`` and ``missing`` (why it cannot be
        started, else None); names come from the set and ``settings`` alone, so a later run finds the
        copies again. ``settings`` are checked by ``copy_settings``.
        """
        opts = copy_settings(settings)
        present = opts["state"] == "present"
        out = []
        for item in self.set_facts(rset, listed or [], mount=False):
            target = self.copy_target(item)
            name = f"{target}{opts['suffix']}"
            if name == target:
                raise SetError(f"set {rset.get('name')!r}: the test copy of {target} would have its name")
            why = (self.copy_missing(item) if listed is not None else "the DR array was not read") if present else None
            for copy in self.copy_items(rset, item, name, opts):
                copy.update(state=opts["state"], set=rset.get("name"), item=target, order=item.get("order", 0),
                            missing=why, copy=copy.get("copy", name))
                if not present:
                    copy["allow_data_loss"] = opts["allow_data_loss"]
                out.append(copy)
        return out

    def copy_target(self, item: Item) -> str:
        """The name of the DR volume an item's test copy copies (its report row's ``item``)."""
        raise NotImplementedError

    def copy_missing(self, item: Item) -> str | None:
        """Why an item (with the facts the info module read) cannot have a test copy now, else None."""
        return None if item.get("facts") else self.missing_msg(item, "the DR array")

    def copy_items(self, rset: dict[str, t.Any], item: Item, name: str, opts: dict[str, t.Any]) -> list[Item]:
        """The clone module items of one item's test copy named ``name`` (``opts``: the checked settings)."""
        raise NotImplementedError

    def copy_equal(self, copy: Item, facts: Item) -> bool | None:
        """Whether a test copy holds the replicated point in time with nothing written to it since (None:
        the array cannot tell), from the clone module's facts of it."""
        raise NotImplementedError

    def copy_note(self, copy: Item, facts: Item) -> str:
        """What the report says of a started copy that is not equal (why not), else nothing."""
        return ""

    def copy_name(self, copy: Item, facts: Item | None) -> str:
        """How the report names a test copy (its name, or where the array keeps it)."""
        return str(copy.get("copy"))


def copy_settings(settings: dict[str, t.Any]) -> dict[str, t.Any]:
    """The dr_test role's settings checked: ``state`` (started or stopped, turned into the copy modules'
    present or absent) and ``suffix`` (not empty) are required; the rest pass as they are."""
    opts = dict(settings or {})
    if opts.get("state") not in COPY_STATES:
        raise SetError(f"dr_test_state is {opts.get('state')!r}: give started or stopped")
    opts["state"] = COPY_STATES[opts["state"]]
    if not isinstance(opts.get("suffix"), str) or not opts["suffix"].strip():
        raise SetError("dr_test_suffix is empty: the test copies need a name of their own (default _drtest)")
    opts["allow_data_loss"] = bool(opts.get("allow_data_loss"))
    return opts


def optional_int(value: t.Any, name: str) -> int | None:
    """An optional whole number (a role variable or a set option, maybe a string), or a SetError naming it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise SetError(f"{name} is {value!r}: give a whole number") from None
