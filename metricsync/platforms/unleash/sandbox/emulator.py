"""Unleash emulator: `POST /api/client/metrics` and the admin endpoints that read usage back.

Faithful to Unleash as docs/sandbox/unleash.md describes it: the stages run in Unleash's order
and the first failure answers. Undocumented behaviours are settings (settings.py), listed
there too.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any, ClassVar

from metricsync.platforms.unleash.sandbox.payload import HandlerFailure, accept, schema_problems
from metricsync.platforms.unleash.sandbox.settings import BACKEND_TOKEN, Token, UnleashSettings
from metricsync.platforms.unleash.sandbox.usage import UsageLedger
from metricsync.sandbox.http import Request, Response, Router
from metricsync.sandbox.platform import SEED_OBJECT, Clock, SandboxPlatform
from metricsync.sandbox.ratelimit import SlidingWindowLimiter
from metricsync.sandbox.store import Store

AUTH_REQUIRED = (
    "This endpoint requires an API token. Please add an authorization header to your request "
    "with a valid token"
)
WRONG_TOKEN_TYPE = "invalid token: expected a different token type for this endpoint"
BAD_DATA = (
    "Request validation failed: your request body or params contain invalid data. "
    "Refer to the `details` list for more information."
)
TOO_MANY_REQUESTS = "Too many requests, please try again later."
DEFAULT_FLAGS = ("new-checkout", "dark-mode", "search-v2")  # all in project "default"
_BEARER = re.compile(r"^bearer\s+", re.I)


class Refusal(Exception):
    """Ends a request early with `response`, like an Express middleware that answers."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _message(status: int, text: str) -> Refusal:
    return Refusal(Response.json(status, {"message": text}))


class Unleash(SandboxPlatform):
    name = "unleash"
    prefixes = ("/api/client/", "/api/admin/")
    seed_shape: ClassVar[dict[str, Any]] = {
        "type": ["object", "null"],
        "properties": {
            "flags": {"type": ["array", "null"], "items": {"type": ["string", "object"]}},
            "settings": SEED_OBJECT,
        },
    }

    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        super().__init__(store, clock)
        self.settings = UnleashSettings()
        self._ledger = UsageLedger(store)
        self._flags = store.collection("unleash_flags")
        self._invalid_secrets: dict[str, float] = {}  # secret → when it was last found unknown
        self._lock = threading.Lock()
        self._limiter = self._make_limiter()
        self._router = Router()
        add = self._router.add
        add("POST", "/api/client/metrics", self._receive_metrics)
        add("GET", "/api/admin/client-metrics/features/{name}", self._feature_usage)
        add("GET", "/api/admin/client-metrics/features/{name}/raw", self._feature_raw)
        add("GET", "/api/admin/metrics/unknown-flags", self._unknown_flags)
        add("GET", "/api/admin/metrics/applications", self._applications)
        add("GET", "/api/admin/metrics/applications/{app}", self._application)
        add("GET", "/api/admin/projects/{project}/features/{name}", self._feature)

    def handle(self, request: Request) -> Response:
        try:
            response = self._router.dispatch(request)
        except Refusal as refusal:
            return refusal.response
        if response is None:
            return _message(404, f"no sandbox route for {request.method} {request.path}").response
        return response

    def seed(self, data: dict[str, Any]) -> None:
        """{"flags": [name | {"name", "project"}], "settings": {...}}"""
        unknown = set(data) - {"flags", "settings"}
        if unknown:
            raise ValueError(f"unknown unleash seed section(s): {', '.join(sorted(unknown))}")
        self.configure(data.get("settings") or {})
        for flag in data.get("flags") or []:
            spec = {"name": flag} if isinstance(flag, str) else flag
            if not isinstance(spec, dict) or set(spec) - {"name", "project"}:
                raise ValueError(f"an unleash flag is a name or {{name, project}}, got {flag!r}")
            name, project = spec.get("name"), spec.get("project", "default")
            if not isinstance(name, str) or not name or not isinstance(project, str):
                raise ValueError(f"an unleash flag needs a non-empty name, got {flag!r}")
            self._flags.put(name, {"name": name, "project": project})

    def configure(self, settings: dict[str, Any]) -> None:
        self.settings = self.settings.updated(settings)
        self._limiter = self._make_limiter()

    def _make_limiter(self) -> SlidingWindowLimiter | None:
        limit = self.settings.rate_limit_per_minute
        return SlidingWindowLimiter([(limit, 60)], self.clock) if limit else None

    def credentials(self) -> dict[str, str]:
        return {"api_token": BACKEND_TOKEN}

    def describe_settings(self) -> dict[str, Any]:
        return self.settings.describe()

    def error_response(self, status: int, retry_after: int | None) -> Response:
        """An injected 429 looks like the rate limiter's; other faults keep `{"message"}`."""
        injected = super().error_response(status, retry_after)
        if status != 429:
            return injected
        headers = {k: v for k, v in injected.headers.items() if k != "Content-Type"}
        return Response.text(429, TOO_MANY_REQUESTS, headers)

    def _projects(self) -> dict[str, str]:
        """Every known flag name → its project: the defaults plus seeded flags."""
        projects = dict.fromkeys(DEFAULT_FLAGS, "default")
        projects.update({doc["name"]: doc["project"] for doc in self._flags.values()})
        return projects

    def _receive_metrics(self, request: Request) -> Response:
        body = self._parse_body(request)
        environment = self._client_environment(request)
        if not _is_json(request):
            raise Refusal(_content_type_error(request.header("content-type")))
        problems = schema_problems(body, bucket_required=self.settings.api_version == "v7")
        if problems:
            error = {"id": str(uuid.uuid4()), "name": "BadDataError", "message": BAD_DATA}
            raise Refusal(Response.json(400, {**error, "details": problems}))
        self._check_rate(request)
        if self.settings.metrics_disabled:
            return Response(204)
        return self._record(request, body, environment)

    def _record(self, request: Request, body: dict[str, Any], environment: str) -> Response:
        """The handler stage: any failure in it is an empty 400, as Unleash's catch-all gives."""
        now = self.clock()
        try:
            payload = accept(body)
            self._ledger.register_instance(payload, request.client, environment, now)
            if self.settings.fail_handler:
                raise HandlerFailure("injected by the fail_handler setting")
            known = set(self._projects())
            delay = self.settings.flush_delay_seconds
            self._ledger.record(payload, environment, known, now, delay)
        except HandlerFailure:
            return Response(400)
        return Response(202)  # Unleash strips every header set so far, RateLimit-* included

    def _parse_body(self, request: Request) -> Any:
        """body-parser's stage: it reads only JSON content types; others pass through unread."""
        if not _is_json(request):
            return None
        if len(request.body) > self.settings.max_body_bytes:
            raise _message(413, "request entity too large")
        try:
            text = request.body.decode("utf-8")
            start = text.lstrip()[:1]
            if start and start not in "{[":  # body-parser's strict mode: objects and arrays
                raise ValueError(f"Unexpected token {start} in JSON at position 0")
            return json.loads(text, parse_constant=_no_constant) if start else {}
        except json.JSONDecodeError as error:
            raise _message(400, f"{error.msg} in JSON at position {error.pos}") from error
        except ValueError as error:  # also UnicodeDecodeError
            raise _message(400, str(error)) from error

    def _client_environment(self, request: Request) -> str:
        """The environment of the caller's backend token; "default" when auth is off."""
        if not self.settings.auth:
            return "default"
        secret = _secret(request)
        if not secret:
            raise _message(401, AUTH_REQUIRED)
        if secret.startswith(("user:", "*:*")):
            raise _message(403, WRONG_TOKEN_TYPE)
        token = self._token(secret)
        if token is None:
            raise _message(401, AUTH_REQUIRED)
        if token.type != "backend" or token.environment is None:
            raise _message(403, WRONG_TOKEN_TYPE)
        return token.environment

    def _require_admin(self, request: Request) -> None:
        if not self.settings.auth:
            return
        secret = _secret(request)
        token = self._token(secret) if secret else None
        if token is None:
            raise _message(401, AUTH_REQUIRED)
        if token.type not in ("admin", "personal"):
            raise _message(403, WRONG_TOKEN_TYPE)

    def _token(self, secret: str) -> Token | None:
        """Unleash remembers an unknown secret as invalid for a while, even once it is created."""
        now = self.clock()
        with self._lock:
            missed = self._invalid_secrets.get(secret)
            if missed is not None and now - missed < self.settings.invalid_token_memory_seconds:
                return None
            token = self.settings.tokens.get(secret)
            if token is None:
                self._invalid_secrets[secret] = now
            return token

    def _check_rate(self, request: Request) -> None:
        wait = self._limiter.hit(request.client) if self._limiter else None
        if wait is None:
            return
        limit = str(self.settings.rate_limit_per_minute)
        headers = {
            "RateLimit-Policy": f"{limit};w=60",
            "RateLimit-Limit": limit,
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(wait),
            "Retry-After": str(wait),
        }
        raise Refusal(Response.text(429, TOO_MANY_REQUESTS, headers))

    def _feature_usage(self, request: Request, name: str) -> Response:
        self._require_admin(request)
        return Response.json(200, self._ledger.feature_summary(name, self.clock()))

    def _feature_raw(self, request: Request, name: str) -> Response:
        self._require_admin(request)
        hours_back = _hours_back(request.param("hoursBack"))
        return Response.json(200, self._ledger.raw(name, hours_back, self.clock()))

    def _unknown_flags(self, request: Request) -> Response:
        self._require_admin(request)
        return Response.json(200, self._ledger.unknown_flags(self.clock()))

    def _applications(self, request: Request) -> Response:
        self._require_admin(request)
        return Response.json(200, self._ledger.applications())

    def _application(self, request: Request, app: str) -> Response:
        self._require_admin(request)
        found = self._ledger.application(app)
        if found is None:
            raise _message(404, f"Could not find application {app}")
        return Response.json(200, found)

    def _feature(self, request: Request, project: str, name: str) -> Response:
        """A short feature view: only the per-environment `lastSeenAt` usage reporting sets."""
        self._require_admin(request)
        if self._projects().get(name) != project:
            raise _message(404, f"Could not find feature flag {name} in project {project}")
        seen = self._ledger.last_seen_at(name)
        token_envs = {t.environment for t in self.settings.tokens.values() if t.environment}
        environments = [
            {"name": env, "lastSeenAt": seen.get(env)} for env in sorted(token_envs | set(seen))
        ]
        last = max(seen.values(), default=None)
        body = {"name": name, "project": project, "lastSeenAt": last, "environments": environments}
        return Response.json(200, body)


def _is_json(request: Request) -> bool:
    media_type = request.header("content-type").split(";")[0].strip().lower()
    return media_type == "application/json"


def _secret(request: Request) -> str:
    return _BEARER.sub("", request.header("authorization").strip()).strip()


def _no_constant(name: str) -> Any:
    raise ValueError(f"Unexpected token {name[0]} in JSON")  # JSON.parse knows no NaN/Infinity


def _hours_back(value: str | None) -> int:
    """1 to 48; anything else (missing, 0, 49, not a number) falls back to 24."""
    try:
        hours = int(value or "")
    except ValueError:
        return 24
    return hours if 1 <= hours <= 48 else 24


def _content_type_error(provided: str) -> Response:
    shown = provided or "you didn't provide one"
    message = (
        f"We do not accept the content-type you provided ({shown}). "
        "Try using one of the content-types we do accept instead (application/json) and make "
        "sure the body is in the corresponding format."
    )
    error = {"id": str(uuid.uuid4()), "name": "ContentTypeError", "message": message}
    return Response.json(415, {**error, "details": [{"message": message}]})
