"""SMI-S (CIM-XML over HTTPS) client: pywbem connection, discovery, capabilities, jobs, normalized facts.

One ``SmisClient`` per module run holds one ``pywbem.WBEMConnection``; every
operation goes through ``SmisClient.call`` (counted in ``sent``, serialized by a
lock because a WBEMConnection is not meant for concurrent use) and pywbem's
exceptions become ``ReplicationError`` messages that say what was asked and what
the provider answered. The value tables are those of the DMTF CIM schema (the
project's SMI-S fact sheet); no CIM-XML is written here, pywbem does that.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import datetime
import os
import threading
import typing as t

from ._common import ReplicationError, base_url, credential_forms, redact, tls_verify
from ._rest import UnansweredWriteError

try:
    import pywbem
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib
    pywbem = None

HAS_PYWBEM = pywbem is not None

# CIM status codes (DSP0200) that the client tells apart
CIM_ERR_INVALID_NAMESPACE = 3
CIM_ERR_INVALID_CLASS = 5
CIM_ERR_NOT_FOUND = 6
CIM_ERR_NOT_SUPPORTED = 7
CIM_ERR_METHOD_NOT_AVAILABLE = 16
CIM_ERR_METHOD_NOT_FOUND = 17
UNAVAILABLE = (CIM_ERR_INVALID_CLASS, CIM_ERR_NOT_SUPPORTED, CIM_ERR_METHOD_NOT_AVAILABLE, CIM_ERR_METHOD_NOT_FOUND)

RC_OK = 0
RC_JOB = 4096
RC_NAMES = {0: "Completed with No Error", 1: "Not Supported", 2: "Unknown/Unspecified Error", 3: "Timeout",
            4: "Failed", 5: "Invalid Parameter", 6: "In Use", 4096: "Job Started", 4097: "Invalid State Transition",
            4098: "Use of Timeout Parameter Not Supported", 4099: "Busy"}

COPY_STATES = {0: "Unknown", 1: "Other", 2: "Initialized", 3: "Unsynchronized", 4: "Synchronized", 5: "Broken",
               6: "Fractured", 7: "Split", 8: "Inactive", 9: "Suspended", 10: "Failedover", 11: "Prepared",
               12: "Aborted", 13: "Skewed", 14: "Mixed", 15: "Not Applicable", 16: "Partitioned", 17: "Invalid",
               18: "Restored"}
STATE_NAMES = {0: "unknown", 1: "other", 2: "initialized", 3: "copying", 4: "synchronized", 5: "broken",
               6: "fractured", 7: "split", 8: "inactive", 9: "suspended", 10: "failed_over", 11: "prepared",
               12: "aborted", 13: "skewed", 14: "mixed", 15: "not_applicable", 16: "partitioned", 17: "invalid",
               18: "restored"}
PROGRESS_STATUSES = {0: "Unknown", 2: "Completed", 3: "Dormant", 4: "Initializing", 5: "Preparing",
                     6: "Synchronizing", 7: "Resyncing", 8: "Restoring", 9: "Fracturing", 10: "Splitting",
                     11: "Failing over", 12: "Failing back", 13: "Aborting", 14: "Mixed", 15: "Not Applicable",
                     16: "Suspending", 17: "Requires fracture", 18: "Requires resync", 19: "Requires activate",
                     20: "Pending", 21: "Detaching", 22: "Requires detach", 23: "Terminating", 24: "Requires split",
                     25: "Requires resume"}
SYNC_STATES = {0: "Unknown", 2: "Initialized", 3: "PrepareInProgress", 4: "Prepared", 5: "ResyncInProgress",
               6: "Synchronized", 7: "Fracture In Progress", 8: "QuiesceInProgress", 9: "Quiesced",
               10: "Restore In Progress", 11: "Idle", 12: "Broken", 13: "Fractured", 14: "Frozen",
               15: "Copy In Progress"}
SYNC_TYPES = {6: "mirror", 7: "snapshot", 8: "clone", 9: "tokenized_clone"}
SYNC_TYPE_VALUES = {"mirror": 6, "snapshot": 7, "clone": 8}
MODES = {0: "unknown", 2: "sync", 3: "async", 4: "adaptive", 5: "active"}
MODE_VALUES = {"sync": 2, "async": 3}
COPY_TYPES = {2: "Async", 3: "Sync", 4: "UnSyncAssoc", 5: "UnSyncUnAssoc"}
REPLICATION_TYPES = {2: "Synchronous Mirror Local", 3: "Asynchronous Mirror Local", 4: "Synchronous Mirror Remote",
                     5: "Asynchronous Mirror Remote", 6: "Synchronous Snapshot Local",
                     7: "Asynchronous Snapshot Local", 8: "Synchronous Snapshot Remote",
                     9: "Asynchronous Snapshot Remote", 10: "Synchronous Clone Local", 11: "Asynchronous Clone Local",
                     12: "Synchronous Clone Remote", 13: "Asynchronous Clone Remote"}
# ModifyReplicaSynchronization (CIM_ReplicationService) operations
OPERATIONS = {2: "Abort", 3: "Activate Consistency", 4: "Activate", 5: "AddSyncPair", 6: "Deactivate Consistency",
              7: "Deactivate", 8: "Detach", 9: "Dissolve", 10: "Failover", 11: "Failback", 12: "Fracture",
              13: "RemoveSyncPair", 14: "Resync Replica", 15: "Restore from Replica", 16: "Resume",
              17: "Reset To Sync", 18: "Reset To Async", 19: "Return To ResourcePool", 20: "Reverse Roles",
              21: "Split", 22: "Suspend", 23: "Unprepare", 24: "Prepare", 25: "Reset To Adaptive",
              26: "Reset To Active", 27: "Reset Replica"}
# ModifySynchronization (legacy CIM_StorageConfigurationService) operations
LEGACY_OPERATIONS = {2: "Detach", 3: "Fracture", 4: "Resync", 5: "Restore", 6: "Prepare", 7: "Unprepare",
                     8: "Quiesce", 9: "Unquiesce", 10: "Reset to Sync", 11: "Reset to Async", 12: "Start Copy",
                     13: "Stop Copy"}
# StorageReplicationCapabilities.SupportedSynchronizationType
LEGACY_SYNC_TYPES = {2: "Async", 3: "Sync", 4: "UnSyncAssoc-Full", 5: "UnSyncAssoc-Delta", 6: "UnSyncUnAssoc"}
# GetSupportedWaitForCopyStates MethodName
METHOD_CREATE_ELEMENT_REPLICA = 2
METHOD_MODIFY_REPLICA_SYNCHRONIZATION = 4

IN_PROGRESS_COPY_STATES = (2, 3)
COPYING_PROGRESS = (4, 5, 6, 7, 8, 11, 12, 13, 16, 21, 23)
UNHEALTHY_COPY_STATES = (5, 12, 16, 17)
JOB_TERMINAL_STATES = (7, 8, 9, 10)
JOB_FAILED_STATES = (8, 9, 10)
JOB_FAILED_STATUS = (6, 7, 14)  # Error, Non-Recoverable Error, Aborted

VOLUME_PROPERTIES = ["ElementName", "DeviceID", "BlockSize", "NumberOfBlocks", "SystemName"]


class CimError(ReplicationError):
    """A CIM error answered by the provider; ``status`` is the CIM status code."""

    def __init__(self, msg: str, status: int, **details: t.Any) -> None:
        super().__init__(msg, **details)
        self.status = status


def op_label(number: int, legacy: bool = False) -> str:
    names = LEGACY_OPERATIONS if legacy else OPERATIONS
    return f"{names.get(number, 'vendor-specific' if number >= 0x8000 else 'unknown')} ({number})"


def rc_label(rc: int) -> str:
    return RC_NAMES.get(rc, "vendor-specific" if rc >= 32768 else "reserved")


def replication_type(sync_type: str | None, mode: str | None) -> int | None:
    """The local ReplicationType (section 4 of the fact sheet) of a sync type and mode."""
    base = {"mirror": 2, "snapshot": 6, "clone": 10}.get(sync_type or "")
    if base is None:
        return None
    return base + (1 if mode == "async" else 0)


def legacy_sync_type(sync_type: str | None, mode: str | None, copy_type: int | None = None,
                     replica_type: int | None = None) -> int | None:
    """The legacy SupportedSynchronizationType that covers a pair (or a pair to create)."""
    if copy_type == 2 or (copy_type is None and sync_type == "mirror" and mode == "async"):
        return 2
    if copy_type == 3 or (copy_type is None and sync_type == "mirror"):
        return 3
    if copy_type == 5 or (copy_type is None and sync_type == "clone" and mode == "sync"):
        return 6
    if sync_type == "snapshot" or replica_type == 4:
        return 5
    if sync_type == "clone" or copy_type == 4:
        return 4
    return None


def _int(value: t.Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _time(value: t.Any) -> datetime.datetime | None:
    if value is None:
        return None
    moment = getattr(value, "datetime", None)
    if moment is None or getattr(value, "is_interval", False):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return t.cast(datetime.datetime, moment)


def device_id(path: t.Any) -> str | None:
    """The DeviceID key of a volume path (or None for other elements)."""
    keys = getattr(path, "keybindings", None)
    if keys is None:
        return None
    value = keys.get("DeviceID")
    return str(value) if value is not None else None


def keys_of(path: t.Any) -> tuple[str | None, str | None]:
    """(source DeviceID, target DeviceID) of a StorageSynchronized path."""
    keys = getattr(path, "keybindings", None) or {}
    return device_id(keys.get("SystemElement")), device_id(keys.get("SyncedElement"))


def normalized_state(copy_state: int | None, progress: int | None) -> str:
    if progress == 8:
        return "restoring"
    if progress == 12:
        return "failing_back"
    return STATE_NAMES.get(copy_state if copy_state is not None else 0, f"copy_state_{copy_state}")


def sync_facts(inst: t.Any, names: dict[str, str], now: datetime.datetime | None = None) -> dict[str, t.Any]:
    """Normalized facts of one CIM_StorageSynchronized instance, the same for every module and role.

    WhenSynced is the point in time the target holds, so a mirror's ``lag_seconds`` is its age: about 0 for a
    synchronous mirror in Synchronized, and growing while a mirror is fractured, split, suspended, failed over
    or broken (nothing renews WhenSynced then). ``recovery_point`` is that point in time. ``suspended_at`` is
    WhenSuspended (CIM 2.29: the last Fracture, Split, Suspend or Failover), null when the provider has none.
    """
    src, tgt = keys_of(inst.path)
    copy_state = _int(inst.get("CopyState"))
    progress = _int(inst.get("ProgressStatus"))
    sync_state = _int(inst.get("SyncState"))
    sync_type = _int(inst.get("SyncType"))
    mode = _int(inst.get("Mode"))
    copy_type = _int(inst.get("CopyType"))
    replica_type = _int(inst.get("ReplicaType"))
    requested = _int(inst.get("RequestedCopyState"))
    when = _time(inst.get("WhenSynced"))
    suspended = _time(inst.get("WhenSuspended"))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    age = max(0, int((now - when).total_seconds())) if when else None
    kind = SYNC_TYPES.get(sync_type or 0)
    if kind is None and copy_type in (2, 3):
        kind = "mirror"
    mode_name = MODES.get(mode or 0, f"mode_{mode}")
    transferring = copy_state in IN_PROGRESS_COPY_STATES or progress in COPYING_PROGRESS
    return {
        "source": names.get(src or "", src),
        "target": names.get(tgt or "", tgt),
        "source_device_id": src,
        "target_device_id": tgt,
        "state": normalized_state(copy_state, progress),
        "healthy": copy_state not in UNHEALTHY_COPY_STATES,
        "copy_state": COPY_STATES.get(copy_state if copy_state is not None else 0, f"vendor ({copy_state})"),
        "copy_state_value": copy_state,
        "sync_state": SYNC_STATES.get(sync_state, None) if sync_state is not None else None,
        "sync_state_value": sync_state,
        "progress_status": PROGRESS_STATUSES.get(progress, None) if progress is not None else None,
        "progress_status_value": progress,
        "requested_copy_state": COPY_STATES.get(requested, None) if requested is not None else None,
        "mode": mode_name,
        "mode_value": mode,
        "sync_type": kind,
        "sync_type_value": sync_type,
        "copy_type": COPY_TYPES.get(copy_type, None) if copy_type is not None else None,
        "copy_type_value": copy_type,
        "replica_type_value": replica_type,
        "replication_type": replication_type(kind, mode_name),
        "progress": _int(inst.get("PercentSynced")),
        "when_synced": when.isoformat() if when else None,
        "age_seconds": age,
        "lag_seconds": age if kind == "mirror" else None,
        "recovery_point": when.replace(microsecond=0).isoformat() if when else None,
        "suspended_at": suspended.isoformat() if suspended else None,
        "transferring": bool(transferring),
        "sync_maintained": inst.get("SyncMaintained"),
    }


def job_facts(inst: t.Any) -> dict[str, t.Any]:
    """A ConcreteJob judged by its OperationalStatus (not JobState alone: 3PAR ends failed jobs Completed)."""
    state = _int(inst.get("JobState"))
    status = [int(s) for s in inst.get("OperationalStatus") or []]
    terminal = state in JOB_TERMINAL_STATES or 17 in status
    failed = terminal and (state in JOB_FAILED_STATES or any(s in JOB_FAILED_STATUS for s in status))
    return {"instance_id": inst.path.keybindings.get("InstanceID") if inst.path is not None else None,
            "name": inst.get("Name"), "job_state": state, "operational_status": status,
            "percent_complete": _int(inst.get("PercentComplete")), "terminal": terminal,
            "ok": terminal and not failed, "error_code": _int(inst.get("ErrorCode")),
            "error_description": inst.get("ErrorDescription"), "description": inst.get("Description")}


class SmisClient:
    """One SMI-S provider (WBEM server), reached with pywbem over CIM-XML."""

    def __init__(self, params: dict[str, t.Any], label: str = "SMI-S provider") -> None:
        self.url = base_url(params["hostname"], params.get("port"), "https")
        self.namespace = (params.get("namespace") or "root/tpd").strip("/")
        self.username = params["username"]
        self.timeout = params.get("timeout") or 60
        self.label = label
        self.system: str | None = None
        self.sent = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        verify = tls_verify(params)
        self._tls: dict[str, t.Any] = {}
        if verify is False:
            self._tls["no_verification"] = True
        elif isinstance(verify, str):
            if not os.path.exists(verify):
                raise ReplicationError(f"ca_path {verify} does not exist")
            self._tls["ca_certs"] = verify
        self._credentials = (params["username"], params["password"])
        self._hidden = credential_forms(params["username"], params["password"])

    def _connection(self) -> t.Any:
        """This thread's connection: a WBEMConnection is not safe to share, so each bulk worker gets its own."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = pywbem.WBEMConnection(self.url, self._credentials, default_namespace=self.namespace,
                                         timeout=self.timeout, **self._tls)
            # requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override ca_path and validate_certs
            conn.session.trust_env = False
            # pywbem drops the body of an HTTP error; keep it, it is the provider's own message
            conn.session.hooks["response"].append(self._keep_error_body)
            # credentials (and the request) stay with the configured endpoint: a redirect is an error
            conn.session.max_redirects = 0
            self._local.conn = conn
        return conn

    def _keep_error_body(self, response: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        if response.is_redirect:
            self._local.redirect = (response.status_code, response.headers.get("Location"))
        elif response.status_code >= 400 and response.status_code != 401:
            text = (response.text or "").strip()
            self._local.error_body = text[:300] if text and not text.startswith("<") else None

    def where(self) -> str:
        return f"the SMI-S provider of {self.system}" if self.system else f"the SMI-S provider at {self.url}"

    # transport ---------------------------------------------------------------------------------
    def call(self, what: str, operation: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Run one pywbem operation; its errors become clear ReplicationErrors."""
        return self._send(what, False, operation, *args, **kwargs)

    def _send(self, what: str, write: bool, operation: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        with self._lock:
            self.sent += 1
        self._local.redirect = None
        try:
            return getattr(self._connection(), operation)(*args, **kwargs)
        except pywbem.Error as exc:
            if self._local.redirect is not None:
                status, location = self._local.redirect
                raise ReplicationError(
                    f"{self.url} answered HTTP {status}, a redirect to {location}, while {what}: redirects are not "
                    "followed (the credentials stay with the configured endpoint); set hostname and port to the "
                    "provider's own endpoint", http_status=status, location=location).hide(self._hidden) from None
            if write and _unanswered(exc):
                raise UnansweredWriteError(
                    f"{what} sent to {self.url} got no answer ({_reason(exc)}); the provider may or may not have "
                    "applied it. Rerun the task: it reads the provider's state first and continues from there"
                ).hide(self._hidden) from None
            raise self._error(what, exc).hide(self._hidden) from None

    def _error(self, what: str, exc: Exception) -> ReplicationError:
        text = str(exc)
        plain = self.url.startswith("http://")
        if isinstance(exc, pywbem.AuthError):
            return ReplicationError(f"{self.url} refused the credentials of user {self.username!r} (HTTP 401 "
                                    f"Unauthorized) while {what}: check username and password", http_status=401)
        if isinstance(exc, pywbem.TimeoutError):
            return ReplicationError(f"{self.url} did not answer within {self.timeout}s while {what}")
        if isinstance(exc, pywbem.ConnectionError):
            if "CERTIFICATE_VERIFY_FAILED" in text or "CertificateError" in text:
                return ReplicationError(
                    f"the TLS certificate of {self.url} does not verify ({_ssl_reason(text)}); set ca_path to the "
                    "file of the CA that signed it (validate_certs=false only in a lab)")
            if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer" in text:
                return ReplicationError(
                    f"{self.url} does not speak TLS: the port answers plain HTTP. Use the provider's HTTPS port "
                    "(5989 by default), or an http:// URL if you really mean an unencrypted connection")
            if "refused" in text.lower():
                return ReplicationError(f"cannot reach {self.url}: the connection was refused ({what})")
            if plain and ("aborted" in text.lower() or "RemoteDisconnected" in text or "reset" in text.lower()
                          or "BadStatusLine" in text):
                return ReplicationError(
                    f"{self.url} closed the connection on a plain-HTTP request: the port expects HTTPS. Use an "
                    "https:// URL (the default when hostname has no scheme)")
            return ReplicationError(f"cannot reach {self.url} while {what}: {text}")
        if isinstance(exc, pywbem.HTTPError):
            status = getattr(exc, "status", None)
            reason = getattr(exc, "reason", "") or ""
            cimerror = getattr(exc, "cimerror", None)
            detail = (getattr(exc, "cimdetails", None) or {}).get("PGErrorDetail")
            body, self._local.error_body = getattr(self._local, "error_body", None), None
            said = detail or body
            return ReplicationError(f"{self.url} answered HTTP {status} {reason} while {what}"
                                    + (f": {said}" if said else "") + (f" (CIMError: {cimerror})" if cimerror else ""),
                                    http_status=status, array_message=said or cimerror or reason)
        if isinstance(exc, pywbem.CIMError):
            code = int(exc.status_code)
            name = exc.status_code_name
            description = exc.status_description
            if code == CIM_ERR_INVALID_NAMESPACE:
                return CimError(f"namespace {self.namespace!r} does not exist on the SMI-S provider at {self.url} "
                                f"({description}); set namespace (HPE 3PAR uses root/tpd, many providers "
                                "root/cimv2)", code, cim_status=code, array_code=name, array_message=description)
            return CimError(f"{what} failed on {self.where()}: {name}: {description}", code, cim_status=code,
                            array_code=name, array_message=description)
        return ReplicationError(f"{what}: the answer of {self.url} is not valid CIM-XML ({type(exc).__name__}: "
                                f"{text}); is this URL a WBEM server?")

    # reads -------------------------------------------------------------------------------------
    def volumes(self) -> list[dict[str, t.Any]]:
        """Every storage volume of the namespace: DeviceID, ElementName, size in bytes, system, path."""
        found = self.call("listing the storage volumes", "EnumerateInstances", "CIM_StorageVolume",
                          PropertyList=VOLUME_PROPERTIES)
        out = []
        for inst in found:
            dev = device_id(inst.path)
            if dev is None:
                continue
            block = _int(inst.get("BlockSize")) or 0
            blocks = _int(inst.get("NumberOfBlocks")) or 0
            system = inst.path.keybindings.get("SystemName") or inst.get("SystemName")
            out.append({"device_id": dev, "name": inst.get("ElementName"), "size": block * blocks,
                        "system": str(system) if system is not None else None, "path": inst.path})
        systems = sorted({v["system"] for v in out if v["system"]})
        if self.system is None and systems:
            self.system = ", ".join(systems)
        return out

    def synchronizations(self) -> list[t.Any]:
        return list(self.call("listing the synchronizations", "EnumerateInstances", "CIM_StorageSynchronized"))

    def get_instance(self, path: t.Any, what: str) -> t.Any | None:
        """An instance, or None when the provider says it does not exist (stale path, purged job)."""
        try:
            return self.call(what, "GetInstance", path)
        except CimError as exc:
            if exc.status == CIM_ERR_NOT_FOUND:
                return None
            raise

    def service(self, classname: str, system: str | None = None) -> t.Any | None:
        """The path of the service of a class (subclasses included) hosted by ``system``; None if absent."""
        try:
            names = self.call(f"looking for the {classname}", "EnumerateInstanceNames", classname)
        except CimError as exc:
            if exc.status in UNAVAILABLE:
                return None
            raise
        if system:
            hosted = [n for n in names if str(n.keybindings.get("SystemName")) in system.split(", ")]
            names = hosted or names
        return names[0] if names else None

    def capabilities(self, service: t.Any, classname: str) -> list[t.Any]:
        try:
            return list(self.call(f"reading the {classname} of {service.classname}", "Associators", service,
                                  AssocClass="CIM_ElementCapabilities", ResultClass=classname))
        except CimError as exc:
            if exc.status in UNAVAILABLE:
                return []
            raise

    def associated_volumes(self, job: t.Any) -> list[t.Any]:
        return list(self.call("reading the elements of a job", "AssociatorNames", job,
                              AssocClass="CIM_AffectedJobElement", ResultClass="CIM_StorageVolume"))

    # methods ------------------------------------------------------------------------------------
    def invoke(self, what: str, target: t.Any, method: str, *, write: bool = True,
               **params: t.Any) -> tuple[int, dict[str, t.Any]]:
        """InvokeMethod with typed parameters (passed as Params, so no name clashes with pywbem's own).

        A ``write`` (a method that changes something) that was sent but got no answer raises
        UnansweredWriteError: only a fresh read can tell whether the provider applied it."""
        rc, out = self._send(what, write, "InvokeMethod", method, target,
                             Params=[(k, v) for k, v in params.items() if v is not None])
        return int(rc), dict(out or {})

    def _capability(self, what: str, caps: t.Any, method: str, **params: t.Any) -> tuple[int, dict[str, t.Any]] | None:
        try:
            return self.invoke(what, caps, method, write=False, **params)
        except CimError as exc:
            if exc.status in UNAVAILABLE:
                return None
            raise

    def supported_operations_for(self, caps: t.Any, sync: t.Any) -> list[int] | None:
        """Operations the provider accepts for one pair in its current state; None if it cannot tell."""
        answer = self._capability("asking which operations the synchronization accepts", caps,
                                  "GetSupportedOperationsForSynchronization", Synchronization=sync)
        if answer is None or answer[0] != RC_OK:
            return None
        return [int(o) for o in answer[1].get("SupportedOperations") or []]

    def supported_operations(self, caps: t.Any, rtype: int, copy_state: int | None = None) -> list[int] | None:
        """Operations offered for a ReplicationType (from ``copy_state`` when given); [] for a type not supported."""
        answer = self._capability(f"asking which operations {REPLICATION_TYPES.get(rtype, rtype)} offers", caps,
                                  "GetSupportedOperations", ReplicationType=pywbem.Uint16(rtype),
                                  CopyState=pywbem.Uint16(copy_state) if copy_state is not None else None)
        if answer is None:
            return None
        if answer[0] in (1, 2):  # Not Supported (HPE 3PAR answers 2 for types it does not offer)
            return []
        if answer[0] != RC_OK:
            return None
        return [int(o) for o in answer[1].get("SupportedOperations") or []]

    def supported_copy_states(self, caps: t.Any, rtype: int, operation: int | None = None) -> list[int] | None:
        """CopyStates of a ReplicationType (with ``operation``: the states it is accepted from)."""
        answer = self._capability("asking for the supported copy states", caps, "GetSupportedCopyStates",
                                  ReplicationType=pywbem.Uint16(rtype),
                                  Operation=pywbem.Uint16(operation) if operation is not None else None)
        if answer is None or answer[0] != RC_OK:
            return None
        return [int(s) for s in answer[1].get("SupportedCopyStates") or []]

    def job(self, path: t.Any) -> dict[str, t.Any] | None:
        inst = self.get_instance(path, "reading a job")
        return redact(job_facts(inst), self._hidden) if inst is not None else None

    def jobs(self) -> dict[str, dict[str, t.Any]]:
        """Every job of the namespace by InstanceID (one request, for polling many at once)."""
        found = self.call("listing the jobs", "EnumerateInstances", "CIM_ConcreteJob")
        facts = [redact(job_facts(inst), self._hidden) for inst in found]
        return {str(f["instance_id"]): f for f in facts if f["instance_id"] is not None}

    def job_errors(self, path: t.Any) -> list[dict[str, t.Any]]:
        """The embedded CIM_Error instances of a failed job (GetErrors, else GetError); [] when unavailable."""
        for method, key in (("GetErrors", "Errors"), ("GetError", "Error")):
            try:
                rc, out = self.invoke("reading the errors of a job", path, method, write=False)
            except CimError as exc:
                if exc.status in UNAVAILABLE + (CIM_ERR_NOT_FOUND,):
                    continue
                raise
            if rc != RC_OK:
                continue
            value = out.get(key)
            errors = value if isinstance(value, list) else [value] if value is not None else []
            return redact([{"message": e.get("Message"), "message_id": e.get("MessageID"),
                            "owning_entity": e.get("OwningEntity"), "cim_status": _int(e.get("CIMStatusCode"))}
                           for e in errors if hasattr(e, "get")], self._hidden)
        return []

    def describe_capabilities(self) -> dict[str, t.Any]:
        """What the provider offers: replication types with their operations and copy states, legacy operations."""
        system = self.system
        repl = self.service("CIM_ReplicationService", system)
        conf = self.service("CIM_StorageConfigurationService", system)
        out: dict[str, t.Any] = {"system": system, "namespace": self.namespace,
                                 "replication_service": repl.classname if repl is not None else None,
                                 "configuration_service": conf.classname if conf is not None else None,
                                 "replication_types": [], "legacy_synchronization_types": []}
        caps = self.capabilities(repl, "CIM_ReplicationServiceCapabilities") if repl is not None else []
        if caps:
            for rtype in [int(x) for x in caps[0].get("SupportedReplicationTypes") or []]:
                ops = self.supported_operations(caps[0].path, rtype)
                states = self.supported_copy_states(caps[0].path, rtype)
                out["replication_types"].append({
                    "value": rtype, "name": REPLICATION_TYPES.get(rtype, "vendor-specific"),
                    "operations": [{"value": o, "name": OPERATIONS.get(o, "vendor-specific")} for o in ops or []],
                    "copy_states": [{"value": c, "name": COPY_STATES.get(c, "vendor-specific")}
                                    for c in states or []]})
        for inst in self.capabilities(conf, "CIM_StorageReplicationCapabilities") if conf is not None else []:
            kind = _int(inst.get("SupportedSynchronizationType"))
            out["legacy_synchronization_types"].append({
                "value": kind, "name": LEGACY_SYNC_TYPES.get(kind or 0, "vendor-specific"),
                "modify_operations": [{"value": int(o), "name": LEGACY_OPERATIONS.get(int(o), "vendor-specific")}
                                      for o in inst.get("SupportedModifyOperations") or []]})
        return out


def _unanswered(exc: Exception) -> bool:
    """Whether a request was sent and then got no answer (not refused, not stopped by TLS before sending)."""
    if isinstance(exc, pywbem.TimeoutError):
        return True
    if not isinstance(exc, pywbem.ConnectionError):
        return False
    text = str(exc)
    unsent = ("refused", "CERTIFICATE_VERIFY_FAILED", "CertificateError", "WRONG_VERSION_NUMBER",
              "wrong version number", "record layer", "Name or service not known")
    return not any(marker.lower() in text.lower() for marker in unsent)


def _reason(exc: Exception) -> str:
    if isinstance(exc, pywbem.TimeoutError):
        return "timed out"
    text = str(exc)
    for marker in ("RemoteDisconnected", "Connection aborted", "Connection reset", "closed connection"):
        if marker.lower() in text.lower():
            return marker
    return text[:200]


def _ssl_reason(text: str) -> str:
    marker = "certificate verify failed:"
    if marker in text:
        return text.split(marker, 1)[1].split("(", 1)[0].strip()
    return "certificate verify failed"


def uint16(value: int) -> t.Any:
    return pywbem.Uint16(value)
