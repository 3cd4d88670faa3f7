"""The sandbox as a hostile server (hostile fault actions): against each, a plan fails clearly,
within its deadline, naming the target, and no credential reaches any other server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from metricsync.sandbox.app import Reply, SandboxApp
from metricsync.sandbox.faults import parse_rule, rule_from
from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.server import SandboxServer
from tests.engine.conftest import POSTHOG_KEY, STATSIG_KEY, Project, config_text
from tests.engine.test_scenarios import live_metric, seed_statsig

STATSIG_LIST = "/console/v1/metrics/list"
POSTHOG_LIST = "/api/projects/12345/experiment_saved_metrics/"


@pytest.fixture
def elsewhere() -> Iterator[SandboxServer]:
    """Another server on another port: a client that follows a link there is caught by its log."""
    with SandboxServer(SandboxApp()) as server:
        yield server


def plan(project: Project, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    started = time.monotonic()
    code, out, err = project.cli("plan", *args, capsys=capsys)
    assert time.monotonic() - started < 60, "the run outlived its deadline"
    assert STATSIG_KEY not in out + err and POSTHOG_KEY not in out + err
    return code, err


@pytest.mark.parametrize(
    ("target", "path"), [("statsig-test", STATSIG_LIST), ("posthog-test", POSTHOG_LIST)]
)
def test_next_links_to_another_origin_are_refused_and_it_hears_nothing(
    project: Project,
    elsewhere: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    target: str,
    path: str,
) -> None:
    project.app.faults.add(f"GET {path}=foreign-next:{elsewhere.url}")
    code, err = plan(project, capsys)
    assert code == 1
    assert err.startswith(f"Error: {target}: refused a link to {elsewhere.url} (GET ")
    assert err.endswith(f"its credentials are only sent to {project.url}\n")
    assert list(elsewhere.app.requests) == []


def test_a_redirect_to_another_origin_is_refused_and_it_hears_nothing(
    project: Project, elsewhere: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {STATSIG_LIST}=redirect:{elsewhere.url}")
    code, err = plan(project, capsys)
    assert code == 1
    assert err == (
        f"Error: statsig-test: GET {project.url}{STATSIG_LIST} was redirected to "
        f"{elsewhere.url}; not followed: its credentials are only sent to {project.url}\n"
    )
    assert list(elsewhere.app.requests) == []


def test_a_trickling_answer_fails_at_the_run_deadline(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {POSTHOG_LIST}=trickle:120")
    code, err = plan(project, capsys, "--timeout", "2")
    assert code == 1
    assert err == (
        "Error: posthog-test: the run's deadline (--timeout 2) passed during GET "
        f"{project.url}{POSTHOG_LIST}; nothing more is sent\n"
    )


def test_endless_pages_fail_at_the_run_deadline(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {STATSIG_LIST}=endless")
    code, err = plan(project, capsys, "--timeout", "2")
    assert code == 1
    assert err.startswith("Error: statsig-test: the run's deadline (--timeout 2) passed during GET")
    assert project.sent("GET", STATSIG_LIST) > 2  # it did follow the links, until the deadline


@pytest.mark.parametrize("path", [STATSIG_LIST, POSTHOG_LIST])
def test_circular_pages_are_an_error(
    project: Project, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    project.app.faults.add(f"GET {path}=cyclic")
    code, err = plan(project, capsys)
    assert code == 1
    assert "the list's next-page links go round in a circle" in err


def test_an_oversized_answer_is_refused_unread(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {STATSIG_LIST}=oversize:300")
    code, err = plan(project, capsys)
    assert code == 1
    assert err == (
        f"Error: statsig-test: GET {project.url}{STATSIG_LIST} failed with HTTP 200: "
        "the answer is larger than 256 MiB; not read\n"
    )


def test_an_html_page_instead_of_json_is_named_as_such(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {POSTHOG_LIST}=html")
    code, err = plan(project, capsys)
    assert code == 1
    assert err == (
        f"Error: posthog-test: GET {project.url}{POSTHOG_LIST} failed with HTTP 200: "
        "unexpected response body: an HTML page, not the platform's JSON (a proxy or sign-in "
        "page?); check the URL\n"
    )


def test_nan_in_a_json_answer_is_a_clear_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {STATSIG_LIST}=nan")
    code, err = plan(project, capsys)
    assert code == 1
    assert err.startswith(
        f"Error: statsig-test: GET {project.url}{STATSIG_LIST} failed with HTTP 200: "
        "unexpected response body: JSON is malformed"
    )


def test_a_retry_after_longer_than_the_deadline_fails_at_once_saying_so(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {STATSIG_LIST}=429,retry-after=20")
    code, err = plan(project, capsys, "--timeout", "5")
    assert code == 1
    assert re.fullmatch(
        f"Error: statsig-test: GET {project.url}{STATSIG_LIST} must wait 20 s \\(Retry-After\\), "
        r"more than the [\d.]+ s left of the run's deadline \(--timeout 5\); giving up\n",
        err,
    )
    assert project.sent("GET", STATSIG_LIST) == 1


def test_a_wait_for_retry_after_is_said_on_stderr(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {POSTHOG_LIST}=429x1,retry-after=1")
    code, err = plan(project, capsys)
    assert code == 0
    assert err == "posthog-test: waiting 1 s (Retry-After)\n"


def test_hostile_actions_are_fault_rules_like_the_others() -> None:
    rule = parse_rule("GET /console/*=redirect:http://127.0.0.1:9 x2")
    assert (rule.hostile, rule.times, rule.spec) == (
        "redirect:http://127.0.0.1:9",
        2,
        "GET /console/*=redirect:http://127.0.0.1:9 x2",
    )
    assert rule_from({"path": "/api/*", "hostile": "trickle:30"}).action == "trickle:30"
    for wrong, message in [
        ("/x=redirect:ftp://h", "redirect needs an origin, scheme://host[:port]"),
        ("/x=foreign-next:http://h/path", "foreign-next needs an origin"),
        ("/x=trickle:0", "trickle needs seconds 0-300"),
        ("/x=oversize:99999", "oversize needs mebibytes 1-4096"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_rule(wrong)
    with pytest.raises(ValueError, match="unknown hostile action 'endless:3'"):
        rule_from({"path": "/x", "hostile": "endless:3"})


def test_the_deadline_error_names_the_request_as_other_errors_do_without_its_query(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add(f"GET {STATSIG_LIST}=endless")
    code, err = plan(project, capsys, "--timeout", "1")
    assert (code, err) == (
        1,
        "Error: statsig-test: the run's deadline (--timeout 1) passed during GET "
        f"{project.url}{STATSIG_LIST}; nothing more is sent\n",
    )


STATSIG_METRIC = {"id": "m1", "name": "m1", "type": "event_count_custom", "tags": []}
POSTHOG_METRIC = {"id": 1, "name": "m1", "query": {}}
COUNTED = {"totalItems": 5, "itemsPerPage": 1, "nextPage": f"{STATSIG_LIST}?page=2"}


def _statsig_page(**pagination: Any) -> dict[str, Any]:
    return {"data": [STATSIG_METRIC], "pagination": {**COUNTED, **pagination}}


def _posthog_page(**envelope: Any) -> dict[str, Any]:
    return {"results": [POSTHOG_METRIC], "count": 5, "next": "/x?offset=1", **envelope}


@pytest.mark.parametrize(
    ("path", "answer", "reason"),
    [
        (POSTHOG_LIST, _posthog_page(count="5"), "Expected `int | null`, got `str` - at `$.count`"),
        (POSTHOG_LIST, _posthog_page(count=[]), "got `array` - at `$.count`"),
        (POSTHOG_LIST, _posthog_page(count=True), "got `bool` - at `$.count`"),
        (POSTHOG_LIST, _posthog_page(count=2.5), "got `float` - at `$.count`"),
        (POSTHOG_LIST, _posthog_page(count=-5), "Expected `int` >= 0 - at `$.count`"),
        (POSTHOG_LIST, _posthog_page(count=None, next=5), "got `int` - at `$.next`"),
        (STATSIG_LIST, {"data": [], "pagination": "x"}, "got `str` - at `$.pagination`"),
        (STATSIG_LIST, {"data": {}, "pagination": {}}, "got `object` - at `$.data`"),
        (STATSIG_LIST, _statsig_page(totalItems="5"), "at `$.pagination.totalItems`"),
        (STATSIG_LIST, _statsig_page(itemsPerPage=True), "at `$.pagination.itemsPerPage`"),
        (STATSIG_LIST, _statsig_page(totalItems=-5), "at `$.pagination.totalItems`"),
        (STATSIG_LIST, _statsig_page(nextPage=7), "at `$.pagination.nextPage`"),
        (STATSIG_LIST, _statsig_page(nextPage=["a"]), "at `$.pagination.nextPage`"),
        ("/console/v1/tags", [], "Expected `object`, got `array`"),
        ("/console/v1/tags", {"data": "x"}, "got `str` - at `$.data`"),
        ("/console/v1/tags", {"data": [], "pagination": []}, "at `$.pagination`"),
    ],
)
def test_a_list_page_of_any_wrong_shape_fails_naming_target_request_and_field(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    answer: Any,
    reason: str,
) -> None:
    """Counts, links and lists of another type than the API's are refused at the page, naming
    the field: never a crash ('unexpected TypeError'), never a count read as something else."""
    serve = project.app.serve

    def hostile(request: Request) -> Any:
        return Reply(Response.json(200, answer)) if request.path == path else serve(request)

    monkeypatch.setattr(project.app, "serve", hostile)
    code, err = plan(project, capsys)
    target = "posthog-test" if path == POSTHOG_LIST else "statsig-test"
    assert code == 1
    assert err.startswith(
        f"Error: {target}: GET {project.url}{path} failed with HTTP 200: unexpected response body: "
    )
    assert reason in err


@pytest.mark.parametrize(
    ("path", "answer", "held"),
    [
        (POSTHOG_LIST, _posthog_page(count=0), 1),
        (
            STATSIG_LIST,
            {"data": [STATSIG_METRIC] * 2, "pagination": {**COUNTED, "totalItems": 1}},
            2,
        ),
    ],
)
def test_a_count_below_the_first_page_that_links_on_is_refused_not_read_as_one_page(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    answer: Any,
    held: int,
) -> None:
    """Read by its count, such a list would end at its first page and a prune would delete
    whatever the pages after it hold."""
    serve = project.app.serve

    def hostile(request: Request) -> Any:
        return Reply(Response.json(200, answer)) if request.path == path else serve(request)

    monkeypatch.setattr(project.app, "serve", hostile)
    code, err = plan(project, capsys)
    counted = answer["count"] if path == POSTHOG_LIST else 1
    target = "posthog-test" if path == POSTHOG_LIST else "statsig-test"
    assert (code, err) == (
        1,
        f"Error: {target}: the list counts {counted} objects, but its first page alone holds "
        f"{held} and links a next page; stopped before reading a list that contradicts itself\n",
    )


@pytest.mark.parametrize(
    ("path", "answer", "reason"),
    [
        ("/console/v1/metrics/*/experiments", [], "Expected `object`, got `array`"),
        ("/console/v1/metrics/*/experiments", {"data": "x"}, "at `$.data`"),
        ("/console/v1/metrics/*/experiments", "not json", "JSON is malformed"),
        (
            "/console/v1/metrics/*/experiments",
            {"data": [], "pagination": {"nextPage": 5}},
            "at `$.pagination.nextPage`",
        ),
    ],
)
def test_an_experiment_lookup_of_any_wrong_shape_leaves_usage_unknown_not_a_crash(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: str,
    answer: Any,
    reason: str,
) -> None:
    """A delete's usage lookup answered in a shape the API never sends: the plan treats the
    object as in use, saying why, instead of ending in 'unexpected AttributeError'."""
    from fnmatch import fnmatch

    project.write("metricsync.yaml", config_text(project.url, prune=True))
    seed_statsig(project, live_metric("Refund total"))
    serve = project.app.serve

    def hostile(request: Request) -> Any:
        if request.method == "GET" and fnmatch(request.path, path):
            body = answer if isinstance(answer, str) else json.dumps(answer)
            return Reply(Response(200, body.encode(), {"Content-Type": "application/json"}))
        return serve(request)

    monkeypatch.setattr(project.app, "serve", hostile)
    code, out, err = project.cli("plan", "--target", "statsig-test", capsys=capsys)
    assert "unexpected" not in err.replace("unexpected response body", "")
    assert code == 5  # an object whose usage is unknown is treated as in use: refused
    assert "used by: unknown, so treated as in use (lookup failed: statsig-test: GET " in out
    assert reason in out


def test_a_create_answered_with_something_other_than_an_object_fails_naming_the_request(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(
        "definitions/posthog/checkout.yaml",
        """\
        kind: posthog/saved_metric
        name: Checkout
        spec:
          query: {kind: ExperimentMetric, metric_type: mean, source: {kind: EventsNode, event: x}}
        """,
    )
    serve = project.app.serve

    def hostile(request: Request) -> Any:
        if (request.method, request.path) == ("POST", POSTHOG_LIST):
            return Reply(Response.json(201, ["not", "a", "metric"]))
        return serve(request)

    monkeypatch.setattr(project.app, "serve", hostile)
    code, _, err = project.cli("apply", "--yes", "--target", "posthog-test", capsys=capsys)
    assert code == 1
    assert (
        "  failed  posthog-test: create posthog/saved_metric 'Checkout': posthog-test: POST "
        f"{project.url}{POSTHOG_LIST} failed with HTTP 201: unexpected response body: Expected "
        "`object`, got `array`\n"
    ) in err
