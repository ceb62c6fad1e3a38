"""HTTP side of the VSP simulator: paths, headers, bodies and replies of the Configuration Manager REST API."""

from __future__ import annotations

import asyncio
import json
import re
import typing as t

from aiohttp import web

from ..fabric import parse_size
from .model import (BASE, E_AUTH, E_METHOD, E_NO_SUCH_URL, MAX_LDEV_ID, Job, Ldev, Pair, VspError, bad_request,
                    not_found, storage_error, undefined_ldev)
from .shadowimage import OPERATIONS

if t.TYPE_CHECKING:  # pragma: no cover
    from . import Vsp

REALM = 'realm="Block storage"'
NAME_RE = re.compile(r"^[A-Za-z0-9.:@_][A-Za-z0-9.:@_-]*$")
CAPACITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([KMGT])B?$", re.IGNORECASE)
CREATE_PAIR_FIELDS = ("copyGroupName", "copyPairName", "replicationType", "pvolLdevId", "svolLdevId",
                      "isNewGroupCreation", "pvolDeviceGroupName", "svolDeviceGroupName", "copyPace",
                      "pvolMuNumber", "autoSplit", "quickMode", "isConsistencyGroup", "consistencyGroupId",
                      "isDataReductionForceCopy", "copyMode")
CREATE_LDEV_FIELDS = ("poolId", "blockCapacity", "byteFormatCapacity", "ldevId", "startLdevId", "endLdevId",
                      "isParallelExecutionEnabled", "dataReductionMode")
ACTION_PARAMETERS = {"split": ("copyPace", "quickMode"), "resync": ("copyPace", "quickMode"),
                     "restore": ("copyPace", "quickMode")}
GROUP_SPLIT_PARAMETERS = ("copyPace", "quickMode", "forceSplit", "forceSuspend")
TARGETS = {"split": "PSUS", "resync": "PAIR", "restore": "PAIR"}


def reply(body: t.Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json", charset="UTF-8",
                        headers=headers)


def unauthorized(scheme: str, message: str) -> VspError:
    return VspError(401, E_AUTH, message, "Authentication failed.",
                    "Specify valid authentication information, and then try again.",
                    headers={"WWW-Authenticate": f"{scheme} {REALM}"})


# request bodies -------------------------------------------------------------------------------------
class Fields:
    """A JSON object of a request, checked field by field (unknown fields are refused)."""

    def __init__(self, raw: t.Any, allowed: t.Iterable[str], where: str = "request body") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise bad_request(f"The {where} must be a JSON object.")
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise bad_request(f"The {where} contains an unsupported field ({', '.join(unknown)}).")
        self.raw = raw
        self.where = where

    def has(self, name: str) -> bool:
        return name in self.raw and self.raw[name] is not None

    def integer(self, name: str, low: int, high: int, required: bool = False) -> int | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise bad_request(f"The {where_of(self, name)} is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The value of {name} must be an integer.")
        if not low <= value <= high:
            raise bad_request(f"The value of {name} ({value}) is outside the range {low}-{high}.")
        return value

    def flag(self, name: str, required: bool = False) -> bool | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise bad_request(f"The {where_of(self, name)} is required.")
            return None
        if not isinstance(value, bool):
            raise bad_request(f"The value of {name} must be true or false.")
        return value

    def name(self, name: str, limit: int, required: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None:
            if required:
                raise bad_request(f"The {where_of(self, name)} is required.")
            return None
        if not isinstance(value, str) or not value:
            raise bad_request(f"The value of {name} must be a non-empty string.")
        if len(value) > limit:
            raise bad_request(f"The value of {name} ({value}) is longer than {limit} characters.")
        if "," in value:
            raise bad_request(f"The value of {name} ({value}) contains a comma, which object IDs cannot carry.")
        if not NAME_RE.match(value):
            raise bad_request(f"The value of {name} ({value}) contains a character that is not allowed, or starts "
                              "with a hyphen.")
        return value

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"The value of {name} must be a string.")
        return value


def where_of(fields: Fields, name: str) -> str:
    return f"field {name} of the {fields.where}"


async def read_json(request: web.Request) -> t.Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from exc


def parse_capacity(value: str) -> int:
    match = CAPACITY_RE.match(value.strip())
    if not match:
        raise bad_request(f"The value of byteFormatCapacity ({value}) is invalid: use a number and K, M, G or T.")
    return parse_size(f"{match.group(1)}{match.group(2).upper()}iB")


def action_parameters(raw: t.Any, allowed: t.Iterable[str]) -> dict[str, t.Any]:
    body = Fields(raw, ("parameters",))
    params = Fields(body.raw.get("parameters"), allowed, "parameters object")
    out: dict[str, t.Any] = {}
    pace = params.integer("copyPace", 1, 15)
    if pace is not None:
        out["copyPace"] = pace
    for key in ("quickMode", "forceSplit", "forceSuspend"):
        if params.has(key):
            out[key] = params.flag(key)
    return out


def create_pair_spec(raw: t.Any) -> dict[str, t.Any]:
    body = Fields(raw, CREATE_PAIR_FIELDS)
    spec: dict[str, t.Any] = {
        "copyGroupName": body.name("copyGroupName", 29, True),
        "copyPairName": body.name("copyPairName", 31, True),
        "pvolLdevId": body.integer("pvolLdevId", 0, MAX_LDEV_ID, True),
        "svolLdevId": body.integer("svolLdevId", 0, MAX_LDEV_ID, True),
        "isNewGroupCreation": body.flag("isNewGroupCreation", True),
        "pvolDeviceGroupName": body.name("pvolDeviceGroupName", 31),
        "svolDeviceGroupName": body.name("svolDeviceGroupName", 31),
        "copyPace": body.integer("copyPace", 1, 15),
        "pvolMuNumber": body.integer("pvolMuNumber", 0, 2),
        "autoSplit": body.flag("autoSplit"),
        "quickMode": body.flag("quickMode"),
        "isConsistencyGroup": body.flag("isConsistencyGroup"),
        "consistencyGroupId": body.integer("consistencyGroupId", 0, 127),
        "isDataReductionForceCopy": body.flag("isDataReductionForceCopy"),
    }
    kind = body.text("replicationType")
    if kind is None:
        raise bad_request("The field replicationType of the request body is required.")
    if kind != "SI":
        raise bad_request(f"The value of replicationType ({kind}) is invalid: local clone pairs of this lab are "
                          "\"SI\" (ShadowImage).")
    mode = body.text("copyMode")
    if mode is not None and mode != "NotSnapshot":
        raise bad_request(f"The value of copyMode ({mode}) is invalid: Volume Migration pairs are not served by the "
                          "lab and must never join a ShadowImage copy group.")
    if spec["quickMode"] and not spec["autoSplit"]:
        raise bad_request("quickMode can be specified only together with autoSplit.")
    if spec["isConsistencyGroup"] and spec["autoSplit"]:
        raise bad_request("isConsistencyGroup cannot be specified together with autoSplit.")
    if spec["consistencyGroupId"] is not None and not spec["isConsistencyGroup"]:
        raise bad_request("consistencyGroupId can be specified only with isConsistencyGroup set to true.")
    if spec["isConsistencyGroup"] and spec["consistencyGroupId"] is None:
        spec["consistencyGroupId"] = 0
    return spec


def create_ldev_spec(raw: t.Any) -> dict[str, t.Any]:
    body = Fields(raw, CREATE_LDEV_FIELDS)
    spec: dict[str, t.Any] = {
        "poolId": body.integer("poolId", 0, 127, True),
        "ldevId": body.integer("ldevId", 0, MAX_LDEV_ID),
        "startLdevId": body.integer("startLdevId", 0, MAX_LDEV_ID),
        "endLdevId": body.integer("endLdevId", 0, MAX_LDEV_ID),
    }
    body.flag("isParallelExecutionEnabled")
    mode = body.text("dataReductionMode")
    if mode is not None and mode not in ("disabled", "compression", "compression_deduplication"):
        raise bad_request(f"The value of dataReductionMode ({mode}) is invalid.")
    blocks = body.integer("blockCapacity", 1, 2 ** 40)
    text = body.text("byteFormatCapacity")
    if (blocks is None) == (text is None):
        raise bad_request("Specify exactly one of blockCapacity and byteFormatCapacity.")
    spec["size"] = blocks * 512 if blocks is not None else parse_capacity(str(text))
    if spec["size"] < 512:
        raise bad_request("The capacity is too small.")
    return spec


# the application -----------------------------------------------------------------------------------
def build_app(array: Vsp) -> web.Application:  # noqa: C901  (one dispatcher)
    si = array.si

    async def job_reply(request: web.Request, job: Job) -> web.Response:
        hold = request.headers.get("Response-Job-Status", "").strip().lower()
        if hold.startswith("completed") and not job.done:
            try:
                limit = float(request.headers.get("Response-Max-Wait", array.max_hold))
            except ValueError as exc:
                raise bad_request("The Response-Max-Wait header must be a number of seconds.") from exc
            waiter = asyncio.get_running_loop().create_future()
            job.waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, max(0.0, limit))
            except asyncio.TimeoutError:
                pass
        return reply(job.render(), 202)

    def nowait_of(request: web.Request) -> bool:
        value = request.headers.get("Job-Mode-Wait-Configuration-Change")
        if value is None:
            return False
        if value.strip().lower() == "nowait":
            return True
        if value.strip().lower() == "wait":
            return False
        raise bad_request(f"The value of the Job-Mode-Wait-Configuration-Change header ({value}) is invalid: "
                          "specify NoWait.")

    def submit(request: web.Request, body: t.Any, action: t.Callable[[Job], None]) -> Job:
        return array.submit(request.method, request.path, body, nowait_of(request), action)

    def authenticate(request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, token = (header.split(" ", 1) + [""])[:2]
        if scheme.lower() != "session" or not token.strip():
            raise unauthorized("Session", "The specified token is invalid. Authorization: Session <token> is "
                                          "required (create a session first).")
        if array.session_for(token.strip()) is None:
            raise unauthorized("Session", "The specified token is invalid. The session does not exist or has "
                                          "timed out.")

    def methods(request: web.Request, *allowed: str) -> None:
        if request.method not in allowed:
            raise VspError(405, E_METHOD, f"The method {request.method} is not supported for this URL.",
                           "The request method is not supported.",
                           f"Use one of: {', '.join(allowed)}.")

    # storages and version ------------------------------------------------------------------------
    def storage_summary() -> dict[str, t.Any]:
        return {"storageDeviceId": array.storage_device_id, "model": array.model, "serialNumber": array.serial,
                "svpIp": "127.0.0.1", "ctl1Ip": "127.0.0.1", "ctl2Ip": "127.0.0.1"}

    def storage_detail() -> dict[str, t.Any]:
        out = storage_summary()
        out.update({"dkcMicroVersion": "88-08-10-00/00", "isSecure": True,
                    "communicationModes": [{"communicationMode": "lanConnectionMode"}]})
        return out

    async def storages(request: web.Request, parts: list[str]) -> web.Response:
        methods(request, "GET")
        if len(parts) == 1:
            return reply({"data": [storage_summary()]})
        authenticate(request)
        if parts[1] in (array.storage_device_id, "instance"):
            return reply(storage_detail())
        raise not_found(f"storageDeviceId = {parts[1]}")

    # sessions --------------------------------------------------------------------------------------
    async def sessions(request: web.Request, rest: list[str]) -> web.Response:
        if not rest:
            methods(request, "POST", "GET")
            if request.method == "POST":
                if request.headers.get("Authorization", "") != array.auth_header:
                    raise unauthorized("Basic", "Authentication failed: the user ID or password is wrong, or "
                                                "Authorization: Basic is missing.")
                body = Fields(await read_json(request), ("aliveTime", "authenticationTimeout"))
                alive = body.integer("aliveTime", 1, 300)
                auth_timeout = body.integer("authenticationTimeout", 1, 900)
                session = array.login(300 if alive is None else alive, 120 if auth_timeout is None else auth_timeout)
                return reply({"token": session.token, "sessionId": session.session_id})
            authenticate(request)
            array.purge_sessions()
            return reply({"data": [s.render() for s in array.sessions.values()]})
        methods(request, "GET", "DELETE")
        authenticate(request)
        try:
            session_id = int(rest[0])
        except ValueError as exc:
            raise not_found(f"sessionId = {rest[0]}") from exc
        session = array.sessions.get(session_id)
        if session is None:
            raise not_found(f"sessionId = {session_id}")
        if request.method == "GET":
            return reply(session.render())
        Fields(await read_json(request), ("force",)).flag("force")
        array.sessions.pop(session_id, None)
        return reply({"sessionId": session_id})

    # jobs ------------------------------------------------------------------------------------------
    async def jobs(request: web.Request, rest: list[str]) -> web.Response:
        methods(request, "GET")
        if not rest:
            count = request.query.get("count")
            items = list(array.jobs.values())
            if count is not None:
                if not count.isdigit():
                    raise bad_request("The count query parameter must be a positive integer.")
                items = items[-int(count):] if int(count) else []
            return reply({"data": [j.render() for j in reversed(items)]})
        try:
            job = array.jobs.get(int(rest[0]))
        except ValueError:
            job = None
        if job is None:
            raise not_found(f"jobId = {rest[0]}")
        return reply(job.render())

    # pools -------------------------------------------------------------------------------------------
    async def pools(request: web.Request, rest: list[str]) -> web.Response:
        methods(request, "GET")
        if not rest:
            return reply({"data": [p.render(array.pool_used(p)) for p in array.pools.values()]})
        pool = array.pools.get(int(rest[0])) if rest[0].isdigit() else None
        if pool is None:
            raise not_found(f"poolId = {rest[0]}")
        return reply(pool.render(array.pool_used(pool)))

    # LDEVs -------------------------------------------------------------------------------------------
    def ldev_record(ldev_id: int) -> dict[str, t.Any]:
        ldev = array.ldevs.get(ldev_id)
        if ldev is None:
            return undefined_ldev(ldev_id)
        return ldev.render(bool(si.pairs_of(ldev_id)))

    def ldev_url(scope: str, ldev_id: int) -> str:
        return f"{BASE}{scope}/ldevs/{ldev_id}"

    def query_int(request: web.Request, name: str, low: int, high: int) -> int | None:
        value = request.query.get(name)
        if value is None:
            return None
        if not value.isdigit() or not low <= int(value) <= high:
            raise bad_request(f"The value of the query parameter {name} ({value}) is invalid.")
        return int(value)

    async def ldevs(request: web.Request, rest: list[str], scope: str) -> web.Response:
        if not rest:
            methods(request, "GET", "POST")
            if request.method == "POST":
                raw = await read_json(request)
                spec = create_ldev_spec(raw)

                def create(job: Job) -> None:
                    ldev = array.create_ldev(spec)
                    job.affected = [ldev_url(scope, ldev.ldev_id)]

                return await job_reply(request, submit(request, raw, create))
            option = request.query.get("ldevOption")
            if option not in (None, "defined", "undefined", "dpVolume", "luMapped", "luUnmapped"):
                raise bad_request(f"The value of the query parameter ldevOption ({option}) is invalid.")
            pool_id = query_int(request, "poolId", 0, 127)
            head = query_int(request, "headLdevId", 0, MAX_LDEV_ID) or 0
            count = query_int(request, "count", 1, 16384) or 100
            data: list[dict[str, t.Any]] = []
            for ldev_id in range(head, MAX_LDEV_ID + 1):
                if len(data) >= count:
                    break
                ldev = array.ldevs.get(ldev_id)
                if option == "undefined" and ldev is not None:
                    continue
                if option in ("defined", "luUnmapped", "dpVolume", "luMapped") and ldev is None:
                    continue
                if option == "luMapped" or (option == "dpVolume" and ldev is not None and ldev.pool_id is None):
                    continue
                if pool_id is not None and (ldev is None or ldev.pool_id != pool_id):
                    continue
                data.append(ldev_record(ldev_id))
            return reply({"data": data})
        if not rest[0].isdigit() or int(rest[0]) > MAX_LDEV_ID:
            raise bad_request(f"The LDEV ID ({rest[0]}) is invalid: specify a decimal number 0-{MAX_LDEV_ID}.")
        ldev_id = int(rest[0])
        methods(request, "GET", "PATCH", "PUT", "DELETE")
        if request.method == "GET":
            return reply(ldev_record(ldev_id))
        raw = await read_json(request)

        def defined() -> Ldev:
            ldev = array.ldevs.get(ldev_id)
            if ldev is None:
                raise storage_error(f"The LDEV ({ldev_id}) is not defined.", "ldev_undefined")
            return ldev

        if request.method == "DELETE":
            Fields(raw, ())

            def delete(job: Job) -> None:
                array.delete_ldev(defined())
                job.affected = [ldev_url(scope, ldev_id)]

            return await job_reply(request, submit(request, raw, delete))
        body = Fields(raw, ("label",))
        label = body.text("label")
        if label is None or len(label) > 32:
            raise bad_request("The field label (up to 32 characters) is required.")

        def relabel(job: Job) -> None:
            defined().label = str(label)
            job.affected = [ldev_url(scope, ldev_id)]

        return await job_reply(request, submit(request, raw, relabel))

    # copy groups and pairs ------------------------------------------------------------------------------
    def pair_url(scope: str, pair: Pair) -> str:
        return f"{BASE}{scope}/local-clone-copypairs/{pair.pair_id}"

    async def invoke(request: web.Request, pairs: list[Pair], op: str, params: dict[str, t.Any],
                     affected: list[str], raw: t.Any) -> web.Response:
        target = "PSUE" if params.get("forceSuspend") else TARGETS[op]
        try:
            for pair in pairs:
                si.check(pair, op, params)
        except VspError as exc:
            if exc.status != 412 or array.invalid_state_reply != "job":
                raise
            refusal = exc

            def refuse(_job: Job) -> None:
                raise refusal

            return await job_reply(request, submit(request, raw, refuse))

        def act(job: Job) -> None:
            live = [p for p in pairs if not p.deleted]
            for pair in live:
                si.check(pair, op, params)
            for pair in live:
                si.apply(pair, op, params)
            job.affected = list(affected)
            job.waits_for = [(p, target) for p in live]

        return await job_reply(request, submit(request, raw, act))

    async def actions(request: web.Request, pairs: list[Pair], rest: list[str], allowed: t.Iterable[str],
                      affected: list[str]) -> web.Response:
        if len(rest) < 2 or rest[0] != "actions" or rest[1] not in OPERATIONS or len(rest) > 3 or \
                (len(rest) == 3 and rest[2] != "invoke"):
            raise VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                           "The resource or action does not exist.", "Check the URL.")
        op = rest[1]
        if len(rest) == 2:
            methods(request, "GET")
            return reply({"name": op, "parameters": {key: None for key in allowed}})
        methods(request, "POST", "PUT")
        raw = await read_json(request)
        params = action_parameters(raw, allowed if op == "split" else ACTION_PARAMETERS[op])
        return await invoke(request, pairs, op, params, affected, raw)

    async def copygroups(request: web.Request, rest: list[str], scope: str) -> web.Response:
        if not rest:
            methods(request, "GET")
            return reply({"data": [g.render() for g in si.groups.values()]})
        group = si.group(rest[0])
        url = f"{BASE}{scope}/local-clone-copygroups/{group.group_id}"
        if len(rest) > 1:
            return await actions(request, list(group.pairs.values()), rest[1:], GROUP_SPLIT_PARAMETERS, [url])
        methods(request, "GET", "DELETE")
        if request.method == "GET":
            return reply(group.render(with_pairs=True))
        raw = await read_json(request)
        Fields(raw, ("forceDelete",)).flag("forceDelete")

        def delete(job: Job) -> None:
            for pair in list(group.pairs.values()):
                si.delete(pair)
            job.affected = [url]

        return await job_reply(request, submit(request, raw, delete))

    async def copypairs(request: web.Request, rest: list[str], scope: str) -> web.Response:
        if not rest:
            methods(request, "GET", "POST")
            if request.method == "POST":
                raw = await read_json(request)
                spec = create_pair_spec(raw)

                def create(job: Job) -> None:
                    pair = si.create(spec)
                    job.affected = [pair_url(scope, pair)]
                    job.waits_for = [(pair, pair.target)]

                return await job_reply(request, submit(request, raw, create))
            group_id = request.query.get("localCloneCopyGroupId")
            if group_id is None:
                hint = " (the key is localCloneCopyGroupId, with a capital G)" \
                    if "localCloneCopygroupId" in request.query else ""
                raise bad_request("The query parameter localCloneCopyGroupId is required to list pairs" + hint + ".")
            if len(group_id.split(",")) != 3 or not all(group_id.split(",")):
                raise bad_request(f"The value of localCloneCopyGroupId ({group_id}) is invalid: specify "
                                  "copyGroupName,pvolDeviceGroupName,svolDeviceGroupName.")
            refresh = request.query.get("refresh")
            if refresh is not None and refresh.lower() not in ("true", "false"):
                raise bad_request(f"The value of the query parameter refresh ({refresh}) is invalid.")
            group = si.groups.get(group_id.split(",")[0])
            pairs = list(group.pairs.values()) if group is not None and group.group_id == group_id else []
            return reply({"data": [p.render() for p in pairs]})
        pair = si.pair(rest[0])
        if len(rest) > 1:
            return await actions(request, [pair], rest[1:], ACTION_PARAMETERS["split"], [pair_url(scope, pair)])
        methods(request, "GET", "DELETE")
        if request.method == "GET":
            return reply(pair.render())
        raw = await read_json(request)
        Fields(raw, ())

        def delete(job: Job) -> None:
            url = pair_url(scope, pair)
            if not pair.deleted:
                si.delete(pair)
            job.affected = [url]

        return await job_reply(request, submit(request, raw, delete))

    # dispatcher -----------------------------------------------------------------------------------------
    async def route(request: web.Request) -> web.Response:
        parts = [p for p in request.match_info["tail"].split("/") if p]
        if parts == ["configuration", "version"]:
            methods(request, "GET")
            return reply({"productName": "Configuration Manager REST API", "apiVersion": "1.9.0"})
        if parts[:2] != ["v1", "objects"] or len(parts) < 3:
            raise VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                           "The lab serves /ConfigurationManager/v1/objects/... only.", "Check the URL.")
        parts = parts[2:]
        scope = ""
        if parts[0] == "storages":
            if len(parts) <= 2:
                return await storages(request, parts)
            scope = f"/storages/{parts[1]}"
            if parts[1] != array.storage_device_id:
                if parts[2] != "sessions":
                    authenticate(request)
                raise not_found(f"storageDeviceId = {parts[1]}")
            parts = parts[2:]
        kind, rest = parts[0], parts[1:]
        if kind == "sessions":
            return await sessions(request, rest)
        authenticate(request)
        if kind == "jobs":
            return await jobs(request, rest)
        if kind == "pools":
            return await pools(request, rest)
        if kind == "ldevs":
            return await ldevs(request, rest, scope)
        if kind == "local-clone-copygroups":
            return await copygroups(request, rest, scope)
        if kind == "local-clone-copypairs":
            return await copypairs(request, rest, scope)
        raise VspError(404, E_NO_SUCH_URL, f"The URL is not supported by the lab: {request.path}.",
                       "The lab serves sessions, storages, jobs, pools, ldevs, local-clone-copygroups and "
                       "local-clone-copypairs.", "Check the URL.")

    async def handle(request: web.Request) -> web.Response:
        try:
            return await route(request)
        except VspError as exc:
            return reply(exc.body(request.path), exc.status, exc.headers)

    async def elsewhere(request: web.Request) -> web.Response:
        exc = VspError(404, E_NO_SUCH_URL, f"The URL is not supported: {request.path}.",
                       "The REST API lives under /ConfigurationManager/.", "Check the URL.")
        return reply(exc.body(request.path), exc.status)

    app = web.Application()
    app.router.add_route("*", "/ConfigurationManager/{tail:.*}", handle)
    app.router.add_route("*", "/{tail:.*}", elsewhere)
    return app
