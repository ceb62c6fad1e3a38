"""What the shadowimage_pair and smis_sync module tests share: their lab's arrays and the module args reaching them.

Each test module keeps its own ``LAB_TOPOLOGY``, built here with the volumes it needs, and its own ``conn``
fixture, returning ``module_args(...)``. (Not a conftest.py: a second conftest module would take the name
``conftest`` that ``from conftest import run_module`` reads.)
"""

from __future__ import annotations

import typing as t


def vsp_topology(pvols: int, svols: int, pools: t.Sequence[dict[str, t.Any]] = (),
                 ldevs: t.Sequence[dict[str, t.Any]] = ()) -> dict[str, t.Any]:
    """One VSP G900 (vsp-a) with pool 0: ``pvols`` LDEVs from 256 (prodNN, 16 blocks written) and ``svols`` from
    512 (svolNN), all 256 MiB in pool 0; ``pools`` and ``ldevs`` are added after those."""
    return {
        "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB"},
        "arrays": {
            "vsp-a": {
                "vendor": "vsp",
                "model": "VSP G900",
                "serial": 410001,
                "settings": {"job_seconds": 0.02},
                "pools": [{"id": 0, "name": "dp_pool0", "size": "20TiB"}, *pools],
                "ldevs": [
                    {"id_base": 256, "count": pvols, "size": "256MiB", "pool": 0, "data_blocks": 16,
                     "label": "prod{n:02d}"},
                    {"id_base": 512, "count": svols, "size": "256MiB", "pool": 0, "label": "svol{n:02d}"},
                    *ldevs,
                ],
            },
        },
    }


def smis_topology(local: int, remote: int, more_local: t.Sequence[dict[str, t.Any]] = (),
                  more_remote: t.Sequence[dict[str, t.Any]] = ()) -> dict[str, t.Any]:
    """smis-a (3par profile): ``local`` volumes vol{n} from DeviceID 101 (16 blocks written) and as many empty
    copy{n} from 151; smis-b (generic profile): ``remote`` volumes vol{n} from 201 (16 blocks written); all 4 MiB.
    ``more_local`` and ``more_remote`` are added to smis-a's and smis-b's volumes."""
    return {
        "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB", "tick_seconds": 0.02},
        "arrays": {
            "smis-a": {"vendor": "smis", "profile": "3par", "volumes": [
                {"name": "vol{n}", "count": local, "id_base": 101, "size": "4MiB", "data_blocks": 16},
                {"name": "copy{n}", "count": local, "id_base": 151, "size": "4MiB"},
                *more_local,
            ]},
            "smis-b": {"vendor": "smis", "profile": "generic", "volumes": [
                {"name": "vol{n}", "count": remote, "id_base": 201, "size": "4MiB", "data_blocks": 16},
                *more_remote,
            ]},
        },
    }


def module_args(lab: t.Any, default_array: str, wait_timeout: int,
                namespace: bool = False) -> t.Callable[..., dict[str, t.Any]]:
    """``conn(array=default_array, **kwargs)``: the connection args of a module for ``array`` (with its CIM
    namespace when ``namespace``), polling every 50 ms for up to ``wait_timeout`` seconds, then ``kwargs``."""
    def make(array: str = default_array, **kwargs: t.Any) -> dict[str, t.Any]:
        args = dict(lab.connection(array), poll_interval=0.05, wait_timeout=wait_timeout)
        if namespace:
            args["namespace"] = lab.array(array)["namespace"]
        args.update(kwargs)
        return args
    return make
