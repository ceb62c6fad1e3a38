#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: snapmirror
short_description: Keep NetApp ONTAP SnapMirror relationships in a declared state
version_added: 0.1.0
description:
  - Creates, initializes, updates, quiesces, breaks, resyncs, reverses and deletes SnapMirror relationships
    between FlexVol volumes, and creates or grows their destination volumes, through the ONTAP REST API.
  - Declarative. O(state) says whether the relationship exists and O(relationship_state) where it should
    be; the module works out the steps from the relationship's current state, runs them, and waits until
    the cluster really got there (not just until it accepted a job).
  - Runs against the cluster that holds the destination. Break, failover and delete need only that
    cluster, so they work with the source cluster down. O(source_cluster) is needed to size and grow
    destination volumes, to reverse a relationship, and to release the source side.
  - One relationship with the top-level options, or many with O(relationships) in one run, with bounded
    concurrency and per-item results. A rerun of a converged set sends one collection request.
  - Events are explicit. An update transfer happens only when O(update=true) or the lag exceeds
    O(max_lag); it is never sent just because the module ran.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.ontap
  - storage.replication.ontap.source_cluster
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
  source_path:
    description:
      - Source of the relationship as C(<svm>:<volume>), naming the SVM by its local peer alias on the
        destination cluster.
      - Required unless O(state=absent) or O(relationships) is used.
      - An existing relationship of O(destination_path) from another source fails the task before anything is
        sent; delete it first (O(state=absent)) to replicate the destination from another source.
    type: str
  destination_path:
    description:
      - Destination of the relationship as C(<svm>:<volume>). It identifies the relationship.
      - Required unless O(relationships) is used.
    type: str
  state:
    description:
      - V(present) makes sure the relationship exists; V(absent) deletes it (aborting a running transfer
        first) and releases the source side when it can.
    type: str
    choices: [present, absent]
    default: present
  relationship_state:
    description:
      - Where the relationship should be.
      - V(snapmirrored) is the active state. For a relationship with a synchronous policy the cluster calls
        it C(in_sync); the module reads the policy type and uses the right one. Reaching it initializes a new
        relationship, resumes a quiesced one and resyncs a broken one.
      - V(paused) quiesces it (a running transfer finishes first, see O(quiesce_timeout)).
      - V(broken_off) quiesces and breaks it, which makes the destination writable, then mounts it when
        O(junction_path) is set.
    type: str
    choices: [snapmirrored, paused, broken_off]
    default: snapmirrored
  policy:
    description:
      - SnapMirror policy name. A policy of the destination SVM wins over a cluster policy of the same name.
      - Defaults to the cluster's C(Asynchronous) policy for new relationships; left alone on existing ones
        when not set. The policy type (async or sync) cannot be changed on an existing relationship.
    type: str
  transfer_schedule:
    description:
      - Name of the cluster schedule for scheduled updates. An empty string removes the schedule.
    type: str
  throttle:
    description:
      - Transfer bandwidth limit in KB/s; V(0) means unlimited.
    type: int
  create_destination:
    description:
      - Create the destination volume when it does not exist, and keep it at least as large as the source.
    type: dict
    suboptions:
      enabled:
        description:
          - Create a missing destination volume as a DP volume.
          - With O(create_destination.aggregate) or O(create_destination.aggregate_map) (and O(source_cluster)) the
            module creates it itself, the size of the source, on that aggregate or on the aggregates the map gives
            for the source's. Otherwise the cluster creates it as part of the relationship, sized to the source.
        type: bool
        default: false
      aggregate:
        description:
          - Aggregate of the destination volume.
        type: str
      aggregate_map:
        description:
          - Source aggregate name to destination aggregate name, for volumes placed like their source.
        type: dict
      grow:
        description:
          - Before each transfer this module starts, grow the destination to the size of the source when the
            source grew. Needs O(source_cluster).
        type: bool
        default: true
  max_lag:
    description:
      - Update (transfer) only when the relationship lags more than this many seconds. This is idempotent,
        a relationship within the bound is left alone and reported unchanged.
    type: int
  update:
    description:
      - Start an update transfer on every run (an event, so the task always reports changed when the
        relationship can be updated). With O(relationship_state=paused) or V(broken_off) it is the final
        update before the quiesce.
    type: bool
    default: false
  allow_data_loss:
    description:
      - A resync of a broken relationship, and a reverse, roll the new destination back to the newest common
        snapshot. By default the module first asks the cluster how much was written there since that
        snapshot and refuses when it is anything. V(true) proceeds anyway.
    type: bool
    default: false
  allow_full_baseline:
    description:
      - A reverse (O(reverse=true)) needs a common snapshot of the two volumes. When there is none, the
        module refuses by default. With V(true) it re-baselines in full instead; it deletes the opposite
        relationship, releases its source, replaces the new destination volume (and all its data) with an
        empty DP volume of the same name, size and aggregates, and initializes the reversed relationship.
    type: bool
    default: false
  resync_broken:
    description:
      - Whether O(relationship_state=snapmirrored) (or V(paused)) resyncs a broken-off relationship. With V(false)
        a broken-off relationship is left as it is (after a failover, the DR copy is production) and reported
        unchanged, with a note; the roles use this so that protecting a set again never undoes a failover.
    type: bool
    default: true
  junction_path:
    description:
      - With O(relationship_state=broken_off), mount the destination volume at this junction path once it
        is writable.
    type: str
  quiesce_timeout:
    description:
      - Seconds a running transfer may take to finish after a quiesce before it is aborted
        (quiesce-then-abort). When not set, the module waits for it up to O(wait_timeout).
    type: int
  preserve:
    description:
      - On resync, keep destination snapshots newer than the common snapshot.
    type: bool
    default: false
  release:
    description:
      - With O(state=absent), also remove the source side (snapshot ownership and metadata). With the source
        cluster unreachable the destination side is deleted alone and the result says the release is pending.
    type: bool
    default: true
  reverse:
    description:
      - When the relationship exists in the opposite direction (found through O(source_cluster)), reverse
        it so it runs from O(source_path) to O(destination_path). The new destination is rolled back to the
        newest common snapshot; see O(allow_data_loss).
    type: bool
    default: false
  relationships:
    description:
      - Many relationships in one run. Each item takes the per-relationship options; what an item does not
        set comes from the task's top-level option of the same name.
      - Mutually exclusive with O(destination_path) and O(source_path).
    type: list
    elements: dict
    suboptions:
      source_path:
        description: See O(source_path).
        type: str
      destination_path:
        description: See O(destination_path).
        type: str
        required: true
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      relationship_state:
        description: See O(relationship_state).
        type: str
        choices: [snapmirrored, paused, broken_off]
      policy:
        description: See O(policy).
        type: str
      transfer_schedule:
        description: See O(transfer_schedule).
        type: str
      throttle:
        description: See O(throttle).
        type: int
      create_destination:
        description: See O(create_destination).
        type: dict
      max_lag:
        description: See O(max_lag).
        type: int
      update:
        description: See O(update).
        type: bool
      allow_data_loss:
        description: See O(allow_data_loss).
        type: bool
      allow_full_baseline:
        description: See O(allow_full_baseline).
        type: bool
      resync_broken:
        description: See O(resync_broken).
        type: bool
      junction_path:
        description: See O(junction_path).
        type: str
      quiesce_timeout:
        description: See O(quiesce_timeout).
        type: int
      preserve:
        description: See O(preserve).
        type: bool
      release:
        description: See O(release).
        type: bool
      reverse:
        description: See O(reverse).
        type: bool
notes:
  - Needs the Python library C(requests) on the host that runs the module (the controller or the execution
    environment).
  - Reads are retried on dropped connections and 5xx answers, writes only on 503 (the array did not take them).
    When a write gets no answer at all, the array may or may not have applied it; the module then reads the
    relationship again and plans the rest of its work from what the array really did (at most twice per
    relationship, each time with a warning). When the array stays unreachable the item fails, naming the request.
  - A bulk break with the source cluster down sends one unforced break per source cluster; the other breaks wait
    for its answer and use C(force=true) straight away.
seealso:
  - module: storage.replication.snapmirror_info
"""

EXAMPLES = r"""
- name: Protect a volume, creating its DP destination the size of the source
  storage.replication.snapmirror:
    hostname: dr-cluster.example.com
    username: admin
    password: "{{ dr_password }}"
    source_cluster:
      hostname: prod-cluster.example.com
      username: admin
      password: "{{ prod_password }}"
    source_path: svm_prod:vol_db
    destination_path: svm_dr:vol_db
    create_destination:
      enabled: true
      aggregate_map:
        aggr1_prod: aggr1_dr
    policy: MirrorAllSnapshots
    transfer_schedule: hourly

- name: Update only the relationships that lag more than 15 minutes (idempotent)
  storage.replication.snapmirror:
    destination_path: svm_dr:vol_db
    source_path: svm_prod:vol_db
    max_lag: 900

- name: Fail over one volume and mount it
  storage.replication.snapmirror:
    source_path: svm_prod:vol_db
    destination_path: svm_dr:vol_db
    relationship_state: broken_off
    quiesce_timeout: 120
    junction_path: /vol_db

- name: A whole set in one run, connection set once for the group
  module_defaults:
    group/storage.replication.ontap:
      hostname: dr-cluster.example.com
      username: admin
      password: "{{ dr_password }}"
  block:
    - name: Ensure the volumes of a backend are mirrored
      storage.replication.snapmirror:
        relationships:
          - source_path: svm_prod:vol_db
            destination_path: svm_dr:vol_db
          - source_path: svm_prod:vol_logs
            destination_path: svm_dr:vol_logs
            policy: MirrorLatest
          - source_path: svm_prod:vol_home
            destination_path: svm_dr:vol_home
        policy: Asynchronous
        max_workers: 16
        continue_on_error: true

- name: Delete a relationship and release the source
  storage.replication.snapmirror:
    destination_path: svm_dr:vol_db
    state: absent
    source_cluster:
      hostname: prod-cluster.example.com
      username: admin
      password: "{{ prod_password }}"
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be).
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned) for the relationship, in order, for example
      V([quiesce, wait_paused, break, wait_broken_off, mount]). Steps named C(wait_*) are waits for the
      cluster to reach a state.
  returned: when O(relationships) is not used
  type: list
  elements: str
relationship:
  description: Normalized facts of the relationship after the run (predicted in check mode); null when absent.
  returned: when O(relationships) is not used
  type: dict
  contains:
    uuid:
      description: Relationship UUID.
      type: str
    source_path:
      description: Source as C(<svm>:<volume>).
      type: str
    destination_path:
      description: Destination as C(<svm>:<volume>).
      type: str
    state:
      description: The cluster's state of the relationship (C(snapmirrored), C(in_sync), C(paused), C(broken_off), C(uninitialized), ...).
      type: str
    healthy:
      description: Whether the cluster reports the relationship healthy.
      type: bool
    unhealthy_reasons:
      description: The cluster's reasons when it is not healthy, each with C(code) and C(message).
      type: list
      elements: dict
    lag_seconds:
      description: Age in seconds of the newest data the destination holds; null before the first transfer.
      type: int
    recovery_point:
      description: The time (UTC) of the newest data the destination holds, derived from the lag.
      type: str
    policy:
      description: Policy name.
      type: str
    policy_type:
      description: Policy type (C(async), C(sync)).
      type: str
    transfer_schedule:
      description: Schedule name, or null.
      type: str
    throttle:
      description: Transfer throttle in KB/s (0 = unlimited).
      type: int
    transferring:
      description: Whether a transfer is queued or running.
      type: bool
    transfer:
      description: The running or last transfer (C(state), C(type), C(bytes_transferred), C(end_time)).
      type: dict
    exported_snapshot:
      description: The snapshot the destination holds.
      type: str
  sample:
    uuid: 5d1e4d7a-94b4-4d0f-9a3b-0a7f2c1b6e21
    source_path: svm_prod:vol_db
    destination_path: svm_dr:vol_db
    state: snapmirrored
    healthy: true
    unhealthy_reasons: []
    lag_seconds: 312
    policy: MirrorAllSnapshots
    policy_type: async
relationships:
  description:
    - One result per item of O(relationships), in order, each with C(source_path), C(destination_path),
      C(changed), C(actions), C(relationship) (facts as above), and C(failed) with C(msg) (plus the
      array's C(array_message), C(array_code) and the item's C(current) state) for a failed item, or
      C(skipped) for an item not run.
    - The other keys below (C(common_snapshot), C(released), ...) appear in an item's result as they do at the
      top level of a single relationship's.
  returned: when O(relationships) is used
  type: list
  elements: dict
common_snapshot:
  description: The newest common snapshot a reverse rolled the new destination back to (or would have, in a refusal).
  returned: after a reverse, and when a resync or reverse was refused
  type: str
discarded_bytes:
  description:
    - Bytes written since the common snapshot that a resync or reverse would discard (V(unknown) when the cluster
      cannot tell). The task was refused; set O(allow_data_loss) to proceed.
  returned: when a resync or reverse was refused to keep data
  type: raw
released:
  description: Whether the source side was released (O(state=absent)); V(false) while the source cluster is down.
  returned: when a relationship was deleted or a source-side leftover released
  type: bool
rebaselined:
  description: The reverse re-baselined in full into an empty new destination (O(allow_full_baseline)).
  returned: after a full re-baseline
  type: bool
junction_path:
  description: The junction path the destination volume was mounted at.
  returned: after a mount
  type: str
destination_volume_created:
  description: The module created the destination volume itself (on the aggregates asked for).
  returned: when it did
  type: bool
destination_grown_to:
  description: The size in bytes the destination volume was grown to, to match its source.
  returned: when it was grown
  type: int
note:
  description: Why a broken-off relationship was left as it is (O(resync_broken=false)).
  returned: when that happened
  type: str
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(relationships) is used
  type: dict
requests_sent:
  description: HTTP requests this run sent to the destination and source clusters.
  returned: always
  type: int
diff:
  description: Before and after state of each relationship, by destination path, with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import (
    connection_options, item_options, nested_connection_options, run_options)
from ansible_collections.storage.replication.plugins.module_utils._engine import run_module
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS
from ansible_collections.storage.replication.plugins.module_utils._snapmirror_driver import SnapMirrorDriver
from ansible_collections.storage.replication.plugins.module_utils._snapmirror_plan import ITEM_KEYS, build_items


def argument_spec() -> dict:
    per_item = {
        "source_path": {"type": "str"},
        "destination_path": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "relationship_state": {"type": "str", "choices": ["snapmirrored", "paused", "broken_off"],
                               "default": "snapmirrored"},
        "policy": {"type": "str"},
        "transfer_schedule": {"type": "str"},
        "throttle": {"type": "int"},
        "create_destination": {"type": "dict", "options": {
            "enabled": {"type": "bool", "default": False},
            "aggregate": {"type": "str"},
            "aggregate_map": {"type": "dict"},
            "grow": {"type": "bool", "default": True},
        }},
        "max_lag": {"type": "int"},
        "update": {"type": "bool", "default": False},
        "allow_data_loss": {"type": "bool", "default": False},
        "allow_full_baseline": {"type": "bool", "default": False},
        "junction_path": {"type": "str"},
        "quiesce_timeout": {"type": "int"},
        "preserve": {"type": "bool", "default": False},
        "release": {"type": "bool", "default": True},
        "reverse": {"type": "bool", "default": False},
        "resync_broken": {"type": "bool", "default": True},
    }
    items = item_options(per_item, ITEM_KEYS)
    items["destination_path"]["required"] = True
    items["create_destination"] = {"type": "dict"}
    spec = connection_options("ONTAP")
    spec.update(per_item)
    spec.update({
        "source_cluster": {"type": "dict", "options": nested_connection_options("ONTAP")},
        "relationships": {"type": "list", "elements": "dict", "options": items},
    })
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True,
                           required_one_of=[("destination_path", "relationships")],
                           mutually_exclusive=[("destination_path", "relationships"),
                                               ("source_path", "relationships")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    run_module(module, build_items, lambda params, _items: SnapMirrorDriver.connect(params),
               extras=("common_snapshot", "released", "rebaselined", "junction_path", "destination_volume_created",
                       "destination_grown_to", "note"), id_keys=("source_path",))


if __name__ == "__main__":
    main()
