"""The offline commands beside validate: `schema` and `targets`, and the shipped schemas as
package resources."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from metricsync.cli.main import cli, run
from metricsync.config_file import schema_names, schema_text

ROOT = Path(__file__).resolve().parents[1]
# The repository's copies: links to where each kind's schema ships, and the config's as composed
# (regenerate it with: metricsync schema config > schemas/config.schema.json).
SCHEMAS = ROOT / "schemas"
FILES = [
    "config.schema.json",
    "posthog/saved_metric.schema.json",
    "statsig/metric.schema.json",
    "unleash/usage.schema.json",
    "userflux/query.schema.json",
]


def test_the_package_reads_its_schemas_through_importlib_resources() -> None:
    assert schema_names() == FILES
    for name in FILES:
        assert schema_text(name) == (SCHEMAS / name).read_text(encoding="utf-8")


def test_schema_prints_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema", "statsig/metric"]) == 0
    assert capsys.readouterr().out == (SCHEMAS / "statsig" / "metric.schema.json").read_text()
    assert run(["schema", "config"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("metricsync project config")


def test_schema_out_dir_writes_all_five_as_shipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["schema", "--out-dir", str(tmp_path / "schemas")]) == 0
    written = sorted(str(p.relative_to(tmp_path / "schemas")) for p in tmp_path.rglob("*.json"))
    assert written == FILES
    for name in FILES:
        assert (tmp_path / "schemas" / name).read_bytes() == (SCHEMAS / name).read_bytes()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["schema", "statsig/metrics"], "unknown kind 'statsig/metrics'; expected one of: "),
        (["schema"], "name a kind (statsig/metric, "),
        (["schema", "config", "--out-dir", "x"], "give either KIND or --out-dir, not both"),
    ],
)
def test_schema_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 64
    assert capsys.readouterr().err.startswith(f"Error: {message}")


def test_targets_text_aligns_every_column(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert run(["targets"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "statsig-prod  statsig   https://statsigapi.net           definitions/statsig",
        "posthog-us    posthog   https://us.posthog.com           definitions/posthog",
        "userflux      userflux  https://metrics-api.userflux.co  definitions/userflux",
        "unleash       unleash   https://unleash.example.com/api  definitions/unleash",
    ]


def test_targets_json_feeds_a_ci_matrix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert run(["targets", "--format", "json", "--target", "posthog-us"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "target": ["posthog-us"],
        "include": [
            {
                "target": "posthog-us",
                "provider": "posthog",
                "definitions": ["definitions/posthog"],
                "planned": True,
                "verified": False,
            }
        ],
    }


def test_targets_unknown_name_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert run(["targets", "--target", "nope"]) == 64
    assert capsys.readouterr().err == (
        "Error: unknown target 'nope' (targets: statsig-prod, posthog-us, userflux, unleash)\n"
    )


def test_targets_prints_the_problems_of_an_invalid_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT / "tests" / "fixtures" / "invalid" / "http_url_not_loopback")
    assert run(["targets"]) == 3
    assert capsys.readouterr().err.splitlines() == [
        "metricsync.yaml:6:15: plain http:// is refused for 'statsig.internal.example.com'; "
        "use https:// (http is for loopback only) [/targets/statsig-prod/base_url]",
        "Error: 1 problem found; nothing was sent",
    ]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(cli), ids=" ".join)
def test_every_command_accepts_sandbox(command: tuple[str, ...]) -> None:
    """--sandbox on any command (docs/commands/), harmless where nothing is sent."""
    params = cli.get_command(click.Context(cli), command[0])
    for name in command[1:]:
        assert isinstance(params, click.Group)
        params = params.get_command(click.Context(params), name)
    assert params is not None
    assert "--sandbox" in [o for p in params.params for o in getattr(p, "opts", [])]


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--sandbox"],
        ["targets", "--sandbox", "--format", "json"],
        ["unleash", "validate", "--sandbox"],
    ],
)
def test_sandbox_is_harmless_where_nothing_is_sent(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert run([a for a in argv if a != "--sandbox"]) == 0
    without = capsys.readouterr().out
    assert run(argv) == 0
    assert capsys.readouterr().out == without


def test_schema_accepts_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["schema", "config", "--sandbox"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("metricsync project config")
