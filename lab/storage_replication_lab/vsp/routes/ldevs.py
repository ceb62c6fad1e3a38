"""``ldevs``: logical devices (the volumes ShadowImage, Thin Image and remote copy pair), listed, created, relabelled,
deleted."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import BASE, MAX_LDEV_ID, Job, Ldev, bad_request, storage_error, undefined_ldev
from .bodies import Fields, create_ldev_spec, read_json
from .common import methods, reply, submit_and_reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

LDEV_OPTIONS = (None, "defined", "undefined", "dpVolume", "luMapped", "luUnmapped")


def ldev_record(array: Vsp, ldev_id: int) -> dict[str, t.Any]:
    ldev = array.ldevs.get(ldev_id)
    if ldev is None:
        return undefined_ldev(ldev_id)
    ti_paired, snapshot_pool = array.ti.ldev_info(ldev_id)
    return ldev.render(bool(array.si.pairs_of(ldev_id)), ti_paired, snapshot_pool, remote_attributes(array, ldev_id))


def remote_attributes(array: Vsp, ldev_id: int) -> list[str]:
    """``HORC`` for a TC or UR pair volume, ``GAD`` for a GAD pair volume, ``JNL`` for a journal volume."""
    out = ["GAD" if pair.rtype == "GAD" else "HORC" for pair in array.rc.pairs_of(ldev_id)]
    if array.rc.journal_of(ldev_id) is not None:
        out.append("JNL")
    return out


def ldev_url(scope: str, ldev_id: int) -> str:
    return f"{BASE}{scope}/ldevs/{ldev_id}"


def query_int(request: web.Request, name: str, low: int, high: int) -> int | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise bad_request(f"The value of the query parameter {name} ({value}) is invalid.")
    return int(value)


async def ldevs(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "POST":
            return await _create(array, request, scope)
        return _list(array, request)
    if not rest[0].isdigit() or int(rest[0]) > MAX_LDEV_ID:
        raise bad_request(f"The LDEV ID ({rest[0]}) is invalid: specify a decimal number 0-{MAX_LDEV_ID}.")
    return await _one(array, request, int(rest[0]), scope)


async def _create(array: Vsp, request: web.Request, scope: str) -> web.Response:
    raw = await read_json(request)
    spec = create_ldev_spec(raw)

    def create(job: Job) -> None:
        ldev = array.create_ldev(spec)
        job.affected = [ldev_url(scope, ldev.ldev_id)]

    return await submit_and_reply(array, request, raw, create)


def _list(array: Vsp, request: web.Request) -> web.Response:
    option = request.query.get("ldevOption")
    if option not in LDEV_OPTIONS:
        raise bad_request(f"The value of the query parameter ldevOption ({option}) is invalid.")
    pool_id = query_int(request, "poolId", 0, 127)
    head = query_int(request, "headLdevId", 0, MAX_LDEV_ID) or 0
    count = query_int(request, "count", 1, 16384) or 100
    data: list[dict[str, t.Any]] = []
    for ldev_id in range(head, MAX_LDEV_ID + 1):
        if len(data) >= count:
            break
        ldev = array.ldevs.get(ldev_id)
        if option == "undefined" and ldev is not None:
            continue
        if option in ("defined", "luUnmapped", "dpVolume", "luMapped") and ldev is None:
            continue
        if option == "luMapped" or (option == "dpVolume" and ldev is not None and ldev.pool_id is None):
            continue
        if pool_id is not None and (ldev is None or ldev.pool_id != pool_id):
            continue
        data.append(ldev_record(array, ldev_id))
    return reply({"data": data})


async def _one(array: Vsp, request: web.Request, ldev_id: int, scope: str) -> web.Response:
    methods(request, "GET", "PATCH", "PUT", "DELETE")
    if request.method == "GET":
        return reply(ldev_record(array, ldev_id))
    raw = await read_json(request)

    def defined() -> Ldev:
        ldev = array.ldevs.get(ldev_id)
        if ldev is None:
            raise storage_error(f"The LDEV ({ldev_id}) is not defined.", "ldev_undefined")
        return ldev

    if request.method == "DELETE":
        Fields(raw, ())

        def delete(job: Job) -> None:
            array.delete_ldev(defined())
            job.affected = [ldev_url(scope, ldev_id)]

        return await submit_and_reply(array, request, raw, delete)
    body = Fields(raw, ("label",))
    label = body.text("label")
    if label is None or len(label) > 32:
        raise bad_request("The field label (up to 32 characters) is required.")

    def relabel(job: Job) -> None:
        defined().label = str(label)
        job.affected = [ldev_url(scope, ldev_id)]

    return await submit_and_reply(array, request, raw, relabel)
