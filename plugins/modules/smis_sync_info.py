#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smis_sync_info
short_description: Report the replica synchronizations of an SMI-S provider, with state, health and lag
version_added: 0.1.0
description:
  - Reads the volumes and the synchronizations (CIM_StorageSynchronized) of an SMI-S provider's namespace with
    two requests and returns normalized facts for each synchronization (source and target by ElementName and
    DeviceID, CopyState, the legacy SyncState, ProgressStatus, mode, sync type, progress, when synced, lag
    and recovery point, and whether it is healthy and copying).
  - With O(capabilities=true) it also reports what the provider offers. This covers the replication types of
    its replication service with their operations and copy states, and the operations of its legacy Copy
    Services per synchronization type.
  - O(query) selects with JMESPath, for example the unhealthy ones or the mirrors over an RPO.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.smis
  - storage.replication.attributes
  - storage.replication.smis.actiongroup
  - storage.replication.attributes.info_module
options:
  volumes:
    description:
      - Only the synchronizations whose source or target is one of these volumes (ElementName or DeviceID).
        A name that matches no volume fails the task.
    type: list
    elements: str
  max_lag:
    description:
      - An RPO in seconds. Each synchronization gets C(over_rpo) (a mirror whose lag exceeds it, or that has
        never synchronized), and C(summary.over_rpo) counts them.
    type: int
  capabilities:
    description:
      - Also report the provider's capabilities as RV(capabilities). This costs a few more requests (one or two
        per replication type).
    type: bool
    default: false
  query:
    description:
      - A JMESPath expression applied to the list of synchronizations. When it gives a list, that list is
        returned as RV(synchronizations); otherwise the value is returned as RV(query_result) and
        RV(synchronizations) holds the whole list.
      - Needs the Python library C(jmespath).
    type: str
notes:
  - Needs the Python library C(pywbem).
seealso:
  - module: storage.replication.smis_sync
"""

EXAMPLES = r"""
- name: Every synchronization of an HPE 3PAR array
  storage.replication.smis_sync_info:
    hostname: 3par.example.com
    username: monitor
    password: "{{ smis_password }}"
    ca_path: /etc/pki/3par-ca.pem
  register: copies

- name: Mirrors over a 15 minute RPO, or unhealthy
  storage.replication.smis_sync_info:
    hostname: smis-provider.example.com
    username: monitor
    password: "{{ smis_password }}"
    namespace: root/cimv2
    max_lag: 900
    query: "[?over_rpo || !healthy].{source: source, target: target, state: state, lag: lag_seconds}"
  register: late

- name: What the provider can do
  storage.replication.smis_sync_info:
    capabilities: true
  register: provider
"""

RETURN = r"""
synchronizations:
  description: Normalized facts per synchronization (or what O(query) selected), sorted by source and target.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: ElementName of the source volume (SystemElement).
      type: str
    target:
      description: ElementName of the target volume (SyncedElement).
      type: str
    source_device_id:
      description: DeviceID of the source volume.
      type: str
    target_device_id:
      description: DeviceID of the target volume.
      type: str
    state:
      description: A name derived from CopyState (V(synchronized), V(copying), V(fractured), V(split),
        V(suspended), V(failed_over), V(broken), V(restored), V(inactive), ...), or V(restoring) and
        V(failing_back) while those run.
      type: str
    healthy:
      description: False when the CopyState is Broken, Aborted, Partitioned or Invalid.
      type: bool
    copy_state:
      description: CopyState name; C(copy_state_value) is its number.
      type: str
    sync_state:
      description: Legacy SyncState name; C(sync_state_value) is its number.
      type: str
    progress_status:
      description: ProgressStatus name.
      type: str
    mode:
      description: C(sync), C(async), C(adaptive), C(active) or C(unknown).
      type: str
    sync_type:
      description: C(mirror), C(clone) or C(snapshot).
      type: str
    copy_type:
      description: Legacy CopyType name.
      type: str
    replication_type:
      description: ReplicationType number of the pair (local types).
      type: int
    progress:
      description: PercentSynced.
      type: int
    when_synced:
      description: WhenSynced as an ISO time, or null.
      type: str
    age_seconds:
      description: Seconds since WhenSynced.
      type: int
    lag_seconds:
      description:
        - For mirrors, the age in seconds of WhenSynced, the newest point in time the target holds. About 0 for a
          synchronized mirror that caught up; it keeps growing while the mirror is fractured, split, suspended,
          failed over or broken, or while an asynchronous update is behind. Null for clones and snapshots.
      type: int
    recovery_point:
      description: WhenSynced as an ISO time (to the second), the point in time the target holds; or null.
      type: str
    suspended_at:
      description:
        - WhenSuspended (CIM_Synchronized since schema 2.29) as an ISO time, when the synchronization was last
          fractured, split, suspended or failed over; null when never, or when the provider does not report it.
      type: str
    transferring:
      description: Whether a copy, resync, restore or failback runs.
      type: bool
    over_rpo:
      description: Only with O(max_lag).
      type: bool
capabilities:
  description:
    - What the provider offers. The keys are C(system), C(namespace), C(replication_service) and
      C(configuration_service) (class names, or null), C(replication_types) (each with C(value), C(name),
      C(operations) and C(copy_states)) and C(legacy_synchronization_types) (each with C(value), C(name) and
      C(modify_operations)).
  returned: when O(capabilities=true)
  type: dict
query_result:
  description: The value of O(query) when it is not a list.
  returned: when O(query) gives something other than a list
  type: raw
summary:
  description: C(count), C(healthy), C(unhealthy), C(transferring), C(by_state), C(worst_lag_seconds) and C(over_rpo).
  returned: always
  type: dict
requests_sent:
  description: CIM operations sent.
  returned: always
  type: int
"""

import datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import (
    ReplicationError, connection_options, nonempty_env_fallback)
from ansible_collections.storage.replication.plugins.module_utils._info import HAS_JMESPATH, apply_query
from ansible_collections.storage.replication.plugins.module_utils._smis import (
    HAS_PYWBEM, SmisClient, keys_of, sync_facts)


def main() -> None:
    spec = connection_options("SMIS", {
        "namespace": {"type": "str", "default": "root/tpd", "fallback": (nonempty_env_fallback, ["SMIS_NAMESPACE"])},
        "volumes": {"type": "list", "elements": "str"},
        "max_lag": {"type": "int"},
        "capabilities": {"type": "bool", "default": False},
        "query": {"type": "str"},
    })
    module = AnsibleModule(spec, supports_check_mode=True)
    if not HAS_PYWBEM:
        module.fail_json(msg=missing_required_lib("pywbem"))
    params = module.params
    if params["query"] and not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"))
    client = None
    try:
        client = SmisClient(params)
        volumes = client.volumes()
        names = {v["device_id"]: v["name"] for v in volumes if v.get("name") is not None}
        wanted = select_volumes(volumes, params["volumes"]) if params["volumes"] else None
        now = datetime.datetime.now(datetime.timezone.utc)
        facts = []
        for inst in client.synchronizations():
            src, tgt = keys_of(inst.path)
            if wanted is not None and src not in wanted and tgt not in wanted:
                continue
            facts.append(sync_facts(inst, names, now))
        facts.sort(key=lambda f: (str(f.get("source")), str(f.get("target"))))
        summary = summarize_synchronizations(facts, params["max_lag"])
        out = apply_query(facts, params["query"], "synchronizations")
        if params["capabilities"]:
            out["capabilities"] = client.describe_capabilities()
    except ReplicationError as exc:
        module.fail_json(msg=str(exc), requests_sent=client.sent if client else 0, **exc.details)
    module.exit_json(changed=False, summary=summary, requests_sent=client.sent, **out)


def select_volumes(volumes: list[dict], names: list[str]) -> set[str]:
    """DeviceIDs of the volumes named (by ElementName or DeviceID); an unknown name is an error."""
    out: set[str] = set()
    for name in names:
        found = {v["device_id"] for v in volumes if v["device_id"] == name or v.get("name") == name}
        if not found:
            raise ReplicationError(f"volume {name!r} is not a volume of the provider (no ElementName or DeviceID "
                                   "matches)")
        out |= found
    return out


def summarize_synchronizations(facts: list[dict], max_lag: int | None) -> dict:
    by_state: dict[str, int] = {}
    worst = None
    over = 0
    for item in facts:
        by_state[item["state"]] = by_state.get(item["state"], 0) + 1
        lag = item.get("lag_seconds")
        if lag is not None and (worst is None or lag > worst):
            worst = lag
        if max_lag is not None:
            item["over_rpo"] = item.get("sync_type") == "mirror" and (lag is None or lag > max_lag)
            over += item["over_rpo"]
    healthy = sum(1 for f in facts if f.get("healthy"))
    return {"count": len(facts), "healthy": healthy, "unhealthy": len(facts) - healthy,
            "transferring": sum(1 for f in facts if f.get("transferring")), "by_state": by_state,
            "worst_lag_seconds": worst, "over_rpo": over if max_lag is not None else None}


if __name__ == "__main__":
    main()
