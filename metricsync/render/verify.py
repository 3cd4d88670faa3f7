"""Verify reports as text, a pull-request comment (markdown) or versioned JSON: one line per
check with its timing and, on failure, the definition's file:line and the platform's words."""

from __future__ import annotations

import html
import json
import re
from itertools import groupby

from metricsync.display import printable
from metricsync.verify import CheckResult, Status, VerifyReport

FORMAT_VERSION = 1
LIMIT = 65_000  # GitHub's comment limit, as for plans
TITLE = "### metricsync verify"
MARKS = {Status.PASSED: "ok", Status.FAILED: "FAIL", Status.SKIPPED: "skip"}
ICONS = {Status.PASSED: "✅", Status.FAILED: "❌", Status.SKIPPED: "⏭️"}


def render(report: VerifyReport, output_format: str) -> str:
    if output_format == "json":
        return render_json(report)
    if output_format == "markdown":
        return render_markdown(report)
    return render_text(report)


def summary(report: VerifyReport) -> str:
    if not report.results:
        return "Nothing to verify."
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in Status)
    return f"Verify: {counts}."


def render_text(report: VerifyReport) -> str:
    lines: list[str] = []
    for target, results in groupby(report.results, key=lambda r: r.target):
        lines.append(f"Target {target}")
        for r in results:
            what = f"{r.check} {r.name!r}" if r.name else r.check
            outcome = "" if r.status == Status.FAILED else f": {r.detail}"
            line = f"  {MARKS[r.status]:<4}  {what}{outcome} ({_seconds(r.seconds)})"
            lines.append(printable(line))
            if r.status == Status.FAILED:
                lines.append(printable(f"        {r.source or target}: {r.detail}"))
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def render_json(report: VerifyReport) -> str:
    document = {
        "format_version": FORMAT_VERSION,
        "passed": report.exit_code == 0,
        "summary": {s.value: report.count(s) for s in Status},
        "results": [
            {
                "target": r.target,
                "kind": r.kind or None,
                "name": r.name or None,
                "check": r.check,
                "status": r.status.value,
                "seconds": round(r.seconds, 3),
                "detail": r.detail,
                "source": r.source,
            }
            for r in report.results
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_markdown(report: VerifyReport) -> str:
    """Failures first; when the whole table would pass the comment limit, failures only, and
    when even those would, the summary and a note (never a silent cut)."""
    ordered = sorted(report.results, key=lambda r: r.status != Status.FAILED)
    head = f"{TITLE}\n\n**{summary(report)}**\n"
    full = head + _table(ordered)
    if len(full) <= LIMIT:
        return full
    failed = (
        head + _note("only the failed checks are") + _table(ordered[: report.count(Status.FAILED)])
    )
    return failed if len(failed) <= LIMIT else head + _note("no check is")


def _note(shown: str) -> str:
    return (
        f"\n> The full report is over the {LIMIT:,}-character comment limit, so {shown} shown; "
        "`metricsync verify --format text` prints every check.\n"
    )


def _table(results: list[CheckResult]) -> str:
    if not results:
        return ""
    lines = ["", "| | target | check | definition | time | result |", "|---|---|---|---|---:|---|"]
    for r in results:
        where = f"`{_code(r.source)}` " if r.source and r.status == Status.FAILED else ""
        cells = [ICONS[r.status], _cell(r.target), r.check, _cell(r.name), _seconds(r.seconds)]
        lines.append("| " + " | ".join([*cells, where + _cell(r.detail)]) + " |")
    return "\n".join(lines) + "\n"


def _seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def _cell(value: str) -> str:
    """User and platform text in a table cell: no HTML, markdown syntax, pipes or mentions."""
    escaped = re.sub(r"([\\`*_\[\]|~])", r"\\\1", html.escape(printable(value), quote=False))
    return escaped.replace("@", "&#64;")


def _code(value: str) -> str:
    return printable(value).replace("`", "'")
