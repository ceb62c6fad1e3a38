"""The vendor registry (plugin_utils/_vendors.py) against the rest of the collection.

Each row must name modules that exist, an action group of meta/runtime.yml holding both,
the list key and host variables the modules take, the environment variables the modules
read, a lab simulator, and the task files the roles and the status playbook include for
the vendor. The shared task files and the vendor-neutral set logic name no vendor.
"""

from __future__ import annotations

import importlib
import os
import re

import pytest
import yaml

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import SetError, VendorSets
from ansible_collections.storage.replication.plugins.plugin_utils._sets import vendor_info
from ansible_collections.storage.replication.plugins.plugin_utils._vendors import VENDORS, vendor_named

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
NAMES = sorted(VENDORS)
# The task files a vendor adds, by role (or playbook directory); {v} is the vendor's name.
VENDOR_TASK_FILES = {
    "roles/backend_replication/tasks": ["{v}.yml"],
    "roles/failover/tasks": ["{v}_read.yml", "{v}_fence.yml"],
    "roles/failback/tasks": ["{v}.yml"],
    "roles/dr_test/tasks": ["{v}_read.yml", "{v}.yml"],
    "playbooks/tasks": ["status_{v}.yml"],
}
# Task files shared by every vendor, and the vendor-neutral Python: they name no vendor.
SHARED_FILES = ["roles/backend_replication/tasks/main.yml", "roles/backend_replication/tasks/protect.yml",
                "roles/failover/tasks/main.yml", "roles/failover/tasks/read.yml", "roles/failover/tasks/act.yml",
                "roles/failback/tasks/main.yml", "roles/failback/tasks/restore.yml", "playbooks/status.yml",
                "playbooks/tasks/status_read.yml", "plugins/plugin_utils/_sets.py",
                "plugins/plugin_utils/_set_base.py", "plugins/filter/replication.py",
                "roles/dr_test/tasks/main.yml", "roles/dr_test/tasks/copies.yml"]


def module_doc(fqcn: str) -> tuple[dict, dict]:
    name = fqcn.rsplit(".", 1)[1]
    module = importlib.import_module(f"ansible_collections.storage.replication.plugins.modules.{name}")
    return yaml.safe_load(module.DOCUMENTATION), yaml.safe_load(module.RETURN) or {}


def fragment_options(doc: dict) -> dict:
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        name, var = (fragment.split(".", 2)[2].split(".") + [""])[:2]
        mod = importlib.import_module(f"ansible_collections.storage.replication.plugins.doc_fragments.{name}")
        text = getattr(mod.ModuleDocFragment, var.upper() or "DOCUMENTATION")
        options.update(yaml.safe_load(text).get("options") or {})
    return options


@pytest.mark.parametrize("name", NAMES)
def test_a_row_names_modules_the_collection_has_in_the_vendor_action_group(name):
    row = VENDORS[name]
    assert row.name == name and isinstance(row.sets, VendorSets)
    runtime = yaml.safe_load(open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8"))
    prefix = "group/storage.replication."
    assert row.action_group.startswith(prefix)
    group = runtime["action_groups"][row.action_group[len(prefix):]]
    assert set(row.modules) == {f"storage.replication.{m}" for m in group}, "the row names every module of its group"
    assert row.module in row.modules and row.info_module in row.modules
    for fqcn in row.modules:
        doc, returned = module_doc(fqcn)
        options = fragment_options(doc)
        assert fqcn == row.clone_module or row.list_key in returned, f"{fqcn} returns no {row.list_key}"
        assert set(row.hostvars) <= set(options), f"{fqcn} takes no {set(row.hostvars) - set(options)}"
        described = " ".join(" ".join(o.get("description") or []) if isinstance(o.get("description"), list)
                             else str(o.get("description")) for o in options.values())
        assert f"{row.env_prefix}_PASSWORD" in described, f"{fqcn} reads no {row.env_prefix}_PASSWORD"
        assert f"storage.replication.{name}.actiongroup" in doc["extends_documentation_fragment"], fqcn
    assert row.list_key in module_doc(row.module)[0]["options"]


def test_every_module_of_the_collection_is_in_one_vendor_row():
    modules = {os.path.splitext(f)[0] for f in os.listdir(os.path.join(REPO, "plugins", "modules"))
               if f.endswith(".py") and not f.startswith("_")}
    named = [m.rsplit(".", 1)[1] for row in VENDORS.values() for m in row.modules]
    assert sorted(named) == sorted(modules)


@pytest.mark.parametrize("name", NAMES)
def test_a_row_has_the_task_files_the_roles_include_for_it(name):
    row = VENDORS[name]
    for folder, patterns in VENDOR_TASK_FILES.items():
        for pattern in patterns:
            path = os.path.join(REPO, folder, pattern.format(v=name))
            assert os.path.isfile(path), f"missing {path}"
    # Each vendor task file calls only its vendor's modules, and passes connections through its action group.
    for folder in VENDOR_TASK_FILES:
        for file in os.listdir(os.path.join(REPO, folder)):
            if not re.match(rf"^(status_)?{name}(_\w+)?\.yml$", file):
                continue
            text = open(os.path.join(REPO, folder, file), encoding="utf-8").read()
            modules = set(re.findall(r"^\s*-? ?(storage\.replication\.\w+):", text, re.M))
            assert modules <= {row.module, row.info_module, row.clone_module}, f"{folder}/{file} calls {modules}"
            groups = set(re.findall(r"(group/storage\.replication\.\w+):", text))
            assert groups <= {row.action_group}
            assert "hostname:" not in text and "password" not in text, f"{folder}/{file} passes connection keys"


def test_the_lab_has_a_simulator_for_every_vendor():
    simulators = pytest.importorskip("storage_replication_lab.simulators").SIMULATORS
    assert {row.lab_simulator for row in VENDORS.values()} <= set(simulators)


def test_shared_files_name_no_vendor():
    literal = re.compile("|".join(rf"""['"]{re.escape(n)}['"]|\b{re.escape(n)}_\w+\.yml|group/storage\.replication\.{n}\b"""
                                  for n in NAMES))
    for rel in SHARED_FILES:
        text = open(os.path.join(REPO, rel), encoding="utf-8").read()
        assert not literal.search(text), f"{rel} names a vendor: {literal.search(text).group(0)}"
        assert "storage.replication.snapmirror" not in text and "shadowimage_pair" not in text \
            and "smis_sync" not in text, f"{rel} calls a vendor's module"


def test_unknown_vendors_fail_naming_the_known_ones():
    with pytest.raises(SetError, match="unknown vendor 'xyz': one of " + ", ".join(NAMES)):
        vendor_named("xyz")
    with pytest.raises(SetError, match="set 's': unknown vendor None"):
        vendor_info({"name": "s"})


def test_the_row_as_data_has_everything_but_the_set_logic():
    row = vendor_info({"name": "s", "vendor": "vsp"})
    assert row == {"name": "vsp", "title": VENDORS["vsp"].title, "module": "storage.replication.shadowimage_pair",
                   "info_module": "storage.replication.shadowimage_pair_info",
                   "clone_module": "storage.replication.thin_image_snapshot",
                   "list_key": "pairs",
                   "object_key": "pair", "action_group": "group/storage.replication.vsp", "env_prefix": "VSP",
                   "hostvars": {"storage_device_id": "replication_storage_device_id"}, "lab_simulator": "vsp"}
    assert vendor_info("smis")["hostvars"] == {"namespace": "replication_namespace"}
