"""The class repository of one namespace, compiled from the lab's own MOF files.

pywbem's MOF compiler (through ``pywbem_mock.FakedWBEMConnection``, public API)
turns ``mof/*.mof`` into CIM classes with their qualifiers; the simulator serves
GetClass / EnumerateClassNames / EnumerateClasses / qualifier reads from it and
uses the declarations to type instance properties and method parameters.
Instances are not kept in that repository: they are rendered from the live
model on every request.
"""

from __future__ import annotations

import functools
import os
import typing as t

import pywbem
import pywbem_mock

from .cimxml import CIM_ERR_INVALID_CLASS, CIMFault

MOF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mof")


class Schema:
    def __init__(self, namespace: str, mof_files: t.Sequence[str]) -> None:
        self.namespace = namespace
        self.conn = pywbem_mock.FakedWBEMConnection(default_namespace=namespace)
        for name in mof_files:
            with open(os.path.join(MOF_DIR, name), encoding="utf-8") as handle:
                self.conn.compile_mof_string(handle.read(), namespace)
        names = self.conn.EnumerateClassNames(namespace=namespace, DeepInheritance=True)
        self.classes: dict[str, pywbem.CIMClass] = {}
        for name in names:
            self.classes[name.lower()] = self.conn.GetClass(name, namespace=namespace, LocalOnly=False,
                                                            IncludeQualifiers=True, IncludeClassOrigin=False)
        self._chains: dict[str, list[str]] = {}
        for key, cls in self.classes.items():
            chain = [key]
            parent = cls.superclass
            while parent:
                chain.append(parent.lower())
                parent = self.classes[parent.lower()].superclass
            self._chains[key] = chain

    # lookups ------------------------------------------------------------------------------
    def cls(self, name: str) -> pywbem.CIMClass:
        try:
            return self.classes[name.lower()]
        except KeyError:
            raise CIMFault(CIM_ERR_INVALID_CLASS, f"class {name} does not exist in namespace {self.namespace}") \
                from None

    def has(self, name: str) -> bool:
        return name.lower() in self.classes

    def is_a(self, classname: str, base: str) -> bool:
        return base.lower() in self._chains.get(classname.lower(), ())

    def is_association(self, classname: str) -> bool:
        quals = self.cls(classname).qualifiers
        return "Association" in quals and bool(quals["Association"].value)

    def method(self, classname: str, methodname: str) -> pywbem.CIMMethod | None:
        methods = self.cls(classname).methods
        return methods[methodname] if methodname in methods else None

    def subclasses(self, classname: str) -> list[str]:
        """The class and every class derived from it."""
        base = classname.lower()
        return [c.classname for key, c in self.classes.items() if base in self._chains[key]]

    def own_property_names(self, classname: str) -> set[str]:
        """Properties a DeepInheritance=false enumeration of ``classname`` returns."""
        return {name.lower() for name in self.cls(classname).properties}

    # repository reads (served as-is) ---------------------------------------------------------
    def _call(self, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, namespace=self.namespace, **kwargs)
        except pywbem.CIMError as exc:
            raise CIMFault(exc.status_code, exc.status_description or exc.status_code_name) from None

    def get_class(self, name: str, local_only: bool, include_qualifiers: bool, include_class_origin: bool,
                  property_list: list[str] | None) -> pywbem.CIMClass:
        self.cls(name)
        return self._call(self.conn.GetClass, name, LocalOnly=local_only, IncludeQualifiers=include_qualifiers,
                          IncludeClassOrigin=include_class_origin, PropertyList=property_list)

    def enumerate_class_names(self, classname: str | None, deep: bool) -> list[str]:
        if classname:
            self.cls(classname)
        return list(self._call(self.conn.EnumerateClassNames, ClassName=classname, DeepInheritance=deep))

    def enumerate_classes(self, classname: str | None, deep: bool, local_only: bool, include_qualifiers: bool,
                          include_class_origin: bool) -> list[pywbem.CIMClass]:
        if classname:
            self.cls(classname)
        return list(self._call(self.conn.EnumerateClasses, ClassName=classname, DeepInheritance=deep,
                               LocalOnly=local_only, IncludeQualifiers=include_qualifiers,
                               IncludeClassOrigin=include_class_origin))

    def qualifiers(self) -> list[pywbem.CIMQualifierDeclaration]:
        return list(self._call(self.conn.EnumerateQualifiers))

    def qualifier(self, name: str) -> pywbem.CIMQualifierDeclaration:
        return self._call(self.conn.GetQualifier, name)


@functools.lru_cache(maxsize=None)
def load(namespace: str, mof_files: tuple[str, ...]) -> Schema:
    """One compiled repository per (namespace, files) and process; classes are read-only."""
    return Schema(namespace, mof_files)
