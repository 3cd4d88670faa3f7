"""A Statsig key without the verify permission: every write carries `isVerified` (the plan
compares it), and whether Statsig refuses an unchanged value from such a key is unconfirmed. The
sandbox plays both answers (`verify_refusal`); metricsync converges under each, and a real change
of the flag is still refused, never dropped."""

from __future__ import annotations

import pytest

from metricsync.apply import Status
from metricsync.platforms.statsig.sandbox.emulator import Statsig
from tests.engine.conftest import Project
from tests.engine.test_scenarios import statsig

REFUSALS = ("change", "any")


def _no_verify(project: Project, refusal: str) -> Statsig:
    sandbox = project.app.platforms["statsig"]
    assert isinstance(sandbox, Statsig)
    sandbox.configure({"can_verify": False, "verify_refusal": refusal})
    return sandbox


@pytest.mark.parametrize("refusal", REFUSALS)
def test_writes_that_leave_is_verified_unchanged_apply_under_both_refusals(
    project: Project, capsys: pytest.CaptureFixture[str], refusal: str
) -> None:
    _no_verify(project, refusal)
    statsig(project, "Revenue total")
    code, out, _ = project.cli("apply", "--yes", capsys=capsys)
    assert (code, "Apply: 1 applied, 0 failed, 0 skipped." in out) == (0, True)
    statsig(project, "Revenue total", description="Net revenue")
    statsig(project, "Orders", file="orders")
    code, out, _ = project.cli("apply", "--yes", capsys=capsys)
    assert (code, "Apply: 2 applied, 0 failed, 0 skipped." in out) == (0, True)
    refused_note = "Statsig refused isVerified from this API key (403)"
    assert (refused_note in out) == (refusal == "any")
    code, out, _ = project.cli("plan", "--detailed-exitcode", capsys=capsys)
    assert (code, out.endswith("No changes.\n")) == (0, True)


@pytest.mark.parametrize("refusal", REFUSALS)
def test_dry_runs_of_such_writes_pass_under_both_refusals(
    project: Project, capsys: pytest.CaptureFixture[str], refusal: str
) -> None:
    statsig(project, "Revenue total")
    project.apply()
    _no_verify(project, refusal)
    statsig(project, "Revenue total", description="Net revenue")
    statsig(project, "Orders", file="orders")
    code, out, _ = project.cli("verify", "--target", "statsig-test", capsys=capsys)
    assert code == 0, out


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_change_of_is_verified_is_still_refused_not_dropped(
    project: Project, refusal: str
) -> None:
    sandbox = _no_verify(project, refusal)
    statsig(project, "Revenue total")
    project.apply()
    metric = sandbox.metrics.find("Revenue total", "sum")
    assert metric is not None
    metric["isVerified"] = True  # verified in the console by someone allowed to
    sandbox.metrics.put(metric)
    [outcome] = project.apply().outcomes
    assert outcome.status == Status.FAILED
    assert outcome.error is not None and "HTTP 403: Forbidden resource" in outcome.error
    assert [f.path for f in project.plan().changes[0].fields] == ["isVerified"]
