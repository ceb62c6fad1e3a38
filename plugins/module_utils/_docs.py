"""Documentation text that every vendor's doc fragment shares, filled in per vendor.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t


def _lines(texts: t.Iterable[str], indent: int = 6) -> str:
    return "".join(f"{' ' * indent}- {text}\n" for text in texts)


def connection_doc(env: str, *, hostname: t.Sequence[str], username: t.Sequence[str], peer: str,
                   trust_store: t.Sequence[str], port: str, timeout: str, extra: str = "") -> str:
    """The connection options of a vendor's modules (``hostname`` ... ``timeout``), each with its
    ``<ENV>_*`` fallback, then the vendor's own options in ``extra`` (YAML under ``options:``)."""
    return (
        "options:\n"
        "  hostname:\n    description:\n" + _lines(hostname)
        + f"      - Falls back to the E({env}_HOSTNAME) environment variable.\n    type: str\n    required: true\n"
        "  username:\n    description:\n" + _lines(username)
        + f"      - Falls back to E({env}_USERNAME).\n    type: str\n    required: true\n    aliases: [user]\n"
        "  password:\n    description:\n      - Password of O(username). It never appears in results or logs.\n"
        f"      - Falls back to E({env}_PASSWORD).\n    type: str\n    required: true\n"
        "  validate_certs:\n    description:\n"
        f"      - Verify the {peer}'s TLS certificate. Only turn this off in a lab.\n"
        f"      - Falls back to E({env}_VALIDATE_CERTS).\n    type: bool\n    default: true\n"
        "  ca_path:\n    description:\n" + _lines(trust_store)
        + f"      - Falls back to E({env}_CA_PATH).\n    type: path\n"
        f"  port:\n    description:\n      - {port}\n      - Falls back to E({env}_PORT).\n    type: int\n"
        f"  timeout:\n    description:\n      - {timeout}\n      - Falls back to E({env}_TIMEOUT).\n"
        "    type: int\n    default: 60\n" + extra)


def actiongroup_doc(group: str) -> str:
    """The ``action_group`` attribute of a vendor's modules."""
    return ("options: {}\nattributes:\n  action_group:\n    description: Set the connection options once for all "
            "modules of the group with\n      C(module_defaults) and C(group/storage.replication." + group + ").\n"
            "    support: full\n    membership:\n      - storage.replication." + group + "\n")
