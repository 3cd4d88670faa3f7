"""The UserFlux emulator as docs/sandbox/userflux.md describes it: routes and queries, then choices."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from metricsync.platforms.userflux.sandbox.events import EVENT_NAMES
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.platform import SandboxPlatform
from tests.sandbox.conftest import FakeClock

START = 1_772_359_200.0  # 2026-03-01T10:00:00Z
SECRET = "uf-sandbox-client-secret"
TEST_KEY = "uf-sandbox-test-key"
PROD_KEY = "uf-sandbox-prod-key"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox" / "userflux.md"
# The vendor's own example body: SELECT timestamp, userId, name FROM eventsTable
#   WHERE name = 'purchase' LIMIT 10
VENDOR_EXAMPLE = (
    "U0VMRUNUIHRpbWVzdGFtcCwgdXNlcklkLCBuYW1lIEZST00gZXZlbnRzVGFibGUgV0hFUkUgbmFtZSA9ICdwdXJjaGF"
    "zZScgTElNSVQgMTA="
)
COUNT_PURCHASES = "SELECT COUNT(*) AS purchases FROM eventsTable WHERE name = 'purchase'"


@pytest.fixture
def userflux(sandbox_app: SandboxApp) -> SandboxPlatform:
    return sandbox_app.platforms["userflux"]


def get_token(client: httpx.Client, key: str = TEST_KEY) -> str:
    response = client.post(
        "/metrics/auth/token", json={"clientSecret": SECRET, "environmentApiKey": key}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def encode(sql: str) -> str:
    return base64.b64encode(sql.encode()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_sql(client: httpx.Client, token: str, sql: str, **extra: Any) -> httpx.Response:
    body = {"encodedQuery": encode(sql), **extra}
    return client.post("/metrics/query", json=body, headers=bearer(token))


def run_metric(
    client: httpx.Client, token: str, metric_id: str, variables: dict[str, Any]
) -> httpx.Response:
    body = {"variables": variables}
    return client.post(f"/metrics/query/{metric_id}", json=body, headers=bearer(token))


# 1
def test_token_exchange_returns_a_token_and_its_lifetime(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post(
        "/metrics/auth/token", json={"clientSecret": SECRET, "environmentApiKey": TEST_KEY}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert sorted(body) == ["expiresIn", "token"]
    assert body["expiresIn"] == 900
    assert isinstance(body["token"], str) and len(body["token"]) >= 32


def test_token_response_field_names_are_configurable(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    userflux.configure({"token_field": "access_token", "expires_field": "expires_in"})
    renamed = sandbox_client.post(
        "/metrics/auth/token", json={"clientSecret": SECRET, "environmentApiKey": TEST_KEY}
    ).json()
    userflux.configure({"expires_field": None})
    bare = sandbox_client.post(
        "/metrics/auth/token", json={"clientSecret": SECRET, "environmentApiKey": TEST_KEY}
    ).json()

    assert sorted(renamed) == ["access_token", "expires_in"]
    assert list(bare) == ["access_token"]
    assert run_sql(sandbox_client, bare["access_token"], "SELECT 1 AS one").status_code == 200


# 2
def test_wrong_secret_or_key_gets_the_configured_status(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    def exchange(secret: str, key: str) -> httpx.Response:
        body = {"clientSecret": secret, "environmentApiKey": key}
        return sandbox_client.post("/metrics/auth/token", json=body)

    wrong_secret = exchange("not-the-secret", TEST_KEY)
    wrong_key = exchange(SECRET, "uf-unknown-key")
    userflux.configure({"bad_credentials_status": 403})
    configured = exchange("not-the-secret", TEST_KEY)

    refusal = {"error": "invalid client secret or environment API key"}
    assert (wrong_secret.status_code, wrong_secret.json()) == (401, refusal)
    assert (wrong_key.status_code, wrong_key.json()) == (401, refusal)
    assert (configured.status_code, configured.json()) == (403, refusal)


def test_token_request_missing_a_field_gets_400(sandbox_client: httpx.Client) -> None:
    response = sandbox_client.post("/metrics/auth/token", json={"clientSecret": SECRET})

    assert response.status_code == 400
    assert response.json() == {"error": "`environmentApiKey` is required and must be a string"}


# 3
def test_queries_without_a_known_bearer_token_get_the_configured_status(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    token = get_token(sandbox_client)
    body = {"encodedQuery": encode("SELECT 1")}
    attempts = [
        sandbox_client.post("/metrics/query", json=body),
        sandbox_client.post("/metrics/query", json=body, headers=bearer("made-up")),
        sandbox_client.post("/metrics/query", json=body, headers={"Authorization": token}),
        sandbox_client.post("/metrics/query/daily-active-users", json={"variables": {}}),
    ]
    userflux.configure({"bad_token_status": 403})
    configured = sandbox_client.post("/metrics/query", json=body)

    refusal = {"error": "missing, unknown or expired token"}
    assert [(r.status_code, r.json()) for r in attempts] == [(401, refusal)] * 4
    assert (configured.status_code, configured.json()) == (403, refusal)


# 4
def test_a_token_older_than_its_lifetime_is_rejected(
    sandbox_client: httpx.Client, clock: FakeClock, userflux: SandboxPlatform
) -> None:
    token = get_token(sandbox_client)
    clock.now += 899
    fresh = run_sql(sandbox_client, token, "SELECT 1 AS one")
    clock.now += 1
    expired = run_sql(sandbox_client, token, "SELECT 2 AS two")
    userflux.configure({"token_ttl_seconds": 60})
    short_lived = get_token(sandbox_client)
    clock.now += 60

    assert fresh.status_code == 200
    assert (expired.status_code, expired.json()) == (
        401,
        {"error": "missing, unknown or expired token"},
    )
    assert run_sql(sandbox_client, short_lived, "SELECT 3").status_code == 401


# 5
def test_raw_sql_returns_rows_in_the_data_envelope(sandbox_http: httpx.Client) -> None:
    token = get_token(sandbox_http)

    response = sandbox_http.post(
        "/metrics/query", json={"encodedQuery": VENDOR_EXAMPLE}, headers=bearer(token)
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    rows = response.json()["data"]
    assert len(rows) == 10
    assert rows[0] == {
        "timestamp": "2026-02-01T05:31:00.767Z",
        "userId": "user-00207",
        "name": "purchase",
    }
    assert {row["name"] for row in rows} == {"purchase"}


def test_dot_notation_reads_event_properties(sandbox_client: httpx.Client) -> None:
    token = get_token(sandbox_client)
    sql = (
        "SELECT e.name, ufProperties.urlPath AS pagePath, e.ufProperties.amount AS amount,\n"
        "  'ufProperties.urlPath' AS literal FROM eventsTable e\n"
        "WHERE name = 'purchase' ORDER BY timestamp LIMIT 1"
    )

    response = run_sql(sandbox_client, token, sql)

    assert response.json() == {
        "data": [
            {
                "name": "purchase",
                "pagePath": "/checkout/complete",
                "amount": 11.11,
                "literal": "ufProperties.urlPath",
            }
        ]
    }


# 6
def test_bad_base64_or_unknown_table_gets_the_configured_status(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    token = get_token(sandbox_client)

    def post(encoded: str) -> tuple[int, Any]:
        body = {"encodedQuery": encoded}
        response = sandbox_client.post("/metrics/query", json=body, headers=bearer(token))
        return response.status_code, response.json()

    not_base64 = {"error": "encodedQuery is not standard base64 of UTF-8 text"}
    assert post("not base64!") == (400, not_base64)
    assert post("U0VMRUNUICc-Pj4nIEFTIHg=") == (400, not_base64)  # URL-safe alphabet
    assert post("U0VMRUNUIDE") == (400, not_base64)  # padding missing
    assert post(encode("SELECT * FROM ordersTable")) == (
        400,
        {"error": "no such table: ordersTable"},
    )
    assert post(encode("SELECT revenue FROM eventsTable")) == (
        400,
        {"error": "no such column: revenue"},
    )
    assert post(encode("SELECT FROM eventsTable")) == (400, {"error": 'near "FROM": syntax error'})
    userflux.configure({"bad_request_status": 422})
    assert post("not base64!") == (422, not_base64)


def test_only_one_read_only_select_can_run(sandbox_client: httpx.Client) -> None:
    token = get_token(sandbox_client)

    def error_of(sql: str) -> tuple[int, Any]:
        response = run_sql(sandbox_client, token, sql)
        return response.status_code, response.json()

    not_select = {"error": "only a single SELECT statement (optionally WITH … SELECT) can be run"}
    not_authorized = {"error": "not authorized: queries may only read (a single SELECT statement)"}
    assert error_of("DELETE FROM eventsTable") == (400, not_select)
    assert error_of("/* hidden */ PRAGMA writable_schema = 1") == (400, not_select)
    assert error_of("WITH doomed AS (SELECT 1) DELETE FROM eventsTable") == (400, not_authorized)
    assert error_of("SELECT 1; DROP TABLE eventsTable") == (
        400,
        {"error": "You can only execute one statement at a time."},
    )
    count = run_sql(sandbox_client, token, "SELECT COUNT(*) AS n FROM eventsTable")
    assert count.json() == {"data": [{"n": 3000}]}


def test_a_runaway_query_is_aborted_after_its_time_budget(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    userflux.configure({"query_time_budget_seconds": 0.05})
    token = get_token(sandbox_client)
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT max(x) FROM n"

    response = run_sql(sandbox_client, token, endless)

    assert response.status_code == 400
    assert response.json() == {"error": "query exceeded its time budget of 0.05 s"}


# 7
def test_predefined_metric_substitutes_variables(sandbox_client: httpx.Client) -> None:
    token = get_token(sandbox_client)

    daily = run_metric(sandbox_client, token, "daily-active-users", {"eventName": "purchase"})
    revenue = run_metric(sandbox_client, token, "revenue-by-currency", {"minAmount": 100})
    unknown = run_metric(sandbox_client, token, "weekly-churn", {})

    assert daily.status_code == 200
    assert daily.json()["data"][:2] == [
        {"day": "2026-02-01", "activeUsers": 3},
        {"day": "2026-02-02", "activeUsers": 3},
    ]
    assert revenue.json() == {
        "data": [
            {"currency": "EUR", "revenue": 1915.73, "purchases": 10},
            {"currency": "GBP", "revenue": 1101.55, "purchases": 5},
            {"currency": "USD", "revenue": 3977.42, "purchases": 24},
        ]
    }
    assert (unknown.status_code, unknown.json()) == (404, {"error": "unknown metric weekly-churn"})


def test_seeded_predefined_metric_runs_and_unknown_status_is_configurable(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    sql = "SELECT name FROM eventsTable WHERE name = '@{eventName}' LIMIT @{rowLimit}"
    userflux.seed(
        {
            "predefined_metrics": [{"id": "recent-events", "sql": sql}],
            "settings": {"unknown_metric_status": 400},
        }
    )
    token = get_token(sandbox_client)

    seeded = run_metric(
        sandbox_client, token, "recent-events", {"eventName": "signup", "rowLimit": 2}
    )
    unknown = run_metric(sandbox_client, token, "weekly-churn", {})

    assert seeded.json() == {"data": [{"name": "signup"}, {"name": "signup"}]}
    assert unknown.status_code == 400


# 8
def test_a_placeholder_without_a_variable_follows_the_configured_rule(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    token = get_token(sandbox_client)

    rejected = run_metric(sandbox_client, token, "daily-active-users", {"other": 1})
    no_variables = sandbox_client.post(
        "/metrics/query/daily-active-users", json={}, headers=bearer(token)
    )
    userflux.configure({"missing_variable": "keep"})
    kept = run_metric(sandbox_client, token, "daily-active-users", {})

    assert rejected.status_code == 400
    assert rejected.json() == {"error": "no value in variables for placeholder(s) @{eventName}"}
    assert no_variables.json() == {"error": "`variables` is required and must be an object"}
    assert (kept.status_code, kept.json()) == (200, {"data": []})  # name = '@{eventName}'


# 9
def test_variables_sent_with_raw_sql_follow_the_configured_rule(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    token = get_token(sandbox_client)
    sql = "SELECT '@{eventName}' AS literal"

    ignored = run_sql(sandbox_client, token, sql, variables={"eventName": "purchase"})
    userflux.configure({"raw_sql_variables": "substitute"})
    # Another body: the cache would answer the same body with the result it already holds.
    substituted = run_sql(sandbox_client, token, sql, variables={"eventName": "signup"})

    assert ignored.json() == {"data": [{"literal": "@{eventName}"}]}
    assert substituted.json() == {"data": [{"literal": "signup"}]}


# 10
def test_an_identical_body_within_the_ttl_returns_the_cached_result(
    sandbox_client: httpx.Client, userflux: SandboxPlatform, clock: FakeClock
) -> None:
    token = get_token(sandbox_client)
    before = run_sql(sandbox_client, token, COUNT_PURCHASES)
    late_purchase = {"timestamp": "2026-02-28T23:00:00.000Z", "name": "purchase", "userId": "u1"}
    userflux.seed({"events": {"Test": [late_purchase]}})

    cached = run_sql(sandbox_client, token, COUNT_PURCHASES)
    one_character_more = run_sql(sandbox_client, token, COUNT_PURCHASES + " ")
    clock.now += 300
    expired = run_sql(sandbox_client, token, COUNT_PURCHASES)

    assert before.json() == {"data": [{"purchases": 79}]}
    assert cached.content == before.content
    assert one_character_more.json() == {"data": [{"purchases": 80}]}
    assert expired.json() == {"data": [{"purchases": 80}]}


# 11
def test_the_cache_ttl_is_configurable_but_not_below_five_minutes(
    sandbox_client: httpx.Client, userflux: SandboxPlatform, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match=r"cache_ttl_seconds must be a number >= 300, got 299"):
        userflux.configure({"cache_ttl_seconds": 299})
    userflux.configure({"cache_ttl_seconds": 600})
    token = get_token(sandbox_client)
    run_sql(sandbox_client, token, COUNT_PURCHASES)
    userflux.seed({"events": {"Test": [{"timestamp": "2026-02-28T23:00:00Z", "name": "purchase"}]}})

    clock.now += 599
    still_cached = run_sql(sandbox_client, token, COUNT_PURCHASES)
    clock.now += 1
    fresh = run_sql(sandbox_client, token, COUNT_PURCHASES)

    assert still_cached.json() == {"data": [{"purchases": 79}]}
    assert fresh.json() == {"data": [{"purchases": 80}]}


# 12
def test_a_caller_outside_the_keys_ip_allow_list_gets_403(
    sandbox_http: httpx.Client, userflux: SandboxPlatform
) -> None:
    userflux.configure(
        {
            "api_keys": {
                "uf-office-key": {"environment": "Test", "allowed_ips": ["192.0.2.0/24"]},
                "uf-loopback-key": {"environment": "Test", "allowed_ips": ["127.0.0.1"]},
            }
        }
    )
    office = sandbox_http.post(
        "/metrics/auth/token", json={"clientSecret": SECRET, "environmentApiKey": "uf-office-key"}
    )
    token = get_token(sandbox_http, "uf-loopback-key")
    allowed = run_sql(sandbox_http, token, "SELECT 1 AS one")
    userflux.configure(
        {"api_keys": {"uf-loopback-key": {"environment": "Test", "allowed_ips": ["192.0.2.7"]}}}
    )
    moved = run_sql(sandbox_http, token, "SELECT 2 AS two")

    forbidden = {"error": "Forbidden: 127.0.0.1 is not allowed to use this API key"}
    assert (office.status_code, office.json()) == (403, forbidden)
    assert allowed.json() == {"data": [{"one": 1}]}
    assert (moved.status_code, moved.json()) == (403, forbidden)


# 13
def test_production_and_test_keys_see_separate_data(
    sandbox_client: httpx.Client, userflux: SandboxPlatform
) -> None:
    userflux.seed(
        {"events": {"Production": [{"timestamp": "2026-02-28T23:00:00Z", "name": "refund"}]}}
    )
    count = "SELECT COUNT(*) AS events, COUNT(DISTINCT userId) AS users FROM eventsTable"

    test = run_sql(sandbox_client, get_token(sandbox_client, TEST_KEY), count)
    production = run_sql(sandbox_client, get_token(sandbox_client, PROD_KEY), count)

    assert test.json() == {"data": [{"events": 3000, "users": 226}]}
    assert production.json() == {"data": [{"events": 6001, "users": 704}]}


# 14
def test_no_other_route_or_method_exists(sandbox_http: httpx.Client) -> None:
    token = get_token(sandbox_http)
    attempts = [
        ("GET", "/metrics"),
        ("POST", "/metrics"),
        ("GET", "/metrics/query/daily-active-users"),
        ("PUT", "/metrics/query/daily-active-users"),
        ("DELETE", "/metrics/query/daily-active-users"),
        ("GET", "/metrics/query"),
        ("DELETE", "/metrics/query"),
        ("GET", "/metrics/auth/token"),
        ("POST", "/metrics/metrics"),
        ("POST", "/metrics/query/daily-active-users/run"),
    ]

    for method, path in attempts:
        response = sandbox_http.request(method, path, headers=bearer(token), json={})
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error": f"no route {method} {path}"}


# 15
def test_rate_limiting_is_off_by_default_and_answers_429_when_on(
    sandbox_client: httpx.Client, userflux: SandboxPlatform, clock: FakeClock
) -> None:
    token = get_token(sandbox_client)
    unlimited = [run_sql(sandbox_client, token, "SELECT 1").status_code for _ in range(50)]
    userflux.configure({"rate_limit_requests": 2, "rate_limit_window_seconds": 60})
    limited = [run_sql(sandbox_client, token, "SELECT 1") for _ in range(3)]
    other_token = run_sql(sandbox_client, get_token(sandbox_client), "SELECT 1")
    clock.now += 60
    after_window = run_sql(sandbox_client, token, "SELECT 1")

    assert unlimited == [200] * 50
    assert [r.status_code for r in limited] == [200, 200, 429]
    assert limited[2].json() == {"error": "rate limit exceeded"}
    assert limited[2].headers["retry-after"] == "60"
    assert other_token.status_code == 200
    assert after_window.status_code == 200


# 16
def test_every_setting_is_documented_with_its_current_value(userflux: SandboxPlatform) -> None:
    text = DOCS.read_text(encoding="utf-8")

    for name, value in userflux.describe_settings().items():
        if isinstance(value, dict):
            assert f"| `{name}` |" in text, name
            assert all(f"`{key}`" in text for key in value), name
        else:
            assert f"| `{name}` | `{json.dumps(value)}` |" in text, name


def test_events_table_counts_match_the_documentation(sandbox_client: httpx.Client) -> None:
    sql = "SELECT name, COUNT(*) AS events FROM eventsTable GROUP BY name ORDER BY name"

    test = run_sql(sandbox_client, get_token(sandbox_client, TEST_KEY), sql).json()["data"]
    production = run_sql(sandbox_client, get_token(sandbox_client, PROD_KEY), sql).json()["data"]

    assert [row["name"] for row in test] == sorted(EVENT_NAMES)
    text = DOCS.read_text(encoding="utf-8")
    for test_row, production_row in zip(test, production, strict=True):
        name = test_row["name"]
        assert f"| `{name}` | {test_row['events']} | {production_row['events']} |" in text


def test_configure_rejects_unknown_or_invalid_settings(userflux: SandboxPlatform) -> None:
    with pytest.raises(ValueError, match=r"unknown userflux setting\(s\): cache, ttl"):
        userflux.configure({"ttl": 1, "cache": 2})
    with pytest.raises(ValueError, match=r"api_keys.k.environment must be one of Test, Production"):
        userflux.configure({"api_keys": {"k": {"environment": "Staging"}}})
    with pytest.raises(ValueError, match=r"userflux metric id must be URL-safe, got 'a b'"):
        userflux.seed({"predefined_metrics": [{"id": "a b", "sql": "SELECT 1"}]})


def test_injected_faults_answer_in_the_error_shape(
    sandbox_client: httpx.Client, sandbox_app: SandboxApp
) -> None:
    sandbox_app.faults.add("POST /metrics/query=503x1,retry-after=7")
    token = get_token(sandbox_client)

    faulted = run_sql(sandbox_client, token, "SELECT 1")

    assert faulted.status_code == 503
    assert list(faulted.json()) == ["error"]
    assert faulted.headers["retry-after"] == "7"
    assert run_sql(sandbox_client, token, "SELECT 1").status_code == 200
