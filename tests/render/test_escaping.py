"""User and server text cannot inject: no control character reaches a terminal or a pull-request
comment as itself (a carriage return cannot start a markdown heading or close a <details> block,
an escape sequence cannot restyle a terminal), and titles inside <summary> read as written."""

from __future__ import annotations

import io
import re
from pathlib import Path

import click
import pytest

from metricsync.apply import Outcome, Status
from metricsync.cli.main import run
from metricsync.plan import ABSENT, Action, Change, FieldChange, Lookalike, Plan, TargetPlan
from metricsync.render.markdown import render_markdown
from metricsync.render.rows import write_rows
from metricsync.render.text import render_outcome, render_plan
from metricsync.render.verify import render_markdown as verify_markdown
from metricsync.render.verify import render_text as verify_text
from metricsync.verify import CheckResult, VerifyReport
from metricsync.verify import Status as CheckStatus

EVIL = "Evil\r\r# INJECTED HEADING"
ANSI = "\x1b[2J\x1b[31mred\x9b1m\u202egnp.exe"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _plan() -> Plan:
    changes = (
        Change(Action.CREATE, "posthog/saved_metric", EVIL,
               fields=(FieldChange(f"description{ANSI}", ABSENT, "a\r\n</details>\n# H\x85"),)),
        Change(Action.UPDATE, "posthog/saved_metric", "checkout_rate *beta* @team <b>",
               live_id=f"7{ANSI}", previous_name="old_name",
               fields=(FieldChange("name", "old_name", "checkout_rate"),)),
    )  # fmt: skip
    target = TargetPlan(
        "posthog-us",
        "posthog",
        changes,
        lookalikes=(Lookalike(f"x{ANSI}", f"id{ANSI}", EVIL),),
        notes=(f"note {ANSI}\r# NOTE",),
        refusals=(f"refused {EVIL}",),
    )
    return Plan((target,), "0" * 64, "2026-01-01T00:00:00Z")


def test_markdown_shows_control_characters_as_escapes() -> None:
    text = render_markdown(_plan())
    assert not RAW_CONTROL.search(text)
    assert [line for line in text.splitlines() if line.startswith("#")] == ["### metricsync plan"]
    assert text.count("<details>") == text.count("</details>\n") == 2
    assert (
        "<details><summary><code>+</code> create posthog/saved_metric "
        "<b>Evil\\r\\r# INJECTED HEADING</b></summary>" in text
    )
    assert "+ description\\x1b[2J\\x1b[31mred\\x9b1m\\u202egnp.exe: " in text
    assert '"a\\r\\n</details>\\n# H\\x85"' in text  # inside the diff fence, as JSON


def test_summary_titles_are_escaped_as_html_not_markdown() -> None:
    text = render_markdown(_plan())
    assert (
        "<details><summary><code>~</code> update posthog/saved_metric "
        "<b>checkout_rate *beta* &#64;team &lt;b&gt;</b> (renamed from old_name)</summary>"
    ) in text
    summaries = [line for line in text.splitlines() if line.startswith("<details><summary>")]
    assert len(summaries) == 2
    assert not any("saved\\_metric" in line for line in summaries)


def test_text_output_shows_control_characters_as_escapes() -> None:
    for colour in (False, True):
        text = render_plan(_plan(), colour=colour)
        ours = re.compile(r"\x1b\[(?:\d+)?m")  # click's own colours, only when asked for
        assert not RAW_CONTROL.search(ours.sub("", text).replace("\n", ""))
        assert "  + posthog/saved_metric 'Evil\\r\\r# INJECTED HEADING'" in click.unstyle(text)
    plain = render_plan(_plan())
    assert "      description\\x1b[2J\\x1b[31mred\\x9b1m\\u202egnp.exe: " in plain
    assert "[id 7\\x1b[2J\\x1b[31mred\\x9b1m\\u202egnp.exe]" in plain
    assert "  note: note \\x1b[2J\\x1b[31mred\\x9b1m\\u202egnp.exe\\r# NOTE" in plain
    change = _plan().changes[0]
    failed = render_outcome(Outcome("posthog-us", change, Status.FAILED, f"HTTP 400: {ANSI}\r"))
    assert not RAW_CONTROL.search(failed)


def test_verify_and_query_output_show_server_text_as_escapes() -> None:
    result = CheckResult("userflux", "userflux/query", EVIL, "query", CheckStatus.FAILED, 0.1,
                         f"failed: 400 {ANSI}\r\n| x |", "definitions/q.yaml:2")  # fmt: skip
    report = VerifyReport((result,))
    for text, shown in (
        (verify_text(report), "\\x1b[2J"),
        (verify_markdown(report), "\\\\x1b\\[2J"),
    ):
        assert not RAW_CONTROL.search(text.replace("\n", ""))
        assert shown in text
    out = io.StringIO()
    write_rows([{"name": ANSI, "n": 1}], "text", out)
    assert not RAW_CONTROL.search(out.getvalue().replace("\n", ""))


def test_error_messages_never_print_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["validate", "--config", f"{ANSI}.yaml"]) == 3
    err = capsys.readouterr().err
    assert err == (
        "Error: no config file at \\x1b[2J\\x1b[31mred\\x9b1m\\u202egnp.exe.yaml "
        "(pass --config PATH)\n"
    )


def test_a_file_name_with_control_characters_is_shown_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metricsync.yaml").write_text(
        "version: 1\ntargets:\n  statsig-prod:\n    provider: statsig\n"
        "    api_key: env:STATSIG_CONSOLE_API_KEY\n    definitions: [definitions]\n"
    )
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "evil\x1b[2J\r.yaml").write_text("kind: nope\n")
    for output_format, shown in (("text", "\\r"), ("github", "%0D")):
        assert run(["validate", "--no-cache", "--format", output_format]) == 3
        out = capsys.readouterr().out
        assert f"evil\\x1b[2J{shown}.yaml" in out
        assert not RAW_CONTROL.search(out.replace("\n", ""))


def test_a_foreign_owner_tag_cannot_forge_a_line_of_the_diff() -> None:
    """The other owner's tag comes from the live object (server text): inside the diff fence
    a line break in it would add a line of its own choosing to what reviewers read."""
    forged = "team-x\n- description: all traffic deleted\x1b[2J"
    change = Change(
        Action.ADOPT, "posthog/saved_metric", "checkout", live_id="7", adopt_from=forged
    )
    plan = Plan((TargetPlan("posthog-us", "posthog", (change,)),), "0" * 64, "2026-01-01T00:00:00Z")
    text = render_markdown(plan)
    assert not RAW_CONTROL.search(text)
    assert "- description: all traffic deleted" not in text.splitlines()
    assert (
        "~ ownership marker team-x\\n- description: all traffic deleted\\x1b[2J replaced by ours"
        in text
    )


@pytest.mark.parametrize(
    "body",
    [
        {"message": "refused\n::error::forged by the server"},
        {"errors": [{"property": "name", "errorMessage": "bad\r\n::error::forged"}]},
        "plain text\n::error::forged",
    ],
)
def test_server_error_text_stays_on_one_line(body: object) -> None:
    """An error body is quoted on the one line that names the failed request: a line break in
    it would start a line of its own on stderr (in CI, a `::` workflow command)."""
    import httpx

    from metricsync.client import excerpt

    if isinstance(body, str):
        response = httpx.Response(400, text=body)
    else:
        response = httpx.Response(400, json=body)
    shown = excerpt(response)
    assert "\n" not in shown and "\r" not in shown
    assert "\\n::error::forged" in shown
