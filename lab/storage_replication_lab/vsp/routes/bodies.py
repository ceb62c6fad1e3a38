"""Request bodies of the VSP simulator: every field checked (unknown fields refused), as §9 answers a bad one."""

from __future__ import annotations

import json
import re
import typing as t

from aiohttp import web

from ...fabric import parse_size
from ..model import MAX_LDEV_ID, bad_request

NAME_RE = re.compile(r"^[A-Za-z0-9.:@_][A-Za-z0-9.:@_-]*$")
CAPACITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGT])B?$", re.IGNORECASE)
CREATE_PAIR_FIELDS = ("copyGroupName", "copyPairName", "replicationType", "pvolLdevId", "svolLdevId",
                      "isNewGroupCreation", "pvolDeviceGroupName", "svolDeviceGroupName", "copyPace",
                      "pvolMuNumber", "autoSplit", "quickMode", "isConsistencyGroup", "consistencyGroupId",
                      "isDataReductionForceCopy", "copyMode")
CREATE_LDEV_FIELDS = ("poolId", "blockCapacity", "byteFormatCapacity", "ldevId", "startLdevId", "endLdevId",
                      "isParallelExecutionEnabled", "dataReductionMode")
ACTION_PARAMETERS = {"split": ("copyPace", "quickMode"), "resync": ("copyPace", "quickMode"),
                     "restore": ("copyPace", "quickMode")}
GROUP_SPLIT_PARAMETERS = ("copyPace", "quickMode", "forceSplit", "forceSuspend")


class Fields:
    """A JSON object of a request, checked field by field (unknown fields are refused)."""

    def __init__(self, raw: t.Any, allowed: t.Iterable[str], where: str = "request body") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise bad_request(f"The {where} must be a JSON object.")
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise bad_request(f"The {where} contains an unsupported field ({', '.join(unknown)}).")
        self.raw = raw
        self.where = where

    def has(self, name: str) -> bool:
        return name in self.raw and self.raw[name] is not None

    def integer(self, name: str, low: int, high: int, required: bool = False) -> int | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise bad_request(f"The {where_of(self, name)} is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The value of {name} must be an integer.")
        if not low <= value <= high:
            raise bad_request(f"The value of {name} ({value}) is outside the range {low}-{high}.")
        return value

    def flag(self, name: str, required: bool = False) -> bool | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise bad_request(f"The {where_of(self, name)} is required.")
            return None
        if not isinstance(value, bool):
            raise bad_request(f"The value of {name} must be true or false.")
        return value

    def name(self, name: str, limit: int, required: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise bad_request(f"The {where_of(self, name)} is required.")
            return None
        if not isinstance(value, str) or not value:
            raise bad_request(f"The value of {name} must be a non-empty string.")
        if len(value) > limit:
            raise bad_request(f"The value of {name} ({value}) is longer than {limit} characters.")
        if "," in value:
            raise bad_request(f"The value of {name} ({value}) contains a comma, which object IDs cannot carry.")
        if not NAME_RE.match(value):
            raise bad_request(f"The value of {name} ({value}) contains a character that is not allowed, or starts "
                              "with a hyphen.")
        return value

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"The value of {name} must be a string.")
        return value


def where_of(fields: Fields, name: str) -> str:
    return f"field {name} of the {fields.where}"


async def read_json(request: web.Request) -> t.Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from exc


def parse_capacity(value: str) -> int:
    match = CAPACITY_RE.match(value.strip())
    if not match:
        raise bad_request(f"The value of byteFormatCapacity ({value}) is invalid: use a number and K, M, G or T.")
    return parse_size(f"{match.group(1)}{match.group(2).upper()}iB")


def action_parameters(raw: t.Any, allowed: t.Iterable[str]) -> dict[str, t.Any]:
    body = Fields(raw, ("parameters",))
    params = Fields(body.raw.get("parameters"), allowed, "parameters object")
    out: dict[str, t.Any] = {}
    pace = params.integer("copyPace", 1, 15)
    if pace is not None:
        out["copyPace"] = pace
    for key in ("quickMode", "forceSplit", "forceSuspend"):
        if params.has(key):
            out[key] = params.flag(key)
    return out


def create_pair_spec(raw: t.Any) -> dict[str, t.Any]:
    body = Fields(raw, CREATE_PAIR_FIELDS)
    spec: dict[str, t.Any] = {
        "copyGroupName": body.name("copyGroupName", 29, True),
        "copyPairName": body.name("copyPairName", 31, True),
        "pvolLdevId": body.integer("pvolLdevId", 0, MAX_LDEV_ID, True),
        "svolLdevId": body.integer("svolLdevId", 0, MAX_LDEV_ID, True),
        "isNewGroupCreation": body.flag("isNewGroupCreation", True),
        "pvolDeviceGroupName": body.name("pvolDeviceGroupName", 31),
        "svolDeviceGroupName": body.name("svolDeviceGroupName", 31),
        "copyPace": body.integer("copyPace", 1, 15),
        "pvolMuNumber": body.integer("pvolMuNumber", 0, 2),
        "autoSplit": body.flag("autoSplit"),
        "quickMode": body.flag("quickMode"),
        "isConsistencyGroup": body.flag("isConsistencyGroup"),
        "consistencyGroupId": body.integer("consistencyGroupId", 0, 127),
        "isDataReductionForceCopy": body.flag("isDataReductionForceCopy"),
    }
    kind = body.text("replicationType")
    if kind is None:
        raise bad_request("The field replicationType of the request body is required.")
    if kind != "SI":
        raise bad_request(f"The value of replicationType ({kind}) is invalid: local clone pairs of this lab are "
                          "\"SI\" (ShadowImage).")
    mode = body.text("copyMode")
    if mode is not None and mode != "NotSnapshot":
        raise bad_request(f"The value of copyMode ({mode}) is invalid: Volume Migration pairs are not served by the "
                          "lab and must never join a ShadowImage copy group.")
    if spec["quickMode"] and not spec["autoSplit"]:
        raise bad_request("quickMode can be specified only together with autoSplit.")
    if spec["isConsistencyGroup"] and spec["autoSplit"]:
        raise bad_request("isConsistencyGroup cannot be specified together with autoSplit.")
    if spec["consistencyGroupId"] is not None and not spec["isConsistencyGroup"]:
        raise bad_request("consistencyGroupId can be specified only with isConsistencyGroup set to true.")
    if spec["isConsistencyGroup"] and spec["consistencyGroupId"] is None:
        spec["consistencyGroupId"] = 0
    return spec


def create_ldev_spec(raw: t.Any) -> dict[str, t.Any]:
    body = Fields(raw, CREATE_LDEV_FIELDS)
    spec: dict[str, t.Any] = {
        "poolId": body.integer("poolId", 0, 127, True),
        "ldevId": body.integer("ldevId", 0, MAX_LDEV_ID),
        "startLdevId": body.integer("startLdevId", 0, MAX_LDEV_ID),
        "endLdevId": body.integer("endLdevId", 0, MAX_LDEV_ID),
    }
    body.flag("isParallelExecutionEnabled")
    mode = body.text("dataReductionMode")
    if mode is not None and mode not in ("disabled", "compression", "compression_deduplication"):
        raise bad_request(f"The value of dataReductionMode ({mode}) is invalid.")
    blocks = body.integer("blockCapacity", 1, 2 ** 40)
    text = body.text("byteFormatCapacity")
    if (blocks is None) == (text is None):
        raise bad_request("Specify exactly one of blockCapacity and byteFormatCapacity.")
    spec["size"] = blocks * 512 if blocks is not None else parse_capacity(str(text))
    if spec["size"] < 512:
        raise bad_request("The capacity is too small.")
    return spec
