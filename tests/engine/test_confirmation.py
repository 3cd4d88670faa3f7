"""apply asks before changing anything when it runs on a terminal (a pseudo-terminal here)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from tests.engine.conftest import Project
from tests.engine.test_scenarios import statsig, statsig_live


def _apply_on_a_terminal(project: Project, answer: bytes) -> tuple[int, str]:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "metricsync", "apply", "--target", "statsig-test"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=project.root,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(follower)
    output = _read_until(leader, b"[y/N]:", deadline=time.monotonic() + 30)
    os.write(leader, answer + b"\n")
    output += _read_until(leader, b"\x00never", deadline=time.monotonic() + 30)
    os.close(leader)
    return process.wait(timeout=30), output.decode(errors="replace")


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    data = b""
    while marker not in data and time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    return data


def test_apply_on_a_terminal_asks_and_a_no_changes_nothing(project: Project) -> None:
    statsig(project, "Revenue total")
    code, output = _apply_on_a_terminal(project, b"n")
    assert "+ statsig/metric 'Revenue total'" in output
    assert "Apply 1 change(s)? [y/N]:" in output
    assert code == 1 and "Aborted." in output
    assert statsig_live(project) == []


def test_apply_on_a_terminal_applies_after_yes(project: Project) -> None:
    statsig(project, "Revenue total")
    code, output = _apply_on_a_terminal(project, b"y")
    assert code == 0, output
    assert "Apply: 1 applied, 0 failed, 0 skipped." in output
    assert [m["name"] for m in statsig_live(project)] == ["Revenue total"]
