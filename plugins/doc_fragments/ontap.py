"""Connection options of the ONTAP modules."""

from __future__ import annotations

from ansible_collections.storage.replication.plugins.module_utils._docs import actiongroup_doc, connection_doc


class ModuleDocFragment:
    DOCUMENTATION = connection_doc(
        "ONTAP",
        hostname=["The ONTAP cluster management address to talk to, as a host name, C(host:port), or a full "
                  "C(https://host:port) URL.",
                  "For C(storage.replication.snapmirror) this is the cluster that holds the destination of the "
                  "relationship."],
        username=["User name for HTTP basic authentication."],
        peer="cluster",
        trust_store=["A PEM file with the certificate authority that signed the cluster's certificate, used "
                     "instead of the system's trust store."],
        port="TCP port of the REST API when it is not given in O(hostname) (default 443).",
        timeout="Seconds to wait for one HTTP answer.")

    ACTIONGROUP = actiongroup_doc("ontap")
