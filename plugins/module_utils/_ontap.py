"""ONTAP REST client: jobs, paging, chunked filters, and normalized SnapMirror facts.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import datetime
import re
import typing as t
from urllib.parse import urljoin, urlsplit

from ._claim import CLAIM_NAME, ClaimStore, Holder, Seen
from ._common import ReplicationError, base_url, tls_verify
from ._rest import ForeignLinkError, HttpError, RestClient, UnansweredWriteError
from ._waiting import poll_until

ACTIVE_STATES = {"async": "snapmirrored", "sync": "in_sync", "continuous": "snapmirrored"}
TRANSFERRING = ("queued", "transferring")
CODE_PEER_UNREACHABLE = "262224"
CODE_NOT_FOUND = "4"
REL_FIELDS = ",".join((
    "uuid", "source.path", "source.cluster.name", "destination.path", "destination.cluster.name", "state",
    "healthy", "unhealthy_reason", "policy.name", "policy.type", "transfer_schedule.name", "throttle",
    "transfer.state", "transfer.type", "transfer.uuid", "transfer.bytes_transferred", "transfer.end_time",
    "lag_time", "last_transfer_type", "exported_snapshot", "total_transfer_bytes",
))
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
MAX_QUERY_CHARS = 1800


def ontap_error(status: int, body: t.Any) -> tuple[str, str | None]:
    """The array's own message and code from an ONTAP error body."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = str(error.get("message") or f"HTTP {status}")
        if error.get("target"):
            message += f" (target: {error['target']})"
        return message, str(error["code"]) if error.get("code") is not None else None
    if isinstance(body, str) and body.strip():
        return body.strip()[:300], None
    return f"HTTP {status}", None


def next_link(body: dict[str, t.Any]) -> str | None:
    """The ``_links.next.href`` of a collection page, or None on the last page."""
    links = body.get("_links")
    following = links.get("next") if isinstance(links, dict) else None
    href = following.get("href") if isinstance(following, dict) else None
    return href if isinstance(href, str) and href else None


def parse_duration(text: t.Any) -> int | None:
    """Seconds of an ISO-8601 duration such as ``PT8H35M42S`` or ``P1DT2H3M4S``; None if absent or odd."""
    if not text or not isinstance(text, str):
        return None
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        return None
    days, hours, minutes, secs = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(float(secs or 0))


def parse_time(text: t.Any) -> float | None:
    """Epoch seconds of an ONTAP timestamp (``2021-05-25T19:38:55-04:00`` or ``...000+0000``)."""
    if not text or not isinstance(text, str):
        return None
    value = text.strip().replace("Z", "+00:00")
    if len(value) >= 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    try:
        return datetime.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def iso_now_minus(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)
    return moment.replace(microsecond=0).isoformat()


def split_path(path: str) -> tuple[str, str]:
    svm, _sep, volume = path.partition(":")
    return svm, volume


def relationship_facts(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """Normalized facts of one relationship record, the same for every module and role."""
    transfer = record.get("transfer") or {}
    policy = record.get("policy") or {}
    lag = parse_duration(record.get("lag_time"))
    state = record.get("state")
    reasons = [{"code": str(r.get("code", "")), "message": r.get("message", "")}
               for r in (record.get("unhealthy_reason") or [])]
    source = record.get("source") or {}
    destination = record.get("destination") or {}
    src_svm, src_vol = split_path(source.get("path", ""))
    dst_svm, dst_vol = split_path(destination.get("path", ""))
    return {
        "uuid": record.get("uuid"),
        "source_path": source.get("path"),
        "destination_path": destination.get("path"),
        "source_svm": src_svm,
        "source_volume": src_vol,
        "destination_svm": dst_svm,
        "destination_volume": dst_vol,
        "source_cluster": (source.get("cluster") or {}).get("name"),
        "destination_cluster": (destination.get("cluster") or {}).get("name"),
        "state": state,
        "healthy": bool(record.get("healthy", True)),
        "unhealthy_reasons": reasons,
        "lag_seconds": lag,
        "lag_time": record.get("lag_time"),
        "recovery_point": iso_now_minus(lag),
        "policy": policy.get("name"),
        "policy_type": policy.get("type"),
        "transfer_schedule": (record.get("transfer_schedule") or {}).get("name"),
        "throttle": record.get("throttle"),
        "transferring": transfer.get("state") in TRANSFERRING,
        "transfer": {k: transfer.get(k) for k in ("state", "type", "uuid", "bytes_transferred", "end_time")
                     if transfer.get(k) is not None} or None,
        "last_transfer_type": record.get("last_transfer_type"),
        "last_transfer_end": transfer.get("end_time"),
        "exported_snapshot": record.get("exported_snapshot"),
        "total_transfer_bytes": record.get("total_transfer_bytes"),
    }


def active_state(policy_type: str | None) -> str:
    return ACTIVE_STATES.get(policy_type or "async", "snapmirrored")


class OntapClient:
    """One ONTAP cluster's REST API (``https://host[:port]/api``)."""

    def __init__(self, params: dict[str, t.Any], label: str = "cluster", pool_size: int = 10,
                 job_timeout: float = 120.0, poll_interval: float = 1.0) -> None:
        self.origin = base_url(params["hostname"], params.get("port"))
        self.label = f"ONTAP {label} {urlsplit(self.origin).netloc}"
        self.rest = RestClient(self.origin + "/api", verify=tls_verify(params), timeout=params.get("timeout") or 60,
                               auth=(params["username"], params["password"]), error_reader=ontap_error,
                               pool_size=pool_size, label=self.label)
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval

    # reads ------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, t.Any] | None = None) -> t.Any:
        return self.rest.get(path, params)

    def records(self, path: str, params: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Every record of a collection, following ``_links.next`` as the array pages (on this cluster's
        endpoint only: a link to another scheme, host or port is a ForeignLinkError, never requested)."""
        out: list[dict[str, t.Any]] = []
        page = self.rest.url(path)
        body = self.rest.get(path, params)
        while True:
            records = body.get("records") or []
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ReplicationError(f"GET {urlsplit(page).path} on {self.label}: the answer's records are "
                                       "not a list of objects")
            out.extend(records)
            following = next_link(body)
            if not following:
                return out
            page = urljoin(page, following)
            try:
                body = self.rest.get(page)
            except ForeignLinkError as exc:
                raise ForeignLinkError(f"the next page of {urlsplit(self.rest.url(path)).path}: {exc}",
                                       **exc.details) from None

    def records_in(self, path: str, field: str, values: t.Iterable[str],
                   params: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """Records whose ``field`` is one of ``values``: one OR-query per chunk that fits a URL."""
        out: list[dict[str, t.Any]] = []
        chunk: list[str] = []
        length = 0
        for value in sorted(set(values)):
            if chunk and length + len(value) + 1 > MAX_QUERY_CHARS:
                out.extend(self.records(path, dict(params or {}, **{field: "|".join(chunk)})))
                chunk, length = [], 0
            chunk.append(value)
            length += len(value) + 1
        if chunk:
            out.extend(self.records(path, dict(params or {}, **{field: "|".join(chunk)})))
        return out

    # writes -----------------------------------------------------------------------
    def write(self, method: str, path: str, body: t.Any = None, params: dict[str, t.Any] | None = None,
              return_timeout: int = 30) -> tuple[t.Any, dict[str, t.Any]]:
        """Send a change and wait for its job; return (reply body, headers).

        ``return_timeout`` lets ONTAP hold the reply until the job ends (at most 120 s);
        a job still running after it is polled until ``job_timeout``.
        """
        query = dict(params or {})
        query["return_timeout"] = max(0, min(120, int(return_timeout)))
        status, data, headers = self.rest.request(method, path, params=query, body=body)
        if status != 202:
            # ONTAP held the reply until the job ended: 200/201 is its success, and a job that failed
            # inside the window comes back as an error status (raised above), so there is nothing to poll.
            return data, dict(headers)
        body = data if isinstance(data, dict) else {}
        jobs = [body.get("job")] + list(body.get("jobs") or [])
        for job in jobs:
            if isinstance(job, dict) and job.get("uuid"):
                self.wait_job(job["uuid"], what=f"{method} {path}")
        return data, dict(headers)

    def wait_job(self, job_uuid: str, what: str) -> dict[str, t.Any]:
        """Poll a job to its end. A purged job (404) is 'unknown': callers then re-read the object."""

        def fetch() -> dict[str, t.Any]:
            try:
                return self.rest.get(f"/cluster/jobs/{job_uuid}", {"fields": "state,message,code,error"})
            except HttpError as exc:
                if exc.status == 404:
                    return {"state": "unknown"}
                raise

        def check(job: dict[str, t.Any]) -> bool:
            return job.get("state") in ("success", "failure", "unknown", "cancelled", "expired")

        job = poll_until(fetch, check, f"job {job_uuid} ({what}) on {self.label}", self.job_timeout,
                         self.poll_interval, rerun="The job may still finish; rerun the task to continue")
        if job.get("state") in ("failure", "cancelled", "expired"):
            job = self.rest.redact(job)  # the job's message is the array's text: it may echo credentials
            error = job.get("error") if isinstance(job.get("error"), dict) else {}
            message = error.get("message") or job.get("message") or job.get("state")
            code = error.get("code") or (str(job["code"]) if job.get("code") else None)
            raise HttpError(f"{what} failed on {self.label}: {message}" + (f" (code {code})" if code else ""),
                            None, code, message, job)
        return job

    # relationships ---------------------------------------------------------------------
    def relationships(self, destination_paths: t.Iterable[str], fields: str = REL_FIELDS,
                      outgoing: bool = False) -> dict[str, dict[str, t.Any]]:
        """Raw relationship records by destination path: one collection query for the set.

        Many paths of one SVM are read as that SVM's whole list (one paged query);
        a few are read with an OR-filter on ``destination.path``.
        """
        paths = sorted(set(destination_paths))
        params: dict[str, t.Any] = {"fields": fields}
        if outgoing:
            params["list_destinations_only"] = "true"
        by_svm: dict[str, list[str]] = {}
        for path in paths:
            by_svm.setdefault(split_path(path)[0], []).append(path)
        records: list[dict[str, t.Any]] = []
        few: list[str] = []
        for svm, svm_paths in by_svm.items():
            if len(svm_paths) > 20:
                records.extend(self.records("/snapmirror/relationships", dict(params, **{"destination.svm.name": svm})))
            else:
                few.extend(svm_paths)
        if few:
            records.extend(self.records_in("/snapmirror/relationships", "destination.path", few, params))
        wanted = set(paths)
        return {r["destination"]["path"]: r for r in records
                if (r.get("destination") or {}).get("path") in wanted}

    def volumes(self, paths: t.Iterable[str], fields: str) -> dict[str, dict[str, t.Any]]:
        """Volume records by ``svm:volume`` path."""
        by_svm: dict[str, list[str]] = {}
        for path in set(paths):
            svm, name = split_path(path)
            by_svm.setdefault(svm, []).append(name)
        out: dict[str, dict[str, t.Any]] = {}
        for svm, names in by_svm.items():
            params = {"fields": fields, "svm.name": svm}
            if len(names) > 20:
                records = self.records("/storage/volumes", params)
            else:
                records = self.records_in("/storage/volumes", "name", names, params)
            for record in records:
                if record.get("name") in names:
                    out[f"{svm}:{record['name']}"] = record
        return out

    def snapshots(self, volume_uuid: str, fields: str = "name,create_time",
                  params: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        return self.records(f"/storage/volumes/{volume_uuid}/snapshots", dict(params or {}, fields=fields))

    def discarded_bytes(self, volume_uuid: str, snapshot: str) -> int | None:
        """Bytes written to a volume since ``snapshot`` (what a rollback to it discards); None if it is gone."""
        records = self.snapshots(volume_uuid, "name,delta", {"name": snapshot})
        for record in records:
            if record.get("name") == snapshot:
                return int((record.get("delta") or {}).get("size_consumed") or 0)
        return None


def measure_source_writes(src: OntapClient, facts: list[dict[str, t.Any]]) -> list[str]:
    """Set ``source_written_bytes`` on every broken-off relationship: the bytes written to its source since
    the snapshot its destination exports, which the destination does not hold (None when the source volume
    or that snapshot cannot be read). A break made by a planned failover after its final transfer leaves 0;
    one made by hand before the source was written leaves more. Returns warnings."""
    broken = [f for f in facts if f.get("state") == "broken_off" and f.get("source_path")]
    for item in broken:
        item["source_written_bytes"] = None
    if not broken:
        return []
    try:
        volumes = src.volumes({f["source_path"] for f in broken}, "uuid,name,svm.name")
    except ReplicationError as exc:
        return [f"the source cluster could not be read, so what was written to the sources of broken-off "
                f"relationships is not known: {exc}"]
    warnings = []
    for item in broken:
        volume = volumes.get(item["source_path"])
        if volume is None or not item.get("exported_snapshot"):
            continue
        try:
            item["source_written_bytes"] = src.discarded_bytes(volume["uuid"], item["exported_snapshot"])
        except ReplicationError as exc:
            warnings.append(f"{item['source_path']}: {exc}")
    return warnings


def newest_common_snapshot(a: list[dict[str, t.Any]], b: list[dict[str, t.Any]]) -> str | None:
    """The newest snapshot name present on both volumes."""
    names_b = {s.get("name") for s in b}
    common = [s for s in a if s.get("name") in names_b]
    if not common:
        return None
    return str(max(common, key=lambda s: parse_time(s.get("create_time")) or 0.0)["name"])


def require(condition: bool, msg: str, **details: t.Any) -> None:
    if not condition:
        raise ReplicationError(msg, **details)


class SvmClaim(ClaimStore):
    """A run's claim on an SVM: a SnapMirror policy of the SVM named ``storage_replication_claim`` whose
    comment names the holder and its expiry. Policy names are unique per SVM, so of two runs creating it
    together one gets it; the other reads the comment and waits. A policy changes no relationship."""

    def __init__(self, client: OntapClient, svm: str) -> None:
        self.client = client
        self.svm = svm
        self.where = f"SVM {svm} of {client.label}"
        self.removal = (f"delete the SnapMirror policy {CLAIM_NAME} of SVM {svm} "
                        f"(snapmirror policy delete -vserver {svm} -policy {CLAIM_NAME})")
        self.uuid: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return ("ontap", self.client.origin, self.svm)

    def peek(self) -> Seen | None:
        found = self.client.records("/snapmirror/policies", {"name": CLAIM_NAME, "svm.name": self.svm,
                                                             "fields": "uuid,comment"})
        if not found:
            return None
        return Seen(Holder.parse(found[0].get("comment")), found[0].get("uuid"), str(found[0].get("comment") or ""))

    def take(self, holder: Holder, patience: float) -> Seen | None:
        body = {"name": CLAIM_NAME, "svm": {"name": self.svm}, "type": "async", "comment": holder.text()}
        try:
            self.client.write("POST", "/snapmirror/policies", body)
        except UnansweredWriteError:
            pass  # applied or not: the policy list tells
        except HttpError as exc:
            seen = self.peek()
            if seen is None:
                if exc.status != 409:
                    raise  # refused for another reason than a claim in the way: the array's message says which
                # another run's claim was in the way and was removed between the refusal and this read
                return Seen(None, text=f"a claim that was gone again ({exc})")
            return self._ours(seen, holder)
        return self._ours(self.peek(), holder)

    def _ours(self, seen: Seen | None, holder: Holder) -> Seen | None:
        if seen is None:  # a create without an answer that was not applied: take it again
            return Seen(None, text="a claim whose create got no answer")
        if seen.holder is not None and seen.holder.run == holder.run:
            self.uuid = str(seen.handle)
            return None
        return seen

    def renew(self, holder: Holder) -> None:
        if self.uuid:
            self.client.write("PATCH", f"/snapmirror/policies/{self.uuid}", {"comment": holder.text()})

    def _delete(self, policy_uuid: t.Any) -> None:
        try:
            self.client.write("DELETE", f"/snapmirror/policies/{policy_uuid}")
        except HttpError as exc:
            if exc.status != 404 and exc.code != CODE_NOT_FOUND:
                raise

    def drop(self) -> None:
        if self.uuid:
            self._delete(self.uuid)
            self.uuid = None

    def evict(self, seen: Seen) -> None:
        self._delete(seen.handle)
