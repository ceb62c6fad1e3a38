"""What every ONTAP route shares: the cluster of the app, replies (HAL or plain JSON), bodies, jobs, collections."""

from __future__ import annotations

import asyncio
import json
import typing as t

from aiohttp import web

from ..body import Body, OntapError
from ..cluster import Cluster
from ..model import E_INVALID, Job
from ..query import check_return_timeout, collection, select_fields

HAL = "application/hal+json"
SIMPLE_KEYS = ("uuid", "name")
CLUSTER = web.AppKey("ontap_cluster", Cluster)


def cluster_of(request: web.Request) -> Cluster:
    """The cluster whose app serves ``request``."""
    return request.app[CLUSTER]


def svm_scope(request: web.Request) -> str | None:
    return request.headers.get("X-Dot-SVM-Name")


def _strip_links(value: t.Any, top: bool = True, job: bool = False) -> t.Any:
    """The answer for ``Accept: application/json``: no HAL links but the top ``_links.next`` and the links of job
    references (``job`` and ``jobs[]``), which clients follow to watch the job."""
    if isinstance(value, dict):
        out = {}
        for key, sub in value.items():
            if key == "_links":
                if job:
                    out[key] = sub
                elif top and isinstance(sub, dict) and "next" in sub:
                    out[key] = {"next": sub["next"]}
                continue
            out[key] = _strip_links(sub, False, top and key in ("job", "jobs"))
        return out
    if isinstance(value, list):
        return [_strip_links(v, False, job) for v in value]
    return value


def wants(fields: str, name: str) -> bool:
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


async def read_body(request: web.Request, allowed: t.Iterable[str]) -> Body:
    text = (await request.read()).decode("utf-8", "replace")
    if not text.strip():
        return Body({}, allowed)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise OntapError(400, f"Invalid JSON input: {exc}.", E_INVALID) from exc
    return Body(raw, allowed)


def job_link(job: Job) -> dict[str, t.Any]:
    """A job reference as answers carry it: its uuid and the link clients follow."""
    return {"uuid": job.uuid, "_links": {"self": {"href": f"/api/cluster/jobs/{job.uuid}"}}}


async def _wait(jobs: list[Job], timeout: int) -> None:
    """Wait up to ``timeout`` seconds (``return_timeout``) for every job to end."""
    if not timeout:
        return
    waiters = []
    for job in jobs:
        if not job.terminal:
            waiter = asyncio.get_running_loop().create_future()
            job.waiters.append(waiter)
            waiters.append(waiter)
    if waiters:
        try:
            await asyncio.wait_for(asyncio.gather(*waiters), timeout)
        except asyncio.TimeoutError:
            pass


async def job_reply(request: web.Request, job: Job, location: str | None = None) -> web.Response:
    timeout = check_return_timeout(request.query, 0)
    await _wait([job], timeout)
    body: dict[str, t.Any] = {"job": job_link(job)}
    headers = {"Location": location} if location else None
    if timeout and job.terminal and job.state == "failure":
        err = dict(job.error or {"message": job.message, "code": str(job.code)})
        body["error"] = err
        return reply(request, body, 400, headers)
    return reply(request, body, 200 if (timeout and job.terminal) else 202, headers)


async def jobs_reply(request: web.Request, jobs: list[Job]) -> web.Response:
    """The answer to a PATCH or DELETE on a collection by query (see the package's docstring): the job itself when
    one record matched, ``num_records`` and ``jobs`` when several did, ``num_records: 0`` (200) when none did."""
    if len(jobs) == 1:
        return await job_reply(request, jobs[0])
    if not jobs:
        return reply(request, {"num_records": 0})
    timeout = check_return_timeout(request.query, 0)
    await _wait(jobs, timeout)
    done = bool(timeout) and all(j.terminal for j in jobs)
    return reply(request, {"num_records": len(jobs), "jobs": [job_link(j) for j in jobs]}, 200 if done else 202)


def coll(request: web.Request, records: list[dict[str, t.Any]], keys: t.Iterable[str] = SIMPLE_KEYS,
         expensive: t.Iterable[str] = ()) -> web.Response:
    return reply(request, collection(request.path, request.query, records, keys, expensive,
                                     cluster_of(request).page_size))


def single(request: web.Request, record: dict[str, t.Any], keys: t.Iterable[str] = SIMPLE_KEYS,
           expensive: t.Iterable[str] = ()) -> web.Response:
    fields = request.query.get("fields") or "*"
    return reply(request, select_fields(record, fields, keys, expensive))
