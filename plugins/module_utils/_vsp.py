"""Hitachi VSP Configuration Manager REST client: sessions, jobs, and normalized ShadowImage facts.

One session per module run: opened at the first request, re-opened when the
array answers 401 (an expired or invalid token), and closed by ``close()``.
Changes are sent with ``Job-Mode-Wait-Configuration-Change: NoWait`` (the job
completes once the array applied the change; copies go on) and
``Response-Job-Status: Completed`` (the reply is held until the job ends); a job
still running is then polled. A failed job raises ``VspJobError`` with the
array's own message and code.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import typing as t
from urllib.parse import quote, unquote, urlsplit

from ._claim import ClaimStore, Holder, Seen
from ._common import ReplicationError, base_url, connection_options, credential_forms, nonempty_env_fallback, tls_verify
from ._rest import HttpError, RestClient, excerpt
from ._waiting import poll_until

OBJECTS = "/ConfigurationManager/v1/objects"
ALIVE_TIME = 300              # seconds a session may idle (the array's maximum)
CODE_BUSY = "KART00003-E"     # server busy / session cap
CODE_NOT_FOUND = "KART30013-E"
CODE_STORAGE = "KART30000-E"  # the storage system refused a job (+ errorCode SSB1/SSB2; KART70000-E is /simple's)
CODES_LOCKED = ("KART40050-E", "KART40052-E")  # another session holds the resource lock
MAX_LDEV_ID = 65279
NAME_RE = re.compile(r"^[A-Za-z0-9.:@_][A-Za-z0-9.:@_-]*$")
JOB_HISTORY_COUNT = 100

# pair status (both sides) -> normalized state; see pair_state()
STATES = ("paired", "split", "copying", "restoring", "suspended_error", "simplex", "unknown")
SPLIT_STATUSES = ("PSUS", "SSUS")


def vsp_connection_options(extra: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """The connection options (``VSP_*`` environment fallbacks) plus ``storage_device_id``."""
    device = {"type": "str", "fallback": (nonempty_env_fallback, ["VSP_STORAGE_DEVICE_ID"])}
    spec = connection_options("VSP", {"storage_device_id": device})
    spec.update(extra or {})
    return spec


# errors ------------------------------------------------------------------------------------------
def vsp_error(status: int, body: t.Any) -> tuple[str, str | None]:
    """The array's message and message id from a §9 error object (or an HTML page)."""
    if isinstance(body, dict) and (body.get("messageId") or body.get("message")):
        return error_text(body), body.get("messageId")
    if isinstance(body, str) and body.strip():
        return excerpt(body, 300) or f"HTTP {status}", None
    return f"HTTP {status}", None


def data_of(body: t.Any, what: str) -> list[dict[str, t.Any]]:
    """The ``data`` list of a list answer (``[]`` for an empty answer); ReplicationError when it is not a list
    of objects."""
    data = body.get("data") if isinstance(body, dict) else None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ReplicationError(f"the answer to {what} has no list of objects under 'data'")
    return data


def error_text(error: dict[str, t.Any]) -> str:
    message = str(error.get("message") or "no message")
    if error.get("cause"):
        message += f" Cause: {error['cause']}"
    if error.get("solution"):
        message += f" Solution: {error['solution']}"
    ssb = error.get("errorCode")
    if isinstance(ssb, dict) and (ssb.get("SSB1") or ssb.get("SSB2")):
        message += f" (SSB1 {ssb.get('SSB1')}, SSB2 {ssb.get('SSB2')})"
    elif isinstance(ssb, dict) and ssb.get("errorCode"):
        message += f" ({ssb['errorCode']})"
    return message


class VspJobError(HttpError):
    """A job that ended ``Failed``: the error object of the job is the array's answer."""

    def __init__(self, msg: str, job: dict[str, t.Any]) -> None:
        error = job.get("error") if isinstance(job.get("error"), dict) else {}
        super().__init__(msg, None, error.get("messageId"), error_text(error) if error else None, job)
        self.job = job
        self.details["job_id"] = job.get("jobId")
        if isinstance(error.get("errorCode"), dict):
            self.details["array_error_code"] = error["errorCode"]


# names and ids -------------------------------------------------------------------------------------
def check_name(kind: str, value: t.Any, limit: int) -> str | None:
    """Why ``value`` cannot be a copy group / device group / pair name, or None when it can."""
    if not isinstance(value, str) or not value:
        return f"{kind} must be a non-empty string"
    if len(value) > limit:
        return f"{kind} {value!r} is {len(value)} characters long; the array allows at most {limit}"
    if "," in value:
        return f"{kind} {value!r} contains a comma, which the array's object IDs cannot carry"
    if value.startswith("-"):
        return f"{kind} {value!r} starts with a hyphen, which the array does not allow"
    if not NAME_RE.match(value):
        return (f"{kind} {value!r} contains a character the array does not allow (use A-Z a-z 0-9 and "
                ". : @ _ -; no spaces)")
    return None


def group_id(copy_group: str, pvol_group: str | None = None, svol_group: str | None = None) -> str:
    """``copyGroupName,pvolDeviceGroupName,svolDeviceGroupName``; the device groups default as the array names them."""
    return f"{copy_group},{pvol_group or copy_group + 'P_'},{svol_group or copy_group + 'S_'}"


def record_group_id(record: dict[str, t.Any]) -> str:
    """The id of a ``local-clone-copygroups`` record (built from its names when the id field is missing)."""
    return str(record.get("localCloneCopygroupId")
               or group_id(str(record.get("copyGroupName")), record.get("pvolDeviceGroupName"),
                           record.get("svolDeviceGroupName")))


def split_id(object_id: str) -> list[str]:
    return unquote(object_id or "").split(",")


def id_of(url: str) -> str:
    """The object id at the end of an ``affectedResources`` URL."""
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


# facts ---------------------------------------------------------------------------------------------
def pair_state(pvol_status: str | None, svol_status: str | None) -> str:
    """One normalized state from the statuses of both sides (never from the P-VOL's alone)."""
    statuses = {pvol_status, svol_status}
    if "PSUE" in statuses:
        return "suspended_error"
    if "RCPY" in statuses:
        return "restoring"
    if "COPY" in statuses:
        return "copying"
    if pvol_status in SPLIT_STATUSES and svol_status in SPLIT_STATUSES:
        return "split"
    if statuses == {"PAIR"}:
        return "paired"
    if statuses == {"SMPL"}:
        return "simplex"
    return "unknown"


def pair_facts(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """Normalized facts of one ``local-clone-copypairs`` record, the same for every module and role."""
    pair_id = str(record.get("localCloneCopypairId") or "")
    parts = split_id(pair_id)
    copy_group = record.get("copyGroupName") or (parts[0] if parts else None)
    name = record.get("copyPairName") or (parts[3] if len(parts) == 4 else None)
    pdg, sdg = (parts[1], parts[2]) if len(parts) == 4 else (None, None)
    pstat, sstat = record.get("pvolStatus"), record.get("svolStatus")
    state = pair_state(pstat, sstat)
    ctg = record.get("consistencyGroupId")
    return {
        "copy_group": copy_group,
        "pair_name": name,
        "pair_id": pair_id or None,
        "copy_group_id": f"{copy_group},{pdg},{sdg}" if pdg else None,
        "pvol_device_group": pdg,
        "svol_device_group": sdg,
        "pvol": record.get("pvolLdevId"),
        "svol": record.get("svolLdevId"),
        "mu_number": record.get("pvolMuNumber"),
        "pvol_status": pstat,
        "svol_status": sstat,
        "state": state,
        "healthy": state not in ("suspended_error", "unknown"),
        "progress": record.get("copyProgressRate"),
        "consistency_group": None if ctg in (None, -1) else ctg,
        "transferring": state in ("copying", "restoring"),
        "replication_type": record.get("replicationType"),
        "lag_seconds": None,
        "recovery_point": None,
    }


def describe_pair(facts: t.Any, keys: t.Sequence[str] = ("state",)) -> str:
    """A pair's statuses in words, with the facts ``keys`` names in parentheses."""
    if not facts:
        return "pair not found"
    shown = ", ".join(str(facts.get(k)) for k in keys)
    text = f"{facts.get('pvol_status')}/{facts.get('svol_status')} ({shown})"
    if facts.get("progress") is not None:
        text += f", progress {facts['progress']}%"
    return text


def ldev_defined(record: dict[str, t.Any] | None) -> bool:
    return bool(record) and record.get("emulationType") not in (None, "NOT DEFINED")


def ldev_size(record: dict[str, t.Any]) -> int:
    return int(record.get("blockCapacity") or 0)


# job history ----------------------------------------------------------------------------------------
_JOB_PATH = re.compile(r"/objects/(?:storages/[^/]+/)?(local-clone-copypairs|local-clone-copygroups)"
                       r"(?:/([^/]+))?(?:/actions/([A-Za-z]+)/invoke)?/?$")


def job_operations(jobs: t.Iterable[dict[str, t.Any]]) -> list[tuple[int, str, str, str | None]]:
    """Succeeded ShadowImage jobs as ``(jobId, operation, copy_group, pair_name or None for the group)``.

    Operations are ``create``, ``split``, ``resync``, ``restore`` and ``delete``,
    newest first. This is the array's own record of what was last done to a pair:
    a pair in PAIR after a restore looks the same as one after a resync.
    """
    out: list[tuple[int, str, str, str | None]] = []
    for job in jobs:
        if job.get("status") != "Completed" or job.get("state") != "Succeeded":
            continue
        request = job.get("request") or {}
        match = _JOB_PATH.search(unquote(urlsplit(str(request.get("requestUrl") or "")).path))
        if not match:
            continue
        kind, object_id, action = match.groups()
        method = str(request.get("requestMethod") or "").upper()
        try:
            job_id = int(job.get("jobId"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if action:
            operation = action
        elif method == "DELETE" and object_id:
            operation = "delete"
        elif method == "POST" and kind == "local-clone-copypairs" and not object_id:
            operation = "create"
        else:
            continue
        if operation == "create":
            try:
                body = request.get("requestBody")
                body = json.loads(body) if isinstance(body, str) else body or {}
            except ValueError:
                continue
            if not body.get("copyGroupName") or not body.get("copyPairName"):
                continue
            out.append((job_id, "create", str(body["copyGroupName"]), str(body["copyPairName"])))
            continue
        parts = split_id(object_id)
        if kind == "local-clone-copypairs" and len(parts) == 4:
            out.append((job_id, operation, parts[0], parts[3]))
        elif kind == "local-clone-copygroups" and len(parts) == 3:
            out.append((job_id, operation, parts[0], None))
    out.sort(key=lambda entry: entry[0], reverse=True)
    return out


def pair_history(operations: list[tuple[int, str, str, str | None]], copy_group: str, pair_name: str) -> list[str]:
    """The operations that touched one pair (its own and its copy group's), newest first."""
    return [op for _job, op, group, name in operations if group == copy_group and name in (None, pair_name)]


# the client -----------------------------------------------------------------------------------------
class VspClient:
    """One storage system behind a Configuration Manager REST server (``https://host[:port]/ConfigurationManager``)."""

    def __init__(self, params: dict[str, t.Any], pool_size: int = 10, poll_interval: float = 1.0,
                 job_timeout: float = 1800.0) -> None:
        self.origin = base_url(params["hostname"], params.get("port"))
        self.storage_device_id = (params.get("storage_device_id") or "").strip() or None
        if self.storage_device_id and not re.match(r"^[0-9]{12}$", self.storage_device_id):
            raise ReplicationError(f"storage_device_id {self.storage_device_id!r} is not a storage device ID: 12 digits, "
                                   "the model prefix and the serial number (for example 886000410001)")
        scope = f"/storages/{self.storage_device_id}" if self.storage_device_id else ""
        self.objects = OBJECTS + scope
        netloc = urlsplit(self.origin).netloc
        short = f"VSP {self.storage_device_id}" if self.storage_device_id else "VSP"
        self.label = f"{short} at {netloc}"
        self.timeout = float(params.get("timeout") or 60)
        self.rest = RestClient(self.origin, verify=tls_verify(params), timeout=self.timeout, error_reader=vsp_error,
                               pool_size=pool_size, label=short,
                               secrets=credential_forms(params["username"], params["password"]))
        user_pass = f"{params['username']}:{params['password']}".encode()
        self._basic = "Basic " + base64.b64encode(user_pass).decode()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._session_id: t.Any = None
        self.sessions_opened = 0
        self.poll_interval = poll_interval
        self.job_timeout = job_timeout
        self.hold = max(1, min(30, int(self.timeout / 2)))

    # sessions -----------------------------------------------------------------------------------
    def path(self, *parts: t.Any) -> str:
        """An object path; ids are quoted except for their commas (as the array's own examples write them)."""
        return "/".join([self.objects] + [quote(str(p), safe=",") for p in parts])

    def login(self, stale: str | None = None) -> str:
        """Open a session (again, if ``stale`` is still the current token); return the token."""
        with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            try:
                _status, body, _headers = self.rest.request(
                    "POST", self.path("sessions"), body={"aliveTime": ALIVE_TIME},
                    headers={"Authorization": self._basic}, expect=(200, 201))
            except HttpError as exc:
                if exc.status == 404 and self.storage_device_id:
                    raise ReplicationError(
                        f"storage_device_id {self.storage_device_id} is not a storage system of the REST server at "
                        f"{self.origin}: {exc.array_message} (code {exc.code}). It serves: {self._served()}",
                        **exc.details) from exc
                raise
            if not isinstance(body, dict) or not body.get("token"):
                raise ReplicationError(f"{self.label} opened no session: the reply had no token")
            self._token = str(body["token"])
            self.rest.hide(self._token)  # an error body that echoes the request headers shows it
            self._session_id = body.get("sessionId")
            self.sessions_opened += 1
            return self._token

    def _served(self) -> str:
        try:
            data = data_of(self.rest.get(OBJECTS + "/storages"), f"the storage system list of the REST server at {self.origin}")
            return ", ".join(f"{s.get('storageDeviceId')} ({s.get('model')})" for s in data) or "none"
        except ReplicationError as exc:
            return f"(could not list them: {exc})"

    def close(self) -> None:
        """End the session (the array allows 64 at once) and the HTTP pool."""
        with self._lock:
            token, session_id = self._token, self._session_id
            self._token = self._session_id = None
        if token is not None and session_id is not None:
            try:
                self.rest.request("DELETE", self.path("sessions", session_id),
                                  headers={"Authorization": f"Session {token}"}, expect=(200, 202, 204, 401, 404))
            except ReplicationError:
                pass  # the session expires on its own
        self.rest.close()

    def request(self, method: str, path: str, body: t.Any = None, headers: dict[str, str] | None = None,
                expect: t.Iterable[int] = (200, 201, 202)) -> tuple[int, t.Any]:
        """One authenticated request; a 401 (expired or invalid token) opens a new session and sends it again."""
        for attempt in (1, 2):
            token = self._token or self.login()
            sent = dict(headers or {})
            sent["Authorization"] = f"Session {token}"
            try:
                status, data, _headers = self.rest.request(method, path, body=body, headers=sent, expect=expect)
                return status, data
            except HttpError as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                self.login(stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str) -> t.Any:
        return self.request("GET", path, expect=(200,))[1]

    def keep_alive(self) -> None:
        """Use the session, so it does not idle out (the keep-alive probe of the array's own clients)."""
        if self._session_id is not None:
            self.get(self.path("sessions", self._session_id))

    # jobs ---------------------------------------------------------------------------------------------
    def write(self, method: str, path: str, body: t.Any = None, what: str = "") -> dict[str, t.Any]:
        """Send a change and wait for its job to complete; return the job (``state`` ``Unknown`` if it was purged)."""
        what = what or f"{method} {path}"
        headers = {"Job-Mode-Wait-Configuration-Change": "NoWait", "Response-Job-Status": "Completed",
                   "Response-Max-Wait": str(self.hold)}
        try:
            _status, job = self.request(method, path, body=body, headers=headers, expect=(200, 201, 202))
        except HttpError as exc:
            if exc.status == 401:
                raise
            raise HttpError(f"{what} refused by {self.label}: {exc.array_message}"
                            + (f" (code {exc.code})" if exc.code else "") + f" [HTTP {exc.status}]",
                            exc.status, exc.code, exc.array_message, exc.body) from exc
        if not isinstance(job, dict) or job.get("jobId") is None:
            return job if isinstance(job, dict) else {}
        if job.get("status") != "Completed":
            job = self.wait_job(job["jobId"], what)
        if job.get("state") == "Failed":
            job = self.rest.redact(job)  # the job's error is the array's text: it may echo credentials
            error = job.get("error") if isinstance(job.get("error"), dict) else {}
            raise VspJobError(f"{what} failed on {self.label}: {error_text(error) if error else 'the job failed'}"
                              + (f" (code {error.get('messageId')})" if error.get("messageId") else "")
                              + f" [job {job.get('jobId')}]", job)
        return job

    def wait_job(self, job_id: t.Any, what: str) -> dict[str, t.Any]:
        def fetch() -> dict[str, t.Any]:
            try:
                return self.get(self.path("jobs", job_id))
            except HttpError as exc:
                if exc.status == 404:  # dropped from the job history: the object's state tells the outcome
                    return {"jobId": job_id, "status": "Completed", "state": "Unknown"}
                raise

        return poll_until(fetch, lambda job: job.get("status") == "Completed",
                          f"job {job_id} ({what}) on {self.label}", self.job_timeout, self.poll_interval,
                          describe=lambda job: {k: job.get(k) for k in ("jobId", "status", "state")},
                          rerun="The job may still complete; rerun the task to continue from the pair's state")

    def jobs(self, count: int = JOB_HISTORY_COUNT) -> list[dict[str, t.Any]]:
        return data_of(self.get(self.path("jobs") + f"?count={int(count)}"), f"the job list of {self.label}")

    # reads ----------------------------------------------------------------------------------------------
    def copy_groups(self) -> list[dict[str, t.Any]]:
        return data_of(self.get(self.path("local-clone-copygroups")), f"the copy group list of {self.label}")

    def pairs(self, copy_group_id: str, refresh: bool = False) -> list[dict[str, t.Any]]:
        """The pairs of one copy group (the list needs the group id; an unknown group has none)."""
        query = "localCloneCopyGroupId=" + quote(copy_group_id, safe=",")
        if refresh:
            query += "&refresh=true"
        try:
            data = self.get(self.path("local-clone-copypairs") + "?" + query)
        except HttpError as exc:
            if exc.status == 404:
                return []
            raise
        return data_of(data, f"the pair list of copy group {copy_group_id} on {self.label}")

    def find_group(self, name: str, hint: str, refresh: bool = False,
                   catalog: t.Callable[[], list[dict[str, t.Any]]] | None = None) -> tuple[str | None, list[dict[str, t.Any]]]:
        """A copy group's id and pairs by name: its pairs under ``hint`` (the id with the expected device
        groups), else the id from the copy group list (device groups may have other names)."""
        guessable = all(len(part) <= 31 for part in hint.split(","))  # else the array would refuse the query
        records = self.pairs(hint, refresh) if guessable else []
        if records:
            return hint, records
        groups = catalog() if catalog is not None else self.copy_groups()
        found = next((g for g in groups if g.get("copyGroupName") == name), None)
        if found is None:
            return None, []
        real = record_group_id(found)
        return real, (self.pairs(real, refresh) if real != hint or not guessable else [])

    def ldev(self, ldev_id: int) -> dict[str, t.Any]:
        return self.get(self.path("ldevs", int(ldev_id))) or {}

    def ldevs(self, ids: t.Iterable[int]) -> dict[int, dict[str, t.Any]]:
        """LDEV records by id; runs of nearby ids are read with one ranged list, lone ids one by one."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, dict[str, t.Any]] = {}
        runs: list[list[int]] = []
        for ldev_id in wanted:
            if runs and ldev_id - runs[-1][0] < 2048:
                runs[-1].append(ldev_id)
            else:
                runs.append([ldev_id])
        for run in runs:
            if len(run) < 3:
                for ldev_id in run:
                    out[ldev_id] = self.ldev(ldev_id)
                continue
            query = f"?ldevOption=defined&headLdevId={run[0]}&count={run[-1] - run[0] + 1}"
            data = data_of(self.get(self.path("ldevs") + query), f"the LDEV list of {self.label}")
            listed = {int(r["ldevId"]): r for r in data if r.get("ldevId") is not None}
            for ldev_id in run:
                out[ldev_id] = listed.get(ldev_id) or {"ldevId": ldev_id, "emulationType": "NOT DEFINED"}
        return out

    def pool(self, pool_id: int) -> dict[str, t.Any] | None:
        try:
            return self.get(self.path("pools", int(pool_id)))
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise


class ResourceLock(ClaimStore):
    """A run's claim on a storage system: the array's resource lock (``resource-group-service`` lock and
    unlock), held by the run's session. The array waits ``waitTime`` for another session's lock to go, keeps
    other sessions from changing anything while it is held, and drops it with the session (logout, or
    ``aliveTime`` idle when the run died), so no other run removes it."""

    evictable = False

    def __init__(self, client: VspClient) -> None:
        self.client = client
        self.where = client.label
        self.removal = ("the array releases it when that session ends or idles out "
                        f"(aliveTime {ALIVE_TIME}s)")
        scoped = client.objects != OBJECTS
        base = client.objects if scoped else OBJECTS.rsplit("/", 1)[0]
        self.base = f"{base}/services/resource-group-service/actions"
        self.tried = False

    @property
    def key(self) -> tuple[str, ...]:
        return ("vsp", self.client.origin, self.client.storage_device_id or "")

    def take(self, holder: Holder, patience: float) -> Seen | None:
        # the first try does not wait, so a lock held by another run is seen (and said); later tries let the
        # array wait for it
        wait = int(max(0, min(patience, 7200))) if self.tried else 0
        self.tried = True
        body = {"parameters": {"waitTime": wait}}
        try:
            self.client.write("POST", f"{self.base}/lock/invoke", body, what=f"locking the resources of {self.where}")
        except HttpError as exc:
            if exc.code in CODES_LOCKED:
                return Seen(None, text=f"another session holds the resource lock of {self.where} "
                                       f"({exc.array_message})")
            raise
        return None

    def renew(self, holder: Holder) -> None:
        """The lock lasts as long as the session: a request keeps the session from idling out."""
        self.client.keep_alive()

    def drop(self) -> None:
        self.client.write("POST", f"{self.base}/unlock/invoke", {"parameters": {}},
                          what=f"unlocking the resources of {self.where}")
