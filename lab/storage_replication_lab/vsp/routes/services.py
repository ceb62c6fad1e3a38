"""``services/resource-group-service/actions/{lock,unlock}[/invoke]``: the resource-group lock (``lock.py``).

Served at ``/v1/services/...`` (the form of the docs), ``/v1/objects/services/...``
and ``/v1/objects/storages/<storageDeviceId>/services/...``. Both actions take POST
or PUT and answer 202 + a job; ``GET .../actions/<name>`` is the template.
"""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..lock import MAX_WAIT
from ..model import E_NO_SUCH_URL, Job, Session, VspError
from .bodies import Fields, read_json
from .common import methods, reply, submit_and_reply

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

SERVICE = "resource-group-service"
LOCK_PARAMETERS = {"lock": ("waitTime",), "unlock": ()}


def _no_such_url(request: web.Request) -> VspError:
    return VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                    "The lab serves services/resource-group-service/actions/{lock,unlock}/invoke only.",
                    "Check the URL.")


async def services(array: Vsp, request: web.Request, rest: list[str], session: Session) -> web.Response:
    """Lock or unlock the resource groups for ``session`` (the caller), as a job."""
    if not 3 <= len(rest) <= 4 or rest[0] != SERVICE or rest[1] != "actions" or rest[2] not in LOCK_PARAMETERS \
            or (len(rest) == 4 and rest[3] != "invoke"):
        raise _no_such_url(request)
    op = rest[2]
    if len(rest) == 3:
        methods(request, "GET")
        return reply({"name": op, "parameters": {key: None for key in LOCK_PARAMETERS[op]}})
    methods(request, "POST", "PUT")
    raw = await read_json(request)
    body = Fields(raw, ("parameters",))
    params = Fields(body.raw.get("parameters"), LOCK_PARAMETERS[op], "parameters object")
    session_id = session.session_id
    if op == "lock":
        wait_time = params.integer("waitTime", 0, MAX_WAIT) or 0

        def lock(job: Job) -> None:
            array.lock.lock(job, session_id, wait_time)

        return await submit_and_reply(array, request, raw, lock)

    def unlock(_job: Job) -> None:
        array.lock.unlock(session_id)

    return await submit_and_reply(array, request, raw, unlock)
