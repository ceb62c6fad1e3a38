"""``/api/protocols/nfs/export-policies``: the NFS export policies of each SVM.

ONTAP answers a POST here at once (201, no job) with the new policy's integer ``id``; a policy name is
unique per SVM (409 otherwise); ``default`` exists in every SVM and cannot be deleted, nor can a policy
a volume uses. Rules are kept as sent (``clients[].match``, ``ro_rule``, ``rw_rule``, ``superuser``) with
an ``index`` from 1.
"""

from __future__ import annotations

import typing as t

from aiohttp import web

from ..body import OntapError, not_found
from ..model import E_DUPLICATE, E_INVALID
from .common import cluster_of, coll, read_body, reply, single

if t.TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster
    from ..model import Svm

routes = web.RouteTableDef()
PATH = "/api/protocols/nfs/export-policies"
POST_FIELDS = ("name", "svm", "rules")
RULE_KEYS = ("clients", "ro_rule", "rw_rule", "superuser", "protocols", "anonymous_user")


def record(svm: Svm, name: str) -> dict[str, t.Any]:
    policy_id = svm.export_policies[name]
    rules = [dict(rule, index=n) for n, rule in enumerate(svm.export_rules.get(name, []), start=1)]
    return {"id": policy_id, "name": name, "svm": svm.ref(), "rules": rules,
            "_links": {"self": {"href": f"{PATH}/{policy_id}"}}}


def find(cluster: Cluster, policy_id: str) -> tuple[Svm, str]:
    for svm in cluster.svms.values():
        for name, number in svm.export_policies.items():
            if str(number) == policy_id:
                return svm, name
    raise not_found()


def _rules(raw: t.Any) -> list[dict[str, t.Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise OntapError(400, 'Invalid value for field "rules": expected an array of objects.', E_INVALID, "rules")
    rules = []
    for rule in raw:
        unknown = set(rule) - set(RULE_KEYS)
        if unknown:
            raise OntapError(400, f'Unexpected argument "rules.{sorted(unknown)[0]}".', E_INVALID, "rules")
        if not rule.get("clients"):
            raise OntapError(400, 'Field "rules.clients" is required.', E_INVALID, "rules.clients")
        rules.append({"clients": rule["clients"], "ro_rule": rule.get("ro_rule", ["any"]),
                      "rw_rule": rule.get("rw_rule", ["any"]), "superuser": rule.get("superuser", ["any"]),
                      "protocols": rule.get("protocols", ["any"])})
    return rules


@routes.get(PATH)
async def get_policies(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    return coll(request, [record(svm, name) for svm in cluster.svms.values() for name in svm.export_policies],
                keys=("id", "name"))


@routes.post(PATH)
async def post_policy(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    body = await read_body(request, POST_FIELDS)
    name = body.text("name")
    if not name:
        raise OntapError(400, 'Field "name" is required.', E_INVALID, "name")
    by_uuid = {s.uuid: s.name for s in cluster.svms.values()}
    svm = cluster.svm(by_uuid.get(str(body.text("svm.uuid"))) if body.text("svm.uuid") else body.text("svm.name"),
                      "svm.uuid" if body.text("svm.uuid") else "svm.name")
    if name in svm.export_policies:
        raise OntapError(409, f'Export policy "{name}" already exists in SVM "{svm.name}".', E_DUPLICATE, "name")
    rules = _rules(body.get("rules"))
    svm.export_policies[name] = max(svm.export_policies.values()) + 1
    svm.export_rules[name] = rules
    return reply(request, {"num_records": 1, "records": [record(svm, name)]}, 201,
                 {"Location": f"{PATH}/{svm.export_policies[name]}"})


@routes.get(PATH + "/{id}")
async def get_policy(request: web.Request) -> web.Response:
    svm, name = find(cluster_of(request), request.match_info["id"])
    return single(request, record(svm, name), keys=("id", "name"))


@routes.delete(PATH + "/{id}")
async def delete_policy(request: web.Request) -> web.Response:
    cluster = cluster_of(request)
    svm, name = find(cluster, request.match_info["id"])
    if name == "default":
        raise OntapError(400, f'Cannot delete the default export policy of SVM "{svm.name}".', E_INVALID)
    users = sorted(v.name for v in cluster.volumes.values() if v.svm is svm and v.settings.export_policy == name)
    if users:
        raise OntapError(409, f'Cannot delete export policy "{name}": it is in use by volume "{users[0]}".',
                         E_INVALID)
    del svm.export_policies[name]
    svm.export_rules.pop(name, None)
    return reply(request, {})
