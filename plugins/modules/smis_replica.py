#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smis_replica
short_description: Make and remove writable test copies (snapshots or clones) of SMI-S volumes
version_added: 0.1.0
description:
  - Creates and removes snapshots and clones of a storage volume through the SNIA Replication Services of an
    SMI-S provider (CIM_ReplicationService.CreateElementReplica), such as HPE 3PAR virtual and physical copies.
    For a DR rehearsal, copy the target element of a mirror at the DR site and test on the copy, while the
    mirror goes on replicating.
  - Declarative. O(state=present) makes sure a replica named O(name) of O(source) exists. A volume of that name
    that is not a snapshot or clone of O(source) fails the task, naming what it is (and its actual source); it
    is never taken over and never replaced. O(state=absent) removes the replica's synchronization and the
    replica volume.
  - The provider creates the replica volume (no target is given) with the ElementName O(name). A clone is a
    full copy; the module follows the provider's job and waits until the clone's CopyState says it is copied.
    A snapshot is ready at once.
  - Never loses data silently. Whatever was written to a replica exists nowhere else, and SMI-S providers do not
    say how many bytes that is; removing a replica is refused, naming its size as the most that could be lost,
    unless O(allow_data_loss=true).
  - Never changes another synchronization. The only ModifyReplicaSynchronization the module sends names the
    replica's own synchronization; the mirror whose target it copies is read, never modified.
  - One replica with the top-level options, or many with O(replicas) in one run, with per-item results. A rerun
    that finds everything in place costs two requests (the volumes and the synchronizations of the namespace).
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.smis
  - storage.replication.wait
  - storage.replication.bulk
  - storage.replication.attributes
  - storage.replication.smis.actiongroup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  source:
    description:
      - The volume to copy, by DeviceID or ElementName; for a DR test, the target element of a mirror.
      - A name that matches several volumes fails the task with the DeviceIDs it matches; name the volume by its
        DeviceID then.
      - Required with O(state=present). With O(state=absent) it is optional; when it is given, a replica of
        another volume is not removed (the task fails instead).
    type: str
  name:
    description:
      - The ElementName of the replica volume. It identifies the copy; a volume of this name that is not a
        snapshot or clone of O(source) fails the task.
      - Required unless O(replicas) is used.
    type: str
  sync_type:
    description:
      - V(snapshot) (SyncType 7, a space-efficient point-in-time copy, ready at once), V(clone) (SyncType 8, a full
        copy) or V(auto).
      - V(auto) reads the ReplicationServiceCapabilities of the provider and makes a snapshot when its
        SupportedReplicationTypes list a local snapshot, else a clone.
      - A clone is made as an Asynchronous Clone Local (ReplicationType 11) when the provider offers it, so it stays
        associated with its source (HPE 3PAR removes the association of a type 10 copy when the copy ends).
      - An existing replica of another kind fails the task unless this is V(auto).
    type: str
    choices: [auto, snapshot, clone]
    default: auto
  state:
    description:
      - V(present) makes sure the replica exists; V(absent) removes it.
      - A snapshot is removed with ModifyReplicaSynchronization operation Return To ResourcePool (19), which
        deletes the pair and the snapshot volume.
      - A clone is detached (operation Detach, 8) and its volume deleted
        (CIM_StorageConfigurationService.ReturnToStoragePool). A provider that offers no ReturnToStoragePool fails
        the task before anything changes.
    type: str
    choices: [present, absent]
    default: present
  allow_data_loss:
    description:
      - Removing a replica discards whatever was written to it since it was made. The provider cannot say how many
        bytes that is, so the removal is refused (C(differing_bytes_at_most) is the replica's size) unless this
        is V(true).
    type: bool
    default: false
  replicas:
    description:
      - Many replicas in one run. Each item takes the per-replica options; what an item does not set comes from the
        task's top-level option of the same name.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      source:
        description: See O(source).
        type: str
      name:
        description: See O(name).
        type: str
        required: true
      sync_type:
        description: See O(sync_type).
        type: str
        choices: [auto, snapshot, clone]
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      allow_data_loss:
        description: See O(allow_data_loss).
        type: bool
notes:
  - Needs the Python library C(pywbem) on the host that runs the module (the controller or the execution
    environment).
  - Before its first change a run claims the provider's system (an empty replication group named
    C(storage_replication_claim)), so two runs do not create the same replica twice.
  - When a write gets no answer, the module reads the replica again and plans the rest from what the provider did.
    A clone that was detached but not deleted in an earlier run that failed is a volume without a
    synchronization; the module refuses to delete such a volume.
seealso:
  - module: storage.replication.smis_sync
  - module: storage.replication.smis_sync_info
"""

EXAMPLES = r"""
- name: A DR test copy of the mirror's target element (a snapshot when the provider offers one)
  storage.replication.smis_replica:
    hostname: dr-smis.example.com
    username: admin
    password: "{{ smis_password }}"
    namespace: root/tpd
    source: vv_db_dr
    name: vv_db_dr_drtest

- name: A full copy
  storage.replication.smis_replica:
    source: vv_db_dr
    name: vv_db_dr_full
    sync_type: clone

- name: Test copies of a whole set in one run, connection set once for the group
  module_defaults:
    group/storage.replication.smis:
      hostname: dr-smis.example.com
      username: admin
      password: "{{ smis_password }}"
      namespace: root/tpd
  block:
    - name: Make the copies
      storage.replication.smis_replica:
        replicas:
          - {source: vv_db_dr, name: vv_db_dr_drtest}
          - {source: vv_logs_dr, name: vv_logs_dr_drtest}

    - name: After the rehearsal, remove them, accepting the loss of what the test wrote
      storage.replication.smis_replica:
        state: absent
        allow_data_loss: true
        replicas:
          - name: vv_db_dr_drtest
          - name: vv_logs_dr_drtest
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be).
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned) for the replica, in order, for example V([create]) (a snapshot),
      V([create, wait_copied]) (a clone), V([return_to_pool]) (a snapshot removed) or V([detach, delete_volume])
      (a clone removed).
  returned: when O(replicas) is not used
  type: list
  elements: str
replica:
  description: Normalized facts of the replica after the run (predicted in check mode); null when there is none.
  returned: when O(replicas) is not used
  type: dict
  contains:
    name:
      description: ElementName of the replica volume.
      type: str
    device_id:
      description: DeviceID of the replica volume (null in check mode before it exists).
      type: str
    source:
      description: DeviceID of the volume it is a copy of.
      type: str
    source_name:
      description: ElementName of that volume.
      type: str
    sync_type:
      description: V(snapshot) or V(clone).
      type: str
    copy_state:
      description: The CopyState of its synchronization (C(Synchronized); HPE 3PAR virtual copies are C(Inactive)).
      type: str
    state:
      description: A name derived from the CopyState (C(synchronized), C(copying), C(inactive), C(broken), ...).
      type: str
    recovery_point:
      description: The point in time the copy holds (ISO 8601, UTC), as the provider reports it (WhenSynced), else
        when the module created it.
      type: str
    recovery_point_age_seconds:
      description: The age of that point in time.
      type: int
    written_bytes:
      description: Bytes written to the replica since it was made; null, SMI-S providers do not say.
      type: int
    size_bytes:
      description: Size of the replica volume in bytes.
      type: int
  sample:
    name: vv_db_dr_drtest
    device_id: "209"
    source: "251"
    source_name: vv_db_dr
    sync_type: snapshot
    copy_state: Synchronized
    state: synchronized
    recovery_point: "2026-12-07T02:00:00+00:00"
    recovery_point_age_seconds: 12
    written_bytes: null
    size_bytes: 1073741824
replicas:
  description:
    - One result per item of O(replicas), in order, each with C(name), C(source), C(changed), C(actions),
      C(replica) (facts as above), and C(failed) with C(msg) (plus the provider's C(array_code) and
      C(array_message), or a failed job's C(job) and C(cim_errors)) for a failed item, or C(skipped) for an item
      not run.
  returned: when O(replicas) is used
  type: list
  elements: dict
discarded_bytes:
  description: V(unknown); removing a replica was refused. Set O(allow_data_loss) to proceed.
  returned: when a removal was refused to keep data
  type: raw
differing_bytes_at_most:
  description: The most bytes a refused removal could have discarded (the replica's size).
  returned: when a removal was refused to keep data
  type: int
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(replicas) is used
  type: dict
requests_sent:
  description: CIM operations this run sent to the provider.
  returned: always
  type: int
diff:
  description: Before and after state of each replica, by name, with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import (
    connection_options, item_options, nonempty_env_fallback, run_options)
from ansible_collections.storage.replication.plugins.module_utils._engine import run_module
from ansible_collections.storage.replication.plugins.module_utils._replica_driver import ReplicaDriver
from ansible_collections.storage.replication.plugins.module_utils._replica_plan import ITEM_KEYS, build_items
from ansible_collections.storage.replication.plugins.module_utils._smis import HAS_PYWBEM


def argument_spec() -> dict:
    per_item = {
        "source": {"type": "str"},
        "name": {"type": "str"},
        "sync_type": {"type": "str", "choices": ["auto", "snapshot", "clone"], "default": "auto"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "allow_data_loss": {"type": "bool", "default": False},
    }
    items = item_options(per_item, ITEM_KEYS)
    items["name"]["required"] = True
    spec = connection_options("SMIS", {"namespace": {"type": "str", "default": "root/tpd",
                                                     "fallback": (nonempty_env_fallback, ["SMIS_NAMESPACE"])}})
    spec.update(per_item)
    spec["replicas"] = {"type": "list", "elements": "dict", "options": items}
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True, required_one_of=[("name", "replicas")],
                           mutually_exclusive=[("name", "replicas")])
    if not HAS_PYWBEM:
        module.fail_json(msg=missing_required_lib("pywbem"))
    run_module(module, build_items, ReplicaDriver.connect, id_keys=("name",))


if __name__ == "__main__":
    main()
