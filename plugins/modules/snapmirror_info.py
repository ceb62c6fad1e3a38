#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: snapmirror_info
short_description: Report NetApp ONTAP SnapMirror relationships with their health and lag
version_added: 0.1.0
description:
  - Reads the SnapMirror relationships of a cluster with one collection query (following the cluster's
    pages) and returns normalized facts for each (source, destination, state, health and the reasons when
    unhealthy, lag in seconds, recovery point, last transfer, policy and its type).
  - By default it lists the relationships whose destination is on the cluster; with O(outgoing=true) the
    ones whose source is on it.
  - O(query) selects with JMESPath, for example the unhealthy ones or those over an RPO.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.ontap
  - storage.replication.ontap.source_cluster
  - storage.replication.attributes
  - storage.replication.ontap.actiongroup
  - storage.replication.attributes.info_module
options:
  destination_paths:
    description:
      - Only these destinations (C(<svm>:<volume>)).
    type: list
    elements: str
  destination_svm:
    description:
      - Only relationships whose destination is in this SVM (a server-side filter).
    type: str
  source_svm:
    description:
      - Only relationships whose source SVM has this name (as the cluster names it).
    type: str
  outgoing:
    description:
      - List the relationships whose source is on this cluster instead (ONTAP's C(list_destinations_only)).
    type: bool
    default: false
  list_volumes:
    description:
      - Also list the volumes of this SVM as RV(volumes), for example to protect every volume of a backend.
    type: str
  max_lag:
    description:
      - An RPO in seconds. Each relationship gets C(over_rpo), and C(summary.over_rpo) counts them.
    type: int
  source_cluster:
    description:
      - With it, every broken-off relationship gets C(source_written_bytes), the bytes written to its source
        since the snapshot its destination exports (what the destination misses). A planned failover reads
        it to tell a relationship it broke itself after a final transfer (0) from one broken by hand before
        the source was written, which it brings in sync first.
  query:
    description:
      - A JMESPath expression applied to the list of relationships. When it gives a list, that list is
        returned as RV(relationships); otherwise the value is returned as RV(query_result) and
        RV(relationships) holds the whole list.
      - Needs the Python library C(jmespath).
    type: str
notes:
  - Needs the Python library C(requests).
seealso:
  - module: storage.replication.snapmirror
"""

EXAMPLES = r"""
- name: Every relationship replicating into the DR cluster
  storage.replication.snapmirror_info:
    hostname: dr-cluster.example.com
    username: admin
    password: "{{ dr_password }}"
  register: mirrors

- name: The ones lagging more than the 15 minute RPO, or unhealthy
  storage.replication.snapmirror_info:
    hostname: dr-cluster.example.com
    username: admin
    password: "{{ dr_password }}"
    max_lag: 900
    query: "[?over_rpo || !healthy].{dst: destination_path, lag: lag_seconds, why: unhealthy_reasons[].message}"
  register: late

- name: What the production cluster sends out
  storage.replication.snapmirror_info:
    hostname: prod-cluster.example.com
    username: admin
    password: "{{ prod_password }}"
    outgoing: true
"""

RETURN = r"""
relationships:
  description: Normalized facts per relationship (or what O(query) selected).
  returned: always
  type: list
  elements: dict
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
    source_cluster:
      description: Name of the source cluster.
      type: str
    destination_cluster:
      description: Name of the destination cluster.
      type: str
    state:
      description: The cluster's relationship state.
      type: str
    healthy:
      description: Whether the cluster reports it healthy.
      type: bool
    unhealthy_reasons:
      description: Reasons given when unhealthy (C(code), C(message)).
      type: list
      elements: dict
    lag_seconds:
      description: Age of the destination's newest data in seconds (null before the first transfer).
      type: int
    recovery_point:
      description: UTC time of the destination's newest data.
      type: str
    exported_snapshot:
      description:
        - The newest snapshot the relationship transferred, which the destination exports (null before the first
          transfer). Its point in time is C(recovery_point); M(storage.replication.volume_clone) clones a
          destination at this snapshot by default, for a DR test copy.
      type: str
    over_rpo:
      description: Whether C(lag_seconds) exceeds O(max_lag) (or no data yet); only with O(max_lag).
      type: bool
    last_transfer_type:
      description: C(initialize), C(update), C(resync) or C(restore).
      type: str
    last_transfer_end:
      description: End time of the last transfer.
      type: str
    transfer:
      description: The running or last transfer (C(state), C(type), C(bytes_transferred), C(end_time)).
      type: dict
    transferring:
      description: Whether a transfer is queued or running.
      type: bool
    policy:
      description: Policy name.
      type: str
    policy_type:
      description: C(async) or C(sync).
      type: str
    source_written_bytes:
      description: Bytes written to the source since the snapshot the destination exports (null when that
        cannot be read). Only for broken-off relationships and only with O(source_cluster).
      type: int
volumes:
  description: The volumes of the SVM named by O(list_volumes), each with C(name), C(path) (C(<svm>:<volume>)),
    C(type) (C(rw), C(dp)), C(state), C(size) in bytes, C(junction_path) and C(aggregates).
  returned: when O(list_volumes) is set
  type: list
  elements: dict
query_result:
  description: The value of O(query) when it is not a list.
  returned: when O(query) gives something other than a list
  type: raw
summary:
  description: C(count), C(healthy), C(unhealthy), C(worst_lag_seconds), C(over_rpo) and C(by_state) of all relationships read.
  returned: always
  type: dict
requests_sent:
  description: HTTP requests sent.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import (
    ReplicationError, connection_options, nested_connection_options)
from ansible_collections.storage.replication.plugins.module_utils._info import apply_query, HAS_JMESPATH
from ansible_collections.storage.replication.plugins.module_utils._ontap import (
    REL_FIELDS, OntapClient, measure_source_writes, relationship_facts)
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS


def main() -> None:
    spec = connection_options("ONTAP", {
        "destination_paths": {"type": "list", "elements": "str"},
        "destination_svm": {"type": "str"},
        "source_svm": {"type": "str"},
        "outgoing": {"type": "bool", "default": False},
        "list_volumes": {"type": "str"},
        "max_lag": {"type": "int"},
        "query": {"type": "str"},
        "source_cluster": {"type": "dict", "options": nested_connection_options("ONTAP")},
    })
    module = AnsibleModule(spec, supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    params = module.params
    if params["query"] and not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"))
    client = None
    warnings: list[str] = []
    sent = 0
    try:
        client = OntapClient(params, "cluster")
        if params["destination_paths"]:
            records = list(client.relationships(params["destination_paths"], outgoing=params["outgoing"]).values())
        else:
            query = {"fields": REL_FIELDS}
            if params["outgoing"]:
                query["list_destinations_only"] = "true"
            if params["destination_svm"]:
                query["destination.svm.name"] = params["destination_svm"]
            if params["source_svm"]:
                query["source.svm.name"] = params["source_svm"]
            records = client.records("/snapmirror/relationships", query)
        facts = [relationship_facts(r) for r in records]
        if params["source_cluster"]:
            source = OntapClient(params["source_cluster"], "source cluster")
            warnings += measure_source_writes(source, facts)
            sent += source.rest.sent
        facts.sort(key=lambda f: f.get("destination_path") or "")
        summary = summarize_relationships(facts, params["max_lag"])
        out = apply_query(facts, params["query"], "relationships")
        if params["list_volumes"]:
            out["volumes"] = [volume_facts(v) for v in client.records("/storage/volumes", {
                "svm.name": params["list_volumes"], "fields": "name,svm.name,type,state,size,nas.path,aggregates.name"})]
    except ReplicationError as exc:
        module.fail_json(msg=str(exc), requests_sent=client.rest.sent if client else 0, **exc.details)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, summary=summary, requests_sent=client.rest.sent + sent, **out)


def volume_facts(record: dict) -> dict:
    return {"name": record.get("name"), "path": f"{(record.get('svm') or {}).get('name')}:{record.get('name')}",
            "type": record.get("type"), "state": record.get("state"), "size": record.get("size"),
            "junction_path": (record.get("nas") or {}).get("path"),
            "aggregates": [a.get("name") for a in record.get("aggregates") or []]}


def summarize_relationships(facts: list[dict], max_lag: int | None) -> dict:
    by_state: dict[str, int] = {}
    worst = None
    over = 0
    for item in facts:
        by_state[item["state"]] = by_state.get(item["state"], 0) + 1
        lag = item.get("lag_seconds")
        if lag is not None and (worst is None or lag > worst):
            worst = lag
        if max_lag is not None:
            item["over_rpo"] = lag is None or lag > max_lag
            over += item["over_rpo"]
    healthy = sum(1 for f in facts if f.get("healthy"))
    return {"count": len(facts), "healthy": healthy, "unhealthy": len(facts) - healthy,
            "worst_lag_seconds": worst, "over_rpo": over if max_lag is not None else None, "by_state": by_state}


if __name__ == "__main__":
    main()
