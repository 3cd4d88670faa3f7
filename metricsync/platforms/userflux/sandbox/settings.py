"""The UserFlux sandbox's choices for what the vendor leaves undocumented, and its API keys.

docs/sandbox/userflux.md explains each setting; `configure` and seed files change them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metricsync.platforms.userflux.sandbox.events import ENVIRONMENTS
from metricsync.sandbox import choices

CLIENT_SECRET = "uf-sandbox-client-secret"
TEST_KEY = "uf-sandbox-test-key"
PRODUCTION_KEY = "uf-sandbox-prod-key"
MIN_CACHE_TTL_SECONDS = 300  # the vendor's UI refuses less than 5 minutes

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ApiKey:
    environment: str  # "Test" or "Production"
    allowed_ips: tuple[Network, ...] | None = None  # None: any caller

    def allows(self, client: str) -> bool:
        if self.allowed_ips is None:
            return True
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed_ips)

    def describe(self) -> dict[str, Any]:
        ips = None if self.allowed_ips is None else [str(n) for n in self.allowed_ips]
        return {"environment": self.environment, "allowed_ips": ips}


def _default_keys() -> dict[str, ApiKey]:
    return {TEST_KEY: ApiKey("Test"), PRODUCTION_KEY: ApiKey("Production")}


@dataclass(frozen=True)
class UserFluxSettings:
    client_secret: str = CLIENT_SECRET
    api_keys: Mapping[str, ApiKey] = field(default_factory=_default_keys)
    token_field: str = "token"
    expires_field: str | None = "expiresIn"
    token_ttl_seconds: float = 900
    bad_credentials_status: int = 401
    bad_token_status: int = 401
    bad_request_status: int = 400
    unknown_metric_status: int = 404
    missing_variable: str = "reject"
    raw_sql_variables: str = "ignore"
    cache_ttl_seconds: float = MIN_CACHE_TTL_SECONDS
    rate_limit_requests: int | None = None
    rate_limit_window_seconds: float = 60
    query_time_budget_seconds: float = 2.0
    max_result_rows: int = 10_000

    def updated(self, changes: Mapping[str, Any]) -> UserFluxSettings:
        """API keys are merged by key, so a test can add one without restating the defaults."""
        new = choices.updated(self, changes, _CHECKS, "userflux")
        if "api_keys" not in changes:
            return new
        return dataclasses.replace(new, api_keys={**self.api_keys, **new.api_keys})

    def describe(self) -> dict[str, Any]:
        described = choices.describe(self)
        described["api_keys"] = {key: api.describe() for key, api in self.api_keys.items()}
        return described


def _api_keys(name: str, value: Any) -> dict[str, ApiKey]:
    """{key: {"environment": "Test" | "Production", "allowed_ips": [address or CIDR] | null}}"""
    if not isinstance(value, dict):
        raise ValueError(f"{name} must map each API key to its environment and allowed_ips")
    return {choices.text(name, key): _api_key(f"{name}.{key}", spec) for key, spec in value.items()}


def _api_key(name: str, spec: Any) -> ApiKey:
    if not isinstance(spec, dict) or set(spec) - {"environment", "allowed_ips"}:
        raise ValueError(f"{name} must be an object with environment and allowed_ips")
    environment = choices.one_of(*ENVIRONMENTS)(f"{name}.environment", spec.get("environment"))
    ips = spec.get("allowed_ips")
    if ips is None:
        return ApiKey(environment)
    if not isinstance(ips, list):
        raise ValueError(f"{name}.allowed_ips must be a list of addresses or CIDR blocks")
    try:
        return ApiKey(environment, tuple(ipaddress.ip_network(ip, strict=False) for ip in ips))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}.allowed_ips: {error}") from error


_CHECKS: dict[str, choices.Check] = {
    "client_secret": choices.text,
    "api_keys": _api_keys,
    "token_field": choices.text,
    "expires_field": choices.optional(choices.text),
    "token_ttl_seconds": choices.number(1),
    "bad_credentials_status": choices.status,
    "bad_token_status": choices.status,
    "bad_request_status": choices.status,
    "unknown_metric_status": choices.status,
    "missing_variable": choices.one_of("reject", "keep"),
    "raw_sql_variables": choices.one_of("ignore", "substitute"),
    "cache_ttl_seconds": choices.number(MIN_CACHE_TTL_SECONDS),
    "rate_limit_requests": choices.optional(choices.integer(1)),
    "rate_limit_window_seconds": choices.number(1),
    "query_time_budget_seconds": choices.number(0.01),
    "max_result_rows": choices.integer(1),
}
