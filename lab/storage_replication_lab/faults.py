"""What the lab does wrong on purpose (``Faults``) and what it saw (``RequestLog``), per lab process."""

from __future__ import annotations

import json
import random
import re
import typing as t
from urllib.parse import urlsplit

HTML_PAGE = ("<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Sign in</h1>"
             "<p>This page is served by the lab in place of the API (an injected answer).</p></body></html>")


#: the requests a storage.replication run sends to take, renew and drop its claims (an ONTAP SnapMirror
#: policy, the VSP resource lock, an SMI-S replication group), matched against "<METHOD> <path> <CIM method>":
#: ``faults(spare=CLAIMS)`` aims faults past them, ``GET /_lab/log?claims=false`` leaves them out
CLAIMS = r"/snapmirror/policies|resource-group-service|CreateGroup|DeleteGroup|ModifyInstance"


def is_claim(entry: dict[str, t.Any]) -> bool:
    """Whether a request log entry is one of a run's claim requests (``CLAIMS``)."""
    return re.search(CLAIMS, f"{entry.get('method')} {entry.get('path')} {entry.get('cim_method') or ''}") is not None


class Faults:
    """What the lab does wrong on purpose for one array."""

    FIELDS = ("latency_ms", "jitter_ms", "error_rate", "error_count", "error_status", "drop_rate",
              "drop_count", "drop_when", "fail_jobs", "fail_job_message", "fail_job_code",
              "only_mutating", "seed", "answer_path", "answer_method", "answer_status", "answer_type",
              "answer_body", "answer_headers", "answer_count", "echo_headers", "link_origin", "spare")

    def __init__(self) -> None:
        self.rng = random.Random()
        self.clear()

    def clear(self) -> None:
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.error_rate = 0.0
        self.error_count = 0
        self.error_status = 503
        self.drop_rate = 0.0
        self.drop_count = 0
        self.drop_when = "before"
        self.fail_jobs = 0
        self.fail_job_message = "Injected job failure"
        self.fail_job_code = ""
        self.only_mutating = False
        self.seed = None
        # a canned answer in place of the array's for the paths ``answer_path`` (a regular expression) matches
        self.answer_path = ""
        self.answer_method = ""
        self.answer_status = 200
        self.answer_type = "text/html"
        self.answer_body = HTML_PAGE
        self.answer_headers: dict[str, str] = {}
        self.answer_count = 0
        # error answers carry the request's headers; URLs in JSON answers point to another origin
        self.echo_headers = False
        self.link_origin = ""
        # requests ("<METHOD> <path> <CIM method>") and jobs (their description) this regular expression
        # matches are never faulted: a test aims its faults past them (e.g. at the writes after a run's claim)
        self.spare = ""

    def spared(self, what: str) -> bool:
        return bool(self.spare) and re.search(self.spare, what) is not None

    NUMBERS = {"latency_ms": float, "jitter_ms": float, "error_rate": float, "error_count": int,
               "error_status": int, "drop_rate": float, "drop_count": int, "fail_jobs": int,
               "answer_status": int, "answer_count": int}

    def update(self, values: dict[str, t.Any]) -> None:
        """Apply ``values`` (all of them or, when one is invalid, none)."""
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        checked = dict(values)
        for key, kind in self.NUMBERS.items():
            if key in checked:
                try:
                    if isinstance(checked[key], bool):
                        raise TypeError
                    checked[key] = kind(checked[key])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"fault setting {key} must be a number, not {checked[key]!r}") from exc
        for key in ("only_mutating", "echo_headers"):
            if key in checked:
                checked[key] = bool(checked[key])
        if checked.get("drop_when", self.drop_when) not in ("before", "after"):
            raise ValueError("drop_when must be 'before' or 'after'")
        _check_answer(checked)
        for key, value in checked.items():
            setattr(self, key, value)
        if checked.get("seed") is not None:
            self.rng.seed(checked["seed"])

    def describe(self) -> dict[str, t.Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    def delay(self) -> float:
        if not self.latency_ms and not self.jitter_ms:
            return 0.0
        return max(0.0, self.latency_ms + self.rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000.0

    def _take(self, count_attr: str, rate: float) -> bool:
        if getattr(self, count_attr) > 0:
            setattr(self, count_attr, getattr(self, count_attr) - 1)
            return True
        return bool(rate) and self.rng.random() < rate

    def take_error(self) -> bool:
        return self._take("error_count", self.error_rate)

    def take_drop(self) -> bool:
        return self._take("drop_count", self.drop_rate)

    def take_answer(self, method: str, path: str) -> bool:
        """Whether this request gets the canned answer (``answer_count`` > 0 answers that many, then stops)."""
        if not self.answer_path or (self.answer_method and self.answer_method != method.upper()):
            return False
        if not re.search(self.answer_path, path):
            return False
        if self.answer_count > 0:
            self.answer_count -= 1
            if self.answer_count == 0:
                self.answer_path = ""
        return True

    def take_job_failure(self, what: str = "") -> tuple[str, str] | None:
        """A (message, code) to fail the next job (``what`` it does) with, when one is due."""
        if self.fail_jobs > 0 and not self.spared(what):
            self.fail_jobs -= 1
            return self.fail_job_message, str(self.fail_job_code)
        return None


def _check_answer(checked: dict[str, t.Any]) -> None:
    """Check and convert the canned-answer and link settings in place (ValueError when one is wrong)."""
    for key in ("answer_path", "answer_method", "answer_type", "answer_body", "link_origin", "spare"):
        if key in checked:
            if not isinstance(checked[key], str):
                raise ValueError(f"fault setting {key} must be a string")
    for key in ("answer_path", "spare"):
        try:
            re.compile(checked.get(key, ""))
        except re.error as exc:
            raise ValueError(f"{key} is not a regular expression: {exc}") from exc
    if "answer_method" in checked:
        checked["answer_method"] = checked["answer_method"].upper()
    if "answer_status" in checked and not 100 <= checked["answer_status"] <= 599:
        raise ValueError("answer_status must be an HTTP status (100-599)")
    headers = checked.get("answer_headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ValueError("answer_headers must map header names to strings")
    origin = checked.get("link_origin", "")
    if origin:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError("link_origin must be scheme://host[:port], nothing more")
        checked["link_origin"] = origin.rstrip("/")


def headers_text(headers: t.Mapping[str, str]) -> str:
    """Request headers the way an error page that echoes them shows them."""
    return "; ".join(f"{name}: {value}" for name, value in headers.items())


def canned_body(body: str, content_type: str, headers: t.Mapping[str, str]) -> str:
    """``answer_body`` with ``{request_headers}`` replaced (escaped as a JSON string in a JSON body)."""
    text = headers_text(headers)
    if "json" in content_type:
        text = json.dumps(text)[1:-1]
    return body.replace("{request_headers}", text)


class RequestLog:
    """Every request the arrays served, mutating ones flagged, bodies redacted."""

    def __init__(self, limit: int = 500000) -> None:
        self.entries: list[dict[str, t.Any]] = []
        self.limit = limit
        self.seq = 0

    def add(self, entry: dict[str, t.Any]) -> None:
        self.seq += 1
        entry["seq"] = self.seq
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            del self.entries[: len(self.entries) - self.limit]

    def select(self, array: str | None = None, mutating: bool | None = None,
               since: int = 0) -> list[dict[str, t.Any]]:
        return [e for e in self.entries
                if e["seq"] > since
                and (array is None or e["array"] == array)
                and (mutating is None or e["mutating"] == mutating)]

    def reset(self) -> None:
        self.entries.clear()
