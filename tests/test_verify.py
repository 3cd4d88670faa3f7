"""`metricsync verify` against the sandbox: queries run and their expectations checked, Statsig
creates and updates dry-run, every failure placed at its definition, and nothing changed."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricsync.platforms.userflux.sandbox.settings import CLIENT_SECRET, TEST_KEY
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer
from tests.engine.conftest import Project

STATSIG_KEY = "console-sandbox-key"

GOOD_QUERIES = """\
# yaml-language-server: $schema=../../schemas/userflux/query.schema.json
kind: userflux/query
name: recent purchases
spec:
  sql: |
    SELECT name, ufProperties.currency AS currency FROM eventsTable
    WHERE name = '@{eventName}' LIMIT @{rowLimit}
  variables: {eventName: purchase, rowLimit: 5}
  expect: {min_rows: 5, columns: [name, currency]}
---
kind: userflux/query
name: daily active purchasers
spec:
  metric_id: daily-active-users
  variables: {eventName: purchase}
  expect: {min_rows: 1}
"""

BROKEN_QUERIES = """\
kind: userflux/query
name: orders
spec:
  sql: SELECT * FROM ordersTable
---
kind: userflux/query
name: too few signups
spec:
  sql: SELECT userId FROM eventsTable WHERE name = 'signup' LIMIT @{n}
  variables: {n: 3}
  expect: {min_rows: 10, columns: [userId, plan]}
"""

REVENUE = """\
kind: statsig/metric
name: Revenue per user
spec:
  type: sum
  description: Order value per user
  unitTypes: [userID]
  metricEvents: [{name: purchase, type: value}]
"""

COMPANY_REVENUE = """\
kind: statsig/metric
name: Revenue per company
spec:
  type: sum
  description: Order value per company
  unitTypes: [companyID]
  metricEvents: [{name: purchase, type: value}]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    app = SandboxApp()
    monkeypatch.setenv("TEST_UF_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_UF_KEY", TEST_KEY)
    monkeypatch.setenv("TEST_STATSIG_KEY", STATSIG_KEY)
    monkeypatch.chdir(tmp_path)
    with SandboxServer(app) as server:
        config = f"""\
            version: 1
            targets:
              userflux:
                provider: userflux
                base_url: {server.url}
                client_secret: env:TEST_UF_SECRET
                environment_api_key: env:TEST_UF_KEY
                definitions: [definitions/userflux]
              statsig:
                provider: statsig
                base_url: {server.url}
                api_key: env:TEST_STATSIG_KEY
                definitions: [definitions/statsig]
        """
        project = Project(tmp_path, app, server.url)
        project.write("metricsync.yaml", textwrap.dedent(config))
        project.write("definitions/userflux/good.yaml", GOOD_QUERIES)
        project.write("definitions/statsig/revenue.yaml", REVENUE)
        yield project


def test_good_queries_and_dry_runs_verify(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = project.cli("verify", capsys=capsys)
    assert (code, err) == (0, "")
    lines = [line.split(" (")[0] for line in out.splitlines()]
    assert lines == [
        "Target userflux",
        "  ok    query 'recent purchases': 5 rows",
        "  ok    query 'daily active purchasers': 25 rows",
        "Target statsig",
        "  ok    dry-run create 'Revenue per user': accepted",
        "Verify: 3 passed, 0 failed, 0 skipped.",
    ]
    assert out.splitlines()[1].endswith("ms)")


def test_one_token_request_per_run(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.write("definitions/userflux/broken.yaml", BROKEN_QUERIES)
    project.cli("verify", capsys=capsys)
    assert project.sent("POST", "/metrics/auth/token") == 1
    assert project.sent("POST", "/metrics/query") == 3


def test_a_broken_query_fails_at_its_file_and_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("definitions/userflux/broken.yaml", BROKEN_QUERIES)
    code, out, _ = project.cli("verify", "--target", "userflux", capsys=capsys)
    assert code == 1
    failures = out.split("Target userflux\n")[1]
    assert "  FAIL  query 'orders' (" in failures
    assert (
        "        definitions/userflux/broken.yaml:1: HTTP 400: no such table: ordersTable\n" in out
    )
    assert (
        "        definitions/userflux/broken.yaml:6: expected at least 10 rows, got 3; "
        "row 1 lacks column(s) plan (has: userId)\n"
    ) in out
    assert out.endswith("Verify: 2 passed, 2 failed, 0 skipped.\n")


def test_the_json_report_names_each_definition(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("definitions/userflux/broken.yaml", BROKEN_QUERIES)
    code, out, _ = project.cli("verify", "--target", "userflux", "--format", "json", capsys=capsys)
    report = json.loads(out)
    assert code == 1
    assert report["format_version"] == 1
    assert report["summary"] == {"passed": 2, "failed": 2, "skipped": 0}
    orders = next(r for r in report["results"] if r["name"] == "orders")
    assert {k: v for k, v in orders.items() if k != "seconds"} == {
        "target": "userflux",
        "kind": "userflux/query",
        "name": "orders",
        "check": "query",
        "status": "failed",
        "detail": "HTTP 400: no such table: ordersTable",
        "source": "definitions/userflux/broken.yaml:1",
    }
    assert isinstance(orders["seconds"], float)


def test_the_markdown_report_puts_failures_first(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("definitions/userflux/broken.yaml", BROKEN_QUERIES)
    code, out, _ = project.cli(
        "verify", "--target", "userflux", "--format", "markdown", capsys=capsys
    )
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]
    assert code == 1
    assert out.startswith("### metricsync verify\n\n**Verify: 2 passed, 2 failed, 0 skipped.**\n")
    assert rows[0].startswith("| ❌ | userflux | query | orders | ")
    assert rows[0].endswith(
        "| `definitions/userflux/broken.yaml:1` HTTP 400: no such table: ordersTable |"
    )
    assert rows[2].startswith("| ✅ |")


def test_a_rejected_dry_run_is_reported_against_its_definition_and_changes_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("definitions/statsig/company.yaml", "# per company\n" + COMPANY_REVENUE)
    code, out, _ = project.cli("verify", "--target", "statsig", capsys=capsys)
    assert code == 1
    assert "  ok    dry-run create 'Revenue per user': accepted (" in out
    assert "  FAIL  dry-run create 'Revenue per company' (" in out
    assert (
        "        definitions/statsig/company.yaml:2: HTTP 400: Bad Request Exception; unitTypes.0: "
        "Unknown unit type 'companyID'. Known unit types: userID, stableID\n"
    ) in out
    assert project.sent("POST", "/console/v1/tags") == 0
    code, out, _ = project.cli("plan", "--target", "statsig", "--format", "json", capsys=capsys)
    assert [c["action"] for t in json.loads(out)["targets"] for c in t["changes"]] == [
        "create",
        "create",
    ]


def test_an_update_is_dry_run_without_being_applied(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.cli("apply", "--target", "statsig", "--yes", capsys=capsys)[0] == 0
    project.write(
        "definitions/statsig/revenue.yaml", REVENUE.replace("value per user", "value per buyer")
    )
    code, out, _ = project.cli("verify", "--target", "statsig", capsys=capsys)
    assert (code, out.splitlines()[1].split(" (")[0]) == (
        0,
        "  ok    dry-run update 'Revenue per user': accepted",
    )
    code, out, _ = project.cli("plan", "--target", "statsig", capsys=capsys)
    assert 'description: "Order value per user" → "Order value per buyer"' in out


def test_invalid_definitions_exit_3_before_any_request(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(
        "definitions/userflux/unbound.yaml",
        "kind: userflux/query\nname: x\nspec: {sql: \"SELECT '@{y}'\"}\n",
    )
    code, out, err = project.cli("verify", capsys=capsys)
    assert (code, out) == (3, "")
    assert "1 problem found; nothing was sent" in err
    assert not list(project.app.requests)


def test_a_platform_that_cannot_be_reached_fails_the_run(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.configure({"userflux": {"client_secret": "rotated"}})
    code, out, _ = project.cli("verify", "--target", "userflux", capsys=capsys)
    assert code == 1
    assert out.count("the token exchange was refused") == 2
    assert project.sent("POST", "/metrics/auth/token") == 1
