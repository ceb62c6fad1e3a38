"""The SMI-S simulator: a WBEM server speaking CIM-XML (``POST /cimom``) for array replication.

Each array is one WBEM server on two loopback ports: HTTPS (the lab's TLS
context; ``url`` in ``endpoints.json``) and plain HTTP (``http_url``). Any path
is accepted for the CIM-XML POST (pywbem uses ``/cimom``). Basic auth with the
array's credentials; anything else gets 401 and ``WWW-Authenticate: Basic``.

Design
======

Protocol (``cimxml.py``). Requests are decoded with ``xml.etree`` (no private
pywbem API is used); responses are built from pywbem's public CIM objects
(``tocimxmlstr``) inside our own envelope, with explicit end tags throughout
(sblim-wbemcli refuses ``<X/>``). HTTP 200 with ``<ERROR CODE DESCRIPTION>`` for
CIM errors, ``Content-Type: application/xml; charset="utf-8"``,
``CIMOperation: MethodResponse``, ``PARAMTYPE`` on RETURNVALUE and every
out-parameter (NULL out-parameters are left out: read them with ``.get()``).
Not well-formed XML -> 400 + ``CIMError: request-not-well-formed``; a well-formed
message that is not a SIMPLEREQ -> 400 ``request-not-valid``; MULTIREQ -> 501;
a ``CIMOperation`` header other than MethodCall -> 400 ``unsupported-operation``;
a ``CIMMethod`` header that differs from the body -> 400 ``header-mismatch``.

Intrinsic operations: GetInstance, EnumerateInstances, EnumerateInstanceNames,
Associators, AssociatorNames, References, ReferenceNames, GetClass,
EnumerateClassNames, EnumerateClasses, EnumerateQualifiers, GetQualifier,
DeleteInstance (finished jobs only) and ModifyInstance (replication groups
only; see below). Everything else (Open*, Pull*, ExecQuery, CreateInstance,
...) answers CIM_ERR_NOT_SUPPORTED (7), so pywbem's ``Iter*`` and pywbemcli fall
back to the traditional operations.
Unknown intrinsic parameters and parameters of the wrong shape answer
CIM_ERR_INVALID_PARAMETER; a namespace the server does not have (it has two: the
implementation namespace and the interop namespace) CIM_ERR_INVALID_NAMESPACE;
an unknown class CIM_ERR_INVALID_CLASS; a path that names nothing
CIM_ERR_NOT_FOUND.

Interop namespace (``interop.py``): ``interop`` (3par) / ``root/interop``
(generic) serves the Server and Profile Registration profiles for standard WBEM
discovery (pywbem ``WBEMServer``, ``pywbemcli server info`` / ``profile
list``): CIM_ObjectManager, CIM_Namespace (+ NamespaceInManager), the SNIA
profiles each provider registers (CIM_RegisteredProfile / RegisteredSubProfile,
SubProfileRequiresProfile, ReferencedProfile) and CIM_ElementConformsToProfile
from the Array profile to the storage system, a cross-namespace association
served in both namespaces. Names, versions and sources are in its docstring.

Classes (``mof/``, ``schema.py``). ``mof/cim.mof`` is the project's own subset of
the CIM schema (properties, methods and ValueMaps of the fact sheet) and
``mof/tpd.mof`` / ``mof/lab.mof`` the vendor classes. They are compiled once per
process with pywbem's MOF compiler (through ``pywbem_mock.FakedWBEMConnection``,
public API) and GetClass & co. are answered from that repository, qualifiers
included, so ``pywbem.ValueMapping`` works. Instances are not stored there:
``provider.py`` renders them from the live model on every request.

Extrinsic methods: parameters are typed by the method declaration. A
``PARAMTYPE`` that differs from the declared type, an unknown or output-only
parameter, or a missing ``[Required]`` one -> CIM_ERR_INVALID_PARAMETER (integers
must be sent typed: ``pywbem.Uint16(...)``). A method the class does not declare
-> CIM_ERR_METHOD_NOT_FOUND; one it declares but the profile does not
implement -> CIM_ERR_METHOD_NOT_AVAILABLE.

Profiles
========

``3par`` (array ``smis-a``): namespace ``root/tpd``, classes ``TPD_*``: the
StorageSystem, StorageVolume, StorageSynchronized, ConcreteJob,
ReplicationService, StorageConfigurationService, ReplicationServiceCapabilities,
StorageReplicationCapabilities (three instances: UnSyncAssoc-Delta = virtual
copy, UnSyncAssoc-Full = physical copy kept associated, UnSyncUnAssoc),
HostedService, SystemDevice, ElementCapabilities, AffectedJobElement and
OwningJobElement. Local copies only; no remote copy, no mirror.

- ``CreateReplica`` (StorageConfigurationService) makes a virtual copy: CopyType
  4 only (another -> rc 4, none -> rc 5), rc 0, no job, out TargetElement;
  SyncState 11 Idle (CopyState 8). A taken ElementName -> rc 4.
- ``AttachOrModifyReplica`` makes a physical copy into an existing volume of at
  least the source's size: CopyType 4 (stays associated; SyncState 5 -> 14
  Frozen) or 5 (the pair is removed when the copy completes); rc 4096 + Job.
  A target already in a pair -> rc 4; a bad or too small volume -> rc 5.
- ``ModifySynchronization`` operations 2-13 as the 3PAR reference describes:
  2 Detach (physical, from 14 or 12; rc 0, the pair goes, the target is an
  independent volume), 4 Resync (physical UnSyncAssoc, from 14 only: a Broken
  (12) target cannot be resynced; job, 5 -> 14, only changed blocks move),
  5 Restore (virtual copy, from 11; job, 10 -> 11, the source gets the copy's
  data), 12 Start Copy (physical UnSyncAssoc, from 14; job, full copy, 15 -> 14),
  13 Stop Copy (physical, while copying; rc 0, the pair is deleted).
  3 Fracture ("not supported for local copy"), 6 Prepare, 7 Unprepare,
  8 Quiesce, 9 Unquiesce, 10 Reset to Sync, 11 Reset to Async and any operation
  the copy kind does not offer -> rc 1 Not Supported, nothing changes. Wrong state
  -> rc 4 Failed; a Synchronization path that names no pair -> rc 4 Failed (the
  3PAR reference's "pair not found"); an operation outside 2..13 -> rc 5.
- ``CreateElementReplica`` (ReplicationService, 3PAR subset): SyncType 7
  Snapshot (TargetElement must be NULL) -> virtual copy, rc 0; SyncType 8 Clone
  with Mode 2 / NULL -> ReplicationType 10 (auto-detaches) or Mode 3 -> 11
  (stays associated), TargetElement optional (created like the source when
  NULL), rc 4096; SyncType 6 Mirror / 9 -> rc 1; RSD, access points or a
  TargetPool (the lab has no pools) -> rc 5; a taken ElementName -> rc 4.
- ``ModifyReplicaSynchronization``: 10 -> {2 Abort}; 11 -> {2 Abort (halt: the
  pair goes), 8 Detach, 9 Dissolve, 14 Resync}; 6 -> {8, 9, 15 Restore
  (promote), 19 Return To ResourcePool (deletes the virtual copy)}. Other
  operations -> rc 1; wrong state (e.g. Resync of a Broken copy) -> rc 4 (the
  3PAR rc set 0/1/4/5/4096 has no 6); RSD, Force or SyncPair -> rc 5; stale
  path -> CIM_ERR_NOT_FOUND.
- Capabilities: GetSupportedOperations 10 -> {2}, 11 -> {2,8,9,14},
  6 -> {8,9,15,19}; any other ReplicationType -> rc 2 (HP's "not supported");
  GetSupportedWaitForCopyStates 10 -> [4] (create only), 11 -> [8], 6 -> [4], as
  the fact sheet lists them (note 7c maps an idle physical copy to CopyState 4).
- SyncState is primary; CopyState/ProgressStatus follow table 7c:
  2<->2/2, 5<->3/6, 15<->3/7, 14<->4/2, 11<->8/2, 10<->4/8, 12<->5/15.
- Jobs end ``OperationalStatus [17, 2]``; a failed job ends JobState 7
  Completed with ``OperationalStatus [17, 6]`` plus ErrorCode/ErrorDescription
  (judge a job by OperationalStatus, not JobState alone). RequestStateChange(4)
  cancels a task (rc 4096).

``generic`` (array ``smis-b``): namespace ``root/cimv2``, classes ``LAB_*`` (the
same set without the legacy service and capabilities), the SNIA Replication
Services profile for local mirrors, clones and snapshots.

- ``CreateElementReplica``: SyncType 6 Mirror (Mode 2 sync / 3 async; 4, 5 ->
  rc 1), 8 Clone, 7 Snapshot; 9 -> rc 1; TargetElement optional (created with
  ElementName, else ``<source>_m1``/``_c1``/``_s1``); an existing target must be
  at least the source's size (else rc 5) and not already a target (rc 6);
  TargetPool -> rc 5 (the lab has no pools); access points -> rc 1. Mirror and
  clone: rc 4096 + Job + TargetElement + Synchronization, CopyState 3 / 6
  Synchronizing -> 4 Synchronized. Snapshot: rc 0, CopyState 4 at once.
- ``ModifyReplicaSynchronization`` operations and the CopyStates each is
  accepted from (else rc 6 In Use; operations the sync type does not offer or
  vendor values -> rc 1; values outside the ValueMap -> rc 5; stale path ->
  CIM_ERR_NOT_FOUND):

  ======================  ===================  ========================  ===================
  operation               mirror from          clone / snapshot from     result
  ======================  ===================  ========================  ===================
  2 Abort                 2, 3                 clone 2, 3                12 Aborted, rc 0
  4 Activate              8, 11                -                         3 -> 4, job
  7 Deactivate            3, 4                 -                         8 Inactive, rc 0
  8 Detach / 9 Dissolve   any                  any                       pair gone, rc 0
  10 Failover             4, 5, 6, 7, 9        -                         10, rc 0
  11 Failback             10                   -                         3 -> 4, job (*)
  12 Fracture             3, 4                 clone 4                   6, rc 0
  14 Resync Replica       5, 6, 7, 12, 18      clone 4,5,6,7,12,18;      3 -> 4, job;
                                               snapshot 4, 5, 18         snapshot rc 0
  15 Restore from Replica 6, 7                 clone 4, 6, 7;            18 Restored, job
                                               snapshot 4, 18
  16 Resume               9                    -                         3 -> 4, job
  17 / 18 Reset To Sync / 3, 4                 -                         Mode 2 / 3, rc 0
  Async
  19 Return To Pool       -                    snapshot 4, 5, 18         pair and target
                                                                         deleted, rc 0
  20 Reverse Roles        any but 2, 3         -                         same CopyState,
                                                                         UpdatedSynchronization
  21 Split                4                    clone 4                   7, rc 0
  22 Suspend              3, 4                 -                         9, rc 0
  ======================  ===================  ========================  ===================

  (*) Failback copies what was written on the target while failed over back to
  the source, then mirroring resumes source -> target. While a Restore or
  Failback runs only Detach / Dissolve are accepted. Reverse Roles is refused
  (rc 6) while an asynchronous update is in flight or when the source is itself
  the target of another pair; Return To ResourcePool (rc 6) while the snapshot
  takes part in another pair. SyncPair (group operations) -> rc 5.
- Capabilities: SupportedReplicationTypes [2, 3, 6, 7, 10, 11]; other
  ReplicationTypes -> rc 1; GetSupportedOperations / ForSynchronization (the
  operations accepted in the pair's current state) / GetSupportedCopyStates
  (HostAccessible = the target is writable by hosts) /
  GetSupportedWaitForCopyStates (create -> [4]; modify -> the result column).
- Jobs end ``OperationalStatus [2, 17]``; failures end JobState 10 Exception
  with ``[6, 17]``. RequestStateChange(4 Terminate) aborts the job's copy (rc 0;
  the pair goes Aborted, or Broken for a Restore / Failback); other
  RequestedStates -> rc 1, a TimeoutPeriod -> rc 4098, a finished job -> 4097.
- SyncState is derived from CopyState for legacy readers (4 -> 6 mirror /
  14 clone / 11 snapshot, 3 -> 5, 5/12 -> 12, 6/7/10 -> 13, 9 -> 9, 8/18 -> 11).

Both profiles
=============

Replication groups (``groups.py``; CIM_ReplicationGroup, as ``TPD_`` / ``LAB_``
ReplicationGroup, key InstanceID ``<array>:RG:<n>``; the system names its groups
over CIM_HostedCollection, a group its member volumes over
CIM_OrderedMemberOfCollection). A group name is unique on its system, so an
empty group of a chosen name serves as a claim.

- ``CreateGroup`` (ReplicationService): GroupName (its ElementName), Members
  (volumes of this system, optional: an empty group), Persistent (default TRUE),
  DeleteOnEmptyElement, DeleteOnUnassociated (default FALSE) -> rc 0 and out
  ReplicationGroup. A group of that exact name exists -> rc 4, nothing created,
  no ReplicationGroup; a NULL or blank GroupName, or a member that is no volume
  of this system -> rc 5. Atomic: the check and the creation run without any
  other request in between (one asyncio loop, no await), so of concurrent calls
  with one name exactly one gets 0.
- ``DeleteGroup`` (ReplicationService): ReplicationGroup (required), RemoveElements
  -> rc 0. A group with members and RemoveElements not TRUE -> rc 4 (the lab's
  choice; member volumes are never deleted); a group that does not exist (deleted
  already) -> CIM_ERR_NOT_FOUND.
- ``ModifyInstance`` of a group changes Description, Persistent,
  DeleteOnEmptyElement and DeleteOnUnassociated: the properties of the
  PropertyList (a listed property the instance lacks becomes NULL), or without
  one every property the instance carries. A changed ElementName, InstanceID or
  Caption -> CIM_ERR_FAILED saying it cannot be changed (unchanged values pass,
  so a GetInstance result can be sent back); a property the class lacks ->
  CIM_ERR_INVALID_PARAMETER, a value of the wrong type -> CIM_ERR_TYPE_MISMATCH;
  instances of other classes -> CIM_ERR_NOT_SUPPORTED; an unknown group ->
  CIM_ERR_NOT_FOUND. Nothing changes unless everything can.
- The lab keeps the flags; with no group synchronizations only
  DeleteOnEmptyElement acts (a group whose last member volume is deleted goes).
  ``GET /_lab/arrays/<a>`` lists ``replication_groups``; groups live as long as
  the lab process (there is no reset of SMI-S state).

Names and keys. Volumes: keys SystemCreationClassName, SystemName (the
system's Name, default the array name), CreationClassName, DeviceID.
``DeviceID`` is the volume's id as a decimal string (topology ``id`` /
``id_base``, new volumes get the next free id) and is also the volume's
control-API key: ``GET /_lab/arrays/<array>/volumes/<DeviceID>``. ``ElementName``
is the name given in the topology or to CreateReplica/CreateElementReplica
(3par refuses duplicates; generic allows them). Pairs: keys SystemElement
(source) and SyncedElement (target); Reverse Roles swaps them, so the old path
then answers CIM_ERR_NOT_FOUND. Jobs: key InstanceID ``<array>:JOB:<n>``.
``GET /_lab/arrays/<a>`` lists every pair with its internal state (kind,
CopyState, SyncState, what runs on it, its transfer and job).
Navigation: system -> services over HostedService, system -> volumes over
SystemDevice, service -> capabilities over ElementCapabilities, job -> created
target over AffectedJobElement (ElementEffects [6] Create; [2] for a target
that existed; modify jobs also name the source with [3]), service -> job over
OwningJobElement, volume -> pairs with References(ResultClass=
CIM_StorageSynchronized).

Data. Every volume is a fabric ``Volume``; copies run as fabric transfers on the
array's internal link (``GET /_lab/transfers``; kinds ``smis-*``): creation and
Start Copy move every block, Resync / Resume / Activate / Restore / Failback
only the blocks that differ between the two sides, and when a transfer ends the
destination holds exactly the image taken when it started (a mirror then loops
until it caught up with later writes). Synchronous mirrors in CopyState 4 apply
host writes to the target at once; asynchronous ones with a background update
transfer (``smis-mirror-update``). Snapshots and virtual copies are instant.

Progress and points in time (every CIM_StorageSynchronized):

- ``PercentSynced``: while a copy, resync, restore, failback or mirror update
  runs, its progress (99 at most until it ends). Otherwise the share of the
  volume's blocks that are identical on both sides, rounded down, computed over
  the capacity in blocks (of the larger volume), not over the blocks written: so
  ``(100 - PercentSynced)`` percent of the capacity bounds the bytes that differ
  (a client's data-loss bound). It does not say which side was written. 100
  means the two sides are identical.
- ``WhenSynced``: the point in time the target holds. A Synchronized mirror that
  caught up (no update in flight, identical blocks) reports now; an asynchronous
  one with an update in flight the time of the image the last update delivered
  (its start when the source changed meanwhile). A Fracture, Split, Suspend or
  Failover that finds the mirror caught up records its own time; nothing renews
  it while the pair is not Synchronized, so its age keeps growing. Clones and
  snapshots: when the last copy or resync (``3par``: also restore) completed;
  NULL before that.
- ``WhenSuspended`` (CIM_Synchronized since schema 2.29, added to the lab's
  ``cim.mof`` subset by ``schema.py``): when the pair was last fractured, split,
  suspended or failed over; NULL if never (always NULL on ``3par``, whose local
  copies have none of those states). ``WhenSynced >= WhenSuspended`` on a
  failed-over mirror says the target held every source write at the failover,
  and the source is read-only to hosts from then on: a Failback discards nothing.

Host access (the control API refuses writes to a volume that is not "rw"):
mirror targets are "ro" except when Fractured, Split, Failedover or Restored
("rw"); a failed-over mirror's source is "ro"; clone and physical copy targets
are "none" while copying, "rw" otherwise; snapshot targets "rw"; the source of a
running Restore / Failback is "none" and its target "ro".

Jobs. rc 4096 returns a ConcreteJob path in ``Job``; the job is Running
(JobState 4, OperationalStatus [2]) with PercentComplete following the copy,
and ends as above. It stays readable for ``job_retention`` seconds after it
ended (TimeBeforeRemoval), then GetInstance answers CIM_ERR_NOT_FOUND.
``WaitForCopyState`` (values from GetSupportedWaitForCopyStates, else rc 5)
makes the call return only when its job has ended: rc 0 (job still readable),
rc 4 if it failed, rc 3 after ``wait_timeout`` seconds.

Faults. ``POST /_lab/arrays/<a>/faults {"fail_jobs": n, "fail_job_message":
..., "fail_job_code": ...}`` makes the next n jobs fail: a copy job stops half way,
its pair goes Broken (generic CopyState 5; 3par SyncState 12 / CopyState 5) and
the job carries the message as ErrorDescription and the code (a number, default
1) as ErrorCode; GetError returns an embedded CIM_Error. A transfer also fails
(-> Broken) when the array goes down while it runs.

Settings (topology keys of the array, or ``PATCH /_lab/arrays/<a>/settings``):
``job_retention`` (s, default 300), ``copy_rate`` (bytes/s cap of one copy, e.g.
"2MiB"; 0 = the internal link's speed) to watch jobs and states progress, and
``wait_timeout`` (s, default 60). Topology keys: ``profile`` (3par | generic),
``namespace``, ``interop_namespace``, ``system_name``, ``http_port``, ``port``, ``volumes`` (items
``{name, size, data_blocks, id}`` or ``{name: "vol{n}", count, id_base, ...}``), ``block_services``
(generic: serve a StorageConfigurationService with ReturnToStoragePool, see ``volumes.py``).

Deleting volumes (``volumes.py``): StorageConfigurationService.ReturnToStoragePool (DMTF) deletes a
volume that takes part in no synchronization (rc 0, no job); one in a pair -> rc 6 In Use (``3par``: 4).

Client notes (pywbem 1.9.1). Boolean output parameters (RequiresForce,
UpdatesSynchronizedPath, HostAccessible) are sent as TRUE / FALSE, but pywbem's
InvokeMethod turns every non-empty one into True (``conn.last_raw_reply`` has
the wire text). GetSupportedWaitForCopyStates' ``MethodName`` parameter clashes
with InvokeMethod's own first argument: pass it in ``Params=[...]``. Paths in
results carry the host; compare keybindings, not paths.

Request log: InvokeMethod of CreateElementReplica, ModifyReplicaSynchronization,
CreateReplica, AttachOrModifyReplica, ModifySynchronization, RequestStateChange,
CreateGroup, DeleteGroup and ReturnToStoragePool, and DeleteInstance and ModifyInstance, are mutating
(whatever they answer); reads and capability queries (GetSupported*, GetError)
are not. Entries carry ``cim_method``, ``cim_object``, ``intrinsic`` and the
Operation / SyncType / Mode / CopyType / GroupName values sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import secrets
import typing as t
import urllib.parse
import zlib
from xml.sax.saxutils import quoteattr, unescape

from aiohttp import web

from ..fabric import parse_size
from ..simulators import SIMULATORS
from ..array import HOST, ArrayBase
from ..topology import expand_items
from . import cimxml, schema
from .cimxml import CIM_ERR_FAILED, CIM_ERR_INVALID_NAMESPACE, CIMFault
from .model import Capabilities, Service, SVolume, System
from .provider import MUTATING_INTRINSIC, Provider
from .interop import REGISTRATIONS, InteropProvider
from .engine import Engine
from .generic import GenericEngine
from .tpd import TpdEngine

LOG = logging.getLogger("lab.smis")
REALM = "storage.replication lab WBEM server"
ERROR_DESCRIPTION = re.compile(r"""(<ERROR CODE="[0-9]+" DESCRIPTION=)("[^"]*"|'[^']*')""")
XML_ENTITIES = {"&quot;": '"', "&apos;": "'", "&#10;": "\n", "&#13;": "\r", "&#9;": "\t"}
PROFILES: dict[str, dict[str, t.Any]] = {
    "3par": {"namespace": "root/tpd", "prefix": "TPD_", "mof": ("cim.mof", "tpd.mof")},
    "generic": {"namespace": "root/cimv2", "prefix": "LAB_", "mof": ("cim.mof", "lab.mof")},
}
MUTATING_METHODS = ("createelementreplica", "modifyreplicasynchronization", "createreplica", "attachormodifyreplica",
                    "modifysynchronization", "requeststatechange", "modifylistsynchronization",
                    "createlistreplica", "creategroupreplica", "creategroup", "deletegroup",
                    "returntostoragepool")
SETTINGS = SIMULATORS["smis"].settings  # the defaults, in the lab's simulator table


class SmisArray(ArrayBase):
    vendor = "smis"

    def __init__(self, lab, name: str, spec: dict[str, t.Any]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(lab, name, spec)
        self.profile = str(spec.get("profile", "generic"))
        if self.profile not in PROFILES:
            raise ValueError(f"{name}: profile must be one of {', '.join(sorted(PROFILES))}")
        conf = PROFILES[self.profile]
        self.prefix = str(conf["prefix"])
        self.namespace = str(spec.get("namespace", conf["namespace"])).strip("/")
        self.schema = schema.load(self.namespace, tuple(conf["mof"]))
        self.http_port = int(spec.get("http_port", 0))
        self.http_server: asyncio.AbstractServer | None = None
        self.job_retention = float(spec.get("job_retention", SETTINGS["job_retention"]))
        self.copy_rate = parse_size(spec.get("copy_rate") or SETTINGS["copy_rate"])
        self.wait_timeout = float(spec.get("wait_timeout", SETTINGS["wait_timeout"]))
        system_name = str(spec.get("system_name", name))
        self.serial = zlib.crc32(system_name.encode()) & 0xFFFFFFFF
        self.system = System(system_name, str(spec.get("element_name", name)))
        replication = Service("ReplicationService", "ReplicationService")
        self.services: list[Service] = [replication]
        caps_id = f"{self.prefix}ReplicationServiceCapabilities:{system_name}"
        if self.profile == "3par":
            types = [6, 10, 11]
        else:
            types = [2, 3, 6, 7, 10, 11]
        self.capabilities: list[Capabilities] = [
            Capabilities("ReplicationServiceCapabilities", caps_id, "Replication service capabilities",
                         {"SupportedReplicationTypes": types}, replication)]
        if self.profile == "generic" and spec.get("block_services"):
            # ReturnToStoragePool only (volumes.py): no legacy Copy Services, no StorageReplicationCapabilities
            self.services.append(Service("StorageConfigurationService", "StorageConfigurationService"))
        if self.profile == "3par":
            config = Service("StorageConfigurationService", "StorageConfigurationService")
            self.services.append(config)
            for label, sync_type, modify, asynchronous, synchronous in (
                    ("UnSyncAssoc-Delta", 5, [5], [4], [2]),
                    ("UnSyncAssoc-Full", 4, [2, 4, 12, 13], [4, 6], [4]),
                    ("UnSyncUnAssoc", 6, [13], [6], [4])):
                self.capabilities.append(Capabilities(
                    "StorageReplicationCapabilities", f"{self.prefix}StorageReplicationCapabilities:{label}",
                    f"Copy Services: {label}",
                    {"SupportedSynchronizationType": sync_type, "SupportedModifyOperations": modify,
                     "SupportedAsynchronousActions": asynchronous, "SupportedSynchronousActions": synchronous,
                     "InitialReplicationState": 5 if label == "UnSyncAssoc-Delta" else 2},
                    config))
        self.volumes: dict[str, SVolume] = {}
        self._next_id = 1
        self.engine: Engine = TpdEngine(self) if self.profile == "3par" else GenericEngine(self)
        for item in expand_items(spec.get("volumes")):
            self.create_volume(str(item["name"]), parse_size(item.get("size", "1GiB")),
                               int(item.get("data_blocks", 0)), item.get("id"))
        self.provider = Provider(self)
        self.interop_namespace = str(spec.get("interop_namespace", REGISTRATIONS[self.profile]["interop"])).strip("/")
        if self.interop_namespace.lower() == self.namespace.lower():
            raise ValueError(f"{name}: interop_namespace must differ from namespace {self.namespace}")
        self.interop = InteropProvider(self, self.interop_namespace)
        self.providers: dict[str, Provider] = {p.namespace.lower(): p for p in (self.provider, self.interop)}

    # volumes ---------------------------------------------------------------------------------
    def create_volume(self, name: str, size: int, data_blocks: int = 0, device_id: t.Any = None) -> SVolume:
        number = self._next_id if device_id is None else int(device_id)
        dev = str(number)
        if dev in self.volumes:
            raise ValueError(f"{self.name}: volume id {dev} is used twice")
        self._next_id = max(self._next_id, number + 1)
        fv = self.fabric.new_volume(self.name, dev, size, data_blocks)
        vol = SVolume(dev, name, fv, f"60002AC0{self.serial:08X}{number:016X}", self.clock.now())
        fv.listeners.append(lambda _fv, indices: self.engine.on_write(vol, indices))
        self.volumes[dev] = vol
        return vol

    def delete_volume(self, vol: SVolume) -> None:
        self.volumes.pop(vol.device_id, None)
        self.engine.groups.forget_volume(vol)
        self.fabric.drop_volume(vol.fv)
        self.engine.refresh_access()

    # lab hooks ---------------------------------------------------------------------------------
    def endpoint_extra(self) -> dict[str, t.Any]:
        return {"namespace": self.namespace, "http_url": f"http://{HOST}:{self.http_port}", "profile": self.profile,
                "system_name": self.system.name, "interop_namespace": self.interop_namespace}

    def settings(self, values: dict[str, t.Any]) -> dict[str, t.Any]:
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown SMI-S settings: {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS)})")
        if "job_retention" in values:
            self.job_retention = float(values["job_retention"])
        if "wait_timeout" in values:
            self.wait_timeout = float(values["wait_timeout"])
        if "copy_rate" in values:
            self.copy_rate = parse_size(values["copy_rate"] or 0)
        return {"job_retention": self.job_retention, "copy_rate": self.copy_rate, "wait_timeout": self.wait_timeout}

    def describe(self) -> dict[str, t.Any]:
        out = super().describe()
        out.update({"profile": self.profile, "namespace": self.namespace, "http_port": self.http_port,
                    "interop_namespace": self.interop_namespace,
                    "volumes": len(self.volumes), "jobs": len(self.engine.jobs),
                    "synchronizations": [{
                        "source": s.src.device_id, "target": s.tgt.device_id, "kind": s.kind,
                        "mode": s.mode, "copy_type": s.copy_type, "copy_state": s.copy_state,
                        "progress_status": s.progress, "sync_state": self.engine.sync_properties(s)["SyncState"],
                        "activity": s.activity, "transfer": s.transfer.id if s.transfer is not None else None,
                        "job": s.job.instance_id if s.job is not None else None,
                    } for s in self.engine.syncs],
                    "replication_groups": self.engine.groups.describe()})
        return out

    def is_mutating(self, request: web.Request, body: bytes) -> bool:
        if request.method not in ("POST", "M-POST"):
            return False
        name, intrinsic, _params = cimxml.quick_peek(body)
        return name.lower() in (MUTATING_INTRINSIC if intrinsic else MUTATING_METHODS)

    def log_details(self, request: web.Request, body: bytes) -> dict[str, t.Any]:
        name, intrinsic, params = cimxml.quick_peek(body)
        details: dict[str, t.Any] = {"cim_method": name or request.headers.get("CIMMethod", ""),
                                     "cim_object": urllib.parse.unquote(request.headers.get("CIMObject", "")),
                                     "intrinsic": intrinsic}
        if params:
            details["cim_params"] = params
        devices = cimxml.devices_named(body) if not intrinsic else []
        if devices:
            details["cim_devices"] = devices
        return details

    def fault_response(self, status: int) -> web.StreamResponse:
        return web.Response(status=status, text="Service temporarily unavailable (injected)")

    def echo_request(self, response: web.StreamResponse, headers: str) -> None:
        """CIM errors come in HTTP 200: their DESCRIPTION carries the request's headers; HTTP errors as text."""
        body = getattr(response, "body", None)
        if isinstance(body, (bytes, bytearray)) and b"<ERROR " in body:
            def echoed(match: re.Match[str]) -> str:
                said = unescape(match.group(2)[1:-1], XML_ENTITIES)
                return match.group(1) + quoteattr(f"{said} (request headers: {headers})")
            response.body = ERROR_DESCRIPTION.sub(echoed, bytes(body).decode("utf-8")).encode("utf-8")  # type: ignore[attr-defined]
            return
        super().echo_request(response, headers)

    # serving -------------------------------------------------------------------------------------
    async def _listen(self) -> None:
        await super()._listen()
        loop = asyncio.get_running_loop()
        assert self.runner is not None and self.runner.server is not None
        self.http_server = await loop.create_server(self.runner.server, HOST, self.http_port, reuse_address=True,
                                                    backlog=1024)
        self.http_port = self.http_server.sockets[0].getsockname()[1]

    async def go_down(self) -> None:
        if self.http_server is not None:
            self.http_server.close()
            self.http_server = None
        await super().go_down()

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _space, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _colon, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.username) & secrets.compare_digest(password, self.password)

    @staticmethod
    def _refuse(status: int, cimerror: str, message: str) -> web.Response:
        return web.Response(status=status, text=message, headers={"CIMError": cimerror})

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="Authentication required",
                                headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
        if request.method == "M-POST":
            return web.Response(status=501, text="M-POST is not supported; use POST")
        if request.method != "POST":
            return web.Response(status=405, text="CIM-XML requests are POSTed", headers={"Allow": "POST"})
        body = await request.read()
        if request.headers.get("CIMOperation", "").strip().lower() != "methodcall":
            return self._refuse(400, "unsupported-operation", "the CIMOperation header must be MethodCall")
        try:
            req = cimxml.parse_request(body)
        except cimxml.BadRequest as exc:
            return self._refuse(exc.status, exc.cimerror, exc.message)
        header_method = request.headers.get("CIMMethod")
        if header_method is not None and header_method.strip() != req.name:
            return self._refuse(400, "header-mismatch", f"CIMMethod header {header_method!r} != {req.name!r}")
        host = request.host or HOST
        try:
            provider = self.providers.get(req.namespace.strip("/").lower())
            if provider is None:
                raise CIMFault(CIM_ERR_INVALID_NAMESPACE, f"namespace {req.namespace} does not exist (this server "
                                                          f"has {self.namespace} and {self.interop_namespace})")
            if req.intrinsic:
                inner = provider.intrinsic(req, host)
            else:
                inner = await provider.invoke(req, host)
        except CIMFault as exc:
            inner = cimxml.error_xml(exc.code, exc.description)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.exception("%s %s failed", self.name, req.name)
            inner = cimxml.error_xml(CIM_ERR_FAILED, f"internal error of the simulator: {exc}")
        return web.Response(status=200, body=cimxml.envelope(req.msg_id, req.name, req.intrinsic, inner),
                            headers={"Content-Type": cimxml.CONTENT_TYPE, "CIMOperation": "MethodResponse"})


def create_array(lab, name: str, spec: dict[str, t.Any]) -> SmisArray:  # type: ignore[no-untyped-def]
    return SmisArray(lab, name, spec)
