"""The replication fabric shared by every simulated array.

Volumes hold blocks (index -> content token) and point-in-time snapshots; a
digest over the blocks makes "nothing was lost" checkable. Transfers move the
blocks that differ between two images over a link whose bandwidth is shared by
the transfers on it, each capped by the link's per-transfer rate and the
transfer's own throttle. Everything runs on the lab's event loop, so no locks.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import random
import re
import time
import typing as t

_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?i?B?)?\s*(?:/s)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
          "p": 1000**5, "pb": 1000**5, "pib": 1024**5}


def parse_size(value: t.Any) -> int:
    """Turn 4096, "4KiB", "1.5 GiB" or "64MiB/s" into a number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r}")
    unit = (match.group(2) or "").lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown size unit in {value!r}")
    return int(float(match.group(1)) * _UNITS[unit])


class Clock:
    """Wall clock of the lab; tests may move it forward to age snapshots."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += float(seconds)


def _digest(blocks: dict[int, str]) -> str:
    sha = hashlib.sha256()
    for index in sorted(blocks):
        sha.update(f"{index}:{blocks[index]};".encode())
    return sha.hexdigest()


class Snapshot:
    """A frozen image of a volume's blocks."""

    def __init__(self, name: str, blocks: dict[int, str], create_time: float) -> None:
        self.name = name
        self.blocks = dict(blocks)
        self.create_time = create_time
        self._digest: str | None = None

    def digest(self) -> str:
        if self._digest is None:
            self._digest = _digest(self.blocks)
        return self._digest


class Volume:
    """A lab volume: sparse blocks with content tokens, plus snapshots.

    ``host_access`` is what a host may do with it ("rw", "ro" or "none"); the
    vendor simulator keeps it in line with the array's rules (an ONTAP DP volume
    is read-only, a ShadowImage P-VOL under restore is not accessible).
    """

    _tokens = itertools.count(1)

    def __init__(self, array: str, key: str, size: int, block_size: int) -> None:
        self.array = array
        self.key = key
        self.size = int(size)
        self.block_size = int(block_size)
        self.blocks: dict[int, str] = {}
        self.snapshots: dict[str, Snapshot] = {}
        self.host_access = "rw"
        self.writes = 0
        self.listeners: list[t.Callable[[Volume, list[int]], None]] = []
        self._digest: str | None = None

    @property
    def nblocks(self) -> int:
        return max(1, self.size // self.block_size)

    @property
    def used(self) -> int:
        return len(self.blocks) * self.block_size

    def _changed(self) -> None:
        self._digest = None

    def write(self, count: int, offset: int | None = None, rng: random.Random | None = None) -> list[int]:
        """Write ``count`` blocks with new content; distinct blocks, from ``offset`` or at random."""
        count = int(count)
        if count < 0 or count > self.nblocks:
            raise ValueError(f"cannot write {count} blocks to a volume of {self.nblocks} blocks")
        if offset is None:
            indices = sorted((rng or random).sample(range(self.nblocks), count))
        else:
            if offset < 0 or offset + count > self.nblocks:
                raise ValueError(f"blocks {offset}..{offset + count - 1} are outside the volume")
            indices = list(range(offset, offset + count))
        for index in indices:
            self.blocks[index] = f"{self.array}/{self.key}#{next(self._tokens)}"
        self.writes += 1
        self._changed()
        for listener in list(self.listeners):
            listener(self, indices)
        return indices

    def set_blocks(self, blocks: dict[int, str]) -> None:
        self.blocks = dict(blocks)
        self._changed()

    def apply(self, changed: dict[int, str]) -> None:
        self.blocks.update(changed)
        self._changed()

    def digest(self) -> str:
        if self._digest is None:
            self._digest = _digest(self.blocks)
        return self._digest

    def take_snapshot(self, name: str, create_time: float) -> Snapshot:
        snap = Snapshot(name, self.blocks, create_time)
        self.snapshots[name] = snap
        return snap

    def rollback(self, name: str) -> None:
        self.set_blocks(self.snapshots[name].blocks)

    def delta_bytes(self, older: dict[int, str], newer: dict[int, str] | None = None) -> int:
        """Bytes that differ between ``older`` and ``newer`` (default: the active image)."""
        return len(diff_blocks(older, self.blocks if newer is None else newer)) * self.block_size

    def describe(self) -> dict[str, t.Any]:
        return {
            "array": self.array,
            "key": self.key,
            "size": self.size,
            "block_size": self.block_size,
            "blocks_written": len(self.blocks),
            "host_access": self.host_access,
            "digest": self.digest(),
            "snapshots": {name: {"digest": s.digest(), "create_time": s.create_time}
                          for name, s in self.snapshots.items()},
        }


def diff_blocks(base: dict[int, str] | None, image: dict[int, str]) -> dict[int, str]:
    """The blocks of ``image`` that a copy of ``base`` lacks (all of them without a base)."""
    if not base:
        return dict(image)
    return {index: token for index, token in image.items() if base.get(index) != token}


class Link:
    """A replication link between two arrays (or an array's internal copy path)."""

    def __init__(self, a: str, b: str, bandwidth: int, per_transfer_rate: int) -> None:
        self.ends = tuple(sorted((a, b)))
        self.bandwidth = int(bandwidth)
        self.per_transfer_rate = int(per_transfer_rate)
        self.cut = False

    def describe(self) -> dict[str, t.Any]:
        return {"ends": list(self.ends), "bandwidth": self.bandwidth,
                "per_transfer_rate": self.per_transfer_rate, "cut": self.cut}


class TransferFailed(Exception):
    pass


class Transfer:
    """Blocks on their way from a source image to a destination volume."""

    _ids = itertools.count(1)

    def __init__(self, fabric: Fabric, kind: str, source: tuple[str, str], dst: Volume,
                 changed: dict[int, str], link: Link, rate_cap: int | None,
                 on_done: t.Callable[[Transfer], None] | None,
                 on_fail: t.Callable[[Transfer], None] | None,
                 skip_bytes: int = 0) -> None:
        self.id = next(self._ids)
        self.fabric = fabric
        self.kind = kind
        self.source = source
        self.dst = dst
        self.changed = changed
        self.link = link
        self.rate_cap = rate_cap or None
        self.on_done = on_done
        self.on_fail = on_fail
        self.bytes_total = len(changed) * dst.block_size
        self.bytes_done = float(min(skip_bytes, self.bytes_total))
        self.state = "running"
        self.error = ""
        self.started = fabric.clock.now()
        self.ended: float | None = None

    @property
    def progress(self) -> int:
        if self.bytes_total == 0:
            return 100 if self.state == "success" else 0
        return int(100 * self.bytes_done // self.bytes_total)

    def rate(self, sharing: int) -> float:
        rate = min(float(self.link.per_transfer_rate), self.link.bandwidth / max(1, sharing))
        if self.rate_cap:
            rate = min(rate, float(self.rate_cap))
        return max(rate, 1.0)

    def describe(self) -> dict[str, t.Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "source": f"{self.source[0]}:{self.source[1]}",
            "destination": f"{self.dst.array}:{self.dst.key}",
            "blocks": len(self.changed),
            "bytes_total": self.bytes_total,
            "bytes_done": int(self.bytes_done),
            "state": self.state,
            "error": self.error,
            "started": self.started,
            "ended": self.ended,
        }


class Fabric:
    """All volumes, links and running transfers of the lab."""

    def __init__(self, clock: Clock, block_size: int, default_bandwidth: int,
                 default_per_transfer_rate: int, local_bandwidth: int,
                 is_up: t.Callable[[str], bool]) -> None:
        self.clock = clock
        self.block_size = block_size
        self.default_bandwidth = default_bandwidth
        self.default_per_transfer_rate = default_per_transfer_rate
        self.local_bandwidth = local_bandwidth
        self.is_up = is_up
        self.links: dict[tuple[str, ...], Link] = {}
        self.volumes: dict[tuple[str, str], Volume] = {}
        self.active: list[Transfer] = []
        self.history: collections.deque[Transfer] = collections.deque(maxlen=20000)
        self.hooks: list[t.Callable[[float], None]] = []
        self.rng = random.Random()
        self._last = clock.now()
        self._advancing = False

    # volumes -----------------------------------------------------------------
    def new_volume(self, array: str, key: str, size: t.Any, data_blocks: int = 0) -> Volume:
        vol = Volume(array, key, parse_size(size), self.block_size)
        if data_blocks:
            vol.write(min(int(data_blocks), vol.nblocks), offset=0)
        self.volumes[(array, key)] = vol
        return vol

    def rename_volume(self, vol: Volume, new_key: str) -> None:
        self.volumes.pop((vol.array, vol.key), None)
        vol.key = new_key
        self.volumes[(vol.array, new_key)] = vol

    def drop_volume(self, vol: Volume) -> None:
        self.volumes.pop((vol.array, vol.key), None)
        for transfer in list(self.active):
            if transfer.dst is vol:
                self._finish(transfer, "failed", "destination volume deleted")

    # links -------------------------------------------------------------------
    def link(self, a: str, b: str) -> Link:
        key = tuple(sorted((a, b)))
        if key not in self.links:
            if a == b:
                self.links[key] = Link(a, b, self.local_bandwidth, self.local_bandwidth)
            else:
                self.links[key] = Link(a, b, self.default_bandwidth, self.default_per_transfer_rate)
        return self.links[key]

    def reachable(self, a: str, b: str) -> str | None:
        """None when ``a`` can reach ``b``, else why not."""
        for name in (a, b):
            if not self.is_up(name):
                return f"array {name} is down"
        if a != b and self.link(a, b).cut:
            return f"the link between {a} and {b} is cut"
        return None

    # transfers ---------------------------------------------------------------
    def start_transfer(self, kind: str, src_array: str, src_label: str, dst: Volume,
                       image: dict[int, str], base: dict[int, str] | None,
                       rate_cap: int | None = None,
                       on_done: t.Callable[[Transfer], None] | None = None,
                       on_fail: t.Callable[[Transfer], None] | None = None,
                       skip_bytes: int = 0) -> Transfer:
        """Start moving ``image`` (minus what ``base`` already holds) into ``dst``.

        The destination must already hold ``base``; when the transfer succeeds
        the changed blocks are written into it and ``on_done`` runs.
        """
        self.advance()
        transfer = Transfer(self, kind, (src_array, src_label), dst, diff_blocks(base, image),
                            self.link(src_array, dst.array), rate_cap, on_done, on_fail, skip_bytes)
        self.active.append(transfer)
        return transfer

    def abort(self, transfer: Transfer, reason: str = "Transfer aborted") -> None:
        if transfer in self.active:
            self.advance()
            self._finish(transfer, "aborted", reason)

    def _finish(self, transfer: Transfer, state: str, error: str = "", when: float | None = None) -> None:
        if transfer not in self.active:
            return
        self.active.remove(transfer)
        transfer.state = state
        transfer.error = error
        transfer.ended = when if when is not None else self.clock.now()
        self.history.append(transfer)
        if state == "success":
            transfer.dst.apply(transfer.changed)
            callback = transfer.on_done
        else:
            callback = transfer.on_fail
        if callback is not None:
            callback(transfer)

    def advance(self) -> None:
        """Move every running transfer forward to now; finish or fail the ones due.

        Re-entrant calls (a hook or a transfer callback that starts a transfer) return
        at once: the outer call has already brought every transfer to now.
        """
        if self._advancing:
            return
        self._advancing = True
        try:
            self._advance()
        finally:
            self._advancing = False

    def _advance(self) -> None:
        now = self.clock.now()
        elapsed = now - self._last
        if elapsed < 0:
            elapsed = 0.0
        self._last = now
        if self.active:
            sharing = collections.Counter(tr.link.ends for tr in self.active)
            for transfer in list(self.active):
                why = self.reachable(transfer.source[0], transfer.dst.array)
                if why is not None:
                    self._finish(transfer, "failed", why)
                    continue
                rate = transfer.rate(sharing[transfer.link.ends])
                remaining = transfer.bytes_total - transfer.bytes_done
                if remaining <= rate * elapsed:
                    transfer.bytes_done = float(transfer.bytes_total)
                    self._finish(transfer, "success", when=now - elapsed + remaining / rate)
                else:
                    transfer.bytes_done += rate * elapsed
        for hook in list(self.hooks):
            hook(now)
