"""What remote copy is set up with: ``remote-storages`` (also spelled ``remotestorages``), ``remotepath-groups``,
``journals`` and ``quorum-disks`` (the objects: ``remote_setup.py``).

- ``GET remote-storages`` lists this array (``dkcType`` Local) and the registered ones
  (Remote); ``GET remote-storages/<storageDeviceId>``; ``POST`` ``{storageDeviceId,
  restServerIp, restServerPort, isMutualDiscovery}`` with ``Remote-Authorization`` of
  that array -> job; ``DELETE remote-storages/<id>`` (body ``{isMutualDeletion}``, with
  ``Remote-Authorization`` unless false) -> job.
- ``GET remotepath-groups[/<remoteSerialNumber,remoteStorageTypeId,pathGroupId>]``;
  ``POST`` ``{remoteSerialNumber, remoteStorageTypeId, pathGroupId, localPortId,
  remotePortId[, minNumOfPaths, ...]}`` -> job; ``DELETE`` -> job.
- ``GET journals[?journalInfo=basic|detail]``, ``GET journals/<id>``; ``POST``
  ``{journalId, ldevIds}`` -> job (id in use ``KART40054-E``, none left
  ``KART40046-E``, [C]); ``PATCH journals/<id>`` (``dataOverflowWatchInSeconds``,
  ``isCacheModeEnabled``, ``copySpeed``, ``mirrorUnit``, ``mpBladeId``) -> job;
  ``DELETE`` -> job.
- ``GET quorum-disks[/<id>]``; ``POST`` ``{quorumDiskId, remoteSerialNumber,
  remoteStorageTypeId[, ldevId]}`` -> job; ``DELETE`` -> job.
"""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..model import BASE, MAX_LDEV_ID, Job, bad_request, not_found
from .bodies import Fields, read_json
from .common import methods, reply, submit_and_reply
from .remote import remote_session

if t.TYPE_CHECKING:  # pragma: no cover
    from .. import Vsp

JOURNAL_PATCH = ("dataOverflowWatchInSeconds", "isCacheModeEnabled", "copySpeed", "mirrorUnit", "mpBladeId")
PATH_FIELDS = ("remoteSerialNumber", "remoteStorageTypeId", "pathGroupId", "localPortId", "remotePortId",
               "minNumOfPaths", "timeoutValueForRemoteIOInSeconds", "roundTripTimeInMilliSeconds")


async def remote_storages(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    rc = array.rc
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "GET":
            ids = [array.storage_device_id] + sorted(rc.registered)
            return reply({"data": [rc.storage_record(sid) for sid in ids]})
        raw = await read_json(request)
        body = Fields(raw, ("storageDeviceId", "restServerIp", "restServerPort", "isMutualDiscovery"))
        sid = body.text("storageDeviceId")
        remote = rc.peer(sid or "")
        if remote is None:
            raise bad_request(f"The value of storageDeviceId ({sid}) names no remote storage system.")
        ip, port = body.text("restServerIp") or "127.0.0.1", body.integer("restServerPort", 1, 65535)
        mutual = body.flag("isMutualDiscovery")
        remote_session(request, remote)

        def register(job: Job) -> None:
            rc.register(remote, ip, port, mutual is not False)
            job.affected = [f"{BASE}{scope}/remote-storages/{remote.storage_device_id}"]

        return await submit_and_reply(array, request, raw, register)
    sid = rest[0]
    if sid != array.storage_device_id and sid not in rc.registered:
        raise not_found(f"remote storage {sid}")
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(rc.storage_record(sid))
    raw = await read_json(request)
    mutual = Fields(raw, ("isMutualDeletion",)).flag("isMutualDeletion") is not False
    remote = rc.peer(sid)
    if remote is None:
        raise bad_request("The local storage system cannot be deleted from remote-storages.")
    if mutual:
        remote_session(request, remote)

    def unregister(job: Job) -> None:
        rc.unregister(remote, mutual)
        job.affected = [f"{BASE}{scope}/remote-storages/{sid}"]

    return await submit_and_reply(array, request, raw, unregister)


async def remotepath_groups(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    rc = array.rc
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "GET":
            return reply({"data": [g.render(rc.path_ok(g)) for g in rc.path_groups.values()]})
        raw = await read_json(request)
        body = Fields(raw, PATH_FIELDS)
        remote = rc.peer_by_serial(str(body.raw.get("remoteSerialNumber", "")))
        if remote is None:
            raise bad_request(f"The value of remoteSerialNumber ({body.raw.get('remoteSerialNumber')}) names no "
                              "storage system the paths can reach.")
        group_id = body.integer("pathGroupId", 0, 255, True)
        local_port, remote_port = body.text("localPortId"), body.text("remotePortId")
        if not local_port or not remote_port:
            raise bad_request("localPortId and remotePortId are required.")
        minimum = body.integer("minNumOfPaths", 1, 8) or 1

        def create(job: Job) -> None:
            group = rc.add_path_group(remote, int(group_id or 0),
                                      [{"localPortId": str(local_port), "remotePortId": str(remote_port)}], minimum)
            job.affected = [f"{BASE}{scope}/remotepath-groups/{group.object_id()}"]

        return await submit_and_reply(array, request, raw, create)
    group = rc.path_group(rest[0])
    if group is None:
        raise not_found(f"remotepathGroupId = {rest[0]}")
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(group.render(rc.path_ok(group)))
    raw = await read_json(request)
    Fields(raw, ())

    def delete(job: Job) -> None:
        rc.delete_path_group(group)
        job.affected = [f"{BASE}{scope}/remotepath-groups/{group.object_id()}"]

    return await submit_and_reply(array, request, raw, delete)


async def journals(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    rc = array.rc
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "GET":
            info = request.query.get("journalInfo")
            if info not in (None, "basic", "detail", "timer"):
                raise bad_request(f"The value of the query parameter journalInfo ({info}) is invalid.")
            return reply({"data": [rc.journal_record(j) for j in rc.journals.values()]})
        raw = await read_json(request)
        body = Fields(raw, ("journalId", "ldevIds", "startLdevId", "endLdevId", "mpBladeId", "redundantJournalId",
                            "isCacheModeEnabled"))
        journal_id = body.integer("journalId", 0, 255)
        ldev_ids = body.raw.get("ldevIds")
        if not isinstance(ldev_ids, list) or not ldev_ids or \
                not all(isinstance(i, int) and 0 <= i <= MAX_LDEV_ID for i in ldev_ids):
            raise bad_request("ldevIds (a list of LDEV numbers) is required.")

        def create(job: Job) -> None:
            journal = rc.add_journal(journal_id, [int(i) for i in ldev_ids])
            job.affected = [f"{BASE}{scope}/journals/{journal.journal_id}"]

        return await submit_and_reply(array, request, raw, create)
    journal = rc.journals.get(int(rest[0])) if rest[0].isdigit() else None
    if journal is None:
        raise not_found(f"journalId = {rest[0]}")
    methods(request, "GET", "PATCH", "DELETE")
    if request.method == "GET":
        return reply(rc.journal_record(journal))
    raw = await read_json(request)
    url = f"{BASE}{scope}/journals/{journal.journal_id}"
    if request.method == "PATCH":
        body = Fields(raw, JOURNAL_PATCH)
        watch = body.integer("dataOverflowWatchInSeconds", 0, 600)
        cache = body.flag("isCacheModeEnabled")
        speed = body.integer("copySpeed", 3, 256)
        unit = body.raw.get("mirrorUnit")
        if unit is not None and not isinstance(unit, dict):
            raise bad_request("mirrorUnit must be an object.")

        def modify(job: Job) -> None:
            if watch is not None:
                journal.overflow_watch = watch
            if cache is not None:
                journal.cache_mode = cache
            if speed is not None:
                journal.copy_speed = speed
            journal.mu_settings.update(unit or {})
            job.affected = [url]

        return await submit_and_reply(array, request, raw, modify)
    Fields(raw, ())

    def delete(job: Job) -> None:
        rc.delete_journal(journal)
        job.affected = [url]

    return await submit_and_reply(array, request, raw, delete)


async def quorum_disks(array: Vsp, request: web.Request, rest: list[str], scope: str) -> web.Response:
    rc = array.rc
    if not rest:
        methods(request, "GET", "POST")
        if request.method == "GET":
            return reply({"data": [q.render() for q in rc.quorums.values()]})
        raw = await read_json(request)
        body = Fields(raw, ("quorumDiskId", "remoteSerialNumber", "remoteStorageTypeId", "ldevId"))
        quorum_id = body.integer("quorumDiskId", 0, 31, True)
        ldev_id = body.integer("ldevId", 0, MAX_LDEV_ID)
        remote = rc.peer_by_serial(str(body.raw.get("remoteSerialNumber", "")))
        if remote is None:
            raise bad_request(f"The value of remoteSerialNumber ({body.raw.get('remoteSerialNumber')}) names no "
                              "remote storage system.")

        def create(job: Job) -> None:
            disk = rc.add_quorum(int(quorum_id or 0), remote, -1 if ldev_id is None else ldev_id)
            job.affected = [f"{BASE}{scope}/quorum-disks/{disk.quorum_id}"]

        return await submit_and_reply(array, request, raw, create)
    disk = rc.quorums.get(int(rest[0])) if rest[0].isdigit() else None
    if disk is None:
        raise not_found(f"quorumDiskId = {rest[0]}")
    methods(request, "GET", "DELETE")
    if request.method == "GET":
        return reply(disk.render())
    Fields(await read_json(request), ())

    def delete(job: Job) -> None:
        rc.delete_quorum(disk)
        job.affected = [f"{BASE}{scope}/quorum-disks/{disk.quorum_id}"]

    return await submit_and_reply(array, request, None, delete)
