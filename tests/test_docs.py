"""docs/ stays in step with the CLI and the schemas it is generated from; every command has help
and a page; the README names only commands and options that exist; links resolve."""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click

from metricsync.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


gen_docs = _generator()


def test_the_generated_docs_are_up_to_date() -> None:
    files = gen_docs.render_all()
    found = gen_docs.differences(files)
    diff: list[str] = []
    for relative, text in files.items():  # the first difference, to show what drifted
        path = ROOT / "docs" / relative
        if path.exists() and path.read_text() != text and not diff:
            old, new = path.read_text().splitlines(), text.splitlines()
            diff = list(
                difflib.unified_diff(old, new, f"docs/{relative}", "generated", lineterm="")
            )
    message = [*found, *diff[:40], f"regenerate docs/ with: {gen_docs.REGENERATE}"]
    assert not found, "\n".join(message)


def test_the_check_is_deterministic_across_processes() -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345", "COLUMNS": "40"}
    result = subprocess.run(
        [sys.executable, "scripts/gen_docs.py", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_command_has_help_and_a_page() -> None:
    docs = gen_docs.commands()
    names = {d.name for d in docs}
    assert {"metricsync validate", "metricsync plan", "metricsync apply"} <= names
    index = (ROOT / "docs" / "README.md").read_text()
    for doc in docs:
        assert gen_docs.help_text(doc.command), f"{doc.name} has no help text"
        for param in doc.command.get_params(doc.context):
            if isinstance(param, click.Argument):  # documented by the command's own help text
                continue
            record = param.get_help_record(doc.context)
            assert record is None or record[1].strip(), f"{doc.name} {record} has no help"
        page = ROOT / "docs" / doc.page
        assert page.is_file(), f"{doc.name} has no page {page}"
        assert page.read_text().startswith(f"# {doc.name}\n")
        if len(doc.path) == 1:
            assert f"]({doc.page})" in index, f"docs/README.md does not link {doc.page}"


def test_every_kind_and_the_config_have_a_page() -> None:
    from metricsync.platforms import KINDS

    for kind in KINDS:
        page = ROOT / "docs" / gen_docs.kind_file(kind)
        assert page.read_text().startswith(f"# `{kind}`: ")
    assert (ROOT / "docs" / "config.md").is_file()


def readme_invocations() -> list[list[str]]:
    """Every `metricsync …` command line in the README, from code spans and code blocks."""
    text = (ROOT / "README.md").read_text()
    snippets = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    prose = re.sub(r"```.*?```", "", text, flags=re.S).replace("\n", " ")
    snippets += re.findall(r"`([^`]+)`", prose)  # code spans may wrap across lines
    found = []
    for snippet in snippets:
        for line in snippet.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line.removeprefix("$ ")):
                if part.strip().startswith("metricsync "):
                    found.append(shlex.split(part.split(" #")[0])[1:])
    return found


def test_the_readme_names_only_commands_and_options_that_exist() -> None:
    invocations = readme_invocations()
    assert len(invocations) >= 10
    for words in invocations:
        command: click.Command = cli
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            sub = command.commands.get(words[0])
            assert sub is not None, f"README: no command {words[0]!r} in {words}"
            command, words = sub, words[1:]
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        for word in words:
            if word.startswith("-"):
                assert word.split("=")[0] in known, f"README: {command.name} has no {word}"


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_links_in_the_readme_and_docs_resolve() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pages += [p for p in (ROOT / "docs").glob("*/*.md") if p.parent.name in gen_docs.GENERATED_DIRS]
    for page in dict.fromkeys(pages):
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an external address
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), f"{page.relative_to(ROOT)}: broken link {target}"
            if anchor and resolved.suffix == ".md":
                assert anchor in _anchors(resolved.read_text()), f"{page}: no #{anchor}"


def _layout() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme[readme.index("## Layout") :]


def test_the_readme_layout_names_every_module_plan_and_apply_open() -> None:
    """Every core module `plan` and `apply` import (cli/plan.py's imports, followed) is named in
    the README's Layout; a platform's and the sandbox's modules are named by their package."""
    from tests.test_imports import PACKAGE, import_graph, module_names

    graph, seen, stack = import_graph(), set(), ["metricsync.cli.plan"]
    while stack:
        module = stack.pop()
        if module not in seen and module in graph:
            seen.add(module)
            stack.extend(graph[module])
    own = ("metricsync.platforms.", "metricsync.sandbox.", "metricsync.cli.")
    core = sorted(m for m in seen if m.count(".") and not m.startswith(own))
    named = set(re.findall(r"`([\w/.]+\.py)`", _layout()))
    files = {m: p.relative_to(PACKAGE).as_posix() for m, p in module_names().items()}
    missing = [m for m in core if not {files[m], files[m].rpartition("/")[2]} & named]
    assert "metricsync.planner" in core and "metricsync.apply_run" in core
    assert missing == []


def test_every_module_the_readme_layout_names_exists() -> None:
    package = ROOT / "metricsync"
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    names = {m.rpartition("/")[2] for m in modules}
    named = set(re.findall(r"`([\w/.]+\.py)`", _layout())) - {"tests/test_diff.py"}
    named = {n for n in named if not n.startswith(("test_", "tests/"))}
    assert named and [n for n in sorted(named) if n not in modules and n not in names] == []
