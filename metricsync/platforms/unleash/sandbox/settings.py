"""The Unleash sandbox's API tokens and its switches for server options and undocumented choices.

docs/sandbox/unleash.md explains each setting; `configure` and seed files change them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metricsync.sandbox import choices

# Fixed sandbox secrets in Unleash's v1 format, so examples and configs can name them.
BACKEND_TOKEN = "default:development.17930256c3203ce63cb09cee5dfc0c7fcc2a59ba7d0953d14c4c1989"
FRONTEND_TOKEN = "default:development.7fd0f8c2551e832959eb3787653980c741a9b619edd7fcebca348257"
ADMIN_TOKEN = "*:*.87b8ef11d104c7d685696b5199bc55385045631eb69f2eeccc481835"
PERSONAL_TOKEN = "user:82989db2519c8f5100b4b2f71fed2d942bcd66ddb8f0d5b57c61f884"
TOKEN_TYPES = ("backend", "frontend", "admin", "personal")


@dataclass(frozen=True)
class Token:
    type: str  # one of TOKEN_TYPES
    environment: str | None = None  # backend and frontend tokens name one

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "environment": self.environment}


def _default_tokens() -> dict[str, Token]:
    return {
        BACKEND_TOKEN: Token("backend", "development"),
        FRONTEND_TOKEN: Token("frontend", "development"),
        ADMIN_TOKEN: Token("admin"),
        PERSONAL_TOKEN: Token("personal"),
    }


@dataclass(frozen=True)
class UnleashSettings:
    auth: bool = True
    tokens: Mapping[str, Token] = field(default_factory=_default_tokens)
    invalid_token_memory_seconds: float = 300
    api_version: str = "v8"
    max_body_bytes: int = 100 * 1024  # body-parser's "100kb"
    rate_limit_per_minute: int | None = 6000
    flush_delay_seconds: float = 5
    metrics_disabled: bool = False
    fail_handler: bool = False

    def updated(self, changes: Mapping[str, Any]) -> UnleashSettings:
        """Tokens are merged by secret, so a test can add one without restating the defaults."""
        new = choices.updated(self, changes, _CHECKS, "unleash")
        if "tokens" not in changes:
            return new
        return dataclasses.replace(new, tokens={**self.tokens, **new.tokens})

    def describe(self) -> dict[str, Any]:
        described = choices.describe(self)
        described["tokens"] = {secret: t.describe() for secret, t in self.tokens.items()}
        return described


def _tokens(name: str, value: Any) -> dict[str, Token]:
    """{secret: {"type": backend | frontend | admin | personal, "environment": name}}"""
    if not isinstance(value, dict):
        raise ValueError(f"{name} must map each secret to its type and environment")
    return {choices.text(name, secret): _token(name, spec) for secret, spec in value.items()}


def _token(name: str, spec: Any) -> Token:
    if not isinstance(spec, dict) or set(spec) - {"type", "environment"}:
        raise ValueError(f"{name}: each token is an object with type and environment")
    kind = choices.one_of(*TOKEN_TYPES)(f"{name}.type", spec.get("type"))
    environment = choices.optional(choices.text)(f"{name}.environment", spec.get("environment"))
    if kind in ("backend", "frontend") and environment in (None, "*"):
        raise ValueError(f"{name}: a {kind} token names one environment (not '*')")
    return Token(kind, environment)


_CHECKS: dict[str, choices.Check] = {
    "auth": choices.boolean,
    "tokens": _tokens,
    "invalid_token_memory_seconds": choices.number(0),
    "api_version": choices.one_of("v8", "v7"),
    "max_body_bytes": choices.integer(1),
    "rate_limit_per_minute": choices.optional(choices.integer(1)),
    "flush_delay_seconds": choices.number(0),
    "metrics_disabled": choices.boolean,
    "fail_handler": choices.boolean,
}
