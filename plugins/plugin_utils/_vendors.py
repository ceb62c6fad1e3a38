# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vendors of the collection: one table, read by the filters, the roles and the tests.

Adding a vendor adds one row here and one ``_<vendor>_sets.py``; nothing in the set
logic or the filters names a vendor. ``tests/unit/plugins/filter/test_vendors.py``
checks each row against the rest of the collection (modules, action groups, role
task files, credential types).

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.storage.replication.plugins.plugin_utils._ontap_sets import OntapSets
from ansible_collections.storage.replication.plugins.plugin_utils._set_base import SetError, VendorSets
from ansible_collections.storage.replication.plugins.plugin_utils._smis_sets import SmisSets
from ansible_collections.storage.replication.plugins.plugin_utils._vsp_sets import VspSets


@dataclasses.dataclass(frozen=True)
class Vendor:
    """One array family: its set logic, its modules (all of them: a test checks the action groups against them),
    and how its arrays are described."""

    name: str  # the value of a set's ``vendor`` and of an inventory host's ``replication_vendor``
    title: str
    sets: VendorSets  # the set logic (``_<vendor>_sets.py``)
    module: str  # the bulk module that keeps items in a state
    info_module: str  # the module that reads them
    clone_module: str | None  # the module that makes writable test copies of DR volumes (None: not yet)
    list_key: str  # the items' option of ``module``, and the list in both modules' results
    object_key: str  # where ``module`` reports the facts of one item of the list
    action_group: str  # for ``module_defaults``: the connection options of both modules
    env_prefix: str  # ``<PREFIX>_USERNAME``... what the modules and the roles read from the environment
    hostvars: t.Mapping[str, str]  # module option -> inventory host variable, beyond the common ``replication_*``
    lab_simulator: str  # the lab's simulator of the vendor's wire protocol
    # modules of the vendor's action group that no role calls yet (e.g. VSP remote copy, before its sets exist)
    extra_modules: tuple[str, ...] = ()

    @property
    def modules(self) -> tuple[str, ...]:
        """Every module of the vendor: what its action group holds."""
        return tuple(m for m in (self.module, self.info_module, self.clone_module) if m) + self.extra_modules

    def public(self) -> dict[str, t.Any]:
        """The row as data for plays (everything but the set logic, and the modules no role calls)."""
        return {f.name: dict(getattr(self, f.name)) if f.name == "hostvars" else getattr(self, f.name)
                for f in dataclasses.fields(self) if f.name not in ("sets", "extra_modules")}


VENDORS: dict[str, Vendor] = {v.name: v for v in (
    Vendor(name="ontap", title="NetApp ONTAP (SnapMirror)", sets=OntapSets(),
           module="storage.replication.snapmirror", info_module="storage.replication.snapmirror_info",
           clone_module="storage.replication.volume_clone",
           list_key="relationships", object_key="relationship", action_group="group/storage.replication.ontap",
           env_prefix="ONTAP", hostvars={}, lab_simulator="ontap"),
    Vendor(name="vsp", title="Hitachi VSP (ShadowImage)", sets=VspSets(),
           module="storage.replication.shadowimage_pair", info_module="storage.replication.shadowimage_pair_info",
           clone_module="storage.replication.thin_image_snapshot",
           list_key="pairs", object_key="pair", action_group="group/storage.replication.vsp",
           env_prefix="VSP", hostvars={"storage_device_id": "replication_storage_device_id"}, lab_simulator="vsp",
           extra_modules=("storage.replication.remote_copy_pair", "storage.replication.remote_copy_pair_info")),
    Vendor(name="smis", title="SMI-S arrays (HPE 3PAR and other CIM/WBEM providers)", sets=SmisSets(),
           module="storage.replication.smis_sync", info_module="storage.replication.smis_sync_info",
           clone_module="storage.replication.smis_replica",
           list_key="synchronizations", object_key="synchronization", action_group="group/storage.replication.smis",
           env_prefix="SMIS", hostvars={"namespace": "replication_namespace"}, lab_simulator="smis"),
)}

# Derived views of the table.
ENV_PREFIX = {name: v.env_prefix for name, v in VENDORS.items()}


def vendor_named(name: t.Any) -> Vendor:
    """The vendor named ``name``; an unknown name fails, listing the known ones."""
    try:
        return VENDORS[name]
    except (KeyError, TypeError):
        raise SetError(f"unknown vendor {name!r}: one of {', '.join(sorted(VENDORS))}") from None


def vendor_of(rset: dict[str, t.Any]) -> Vendor:
    """The vendor of a replication set."""
    if not isinstance(rset, dict):
        raise SetError(f"a replication set is a dict, not {type(rset).__name__}")
    try:
        return vendor_named(rset.get("vendor"))
    except SetError as exc:
        raise SetError(f"set {rset.get('name')!r}: {exc}") from None
