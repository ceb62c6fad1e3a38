#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smis_sync
short_description: Keep SMI-S replica synchronizations (mirrors, clones, snapshots) in a declared state
version_added: 0.1.0
description:
  - Creates, fractures, splits, suspends, resynchronizes, fails over and back, restores, reverses and removes
    the synchronizations (CIM_StorageSynchronized) of an SMI-S provider, such as HPE 3PAR physical and virtual
    copies or the mirrors, clones and snapshots of a SNIA Replication Services provider, over CIM-XML with pywbem.
  - Declarative. O(state) says whether the synchronization between O(source) and O(target) exists and
    O(sync_state) which CopyState it should be in. The module reads the pair, works out the operations for its
    current CopyState, and waits until the provider really reached the target state (a job that
    finished is not enough, the pair's CopyState must show it).
  - Before anything changes, it asks the provider whether each planned operation is offered for the pair
    (GetSupportedOperationsForSynchronization and GetSupportedOperations of the replication service, and the
    legacy StorageReplicationCapabilities.SupportedModifyOperations). An operation the provider does not offer
    fails the task with a message that names the operation (name and number) and the provider, and nothing is
    sent. Capability questions change nothing, so check mode asks them too.
  - O(interface) chooses between the SNIA replication service (CreateElementReplica and
    ModifyReplicaSynchronization) and the legacy Copy Services of the storage configuration service
    (CreateReplica, AttachOrModifyReplica and ModifySynchronization, the methods of the HPE 3PAR CIM API
    reference). By default the replication service is used whenever it offers what is needed, else the legacy
    service.
  - Idempotency keys on CopyState, never on the legacy SyncState alone. Events (O(restore), O(start_copy),
    O(stop_copy), O(reverse), O(operation), and O(resync) of a clone or snapshot) are explicit options;
    each option says when it is performed and what a rerun does.
  - One synchronization with the top-level options, or many with O(synchronizations) in one run, with
    per-item results. A rerun of a converged set costs two requests (the volumes and the synchronizations of
    the namespace), however many items it has.
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
      - The source volume (SystemElement of the pair), by ElementName or DeviceID.
      - A name that matches several volumes (providers other than HPE 3PAR allow duplicate ElementNames) fails
        the task with the DeviceIDs it matches; name the volume by its DeviceID then.
      - Required unless O(synchronizations) is used.
    type: str
  target:
    description:
      - The target volume (SyncedElement, the replica), by ElementName or DeviceID.
      - When no volume has this name and a synchronization has to be created, the provider creates the target
        as part of it (sized like the source), with this ElementName; see O(create_target). The legacy
        AttachOrModifyReplica of a clone needs an existing target of at least the source's size.
      - Required unless O(synchronizations) is used.
    type: str
  state:
    description:
      - V(present) makes sure the synchronization exists (creating it waits until the first copy is complete).
      - V(absent) ends it with Detach, else Dissolve, as the provider offers them (or the legacy Detach); both
        volumes stay, the target as an independent volume holding its data. A running copy is first waited
        for, so the target is complete; use O(stop_copy) to stop a copy instead. A synchronization between the
        two volumes in the opposite direction is removed as well.
    type: str
    choices: [present, absent]
    default: present
  sync_state:
    description:
      - The CopyState the synchronization should be in. When not set, an existing synchronization is left in
        its state and a new one is waited for until its first copy is complete.
      - V(synchronized) (CopyState 4) resyncs a fractured, split, broken, aborted or restored pair, resumes a
        suspended one, activates an inactive one, and fails back a failed-over one (Failback copies what was
        written at the target back to the source, then mirroring resumes). A resync overwrites what was
        written at the target since the pair was fractured or split, and a failback what was written at the
        source before the failover that had not reached the target; both are refused when that could lose
        data, see O(allow_data_loss). For snapshots, HPE 3PAR reports an idle virtual copy as Inactive (8);
        that counts as synchronized.
      - V(fractured) (6), V(split) (7) and V(suspended) (9) first bring the pair to synchronized, then
        fracture, split or suspend it.
      - V(failed_over) (10) fails over a synchronized, broken, fractured, split or suspended mirror directly (a
        broken link or a dead source does not stop it) and waits for synchronized first otherwise. For a
        planned failover, set O(update) so that the target first gets the source's last writes.
    type: str
    choices: [synchronized, fractured, split, suspended, failed_over]
  sync_type:
    description:
      - The kind of replica to create. V(mirror) keeps the target in step with the source, V(clone) is a
        full point-in-time copy (an HPE 3PAR physical copy), V(snapshot) a delta point-in-time copy (an HPE 3PAR
        virtual copy).
      - Defaults to V(mirror) for new synchronizations. An existing one of another kind fails the task.
    type: str
    choices: [mirror, clone, snapshot]
  mode:
    description:
      - Synchronous or asynchronous. For a new mirror it is the Mode of CreateElementReplica (default V(sync));
        an existing mirror in another mode is switched with Reset To Sync or Reset To Async while it is
        synchronized.
      - For clones, HPE 3PAR ties the mode to the copy's association. V(async) (the default for new clones)
        keeps the physical copy associated with its source, so it can be resynchronized. V(sync) makes a
        one-time copy that detaches itself once complete, so every run makes a new one. The legacy interface
        maps them to CopyType UnSyncAssoc and UnSyncUnAssoc.
      - The mode of an existing clone or snapshot cannot be changed.
    type: str
    choices: [sync, async]
  interface:
    description:
      - V(auto) uses the replication service (CreateElementReplica, ModifyReplicaSynchronization) for each
        operation it offers, else the legacy Copy Services (CreateReplica, AttachOrModifyReplica,
        ModifySynchronization).
      - V(replication_service) and V(configuration_service) use only the one service.
    type: str
    choices: [auto, replication_service, configuration_service]
    default: auto
  create_target:
    description:
      - When O(target) names no volume, let the provider create it while creating the synchronization. With
        V(false) a missing target fails the task.
    type: bool
    default: true
  resync:
    description:
      - For a mirror, or a clone not in its synchronized state, the same as O(sync_state=synchronized) (a
        failed-over pair needs that option, which fails back).
      - For a clone or snapshot in its synchronized state, an event that takes a new point-in-time copy (Resync
        Replica, or the legacy Resync, which moves only the changed blocks). It is performed on every run
        (reported changed) unless O(max_lag) is set, then only when the copy is older than O(max_lag).
    type: bool
    default: false
  max_lag:
    description:
      - Age bound, in seconds, of the pair's last sync point (WhenSynced, which every completed copy, resync
        and restore renews).
      - Alone, it resyncs a clone or snapshot whose copy is older than this, which makes refreshing a copy
        idempotent.
      - With O(resync), O(start_copy) or O(restore), the event is performed only when the last sync point is
        older than this. A rerun soon after the event therefore does not repeat it. This matters where the
        pair's state does not show that the event happened (HPE 3PAR returns a resynced or re-copied physical
        copy to Frozen and a restored virtual copy to Idle).
    type: int
  restore:
    description:
      - Copy the replica back onto the source (Restore from Replica, or the legacy Restore, which on HPE 3PAR
        promotes a virtual copy). What was written to the source since the copy was taken is overwritten, so
        the restore is refused when the two sides differ unless O(allow_data_loss) is set.
      - Performed only from the states the provider accepts it in (a mirror must be fractured or split first);
        otherwise the task fails, naming the states it is accepted from.
      - Idempotency. Not repeated when the pair already shows CopyState Restored (18), when a restore still
        runs (it is waited for), or when O(max_lag) is set and the last sync point is younger. Providers that
        return the pair to idle after a restore (HPE 3PAR) restore again on every run without O(max_lag).
    type: bool
    default: false
  start_copy:
    description:
      - A full background copy of the source into the replica (legacy ModifySynchronization Start Copy, the
        HPE 3PAR re-copy of a physical copy). Only the legacy service has this operation.
      - Performed on every run unless O(max_lag) is set (then only when the last sync point is older) or a copy
        already runs on the pair (it is waited for instead).
    type: bool
    default: false
  stop_copy:
    description:
      - Stop the copy running on the pair (legacy Stop Copy, or Abort of the replication service). HPE 3PAR then
        removes the pair; other providers leave it Aborted.
      - Performed only while a copy runs. A pair that is not copying, or no longer exists, is left alone
        (reported unchanged), so a rerun does nothing.
    type: bool
    default: false
  reverse:
    description:
      - When the synchronization exists in the opposite direction (O(target) -> O(source)), swap its roles
        (Reverse Roles) so that it runs from O(source) to O(target). When it already runs that way nothing is
        done, so reversing is idempotent. The new target is overwritten by the next resync.
      - Without it, a synchronization found in the opposite direction fails the task.
    type: bool
    default: false
  allow_data_loss:
    description:
      - Steps that overwrite one side with the other are refused before anything is sent when that could
        lose data written to the overwritten side only. The refusal names the synchronization, the step and
        the bytes at stake, in C(discarded_bytes) and C(differing_bytes_at_most). V(true) lets them run.
      - Guarded steps. A resync of a fractured, split, restored, broken or aborted pair, and the refresh of a
        clone or snapshot (O(resync), O(max_lag)), overwrite the target; O(start_copy) too. O(restore) and a
        failback overwrite the source. A reverse of a synchronized mirror overwrites what the old source had
        not sent yet. The escape hatch's Failback (11), Resync Replica (14), Restore from Replica (15) and
        Reset Replica (27), and the legacy Resync (4), Restore (5) and Start Copy (12), are guarded the same way.
      - The measure. The provider reports PercentSynced (the share of the volume's blocks identical on both
        sides) but not which side was written, so the refusal says how many bytes differ at most ("up to N
        bytes") and C(discarded_bytes) is V(unknown). Two identical sides (PercentSynced 100) are never
        refused. For a broken or aborted pair the bound is the whole volume unless PercentSynced is 100, and
        for Reset Replica the amount is unknown.
      - A failback is not refused when the target held every source write at the failover (WhenSynced at or
        after WhenSuspended; the source is read-only to hosts while failed over), so what was written at the
        target comes home; otherwise it is measured like a resync.
      - Not guarded. Resume of a suspended and Activate of an inactive mirror (hosts do not write such a
        target), the creation of a synchronization into an existing volume, other escape-hatch operations.
      - The resync after a routine backup from a split mirror needs V(true) (see the examples). In
        O(synchronizations), an item's own value overrides the task's.
    type: bool
    default: false
  update:
    description:
      - For a planned failover of a mirror. Before a failover (O(sync_state=failed_over)), fracture, split or
        suspend, first bring the mirror to synchronized (resume, resync, activate or fail back, as
        O(sync_state=synchronized) does, with the O(allow_data_loss) guard), then wait until the target holds
        every source write (step C(wait_caught_up), Synchronized with no update in flight and PercentSynced 100),
        then cut over. Without it an asynchronous mirror is cut over with what it had copied so far, and a
        fractured, split or suspended mirror is failed over as it is.
      - With O(sync_state=synchronized) (or O(resync) of a mirror) it waits until caught up as well (a rerun
        waits again and reports unchanged).
      - Stop the hosts that write to the source first. While they write, an asynchronous mirror may never catch
        up, and the wait then ends at O(wait_timeout) with the task failed and nothing cut over.
      - A pair already in the declared state is left alone; no effect without O(sync_state) or O(resync). A clone
        or snapshot fails the task (resync it for a new point in time).
    type: bool
    default: false
  operation:
    description:
      - Escape hatch. Invoke this operation number on the synchronization, for operations no other option
        covers. Needs O(interface) V(replication_service) (ModifyReplicaSynchronization, 2 to 27 or a vendor
        value) or V(configuration_service) (ModifySynchronization, 2 to 13). The two number their operations
        differently.
      - Refused before anything is sent when the provider does not offer it for the pair. Not repeated when the
        pair already is in the CopyState the operation leads to (for example Fracture of a fractured pair), and
        an operation that ends the pair (Detach, Dissolve, Return To ResourcePool, Stop Copy) is not repeated
        once the pair is gone; any other operation is performed on every run.
    type: int
  synchronizations:
    description:
      - Many synchronizations in one run. Each item takes the per-synchronization options; what an item does not
        set comes from the task's top-level option of the same name.
      - Mutually exclusive with O(source) and O(target).
    type: list
    elements: dict
    suboptions:
      source:
        description: See O(source).
        type: str
        required: true
      target:
        description: See O(target).
        type: str
        required: true
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      sync_state:
        description: See O(sync_state).
        type: str
        choices: [synchronized, fractured, split, suspended, failed_over]
      sync_type:
        description: See O(sync_type).
        type: str
        choices: [mirror, clone, snapshot]
      mode:
        description: See O(mode).
        type: str
        choices: [sync, async]
      interface:
        description: See O(interface).
        type: str
        choices: [auto, replication_service, configuration_service]
      create_target:
        description: See O(create_target).
        type: bool
      resync:
        description: See O(resync).
        type: bool
      max_lag:
        description: See O(max_lag).
        type: int
      restore:
        description: See O(restore).
        type: bool
      start_copy:
        description: See O(start_copy).
        type: bool
      stop_copy:
        description: See O(stop_copy).
        type: bool
      reverse:
        description: See O(reverse).
        type: bool
      operation:
        description: See O(operation).
        type: int
      allow_data_loss:
        description: See O(allow_data_loss).
        type: bool
      update:
        description: See O(update).
        type: bool
notes:
  - Needs the Python library C(pywbem) on the host that runs the module (the controller or the execution
    environment).
  - O(max_workers) bounds how many items are worked on at once, each worker over a connection of its own; all
    waiting items are polled together with one enumeration per round.
  - When a method that changes something (a create or a modify) gets no answer (a dropped connection or a
    timeout after it was sent), the provider may or may not have applied it; the module then reads the
    synchronization again and plans the rest of its work from what the provider really did (at most twice per
    item, each time with a warning).
seealso:
  - module: storage.replication.smis_sync_info
"""

EXAMPLES = r"""
- name: Mirror a volume synchronously; the provider creates the target
  storage.replication.smis_sync:
    hostname: smis-provider.example.com
    username: admin
    password: "{{ smis_password }}"
    namespace: root/cimv2
    source: db_data
    target: db_data_mirror
    sync_type: mirror
    mode: sync
    sync_state: synchronized

- name: Split the mirror for a backup (resyncs first when it was fractured)
  storage.replication.smis_sync:
    source: db_data
    target: db_data_mirror
    sync_state: split

- name: Restore the source from the split mirror (once, then the pair shows Restored)
  storage.replication.smis_sync:
    source: db_data
    target: db_data_mirror
    restore: true

- name: Fail over to the mirror, then fail back later with sync_state synchronized
  storage.replication.smis_sync:
    source: db_data
    target: db_data_mirror
    sync_state: failed_over

- name: Planned failover of an asynchronous mirror (hosts stopped), once the target holds every source write
  storage.replication.smis_sync:
    source: db_data
    target: db_data_mirror
    sync_state: failed_over
    update: true
    wait_timeout: 3600

- name: Routine backup from the mirror
  block:
    - name: Split the mirror; the target becomes a consistent, writable copy
      storage.replication.smis_sync:
        source: db_data
        target: db_data_mirror
        sync_state: split

    - name: Back up from the target (the backup host mounts db_data_mirror)
      ansible.builtin.command: /usr/local/bin/backup-volume db_data_mirror
      changed_when: true

    - name: Resync; the source's writes since the split replace whatever differs on the target
      # the array tells how much differs, not which side was written: refused without allow_data_loss
      storage.replication.smis_sync:
        source: db_data
        target: db_data_mirror
        sync_state: synchronized
        allow_data_loss: true

- name: An HPE 3PAR physical copy through the legacy Copy Services, refreshed when older than 12 hours
  module_defaults:
    group/storage.replication.smis:
      hostname: 3par.example.com
      username: "{{ smis_user }}"
      password: "{{ smis_password }}"
      ca_path: /etc/pki/3par-ca.pem
  block:
    - name: Create (AttachOrModifyReplica into an existing volume) and refresh the copy
      storage.replication.smis_sync:
        source: vv_prod
        target: vv_report
        sync_type: clone
        interface: configuration_service
        max_lag: 43200

    - name: Restore the source from a virtual copy, not again within the hour
      storage.replication.smis_sync:
        source: vv_prod
        target: vv_prod_snap
        restore: true
        max_lag: 3600

- name: Many synchronizations at once
  storage.replication.smis_sync:
    synchronizations:
      - {source: vol1, target: vol1_m}
      - {source: vol2, target: vol2_m}
      - {source: vol3, target: vol3_m, sync_state: split}
    sync_state: synchronized
    continue_on_error: true

- name: Remove a synchronization (both volumes stay)
  storage.replication.smis_sync:
    source: db_data
    target: db_data_mirror
    state: absent
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be).
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned), in order, for example V([resync, wait_synchronized, split,
      wait_split]). Steps named C(wait_*) wait for the provider to reach a state.
  returned: when O(synchronizations) is not used
  type: list
  elements: str
synchronization:
  description: Normalized facts of the synchronization after the run (predicted in check mode); null when absent.
  returned: when O(synchronizations) is not used
  type: dict
  contains:
    source:
      description: ElementName of the source volume.
      type: str
    target:
      description: ElementName of the target volume.
      type: str
    source_device_id:
      description: DeviceID of the source volume.
      type: str
    target_device_id:
      description: DeviceID of the target volume.
      type: str
    state:
      description:
        - A name derived from CopyState (V(synchronized), V(copying), V(fractured), V(split), V(suspended),
          V(failed_over), V(broken), V(aborted), V(restored), V(inactive), V(initialized), ...), or
          V(restoring) and V(failing_back) while those run.
      type: str
    healthy:
      description: False when the CopyState is Broken, Aborted, Partitioned or Invalid.
      type: bool
    copy_state:
      description: The CopyState name, with its number in C(copy_state_value).
      type: str
    sync_state:
      description: The legacy SyncState name (C(Frozen), C(Idle), ...), with its number in C(sync_state_value).
      type: str
    progress_status:
      description: The ProgressStatus name (C(Synchronizing), C(Restoring), ...).
      type: str
    mode:
      description: C(sync), C(async), C(adaptive) or C(active).
      type: str
    sync_type:
      description: C(mirror), C(clone) or C(snapshot).
      type: str
    copy_type:
      description: The legacy CopyType (C(Sync), C(Async), C(UnSyncAssoc), C(UnSyncUnAssoc)).
      type: str
    replication_type:
      description: The ReplicationType number (2 synchronous mirror, 10 synchronous clone, ...).
      type: int
    progress:
      description: PercentSynced.
      type: int
    when_synced:
      description: WhenSynced, the last sync point, as an ISO time; null before the first copy completed.
      type: str
    age_seconds:
      description: Seconds since WhenSynced.
      type: int
    lag_seconds:
      description: For mirrors, the age in seconds of WhenSynced, the point in time the target holds (about 0 when
        caught up, growing while fractured, split, suspended, failed over, broken or behind); null otherwise.
      type: int
    recovery_point:
      description: WhenSynced as an ISO time (to the second), the point in time the target holds; or null.
      type: str
    suspended_at:
      description: WhenSuspended (CIM 2.29), the last fracture, split, suspend or failover, as an ISO time; or null.
      type: str
    transferring:
      description: Whether a copy, resync, restore or failback runs.
      type: bool
  sample:
    source: vol1
    target: vol1_m1
    source_device_id: "201"
    target_device_id: "209"
    state: synchronized
    healthy: true
    copy_state: Synchronized
    copy_state_value: 4
    sync_state: Synchronized
    mode: sync
    sync_type: mirror
    progress: 100
    when_synced: "2026-05-09T07:36:57.123000+00:00"
    lag_seconds: 0
    transferring: false
synchronizations:
  description:
    - One result per item of O(synchronizations), in order, each with C(item) (C(<source> -> <target>)),
      C(source), C(target), C(changed), C(actions), C(synchronization) (facts as above), and C(failed) with
      C(msg) (plus the provider's C(array_code), C(array_message) or C(cim_status), and a failed job's C(job)
      and C(cim_errors)) for a failed item, or C(skipped) for an item not run.
  returned: when O(synchronizations) is used
  type: list
  elements: dict
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(synchronizations) is used
  type: dict
discarded_bytes:
  description:
    - The bytes a refused step would have discarded, or V(unknown) when the provider cannot tell (it reports
      how much differs, not which side was written); see C(differing_bytes_at_most). The task was refused and
      nothing was changed; set O(allow_data_loss) to proceed.
  returned: when a step was refused to keep data
  type: raw
differing_bytes_at_most:
  description:
    - The most bytes that differ between the two sides, from PercentSynced (also returned, as C(percent_synced))
      over the capacity of the larger volume (C(capacity_bytes)).
  returned: when a step was refused to keep data and the provider gave a bound
  type: int
requests_sent:
  description: CIM operations this run sent to the provider.
  returned: always
  type: int
diff:
  description: Before and after state of each synchronization, by item (C(<source> -> <target>)), with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import (
    connection_options, item_options, nonempty_env_fallback, run_options)
from ansible_collections.storage.replication.plugins.module_utils._engine import run_module
from ansible_collections.storage.replication.plugins.module_utils._smis import HAS_PYWBEM
from ansible_collections.storage.replication.plugins.module_utils._smis_driver import SmisDriver
from ansible_collections.storage.replication.plugins.module_utils._smis_plan import ITEM_KEYS, build_items


def argument_spec() -> dict:
    per_item = {
        "source": {"type": "str"},
        "target": {"type": "str"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "sync_state": {"type": "str", "choices": ["synchronized", "fractured", "split", "suspended", "failed_over"]},
        "sync_type": {"type": "str", "choices": ["mirror", "clone", "snapshot"]},
        "mode": {"type": "str", "choices": ["sync", "async"]},
        "interface": {"type": "str", "choices": ["auto", "replication_service", "configuration_service"],
                      "default": "auto"},
        "create_target": {"type": "bool", "default": True},
        "resync": {"type": "bool", "default": False},
        "max_lag": {"type": "int"},
        "restore": {"type": "bool", "default": False},
        "start_copy": {"type": "bool", "default": False},
        "stop_copy": {"type": "bool", "default": False},
        "reverse": {"type": "bool", "default": False},
        "operation": {"type": "int"},
        "allow_data_loss": {"type": "bool", "default": False},
        "update": {"type": "bool", "default": False},
    }
    items = item_options(per_item, ITEM_KEYS)
    items["source"]["required"] = True
    items["target"]["required"] = True
    spec = connection_options("SMIS", {"namespace": {"type": "str", "default": "root/tpd",
                                                     "fallback": (nonempty_env_fallback, ["SMIS_NAMESPACE"])}})
    spec.update(per_item)
    spec.update({
        "synchronizations": {"type": "list", "elements": "dict", "options": items},
    })
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True,
                           required_one_of=[("target", "synchronizations")],
                           required_together=[("source", "target")],
                           mutually_exclusive=[("target", "synchronizations"), ("source", "synchronizations")])
    if not HAS_PYWBEM:
        module.fail_json(msg=missing_required_lib("pywbem"))
    run_module(module, build_items, SmisDriver.connect, id_keys=("source", "target"))


if __name__ == "__main__":
    main()
