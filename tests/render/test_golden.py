"""Golden renderings of one plan holding every operation type.

Regenerate after an intended change with `METRICSYNC_REGENERATE=1 python -m pytest tests/render`
and review the diff of tests/render/golden/ like any other change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from metricsync.live import LiveObject
from metricsync.plan import (
    ABSENT,
    Action,
    Change,
    FieldChange,
    Lookalike,
    Plan,
    TargetPlan,
    Use,
)
from metricsync.render.markdown import LIMIT, render_markdown
from metricsync.render.plan_json import render_json
from metricsync.render.text import render_plan

GOLDEN = Path(__file__).parent / "golden"


def _plan(description: str = "Share of sessions that purchase") -> Plan:
    owned = LiveObject("statsig/metric", "Old::sum", "Old", {}, owned=True)
    changes = (
        Change(
            Action.CREATE,
            "statsig/metric",
            "Checkout conversion",
            fields=(
                FieldChange("type", ABSENT, "ratio"),
                FieldChange("description", ABSENT, description),
            ),
            source="definitions/statsig/checkout.yaml:2",
        ),
        Change(
            Action.UPDATE,
            "statsig/metric",
            "Revenue (gross)",
            live_id="Revenue::sum",
            previous_name="Revenue",
            fields=(FieldChange("tags", ["a"], ["a", "b"]),),
        ),
        Change(
            Action.ADOPT, "statsig/metric", "add_to_cart", live_id="add_to_cart::sum", adopt=True
        ),
        Change(
            Action.UPDATE,
            "statsig/metric",
            "Checkout revenue",
            live_id="Checkout revenue::sum",
            fields=(FieldChange("description", "Revenue", "Gross revenue"),),
            adopt=True,
            adopt_from="managed-by-team-a",
        ),
        Change(
            Action.UPDATE,
            "statsig/metric",
            "Sessions",
            live_id="Sessions::event_count_custom",
            fields=(FieldChange("description", "", "Visits"),),
            adopt=True,
        ),
        Change(
            Action.REPLACE,
            "statsig/metric",
            "Order value",
            live_id="Order value::sum",
            fields=(FieldChange("type", "sum", "mean"),),
            usage_unknown="lookup failed: HTTP 503",
        ),
        Change(
            Action.UPDATE,
            "statsig/metric",
            "Purchases",
            live_id="Purchases::event_count_custom",
            fields=(FieldChange("metricEvents[0].name", "purchase", "order_paid"),),
            used_by=(Use("checkout_v2", "checkout-v2", "active", True),),
        ),
        Change(
            Action.DELETE,
            "statsig/metric",
            "Old",
            live_id="Old::sum",
            live=owned,
            used_by=(
                Use("checkout_v2", "checkout-v2", "active", True),
                Use("pricing_test", "pricing-test", "assignment_stopped", True),
                Use("old_test", "old-test", "decision_made", False),
            ),
        ),
    )
    statsig = TargetPlan(
        "statsig-prod",
        "statsig",
        changes,
        lookalikes=(
            Lookalike("checkout-conversion", "checkout-conversion::ratio", "Checkout conversion"),
        ),
        notes=("the owner tag 'managed-by-metricsync' is created first",),
        refusals=(
            "'Basket size' (definitions/statsig/basket.yaml:1) matches live object "
            "Basket size::mean, which another repository owns (marker managed-by-team-b); take "
            "it over with --adopt-from managed-by-team-b",
            "'Old' is used by 2 running experiment(s): checkout-v2, pricing-test; deleting it "
            "changes their results (lift it for one run with apply --allow-in-use)",
            "the experiments using 'Order value' are unknown (lookup failed: HTTP 503), so it "
            "counts as in use; not replacing it (lift it for one run with apply --allow-in-use)",
            "deletes 2 > max_deletes 1 (lift with --allow-deletes 2)",
        ),
        api_calls=11,
        lookups=3,
        minimum_seconds=0.0,
        managed_count=3,
    )
    posthog = TargetPlan("posthog-us", "posthog")
    return Plan((statsig, posthog), "0123456789abcdef0123456789abcdef", "2026-11-23T12:00:00Z")


def _check(name: str, rendered: str) -> None:
    path = GOLDEN / name
    if os.environ.get("METRICSYNC_REGENERATE"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_text_rendering_of_every_operation_type() -> None:
    _check("plan.txt", render_plan(_plan()))


def test_markdown_rendering_of_every_operation_type() -> None:
    _check("plan.md", render_markdown(_plan()))


def test_json_rendering_of_every_operation_type() -> None:
    _check("plan.json", render_json(_plan()))


@pytest.mark.parametrize(
    "hostile",
    [
        "</details><img src=x onerror=alert(1)>",
        "```\n# injected heading\n```",
        "@everyone [click](https://evil.example) **bold** | table |",
    ],
)
def test_markdown_escapes_user_text(hostile: str) -> None:
    plan = _plan(description=hostile)
    lookalike = Lookalike(hostile, "x", "Checkout conversion")
    target = plan.targets[0]
    plan = Plan(
        (TargetPlan(target.target, target.platform, target.changes, (lookalike,)),),
        plan.digest,
        plan.created,
    )
    rendered = render_markdown(plan)
    outside_code = re.sub(r"(?ms)^(`{3,})diff\n.*?^\1$", "", rendered)
    assert "<img" not in outside_code and "@everyone" not in outside_code
    assert not re.search(r"(?<!\\)\]\(https://evil", outside_code)  # escaped: no link
    assert "**bold**" not in outside_code
    assert outside_code.count("<details>") == outside_code.count("</details>") == 8
    assert "\n# injected heading" not in outside_code


def test_markdown_degrades_to_the_summary_when_too_long() -> None:
    rendered = render_markdown(_plan(description="x" * 200 * 400))
    assert len(rendered) <= LIMIT
    huge = _plan()
    many = tuple(
        Change(
            Action.CREATE,
            "statsig/metric",
            f"metric {i}",
            fields=(FieldChange("description", ABSENT, "y" * 190),),
        )
        for i in range(2000)
    )
    target = TargetPlan("statsig-prod", "statsig", many)
    rendered = render_markdown(Plan((target,), huge.digest, huge.created))
    assert len(rendered) <= LIMIT
    assert "<details>" not in rendered
    assert "only the summary is shown" in rendered
    assert "**2000 to create, 0 to update, 0 to replace, 0 to delete, 0 to adopt**" in rendered


def test_markdown_risks_of_many_experiments_stay_under_the_comment_limit() -> None:
    """50 deletes each used by 200 running experiments: the risk section alone was over a
    megabyte. Each risk names ten experiments and counts the rest, a refusal listing them all
    is cut visibly, and the risks that do not fit are counted, never dropped silently."""
    users = tuple(
        Use(f"e{i}", f"experiment with a fairly long descriptive name {i:04d}", "active", True)
        for i in range(200)
    )
    changes = tuple(
        Change(Action.DELETE, "statsig/metric", f"metric {d}", live_id=f"m{d}", used_by=users)
        for d in range(50)
    )
    listed = ", ".join(u.name for u in users)
    refusals = tuple(
        f"'metric {d}' is used by 200 running experiment(s): {listed}" for d in range(50)
    )
    many = TargetPlan("statsig-prod", "statsig", changes, refusals=refusals)
    base = _plan()
    rendered = render_markdown(Plan((many,), base.digest, base.created))
    assert len(rendered) <= LIMIT
    assert (
        "used by 200 running experiments: experiment with a fairly long descriptive name 0000, "
        in rendered
    )
    assert "name 0009 and 190 more" in rendered
    assert "… (cut here: the plan artifact has it whole)" in rendered
    assert re.search(r"> - and \d+ more risk\(s\), over the comment limit", rendered)
    assert "| statsig-prod | 0 | 0 | 0 | 50 | 0 |" in rendered
