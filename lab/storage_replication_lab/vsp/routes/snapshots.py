"""``snapshots`` and ``snapshot-groups``: Thin Image pairs (the engine: ``thin_image.py``).

Paths (unscoped and scoped like every object type; ids ``pvolLdevId,muNumber`` and
the group name):

- ``POST snapshots`` -> 202 job, ``affectedResources`` = the new pair's URL;
  ``GET snapshots[?snapshotGroupName=&pvolLdevId=&svolLdevId=&muNumber=&detailInfoType=]``
  -> ``{"data": [...]}`` (filtered by ``svolLdevId`` alone: the S-VOL's view);
  ``GET|DELETE snapshots/<id>``.
- ``snapshots/<id>/actions/{split,resync,restore,clone,assign-volume,unassign-volume}[/invoke]``:
  GET the template, POST or PUT to run (body ``{"parameters": {...}}``: ``autoSplit``
  for resync and restore, ``copySpeed`` for clone, ``svolLdevId`` for assign-volume).
- ``GET snapshot-groups[?snapshotGroupName=&detailInfoType=pair]`` -> ``{"data":
  [{snapshotGroupName, snapshotGroupId[, snapshots]}]}``; ``GET snapshot-groups/<name>``
  (with ``snapshots``); ``DELETE snapshot-groups/<name>`` deletes every pair of the
  group; ``snapshot-groups/<name>/actions/{split,resync,restore,clone}[/invoke]``.

Bodies are checked as elsewhere (unknown fields: 400 ``KART30004-E``). An action or a
delete the pair status does not allow is 412 ``KART30090-E`` at once (or a failed job
with ``invalid_state_reply: job``); group actions are checked for every pair first and
refused as a whole. ``detailInfoType=retention`` (Thin Image Advanced) is accepted and
adds nothing: the lab has no Thin Image Advanced pairs.
"""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import BASE, E_NO_SUCH_URL, MAX_LDEV_ID, Job, VspError, bad_request
from ..thin_image import COPY_SPEEDS, MAX_MU, Snapshot
from .bodies import Fields, read_json
from .common import methods, refused_as_job, reply, submit_and_reply
from .ldevs import query_int

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

CREATE_FIELDS = ("snapshotGroupName", "snapshotPoolId", "pvolLdevId", "svolLdevId", "muNumber", "isConsistencyGroup",
                 "autoSplit", "isClone", "canCascade", "clonesAutomation", "copySpeed", "isDataReductionForceCopy")
PAIR_ACTIONS: dict[str, tuple[str, ...]] = {
    "split": (), "resync": ("autoSplit",), "restore": ("autoSplit",), "clone": ("copySpeed",),
    "assign-volume": ("svolLdevId",), "unassign-volume": ()}
GROUP_ACTIONS = {op: PAIR_ACTIONS[op] for op in ("split", "resync", "restore", "clone")}
DETAIL_TYPES = {"snapshots": ("retention",), "snapshot-groups": ("pair", "retention")}


def snapshot_url(scope: str, snap: Snapshot) -> str:
    return f"{BASE}{scope}/snapshots/{snap.snapshot_id}"


def copy_speed(body: Fields) -> str | None:
    """``copySpeed``: slower, medium or faster, in any case ([D])."""
    value = body.text("copySpeed")
    if value is None:
        return None
    if value.lower() not in COPY_SPEEDS:
        raise bad_request(f"The value of copySpeed ({value}) is invalid: specify slower, medium or faster.")
    return value.lower()


def create_snapshot_spec(raw: t.Any) -> dict[str, t.Any]:
    """The body of ``POST snapshots``, checked field by field."""
    body = Fields(raw, CREATE_FIELDS)
    spec: dict[str, t.Any] = {
        "snapshotGroupName": body.name("snapshotGroupName", 32, True),
        "snapshotPoolId": body.integer("snapshotPoolId", 0, 127, True),
        "pvolLdevId": body.integer("pvolLdevId", 0, MAX_LDEV_ID, True),
        "svolLdevId": body.integer("svolLdevId", 0, MAX_LDEV_ID),
        "muNumber": body.integer("muNumber", 0, MAX_MU),
        "copySpeed": copy_speed(body),
    }
    for flag in ("isConsistencyGroup", "autoSplit", "isClone", "canCascade", "clonesAutomation",
                 "isDataReductionForceCopy"):
        spec[flag] = body.flag(flag)
    if spec["isClone"] and spec["svolLdevId"] is None:
        raise bad_request("svolLdevId is required when isClone is true.")
    if spec["isClone"] and spec["autoSplit"]:
        raise bad_request("autoSplit cannot be specified for a pair with the clone attribute (isClone).")
    if spec["clonesAutomation"] and not spec["isClone"]:
        raise bad_request("clonesAutomation can be specified only together with isClone.")
    return spec


def action_parameters(raw: t.Any, op: str, allowed: t.Iterable[str]) -> dict[str, t.Any]:
    """The ``parameters`` object of an action's body (the body may be empty)."""
    body = Fields(raw, ("parameters",))
    params = Fields(body.raw.get("parameters"), allowed, "parameters object")
    out: dict[str, t.Any] = {}
    if params.has("autoSplit"):
        out["autoSplit"] = params.flag("autoSplit")
    if params.has("copySpeed"):
        out["copySpeed"] = copy_speed(params)
    if op == "assign-volume":
        out["svolLdevId"] = params.integer("svolLdevId", 0, MAX_LDEV_ID, True)
    return out


def no_such_url(request: web.Request) -> VspError:
    return VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                    "The resource or action does not exist.", "Check the URL.")


# snapshots ------------------------------------------------------------------------------------
async def snapshots(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    """``snapshots``, ``snapshots/<id>`` and their actions."""
    ti = array.ti
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "POST":
            return await _create(array, request, scope)
        return _list(array, request)
    snap = ti.snapshot(rest[0])
    url = snapshot_url(scope, snap)
    if len(rest) > 1:
        return await _actions(array, request, [snap], rest[1:], PAIR_ACTIONS, url)
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(snap.render())
    raw = await read_json(request)
    Fields(raw, ())
    return await _delete(array, request, [snap], url, raw)


async def _create(array: Vsp, request: web.Request, scope: str) -> web.Response:
    raw = await read_json(request)
    spec = create_snapshot_spec(raw)

    def create(job: Job) -> None:
        snap = array.ti.create(spec)
        job.affected = [snapshot_url(scope, snap)]
        if snap.status == "PSUP":
            job.waits_for = [(snap, snap.target)]

    return await submit_and_reply(array, request, raw, create)


def _detail(request: web.Request, kind: str) -> str | None:
    detail = request.query.get("detailInfoType")
    if detail is not None and detail not in DETAIL_TYPES[kind]:
        raise bad_request(f"The value of the query parameter detailInfoType ({detail}) is invalid: specify "
                          f"{' or '.join(DETAIL_TYPES[kind])}.")
    return detail


def _list(array: Vsp, request: web.Request) -> web.Response:
    """``GET snapshots`` with the filters of the Terraform provider and Cinder (all optional)."""
    pvol = query_int(request, "pvolLdevId", 0, MAX_LDEV_ID)
    svol = query_int(request, "svolLdevId", 0, MAX_LDEV_ID)
    mu = query_int(request, "muNumber", 0, MAX_MU)
    group = request.query.get("snapshotGroupName")
    _detail(request, "snapshots")
    found = [s for s in array.ti.snapshots()
             if (pvol is None or s.pvol.ldev_id == pvol) and (mu is None or s.mu == mu)
             and (svol is None or (s.svol is not None and s.svol.ldev_id == svol))
             and (group is None or s.group.name == group)]
    view = "S-VOL" if svol is not None and pvol is None else "P-VOL"
    return reply({"data": [s.render(view) for s in found]})


# snapshot groups ------------------------------------------------------------------------------
async def snapshot_groups(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    """``snapshot-groups``, ``snapshot-groups/<name>`` and their actions."""
    ti = array.ti
    if not rest:
        methods(request, "GET")
        detail = _detail(request, "snapshot-groups")
        name = request.query.get("snapshotGroupName")
        groups = [g for g in ti.groups.values() if name is None or g.name == name]
        return reply({"data": [g.render(detail == "pair") for g in groups]})
    group = ti.group(rest[0])
    url = f"{BASE}{scope}/snapshot-groups/{group.name}"
    if len(rest) > 1:
        return await _actions(array, request, list(group.snapshots.values()), rest[1:], GROUP_ACTIONS, url)
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        _detail(request, "snapshot-groups")
        return reply(group.render(True))
    raw = await read_json(request)
    Fields(raw, ())
    return await _delete(array, request, list(group.snapshots.values()), url, raw)


# actions and delete ---------------------------------------------------------------------------


async def _actions(array: Vsp, request: web.Request, snaps: list[Snapshot], rest: list[str],
                   table: dict[str, tuple[str, ...]], url: str) -> web.Response:
    if len(rest) < 2 or rest[0] != "actions" or rest[1] not in table or len(rest) > 3 or \
            (len(rest) == 3 and rest[2] != "invoke"):
        raise no_such_url(request)
    op = rest[1]
    if len(rest) == 2:
        methods(request, "GET")
        return reply({"name": op, "parameters": {key: None for key in table[op]}})
    methods(request, "POST", "PUT")
    raw = await read_json(request)
    params = action_parameters(raw, op, table[op])
    ti = array.ti

    def check() -> None:
        for snap in snaps:
            ti.check(snap, op, params)

    refused = await refused_as_job(array, request, raw, check)
    if refused is not None:
        return refused

    def act(job: Job) -> None:
        live = [s for s in snaps if not s.deleted]
        for snap in live:
            ti.check(snap, op, params)
        when = array.clock.now()  # one point in time for every pair of the job
        targets = [(snap, ti.apply(snap, op, params, when)) for snap in live]
        job.affected = [url]
        job.waits_for = [(snap, target) for snap, target in targets if target is not None]

    return await submit_and_reply(array, request, raw, act)


async def _delete(array: Vsp, request: web.Request, snaps: list[Snapshot], url: str, raw: t.Any) -> web.Response:
    """Delete pairs (a group: all of its pairs); refused as a whole while one of them is restoring."""
    ti = array.ti

    def check() -> None:
        for snap in snaps:
            ti.check_delete(snap)

    refused = await refused_as_job(array, request, raw, check)
    if refused is not None:
        return refused

    def delete(job: Job) -> None:
        live = [s for s in snaps if not s.deleted]
        for snap in live:
            ti.check_delete(snap)
        for snap in live:
            ti.delete(snap)
        job.affected = [url]

    return await submit_and_reply(array, request, raw, delete)
