"""Connection options of the SMI-S modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - The SMI-S provider (WBEM server) to talk to, as a host name, C(host:port), or a full
        C(https://host:port) URL. Without a scheme the module uses HTTPS; without a port, pywbem's
        default for the scheme (5989 for HTTPS, 5988 for HTTP).
      - An C(http://) URL sends the credentials unencrypted; use it only where the provider offers
        nothing else.
      - Falls back to the E(SMIS_HOSTNAME) environment variable.
    type: str
    required: true
  username:
    description:
      - User name for HTTP basic authentication. HPE 3PAR lets any user read; changing a
        synchronization needs the Edit or Super role.
      - Falls back to E(SMIS_USERNAME).
    type: str
    required: true
    aliases: [user]
  password:
    description:
      - Password of O(username). It never appears in results or logs.
      - Falls back to E(SMIS_PASSWORD).
    type: str
    required: true
  validate_certs:
    description:
      - Verify the provider's TLS certificate. Only turn this off in a lab.
      - Falls back to E(SMIS_VALIDATE_CERTS).
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file with the certificate authority that signed the provider's certificate, used
        instead of the trust store of the C(certifi) package.
      - The C(REQUESTS_CA_BUNDLE) and C(CURL_CA_BUNDLE) environment variables are ignored (they would
        silently override this option); set O(ca_path) or E(SMIS_CA_PATH) instead.
      - Falls back to E(SMIS_CA_PATH).
    type: path
  port:
    description:
      - TCP port of the provider when it is not given in O(hostname).
      - Falls back to E(SMIS_PORT).
    type: int
  timeout:
    description:
      - Seconds to wait for one answer of the provider.
      - Falls back to E(SMIS_TIMEOUT).
    type: int
    default: 60
  namespace:
    description:
      - The CIM namespace of the provider's storage classes, for example C(root/tpd) for HPE 3PAR
        or C(root/cimv2) for many other providers.
      - Falls back to E(SMIS_NAMESPACE).
    type: str
    default: root/tpd
"""

    ACTIONGROUP = r"""
options: {}
attributes:
  action_group:
    description: Set the connection options once for all modules of the group with
      C(module_defaults) and C(group/storage.replication.smis).
    support: full
    membership:
      - storage.replication.smis
"""
