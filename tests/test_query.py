"""The UserFlux client and `metricsync query`: one token per run, one renewal on 401/403, rows
decoded while they stream, hostile values kept inside their literals, rows as text, JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from metricsync.config import Policy, Target
from metricsync.platforms.userflux.binding import Query, bind
from metricsync.platforms.userflux.client import (
    AuthenticationFailed,
    UnexpectedResponse,
    UserFluxClient,
    iter_rows,
    token_from,
)
from metricsync.platforms.userflux.sandbox.settings import CLIENT_SECRET, TEST_KEY
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.server import SandboxServer
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import Project

CREDENTIALS = {"client_secret": CLIENT_SECRET, "environment_api_key": TEST_KEY}
COUNT_SQL = "SELECT COUNT(*) AS n FROM eventsTable WHERE name = '@{name}'"
HOSTILE_NAME = "O'Brien'; DROP TABLE eventsTable; --"


def target(url: str = "http://sandbox.test", **credentials: str) -> Target:
    fixed = {**CREDENTIALS, **credentials}
    return Target("uf", "userflux", (), url, Policy(), {}, {}, fixed)


def token_requests(app: SandboxApp) -> int:
    return sum(1 for r in app.requests if r.path == "/metrics/auth/token")


@pytest.fixture
def app() -> SandboxApp:
    return SandboxApp()


@pytest.fixture
def client(app: SandboxApp) -> Iterator[UserFluxClient]:
    with UserFluxClient(target(), SandboxTransport(app)) as session:
        yield session


def test_one_token_serves_every_query_of_a_run(app: SandboxApp, client: UserFluxClient) -> None:
    assert client.run_sql(bind(COUNT_SQL, {"name": "purchase"})) == [{"n": 79}]
    assert client.run_sql(bind(COUNT_SQL, {"name": "signup"})) == [{"n": 147}]
    assert len(client.run_metric("revenue-by-currency", {"minAmount": 100})) == 3
    assert token_requests(app) == 1
    assert client.token_requests == 1


def test_a_refused_token_is_renewed_once(app: SandboxApp, client: UserFluxClient) -> None:
    client.run_sql(bind(COUNT_SQL, {"name": "purchase"}))
    app.faults.add("POST /metrics/query=401x1")
    assert client.run_sql(bind(COUNT_SQL, {"name": "signup"})) == [{"n": 147}]
    assert token_requests(app) == 2


def test_an_expired_token_is_renewed() -> None:
    now = [1_772_000_000.0]
    app = SandboxApp(clock=lambda: now[0])
    with UserFluxClient(target(), SandboxTransport(app)) as client:
        client.run_sql(bind(COUNT_SQL, {"name": "purchase"}))
        now[0] += 901  # past the sandbox's 900 s token lifetime
        assert client.run_sql(bind(COUNT_SQL, {"name": "signup"})) == [{"n": 147}]
    assert [r.status for r in app.requests] == [200, 200, 401, 200, 200]


def test_a_fresh_token_refused_too_fails_clearly(app: SandboxApp, client: UserFluxClient) -> None:
    app.faults.add("POST /metrics/query=401x2")
    with pytest.raises(AuthenticationFailed) as caught:
        client.run_sql("SELECT 1 AS one")
    assert str(caught.value) == (
        "uf: POST http://sandbox.test/metrics/query failed with HTTP 401: Unauthorized; "
        "UserFlux refused a token it had just issued"
    )
    assert token_requests(app) == 2


def test_refused_credentials_are_asked_for_once_per_run(app: SandboxApp) -> None:
    with UserFluxClient(target(client_secret="wrong-secret"), SandboxTransport(app)) as client:
        for _ in range(2):
            with pytest.raises(AuthenticationFailed) as caught:
                client.run_sql("SELECT 1 AS one")
            assert str(caught.value) == (
                "uf: POST http://sandbox.test/metrics/auth/token failed with HTTP 401: invalid "
                "client secret or environment API key; the token exchange was refused: check "
                "client_secret and environment_api_key"
            )
            assert "wrong-secret" not in str(caught.value)
    assert token_requests(app) == 1


def test_an_address_outside_the_allow_list_is_named_as_the_cause(app: SandboxApp) -> None:
    allowed = {TEST_KEY: {"environment": "Test", "allowed_ips": ["10.0.0.0/8"]}}
    app.configure({"userflux": {"api_keys": allowed}})
    client = UserFluxClient(target(), SandboxTransport(app))
    with client, pytest.raises(AuthenticationFailed) as caught:
        client.run_sql("SELECT 1 AS one")
    assert str(caught.value).endswith(
        "failed with HTTP 403: Forbidden: 127.0.0.1 is not allowed to use this API key; the token "
        "exchange was refused: this address is not on the environment API key's IP allow-list"
    )


def test_an_sql_error_carries_the_platforms_message(client: UserFluxClient) -> None:
    with pytest.raises(Exception, match="HTTP 400: no such table: ordersTable"):
        client.run_sql("SELECT * FROM ordersTable")


def test_a_hostile_value_stays_inside_its_literal_on_the_server(app: SandboxApp) -> None:
    event = {"timestamp": "2026-02-28T23:00:00.000Z", "name": HOSTILE_NAME, "anonymousId": "a-1"}
    app.seed({"userflux": {"events": {"Test": [event]}}})
    with UserFluxClient(target(), SandboxTransport(app)) as client:
        assert client.run_sql(bind(COUNT_SQL, {"name": "x' OR '1'='1"})) == [{"n": 0}]
        assert client.run_sql(bind(COUNT_SQL, {"name": HOSTILE_NAME})) == [{"n": 1}]
        assert client.run_sql(bind("SELECT COUNT(*) AS n FROM eventsTable", {})) == [{"n": 3001}]


@pytest.mark.parametrize(
    ("body", "field", "token"),
    [
        ({"token": "t-1", "expiresIn": 900}, None, "t-1"),
        ({"accessToken": "t-2", "expires": 60}, None, "t-2"),
        ({"data": {"jwt": "t-3"}, "kind": "bearer"}, "data.jwt", "t-3"),
    ],
)
def test_the_token_is_found_whatever_the_response_shape(
    body: object, field: str | None, token: str
) -> None:
    assert token_from(body, field) == token


def test_an_ambiguous_token_response_names_fields_not_values() -> None:
    with pytest.raises(UnexpectedResponse) as caught:
        token_from({"token": "secret-1", "refresh": "secret-2"}, None)
    assert str(caught.value) == (
        "cannot tell which field of the token response is the token (fields: refresh, token); "
        "expected exactly one string field"
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"data": [{"a": 1}, {"a": 22.5, "b": "x,]}"}, 333, [4], null, true]}',
        '  [ {"a": "\\u00e9"} , 12345 ]  ',
        '{"meta": {"n": [1]}, "data": [], "more": 1}',
        '{"meta": {"n": 1}, "rows": [{"a": 1}, {"a": 2}]}',
    ],
)
def test_rows_decode_identically_wherever_the_chunks_split(text: str) -> None:
    parsed = json.loads(text)
    expected = parsed if isinstance(parsed, list) else parsed.get("data", parsed.get("rows"))
    for cut in range(len(text) + 1):
        for size in (1, 3, 7):
            chunks = [text[:cut]] + [text[i : i + size] for i in range(cut, len(text), size)]
            assert list(iter_rows(chunks)) == expected, (cut, size)


def test_rows_arrive_before_the_response_ends() -> None:
    produced: list[int] = []

    def body() -> Iterator[bytes]:
        yield b'{"data": [{"n": 0}'
        for n in range(1, 1000):
            produced.append(n)
            yield b', {"n": %d}' % n
        yield b"]}"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics/auth/token":
            return httpx.Response(200, json={"token": "t"})
        return httpx.Response(200, content=body())

    client = UserFluxClient(target(), httpx.MockTransport(handler))
    with client, client.rows(Query(sql="SELECT n")) as rows:
        assert next(rows) == {"n": 0}
        assert len(produced) < 10
        assert sum(1 for _ in rows) == 999


# -- the command ----------------------------------------------------------------------------


QUERIES = """\
kind: userflux/query
name: recent purchases
spec:
  sql: |
    SELECT ufProperties.currency AS currency, ufProperties.amount AS amount, name
    FROM eventsTable
    WHERE name = '@{eventName}' AND ufProperties.currency = '@{currency}'
    ORDER BY timestamp DESC, amount
    LIMIT @{rowLimit}
  variables: {eventName: purchase, currency: USD, rowLimit: 3}
---
kind: userflux/query
name: revenue
spec:
  metric_id: revenue-by-currency
  variables: {minAmount: 100}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: SandboxApp) -> Iterator[Project]:
    monkeypatch.setenv("TEST_UF_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_UF_KEY", TEST_KEY)
    monkeypatch.chdir(tmp_path)
    with SandboxServer(app) as server:
        config = f"""\
            version: 1
            targets:
              userflux:
                provider: userflux
                base_url: {server.url}
                client_secret: env:TEST_UF_SECRET
                environment_api_key: env:TEST_UF_KEY
                definitions: [definitions/userflux]
        """
        (tmp_path / "metricsync.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
        (tmp_path / "definitions" / "userflux").mkdir(parents=True)
        (tmp_path / "definitions" / "userflux" / "queries.yaml").write_text(QUERIES)
        yield Project(tmp_path, app, server.url)


def test_query_prints_an_aligned_table(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = project.cli("query", "revenue", capsys=capsys)
    assert (code, err) == (0, "")
    assert out == (
        "currency  revenue  purchases\n"
        "--------  -------  ---------\n"
        "EUR       1915.73         10\n"
        "GBP       1101.55          5\n"
        "USD       3977.42         24\n"
        "(3 rows)\n"
    )


def test_query_overrides_variables_and_prints_json(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("query", "recent purchases", "--var", "currency=EUR", "--var", "rowLimit=2")
    code, out, _ = project.cli(*args, "--format", "json", capsys=capsys)
    rows = json.loads(out)
    assert code == 0
    assert len(rows) == 2
    assert {row["currency"] for row in rows} == {"EUR"}
    assert out.startswith('[\n{"currency": "EUR"')


def test_query_prints_csv(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = project.cli("query", "revenue", "--format", "csv", capsys=capsys)
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["currency", "revenue", "purchases"],
        ["EUR", "1915.73", "10"],
        ["GBP", "1101.55", "5"],
        ["USD", "3977.42", "24"],
    ]


def test_a_hostile_var_stays_inside_its_literal(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "USD' OR '1'='1"
    code, out, err = project.cli(
        "query",
        "recent purchases",
        "--var",
        f"currency={hostile}",
        "--format",
        "json",
        capsys=capsys,
    )
    assert (code, out, err) == (0, "[]\n", "")


def test_a_var_bound_outside_quotes_must_be_a_number(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("query", "recent purchases", "--var", "rowLimit=3; DELETE FROM eventsTable")
    code, out, err = project.cli(*args, capsys=capsys)
    assert (code, out) == (3, "")
    assert err == (
        "Error: placeholder @{rowLimit} is outside quotes, so its value must be a number; got "
        "'3; DELETE FROM eventsTable' (write '@{rowLimit}' to use it as a string)\n"
    )
    assert not list(project.app.requests)


def test_an_unknown_query_is_a_usage_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = project.cli("query", "nope", capsys=capsys)
    assert code == 64
    assert err == "Error: no userflux/query named 'nope' (queries: recent purchases, revenue)\n"


def test_a_malformed_var_is_a_usage_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = project.cli("query", "revenue", "--var", "minAmount", capsys=capsys)
    assert code == 64
    assert "'minAmount' is not NAME=VALUE" in err


def test_a_refused_query_exits_1_with_the_platforms_message(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.configure({"userflux": {"unknown_metric_status": 404}})
    (project.root / "definitions" / "userflux" / "gone.yaml").write_text(
        "kind: userflux/query\nname: gone\nspec: {metric_id: deleted-metric}\n"
    )
    code, out, err = project.cli("query", "gone", capsys=capsys)
    assert (code, out) == (1, "")
    assert err.endswith("failed with HTTP 404: unknown metric deleted-metric\n")


def test_a_hostile_var_for_a_predefined_metric_is_refused_before_sending(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """UserFlux substitutes a metric_id query's variables into its saved SQL verbatim: in the
    sandbox, `purchase' OR '1'='1` widened a count from 3 to 25. Nothing is sent."""
    (project.root / "definitions" / "userflux" / "daily.yaml").write_text(
        "kind: userflux/query\nname: daily\n"
        "spec: {metric_id: daily-active-users, variables: {eventName: purchase}}\n"
    )
    for name, value, message in (
        ("daily", "purchase' OR '1'='1", "variable 'eventName' contains \"'\": "),
        ("revenue", "0 OR 1=1", "variable 'minAmount' is a number in the definition "),
        ("revenue", "", "variable 'minAmount' is a number in the definition "),
    ):
        variable = "eventName" if name == "daily" else "minAmount"
        code, out, err = project.cli("query", name, "--var", f"{variable}={value}", capsys=capsys)
        assert (code, out) == (3, "")
        assert err.startswith("Error: " + message)
    code, _, err = project.cli("query", "daily", "--var", "other=1", capsys=capsys)
    assert (code, err) == (
        3,
        "Error: variable 'other' is not declared in spec.variables (declared: eventName); a "
        "metric_id query takes only the variables its definition declares\n",
    )
    assert not list(project.app.requests)
    code, out, _ = project.cli("query", "daily", "--var", "eventName=page_view", capsys=capsys)
    assert code == 0 and out.endswith("rows)\n")


def test_rows_trickling_in_stop_at_the_run_deadline(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.app.faults.add("POST /metrics/query/*=trickle:120")
    code, out, err = project.cli("query", "revenue", "--timeout", "2", capsys=capsys)
    assert (code, out) == (1, "")
    assert err == (
        "Error: userflux: the run's deadline (--timeout 2) passed during POST "
        f"{project.url}/metrics/query/revenue-by-currency; nothing more is sent\n"
    )
