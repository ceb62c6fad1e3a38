"""``.../actions/{split,resync,restore}[/invoke]`` of a copy group or a copy pair."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import BASE, E_NO_SUCH_URL, Job, Pair, VspError
from ..shadowimage import OPERATIONS
from .bodies import ACTION_PARAMETERS, action_parameters, read_json
from .common import methods, refused_as_job, reply, submit_and_reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

TARGETS = {"split": "PSUS", "resync": "PAIR", "restore": "PAIR"}


def pair_url(scope: str, pair: Pair) -> str:
    return f"{BASE}{scope}/local-clone-copypairs/{pair.pair_id}"


async def invoke(array: Vsp, request: web.Request, pairs: list[Pair], op: str, params: dict[str, t.Any],
                 affected: list[str], raw: t.Any) -> web.Response:
    si = array.si
    target = "PSUE" if params.get("forceSuspend") else TARGETS[op]

    def check() -> None:
        for pair in pairs:
            si.check(pair, op, params)

    refused = await refused_as_job(array, request, raw, check)
    if refused is not None:
        return refused

    def act(job: Job) -> None:
        live = [p for p in pairs if not p.deleted]
        for pair in live:
            si.check(pair, op, params)
        for pair in live:
            si.apply(pair, op, params)
        job.affected = list(affected)
        job.waits_for = [(p, target) for p in live]

    return await submit_and_reply(array, request, raw, act)


async def actions(array: Vsp, request: web.Request, pairs: list[Pair], rest: list[str], allowed: t.Iterable[str],
                  affected: list[str]) -> web.Response:
    if len(rest) < 2 or rest[0] != "actions" or rest[1] not in OPERATIONS or len(rest) > 3 or \
            (len(rest) == 3 and rest[2] != "invoke"):
        raise VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                       "The resource or action does not exist.", "Check the URL.")
    op = rest[1]
    if len(rest) == 2:
        methods(request, "GET")
        return reply({"name": op, "parameters": {key: None for key in allowed}})
    methods(request, "POST", "PUT")
    raw = await read_json(request)
    params = action_parameters(raw, allowed if op == "split" else ACTION_PARAMETERS[op])
    return await invoke(array, request, pairs, op, params, affected, raw)
