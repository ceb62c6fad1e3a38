"""The control API (``http://127.0.0.1:<port>/_lab``): the world under the arrays.

Liveness and endpoints, arrays down and up, injected faults, vendor settings,
host writes to volumes, links, transfers, the request log and the lab clock;
one function per resource below. The README's "Control API" table lists every call.
"""

from __future__ import annotations

import json
import typing as t

from aiohttp import web

from .fabric import parse_size
from .faults import is_claim
from .simulators import SIMULATORS

if t.TYPE_CHECKING:  # pragma: no cover
    from .array import ArrayBase
    from .server import Lab


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> dict[str, t.Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": f"body is not JSON: {exc}"}),
                                 content_type="application/json") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "body must be a JSON object"}),
                                 content_type="application/json")
    return data


def _number(value: t.Any, name: str, kind: t.Callable[[t.Any], t.Any] = float, minimum: float | None = None) -> t.Any:
    """``value`` as a number, or a 400 answer naming ``name``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or (minimum is not None and number < minimum):
        more = f" of at least {minimum:g}" if minimum is not None else ""
        raise web.HTTPBadRequest(text=json.dumps({"error": f"{name} must be a number{more}, not {value!r}"}),
                                 content_type="application/json")
    return number


def array_of(lab: Lab, request: web.Request) -> ArrayBase:
    name = request.match_info["array"]
    if name not in lab.arrays:
        raise web.HTTPNotFound(text=json.dumps({"error": f"no array named {name}"}),
                               content_type="application/json")
    return lab.arrays[name]


def volume_of(lab: Lab, request: web.Request):  # type: ignore[no-untyped-def]
    array = array_of(lab, request)
    key = request.match_info["volume"]
    vol = array.lab_volumes().get(key)
    if vol is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"array {array.name} has no volume {key}"}),
                               content_type="application/json")
    return vol


def _lab_routes(routes: web.RouteTableDef, lab: Lab) -> None:
    """Liveness, endpoints and the simulator table."""

    @routes.get("/_lab/health")
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "arrays": {n: a.up for n, a in lab.arrays.items()}})

    @routes.get("/_lab/endpoints")
    async def endpoints(_request: web.Request) -> web.Response:
        return web.json_response(lab.endpoints())

    @routes.get("/_lab/vendors")
    async def vendors(_request: web.Request) -> web.Response:
        return web.json_response({name: sim.describe() for name, sim in SIMULATORS.items()})


def _array_routes(routes: web.RouteTableDef, lab: Lab) -> None:
    """Arrays: their state, outages and returns."""

    @routes.get("/_lab/arrays")
    async def arrays(_request: web.Request) -> web.Response:
        return web.json_response({n: a.describe() for n, a in lab.arrays.items()})

    @routes.get("/_lab/arrays/{array}")
    async def array_get(request: web.Request) -> web.Response:
        return web.json_response(array_of(lab, request).describe())

    @routes.post("/_lab/arrays/{array}/down")
    async def array_down(request: web.Request) -> web.Response:
        array = array_of(lab, request)
        body = await _json(request)
        duration = _number(body["duration"], "duration", minimum=0) if body.get("duration") is not None else None
        await array.go_down()
        outage = array.outage = object()  # a later down or up call makes this outage's timer moot
        if duration:
            lab.schedule(duration, lambda: array.go_up() if array.outage is outage else None)
        return web.json_response(array.describe())

    @routes.post("/_lab/arrays/{array}/up")
    async def array_up(request: web.Request) -> web.Response:
        array = array_of(lab, request)
        array.outage = None
        await array.go_up()
        return web.json_response(array.describe())


def _fault_routes(routes: web.RouteTableDef, lab: Lab) -> None:
    """Injected faults (per array or for all of them) and vendor settings."""

    @routes.route("PUT", "/_lab/arrays/{array}/faults")
    @routes.post("/_lab/arrays/{array}/faults")
    async def faults_set(request: web.Request) -> web.Response:
        array = array_of(lab, request)
        try:
            array.faults.update(await _json(request))
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response(array.faults.describe())

    @routes.delete("/_lab/arrays/{array}/faults")
    async def faults_clear(request: web.Request) -> web.Response:
        array = array_of(lab, request)
        array.faults.clear()
        return web.json_response(array.faults.describe())

    @routes.post("/_lab/faults")
    async def faults_all(request: web.Request) -> web.Response:
        body = await _json(request)
        try:
            for array in lab.arrays.values():
                array.faults.update(dict(body))
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response({n: a.faults.describe() for n, a in lab.arrays.items()})

    @routes.delete("/_lab/faults")
    async def faults_all_clear(_request: web.Request) -> web.Response:
        for array in lab.arrays.values():
            array.faults.clear()
        return web.json_response({"cleared": sorted(lab.arrays)})

    @routes.route("PATCH", "/_lab/arrays/{array}/settings")
    async def settings(request: web.Request) -> web.Response:
        array = array_of(lab, request)
        try:
            return web.json_response(array.settings(await _json(request)))
        except ValueError as exc:
            return _error(400, str(exc))


def _volume_routes(routes: web.RouteTableDef, lab: Lab) -> None:
    """Lab volumes: state, digests and host writes."""

    @routes.get("/_lab/arrays/{array}/volumes")
    async def volumes(request: web.Request) -> web.Response:
        lab.fabric.advance()
        return web.json_response({k: v.describe() for k, v in array_of(lab, request).lab_volumes().items()})

    @routes.get("/_lab/arrays/{array}/volumes/{volume}")
    async def volume_get(request: web.Request) -> web.Response:
        lab.fabric.advance()
        return web.json_response(volume_of(lab, request).describe())

    @routes.post("/_lab/arrays/{array}/volumes/{volume}/write")
    async def volume_write(request: web.Request) -> web.Response:
        lab.fabric.advance()
        vol = volume_of(lab, request)
        body = await _json(request)
        if not array_of(lab, request).up:
            return _error(409, f"array {vol.array} is down: hosts cannot write to it")
        if vol.host_access != "rw" and not body.get("force"):
            return _error(409, f"volume {vol.key} on {vol.array} is not writable by hosts "
                               f"(host access: {vol.host_access})")
        try:
            written = vol.write(int(body.get("blocks", 1)), body.get("offset"), lab.fabric.rng)
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response({"written": written, "digest": vol.digest()})


def _fabric_routes(routes: web.RouteTableDef, lab: Lab) -> None:
    """Replication links and the transfers on them."""

    @routes.get("/_lab/links")
    async def links(_request: web.Request) -> web.Response:
        return web.json_response([link.describe() for link in lab.fabric.links.values()])

    @routes.route("PATCH", "/_lab/links/{a}/{b}")
    async def link_patch(request: web.Request) -> web.Response:
        a, b = request.match_info["a"], request.match_info["b"]
        for name in (a, b):
            if name not in lab.arrays:
                return _error(404, f"no array named {name}")
        body = await _json(request)
        sizes = {}
        for key in ("bandwidth", "per_transfer_rate"):
            if key in body:
                try:
                    sizes[key] = parse_size(body[key])
                except ValueError as exc:
                    return _error(400, f"{key}: {exc}")
                if sizes[key] <= 0:
                    return _error(400, f"{key} must be more than 0")
        link = lab.fabric.link(a, b)
        lab.fabric.advance()
        for key, value in sizes.items():
            setattr(link, key, value)
        if "cut" in body:
            link.cut = bool(body["cut"])
        lab.fabric.advance()
        return web.json_response(link.describe())

    @routes.get("/_lab/transfers")
    async def transfers(request: web.Request) -> web.Response:
        lab.fabric.advance()
        since = _number(request.query.get("since_id", 0), "since_id", int)
        done = [tr.describe() for tr in lab.fabric.history if tr.id > since]
        return web.json_response({"active": [tr.describe() for tr in lab.fabric.active], "finished": done})


def _log_routes(routes: web.RouteTableDef, lab: Lab) -> None:
    """The request log and the lab clock."""

    @routes.get("/_lab/log")
    async def log_get(request: web.Request) -> web.Response:
        query = request.query
        mutating = query.get("mutating")
        entries = lab.log.select(
            array=query.get("array"),
            mutating=None if mutating is None else mutating.lower() in ("1", "true", "yes"),
            since=_number(query.get("since", 0), "since", int),
        )
        if query.get("claims", "true").lower() in ("0", "false", "no"):
            entries = [e for e in entries if not is_claim(e)]
        return web.json_response({"entries": entries, "count": len(entries), "last_seq": lab.log.seq})

    @routes.delete("/_lab/log")
    async def log_reset(_request: web.Request) -> web.Response:
        lab.log.reset()
        return web.json_response({"reset": True, "last_seq": lab.log.seq})

    @routes.get("/_lab/clock")
    async def clock_get(_request: web.Request) -> web.Response:
        return web.json_response({"now": lab.clock.now(), "offset": lab.clock.offset})

    @routes.post("/_lab/clock")
    async def clock_advance(request: web.Request) -> web.Response:
        body = await _json(request)
        seconds = _number(body.get("advance", 0), "advance", minimum=0)  # the clock never goes back
        lab.fabric.advance()
        lab.clock.advance(seconds)
        lab.fabric.advance()
        return web.json_response({"now": lab.clock.now(), "offset": lab.clock.offset})


def add_control_routes(app: web.Application, lab: Lab) -> None:
    routes = web.RouteTableDef()
    for add in (_lab_routes, _array_routes, _fault_routes, _volume_routes, _fabric_routes, _log_routes):
        add(routes, lab)
    app.add_routes(routes)
