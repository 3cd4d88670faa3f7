"""Secrets: a value with control characters is refused when resolved, naming the variable only,
and redaction also removes the escaped and quoted forms error messages give a secret."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from metricsync.errors import ConfigError
from metricsync.secrets import SecretRef, redact, remember
from tests.engine.conftest import Project

WINDOWS_KEY = "phx_key_saved_with_windows_line_endings"


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n", "\t", "\x1b[2J", "\x7f", "\u2028"])
def test_a_secret_with_a_control_character_is_refused_naming_the_variable(
    ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CTRL_KEY", f"key-{ending}-value-1234")
    with pytest.raises(ConfigError) as caught:
        SecretRef("TEST_CTRL_KEY", "api_key").resolve("posthog-test")
    message = str(caught.value)
    assert message.startswith(
        "target 'posthog-test' needs api_key: the environment variable TEST_CTRL_KEY holds a "
        "control character"
    )
    assert "value-1234" not in message


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("key-\u00e9-value-1234", "a character that is not ASCII (or bytes that are not text)"),
        ("key-\udcff-value-1234", "a character that is not ASCII (or bytes that are not text)"),
        (" key-value-1234", "spaces at its start or end"),
        ("key-value-1234 ", "spaces at its start or end"),
    ],
)
def test_a_secret_no_header_can_carry_is_refused_naming_the_variable_not_unexpected(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    what: str,
) -> None:
    """Non-ASCII (or undecodable bytes, which Python holds as surrogates) and outer spaces
    ended in 'unexpected UnicodeEncodeError' or h11's 'Illegal header value' after the
    request was built: refused when resolved instead, like a control character."""
    monkeypatch.setenv("TEST_POSTHOG_KEY", value)
    code, out, err = project.cli("plan", capsys=capsys)
    assert code == 3
    assert err == (
        "Error: target 'posthog-test' needs api_key: the environment variable "
        f"TEST_POSTHOG_KEY holds {what}, which API keys and tokens never do; set it to the "
        "secret alone\n"
    )
    assert "value-1234" not in out + err
    assert project.sent("GET", "/api/projects/12345/experiment_saved_metrics/") == 0


def test_a_key_file_with_windows_line_endings_stops_the_plan_before_anything_is_sent(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEST_POSTHOG_KEY", WINDOWS_KEY + "\r")
    code, out, err = project.cli("plan", capsys=capsys)
    assert code == 3
    assert "the environment variable TEST_POSTHOG_KEY holds a control character" in err
    assert WINDOWS_KEY not in out + err
    assert project.sent("GET", "/api/projects/12345/experiment_saved_metrics/") == 0


@pytest.mark.parametrize(
    "quoted",
    [
        "Illegal header value b'Bearer {escaped}'",  # bytes repr, as h11 quotes a header
        "got {str_repr!r} instead",  # a str repr, quotes and all
        '{{"token": {json}}}',  # JSON-escaped
        "https://example.test/?token={url}",  # percent-encoded into a URL
    ],
)
def test_redaction_covers_the_escaped_and_quoted_forms_of_a_secret(quoted: str) -> None:
    secret = "s3cr3t-with\r\nbreak\"quote'and\\slash é"
    remember(secret)
    text = quoted.format(
        escaped=repr(secret.encode())[2:-1],
        str_repr=secret,
        json=json.dumps(secret),
        url=quote(secret, safe=""),
    )
    redacted = redact(text)
    assert "s3cr3t" not in redacted
    assert "***" in redacted
