"""The UserFlux Metrics API client: one access token per run, renewed once when refused, and
query results decoded row by row as they arrive, whatever undocumented shape they take."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from metricsync.client import RETRY_STATUSES, ApiClient, excerpt, request_body
from metricsync.config import Target
from metricsync.errors import ApiError, MetricsyncError, NetworkError
from metricsync.pacing import Limits
from metricsync.platforms.userflux.binding import Query
from metricsync.secrets import redact, remember

TOKEN_PATH = "/metrics/auth/token"
REFUSED = (401, 403)  # a token the server no longer accepts (docs/sandbox/userflux.md)
REFUSED_AGAIN = {
    401: "UserFlux refused a token it had just issued",
    403: "UserFlux refused a fresh token too: is this address on the key's IP allow-list?",
}


class UnexpectedResponse(MetricsyncError):
    """The API answered 200 with a body metricsync cannot read (shapes docs/sandbox/userflux.md
    does not list)."""


class AuthenticationFailed(ApiError):
    """UserFlux refused the credentials, or refused a token it had just issued."""

    def __init__(self, error: ApiError, advice: str) -> None:
        super().__init__(error.target, error.method, error.url, error.status, error.detail)
        self.args = (f"{error}; {advice}",)


class _Http(ApiClient):
    """ApiClient plus the two things this API needs: a bearer token that changes during the run,
    and responses read as a stream."""

    def authorize(self, token: str | None) -> None:
        self._http.headers.pop("Authorization", None)
        if token is not None:
            self._http.headers["Authorization"] = f"Bearer {token}"

    @contextmanager
    def stream(self, path: str, body: Any) -> Iterator[httpx.Response]:
        """A 2xx response whose body is not read yet; 429 and 5xx are retried (queries are
        reads), other statuses raise ApiError."""
        content, url = request_body(self.target, "POST", path, body), f"{self.base_url}{path}"
        headers = {"Content-Type": "application/json"}
        for attempt in range(self.retry.attempts):
            self._check_deadline("POST", path)
            self.requests["POST"] += 1
            timeout = min(self.timeout, self.deadline.remaining())  # per read: rows stream in
            try:
                with self._http.stream(
                    "POST", path, content=content, headers=headers, timeout=timeout
                ) as response:
                    if response.is_success:
                        yield response
                        return
                    response.read()
            except httpx.TransportError as exc:
                self._check_deadline("POST", path)
                what = f"{type(exc).__name__}: {redact(str(exc))}"
                raise NetworkError(f"{self.target}: POST {url} failed: {what}") from None
            if response.status_code not in RETRY_STATUSES or attempt + 1 == self.retry.attempts:
                detail = redact(excerpt(response))
                raise ApiError(self.target, "POST", url, response.status_code, detail)
            retry_after = _seconds(response.headers.get("Retry-After"))
            why = "Retry-After" if retry_after is not None else f"HTTP {response.status_code}"
            self._wait(self.retry.delay(attempt, retry_after), why, "POST", path)

    def within_time(self, chunks: Iterator[str], path: str) -> Iterator[str]:
        """The answer's text as it streams in, cut off after the request's total time or at the
        run's deadline: rows trickling in cannot hold the run."""
        budget = min(self.request_seconds, self.deadline.remaining())
        ends = self.clock() + budget
        for chunk in chunks:
            if self.clock() > ends:
                self._check_deadline("POST", path)
                raise NetworkError(
                    f"{self.target}: POST {self._url(path)} failed: ReadTimeout: "
                    f"{self._too_slow(budget)}"
                )
            yield chunk


class UserFluxClient:
    """One target's session. `token_field` is a dotted path to the token in the token response;
    None reads the only string-valued top-level field (the response shape is undocumented)."""

    def __init__(
        self,
        target: Target,
        transport: httpx.BaseTransport | None = None,
        token_field: str | None = None,
    ) -> None:
        self.target = target
        self.credentials = {
            "clientSecret": target.secret("client_secret"),
            "environmentApiKey": target.secret("environment_api_key"),
        }
        for value in self.credentials.values():
            remember(value)  # sandbox credentials are not read from variables: scrub them too
        self.token_field = token_field or target.settings.get("token_field")
        self.http = _Http(target.name, target.endpoint, {}, Limits(), transport=transport)
        self._token: str | None = None
        self._refused: AuthenticationFailed | None = None
        self.token_requests = 0

    def __enter__(self) -> UserFluxClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def run_sql(self, sql: str) -> list[Any]:
        """Every row of one raw SQL query (already bound)."""
        with self.rows(Query(sql=sql)) as rows:
            return list(rows)

    def run_metric(self, metric_id: str, variables: Mapping[str, Any]) -> list[Any]:
        """Every row of one pre-defined metric run with `variables`."""
        with self.rows(Query(metric_id=metric_id, variables=variables)) as rows:
            return list(rows)

    @contextmanager
    def rows(self, query: Query) -> Iterator[Iterator[Any]]:
        """The query's rows, decoded one at a time while the response streams in."""
        path, body = request_for(query)
        with self._authorized(lambda: self.http.stream(path, body)) as response:
            yield iter_rows(self.http.within_time(response.iter_text(), path))

    @contextmanager
    def _authorized(
        self, open_stream: Callable[[], AbstractContextManager[httpx.Response]]
    ) -> Iterator[httpx.Response]:
        """Opens the stream with the run's token; on 401/403, once more with a new token."""
        self._ensure_token()
        opened = False
        try:
            with open_stream() as response:
                opened = True
                yield response
                return
        except ApiError as exc:
            if opened or exc.status not in REFUSED:
                raise
        self._token = None
        self._ensure_token()
        try:
            with open_stream() as response:
                opened = True
                yield response
        except ApiError as exc:
            if opened or exc.status not in REFUSED:
                raise
            raise AuthenticationFailed(exc, REFUSED_AGAIN[exc.status]) from None

    def _ensure_token(self) -> None:
        if self._refused is not None:
            raise self._refused  # the credentials were refused once this run: do not hammer
        if self._token is not None:
            return
        self.token_requests += 1
        try:
            response = self.http.send("POST", TOKEN_PATH, body=self.credentials)
        except ApiError as exc:
            if exc.status not in (400, *REFUSED):
                raise  # the exchange did not say no to the credentials: a later query may retry
            advice = "check client_secret and environment_api_key"
            if exc.status == 403:
                advice = "this address is not on the environment API key's IP allow-list"
            self._refused = AuthenticationFailed(exc, f"the token exchange was refused: {advice}")
            raise self._refused from None
        self._token = token_from(_json(response), self.token_field)
        remember(self._token)
        self.http.authorize(self._token)


def request_for(query: Query) -> tuple[str, dict[str, Any]]:
    """The path and body of one query (docs/sandbox/userflux.md): SQL as standard base64, padded."""
    if query.sql is not None:
        encoded = base64.standard_b64encode(query.sql.encode("utf-8")).decode("ascii")
        return "/metrics/query", {"encodedQuery": encoded}
    assert query.metric_id is not None
    return f"/metrics/query/{quote(query.metric_id, safe='')}", {"variables": dict(query.variables)}


def token_from(body: Any, field: str | None) -> str:
    """The access token in a token response. Messages name fields, never values."""
    if field:
        value = body
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value:
            raise UnexpectedResponse(f"the token response has no string field {field!r}")
        return value
    if not isinstance(body, dict):
        raise UnexpectedResponse("the token response is not a JSON object")
    strings = [key for key, value in body.items() if isinstance(value, str) and value]
    if len(strings) != 1:
        found = ", ".join(sorted(map(str, body))) or "none"
        raise UnexpectedResponse(
            f"cannot tell which field of the token response is the token (fields: {found}); "
            "expected exactly one string field"
        )
    return str(body[strings[0]])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponse(f"{response.request.url.path} did not answer JSON") from None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class _Reader:
    """JSON values decoded one by one from text chunks, keeping only the undecoded rest."""

    decoder = json.JSONDecoder()

    def __init__(self, chunks: Iterable[str]) -> None:
        self.chunks, self.text, self.at, self.done = iter(chunks), "", 0, False

    def more(self) -> bool:
        chunk = next(self.chunks, None)
        if chunk is None:
            self.done = True
            return False
        self.text, self.at = self.text[self.at :] + chunk, 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self.at < len(self.text) and self.text[self.at] in " \t\r\n":
                self.at += 1
            if self.at < len(self.text) or not self.more():
                return self.text[self.at : self.at + 1]

    def take(self, expected: str) -> str:
        found = self.peek()
        if found not in expected or not found:
            raise UnexpectedResponse(f"the query response is not valid JSON (near {found!r})")
        self.at += 1
        return found

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.at)
                if end < len(self.text) or self.done:  # a number may continue in the next chunk
                    self.at = end
                    return value
            except json.JSONDecodeError:
                if self.done:
                    raise UnexpectedResponse("the query response is not valid JSON") from None
            self.more()

    def items(self) -> Iterator[Any]:
        self.take("[")
        if self.peek() == "]":
            self.at += 1
            return
        while True:
            yield self.value()
            if self.take(",]") == "]":
                return


def iter_rows(chunks: Iterable[str]) -> Iterator[Any]:
    """The rows of a query response: a top-level array, the object's `data` array (streamed),
    or else its only array-valued field."""
    reader = _Reader(chunks)
    if reader.peek() == "[":
        yield from reader.items()
        return
    reader.take("{")
    arrays: dict[str, list[Any]] = {}
    while reader.peek() != "}":
        key = reader.value()
        reader.take(":")
        if key == "data" and reader.peek() == "[":
            yield from reader.items()
            return
        value = reader.value()
        if isinstance(value, list):
            arrays[str(key)] = value
        if reader.take(",}") == "}":
            break
    if len(arrays) != 1:
        raise UnexpectedResponse("the query response has no `data` array of rows")
    yield from next(iter(arrays.values()))
