"""The one table of the lab's simulators: vendor -> factory, wire protocol, default settings.

Everything in the lab that needs to know which vendors exist reads ``SIMULATORS``:
topology checks (``vendor:`` of an array), the lab process (which factory builds
an array), the command line (``vendors``) and the control API (``GET
/_lab/vendors``). A new vendor's simulator is one row here plus its own package
below ``storage_replication_lab`` exposing the factory (``create_array(lab, name,
spec) -> ArrayBase``); see "Writing a vendor simulator" in the README.

The vendor packages are imported only when an array of theirs is built, so
listing or checking vendors costs nothing. ``settings`` are the defaults of the
knobs ``PATCH /_lab/arrays/<name>/settings`` turns (and, where the vendor says
so, of the topology keys of the same name); the vendor's array reads them from
here.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover
    from .array import ArrayBase
    from .server import Lab


@dataclasses.dataclass(frozen=True)
class Simulator:
    """One vendor's simulator."""

    vendor: str                    # the ``vendor:`` of a topology array and of endpoints.json
    package: str                   # its package below storage_replication_lab
    protocol: str                  # what it speaks, for people
    settings: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    factory: str = "create_array"  # the package's callable (lab, name, spec) -> ArrayBase

    def load(self) -> t.Callable[[Lab, str, dict[str, t.Any]], ArrayBase]:
        module = importlib.import_module(f".{self.package}", __package__)
        return getattr(module, self.factory)

    def create(self, lab: Lab, name: str, spec: dict[str, t.Any]) -> ArrayBase:
        return self.load()(lab, name, spec)

    def describe(self) -> dict[str, t.Any]:
        return {"vendor": self.vendor, "package": f"{__package__}.{self.package}", "factory": self.factory,
                "protocol": self.protocol, "settings": dict(self.settings)}


def _frozen(values: dict[str, t.Any]) -> t.Mapping[str, t.Any]:
    return types.MappingProxyType(values)


SIMULATORS: dict[str, Simulator] = {sim.vendor: sim for sim in (
    Simulator("ontap", "ontap", "NetApp ONTAP REST over HTTPS (/api/...)",
              _frozen({"job_seconds": 0.05, "job_retention": 300.0, "page_size": None})),
    Simulator("vsp", "vsp", "Hitachi Configuration Manager REST over HTTPS (/ConfigurationManager/v1/...)",
              _frozen({"job_seconds": 0.05, "job_history": 3000, "serial_jobs": True, "max_sessions": 64,
                       "alive_time_scale": 1.0, "max_hold": 600.0, "pace_rate": None, "default_copy_pace": 3,
                       "fail_copies": 0, "fail_copy_at": 0.5, "invalid_state_reply": "412",
                       "html_errors": False})),
    Simulator("smis", "smis", "SMI-S CIM-XML over HTTPS and HTTP (POST /cimom)",
              _frozen({"job_retention": 300.0, "copy_rate": 0, "wait_timeout": 60.0})),
)}


def vendors() -> list[str]:
    """The vendors the lab simulates, in the table's order."""
    return list(SIMULATORS)


def vendor_list() -> str:
    """``ontap, vsp or smis``: the vendors for a message."""
    names = vendors()
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def simulator(vendor: t.Any) -> Simulator:
    """The simulator of ``vendor``; ValueError for a vendor the lab does not simulate."""
    if not isinstance(vendor, str) or vendor not in SIMULATORS:
        raise ValueError(f"unknown vendor {vendor!r}")
    return SIMULATORS[vendor]


def settings(vendor: str) -> t.Mapping[str, t.Any]:
    """The default settings of ``vendor``'s arrays."""
    return simulator(vendor).settings
