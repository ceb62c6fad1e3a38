"""``pools``: the DP pools the LDEVs take their capacity from (the record: ``pool.py``)."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import bad_request, not_found
from .common import methods, reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp
    from ..pool import Pool

POOL_TYPES = ("DP", "HTI")  # the poolType filter of the list: DP pools or Thin Image pools (the lab has none)


def pool_record(array: Vsp, pool: Pool) -> dict[str, t.Any]:
    """The record of ``pool`` with the DP-VOLs located in it now."""
    return pool.render(array.pool_ldevs(pool))


async def pools(array: Vsp, request: web.Request, rest: list[str], _scope: str) -> web.Response:
    """``GET pools[?poolType=DP|HTI]`` and ``GET pools/<poolId>``."""
    methods(request, "GET")
    if not rest:
        pool_type = request.query.get("poolType")
        if pool_type is not None and pool_type not in POOL_TYPES:
            raise bad_request(f"The value of the query parameter poolType ({pool_type}) is invalid: specify DP or "
                              "HTI.")
        listed = [] if pool_type == "HTI" else list(array.pools.values())
        return reply({"data": [pool_record(array, p) for p in listed]})
    pool = array.pools.get(int(rest[0])) if rest[0].isdigit() else None
    if pool is None:
        raise not_found(f"poolId = {rest[0]}")
    return reply(pool_record(array, pool))
