# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: lab
short_description: The lab's simulated arrays as inventory hosts
version_added: 0.1.0
description:
  - Reads the C(endpoints.json) that the storage.replication lab writes when it starts (C(make lab-up)) and
    makes one host per simulated array, in a group per vendor (C(ontap), C(vsp), C(smis)).
  - Each host gets the connection variables the collection's roles read from inventory hosts
    (C(replication_vendor), C(replication_endpoint), C(replication_username), C(replication_password),
    C(replication_ca_path), C(replication_validate_certs)) plus C(lab_control_url). The credentials and CA
    file are read from what the lab wrote at start, never copied into the inventory file.
  - The inventory file must end in C(.lab.yml) or C(.lab.yaml), or be named C(lab.yml).
author:
  - storage.replication maintainers (@storage-replication)
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [storage.replication.lab]
  endpoints_file:
    description:
      - Path of the lab's C(endpoints.json). A relative path is taken from the inventory file's directory.
      - When E(LAB_DIR) is set (the Makefile sets it), C(endpoints.json) in that directory is used instead.
    type: str
    default: ../../.lab/endpoints.json
    env:
      - name: LAB_ENDPOINTS
"""

EXAMPLES = r"""
# playbooks/inventory/lab.yml
plugin: storage.replication.lab
endpoints_file: ../../.lab/endpoints.json
"""

import json
import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

from ansible_collections.storage.replication.plugins.plugin_utils._vendors import VENDORS

# what an array's entry in endpoints.json gives beyond the common fields: each vendor's own host variables
# (from the vendor registry), and the lab's extras
VENDOR_EXTRAS = {**{option: var for vendor in VENDORS.values() for option, var in vendor.hostvars.items()},
                 "http_url": "replication_http_endpoint", "svms": "replication_svms"}


class InventoryModule(BaseInventoryPlugin):
    NAME = "storage.replication.lab"

    def verify_file(self, path: str) -> bool:
        name = os.path.basename(path)
        return super().verify_file(path) and (name in ("lab.yml", "lab.yaml") or
                                              name.endswith((".lab.yml", ".lab.yaml")))

    def parse(self, inventory, loader, path, cache=True):  # type: ignore[no-untyped-def]
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        endpoints_file = os.path.expanduser(self.get_option("endpoints_file"))
        if not os.path.isabs(endpoints_file):
            endpoints_file = os.path.normpath(os.path.join(os.path.dirname(path), endpoints_file))
        if "LAB_ENDPOINTS" not in os.environ and os.environ.get("LAB_DIR"):
            endpoints_file = os.path.join(os.environ["LAB_DIR"], "endpoints.json")
        try:
            with open(endpoints_file, encoding="utf-8") as handle:
                endpoints = json.load(handle)
        except (OSError, ValueError) as exc:
            raise AnsibleParserError(f"cannot read the lab's endpoints from {endpoints_file} ({exc}); "
                                     "start the lab with 'make lab-up'") from exc
        for name, info in sorted(endpoints.get("arrays", {}).items()):
            vendor = info.get("vendor", "unknown")
            self.inventory.add_group(vendor)
            self.inventory.add_host(name, group=vendor)
            values = {
                "ansible_connection": "local",
                "replication_vendor": vendor,
                "replication_endpoint": info["url"],
                "replication_username": info["username"],
                "replication_password": info["password"],
                "replication_ca_path": info["ca_file"],
                "replication_validate_certs": True,
                "lab_control_url": endpoints.get("control_url"),
                "lab_array_control_url": info.get("control_url"),
            }
            for key, var in VENDOR_EXTRAS.items():
                if key in info:
                    values[var] = info[key]
            for key, value in values.items():
                self.inventory.set_variable(name, key, value)
        self.inventory.add_group("lab")
        self.inventory.set_variable("lab", "lab_control_url", endpoints.get("control_url"))
        for name in endpoints.get("arrays", {}):
            self.inventory.add_child("lab", name)
