"""The interop namespace of a simulated SMI-S provider: the Server and Profile Registration profiles.

Standard WBEM discovery (pywbem's ``WBEMServer``, ``pywbemcli server info`` /
``profile list``, SMI-S clients) starts in the interop namespace: it finds the
namespace by name, reads the CIM server (``CIM_ObjectManager``) and its
namespaces (``CIM_Namespace``), lists the registered profiles
(``CIM_RegisteredProfile``) and follows ``CIM_ElementConformsToProfile`` from
the Array profile to the storage system in the implementation namespace. Each
lab array serves one, next to its implementation namespace (the server's
namespaces are exactly these two; any other answers CIM_ERR_INVALID_NAMESPACE,
as before).

Namespace names
===============

- ``3par``: ``interop``. [?] The stored pages of the HP 3PAR CIM API references
  (OS 2.3.1 - 3.1.2) consulted for this did not show the name; ``interop`` is the
  name DMTF DSP1033 1.1 prefers (``root/interop`` and ``/interop`` are deprecated
  there, clients must accept them) and the name recalled, unverified, for the
  3PAR CIM server. Topology key ``interop_namespace`` overrides it.
- ``generic``: ``root/interop`` (lab choice). The provider lives in
  ``root/cimv2`` like the SFCB/OpenPegasus-hosted providers that use
  ``root/interop``; it is one of the names pywbem tries (after ``interop``), so
  the two arrays exercise both the preferred and the deprecated spelling and a
  client's probing (``interop`` answers CIM_ERR_INVALID_NAMESPACE there).

Instances
=========

Plain ``CIM_`` classes in both profiles (no vendor subclasses of the interop
classes, e.g. ``TPD_RegisteredProfile``, are documented in the sources used).

- ``CIM_ObjectManager``: keys SystemCreationClassName / SystemName of the
  array's storage system (the server runs on the array), CreationClassName
  ``CIM_ObjectManager``, Name ``<system name>:CIMOM``; ElementName
  ``storage.replication lab WBEM server`` (pywbem's ``brand``) and Description
  ``... (<profile> provider profile) version <lab version>`` (pywbem's
  ``version``), OperationalStatus [2].
- ``CIM_Namespace``: one per namespace (the interop namespace itself and the
  implementation namespace), keyed to the object manager, each associated to
  it over ``CIM_NamespaceInManager`` (Antecedent = object manager).
- ``CIM_RegisteredProfile`` / ``CIM_RegisteredSubProfile``: RegisteredOrganization
  11 (SNIA), RegisteredName, RegisteredVersion, AdvertiseTypes [2] "Not
  Advertised" (the lab has no SLP), InstanceID ``<vendor>:SNIA:<name>:<version>``
  (vendor = the class prefix, ``TPD`` / ``LAB``). The profiles per provider
  profile are in ``REGISTRATIONS`` below:

  - ``3par``: SMI-S 1.4.0, the level HP's "Supported SMI-S Levels by Release"
    table gives for 3PAR OS 3.1.1 / 3.1.2, whose rows include Server, Profile
    Registration, Array, Block Services, Copy Services, Job Control and
    Replication Services. Registered: those seven. The lab serves both replication
    interfaces of that release (the legacy StorageConfigurationService methods of
    Copy Services and the ReplicationService subset of Replication Services), so
    both are registered. The table's other rows (Software, Physical Package,
    Masking & Mapping, ports, Thin Provisioning, ...) are not: the lab does not
    implement their classes.
  - ``generic``: SMI-S 1.5.0 (lab choice: the release with the Replication
    Services profile that still registers subprofiles as RegisteredSubProfile):
    Server, Profile Registration, Array, Block Services, Replication Services,
    Job Control.

- Relations (SNIA direction: Antecedent = scoping profile): every subprofile
  (Block Services, Copy Services, Replication Services, Job Control) is a
  ``CIM_RegisteredSubProfile`` tied to the Array profile over
  ``CIM_SubProfileRequiresProfile`` (Antecedent Array, Dependent subprofile; the
  class derives from ``CIM_ReferencedProfile``, so ReferencedProfile traversals
  see them too). Job Control is scoped by Array as well (lab choice: SMI-S uses
  it from several profiles; the Array profile is the one with a central
  instance). Profile Registration is a ``CIM_RegisteredProfile`` the Server
  profile references over ``CIM_ReferencedProfile`` (Antecedent Server).
- ``CIM_ElementConformsToProfile``: the object manager conforms to the Server
  profile (interop only); the storage system conforms to the Array profile. The
  latter crosses namespaces (ConformantStandard in interop, ManagedElement in the
  implementation namespace) and is instantiated in both, as real CIM servers do,
  so it can be followed from either end (pywbem's ``get_central_instances``
  follows it from the profile: the central class methodology). Subprofiles have
  no ElementConformsToProfile of their own (the scoping class methodology of
  SMI-S: from the system, e.g. over CIM_HostedService to the ReplicationService);
  pywbem's ``get_central_instances`` therefore returns an empty list for them.

Everything here is read-only: methods on interop classes answer
CIM_ERR_METHOD_NOT_FOUND (none is declared), DeleteInstance / ModifyInstance
CIM_ERR_NOT_SUPPORTED.
"""

from __future__ import annotations

import importlib.metadata
import typing as t

import pywbem

from . import schema as schema_mod
from .cimxml import CIM_ERR_INVALID_CLASS, CIM_ERR_METHOD_NOT_AVAILABLE, CIM_ERR_METHOD_NOT_FOUND, CIMFault, Request
from .model import Assoc
from .provider import Provider

if t.TYPE_CHECKING:  # pragma: no cover
    from . import SmisArray

SNIA = 11
NOT_ADVERTISED = 2
SERVER_NAME = "storage.replication lab WBEM server"
SUB, REF = "sub", "ref"
# profile -> interop namespace, SMI-S release, profiles: (RegisteredName, scoping profile, relation)
REGISTRATIONS: dict[str, dict[str, t.Any]] = {
    "3par": {"interop": "interop", "version": "1.4.0", "profiles": (
        ("Server", None, None), ("Profile Registration", "Server", REF), ("Array", None, None),
        ("Block Services", "Array", SUB), ("Copy Services", "Array", SUB),
        ("Replication Services", "Array", SUB), ("Job Control", "Array", SUB))},
    "generic": {"interop": "root/interop", "version": "1.5.0", "profiles": (
        ("Server", None, None), ("Profile Registration", "Server", REF), ("Array", None, None),
        ("Block Services", "Array", SUB), ("Replication Services", "Array", SUB), ("Job Control", "Array", SUB))},
}


def lab_version() -> str:
    try:
        return importlib.metadata.version("storage-replication-lab")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0"


class InteropObject:
    """An object of the interop namespace; ``cim_class`` is its full class name."""

    cim_class = ""

    def __init__(self, home_ns: str) -> None:
        self.home_ns = home_ns


class ObjectManager(InteropObject):
    cim_class = "CIM_ObjectManager"

    def __init__(self, home_ns: str, name: str, system_class: str, system_name: str, description: str) -> None:
        super().__init__(home_ns)
        self.name = name
        self.system_class = system_class
        self.system_name = system_name
        self.description = description


class Namespace(InteropObject):
    cim_class = "CIM_Namespace"

    def __init__(self, home_ns: str, name: str, role: str) -> None:
        super().__init__(home_ns)
        self.name = name
        self.role = role


class Profile(InteropObject):
    """A registered SNIA profile (``CIM_RegisteredSubProfile`` when ``sub``)."""

    def __init__(self, home_ns: str, instance_id: str, name: str, version: str, sub: bool) -> None:
        super().__init__(home_ns)
        self.cim_class = "CIM_RegisteredSubProfile" if sub else "CIM_RegisteredProfile"
        self.instance_id = instance_id
        self.name = name
        self.version = version


class Link(Assoc):
    """An association of plain ``CIM_`` class ``cim_class``, served in namespace ``home_ns``."""

    def __init__(self, cim_class: str, roles: dict[str, t.Any], home_ns: str) -> None:
        super().__init__("", roles)
        self.cim_class = cim_class
        self.home_ns = home_ns


class InteropProvider(Provider):
    """The interop namespace of one array: static objects built from the array and ``REGISTRATIONS``."""

    def __init__(self, array: SmisArray, namespace: str) -> None:
        super().__init__(array)
        self.namespace = namespace
        self.schema = schema_mod.load(namespace, ("cim.mof",))
        reg = REGISTRATIONS[array.profile]
        system = array.system
        self.manager = ObjectManager(
            namespace, f"{system.name}:CIMOM", array.prefix + system.suffix, system.name,
            f"{SERVER_NAME} ({array.profile} provider profile) version {lab_version()}")
        self.namespaces = [Namespace(namespace, namespace, "interop"),
                           Namespace(namespace, array.namespace, "implementation")]
        self.profiles: dict[str, Profile] = {}
        links: list[Link] = [Link("CIM_NamespaceInManager", {"Antecedent": self.manager, "Dependent": ns},
                                  namespace) for ns in self.namespaces]
        vendor = array.prefix.rstrip("_")
        for name, parent, relation in reg["profiles"]:
            profile = Profile(namespace, f"{vendor}:SNIA:{name}:{reg['version']}", name, reg["version"],
                              relation == SUB)
            self.profiles[name] = profile
            if parent is not None:
                assoc = "CIM_SubProfileRequiresProfile" if relation == SUB else "CIM_ReferencedProfile"
                links.append(Link(assoc, {"Antecedent": self.profiles[parent], "Dependent": profile}, namespace))
        links.append(Link("CIM_ElementConformsToProfile",
                          {"ConformantStandard": self.profiles["Server"], "ManagedElement": self.manager}, namespace))
        # the array's conformance: one instance in each namespace
        self.conformance = [Link("CIM_ElementConformsToProfile",
                                 {"ConformantStandard": self.profiles["Array"], "ManagedElement": system}, home)
                            for home in (namespace, array.namespace)]
        links.append(self.conformance[0])
        self._objects: list[t.Any] = [self.manager, *self.namespaces, *self.profiles.values(), *links]

    def objects(self) -> list[t.Any]:
        return list(self._objects)

    def links_in(self, namespace: str) -> list[Link]:
        """The cross-namespace associations the implementation namespace ``namespace`` serves."""
        return [link for link in self.conformance if link.home_ns.lower() == namespace.lower()]

    def alive(self, obj: t.Any) -> bool:
        return True

    def raw_keys(self, obj: t.Any) -> dict[str, t.Any]:
        manager = self.manager
        if isinstance(obj, ObjectManager):
            return {"SystemCreationClassName": obj.system_class, "SystemName": obj.system_name,
                    "CreationClassName": obj.cim_class, "Name": obj.name}
        if isinstance(obj, Namespace):
            return {"SystemCreationClassName": manager.system_class, "SystemName": manager.system_name,
                    "ObjectManagerCreationClassName": manager.cim_class, "ObjectManagerName": manager.name,
                    "CreationClassName": obj.cim_class, "Name": obj.name}
        if isinstance(obj, Profile):
            return {"InstanceID": obj.instance_id}
        return super().raw_keys(obj)

    def properties(self, obj: t.Any) -> dict[str, t.Any]:
        if isinstance(obj, ObjectManager):
            return {"ElementName": SERVER_NAME, "Description": obj.description, "OperationalStatus": [2]}
        if isinstance(obj, Namespace):
            return {"ElementName": obj.name, "Description": f"the {obj.role} namespace"}
        if isinstance(obj, Profile):
            kind = "subprofile" if obj.cim_class == "CIM_RegisteredSubProfile" else "profile"
            return {"ElementName": obj.name, "RegisteredOrganization": SNIA, "RegisteredName": obj.name,
                    "RegisteredVersion": obj.version, "AdvertiseTypes": [NOT_ADVERTISED],
                    "Description": f"SNIA SMI-S {obj.name} {kind}"}
        return super().properties(obj)

    async def invoke(self, req: Request, host: str) -> str:
        """Nothing to call here: a declared method is not available, any other one not found."""
        target = req.target
        if isinstance(target, pywbem.CIMClassName):
            if not self.schema.has(target.classname):
                raise CIMFault(CIM_ERR_INVALID_CLASS, f"class {target.classname} does not exist in {self.namespace}")
            classname = target.classname
        else:
            classname = self.classname(self._object(target, self.objects()))
        if self.schema.method(classname, req.name) is not None:
            raise CIMFault(CIM_ERR_METHOD_NOT_AVAILABLE, f"{req.name} is not implemented in {self.namespace}")
        raise CIMFault(CIM_ERR_METHOD_NOT_FOUND, f"class {classname} has no method {req.name}")
