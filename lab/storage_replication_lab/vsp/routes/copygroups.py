"""``local-clone-copygroups``: ShadowImage copy groups, their group actions and their deletion."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import BASE, Job
from .actions import actions
from .bodies import GROUP_SPLIT_PARAMETERS, Fields, read_json
from .common import methods, reply, submit_and_reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp


async def copygroups(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    si = array.si
    if not rest:
        methods(request, "GET")
        return reply({"data": [g.render() for g in si.groups.values()]})
    group = si.group(rest[0])
    url = f"{BASE}{scope}/local-clone-copygroups/{group.group_id}"
    if len(rest) > 1:
        return await actions(array, request, list(group.pairs.values()), rest[1:], GROUP_SPLIT_PARAMETERS, [url])
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(group.render(with_pairs=True))
    raw = await read_json(request)
    Fields(raw, ("forceDelete",)).flag("forceDelete")

    def delete(job: Job) -> None:
        for pair in list(group.pairs.values()):
            si.delete(pair)
        job.affected = [url]

    return await submit_and_reply(array, request, raw, delete)
