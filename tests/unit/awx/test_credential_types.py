"""The AWX credential types under extensions/awx/credential_types/: what AWX accepts, and what the collection reads.

The contract: a credential type per vendor injects ``<PREFIX>_USERNAME``, ``_PASSWORD``,
``_CA_PATH`` and ``_VALIDATE_CERTS`` (SMI-S also ``SMIS_NAMESPACE``), the names the roles
(``array_connection``) and the modules (option fallbacks documented in the doc fragments) read.
A credential's empty optional field must leave the modules' own default in force.
"""

from __future__ import annotations

import importlib
import os
import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible_collections.storage.replication.plugins.module_utils._common import connection_options, tls_verify
from ansible_collections.storage.replication.plugins.plugin_utils._sets import ENV_KEYS, array_connection
from ansible_collections.storage.replication.plugins.plugin_utils._vendors import ENV_PREFIX
from awx_model import REPO, credential_type_errors, credential_type_vendors, inject_credential, load_credential_type

VENDORS = credential_type_vendors()
SECRET_WORDS = re.compile(r"pass|secret|token|key", re.I)
# Values that belong to one array, never to an account: they stay in the inventory.
PER_ARRAY = ("HOSTNAME", "PORT", "STORAGE_DEVICE_ID")


def module_env_options(vendor: str) -> dict[str, tuple[str, dict]]:
    """Environment variable -> (option, its doc) from the vendor's doc fragment ("Falls back to E(X)")."""
    fragment = importlib.import_module(f"ansible_collections.storage.replication.plugins.doc_fragments.{vendor}")
    options = yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    out = {}
    for name, doc in options.items():
        for var in re.findall(r"E\((\w+)\)", " ".join(doc.get("description") or [])):
            out[var] = (name, doc)
    return out


def test_there_is_one_credential_type_per_vendor_of_the_roles():
    assert VENDORS == sorted(ENV_PREFIX)
    names = [load_credential_type(v)["name"] for v in VENDORS]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("vendor", VENDORS)
def test_awx_accepts_the_credential_type(vendor):
    doc = load_credential_type(vendor)
    assert credential_type_errors(doc) == []
    assert doc["kind"] == "cloud" and doc.get("description")
    assert set(doc) <= {"name", "description", "kind", "inputs", "injectors"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_secrets_are_secret_and_only_reach_the_environment(vendor):
    doc = load_credential_type(vendor)
    fields = {f["id"]: f for f in doc["inputs"]["fields"]}
    secret = {name for name, f in fields.items() if f.get("secret")}
    assert {name for name in fields if SECRET_WORDS.search(name)} <= secret
    assert "password" in secret and {"username", "password"} <= set(doc["inputs"]["required"])
    assert "extra_vars" not in doc["injectors"], "extra vars of a job are shown in AWX; secrets go to env"
    for template in doc["injectors"].get("file", {}).values():
        assert not any(name in template for name in secret), "a secret written to a file outlives the task"
    # AWX fills a boolean missing from a credential with false, whatever the default says.
    assert all(f.get("default", False) is False for f in fields.values() if f.get("type") == "boolean")
    used = " ".join(str(v) for kind in doc["injectors"].values() for v in kind.values())
    assert [name for name in fields if not re.search(rf"\b{re.escape(name)}\b", used)] == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_field_is_shadowed_by_a_jinja_global(vendor):
    # AWX leaves an empty field out of the template namespace: {{ namespace }} would then render
    # Jinja's own namespace class instead of an empty string.
    globals_ = set(ImmutableSandboxedEnvironment().globals)
    assert [f["id"] for f in load_credential_type(vendor)["inputs"]["fields"] if f["id"] in globals_] == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_injected_names_are_the_ones_the_roles_and_modules_read(vendor):
    doc = load_credential_type(vendor)
    prefix = ENV_PREFIX[vendor]
    injected = set(doc["injectors"]["env"])
    module_env = module_env_options(vendor)
    assert injected <= set(module_env), f"not read by the {vendor} modules: {injected - set(module_env)}"
    assert {f"{prefix}_{key.upper()}" for key in ENV_KEYS} <= injected, "the roles read all of these"
    assert not injected & {f"{prefix}_{key}" for key in PER_ARRAY}


@pytest.mark.parametrize("vendor", VENDORS)
def test_empty_optional_fields_leave_the_module_defaults(vendor, tmp_path, monkeypatch):
    doc = load_credential_type(vendor)
    env = inject_credential(doc, {"username": "operator", "password": "pw"}, str(tmp_path))
    for var, value in env.items():
        option, option_doc = module_env_options(vendor)[var]
        if option in ("username", "password"):
            continue
        default = option_doc.get("default")
        expected = "" if default is None else str(default).lower()
        assert value.lower() == expected, f"{var}={value!r} overrides the default of {option} ({default!r})"
    prefix = ENV_PREFIX[vendor]
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv(f"{prefix}_HOSTNAME", "array.example.com")
    params = ArgumentSpecValidator(connection_options(prefix)).validate({}).validated_parameters
    assert (params["username"], params["password"], tls_verify(params)) == ("operator", "pw", True)
    conn = array_connection("dr", {"dr": {"replication_vendor": vendor, "replication_endpoint": "https://dr"}})
    assert conn == {"hostname": "https://dr", "username": "operator", "password": "pw", "validate_certs": True}


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_ca_certificate_reaches_the_modules_as_a_private_file(vendor, tmp_path, monkeypatch):
    doc = load_credential_type(vendor)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    env = inject_credential(doc, {"username": "u", "password": "p", "ca_cert": pem}, str(tmp_path))
    prefix = ENV_PREFIX[vendor]
    path = env[f"{prefix}_CA_PATH"]
    assert os.path.dirname(path) == str(tmp_path / "env")
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == pem
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv(f"{prefix}_HOSTNAME", "array.example.com")
    params = ArgumentSpecValidator(connection_options(prefix)).validate({}).validated_parameters
    assert tls_verify(params) == path
    hostvars = {"dr": {"replication_vendor": vendor, "replication_endpoint": "https://dr",
                       "replication_ca_path": "/etc/pki/dr.pem"}}
    assert array_connection("dr", hostvars)["ca_path"] == "/etc/pki/dr.pem", "the inventory host wins"
    del hostvars["dr"]["replication_ca_path"]
    assert array_connection("dr", hostvars)["ca_path"] == path


@pytest.mark.parametrize("vendor", VENDORS)
def test_skipping_tls_verification_is_explicit(vendor, tmp_path, monkeypatch):
    doc = load_credential_type(vendor)
    env = inject_credential(doc, {"username": "u", "password": "p", "skip_tls_verify": True}, str(tmp_path))
    prefix = ENV_PREFIX[vendor]
    assert env[f"{prefix}_VALIDATE_CERTS"] == "false"
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv(f"{prefix}_HOSTNAME", "array.example.com")
    params = ArgumentSpecValidator(connection_options(prefix)).validate({}).validated_parameters
    assert tls_verify(params) is False


def test_the_smis_namespace_given_in_the_credential_is_injected(tmp_path):
    env = inject_credential(load_credential_type("smis"), {"username": "u", "password": "p",
                                                           "cim_namespace": "root/cimv2"}, str(tmp_path))
    assert env["SMIS_NAMESPACE"] == "root/cimv2"


@pytest.mark.parametrize("broken, message", [
    ({"kind": "ssh"}, "kind must be cloud or net"),
    ({"inputs": {"fields": [{"id": "flag", "label": "F", "type": "boolean", "secret": True}]}}, "secret not allowed"),
    ({"inputs": {"fields": [{"id": "u", "label": "U"}], "required": ["p"]}}, "required names undefined"),
    ({"injectors": {"env": {"ANSIBLE_X": "{{ username }}"}}}, "does not allow"),
    ({"injectors": {"env": {"X_PASSWORD": "{{ pasword }}"}}}, "undefined field"),
    ({"injectors": {"env": {"X_CA": "{{ tower.filename.cert }}"}}}, "undefined field"),
    ({"injectors": {"file": {"template": "a", "template.b": "b"}}}, "multi-file syntax"),
])
def test_the_checker_finds_what_awx_refuses(broken, message):
    doc = {"name": "t", "kind": "cloud", "inputs": {"fields": [{"id": "username", "label": "U"}]}, "injectors": {}}
    doc.update(broken)
    assert any(message in error for error in credential_type_errors(doc)), credential_type_errors(doc)


def test_the_awx_readme_documents_every_injected_variable():
    with open(os.path.join(REPO, "extensions", "awx", "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    missing = [var for vendor in VENDORS for var in load_credential_type(vendor)["injectors"]["env"]
               if var not in readme]
    assert missing == []
