"""HTTP routes of the ONTAP simulator: the REST paths, bodies and replies of the fact sheet."""

from __future__ import annotations

import asyncio
import json
import logging
import typing as t
import urllib.parse

from aiohttp import web

from .body import Body, OntapError, not_found, query_flag
from .model import E_DUPLICATE, E_INVALID, E_NOT_AVAILABLE, Job
from .query import QueryError, check_return_timeout, collection, filters_of, matches, select_fields, timestamp

if t.TYPE_CHECKING:  # pragma: no cover
    from . import Cluster

LOG = logging.getLogger("lab.ontap")
HAL = "application/hal+json"
REL_KEYS = ("uuid", "source.path", "source.svm", "destination.path", "destination.svm")
REL_EXPENSIVE = ("svmdr_volumes",)
SIMPLE_KEYS = ("uuid", "name")


def _strip_links(value: t.Any, top: bool = True) -> t.Any:
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            if key == "_links":
                if top and isinstance(sub, dict) and "next" in sub:
                    out[key] = {"next": sub["next"]}
                continue
            out[key] = _strip_links(sub, False)
        return out
    if isinstance(value, list):
        return [_strip_links(v, False) for v in value]
    return value


def _wants(fields: str, name: str) -> bool:
    """Whether ``fields`` names ``name`` or a field below it, or asks for all fields."""
    wanted = [f.strip() for f in fields.split(",")]
    return any(f in ("*", "**", name) or f.startswith(name + ".") for f in wanted)


def reply(request: web.Request, body: t.Any, status: int = 200,
          headers: dict[str, str] | None = None) -> web.Response:
    accept = request.headers.get("Accept", "")
    if "application/json" in accept and HAL not in accept:
        body = _strip_links(body)
    return web.Response(text=json.dumps(body), status=status, content_type="application/hal+json",
                        headers=headers)


def error_reply(request: web.Request, exc: OntapError) -> web.Response:
    return reply(request, exc.body(), exc.status)


async def _body(request: web.Request, allowed: t.Iterable[str]) -> Body:
    text = (await request.read()).decode("utf-8", "replace")
    if not text.strip():
        return Body({}, allowed)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise OntapError(400, f"Invalid JSON input: {exc}.", E_INVALID) from exc
    return Body(raw, allowed)


async def job_reply(request: web.Request, job: Job, location: str | None = None) -> web.Response:
    timeout = check_return_timeout(request.query, 0)
    if timeout and not job.terminal:
        waiter = asyncio.get_running_loop().create_future()
        job.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            pass
    body: dict[str, t.Any] = {"job": {"uuid": job.uuid, "_links": {"self": {"href": f"/api/cluster/jobs/{job.uuid}"}}}}
    headers = {"Location": location} if location else None
    if timeout and job.terminal and job.state == "failure":
        err = dict(job.error or {"message": job.message, "code": str(job.code)})
        body["error"] = err
        return reply(request, body, 400, headers)
    return reply(request, body, 200 if (timeout and job.terminal) else 202, headers)


def build_app(cluster: Cluster) -> web.Application:  # noqa: C901  (one routing table)
    routes = web.RouteTableDef()

    @web.middleware
    async def guard(request: web.Request, handler: t.Callable[..., t.Awaitable[web.StreamResponse]]):
        if request.headers.get("Authorization") != cluster.auth_header:
            return web.Response(text=json.dumps({"error": {"message": "not authorized for that command",
                                                           "code": "6"}}),
                                status=401, content_type="application/hal+json",
                                headers={"WWW-Authenticate": 'Basic realm="ONTAP"'})
        try:
            return await handler(request)
        except OntapError as exc:
            return error_reply(request, exc)
        except QueryError as exc:
            return error_reply(request, OntapError(400, str(exc), exc.code, exc.target))
        except web.HTTPNotFound:
            return error_reply(request, OntapError(404, f'API not found: "{request.path}".', E_NOT_AVAILABLE))
        except web.HTTPMethodNotAllowed:
            return error_reply(request, OntapError(405, f"The method {request.method} is not allowed on "
                                                        f"{request.path}.", E_NOT_AVAILABLE))
        except Exception as exc:  # pylint: disable=broad-except
            # a simulator bug: answer in ONTAP's error shape (clients parse it) and leave the traceback in lab.log
            LOG.exception("%s %s %s failed", cluster.name, request.method, request.path_qs)
            return error_reply(request, OntapError(500, f"Internal error in the lab's ONTAP simulator: {exc!r}",
                                                   E_NOT_AVAILABLE))

    def svm_scope(request: web.Request) -> str | None:
        return request.headers.get("X-Dot-SVM-Name")

    def coll(request: web.Request, records: list[dict[str, t.Any]], keys: t.Iterable[str] = SIMPLE_KEYS,
             expensive: t.Iterable[str] = ()) -> web.Response:
        return reply(request, collection(request.path, request.query, records, keys, expensive, cluster.page_size))

    def single(request: web.Request, record: dict[str, t.Any], keys: t.Iterable[str] = SIMPLE_KEYS,
               expensive: t.Iterable[str] = ()) -> web.Response:
        fields = request.query.get("fields") or "*"
        return reply(request, select_fields(record, fields, keys, expensive))

    # cluster and jobs --------------------------------------------------------------------
    @routes.get("/api/cluster")
    async def get_cluster(request: web.Request) -> web.Response:
        major, minor = (int(x) for x in cluster.version.split(".")[1:3])
        record = {"name": cluster.cluster_name, "uuid": cluster.uuid,
                  "version": {"full": f"NetApp Release {cluster.version}: Fri Jan 01 00:00:00 UTC 2026",
                              "generation": 9, "major": major, "minor": minor},
                  "_links": {"self": {"href": "/api/cluster"}}}
        return single(request, record, ())  # fields=version gives the version alone

    @routes.get("/api/cluster/jobs")
    async def get_jobs(request: web.Request) -> web.Response:
        return coll(request, [j.render() for j in cluster.jobs.values()], ("uuid",))

    @routes.get("/api/cluster/jobs/{uuid}")
    async def get_job(request: web.Request) -> web.Response:
        job = cluster.jobs.get(request.match_info["uuid"])
        if job is None:
            raise not_found()
        return single(request, job.render(), ("uuid",))

    @routes.route("PATCH", "/api/cluster/jobs/{uuid}")
    async def patch_job(request: web.Request) -> web.Response:
        job = cluster.jobs.get(request.match_info["uuid"])
        if job is None:
            raise not_found()
        raise OntapError(400, "This job cannot be cancelled.", E_NOT_AVAILABLE, "action")

    @routes.get("/api/cluster/schedules")
    async def get_schedules(request: web.Request) -> web.Response:
        records = [{"name": n, "uuid": cluster.schedule_uuid(n), "type": "interval",
                    "interval": f"PT{int(s)}S"} for n, s in cluster.schedules.items()]
        return coll(request, records)

    # peers ---------------------------------------------------------------------------------
    def public(record: dict[str, t.Any], base: str) -> dict[str, t.Any]:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        out["_links"] = {"self": {"href": f"{base}/{record['uuid']}"}}
        return out

    @routes.get("/api/cluster/peers")
    async def get_cluster_peers(request: web.Request) -> web.Response:
        records = []
        for record in cluster.cluster_peers.values():
            out = public(record, "/api/cluster/peers")
            up = cluster.fabric.reachable(cluster.name, record["_cluster"]) is None
            out["status"] = {"state": "available" if up else "unavailable", "update_time": timestamp(cluster.clock.now())}
            records.append(out)
        return coll(request, records)

    @routes.get("/api/cluster/peers/{uuid}")
    async def get_cluster_peer(request: web.Request) -> web.Response:
        record = cluster.cluster_peers.get(request.match_info["uuid"])
        if record is None:
            raise not_found()
        out = public(record, "/api/cluster/peers")
        up = cluster.fabric.reachable(cluster.name, record["_cluster"]) is None
        out["status"] = {"state": "available" if up else "unavailable"}
        return single(request, out)

    @routes.get("/api/svm/peers")
    async def get_svm_peers(request: web.Request) -> web.Response:
        return coll(request, [public(r, "/api/svm/peers") for r in cluster.svm_peers.values()])

    @routes.get("/api/svm/peers/{uuid}")
    async def get_svm_peer(request: web.Request) -> web.Response:
        record = cluster.svm_peers.get(request.match_info["uuid"])
        if record is None:
            raise not_found()
        return single(request, public(record, "/api/svm/peers"))

    @routes.post("/api/svm/peers")
    async def post_svm_peer(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        body = await _body(request, ("svm", "peer", "applications", "name", "force"))
        svm = cluster.svm(body.text("svm.name"))
        other_name = body.text("peer.cluster.name") or cluster.cluster_name
        other = next((a for a in cluster.lab.arrays.values()
                      if getattr(a, "cluster_name", None) == other_name), None)
        if other is None:
            raise OntapError(400, f'Cluster "{other_name}" is not a peer.', E_INVALID, "peer.cluster.name")
        remote = other.svm(body.text("peer.svm.name"), "peer.svm.name")
        apps = body.get("applications") or ["snapmirror"]
        for record in cluster.svm_peers.values():
            if record["svm"]["name"] == svm.name and record["peer"]["svm"]["name"] == remote.name:
                raise OntapError(409, "The SVM peer relationship already exists.", E_DUPLICATE)
        if other is not cluster:
            cluster.contact(other)

        def apply() -> None:
            cluster._add_svm_peer(svm, other, remote, "initiated" if other is not cluster else "peered",  # pylint: disable=protected-access
                                  list(apps), body.text("name"))
            if other is not cluster:
                other._add_svm_peer(remote, cluster, svm, "pending", list(apps))  # pylint: disable=protected-access

        job = cluster.submit("POST /api/svm/peers", apply)
        return await job_reply(request, job)

    @routes.route("PATCH", "/api/svm/peers/{uuid}")
    async def patch_svm_peer(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        record = cluster.svm_peers.get(request.match_info["uuid"])
        if record is None:
            raise not_found()
        body = await _body(request, ("state", "applications", "name"))
        state = body.text("state")
        if state is not None and state not in ("peered", "rejected", "suspended"):
            raise OntapError(400, f'Invalid value "{state}" for field "state".', E_INVALID, "state")
        if state == "peered" and record["state"] == "initiated":
            raise OntapError(400, "The SVM peer relationship can only be accepted on the peer cluster.", E_INVALID,
                             "state")

        def apply() -> None:
            if state == "peered":
                record["state"] = "peered"
                other = cluster.peer(record["_cluster"])
                for mirror in other.svm_peers.values():
                    if mirror["peer"]["svm"]["name"] == record["svm"]["name"] and \
                            mirror["svm"]["name"] == record["peer"]["svm"]["name"]:
                        mirror["state"] = "peered"
            elif state is not None:
                record["state"] = state
            if body.has("applications"):
                record["applications"] = list(body.get("applications") or [])
            if body.text("name"):
                record["name"] = body.text("name")

        return await job_reply(request, cluster.submit(f"PATCH /api/svm/peers/{record['uuid']}", apply))

    @routes.delete("/api/svm/peers/{uuid}")
    async def delete_svm_peer(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        record = cluster.svm_peers.get(request.match_info["uuid"])
        if record is None:
            raise not_found()
        job = cluster.submit(f"DELETE /api/svm/peers/{record['uuid']}",
                             lambda: cluster.svm_peers.pop(record["uuid"], None))
        return await job_reply(request, job)

    # svms and aggregates ---------------------------------------------------------------------
    def svm_record(svm: t.Any) -> dict[str, t.Any]:
        return {"name": svm.name, "uuid": svm.uuid, "state": "running", "subtype": "default",
                "aggregates": [{"name": a.name, "uuid": a.uuid} for a in cluster.aggregates.values()],
                "_links": {"self": {"href": f"/api/svm/svms/{svm.uuid}"}}}

    @routes.get("/api/svm/svms")
    async def get_svms(request: web.Request) -> web.Response:
        return coll(request, [svm_record(s) for s in cluster.svms.values()])

    @routes.get("/api/svm/svms/{uuid}")
    async def get_svm(request: web.Request) -> web.Response:
        for svm in cluster.svms.values():
            if svm.uuid == request.match_info["uuid"]:
                return single(request, svm_record(svm))
        raise not_found()

    def aggr_record(aggr: t.Any) -> dict[str, t.Any]:
        free = cluster.aggregate_free(aggr)
        return {"name": aggr.name, "uuid": aggr.uuid, "state": "online",
                "space": {"block_storage": {"size": aggr.size, "available": free, "used": aggr.size - free}},
                "_links": {"self": {"href": f"/api/storage/aggregates/{aggr.uuid}"}}}

    @routes.get("/api/storage/aggregates")
    async def get_aggregates(request: web.Request) -> web.Response:
        return coll(request, [aggr_record(a) for a in cluster.aggregates.values()])

    @routes.get("/api/storage/aggregates/{uuid}")
    async def get_aggregate(request: web.Request) -> web.Response:
        for aggr in cluster.aggregates.values():
            if aggr.uuid == request.match_info["uuid"]:
                return single(request, aggr_record(aggr))
        raise not_found()

    # volumes --------------------------------------------------------------------------------------
    def volume_records(request: web.Request) -> list[dict[str, t.Any]]:
        scope = svm_scope(request)
        return [v.render() for v in cluster.volumes.values() if scope is None or v.svm.name == scope]

    volume_fields = ("name", "svm.name", "svm.uuid", "aggregates", "size", "type", "nas.path", "nas.security_style",
                     "nas.unix_permissions", "nas.export_policy", "nas.uid", "nas.gid", "state", "clone", "comment",
                     "style", "guarantee", "snapshot_policy", "encryption", "language", "tiering", "space", "autosize",
                     "efficiency", "qos", "snapshot_directory_access_enabled", "access_time_enabled", "analytics",
                     "constituents_per_aggregate")

    @routes.get("/api/storage/volumes")
    async def get_volumes(request: web.Request) -> web.Response:
        return coll(request, volume_records(request))

    @routes.post("/api/storage/volumes")
    async def post_volume(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        body = await _body(request, volume_fields)
        job, vol_uuid = cluster.create_volume(body, svm_scope(request))
        return await job_reply(request, job, f"/api/storage/volumes/{vol_uuid}")

    def matching_volumes(request: web.Request) -> list[t.Any]:
        filters = filters_of(request.query)
        if not filters:
            raise OntapError(400, "A PATCH or DELETE on the volume collection needs a query.", E_INVALID)
        return [cluster.volumes[r["uuid"]] for r in volume_records(request) if matches(r, filters)]

    @routes.route("PATCH", "/api/storage/volumes")
    async def patch_volumes(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        body = await _body(request, volume_fields)
        jobs = [cluster.modify_volume(v, body) for v in matching_volumes(request)]
        return reply(request, {"num_records": len(jobs), "jobs": [
            {"uuid": j.uuid, "_links": {"self": {"href": f"/api/cluster/jobs/{j.uuid}"}}} for j in jobs]}, 202)

    @routes.delete("/api/storage/volumes")
    async def delete_volumes(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        jobs = [cluster.delete_volume(v) for v in matching_volumes(request)]
        return reply(request, {"num_records": len(jobs), "jobs": [
            {"uuid": j.uuid, "_links": {"self": {"href": f"/api/cluster/jobs/{j.uuid}"}}} for j in jobs]}, 202)

    @routes.get("/api/storage/volumes/{uuid}")
    async def get_volume(request: web.Request) -> web.Response:
        return single(request, cluster.volume(request.match_info["uuid"]).render())

    @routes.route("PATCH", "/api/storage/volumes/{uuid}")
    async def patch_volume(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        vol = cluster.volume(request.match_info["uuid"])
        body = await _body(request, volume_fields)
        return await job_reply(request, cluster.modify_volume(vol, body))

    @routes.delete("/api/storage/volumes/{uuid}")
    async def delete_volume(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        vol = cluster.volume(request.match_info["uuid"])
        return await job_reply(request, cluster.delete_volume(vol))

    # snapshots ------------------------------------------------------------------------------------
    @routes.get("/api/storage/volumes/{uuid}/snapshots")
    async def get_snapshots(request: web.Request) -> web.Response:
        vol = cluster.volume(request.match_info["uuid"])
        query = dict(request.query)
        want_delta = _wants(query.get("fields", ""), "delta")
        against = None
        if want_delta and "," in query.get("name", ""):
            first, against = query["name"].split(",", 1)
            query["name"] = first
        records = [vol.render_snapshot(m, against, want_delta) for m in vol.snapmeta.values()]
        return reply(request, collection(request.path, query, records, SIMPLE_KEYS, (), cluster.page_size))

    @routes.post("/api/storage/volumes/{uuid}/snapshots")
    async def post_snapshot(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        vol = cluster.volume(request.match_info["uuid"])
        body = await _body(request, ("name", "comment", "snapmirror_label", "expiry_time"))
        job, name = cluster.create_snapshot(vol, body)
        return await job_reply(request, job, f"/api/storage/volumes/{vol.uuid}/snapshots?"
                                             f"{urllib.parse.urlencode({'name': name})}")

    @routes.get("/api/storage/volumes/{uuid}/snapshots/{snap}")
    async def get_snapshot(request: web.Request) -> web.Response:
        vol = cluster.volume(request.match_info["uuid"])
        meta = vol.snapshot_by_uuid(request.match_info["snap"])
        want_delta = _wants(request.query.get("fields", ""), "delta")
        return single(request, vol.render_snapshot(meta, None, want_delta))

    @routes.route("PATCH", "/api/storage/volumes/{uuid}/snapshots/{snap}")
    async def patch_snapshot(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        vol = cluster.volume(request.match_info["uuid"])
        meta = vol.snapshot_by_uuid(request.match_info["snap"])
        body = await _body(request, ("comment", "snapmirror_label", "expiry_time"))

        def apply() -> None:
            if body.has("comment"):
                meta.comment = body.text("comment") or ""
            if body.has("snapmirror_label"):
                meta.label = body.text("snapmirror_label") or ""

        return await job_reply(request, cluster.submit(f"PATCH {request.path}", apply, vol.svm.name))

    @routes.delete("/api/storage/volumes/{uuid}/snapshots/{snap}")
    async def delete_snapshot(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        vol = cluster.volume(request.match_info["uuid"])
        return await job_reply(request, cluster.delete_snapshot(vol, request.match_info["snap"]))

    # policies --------------------------------------------------------------------------------------
    @routes.get("/api/snapmirror/policies")
    async def get_policies(request: web.Request) -> web.Response:
        return coll(request, [p.render() for p in cluster.policies.values()])

    @routes.post("/api/snapmirror/policies")
    async def post_policy(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        body = await _body(request, ("name", "svm", "type", "sync_type", "transfer_schedule", "throttle",
                                     "comment", "retention", "identity_preservation", "network_compression_enabled",
                                     "copy_all_source_snapshots", "rpo"))
        job, policy_uuid = cluster.create_policy(body)
        return await job_reply(request, job, f"/api/snapmirror/policies/{policy_uuid}")

    def policy_of(request: web.Request) -> t.Any:
        policy = cluster.policies.get(request.match_info["uuid"])
        if policy is None:
            raise not_found()
        return policy

    @routes.get("/api/snapmirror/policies/{uuid}")
    async def get_policy(request: web.Request) -> web.Response:
        return single(request, policy_of(request).render())

    @routes.route("PATCH", "/api/snapmirror/policies/{uuid}")
    async def patch_policy(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        policy = policy_of(request)
        if policy.svm is None:
            raise OntapError(400, f'The system policy "{policy.name}" cannot be modified.', E_INVALID)
        body = await _body(request, ("transfer_schedule", "throttle", "comment"))
        schedule = body.get("transfer_schedule.name", body.get("transfer_schedule")) \
            if body.has("transfer_schedule") else ...
        if schedule not in (None, ...):
            cluster.check_schedule(schedule)

        def apply() -> None:
            if schedule is not ...:
                policy.transfer_schedule = schedule
            if body.has("throttle"):
                policy.throttle = body.number("throttle", 0) or 0
            if body.has("comment"):
                policy.comment = body.text("comment") or ""

        return await job_reply(request, cluster.submit(f"PATCH {request.path}", apply))

    @routes.delete("/api/snapmirror/policies/{uuid}")
    async def delete_policy(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        policy = policy_of(request)
        if policy.svm is None:
            raise OntapError(400, f'The system policy "{policy.name}" cannot be deleted.', E_INVALID)
        if any(r.policy is policy for r in cluster.relationships.values()):
            raise OntapError(409, f'Policy "{policy.name}" is in use by a relationship.', E_INVALID)
        job = cluster.submit(f"DELETE {request.path}", lambda: cluster.policies.pop(policy.uuid, None))
        return await job_reply(request, job)

    # relationships -----------------------------------------------------------------------------------
    endpoint_fields = ("path", "svm.name", "svm.uuid", "cluster.name", "cluster.uuid", "consistency_group_volumes",
                       "luns", "ipspace")
    rel_common = ("state", "policy.name", "policy.uuid", "transfer_schedule.name", "transfer_schedule.uuid",
                  "throttle", "backoff_level", "identity_preservation") + \
        tuple(f"{end}.{field}" for end in ("source", "destination") for field in endpoint_fields)
    rel_post_fields = rel_common + ("create_destination", "restore")
    rel_patch_fields = rel_common + ("quick_resync", "preserve", "restore_to_snapshot", "recover_after_break")

    def rel_records(request: web.Request) -> list[dict[str, t.Any]]:
        scope = svm_scope(request)
        if query_flag(request.query, "list_destinations_only"):
            rels = list(cluster.outgoing.values())
            return [r.render() for r in rels if scope is None or r.src.svm.name == scope]
        return [r.render() for r in cluster.relationships.values() if scope is None or r.dst.svm.name == scope]

    @routes.get("/api/snapmirror/relationships")
    async def get_relationships(request: web.Request) -> web.Response:
        return coll(request, rel_records(request), REL_KEYS, REL_EXPENSIVE)

    @routes.post("/api/snapmirror/relationships")
    async def post_relationship(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        body = await _body(request, rel_post_fields)
        job, rel_uuid = cluster.create_relationship(body)
        return await job_reply(request, job, f"/api/snapmirror/relationships/{rel_uuid}")

    @routes.get("/api/snapmirror/relationships/{uuid}")
    async def get_relationship(request: web.Request) -> web.Response:
        rel_uuid = request.match_info["uuid"]
        rel = cluster.relationships.get(rel_uuid) or cluster.outgoing.get(rel_uuid)
        if rel is None:
            raise not_found()
        return single(request, rel.render(), REL_KEYS, REL_EXPENSIVE)

    @routes.route("PATCH", "/api/snapmirror/relationships/{uuid}")
    async def patch_relationship(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        rel = cluster.relationship(request.match_info["uuid"])
        body = await _body(request, rel_patch_fields)
        return await job_reply(request, cluster.modify_relationship(rel, body, request.query))

    @routes.delete("/api/snapmirror/relationships/{uuid}")
    async def delete_relationship(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        return await job_reply(request, cluster.delete_relationship(request.match_info["uuid"], request.query))

    def transfer_records(rel: t.Any) -> list[dict[str, t.Any]]:
        now = cluster.clock.now()
        records = []
        for item in rel.history:
            if now - item["end_epoch"] > 86400:
                continue
            record = {k: v for k, v in item.items() if k != "end_epoch"}
            records.append(record)
        if rel.active is not None and rel.transfer is not None:
            current = dict(rel.render()["transfer"])
            records.append(current)
        for record in records:
            record["relationship"] = {"uuid": rel.uuid, "destination": {"path": rel.destination_path}}
            record["_links"] = {"self": {"href": f"/api/snapmirror/relationships/{rel.uuid}/transfers/"
                                                 f"{record.get('uuid', '')}"}}
        return records

    @routes.get("/api/snapmirror/relationships/{uuid}/transfers")
    async def get_transfers(request: web.Request) -> web.Response:
        rel = cluster.relationship(request.match_info["uuid"])
        return coll(request, transfer_records(rel), ("uuid",))

    @routes.post("/api/snapmirror/relationships/{uuid}/transfers")
    async def post_transfer(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        rel = cluster.relationship(request.match_info["uuid"])
        body = await _body(request, ("source_snapshot", "throttle", "storage"))
        job, transfer_uuid = cluster.start_update(rel, body.text("source_snapshot"), body.number("throttle"))
        return await job_reply(request, job, f"/api/snapmirror/relationships/{rel.uuid}/transfers/{transfer_uuid}")

    @routes.get("/api/snapmirror/relationships/{uuid}/transfers/{transfer}")
    async def get_transfer(request: web.Request) -> web.Response:
        rel = cluster.relationship(request.match_info["uuid"])
        for record in transfer_records(rel):
            if record.get("uuid") == request.match_info["transfer"]:
                return single(request, record, ("uuid",))
        raise not_found()

    @routes.route("PATCH", "/api/snapmirror/relationships/{uuid}/transfers/{transfer}")
    async def patch_transfer(request: web.Request) -> web.Response:
        check_return_timeout(request.query, 0)
        rel = cluster.relationship(request.match_info["uuid"])
        body = await _body(request, ("state",))
        return await job_reply(request, cluster.abort_transfer(rel, request.match_info["transfer"],
                                                               str(body.text("state"))))

    app = web.Application(middlewares=[guard])
    app.add_routes(routes)
    return app
