"""``storages`` (the list needs no session) and ``storages/<storageDeviceId>``."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import not_found
from .common import authenticate, methods, reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp


def storage_summary(array: Vsp) -> dict[str, t.Any]:
    """The list entry: a VSP 5000 (storageDeviceId 900000...) names its SVP, the E and G/F series their controllers."""
    out: dict[str, t.Any] = {"storageDeviceId": array.storage_device_id, "model": array.model,
                             "serialNumber": array.serial}
    if array.storage_device_id.startswith("900000"):
        out["svpIp"] = "127.0.0.1"
    else:
        out.update({"ctl1Ip": "127.0.0.1", "ctl2Ip": "127.0.0.1"})
    return out


def storage_detail(array: Vsp) -> dict[str, t.Any]:
    """``GET storages/<id>``: the list entry plus the microcode version, TLS and communication modes."""
    out = storage_summary(array)
    out.update({"dkcMicroVersion": "88-08-10-00/00", "isSecure": True,
                "communicationModes": [{"communicationMode": "lanConnectionMode"}]})
    return out


async def storages(array: Vsp, request: web.Request, parts: list[str]) -> web.Response:
    methods(request, "GET")
    if len(parts) == 1:
        return reply({"data": [storage_summary(array)]})
    authenticate(array, request)
    if parts[1] in (array.storage_device_id, "instance"):
        return reply(storage_detail(array))
    raise not_found(f"storageDeviceId = {parts[1]}")
