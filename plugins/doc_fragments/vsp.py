"""Connection options of the Hitachi VSP modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - The Configuration Manager REST server to talk to (the storage system's SVP or controller, or
        an external REST server), as a host name, C(host:port), or a full C(https://host:port) URL.
      - Falls back to the E(VSP_HOSTNAME) environment variable.
    type: str
    required: true
  username:
    description:
      - User name on the storage system. It opens one session per module run (HTTP basic
        authentication on the session request only); the session is closed at the end of the run.
      - Falls back to E(VSP_USERNAME).
    type: str
    required: true
    aliases: [user]
  password:
    description:
      - Password of O(username). It never appears in results or logs.
      - Falls back to E(VSP_PASSWORD).
    type: str
    required: true
  validate_certs:
    description:
      - Verify the REST server's TLS certificate. Only turn this off in a lab.
      - Falls back to E(VSP_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the certificate authority that signed the REST server's certificate, used
        instead of the system's trust store.
      - Falls back to E(VSP_CA_PATH).
    type: path
  port:
    description:
      - TCP port of the REST API when it is not given in O(hostname) (default 443).
      - Falls back to E(VSP_PORT).
    type: int
  timeout:
    description:
      - Seconds to wait for one HTTP answer.
      - Falls back to E(VSP_TIMEOUT).
    type: int
    default: 60
  storage_device_id:
    description:
      - The 12-digit storage device ID of the storage system (model prefix and serial number, for
        example C(886000410001)). With it every request uses the storage-scoped paths
        C(/ConfigurationManager/v1/objects/storages/<id>/...), which an external REST server that
        manages several storage systems needs; without it the unscoped paths of the embedded server.
      - Falls back to E(VSP_STORAGE_DEVICE_ID).
    type: str
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Set the connection options once for all modules of the group with
      C(module_defaults) and C(group/storage.replication.vsp).
    support: full
    membership:
      - storage.replication.vsp
"""
