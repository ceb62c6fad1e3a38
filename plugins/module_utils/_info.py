"""What the ``*_info`` modules share: JMESPath selection of normalized facts.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ._common import ReplicationError

try:
    import jmespath
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib
    jmespath = None

HAS_JMESPATH = jmespath is not None


def apply_query(items: list[dict[str, t.Any]], query: str | None, key: str) -> dict[str, t.Any]:
    """``{key: items}``, or what ``query`` selects from them.

    A list result replaces the items; anything else is returned as ``query_result``.
    """
    if not query:
        return {key: items}
    try:
        selected = jmespath.search(query, items)
    except jmespath.exceptions.JMESPathError as exc:
        raise ReplicationError(f"query {query!r} is not valid JMESPath: {exc}") from exc
    if isinstance(selected, list):
        return {key: selected}
    return {key: items, "query_result": selected}
