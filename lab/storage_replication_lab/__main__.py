"""Command line of the lab: ``storage-replication-lab {up,down,status,serve,vendors}``.

The same program runs as ``python -m storage_replication_lab``. ``up`` starts the
lab in the background (once: a running lab is left alone) and returns when
``<dir>/endpoints.json`` is written; ``down`` stops it and succeeds when nothing
runs; ``status`` lists the running lab's arrays; ``serve`` runs it in the
foreground; ``vendors`` lists the simulators a topology can use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from .server import Lab
from .simulators import SIMULATORS
from .topology import DEFAULT, Topology

ENDPOINTS = "endpoints.json"
PIDFILE = "lab.pid"
PACKAGE = __package__ or "storage_replication_lab"
PROGRAM = "storage-replication-lab"  # the console script; ``python -m storage_replication_lab`` is the same


def _serves(pid: int, state_dir: str) -> bool:
    """Whether ``pid`` is a lab serving ``state_dir`` (a stale pid file may name any process by now)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = [arg.decode("utf-8", "replace") for arg in handle.read().split(b"\0")]
    except FileNotFoundError:
        return not os.path.isdir("/proc")  # no /proc: trust the pid file
    except OSError:
        return True
    if "serve" not in argv or not any(os.path.basename(arg) in (PACKAGE, PROGRAM) for arg in argv):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = "/"
    dirs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--dir"]
    dirs += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--dir=")]
    return not dirs or any(os.path.abspath(os.path.join(cwd, d)) == state_dir for d in dirs)


def _pid(state_dir: str) -> int | None:
    try:
        with open(os.path.join(state_dir, PIDFILE), encoding="utf-8") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid if _serves(pid, state_dir) else None


# the health check goes to loopback: never through a proxy from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(state_dir: str) -> bool:
    try:
        with open(os.path.join(state_dir, ENDPOINTS), encoding="utf-8") as handle:
            control = json.load(handle)["control_url"]
        with _OPENER.open(control + "/health", timeout=2) as reply:  # noqa: S310 (loopback)
            return json.load(reply).get("ok") is True
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return False


def _write_json(path: str, data: object) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


async def _serve(topology_path: str, state_dir: str) -> None:
    lab = Lab(Topology.load(topology_path), state_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await lab.start()
    _write_json(os.path.join(state_dir, ENDPOINTS), lab.endpoints())
    print(f"lab serving {', '.join(sorted(lab.arrays))}; control at {lab.control_url()}", flush=True)
    await stop.wait()
    await lab.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, PIDFILE), "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(_serve(args.topology, args.dir))
    finally:
        for name in (ENDPOINTS, PIDFILE):
            try:
                os.unlink(os.path.join(args.dir, name))
            except FileNotFoundError:
                pass
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    os.makedirs(args.dir, exist_ok=True)
    pid = _pid(args.dir)
    if pid is not None and _healthy(args.dir):
        print(f"lab already running (pid {pid}); endpoints in {os.path.join(args.dir, ENDPOINTS)}")
        return 0
    if pid is not None:
        cmd_down(args)
    try:
        os.unlink(os.path.join(args.dir, ENDPOINTS))
    except FileNotFoundError:
        pass
    with open(os.path.join(args.dir, "lab.log"), "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", PACKAGE, "serve", "--topology", args.topology, "--dir", args.dir],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"lab exited with status {proc.returncode}; see {os.path.join(args.dir, 'lab.log')}",
                  file=sys.stderr)
            return 1
        if _healthy(args.dir):
            print(f"lab running (pid {proc.pid}); endpoints in {os.path.join(args.dir, ENDPOINTS)}")
            return 0
        time.sleep(0.1)
    print(f"lab did not come up within {args.timeout}s; see {os.path.join(args.dir, 'lab.log')}", file=sys.stderr)
    proc.terminate()
    return 1


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def cmd_down(args: argparse.Namespace) -> int:
    """Stop the lab and return once its process is gone (its ports are free then)."""
    pid = _pid(args.dir)
    if pid is None:
        print("lab not running")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not _wait_gone(pid, 10):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5)
    for name in (ENDPOINTS, PIDFILE):
        try:
            os.unlink(os.path.join(args.dir, name))
        except FileNotFoundError:
            pass
    print(f"lab stopped (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    pid = _pid(args.dir)
    if pid is None or not _healthy(args.dir):
        print("lab not running")
        return 1
    with open(os.path.join(args.dir, ENDPOINTS), encoding="utf-8") as handle:
        data = json.load(handle)
    width = max(6, *(len(vendor) + 1 for vendor in SIMULATORS))
    for name, info in sorted(data["arrays"].items()):
        print(f"{name:12} {info['vendor']:{width}} {info['url']}")
    return 0


def cmd_vendors(_args: argparse.Namespace) -> int:
    """The simulators a topology's ``vendor:`` can name, with their default settings."""
    for vendor, sim in SIMULATORS.items():
        print(f"{vendor:8} {sim.protocol}")
        if sim.settings:
            print(" " * 9 + "settings: " + ", ".join(f"{k}={v!r}" for k, v in sim.settings.items()))
    return 0


def _options(parser: argparse.ArgumentParser, suffix: str = "") -> None:
    parser.add_argument("--dir", dest="dir" + suffix, metavar="DIR", help="state directory (default: $LAB_DIR or .lab)")
    parser.add_argument("--topology", dest="topology" + suffix, metavar="FILE",
                        help="topology file (default: $LAB_TOPOLOGY or the default topology)")
    parser.add_argument("--timeout", dest="timeout" + suffix, metavar="SECONDS", type=float,
                        help="seconds to wait (default: 60)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # the options are taken before the command too (``storage-replication-lab --dir .lab up``, as the Makefile has it)
    _options(parser, "_before")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("serve", cmd_serve), ("up", cmd_up), ("down", cmd_down), ("status", cmd_status),
                       ("vendors", cmd_vendors)):
        one = sub.add_parser(name)
        _options(one)
        one.set_defaults(func=func)
    args = parser.parse_args(argv)
    args.dir = os.path.abspath(args.dir or args.dir_before or os.environ.get("LAB_DIR") or ".lab")
    args.topology = os.path.abspath(args.topology or args.topology_before or os.environ.get("LAB_TOPOLOGY") or DEFAULT)
    args.timeout = args.timeout or args.timeout_before or 60.0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
