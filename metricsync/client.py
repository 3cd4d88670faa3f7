"""One HTTP client per target and run: paced under the platform's rate limits (pacing.py),
bounded retries with jitter, and translation of every failure into ApiError / NetworkError with
secrets removed.

Writes that may have reached the server are never retried blindly: the caller gets
AmbiguousWrite and re-reads to learn whether the write happened.

Credentials go to the target's configured origin only: a link or redirect elsewhere is refused.
Every request, retry and wait is bounded by the run's deadline (deadline.py), each answer by a
total time and a size, and every wait for a rate limit is said on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from metricsync.deadline import REQUEST_SECONDS, Deadline, DeadlineExceeded, current, seconds_text
from metricsync.display import printable
from metricsync.errors import ApiError, MetricsyncError, NetworkError
from metricsync.pacing import Limits, Pacer, RetryPolicy
from metricsync.secrets import redact

SAFE_TO_RESEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BODY_BYTES = 256 * 1024 * 1024  # far above any list page; a server sending more is broken
MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}
T = TypeVar("T")


class AmbiguousWrite(NetworkError):
    """A write failed in a way that leaves unknown whether the server applied it."""


class WriteGuard(Protocol):
    """Decides whether a write may still leave (an interrupted apply, interrupt.py)."""

    @property
    def interrupted(self) -> bool: ...

    def before_write(self) -> None: ...

    def pause(self, seconds: float, sleep: Callable[[float], None]) -> None: ...


class ForeignOrigin(NetworkError):
    """A link or redirect pointed away from the target's configured origin: not followed, so
    the target's credentials never reach another server."""


@dataclass
class ApiClient:
    target: str
    base_url: str
    headers: dict[str, str]
    limits: Limits = field(default_factory=Limits)
    transport: httpx.BaseTransport | None = None
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    deadline: Deadline = field(default_factory=current)
    request_seconds: float = REQUEST_SECONDS
    max_body_bytes: int = MAX_BODY_BYTES
    progress: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))

    def __post_init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.guard: WriteGuard | None = None  # set by apply for the duration of its run
        self._pacer = Pacer(self.limits, self.clock, self.sleep, self._before_pacing)
        self._announced_until = 0.0
        self.origin = origin(httpx.URL(self.base_url))
        pool = httpx.Limits(max_connections=self.limits.concurrency * 2)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self.headers,
            timeout=self.timeout,
            transport=self.transport,
            limits=pool,
            follow_redirects=False,  # followed here, and only on the configured origin
        )

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        resend: bool = True,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Sends one request, retrying what is safe to retry; returns a 2xx response (or one
        whose status is in `ok`). With `resend=False` (creates), a failure that may have
        reached the server raises AmbiguousWrite instead of being retried. `path` may be an
        absolute URL (a list's next-page link): one on another origin raises ForeignOrigin."""
        self._check_origin(method, path)
        content = request_body(self.target, method, path, body) if body is not None else None
        for attempt in range(self.retry.attempts):
            response = self._attempt(method, path, content, params, resend, attempt)
            if response is None:
                continue
            if response.is_success or response.status_code in ok:
                return response
            if not resend and response.status_code in RETRY_STATUSES - {429}:
                # A 5xx may hide a write that happened: the caller must look before resending.
                raise AmbiguousWrite(str(self._api_error(method, path, response)))
            if not self._retryable(response, resend, attempt):
                raise self._api_error(method, path, response)
            retry_after = _retry_after(response)
            why = "Retry-After" if retry_after is not None else f"HTTP {response.status_code}"
            delay = self.retry.delay(attempt, retry_after)
            if response.status_code == 429 and retry_after is not None:
                self._pacer.hold(delay)  # the other writes in flight wait as long
            self._wait(delay, why, method, path)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def decode(self, response: httpx.Response, decode: Callable[[bytes], T]) -> T:
        """The body of a response `send` returned, decoded; a body that is not what the platform
        documents is an ApiError naming the request, the decoder's reason and where it failed."""
        try:
            if _is_html(response):
                raise ValueError(HTML_PAGE)
            return decode(response.content)
        except ValueError as exc:
            request = response.request
            detail = redact(f"unexpected response body: {exc}")
            url = str(request.url.copy_with(query=None))
            raise ApiError(self.target, request.method, url, response.status_code, detail) from None

    def _attempt(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: dict[str, Any] | None,
        resend: bool,
        attempt: int,
    ) -> httpx.Response | None:
        guard = self.guard if method not in ("GET", "HEAD") else None
        if method in self.limits.paced_methods:
            self._pacer.acquire(self._guarded_sleep(guard) if guard else None)
        if guard is not None:
            self._check_deadline(
                method, path
            )  # before the gate: a change stopped here sent nothing
            guard.before_write()
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            request = self._http.build_request(
                method, path, content=content, params=params, headers=headers
            )
            return self._exchange(request)
        except SAFE_TO_RESEND as exc:
            self._after_failure(method, path, exc, attempt, ambiguous=False)
        except httpx.TransportError as exc:
            if not resend:  # even past the deadline: whether the write happened is unknown
                raise AmbiguousWrite(self._describe(method, path, exc)) from None
            self._check_deadline(method, path)
            self._after_failure(method, path, exc, attempt, ambiguous=True)
        return None

    def _guarded_sleep(self, guard: WriteGuard) -> Callable[[float], None]:
        return lambda seconds: guard.pause(seconds, self.sleep)

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        """The answer to `request`, following redirects on the configured origin (GET only),
        read whole within the request's total time and the size limit."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._receive(request)
            if not response.is_redirect:
                return response
            location = request.url.join(response.headers["Location"])
            self._check_origin(
                request.method, str(location), str(request.url.copy_with(query=None))
            )
            if request.method != "GET":
                return response  # a redirected write is an error, not something to resend
            request = self._http.build_request("GET", location)
        raise self._unreadable(response, f"more than {MAX_REDIRECTS} redirects")

    def _receive(self, request: httpx.Request) -> httpx.Response:
        """Sends and reads one answer. httpx's timeout bounds each read; this bounds the whole,
        so a server trickling its answer byte by byte cannot hold the run."""
        self._check_deadline(request.method, str(request.url))
        budget = min(self.request_seconds, self.deadline.remaining())
        ends = self.clock() + budget
        request.extensions["timeout"] = httpx.Timeout(min(self.timeout, budget)).as_dict()
        self.requests[request.method] += 1
        response = self._http.send(request, stream=True)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                raise self._unreadable(response, self._too_large())
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise self._unreadable(response, self._too_large())
                if self.clock() > ends:
                    raise httpx.ReadTimeout(self._too_slow(budget), request=request)
                chunks.append(chunk)
        finally:
            response.close()
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=b"".join(chunks), request=request
        )

    def _too_large(self) -> str:
        limit = self.max_body_bytes
        size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
        return f"the answer is larger than {size}; not read"

    def _unreadable(self, response: httpx.Response, detail: str) -> ApiError:
        request = response.request
        url = str(request.url.copy_with(query=None))
        return ApiError(self.target, request.method, url, response.status_code, detail)

    def _too_slow(self, budget: float) -> str:
        return f"the answer took longer than {seconds_text(budget)} in total"

    def _check_origin(self, method: str, url: str, source: str | None = None) -> None:
        """Refuses an absolute URL on another origin (scheme, host or port): a next-page link,
        or the Location of a redirect answering `source`."""
        parsed = httpx.URL(url)
        if parsed.is_relative_url or origin(parsed) == self.origin:
            return
        elsewhere = f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}"
        if source is None:
            what = f"refused a link to {elsewhere} ({method} {parsed.copy_with(query=None)})"
        else:
            what = f"{method} {source} was redirected to {elsewhere}; not followed"
        raise ForeignOrigin(
            redact(f"{self.target}: {what}: its credentials are only sent to {self.origin_text}")
        )

    @property
    def origin_text(self) -> str:
        scheme, host, port = self.origin
        return f"{scheme}://{host}" + ("" if DEFAULT_PORTS.get(scheme) == port else f":{port}")

    def _check_deadline(self, method: str, path: str) -> None:
        if self.deadline.remaining() <= 0:
            url = httpx.URL(self._url(path)).copy_with(query=None)  # as other errors name it
            raise DeadlineExceeded(
                redact(
                    f"{self.target}: {self.deadline.describe()} passed during {method} {url}; "
                    "nothing more is sent"
                )
            )

    def _wait(self, seconds: float, why: str, method: str, path: str) -> None:
        """Sleeps before a retry, saying so, unless the run has no time left for it."""
        left = self.deadline.remaining()
        if seconds > left:
            raise DeadlineExceeded(
                f"{self.target}: {method} {self._url(path)} must wait {seconds_text(seconds)} "
                f"({why}), more than the {seconds_text(max(left, 0.0))} left of "
                f"{self.deadline.describe()}; giving up"
            )
        if seconds > 0 and why in ("Retry-After", "HTTP 429"):  # the platform's limits, not faults
            self._announce(seconds, why)
        self.sleep(seconds)

    def _before_pacing(self, seconds: float) -> None:
        left = self.deadline.remaining()
        if seconds > left:
            raise DeadlineExceeded(
                f"{self.target}: the platform's rate limit needs a wait of "
                f"{seconds_text(seconds)}, more than the {seconds_text(max(left, 0.0))} left of "
                f"{self.deadline.describe()}; giving up"
            )
        if seconds >= 1:
            self._announce(seconds, "rate limit")

    def _announce(self, seconds: float, why: str) -> None:
        """One progress line per wait; concurrent requests waiting out the same limit print
        it once."""
        until = self.clock() + seconds
        if until <= self._announced_until + 0.5:
            return
        self._announced_until = until
        self.progress(f"{self.target}: waiting {seconds_text(seconds)} ({why})")

    def _after_failure(
        self, method: str, path: str, exc: httpx.TransportError, attempt: int, ambiguous: bool
    ) -> None:
        """Raises on the last attempt; otherwise waits before the next one."""
        self._check_deadline(method, path)
        if attempt + 1 >= self.retry.attempts:
            error = self._describe(method, path, exc)
            raise (AmbiguousWrite(error) if ambiguous else NetworkError(error)) from None
        self._wait(self.retry.delay(attempt, None), type(exc).__name__, method, path)

    def _retryable(self, response: httpx.Response, resend: bool, attempt: int) -> bool:
        if attempt + 1 >= self.retry.attempts or response.status_code not in RETRY_STATUSES:
            return False
        return resend or response.status_code == 429  # a 429 is refused before any handler

    def _describe(self, method: str, path: str, exc: Exception) -> str:
        what = type(exc).__name__
        detail = redact(str(exc)) or what
        return f"{self.target}: {method} {self._url(path)} failed: {what}: {detail}"

    def _api_error(self, method: str, path: str, response: httpx.Response) -> ApiError:
        detail = redact(excerpt(response))
        return ApiError(self.target, method, self._url(path), response.status_code, detail)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url.rstrip('/')}{path}"


HTML_PAGE = "an HTML page, not the platform's JSON (a proxy or sign-in page?); check the URL"


def _is_html(response: httpx.Response) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower()


def excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The part of an error body a person needs, on one line: the platform's message and field
    errors, with every control character (line breaks included) shown as an escape, so server
    text cannot forge a line of metricsync's output (in CI, a `::` workflow command)."""
    return printable(_excerpt(response, limit))


def _excerpt(response: httpx.Response, limit: int) -> str:
    if _is_html(response):
        return HTML_PAGE
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("message", "detail", "error") if body.get(k)]
        if body.get("attr"):
            parts.append(f"(field {body['attr']})")
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                parts.append(f"{error.get('property')}: {error.get('errorMessage')}")
        if parts:
            text = "; ".join(parts)
            return (text[:limit] + "…") if len(text) > limit else text
    text = json.dumps(body)
    return (text[:limit] + "…") if len(text) > limit else text


def request_body(target: str, method: str, path: str, body: Any) -> bytes:
    """A request's JSON body. NaN and infinity are refused (validate refuses them in files;
    this guards whatever else could carry one): a server would store what no JSON reader,
    metricsync included, can read back."""
    try:
        return json.dumps(body, allow_nan=False).encode()
    except ValueError:
        raise MetricsyncError(
            f"{target}: {method} {path} not sent: its body holds NaN or infinity, which JSON "
            "cannot carry"
        ) from None


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port, the port spelled out even when it is the scheme's default."""
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(scheme)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
