"""Volumes and snapshots of the ONTAP cluster: create, modify, delete (each inside a job)."""

from __future__ import annotations

from .body import Body, OntapError
from .model import (E_AGGR_FULL, E_DUPLICATE, E_HAS_CLONES, E_INVALID, E_SHRINK, E_SNAPSHOT_BUSY, E_VOLUME_IN_USE,
                    E_VOLUME_MOUNTED, Job, OVolume, new_uuid, parse_when, size_of)
from .clones import clone_source, make_clone
from .volume import settings_changes


class VolumeOps:
    """Mixed into ``Cluster``: what the volume and snapshot requests do."""

    def create_volume(self, body: Body, svm_header: str | None) -> tuple[Job, str]:
        name = body.text("name")
        if not name:
            raise OntapError(400, 'Missing value for field "name".', E_INVALID, "name")
        svm = self.svm(body.text("svm.name") or svm_header or
                       next((s.name for s in self.svms.values() if s.uuid == body.text("svm.uuid")), None))
        if self.find_volume(svm.name, name):
            raise OntapError(409, f'Duplicate volume name "{name}" in SVM "{svm.name}".', E_DUPLICATE, "name")
        clone = clone_source(self, svm, body) if body.has("clone") else None
        aggr_names = [a.get("name") if isinstance(a, dict) else a for a in (body.get("aggregates") or [])]
        aggregates = [self.aggregate(str(n)) for n in aggr_names] or (
            [clone.parent.aggregates[0]] if clone else [max(self.aggregates.values(), key=self.aggregate_free)])
        size = size_of(body.get("size", clone.parent.size if clone else 20 * 1024 * 1024))
        for aggr in aggregates:
            if self.aggregate_free(aggr) < size // len(aggregates):
                raise OntapError(400, f'Aggregate "{aggr.name}" does not have enough space for a volume of '
                                      f'{size} bytes.', E_AGGR_FULL, "size")
        vtype = body.text("type", "rw")
        if vtype not in ("rw", "dp"):
            raise OntapError(400, f'Invalid value "{vtype}" for field "type".', E_INVALID, "type")
        nas_path = body.text("nas.path") or None
        settings = settings_changes(body, self.snapshot_policies, creating=True,
                                    export_policies=svm.export_policies)
        vol_uuid = new_uuid()

        def apply() -> None:
            if self.find_volume(svm.name, name):
                raise OntapError(409, f'Duplicate volume name "{name}" in SVM "{svm.name}".', E_DUPLICATE, "name")
            vol = OVolume(self, svm, name, size, aggregates, "rw" if clone else vtype, nas_path, vol_uuid)
            if clone:
                make_clone(vol, clone)
            vol.settings.apply(settings)
            if body.text("state") in ("offline", "restricted"):
                vol.state = str(body.text("state"))
            vol.refresh_access()
            self.volumes[vol.uuid] = vol

        return self.submit(f"POST /api/storage/volumes/{vol_uuid}", apply, svm.name), vol_uuid

    def modify_volume(self, vol: OVolume, body: Body) -> Job:
        size = size_of(body.get("size"), "size") if body.has("size") else None
        if size is not None and size < vol.fv.used:
            raise OntapError(400, f"Cannot shrink volume {vol.name} below its used size ({vol.fv.used} bytes).",
                             E_SHRINK, "size")
        if size is not None and size > vol.size:
            for aggr in vol.aggregates:
                if self.aggregate_free(aggr) < (size - vol.size) // len(vol.aggregates):
                    raise OntapError(400, f'Aggregate "{aggr.name}" does not have enough space to grow '
                                          f'volume "{vol.name}".', E_AGGR_FULL, "size")
        state = body.text("state")
        if state is not None and state not in ("online", "offline", "restricted"):
            raise OntapError(400, f'Invalid value "{state}" for field "state".', E_INVALID, "state")
        new_name = body.text("name")
        if new_name and new_name != vol.name and self.find_volume(vol.svm.name, new_name):
            raise OntapError(409, f'Duplicate volume name "{new_name}".', E_DUPLICATE, "name")
        settings = settings_changes(body, self.snapshot_policies, creating=False,
                                    export_policies=vol.svm.export_policies)

        def apply() -> None:
            if size is not None:
                vol.fv.size = size
            if body.has("nas.path"):
                vol.nas_path = body.text("nas.path") or None
            if state is not None:
                vol.state = state
                if state != "online":
                    vol.nas_path = None
            if new_name and new_name != vol.name:
                vol.name = new_name
                self.fabric.rename_volume(vol.fv, f"{vol.svm.name}:{new_name}")
            if body.flag("clone.split_initiated") and vol.clone.get("is_flexclone"):
                vol.clone = {"is_flexclone": False}
            vol.settings.apply(settings)
            vol.refresh_access()

        return self.submit(f"PATCH /api/storage/volumes/{vol.uuid}", apply, vol.svm.name)

    def delete_volume(self, vol: OVolume) -> Job:
        """DELETE: an online volume is taken offline first; a mounted one, one in a SnapMirror relationship and
        the parent of FlexClone volumes are refused."""
        if any(rel.dst is vol for rel in self.relationships.values()) or self.lab_protected(vol):
            raise OntapError(409, f'Volume "{vol.name}" is part of a SnapMirror relationship; delete the '
                                  "relationship first.", E_VOLUME_IN_USE)
        if vol.nas_path:
            raise OntapError(409, f'Volume "{vol.name}" in SVM "{vol.svm.name}" is mounted at "{vol.nas_path}"; '
                                  "unmount it (nas.path empty) before deleting it.", E_VOLUME_MOUNTED)
        clones = ", ".join(sorted(c.name for c in vol.clones()))
        if clones:
            raise OntapError(409, f'Volume "{vol.name}" has FlexClone volumes ({clones}); delete or split them first.',
                             E_HAS_CLONES)

        def apply() -> None:
            self.volumes.pop(vol.uuid, None)
            self.fabric.drop_volume(vol.fv)

        return self.submit(f"DELETE /api/storage/volumes/{vol.uuid}", apply, vol.svm.name)

    def create_snapshot(self, vol: OVolume, body: Body) -> tuple[Job, str]:
        name = body.text("name")
        if not name:
            raise OntapError(400, 'Missing value for field "name".', E_INVALID, "name")
        if name in vol.fv.snapshots:
            raise OntapError(409, f'Snapshot "{name}" already exists.', E_DUPLICATE, "name")
        label = body.text("snapmirror_label") or ""
        if label and not 1 <= len(label) <= 31:
            raise OntapError(400, "snapmirror_label must be 1 to 31 characters.", E_INVALID, "snapmirror_label")

        expiry = expiry_of(body)

        def apply() -> None:
            vol.snapshot(name, comment=body.text("comment") or "", label=label).expiry_time = expiry

        job = self.submit(f"POST /api/storage/volumes/{vol.uuid}/snapshots", apply, vol.svm.name)
        return job, name

    def delete_snapshot(self, vol: OVolume, snap_uuid: str) -> Job:
        meta = vol.snapshot_by_uuid(snap_uuid)
        owners = vol.snapshot_owners(meta)
        if owners:
            raise OntapError(409, f'Snapshot "{meta.name}" is busy: it is in use by {", ".join(owners)}.',
                             E_SNAPSHOT_BUSY)
        return self.submit(f"DELETE /api/storage/volumes/{vol.uuid}/snapshots/{snap_uuid}",
                           lambda: vol.drop_snapshot(meta.name), vol.svm.name)


def expiry_of(body: Body) -> str | None:
    """A snapshot's ``expiry_time`` as given (ISO 8601 with an offset), checked."""
    value = body.text("expiry_time")
    if not value:
        return None
    try:
        parse_when(value)
    except ValueError as exc:
        raise OntapError(400, f'Invalid value "{value}" for field "expiry_time".', E_INVALID, "expiry_time") from exc
    return value
