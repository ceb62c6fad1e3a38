"""The ONTAP cluster simulator (REST under ``/api``).

``cluster.py`` is the cluster (with ``storage.py``, ``snapmirror.py`` and
``transfers.py`` for what requests do to it), ``model.py`` its objects and error
codes, ``routes/`` the REST paths per resource, ``body.py`` and ``query.py`` the
request conventions.
"""

from __future__ import annotations

import typing as t

from .cluster import Cluster

__all__ = ["Cluster", "create_array"]


def create_array(lab, name: str, spec: dict[str, t.Any]) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster(lab, name, spec)
