"""Topology files: which arrays the lab serves, what they hold, and how they are linked."""

from __future__ import annotations

import copy
import os
import typing as t

import yaml

from .simulators import SIMULATORS, vendor_list

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "topologies", "default.yml")


class TopologyError(ValueError):
    pass


def expand_items(items: list[dict[str, t.Any]] | None, key: str = "name") -> list[dict[str, t.Any]]:
    """Expand ``{name: "vol{n:03d}", count: 500}`` into 500 items named vol001..vol500.

    ``start`` (default 1) sets the first ``n``; every string value of the item is
    formatted with ``n`` so related fields (a path, an LDEV id) can follow it.
    """
    result = []
    for item in items or []:
        if "count" not in item:
            result.append(dict(item))
            continue
        start = int(item.get("start", 1))
        for n in range(start, start + int(item["count"])):
            one = {}
            for field, value in item.items():
                if field in ("count", "start"):
                    continue
                if isinstance(value, str):
                    value = value.format(n=n)
                elif field == "id_base":
                    field, value = "id", int(value) + n - start
                one[field] = value
            if key not in one:
                raise TopologyError(f"expanded item without {key}: {item}")
            result.append(one)
    return result


class Topology:
    def __init__(self, data: dict[str, t.Any], path: str = "") -> None:
        self.path = path
        self.data = data
        self.settings: dict[str, t.Any] = dict(data.get("lab") or {})
        arrays = data.get("arrays") or {}
        if not isinstance(arrays, dict) or not arrays:
            raise TopologyError("a topology needs an 'arrays' mapping with at least one array")
        self.arrays: dict[str, dict[str, t.Any]] = {}
        for name, spec in arrays.items():
            spec = copy.deepcopy(spec or {})
            if not isinstance(spec.get("vendor"), str) or spec["vendor"] not in SIMULATORS:
                raise TopologyError(f"array {name}: vendor must be {vendor_list()}")
            self.arrays[str(name)] = spec
        self.links: list[dict[str, t.Any]] = []
        for link in data.get("links") or []:
            ends = link.get("between")
            if not isinstance(ends, list) or len(ends) != 2 or any(e not in self.arrays for e in ends):
                raise TopologyError(f"link {link}: 'between' must name two arrays of the topology")
            self.links.append(dict(link))

    @classmethod
    def load(cls, path: str | None = None) -> Topology:
        path = os.path.abspath(path or DEFAULT)
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, dict):
            raise TopologyError(f"{path}: a topology is a YAML mapping")
        return cls(data, path)
