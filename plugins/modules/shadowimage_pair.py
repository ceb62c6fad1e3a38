#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: shadowimage_pair
short_description: Keep Hitachi VSP ShadowImage pairs and copy groups in a declared state
version_added: 0.1.0
description:
  - Creates, splits, resynchronizes, restores and deletes ShadowImage (local clone) pairs through the
    Hitachi Configuration Manager REST API, and creates their S-VOLs in a pool when asked.
  - Declarative. O(state) says whether the pair exists and O(pair_state) whether it is paired (PAIR, the
    S-VOL follows the P-VOL) or split (PSUS/SSUS, the S-VOL is a point-in-time copy). The module reads the
    pair, works out the steps, runs them, and waits until the pair really reached the target status, not
    just until the array accepted a job.
  - One pair with the top-level options; a whole copy group when O(pair_name) is left out (one request
    splits, resyncs, restores or deletes every pair of the group); or many pairs and groups with O(pairs)
    in one run, with bounded concurrency and per-item results.
  - Every change is sent with C(Job-Mode-Wait-Configuration-Change=NoWait), so the array's job completes
    once the change is applied and no job waits for a copy (which would hold every later job queued). The
    module then waits for the job, and then for the pair status. A status other than the expected
    intermediate and target ones (PSUE above all) fails the item at once with the statuses the array
    reports.
  - One session per run, opened at the first request, kept alive by the status polls during long waits,
    opened again when the array answers that the token expired (HTTP 401), and closed at the end.
  - Reads are one pair-list request per copy group (with C(refresh=true), so pairs made by other tools are
    seen). A rerun of a converged pair costs three requests (session open, pair list, session close).
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
  copy_group:
    description:
      - The copy group of the pair, or the copy group to act on as a whole when O(pair_name) is not given.
      - A new copy group is created with the first pair made in it; its name may have at most 29 characters
        (the array appends C(P_) and C(S_) for its device groups); letters, digits, and the characters C(.:@_-).
      - The copy group is found by name, whatever its device groups are called.
      - With O(pairs), the value for every item that does not set its own.
    type: str
  pair_name:
    description:
      - Name of the pair in its copy group (at most 31 characters).
      - Leave it out to act on every pair of O(copy_group) at once with the array's copy group operations
        (split, resync, restore, delete).
    type: str
  pvol:
    description:
      - LDEV ID of the P-VOL (decimal). Needed to create the pair; for an existing pair it must match.
    type: int
  svol:
    description:
      - The S-VOL, as an LDEV ID (decimal), or a dict to create it in a pool with the P-VOL's capacity.
      - An existing S-VOL must be defined, exactly the P-VOL's size and in no other pair; the module checks
        this before it changes anything.
      - A dict takes C(pool_id) (required), and either C(ldev_id) (the LDEV ID to create; an LDEV of that ID
        that already exists, unpaired and of the right size, is used as it is, so a rerun after a failure never
        creates a second one) or the range C(start_ldev_id)/C(end_ldev_id) for the array to choose from, and
        C(data_reduction_mode) (V(disabled), V(compression), V(compression_deduplication)). The pool must have
        the P-VOL's used capacity available. When the pair cannot be created, an S-VOL created by the same run
        is deleted again.
    type: raw
  state:
    description:
      - Whether the pair (or the copy group) exists. V(absent) deletes it in any status; a pair that is being
        restored (RCPY) is first waited for, since deleting it then would leave the P-VOL half restored.
        Deleting the last pair of a copy group deletes the copy group.
    type: str
    choices: [present, absent]
    default: present
  pair_state:
    description:
      - V(paired) keeps the pair synchronized (PAIR). A split pair is resynchronized from the P-VOL, copying
        only the blocks changed on either side since the split; writes made to the S-VOL while it was split
        are overwritten (use O(restore) to copy them to the P-VOL instead). A pair suspended by a failure
        (PSUE) is resynchronized with a full copy.
      - A resync that would overwrite blocks differing between the two volumes is refused unless
        O(allow_data_loss=true), since the array does not say which side was written; see O(allow_data_loss).
        A split pair whose volumes are still identical is resynchronized without it.
      - V(split) makes the S-VOL a point-in-time copy (PSUS/SSUS). A new pair is split after its initial copy;
        a pair still copying is waited for first, and split unless its copy ended split (as a pair created
        with O(auto_split) does); a PSUE pair is resynchronized, then split.
      - Default V(paired), or V(split) with O(auto_split=true).
    type: str
    choices: [paired, split]
  restore:
    description:
      - Copy the S-VOL's data back onto the P-VOL (a reverse resync; the P-VOL is not accessible to hosts
        until the pair is PAIR again). This is an event, not a state, and the module is explicit about when
        it happens.
      - It is performed when the pair is split (PSUS/SSUS), and reported as changed exactly then.
      - A pair in PAIR looks the same after a restore as after a resync, so on a pair in PAIR the restore
        counts as done only when the array's job history (its last 100 jobs) shows that the last operation
        on the pair was a restore; the rerun of a task that restored is then unchanged. Otherwise, and for a
        pair in any status other than split or RCPY, the task fails before changing anything.
      - A pair already restoring (RCPY) is waited for.
      - A restore overwrites what was written to the P-VOL since the split. When the array reports blocks
        that differ between the two volumes, the restore is refused unless O(allow_data_loss=true).
      - With O(pair_state=split) the pair is split again after the restore, so the S-VOL stays a frozen
        copy. A rerun finds the pair split, and the array's job history showing a restore followed by that
        split, and does nothing; once anything else was done to the pair, C(restore) restores again.
      - With O(pair_name) left out, every pair of the copy group is restored with one request; all must be
        split.
    type: bool
    default: false
  allow_data_loss:
    description:
      - A resync (P-VOL to S-VOL) or restore (S-VOL to P-VOL) of a split or suspended pair overwrites whatever
        was written to the other volume since the split. The array reports how much of the two volumes
        differs (its copy progress rate of a split pair, the share of identical blocks) but not which of them
        was written, so the module cannot tell whether data would be lost.
      - With V(false) (the default) such a resync or restore is refused, in check mode too and before
        anything is changed, naming the pair, the volume that would be overwritten and the most bytes that
        differ (RV(differing_bytes_at_most); RV(discarded_bytes) is V(unknown)). A pair whose volumes are
        identical (progress rate 100) is resynced or restored without it. A pair suspended by a failure (PSUE)
        is resynchronized with a full copy, so all of its capacity counts as differing.
      - For a copy group as a whole every pair is measured, and the refusal names the pairs that differ.
      - V(true) proceeds, for example to resync after the S-VOL of a split pair was used for a backup, or
        after writes to the P-VOL only, which the resync copies to the S-VOL without loss.
      - With O(pairs), an item's own value overrides the task's.
    type: bool
    default: false
  copy_pace:
    description:
      - Copy pace of the operations this run performs, 1 (slowest, least impact on host I/O) to 15
        (fastest). The array's default when not set. It does not make an existing pair differ.
    type: int
  mu_number:
    description:
      - MU number of the pair on the P-VOL (0-2); the array chooses a free one when not set. A P-VOL can
        have up to three ShadowImage S-VOLs. It must match for an existing pair.
    type: int
  consistency_group:
    description:
      - Consistency group ID (0-127) the new pair joins, so that the pairs of the group split at the same
        instant. It must match for an existing pair.
    type: int
  auto_split:
    description:
      - Create the pair split, as the array does it (C(autoSplit)), right after its initial copy. Implies
        O(pair_state=split); not possible together with O(consistency_group).
    type: bool
    default: false
  resync_split:
    description:
      - Whether O(pair_state=paired) resynchronizes a split pair. A resync copies the P-VOL over the S-VOL and
        overwrites what was written to the S-VOL while split, which after a failover is the production data.
      - With V(false), split pairs are left as they are and reported unchanged, with a note; the roles use this
        so that protecting a set again after a failover never undoes the failover.
    type: bool
    default: true
  quick_mode:
    description:
      - Quick split, resync and restore. The status changes at once and the copy goes on in the background
        (the S-VOL of a quick split is usable at once); the wait ends when the status is reached. On
        creation it applies to the split that O(pair_state=split) or O(auto_split) asks for.
    type: bool
    default: false
  pvol_device_group:
    description:
      - Name of the P-VOL device group of a new copy group (at most 31 characters). The array's default
        is C(<copy_group>P_). For an existing copy group it must match when given.
    type: str
  svol_device_group:
    description:
      - Name of the S-VOL device group of a new copy group. The array's default is C(<copy_group>S_).
    type: str
  pairs:
    description:
      - Many pairs (or copy groups) in one run. Each item takes the per-pair options; what an item does not
        set comes from the task's top-level option of the same name (for example one O(copy_group) for all).
      - Mutually exclusive with O(pair_name), O(pvol) and O(svol).
    type: list
    elements: dict
    suboptions:
      copy_group:
        description: See O(copy_group).
        type: str
      pair_name:
        description: See O(pair_name). Left out, the item acts on every pair of its copy group.
        type: str
      pvol:
        description: See O(pvol).
        type: int
      svol:
        description: See O(svol).
        type: raw
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      pair_state:
        description: See O(pair_state).
        type: str
        choices: [paired, split]
      restore:
        description: See O(restore).
        type: bool
      allow_data_loss:
        description: See O(allow_data_loss).
        type: bool
      copy_pace:
        description: See O(copy_pace).
        type: int
      mu_number:
        description: See O(mu_number).
        type: int
      consistency_group:
        description: See O(consistency_group).
        type: int
      auto_split:
        description: See O(auto_split).
        type: bool
      resync_split:
        description: See O(resync_split).
        type: bool
      quick_mode:
        description: See O(quick_mode).
        type: bool
      pvol_device_group:
        description: See O(pvol_device_group).
        type: str
      svol_device_group:
        description: See O(svol_device_group).
        type: str
notes:
  - Needs the Python library C(requests) on the host that runs the module (the controller or the execution
    environment).
  - Pairs created without a copy group (for example by CCI without one) are not visible to the REST API's
    pair list and so not to this module.
  - When a write gets no answer (a dropped connection), the array may or may not have applied it; the module
    then reads the pair (or copy group) again and carries on from its status, at most twice per item, with a
    warning. An S-VOL creation without an answer is the exception; only the array's job list tells whether an
    LDEV was created, so the item fails and says where to look.
seealso:
  - module: storage.replication.shadowimage_pair_info
"""

EXAMPLES = r"""
- name: Pair a P-VOL with an S-VOL created in pool 0, in a new copy group
  storage.replication.shadowimage_pair:
    hostname: vsp-svp.example.com
    username: maintenance
    password: "{{ vsp_password }}"
    copy_group: db_backup
    pair_name: db_data
    pvol: 256
    svol:
      pool_id: 0
      ldev_id: 1280
  register: created

- name: Take the nightly point-in-time copy of the whole copy group (one request)
  storage.replication.shadowimage_pair:
    copy_group: db_backup
    pair_state: split

- name: Refresh it from the P-VOLs before the next night (only changed blocks are copied)
  storage.replication.shadowimage_pair:
    copy_group: db_backup
    pair_state: paired
    # the array reports how many blocks differ between P-VOL and S-VOL, not which side was written:
    # the task states that overwriting the S-VOLs is intended (without it a pair that differs is refused)
    allow_data_loss: true

# The routine backup flow: split, back up from the S-VOL, resync. After the backup the resync
# says allow_data_loss, because the P-VOL has changed and the array cannot tell the module that
# those changes are the P-VOL's own and not writes to the S-VOL it would discard.
- name: Freeze the point-in-time copy for the backup
  storage.replication.shadowimage_pair:
    copy_group: db_backup
    pair_name: db_data
    pair_state: split

- name: Back up from the S-VOL (mounted on the backup server)
  ansible.builtin.command: /usr/local/bin/backup-svol --ldev 1280
  delegate_to: backup01.example.com
  changed_when: true

- name: Resync the S-VOL from the P-VOL once the backup is done
  storage.replication.shadowimage_pair:
    copy_group: db_backup
    pair_name: db_data
    pair_state: paired
    allow_data_loss: true

- name: Roll the P-VOL back to the S-VOL's copy and keep the copy frozen (rerunnable)
  storage.replication.shadowimage_pair:
    copy_group: db_backup
    pair_name: db_data
    restore: true
    pair_state: split
    allow_data_loss: true  # what was written to the P-VOL since the split is overwritten: that is the point

- name: Several pairs in one run, connection set once for the group
  module_defaults:
    group/storage.replication.vsp:
      hostname: vsp-svp.example.com
      username: maintenance
      password: "{{ vsp_password }}"
      storage_device_id: "886000410001"
  block:
    - name: Ensure eight pairs of one copy group, split
      storage.replication.shadowimage_pair:
        copy_group: app_snap
        pair_state: split
        copy_pace: 8
        pairs:
          - {pair_name: app01, pvol: 256, svol: 512}
          - {pair_name: app02, pvol: 257, svol: 513}
          - {pair_name: app03, pvol: 258, svol: 514}
        continue_on_error: true

- name: Delete a pair
  storage.replication.shadowimage_pair:
    copy_group: db_backup
    pair_name: db_data
    state: absent
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be). Waiting for a copy another run
    started is not a change.
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned), in order, for example V([create_svol, create, wait_paired]) or
      V([restore, wait_paired]). Steps named C(wait_*) wait for the array to reach a status. C(delete_svol)
      means an S-VOL created by this run was deleted again because its pair could not be created.
  returned: when O(pairs) is not used
  type: list
  elements: str
pair:
  description: Normalized facts of the pair after the run (predicted in check mode); null when absent, and
    for a copy group as a whole (see RV(group)).
  returned: when O(pairs) is not used
  type: dict
  contains:
    copy_group:
      description: Copy group name.
      type: str
    pair_name:
      description: Pair name.
      type: str
    pair_id:
      description: The array's pair ID (C(copy group,P-VOL device group,S-VOL device group,pair name)).
      type: str
    copy_group_id:
      description: The array's copy group ID.
      type: str
    pvol_device_group:
      description: P-VOL device group.
      type: str
    svol_device_group:
      description: S-VOL device group.
      type: str
    pvol:
      description: P-VOL LDEV ID.
      type: int
    svol:
      description: S-VOL LDEV ID.
      type: int
    mu_number:
      description: MU number on the P-VOL.
      type: int
    pvol_status:
      description: Status the array reports for the P-VOL (C(PAIR), C(COPY), C(PSUS), C(PSUE), C(RCPY), ...).
      type: str
    svol_status:
      description: Status the array reports for the S-VOL (C(SSUS) when split).
      type: str
    state:
      description: Normalized state from both statuses. V(paired), V(split), V(copying), V(restoring),
        V(suspended_error) (PSUE), V(simplex), or V(unknown).
      type: str
    healthy:
      description: False when suspended by a failure (PSUE) or in a status the module does not know.
      type: bool
    progress:
      description: The array's copy progress rate (0-100).
      type: int
    consistency_group:
      description: Consistency group ID, or null.
      type: int
    transferring:
      description: Whether a copy is running (COPY or RCPY).
      type: bool
    lag_seconds:
      description: Always null (ShadowImage does not report one); present so all vendors' facts match.
      type: int
    recovery_point:
      description: Always null, as RV(pair.lag_seconds).
      type: str
  sample:
    copy_group: db_backup
    pair_name: db_data
    pair_id: db_backup,db_backupP_,db_backupS_,db_data
    pvol: 256
    svol: 1280
    pvol_status: PSUS
    svol_status: SSUS
    state: split
    healthy: true
    progress: 100
    consistency_group: null
    transferring: false
group:
  description: For a copy group as a whole, its C(copy_group), C(copy_group_id), device groups, C(pair_count),
    C(state) (the pairs' common state, or V(mixed)), C(healthy), C(transferring) and C(pairs) (facts as
    RV(pair)).
  returned: when O(pair_name) is not given
  type: dict
svol:
  description: The S-VOL created in a pool (C(ldev_id), C(pool_id), C(block_capacity), C(created), and
    C(deleted) when it was deleted again because its pair could not be created).
  returned: when an S-VOL was created (or would be, in check mode)
  type: dict
pairs:
  description:
    - One result per item of O(pairs), in order, each with C(item) (C(<copy_group>/<pair_name>), or
      C(<copy_group>) for a copy group as a whole), C(copy_group), C(pair_name), C(changed), C(actions),
      C(pair) (and C(group), C(svol)) as above, and C(failed) with C(msg) (plus the array's C(array_message),
      C(array_code), C(http_status) and the item's C(current) status) for a failed item, or C(skipped) for
      an item not run.
  returned: when O(pairs) is used
  type: list
  elements: dict
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(pairs) is used
  type: dict
discarded_bytes:
  description:
    - In a refusal to resync or restore, the bytes that would be discarded; always V(unknown), since the array
      does not say which volume was written (see RV(differing_bytes_at_most)). Set O(allow_data_loss) to
      proceed.
  returned: when a resync or restore was refused to keep data
  type: raw
differing_bytes_at_most:
  description: In a refusal to resync or restore, the most bytes that differ between the volumes, from the
    array's copy progress rate and the P-VOL's capacity (for a copy group, the sum over its pairs).
  returned: when a resync or restore was refused to keep data and the array gave a figure
  type: int
differing_bytes_by_pair:
  description: For a copy group as a whole, that bound for each pair the refused resync or restore would
    overwrite (null when the array gave no figure).
  returned: when a copy group resync or restore was refused to keep data
  type: dict
requests_sent:
  description: HTTP requests this run sent to the REST server, the session requests included.
  returned: always
  type: int
diff:
  description: Before and after state of each pair (or copy group), by item, with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import item_options, run_options
from ansible_collections.storage.replication.plugins.module_utils._engine import run_module
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS
from ansible_collections.storage.replication.plugins.module_utils._shadowimage_driver import ShadowImageDriver
from ansible_collections.storage.replication.plugins.module_utils._shadowimage_plan import ITEM_KEYS, build_items
from ansible_collections.storage.replication.plugins.module_utils._vsp import vsp_connection_options


def argument_spec() -> dict:
    per_item = {
        "copy_group": {"type": "str"},
        "pair_name": {"type": "str"},
        "pvol": {"type": "int"},
        "svol": {"type": "raw"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "pair_state": {"type": "str", "choices": ["paired", "split"]},
        "restore": {"type": "bool", "default": False},
        "allow_data_loss": {"type": "bool", "default": False},
        "copy_pace": {"type": "int"},
        "mu_number": {"type": "int"},
        "consistency_group": {"type": "int"},
        "auto_split": {"type": "bool", "default": False},
        "quick_mode": {"type": "bool", "default": False},
        "resync_split": {"type": "bool", "default": True},
        "pvol_device_group": {"type": "str"},
        "svol_device_group": {"type": "str"},
    }
    spec = vsp_connection_options()
    spec.update(per_item)
    spec.update({
        "pairs": {"type": "list", "elements": "dict", "options": item_options(per_item, ITEM_KEYS)},
    })
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True,
                           required_one_of=[("copy_group", "pairs")],
                           mutually_exclusive=[("pair_name", "pairs"), ("pvol", "pairs"), ("svol", "pairs")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    run_module(module, build_items, lambda params, _items: ShadowImageDriver.connect(params),
               extras=("group", "svol"), id_keys=("copy_group", "pair_name"))


if __name__ == "__main__":
    main()
