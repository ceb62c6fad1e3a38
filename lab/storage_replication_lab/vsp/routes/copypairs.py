"""``local-clone-copypairs``: ShadowImage pairs, created into a copy group, listed per group, acted on, deleted."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import Job, bad_request
from .actions import actions, pair_url
from .bodies import ACTION_PARAMETERS, Fields, create_pair_spec, read_json
from .common import methods, reply, submit_and_reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp


async def copypairs(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    si = array.si
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "POST":
            return await _create(array, request, scope)
        return _list(array, request)
    pair = si.pair(rest[0])
    if len(rest) > 1:
        return await actions(array, request, [pair], rest[1:], ACTION_PARAMETERS["split"], [pair_url(scope, pair)])
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(pair.render())
    raw = await read_json(request)
    Fields(raw, ())

    def delete(job: Job) -> None:
        url = pair_url(scope, pair)
        if not pair.deleted:
            si.delete(pair)
        job.affected = [url]

    return await submit_and_reply(array, request, raw, delete)


async def _create(array: Vsp, request: web.Request, scope: str) -> web.Response:
    raw = await read_json(request)
    spec = create_pair_spec(raw)

    def create(job: Job) -> None:
        pair = array.si.create(spec)
        job.affected = [pair_url(scope, pair)]
        job.waits_for = [(pair, pair.target)]

    return await submit_and_reply(array, request, raw, create)


def _list(array: Vsp, request: web.Request) -> web.Response:
    group_id = request.query.get("localCloneCopyGroupId")
    if group_id is None:
        hint = " (the key is localCloneCopyGroupId, with a capital G)" \
            if "localCloneCopygroupId" in request.query else ""
        raise bad_request("The query parameter localCloneCopyGroupId is required to list pairs" + hint + ".")
    if len(group_id.split(",")) != 3 or not all(group_id.split(",")):
        raise bad_request(f"The value of localCloneCopyGroupId ({group_id}) is invalid: specify "
                          "copyGroupName,pvolDeviceGroupName,svolDeviceGroupName.")
    refresh = request.query.get("refresh")
    if refresh is not None and refresh.lower() not in ("true", "false"):
        raise bad_request(f"The value of the query parameter refresh ({refresh}) is invalid.")
    group = array.si.groups.get(group_id.split(",")[0])
    pairs = list(group.pairs.values()) if group is not None and group.group_id == group_id else []
    return reply({"data": [p.render() for p in pairs]})
