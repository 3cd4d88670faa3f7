"""A secret scan over the whole suite (a pytest plugin, loaded by tests/conftest.py).

After each test it knows every secret the test configured: every value metricsync resolved or
remembered as secret (metricsync.secrets), the sandbox's credentials, and any environment
variable the test set whose name says secret (KEY, TOKEN, SECRET, PASSWORD). It then looks for
them in all the test printed or logged (what `capsys.readouterr()` returned included), in all
it read from the pipes of the processes it started (a CLI run as a child process), and in every
file the test wrote under its `tmp_path`, and fails the test if one is there.

Cheap by design: a handful of substring searches per test over text already in memory, and one
walk of the test's own temporary folder.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
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


class _RecordedPipe:
    """A child process's stdout or stderr pipe whose every read is kept for the scan."""

    def __init__(self, stream: Any, watch: Watch) -> None:
        self._stream, self._watch = stream, watch

    def _keep(self, data: Any) -> Any:
        if data:
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            self._watch.read_out.append(text)
        return data

    def read(self, *args: Any) -> Any:
        return self._keep(self._stream.read(*args))

    def readline(self, *args: Any) -> Any:
        return self._keep(self._stream.readline(*args))

    def readlines(self, *args: Any) -> Any:
        lines = self._stream.readlines(*args)
        self._keep("".join(lines) if lines and isinstance(lines[0], str) else b"".join(lines))
        return lines

    def __iter__(self) -> _RecordedPipe:
        return self

    def __next__(self) -> Any:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:  # fileno, close, closed, ...: the pipe's own
        return getattr(self._stream, name)


def _serves_sandbox(command: Any) -> bool:
    """`metricsync sandbox serve` prints the sandbox's own credentials by design (its banner):
    the one child whose output is not scanned."""
    words = [str(word) for word in command] if isinstance(command, list | tuple) else []
    return "sandbox" in words and "serve" in words


class _RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
    """subprocess.Popen (and so subprocess.run) whose piped output the scan reads too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watch = _current[-1] if _current and not _serves_sandbox(self.args) else None
        if self._watch is not None:
            for name in ("stdout", "stderr"):
                stream = getattr(self, name)
                if stream is not None:
                    setattr(self, name, _RecordedPipe(stream, self._watch))

    def communicate(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        out, err = super().communicate(*args, **kwargs)
        if self._watch is not None:  # both pipes at once are read from their descriptors
            for data in (out, err):
                if data:
                    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                    self._watch.read_out.append(str(text))
        return out, err


subprocess.Popen = _RecordingPopen  # type: ignore[misc]


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
    where = "what the test read with capsys.readouterr() or from a child process"
    texts = [(where, text) for text in watch.read_out]
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
