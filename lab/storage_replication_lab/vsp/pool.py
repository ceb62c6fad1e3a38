"""DP pools of the VSP simulator and the pool record of ``GET pools`` / ``GET pools/<poolId>``.

The record carries every attribute the REST API Reference (MK-98RD9014, "Getting
information about a specific pool", the HDP pool example) lists for a DP pool, with
values that follow the lab's state (capacities in MB, 1 MB = 1024 * 1024 bytes,
rounded down as the array does):

- ``totalPoolCapacity`` / ``totalPhysicalCapacity``: the pool's size.
- ``availableVolumeCapacity`` / ``availablePhysicalVolumeCapacity``: size minus the
  pages the pool's DP-VOLs hold (blocks with data), ``usedCapacityRate`` /
  ``usedPhysicalCapacityRate`` the used share in percent (the lab has no data
  reduction, so logical and physical agree).
- ``locatedVolumeCount`` / ``totalLocatedCapacity``: the pool's DP-VOLs and the sum of
  their capacities (a thin pool may locate more than it holds).
- ``poolStatus``: ``POLN``; ``POLF`` once the used rate reaches ``depletionThreshold``;
  ``POLS`` when the pool is full.
- ``virtualVolumeCapacityRate``: the subscription limit in percent, ``-1`` unlimited.

Lab decisions: pool volumes are not modelled, so ``numOfLdevs`` is 1 and ``firstLdevId``
names a pool-volume id the ``ldevs`` collection does not serve (``65279 - poolId``
unless the topology gives ``pool_volume``). Thin Image snapshot data
(``thin_image.py``) is not charged to pools, and no data reduction or
full-allocation volumes exist: snapshot, reduction, duplication and reserved figures
are 0, ``duplicationLdevIds`` is empty, the ``...IncludingSystemData`` objects say
"not available".
"""

from __future__ import annotations

import typing as t

from .model import MAX_LDEV_ID

if t.TYPE_CHECKING:  # pragma: no cover
    from .model import Ldev

MB = 1024 * 1024
NOT_AVAILABLE = {"isReductionCapacityAvailable": False, "reductionCapacity": 0, "isReductionRateAvailable": False,
                 "reductionRate": 0}
CONSTANT_FIELDS: dict[str, t.Any] = {
    "snapshotCount": 0, "isMainframe": False, "isShrinking": False, "blockingMode": "NB",
    "totalReservedCapacity": 0, "reservedVolumeCount": 0, "poolType": "HDP", "duplicationNumber": 0,
    "dataReductionAccelerateCompCapacity": 0, "dataReductionCapacity": 0, "dataReductionBeforeCapacity": 0,
    "dataReductionAccelerateCompRate": 0, "duplicationRate": 0, "compressionRate": 0, "dataReductionRate": 0,
    "snapshotUsedCapacity": 0, "suspendSnapshot": True,
}


class Pool:
    """A DP (HDP) pool: its size, thresholds and subscription limit; the LDEVs name it by ``pool_id``."""

    def __init__(self, pool_id: int, name: str, size: int, spec: dict[str, t.Any] | None = None) -> None:
        spec = spec or {}
        self.pool_id = pool_id
        self.name = name
        self.size = size
        self.warning_threshold = int(spec.get("warning_threshold", 70))
        self.depletion_threshold = int(spec.get("depletion_threshold", 80))
        self.subscription_limit = int(spec.get("subscription_limit", -1))
        self.pool_volume = int(spec.get("pool_volume", MAX_LDEV_ID - pool_id))
        if not 1 <= self.warning_threshold <= self.depletion_threshold <= 100:
            raise ValueError(f"pool {pool_id}: need 1 <= warning_threshold <= depletion_threshold <= 100")
        if self.subscription_limit != -1 and self.subscription_limit < 0:
            raise ValueError(f"pool {pool_id}: subscription_limit is a percentage, or -1 for unlimited")

    @staticmethod
    def used(ldevs: t.Iterable[Ldev]) -> int:
        """Bytes the pool's DP-VOLs hold (pages with data)."""
        return sum(ldev.volume.used for ldev in ldevs)

    def status(self, used: int) -> str:
        """``POLN`` normal, ``POLF`` over the depletion threshold, ``POLS`` full."""
        if self.size and used >= self.size:
            return "POLS"
        if self.size and 100 * used >= self.depletion_threshold * self.size:
            return "POLF"
        return "POLN"

    def refusal(self, ldevs: list[Ldev], size: int) -> str | None:
        """Why a new DP-VOL of ``size`` bytes cannot be located in the pool, or None when it can."""
        used = self.used(ldevs)
        if self.status(used) == "POLS":
            return f"The pool ({self.pool_id}) is full."
        if self.subscription_limit >= 0:
            located = sum(ldev.volume.size for ldev in ldevs) + size
            if located * 100 > self.size * self.subscription_limit:
                return (f"The capacity of the virtual volumes would exceed the subscription limit of the pool "
                        f"({self.pool_id}: {self.subscription_limit}%).")
        return None

    def render(self, ldevs: list[Ldev]) -> dict[str, t.Any]:
        """The pool record, for the DP-VOLs ``ldevs`` located in the pool."""
        used = min(self.used(ldevs), self.size)
        rate = int(100 * used // self.size) if self.size else 0
        total, free = self.size // MB, (self.size - used) // MB
        out: dict[str, t.Any] = {
            "poolId": self.pool_id, "poolStatus": self.status(used), "usedCapacityRate": rate,
            "usedPhysicalCapacityRate": rate, "poolName": self.name, "availableVolumeCapacity": free,
            "availablePhysicalVolumeCapacity": free, "totalPoolCapacity": total, "totalPhysicalCapacity": total,
            "numOfLdevs": 1, "firstLdevId": self.pool_volume, "warningThreshold": self.warning_threshold,
            "depletionThreshold": self.depletion_threshold, "virtualVolumeCapacityRate": self.subscription_limit,
            "locatedVolumeCount": len(ldevs), "totalLocatedCapacity": sum(ldev.volume.size for ldev in ldevs) // MB,
            "duplicationLdevIds": [],
            "dataReductionAccelerateCompIncludingSystemData": dict(NOT_AVAILABLE),
            "dataReductionIncludingSystemData": dict(NOT_AVAILABLE),
        }
        out.update(CONSTANT_FIELDS)
        return out
