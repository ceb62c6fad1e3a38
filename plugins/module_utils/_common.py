"""Shared pieces of every module: connection options, endpoint URLs, errors, results.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import base64
import os
import re
import typing as t
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

_HOST_RE = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[A-Za-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?$")


def nonempty_env_fallback(*names: str) -> str:
    """Like Ansible's ``env_fallback``, but an empty variable counts as unset.

    A credential injector or a shell may export a variable with no value; it
    must not override the option's default (an empty ``validate_certs`` is not false).
    """
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    raise AnsibleFallbackNotFound


MASK = "********"
# a header that carries credentials, echoed as text, JSON or a Python repr, with or without an auth scheme
_CREDENTIAL_HEADER = re.compile(
    r"""((?i:\b(?:proxy-)?authorization|\bcookie|\bx-auth-token)["']?\s*[:=]\s*["']?"""
    r"(?:[A-Za-z][\w-]*(?:\s+|%20))?)([\w+/=.~-]{8,})")
# an HTTP auth scheme followed by a credential, wherever it stands
_CREDENTIAL_TOKEN = re.compile(r"(\b(?i:basic|bearer|session|digest|negotiate|token)(?:\s+|%20))([\w+/=.~-]{8,})")
_SECRET_KEYS = ("authorization", "password", "passwd", "token", "cookie", "secret")


def _masked_token(match: re.Match[str]) -> str:
    """The match with its token masked when it is shaped like a credential (base64, hex, a uuid, a JWT: it has
    a digit, + / =, or a capital after a small letter), so that "Basic is missing" or "Session expired" stay."""
    token = match.group(2)
    small = next((n for n, c in enumerate(token) if c.islower()), len(token))
    shaped = any(c.isdigit() or c in "+/=" for c in token) or any(c.isupper() for c in token[small:])
    return match.group(1) + MASK if shaped else match.group(0)


def credential_forms(username: t.Any, password: t.Any) -> tuple[str, ...]:
    """What a password can look like on the wire: itself and the ``user:password`` of HTTP Basic auth in
    base64 (padded, unpadded, URL-safe), longest first."""
    if not password:
        return ()
    pair = f"{username or ''}:{password}".encode()
    encoded = base64.b64encode(pair).decode()
    forms = {str(password), encoded, encoded.rstrip("="), base64.urlsafe_b64encode(pair).decode().rstrip("=")}
    return tuple(sorted(forms, key=len, reverse=True))


def redact(value: t.Any, secrets: t.Iterable[str] = ()) -> t.Any:
    """A copy of ``value`` (text, or lists and dicts of it) without credentials.

    Masks the values of ``Authorization`` (and cookie / auth-token) headers, ``Basic`` / ``Bearer`` /
    ``Session`` tokens, every value under a key that names a secret, and each of ``secrets`` wherever it
    occurs. Every error text and detail taken from what an array answered goes through here.
    """
    known = tuple(s for s in secrets if s)
    if isinstance(value, str):
        for secret in known:
            value = value.replace(secret, MASK)
        value = _CREDENTIAL_HEADER.sub(_masked_token, value)
        return _CREDENTIAL_TOKEN.sub(_masked_token, value)
    if isinstance(value, dict):
        masked = {k: (MASK if isinstance(k, str) and any(w in k.lower() for w in _SECRET_KEYS) and v
                      else redact(v, known)) for k, v in value.items()}
        return value if all(masked[k] is v for k, v in value.items()) else masked  # untouched: the same object
    if isinstance(value, (list, tuple)):
        items = [redact(v, known) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return tuple(items) if isinstance(value, tuple) else items
    return value


class ReplicationError(Exception):
    """A failure to report with ``fail_json``: a message plus facts for the result.

    ``details`` carries what the array answered (``array_message``, ``array_code``,
    ``http_status``) and the object's state, so a failure always says what was
    asked, what the array said, and where things stand.
    """

    def __init__(self, msg: str, **details: t.Any) -> None:
        msg = redact(msg)  # what an array echoed may carry credentials: never into a result
        super().__init__(msg)
        self.msg = msg
        self.details = {k: redact(v) for k, v in details.items() if v is not None}

    def hide(self, secrets: t.Iterable[str]) -> ReplicationError:
        """Mask ``secrets`` (a client's password, its encoded forms, session tokens) in the message and
        details; return self, so a client can ``raise error.hide(...)``."""
        secrets = tuple(secrets)
        if secrets:
            self.msg = redact(self.msg, secrets)
            self.args = (self.msg,)
            self.details = {k: redact(v, secrets) for k, v in self.details.items()}
        return self

    def __str__(self) -> str:
        return self.msg


def connection_options(env_prefix: str, extra: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    """Argument spec of the connection options, each with an environment fallback.

    The variables are ``<PREFIX>_HOSTNAME``, ``_USERNAME``, ``_PASSWORD``,
    ``_VALIDATE_CERTS``, ``_CA_PATH``, ``_PORT`` and ``_TIMEOUT``.
    """

    def env(name: str) -> tuple[t.Any, list[str]]:
        return (nonempty_env_fallback, [f"{env_prefix}_{name}"])

    spec: dict[str, t.Any] = {
        "hostname": {"type": "str", "required": True, "fallback": env("HOSTNAME")},
        "username": {"type": "str", "required": True, "fallback": env("USERNAME"), "aliases": ["user"]},
        "password": {"type": "str", "required": True, "no_log": True, "fallback": env("PASSWORD")},
        "validate_certs": {"type": "bool", "default": True, "fallback": env("VALIDATE_CERTS")},
        "ca_path": {"type": "path", "fallback": env("CA_PATH")},
        "port": {"type": "int", "fallback": env("PORT")},
        "timeout": {"type": "int", "default": 60, "fallback": env("TIMEOUT")},
    }
    spec.update(extra or {})
    return spec


def nested_connection_options(env_prefix: str) -> dict[str, t.Any]:
    """The connection options as a sub-spec (e.g. a source cluster), without fallbacks."""
    spec = connection_options(env_prefix)
    for key in ("hostname", "username", "password"):
        spec[key] = dict(spec[key], required=True)
    for opts in spec.values():
        opts.pop("fallback", None)
        opts.pop("aliases", None)
    return spec


def base_url(hostname: str, port: int | None = None, scheme: str = "https") -> str:
    """``scheme://host:port`` from a host, ``host:port`` or a URL; ``port`` overrides the one given.

    A path in a URL is dropped: every protocol client adds its own.
    """
    value = (hostname or "").strip()
    if not value:
        raise ReplicationError("hostname is empty: give a host, host:port or an https:// URL")
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ReplicationError(f"hostname {hostname!r}: only http:// and https:// URLs are supported")
        if not parts.hostname:
            raise ReplicationError(f"hostname {hostname!r}: the URL has no host")
        scheme = parts.scheme
        host = parts.hostname
        try:
            url_port = parts.port
        except ValueError as exc:
            raise ReplicationError(f"hostname {hostname!r}: {exc}") from exc
    else:
        match = _HOST_RE.match(value)
        if not match:
            raise ReplicationError(f"hostname {hostname!r} is not a host name, host:port or URL")
        host = match.group("v6") or match.group("host")
        url_port = int(match.group("port")) if match.group("port") else None
    port = port or url_port
    if port is not None and not 0 < port < 65536:
        raise ReplicationError(f"port {port} is out of range")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def tls_verify(params: dict[str, t.Any]) -> bool | str:
    """What to verify the server certificate with: a CA file, the system store, or nothing."""
    if not params.get("validate_certs", True):
        return False
    return params.get("ca_path") or True


def merge_item(defaults: dict[str, t.Any], item: dict[str, t.Any], keys: t.Iterable[str]) -> dict[str, t.Any]:
    """A bulk item with the task-level value of every key it does not set itself."""
    merged = {key: defaults.get(key) for key in keys}
    merged.update({k: v for k, v in item.items() if v is not None})
    return merged


def item_options(spec: dict[str, t.Any], keys: t.Iterable[str]) -> dict[str, t.Any]:
    """The per-item sub-spec of a bulk list: the same options, with no defaults (the task's apply)."""
    sub = {}
    for key in keys:
        opts = dict(spec[key])
        opts.pop("default", None)
        opts.pop("required", None)
        sub[key] = opts
    return sub


def summarize(results: list[dict[str, t.Any]]) -> dict[str, int]:
    counts = {"total": len(results), "changed": 0, "failed": 0, "skipped": 0, "ok": 0}
    for item in results:
        if item.get("failed"):
            counts["failed"] += 1
        elif item.get("skipped"):
            counts["skipped"] += 1
        elif item.get("changed"):
            counts["changed"] += 1
        else:
            counts["ok"] += 1
    return counts


def run_options() -> dict[str, t.Any]:
    """The waiting and bulk options every changing module takes (documented by the ``wait`` and ``bulk``
    doc fragments); ``check_run_options`` checks their values."""
    return {
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 1800},
        "poll_interval": {"type": "float", "default": 1.0},
        "max_workers": {"type": "int", "default": 10},
        "continue_on_error": {"type": "bool", "default": False},
    }


def check_run_options(params: dict[str, t.Any]) -> None:
    """The options every bulk module shares, checked before anything is sent."""
    if params["max_workers"] < 1 or params["wait_timeout"] < 0 or params["poll_interval"] <= 0:
        raise ReplicationError("max_workers must be at least 1, wait_timeout zero or more, poll_interval above 0")


def finish_run(module: t.Any, results: list[dict[str, t.Any]], *, bulk: bool, list_key: str, object_key: str,
               sent: int, item_key: str = "item", extras: t.Iterable[str] = (), id_keys: t.Iterable[str] = (),
               warnings: t.Iterable[str] = (), noun: str = "items") -> None:
    """End a module run with its results; fail when an item failed.

    Bulk mode returns ``list_key`` (one result per item) and ``summary``; single
    mode returns the item's ``actions`` and ``object_key`` facts (plus ``extras``
    it has) at the top level. ``--diff`` gets before and after per item, named by
    ``item_key``. Item warnings become module warnings.
    """
    for warning in warnings:
        module.warn(warning)
    diff: dict[str, dict[str, t.Any]] = {"before": {}, "after": {}}
    for result in results:
        for warning in result.pop("warnings", []):
            module.warn(warning)
        item_diff = result.pop("diff", None) or {}
        diff["before"][str(result.get(item_key))] = item_diff.get("before")
        diff["after"][str(result.get(item_key))] = item_diff.get("after")
    out: dict[str, t.Any] = {"changed": any(r.get("changed") for r in results), "requests_sent": sent}
    if module._diff:  # pylint: disable=protected-access
        out["diff"] = diff
    if bulk:
        out.update({list_key: results, "summary": summarize(results)})
        failed = [r for r in results if r.get("failed")]
        if failed:
            first = "; ".join(f"{r.get(item_key)}: {r.get('msg')}" for r in failed[:3])
            module.fail_json(msg=f"{len(failed)} of {len(results)} {noun} failed: {first}", **out)
        module.exit_json(**out)
    result = results[0]
    out.update({"actions": result.get("actions", []), object_key: result.get(object_key)})
    extras = tuple(extras)
    out.update({key: result[key] for key in extras if key in result})
    if result.get("failed") or result.get("skipped"):
        skip = {"changed", "actions", object_key, "failed", "msg", item_key, *id_keys, *extras}
        out.update({k: v for k, v in result.items() if k not in skip})
        module.fail_json(msg=result.get("msg", "failed"), **out)
    module.exit_json(**out)


def for_each(work: t.Callable[[t.Any], None], items: t.Sequence[t.Any], max_workers: int) -> None:
    """Run ``work`` on every item, on up to ``max_workers`` threads (in this thread for fewer than two)."""
    if len(items) < 2 or max_workers < 2:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        list(pool.map(work, items))
