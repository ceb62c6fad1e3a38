"""HTTP side of the VSP simulator: paths, headers, bodies and replies of the Configuration Manager REST API.

One catch-all route per app: ``route`` splits the path (unscoped
``/v1/objects/<type>...`` or scoped ``/v1/objects/storages/<id>/<type>...``) and
hands it to the module of its object type: ``sessions``, ``storages``, ``jobs``,
``pools``, ``ldevs``, ``copygroups`` and ``copypairs`` (with ``actions`` for
split / resync / restore), ``snapshots`` (Thin Image ``snapshots`` and
``snapshot-groups``); ``services`` (also ``/v1/services/...``) serves the
resource-group lock. While another session holds the lock, every write to an
object type is refused here (503, ``lock.py``). ``bodies`` checks request bodies,
``common`` holds replies, authentication and jobs. Errors are the §9 error object
(``VspError``).
"""

from __future__ import annotations

import typing as t

from aiohttp import web

from ...array import READ_METHODS
from ..model import E_NO_SUCH_URL, VspError, not_found
from .common import authenticate, methods, reply
from .copygroups import copygroups
from .copypairs import copypairs
from .jobs import jobs
from .ldevs import ldevs
from .pools import pools
from .remote import remote_copygroups, remote_copypair_list, remote_copypairs
from .remote_config import journals, quorum_disks, remote_storages, remotepath_groups
from .services import services
from .sessions import sessions
from .snapshots import snapshot_groups, snapshots
from .storages import storages

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

Handler = t.Callable[["Vsp", web.Request, list[str], str], t.Awaitable[web.Response]]
# object types that need a session, by their path segment
OBJECTS: dict[str, Handler] = {
    "jobs": jobs,
    "pools": pools,
    "ldevs": ldevs,
    "local-clone-copygroups": copygroups,
    "local-clone-copypairs": copypairs,
    "snapshots": snapshots,
    "snapshot-groups": snapshot_groups,
    "remote-mirror-copygroups": remote_copygroups,
    "remote-mirror-copypairs": remote_copypairs,
    "remote-copypairs": remote_copypair_list,
    "remote-storages": remote_storages,
    "remotestorages": remote_storages,
    "remotepath-groups": remotepath_groups,
    "journals": journals,
    "quorum-disks": quorum_disks,
}


async def route(array: Vsp, request: web.Request) -> web.Response:
    parts = [p for p in request.match_info["tail"].split("/") if p]
    if parts == ["configuration", "version"]:
        methods(request, "GET")
        return reply({"productName": "Configuration Manager REST API", "apiVersion": "1.9.0"})
    if parts[:2] == ["v1", "services"]:
        return await services(array, request, parts[2:], authenticate(array, request))
    if parts[:2] != ["v1", "objects"] or len(parts) < 3:
        raise VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                       "The lab serves /ConfigurationManager/v1/objects/... and /v1/services/....",
                       "Check the URL.")
    parts = parts[2:]
    scope = ""
    if parts[0] == "storages":
        if len(parts) <= 2:
            return await storages(array, request, parts)
        scope = f"/storages/{parts[1]}"
        if parts[1] != array.storage_device_id:
            if parts[2] != "sessions":
                authenticate(array, request)
            raise not_found(f"storageDeviceId = {parts[1]}")
        parts = parts[2:]
    kind, rest = parts[0], parts[1:]
    if kind == "sessions":
        return await sessions(array, request, rest, scope)
    session = authenticate(array, request)
    if kind == "services":
        return await services(array, request, rest, session)
    handler = OBJECTS.get(kind)
    if handler is not None:
        if request.method not in READ_METHODS:
            array.lock.check_write(session)
        return await handler(array, request, rest, scope)
    raise VspError(404, E_NO_SUCH_URL, f"The URL is not supported by the lab: {request.path}.",
                   "The lab serves sessions, storages, jobs, pools, ldevs, local-clone-copygroups, "
                   "local-clone-copypairs, snapshots, snapshot-groups and services/resource-group-service.",
                   "Check the URL.")


def build_app(array: Vsp) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        try:
            return await route(array, request)
        except VspError as exc:
            return reply(exc.body(request.path), exc.status, exc.headers)

    app = web.Application()
    app.router.add_route("*", "/ConfigurationManager/{tail:.*}", handle)
    app.router.add_route("*", "/{tail:.*}", elsewhere)
    return app


async def elsewhere(request: web.Request) -> web.Response:
    exc = VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                   "The REST API lives under /ConfigurationManager/.", "Check the URL.")
    return reply(exc.body(request.path), exc.status)
