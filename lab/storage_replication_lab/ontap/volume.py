"""What a volume record holds beyond its data: the settings clients copy when they create a
destination "like the source" (comment, language, guarantee, snapshot policy and reserve,
NAS security, tiering, efficiency, encryption, autosize) and the fields they filter on.

``settings_changes`` checks the settings of a POST or PATCH body before its job is
accepted; ``VolumeSettings.apply`` applies them inside the job; ``settings_record``
renders them (with the space accounting) for ``GET /api/storage/volumes``.
Values are those the netapp-ontap models document; where the lab has nothing behind a
setting (tiering, efficiency, autosize) it is kept and shown, not acted on. Encryption
cannot be enabled (the lab has no key manager); QoS and analytics are accepted on
POST/PATCH and not kept (no QoS policy groups exist), as before.
"""

from __future__ import annotations

import dataclasses
import typing as t

from .body import Body, OntapError

if t.TYPE_CHECKING:  # pragma: no cover
    from .model import OVolume

E_INVALID = "2"
E_NOT_AVAILABLE = "3"
LANGUAGES = frozenset(
    [f"{base}{suffix}" for base in ("ar", "c", "cs", "da", "de", "en", "en_us", "es", "fi", "fr", "he", "hr", "hu",
                                    "it", "ja", "ja_jp.932", "ja_jp.pck", "ja_jp.pck_v2", "ja_v1", "ko", "nl", "no",
                                    "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "zh", "zh.gbk", "zh_tw",
                                    "zh_tw.big5") for suffix in ("", ".utf_8")] + ["utf8mb4"])
CHOICES: dict[str, tuple[str, ...]] = {
    "guarantee.type": ("volume", "none"),
    "nas.security_style": ("unix", "ntfs", "mixed", "unified"),
    "tiering.policy": ("all", "auto", "backup", "none", "snapshot_only"),
    "efficiency.compression": ("inline", "background", "both", "none"),
    "efficiency.dedupe": ("inline", "background", "both", "none"),
    "efficiency.compaction": ("inline", "none"),
    "efficiency.cross_volume_dedupe": ("inline", "background", "both", "none"),
    "autosize.mode": ("grow", "grow_shrink", "off"),
}
# body path -> VolumeSettings attribute, for the enumerated settings and the free text
ATTRIBUTES = {"comment": "comment", "guarantee.type": "guarantee", "nas.security_style": "security_style",
              "tiering.policy": "tiering_policy", "efficiency.compression": "compression",
              "efficiency.dedupe": "dedupe", "efficiency.compaction": "compaction",
              "efficiency.cross_volume_dedupe": "cross_volume_dedupe", "autosize.mode": "autosize_mode",
              "nas.export_policy.name": "export_policy"}
NUMBERS = {"space.snapshot.reserve_percent": ("reserve_percent", 0, 90),
           "autosize.grow_threshold": ("grow_threshold", 1, 99),
           "autosize.shrink_threshold": ("shrink_threshold", 1, 99),
           "autosize.maximum": ("autosize_maximum", 0, 2 ** 63), "autosize.minimum": ("autosize_minimum", 0, 2 ** 63),
           "nas.uid": ("uid", 0, 2 ** 32 - 1), "nas.gid": ("gid", 0, 2 ** 32 - 1)}
FLAGS = {"snapshot_directory_access_enabled": "snapdir_access", "access_time_enabled": "access_time"}
# what POST and PATCH accept besides the volume's own fields (name, size, state, nas.path, ...)
SETTINGS_FIELDS = tuple(ATTRIBUTES) + tuple(NUMBERS) + tuple(FLAGS) + (
    "snapshot_policy.name", "snapshot_policy.uuid", "nas.unix_permissions", "encryption.enabled", "qos", "analytics")
POST_ONLY_FIELDS = ("language",)
OBJECTS = ("snapshot_policy", "guarantee", "space", "space.snapshot", "tiering", "efficiency", "encryption", "autosize",
           "nas.export_policy")


@dataclasses.dataclass
class VolumeSettings:
    """A volume's settings as ONTAP defaults them for a new FlexVol volume."""

    comment: str = ""
    language: str = "c.utf_8"
    snapshot_policy: str = "default"
    reserve_percent: int = 5
    guarantee: str = "volume"
    security_style: str = "unix"
    unix_permissions: int = 755
    uid: int = 0
    gid: int = 0
    export_policy: str = "default"
    tiering_policy: str = "none"
    compression: str = "none"
    dedupe: str = "background"
    compaction: str = "none"
    cross_volume_dedupe: str = "none"
    autosize_mode: str = "off"
    autosize_maximum: int | None = None
    autosize_minimum: int | None = None
    grow_threshold: int = 85
    shrink_threshold: int = 50
    snapdir_access: bool = True
    access_time: bool = True

    def apply(self, changes: dict[str, t.Any]) -> None:
        for attribute, value in changes.items():
            setattr(self, attribute, value)

    def copy(self) -> VolumeSettings:
        return dataclasses.replace(self)


def _choice(body: Body, path: str) -> str:
    value = str(body.get(path)).lower()
    if value not in CHOICES.get(path, (value,)):
        raise OntapError(400, f'Invalid value "{body.get(path)}" for field "{path}".', E_INVALID, path)
    return value


def _number(body: Body, path: str, low: int, high: int) -> int:
    value = body.number(path)
    if value is None or not low <= value <= high:
        raise OntapError(400, f'Field "{path}" cannot be set to this value: "{body.get(path)}". The value must be in '
                              f"the range <{low}..{high}>.", "262197", path)
    return value


def _permissions(body: Body) -> int:
    text = str(body.get("nas.unix_permissions"))
    if not text.isdigit() or len(text) > 4 or any(c in "89" for c in text):
        raise OntapError(400, f'Invalid value "{text}" for field "nas.unix_permissions": expected octal digits '
                              '(e.g. 755).', E_INVALID, "nas.unix_permissions")
    return int(text)


def settings_changes(body: Body, snapshot_policies: dict[str, str], creating: bool,
                     export_policies: t.Mapping[str, int] | None = None) -> dict[str, t.Any]:
    """The settings a POST (``creating``) or PATCH body changes, as ``VolumeSettings`` attributes; refusals first."""
    for path in OBJECTS:
        if path in body.values and not isinstance(body.get(path), dict):
            raise OntapError(400, f'Invalid value "{body.get(path)}" for field "{path}": expected an object.',
                             E_INVALID, path)
    changes: dict[str, t.Any] = {}
    for path, attribute in ATTRIBUTES.items():
        if path in body.values:
            changes[attribute] = str(body.get(path) or "") if path in ("comment", "nas.export_policy.name") \
                else _choice(body, path)
    if len(changes.get("comment", "")) > 1023:
        raise OntapError(400, 'Field "comment" cannot be longer than 1023 characters.', "262197", "comment")
    if changes.get("export_policy", "default") not in (export_policies or {"default": 0}):
        raise OntapError(400, f'Export policy "{changes["export_policy"]}" does not exist.', E_INVALID,
                         "nas.export_policy.name")
    for path, (attribute, low, high) in NUMBERS.items():
        if path in body.values:
            changes[attribute] = _number(body, path, low, high)
    for path, attribute in FLAGS.items():
        if path in body.values:
            changes[attribute] = body.flag(path)
    if "nas.unix_permissions" in body.values:
        changes["unix_permissions"] = _permissions(body)
    if body.has("snapshot_policy"):
        changes["snapshot_policy"] = _snapshot_policy(body, snapshot_policies)
    if body.has("encryption.enabled") and body.flag("encryption.enabled"):
        raise OntapError(400, "Cannot enable encryption: no key manager is configured on this cluster.",
                         E_NOT_AVAILABLE, "encryption.enabled")
    if creating and "language" in body.values:
        language = str(body.get("language")).lower()
        if language not in LANGUAGES:
            raise OntapError(400, f'Invalid value "{body.get("language")}" for field "language".', E_INVALID,
                             "language")
        changes["language"] = language
    return changes


def _snapshot_policy(body: Body, policies: dict[str, str]) -> str:
    name, policy_uuid = body.text("snapshot_policy.name"), body.text("snapshot_policy.uuid")
    if name is None and policy_uuid is None:
        raise OntapError(400, 'Missing value for field "snapshot_policy.name".', E_INVALID, "snapshot_policy.name")
    for known, known_uuid in policies.items():
        if (name is None or name == known) and (policy_uuid is None or policy_uuid == known_uuid):
            return known
    raise OntapError(400, f'Snapshot policy "{name or policy_uuid}" does not exist.', E_INVALID,
                     "snapshot_policy.name" if name else "snapshot_policy.uuid")


def snapshot_bytes(vol: OVolume) -> int:
    """Bytes held by the volume's snapshots only (blocks the active image has overwritten)."""
    active = vol.fv.blocks
    held = {(index, token) for snap in vol.fv.snapshots.values()
            for index, token in snap.blocks.items() if active.get(index) != token}
    return len(held) * vol.fv.block_size


def settings_record(vol: OVolume) -> dict[str, t.Any]:
    """The settings part of a volume record, with its space accounting."""
    s = vol.settings
    size, used = vol.size, vol.fv.used
    reserve = size * s.reserve_percent // 100
    in_snapshots = snapshot_bytes(vol)
    efficient = s.dedupe != "none" or s.compression != "none"
    return {
        "comment": s.comment, "language": s.language, "is_svm_root": False,
        "error_state": {"is_inconsistent": False, "has_bad_blocks": False},
        "guarantee": {"type": s.guarantee, "honored": True},
        "snapshot_policy": {"name": s.snapshot_policy, "uuid": vol.cluster.snapshot_policies[s.snapshot_policy]},
        "snapshot_count": len(vol.fv.snapshots),
        "snapshot_directory_access_enabled": s.snapdir_access, "access_time_enabled": s.access_time,
        "space": {"size": size, "used": used, "available": max(0, size - reserve - used),
                  "percent_used": min(100, used * 100 // max(1, size - reserve)),
                  "snapshot": {"reserve_percent": s.reserve_percent, "reserve_size": reserve, "used": in_snapshots,
                               "reserve_available": max(0, reserve - in_snapshots)}},
        "tiering": {"policy": s.tiering_policy},
        "efficiency": {"state": "enabled" if efficient else "disabled", "compression": s.compression,
                       "dedupe": s.dedupe, "compaction": s.compaction, "cross_volume_dedupe": s.cross_volume_dedupe,
                       "volume_path": f"/vol/{vol.name}", "type": "regular", "schedule": "sun-sat@0",
                       **({"policy": {"name": "auto"}} if efficient else {})},
        "encryption": {"enabled": False, "state": "unencrypted", "type": "none"},
        "autosize": {"mode": s.autosize_mode, "maximum": s.autosize_maximum or size * 6 // 5,
                     "minimum": s.autosize_minimum or size, "grow_threshold": s.grow_threshold,
                     "shrink_threshold": s.shrink_threshold},
        "nas": {"security_style": s.security_style, "unix_permissions": s.unix_permissions, "uid": s.uid, "gid": s.gid,
                "export_policy": {"name": s.export_policy,
                                  "id": vol.svm.export_policies.get(s.export_policy, vol.svm.export_policy_id)}},
    }
