"""``sessions``: Basic auth makes a session token; every other call carries it."""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import not_found
from .bodies import Fields, read_json
from .common import authenticate, methods, reply, unauthorized

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp


async def sessions(array: Vsp, request: web.Request, rest: list[str], _scope: str) -> web.Response:
    if not rest:
        methods(request, "POST", "GET")
        if request.method == "POST":
            return await _login(array, request)
        authenticate(array, request)
        array.purge_sessions()
        return reply({"data": [s.render() for s in array.sessions.values()]})
    methods(request, "GET", "DELETE")
    authenticate(array, request)
    try:
        session_id = int(rest[0])
    except ValueError as exc:
        raise not_found(f"sessionId = {rest[0]}") from exc
    session = array.sessions.get(session_id)
    if session is None:
        raise not_found(f"sessionId = {session_id}")
    if request.method == "GET":
        return reply(session.render())
    Fields(await read_json(request), ("force",)).flag("force")
    array.logout(session_id)
    return reply({"sessionId": session_id})


async def _login(array: Vsp, request: web.Request) -> web.Response:
    if request.headers.get("Authorization", "") != array.auth_header:
        raise unauthorized("Basic", "Authentication failed: the user ID or password is wrong, or "
                                    "Authorization: Basic is missing.")
    body = Fields(await read_json(request), ("aliveTime", "authenticationTimeout"))
    alive = body.integer("aliveTime", 1, 300)
    auth_timeout = body.integer("authenticationTimeout", 1, 900)
    session = array.login(300 if alive is None else alive, 120 if auth_timeout is None else auth_timeout,
                          request.remote or "127.0.0.1")
    return reply({"token": session.token, "sessionId": session.session_id})
