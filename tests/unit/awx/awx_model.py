"""What AWX does with the files under extensions/awx/, reproduced for the tests.

- ``credential_type_errors`` applies the rules the AWX API applies when a credential type is
  created (the JSON schema of ``inputs`` and ``injectors``, reserved names, and every injector
  template rendered with each field set and undefined names as errors).
- ``inject_credential`` does what a job launch does with a credential: secrets and other inputs
  go into a template namespace (empty inputs left out, missing booleans set to false), every
  ``file`` injector is written to a temporary file under ``<private data dir>/env/`` whose path is
  ``tower.filename.<name>``, and the ``env`` injectors are rendered in a sandbox.
- ``private_data_dir`` lays out a directory the way AWX hands one to ansible-runner.

Where AWX runs the job in a container the file paths are the same under ``/runner``; the tests run
without one, so the paths stay on the host.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import types
import typing as t

import yaml
from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWX_DIR = os.path.join(REPO, "extensions", "awx")
CREDENTIAL_TYPES_DIR = os.path.join(AWX_DIR, "credential_types")

NAME_RE = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
FILE_LABEL_RE = re.compile(r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$")
FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret", "ask_at_runtime",
              "default"}
STRING_ONLY_KEYS = ("choices", "multiline", "format", "secret")
# Environment variables a credential may not set (AWX refuses them, or drops them at launch).
ENV_BLOCKLIST = {"VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
                 "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES",
                 "CALLBACK_QUEUE", "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS",
                 "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH"}


def load_credential_type(vendor: str) -> dict[str, t.Any]:
    with open(os.path.join(CREDENTIAL_TYPES_DIR, f"{vendor}.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def credential_type_vendors() -> list[str]:
    return sorted(name[:-4] for name in os.listdir(CREDENTIAL_TYPES_DIR) if name.endswith(".yml"))


def _fields(doc: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return list((doc.get("inputs") or {}).get("fields") or [])


def _file_names(doc: dict[str, t.Any]) -> list[str]:
    return [label.split(".", 1)[1] for label in (doc.get("injectors") or {}).get("file", {}) if "." in label]


def _validation_namespace(doc: dict[str, t.Any]) -> dict[str, t.Any]:
    namespace: dict[str, t.Any] = {str(field["id"]): "EXAMPLE" for field in _fields(doc) if "id" in field}
    files = (doc.get("injectors") or {}).get("file", {})
    if "template" in files:
        namespace["tower"] = types.SimpleNamespace(filename="EXAMPLE_FILENAME")
    else:
        namespace["tower"] = types.SimpleNamespace(
            filename=types.SimpleNamespace(**{name: "EXAMPLE_FILENAME" for name in _file_names(doc)}))
    return namespace


def _input_errors(doc: dict[str, t.Any]) -> list[str]:
    errors = []
    inputs = doc.get("inputs")
    if not isinstance(inputs, dict) or set(inputs) - {"fields", "required"}:
        return ["inputs must be a mapping with only fields and required"]
    seen = set()
    for field in _fields(doc):
        where = f"field {field.get('id')!r}"
        if set(field) - FIELD_KEYS:
            errors.append(f"{where}: unknown keys {sorted(set(field) - FIELD_KEYS)}")
        if not isinstance(field.get("id"), str) or not NAME_RE.match(field["id"]):
            errors.append(f"{where}: id must be a variable name")
        if field.get("id") == "tower":
            errors.append("'tower' is a reserved field name")
        if field.get("id") in seen:
            errors.append(f"{where}: field ids must be unique")
        seen.add(field.get("id"))
        if not isinstance(field.get("label"), str) or not field["label"]:
            errors.append(f"{where}: needs a label")
        kind = field.get("type", "string")
        if kind not in ("string", "boolean"):
            errors.append(f"{where}: type must be string or boolean")
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}.get(kind, str)):
            errors.append(f"{where}: default {field['default']!r} is not a {kind}")
        errors.extend(f"{where}: {key} not allowed for a {kind} field" for key in STRING_ONLY_KEYS
                      if key in field and kind != "string")
        if "format" in field and field["format"] not in ("ssh_private_key", "url"):
            errors.append(f"{where}: unknown format {field['format']!r}")
    unknown = [name for name in inputs.get("required") or [] if name not in seen]
    if unknown:
        errors.append(f"required names undefined fields: {unknown}")
    return errors


def _injector_errors(doc: dict[str, t.Any]) -> list[str]:
    errors = []
    injectors = doc.get("injectors")
    if not isinstance(injectors, dict) or set(injectors) - {"file", "env", "extra_vars"}:
        return ["injectors must be a mapping with only file, env and extra_vars"]
    files = injectors.get("file", {})
    errors.extend(f"file injector {label!r}: must be template or template.<name>"
                  for label in files if not FILE_LABEL_RE.match(label))
    if "template" in files and len(files) > 1:
        errors.append("must use multi-file syntax (template.<name>) when injecting several files")
    for var, value in injectors.get("env", {}).items():
        if not NAME_RE.match(var):
            errors.append(f"env {var!r}: not a variable name")
        if var.startswith("ANSIBLE_") or var in ENV_BLOCKLIST:
            errors.append(f"env {var!r}: AWX does not allow a credential to set it")
        if not isinstance(value, str) or not value.isascii():
            errors.append(f"env {var!r}: the template must be an ASCII string")
    errors.extend(f"extra_vars {var!r}: not a variable name" for var in injectors.get("extra_vars", {})
                  if not NAME_RE.match(var))
    if errors:
        return errors
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    namespace = _validation_namespace(doc)
    for kind, entries in injectors.items():
        for key, template in entries.items():
            try:
                sandbox.from_string(template).render(**namespace)
            except (UndefinedError, AttributeError) as exc:
                errors.append(f"{kind} {key!r} uses an undefined field ({exc})")
    return errors


def credential_type_errors(doc: dict[str, t.Any]) -> list[str]:
    """What the AWX API would refuse in a credential type (empty when it would accept it)."""
    errors = []
    if doc.get("kind") not in ("cloud", "net"):
        errors.append("kind must be cloud or net for a custom credential type")
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        errors.append("name is required")
    input_errors = _input_errors(doc)
    # AWX checks the injectors' templates only once the inputs are valid.
    return errors + input_errors + (_injector_errors(doc) if not input_errors else [])


def inject_credential(doc: dict[str, t.Any], inputs: dict[str, t.Any], private_data_dir: str) -> dict[str, str]:
    """The environment a job gets from one credential of this type, files written as AWX writes them."""
    namespace: dict[str, t.Any] = {}
    for name, value in inputs.items():
        if isinstance(value, bool) or value:
            namespace[name] = value
    for field in _fields(doc):
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
    sandbox = ImmutableSandboxedEnvironment()
    env_dir = os.path.join(private_data_dir, "env")
    os.makedirs(env_dir, exist_ok=True)
    single = None
    files = {}
    for label, template in (doc.get("injectors") or {}).get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if "." in label:
            files[label.split(".", 1)[1]] = path
        else:
            single = path
    namespace["tower"] = types.SimpleNamespace(filename=single or types.SimpleNamespace(**files))
    return {var: sandbox.from_string(template).render(**namespace)
            for var, template in (doc.get("injectors") or {}).get("env", {}).items() if var not in ENV_BLOCKLIST}


def inventory_script(groups: dict[str, dict[str, dict[str, t.Any]]], all_vars: dict[str, t.Any] | None = None) -> str:
    """``inventory/hosts`` as AWX writes it: an executable that prints the inventory as JSON.

    ``groups`` maps a group name to its hosts and their variables; ``all_vars`` are the
    inventory's own variables (the group ``all``, which the plays' implicit localhost sees too).
    """
    data: dict[str, t.Any] = {"all": {"children": sorted(groups), "vars": dict(all_vars or {})},
                              "_meta": {"hostvars": {}}}
    for group, hosts in groups.items():
        data[group] = {"hosts": sorted(hosts), "vars": {}}
        for host, hostvars in hosts.items():
            data["_meta"]["hostvars"][host] = hostvars
    return f"#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint({json.dumps(data)!r})\n"


def private_data_dir(path: str, inventory: str, extravars: dict[str, t.Any], envvars: dict[str, str],
                     settings: dict[str, t.Any], project_files: dict[str, str]) -> str:
    """A private data directory as AWX prepares one for a job.

    ``project_files`` maps paths inside ``project/`` to files to copy there (the project checkout).
    ``path/env`` may already hold files written by credential injectors.
    """
    for sub in ("inventory", "env", "project"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    hosts = os.path.join(path, "inventory", "hosts")
    with open(hosts, "w", encoding="utf-8") as handle:
        handle.write(inventory)
    os.chmod(hosts, stat.S_IRUSR | stat.S_IWUSR | stat.S_IXUSR)
    for name, content in (("extravars", extravars), ("envvars", envvars), ("settings", settings)):
        target = os.path.join(path, "env", name)
        with open(target, "w", encoding="utf-8") as handle:
            yaml.safe_dump(content, handle, default_flow_style=False)
        os.chmod(target, stat.S_IRUSR | stat.S_IWUSR)
    for relative, source in project_files.items():
        target = os.path.join(path, "project", relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
    return path
