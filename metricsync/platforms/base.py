"""What a platform module declares: its kinds, their schemas and checks, and its config keys."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from metricsync.problems import Severity

if TYPE_CHECKING:
    import httpx

    from metricsync.config import Target
    from metricsync.definitions import Definition
    from metricsync.live import LiveObject
    from metricsync.provider import Provider
    from metricsync.sandbox.platform import SandboxPlatform

T = TypeVar("T")


@dataclass(frozen=True)
class Lazy(Generic[T]):
    """`module`'s attribute `name`, imported on first `load()`: only for what would slow the
    start-up of `validate` and `--help` (providers pull httpx, emulators the sandbox). It is no
    way round an import cycle: tests/test_imports.py counts `module` as imported here."""

    module: str
    name: str

    def load(self) -> T:
        value: T = getattr(importlib.import_module(self.module), self.name)
        return value


ProviderFactory = Callable[["Target", "httpx.BaseTransport | None"], "Provider"]


@dataclass(frozen=True)
class Finding:
    """A check's verdict on one field of one definition; the validator turns it into a Problem."""

    definition: Definition
    path: tuple[str | int, ...]
    message: str
    severity: Severity = "error"
    at_key: bool = False


Check = Callable[[Sequence["Definition"]], Iterable[Finding]]


@dataclass(frozen=True)
class Kind:
    name: str  # as written in YAML: "statsig/metric"
    schema: str  # resource path under metricsync/schemas
    checks: Check  # cross-document and platform checks over one folder's definitions of this kind
    casefold_names: bool = False  # names unique case-insensitively, as the server checks them
    casefold_tags: bool = False  # the server trims and lower-cases tags (rules compare so too)


@dataclass(frozen=True)
class Platform:
    name: str  # the `provider` value in metricsync.yaml
    kinds: tuple[Kind, ...]
    secrets: tuple[str, ...]  # config keys that hold env:NAME references
    endpoint_key: str  # config key of the platform's URL
    default_endpoint: str | None
    sandbox_path: str = ""  # appended to the sandbox URL when --sandbox points a target at it
    settings_defaults: tuple[tuple[str, Any], ...] = ()
    provider: ProviderFactory | None = None  # None: never planned (query runners, usage sinks)
    # The inverse of a provider's from_payload for `import`: a live object as definition spec.
    to_spec: Callable[[LiveObject], dict[str, Any]] | None = None
    # Objects the definitions reference that metricsync does not manage (PostHog actions), as
    # this platform's sandbox seed section: --sandbox provides them, so that a project copied
    # from a real account runs there as it is (docs/sandbox/README.md). None: the platform checks
    # no references.
    sandbox_references: Callable[[Target, Sequence[Definition]], dict[str, Any]] | None = None
    # The platform's API emulator in the sandbox (metricsync/sandbox/app.py serves it). None:
    # --sandbox and `sandbox serve` cannot stand in for the platform.
    emulator: Lazy[type[SandboxPlatform]] | None = None
    # The variables the example metricsync.yaml (docs/config.md) reads: {config key: ENV_NAME}.
    # `sandbox serve` prints an `export` line for each, with the credential the emulator accepts.
    example_variables: Mapping[str, str] = field(default_factory=dict)


def checks(*each: Callable[[Definition], Iterable[Finding]]) -> Check:
    """A Check that applies per-definition checks to every definition of a folder."""

    def run(definitions: Sequence[Definition]) -> Iterable[Finding]:
        for definition in definitions:
            for check in each:
                yield from check(definition)

    return run
