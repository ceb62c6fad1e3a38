"""An HTTP(S) JSON client shared by the REST protocols (ONTAP, Hitachi Configuration Manager).

One ``requests.Session`` per module run, pooled for concurrent bulk work. Reads
are retried on connection errors and 5xx answers with backoff; writes are
retried only when the server says it did not process them (503 before any work).
Every request is counted, so a module can report how many it sent.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
import typing as t
from urllib.parse import urlsplit

from ._common import ReplicationError, credential_forms, redact

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
        self.array_message = redact(array_message)
        self.body = redact(body)

    def hide(self, secrets: t.Iterable[str]) -> HttpError:
        secrets = tuple(secrets)
        super().hide(secrets)
        self.array_message = redact(self.array_message, secrets)
        self.body = redact(self.body, secrets)
        return self


class UnreachableError(ReplicationError):
    """The request never got an answer (refused, reset, timed out, TLS failure)."""


class UnansweredWriteError(UnreachableError):
    """A write got no answer: the array may or may not have applied it, so only a fresh read can tell."""


class NotJsonError(HttpError):
    """A read answered with something other than a JSON object (an HTML page, plain text, an empty body)."""


class ForeignLinkError(ReplicationError):
    """The array named a URL on another scheme, host or port than its configured endpoint: not followed."""


REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {"http": 80, "https": 443}


ErrorReader = t.Callable[[int, t.Any], t.Tuple[str, t.Optional[str]]]


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port filled in from the scheme; what "the same endpoint" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # never equal to a real endpoint's port
    return scheme, (parts.hostname or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def excerpt(text: str, limit: int = 200) -> str:
    """A short, readable piece of a non-JSON body: markup, scripts and runs of spaces removed."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = html.unescape(re.sub(r"<[^>]*>", " ", text))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "..."


def _default_reader(status: int, body: t.Any) -> tuple[str, str | None]:
    if isinstance(body, dict):
        return str(body.get("message") or body), None
    return (str(body)[:300] if body else f"HTTP {status}"), None


class RestClient:
    """A pooled session against one array's REST API.

    Credentials stay with the configured endpoint: a URL the array names (a paging link, a redirect) on
    another scheme, host or port is never requested, and every error text taken from an answer is
    redacted (``Authorization`` values, auth tokens, the password and its encoded forms, ``hide``).
    """

    def __init__(self, base: str, verify: bool | str = True, timeout: float = 60,
                 auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
                 error_reader: ErrorReader | None = None, retries: int = 3, backoff: float = 0.5,
                 pool_size: int = 10, label: str = "array", secrets: t.Iterable[str] = ()) -> None:
        if not HAS_REQUESTS:
            raise ReplicationError("the Python library 'requests' is required")
        self.base = base.rstrip("/")
        self.origin = origin_of(self.base)
        netloc = urlsplit(self.base).netloc
        self.where = label if netloc in label else f"{label} at {netloc}"
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
        self._secrets: tuple[str, ...] = tuple(secrets)
        if auth is not None:
            self.session.auth = auth
            self.hide(*credential_forms(*auth))
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        self.session.headers.update(headers or {})
        self._lock = threading.Lock()
        self.sent = 0
        self.sent_by_method: dict[str, int] = {}

    def close(self) -> None:
        self.session.close()

    def hide(self, *secrets: str) -> None:
        """Values never to show in an error (a password's forms, a session token)."""
        self._secrets = tuple(sorted(set(self._secrets) | {s for s in secrets if s}, key=len, reverse=True))

    def redact(self, value: t.Any) -> t.Any:
        return redact(value, self._secrets)

    def _count(self, method: str) -> None:
        with self._lock:
            self.sent += 1
            self.sent_by_method[method] = self.sent_by_method.get(method, 0) + 1

    def url(self, path: str) -> str:
        """The URL of an API path, or ``path`` itself when it is a URL on this endpoint (ForeignLinkError if not)."""
        if "://" not in path and not path.startswith("//"):
            return self.base + (path if path.startswith("/") else "/" + path)
        if origin_of(path) != self.origin:
            link = self.redact(path)
            raise ForeignLinkError(
                f"{self.where} named the URL {link}, which is not its configured endpoint "
                f"{urlsplit(self.base).scheme}://{urlsplit(self.base).netloc} (another scheme, host or port): "
                "not followed, so the credentials stay with the configured endpoint", link=link,
                endpoint=self.base)
        return path

    def request(self, method: str, path: str, params: dict[str, t.Any] | None = None, body: t.Any = None,
                headers: dict[str, str] | None = None, expect: t.Iterable[int] = (200, 201, 202),
                retry_writes_on_503: bool = True, timeout: float | None = None) -> tuple[int, t.Any, t.Any]:
        """Send one request; return (status, decoded body, response headers) or raise HttpError.

        ``expect`` lists the statuses that are answers rather than errors; the body of such an answer is
        a JSON object or None (empty, never for a GET), else NotJsonError (UnansweredWriteError for a write).
        Redirects are not followed.
        """
        method = method.upper()
        url = self.url(path)
        reply = self._send(method, url, path, params, None if body is None else json.dumps(body), headers,
                           retry_writes_on_503, timeout)
        status = reply.status_code
        decoded, is_json = _decode(reply)
        if status in tuple(expect):
            self._check_answer(method, url, reply, decoded, is_json)
            return status, decoded, reply.headers
        if status in REDIRECTS:
            location = self.redact(reply.headers.get("Location") or "nowhere")
            raise HttpError(f"{method} {urlsplit(url).path} to {self.where} answered HTTP {status}, a redirect to "
                            f"{location}: redirects are not followed (the credentials stay with the configured "
                            "endpoint); set hostname and port to the endpoint that serves the API",
                            status, None, f"redirect to {location}", None)
        decoded = self.redact(decoded if is_json else excerpt(decoded or ""))
        message, code = self.error_reader(status, decoded)
        if status == 401:
            raise HttpError(f"{self.label} at {self.base} refused the credentials (HTTP 401): {message}",
                            status, code, message, decoded)
        kind = "" if is_json else f", {_content_type(reply)} instead of JSON"
        raise HttpError(f"{method} {urlsplit(url).path} failed on {self.where}: {message}"
                        + (f" (code {code})" if code else "") + f" [HTTP {status}{kind}]",
                        status, code, message, decoded)

    def _send(self, method: str, url: str, path: str, params: dict[str, t.Any] | None, data: str | None,
              headers: dict[str, str] | None, retry_writes_on_503: bool, timeout: float | None) -> t.Any:
        """The answer to one request, after the retries a read (or a write the array did not start) allows."""
        attempt = 0
        while True:
            attempt += 1
            self._count(method)
            try:
                reply = self.session.request(method, url, params=params, data=data, headers=headers,
                                             verify=self.verify, timeout=timeout or self.timeout,
                                             allow_redirects=False)
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
            return reply

    def _check_answer(self, method: str, url: str, reply: t.Any, decoded: t.Any, is_json: bool) -> None:
        """Raise when an expected answer is not what the API answers: a JSON object (or, but for a GET, nothing)."""
        if isinstance(decoded, dict) or (decoded is None and method != "GET"):
            return
        if decoded is None:
            what = "an empty body"
        elif not is_json:
            what = _content_type(reply)
        else:
            what = f"a JSON {type(decoded).__name__}"
        seen = self.redact(excerpt(decoded if isinstance(decoded, str) else json.dumps(decoded)))
        msg = (f"{method} {urlsplit(url).path} to {self.where} answered HTTP {reply.status_code} with {what} "
               "instead of a JSON object" + (f': "{seen}"' if seen else "")
               + ". Is the host and port the array's REST API (not a proxy or a login page)?")
        if method in READS:
            raise NotJsonError(msg, reply.status_code, None, seen or None, None)
        raise UnansweredWriteError(msg + " The array may or may not have applied the change: rerun the task, "
                                   "it reads the array's state first and continues from there",
                                   url=url, http_status=reply.status_code)

    def get(self, path: str, params: dict[str, t.Any] | None = None, expect: t.Iterable[int] = (200,)) -> t.Any:
        return self.request("GET", path, params=params, expect=expect)[1]


def _decode(reply: t.Any) -> tuple[t.Any, bool]:
    """(the body, whether it was JSON): None for an empty body, the text when it is not JSON."""
    if not reply.content:
        return None, True
    try:
        return reply.json(), True
    except ValueError:
        return reply.text, False


def _content_type(reply: t.Any) -> str:
    kind = (reply.headers.get("Content-Type") or "").split(";", 1)[0].strip()
    return kind or "a body without a content type"


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "certificate verify failed", "Read timed out", "timed out",
                   "Connection reset", "RemoteDisconnected", "Name or service not known", "wrong version number"):
        if marker in text:
            return marker
    return text[:200]
