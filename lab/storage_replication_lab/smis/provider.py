"""The instance side of the WBEM server: paths, instances, intrinsic operations, method calls.

Instances are rendered from the live model on every request (nothing is cached,
so CopyState, PercentComplete and digests are always current). Association
instances (HostedService, SystemDevice, ElementCapabilities, AffectedJobElement,
OwningJobElement, the StorageSynchronized pairs and the replication groups'
HostedCollection and OrderedMemberOfCollection) are computed from the model too,
and navigation (Associators, References, ...) follows them. The only instances a
client writes are replication groups (ModifyInstance, see ``groups.py``) and
finished jobs (DeleteInstance).

One ``Provider`` serves one namespace. The implementation namespace's is this
class; the interop namespace's is ``interop.InteropProvider``, a subclass. An
object lives in one namespace (``home``: its ``home_ns``, else the
implementation namespace): paths and instances of it are rendered by that
namespace's provider, and a reference into the other namespace resolves there,
so associations may cross namespaces (CIM_ElementConformsToProfile).
"""

from __future__ import annotations

import typing as t

import pywbem

from . import cimxml
from .cimxml import (CIM_ERR_INVALID_CLASS, CIM_ERR_INVALID_PARAMETER, CIM_ERR_METHOD_NOT_FOUND, CIM_ERR_NOT_FOUND,
                     CIM_ERR_NOT_SUPPORTED, CIM_ERR_FAILED, CIM_ERR_TYPE_MISMATCH, BadRequest, CIMFault, OutParam,
                     Param, Request)
from .model import Assoc, Capabilities, Group, Job, Service, SVolume, Sync, System, cim_interval, cim_time

if t.TYPE_CHECKING:  # pragma: no cover
    from . import SmisArray

# intrinsic parameters: name -> kind (see _iparams)
_INTRINSIC: dict[str, dict[str, str]] = {
    "getinstance": {"instancename": "instancename", "localonly": "bool", "includequalifiers": "bool",
                    "includeclassorigin": "bool", "propertylist": "strings"},
    "enumerateinstances": {"classname": "classname", "localonly": "bool", "deepinheritance": "bool",
                           "includequalifiers": "bool", "includeclassorigin": "bool", "propertylist": "strings"},
    "enumerateinstancenames": {"classname": "classname"},
    "associators": {"objectname": "objectname", "assocclass": "classname", "resultclass": "classname",
                    "role": "string", "resultrole": "string", "includequalifiers": "bool",
                    "includeclassorigin": "bool", "propertylist": "strings"},
    "associatornames": {"objectname": "objectname", "assocclass": "classname", "resultclass": "classname",
                        "role": "string", "resultrole": "string"},
    "references": {"objectname": "objectname", "resultclass": "classname", "role": "string",
                   "includequalifiers": "bool", "includeclassorigin": "bool", "propertylist": "strings"},
    "referencenames": {"objectname": "objectname", "resultclass": "classname", "role": "string"},
    "getclass": {"classname": "classname", "localonly": "bool", "includequalifiers": "bool",
                 "includeclassorigin": "bool", "propertylist": "strings"},
    "enumerateclassnames": {"classname": "classname", "deepinheritance": "bool"},
    "enumerateclasses": {"classname": "classname", "deepinheritance": "bool", "localonly": "bool",
                         "includequalifiers": "bool", "includeclassorigin": "bool"},
    "enumeratequalifiers": {},
    "getqualifier": {"qualifiername": "string"},
    "deleteinstance": {"instancename": "instancename"},
    "modifyinstance": {"modifiedinstance": "namedinstance", "includequalifiers": "bool", "propertylist": "strings"},
}
_REQUIRED = {"getinstance": "instancename", "enumerateinstances": "classname", "enumerateinstancenames": "classname",
             "associators": "objectname", "associatornames": "objectname", "references": "objectname",
             "referencenames": "objectname", "getclass": "classname", "getqualifier": "qualifiername",
             "deleteinstance": "instancename", "modifyinstance": "modifiedinstance"}
MUTATING_INTRINSIC = ("deleteinstance", "createinstance", "modifyinstance", "setproperty", "createclass",
                      "modifyclass", "deleteclass", "setqualifier", "deletequalifier")


def _bool(param: Param, default: bool) -> bool:
    if param.kind == "null":
        return default
    if param.kind != "value" or param.value.strip().upper() not in ("TRUE", "FALSE"):
        raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be TRUE or FALSE")
    return param.value.strip().upper() == "TRUE"


class Provider:
    def __init__(self, array: SmisArray) -> None:
        self.array = array
        self.schema = array.schema
        self.prefix = array.prefix
        self.namespace = array.namespace

    # naming --------------------------------------------------------------------------------
    def classname(self, obj: t.Any) -> str:
        """Interop objects and cross-namespace links name their class; the array's objects take its prefix."""
        return getattr(obj, "cim_class", "") or self.prefix + obj.suffix

    def home(self, obj: t.Any) -> Provider:
        """The provider of the namespace ``obj`` lives in: its ``home_ns`` (interop objects and
        cross-namespace associations), else the implementation namespace."""
        namespace = getattr(obj, "home_ns", None) or self.array.namespace
        if namespace.lower() == self.namespace.lower():
            return self
        return self.array.providers[namespace.lower()]

    def objects(self) -> list[t.Any]:
        """Every instance of the namespace, association instances included."""
        array = self.array
        engine = array.engine
        out: list[t.Any] = [array.system, *array.services, *array.capabilities, *array.volumes.values(),
                            *engine.syncs, *engine.jobs.values(), *engine.groups.groups,
                            *engine.groups.associations(), *array.interop.links_in(self.namespace)]
        for svc in array.services:
            out.append(Assoc("HostedService", {"Antecedent": array.system, "Dependent": svc}))
        for vol in array.volumes.values():
            out.append(Assoc("SystemDevice", {"GroupComponent": array.system, "PartComponent": vol}))
        for caps in array.capabilities:
            out.append(Assoc("ElementCapabilities", {"ManagedElement": caps.owner, "Capabilities": caps}))
        for job in engine.jobs.values():
            out.append(Assoc("OwningJobElement", {"OwningElement": job.owner, "OwnedElement": job}))
            for element, effects in job.affected:
                if self.alive(element):
                    out.append(Assoc("AffectedJobElement", {"AffectedElement": element, "AffectingElement": job},
                                     {"ElementEffects": effects}))
        return out

    def alive(self, obj: t.Any) -> bool:
        if isinstance(obj, SVolume):
            return self.array.volumes.get(obj.device_id) is obj
        if isinstance(obj, Sync):
            return obj in self.array.engine.syncs
        if isinstance(obj, Group):
            return self.array.engine.groups.alive(obj)
        return True

    @staticmethod
    def roles(obj: t.Any) -> dict[str, t.Any] | None:
        if isinstance(obj, Sync):
            return {"SystemElement": obj.src, "SyncedElement": obj.tgt}
        if isinstance(obj, Assoc):
            return obj.roles
        return None

    def raw_keys(self, obj: t.Any) -> dict[str, t.Any]:
        """Key values; references as model objects."""
        system = self.array.system
        if isinstance(obj, System):
            return {"CreationClassName": self.classname(obj), "Name": obj.name}
        if isinstance(obj, Service):
            return {"SystemCreationClassName": self.classname(system), "SystemName": system.name,
                    "CreationClassName": self.classname(obj), "Name": obj.name}
        if isinstance(obj, SVolume):
            return {"SystemCreationClassName": self.classname(system), "SystemName": system.name,
                    "CreationClassName": self.classname(obj), "DeviceID": obj.device_id}
        if isinstance(obj, (Capabilities, Job, Group)):
            return {"InstanceID": obj.instance_id}
        roles = self.roles(obj)
        assert roles is not None
        return dict(roles)

    def path(self, obj: t.Any, host: str | None = None) -> pywbem.CIMInstanceName:
        home = self.home(obj)
        if home is not self:
            return home.path(obj, host)
        keys = {name: (self.path(value, host) if not isinstance(value, (str, int)) else value)
                for name, value in self.raw_keys(obj).items()}
        return pywbem.CIMInstanceName(self.classname(obj), keybindings=keys, namespace=self.namespace, host=host)

    def resolve(self, path: t.Any, objects: list[t.Any] | None = None,
                memo: dict[str, t.Any] | None = None) -> t.Any:
        """The model object a client's instance path names, or None.

        A reference key (an association's ends) is resolved once per call and then compared by identity, so
        naming one of N synchronizations costs O(N), not O(N) resolutions of its ends.
        """
        if not isinstance(path, pywbem.CIMInstanceName):
            return None
        namespace = (path.namespace or "").strip("/").lower()
        if namespace and namespace != self.namespace.lower():  # a reference into the server's other namespace
            other = self.array.providers.get(namespace)
            return None if other is None else other.resolve(path, None, memo)
        if not self.schema.has(path.classname):
            return None
        given = {name.lower(): value for name, value in path.keybindings.items()}
        pool = self.objects() if objects is None else objects
        memo = {} if memo is None else memo
        for obj in pool:
            if self.schema.is_a(self.classname(obj), path.classname) and self._keys_match(obj, given, pool, memo):
                return obj
        return None

    def _keys_match(self, obj: t.Any, given: dict[str, t.Any], pool: list[t.Any], memo: dict[str, t.Any]) -> bool:
        keys = self.raw_keys(obj)
        if {name.lower() for name in keys} != set(given):
            return False
        for name, value in keys.items():
            other = given[name.lower()]
            if isinstance(value, (str, int)):
                if name.lower().endswith("creationclassname"):
                    if str(other).lower() != str(value).lower():
                        return False
                elif str(other) != str(value):
                    return False
            else:
                ref = str(other)
                if ref not in memo:
                    memo[ref] = self.resolve(other, pool, memo)
                if memo[ref] is not value:
                    return False
        return True

    # instances -----------------------------------------------------------------------------
    def properties(self, obj: t.Any) -> dict[str, t.Any]:
        array = self.array
        now = array.clock.now()
        if isinstance(obj, System):
            return {"ElementName": obj.element_name, "OperationalStatus": [2], "Dedicated": [3],
                    "Description": f"storage.replication lab array ({array.profile} profile)"}
        if isinstance(obj, Service):
            return {"ElementName": obj.name, "OperationalStatus": [2]}
        if isinstance(obj, Capabilities):
            return {"ElementName": obj.element_name, **obj.props}
        if isinstance(obj, SVolume):
            blocks = obj.size // 512
            return {"ElementName": obj.name, "Name": obj.wwn, "NameFormat": 2, "BlockSize": 512,
                    "NumberOfBlocks": blocks, "ConsumableBlocks": blocks, "OperationalStatus": [2],
                    "Primordial": False}
        if isinstance(obj, Sync):
            return array.engine.sync_properties(obj)
        if isinstance(obj, Job):
            end = obj.ended if obj.ended is not None else now
            return {"Name": obj.method, "ElementName": obj.method, "Description": obj.description,
                    "JobState": obj.state, "OperationalStatus": list(obj.op_status), "JobStatus": obj.status_text,
                    "PercentComplete": obj.current_percent(), "ErrorCode": obj.error_code,
                    "ErrorDescription": obj.error_description or None, "TimeSubmitted": cim_time(obj.submitted),
                    "StartTime": cim_time(obj.submitted), "ElapsedTime": cim_interval(end - obj.submitted),
                    "TimeOfLastStateChange": cim_time(obj.changed), "TimeBeforeRemoval": cim_interval(obj.retention),
                    "DeleteOnCompletion": False, "Owner": array.username}
        if isinstance(obj, Group):
            return array.engine.groups.properties(obj)
        if isinstance(obj, Assoc):
            return dict(obj.props)
        return {}

    def make_instance(self, classname: str, values: dict[str, t.Any], path: pywbem.CIMInstanceName | None = None,
                      property_list: set[str] | None = None, only: set[str] | None = None) -> pywbem.CIMInstance:
        """An instance with every property its class declares, typed by the declaration."""
        cls = self.schema.cls(classname)
        lower = {name.lower(): value for name, value in values.items()}
        props = []
        for name, decl in cls.properties.items():
            key = name.lower()
            if property_list is not None and key not in property_list:
                continue
            if only is not None and key not in only:
                continue
            value = lower.get(key, decl.value)
            if decl.type != "reference" and value is not None:
                value = pywbem.cimvalue(value, decl.type)
            props.append(pywbem.CIMProperty(name, value, type=decl.type, is_array=decl.is_array,
                                            reference_class=decl.reference_class))
        return pywbem.CIMInstance(cls.classname, properties=props, path=path)

    def instance(self, obj: t.Any, host: str, property_list: set[str] | None = None,
                 only: set[str] | None = None) -> pywbem.CIMInstance:
        home = self.home(obj)
        if home is not self:
            return home.instance(obj, host, property_list, only)
        path = self.path(obj, host)
        values = dict(path.keybindings)
        values.update(self.properties(obj))
        return self.make_instance(self.classname(obj), values, path, property_list, only)

    # intrinsic operations --------------------------------------------------------------------
    def _iparams(self, req: Request, op: str) -> dict[str, t.Any]:
        allowed = _INTRINSIC[op]
        out: dict[str, t.Any] = {}
        for key, param in req.params.items():
            kind = allowed.get(key)
            if kind is None:
                raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{req.name} has no parameter {param.name}")
            if param.kind == "null":
                out[key] = None
            elif kind == "bool":
                out[key] = _bool(param, False)
            elif kind == "classname":
                if param.kind != "classname":
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be a CLASSNAME")
                out[key] = param.value
            elif kind == "instancename":
                if param.kind != "instancename":
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be an INSTANCENAME")
                out[key] = param.value
            elif kind == "objectname":
                if param.kind not in ("instancename", "classname"):
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be an INSTANCENAME or CLASSNAME")
                out[key] = param.value
            elif kind == "namedinstance":
                if param.kind != "object" or param.value.tag != "VALUE.NAMEDINSTANCE":
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be a VALUE.NAMEDINSTANCE")
                try:
                    out[key] = cimxml.named_instance(param.value)
                except BadRequest as exc:
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name}: {exc.message}") from None
            elif kind == "strings":
                if param.kind != "array":
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be a VALUE.ARRAY")
                out[key] = {v.lower() for v in param.value if v is not None}
            else:
                if param.kind != "value":
                    raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{param.name} must be a VALUE")
                out[key] = param.value
        for key in allowed:
            out.setdefault(key, None)
        required = _REQUIRED.get(op)
        if required and out.get(required) is None:
            raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{req.name} needs {required}")
        return out

    def _filter_class(self, name: str | None, what: str) -> str | None:
        if name is not None and not self.schema.has(name):
            raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{what} {name} is not a class of {self.namespace}")
        return name

    def _object(self, path: t.Any, pool: list[t.Any]) -> t.Any:
        if isinstance(path, str):
            raise CIMFault(CIM_ERR_NOT_SUPPORTED, "class-level association queries are not supported")
        if not self.schema.has(path.classname):
            raise CIMFault(CIM_ERR_INVALID_CLASS, f"class {path.classname} does not exist in {self.namespace}")
        obj = self.resolve(path, pool)
        if obj is None:
            raise CIMFault(CIM_ERR_NOT_FOUND, f"no instance {path}")
        return obj

    def _links(self, obj: t.Any, pool: list[t.Any], assoc_class: str | None,
               role: str | None) -> list[tuple[t.Any, str]]:
        """(association instance, role obj plays in it) for every association naming ``obj``."""
        links = []
        for assoc in pool:
            roles = self.roles(assoc)
            if roles is None:
                continue
            if assoc_class and not self.schema.is_a(self.classname(assoc), assoc_class):
                continue
            for name, member in roles.items():
                if member is obj and (not role or role.lower() == name.lower()):
                    links.append((assoc, name))
        return links

    def intrinsic(self, req: Request, host: str) -> str:  # noqa: C901  (one dispatch table)
        op = req.name.lower()
        if op not in _INTRINSIC:
            raise CIMFault(CIM_ERR_NOT_SUPPORTED, f"{req.name} is not supported by this WBEM server")
        p = self._iparams(req, op)
        schema = self.schema
        if op == "getclass":
            cls = schema.get_class(p["classname"], p["localonly"] is not False, p["includequalifiers"] is not False,
                                   bool(p["includeclassorigin"]),
                                   None if p["propertylist"] is None else sorted(p["propertylist"]))
            return cimxml.ireturn([cls.tocimxmlstr()])
        if op == "enumerateclassnames":
            names = schema.enumerate_class_names(p["classname"], bool(p["deepinheritance"]))
            return cimxml.ireturn(cimxml.classname_xml(n) for n in names)
        if op == "enumerateclasses":
            classes = schema.enumerate_classes(p["classname"], bool(p["deepinheritance"]),
                                               p["localonly"] is not False, p["includequalifiers"] is not False,
                                               bool(p["includeclassorigin"]))
            return cimxml.ireturn(c.tocimxmlstr() for c in classes)
        if op == "enumeratequalifiers":
            return cimxml.ireturn(cimxml.qualifier_declaration_xml(q) for q in schema.qualifiers())
        if op == "getqualifier":
            return cimxml.ireturn([cimxml.qualifier_declaration_xml(schema.qualifier(p["qualifiername"]))])
        pool = self.objects()
        plist = p.get("propertylist")
        if op in ("enumerateinstances", "enumerateinstancenames"):
            classname = p["classname"]
            schema.cls(classname)
            members = [o for o in pool if schema.is_a(self.classname(o), classname)]
            if op == "enumerateinstancenames":
                return cimxml.ireturn(cimxml.instance_name_xml(self.path(o, host)) for o in members)
            only = None if p["deepinheritance"] is not False else schema.own_property_names(classname)
            return cimxml.ireturn(cimxml.named_instance_xml(self.instance(o, host, plist, only)) for o in members)
        if op == "getinstance":
            obj = self._object(p["instancename"], pool)
            return cimxml.ireturn([cimxml.instance_xml(self.instance(obj, host, plist))])
        if op == "deleteinstance":
            return self._delete_instance(p, pool)
        if op == "modifyinstance":
            return self._modify_instance(p, pool, host)
        obj = self._object(p["objectname"], pool)
        if op in ("references", "referencenames"):
            result_class = self._filter_class(p["resultclass"], "ResultClass")
            links = self._links(obj, pool, result_class, p["role"])
            seen: list[t.Any] = []
            for assoc, _role in links:
                if all(assoc is not s for s in seen):
                    seen.append(assoc)
            if op == "referencenames":
                return cimxml.ireturn(cimxml.object_path_xml(self.path(a, host)) for a in seen)
            return cimxml.ireturn(cimxml.object_with_path_xml(self.instance(a, host, plist)) for a in seen)
        assoc_class = self._filter_class(p["assocclass"], "AssocClass")
        result_class = self._filter_class(p["resultclass"], "ResultClass")
        result_role = p["resultrole"]
        found: list[t.Any] = []
        for assoc, role in self._links(obj, pool, assoc_class, p["role"]):
            for name, other in (self.roles(assoc) or {}).items():
                if name == role or (result_role and result_role.lower() != name.lower()):
                    continue
                if result_class and not self.home(other).schema.is_a(self.classname(other), result_class):
                    continue
                if all(other is not f for f in found):
                    found.append(other)
        if op == "associatornames":
            return cimxml.ireturn(cimxml.object_path_xml(self.path(o, host)) for o in found)
        return cimxml.ireturn(cimxml.object_with_path_xml(self.instance(o, host, plist)) for o in found)

    def _delete_instance(self, p: dict[str, t.Any], pool: list[t.Any]) -> str:
        """DeleteInstance: finished jobs only."""
        obj = self._object(p["instancename"], pool)
        if not isinstance(obj, Job):
            raise CIMFault(CIM_ERR_NOT_SUPPORTED, f"instances of {self.classname(obj)} cannot be deleted")
        if not obj.terminal:
            raise CIMFault(CIM_ERR_FAILED, f"job {obj.instance_id} is still running; terminate it first")
        self.array.engine.jobs.pop(obj.instance_id, None)
        return ""

    def _modify_instance(self, p: dict[str, t.Any], pool: list[t.Any], host: str) -> str:
        """ModifyInstance: replication groups only (the rules are in ``groups.py``).

        Without a PropertyList the properties ModifiedInstance carries are designated, with one those it
        names (a designated property the instance lacks becomes NULL); properties are typed by the class.
        """
        path, classname, given = p["modifiedinstance"]
        if classname.lower() != path.classname.lower():
            raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"ModifiedInstance: the instance is a {classname}, "
                                                      f"its path names a {path.classname}")
        obj = self._object(path, pool)
        if not isinstance(obj, Group):
            raise CIMFault(CIM_ERR_NOT_SUPPORTED, f"instances of {self.classname(obj)} cannot be modified")
        decls = {name.lower(): decl for name, decl in self.schema.cls(self.classname(obj)).properties.items()}
        plist = p["propertylist"]
        for key in set(given) | (plist or set()):
            if key not in decls:
                name = given[key].name if key in given else key
                raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"class {self.classname(obj)} has no property {name}")
        designated = {key: decls[key].name for key in (given if plist is None else plist)}
        values = {}
        for key in designated:
            if key in given:
                values[key] = self._convert(given[key], decls[key], "property", CIM_ERR_TYPE_MISMATCH)
        current = {name.lower(): prop.value for name, prop in self.instance(obj, host).properties.items()}
        self.array.engine.groups.modify(obj, current, values, designated)
        return ""

    # extrinsic methods ---------------------------------------------------------------------------
    @staticmethod
    def _convert(param: Param, decl: pywbem.CIMParameter | pywbem.CIMProperty, what: str = "parameter",
                 code: int = CIM_ERR_INVALID_PARAMETER) -> t.Any:
        """The value of a method parameter (or, ``what="property"``, an instance property) typed by its
        declaration; a value that does not fit it is a CIMFault of ``code``."""
        name = decl.name
        if param.kind == "null":
            return None
        declared = decl.type
        if param.paramtype and param.paramtype.lower() != declared:
            raise CIMFault(code, f"{what} {name}: sent as {param.paramtype}, declared {declared}"
                                 f"{'[]' if decl.is_array else ''}")
        if declared == "reference":
            if decl.is_array:
                if param.kind == "array" and not param.value:
                    return []  # pywbem sends an empty list as an untyped <VALUE.ARRAY/>
                if param.kind != "refarray":
                    raise CIMFault(code, f"{what} {name} must be an array of references")
                return list(param.value)
            if param.kind not in ("ref", "instancename"):
                raise CIMFault(code, f"{what} {name} must be a reference")
            return param.value
        if decl.is_array:
            if param.kind != "array":
                raise CIMFault(code, f"{what} {name} must be an array of {declared}")
            texts = param.value
        else:
            if param.kind != "value":
                raise CIMFault(code, f"{what} {name} must be a single {declared}")
            texts = [param.value]
        try:
            values = [None if v is None else cimxml.typed_scalar(v, declared) for v in texts]
        except (ValueError, TypeError) as exc:
            raise CIMFault(code, f"{what} {name}: {exc}") from None
        return values if decl.is_array else values[0]

    @staticmethod
    def _is_in(decl: pywbem.CIMParameter) -> bool:
        quals = decl.qualifiers
        if "In" in quals:
            return bool(quals["In"].value)
        return "Out" not in quals

    async def invoke(self, req: Request, host: str) -> str:
        target = req.target
        if isinstance(target, pywbem.CIMClassName):
            if not self.schema.has(target.classname):
                raise CIMFault(CIM_ERR_INVALID_CLASS, f"class {target.classname} does not exist in {self.namespace}")
            if self.schema.method(target.classname, req.name) is None:
                raise CIMFault(CIM_ERR_METHOD_NOT_FOUND, f"class {target.classname} has no method {req.name}")
            raise CIMFault(CIM_ERR_NOT_SUPPORTED, f"{req.name} is not a static method: invoke it on an instance")
        assert isinstance(target, pywbem.CIMInstanceName)
        pool = self.objects()
        obj = self._object(target, pool)
        classname = self.classname(obj)
        method = self.schema.method(classname, req.name)
        if method is None:
            raise CIMFault(CIM_ERR_METHOD_NOT_FOUND, f"class {classname} has no method {req.name}")
        decls = {name.lower(): decl for name, decl in method.parameters.items()}
        params: dict[str, t.Any] = {}
        for key, param in req.params.items():
            decl = decls.get(key)
            if decl is None:
                raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{method.name} has no parameter {param.name}")
            if not self._is_in(decl):
                raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{decl.name} is an output parameter of {method.name}")
            params[decl.name] = self._convert(param, decl)
        for decl in method.parameters.values():
            if "Required" in decl.qualifiers and decl.qualifiers["Required"].value and self._is_in(decl) \
                    and params.get(decl.name) is None:
                raise CIMFault(CIM_ERR_INVALID_PARAMETER, f"{method.name}: parameter {decl.name} is required")
        rc, out = await self.array.engine.invoke(obj, method.name, params)
        out_params = []
        for name, value in out.items():
            decl = method.parameters[name]
            if value is None:
                continue
            if decl.type == "reference":
                value = [self.path(v, host) for v in value] if isinstance(value, list) else self.path(value, host)
                out_params.append(OutParam(decl.name, "reference", value))
            elif "EmbeddedInstance" in decl.qualifiers:
                out_params.append(OutParam(decl.name, "string", value, embedded=True))
            else:
                out_params.append(OutParam(decl.name, decl.type, pywbem.cimvalue(value, decl.type)))
        return cimxml.method_return(rc, out_params)
