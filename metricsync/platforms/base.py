"""What a platform's package declares on its record: its kinds, their schemas and checks, its
config keys and secret shapes, its commands, and how plan, import and verify reach it."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from metricsync.problems import Severity

# Types only: every record is built when `metricsync --help` starts, which must not load httpx
# (providers) or PyYAML (config imports governance, which reads YAML).
if TYPE_CHECKING:
    import click
    import httpx

    from metricsync.config import Target
    from metricsync.definitions import Definition
    from metricsync.live import LiveObject
    from metricsync.provider import Provider
    from metricsync.sandbox.platform import SandboxPlatform

T = TypeVar("T")
ProviderFactory = Callable[["Target", "httpx.BaseTransport | None"], "Provider"]


@dataclass(frozen=True)
class Lazy(Generic[T]):
    """`module`'s attribute `name`, imported on first `load()`: only for what would slow the
    start-up of `validate` and `--help` (providers pull httpx, emulators the sandbox). It is no
    way round an import cycle: tests/test_imports.py counts `module` as imported here."""

    module: str
    name: str

    def load(self) -> T:
        return cast(T, getattr(importlib.import_module(self.module), self.name))


class Verifier(Protocol):
    """What `metricsync verify` runs each definition of one target through, changing nothing
    (UserFlux: the query runs and its `expect` is checked). Built before the first request."""

    @property
    def check(self) -> str:
        """The check's name in the report ("query")."""

    def verdict(self, definition: Definition) -> tuple[bool, str]:
        """Passed or not, and what passed ("12 rows") or why not; MetricsyncError when the
        platform refused."""

    def close(self) -> None: ...


VerifierFactory = Callable[["Target", "httpx.BaseTransport | None"], Verifier]


@dataclass(frozen=True)
class NextSteps:
    """What `metricsync init` suggests running for a platform: rehearsals (offline or against the
    sandbox) first, then the commands that reach it. Each step is (command, what it does)."""

    rehearse: tuple[tuple[str, str], ...] = ()
    live: tuple[tuple[str, str], ...] = ()


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
    schema: str  # as users see it, under schemas/; the file ships in the platform's package
    checks: Check  # cross-document and platform checks over one folder's definitions of this kind
    casefold_names: bool = False  # names unique case-insensitively, as the server checks them
    casefold_tags: bool = False  # the server trims and lower-cases tags (rules, owners compare so)


@dataclass(frozen=True)
class Platform:
    name: str  # the `provider` value in metricsync.yaml
    kinds: tuple[Kind, ...]
    secrets: tuple[str, ...]  # config keys that hold env:NAME references
    endpoint_key: str  # config key of the platform's URL
    default_endpoint: str | None
    sandbox_path: str = ""  # appended to the sandbox URL when --sandbox points a target at it
    settings_defaults: tuple[tuple[str, Any], ...] = ()
    # Values that look like this platform's secrets, written into another config key: refused,
    # each with what it looks like ("this looks like a Statsig key").
    secret_shapes: tuple[tuple[re.Pattern[str], str], ...] = ()
    # The Provider class plan, apply and import use. None: never planned (query runners, usage
    # sinks).
    provider: Lazy[ProviderFactory] | None = None
    # The inverse of the mapping's from_payload for `import`: a live object as definition spec.
    # None: nothing to import.
    to_spec: Lazy[Callable[[LiveObject], dict[str, Any]]] | None = None
    # Objects the definitions reference that metricsync does not manage (PostHog actions), as
    # this platform's sandbox seed section: --sandbox provides them, so that a project copied
    # from a real account runs there as it is (docs/sandbox/README.md). None: the platform checks
    # no references.
    sandbox_references: Callable[[Target, Sequence[Definition]], dict[str, Any]] | None = None
    # `metricsync verify`: each definition runs through the verifier (None: none does), and a
    # dry-running provider is sent the plan's creates and updates, which it validates unstored.
    verifier: Lazy[VerifierFactory] | None = None
    dry_runs: bool = False
    # The platform's API emulator in the sandbox (metricsync/sandbox/app.py serves it). None:
    # --sandbox and `sandbox serve` cannot stand in for the platform.
    emulator: Lazy[type[SandboxPlatform]] | None = None
    # The variables the example metricsync.yaml (docs/config.md) reads: {config key: ENV_NAME}.
    # `sandbox serve` prints an `export` line for each, with the credential the emulator accepts.
    example_variables: Mapping[str, str] = field(default_factory=dict)
    commands: tuple[click.Command, ...] = ()  # the platform's own commands (userflux: query)
    next_steps: NextSteps = NextSteps()  # init's suggestions besides plan's (for planned ones)

    @property
    def planned(self) -> bool:
        """Whether plan, apply and import work on this platform."""
        return self.provider is not None

    @property
    def verified(self) -> bool:
        """Whether `metricsync verify` checks this platform's targets on the platform: each
        definition runs through its verifier, or the plan's changes are dry-run."""
        return self.verifier is not None or self.dry_runs


def checks(*each: Callable[[Definition], Iterable[Finding]]) -> Check:
    """A Check that applies per-definition checks to every definition of a folder."""

    def run(definitions: Sequence[Definition]) -> Iterable[Finding]:
        for definition in definitions:
            for check in each:
                yield from check(definition)

    return run
