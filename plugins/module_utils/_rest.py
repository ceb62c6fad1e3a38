"""An HTTP(S) JSON client shared by the REST protocols (ONTAP, Hitachi Configuration Manager).

One ``requests.Session`` per module run, pooled for concurrent bulk work. Reads
are retried on connection errors and 5xx answers with backoff; writes are
retried only when the server says it did not process them (503 before any work).
Every request is counted, so a module can report how many it sent.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import json
import threading
import time
import typing as t

from ._common import ReplicationError

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib
    requests = None  # type: ignore[assignment]
    HTTPAdapter = object  # type: ignore[assignment,misc]

HAS_REQUESTS = requests is not None
READS = ("GET", "HEAD", "OPTIONS")


class HttpError(ReplicationError):
    """An HTTP answer the caller did not expect, decoded by the protocol's error reader."""

    def __init__(self, msg: str, status: int | None = None, code: str | None = None,
                 array_message: str | None = None, body: t.Any = None) -> None:
        super().__init__(msg, http_status=status, array_code=code, array_message=array_message)
        self.status = status
        self.code = code
        self.array_message = array_message
        self.body = body


class UnreachableError(ReplicationError):
    """The request never got an answer (refused, reset, timed out, TLS failure)."""


class UnansweredWriteError(UnreachableError):
    """A write got no answer: the array may or may not have applied it, so only a fresh read can tell."""


ErrorReader = t.Callable[[int, t.Any], t.Tuple[str, t.Optional[str]]]


def _default_reader(status: int, body: t.Any) -> tuple[str, str | None]:
    if isinstance(body, dict):
        return str(body.get("message") or body), None
    return (str(body)[:300] if body else f"HTTP {status}"), None


class RestClient:
    """A pooled session against one array's REST API."""

    def __init__(self, base: str, verify: bool | str = True, timeout: float = 60,
                 auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
                 error_reader: ErrorReader | None = None, retries: int = 3, backoff: float = 0.5,
                 pool_size: int = 10, label: str = "array") -> None:
        if not HAS_REQUESTS:
            raise ReplicationError("the Python library 'requests' is required")
        self.base = base.rstrip("/")
        self.verify = verify
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.label = label
        self.error_reader = error_reader or _default_reader
        self.session = requests.Session()
        # one connection per worker plus the main thread, which polls while the workers write: no request
        # of a bulk run has to open (and TLS-handshake) a connection the pool would then throw away
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size) + 1)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        if auth is not None:
            self.session.auth = auth
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        self.session.headers.update(headers or {})
        self._lock = threading.Lock()
        self.sent = 0
        self.sent_by_method: dict[str, int] = {}

    def close(self) -> None:
        self.session.close()

    def _count(self, method: str) -> None:
        with self._lock:
            self.sent += 1
            self.sent_by_method[method] = self.sent_by_method.get(method, 0) + 1

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return self.base + (path if path.startswith("/") else "/" + path)

    def request(self, method: str, path: str, params: dict[str, t.Any] | None = None, body: t.Any = None,
                headers: dict[str, str] | None = None, expect: t.Iterable[int] = (200, 201, 202),
                retry_writes_on_503: bool = True, timeout: float | None = None) -> tuple[int, t.Any, t.Any]:
        """Send one request; return (status, decoded body, response headers) or raise HttpError.

        ``expect`` lists the statuses that are answers rather than errors.
        """
        method = method.upper()
        url = self.url(path)
        data = None if body is None else json.dumps(body)
        attempt = 0
        while True:
            attempt += 1
            self._count(method)
            try:
                reply = self.session.request(method, url, params=params, data=data, headers=headers,
                                             verify=self.verify, timeout=timeout or self.timeout)
            except requests.exceptions.SSLError as exc:
                raise UnreachableError(
                    f"TLS connection to {self.label} at {self.base} failed: {_reason(exc)}. The server certificate "
                    "does not verify: set ca_path to the CA that signed it (or validate_certs=false in a lab)",
                    url=url) from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if method in READS and attempt <= self.retries:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                if method in READS:
                    raise UnreachableError(f"cannot reach {self.label} at {self.base}: {_reason(exc)}",
                                           url=url) from exc
                raise UnansweredWriteError(
                    f"{method} {path} to {self.label} at {self.base} got no answer ({_reason(exc)}); the array may "
                    "or may not have applied it. Rerun the task: it reads the array's state first and continues "
                    "from there", url=url) from exc
            status = reply.status_code
            if status >= 500 and attempt <= self.retries and (
                    method in READS or (status == 503 and retry_writes_on_503)):
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            decoded = _decode(reply)
            if status in tuple(expect):
                return status, decoded, reply.headers
            message, code = self.error_reader(status, decoded)
            if status == 401:
                raise HttpError(f"{self.label} at {self.base} refused the credentials (HTTP 401): {message}",
                                status, code, message, decoded)
            raise HttpError(f"{method} {path} failed on {self.label}: {message}"
                            + (f" (code {code})" if code else "") + f" [HTTP {status}]",
                            status, code, message, decoded)

    def get(self, path: str, params: dict[str, t.Any] | None = None, expect: t.Iterable[int] = (200,)) -> t.Any:
        return self.request("GET", path, params=params, expect=expect)[1]


def _decode(reply: t.Any) -> t.Any:
    if not reply.content:
        return None
    try:
        return reply.json()
    except ValueError:
        return reply.text


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "certificate verify failed", "Read timed out", "timed out",
                   "Connection reset", "RemoteDisconnected", "Name or service not known", "wrong version number"):
        if marker in text:
            return marker
    return text[:200]
