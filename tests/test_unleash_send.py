"""`metricsync unleash validate|send` against the sandbox: a payload is counted exactly once,
every answer of POST /api/client/metrics gets a clear message, and nothing is resent blindly."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from metricsync.cli.main import run
from metricsync.lock import project_lock
from metricsync.platforms.unleash.sandbox.settings import ADMIN_TOKEN, BACKEND_TOKEN, FRONTEND_TOKEN
from metricsync.sandbox.app import Reply, SandboxApp
from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.server import SandboxServer

NOW = datetime(2026, 3, 1, 11, 30, tzinfo=UTC).timestamp()  # within the payload's hour
USAGE = """\
# yaml-language-server: $schema=../../schemas/unleash/usage.schema.json
kind: unleash/usage
name: checkout rollout
spec:
  appName: metricsync
  instanceId: ci-run-1842
  bucket:
    start: 2026-03-01T10:00:00Z
    stop: 2026-03-01T11:00:00Z
    toggles:
      new-checkout: {yes: 25, no: 42, variants: {blue: 6, green: 19}}
      dark-mode: {yes: 0, no: 0}
"""
PAYLOAD = {
    "appName": "metricsync-raw",
    "bucket": {
        "start": "2026-03-01T10:00:00Z",
        "stop": "2026-03-01T11:00:00Z",
        "toggles": {"new-checkout": {"yes": 3, "no": 4}},
    },
}
SOURCE = "unleash: 'checkout rollout' (definitions/unleash/usage.yaml:2): "


@dataclass
class Project:
    root: Path
    app: SandboxApp
    url: str

    def cli(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = run([*args, "--config", str(self.root / "metricsync.yaml")])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def usage(self, app_name: str = "metricsync") -> dict[str, int]:
        """The stored counts of new-checkout, read back through the admin endpoint."""
        path = "/api/admin/client-metrics/features/new-checkout/raw?hoursBack=2"
        response = httpx.get(self.url + path, headers={"Authorization": ADMIN_TOKEN})
        rows = [r for r in response.raise_for_status().json()["data"] if r["appName"] == app_name]
        return {"yes": sum(r["yes"] for r in rows), "no": sum(r["no"] for r in rows)}

    def posts(self) -> int:
        return sum(1 for r in self.app.requests if r.path == "/api/client/metrics")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    app = SandboxApp(clock=lambda: NOW)
    app.configure({"unleash": {"flush_delay_seconds": 0}})
    monkeypatch.setenv("TEST_UNLEASH_TOKEN", BACKEND_TOKEN)
    monkeypatch.chdir(tmp_path)
    with SandboxServer(app) as server:
        config = f"""\
            version: 1
            targets:
              unleash:
                provider: unleash
                url: {server.url}/api
                api_token: env:TEST_UNLEASH_TOKEN
                definitions: [definitions/unleash]
        """
        (tmp_path / "metricsync.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
        (tmp_path / "definitions" / "unleash").mkdir(parents=True)
        (tmp_path / "definitions" / "unleash" / "usage.yaml").write_text(USAGE)
        yield Project(tmp_path, app, server.url)


def test_a_payload_is_counted_exactly_once_across_two_sends(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = project.cli("unleash", "send", capsys=capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        SOURCE + "accepted (HTTP 202): queued; Unleash adds the counts within ~5 s "
        "(left out toggle(s) with no counts: dark-mode)"
    )
    code, out, _ = project.cli("unleash", "send", capsys=capsys)
    assert code == 5
    assert out.splitlines()[0].startswith(SOURCE + "not sent: already sent on ")
    assert out.splitlines()[0].endswith(
        " and accepted; sending it again would double its counts (--force sends it anyway)"
    )
    assert (
        out.splitlines()[1] == "Unleash: 0 accepted, 0 not counted, 0 unknown, 1 refused, 0 empty."
    )
    assert project.posts() == 1
    assert project.usage() == {"yes": 25, "no": 42}


def test_force_sends_a_payload_again(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.cli("unleash", "send", capsys=capsys)
    assert project.cli("unleash", "send", "--force", capsys=capsys)[0] == 0
    assert project.usage() == {"yes": 50, "no": 84}


def test_a_raw_json_payload_is_recognised_by_content(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = project.root / "first.json", project.root / "second.json"
    first.write_text(json.dumps(PAYLOAD))
    second.write_text(json.dumps(PAYLOAD, indent=4, sort_keys=True))  # same payload, new layout
    code, out, _ = project.cli("unleash", "send", str(first), capsys=capsys)
    assert (code, out.splitlines()[0].split(": accepted")[0]) == (
        0,
        "unleash: 'first.json' (first.json:1)",
    )
    code, out, _ = project.cli("unleash", "send", str(second), capsys=capsys)
    assert code == 5
    assert "not sent: already sent on" in out
    assert project.usage("metricsync-raw") == {"yes": 3, "no": 4}


def test_the_record_lives_in_the_git_ignored_state_folder(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.cli("unleash", "send", capsys=capsys)
    lines = (project.root / ".metricsync" / "unleash-sent.jsonl").read_text().splitlines()
    states = [json.loads(line)["state"] for line in lines]
    assert states == ["sending", "accepted"]
    assert json.loads(lines[1])["digest"].startswith("sha256:")
    assert BACKEND_TOKEN not in "".join(lines)


Setup = Callable[[Project, pytest.MonkeyPatch], None]


def configure(**settings: object) -> Setup:
    return lambda project, _: project.app.configure({"unleash": settings})


def fault(rule: str) -> Setup:
    return lambda project, _: project.app.faults.add(rule)


def token(secret: str) -> Setup:
    return lambda _, monkeypatch: monkeypatch.setenv("TEST_UNLEASH_TOKEN", secret)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            configure(metrics_disabled=True),
            "not counted (HTTP 204): metrics are disabled on this server",
        ),
        (
            configure(fail_handler=True),
            "Unleash's handler refused the payload (HTTP 400 with an empty body; the application "
            "instance may still have been registered); nothing was counted; fix it before resending",
        ),
        (
            fault("POST /api/client/metrics=400x1"),
            "Unleash could not read the body as JSON (HTTP 400): Bad Request; nothing was "
            "counted; fix it before resending",
        ),
        (
            token("default:development.0000000000000000000000000000000000000000000000000000000"),
            "Unleash refused the token (HTTP 401): api_token is missing, unknown or expired "
            "(Unleash keeps refusing an unknown token for 5 minutes, even once it exists); "
            "nothing was counted; fix it before resending",
        ),
        (
            token(FRONTEND_TOKEN),
            "Unleash refused the token's type (HTTP 403): client metrics need a backend token, not "
            "a frontend, admin or personal access token; nothing was counted; fix it before resending",
        ),
        (
            configure(max_body_bytes=100),
            "the payload is too large for Unleash (HTTP 413: request entity too large; the default "
            "limit is 100 kB): split its toggles over several payloads; nothing was counted; fix it "
            "before resending",
        ),
        (
            fault("POST /api/client/metrics=415x1"),
            "Unleash refused the content type (HTTP 415): Unsupported Media Type; nothing was "
            "counted; fix it before resending",
        ),
        (
            fault("POST /api/client/metrics=429x1,retry-after=7"),
            "rate limited (HTTP 429): nothing was counted; send again after 7 s",
        ),
    ],
    ids=["204", "400-handler", "400-parser", "401", "403", "413", "415", "429"],
)
def test_every_refusal_has_a_clear_message_and_can_be_sent_again(
    project: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setup: Setup,
    message: str,
) -> None:
    setup(project, monkeypatch)
    code, out, _ = project.cli("unleash", "send", capsys=capsys)
    assert code == 1
    assert out.splitlines()[0] == SOURCE + message
    assert (
        out.splitlines()[1] == "Unleash: 0 accepted, 1 not counted, 0 unknown, 0 refused, 0 empty."
    )
    assert project.usage() == {"yes": 0, "no": 0}
    monkeypatch.setenv("TEST_UNLEASH_TOKEN", BACKEND_TOKEN)
    project.app.configure(
        {"unleash": {"metrics_disabled": False, "fail_handler": False, "max_body_bytes": 102400}}
    )
    assert project.cli("unleash", "send", capsys=capsys)[0] == 0  # nothing was counted: resend
    assert project.usage() == {"yes": 25, "no": 42}


def test_a_schema_refusal_lists_the_servers_details(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.configure({"unleash": {"api_version": "v7"}})  # v7 still requires `bucket`
    payload = project.root / "register.json"
    payload.write_text('{"appName": "metricsync"}')
    code, out, _ = project.cli("unleash", "send", str(payload), capsys=capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        "unleash: 'register.json' (register.json:1): Unleash's schema check refused the payload "
        "(HTTP 400): /body/bucket: The `/body/bucket` property is required. It was not present on "
        "the data you sent.; nothing was counted; fix it before resending"
    )


@pytest.mark.parametrize(
    "rule", ["POST /api/client/metrics=503x1", "POST /api/client/metrics=drop-afterx1"]
)
def test_an_unknown_outcome_is_never_resent(
    project: Project, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    project.app.faults.add(rule)
    code, out, _ = project.cli("unleash", "send", capsys=capsys)
    assert code == 1
    assert (
        "the outcome is unknown, so it was not resent (a duplicate would double the counts)" in out
    )
    assert project.posts() == 1
    code, out, _ = project.cli("unleash", "send", capsys=capsys)
    assert code == 5
    assert "with an unknown outcome; check Unleash before sending it again (--force" in out
    assert project.posts() == 1


def test_a_payload_with_no_counts_is_not_sent(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = {"start": "2026-03-01T10:00:00Z", "stop": "2026-03-01T11:00:00Z"}
    empty = {"appName": "metricsync", "bucket": {**bucket, "toggles": {"dark-mode": {"yes": 0}}}}
    (project.root / "empty.json").write_text(json.dumps(empty))
    code, out, err = project.cli("unleash", "send", "empty.json", capsys=capsys)
    assert code == 0
    assert (
        out.splitlines()[0]
        == "unleash: 'empty.json' (empty.json:1): not sent: no toggle has a yes or no count"
    )
    assert "warning: toggle 'dark-mode' has no counts; Unleash drops it" in err
    assert project.posts() == 0


def test_invalid_payloads_are_refused_before_sending(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = '{\n  "appName": "metricsync",\n  "bucket": {\n    "start": 1690449593,\n    "stop": "2026-03-01T11:00:00Z",\n    "toggles": {"new-checkout": {"yes": 1, "no": 1.5}}\n  }\n}\n'
    (project.root / "bad.json").write_text(bad)
    code, out, _ = project.cli("unleash", "validate", "bad.json", capsys=capsys)
    assert code == 3
    assert out.splitlines() == [
        "bad.json:4:14: must be an RFC 3339 date-time such as 2026-03-01T10:00:00Z, or epoch "
        "milliseconds (a seconds value would land in January 1970) [/bucket/start]",
        "bad.json:6:50: 'no' must be of type integer; got number 1.5 [/bucket/toggles/new-checkout/no]",
        "invalid: 2 errors, 0 warnings (0 definitions in 1 file)",
    ]
    code, _, err = project.cli("unleash", "send", "bad.json", capsys=capsys)
    assert (code, project.posts()) == (3, 0)
    assert err.splitlines()[0].startswith("bad.json:4:14: must be an RFC 3339 date-time")
    assert "2 problems found; nothing was sent" in err


def test_validate_without_a_file_checks_the_targets_definitions(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = project.cli("unleash", "validate", capsys=capsys)
    assert code == 0
    assert out.splitlines() == [
        "definitions/unleash/usage.yaml:12:18: warning: toggle 'dark-mode' has no counts; Unleash "
        "drops it [/spec/bucket/toggles/dark-mode]",
        "valid: 0 errors, 1 warning (1 definition in 1 file)",
    ]


def test_the_record_is_replaced_whole_on_each_mark(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rewritten through a temporary file (never appended in place), so a crash cannot cut a
    line: the file is a new one after each send and keeps every earlier line."""
    project.cli("unleash", "send", capsys=capsys)
    record = project.root / ".metricsync" / "unleash-sent.jsonl"
    kept = record.with_name("kept.jsonl")
    os.link(record, kept)  # the old file, which an append in place would change too
    assert project.cli("unleash", "send", "--force", capsys=capsys)[0] == 0
    assert len(kept.read_text().splitlines()) == 2
    kept.unlink()
    states = [json.loads(line)["state"] for line in record.read_text().splitlines()]
    assert states == ["sending", "accepted", "sending", "accepted"]
    assert [p.name for p in record.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_payload_nested_too_deeply_is_a_problem_not_a_crash(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    (project.root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    code, out, _ = project.cli("unleash", "validate", "deep.json", capsys=capsys)
    assert (code, out.splitlines()[0]) == (
        3,
        "deep.json:1:1: the JSON is nested too deeply to read",
    )


def test_a_send_while_another_run_holds_the_project_sends_nothing_naming_it(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two sends at once would both find the payload unsent, and Unleash adds counts up."""
    with project_lock(project.root / ".metricsync", "metricsync unleash send") as holder:
        code, out, err = project.cli("unleash", "send", capsys=capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: another metricsync run holds this project: {holder.describe()}")
    assert project.posts() == 0
    code, _, _ = project.cli("unleash", "send", capsys=capsys)  # once it is done: sent once
    assert (code, project.posts()) == (0, 1)


def test_server_text_in_a_refusal_reaches_the_terminal_escaped(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hostile or broken server's error text cannot restyle the terminal or forge a line."""
    serve = project.app.serve
    evil = {"message": "\x1b[2J\x1b[31mred\rforged: accepted (HTTP 202)\nUnleash: 1 accepted"}

    def hostile(request: Request) -> Reply:
        if request.path == "/api/client/metrics":
            return Reply(Response.json(415, evil))
        return serve(request)

    monkeypatch.setattr(project.app, "serve", hostile)
    code, out, _ = project.cli("unleash", "send", capsys=capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        SOURCE + "Unleash refused the content type (HTTP 415): \\x1b[2J\\x1b[31mred\\rforged: "
        "accepted (HTTP 202)\\nUnleash: 1 accepted; nothing was counted; fix it before resending"
    )
    assert "\x1b" not in out
