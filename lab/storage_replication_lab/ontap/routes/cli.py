"""``/api/private/cli/...``: the CLI passthrough (the served show commands are in ``..cli``)."""

from __future__ import annotations

from aiohttp import web

from ..body import OntapError
from ..cli import command_of, refuse_change, show
from ..model import E_NOT_AVAILABLE
from .common import cluster_of, reply

routes = web.RouteTableDef()


@routes.route("*", "/api/private/cli/{command:.+}")
async def cli_passthrough(request: web.Request) -> web.Response:
    command = command_of(request.path)
    if command is None:
        # what a cluster answers for a command path it does not have
        raise OntapError(404, f'API not found: "{request.path}".', E_NOT_AVAILABLE)
    if request.method != "GET":
        raise refuse_change(request.method, command)
    return reply(request, show(cluster_of(request), command, request.query))
