"""Plans as a pull-request comment: summary and risk flags first, one collapsible section per
object, user text escaped, and always under GitHub's comment limit (degrading, never cutting)."""

from __future__ import annotations

import html
import re

from metricsync.display import printable
from metricsync.plan import Action, Change, Plan
from metricsync.render.text import SYMBOLS
from metricsync.render.usage import usage_risk, used_by_line
from metricsync.render.values import duration, show, summary_counts

LIMIT = 65_000
RESERVED = 1_000  # the degraded plan's note and footer, and the last risk line's count
RISK_NAMES = 10  # experiments named in one risk line; the rest are counted
RISK_TEXT = 1_000  # characters of a refusal or note shown in the risk section
TITLE = "### metricsync plan"


def render_markdown(plan: Plan) -> str:
    head = _summary(plan)
    full = head + "".join(_details(c) for c in plan.changes) + _footer(plan)
    if len(full) <= LIMIT:
        return full
    note = (
        f"\n> The full plan is {len(full):,} characters, over the {LIMIT:,}-character comment "
        "limit, so only the summary is shown. The complete plan is in the plan artifact "
        "(`metricsync plan --format text`).\n"
    )
    return head + note + _footer(plan)


def _summary(plan: Plan) -> str:
    lines = [TITLE, ""]
    lines.append(f"**{summary_counts(plan.changes)}**" if plan.changes else "**No changes.**")
    table = ["", "| target | create | update | replace | delete | adopt | API calls | at least |"]
    table.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t in plan.targets:
        counts = [str(t.count(a)) for a in Action]
        row = [_text(t.target), *counts, str(t.api_calls), duration(t.minimum_seconds)]
        table.append("| " + " | ".join(row) + " |")
    risks = _risks(plan)
    if risks:
        # the summary is what remains when the plan is too long: its risks must fit with it
        room = LIMIT - len("\n".join([*lines, *table])) - RESERVED
        lines += ["", "> [!WARNING]", *_fitting([f"> - {risk}" for risk in risks], room)]
    return "\n".join([*lines, *table]) + "\n\n"


def _fitting(risks: list[str], room: int) -> list[str]:
    """As many risk lines as fit in `room` characters, in order, then one that counts the rest:
    never silently cut."""
    kept: list[str] = []
    for risk in risks:
        room -= len(risk) + 1
        if room < 0:
            break
        kept.append(risk)
    if len(kept) < len(risks):
        kept.append(
            f"> - and {len(risks) - len(kept)} more risk(s), over the comment limit: the "
            "complete plan is in the plan artifact (`metricsync plan --format text`)"
        )
    return kept


def _risks(plan: Plan) -> list[str]:
    risks = [f"**refused**: {_text(_shortened(r))}" for r in plan.refusals]
    # e.g. an --adopt-from that matched nothing: a flag left in CI is seen where it is reviewed
    risks += [
        f"**warning**: {_text(_shortened(w.removeprefix('Warning: ')))}" for w in plan.warnings
    ]
    for t in plan.targets:
        for change in t.changes:
            risk = usage_risk(change, lambda n: f"`{_code(n)}`", _text, RISK_NAMES)
            if risk is not None:
                risks.append(f"`{_code(t.target)}`: {risk}")
        risks += [
            f"adopt from {_text(c.adopt_from)} on `{_code(t.target)}`: {_text(c.name)} "
            "(another repository's object, taken over by --adopt-from)"
            for c in t.changes
            if c.adopt_from
        ]
        if t.count(Action.DELETE):
            risks.append(f"{t.count(Action.DELETE)} delete(s) on `{_code(t.target)}`")
        if t.count(Action.REPLACE):
            risks.append(f"{t.count(Action.REPLACE)} replace(s) on `{_code(t.target)}`")
        risks += [
            f"possible duplicate on `{_code(t.target)}`: {_text(lk.name)} resembles "
            f"{_text(lk.resembles)}"
            for lk in t.lookalikes
        ]
        risks += [f"`{_code(t.target)}`: {_text(_shortened(note))}" for note in t.notes]
    return risks


def _shortened(text: str) -> str:
    """A refusal or note (which may list every experiment using an object) cut visibly."""
    if len(text) <= RISK_TEXT:
        return text
    return text[: RISK_TEXT - 1] + "… (cut here: the plan artifact has it whole)"


def _details(change: Change) -> str:
    symbol, _ = SYMBOLS[change.action]
    title = f"<code>{html.escape(symbol)}</code> {change.action.value} {_html(change.kind)} "
    title += f"<b>{_html(change.name)}</b>"
    if change.previous_name:
        title += f" (renamed from {_html(change.previous_name)})"
    if change.adopt_from:
        title += f" (adopt from {_html(change.adopt_from)})"
    body = [
        f"{symbol} {printable(f.path)}: {_field(change, f.before, f.after)}" for f in change.fields
    ]
    if change.adopt_from:
        body.append(f"~ ownership marker {printable(change.adopt_from)} replaced by ours")
    elif change.action == Action.ADOPT:
        body.append("~ ownership marker added")
    used_by = used_by_line(change)
    if used_by is not None:
        body.append(f"! {printable(used_by)}")
    text = "\n".join(body) or "(no field changes)"
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"<details><summary>{title}</summary>\n\n{fence}diff\n{text}\n{fence}\n\n</details>\n"


def _field(change: Change, before: object, after: object) -> str:
    return show(after) if change.action == Action.CREATE else f"{show(before)} → {show(after)}"


def _footer(plan: Plan) -> str:
    return f"\n<sub>metricsync plan {plan.digest[:12]} · {plan.created}</sub>\n"


def _text(value: str) -> str:
    """User text outside code: no HTML, no markdown emphasis, links or tables, no @-mentions,
    no control characters (a carriage return must not start a heading or end a block)."""
    escaped = html.escape(printable(value), quote=False)
    escaped = re.sub(r"([\\`*_\[\]|~])", r"\\\1", escaped)
    return escaped.replace("@", "&#64;")


def _html(value: str) -> str:
    """User text inside an HTML element (<summary>), where GitHub reads no markdown: escaped as
    HTML only, so a name shows as written (`saved_metric`, not `saved\\_metric`)."""
    return html.escape(printable(value), quote=False).replace("@", "&#64;")


def _code(value: str) -> str:
    return printable(value).replace("`", "'")


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
