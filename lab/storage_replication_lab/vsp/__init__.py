"""The Hitachi VSP simulator: Configuration Manager REST (``/ConfigurationManager/v1``) for ShadowImage,
Thin Image and remote copy (TrueCopy, Universal Replicator, global-active device).

Built against ``specs/vsp-rest.md`` (the fact sheet). What the sheet leaves open,
the lab decides as follows, and keeps stable:

Paths
    Every object path is served unscoped (``/v1/objects/<type>...``) and scoped
    (``/v1/objects/storages/<storageDeviceId>/<type>...``; another id -> 404
    ``KART30013-E``). Object ids are comma-joined and may come raw or as ``%2C``.
    ``.../actions/<name>/invoke`` takes POST and PUT; ``GET .../actions/<name>``
    returns a template ``{"name", "parameters"}``. The resource-group lock is
    ``services/resource-group-service/actions/{lock,unlock}/invoke``, served under
    ``/v1/services/``, ``/v1/objects/services/`` and the scoped objects path.

Sessions
    ``POST sessions`` with Basic auth -> 200 ``{"token", "sessionId"}``. Every
    other call needs ``Authorization: Session <token>`` except ``GET storages``
    (the list) and ``GET /ConfigurationManager/configuration/version``. A session
    expires when idle longer than ``aliveTime`` (1-300 s, default 300) times the
    ``alive_time_scale`` setting, on the lab clock (``POST /_lab/clock`` ages it);
    any call with the token resets the idle time. 401 + ``WWW-Authenticate:
    Session realm="Block storage"`` and ``KART00002-E`` ("The specified token is
    invalid.") after expiry, on an unknown token, or without a token; session
    create with wrong credentials -> 401 + ``Basic realm="Block storage"``. The
    65th live session -> 503 ``KART00003-E``. ``DELETE sessions/<id>`` -> 200
    ``{"sessionId"}``; ``GET sessions[/<id>]`` (keep-alive probe) -> 200. Session
    create/delete, lock/unlock and every GET are not "mutating" in the lab's request log.

Jobs
    POST/PUT/PATCH/DELETE answer 202 with the job object of §9. A job is
    ``Initializing``/``Queued`` for ``job_seconds / 2``, then ``Running``/``Started``
    (the change is applied), and ``Completed`` ``job_seconds / 2`` later, except:
    without ``Job-Mode-Wait-Configuration-Change: NoWait`` a pair job stays
    ``Running`` until its pairs leave COPY/RCPY (it ends ``Failed`` with
    ``KART30000-E`` when a pair did not reach its target, e.g. went PSUE). Jobs run
    one at a time (``serial_jobs``), so a job waiting for a copy holds the jobs
    behind it in ``Queued`` (the stall the fact sheet warns about).
    ``Response-Job-Status: Completed`` holds the reply until the job completes (at
    most ``Response-Max-Wait`` seconds, else the ``max_hold`` setting); the reply
    is still 202 with the job body. The history keeps the last ``job_history``
    (3000) jobs. The generic ``fail_jobs`` fault fails the next jobs (state
    ``Failed``, ``KART30000-E`` with SSB1 ``fail_job_code`` or ``2E00``, or the
    ``fail_job_code`` itself when it starts with ``KART``).

Errors
    Synchronous errors are the §9 error object as the whole body:
    400 ``KART30004-E`` (bad header, query or body, unknown body field such as
    ``muNumber`` or ``isQuickModeEnabled``), 401 ``KART00002-E``, 404 ``KART30013-E``
    (object does not exist) or ``KART00004-E`` (no such URL), 405 ``KART00005-E``,
    412 ``KART30090-E`` (action not allowed in the pair status), 503 ``KART00003-E``
    (busy) or ``KART40052-E`` (resources locked by another session). Every error
    object carries ``solutionType``: ``RETRY`` for a 503, else ``SEE_ERROR_DETAIL``.
    Storage-side failures end the job ``Failed`` with ``job.error`` =
    ``KART30000-E``, message ``An error occurred in the storage system. (message =
    <the storage's text>)``, cause ``An error occurred during execution of a RAID
    Manager command.`` and ``errorCode {SSB1, SSB2}``. An action refused for the
    pair status is a synchronous 412 by default; with the setting
    ``invalid_state_reply: job`` it is a 202 job that ends ``Failed`` with the same
    error object. Injected 5xx answers are the error object, or an HTML page with
    ``html_errors: true``.

    Codes per failure. Sources: [HCS] Hitachi Command Suite Configuration Manager
    REST API Reference, "Error object" (storage-side example: ``KART30000-E``, "An
    error occurred in the storage system. (message = ...)"); [SAE] Storage Advisor
    Embedded guide MK-97HM85022, "Error object" (``KART70000-E`` + SSB, for the
    ``/simple/v1`` API); [CIN] OpenStack Cinder's Hitachi driver (hbsd_rest_api.py:
    ``LDEV_ALREADY_DEFINED``, ``NO_AVAILABLE_LDEV_ID``, ``_REST_LOCKED_ERRORS``,
    ``_MSGID_*``, ``MSGID_SPECIFIED_OBJECT_DOES_NOT_EXIST``; hbsd_horcm.py:
    ``INTERCEPT_LDEV_SSB``, ``INVALID_LUN_SSB``); [VSP1] Hitachi's vspone_block
    collection (keys on ``KART30000-E`` and on the text "Another copy pair might
    already be using the specified LDEV"); [sheet] specs/vsp-rest.md; [lab] no public
    source gives a code: the lab's own choice, kept stable.

    ======================================  ===========  ==========  ===============
    Failure                                 messageId    SSB1/SSB2   Source
    ======================================  ===========  ==========  ===============
    any storage-side job failure            KART30000-E  (below)     HCS, VSP1
    LDEV already defined (POST ldevs)       KART30000-E  2E22/0001   CIN (no retry)
    no undefined LDEV id in the range       KART30000-E  2E11/2209   CIN (no retry)
    LDEV not defined (delete, relabel,      KART30000-E  2E20/0000   CIN (raidcom
    P-VOL / S-VOL of a new pair)                                     delete ldev);
                                                                     pairs: lab
    pool does not exist (POST ldevs)        KART30000-E  2E10/9A70   lab
    snapshot pool missing (POST snapshots)  KART30000-E  2E30/600E   CIN
    pool full / over subscription limit     KART30000-E  2E10/9A71   lab
    pair name taken in the copy group       KART30000-E  2E11/9A05   sheet text; lab
    LDEV in another pair, paired LDEV       KART30000-E  2E10/9A23   VSP1 text; lab
    deleted, P-VOL = S-VOL, cascade
    S-VOL size differs from the P-VOL       KART30000-E  2E21/9A31   lab
    MU number taken / none free             KART30000-E  2E10/9A40   lab
    Thin Image P-VOL is an SI S-VOL not     KART30000-E  2E10/9A24   lab (rule: TI
    split, or under restore (create)                                 guide)
    isConsistencyGroup differs from the     KART30000-E  2E11/9A0A   lab
    snapshot group's mode
    copy group exists (isNewGroupCreation   KART30000-E  2E11/9A07   lab
    true), P and S DG names equal
    copy group missing (false), DGs differ  KART30000-E  2E10/9A08   lab
    copy failed, pair went PSUE             KART30000-E  2E31/9A60   lab
    fail_jobs fault                         KART30000-E  2E00/0000   lab
    object does not exist (404)             KART30013-E  -           CIN, sheet
    server busy, 65th session (503)         KART00003-E  -           CIN, sheet
    lock not obtained (lock job)            KART40050-E  -           CIN
    write while another session locks (503) KART40052-E  -           CIN
    action not allowed in the pair status   KART30090-E  -           lab (412: sheet,
    (also Thin Image, see thin_image.py)                             MK-98RD9014 TI)
    bad request (400)                       KART30004-E  -           lab
    invalid / expired token (401)           KART00002-E  -           lab
    no such URL (404) / method (405)        KART00004-E  -           lab
                                            KART00005-E
    ======================================  ===========  ==========  ===============

    ``KART70000-E`` is what the ``/simple`` API reports [SAE]; the objects API the
    lab serves reports ``KART30000-E`` [HCS]. The SSB pairs of ShadowImage refusals
    appear in no public source; the lab's pairs are distinct per failure.

Objects and fields (``fields.py``, ``pool.py``)
    ``fields.OBJECTS`` lists every object the lab serves with its documented fields,
    those it serves (some in certain states only) and those it leaves out;
    ``docs/docsite/rst/lab.rst`` carries the table it renders and a unit test reads
    each object from a running lab against it. Pools carry MK-98RD9014's HDP pool
    attributes with values from the lab's state (``pool.py``); sessions
    ``lastAccessedTime``; the storage list names the SVP (VSP 5000) or the two
    controllers (E, G/F series).

Resource lock (``lock.py``)
    One lock per array, held by a session: ``lock`` (body ``{"parameters":
    {"waitTime": 0-7200}}``, default 0; else 400) and ``unlock`` (no parameters) are
    jobs. Locking again as the holder, and unlocking without the lock, succeed. A
    lock held by another session keeps the job ``Running`` (outside the serial queue)
    up to ``waitTime`` s of lab clock, then it ends ``Failed`` with ``KART40050-E``.
    Deleting or the expiry of the holder's session frees the lock. While it is held,
    other sessions' writes to objects and actions are refused: 503 ``KART40052-E``
    (session create/delete, GETs, lock and unlock are not). ``GET /_lab/arrays/<name>``
    shows ``lock_holder`` (a session id or null).

ShadowImage (``shadowimage.py``)
    create -> COPY -> PAIR (``autoSplit`` -> PSUS/SSUS after the copy; with
    ``quickMode`` at once, the copy finishing in the background). split: from
    PAIR -> PSUS/SSUS (steady: COPY until pending updates are flushed; quick: at
    once), from the initial COPY it cancels the copy (next resync is full), from
    PSUS a no-op success, else 412. resync: PSUS/PSUE -> COPY -> PAIR (PSUE: full
    copy; ``quickMode``: PAIR at once, copy in the background), from
    COPY/PAIR/RCPY a no-op success. restore: PSUS -> RCPY -> PAIR (S -> P; refused
    while another pair of the P-VOL is not split, or when the S-VOL never got a
    complete copy), from RCPY a no-op, else 412 (so PAIR -> 412). Group split
    ``forceSuspend: true`` -> PSUE. Delete in any status; the last pair of a
    copy group takes the group and its device groups with it. Group actions are
    checked for every pair first and refused as a whole. ``copyProgressRate``:
    COPY/RCPY the share of the operation's bytes copied (<= 99 until it settles),
    PAIR 100, PSUS/PSUE the share of blocks identical on both volumes (0 when the
    next resync must copy in full). Pair writes in PAIR are update-copied in the
    background (kind ``si:update``). ``forceSplit`` is accepted and ignored (the
    lab has no Volume Migration pairs). Quick restore hands the S-VOL image to the
    P-VOL at once (a real array swaps the volumes; the swapped S-VOL is not
    modelled). Up to 3 pairs per P-VOL (MU 0-2), no cascade (an S-VOL cannot be a
    P-VOL). Create refuses (400) names with a comma (object ids could not carry
    them), ``quickMode`` without ``autoSplit``, ``isConsistencyGroup`` with
    ``autoSplit``, and ``copyMode`` other than ``NotSnapshot``.
    The pair list needs ``localCloneCopyGroupId`` (400 without it, with a hint when
    ``localCloneCopygroupId`` was sent); an unknown group lists as ``{"data": []}``;
    ``refresh`` (true/false) is accepted, the lab's view is always current.

Thin Image (``thin_image.py``; routes ``routes/snapshots.py``)
    ``snapshots`` and ``snapshot-groups``: create, list, actions ``split``,
    ``resync``, ``restore``, ``clone``, ``assign-volume``, ``unassign-volume``,
    delete. The S-VOL, P-VOL, size, MU and LDEV refusals reuse the ShadowImage
    codes above. Sources, the operation matrix and the lab's decisions are in the
    docstring of ``thin_image.py``.

Remote copy (``remote.py``, ``remote_setup.py``, ``remote_model.py``; routes ``routes/remote.py``,
``routes/remote_config.py``)
    ``remote-storages``, ``remotepath-groups``, ``journals``, ``quorum-disks``,
    ``remote-mirror-copygroups``, ``remote-mirror-copypairs`` (split, resync,
    takeover, delete) and ``remote-copypairs`` between two VSP arrays of the lab over
    the fabric link between them; ``Remote-Authorization`` and ``NotSpecified`` ids;
    topology key ``remote:``. The pair engine, the status table, the sources and the
    lab's decisions (SSB pairs 2E10/9B01-9B05, 2E11/9B07, ``KART30095-E`` for an
    unreachable remote array) are in the docstring of ``remote.py``.

Data and host access
    LDEV ``<id>`` is lab volume ``<id>`` (``/_lab/arrays/<array>/volumes/<id>``);
    host access per §8: S-VOL read-only unless split, P-VOL inaccessible in RCPY.

Settings (``PATCH /_lab/arrays/<name>/settings``, or ``settings:`` in the topology)
    ``job_seconds`` (0.05), ``job_history`` (3000), ``serial_jobs`` (true),
    ``max_sessions`` (64), ``alive_time_scale`` (1.0), ``max_hold`` (600),
    ``pace_rate`` (null: copies run at the internal link's rate; else bytes/s per
    copyPace unit), ``default_copy_pace`` (3), ``fail_copies`` (0: the next n copy
    rounds fail part-way -> PSUE), ``fail_copy_at`` (0.5), ``invalid_state_reply``
    ("412" or "job"), ``html_errors`` (false).

Topology
    ``storage_device_id`` (else the model prefix + the 6-digit serial), ``model``
    ("VSP G900"), ``serial``, ``pools: [{id, name, size, warning_threshold (70),
    depletion_threshold (80), subscription_limit (-1: unlimited, else % of the size
    the DP-VOLs may locate), pool_volume}]`` (the pool record: ``pool.py``),
    ``ldevs: [{id | id_base + count, size, pool, data_blocks, label}]``,
    ``settings: {...}``. A new LDEV is refused in a full pool or beyond the
    subscription limit.
"""

from __future__ import annotations

import collections
import logging
import secrets
import typing as t

from aiohttp import web

from ..fabric import parse_size
from ..array import READ_METHODS, ArrayBase
from ..simulators import SIMULATORS
from ..topology import expand_items
from .lock import ResourceLock
from .model import E_BUSY, E_STORAGE, MAX_LDEV_ID, SSB, Job, Ldev, Session, VspError, storage_error
from .pool import Pool
from .remote import RemoteCopy
from .shadowimage import ShadowImage
from .thin_image import ThinImage

MODEL_PREFIX = {"VSP G900": "886000", "VSP F900": "886000", "VSP G700": "886000", "VSP G370": "886000",
                "VSP 5000": "900000", "VSP 5500": "900000", "VSP E590": "934000", "VSP E790": "934000",
                "VSP E990": "936000", "VSP E1090": "938000", "VSP G350": "882000"}
SETTINGS = SIMULATORS["vsp"].settings  # the defaults, in the lab's simulator table
LOG = logging.getLogger("lab.vsp")


def _bool(value: t.Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


class Vsp(ArrayBase):
    vendor = "vsp"

    # settings (defaults in SETTINGS)
    job_seconds: float
    job_history: int
    serial_jobs: bool
    max_sessions: int
    alive_time_scale: float
    max_hold: float
    pace_rate: int | None
    default_copy_pace: int
    fail_copies: int
    fail_copy_at: float
    invalid_state_reply: str
    html_errors: bool

    def __init__(self, lab, name: str, spec: dict[str, t.Any]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(lab, name, spec)
        self.model = str(spec.get("model", "VSP G900"))
        self.serial = int(spec.get("serial", 400000 + sum(name.encode()) % 100000))
        self.storage_device_id = str(spec.get("storage_device_id") or
                                     f"{MODEL_PREFIX.get(self.model, '886000')}{self.serial:06d}")
        if len(self.storage_device_id) != 12 or not self.storage_device_id.isdigit():
            raise ValueError(f"{name}: storage_device_id must be 12 digits, not {self.storage_device_id!r}")
        for key, value in SETTINGS.items():
            setattr(self, key, value)
        self.settings(dict(spec.get("settings") or {}))
        self.pools: dict[int, Pool] = {}
        for pool in spec.get("pools") or [{"id": 0, "name": "pool0", "size": "100TiB"}]:
            self.pools[int(pool["id"])] = Pool(int(pool["id"]), str(pool.get("name", f"pool{pool['id']}")),
                                               parse_size(pool.get("size", "100TiB")), pool)
        self.ldevs: dict[int, Ldev] = {}
        self.si = ShadowImage(self)
        self.ti = ThinImage(self)
        self.rc = RemoteCopy(self)
        for item in expand_items(spec.get("ldevs"), key="id"):
            pool = item.get("pool", next(iter(self.pools), None))
            ldev = self.define_ldev(int(item["id"]), parse_size(item.get("size", "1GiB")),
                                    None if pool is None else int(pool), str(item.get("label", "")))
            if item.get("data_blocks"):
                ldev.volume.write(min(int(item["data_blocks"]), ldev.volume.nblocks), offset=0)
        self.rc.load(dict(spec.get("remote") or {}))
        self.sessions: dict[int, Session] = {}
        self.jobs: collections.OrderedDict[int, Job] = collections.OrderedDict()
        self.queue: collections.deque[Job] = collections.deque()
        self.current: Job | None = None
        self.waiting: set[Job] = set()
        self.lock = ResourceLock(self)
        self.fabric.hooks.append(self._tick)

    # lab hooks -------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        from .routes import build_app  # pylint: disable=import-outside-toplevel
        return build_app(self)

    def post_init(self) -> None:
        self.rc.post_init(dict(self.spec.get("remote") or {}))

    def endpoint_extra(self) -> dict[str, t.Any]:
        return {"storage_device_id": self.storage_device_id, "model": self.model, "serial_number": self.serial}

    def is_mutating(self, request: web.Request, body: bytes) -> bool:
        if request.method in READ_METHODS:
            return False
        parts = [p for p in request.path.split("/") if p]
        # the resource-group lock counts: while it is held, no other session may change anything
        if parts[:3] == ["ConfigurationManager", "v1", "objects"]:
            parts = parts[3:]
            if len(parts) >= 3 and parts[0] == "storages":
                parts = parts[2:]
            if parts and parts[0] == "sessions":
                return False
        return True

    def fault_response(self, status: int) -> web.StreamResponse:
        if self.html_errors:
            return web.Response(text=f"<html><head><title>{status} Error</title></head><body><h1>{status} "
                                     "Service Unavailable</h1></body></html>", status=status,
                                content_type="text/html", charset="UTF-8")
        message_id = E_BUSY if status == 503 else E_STORAGE
        body = VspError(status, message_id, "The server is busy (injected by the lab).",
                        "The REST API server cannot process the request now.",
                        "Wait a while, and then try again.").body("/ConfigurationManager/v1")
        return web.json_response(body, status=status, content_type="application/json")

    def settings(self, values: dict[str, t.Any]) -> dict[str, t.Any]:
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown VSP settings: {', '.join(sorted(unknown))}")
        converted: dict[str, t.Any] = {}
        for key, value in values.items():
            if key in ("serial_jobs", "html_errors"):
                converted[key] = _bool(value)
            elif key in ("job_history", "max_sessions", "default_copy_pace", "fail_copies"):
                converted[key] = int(value)
            elif key == "pace_rate":
                converted[key] = None if value in (None, 0, "") else parse_size(value)
            elif key == "invalid_state_reply":
                if str(value) not in ("412", "job"):
                    raise ValueError("invalid_state_reply must be '412' or 'job'")
                converted[key] = str(value)
            else:
                converted[key] = float(value)
        if not 0.0 <= float(converted.get("fail_copy_at", 0.5)) <= 1.0:
            raise ValueError("fail_copy_at must be between 0 and 1")
        if "pace_rate" in converted and hasattr(self, "si"):
            self.fabric.advance()
        for key, value in converted.items():
            setattr(self, key, value)
        if "pace_rate" in converted and hasattr(self, "si"):
            for pair in self.si.pairs():  # running copies follow the new pace at once
                if pair.transfer is not None:
                    pair.transfer.rate_cap = self.pace_rate * pair.pace if self.pace_rate else None
            self.ti.rate_changed()
        return {key: getattr(self, key) for key in SETTINGS}

    def describe(self) -> dict[str, t.Any]:
        out = super().describe()
        now = self.clock.now()
        out.update({
            "storage_device_id": self.storage_device_id,
            "sessions": sum(1 for s in self.sessions.values() if not s.expired(now, self.alive_time_scale)),
            "jobs": len(self.jobs), "queued_jobs": len(self.queue),
            "running_job": self.current.job_id if self.current is not None else None,
            "ldevs": len(self.ldevs), "copy_groups": sorted(self.si.groups),
            "pairs": {p.pair_id: p.lab_state() for p in self.si.pairs()},
            **self.ti.describe(),
            **self.rc.describe(),
            "settings": {key: getattr(self, key) for key in SETTINGS},
        })
        out.update(self.lock.describe())
        return out

    def _tick(self, now: float) -> None:
        self.si.tick(now)
        self.ti.tick(now)
        self.rc.tick(now)
        self.lock.settle()

    # LDEVs -------------------------------------------------------------------------------------
    def define_ldev(self, ldev_id: int, size: int, pool_id: int | None, label: str = "") -> Ldev:
        if not 0 <= ldev_id <= MAX_LDEV_ID:
            raise ValueError(f"{self.name}: LDEV id {ldev_id} is outside 0-{MAX_LDEV_ID}")
        if ldev_id in self.ldevs:
            raise ValueError(f"{self.name}: LDEV {ldev_id} is defined twice")
        volume = self.fabric.new_volume(self.name, str(ldev_id), size)
        volume.listeners.append(lambda _vol, indices: self.si.on_host_write(ldev_id, indices))
        volume.listeners.append(lambda _vol, indices: self.ti.on_host_write(ldev_id, indices))
        volume.listeners.append(lambda _vol, indices: self.rc.on_host_write(ldev_id, indices))
        ldev = Ldev(ldev_id, volume, pool_id, label)
        self.ldevs[ldev_id] = ldev
        return ldev

    def create_ldev(self, spec: dict[str, t.Any]) -> Ldev:
        """``POST ldevs`` inside its job."""
        pool_id = int(spec["poolId"])
        pool = self.pools.get(pool_id)
        if pool is None:
            raise storage_error(f"The specified pool ({pool_id}) does not exist.", "pool")
        if spec.get("ldevId") is not None:
            ldev_id = int(spec["ldevId"])
            if ldev_id in self.ldevs:
                raise storage_error(f"The specified LDEV ({ldev_id}) is already defined.", "ldev_defined")
        else:
            first = int(spec.get("startLdevId") or 0)
            last = int(spec["endLdevId"]) if spec.get("endLdevId") is not None else MAX_LDEV_ID
            ldev_id = next((i for i in range(first, last + 1) if i not in self.ldevs), -1)
            if ldev_id < 0:
                raise storage_error(f"No undefined LDEV id is left between {first} and {last}.", "no_ldev_id")
        refusal = pool.refusal(self.pool_ldevs(pool), int(spec["size"]))
        if refusal is not None:
            raise storage_error(refusal, "pool_full")
        return self.define_ldev(ldev_id, int(spec["size"]), pool_id)

    def delete_ldev(self, ldev: Ldev) -> None:
        if self.si.pairs_of(ldev.ldev_id) or self.ti.snapshots_of(ldev.ldev_id) or self.rc.in_use(ldev.ldev_id):
            raise storage_error(f"The LDEV ({ldev.ldev_id}) cannot be deleted: it is used by a copy pair.",
                                "ldev_in_use")
        self.ldevs.pop(ldev.ldev_id, None)
        self.fabric.drop_volume(ldev.volume)

    def pool_ldevs(self, pool: Pool) -> list[Ldev]:
        """The DP-VOLs located in ``pool``."""
        return [ldev for ldev in self.ldevs.values() if ldev.pool_id == pool.pool_id]

    # sessions ----------------------------------------------------------------------------------
    def purge_sessions(self) -> None:
        now = self.clock.now()
        expired = [sid for sid, s in self.sessions.items() if s.expired(now, self.alive_time_scale)]
        for sid in expired:
            del self.sessions[sid]
        if expired:
            self.lock.settle()

    def logout(self, session_id: int) -> None:
        """``DELETE sessions/<id>``: the session ends, and with it its resource-group lock."""
        self.sessions.pop(session_id, None)
        self.lock.settle()

    def login(self, alive_time: int, auth_timeout: int, ip_address: str = "127.0.0.1") -> Session:
        self.purge_sessions()
        if len(self.sessions) >= self.max_sessions:
            raise VspError(503, E_BUSY, f"The number of sessions has reached the maximum ({self.max_sessions}).",
                           "Too many sessions are in use.",
                           "Delete sessions that are no longer needed, or wait until they time out.")
        session = Session(secrets.token_hex(24), self.username, alive_time, auth_timeout, self.clock.now(),
                          ip_address)
        self.sessions[session.session_id] = session
        return session

    def session_for(self, token: str) -> Session | None:
        self.purge_sessions()
        for session in self.sessions.values():
            if secrets.compare_digest(session.token, token):
                session.last_used = self.clock.now()
                return session
        return None

    # jobs --------------------------------------------------------------------------------------
    def submit(self, method: str, url: str, body: t.Any, nowait: bool,
               action: t.Callable[[Job], None]) -> Job:
        job = Job(self.username, method, url, body, nowait, self.clock.now())
        job.action = action
        self.jobs[job.job_id] = job
        while len(self.jobs) > max(1, self.job_history):
            self.jobs.popitem(last=False)
        self.queue.append(job)
        self._pump()
        return job

    def _pump(self) -> None:
        while self.queue and (self.current is None or not self.serial_jobs):
            job = self.queue.popleft()
            if self.serial_jobs:
                self.current = job
            self.lab.schedule(self.job_seconds / 2, lambda job=job: self._start(job))

    def _start(self, job: Job) -> None:
        self.fabric.advance()
        job.status, job.state, job.updated = "Running", "Started", self.clock.now()
        failure = self.faults.take_job_failure()
        if failure is not None:
            message, code = failure
            if code.startswith("KART"):
                error = VspError(500, code, message)
            else:
                error = storage_error(message, "injected")
                error.ssb = (code or SSB["injected"][0], SSB["injected"][1])
            self._finish(job, error)
            return
        try:
            assert job.action is not None
            job.action(job)
        except VspError as exc:
            self._finish(job, exc)
            return
        except Exception as exc:  # pylint: disable=broad-except
            # a lab bug must not wedge the job queue
            LOG.exception("%s: job %s failed inside the lab", self.name, job.job_id)
            self._finish(job, storage_error(f"The lab failed to run the job: {exc!r}.", "injected"))
            return
        if job.parked:  # a lock job waiting for the lock leaves the serial queue until ``resume``
            if self.current is job:
                self.current = None
            self._pump()
            return
        self.lab.schedule(self.job_seconds / 2, lambda: self._ready(job))

    def resume(self, job: Job, error: VspError | None = None) -> None:
        """Go on with a parked job: it completes ``job_seconds / 2`` from now, or ends now with ``error``."""
        job.parked = False
        if error is not None:
            self._finish(job, error)
        else:
            self.lab.schedule(self.job_seconds / 2, lambda: self._ready(job))

    def _ready(self, job: Job) -> None:
        self.fabric.advance()
        job.ready = True
        self.waiting.add(job)
        self.check_jobs()

    def check_jobs(self) -> None:
        """Complete the running jobs that have nothing left to wait for."""
        for job in sorted(self.waiting, key=lambda j: j.job_id):
            if job.nowait or all(pair.settled for pair, _target in job.waits_for):
                missed = [(p, target) for p, target in job.waits_for
                          if not job.nowait and not p.deleted and p.status != target]
                error = None
                if missed:
                    pair, target = missed[0]
                    error = storage_error(f"The pair ({pair.pair_id}) did not reach {target}: it is {pair.status}"
                                          f"{' (' + pair.last_error + ')' if pair.last_error else ''}.",
                                          "copy_failed")
                self._finish(job, error)

    def _finish(self, job: Job, error: VspError | None = None) -> None:
        now = self.clock.now()
        job.status, job.updated, job.completed = "Completed", now, now
        job.ready = True
        self.waiting.discard(job)
        if error is None:
            job.state = "Succeeded"
        else:
            job.state = "Failed"
            job.error = error.body(job.url)
        for waiter in job.waiters:
            if not waiter.done():
                waiter.set_result(True)
        if self.current is job:
            self.current = None
        self._pump()


def create_array(lab, name: str, spec: dict[str, t.Any]) -> Vsp:  # type: ignore[no-untyped-def]
    return Vsp(lab, name, spec)
