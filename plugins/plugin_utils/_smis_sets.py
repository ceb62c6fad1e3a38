# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""SMI-S sets: one synchronization (mirror or clone) per source volume, through the array's provider.

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import (
    Item, SetError, VendorSets, phase_of, volume_entries)

FAILBACK_PHASES = {"failed_over": "failed_over", "synchronized": "home"}


class SmisSets(VendorSets):
    """Items are ``smis_sync`` synchronizations ``{source, target}``, named ``<source> -> <target>``."""

    in_sync_states = ("synchronized",)

    def cutover_state_of(self, rset: dict[str, t.Any]) -> str:
        """``failed_over``, or the set's ``options.failover_state``."""
        return str((rset.get("options") or {}).get("failover_state") or "failed_over")

    def items(self, rset: dict[str, t.Any], discovered: list[str] | None = None) -> list[Item]:
        """One synchronization per source volume.

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

    def set_facts(self, rset: dict[str, t.Any], listed: list[Item], mount: bool = True) -> list[Item]:
        """The set's items with the facts ``smis_sync_info`` reports for them (None when missing).

        A synchronization matches an item when its source and target match the item's by
        ElementName or DeviceID.
        """
        out = self.items(rset)
        for item in out:
            item["facts"] = next((f for f in listed
                                  if item["source"] in (f.get("source"), str(f.get("source_device_id")))
                                  and item["target"] in (f.get("target"), str(f.get("target_device_id")))), None)
        return out

    def failback_items(self, rset: dict[str, t.Any], *reads: list[Item]) -> list[Item]:
        """Failed-over synchronizations need a Failback (which copies the DR writes home); synchronized ones are home."""
        out = self.set_facts(rset, reads[0])
        for item in out:
            item["phase"] = phase_of(item.get("facts"), FAILBACK_PHASES)
        return out

    def module_item_name(self, item: Item) -> str:
        return f"{item.get('source')} -> {item.get('target')}"

    def missing_msg(self, item: Item, target: str) -> str:
        return f"no synchronization of this volume on {target}"

    def final_msg(self, phase: str) -> str:
        return ("the provider's Failback copies the DR writes to the source and resumes mirroring in the original "
                "direction, so cutover, re-establish and cleanup have nothing to do")

    # DR test copies: a replica (snapshot or clone) of each mirror's target element, through the DR provider.
    copy_list_key = "replicas"
    copy_object_key = "replica"

    def copy_target(self, item: Item) -> str:
        return str(item["target"])

    def copy_items(self, rset: dict[str, t.Any], item: Item, name: str, opts: dict[str, t.Any]) -> list[Item]:
        """One ``smis_replica`` named ``<target><suffix>`` of the target element; stopped, it names its source
        too, so a volume of that name that is not a replica of the target is never removed."""
        copy: Item = {"source": str(item["target"]), "name": name}
        if opts["state"] == "present":
            copy["sync_type"] = str(opts.get("smis_sync_type") or "auto")
        return [copy]

    def copy_equal(self, copy: Item, facts: Item) -> bool | None:
        """Nothing written to the replica, when the provider says how much was (most do not: None)."""
        written = facts.get("written_bytes")
        return None if written is None else written == 0

    def lab_volume_pairs(self, rset: dict[str, t.Any]) -> list[tuple[str, str, str]]:
        return [(i["item"], i["source"], i["target"]) for i in self.items(rset)]
