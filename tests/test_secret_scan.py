"""The suite's secret scan (tests/secret_scan.py) catches a leak wherever a test leaves it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.secret_scan import find_leaks

LEAKY_TESTS = """
from metricsync.secrets import remember


def test_prints_a_variable_it_set(monkeypatch):
    monkeypatch.setenv("DEMO_API_KEY", "demo-secret-value-123")
    print("the key is demo-secret-value-123")


def test_writes_a_token_into_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DEMO_TOKEN", "demo-token-value-456")
    (tmp_path / "plan.json").write_text("token=demo-token-value-456")


def test_reads_its_own_output_with_capsys(capsys):
    remember("remembered-secret-789")
    print("remembered-secret-789")
    capsys.readouterr()


def test_logs_the_sandbox_key(caplog):
    import logging

    logging.getLogger("demo").warning("sent console-sandbox-key")


def test_reads_a_child_process_that_prints_a_secret(monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("DEMO_API_KEY", "child-secret-value-321")
    code = "import os; print(os.environ['DEMO_API_KEY'])"
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_reads_a_child_process_line_by_line(monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("DEMO_TOKEN", "child-token-value-654")
    code = "import os, sys; print('start'); print(os.environ['DEMO_TOKEN'], file=sys.stderr)"
    with subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) as p:
        for line in p.stderr:
            pass


def test_clean(monkeypatch, tmp_path):
    monkeypatch.setenv("DEMO_API_KEY", "demo-secret-value-123")
    (tmp_path / "plan.json").write_text("{}")
    print("nothing to see")
"""


@pytest.mark.prints_secrets  # the inner run's report quotes the leaks it found
def test_the_scan_fails_every_test_that_leaks_and_only_those(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest("-p", "tests.secret_scan", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, errors=6)
    output = result.stdout.str()
    for name in (
        "test_prints_a_variable_it_set",
        "test_writes_a_token_into_a_file",
        "test_reads_its_own_output_with_capsys",
        "test_logs_the_sandbox_key",
        "test_reads_a_child_process_that_prints_a_secret",
        "test_reads_a_child_process_line_by_line",
    ):
        assert f"ERROR at teardown of {name}" in output
    assert "ERROR at teardown of test_clean" not in output
    assert "plan.json" in output


def test_the_checker_finds_a_secret_in_text_and_files(tmp_path: Path) -> None:
    written = tmp_path / "out.yaml"
    written.write_text("api_key: phx_leaked_personal_key\n", encoding="utf-8")
    clean = tmp_path / "clean.yaml"
    clean.write_text("api_key: env:POSTHOG_KEY\n", encoding="utf-8")
    leaks = find_leaks(
        ["phx_leaked_personal_key", "short"],
        [("stderr", "Error: Bearer phx_leaked_personal_key refused"), ("stdout", "short")],
        [written, clean],
    )
    assert [str(leak) for leak in leaks] == [
        "a configured secret (phx_…, 23 characters) is in stderr",
        f"a configured secret (phx_…, 23 characters) is in the file {written}",
    ]
