"""The sandbox core: faults on both carriers, admin endpoints, request log, seeds, embedded mode."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from metricsync.errors import ConfigError
from metricsync.sandbox.app import ConnectionDropped, SandboxApp
from metricsync.sandbox.embedded import EmbeddedSandbox
from metricsync.sandbox.faults import FaultRule, Faults, faults_from_environment, parse_rule
from metricsync.sandbox.http import Request, Response
from metricsync.sandbox.platform import SandboxPlatform
from metricsync.sandbox.request_log import RequestLog
from metricsync.sandbox.seed import SeedError, apply_seed, seed_from_file
from metricsync.sandbox.store import Store
from metricsync.sandbox.transport import SandboxTransport

ROOT = Path(__file__).resolve().parents[2]
STATSIG = {"STATSIG-API-KEY": "console-sandbox-key"}
METRIC = {
    "name": "checkout_revenue",
    "type": "sum",
    "unitTypes": ["userID"],
    "metricEvents": [{"name": "purchase", "type": "value", "criteria": []}],
}
METRIC_URL = "/console/v1/metrics/checkout_revenue%3A%3Asum"


def create_metric(client: httpx.Client) -> httpx.Response:
    return client.post("/console/v1/metrics", json=METRIC, headers=STATSIG)


def metric_status(app: SandboxApp) -> int:
    return app.route(Request.build("GET", METRIC_URL, STATSIG)).status


def in_process(app: SandboxApp, timeout: float = 5) -> httpx.Client:
    return httpx.Client(
        transport=SandboxTransport(app), base_url="http://sandbox.test", timeout=timeout
    )


def loopback(url: str) -> httpx.Client:
    # plain http on 127.0.0.1: skipping the CA bundle saves ~0.1 s per client
    return httpx.Client(base_url=url, verify=False)


# -- the compact fault syntax ---------------------------------------------------------------


def test_compact_fault_with_method_and_count_parses() -> None:
    rule = parse_rule("POST /console/v1/metrics*=503x2")
    assert rule == FaultRule(path="/console/v1/metrics*", method="POST", status=503, times=2)
    assert rule.spec == "POST /console/v1/metrics*=503x2"


def test_compact_fault_with_retry_after_parses() -> None:
    rule = parse_rule("GET /api/projects/*=429,retry-after=3")
    assert rule == FaultRule(path="/api/projects/*", method="GET", status=429, retry_after=3)


def test_compact_fault_actions_parse() -> None:
    assert parse_rule("/metrics/*=drop") == FaultRule(path="/metrics/*", drop="before")
    assert parse_rule("/x=drop-after x1") == FaultRule(path="/x", drop="after", times=1)
    assert parse_rule("/x=drop-after x1").spec == "/x=drop-after x1"
    assert parse_rule("*=hang:0.5") == FaultRule(hang_s=0.5)
    assert parse_rule("delete /x=latency:40") == FaultRule(
        path="/x", method="DELETE", latency_ms=40
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/x", "expected [METHOD ]GLOB=ACTION"),
        ("/x=teapot", "expected [METHOD ]GLOB=ACTION"),
        ("/x=503,retry=3", "unknown option 'retry=3'"),
        ("/x=200", "status must be 400-599"),
        ("/x=hang:301", "hang_s must be 0-300"),
        ("FETCH /x=500", "method must be one of"),
        ("POST=500", "the path glob must start with / or \\*"),
        ("/x=drop,retry-after=1", "retry_after needs a status"),
    ],
)
def test_bad_fault_spec_is_refused_with_reason(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_rule(spec)


def test_fault_object_form_round_trips_through_json() -> None:
    faults = Faults()
    faults.load({"latency_ms": 5, "rules": [{"method": "post", "path": "/x", "status": 502}]})
    assert faults.to_json() == {
        "latency_ms": 5,
        "rules": [{"path": "/x", "method": "POST", "status": 502}],
    }
    again = Faults()
    again.load(faults.to_json())
    assert again.rules == faults.rules


def test_fault_object_with_unknown_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        Faults().load([{"path": "/x", "status": 500, "colour": "red"}])


# -- faults in process ------------------------------------------------------------------------


def test_status_fault_applies_to_the_next_n_matching_requests_only(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("POST /console/v1/metrics*=503x2")
    with in_process(sandbox_app) as client:
        statuses = [create_metric(client).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert sandbox_app.faults.rules == []


def test_status_fault_ignores_other_methods(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("GET /console/v1/*=500")
    with in_process(sandbox_app) as client:
        assert create_metric(client).status_code == 201
        assert client.get(METRIC_URL, headers=STATSIG).status_code == 500


def test_429_fault_sends_retry_after_only_when_asked(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("/nowhere=429x1,retry-after=3")
    sandbox_app.faults.add("/nowhere=429x1")
    with in_process(sandbox_app) as client:
        first, second = client.get("/nowhere"), client.get("/nowhere")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert (second.status_code, "Retry-After" in second.headers) == (429, False)
    assert second.json() == {"message": "HTTP 429 (sandbox fault)"}


class BarePlatform(SandboxPlatform):
    name = "bare"
    prefixes = ("/bare/",)

    def handle(self, request: Request) -> Response:
        return Response.json(200, {})

    def seed(self, data: dict[str, Any]) -> None:
        pass

    def configure(self, settings: dict[str, Any]) -> None:
        pass

    def credentials(self) -> dict[str, str]:
        return {}


def test_default_error_response_is_generic_json_with_optional_retry_after() -> None:
    platform = BarePlatform(Store())
    throttled, failed = platform.error_response(429, 7), platform.error_response(502, None)
    assert (throttled.status, throttled.payload(), throttled.headers["Retry-After"]) == (
        429,
        {"message": "Too Many Requests"},
        "7",
    )
    assert (failed.status, failed.payload(), "Retry-After" in failed.headers) == (
        502,
        {"message": "Bad Gateway"},
        False,
    )


def test_injected_status_uses_the_owning_platforms_error_response(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("/console/v1/*=503")
    expected = sandbox_app.platforms["statsig"].error_response(503, None)
    with in_process(sandbox_app) as client:
        response = client.get("/console/v1/metrics/list", headers=STATSIG)
    assert (response.status_code, response.content) == (503, expected.body)


def test_drop_before_raises_remote_protocol_error_and_changes_nothing(
    sandbox_app: SandboxApp,
) -> None:
    sandbox_app.faults.add("POST /console/v1/metrics=drop x1")
    with in_process(sandbox_app) as client, pytest.raises(httpx.RemoteProtocolError):
        create_metric(client)
    assert metric_status(sandbox_app) == 404


def test_drop_after_raises_remote_protocol_error_but_the_create_happened(
    sandbox_app: SandboxApp,
) -> None:
    sandbox_app.faults.add("POST /console/v1/metrics=drop-after x1")
    with in_process(sandbox_app) as client, pytest.raises(httpx.RemoteProtocolError):
        create_metric(client)
    assert metric_status(sandbox_app) == 200


def test_hang_beyond_read_timeout_raises_read_timeout_at_once(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("POST /console/v1/metrics=hang:30")
    started = time.perf_counter()
    with in_process(sandbox_app, timeout=2) as client, pytest.raises(httpx.ReadTimeout):
        create_metric(client)
    assert time.perf_counter() - started < 0.5
    assert metric_status(sandbox_app) == 200  # a hang answers late: the request was handled


def test_short_hang_within_timeout_answers_late(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("/nowhere=hang:0.05")
    started = time.perf_counter()
    with in_process(sandbox_app) as client:
        assert client.get("/nowhere").status_code == 404
    assert time.perf_counter() - started >= 0.05


def test_global_and_route_latency_add_up_and_an_error_still_applies(
    sandbox_app: SandboxApp,
) -> None:
    sandbox_app.faults.set_latency(10)
    sandbox_app.faults.add("/nowhere=latency:20")
    sandbox_app.faults.add("/nowhere=500")
    decision = sandbox_app.faults.match("GET", "/nowhere")
    assert (decision.delay_s, decision.label) == (0.03, "latency:10 latency:20 500")
    with in_process(sandbox_app) as client:
        started = time.perf_counter()
        assert client.get("/nowhere").status_code == 500
    assert time.perf_counter() - started >= 0.03


def test_app_handle_raises_connection_dropped_on_a_drop(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("/nowhere=drop")
    with pytest.raises(ConnectionDropped, match="GET /nowhere: drop-before"):
        sandbox_app.handle(Request.build("GET", "/nowhere", {}))


# -- faults over real HTTP --------------------------------------------------------------------


def test_drop_before_over_http_closes_without_answer_and_changes_nothing(
    sandbox_app: SandboxApp, sandbox_http: httpx.Client
) -> None:
    sandbox_app.faults.add("POST /console/v1/metrics=drop x1")
    with pytest.raises(httpx.RemoteProtocolError):
        create_metric(sandbox_http)
    assert sandbox_http.get(METRIC_URL, headers=STATSIG).status_code == 404


def test_drop_after_over_http_closes_without_answer_but_the_create_happened(
    sandbox_app: SandboxApp, sandbox_http: httpx.Client
) -> None:
    sandbox_app.faults.add("POST /console/v1/metrics=drop-after x1")
    with pytest.raises(httpx.RemoteProtocolError):
        create_metric(sandbox_http)
    assert sandbox_http.get(METRIC_URL, headers=STATSIG).status_code == 200


def test_hang_over_http_times_out_the_client(
    sandbox_app: SandboxApp, sandbox_http: httpx.Client
) -> None:
    sandbox_app.faults.add("/nowhere=hang:0.5x1")
    with pytest.raises(httpx.ReadTimeout):
        sandbox_http.get("/nowhere", timeout=0.1)
    assert sandbox_http.get("/nowhere").status_code == 404


def test_status_fault_over_http_sends_retry_after(
    sandbox_app: SandboxApp, sandbox_http: httpx.Client
) -> None:
    sandbox_app.faults.add("GET /api/projects/*=429x1,retry-after=3")
    response = sandbox_http.get("/api/projects/1/experiment_saved_metrics/")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")


# -- admin endpoints --------------------------------------------------------------------------


def test_health_lists_the_platforms(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.get("/_sandbox/health")
    assert response.json() == {
        "status": "ok",
        "platforms": ["statsig", "posthog", "userflux", "unleash"],
    }


def test_faults_endpoint_adds_lists_and_clears(sandbox_client: httpx.Client) -> None:
    added = sandbox_client.post(
        "/_sandbox/faults",
        json={"latency_ms": 5, "rules": ["POST /x=503x2", {"path": "/y", "drop": "after"}]},
    )
    expected = {
        "latency_ms": 5,
        "rules": [
            {"path": "/x", "method": "POST", "status": 503, "times": 2},
            {"path": "/y", "method": "*", "drop": "after"},
        ],
    }
    assert (added.status_code, added.json()) == (200, expected)
    assert sandbox_client.get("/_sandbox/faults").json() == expected
    cleared = sandbox_client.delete("/_sandbox/faults")
    assert cleared.json() == {"latency_ms": 0, "rules": []}


def test_bad_fault_posted_to_admin_is_400_and_adds_nothing(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post("/_sandbox/faults", json=["/x=503", "/y=bogus"])
    assert response.status_code == 400
    assert response.json()["message"].startswith("fault '/y=bogus': expected")
    assert sandbox_client.get("/_sandbox/faults").json() == {"latency_ms": 0, "rules": []}


def test_faults_never_apply_to_admin_endpoints(
    sandbox_app: SandboxApp, sandbox_client: httpx.Client
) -> None:
    sandbox_app.faults.add("*=503")
    assert sandbox_client.get("/_sandbox/health").status_code == 200
    assert sandbox_client.delete("/_sandbox/faults/").status_code == 200
    assert sandbox_client.get("/nowhere").status_code == 404


def test_settings_endpoint_configures_each_platform(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post("/_sandbox/settings", json={"statsig": {"retry_after": False}})
    assert response.status_code == 200
    assert response.json()["statsig"]["retry_after"] is False
    assert sandbox_client.get("/_sandbox/settings").json()["statsig"]["retry_after"] is False


def test_settings_for_an_unknown_platform_is_400(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post("/_sandbox/settings", json={"amplitude": {}})
    assert response.json() == {"message": "unknown platform(s) in settings: amplitude"}
    assert response.status_code == 400


def test_seed_endpoint_adds_objects(sandbox_client: httpx.Client) -> None:
    seeded = sandbox_client.post(
        "/_sandbox/seed",
        json={"statsig": {"metrics": [{"name": "a_metric", "type": "event_count"}]}},
    )
    assert seeded.json() == {"seeded": ["statsig"]}
    listed = sandbox_client.get("/console/v1/metrics/list", headers=STATSIG)
    assert [m["id"] for m in listed.json()["data"]] == ["a_metric::event_count"]


def test_seed_endpoint_names_an_unknown_section(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post("/_sandbox/seed", json={"mixpanel": {}})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "POST /_sandbox/seed: unknown section(s) 'mixpanel' "
        "(expected: statsig, posthog, userflux, unleash, faults)"
    )


def test_invalid_json_to_admin_is_400(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post("/_sandbox/settings", content=b"{not json")
    assert response.status_code == 400


def test_unknown_admin_route_is_404(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.get("/_sandbox/nothing")
    assert (response.status_code, response.json()) == (
        404,
        {"message": "no admin route GET /_sandbox/nothing"},
    )


def test_credentials_endpoint_returns_what_the_platforms_accept(
    sandbox_app: SandboxApp, sandbox_client: httpx.Client
) -> None:
    response = sandbox_client.get("/_sandbox/credentials")
    assert response.json() == sandbox_app.credentials()
    assert response.json()["statsig"] == {"api_key": "console-sandbox-key"}


def test_request_log_records_platform_requests_with_their_fault(
    sandbox_app: SandboxApp, sandbox_client: httpx.Client
) -> None:
    sandbox_app.faults.add("/nowhere=502x1")
    sandbox_client.get("/nowhere")
    sandbox_client.get("/nowhere?page=2")
    sandbox_client.get("/_sandbox/health")
    logged = sandbox_client.get("/_sandbox/requests").json()["requests"]
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in logged] == [
        ("GET", "/nowhere", 502, "502"),
        ("GET", "/nowhere", 404, None),
    ]
    assert all(isinstance(e["duration_ms"], float) for e in logged)
    assert sandbox_client.delete("/_sandbox/requests").json() == {"requests": []}
    assert list(sandbox_app.requests) == []


def test_request_log_records_a_dropped_connection_without_status(sandbox_app: SandboxApp) -> None:
    sandbox_app.faults.add("/nowhere=drop-after")
    with in_process(sandbox_app) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/nowhere")
    [entry] = sandbox_app.requests
    assert (entry.status, entry.fault) == (None, "drop-after")


def test_request_log_keeps_only_the_latest_entries() -> None:
    app = SandboxApp()
    app.requests = RequestLog(size=3)
    for index in range(5):
        app.serve(Request.build("GET", f"/n{index}", {}))
    assert [entry.path for entry in app.requests] == ["/n2", "/n3", "/n4"]


# -- environment ------------------------------------------------------------------------------


def test_environment_sets_latency_and_faults() -> None:
    faults = Faults()
    faults_from_environment(
        faults,
        {
            "METRICSYNC_SANDBOX_LATENCY_MS": "15",
            "METRICSYNC_SANDBOX_FAULTS": json.dumps(["POST /console/v1/metrics*=503x2"]),
        },
    )
    assert faults.latency_ms == 15
    assert [rule.spec for rule in faults.rules] == ["POST /console/v1/metrics*=503x2"]


def test_bad_environment_faults_name_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^METRICSYNC_SANDBOX_FAULTS: Expecting value"):
        faults_from_environment(Faults(), {"METRICSYNC_SANDBOX_FAULTS": "[oops"})
    with pytest.raises(ValueError, match=r"^METRICSYNC_SANDBOX_LATENCY_MS must be an integer"):
        faults_from_environment(Faults(), {"METRICSYNC_SANDBOX_LATENCY_MS": "fast"})


# -- seed files -------------------------------------------------------------------------------


def test_example_seed_file_loads(sandbox_app: SandboxApp) -> None:
    seed_from_file(sandbox_app, ROOT / "docs" / "sandbox" / "seed-example.yaml")
    listed = sandbox_app.route(Request.build("GET", "/console/v1/metrics/list", STATSIG))
    metrics = {m["id"]: m["tags"] for m in listed.payload()["data"]}
    assert metrics["add_to_cart::event_count"] == []
    assert "managed-by-metricsync" in metrics["checkout_revenue::sum"]


def test_seed_file_in_json_with_faults(sandbox_app: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"unleash": {"flags": ["new-checkout"]}, "faults": ["/x=500"]}))
    seed_from_file(sandbox_app, path)
    assert [rule.spec for rule in sandbox_app.faults.rules] == ["/x=500"]


def test_seed_file_with_unknown_section_names_file_line_and_column(
    sandbox_app: SandboxApp, tmp_path: Path
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("unleash:\n  flags: [a]\nstatsigg:\n  metrics: []\n")
    with pytest.raises(ConfigError) as raised:
        seed_from_file(sandbox_app, path)
    assert str(raised.value) == (
        f"{path}:3:1: unknown section(s) 'statsigg' "
        "(expected: statsig, posthog, userflux, unleash, faults)"
    )


def test_seed_file_with_bad_yaml_names_the_file(sandbox_app: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("statsig: [unclosed\n")
    with pytest.raises(SeedError, match=f"^{path}:2:1: invalid YAML"):
        seed_from_file(sandbox_app, path)


def test_seed_file_with_bad_json_names_file_and_position(
    sandbox_app: SandboxApp, tmp_path: Path
) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{"statsig": }')
    with pytest.raises(SeedError, match=f"^{path}:1:13: invalid JSON: Expecting value$"):
        seed_from_file(sandbox_app, path)


def test_seed_that_is_not_a_mapping_is_refused(sandbox_app: SandboxApp, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("- statsig\n")
    with pytest.raises(SeedError, match="a seed file is one mapping of platform names"):
        seed_from_file(sandbox_app, path)


def test_platform_refusal_names_source_and_platform(sandbox_app: SandboxApp) -> None:
    with pytest.raises(SeedError, match=r"^demo\.yaml: unleash: unknown unleash seed section"):
        apply_seed(sandbox_app, {"unleash": {"toggles": []}}, "demo.yaml")
    with pytest.raises(SeedError) as raised:
        apply_seed(sandbox_app, {"statsig": ["a"]}, "demo.yaml")
    assert str(raised.value) == (
        "demo.yaml: 'statsig' must be of type object or null; got array ['a'] [/statsig]"
    )


SHAPES = [None, 1, "x", [], {}, [1], ["x"], [None], [[]], [{}], {"a": 1}, True, 1.5,
          [{"name": 1}], [{"name": "x", "type": 5}], {"x": {}}, {"1": None}, {"1": {"actions": 5}},
          {"production": [{"name": 5}]}, {"1": {"saved_metrics": [{"name": "x", "query": 5}]}},
          [{"name": "x", "type": "sum", "tags": 5}], {"rules": 5}, {"latency_ms": "x"}]  # fmt: skip
SECTIONS = {"statsig": ["metrics", "tags", "settings"], "posthog": ["projects", "settings"],
            "unleash": ["flags", "settings"], "faults": [],
            "userflux": ["predefined_metrics", "events", "settings"]}  # fmt: skip


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_no_seed_of_any_shape_fails_but_as_a_seed_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"seed{suffix}"
    for section, keys in SECTIONS.items():
        seeds = [{section: v} for v in SHAPES] + [{section: {k: v}} for k in keys for v in SHAPES]
        for seed in seeds:
            path.write_text(json.dumps(seed))
            try:
                seed_from_file(SandboxApp(), path)
            except SeedError as error:
                assert str(error).startswith(str(path)), seed
    path.write_text('{"statsig": {"metrics": [{"name": "x", "type": "sum", "d": ' + "[" * 100_000)
    with pytest.raises(SeedError, match=r"nested too deeply|invalid"):
        seed_from_file(SandboxApp(), path)


def test_a_seed_of_the_wrong_shape_is_placed_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("posthog:\n  projects:\n    '1': {actions: 5}\n")
    with pytest.raises(SeedError) as raised:
        seed_from_file(SandboxApp(), path)
    assert str(raised.value) == (
        f"{path}:3:20: 'actions' must be of type array or null; got integer 5 "
        "[/posthog/projects/1/actions]"
    )
    path = tmp_path / "seed.json"
    path.write_text('{"statsig": {"metrics": [{"name": "x", "type": "sum", "v": NaN}]}}')
    with pytest.raises(SeedError, match=f"^{path}: NaN is not a JSON number$"):
        seed_from_file(SandboxApp(), path)


def test_missing_seed_file_is_a_config_error(sandbox_app: SandboxApp, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read seed file .*missing\.yaml: No such file"):
        seed_from_file(sandbox_app, tmp_path / "missing.yaml")


# -- embedded mode ----------------------------------------------------------------------------


def test_embedded_state_persists_between_runs(tmp_path: Path) -> None:
    with EmbeddedSandbox(tmp_path) as sandbox, loopback(sandbox.url) as client:
        assert create_metric(client).status_code == 201
    assert (tmp_path / "sandbox.db").is_file()
    with EmbeddedSandbox(tmp_path) as sandbox, loopback(sandbox.url) as client:
        assert client.get(METRIC_URL, headers=STATSIG).status_code == 200


def test_embedded_in_memory_keeps_nothing(tmp_path: Path) -> None:
    with EmbeddedSandbox.in_memory({}) as sandbox, loopback(sandbox.url) as client:
        assert sandbox.url.startswith("http://127.0.0.1:")
        assert create_metric(client).status_code == 201
    with EmbeddedSandbox.in_memory({}) as sandbox, loopback(sandbox.url) as client:
        assert client.get(METRIC_URL, headers=STATSIG).status_code == 404


def test_embedded_credentials_are_per_platform_config_keys() -> None:
    with EmbeddedSandbox.in_memory({}) as sandbox:
        credentials = sandbox.credentials()
    assert list(credentials) == ["statsig", "posthog", "userflux", "unleash"]
    assert credentials["statsig"] == {"api_key": "console-sandbox-key"}


def test_embedded_reads_faults_from_the_environment() -> None:
    environ = {"METRICSYNC_SANDBOX_FAULTS": '["/nowhere=418"]'}
    with (
        EmbeddedSandbox.in_memory(environ) as sandbox,
        loopback(sandbox.url) as client,
    ):
        assert client.get("/nowhere").status_code == 418


def test_embedded_with_bad_environment_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^METRICSYNC_SANDBOX_LATENCY_MS must be an integer 0-60000, not '-1'$"
    ):
        EmbeddedSandbox.in_memory({"METRICSYNC_SANDBOX_LATENCY_MS": "-1"})


def test_injected_faults_use_each_platform_error_shape(
    sandbox_app: SandboxApp, sandbox_client: httpx.Client
) -> None:
    app = sandbox_app
    app.faults.add("GET /console/v1/metrics/list=429x1,retry-after=2")
    app.faults.add("GET /api/projects/1/experiment_saved_metrics/=503x1")
    statsig = sandbox_client.get(
        "/console/v1/metrics/list", headers={"STATSIG-API-KEY": "console-sandbox-key"}
    )
    assert (statsig.status_code, statsig.json(), statsig.headers["Retry-After"]) == (
        429,
        {"status": 429, "message": "Too Many Requests"},
        "2",
    )
    posthog = sandbox_client.get(
        "/api/projects/1/experiment_saved_metrics/",
        headers={"Authorization": "Bearer phx_sandbox_personal_key"},
    )
    assert (posthog.status_code, posthog.json()) == (
        503,
        {
            "type": "server_error",
            "code": "error",
            "detail": "A server error occurred.",
            "attr": None,
        },
    )
