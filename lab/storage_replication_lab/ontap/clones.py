"""FlexClone volumes of the ONTAP cluster: how a clone is made from its parent and what it holds on to.

As NetApp documents FlexClone volumes:

- A clone is a writable (``rw``) point-in-time copy of its parent's snapshot, in the parent's SVM and
  aggregate, with the parent's settings. The clone holds that base snapshot too (the same name and time),
  so ``GET .../{clone}/snapshots?name=<base>&fields=delta`` tells what was written to the clone since it
  was made.
- Without ``clone.parent_snapshot`` ONTAP takes a snapshot of a read-write parent for the clone, named
  ``clone_<clone>.<YYYY-MM-DD_HHMMSS>.0``. A DP parent (a SnapMirror destination) takes no snapshots; the
  lab then uses its newest one (unverified).
- The base snapshot is busy in the parent while a clone uses it: its ``owners`` include ``volume clone``,
  a DELETE of it is refused, and SnapMirror keeps it on a destination when newer transfers would remove
  it, so transfers go on and the clone stays as it was.
- A parent with clones cannot be deleted (``clone.has_flexclone``); a split (``clone.split_initiated``)
  makes the clone an ordinary volume and frees the base snapshot.
"""

from __future__ import annotations

import datetime
import typing as t

from .body import Body, OntapError
from .model import E_INVALID, E_NOT_AVAILABLE, E_VOLUME_NOT_FOUND, OVolume, Svm

if t.TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster


class CloneSource(t.NamedTuple):
    """What a clone is made from: the parent and its snapshot (None: ONTAP takes one for the clone)."""

    parent: OVolume
    snapshot: str | None


def clone_source(cluster: Cluster, svm: Svm, body: Body) -> CloneSource:
    """The parent and snapshot of a POST body's ``clone``, or its refusal (before the job starts)."""
    if not body.flag("clone.is_flexclone", True):
        raise OntapError(400, "Only FlexClone volumes can be created from a clone definition.", E_INVALID,
                         "clone.is_flexclone")
    parent_name = body.text("clone.parent_volume.name") or ""
    parent = cluster.find_volume(svm.name, parent_name)
    if parent is None:
        raise OntapError(400, f'Parent volume "{parent_name}" does not exist.', E_VOLUME_NOT_FOUND,
                         "clone.parent_volume.name")
    if len(parent.aggregates) > 1:
        raise OntapError(400, "FlexClone of a FlexGroup volume is not supported.", E_NOT_AVAILABLE)
    if parent.state != "online":
        raise OntapError(400, f'Parent volume "{parent.name}" is not online.', E_NOT_AVAILABLE,
                         "clone.parent_volume.name")
    snapshot = body.text("clone.parent_snapshot.name")
    if snapshot and snapshot not in parent.fv.snapshots:
        raise OntapError(400, f'Snapshot "{snapshot}" does not exist in volume "{parent.name}".',
                         E_VOLUME_NOT_FOUND, "clone.parent_snapshot.name")
    if not snapshot and parent.type == "dp":
        newest = sorted(parent.fv.snapshots.values(), key=lambda s: s.create_time)
        if not newest:
            raise OntapError(400, f'Volume "{parent.name}" is a data protection volume without snapshots; it cannot '
                                  "be cloned yet.", E_NOT_AVAILABLE, "clone.parent_volume.name")
        snapshot = newest[-1].name
    return CloneSource(parent, snapshot or None)


def clone_snapshot_name(clone: str, when: float) -> str:
    """The name ONTAP gives the snapshot it takes of a read-write parent for a clone."""
    stamp = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
    return f"clone_{clone}.{stamp}.0"


def make_clone(vol: OVolume, source: CloneSource) -> None:
    """Turn the new volume ``vol`` into a clone of ``source`` (inside the create job)."""
    parent = source.parent
    name = source.snapshot
    if name is None:
        name = clone_snapshot_name(vol.name, vol.cluster.clock.now())
        parent.snapshot(name)
    base = parent.fv.snapshots.get(name)
    if base is None:  # gone between the request and its job
        raise OntapError(400, f'Snapshot "{name}" does not exist in volume "{parent.name}".', E_VOLUME_NOT_FOUND,
                         "clone.parent_snapshot.name")
    meta = parent.snapmeta.get(name)
    vol.settings = parent.settings.copy()  # a FlexClone starts with its parent's settings
    vol.fv.set_blocks(base.blocks)
    # the clone's copy of the base snapshot: its comment and label, not the lab's relationship tag (the clone's
    # snapshots belong to no relationship)
    comment = meta.comment if meta and not meta.comment.startswith("snapmirror:") else ""
    vol.snapshot(name, comment=comment, label=meta.label if meta else "", blocks=base.blocks,
                 create_time=base.create_time)
    vol.clone = {"is_flexclone": True, "parent_volume": {"name": parent.name, "uuid": parent.uuid},
                 "parent_svm": parent.svm.ref(), "parent_snapshot": {"name": name},
                 "split_initiated": False}
    if meta is not None:
        vol.clone["parent_snapshot"]["uuid"] = meta.uuid
