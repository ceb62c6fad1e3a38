"""Connection options of the ONTAP modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - The ONTAP cluster management address to talk to, as a host name, C(host:port), or a full
        C(https://host:port) URL.
      - For C(storage.replication.snapmirror) this is the cluster that holds the destination of the
        relationship.
      - Falls back to the E(ONTAP_HOSTNAME) environment variable.
    type: str
    required: true
  username:
    description:
      - User name for HTTP basic authentication.
      - Falls back to E(ONTAP_USERNAME).
    type: str
    required: true
    aliases: [user]
  password:
    description:
      - Password of O(username). It never appears in results or logs.
      - Falls back to E(ONTAP_PASSWORD).
    type: str
    required: true
  validate_certs:
    description:
      - Verify the cluster's TLS certificate. Only turn this off in a lab.
      - Falls back to E(ONTAP_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the certificate authority that signed the cluster's certificate, used
        instead of the system's trust store.
      - Falls back to E(ONTAP_CA_PATH).
    type: path
  port:
    description:
      - TCP port of the REST API when it is not given in O(hostname) (default 443).
      - Falls back to E(ONTAP_PORT).
    type: int
  timeout:
    description:
      - Seconds to wait for one HTTP answer.
      - Falls back to E(ONTAP_TIMEOUT).
    type: int
    default: 60
"""

    SOURCE_CLUSTER = r"""
options:
  source_cluster:
    description:
      - Connection to the cluster of the source volumes.
    type: dict
    suboptions:
      hostname:
        description: Host, C(host:port) or C(https://host:port) URL of the source cluster.
        type: str
        required: true
      username:
        description: User name on the source cluster.
        type: str
        required: true
      password:
        description: Password on the source cluster.
        type: str
        required: true
      validate_certs:
        description: Verify the source cluster's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: CA file for the source cluster's certificate.
        type: path
      port:
        description: Port of the source cluster's REST API.
        type: int
      timeout:
        description: Seconds to wait for one HTTP answer.
        type: int
        default: 60
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Set the connection options once for all modules of the group with
      C(module_defaults) and C(group/storage.replication.ontap).
    support: full
    membership:
      - storage.replication.ontap
"""
