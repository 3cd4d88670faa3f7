"""Every file metricsync writes appears whole: written beside its name, then renamed over it, so
a kill or a full disk leaves the old file or the new one, never a truncated or empty one."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from metricsync import files
from tests.engine.conftest import Project

SIMPLE = "{type: sum, unitTypes: [userID], metricEvents: [{name: buy, type: value}]}"


def _metric(name: str, description: str = "") -> str:
    spec = SIMPLE[:-1] + (f", description: {description!r}}}" if description else "}")
    return f"kind: statsig/metric\nname: {name}\nspec: {spec}\n"


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    path.write_text("previous plan\n")

    def full(descriptor: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", full)
    with pytest.raises(OSError, match="No space"):
        files.write_whole(path, "new plan\n" * 1000)
    assert path.read_text() == "previous plan\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_without_overwrite_an_existing_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("mine\n")
    with pytest.raises(FileExistsError):
        files.write_whole(path, "theirs\n", overwrite=False)
    assert path.read_text() == "mine\n"
    files.write_whole(tmp_path / "new.yaml", "new\n", overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml", "new.yaml"]


def _replaced(path: Path, write: object) -> bool:
    """Whether calling `write` put a new file at `path` rather than rewriting the old one in
    place: a hard link keeps the old file, which an in-place write would change too."""
    kept = path.with_name(path.name + ".kept")
    os.link(path, kept)
    before = kept.read_bytes()
    assert callable(write)
    write()
    replaced = kept.read_bytes() == before and not os.path.samefile(path, kept)
    kept.unlink()
    return replaced


def test_plan_out_state_and_imports_are_renamed_into_place(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.seed({"statsig": {"metrics": [{"name": "Checkout total", "type": "sum",
                     "unitTypes": ["userID"], "metricEvents": [{"name": "buy", "type": "value"}]}]}})  # fmt: skip
    plan = project.root / "plan.json"
    assert project.cli("plan", "--out", str(plan), capsys=capsys)[0] == 0
    assert _replaced(plan, lambda: project.cli("plan", "--out", str(plan), capsys=capsys))
    imported = project.root / "scratch" / "checkout_total.yaml"
    arguments = ("import", "--target", "statsig-test", "--out", "scratch")
    assert project.cli(*arguments, capsys=capsys)[0] == 0
    assert _replaced(imported, lambda: project.cli(*arguments, "--force", capsys=capsys))
    cache = project.root / ".metricsync" / "cache" / "validate.json"
    project.write("definitions/statsig/a.yaml", _metric("Metric A"))
    assert project.cli("validate", capsys=capsys)[0] == 0
    project.write("definitions/statsig/a.yaml", _metric("Metric B"))
    assert _replaced(cache, lambda: project.cli("validate", capsys=capsys))
    leftovers = [p for p in project.root.rglob("*") if p.name.endswith(files.TEMPORARY_SUFFIX)]
    assert leftovers == []


def test_schema_out_dir_replaces_each_schema_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from metricsync.cli.main import run

    assert run(["schema", "--out-dir", str(tmp_path)]) == 0
    schema = tmp_path / "statsig" / "metric.schema.json"
    assert _replaced(schema, lambda: run(["schema", "--out-dir", str(tmp_path)]))
    assert schema.read_text().startswith("{")
    capsys.readouterr()


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_plan_out_on_a_full_disk_keeps_the_previous_plan(project: Project) -> None:
    """A plan larger than the space left: the earlier plan survives and the error says why."""
    long = "x" * 990
    for i in range(250):
        project.write(f"definitions/statsig/m{i:03d}.yaml", _metric(f"Metric {i:03d}", long))
    plan = project.root / "plan.json"
    plan.write_text("the reviewed plan\n")
    environment = {**os.environ, "TEST_STATSIG_KEY": "console-sandbox-key"}
    completed = subprocess.run(
        [sys.executable, "-m", "metricsync", "plan", "--out", str(plan), "--target",
         "statsig-test", "--config", str(project.root / "metricsync.yaml")],
        cwd=project.root, env=environment, capture_output=True, text=True, timeout=300,
        preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.endswith(f"Error: cannot write the plan to {plan}: File too large\n")
    assert plan.read_text() == "the reviewed plan\n"
    assert not [p for p in project.root.iterdir() if p.name.endswith(files.TEMPORARY_SUFFIX)]
