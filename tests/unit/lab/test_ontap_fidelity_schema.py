"""Every record the ONTAP simulator serves, checked against NetApp's own models (the netapp-ontap package).

The test walks the simulator's route table (``storage_replication_lab.ontap.routes.RESOURCES``): every GET
route is read on both clusters of a lab brought into many states (relationships snapmirrored, paused,
broken off, uninitialized, failed, in sync, aborted; FlexGroup, FlexClone, offline and customised volumes;
pending SVM peers; a failed job), collections with ``fields=*`` and each of their records by its own path.
Each record is then

- loaded through the resource's marshmallow schema (``Resource.from_dict(record, strict=True)``),
- walked field by field against that schema: a field the model lacks, a JSON type the field does not take
  or a value outside the "Valid choices" the model documents is a finding,
- checked for the fields clients read (``REQUIRED``: in every record; ``SEEN``: in some record of the lab).

Which netapp-ontap resource a route serves comes from the resources' own ``_path``. A new route of the
simulator is read without touching this file; the test fails if a route has no model and is not in
``EXCLUDED``.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing as t

import pytest

from ontap_helpers import MIB, Rest, make_dp, make_rel, until, wait_state

netapp_resources = pytest.importorskip("netapp_ontap.resources", reason="needs the netapp-ontap test dependency")
from marshmallow import fields as mf  # noqa: E402  pylint: disable=wrong-import-position
from netapp_ontap.resource import Resource, Size  # noqa: E402  pylint: disable=wrong-import-position
from storage_replication_lab.ontap.routes import RESOURCES  # noqa: E402  pylint: disable=wrong-import-position

LAB_TOPOLOGY = {
    "lab": {"block_size": "64KiB", "bandwidth": "1GiB", "per_transfer_rate": "256MiB", "local_bandwidth": "1GiB",
            "tick_seconds": 0.02},
    "arrays": {
        "ontap-a": {
            "vendor": "ontap", "job_seconds": 0.01,
            "aggregates": [{"name": "aggr1_a", "size": "1TiB"}, {"name": "aggr2_a", "size": "1TiB"}],
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 8, "size": "64MiB", "data_blocks": 32, "nas_path": "/vol{n}"}]},
                {"name": "svm_c"}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {"vendor": "ontap", "job_seconds": 0.01, "aggregates": [{"name": "aggr1_b", "size": "1TiB"}],
                    "svms": [{"name": "svm_b"}, {"name": "svm_d"}]},
    },
    "links": [{"between": ["ontap-a", "ontap-b"]}],
}
VOLUMES = "/api/storage/volumes"
RELS = "/api/snapmirror/relationships"

# Routes without a netapp-ontap model: the CLI passthrough answers CLI tables, not REST objects (its
# ``CLI`` resource has an empty schema); test_ontap_fidelity.py checks its answers.
EXCLUDED = {"/api/private/cli/{command:.+}"}

# Fields clients read, that every record of the resource must carry (with fields=*).
REQUIRED: dict[str, set[str]] = {
    "Cluster": {"name", "uuid", "version.full", "version.generation", "version.major", "version.minor"},
    "Node": {"name", "uuid", "model", "serial_number", "state", "version.full", "ha.enabled", "ha.partners",
             "management_interfaces", "system_id", "uptime", "membership", "location"},
    "Job": {"uuid", "description", "state", "message", "code", "start_time", "node.name", "_links.self.href"},
    "ClusterPeer": {"uuid", "name", "status.state", "remote.name", "remote.ip_addresses", "authentication.state",
                    "encryption.state", "ipspace.name", "version.full"},
    "Schedule": {"uuid", "name", "type"},
    "Svm": {"uuid", "name", "state", "subtype", "aggregates", "ipspace.name", "language", "snapshot_policy.name"},
    "SvmPeer": {"uuid", "name", "state", "applications", "svm.name", "svm.uuid", "peer.svm.name",
                "peer.cluster.name"},
    "Aggregate": {"uuid", "name", "state", "node.name", "home_node.name", "space.block_storage.size",
                  "space.block_storage.available", "space.block_storage.used"},
    "Volume": {"uuid", "name", "type", "state", "style", "size", "svm.name", "svm.uuid", "aggregates", "create_time",
               "comment", "language", "is_svm_root", "error_state.is_inconsistent", "guarantee.type",
               "guarantee.honored", "snapshot_policy.name", "snapshot_policy.uuid", "space.size", "space.used",
               "space.available", "space.snapshot.reserve_percent", "efficiency.compression", "efficiency.dedupe",
               "efficiency.state", "encryption.enabled", "encryption.state", "tiering.policy", "nas.security_style",
               "clone.is_flexclone", "snapmirror.is_protected", "msid", "autosize.mode", "snapshot_count"},
    "Snapshot": {"uuid", "name", "create_time", "volume.uuid", "volume.name", "svm.name", "owners", "size", "state"},
    "SnapmirrorRelationship": {"uuid", "source.path", "source.svm.name", "source.cluster.name", "destination.path",
                               "destination.svm.name", "destination.cluster.name", "state", "healthy", "policy.name",
                               "policy.uuid", "policy.type", "throttle", "backoff_level", "group_type",
                               "total_transfer_bytes", "total_transfer_duration"},
    "SnapmirrorTransfer": {"uuid", "state", "bytes_transferred", "relationship.uuid"},
    "SnapmirrorPolicy": {"uuid", "name", "type", "scope", "throttle", "identity_preservation",
                         "copy_all_source_snapshots", "network_compression_enabled"},
}
# Fields that depend on the object's state: some record of the lab's scenario must carry each.
SEEN: dict[str, set[str]] = {
    "Job": {"end_time", "error.code", "error.message", "svm.name"},
    "Volume": {"nas.path", "clone.parent_volume.name", "clone.parent_snapshot.name"},
    "Snapshot": {"snapmirror_label", "comment", "expiry_time"},
    "SnapmirrorRelationship": {"exported_snapshot", "lag_time", "transfer.state", "transfer.type", "transfer.end_time",
                               "last_transfer_type", "unhealthy_reason", "transfer_schedule.name"},
    "SnapmirrorTransfer": {"end_time", "total_duration", "error_info.code", "error_info.message", "snapshot"},
    "SnapmirrorPolicy": {"svm.name", "sync_type", "transfer_schedule.name"},
}


# ------------------------------------------------------------------------------------------ the models
def _normal(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


@functools.lru_cache(maxsize=None)
def models() -> dict[str, tuple[type[Resource], bool]]:
    """Normalised path -> (netapp-ontap resource, whether the path is one record) for every resource."""
    out: dict[str, tuple[type[Resource], bool]] = {}
    for name in dir(netapp_resources):
        cls = getattr(netapp_resources, name)
        if inspect.isclass(cls) and issubclass(cls, Resource) and getattr(cls, "_path", None):
            path = _normal(cls._path)  # pylint: disable=protected-access
            out[path] = (cls, not cls._keys)  # pylint: disable=protected-access
            out[path + "/{}"] = (cls, True)
    return out


@functools.lru_cache(maxsize=None)
def choices(schema_class: type) -> dict[str, set[str]]:
    """The "Valid choices" the model documents for each field of a schema (data key -> values)."""
    try:
        lines = inspect.getsource(schema_class).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, set[str]] = {}
    current, doc, in_doc = None, [], False
    for line in lines:
        match = re.match(r"^    (\w+) = ", line)
        if match and not in_doc:
            current = match.group(1)
        if line.startswith('    r"""') and current:
            in_doc, doc = True, []
        if in_doc:
            doc.append(line)
            if line.rstrip().endswith('"""') and (len(doc) > 1 or line.count('"""') == 2):
                in_doc = False
                text = "\n".join(doc)
                if "Valid choices:" in text:
                    found[current] = {c.replace('"""', "").strip().lower() for c in
                                      re.findall(r"^\* (.+)$", text.split("Valid choices:")[1], re.M)}
    fields = schema_class().fields if isinstance(schema_class, type) else {}
    return {(fields[k].data_key or k) if k in fields else k: v for k, v in found.items()}


def _scalar(value: t.Any, field: mf.Field, path: str) -> str | None:
    """Why ``value`` does not fit ``field`` (a leaf), if it does not."""
    if isinstance(field, mf.Boolean):
        ok = isinstance(value, bool)
    elif isinstance(field, (mf.Integer, Size)):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(field, mf.Number):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(field, (mf.String, mf.DateTime)):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        return f"{path}: {value!r} is not a {type(field).__name__}"
    try:
        field.deserialize(value)
    except Exception as exc:  # pylint: disable=broad-except
        return f"{path}: {value!r}: {exc}"
    return None


def findings(value: t.Any, schema: t.Any, where: str = "") -> list[str]:
    """What in ``value`` the schema does not describe: unknown fields, wrong types, undocumented values."""
    if not isinstance(value, dict):
        return [f"{where or '.'}: {value!r} is not an object"]
    by_key = {(f.data_key or name): f for name, f in schema.fields.items()}
    valid = choices(type(schema))
    out: list[str] = []
    for key, sub in value.items():
        path = f"{where}.{key}" if where else key
        field = by_key.get(key)
        if field is None:
            out.append(f"{path}: not a field of {type(schema).__name__}")
        elif sub is not None:
            out.extend(_field_findings(sub, field, path))
            if key in valid and isinstance(sub, str) and sub.lower() not in valid[key]:
                out.append(f"{path}: {sub!r} is not one of {sorted(valid[key])}")
    return out


def _field_findings(value: t.Any, field: mf.Field, path: str) -> list[str]:
    if isinstance(field, mf.Nested):
        return findings(value, field.schema, path)
    if isinstance(field, mf.List):
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [f for i, item in enumerate(value) for f in _field_findings(item, field.inner, f"{path}[{i}]")]
    problem = _scalar(value, field, path)
    return [problem] if problem else []


def has(record: dict[str, t.Any], dotted: str) -> bool:
    value: t.Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return value is not None


# ------------------------------------------------------------------------------------------ the lab's states
@pytest.fixture(scope="module", name="clusters")
def fixture_clusters(lab: t.Any) -> dict[str, Rest]:
    """Both clusters, reading HAL (links included), after the scenario has run."""
    a, b = Rest(lab, "ontap-a", job_fields="*"), Rest(lab, "ontap-b", job_fields="*")
    for rest in (a, b):
        rest.http.headers["Accept"] = "application/hal+json"
    _relationships(lab, a, b)
    _volumes(lab, a)
    _peers_policies_jobs(lab, a, b)
    return {"ontap-a": a, "ontap-b": b}


def _relationships(lab: t.Any, a: Rest, b: Rest) -> None:
    mirrored = make_rel(b, "vol1", initialize=True, transfer_schedule={"name": "hourly"})
    lab.write("ontap-a", "svm_a:vol1", blocks=2, offset=200)
    b.run("POST", f"{RELS}/{mirrored}/transfers", {})
    wait_state(b, mirrored, "snapmirrored")
    paused = make_rel(b, "vol2", initialize=True)
    b.run("PATCH", f"{RELS}/{paused}", {"state": "paused"})
    broken = make_rel(b, "vol3", initialize=True)
    b.run("PATCH", f"{RELS}/{broken}", {"state": "broken_off"})
    make_rel(b, "vol4")  # uninitialized
    failed = make_rel(b, "vol5", initialize=True)
    lab.cut("ontap-a", "ontap-b")
    try:
        b.run("POST", f"{RELS}/{failed}/transfers", {})
        until(lambda: b.rel(failed), lambda r: r["healthy"] is False, what="a failed update")
    finally:
        lab.restore("ontap-a", "ontap-b")
    make_rel(b, "vol6", policy="Sync", initialize=True)
    aborted = make_rel(b, "vol7", throttle=64)
    b.run("PATCH", f"{RELS}/{aborted}", {"state": "snapmirrored"})
    transfer = b.rel(aborted)["transfer"]["uuid"]
    b.run("PATCH", f"{RELS}/{aborted}/transfers/{transfer}", {"state": "aborted"})
    until(lambda: b.rel(aborted), lambda r: r["transfer"]["state"] == "aborted", what="an aborted transfer")


def _volumes(lab: t.Any, a: Rest) -> None:
    vol8 = a.volume("svm_a", "vol8")["uuid"]
    a.run("POST", f"{VOLUMES}/{vol8}/snapshots", {"name": "labelled", "comment": "for the clone",
                                                  "snapmirror_label": "daily", "expiry_time": "2030-01-01T00:00:00Z"})
    a.run("POST", VOLUMES, {"name": "clone8", "svm": {"name": "svm_a"},
                            "clone": {"parent_volume": {"name": "vol8"}, "parent_snapshot": {"name": "labelled"}}})
    a.run("POST", VOLUMES, {"name": "fg", "svm": {"name": "svm_a"}, "size": 400 * MIB,
                            "aggregates": [{"name": "aggr1_a"}, {"name": "aggr2_a"}]})
    a.run("POST", VOLUMES, {"name": "custom", "svm": {"name": "svm_a"}, "size": 100 * MIB, "comment": "tuned",
                            "language": "en_us.utf_8", "snapshot_policy": {"name": "none"},
                            "guarantee": {"type": "none"},
                            "space": {"snapshot": {"reserve_percent": 0}}, "tiering": {"policy": "auto"},
                            "efficiency": {"compression": "both", "dedupe": "inline"},
                            "nas": {"security_style": "ntfs", "path": "/custom"}})
    a.run("POST", VOLUMES, {"name": "parked", "svm": {"name": "svm_a"}, "state": "offline"})
    make_dp(Rest(lab, "ontap-b"), "spare_dp")


def _peers_policies_jobs(lab: t.Any, a: Rest, b: Rest) -> None:
    peer = {"svm": {"name": "svm_d"}, "cluster": {"name": "ontap-b"}}
    a.run("POST", "/api/svm/peers", {"svm": {"name": "svm_c"}, "peer": peer, "applications": ["snapmirror"]})
    # the peering is "initiated" on a and "pending" on b
    b.run("POST", "/api/snapmirror/policies", {"name": "every5", "svm": {"name": "svm_b"}, "type": "async",
                                               "transfer_schedule": {"name": "5min"}, "comment": "frequent"})
    lab.faults("ontap-a", fail_jobs=1, fail_job_message="Injected failure", fail_job_code=917504)
    try:
        reply = a.request("POST", f"{VOLUMES}/{a.volume('svm_a', 'vol8')['uuid']}/snapshots", {"name": "doomed"})
        assert a.job(reply.json()["job"]["uuid"])["state"] == "failure"
    finally:
        lab.clear_faults("ontap-a")


# ------------------------------------------------------------------------------------------ reading every route
def lab_get_routes() -> set[str]:
    """The GET routes of the ONTAP simulator's route table."""
    return {route.path for resource in RESOURCES for route in resource.routes if route.method in ("GET", "*")}


def instances(rest: Rest, route: str) -> list[str]:
    """Every path ``route`` names on a cluster: each parameter takes the uuids of the collection before it."""
    paths = [""]
    for segment in route.strip("/").split("/"):
        if not segment.startswith("{"):
            paths = [p + "/" + segment for p in paths]
            continue
        expanded = []
        for prefix in paths:
            records = rest.get(prefix, fields="uuid", max_records=1000)["records"]
            key = "id" if segment == "{id}" else "uuid"  # export policies are named by an integer id
            expanded.extend(f"{prefix}/{r[key]}" for r in records if r.get(key) is not None)
        paths = expanded
    return paths


def records_at(rest: Rest, path: str, one: bool) -> list[dict[str, t.Any]]:
    body = rest.get(path, fields="*", max_records=1000)
    return [body] if one else body["records"]


def test_every_route_has_a_model_or_is_excluded():
    unmapped = {route for route in lab_get_routes() if _normal(route) not in models()} - EXCLUDED
    assert not unmapped, f"routes without a netapp-ontap resource (map them or add them to EXCLUDED): {unmapped}"
    assert EXCLUDED <= lab_get_routes(), "EXCLUDED names a route the lab no longer serves"
    # the resources clients read are served, as a collection and one by one (or as the one object they are)
    served = {(models()[_normal(r)][0].__name__, models()[_normal(r)][1]) for r in lab_get_routes() - EXCLUDED}
    wanted = {(name, one) for name in REQUIRED for one in ((True,) if name == "Cluster" else (False, True))}
    assert not wanted - served, f"resources clients read that the lab does not serve: {sorted(wanted - served)}"


def test_records_match_the_netapp_ontap_models(clusters):
    tested: set[str] = set()
    problems: list[str] = []
    seen: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for route in sorted(lab_get_routes() - EXCLUDED):
        resource, one = models()[_normal(route)]
        schema = resource._schema()  # pylint: disable=protected-access
        for name, rest in clusters.items():
            for path in instances(rest, route):
                for record in records_at(rest, path, one):
                    counts[route] = counts.get(route, 0) + 1
                    problems.extend(f"{name} GET {route}: {p}" for p in findings(record, schema))
                    try:
                        resource.from_dict(dict(record), strict=True)
                    except Exception as exc:  # pylint: disable=broad-except
                        problems.append(f"{name} GET {route}: {resource.__name__}.from_dict: {exc}")
                    missing = sorted(f for f in REQUIRED.get(resource.__name__, ()) if not has(record, f))
                    if missing:
                        problems.append(f"{name} GET {route} {record.get('uuid') or ''}: lacks {missing}")
                    seen.setdefault(resource.__name__, set()).update(
                        f for f in SEEN.get(resource.__name__, ()) if has(record, f))
        tested.add(route)
    assert tested == lab_get_routes() - EXCLUDED
    assert not [r for r in tested if not counts.get(r)], f"routes that served no record: {counts}"
    for resource_name, wanted in SEEN.items():
        lacking = wanted - seen.get(resource_name, set())
        if lacking:
            problems.append(f"{resource_name}: no record carries {sorted(lacking)}")
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_the_checker_finds_what_it_should():
    """The checks themselves: an unknown field, a wrong type, an undocumented value and a bad nested value."""
    schema = netapp_resources.Volume._schema()  # pylint: disable=protected-access
    found = findings({"name": "v", "size": "big", "colour": "blue", "state": "sideways",
                      "guarantee": {"type": "volume", "honored": "yes"}, "efficiency": {"compression": "zip"},
                      "aggregates": [{"name": 1}]}, schema)
    assert any(f.startswith("colour: not a field") for f in found), found
    assert any(f.startswith("size:") for f in found), found
    assert any(f.startswith("state:") for f in found), found
    assert any(f.startswith("guarantee.honored:") for f in found), found
    assert any(f.startswith("efficiency.compression:") for f in found), found
    assert any(f.startswith("aggregates[0].name:") for f in found), found
    assert not findings({"name": "v", "size": 1, "state": "online", "guarantee": {"type": "none"}}, schema)
