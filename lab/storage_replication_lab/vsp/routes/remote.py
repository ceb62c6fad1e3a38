"""``remote-mirror-copygroups``, ``remote-mirror-copypairs`` and ``remote-copypairs``: TC, UR and GAD pairs
(the engine: ``remote.py``).

- ``POST remote-mirror-copypairs`` -> 202 job (``affectedResources``: the pair's URL from
  this array's side). ``GET|DELETE remote-mirror-copypairs/<id>``, id
  ``remoteStorageDeviceId,copyGroupName,localDeviceGroupName,remoteDeviceGroupName,copyPairName``.
- ``GET remote-mirror-copygroups[?remoteStorageDeviceId=]``, ``GET|DELETE
  remote-mirror-copygroups/<id>`` (with ``copyPairs``).
- ``.../actions/{split,resync,takeover}[/invoke]`` on a pair or a group: GET the
  template, POST or PUT with ``{"parameters": {...}}`` (``replicationType`` required
  for split and resync and equal to the pairs' type).
- ``GET remote-copypairs?replicationType=TC|UR|GAD[&headLdevId=&count=]``: this
  array's volumes in remote pairs, one entry per LDEV (no ``Remote-Authorization``).

``Remote-Authorization: Session <token of the remote array>`` is required for every
call on a copy group or pair whose id names the remote array (400 ``KART30004-E``
without it, 401 ``KART00002-E`` with a token the remote array does not know; 502
``KART30095-E`` while the remote array is down). Ids with ``NotSpecified`` for the
remote storage or the remote device group need no header; they serve the local side
only: GET and takeover (other calls: 400).
"""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import BASE, MAX_LDEV_ID, Job, VspError, bad_request, not_found
from ..remote_model import (FENCE_LEVELS, NOT_SPECIFIED, TYPES, PairView, RemoteGroup, RemotePair, remote_down,
                            remote_error)
from .bodies import Fields, read_json
from .common import methods, refused_as_job, reply, submit_and_reply, unauthorized
from .ldevs import query_int

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

CREATE_FIELDS = ("copyGroupName", "copyPairName", "replicationType", "remoteStorageDeviceId", "pvolLdevId",
                 "svolLdevId", "isNewGroupCreation", "localDeviceGroupName", "remoteDeviceGroupName", "pathGroupId",
                 "fenceLevel", "copyPace", "muNumber", "pvolJournalId", "svolJournalId", "quorumDiskId",
                 "isConsistencyGroup", "consistencyGroupId", "doInitialCopy", "isDataReductionForceCopy",
                 "doDeltaResyncSuspend")
ACTIONS: dict[str, tuple[str, ...]] = {
    "split": ("replicationType", "svolAccessMode", "svolOperationMode", "doPvolWriteProtect", "doDataSuspend"),
    "resync": ("replicationType", "doSwapSvol", "copyPace", "fenceLevel", "isConsistencyGroup",
               "consistencyGroupId", "doFailback", "failbackMuNumber"),
    "takeover": ("mode",),
}


def remote_session(request: web.Request, remote: Vsp) -> None:
    """Check ``Remote-Authorization`` against the remote array's sessions (its idle time starts again)."""
    if not remote.up:
        raise remote_down(remote.storage_device_id, f"array {remote.name} is down")
    header = request.headers.get("Remote-Authorization", "")
    if not header.strip():
        raise bad_request("The Remote-Authorization header (Session <token of the remote storage system>) is "
                          "required for remote copy operations; with the remote storage system down, specify "
                          "NotSpecified for the remote parts of the object ID.")
    scheme, token = (header.split(" ", 1) + [""])[:2]
    if scheme.lower() != "session" or remote.session_for(token.strip()) is None:
        raise unauthorized("Session", "The specified token is invalid: the Remote-Authorization token is not a live "
                                      f"session of the remote storage system ({remote.storage_device_id}).")


def find_group(array: Vsp, object_id: str, parts_wanted: int = 4) -> tuple[RemoteGroup, bool, list[str]]:
    """The copy group of an object id (4 parts, or 5 for a pair) and whether it names the local side only."""
    parts = object_id.split(",")
    if len(parts) != parts_wanted or not all(parts):
        tail = ",copyPairName." if parts_wanted == 5 else "."
        raise bad_request(f"The object ID ({object_id}) is invalid: specify remoteStorageDeviceId,copyGroupName,"
                          f"localDeviceGroupName,remoteDeviceGroupName{tail}")
    group = array.rc.groups.get(parts[1])
    if group is None or group.dgs.get(array.name) != parts[2]:
        raise not_found(f"remote copy group {','.join(parts[:4])}")
    local_only = NOT_SPECIFIED in (parts[0], parts[3])
    other = group.other(array)
    if not local_only and (parts[0] != other.storage_device_id or parts[3] != group.dgs[other.name]):
        raise not_found(f"remote copy group {','.join(parts[:4])}")
    return group, local_only, parts


def pair_url(scope: str, array: Vsp, pair: RemotePair, local_only: bool = False) -> str:
    return f"{BASE}{scope}/remote-mirror-copypairs/{pair.pair_id(array, local_only)}"


# pairs ----------------------------------------------------------------------------------------------
async def remote_copypairs(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    if not rest:
        methods(request, "POST")
        return await _create(array, request, scope)
    group, local_only, parts = find_group(array, rest[0], 5)
    pair = group.pairs.get(parts[4])
    if pair is None:
        raise not_found(f"remote copy pair {rest[0]}")
    if not local_only:
        remote_session(request, group.other(array))
    url = pair_url(scope, array, pair, local_only)
    if len(rest) > 1:
        return await _actions(array, request, [pair], rest[1:], url, local_only)
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(pair.render(array, local_only))
    return await _delete(array, request, [pair], url, local_only)


def create_spec(raw: t.Any) -> dict[str, t.Any]:
    """The body of ``POST remote-mirror-copypairs``, checked field by field."""
    body = Fields(raw, CREATE_FIELDS)
    kind = body.text("replicationType")
    if kind not in TYPES:
        raise bad_request(f"The value of replicationType ({kind}) is invalid: specify TC, UR or GAD.")
    name = body.name("copyGroupName", 29, True)
    spec: dict[str, t.Any] = {
        "copyGroupName": name, "copyPairName": body.name("copyPairName", 31, True), "replicationType": kind,
        "remoteStorageDeviceId": body.text("remoteStorageDeviceId"),
        "pvolLdevId": body.integer("pvolLdevId", 0, MAX_LDEV_ID, True),
        "svolLdevId": body.integer("svolLdevId", 0, MAX_LDEV_ID, True),
        "isNewGroupCreation": body.flag("isNewGroupCreation", True),
        "localDeviceGroupName": body.name("localDeviceGroupName", 31) or f"{name}P_",
        "remoteDeviceGroupName": body.name("remoteDeviceGroupName", 31) or f"{name}S_",
        "pathGroupId": body.integer("pathGroupId", 0, 255), "copyPace": body.integer("copyPace", 1, 15),
        "muNumber": body.integer("muNumber", 0, 3), "pvolJournalId": body.integer("pvolJournalId", 0, 255),
        "svolJournalId": body.integer("svolJournalId", 0, 255), "quorumDiskId": body.integer("quorumDiskId", 0, 31),
        "consistencyGroupId": body.integer("consistencyGroupId", 0, 255),
        "fenceLevel": body.text("fenceLevel") or FENCE_LEVELS[kind][0],
    }
    for flag in ("isConsistencyGroup", "doInitialCopy", "isDataReductionForceCopy", "doDeltaResyncSuspend"):
        spec[flag] = body.flag(flag)
    sid = spec["remoteStorageDeviceId"]
    if not sid or len(sid) != 12 or not sid.isdigit():
        raise bad_request(f"The value of remoteStorageDeviceId ({sid}) is invalid: specify the 12-digit storage "
                          "device ID of the remote storage system.")
    if spec["fenceLevel"] not in FENCE_LEVELS[kind]:
        raise bad_request(f"The value of fenceLevel ({spec['fenceLevel']}) is invalid for {kind}: specify "
                          f"{' or '.join(FENCE_LEVELS[kind])}.")
    if kind == "UR" and spec["isNewGroupCreation"] and (spec["pvolJournalId"] is None or
                                                        spec["svolJournalId"] is None):
        raise bad_request("pvolJournalId and svolJournalId are required to create a Universal Replicator copy group.")
    if kind == "GAD" and spec["quorumDiskId"] is None:
        raise bad_request("quorumDiskId is required for a global-active device pair.")
    return spec


async def _create(array: Vsp, request: web.Request, scope: str) -> web.Response:
    raw = await read_json(request)
    spec = create_spec(raw)
    remote = array.rc.peer(spec["remoteStorageDeviceId"])
    if remote is None:
        raise bad_request(f"The remote storage system ({spec['remoteStorageDeviceId']}) is unknown.")
    remote_session(request, remote)

    def create(job: Job) -> None:
        pair = array.rc.create(spec, remote)
        job.affected = [pair_url(scope, array, pair)]
        job.waits_for = [] if pair.st["P"] == "PAIR" else [(PairView(pair, "P"), "PAIR")]

    return await submit_and_reply(array, request, raw, create)


# actions and delete -----------------------------------------------------------------------------------
def action_parameters(raw: t.Any, op: str, kinds: set[str]) -> dict[str, t.Any]:
    params = Fields(Fields(raw, ("parameters",)).raw.get("parameters"), ACTIONS[op], "parameters object")
    out: dict[str, t.Any] = {}
    if op != "takeover":
        kind = params.text("replicationType")
        if kind is None:
            raise bad_request("The parameter replicationType is required.")
        if kind not in kinds:
            raise bad_request(f"The value of replicationType ({kind}) does not match the pairs "
                              f"({', '.join(sorted(kinds))}).")
    for key in ("doPvolWriteProtect", "doDataSuspend", "doSwapSvol", "isConsistencyGroup", "doFailback"):
        if params.has(key):
            out[key] = params.flag(key)
    if params.has("copyPace"):
        out["copyPace"] = params.integer("copyPace", 1, 15)
    for key, allowed in (("svolAccessMode", ("r", "rw")), ("svolOperationMode", ("SSWS",)),
                         ("mode", ("auto", "forceSplit"))):
        value = params.text(key)
        if value is not None and value not in allowed:
            raise bad_request(f"The value of {key} ({value}) is invalid: specify {' or '.join(allowed)}.")
        if value is not None:
            out[key] = value
    if out.get("doPvolWriteProtect") and kinds != {"TC"}:
        raise bad_request("doPvolWriteProtect can be specified for TrueCopy pairs only.")
    if out.get("doDataSuspend") and kinds != {"UR"}:
        raise bad_request("doDataSuspend can be specified for Universal Replicator pairs only.")
    return out


async def _actions(array: Vsp, request: web.Request, pairs: list[RemotePair], rest: list[str], url: str,
                   local_only: bool) -> web.Response:
    if len(rest) < 2 or rest[0] != "actions" or rest[1] not in ACTIONS or len(rest) > 3 or \
            (len(rest) == 3 and rest[2] != "invoke"):
        raise not_found(f"action {'/'.join(rest)}")
    op = rest[1]
    if len(rest) == 2:
        methods(request, "GET")
        return reply({"name": op, "parameters": {key: None for key in ACTIONS[op]}})
    methods(request, "POST", "PUT")
    if local_only and op != "takeover":
        raise bad_request(f"The {op} operation needs the remote storage system: specify its storage device ID and "
                          "device group in the object ID, and Remote-Authorization.")
    raw = await read_json(request)
    params = action_parameters(raw, op, {p.rtype for p in pairs} or set(TYPES))
    rc = array.rc

    def check() -> None:
        for pair in pairs:
            rc.check(pair, op, params)

    refused = await refused_as_job(array, request, raw, check)
    if refused is not None:
        return refused

    def act(job: Job) -> None:
        live = [p for p in pairs if not p.deleted]
        for pair in live:
            rc.check(pair, op, params)
        views = [rc.apply(pair, op, params) for pair in live]
        job.affected = [url]
        job.waits_for = [(v, "SSWS" if v.role == "S" else "PSUS" if op == "split" else "PAIR")
                         for v in views if v is not None]

    return await submit_and_reply(array, request, raw, act)


async def _delete(array: Vsp, request: web.Request, pairs: list[RemotePair], url: str,
                  local_only: bool) -> web.Response:
    raw = await read_json(request)
    Fields(raw, ("forceDelete",)).flag("forceDelete")
    if local_only:
        raise bad_request("Deleting a remote copy pair needs the remote storage system: specify its storage device "
                          "ID and device group in the object ID, and Remote-Authorization.")

    def delete(job: Job) -> None:
        for pair in [p for p in pairs if not p.deleted]:
            why = array.fabric.reachable(pair.roles["P"].name, pair.roles["S"].name)
            if why is not None:
                raise remote_error(f"The pair ({pair.label()}) cannot be deleted: {why}.", "unreachable")
            array.rc.delete(pair)
        job.affected = [url]

    return await submit_and_reply(array, request, raw, delete)


# copy groups -----------------------------------------------------------------------------------------
async def remote_copygroups(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    if not rest:
        methods(request, "GET")
        sid = request.query.get("remoteStorageDeviceId")
        groups = list(array.rc.groups.values())
        if sid is not None:
            remote = array.rc.peer(sid)
            if remote is None:
                return reply({"data": []})
            remote_session(request, remote)
            groups = [g for g in groups if g.other(array) is remote]
        return reply({"data": [g.render(array, False, False) for g in groups]})
    group, local_only, _parts = find_group(array, rest[0])
    if not local_only:
        remote_session(request, group.other(array))
    url = f"{BASE}{scope}/remote-mirror-copygroups/{group.group_id(array, local_only)}"
    if len(rest) > 1:
        return await _actions(array, request, list(group.pairs.values()), rest[1:], url, local_only)
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(group.render(array, local_only, True))
    return await _delete(array, request, list(group.pairs.values()), url, local_only)


async def remote_copypair_list(array: Vsp, request: web.Request, rest: list[str], _scope: str) -> web.Response:
    """``GET remote-copypairs?replicationType=``: this array's LDEVs in remote pairs of that type."""
    methods(request, "GET")
    if rest:
        raise VspError(404, "KART00004-E", f"The URL is not supported: {request.path}.",
                       "remote-copypairs is a list only.", "Check the URL.")
    kind = request.query.get("replicationType")
    if kind not in TYPES:
        raise bad_request(f"The query parameter replicationType ({kind}) is required: specify TC, UR or GAD.")
    head = query_int(request, "headLdevId", 0, MAX_LDEV_ID) or 0
    count = query_int(request, "count", 0, 500)
    entries = sorted((p.render_ldev(array) for p in array.rc.pairs() if p.rtype == kind),
                     key=lambda e: e["ldevId"])
    entries = [e for e in entries if e["ldevId"] >= head][:500 if count is None else count]
    return reply({"data": entries})
