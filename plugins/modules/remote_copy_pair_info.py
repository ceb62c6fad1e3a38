#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_copy_pair_info
short_description: Read Hitachi VSP remote copy pairs (TrueCopy, Universal Replicator, global-active device)
version_added: 0.2.0
description:
  - Reads remote copy groups and their pairs from one VSP array, with each pair's status on both sides, its
    direction, and for Universal Replicator pairs the journal lag as far as the arrays say.
  - Reads by copy group (O(copy_group)), by replication type (O(replication_type)), or everything.
  - The array read is the module's connection. With O(remote_array) (the other array's connection) the pairs
    carry the other side's status and the other side's journal, since the API wants the other array's session
    (C(Remote-Authorization)) for them. Without it, or when the other array does not answer, each copy group is
    read with C(NotSpecified) for the remote parts of its ID, and so only this array's side shows.
author:
  - storage.replication maintainers (@storage-replication)
extends_documentation_fragment:
  - storage.replication.vsp
  - storage.replication.attributes
  - storage.replication.vsp.actiongroup
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
options:
  remote_array:
    description:
      - Connection to the other array of the pairs, with its own credentials. Same suboptions as
        O(storage.replication.remote_copy_pair#module:remote_array), with the same C(VSP_REMOTE_*) environment
        fallbacks.
    type: dict
    suboptions:
      hostname:
        description: The other array's REST server.
        type: str
        required: true
      username:
        description: User name on the other array.
        type: str
        required: true
      password:
        description: Password on the other array. It never appears in results or logs.
        type: str
        required: true
      validate_certs:
        description: Verify the other array's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: CA file for the other array's certificate.
        type: path
      port:
        description: Port of the other array's REST API.
        type: int
      timeout:
        description: Seconds to wait for one HTTP answer.
        type: int
        default: 60
      storage_device_id:
        description: The other array's 12-digit storage device ID.
        type: str
  copy_group:
    description: Read only this copy group.
    type: str
  replication_type:
    description: Read only pairs of this type.
    type: str
    choices: [TC, UR, GAD]
  query:
    description: A JMESPath expression applied to the list of pairs (needs the C(jmespath) library).
    type: str
notes:
  - Needs the Python library C(requests).
seealso:
  - module: storage.replication.remote_copy_pair
"""

EXAMPLES = r"""
- name: Every remote pair of site A, with site B's side and UR journal lag
  storage.replication.remote_copy_pair_info:
    hostname: vsp-site-a.example.com
    username: monitor
    password: "{{ vsp_a_password }}"
    remote_array:
      hostname: vsp-site-b.example.com
      username: monitor
      password: "{{ vsp_b_password }}"
  register: remote

- name: Fail when a Universal Replicator pair is behind by more than 1000 journal entries
  ansible.builtin.assert:
    that: remote.pairs | selectattr('journal') | map(attribute='journal.q_count') | select('gt', 1000) | list | length == 0

- name: What the DR site sees of one copy group while site A is down
  storage.replication.remote_copy_pair_info:
    hostname: vsp-site-b.example.com
    username: monitor
    password: "{{ vsp_b_password }}"
    copy_group: db_tc
"""

RETURN = r"""
pairs:
  description: The pairs read, as RV(storage.replication.remote_copy_pair#module:pair) (with this array as the
    primary), sorted by copy group and name.
  returned: always
  type: list
  elements: dict
copy_groups:
  description: The copy groups read (C(copy_group), C(copy_group_id), C(remote_storage_device_id),
    C(replication_type), C(pair_count)).
  returned: always
  type: list
  elements: dict
summary:
  description: C(count), C(in_sync), C(healthy), C(unhealthy), C(by_state), C(by_type), and C(max_journal_q_count)
    (the largest UR journal backlog, null without UR pairs).
  returned: always
  type: dict
requests_sent:
  description: HTTP requests this run sent, on both arrays.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.storage.replication.plugins.module_utils._common import ReplicationError
from ansible_collections.storage.replication.plugins.module_utils._info import HAS_JMESPATH, apply_query
from ansible_collections.storage.replication.plugins.module_utils._remote_client import (
    RemoteClient, remote_array_options)
from ansible_collections.storage.replication.plugins.module_utils._remote_read import read_pairs, summarize_pairs
from ansible_collections.storage.replication.plugins.module_utils._rest import HAS_REQUESTS
from ansible_collections.storage.replication.plugins.module_utils._vsp import check_name, vsp_connection_options


def main() -> None:
    remote = remote_array_options()
    remote.pop("required")
    spec = vsp_connection_options({
        "remote_array": remote,
        "copy_group": {"type": "str"},
        "replication_type": {"type": "str", "choices": ["TC", "UR", "GAD"]},
        "query": {"type": "str"},
    })
    module = AnsibleModule(spec, supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    params = module.params
    if params["query"] and not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"))
    clients: list[RemoteClient] = []
    failure = None
    out: dict = {}
    try:
        if params["copy_group"]:
            problem = check_name("copy_group", params["copy_group"], 31)
            if problem:
                raise ReplicationError(problem)
        local = RemoteClient(params, "local")
        clients.append(local)
        other = None
        if params["remote_array"]:
            other = RemoteClient(params["remote_array"], "remote")
            clients.append(other)
            local.peer, other.peer = other, local
        facts, groups = read_pairs(local, other, params["copy_group"], params["replication_type"])
        out = apply_query(facts, params["query"], "pairs")
        out.update({"copy_groups": groups, "summary": summarize_pairs(facts)})
    except ReplicationError as exc:
        failure = exc
    finally:
        for client in clients:
            client.close()
    sent = sum(client.rest.sent for client in clients)
    if failure is not None:
        module.fail_json(msg=str(failure), requests_sent=sent, **failure.details)
    module.exit_json(changed=False, requests_sent=sent, **out)


if __name__ == "__main__":
    main()
