"""The Unleash emulator as docs/sandbox/unleash.md describes it: routes and stages, then choices."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.platform import SandboxPlatform
from tests.sandbox.conftest import FakeClock

START = 1_772_361_000.0  # 2026-03-01T10:30:00Z
BACKEND = "default:development.17930256c3203ce63cb09cee5dfc0c7fcc2a59ba7d0953d14c4c1989"
FRONTEND = "default:development.7fd0f8c2551e832959eb3787653980c741a9b619edd7fcebca348257"
ADMIN = "*:*.87b8ef11d104c7d685696b5199bc55385045631eb69f2eeccc481835"
PERSONAL = "user:82989db2519c8f5100b4b2f71fed2d942bcd66ddb8f0d5b57c61f884"
AUTH_REQUIRED = {
    "message": "This endpoint requires an API token. Please add an authorization header to your "
    "request with a valid token"
}
WRONG_TYPE = {"message": "invalid token: expected a different token type for this endpoint"}
BAD_DATA = (
    "Request validation failed: your request body or params contain invalid data. "
    "Refer to the `details` list for more information."
)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox" / "unleash.md"


@pytest.fixture
def unleash(sandbox_app: SandboxApp) -> SandboxPlatform:
    return sandbox_app.platforms["unleash"]


def payload(**changes: Any) -> dict[str, Any]:
    """The api/ document's example, its bucket ending 10:20 on the day the clock shows."""
    body: dict[str, Any] = {
        "appName": "metricsync",
        "instanceId": "ci-run-1842",
        "bucket": {
            "start": "2026-03-01T10:00:00Z",
            "stop": "2026-03-01T10:20:00Z",
            "toggles": {
                "new-checkout": {"yes": 25, "no": 42, "variants": {"blue": 6, "green": 19}},
                "dark-mode": {"yes": 0, "no": 100},
            },
        },
    }
    body.update(changes)
    return body


def send(client: httpx.Client, body: Any, secret: str | None = BACKEND) -> httpx.Response:
    headers = {"Authorization": secret} if secret is not None else {}
    return client.post("/api/client/metrics", json=body, headers=headers)


def read(client: httpx.Client, path: str, secret: str = ADMIN) -> Any:
    response = client.get(path, headers={"Authorization": secret})
    assert response.status_code == 200, response.text
    return response.json()


def raw_rows(client: httpx.Client, flag: str, hours_back: int = 1) -> list[dict[str, Any]]:
    url = f"/api/admin/client-metrics/features/{flag}/raw?hoursBack={hours_back}"
    rows: list[dict[str, Any]] = read(client, url)["data"]
    return [row for row in rows if row["yes"] or row["no"]]


def bad_data(response: httpx.Response) -> list[dict[str, str]]:
    """The details of a BadDataError, after checking the envelope around them."""
    body = response.json()
    assert response.status_code == 400
    assert UUID.match(body.pop("id"))
    assert (body["name"], body["message"]) == ("BadDataError", BAD_DATA)
    details: list[dict[str, str]] = body["details"]
    return details


# 1
def test_plain_and_bearer_authorization_are_both_accepted(sandbox_http: httpx.Client) -> None:
    answers = [
        send(sandbox_http, payload(), BACKEND).status_code,
        send(sandbox_http, payload(), f"Bearer {BACKEND}").status_code,
        send(sandbox_http, payload(), f"bearer {BACKEND}").status_code,
    ]

    assert answers == [202, 202, 202]


# 2
def test_no_authorization_header_gets_401_with_only_a_message(sandbox_client: httpx.Client) -> None:
    response = send(sandbox_client, payload(), secret=None)

    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


# 3
def test_unknown_secret_gets_401_and_other_token_kinds_get_403(
    sandbox_client: httpx.Client,
) -> None:
    unknown = send(sandbox_client, payload(), "default:development.0123abcd")
    refused = [
        send(sandbox_client, payload(), secret)
        for secret in ("user:not-even-registered", "*:*.not-registered", FRONTEND, ADMIN, PERSONAL)
    ]

    assert (unknown.status_code, unknown.json()) == (401, AUTH_REQUIRED)
    assert [(r.status_code, r.json()) for r in refused] == [(403, WRONG_TYPE)] * 5


def test_a_secret_tried_before_it_existed_stays_refused_for_five_minutes(
    sandbox_client: httpx.Client, unleash: SandboxPlatform, clock: FakeClock
) -> None:
    late = "default:production.5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9012"
    before = send(sandbox_client, payload(), late)
    unleash.configure({"tokens": {late: {"type": "backend", "environment": "production"}}})
    still_remembered = send(sandbox_client, payload(), late)
    clock.now += 300
    accepted = send(sandbox_client, payload(), late)
    clock.now += 5

    assert [before.status_code, still_remembered.status_code] == [401, 401]
    assert accepted.status_code == 202
    environments = {row["environment"] for row in raw_rows(sandbox_client, "new-checkout")}
    assert environments == {"production"}


# 4
def test_with_auth_off_requests_without_a_header_are_recorded_under_default(
    sandbox_client: httpx.Client, unleash: SandboxPlatform, clock: FakeClock
) -> None:
    unleash.configure({"auth": False})

    response = send(sandbox_client, payload(), secret=None)
    clock.now += 5
    usage = sandbox_client.get("/api/admin/client-metrics/features/new-checkout").json()

    assert response.status_code == 202
    assert usage["lastHourUsage"] == [
        {"environment": "default", "timestamp": "2026-03-01T10:00:00.000Z", "yes": 25, "no": 42}
    ]


# 5
def test_missing_or_non_json_content_type_gets_415(sandbox_client: httpx.Client) -> None:
    auth = {"Authorization": BACKEND}
    body = json.dumps(payload()).encode()
    missing = sandbox_client.post("/api/client/metrics", content=body, headers=auth)
    form = sandbox_client.post(
        "/api/client/metrics", content=body, headers={**auth, "Content-Type": "text/plain"}
    )

    for response, shown in ((missing, "you didn't provide one"), (form, "text/plain")):
        message = (
            f"We do not accept the content-type you provided ({shown}). Try using one of the "
            "content-types we do accept instead (application/json) and make sure the body is in "
            "the corresponding format."
        )
        error = response.json()
        assert response.status_code == 415
        assert UUID.match(error.pop("id"))
        assert error == {
            "name": "ContentTypeError",
            "message": message,
            "details": [{"message": message}],
        }


# 6
def test_malformed_json_gets_400_and_an_oversized_body_413(
    sandbox_client: httpx.Client, unleash: SandboxPlatform
) -> None:
    headers = {"Authorization": BACKEND, "Content-Type": "application/json"}

    def post(content: bytes) -> tuple[int, Any]:
        response = sandbox_client.post("/api/client/metrics", content=content, headers=headers)
        return response.status_code, response.json() if response.content else None

    padded = json.dumps(payload(padding="x" * 102_400)).encode()
    assert post(b'{"appName": ') == (400, {"message": "Expecting value in JSON at position 12"})
    assert post(b"NaN") == (400, {"message": "Unexpected token N in JSON at position 0"})
    assert post(padded) == (413, {"message": "request entity too large"})
    unleash.configure({"max_body_bytes": 1_000_000})
    assert post(padded)[0] == 202


# 7
def test_missing_app_name_gets_bad_data_error(sandbox_client: httpx.Client) -> None:
    body = payload()
    del body["appName"]

    details = bad_data(send(sandbox_client, body))

    assert details == [
        {
            "path": "/body/appName",
            "message": "The `/body/appName` property is required. "
            "It was not present on the data you sent.",
        }
    ]


# 8
@pytest.mark.parametrize(
    ("bucket", "path", "rule"),
    [
        ({"stop": 1, "toggles": {}}, "/body/bucket/start", "required"),
        ({"start": 1, "toggles": {}}, "/body/bucket/stop", "required"),
        ({"start": 1, "stop": 1}, "/body/bucket/toggles", "required"),
        ({"start": 1, "stop": 1, "toggles": {"f": {"yes": -1}}}, "/body/bucket/toggles/f/yes", -1),
        ({"start": 1, "stop": 1, "toggles": {"f": {"no": 1.5}}}, "/body/bucket/toggles/f/no", 1.5),
        (
            {"start": 1, "stop": 1, "toggles": {"f": {"variants": {"a/b": 0.5}}}},
            "/body/bucket/toggles/f/variants/a~1b",
            0.5,
        ),
        ({"start": "yesterday", "stop": 1, "toggles": {}}, "/body/bucket/start", "yesterday"),
        ({"start": 1, "stop": "2026-03-01T10:00:00", "toggles": {}}, "/body/bucket/stop", None),
    ],
)
def test_bucket_problems_get_400(
    sandbox_client: httpx.Client, bucket: dict[str, Any], path: str, rule: Any
) -> None:
    details = bad_data(send(sandbox_client, payload(bucket=bucket)))

    assert [detail["path"] for detail in details] == [path]
    if rule == "required":
        assert details[0]["message"].endswith(
            "is required. It was not present on the data you sent."
        )
    elif rule is not None:
        assert details[0]["message"].endswith(f"You sent {json.dumps(rule)}.")


# 9
def test_a_handler_failure_gets_an_empty_400(
    sandbox_client: httpx.Client, unleash: SandboxPlatform
) -> None:
    empty_app_name = send(sandbox_client, payload(appName=""))  # schema passes, handler refuses
    unleash.configure({"fail_handler": True})
    injected = send(sandbox_client, payload(appName="injected"))

    for response in (empty_app_name, injected):
        assert (response.status_code, response.content) == (400, b"")
        assert "content-type" not in response.headers
    assert read(sandbox_client, "/api/admin/metrics/applications") == {
        "applications": [
            {
                "appName": "injected",
                "usage": [{"project": "default", "environments": ["development"]}],
            }
        ],
        "total": 1,
    }


# 10
def test_a_valid_payload_gets_an_empty_202_without_rate_limit_headers(
    sandbox_http: httpx.Client,
) -> None:
    response = send(sandbox_http, payload())

    assert response.status_code == 202
    assert response.content == b""
    assert [name for name in response.headers if name.startswith("ratelimit")] == []
    assert "content-type" not in response.headers


# 11
def test_bucket_may_be_left_out_in_v8_but_not_in_v7(
    sandbox_client: httpx.Client, unleash: SandboxPlatform
) -> None:
    without = {"appName": "metricsync"}
    v8 = [send(sandbox_client, without), send(sandbox_client, {**without, "bucket": None})]
    unleash.configure({"api_version": "v7"})
    v7_missing = send(sandbox_client, without)
    v7_null = send(sandbox_client, {**without, "bucket": None})

    assert [r.status_code for r in v8] == [202, 202]
    assert [d["path"] for d in bad_data(v7_missing)] == ["/body/bucket"]
    assert bad_data(v7_null)[0]["message"] == (
        "The `/body/bucket` property must be object. You sent null."
    )


# 12
def test_unknown_keys_are_ignored_and_the_body_environment_is_not_used(
    sandbox_client: httpx.Client, clock: FakeClock
) -> None:
    body = payload(environment="production", connectionId="c-1", sdkFlavor="flask")
    body["bucket"]["toggles"]["new-checkout"]["impressions"] = 3

    response = send(sandbox_client, body)
    clock.now += 5

    assert response.status_code == 202
    assert raw_rows(sandbox_client, "new-checkout") == [
        {
            "featureName": "new-checkout",
            "appName": "metricsync",
            "environment": "development",
            "timestamp": "2026-03-01T10:00:00.000Z",
            "yes": 25,
            "no": 42,
            "variants": {"blue": 6, "green": 19},
        }
    ]


# 13
def test_zero_count_toggles_are_not_recorded_and_keep_last_seen(
    sandbox_client: httpx.Client, clock: FakeClock
) -> None:
    zero = payload()
    zero["bucket"]["toggles"] = {"search-v2": {"yes": 0, "no": 0, "variants": {"a": 4}}}

    response = send(sandbox_client, zero)
    clock.now += 5

    assert response.status_code == 202
    assert raw_rows(sandbox_client, "search-v2") == []
    feature = read(sandbox_client, "/api/admin/projects/default/features/search-v2")
    assert feature["lastSeenAt"] is None
    assert feature["environments"] == [{"name": "development", "lastSeenAt": None}]
    assert read(sandbox_client, "/api/admin/metrics/unknown-flags") == {"unknownFlags": []}


def test_non_zero_counts_set_last_seen(sandbox_client: httpx.Client) -> None:
    send(sandbox_client, payload())

    feature = read(sandbox_client, "/api/admin/projects/default/features/dark-mode")

    assert feature == {
        "name": "dark-mode",
        "project": "default",
        "lastSeenAt": "2026-03-01T10:30:00.000Z",
        "environments": [{"name": "development", "lastSeenAt": "2026-03-01T10:30:00.000Z"}],
    }


# 14
def test_unknown_flags_are_reported_not_recorded(
    sandbox_client: httpx.Client, clock: FakeClock
) -> None:
    body = payload()
    body["bucket"]["toggles"] = {"ghost-flag": {"yes": 3, "no": 1}}

    response = send(sandbox_client, body)
    clock.now += 5

    assert response.status_code == 202
    assert raw_rows(sandbox_client, "ghost-flag") == []
    assert read(sandbox_client, "/api/admin/metrics/unknown-flags") == {
        "unknownFlags": [
            {
                "name": "ghost-flag",
                "lastSeenAt": "2026-03-01T10:30:00.000Z",
                "reports": [
                    {
                        "appName": "metricsync",
                        "environments": [
                            {"environment": "development", "seenAt": "2026-03-01T10:30:00.000Z"}
                        ],
                    }
                ],
            }
        ]
    }
    clock.now += 24 * 3600
    assert read(sandbox_client, "/api/admin/metrics/unknown-flags") == {"unknownFlags": []}


def test_seeded_flags_are_known(sandbox_client: httpx.Client, unleash: SandboxPlatform) -> None:
    unleash.seed({"flags": ["ghost-flag", {"name": "beta-banner", "project": "web"}]})
    body = payload()
    body["bucket"]["toggles"] = {"ghost-flag": {"yes": 3}, "beta-banner": {"no": 2}}
    unleash.configure({"flush_delay_seconds": 0})

    send(sandbox_client, body)

    assert [r["yes"] for r in raw_rows(sandbox_client, "ghost-flag")] == [3]
    assert [r["no"] for r in raw_rows(sandbox_client, "beta-banner")] == [2]
    assert read(sandbox_client, "/api/admin/projects/web/features/beta-banner")["project"] == "web"


# 15
def test_same_payload_twice_doubles_the_counts(
    sandbox_client: httpx.Client, clock: FakeClock
) -> None:
    answers = [send(sandbox_client, payload()).status_code for _ in range(2)]
    clock.now += 5

    rows = raw_rows(sandbox_client, "new-checkout")

    assert answers == [202, 202]
    assert [(r["yes"], r["no"], r["variants"]) for r in rows] == [
        (50, 84, {"blue": 12, "green": 38})
    ]


# 16
def test_integer_timestamps_are_milliseconds_and_only_stop_places_the_row(
    sandbox_client: httpx.Client, clock: FakeClock
) -> None:
    in_milliseconds = payload()
    in_milliseconds["bucket"].update(start=1_700_000_000_000, stop=1_772_356_200_000)  # 09:10
    in_seconds = payload()
    in_seconds["bucket"].update(start=1_772_356_200, stop=1_772_359_800)  # read as January 1970

    answers = [send(sandbox_client, body).status_code for body in (in_milliseconds, in_seconds)]
    clock.now += 5

    assert answers == [202, 202]
    rows = raw_rows(sandbox_client, "new-checkout", hours_back=48)
    assert [(r["timestamp"], r["yes"]) for r in rows] == [("2026-03-01T09:00:00.000Z", 25)]


# 17
def test_read_back_needs_an_admin_credential_and_has_the_documented_shapes(
    sandbox_client: httpx.Client, clock: FakeClock
) -> None:
    send(sandbox_client, payload())
    clock.now += 5
    usage_path = "/api/admin/client-metrics/features/new-checkout"

    refusals = [
        sandbox_client.get(usage_path, headers={"Authorization": BACKEND}),
        sandbox_client.get(usage_path),
    ]
    usage = read(sandbox_client, usage_path, PERSONAL)
    raw = read(sandbox_client, f"{usage_path}/raw?hoursBack=2")

    assert [(r.status_code, r.json()) for r in refusals] == [
        (403, WRONG_TYPE),
        (401, AUTH_REQUIRED),
    ]
    assert usage == {
        "version": 1,
        "maturity": "stable",
        "featureName": "new-checkout",
        "lastHourUsage": [
            {
                "environment": "development",
                "timestamp": "2026-03-01T10:00:00.000Z",
                "yes": 25,
                "no": 42,
            }
        ],
        "seenApplications": ["metricsync"],
    }
    assert raw["version"] == 1 and raw["maturity"] == "stable"
    assert [(r["timestamp"], r["yes"], r["variants"]) for r in raw["data"]] == [
        ("2026-03-01T09:00:00.000Z", 0, {}),
        ("2026-03-01T10:00:00.000Z", 25, {"blue": 6, "green": 19}),
    ]
    for hours_back in ("0", "49", "many", ""):
        fallback = read(sandbox_client, f"{usage_path}/raw?hoursBack={hours_back}")
        assert len(fallback["data"]) == 24, hours_back


# 18
def test_counts_appear_only_after_the_flush_delay(
    sandbox_http: httpx.Client, clock: FakeClock
) -> None:
    send(sandbox_http, payload())

    right_after = raw_rows(sandbox_http, "new-checkout")
    clock.now += 4.9
    almost = raw_rows(sandbox_http, "new-checkout")
    clock.now += 0.1
    flushed = raw_rows(sandbox_http, "new-checkout")

    assert right_after == almost == []
    assert [(r["yes"], r["no"]) for r in flushed] == [(25, 42)]


# 19
def test_over_the_rate_limit_gets_429_and_nothing_is_counted(
    sandbox_client: httpx.Client, unleash: SandboxPlatform, clock: FakeClock
) -> None:
    assert unleash.describe_settings()["rate_limit_per_minute"] == 6000
    unleash.configure({"rate_limit_per_minute": 3, "flush_delay_seconds": 0})

    answers = [send(sandbox_client, payload()) for _ in range(4)]
    clock.now += 60
    after_window = send(sandbox_client, payload())

    assert [r.status_code for r in answers] == [202, 202, 202, 429]
    limited = answers[3]
    assert limited.text == "Too many requests, please try again later."
    assert limited.headers["retry-after"] == "60"
    assert limited.headers["ratelimit-limit"] == "3"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert limited.headers["ratelimit-reset"] == "60"
    assert after_window.status_code == 202
    assert [r["yes"] for r in raw_rows(sandbox_client, "new-checkout")] == [100]


# 20
def test_metrics_disabled_answers_204_and_records_nothing(
    sandbox_client: httpx.Client, unleash: SandboxPlatform, clock: FakeClock
) -> None:
    unleash.configure({"metrics_disabled": True})

    response = send(sandbox_client, payload())
    clock.now += 5

    assert (response.status_code, response.content) == (204, b"")
    assert raw_rows(sandbox_client, "new-checkout") == []
    assert read(sandbox_client, "/api/admin/metrics/applications")["applications"] == []


def test_the_application_instance_is_registered(sandbox_client: httpx.Client) -> None:
    send(sandbox_client, payload(sdkVersion="metricsync:0.1.0"))

    application = read(sandbox_client, "/api/admin/metrics/applications/metricsync")

    assert application == {
        "appName": "metricsync",
        "instances": [
            {
                "instanceId": "ci-run-1842",
                "clientIp": "127.0.0.1",
                "lastSeen": "2026-03-01T10:30:00.000Z",
                "sdkVersion": "metricsync:0.1.0",
                "environment": "development",
            }
        ],
        "seenToggles": [],  # rows are not flushed yet
    }


def test_every_setting_is_documented_with_its_current_value(unleash: SandboxPlatform) -> None:
    text = DOCS.read_text(encoding="utf-8")

    for name, value in unleash.describe_settings().items():
        if isinstance(value, dict):
            assert f"| `{name}` |" in text, name
            assert all(f"`{key}`" in text for key in value), name
        else:
            assert f"| `{name}` | `{json.dumps(value)}` |" in text, name


def test_configure_rejects_unknown_or_invalid_settings(unleash: SandboxPlatform) -> None:
    with pytest.raises(ValueError, match=r"unknown unleash setting\(s\): flush"):
        unleash.configure({"flush": 0})
    with pytest.raises(ValueError, match=r"a backend token names one environment \(not '\*'\)"):
        unleash.configure({"tokens": {"*:*.x": {"type": "backend", "environment": "*"}}})
    with pytest.raises(ValueError, match=r"api_version must be one of v8, v7, got 'v9'"):
        unleash.configure({"api_version": "v9"})


def test_an_injected_429_looks_like_the_rate_limiter(
    sandbox_client: httpx.Client, sandbox_app: SandboxApp
) -> None:
    sandbox_app.faults.add("POST /api/client/metrics=429x1,retry-after=30")

    limited = send(sandbox_client, payload())

    assert (limited.status_code, limited.text) == (
        429,
        "Too many requests, please try again later.",
    )
    assert limited.headers["retry-after"] == "30"
    assert send(sandbox_client, payload()).status_code == 202
