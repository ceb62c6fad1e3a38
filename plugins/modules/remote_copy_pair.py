#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_copy_pair
short_description: Keep Hitachi VSP remote copy pairs (TrueCopy, Universal Replicator, global-active device) in a declared state
version_added: 0.2.0
description:
  - Creates, splits, resynchronizes, swaps, takes over and deletes remote copy pairs between two Hitachi VSP
    storage systems through the Configuration Manager REST API. V(TC) is TrueCopy (synchronous), V(UR)
    Universal Replicator (asynchronous, through journals), V(GAD) global-active device (active-active).
  - The module's connection options name the B(primary) array, which holds the declared P-VOL;
    O(remote_array) names the B(secondary) array, with its own credentials, which holds the declared S-VOL.
    The module opens one session on each. Requests on a pair or copy group carry the other array's session
    as C(Remote-Authorization), as the API requires.
  - Declarative. O(state) says whether the pair exists, O(pair_state) where it stands. V(paired) is the
    declared direction, mirroring (PAIR). V(split) is that direction, split (PSUS/SSUS). V(swapped) is the
    reversed direction, mirroring. The secondary's volume is then the P-VOL and production runs there. It
    is reached with a swap split (the S-VOL made writable, SSWS), then a swap resync. O(takeover) makes
    the secondary's volume writable with the array's takeover. It is sent to the secondary only, so it
    works with the primary down.
  - The module first brings a pair to mirroring without losing the side production writes to. A split or
    suspended pair is resynchronized from its P-VOL. A pair whose S-VOL is writable (SSWS, after a swap split
    or a takeover) is swap-resynchronized, which keeps the S-VOL's data and reverses the direction. Then the
    module swaps when the direction is not the declared one, and splits for O(pair_state=split).
  - Every wait ends on the target status as both arrays report it (each pair is polled on both).
  - One pair with the top-level options; a whole copy group when O(pvol) and O(pair_name) are left out (one
    request per operation for every pair of the group); or many pairs and groups with O(pairs).
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
  remote_array:
    description:
      - Connection to the secondary array (the declared S-VOL's), with its own credentials.
      - Each suboption falls back to an environment variable, E(VSP_REMOTE_HOSTNAME), E(VSP_REMOTE_USERNAME),
        E(VSP_REMOTE_PASSWORD), E(VSP_REMOTE_VALIDATE_CERTS), E(VSP_REMOTE_CA_PATH), E(VSP_REMOTE_PORT),
        E(VSP_REMOTE_TIMEOUT) and E(VSP_REMOTE_STORAGE_DEVICE_ID) (give O(remote_array={}) to use them all).
    type: dict
    required: true
    suboptions:
      hostname:
        description: The secondary's REST server, as a host name, C(host:port) or C(https://host:port) URL.
        type: str
        required: true
      username:
        description: User name on the secondary.
        type: str
        required: true
      password:
        description: Password on the secondary. It never appears in results or logs.
        type: str
        required: true
      validate_certs:
        description: Verify the secondary's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: CA file for the secondary's certificate.
        type: path
      port:
        description: Port of the secondary's REST API when not in O(remote_array.hostname).
        type: int
      timeout:
        description: Seconds to wait for one HTTP answer.
        type: int
        default: 60
      storage_device_id:
        description:
          - The secondary's 12-digit storage device ID, as in the copy group IDs. Without it the module asks
            the secondary's REST server (C(storages/instance)), and uses the storage-unscoped paths.
        type: str
  replication_type:
    description:
      - V(TC) TrueCopy, V(UR) Universal Replicator, V(GAD) global-active device.
      - Part of the pair's identity. An existing pair of another type is an error, never changed.
      - Required with O(state=present).
    type: str
    choices: [TC, UR, GAD]
  copy_group:
    description:
      - The remote copy group of the pair, or the group to act on as a whole when O(pvol) and O(pair_name) are
        left out. A new group, with device groups C(<copy_group>P_) on the primary and C(<copy_group>S_) on the
        secondary, is created with its first pair; its name may have at most 29 characters.
      - An existing group that replicates to another storage system than O(remote_array) is an error.
    type: str
  pair_name:
    description:
      - Name of the pair in its copy group (at most 31 characters). Default C(ldev<pvol>) for a new pair.
        An existing pair is found by this name, else by O(pvol).
    type: str
  pvol:
    description:
      - LDEV ID of the declared P-VOL, on the primary array. Needed to create the pair.
      - An existing pair of the copy group with this P-VOL but another S-VOL, type, MU, journal, quorum disk or
        fence level is an error, not changed.
    type: int
  svol:
    description:
      - LDEV ID of the declared S-VOL, on the secondary array. It must be defined and of the P-VOL's size.
      - With the primary down, the pair is found on the secondary by O(pair_name) or by this LDEV.
    type: int
  state:
    description:
      - V(absent) deletes the pair (or every pair of the copy group) in any status. Both arrays must answer.
    type: str
    choices: [present, absent]
    default: present
  pair_state:
    description:
      - V(paired), V(split) or V(swapped) (see the description). Default V(paired).
      - A resync overwrites the blocks written to the S-VOL since the split. A swap resync overwrites the
        blocks written to the P-VOL since the swap split or takeover. When the array reports blocks that differ,
        either is refused unless O(allow_data_loss=true).
    type: str
    choices: [paired, split, swapped]
  takeover:
    description:
      - Make the secondary's volume writable with the array's takeover (C(actions/takeover)), sent to the
        secondary with C(NotSpecified) for the primary's parts of the ids and no C(Remote-Authorization). This
        is the unplanned failover; it works with the primary array down. With the primary down the module
        reads only the secondary, sends C(mode=forceSplit), and the S-VOL goes SSWS at once. Universal
        Replicator journal data not yet sent is lost then, as the array's takeover does. With the primary
        up it sends C(mode=auto). The array then copies the journal and swaps (the pair ends V(swapped)).
        Otherwise the S-VOL goes SSWS.
      - Done when the secondary's volume is writable already (V(svol_writable), V(swapped),
        V(swapped_split)).
      - Without O(takeover), every other option needs the primary to answer. A run with the primary down
        fails with the primary's error and names O(takeover).
      - For a planned failover with both arrays up, use O(pair_state=swapped) instead. It loses nothing.
    type: bool
    default: false
  allow_data_loss:
    description:
      - A resync or swap resync of a pair whose volumes differ overwrites what was written to the side it copies
        onto. The array reports how much differs (its copy progress rate) but not which side was written.
      - With V(false) (the default) such a step is refused, in check mode too and before anything changes,
        naming the pair, the volume it would overwrite and the most bytes that differ
        (RV(differing_bytes_at_most)). A pair whose volumes are identical is resynchronized without it.
    type: bool
    default: false
  mu_number:
    description: MU number of the pair (0-3). Must match for an existing pair.
    type: int
  fence_level:
    description:
      - TrueCopy fence level. V(NEVER) keeps the P-VOL writable when the pair suspends. V(DATA) and V(STATUS)
        refuse host writes to a suspended P-VOL. UR pairs are V(ASYNC), GAD pairs V(NEVER) (the array's
        defaults). Must match for an existing pair.
    type: str
    choices: [NEVER, DATA, STATUS, ASYNC]
  pvol_journal_id:
    description: UR only. The master journal on the primary array, needed to create a new copy group.
    type: int
  svol_journal_id:
    description: UR only. The restore journal on the secondary array, needed to create a new copy group.
    type: int
  quorum_disk_id:
    description: GAD only. The quorum disk ID set up on both arrays, needed to create a pair.
    type: int
  path_group_id:
    description: The remote path group from the primary to the secondary (the array's default 0).
    type: int
  copy_pace:
    description: Copy pace of the initial copy and of resyncs this run starts, 1 (slowest) to 15 (fastest).
    type: int
  pairs:
    description:
      - Many pairs (or copy groups) in one run. Each item takes the per-pair options; what an item does not set
        comes from the task's option of the same name.
      - Mutually exclusive with O(pair_name), O(pvol) and O(svol).
    type: list
    elements: dict
    suboptions:
      copy_group:
        description: See O(copy_group).
        type: str
      pair_name:
        description: See O(pair_name).
        type: str
      pvol:
        description: See O(pvol).
        type: int
      svol:
        description: See O(svol).
        type: int
      replication_type:
        description: See O(replication_type).
        type: str
        choices: [TC, UR, GAD]
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
      pair_state:
        description: See O(pair_state).
        type: str
        choices: [paired, split, swapped]
      takeover:
        description: See O(takeover).
        type: bool
      allow_data_loss:
        description: See O(allow_data_loss).
        type: bool
      mu_number:
        description: See O(mu_number).
        type: int
      fence_level:
        description: See O(fence_level).
        type: str
        choices: [NEVER, DATA, STATUS, ASYNC]
      pvol_journal_id:
        description: See O(pvol_journal_id).
        type: int
      svol_journal_id:
        description: See O(svol_journal_id).
        type: int
      quorum_disk_id:
        description: See O(quorum_disk_id).
        type: int
      path_group_id:
        description: See O(path_group_id).
        type: int
      copy_pace:
        description: See O(copy_pace).
        type: int
notes:
  - Needs the Python library C(requests) on the host that runs the module.
  - The remote storage registration, remote paths, journals and quorum disks are set up beforehand. This
    module manages pairs and copy groups.
  - Remote-copy sessions need an C(aliveTime) of at least 60 seconds. The module opens its sessions with 300.
  - A global-active device swap resync needs the P-VOL PSUS and the S-VOL SSWS (the array's rule). After a
    takeover with the primary down the P-VOL is PSUE, and the array refuses the swap resync. Its answer is
    returned as it is.
  - With the secondary down, the module reads the primary's side of each copy group (C(NotSpecified) ids) and
    refuses any change, since every operation but the takeover needs both arrays.
seealso:
  - module: storage.replication.remote_copy_pair_info
  - module: storage.replication.shadowimage_pair
"""

EXAMPLES = r"""
- name: Protect a volume with TrueCopy (fence level NEVER) in a new copy group
  storage.replication.remote_copy_pair:
    hostname: vsp-site-a.example.com
    username: maintenance
    password: "{{ vsp_a_password }}"
    remote_array:
      hostname: vsp-site-b.example.com
      username: maintenance
      password: "{{ vsp_b_password }}"
      storage_device_id: "886000410002"
    replication_type: TC
    copy_group: db_tc
    pair_name: db_data
    pvol: 256
    svol: 256
    fence_level: NEVER

- name: Universal Replicator pairs of one copy group, journals 0 on both sides
  storage.replication.remote_copy_pair:
    remote_array: "{{ site_b }}"
    replication_type: UR
    copy_group: app_ur
    pvol_journal_id: 0
    svol_journal_id: 0
    pairs:
      - {pvol: 300, svol: 300}
      - {pvol: 301, svol: 301}

- name: Planned site switch, production moves to site B with nothing lost (swap split, swap resync)
  storage.replication.remote_copy_pair:
    remote_array: "{{ site_b }}"
    replication_type: UR
    copy_group: app_ur
    pair_state: swapped

- name: Site A is gone, so take over on site B (only site B is contacted)
  storage.replication.remote_copy_pair:
    remote_array: "{{ site_b }}"
    replication_type: TC
    copy_group: db_tc
    pair_name: db_data
    svol: 256
    takeover: true

- name: Site A is back, so keep site B's writes and reverse the pair (swap resync)
  storage.replication.remote_copy_pair:
    remote_array: "{{ site_b }}"
    replication_type: TC
    copy_group: db_tc
    pair_name: db_data
    pair_state: swapped
    allow_data_loss: true  # site A's volume may differ; its writes since the takeover are overwritten

- name: A global-active device pair, split (the S-VOL keeps a frozen copy)
  storage.replication.remote_copy_pair:
    remote_array: "{{ site_b }}"
    replication_type: GAD
    copy_group: gad_cg
    pvol: 400
    svol: 400
    quorum_disk_id: 0
    pair_state: split

- name: Delete a whole copy group
  storage.replication.remote_copy_pair:
    remote_array: "{{ site_b }}"
    copy_group: db_tc
    state: absent
"""

RETURN = r"""
changed:
  description: Whether anything was changed (or, in check mode, would be).
  returned: always
  type: bool
actions:
  description:
    - The steps taken (in check mode, planned), in order, for example V([create, wait_paired]) or
      V([swap_split, wait_swap_split, swap_resync, wait_swapped]). Steps named C(wait_*) wait for both arrays to
      report a status.
  returned: when O(pairs) is not used
  type: list
  elements: str
pair:
  description: Normalized facts of the pair after the run (predicted in check mode); null when absent and for
    a copy group as a whole (see RV(group)).
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
      description: The pair's ID as the primary array names it.
      type: str
    replication_type:
      description: V(TC), V(UR) or V(GAD).
      type: str
    pvol:
      description: The declared P-VOL (the primary array's LDEV), whatever the direction.
      type: int
    svol:
      description: The declared S-VOL (the secondary array's LDEV).
      type: int
    pvol_status:
      description: Status of the current P-VOL (C(PAIR), C(COPY), C(PSUS), C(PSUE), C(PFUL), C(PFUS)).
      type: str
    svol_status:
      description: Status of the current S-VOL (C(SSUS) split, C(SSWS) writable after a swap split or takeover).
      type: str
    primary_status:
      description: Status of the primary array's volume.
      type: str
    secondary_status:
      description: Status of the secondary array's volume.
      type: str
    direction:
      description: V(forward) (the primary's volume is the P-VOL) or V(reversed) (after a swap).
      type: str
    state:
      description: V(paired), V(split), V(swapped), V(swapped_split), V(svol_writable), V(pvol_writable),
        V(copying), V(suspended_error) (PSUE, or PFUS), V(simplex) or V(unknown).
      type: str
    state_on_secondary:
      description: The state as the secondary array reports it (after a wait).
      type: str
    in_sync:
      description: Whether both sides are PAIR (or PFUL).
      type: bool
    healthy:
      description: False when suspended by a failure or in a status the module does not know.
      type: bool
    progress:
      description: The array's copy progress rate (0-100).
      type: int
    fence_level:
      description: Fence level (TC NEVER/DATA/STATUS, UR ASYNC, GAD NEVER).
      type: str
    pvol_journal_id:
      description: UR journal of the declared P-VOL.
      type: int
    svol_journal_id:
      description: UR journal of the declared S-VOL.
      type: int
    quorum_disk_id:
      description: GAD quorum disk.
      type: int
    pvol_io_mode:
      description: GAD I/O mode of the declared P-VOL (C(Mirror), C(Local), C(Block)).
      type: str
    svol_io_mode:
      description: GAD I/O mode of the declared S-VOL.
      type: str
    journal:
      description:
        - UR journal lag, as far as the arrays say. C(q_count) counts the journal entries not yet restored.
          C(markers_behind) is the difference of the master and restore journals' C(qMarker). C(bytes) is
          the master journal's bytes in use (C(usage_rate) of C(capacity_bytes)). C(seconds) is always null
          because the API gives no time.
      type: dict
    lag_seconds:
      description: 0 for a pair in sync with nothing queued; null otherwise (the API gives no lag time).
      type: int
    recovery_point:
      description: The time of the read for a pair in sync with nothing queued; null otherwise.
      type: str
group:
  description: For a copy group as a whole, its C(copy_group), C(copy_group_id), C(pair_count), C(state) (or
    V(mixed)), C(in_sync), C(healthy) and C(pairs) (facts as RV(pair)).
  returned: when O(pvol) and O(pair_name) are not given
  type: dict
pairs:
  description: One result per item of O(pairs), in order, each with C(item), C(copy_group), C(pair_name),
    C(changed), C(actions), C(pair) (or C(group)), and C(failed) with C(msg) for a failed item.
  returned: when O(pairs) is used
  type: list
  elements: dict
summary:
  description: Counts of items by outcome (C(total), C(changed), C(ok), C(failed), C(skipped)).
  returned: when O(pairs) is used
  type: dict
discarded_bytes:
  description: In a refusal to resync or swap-resync, V(unknown) (the array does not say which side was written).
  returned: when a resync was refused to keep data
  type: raw
differing_bytes_at_most:
  description: In such a refusal, the most bytes that differ between the volumes (copy progress rate and the
    P-VOL's capacity; for a copy group, the sum).
  returned: when a resync was refused to keep data and the array gave a figure
  type: int
requests_sent:
  description: HTTP requests this run sent to both REST servers, the session requests included.
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
from ansible_collections.storage.replication.plugins.module_utils._remote_client import remote_array_options
from ansible_collections.storage.replication.plugins.module_utils._remote_driver import RemoteCopyDriver
from ansible_collections.storage.replication.plugins.module_utils._remote_plan import ITEM_KEYS, build_items
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS
from ansible_collections.storage.replication.plugins.module_utils._vsp import vsp_connection_options


def argument_spec() -> dict:
    per_item = {
        "copy_group": {"type": "str"},
        "pair_name": {"type": "str"},
        "pvol": {"type": "int"},
        "svol": {"type": "int"},
        "replication_type": {"type": "str", "choices": ["TC", "UR", "GAD"]},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "pair_state": {"type": "str", "choices": ["paired", "split", "swapped"]},
        "takeover": {"type": "bool", "default": False},
        "allow_data_loss": {"type": "bool", "default": False},
        "mu_number": {"type": "int"},
        "fence_level": {"type": "str", "choices": ["NEVER", "DATA", "STATUS", "ASYNC"]},
        "pvol_journal_id": {"type": "int"},
        "svol_journal_id": {"type": "int"},
        "quorum_disk_id": {"type": "int"},
        "path_group_id": {"type": "int"},
        "copy_pace": {"type": "int"},
    }
    spec = vsp_connection_options()
    spec["remote_array"] = remote_array_options()
    spec.update(per_item)
    spec["pairs"] = {"type": "list", "elements": "dict", "options": item_options(per_item, ITEM_KEYS)}
    spec.update(run_options())
    return spec


def main() -> None:
    module = AnsibleModule(argument_spec(), supports_check_mode=True,
                           required_one_of=[("copy_group", "pairs")],
                           mutually_exclusive=[("pair_name", "pairs"), ("pvol", "pairs"), ("svol", "pairs")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    run_module(module, build_items, lambda params, _items: RemoteCopyDriver.connect(params),
               extras=("group",), id_keys=("copy_group", "pair_name"))


if __name__ == "__main__":
    main()
