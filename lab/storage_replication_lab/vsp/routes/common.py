"""What every VSP route shares: the array of the app, replies, sessions, methods and jobs."""

from __future__ import annotations

import asyncio
import json
import typing as t

from aiohttp import web

from ..model import E_AUTH, E_METHOD, Job, Session, VspError, bad_request

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

REALM = 'realm="Block storage"'


def reply(body: t.Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json", charset="UTF-8",
                        headers=headers)


def unauthorized(scheme: str, message: str) -> VspError:
    return VspError(401, E_AUTH, message, "Authentication failed.",
                    "Specify valid authentication information, and then try again.",
                    headers={"WWW-Authenticate": f"{scheme} {REALM}"})


def authenticate(array: Vsp, request: web.Request) -> Session:
    """The live session of ``Authorization: Session <token>`` (its idle time starts again), else 401."""
    header = request.headers.get("Authorization", "")
    scheme, token = (header.split(" ", 1) + [""])[:2]
    if scheme.lower() != "session" or not token.strip():
        raise unauthorized("Session", "The specified token is invalid. Authorization: Session <token> is "
                                      "required (create a session first).")
    session = array.session_for(token.strip())
    if session is None:
        raise unauthorized("Session", "The specified token is invalid. The session does not exist or has "
                                      "timed out.")
    return session


def methods(request: web.Request, *allowed: str) -> None:
    if request.method not in allowed:
        raise VspError(405, E_METHOD, f"The method {request.method} is not supported for this URL.",
                       "The request method is not supported.",
                       f"Use one of: {', '.join(allowed)}.")


def nowait_of(request: web.Request) -> bool:
    value = request.headers.get("Job-Mode-Wait-Configuration-Change")
    if value is None:
        return False
    if value.strip().lower() == "nowait":
        return True
    if value.strip().lower() == "wait":
        return False
    raise bad_request(f"The value of the Job-Mode-Wait-Configuration-Change header ({value}) is invalid: "
                      "specify NoWait.")


def submit(array: Vsp, request: web.Request, body: t.Any, action: t.Callable[[Job], None]) -> Job:
    return array.submit(request.method, request.path, body, nowait_of(request), action)


async def job_reply(array: Vsp, request: web.Request, job: Job) -> web.Response:
    hold = request.headers.get("Response-Job-Status", "").strip().lower()
    if hold.startswith("completed") and not job.done:
        try:
            limit = float(request.headers.get("Response-Max-Wait", array.max_hold))
        except ValueError as exc:
            raise bad_request("The Response-Max-Wait header must be a number of seconds.") from exc
        waiter = asyncio.get_running_loop().create_future()
        job.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, max(0.0, limit))
        except asyncio.TimeoutError:
            pass
    return reply(job.render(), 202)


async def submit_and_reply(array: Vsp, request: web.Request, body: t.Any,
                           action: t.Callable[[Job], None]) -> web.Response:
    """Queue ``action`` as the job of ``request`` and answer with it (202 + the job)."""
    return await job_reply(array, request, submit(array, request, body, action))


async def refused_as_job(array: Vsp, request: web.Request, raw: t.Any,
                         check: t.Callable[[], None]) -> web.Response | None:
    """Run ``check``; a 412 is raised, or with ``invalid_state_reply: job`` answered as a job that fails."""
    try:
        check()
    except VspError as exc:
        if exc.status != 412 or array.invalid_state_reply != "job":
            raise
        refusal = exc

        def refuse(_job: Job) -> None:
            raise refusal

        return await submit_and_reply(array, request, raw, refuse)
    return None
