"""Nothing unreadable ever counts as having left the repository: a broken symbolic link, a link
loop or an unreadable folder under a definitions folder is an error naming it (exit 3), so prune
can never delete its live object; links that resolve are read like the files they point at."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from metricsync import validation
from tests.engine.conftest import Project, config_text
from tests.engine.test_scenarios import live_metric, seed_statsig

SUM = """\
kind: statsig/metric
name: {name}
spec:
  type: sum
  description: Revenue
  unitTypes: [userID]
  metricEvents: [{{name: purchase, type: value}}]
"""


@pytest.fixture
def pruning(project: Project) -> Project:
    project.write("metricsync.yaml", config_text(project.url, prune=True))
    seed_statsig(project, live_metric("Checkout revenue"), live_metric("Refund total"))
    project.write("definitions/statsig/refunds.yaml", SUM.format(name="Refund total"))
    return project


def _plan(project: Project, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return project.cli("plan", "--target", "statsig-test", capsys=capsys)


def test_a_broken_link_is_an_error_not_a_delete(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    (pruning.root / "definitions" / "statsig" / "revenue.yaml").symlink_to("../moved/revenue.yaml")
    code, out, err = _plan(pruning, capsys)
    assert (code, out) == (3, "")
    assert err.startswith(
        "definitions/statsig/revenue.yaml:1:1: the symbolic link cannot be followed "
        "(No such file or directory): fix or remove it\n"
    )


def test_a_link_loop_is_an_error(pruning: Project, capsys: pytest.CaptureFixture[str]) -> None:
    folder = pruning.root / "definitions" / "statsig"
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")
    code, _, err = _plan(pruning, capsys)
    assert code == 3
    assert err.splitlines()[:2] == [
        "definitions/statsig/a.yaml:1:1: the symbolic link loops: fix or remove it",
        "definitions/statsig/b.yaml:1:1: the symbolic link loops: fix or remove it",
    ]


def test_an_unreadable_sub_folder_is_an_error_naming_it(
    pruning: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pruning.write("definitions/statsig/team/revenue.yaml", SUM.format(name="Checkout revenue"))
    scandir = os.scandir

    def refuse(path: Any) -> Any:  # chmod 000 does not stop root, who runs CI containers
        if str(path).endswith("team"):
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(validation.os, "scandir", refuse)
    code, _, err = _plan(pruning, capsys)
    assert code == 3
    assert err.startswith(
        "definitions/statsig/team:1:1: cannot read the folder: Permission denied\n"
    )


def test_linked_files_and_folders_are_read(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = pruning.root / "shared"
    pruning.write("shared/team/revenue.yaml", SUM.format(name="Checkout revenue"))
    (pruning.root / "definitions" / "statsig" / "team").symlink_to(shared / "team")
    code, out, _ = _plan(pruning, capsys)
    assert (code, out.splitlines()[-1]) == (0, "No changes.")
    (pruning.root / "definitions" / "statsig" / "team").unlink()
    (pruning.root / "definitions" / "statsig" / "revenue.yaml").symlink_to(
        shared / "team" / "revenue.yaml"
    )
    code, out, _ = _plan(pruning, capsys)
    assert (code, out.splitlines()[-1]) == (0, "No changes.")


def test_a_folder_link_cycle_is_an_error_and_ends(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    (pruning.root / "definitions" / "statsig" / "back").symlink_to(Path("..") / "statsig")
    (pruning.root / "definitions" / "statsig" / "self").symlink_to(".")
    code, _, err = _plan(pruning, capsys)
    assert code == 3
    cycle = (
        "symbolic links lead back into a folder that holds this one (a cycle): fix or remove them"
    )
    assert err.splitlines()[:2] == [
        f"definitions/statsig/back:1:1: {cycle}",
        f"definitions/statsig/self:1:1: {cycle}",
    ]


def test_a_fifo_named_like_a_definition_is_an_error_not_a_hang(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(pruning.root / "definitions" / "statsig" / "revenue.yaml")
    code, _, err = _plan(pruning, capsys)
    assert code == 3
    assert err.startswith(
        "definitions/statsig/revenue.yaml:1:1: not a regular file: definitions are plain files\n"
    )


def test_a_configured_folder_that_is_a_link_loop_is_a_config_error_naming_it(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """The configured folder itself, not a file under it: was 'unexpected RuntimeError'."""
    statsig = pruning.root / "definitions" / "statsig"
    for path in statsig.iterdir():
        path.unlink()
    statsig.rmdir()
    loop = pruning.root / "definitions" / "loop"
    statsig.symlink_to(loop)
    loop.symlink_to(statsig)
    code, out, err = _plan(pruning, capsys)
    assert (code, out) == (3, "")
    assert err.startswith(
        "metricsync.yaml:7:19: 'definitions/statsig' is a symbolic link loop "
        "[/targets/statsig-test/definitions/0]\n"
    )
    assert pruning.sent("GET", "/console/v1/metrics/list") == 0


def test_a_configured_folder_that_is_a_link_is_read(
    pruning: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    statsig = pruning.root / "definitions" / "statsig"
    statsig.rename(pruning.root / "elsewhere")
    statsig.symlink_to(pruning.root / "elsewhere")
    code, out, _ = _plan(pruning, capsys)
    assert code == 0
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete" in out
    assert "'Checkout revenue'" in out and "'Refund total'" not in out  # read through the link
