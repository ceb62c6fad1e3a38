#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: thin_image_snapshot
short_description: Make and remove Hitachi VSP Thin Image snapshots as writable DR test copies
version_added: 0.1.0
description:
  - Creates and deletes Thin Image (HTI) snapshots through the Hitachi Configuration Manager REST API. A
    snapshot is a split Thin Image pair (PSUS) of a P-VOL in a snapshot group; its snapshot data is the
    P-VOL's image at the split, kept copy-on-write in a snapshot pool, in seconds whatever the volume's size.
    For a DR rehearsal, snapshot the DR copy and test on the snapshot's S-VOL while replication goes on.
  - With O(svol_pool_id) the module also creates the S-VOL, a DP volume of the P-VOL's capacity in that pool
    labelled O(label), and maps the snapshot data onto it, so hosts can reach the copy (map the LDEV to host
    ports as usual). With O(svol) alone, an existing unpaired LDEV of the P-VOL's capacity takes the data.
  - Declarative. O(state=present) makes sure the split pair exists. A pair of O(pvol) in O(snapshot_group) with
    another snapshot pool or another S-VOL than declared fails the task, naming the difference; it is never
    taken over. A pair found in PAIR (resynchronized by someone) is split, which takes a new point in time; one
    the array suspended (PSUE, its snapshot data lost) is resynchronized and split again.
  - O(state=absent) deletes the pair (which deletes the snapshot data), or every pair of the snapshot group when
    O(pvol) is not given, and then the S-VOL LDEVs the module created (the ones labelled O(label)). An LDEV the
    module did not create is never deleted.
  - Never loses data silently. Whatever a test wrote to the S-VOL exists nowhere else; deleting a snapshot whose
    S-VOL was written (the array's C(isWrittenInSvol)) is refused unless O(allow_data_loss=true). The array does
    not say how many bytes were written, so the refusal names the S-VOL's capacity as the bound.
  - Sends no request to ShadowImage pairs. A Thin Image pair on a P-VOL that is a ShadowImage S-VOL can be made
    only while that ShadowImage pair is split (PSUS); otherwise the array refuses, and the task fails with the
    array's message and code. Snapshot a ShadowImage P-VOL instead while its pair is PAIR.
  - One snapshot with the top-level options, or many with O(snapshots) in one run, with bounded concurrency and
    per-item results.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.vsp
  - storage.replication.wait
  - storage.replication.bulk
  - storage.replication.attributes
  - storage.replication.vsp.actiongroup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  pvol:
    description:
      - LDEV ID of the P-VOL, the volume to snapshot (decimal). Required with O(state=present).
      - With O(state=absent) it is optional; without it every pair of O(snapshot_group) is deleted.
    type: int
  snapshot_group:
    description:
      - The Thin Image snapshot group (1-32 characters; letters, digits and C(.:@_-)). Its name identifies the copy.
        A new group is created with its first pair; the array deletes a group with its last pair.
      - Required unless every item of O(snapshots) sets its own.
    type: str
  pool_id:
    description:
      - The snapshot pool that holds the snapshot data (a Thin Image or an HDP pool).
      - Required to create a snapshot; when set, an existing pair in another pool fails the task.
    type: int
  svol_pool_id:
    description:
      - Create the S-VOL in this DP pool, with the P-VOL's capacity, labelled O(label), and map the snapshot data
        onto it. Its LDEV ID is O(svol) when given, else the lowest undefined LDEV ID, which the module chooses.
      - An LDEV of that ID that already carries O(label) and is unpaired (made by an earlier run whose pair was not
        created) is used.
      - With O(state=absent), the unpaired LDEVs of this pool that carry O(label) are deleted too (S-VOLs a run made
        before it was stopped, before their pair existed), with one list of the pool's DP volumes when the pairs are
        gone.
    type: int
  svol:
    description:
      - The S-VOL to map the snapshot data onto. Without O(svol_pool_id), an existing unpaired LDEV of the P-VOL's
        capacity (one carrying O(label) is refused, as that label marks the S-VOLs the module deletes); with
        O(svol_pool_id), the ID of the LDEV to create.
      - When neither O(svol) nor O(svol_pool_id) is set, the snapshot has no S-VOL (its data stays in the pool).
      - An existing pair with another S-VOL, or with none when one is declared (and the other way round), fails
        the task.
      - With O(state=absent) and the pair already gone, an unpaired LDEV of this ID carrying O(label) is deleted
        (what a run stopped between the two deletes leaves).
    type: int
  label:
    description:
      - The LDEV label of an S-VOL the module creates; it marks the LDEVs that O(state=absent) deletes with the
        snapshot. At most 32 characters.
      - Defaults to O(snapshot_group).
    type: str
  state:
    description:
      - V(present) makes sure a split Thin Image pair of O(pvol) exists in O(snapshot_group); V(absent) deletes the
        pair(s) and the S-VOLs the module created.
    type: str
    choices: [present, absent]
    default: present
  allow_data_loss:
    description:
      - Deleting a snapshot whose S-VOL was written discards those writes. By default that is refused (with the
        S-VOL's capacity as the most that may be lost, since the array does not tell the amount); V(true) deletes
        anyway. A snapshot whose S-VOL was not written is deleted without it.
    type: bool
    default: false
  snapshots:
    description:
      - Many snapshots in one run. Each item takes the per-snapshot options; what an item does not set comes from
        the task's top-level option of the same name.
    type: list
    elements: dict
    suboptions:
      pvol:
        description: See O(pvol).
        type: int
      snapshot_group:
        description: See O(snapshot_group).
        type: str
      pool_id:
        description: See O(pool_id).
        type: int
      svol_pool_id:
        description: See O(svol_pool_id).
        type: int
      svol:
        description: See O(svol).
        type: int
      label:
        description: See O(label).
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
  - Creating and splitting take no time (copy on write), so the array's jobs end with the pair split; the module
    waits for the job and then checks the pair status once. O(wait=false) skips that check.
  - A rerun of a converged snapshot reads the pairs of its snapshot group (one request) and the S-VOL's LDEV.
  - The module labels the S-VOLs it creates and finds them again through their pair and that label. An S-VOL
    created by a run that was stopped before its pair was made is found again by a rerun of the same task only
    when O(svol) names it; otherwise it stays, labelled O(label), for an administrator to delete.
  - When a write gets no answer, the module reads the snapshot group again and carries on from what the array
    did, at most twice per item, with a warning.
seealso:
  - module: storage.replication.shadowimage_pair
  - module: storage.replication.volume_clone
"""

EXAMPLES = r"""
- name: A DR test copy of LDEV 1280, with an S-VOL made for it in pool 1 that hosts can mount
  storage.replication.thin_image_snapshot:
    hostname: vsp-dr-svp.example.com
    username: maintenance
    password: "{{ vsp_password }}"
    storage_device_id: "886000410002"
    snapshot_group: drtest_db
    pvol: 1280
    pool_id: 5
    svol_pool_id: 1
  register: copy

- name: Test copies of a whole set in one run, connection set once for the group
  module_defaults:
    group/storage.replication.vsp:
      hostname: vsp-dr-svp.example.com
      username: maintenance
      password: "{{ vsp_password }}"
  block:
    - name: Make the copies
      storage.replication.thin_image_snapshot:
        snapshot_group: drtest_db
        pool_id: 5
        svol_pool_id: 1
        snapshots:
          - pvol: 1280
          - pvol: 1281
          - pvol: 1282

    - name: After the rehearsal, remove every copy of the group, accepting the loss of what the test wrote
      storage.replication.thin_image_snapshot:
        snapshot_group: drtest_db
        state: absent
        allow_data_loss: true
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be).
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned) for the snapshot, in order, for example
      V([create_svol, label_svol, create, wait_split]), V([split, wait_split]) or
      V([delete, wait_deleted, delete_svol]).
  returned: when O(snapshots) is not used
  type: list
  elements: str
snapshot:
  description:
    - Normalized facts of the snapshot after the run (predicted in check mode); null when there is none. For
      O(state=absent) without O(pvol), a list with the facts of each pair of the group (empty after the run).
  returned: when O(snapshots) is not used
  type: dict
  contains:
    pvol:
      description: LDEV ID of the P-VOL.
      type: int
    mu_number:
      description: The pair's MU number on the P-VOL (chosen by the array; null in check mode before it exists).
      type: int
    snapshot_group:
      description: The snapshot group.
      type: str
    pool_id:
      description: The snapshot pool.
      type: int
    svol:
      description: LDEV ID of the S-VOL; null when the snapshot has none.
      type: int
    svol_label:
      description: The S-VOL's LDEV label.
      type: str
    status:
      description: The pair status as the array reports it for the P-VOL (C(PSUS) for a snapshot, C(PAIR), C(PSUE), ...).
      type: str
    recovery_point:
      description: When the snapshot was taken (the array's C(splitTime), ISO 8601, UTC), the point in time it holds.
      type: str
    recovery_point_age_seconds:
      description: The age of that point in time, by this host's clock.
      type: int
    written:
      description: Whether the S-VOL was written since the snapshot was taken (the array's C(isWrittenInSvol)).
      type: bool
    svol_created:
      description: Whether the S-VOL carries O(label), the mark of an S-VOL the module created (and deletes).
      type: bool
  sample:
    pvol: 1280
    mu_number: 3
    snapshot_group: drtest_db
    pool_id: 5
    svol: 0
    svol_label: drtest_db
    status: PSUS
    recovery_point: "2026-12-07T02:00:00+00:00"
    recovery_point_age_seconds: 312
    written: false
    svol_created: true
snapshots:
  description:
    - One result per item of O(snapshots), in order, each with C(item) (C(<snapshot_group>/<pvol>), or the group),
      C(snapshot_group), C(pvol), C(changed), C(actions), C(snapshot) (facts as above), and C(failed) with C(msg)
      (plus the array's C(array_message), C(array_code) and C(array_error_code)) for a failed item, or C(skipped)
      for an item not run.
  returned: when O(snapshots) is used
  type: list
  elements: dict
discarded_bytes:
  description: V(unknown) when a delete was refused to keep what was written to the S-VOL; C(differing_bytes_at_most)
    holds the bound (the written S-VOLs' capacity). Set O(allow_data_loss) to proceed.
  returned: when a delete was refused to keep data
  type: raw
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(snapshots) is used
  type: dict
requests_sent:
  description: HTTP requests this run sent to the storage system.
  returned: always
  type: int
diff:
  description: Before and after state of each snapshot, by C(<snapshot_group>/<pvol>), with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import item_options, run_options
from ansible_collections.storage.replication.plugins.module_utils._engine import run_module
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS
from ansible_collections.storage.replication.plugins.module_utils._thin_image_driver import connect
from ansible_collections.storage.replication.plugins.module_utils._thin_image_plan import ITEM_KEYS, build_items
from ansible_collections.storage.replication.plugins.module_utils._vsp import vsp_connection_options


def argument_spec() -> dict:
    per_item = {
        "pvol": {"type": "int"},
        "snapshot_group": {"type": "str"},
        "pool_id": {"type": "int"},
        "svol_pool_id": {"type": "int"},
        "svol": {"type": "int"},
        "label": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "allow_data_loss": {"type": "bool", "default": False},
    }
    spec = vsp_connection_options()
    spec.update(per_item)
    spec["snapshots"] = {"type": "list", "elements": "dict", "options": item_options(per_item, ITEM_KEYS)}
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True,
                           required_one_of=[("snapshot_group", "snapshots")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    run_module(module, build_items, connect, id_keys=("snapshot_group", "pvol"))


if __name__ == "__main__":
    main()
