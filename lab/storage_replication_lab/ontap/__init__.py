"""The ONTAP cluster simulator (REST under ``/api``).

``cluster.py`` is the cluster (with ``storage.py``, ``snapmirror.py`` and
``transfers.py`` for what requests do to it, ``clones.py`` for FlexClone volumes),
``model.py`` its objects and error codes, ``volume.py`` a volume's settings, ``nodes.py`` its HA pair, ``cli.py`` the
CLI passthrough, ``routes/`` the REST paths per resource, ``body.py`` and
``query.py`` the request conventions.

Records follow the netapp-ontap models (``tests/unit/lab/test_ontap_fidelity_schema.py``
loads every resource the routes serve through them), so real clients work unchanged.
Decisions:

- **Paths**: ``/api/cluster/``, ``/api//cluster`` and ``/api/snapmirror/relationships/<uuid>/``
  are ``/api/cluster`` and so on for every method: doubled slashes and a trailing one are
  dropped before routing (``Cluster.route_path``); the request log shows the path routed.
- **Job references** (``job`` of a 202/200 answer, ``jobs[]`` of a collection PATCH/DELETE)
  always carry ``_links.self.href`` = ``/api/cluster/jobs/<uuid>``, also with
  ``Accept: application/json`` (which drops every other HAL link but ``_links.next``).
- **PATCH or DELETE on a collection by query** (``PATCH /api/storage/volumes?name=X``):
  ONTAP's API reference documents the answer of a collection PATCH as a ``job_link``
  response (``{"job": {...}}``, 202, or 200 when it ended within ``return_timeout``), and
  the netapp-ontap library also reads ``{"num_records": N, "jobs": [...]}`` and follows each
  entry's link. The lab answers ``{"job": ...}`` (exactly as a PATCH of that record) when one
  record matches, ``{"num_records": N, "jobs": [...]}`` (202; 200 when all ended within
  ``return_timeout``) when several do, and 200 ``{"num_records": 0}`` when none does
  (undocumented: nothing was started). A PATCH or DELETE of the collection without a
  query is refused (400, code 2).
- **Nodes**: two per cluster, ``<cluster>-01`` and ``<cluster>-02`` (``nodes.py``).
- **CLI passthrough**: see ``cli.py`` (three show commands, underscored answer fields;
  an unknown command is 404 'API not found', code 3).
- **Volumes** carry the settings clients copy and filter on (``volume.py``); a transfer
  record (``.../transfers``) has no ``type`` and names the ``snapshot`` it moves.
- **DELETE of a volume**: an online volume is taken offline as part of the delete (NetApp's
  reference); a mounted one is refused until its ``nas.path`` is emptied (409, lab code
  917548), and so is the parent of FlexClone volumes (409, lab code 917552).
- **FlexClone volumes** (``clones.py``): the clone holds its base snapshot (same name and
  time, so its ``delta`` is what the clone was written since), the base snapshot is busy in
  the parent (``owners`` ``volume clone``; DELETE refused, SnapMirror keeps it on a
  destination while later transfers go on), a read-write parent without
  ``clone.parent_snapshot`` gets a snapshot ``clone_<clone>.<YYYY-MM-DD_HHMMSS>.0``, a DP
  parent without one is cloned at its newest snapshot (unverified).
"""

from __future__ import annotations

import typing as t

from .cluster import Cluster

__all__ = ["Cluster", "create_array"]


def create_array(lab, name: str, spec: dict[str, t.Any]) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster(lab, name, spec)
