"""UserFlux Metrics API emulator: token exchange, raw-SQL and pre-defined-metric queries.

Faithful to UserFlux as docs/sandbox/userflux.md describes it; every behaviour the vendor leaves
undocumented is a setting (settings.py), listed with its current value there.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from metricsync.platforms.userflux.sandbox.events import ENVIRONMENTS, seeded_row
from metricsync.platforms.userflux.sandbox.settings import TEST_KEY, ApiKey, UserFluxSettings
from metricsync.platforms.userflux.sandbox.sql import (
    QueryError,
    Warehouse,
    decode_query,
    substitute,
)
from metricsync.sandbox.http import Request, Response, Router
from metricsync.sandbox.platform import SEED_OBJECT, SEED_OBJECTS, Clock, SandboxPlatform
from metricsync.sandbox.ratelimit import SlidingWindowLimiter
from metricsync.sandbox.store import Store

# Pre-defined metrics every sandbox knows; seed files add more or replace these by id.
DEFAULT_METRICS = {
    "daily-active-users": (
        "SELECT date(timestamp) AS day, COUNT(DISTINCT userId) AS activeUsers\n"
        "FROM eventsTable\nWHERE name = '@{eventName}'\nGROUP BY day\nORDER BY day"
    ),
    "revenue-by-currency": (
        "SELECT ufProperties.currency AS currency, ROUND(SUM(ufProperties.amount), 2) AS revenue,\n"
        "  COUNT(*) AS purchases\nFROM eventsTable\n"
        "WHERE name = 'purchase' AND ufProperties.amount >= @{minAmount}\n"
        "GROUP BY currency\nORDER BY currency"
    ),
}
METRIC_ID = re.compile(r"[A-Za-z0-9._~-]+")  # URL-safe: usable unencoded in the path


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

    def response(self) -> Response:
        return Response.json(self.status, {"error": self.message}, self.headers)


class ResultCache:
    """Successful results by (environment, path, exact body bytes), aged with the sandbox clock.

    The path is part of the key because two pre-defined metrics can receive identical bodies.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, bytes], tuple[float, Response]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, bytes], now: float, ttl: float) -> Response | None:
        with self._lock:
            entry = self._entries.get(key)
            return entry[1] if entry is not None and now - entry[0] < ttl else None

    def put(self, key: tuple[str, str, bytes], response: Response, now: float, ttl: float) -> None:
        with self._lock:
            expired = [k for k, (stored, _) in self._entries.items() if now - stored >= ttl]
            for old in expired:
                del self._entries[old]
            self._entries[key] = (now, response)


class UserFlux(SandboxPlatform):
    name = "userflux"
    prefixes = ("/metrics/",)
    seed_shape: ClassVar[dict[str, Any]] = {
        "type": ["object", "null"],
        "properties": {
            "predefined_metrics": SEED_OBJECTS,
            "events": {"type": ["object", "null"], "additionalProperties": SEED_OBJECTS},
            "settings": SEED_OBJECT,
        },
    }

    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        super().__init__(store, clock)
        self.settings = UserFluxSettings()
        self._tokens = store.collection("userflux_tokens")
        self._metrics = store.collection("userflux_metrics")
        self._warehouse = Warehouse(store)
        self._cache = ResultCache()
        self._limiter: SlidingWindowLimiter | None = None
        self._router = Router()
        self._router.add("POST", "/metrics/auth/token", self._issue_token)
        self._router.add("POST", "/metrics/query", self._run_sql)
        self._router.add("POST", "/metrics/query/{metric_id}", self._run_metric)

    def owns(self, path: str) -> bool:
        return path == "/metrics" or super().owns(path)

    def handle(self, request: Request) -> Response:
        try:
            response = self._router.dispatch(request)
        except ApiError as error:
            return error.response()
        return response or ApiError(404, f"no route {request.method} {request.path}").response()

    def seed(self, data: dict[str, Any]) -> None:
        """{"predefined_metrics": [{"id", "sql"}], "events": {environment: [event]}, "settings"}"""
        unknown = set(data) - {"predefined_metrics", "events", "settings"}
        if unknown:
            raise ValueError(f"unknown userflux seed section(s): {', '.join(sorted(unknown))}")
        self.configure(data.get("settings") or {})
        for metric in data.get("predefined_metrics") or []:
            self._seed_metric(metric)
        for environment, events in (data.get("events") or {}).items():
            if environment not in ENVIRONMENTS:
                raise ValueError(f"userflux events: unknown environment {environment!r}")
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise ValueError(f"userflux events.{environment} must be a list of objects")
            self._warehouse.add(environment, [seeded_row(event) for event in events])

    def _seed_metric(self, metric: Any) -> None:
        if not isinstance(metric, dict) or set(metric) != {"id", "sql"}:
            raise ValueError("a userflux pre-defined metric is an object with `id` and `sql`")
        if not isinstance(metric["id"], str) or not METRIC_ID.fullmatch(metric["id"]):
            raise ValueError(f"userflux metric id must be URL-safe, got {metric['id']!r}")
        if not isinstance(metric["sql"], str) or not metric["sql"].strip():
            raise ValueError(f"userflux metric {metric['id']} needs non-empty `sql`")
        self._metrics.put(metric["id"], {"sql": metric["sql"]})

    def configure(self, settings: dict[str, Any]) -> None:
        self.settings = self.settings.updated(settings)
        limit = self.settings.rate_limit_requests
        window = self.settings.rate_limit_window_seconds
        self._limiter = SlidingWindowLimiter([(limit, window)], self.clock) if limit else None

    def credentials(self) -> dict[str, str]:
        return {"client_secret": self.settings.client_secret, "environment_api_key": TEST_KEY}

    def describe_settings(self) -> dict[str, Any]:
        return self.settings.describe()

    def error_response(self, status: int, retry_after: int | None) -> Response:
        """Injected faults answer in this API's error shape, `{"error": …}`."""
        injected = super().error_response(status, retry_after)
        return ApiError(status, injected.payload()["message"], injected.headers).response()

    def _issue_token(self, request: Request) -> Response:
        body = _json_object(request, self.settings.bad_request_status)
        secret = _required(body, "clientSecret", str, self.settings.bad_request_status)
        key = _required(body, "environmentApiKey", str, self.settings.bad_request_status)
        api_key = self.settings.api_keys.get(key)
        expected = self.settings.client_secret.encode()
        if api_key is None or not secrets.compare_digest(secret.encode(), expected):
            message = "invalid client secret or environment API key"
            raise ApiError(self.settings.bad_credentials_status, message)
        _check_address(api_key, request)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self._forget_expired_tokens(now)
        self._tokens.put(token, {"environmentApiKey": key, "issuedAt": now})
        payload: dict[str, Any] = {self.settings.token_field: token}
        if self.settings.expires_field:
            payload[self.settings.expires_field] = self.settings.token_ttl_seconds
        return Response.json(200, payload)

    def _forget_expired_tokens(self, now: float) -> None:
        ttl = self.settings.token_ttl_seconds
        for token, record in self._tokens.items():
            if now - record["issuedAt"] >= ttl:
                self._tokens.delete(token)

    def _authenticate(self, request: Request) -> ApiKey:
        scheme, _, token = request.header("authorization").partition(" ")
        record = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if record is None or self.clock() - record["issuedAt"] >= self.settings.token_ttl_seconds:
            raise ApiError(self.settings.bad_token_status, "missing, unknown or expired token")
        api_key = self.settings.api_keys.get(record["environmentApiKey"])
        if api_key is None:
            raise ApiError(self.settings.bad_token_status, "missing, unknown or expired token")
        _check_address(api_key, request)
        wait = self._limiter.hit(token.strip()) if self._limiter else None
        if wait is not None:
            raise ApiError(429, "rate limit exceeded", {"Retry-After": str(wait)})
        return api_key

    def _run_sql(self, request: Request) -> Response:
        def build(body: dict[str, Any]) -> str:
            encoded = _required(body, "encodedQuery", str, self.settings.bad_request_status)
            sql = decode_query(encoded)
            if self.settings.raw_sql_variables == "ignore" or "variables" not in body:
                return sql
            return self._substitute(sql, body)

        return self._query(request, self._authenticate(request), build)

    def _run_metric(self, request: Request, metric_id: str) -> Response:
        api_key = self._authenticate(request)
        stored = self._metrics.get(metric_id)
        sql = stored["sql"] if stored else DEFAULT_METRICS.get(metric_id)
        if sql is None:
            raise ApiError(self.settings.unknown_metric_status, f"unknown metric {metric_id}")
        return self._query(request, api_key, lambda body: self._substitute(sql, body))

    def _substitute(self, sql: str, body: dict[str, Any]) -> str:
        variables = _required(body, "variables", dict, self.settings.bad_request_status)
        return substitute(sql, variables, keep_missing=self.settings.missing_variable == "keep")

    def _query(
        self, request: Request, api_key: ApiKey, build: Callable[[dict[str, Any]], str]
    ) -> Response:
        """Answers from the cache, or runs the SQL that `build` makes from the body."""
        key = (api_key.environment, request.path, request.body)
        now, ttl = self.clock(), self.settings.cache_ttl_seconds
        cached = self._cache.get(key, now, ttl)
        if cached is not None:
            return cached
        body = _json_object(request, self.settings.bad_request_status)
        try:
            rows = self._warehouse.run(
                api_key.environment,
                build(body),
                self.settings.query_time_budget_seconds,
                self.settings.max_result_rows,
            )
        except QueryError as error:
            raise ApiError(self.settings.bad_request_status, str(error)) from error
        response = Response.json(200, {"data": rows})
        self._cache.put(key, response, now, ttl)
        return response


def _check_address(api_key: ApiKey, request: Request) -> None:
    if not api_key.allows(request.client):
        raise ApiError(403, f"Forbidden: {request.client} is not allowed to use this API key")


def _json_object(request: Request, status: int) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError as error:
        raise ApiError(status, "the request body is not valid JSON") from error
    if not isinstance(body, dict):
        raise ApiError(status, "the request body must be a JSON object")
    return body


def _required(body: dict[str, Any], field: str, kind: type, status: int) -> Any:
    value = body.get(field)
    if not isinstance(value, kind):
        article = "an object" if kind is dict else "a string"
        raise ApiError(status, f"`{field}` is required and must be {article}")
    return value
