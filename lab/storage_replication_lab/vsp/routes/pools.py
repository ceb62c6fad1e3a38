"""``pools``: the DP pools the LDEVs take their capacity from."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import not_found
from .common import methods, reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp


async def pools(array: Vsp, request: web.Request, rest: list[str], _scope: str) -> web.Response:
    methods(request, "GET")
    if not rest:
        return reply({"data": [p.render(array.pool_used(p)) for p in array.pools.values()]})
    pool = array.pools.get(int(rest[0])) if rest[0].isdigit() else None
    if pool is None:
        raise not_found(f"poolId = {rest[0]}")
    return reply(pool.render(array.pool_used(pool)))
