"""What a networked command works on (workspace.py), without the network: the project validated
before anything else, the targets selected with what earlier runs learnt about them, and with
--sandbox each target pointed at its platform's emulator with the emulator's credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricsync import facts
from metricsync.errors import InvalidInput, UsageError
from metricsync.platforms import PLATFORMS
from metricsync.workspace import open_workspace

CONFIG = """\
version: 1
targets:
  statsig-prod:
    provider: statsig
    definitions: [definitions/statsig]
    api_key: env:STATSIG_CONSOLE_API_KEY
  unleash:
    provider: unleash
    url: https://unleash.example/api
    definitions: [definitions/unleash]
    api_token: env:UNLEASH_BACKEND_TOKEN
"""


def project(root: Path, metric: str = "") -> Path:
    for folder in ("statsig", "unleash"):
        (root / "definitions" / folder).mkdir(parents=True)
    if metric:
        (root / "definitions" / "statsig" / "m.yaml").write_text(metric)
    (root / "metricsync.yaml").write_text(CONFIG)
    return root / "metricsync.yaml"


def test_the_selected_targets_carry_what_earlier_runs_learnt(tmp_path: Path) -> None:
    config = project(tmp_path)
    facts.remember(tmp_path / ".metricsync", {"statsig-prod": {"learnt": True}})

    with open_workspace(config, ["statsig-prod"]) as workspace:
        [target] = workspace.targets

    assert (target.name, target.settings["learnt"]) == ("statsig-prod", True)
    assert workspace.sandbox_url is None and workspace.state_dir == tmp_path / ".metricsync"


def test_an_invalid_project_stops_before_anything_is_opened(tmp_path: Path) -> None:
    config = project(tmp_path, "kind: statsig/metric\nname: m\nspec: {type: median}\n")

    with pytest.raises(InvalidInput) as invalid, open_workspace(config, sandbox=True):
        raise AssertionError("the block must not run")

    assert [Path(p.file).name for p in invalid.value.problems] == ["m.yaml"]
    assert not (tmp_path / ".metricsync" / "sandbox.db").exists()


def test_an_unknown_target_is_a_usage_error_naming_the_known_ones(tmp_path: Path) -> None:
    with (
        pytest.raises(
            UsageError, match=r"unknown target 'prod' \(targets: statsig-prod, unleash\)"
        ),
        open_workspace(project(tmp_path), ["prod"]),
    ):
        pass


def test_the_sandbox_points_each_target_at_its_emulator_with_its_credentials(
    tmp_path: Path,
) -> None:
    with open_workspace(project(tmp_path), sandbox=True) as workspace:
        url = workspace.sandbox_url
        targets = {t.name: t for t in workspace.targets}

    assert url is not None and url.startswith("http://127.0.0.1:")
    assert targets["statsig-prod"].endpoint == url + PLATFORMS["statsig"].sandbox_path
    assert targets["unleash"].endpoint == url + PLATFORMS["unleash"].sandbox_path == url + "/api"
    assert targets["statsig-prod"].secret("api_key") == "console-sandbox-key"
