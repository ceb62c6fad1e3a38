"""HTTP routes of the ONTAP simulator: the REST paths, bodies and replies of the fact sheet.

One module per resource (``cluster`` with its nodes and schedules, ``jobs``, ``svm``,
``aggregates``, ``volumes``, ``snapshots``, ``policies``, ``exports``, ``snapmirror``, ``cli`` for the
CLI passthrough), each with a route table of module-level handlers that find their
cluster in ``request.app`` (``RESOURCES`` lists them: together they are the route table);
``common`` holds the replies and helpers they share. The app answers every
error in ONTAP's error shape (``guard``).
"""

from __future__ import annotations

import json
import logging
import typing as t

from aiohttp import web

from ..body import OntapError
from ..model import E_NOT_AVAILABLE
from ..query import QueryError
from . import aggregates, cli, cluster, exports, jobs, policies, snapmirror, snapshots, svm, volumes
from .common import CLUSTER, cluster_of, error_reply

if t.TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster

LOG = logging.getLogger("lab.ontap")
RESOURCES = (cluster, jobs, svm, aggregates, volumes, snapshots, policies, exports, snapmirror, cli)


@web.middleware
async def guard(request: web.Request, handler: t.Callable[..., t.Awaitable[web.StreamResponse]]):
    array = cluster_of(request)
    if request.headers.get("Authorization") != array.auth_header:
        return web.Response(text=json.dumps({"error": {"message": "not authorized for that command", "code": "6"}}),
                            status=401, content_type="application/hal+json",
                            headers={"WWW-Authenticate": 'Basic realm="ONTAP"'})
    try:
        return await handler(request)
    except OntapError as exc:
        return error_reply(request, exc)
    except QueryError as exc:
        return error_reply(request, OntapError(400, str(exc), exc.code, exc.target))
    except web.HTTPNotFound:
        return error_reply(request, OntapError(404, f'API not found: "{request.path}".', E_NOT_AVAILABLE))
    except web.HTTPMethodNotAllowed:
        return error_reply(request, OntapError(405, f"The method {request.method} is not allowed on "
                                                    f"{request.path}.", E_NOT_AVAILABLE))
    except Exception as exc:  # pylint: disable=broad-except
        # a simulator bug: answer in ONTAP's error shape (clients parse it) and leave the traceback in lab.log
        LOG.exception("%s %s %s failed", array.name, request.method, request.path_qs)
        return error_reply(request, OntapError(500, f"Internal error in the lab's ONTAP simulator: {exc!r}",
                                               E_NOT_AVAILABLE))


def build_app(array: Cluster) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[CLUSTER] = array
    for resource in RESOURCES:
        app.add_routes(resource.routes)
    return app
