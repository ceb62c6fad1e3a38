#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: shadowimage_pair_info
short_description: Report Hitachi VSP ShadowImage pairs and copy groups with their status
version_added: 0.1.0
description:
  - Reads the ShadowImage copy groups of a storage system and the pairs of each (one request per copy
    group) through the Configuration Manager REST API, and returns normalized facts per pair (P-VOL, S-VOL,
    both statuses, one normalized state, health, copy progress, copy group, consistency group).
  - O(query) selects with JMESPath, for example the pairs that are not healthy, or not split.
  - Opens one session, and closes it at the end.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.vsp
  - storage.replication.attributes
  - storage.replication.vsp.actiongroup
  - storage.replication.attributes.info_module
options:
  copy_group:
    description:
      - Only the pairs of this copy group (found by name, whatever its device groups are called). All copy
        groups when not set.
    type: str
  refresh:
    description:
      - Ask the REST server to re-read the pairs from the storage system (C(refresh=true)), so that pairs
        created or deleted by other software (CCI, another REST server) are seen. Slower on a real array.
    type: bool
    default: true
  query:
    description:
      - A JMESPath expression applied to the list of pairs. When it gives a list, that list is returned as
        RV(pairs); otherwise the value is returned as RV(query_result) and RV(pairs) holds the whole list.
      - Needs the Python library C(jmespath).
    type: str
notes:
  - Needs the Python library C(requests).
  - Pairs made without a copy group are not listed by the REST API.
seealso:
  - module: storage.replication.shadowimage_pair
"""

EXAMPLES = r"""
- name: Every ShadowImage pair of the storage system
  storage.replication.shadowimage_pair_info:
    hostname: vsp-svp.example.com
    username: maintenance
    password: "{{ vsp_password }}"
  register: si

- name: The pairs of one copy group that are not split (the nightly copy did not happen)
  storage.replication.shadowimage_pair_info:
    hostname: vsp-svp.example.com
    username: maintenance
    password: "{{ vsp_password }}"
    copy_group: db_backup
    query: "[?state != 'split'].{pair: pair_name, pvol: pvol, status: pvol_status}"

- name: Suspended pairs (PSUE) anywhere
  storage.replication.shadowimage_pair_info:
    hostname: vsp-svp.example.com
    username: maintenance
    password: "{{ vsp_password }}"
    query: "[?!healthy]"
"""

RETURN = r"""
pairs:
  description: Normalized facts per pair, ordered by copy group and pair name (or what O(query) selected).
  returned: always
  type: list
  elements: dict
  contains:
    copy_group:
      description: Copy group name.
      type: str
    pair_name:
      description: Pair name.
      type: str
    pair_id:
      description: The array's pair ID.
      type: str
    copy_group_id:
      description: The array's copy group ID (C(copy group,P-VOL device group,S-VOL device group)).
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
      description: Status of the P-VOL (C(PAIR), C(COPY), C(PSUS), C(PSUE), C(RCPY), ...).
      type: str
    svol_status:
      description: Status of the S-VOL (C(SSUS) when split).
      type: str
    state:
      description: V(paired), V(split), V(copying), V(restoring), V(suspended_error), V(simplex) or V(unknown).
      type: str
    healthy:
      description: False when suspended by a failure (PSUE) or in an unknown status.
      type: bool
    progress:
      description: Copy progress rate (0-100) as the array reports it.
      type: int
    consistency_group:
      description: Consistency group ID, or null.
      type: int
    transferring:
      description: Whether a copy is running (COPY or RCPY).
      type: bool
    lag_seconds:
      description: Always null (not reported by ShadowImage).
      type: int
    recovery_point:
      description: Always null.
      type: str
copy_groups:
  description: The copy groups read, each with C(copy_group), C(copy_group_id), C(pvol_device_group),
    C(svol_device_group) and C(pair_count).
  returned: always
  type: list
  elements: dict
query_result:
  description: The value of O(query) when it is not a list.
  returned: when O(query) gives something other than a list
  type: raw
summary:
  description: C(count), C(healthy), C(unhealthy), C(transferring) and C(by_state) of all pairs read.
  returned: always
  type: dict
requests_sent:
  description: HTTP requests sent, the session requests included.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import ReplicationError
from ansible_collections.storage.replication.plugins.module_utils._info import HAS_JMESPATH, apply_query
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS
from ansible_collections.storage.replication.plugins.module_utils._vsp import (
    VspClient, check_name, group_id, pair_facts, record_group_id, split_id, vsp_connection_options)


def read(client: VspClient, copy_group: str | None, refresh: bool) -> tuple[list[dict], list[dict]]:
    """Pairs and copy groups: one request per copy group (plus the copy group list when needed)."""
    groups: list[tuple[str, str]] = []
    records: list[dict] = []
    if copy_group:
        gid, found = client.find_group(copy_group, group_id(copy_group), refresh)
        if gid:
            groups.append((copy_group, gid))
            records.extend(found)
    else:
        for group in client.copy_groups():
            name = str(group.get("copyGroupName"))
            gid = record_group_id(group)
            groups.append((name, gid))
            records.extend(client.pairs(gid, refresh))
    facts = sorted((pair_facts(r) for r in records), key=lambda f: (str(f["copy_group"]), str(f["pair_name"])))
    listing = []
    for name, gid in groups:
        parts = split_id(gid)
        listing.append({"copy_group": name, "copy_group_id": gid, "pvol_device_group": parts[1] if len(parts) > 1 else None,
                        "svol_device_group": parts[2] if len(parts) > 2 else None,
                        "pair_count": sum(1 for f in facts if f["copy_group"] == name)})
    return facts, listing


def summarize_pairs(facts: list[dict]) -> dict:
    by_state: dict[str, int] = {}
    for item in facts:
        by_state[item["state"]] = by_state.get(item["state"], 0) + 1
    healthy = sum(1 for f in facts if f["healthy"])
    return {"count": len(facts), "healthy": healthy, "unhealthy": len(facts) - healthy,
            "transferring": sum(1 for f in facts if f["transferring"]), "by_state": by_state}


def main() -> None:
    spec = vsp_connection_options({
        "copy_group": {"type": "str"},
        "refresh": {"type": "bool", "default": True},
        "query": {"type": "str"},
    })
    module = AnsibleModule(spec, supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    params = module.params
    if params["query"] and not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"))
    client = None
    failure = None
    out: dict = {}
    try:
        if params["copy_group"]:
            problem = check_name("copy_group", params["copy_group"], 31)
            if problem:
                raise ReplicationError(problem)
        client = VspClient(params)
        facts, groups = read(client, params["copy_group"], params["refresh"])
        out = apply_query(facts, params["query"], "pairs")
        out.update({"copy_groups": groups, "summary": summarize_pairs(facts)})
    except ReplicationError as exc:
        failure = exc
    finally:
        if client is not None:
            client.close()
    sent = client.rest.sent if client is not None else 0
    if failure is not None:
        module.fail_json(msg=str(failure), requests_sent=sent, **failure.details)
    module.exit_json(changed=False, requests_sent=sent, **out)


if __name__ == "__main__":
    main()
