"""A throwaway metrics repository wired to an in-memory sandbox, driven through the library
(in-process transport) or through the CLI (the same sandbox on a loopback port)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from metricsync.apply import ApplyReport, apply_plan
from metricsync.cli.main import run
from metricsync.plan import Plan
from metricsync.planner import Overrides, build_plan, open_session
from metricsync.platforms.statsig.mapping import CREATE_ONLY
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer
from metricsync.sandbox.transport import SandboxTransport
from metricsync.validation import validate_project
from metricsync.workspace import sandbox_references

REPO = Path(__file__).resolve().parents[2]
STATSIG_KEY = "console-sandbox-key"
POSTHOG_KEY = "phx_sandbox_personal_key"


@dataclass
class Project:
    root: Path
    app: SandboxApp
    url: str
    outcomes: list[Any] = field(default_factory=list)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def remove(self, relative: str) -> None:
        (self.root / relative).unlink()

    def copy_examples(self, platform: str) -> None:
        source, destination = REPO / "definitions" / platform, self.root / "definitions" / platform
        shutil.copytree(source, destination, dirs_exist_ok=True)

    def provide_references(self) -> None:
        """What --sandbox does before serving: the objects the definitions reference but
        metricsync does not manage (PostHog actions) exist in the sandbox."""
        validation = validate_project(self.root / "metricsync.yaml")
        assert validation.config is not None
        targets = list(validation.config.targets.values())
        for platform, section in sandbox_references(targets, validation):
            self.app.platforms[platform].provide(section)

    def transport(self, _target: object) -> httpx.BaseTransport:
        return SandboxTransport(self.app)

    def plan(self, **overrides: Any) -> Plan:
        with open_session(self.root / "metricsync.yaml", transport_for=self.transport) as s:
            return build_plan(s.workspace, s.providers, Overrides(**overrides))

    def apply(self, **overrides: Any) -> ApplyReport:
        with open_session(self.root / "metricsync.yaml", transport_for=self.transport) as s:
            plan = build_plan(s.workspace, s.providers, Overrides(**overrides))
            return apply_plan(plan, s.providers, self.outcomes.append)

    def sent(self, method: str, path: str) -> int:
        """How many requests the sandbox answered for this method and raw path."""
        return sum(1 for r in self.app.requests if r.method == method and r.path == path)

    def cli(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = run([*args, "--config", str(self.root / "metricsync.yaml")])
        captured = capsys.readouterr()
        return code, captured.out, captured.err


def config_text(url: str, statsig_extra: Sequence[str] = (), **policy: Any) -> str:
    lines = [
        "version: 1",
        "targets:",
        "  statsig-test:",
        "    provider: statsig",
        f"    base_url: {url}",
        "    api_key: env:TEST_STATSIG_KEY",
        "    definitions: [definitions/statsig]",
        *(f"    {line}" for line in statsig_extra),
        "  posthog-test:",
        "    provider: posthog",
        f"    host: {url}",
        '    project_id: "12345"',
        "    api_key: env:TEST_POSTHOG_KEY",
        "    definitions: [definitions/posthog]",
    ]
    if policy:
        lines.append("policy:")
        lines += [
            f"  {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in policy.items()
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    app = SandboxApp()
    monkeypatch.setenv("TEST_STATSIG_KEY", STATSIG_KEY)
    monkeypatch.setenv("TEST_POSTHOG_KEY", POSTHOG_KEY)
    monkeypatch.chdir(tmp_path)
    with SandboxServer(app) as server:
        root = tmp_path
        (root / "definitions" / "statsig").mkdir(parents=True)
        (root / "definitions" / "posthog").mkdir(parents=True)
        (root / "metricsync.yaml").write_text(config_text(server.url), encoding="utf-8")
        yield Project(root, app, server.url)


STATSIG_UPDATES = ("apply", "ignore")  # the sandbox's two answers to create-only update fields


def statsig_updates(project: Project, behaviour: str) -> None:
    """Makes the sandbox apply or ignore the create fields Statsig's update contract lacks. For
    `ignore`, the target says so in metricsync.yaml, as a CI project must (no .metricsync/)."""
    project.app.configure({"statsig": {"update_definition_fields": behaviour}})
    if behaviour == "ignore":
        fields = ", ".join(CREATE_ONLY)
        extra = [f"create_only_fields: [{fields}]"]
        (project.root / "metricsync.yaml").write_text(config_text(project.url, extra))
