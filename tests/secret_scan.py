"""A secret scan over the whole suite (a pytest plugin, loaded by tests/conftest.py).

After each test it knows every secret the test configured: every value metricsync resolved or
remembered as secret (metricsync.secrets), the sandbox's credentials, and any environment
variable the test set whose name says secret (KEY, TOKEN, SECRET, PASSWORD). It then looks for
them in all the test printed or logged (what `capsys.readouterr()` returned included) and in
every file the test wrote under its `tmp_path`, and fails the test if one is there.

Cheap by design: a handful of substring searches per test over text already in memory, and one
walk of the test's own temporary folder.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest.capture import CaptureFixture, CaptureResult

from metricsync import secrets

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
MIN_LENGTH = 8  # shorter values (test placeholders like "x") would match by chance
MAX_FILE_BYTES = 8 * 1024 * 1024
# Tests that print a secret on purpose, to show it is the sandbox's or to prove this scan works.
ALLOWED = pytest.mark.prints_secrets


@dataclass
class Watch:
    """What one test produced that the scan reads."""

    read_out: list[str] = field(default_factory=list)  # what capsys.readouterr() returned
    environ: dict[str, str] = field(default_factory=dict)  # secret-looking variables it set


@dataclass(frozen=True)
class Leak:
    where: str
    secret: str

    def __str__(self) -> str:
        shown = self.secret[:4] + "…" if len(self.secret) > 4 else "…"
        return f"a configured secret ({shown}, {len(self.secret)} characters) is in {self.where}"


def find_leaks(
    known: Iterable[str], texts: Iterable[tuple[str, str]], files: Iterable[Path] = ()
) -> list[Leak]:
    """Every (place, secret) where a secret appears in a text or a file."""
    values = sorted({v for v in known if len(v) >= MIN_LENGTH}, key=len, reverse=True)
    if not values:
        return []
    leaks = [Leak(where, v) for where, text in texts for v in values if v in text]
    encoded = [(v, v.encode("utf-8", "surrogateescape")) for v in values]
    for path in files:
        try:
            status = path.lstat()
            # regular files only: a FIFO or device a test made would block the read
            if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_FILE_BYTES:
                continue
            content = path.read_bytes()
        except OSError:
            continue
        leaks += [Leak(f"the file {path}", v) for v, raw in encoded if raw in content]
    return leaks


def written_files(root: Path) -> Iterator[Path]:
    for folder, _, names in os.walk(root):  # does not follow symbolic links to folders
        for name in names:
            yield Path(folder, name)


_watches: dict[str, Watch] = {}
_current: list[Watch] = []
_baseline = dict(os.environ)


def _sandbox_credentials() -> set[str]:
    from metricsync.sandbox.app import SandboxApp

    app = SandboxApp()
    try:
        return {v for section in app.credentials().values() for v in section.values()}
    finally:
        app.store.close()


SANDBOX_CREDENTIALS = _sandbox_credentials()


def _recording_readouterr() -> None:
    """Keeps what each `capsys.readouterr()` returns: tests read their output themselves."""
    original = CaptureFixture.readouterr

    def readouterr(self: CaptureFixture[Any]) -> CaptureResult[Any]:
        result = original(self)
        if _current:
            _current[-1].read_out += [str(result.out), str(result.err)]
        return result

    CaptureFixture.readouterr = readouterr  # type: ignore[method-assign]


_recording_readouterr()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    watch = _watches.setdefault(item.nodeid, Watch())
    _current.append(watch)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield
    # before teardown, while monkeypatched variables are still set
    watch = _watches[item.nodeid]
    watch.environ = {
        name: value
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and _baseline.get(name) != value
    }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    if call.when != "teardown":
        return
    watch = _watches.pop(item.nodeid, Watch())
    if _current:
        _current.pop()
    report: pytest.TestReport = outcome.get_result()
    if item.get_closest_marker(ALLOWED.name) is not None:
        return
    leaks = find_leaks(_known_secrets(watch), _texts(report, watch), _files(item))
    if leaks:
        report.outcome = "failed"
        report.longrepr = "secret scan:\n" + "\n".join(f"  {leak}" for leak in leaks)


def _known_secrets(watch: Watch) -> set[str]:
    with secrets._lock:
        known = set(secrets._known)
    return known | SANDBOX_CREDENTIALS | set(watch.environ.values())


def _texts(report: pytest.TestReport, watch: Watch) -> list[tuple[str, str]]:
    """What the test read with capsys, and what pytest captured (output and logs) in every
    phase: a teardown report holds the sections of setup, call and teardown."""
    texts = [("what the test read with capsys.readouterr()", text) for text in watch.read_out]
    return texts + [(name.lower(), text) for name, text in report.sections]


def _files(item: pytest.Item) -> list[Path]:
    funcargs = getattr(item, "funcargs", {})
    root = funcargs.get("tmp_path")
    if root is None:
        for value in funcargs.values():  # fixtures built on tmp_path (a project)
            candidate = getattr(value, "root", None)
            if isinstance(candidate, Path):
                root = candidate
                break
    return list(written_files(root)) if isinstance(root, Path) and root.exists() else []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{ALLOWED.name}: the test prints a secret on purpose; the secret scan skips it"
    )
