"""The lab process: arrays on their own ports, the fabric, the request log and the control API.

``Lab`` builds every array of a topology through the simulator table
(``simulators.py``), links them on one fabric and serves the control API
(``control.py``) on a port of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import typing as t

from aiohttp import web

from . import tls
from .array import HOST, READ_METHODS, ArrayBase, redact
from .control import add_control_routes
from .fabric import Clock, Fabric, parse_size
from .faults import Faults, RequestLog
from .simulators import simulator
from .topology import Topology

__all__ = ["HOST", "READ_METHODS", "ArrayBase", "Faults", "Lab", "RequestLog", "redact"]

LOG = logging.getLogger("lab")


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
            self.arrays[name] = simulator(spec["vendor"]).create(self, name, spec)
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
