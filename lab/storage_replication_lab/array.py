"""What every simulated array is: ``ArrayBase``, its vendor hooks and the middleware the lab wraps it in.

The middleware logs every request, applies injected latency / 5xx / dropped
connections / canned answers, refuses connections while the array is down, and
moves the fabric to now before the vendor's handler runs; on the way out it
makes error answers echo the request's headers and points links at another
origin when the faults say so.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import typing as t

from aiohttp import web

from .faults import Faults, canned_body, headers_text

if t.TYPE_CHECKING:  # pragma: no cover
    from .fabric import Clock, Fabric
    from .server import Lab

HOST = "127.0.0.1"
SECRET_WORDS = ("password", "passphrase", "secret", "token", "credential")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _append_to_messages(value: t.Any, suffix: str) -> bool:
    """Append ``suffix`` to every ``message`` string in a JSON value; whether there was one."""
    found = False
    if isinstance(value, dict):
        for key, sub in value.items():
            if key == "message" and isinstance(sub, str):
                value[key] = sub + suffix
                found = True
            else:
                found = _append_to_messages(sub, suffix) or found
    elif isinstance(value, list):
        for sub in value:
            found = _append_to_messages(sub, suffix) or found
    return found


def _absolute_links(value: t.Any, origin: str) -> t.Any:
    """A JSON value with every ``href`` that is a path made a URL on ``origin``."""
    if isinstance(value, dict):
        return {k: (origin + v if k == "href" and isinstance(v, str) and v.startswith("/")
                    else _absolute_links(v, origin)) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_links(v, origin) for v in value]
    return value


def _json_body(response: web.StreamResponse) -> t.Any:
    """The decoded JSON body of a response, or None when it has none."""
    body = getattr(response, "body", None)
    if not isinstance(body, (bytes, bytearray)) or not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def redact(value: t.Any) -> t.Any:
    """A copy of a request body with every secret-looking value replaced."""
    if isinstance(value, dict):
        return {k: ("********" if any(w in str(k).lower() for w in SECRET_WORDS) else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


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

    def echo_request(self, response: web.StreamResponse, headers: str) -> None:
        """Make an error answer carry the request's ``headers``, as an array whose error pages echo the
        request does (fault ``echo_headers``): appended to every ``message`` of a JSON body, else to the text."""
        if response.status < 400 or not isinstance(getattr(response, "body", None), (bytes, bytearray)):
            return
        suffix = f" (request headers: {headers})"
        data = _json_body(response)
        if data is None:
            response.body = bytes(response.body) + suffix.encode()  # type: ignore[attr-defined]
        elif _append_to_messages(data, suffix):
            response.body = json.dumps(data).encode()  # type: ignore[attr-defined]

    def endpoint_extra(self) -> dict[str, t.Any]:
        return {}

    def route_path(self, path: str) -> str:
        """The path (raw, percent-encoded) a request is routed and logged by: by default the one sent; a
        vendor whose arrays accept other spellings of a path (``/api//cluster/``) returns the canonical one."""
        return path

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
        assert self.runner.server is not None
        self.runner.server.request_factory = self._routed_requests(self.runner.server.request_factory)
        await self._listen()

    def _routed_requests(self, make_request: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """aiohttp's request factory, with each request's path replaced by ``route_path`` before routing."""

        def make(message: t.Any, *args: t.Any) -> t.Any:
            raw = message.url.raw_path
            routed = self.route_path(raw)
            if routed != raw:
                url = message.url.with_path(routed, encoded=True, keep_query=True, keep_fragment=True)
                message = message._replace(url=url, path=str(url))  # a RawRequestMessage (a namedtuple)
            return make_request(message, *args)

        return make

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
        targeted = (mutating or not faults.only_mutating) and \
            not faults.spared(f"{request.method} {request.path} {entry.get('cim_method') or ''}")
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
        injected = self._injected(request, targeted)
        if injected is not None:
            entry["status"] = injected.status
            entry["injected"] = True
            self.lab.log.add(entry)
            return self._dressed(request, injected)
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
        return self._dressed(request, response)

    def _injected(self, request: web.Request, targeted: bool) -> web.StreamResponse | None:
        """The canned answer (``answer_*``) or injected error this request gets instead of the array's, if any."""
        faults = self.faults
        if faults.take_answer(request.method, request.path):
            response = web.Response(status=faults.answer_status, headers=dict(faults.answer_headers),
                                    body=canned_body(faults.answer_body, faults.answer_type, request.headers).encode())
            if faults.answer_type:
                response.content_type = faults.answer_type
            return response
        if targeted and faults.take_error():
            return self.fault_response(int(faults.error_status))
        return None

    def _dressed(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """The answer as the faults want it to leave: echoing the request's headers, links on another origin."""
        faults = self.faults
        if faults.echo_headers:
            self.echo_request(response, headers_text(request.headers))
        if faults.link_origin:
            data = _json_body(response)
            if data is not None:
                response.body = json.dumps(_absolute_links(data, faults.link_origin)).encode()  # type: ignore[attr-defined]
        return response
