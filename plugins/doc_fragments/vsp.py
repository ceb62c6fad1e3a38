"""Connection options of the Hitachi VSP modules."""

from __future__ import annotations

from ansible_collections.storage.replication.plugins.module_utils._docs import actiongroup_doc, connection_doc


class ModuleDocFragment:
    DOCUMENTATION = connection_doc(
        "VSP",
        hostname=["The Configuration Manager REST server to talk to (the storage system's SVP or controller, or an "
                  "external REST server), as a host name, C(host:port), or a full C(https://host:port) URL."],
        username=["User name on the storage system. It opens one session per module run (HTTP basic authentication "
                  "on the session request only); the session is closed at the end of the run."],
        peer="REST server",
        trust_store=["A PEM file with the certificate authority that signed the REST server's certificate, used "
                     "instead of the system's trust store."],
        port="TCP port of the REST API when it is not given in O(hostname) (default 443).",
        timeout="Seconds to wait for one HTTP answer.",
        extra=r"""  storage_device_id:
    description:
      - The 12-digit storage device ID of the storage system (model prefix and serial number, for
        example C(886000410001)). With it every request uses the storage-scoped paths
        C(/ConfigurationManager/v1/objects/storages/<id>/...), which an external REST server that
        manages several storage systems needs; without it the unscoped paths of the embedded server.
      - Falls back to E(VSP_STORAGE_DEVICE_ID).
    type: str
""")

    ACTIONGROUP = actiongroup_doc("vsp")
