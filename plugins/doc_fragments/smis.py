"""Connection options of the SMI-S modules."""

from __future__ import annotations

from ansible_collections.storage.replication.plugins.module_utils._docs import actiongroup_doc, connection_doc


class ModuleDocFragment:
    DOCUMENTATION = connection_doc(
        "SMIS",
        hostname=["The SMI-S provider (WBEM server) to talk to, as a host name, C(host:port), or a full "
                  "C(https://host:port) URL. Without a scheme the module uses HTTPS; without a port, pywbem's "
                  "default for the scheme (5989 for HTTPS, 5988 for HTTP).",
                  "An C(http://) URL sends the credentials unencrypted; use it only where the provider offers "
                  "nothing else."],
        username=["User name for HTTP basic authentication. HPE 3PAR lets any user read; changing a "
                  "synchronization needs the Edit or Super role."],
        peer="provider",
        trust_store=["A PEM file with the certificate authority that signed the provider's certificate, used "
                     "instead of the trust store of the C(certifi) package.",
                     "The C(REQUESTS_CA_BUNDLE) and C(CURL_CA_BUNDLE) environment variables are ignored (they would "
                     "silently override this option); set O(ca_path) or E(SMIS_CA_PATH) instead."],
        port="TCP port of the provider when it is not given in O(hostname).",
        timeout="Seconds to wait for one answer of the provider.",
        extra=r"""  namespace:
    description:
      - The CIM namespace of the provider's storage classes, for example C(root/tpd) for HPE 3PAR
        or C(root/cimv2) for many other providers.
      - Falls back to E(SMIS_NAMESPACE).
    type: str
    default: root/tpd
""")

    ACTIONGROUP = actiongroup_doc("smis")
