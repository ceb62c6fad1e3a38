"""CIM-XML over HTTP (DSP0200 / DSP0201): decoding requests and encoding responses.

Requests are decoded here with ``xml.etree`` (no private pywbem API); responses
are built from pywbem's public CIM objects (``tocimxmlstr``) plus the envelope,
and every empty element is written with an explicit end tag (sblim-wbemcli
does not accept ``<PROPERTY .../>``).
"""

from __future__ import annotations

import re
import typing as t
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import pywbem

CIM_ERR_FAILED = 1
CIM_ERR_ACCESS_DENIED = 2
CIM_ERR_INVALID_NAMESPACE = 3
CIM_ERR_INVALID_PARAMETER = 4
CIM_ERR_INVALID_CLASS = 5
CIM_ERR_NOT_FOUND = 6
CIM_ERR_NOT_SUPPORTED = 7
CIM_ERR_TYPE_MISMATCH = 13
CIM_ERR_METHOD_NOT_AVAILABLE = 16
CIM_ERR_METHOD_NOT_FOUND = 17

CONTENT_TYPE = 'application/xml; charset="utf-8"'
_EMPTY = re.compile(r'<([A-Za-z][\w.\-]*)((?:\s+[\w.\-:]+\s*=\s*"[^"]*")*)\s*/>')
_SCOPE_ANY = re.compile(r'(?<=<SCOPE)((?:\s+[A-Z]+="[^"]*")*?)\s+ANY="[^"]*"')
_INT_TYPES = ("uint8", "sint8", "uint16", "sint16", "uint32", "sint32", "uint64", "sint64")


class CIMFault(Exception):
    """A CIM error: answered as ``<ERROR CODE=.. DESCRIPTION=..>`` with HTTP 200."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = int(code)
        self.description = description


class BadRequest(Exception):
    """An HTTP-level refusal (400, 501) with the value of its ``CIMError`` header."""

    def __init__(self, status: int, cimerror: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.cimerror = cimerror
        self.message = message


class Param:
    """One decoded IPARAMVALUE / PARAMVALUE, still untyped.

    ``kind`` is one of value, array, ref, refarray, classname, instancename,
    object, null; ``value`` holds text, a list of texts (None for VALUE.NULL),
    a CIMInstanceName / CIMClassName, or their list.
    """

    def __init__(self, name: str, kind: str, value: t.Any, paramtype: str | None = None,
                 embedded: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self.value = value
        self.paramtype = paramtype
        self.embedded = embedded

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.kind!r}, {self.value!r})"


class Request:
    def __init__(self) -> None:
        self.msg_id = "0"
        self.protocol_version = "1.0"
        self.intrinsic = True
        self.name = ""
        self.namespace = ""
        self.target: pywbem.CIMInstanceName | pywbem.CIMClassName | None = None
        self.params: dict[str, Param] = {}

    def param(self, name: str) -> Param | None:
        return self.params.get(name.lower())


# decoding ---------------------------------------------------------------------------------
def _invalid(message: str) -> BadRequest:
    return BadRequest(400, "request-not-valid", message)


def _one(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(tag)
    if found is None:
        raise _invalid(f"{element.tag} lacks {tag}")
    return found


def _namespace(local: ET.Element) -> str:
    if local.tag != "LOCALNAMESPACEPATH":
        raise _invalid(f"expected LOCALNAMESPACEPATH, got {local.tag}")
    parts = [n.get("NAME", "") for n in local.findall("NAMESPACE")]
    if not parts or not all(parts):
        raise _invalid("LOCALNAMESPACEPATH without NAMESPACE names")
    return "/".join(parts)


def _keyvalue(element: ET.Element) -> t.Any:
    if element.tag == "VALUE.REFERENCE":
        return _reference(element)
    if element.tag != "KEYVALUE":
        raise _invalid(f"unexpected {element.tag} in KEYBINDING")
    text = element.text or ""
    valuetype = element.get("VALUETYPE", "string")
    if valuetype == "numeric":
        try:
            return int(text.strip(), 0) if text.strip().lower().startswith("0x") else int(text.strip())
        except ValueError:
            try:
                return float(text)
            except ValueError as exc:
                raise _invalid(f"bad numeric key value {text!r}") from exc
    if valuetype == "boolean":
        return text.strip().upper() == "TRUE"
    return text


def _instancename(element: ET.Element) -> pywbem.CIMInstanceName:
    if element.tag != "INSTANCENAME":
        raise _invalid(f"expected INSTANCENAME, got {element.tag}")
    classname = element.get("CLASSNAME")
    if not classname:
        raise _invalid("INSTANCENAME without CLASSNAME")
    keys: dict[str, t.Any] = {}
    for binding in element.findall("KEYBINDING"):
        if len(binding) != 1 or not binding.get("NAME"):
            raise _invalid("malformed KEYBINDING")
        keys[binding.get("NAME", "")] = _keyvalue(binding[0])
    return pywbem.CIMInstanceName(classname, keybindings=keys)


def _reference(element: ET.Element) -> pywbem.CIMInstanceName | pywbem.CIMClassName:
    """The path inside a VALUE.REFERENCE."""
    if len(element) != 1:
        raise _invalid("VALUE.REFERENCE needs exactly one child")
    child = element[0]
    if child.tag == "INSTANCEPATH":
        nspath = _one(child, "NAMESPACEPATH")
        path = _instancename(_one(child, "INSTANCENAME"))
        path.namespace = _namespace(_one(nspath, "LOCALNAMESPACEPATH"))
        path.host = (nspath.findtext("HOST") or None)
        return path
    if child.tag == "LOCALINSTANCEPATH":
        path = _instancename(_one(child, "INSTANCENAME"))
        path.namespace = _namespace(_one(child, "LOCALNAMESPACEPATH"))
        return path
    if child.tag == "INSTANCENAME":
        return _instancename(child)
    if child.tag == "CLASSPATH":
        nspath = _one(child, "NAMESPACEPATH")
        return pywbem.CIMClassName(_one(child, "CLASSNAME").get("NAME", ""),
                                   namespace=_namespace(_one(nspath, "LOCALNAMESPACEPATH")),
                                   host=nspath.findtext("HOST") or None)
    if child.tag == "LOCALCLASSPATH":
        return pywbem.CIMClassName(_one(child, "CLASSNAME").get("NAME", ""),
                                   namespace=_namespace(_one(child, "LOCALNAMESPACEPATH")))
    if child.tag == "CLASSNAME":
        return pywbem.CIMClassName(child.get("NAME", ""))
    raise _invalid(f"unexpected {child.tag} in VALUE.REFERENCE")


def _param(element: ET.Element) -> Param:
    name = element.get("NAME")
    if not name:
        raise _invalid(f"{element.tag} without NAME")
    paramtype = element.get("PARAMTYPE")
    embedded = element.get("EmbeddedObject") or element.get("EMBEDDEDOBJECT")
    if len(element) == 0:
        if element.text and element.text.strip():
            raise _invalid(f"{element.tag} {name}: text outside VALUE")
        return Param(name, "null", None, paramtype, embedded)
    if len(element) > 1:
        raise _invalid(f"{element.tag} {name}: more than one value")
    child = element[0]
    tag = child.tag
    if tag == "VALUE":
        return Param(name, "value", child.text or "", paramtype, embedded)
    if tag == "VALUE.ARRAY":
        items = [None if v.tag == "VALUE.NULL" else (v.text or "") for v in child]
        return Param(name, "array", items, paramtype, embedded)
    if tag == "VALUE.REFERENCE":
        return Param(name, "ref", _reference(child), paramtype, embedded)
    if tag == "VALUE.REFARRAY":
        refs = [None if v.tag == "VALUE.NULL" else _reference(v) for v in child]
        return Param(name, "refarray", refs, paramtype, embedded)
    if tag == "CLASSNAME":
        return Param(name, "classname", child.get("NAME", ""), paramtype, embedded)
    if tag == "INSTANCENAME":
        return Param(name, "instancename", _instancename(child), paramtype, embedded)
    if tag in ("INSTANCE", "CLASS", "VALUE.NAMEDINSTANCE", "QUALIFIER.DECLARATION"):
        return Param(name, "object", child, paramtype, embedded)
    raise _invalid(f"{element.tag} {name}: unexpected {tag}")


def _property(element: ET.Element) -> Param:
    """A PROPERTY / PROPERTY.ARRAY / PROPERTY.REFERENCE of an INSTANCE; ``paramtype`` is its TYPE."""
    name = element.get("NAME")
    if not name:
        raise _invalid(f"{element.tag} without NAME")
    values = [child for child in element if child.tag != "QUALIFIER"]
    if len(values) > 1:
        raise _invalid(f"{element.tag} {name}: more than one value")
    cimtype = "reference" if element.tag == "PROPERTY.REFERENCE" else element.get("TYPE")
    if not values:
        return Param(name, "null", None, cimtype)
    child = values[0]
    expected = {"PROPERTY": "VALUE", "PROPERTY.ARRAY": "VALUE.ARRAY", "PROPERTY.REFERENCE": "VALUE.REFERENCE"}
    if child.tag != expected[element.tag]:
        raise _invalid(f"{element.tag} {name}: unexpected {child.tag}")
    if child.tag == "VALUE":
        return Param(name, "value", child.text or "", cimtype)
    if child.tag == "VALUE.ARRAY":
        return Param(name, "array", [None if v.tag == "VALUE.NULL" else (v.text or "") for v in child], cimtype)
    return Param(name, "ref", _reference(child), cimtype)


def named_instance(element: ET.Element) -> tuple[pywbem.CIMInstanceName, str, dict[str, Param]]:
    """A VALUE.NAMEDINSTANCE (ModifyInstance): (path, the INSTANCE's class, its properties by lower-case name).

    Property values stay untyped (``Param`` with kind value / array / ref / null, ``paramtype`` = TYPE);
    the caller types them by the class declaration. Raises BadRequest for what is not one.
    """
    if element.tag != "VALUE.NAMEDINSTANCE":
        raise _invalid(f"expected VALUE.NAMEDINSTANCE, got {element.tag}")
    path = _instancename(_one(element, "INSTANCENAME"))
    instance = _one(element, "INSTANCE")
    classname = instance.get("CLASSNAME")
    if not classname:
        raise _invalid("INSTANCE without CLASSNAME")
    properties: dict[str, Param] = {}
    for child in instance:
        if child.tag in ("PROPERTY", "PROPERTY.ARRAY", "PROPERTY.REFERENCE"):
            prop = _property(child)
            if prop.name.lower() in properties:
                raise _invalid(f"property {prop.name} given twice")
            properties[prop.name.lower()] = prop
        elif child.tag != "QUALIFIER":
            raise _invalid(f"unexpected {child.tag} in INSTANCE")
    return path, classname, properties


def parse_request(body: bytes) -> Request:
    """Decode a SIMPLEREQ message; raise BadRequest for what is not one."""
    head = body[:2048].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise BadRequest(400, "request-not-well-formed", "DTDs and entities are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadRequest(400, "request-not-well-formed", f"XML is not well-formed: {exc}") from exc
    if root.tag != "CIM":
        raise _invalid("root element is not CIM")
    message = _one(root, "MESSAGE")
    request = Request()
    request.msg_id = message.get("ID", "0")
    request.protocol_version = message.get("PROTOCOLVERSION", "1.0")
    if message.find("MULTIREQ") is not None:
        raise BadRequest(501, "multiple-requests-unsupported", "MULTIREQ is not supported")
    simple = _one(message, "SIMPLEREQ")
    call = simple.find("IMETHODCALL")
    if call is not None:
        request.intrinsic = True
        request.name = call.get("NAME", "")
        request.namespace = _namespace(_one(call, "LOCALNAMESPACEPATH"))
        for element in call.findall("IPARAMVALUE"):
            param = _param(element)
            request.params[param.name.lower()] = param
    else:
        call = _one(simple, "METHODCALL")
        request.intrinsic = False
        request.name = call.get("NAME", "")
        local = call.find("LOCALINSTANCEPATH")
        if local is not None:
            request.namespace = _namespace(_one(local, "LOCALNAMESPACEPATH"))
            request.target = _instancename(_one(local, "INSTANCENAME"))
        else:
            local = _one(call, "LOCALCLASSPATH")
            request.namespace = _namespace(_one(local, "LOCALNAMESPACEPATH"))
            request.target = pywbem.CIMClassName(_one(local, "CLASSNAME").get("NAME", ""))
        for element in call.findall("PARAMVALUE"):
            param = _param(element)
            request.params[param.name.lower()] = param
    if not request.name:
        raise _invalid("method call without NAME")
    return request


def quick_peek(body: bytes) -> tuple[str, bool, dict[str, str]]:
    """(method name, intrinsic?, a few scalar params) without a full parse, for the request log."""
    text = body[:65536].decode("utf-8", "replace")
    match = re.search(r'<(IMETHODCALL|METHODCALL)\s+NAME="([^"]*)"', text)
    if not match:
        return "", True, {}
    params = {}
    for name in ("Operation", "SyncType", "Mode", "CopyType", "ReplicationType", "RequestedState", "GroupName"):
        found = re.search(r'<PARAMVALUE\s+NAME="' + name + r'"[^>]*>\s*<VALUE>([^<]*)</VALUE>', text)
        if found:
            params[name] = found.group(1)
    return match.group(2), match.group(1) == "IMETHODCALL", params


def devices_named(body: bytes) -> list[str]:
    """The DeviceID key values of the references a method call names (its volumes and synchronizations), in
    order, for the request log: which objects a call acted on."""
    text = body[:65536].decode("utf-8", "replace")
    return re.findall(r'<KEYBINDING\s+NAME="DeviceID"\s*>\s*<KEYVALUE[^>]*>([^<]*)</KEYVALUE>', text)


# typing of parameter values -------------------------------------------------------------------
def typed_scalar(text: str, cimtype: str) -> t.Any:
    """A CIM-XML VALUE text as a value of CIM type ``cimtype`` (ValueError if it is not one)."""
    if cimtype in _INT_TYPES:
        stripped = text.strip()
        number = int(stripped, 16) if stripped.lower().startswith("0x") else int(stripped)
        return pywbem.type_from_name(cimtype)(number)
    if cimtype == "boolean":
        word = text.strip().upper()
        if word not in ("TRUE", "FALSE"):
            raise ValueError(f"{text!r} is not TRUE or FALSE")
        return word == "TRUE"
    if cimtype in ("real32", "real64"):
        return pywbem.type_from_name(cimtype)(float(text))
    if cimtype == "datetime":
        return pywbem.CIMDateTime(text.strip())
    if cimtype == "char16":
        if len(text) != 1:
            raise ValueError(f"{text!r} is not one character")
        return text
    return text


# encoding -------------------------------------------------------------------------------------
def quoteattr(value: str) -> str:
    """An XML attribute value, always in double quotes."""
    return '"' + escape(str(value), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}) + '"'


def explicit_end_tags(xml: str) -> str:
    return _EMPTY.sub(r"<\1\2></\1>", xml)


def _scalar_text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, pywbem.CIMDateTime):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return escape(str(value))


def value_xml(value: t.Any, cimtype: str) -> str:
    """The VALUE / VALUE.ARRAY / VALUE.REFERENCE / VALUE.REFARRAY of a parameter value."""
    if cimtype == "reference":
        if isinstance(value, list):
            return "<VALUE.REFARRAY>" + "".join(
                "<VALUE.NULL></VALUE.NULL>" if v is None else f"<VALUE.REFERENCE>{v.tocimxmlstr()}</VALUE.REFERENCE>"
                for v in value) + "</VALUE.REFARRAY>"
        return f"<VALUE.REFERENCE>{value.tocimxmlstr()}</VALUE.REFERENCE>"
    if isinstance(value, list):
        return "<VALUE.ARRAY>" + "".join(
            "<VALUE.NULL></VALUE.NULL>" if v is None else f"<VALUE>{_embedded_or_text(v)}</VALUE>"
            for v in value) + "</VALUE.ARRAY>"
    return f"<VALUE>{_embedded_or_text(value)}</VALUE>"


def _embedded_or_text(value: t.Any) -> str:
    if isinstance(value, pywbem.CIMInstance):
        return escape(explicit_end_tags(value.tocimxmlstr(ignore_path=True)))
    return _scalar_text(value)


class OutParam:
    def __init__(self, name: str, cimtype: str, value: t.Any, embedded: bool = False) -> None:
        self.name = name
        self.cimtype = cimtype
        self.value = value
        self.embedded = embedded

    def xml(self) -> str:
        attrs = f'NAME={quoteattr(self.name)} PARAMTYPE="{self.cimtype}"'
        if self.embedded:
            attrs += ' EmbeddedObject="instance"'
        return f"<PARAMVALUE {attrs}>{value_xml(self.value, self.cimtype)}</PARAMVALUE>"


def error_xml(code: int, description: str) -> str:
    return f'<ERROR CODE="{int(code)}" DESCRIPTION={quoteattr(description)}></ERROR>'


def envelope(request_id: str, name: str, intrinsic: bool, inner: str) -> bytes:
    tag = "IMETHODRESPONSE" if intrinsic else "METHODRESPONSE"
    xml = ('<?xml version="1.0" encoding="utf-8" ?>\n'
           '<CIM CIMVERSION="2.0" DTDVERSION="2.0">'
           f'<MESSAGE ID={quoteattr(request_id)} PROTOCOLVERSION="1.0"><SIMPLERSP>'
           f'<{tag} NAME={quoteattr(name)}>{inner}</{tag}>'
           '</SIMPLERSP></MESSAGE></CIM>')
    return explicit_end_tags(xml).encode("utf-8")


def ireturn(items: t.Iterable[str]) -> str:
    return "<IRETURNVALUE>" + "".join(items) + "</IRETURNVALUE>"


def method_return(rc: int, out: t.Iterable[OutParam]) -> str:
    return (f'<RETURNVALUE PARAMTYPE="uint32"><VALUE>{int(rc)}</VALUE></RETURNVALUE>'
            + "".join(p.xml() for p in out if p.value is not None))


# pywbem renders CIM-XML through minidom (about 1 ms per instance); an enumeration of hundreds of
# volumes would spend most of its time there. Instances are compared by value (hashing one costs a
# twentieth of rendering it), so an instance whose properties changed is rendered anew.
_RENDERED: dict[tuple[str, pywbem.CIMInstance], str] = {}
_RENDERED_MAX = 20000


def _rendered(kind: str, inst: pywbem.CIMInstance, render: t.Callable[[], str]) -> str:
    key = (kind, inst)
    xml = _RENDERED.get(key)
    if xml is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        xml = _RENDERED[key] = render()
    return xml


def instance_xml(inst: pywbem.CIMInstance) -> str:
    return _rendered("instance", inst, lambda: inst.tocimxmlstr(ignore_path=True))


def named_instance_xml(inst: pywbem.CIMInstance) -> str:
    return _rendered("named", inst, lambda: (
        "<VALUE.NAMEDINSTANCE>" + inst.path.tocimxmlstr(ignore_host=True, ignore_namespace=True)
        + inst.tocimxmlstr(ignore_path=True) + "</VALUE.NAMEDINSTANCE>"))


def object_with_path_xml(inst: pywbem.CIMInstance) -> str:
    return "<VALUE.OBJECTWITHPATH>" + inst.path.tocimxmlstr() + inst.tocimxmlstr(ignore_path=True) + \
        "</VALUE.OBJECTWITHPATH>"


def object_path_xml(path: pywbem.CIMInstanceName) -> str:
    return "<OBJECTPATH>" + path.tocimxmlstr() + "</OBJECTPATH>"


def instance_name_xml(path: pywbem.CIMInstanceName) -> str:
    return path.tocimxmlstr(ignore_host=True, ignore_namespace=True)


def qualifier_declaration_xml(decl: pywbem.CIMQualifierDeclaration) -> str:
    """QUALIFIER.DECLARATION without the ANY attribute pywbem writes on SCOPE (DSP0201 has none)."""
    return _SCOPE_ANY.sub(r"\1", decl.tocimxmlstr())


def classname_xml(name: str) -> str:
    return f"<CLASSNAME NAME={quoteattr(name)}></CLASSNAME>"
