"""``jobs``: the history of the array's asynchronous jobs (newest first)."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import bad_request, not_found
from .common import methods, reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp


async def jobs(array: Vsp, request: web.Request, rest: list[str], _scope: str) -> web.Response:
    methods(request, "GET")
    if not rest:
        count = request.query.get("count")
        items = list(array.jobs.values())
        if count is not None:
            if not count.isdigit():
                raise bad_request("The count query parameter must be a positive integer.")
            items = items[-int(count):] if int(count) else []
        return reply({"data": [j.render() for j in reversed(items)]})
    try:
        job = array.jobs.get(int(rest[0]))
    except ValueError:
        job = None
    if job is None:
        raise not_found(f"jobId = {rest[0]}")
    return reply(job.render())
