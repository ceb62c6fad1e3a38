#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: volume_clone
short_description: Make and remove writable test copies of NetApp ONTAP volumes (FlexClone)
version_added: 0.1.0
description:
  - Creates and deletes FlexClone volumes through the ONTAP REST API. A clone is a writable point-in-time copy of
    a snapshot of its parent volume, made in seconds without copying data. For a DR rehearsal, clone the
    SnapMirror destination at the DR site and test on the clone, while the relationship goes on replicating.
  - Declarative. O(state=present) makes sure the clone exists (and is mounted at O(junction_path)); a volume of
    that name that is not a FlexClone, or a clone of another parent or snapshot, fails the task, naming the
    difference. It is never taken over and never replaced. O(state=absent) unmounts and deletes the clone.
  - Never loses data silently. Whatever was written to a clone since it was made exists nowhere else; deleting
    a clone that was written is refused, naming the bytes at stake, unless O(allow_data_loss=true).
  - Never changes a SnapMirror relationship. The module reads the relationship of a destination to find the
    snapshot it last transferred, and sends no request to it; transfers go on while clones exist (ONTAP keeps
    the snapshot a clone is made from).
  - One clone with the top-level options, or many with O(clones) in one run, with bounded concurrency and
    per-item results.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.ontap
  - storage.replication.wait
  - storage.replication.bulk
  - storage.replication.attributes
  - storage.replication.ontap.actiongroup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  svm:
    description:
      - The SVM of the clone and of its parent volume.
      - Required unless O(clones) is used.
    type: str
  name:
    description:
      - Name of the clone volume. With O(svm) it identifies the clone.
      - Required unless O(clones) is used.
    type: str
  parent_volume:
    description:
      - The volume to clone, in O(svm). Required with O(state=present).
      - With O(state=absent) it is optional; when it is given, a clone of another volume is not deleted (the
        task fails instead).
    type: str
  parent_snapshot:
    description:
      - The snapshot of O(parent_volume) to clone (its point in time is the clone's C(recovery_point)).
      - When not set, for a SnapMirror destination (a DP volume) the snapshot its relationship last transferred
        (the relationship's C(exported_snapshot), else the newest C(snapmirror.*) snapshot of the volume); for a
        read-write volume, a snapshot ONTAP takes for the clone when it makes it. The result's
        C(parent_snapshot_chosen) says which.
      - When set, an existing clone made from another snapshot fails the task. When not set, an existing clone of
        O(parent_volume) is accepted whatever snapshot it was made from, so a rerun after newer transfers is
        unchanged.
    type: str
  junction_path:
    description:
      - Mount the clone at this junction path (NFS/SMB clients reach it there). A new clone is mounted when it is
        made; an existing one mounted elsewhere is unmounted and mounted here.
      - When not set, a new clone is not mounted and the junction of an existing one is left as it is. An empty
        string unmounts it.
    type: str
  export_policy:
    description:
      - The NFS export policy of the SVM that governs access to the clone, for example one that lets only the test
        hosts in. It must exist in O(svm). A new clone gets it when it is made; an existing clone with another
        policy is changed to it.
      - When not set, a new clone gets the SVM's C(default) policy and the policy of an existing one is left as it is.
    type: str
  comment:
    description:
      - Comment stored on the clone.
      - Defaults, for a new clone, to C(storage.replication test copy of <svm>:<parent>@<snapshot>); the comment of
        an existing clone changes only when this option is set.
    type: str
  state:
    description:
      - V(present) makes sure the clone exists; V(absent) unmounts and deletes it (ONTAP takes it offline as part of
        the delete). A volume of that name that is not a FlexClone is never deleted.
    type: str
    choices: [present, absent]
    default: present
  allow_data_loss:
    description:
      - Deleting a clone discards whatever was written to it since it was made. By default the module asks the
        cluster how many bytes that is (the change of the clone since its base snapshot) and refuses when it is
        anything; when the cluster cannot tell (the base snapshot was deleted from the clone), it refuses too.
        V(true) deletes anyway.
    type: bool
    default: false
  clones:
    description:
      - Many clones in one run. Each item takes the per-clone options; what an item does not set comes from the
        task's top-level option of the same name.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      svm:
        description: See O(svm).
        type: str
      name:
        description: See O(name).
        type: str
        required: true
      parent_volume:
        description: See O(parent_volume).
        type: str
      parent_snapshot:
        description: See O(parent_snapshot).
        type: str
      junction_path:
        description: See O(junction_path).
        type: str
      export_policy:
        description: See O(export_policy).
        type: str
      comment:
        description: See O(comment).
        type: str
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      allow_data_loss:
        description: See O(allow_data_loss).
        type: bool
notes:
  - Needs the Python library C(requests) on the host that runs the module (the controller or the execution
    environment).
  - Creating, changing and deleting a clone are jobs on the cluster, which the module follows to their end (each
    at most O(wait_timeout) seconds); there is no later state to wait for, so O(wait=false) changes nothing.
  - A clone lives in the SVM and aggregate of its parent. ONTAP clones FlexVol volumes, not FlexGroup volumes. The
    parent cannot be deleted while it has clones, and the snapshot a clone is made from stays on the parent until
    the clone is deleted or split.
  - Reads are retried on dropped connections and 5xx answers, writes only on 503 (the array did not take them).
    When a write gets no answer, the module reads the clone again and plans the rest from what the array did.
seealso:
  - module: storage.replication.snapmirror
  - module: storage.replication.snapmirror_info
"""

EXAMPLES = r"""
- name: A DR test copy of the SnapMirror destination, at the newest transferred snapshot, mounted
  storage.replication.volume_clone:
    hostname: dr-cluster.example.com
    username: admin
    password: "{{ dr_password }}"
    svm: svm_dr
    name: vol_db_drtest
    parent_volume: vol_db
    junction_path: /vol_db_drtest
    export_policy: drtest_hosts

- name: A copy of a named point in time
  storage.replication.volume_clone:
    svm: svm_dr
    name: vol_db_monday
    parent_volume: vol_db
    parent_snapshot: snapmirror.5d1e4d7a-94b4-4d0f-9a3b-0a7f2c1b6e21_2150000123.2026-12-07_020000

- name: Test copies of a whole set in one run, connection set once for the group
  module_defaults:
    group/storage.replication.ontap:
      hostname: dr-cluster.example.com
      username: admin
      password: "{{ dr_password }}"
  block:
    - name: Make the copies
      storage.replication.volume_clone:
        svm: svm_dr
        clones:
          - {name: vol_db_drtest, parent_volume: vol_db, junction_path: /vol_db_drtest}
          - {name: vol_logs_drtest, parent_volume: vol_logs, junction_path: /vol_logs_drtest}
          - {name: vol_home_drtest, parent_volume: vol_home}

    - name: After the rehearsal, remove them, accepting the loss of what the test wrote
      storage.replication.volume_clone:
        svm: svm_dr
        state: absent
        allow_data_loss: true
        clones:
          - name: vol_db_drtest
          - name: vol_logs_drtest
          - name: vol_home_drtest
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be).
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned) for the clone, in order, for example V([create]),
      V([unmount, mount]), V([export]) (another export policy) or V([unmount, delete]).
  returned: when O(clones) is not used
  type: list
  elements: str
clone:
  description: Normalized facts of the clone after the run (predicted in check mode); null when there is none.
  returned: when O(clones) is not used
  type: dict
  contains:
    name:
      description: Name of the clone volume.
      type: str
    uuid:
      description: UUID of the clone volume (null in check mode before it exists).
      type: str
    svm:
      description: SVM of the clone.
      type: str
    is_flexclone:
      description: Whether the volume is a FlexClone volume (always true for a clone the module accepts).
      type: bool
    parent_volume:
      description: The volume it is a clone of.
      type: str
    parent_snapshot:
      description: The snapshot of the parent it was made from (null in check mode when ONTAP takes it).
      type: str
    recovery_point:
      description: When that snapshot was taken (ISO 8601, UTC), the point in time the clone holds. For a clone of a
        SnapMirror destination, the time of the source's data.
      type: str
    recovery_point_age_seconds:
      description: The age of that point in time, as the cluster counts it.
      type: int
    junction_path:
      description: Where the clone is mounted; null when it is not.
      type: str
    export_policy:
      description: The clone's NFS export policy.
      type: str
    state:
      description: The volume's state (C(online), C(offline), ...).
      type: str
    comment:
      description: The clone's comment.
      type: str
    written_bytes:
      description: Bytes written to the clone since it was made, which a delete discards; null when the cluster
        cannot tell.
      type: int
  sample:
    name: vol_db_drtest
    uuid: 0b7c2b4e-7e43-4b60-9c43-2a1d0c9e5d11
    svm: svm_dr
    is_flexclone: true
    parent_volume: vol_db
    parent_snapshot: snapmirror.5d1e4d7a-94b4-4d0f-9a3b-0a7f2c1b6e21_2150000123.2026-12-07_020000
    recovery_point: "2026-12-07T02:00:00+00:00"
    recovery_point_age_seconds: 312
    junction_path: /vol_db_drtest
    export_policy: drtest_hosts
    state: online
    comment: >-
      storage.replication test copy of
      svm_dr:vol_db@snapmirror.5d1e4d7a-94b4-4d0f-9a3b-0a7f2c1b6e21_2150000123.2026-12-07_020000
    written_bytes: 0
clones:
  description:
    - One result per item of O(clones), in order, each with C(clone_path) (C(<svm>:<name>)), C(changed), C(actions),
      C(clone) (facts as above), C(parent_snapshot_chosen) after a create, and C(failed) with C(msg) (plus the
      array's C(array_message) and C(array_code)) for a failed item, or C(skipped) for an item not run.
  returned: when O(clones) is used
  type: list
  elements: dict
parent_snapshot_chosen:
  description:
    - How the snapshot of a new clone was chosen. V(given) (O(parent_snapshot)), V(exported_snapshot) (the snapshot
      the relationship of a SnapMirror destination last transferred), V(newest_snapmirror_snapshot) (the newest
      C(snapmirror.*) snapshot of the destination, when the relationship names none), V(taken_by_ontap) (a
      read-write parent, cloned at a snapshot ONTAP takes).
  returned: when a clone was created (or would be, in check mode)
  type: str
discarded_bytes:
  description:
    - Bytes written to the clone since it was made, which a delete would discard (V(unknown) when the cluster cannot
      tell). The task was refused; set O(allow_data_loss) to proceed.
  returned: when a delete was refused to keep data
  type: raw
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(clones) is used
  type: dict
requests_sent:
  description: HTTP requests this run sent to the cluster.
  returned: always
  type: int
diff:
  description: Before and after state of each clone, by C(<svm>:<name>), with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._clone_driver import CloneDriver
from ansible_collections.storage.replication.plugins.module_utils._clone_plan import ITEM_KEYS, build_items
from ansible_collections.storage.replication.plugins.module_utils._common import (
    connection_options, item_options, run_options)
from ansible_collections.storage.replication.plugins.module_utils._engine import run_module
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS


def argument_spec() -> dict:
    per_item = {
        "svm": {"type": "str"},
        "name": {"type": "str"},
        "parent_volume": {"type": "str"},
        "parent_snapshot": {"type": "str"},
        "junction_path": {"type": "str"},
        "export_policy": {"type": "str"},
        "comment": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "allow_data_loss": {"type": "bool", "default": False},
    }
    items = item_options(per_item, ITEM_KEYS)
    items["name"]["required"] = True
    spec = connection_options("ONTAP")
    spec.update(per_item)
    spec["clones"] = {"type": "list", "elements": "dict", "options": items}
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True, required_one_of=[("name", "clones")],
                           mutually_exclusive=[("name", "clones")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    run_module(module, build_items, lambda params, _items: CloneDriver.connect(params),
               extras=("parent_snapshot_chosen",), id_keys=("clone_path",))


if __name__ == "__main__":
    main()
