"""A fifth platform is its own package plus one registry line (docs/adding-a-platform.md).

The fictional Ledger platform in tests/fixtures/fifth_platform/ledger is dropped into a copy of the
installed package with one line added to the registry, and the command line runs on it in a
subprocess: every command that works per platform must work for Ledger with nothing else edited.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import metricsync
from tests import test_imports

PACKAGE = Path(metricsync.__file__).resolve().parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "fifth_platform" / "ledger"
REGISTRY = Path("platforms") / "__init__.py"
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc")

CONFIG = """\
version: 1
targets:
  ledger-prod:
    provider: ledger
    definitions: [definitions/ledger]
    api_token: env:LEDGER_API_TOKEN
"""
METRICS = """\
kind: ledger/metric
name: Checkout completed
spec:
  event: checkout_completed
  description: Orders placed
  tags: [checkout]
---
kind: ledger/metric
name: Revenue
spec:
  event: purchase
  aggregation: sum
"""


def add_to_registry(registry: Path, module: str) -> None:
    """The one line a new platform adds: its module among the registry's imports and records."""
    text = registry.read_text()
    imports = "from metricsync.platforms import posthog, statsig, unleash, userflux\n"
    records = "unleash.PLATFORM)"
    assert text.count(imports) == 1 and text.count(records) == 1, (
        "the registry changed shape: update add_to_registry and docs/adding-a-platform.md"
    )
    text = text.replace(imports, imports.replace("posthog,", f"{module}, posthog,"))
    registry.write_text(text.replace(records, f"unleash.PLATFORM, {module}.PLATFORM)"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with Ledger added; the folder to put on PYTHONPATH."""
    root = tmp_path_factory.mktemp("fifth") / "src"
    shutil.copytree(PACKAGE, root / "metricsync", ignore=JUNK)
    shutil.copytree(FIXTURE, root / "metricsync" / "platforms" / "ledger", ignore=JUNK)
    add_to_registry(root / "metricsync" / REGISTRY, "ledger")
    return root


def run(tree: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER")}
    environ |= {"PYTHONPATH": str(tree), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "metricsync", *args]
    return subprocess.run(
        command, cwd=project, env=environ, capture_output=True, text=True, timeout=120
    )


def project(root: Path, config: str = CONFIG, metrics: str = METRICS) -> Path:
    (root / "definitions" / "ledger").mkdir(parents=True)
    (root / "metricsync.yaml").write_text(config)
    (root / "definitions" / "ledger" / "metrics.yaml").write_text(metrics)
    return root


def changed_files(before: Path, after: Path) -> list[str]:
    """Files added, removed or changed between two trees, relative to them."""
    found: list[str] = []

    def walk(compared: filecmp.dircmp[str], where: Path) -> None:
        found.extend(str(where / n) for n in compared.left_only + compared.right_only)
        found.extend(str(where / n) for n in compared.diff_files + compared.funny_files)
        for name, sub in compared.subdirs.items():
            walk(sub, where / name)

    walk(filecmp.dircmp(before, after, ignore=["__pycache__"]), Path())
    return sorted(found)


def test_a_fifth_platform_is_its_own_package_and_one_registry_line(tree: Path) -> None:
    changed = changed_files(PACKAGE, tree / "metricsync")
    package = [f for f in changed if f.startswith("platforms/ledger")]
    assert [f for f in changed if f not in package] == [str(REGISTRY)]
    assert package == ["platforms/ledger"]  # a whole new folder
    files = sorted(p.relative_to(FIXTURE) for p in FIXTURE.rglob("*") if p.is_file())
    assert len(files) == 9, files  # the count docs/adding-a-platform.md gives
    registry = (tree / "metricsync" / REGISTRY).read_text().splitlines()
    original = (PACKAGE / REGISTRY).read_text().splitlines()
    assert len(registry) == len(original)
    assert sum(a != b for a, b in zip(registry, original, strict=True)) <= 2


def test_the_fifth_platform_adds_no_import_cycle(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(test_imports, "PACKAGE", tree / "metricsync")
    graph = test_imports.import_graph()

    assert "metricsync.platforms.ledger.provider" in graph
    assert test_imports.cycles(graph) == []


def test_validate_checks_the_new_kind_with_its_schema_and_its_checks(
    tree: Path, tmp_path: Path
) -> None:
    bad = METRICS.replace("event: checkout", "event: $checkout").replace("sum", "median")
    result = run(tree, project(tmp_path, metrics=bad), "validate")

    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines() == [
        "definitions/ledger/metrics.yaml:4:10: Ledger reserves event names starting with $ "
        "[/spec/event]",
        "definitions/ledger/metrics.yaml:12:16: 'aggregation' must be one of: \"count\", "
        '"sum", "unique"; got \'median\' [/spec/aggregation]',
        "invalid: 2 errors, 0 warnings (1 definition in 1 file)",
    ]


def test_plan_apply_and_plan_again_converge_in_the_sandbox(tree: Path, tmp_path: Path) -> None:
    root = project(tmp_path)

    first = run(tree, root, "plan", "--sandbox")
    applied = run(tree, root, "apply", "--sandbox", "--yes")
    again = run(tree, root, "plan", "--sandbox")

    assert first.returncode == 0, first.stderr
    assert "Target ledger-prod (ledger): 2 to create" in first.stdout
    assert applied.returncode == 0, applied.stderr
    assert "Apply: 2 applied, 0 failed, 0 skipped." in applied.stdout
    assert again.returncode == 0, again.stderr
    assert "No changes." in again.stdout


def test_an_edit_and_a_removal_plan_as_update_and_prune(tree: Path, tmp_path: Path) -> None:
    root = project(tmp_path)
    assert run(tree, root, "apply", "--sandbox", "--yes").returncode == 0
    edited = METRICS.split("---\n")[0].replace("Orders placed", "Orders paid")
    (root / "definitions" / "ledger" / "metrics.yaml").write_text(edited)
    (root / "metricsync.yaml").write_text(CONFIG + "policy:\n  prune: true\n")

    result = run(tree, root, "plan", "--sandbox")

    assert result.returncode == 0, result.stderr
    assert "1 to update" in result.stdout and "1 to delete" in result.stdout
    assert "Orders paid" in result.stdout


def test_import_writes_what_apply_made_back_as_definitions_that_plan_to_nothing(
    tree: Path, tmp_path: Path
) -> None:
    root = project(tmp_path)
    assert run(tree, root, "apply", "--sandbox", "--yes").returncode == 0
    (root / "definitions" / "ledger" / "metrics.yaml").unlink()

    imported = run(tree, root, "import", "--sandbox")
    again = run(tree, root, "plan", "--sandbox")

    assert imported.returncode == 0, imported.stderr
    assert "2 written, 0 skipped" in imported.stdout
    written = sorted((root / "definitions" / "ledger").rglob("*.yaml"))
    texts = "".join(p.read_text() for p in written)
    assert len(written) == 2 and texts.count("kind: ledger/metric") == 2
    assert "name: Revenue" in texts and "aggregation: sum" in texts
    assert again.returncode == 0 and "No changes." in again.stdout, again.stdout + again.stderr


def test_the_config_refuses_a_ledger_token_written_into_it(tree: Path, tmp_path: Path) -> None:
    config = CONFIG + "    note: ldg_abcdefghijklmnopqrstuvwxyz12\n"
    result = run(tree, project(tmp_path, config=config), "validate")

    assert result.returncode == 3
    assert "this looks like a Ledger token" in result.stdout + result.stderr


def test_schema_targets_and_init_know_the_new_platform(tree: Path, tmp_path: Path) -> None:
    schema = run(tree, tmp_path, "schema", "ledger/metric")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    init = run(tree, fresh, "init", "--platform", "ledger", "--examples", "--no-workflows")
    validate = run(tree, fresh, "validate")
    targets = run(tree, fresh, "targets", "--format", "json")

    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "Ledger metric"
    assert "default: statsig, posthog and ledger)" in " ".join(
        run(tree, tmp_path, "init", "--help").stdout.split()
    )
    assert init.returncode == 0, init.stderr
    assert (fresh / "schemas" / "ledger" / "metric.schema.json").is_file()
    assert "provider: ledger" in (fresh / "metricsync.yaml").read_text()
    assert "LEDGER_API_TOKEN" in init.stdout + init.stderr
    assert (fresh / "definitions" / "ledger" / "example.yaml").is_file()
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert targets.returncode == 0, targets.stderr
    assert [t["provider"] for t in json.loads(targets.stdout)["include"]] == ["ledger"]


def test_sandbox_serve_announces_the_new_platforms_credentials_export_and_url(
    tree: Path, tmp_path: Path
) -> None:
    environ = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "metricsync", "sandbox", "serve", "--memory", "--port", "0"]
    with subprocess.Popen(
        command, cwd=tmp_path, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        watchdog = threading.Timer(60, process.kill)  # killed, its stderr closes: no hang
        watchdog.start()
        lines: list[str] = []
        while not lines or "Press Ctrl-C" not in lines[-1]:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        process.send_signal(signal.SIGINT)
        stopped = process.wait(timeout=10)
        watchdog.cancel()

    url = lines[0].split()[3]
    assert stopped == 0, lines
    assert "  ledger    api_token=ldg_sandbox" in lines
    assert "  export LEDGER_API_TOKEN=ldg_sandbox" in lines
    assert f"  ledger    base_url: {url}/ledger" in lines


def test_init_says_the_shipped_workflows_do_not_pass_the_new_platforms_variable(
    tree: Path, tmp_path: Path
) -> None:
    """The one thing outside its package a fifth platform still needs (docs/adding-a-platform.md):
    the workflows name each platform's secrets in their env: blocks. init says so."""
    init = run(tree, tmp_path, "init", "--platform", "ledger", "--platform", "statsig")

    assert init.returncode == 0, init.stderr
    assert (
        "  note: the workflows plan or verify ledger but do not pass LEDGER_API_TOKEN: "
        "add them to the jobs' env: blocks (docs/github-actions.md)"
    ) in init.stdout.splitlines()
    assert (
        "secrets.LEDGER_API_TOKEN"
        not in (tmp_path / ".github" / "workflows" / "metricsync-plan.yml").read_text()
    )
