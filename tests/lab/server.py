"""The lab process: arrays on their own ports, the fabric, faults and the control API."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import logging
import os
import random
import secrets
import typing as t

from aiohttp import web

from . import tls
from .fabric import Clock, Fabric, parse_size
from .topology import Topology

LOG = logging.getLogger("lab")
HOST = "127.0.0.1"
SECRET_WORDS = ("password", "passphrase", "secret", "token", "credential")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def redact(value: t.Any) -> t.Any:
    """A copy of a request body with every secret-looking value replaced."""
    if isinstance(value, dict):
        return {k: ("********" if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class Faults:
    """What the lab does wrong on purpose for one array."""

    FIELDS = ("latency_ms", "jitter_ms", "error_rate", "error_count", "error_status", "drop_rate",
              "drop_count", "drop_when", "fail_jobs", "fail_job_message", "fail_job_code",
              "only_mutating", "seed")

    def __init__(self) -> None:
        self.rng = random.Random()
        self.clear()

    def clear(self) -> None:
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.error_rate = 0.0
        self.error_count = 0
        self.error_status = 503
        self.drop_rate = 0.0
        self.drop_count = 0
        self.drop_when = "before"
        self.fail_jobs = 0
        self.fail_job_message = "Injected job failure"
        self.fail_job_code = ""
        self.only_mutating = False
        self.seed = None

    NUMBERS = {"latency_ms": float, "jitter_ms": float, "error_rate": float, "error_count": int,
               "error_status": int, "drop_rate": float, "drop_count": int, "fail_jobs": int}

    def update(self, values: dict[str, t.Any]) -> None:
        """Apply ``values`` (all of them or, when one is invalid, none)."""
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        checked = dict(values)
        for key, kind in self.NUMBERS.items():
            if key in checked:
                try:
                    if isinstance(checked[key], bool):
                        raise TypeError
                    checked[key] = kind(checked[key])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"fault setting {key} must be a number, not {checked[key]!r}") from exc
        if "only_mutating" in checked:
            checked["only_mutating"] = bool(checked["only_mutating"])
        if checked.get("drop_when", self.drop_when) not in ("before", "after"):
            raise ValueError("drop_when must be 'before' or 'after'")
        for key, value in checked.items():
            setattr(self, key, value)
        if checked.get("seed") is not None:
            self.rng.seed(checked["seed"])

    def describe(self) -> dict[str, t.Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    def delay(self) -> float:
        if not self.latency_ms and not self.jitter_ms:
            return 0.0
        return max(0.0, self.latency_ms + self.rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000.0

    def _take(self, count_attr: str, rate: float) -> bool:
        if getattr(self, count_attr) > 0:
            setattr(self, count_attr, getattr(self, count_attr) - 1)
            return True
        return bool(rate) and self.rng.random() < rate

    def take_error(self) -> bool:
        return self._take("error_count", self.error_rate)

    def take_drop(self) -> bool:
        return self._take("drop_count", self.drop_rate)

    def take_job_failure(self) -> tuple[str, str] | None:
        """A (message, code) to fail the next job with, when one is due."""
        if self.fail_jobs > 0:
            self.fail_jobs -= 1
            return self.fail_job_message, str(self.fail_job_code)
        return None


class RequestLog:
    """Every request the arrays served, mutating ones flagged, bodies redacted."""

    def __init__(self, limit: int = 500000) -> None:
        self.entries: list[dict[str, t.Any]] = []
        self.limit = limit
        self.seq = 0

    def add(self, entry: dict[str, t.Any]) -> None:
        self.seq += 1
        entry["seq"] = self.seq
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            del self.entries[: len(self.entries) - self.limit]

    def select(self, array: str | None = None, mutating: bool | None = None,
               since: int = 0) -> list[dict[str, t.Any]]:
        return [e for e in self.entries
                if e["seq"] > since
                and (array is None or e["array"] == array)
                and (mutating is None or e["mutating"] == mutating)]

    def reset(self) -> None:
        self.entries.clear()


class ArrayBase:
    """What every simulated array has; vendors fill in the protocol."""

    vendor = ""

    def __init__(self, lab: Lab, name: str, spec: dict[str, t.Any]) -> None:
        self.lab = lab
        self.name = name
        self.spec = spec
        self.username = str(spec.get("username", "admin"))
        self.password = str(spec.get("password") or secrets.token_urlsafe(12))
        self.port = int(spec.get("port", 0))
        self.up = True
        self.outage: object | None = None  # the control API's current outage, for its timed end
        self.faults = Faults()
        self.faults.update(dict(spec.get("faults") or {}))
        self.connections: set[asyncio.BaseTransport] = set()
        self.server: asyncio.AbstractServer | None = None
        self.runner: web.AppRunner | None = None
        self.auth_header = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    @property
    def fabric(self) -> Fabric:
        return self.lab.fabric

    @property
    def clock(self) -> Clock:
        return self.lab.clock

    @property
    def scheme(self) -> str:
        return "https"

    # vendor hooks --------------------------------------------------------------
    def build_app(self) -> web.Application:
        raise NotImplementedError

    def post_init(self) -> None:
        """Called once every array of the topology exists (for peering)."""

    def is_mutating(self, request: web.Request, body: bytes) -> bool:
        return request.method not in READ_METHODS

    def log_details(self, request: web.Request, body: bytes) -> dict[str, t.Any]:
        if not body:
            return {}
        try:
            return {"body": redact(json.loads(body))}
        except ValueError:
            return {"body_bytes": len(body)}

    def fault_response(self, status: int) -> web.StreamResponse:
        return web.json_response({"error": {"message": "Service temporarily unavailable (injected)",
                                            "code": str(status)}}, status=status)

    def endpoint_extra(self) -> dict[str, t.Any]:
        return {}

    def lab_volumes(self) -> dict[str, t.Any]:
        """Lab volumes of this array by their control-API key."""
        return {vol.key: vol for (array, _key), vol in self.fabric.volumes.items() if array == self.name}

    def settings(self, values: dict[str, t.Any]) -> dict[str, t.Any]:
        if values:
            raise ValueError(f"{self.vendor} arrays take no settings: {', '.join(sorted(values))}")
        return {}

    def describe(self) -> dict[str, t.Any]:
        return {"name": self.name, "vendor": self.vendor, "up": self.up, "port": self.port,
                "faults": self.faults.describe()}

    # serving ---------------------------------------------------------------------
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self.port}"

    def endpoint(self) -> dict[str, t.Any]:
        data = {
            "vendor": self.vendor,
            "url": self.url(),
            "username": self.username,
            "password": self.password,
            "ca_file": self.lab.certs["ca.pem"],
            "control_url": f"{self.lab.control_url()}/arrays/{self.name}",
        }
        data.update(self.endpoint_extra())
        return data

    def ssl_context(self):  # type: ignore[no-untyped-def]
        return self.lab.ssl_context

    async def start(self) -> None:
        app = self.build_app()
        app.middlewares.insert(0, self._middleware)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.runner is not None and self.runner.server is not None
        self.server = await loop.create_server(self.runner.server, HOST, self.port,
                                               ssl=self.ssl_context(), reuse_address=True, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]

    async def go_down(self) -> None:
        self.up = False
        if self.server is not None:
            self.server.close()
            self.server = None
        for transport in list(self.connections):
            transport.abort()
        self.connections.clear()
        self.fabric.advance()

    async def go_up(self) -> None:
        if self.up:
            return
        self.up = True
        await self._listen()

    async def stop(self) -> None:
        await self.go_down()
        if self.runner is not None:
            await self.runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: t.Callable[..., t.Awaitable[web.StreamResponse]]):
        transport = request.transport
        if not self.up:
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError()
        if transport is not None:
            if len(self.connections) > 256:  # forget connections that have closed since
                self.connections = {tr for tr in self.connections if not tr.is_closing()}
            self.connections.add(transport)
        body = await request.read()
        mutating = self.is_mutating(request, body)
        entry: dict[str, t.Any] = {
            "time": self.clock.now(), "array": self.name, "vendor": self.vendor,
            "method": request.method, "path": request.path, "query": request.query_string,
            "mutating": mutating,
        }
        entry.update(self.log_details(request, body))
        faults = self.faults
        targeted = mutating or not faults.only_mutating
        delay = faults.delay() if targeted else 0.0
        if delay:
            await asyncio.sleep(delay)
        if not self.up:
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError()
        if targeted and faults.drop_when == "before" and faults.take_drop():
            entry["status"] = "dropped"
            self.lab.log.add(entry)
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError()
        if targeted and faults.take_error():
            entry["status"] = faults.error_status
            entry["injected"] = True
            self.lab.log.add(entry)
            return self.fault_response(int(faults.error_status))
        self.fabric.advance()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            entry["status"] = exc.status
            self.lab.log.add(entry)
            raise
        except Exception:
            entry["status"] = 500  # a simulator bug: aiohttp answers 500, the log says so
            self.lab.log.add(entry)
            raise
        entry["status"] = response.status
        if targeted and faults.drop_when == "after" and faults.take_drop():
            entry["status"] = "dropped-after"
            self.lab.log.add(entry)
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError()
        self.lab.log.add(entry)
        return response


def _vendor_module(vendor: str):  # type: ignore[no-untyped-def]
    if vendor not in ("ontap", "vsp", "smis"):
        raise ValueError(f"unknown vendor {vendor!r}")
    return importlib.import_module(f".{vendor}", __package__)


class Lab:
    """Everything one lab process serves."""

    def __init__(self, topology: Topology, state_dir: str) -> None:
        self.topology = topology
        self.state_dir = os.path.abspath(state_dir)
        self.clock = Clock()
        settings = topology.settings
        self.fabric = Fabric(
            self.clock,
            block_size=parse_size(settings.get("block_size", "64KiB")),
            default_bandwidth=parse_size(settings.get("bandwidth", "1GiB")),
            default_per_transfer_rate=parse_size(settings.get("per_transfer_rate", "256MiB")),
            local_bandwidth=parse_size(settings.get("local_bandwidth", "2GiB")),
            is_up=self._is_up,
        )
        self.log = RequestLog()
        self.arrays: dict[str, ArrayBase] = {}
        self.certs: dict[str, str] = {}
        self.ssl_context = None
        self.control_port = int(settings.get("control_port", 0))
        self._control_runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[t.Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    def _is_up(self, name: str) -> bool:
        array = self.arrays.get(name)
        return array is not None and array.up

    def control_url(self) -> str:
        return f"http://{HOST}:{self.control_port}/_lab"

    def build(self) -> None:
        for name, spec in self.topology.arrays.items():
            self.arrays[name] = _vendor_module(spec["vendor"]).create_array(self, name, spec)
        for link in self.topology.links:
            a, b = link["between"]
            fabric_link = self.fabric.link(a, b)
            if "bandwidth" in link:
                fabric_link.bandwidth = parse_size(link["bandwidth"])
            if "per_transfer_rate" in link:
                fabric_link.per_transfer_rate = parse_size(link["per_transfer_rate"])
        for array in self.arrays.values():
            array.post_init()

    async def start(self) -> None:
        self.certs = tls.make_certificates(os.path.join(self.state_dir, "tls"))
        self.ssl_context = tls.server_context(self.certs)
        self.build()
        control = web.Application()
        add_control_routes(control, self)
        self._control_runner = web.AppRunner(control, access_log=None, handle_signals=False)
        await self._control_runner.setup()
        site = web.TCPSite(self._control_runner, HOST, self.control_port, reuse_address=True)
        await site.start()
        self.control_port = site._server.sockets[0].getsockname()[1]  # pylint: disable=protected-access
        for array in self.arrays.values():
            await array.start()
        self._tasks.add(asyncio.create_task(self._tick()))

    async def _tick(self) -> None:
        interval = float(self.topology.settings.get("tick_seconds", 0.05))
        while True:
            await asyncio.sleep(interval)
            try:
                self.fabric.advance()
            except Exception:  # pylint: disable=broad-except
                LOG.exception("fabric tick failed")

    def schedule(self, delay: float, callback: t.Callable[[], t.Any]) -> None:
        """Run ``callback`` (a function or a coroutine function) after ``delay`` seconds."""
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def run() -> None:
            self._timers.discard(handle)  # type: ignore[arg-type]  # done timers are not kept
            result = callback()
            if asyncio.iscoroutine(result):
                task = loop.create_task(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        for array in self.arrays.values():
            await array.stop()
        if self._control_runner is not None:
            await self._control_runner.cleanup()

    def endpoints(self) -> dict[str, t.Any]:
        return {
            "arrays": {name: array.endpoint() for name, array in self.arrays.items()},
            "control_url": self.control_url(),
            "pid": os.getpid(),
            "topology": self.topology.path,
        }


# control API -------------------------------------------------------------------------
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


def add_control_routes(app: web.Application, lab: Lab) -> None:  # noqa: C901  (one table of routes)
    routes = web.RouteTableDef()

    def array_of(request: web.Request) -> ArrayBase:
        name = request.match_info["array"]
        if name not in lab.arrays:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no array named {name}"}),
                                   content_type="application/json")
        return lab.arrays[name]

    def volume_of(request: web.Request):  # type: ignore[no-untyped-def]
        array = array_of(request)
        key = request.match_info["volume"]
        vol = array.lab_volumes().get(key)
        if vol is None:
            raise web.HTTPNotFound(text=json.dumps({"error": f"array {array.name} has no volume {key}"}),
                                   content_type="application/json")
        return vol

    @routes.get("/_lab/health")
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "arrays": {n: a.up for n, a in lab.arrays.items()}})

    @routes.get("/_lab/endpoints")
    async def endpoints(_request: web.Request) -> web.Response:
        return web.json_response(lab.endpoints())

    @routes.get("/_lab/arrays")
    async def arrays(_request: web.Request) -> web.Response:
        return web.json_response({n: a.describe() for n, a in lab.arrays.items()})

    @routes.get("/_lab/arrays/{array}")
    async def array_get(request: web.Request) -> web.Response:
        return web.json_response(array_of(request).describe())

    @routes.post("/_lab/arrays/{array}/down")
    async def array_down(request: web.Request) -> web.Response:
        array = array_of(request)
        body = await _json(request)
        duration = _number(body["duration"], "duration", minimum=0) if body.get("duration") is not None else None
        await array.go_down()
        outage = array.outage = object()  # a later down or up call makes this outage's timer moot
        if duration:
            lab.schedule(duration, lambda: array.go_up() if array.outage is outage else None)
        return web.json_response(array.describe())

    @routes.post("/_lab/arrays/{array}/up")
    async def array_up(request: web.Request) -> web.Response:
        array = array_of(request)
        array.outage = None
        await array.go_up()
        return web.json_response(array.describe())

    @routes.route("PUT", "/_lab/arrays/{array}/faults")
    @routes.post("/_lab/arrays/{array}/faults")
    async def faults_set(request: web.Request) -> web.Response:
        array = array_of(request)
        try:
            array.faults.update(await _json(request))
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response(array.faults.describe())

    @routes.delete("/_lab/arrays/{array}/faults")
    async def faults_clear(request: web.Request) -> web.Response:
        array = array_of(request)
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
        array = array_of(request)
        try:
            return web.json_response(array.settings(await _json(request)))
        except ValueError as exc:
            return _error(400, str(exc))

    @routes.get("/_lab/arrays/{array}/volumes")
    async def volumes(request: web.Request) -> web.Response:
        lab.fabric.advance()
        return web.json_response({k: v.describe() for k, v in array_of(request).lab_volumes().items()})

    @routes.get("/_lab/arrays/{array}/volumes/{volume}")
    async def volume_get(request: web.Request) -> web.Response:
        lab.fabric.advance()
        return web.json_response(volume_of(request).describe())

    @routes.post("/_lab/arrays/{array}/volumes/{volume}/write")
    async def volume_write(request: web.Request) -> web.Response:
        lab.fabric.advance()
        vol = volume_of(request)
        body = await _json(request)
        if not array_of(request).up:
            return _error(409, f"array {vol.array} is down: hosts cannot write to it")
        if vol.host_access != "rw" and not body.get("force"):
            return _error(409, f"volume {vol.key} on {vol.array} is not writable by hosts "
                               f"(host access: {vol.host_access})")
        try:
            written = vol.write(int(body.get("blocks", 1)), body.get("offset"), lab.fabric.rng)
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response({"written": written, "digest": vol.digest()})

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

    @routes.get("/_lab/log")
    async def log_get(request: web.Request) -> web.Response:
        query = request.query
        mutating = query.get("mutating")
        entries = lab.log.select(
            array=query.get("array"),
            mutating=None if mutating is None else mutating.lower() in ("1", "true", "yes"),
            since=_number(query.get("since", 0), "since", int),
        )
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

    app.add_routes(routes)
