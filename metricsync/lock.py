"""One run that writes per project at a time (docs/commands/apply.md): `apply` and `import` hold
`.metricsync/run.lock` while they run, and a second run names the one that holds it.

The lock file is created whole and exclusively (files.write_whole), holding who took it. A
lock left behind by a run that died is stale: when it names this host and its process no
longer exists, the next run takes it over. A lock from another host cannot be checked; it
is named, and removing the file is left to the user.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metricsync.errors import MetricsyncError
from metricsync.files import write_whole

FILE = "run.lock"
ATTEMPTS = 5  # stale locks taken over in a row before giving up (only racing runs need more than 1)


class Locked(MetricsyncError):
    """Another run holds the project's lock (exit 1)."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: str  # ISO-8601 UTC
    token: str  # tells this run's lock from a later one at the same path

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.host}, since {self.since})"


def command_line(name: str, targets: Sequence[str]) -> str:
    """How a lock names the run holding it."""
    return " ".join(["metricsync", name, *(f"--target {t}" for t in targets)])


@contextmanager
def project_lock(state_dir: Path, command: str) -> Iterator[Holder]:
    """Holds the project's lock for the block; raises Locked naming the holder otherwise."""
    path = state_dir / FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    since = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    me = Holder(os.getpid(), socket.gethostname(), command, since, secrets.token_hex(8))
    _acquire(path, me)
    try:
        yield me
    finally:
        _release(path, me)


@contextmanager
def lock_for_config(config_path: Path, command: str) -> Iterator[Holder | None]:
    """The lock of the project `config_path` belongs to (its `.metricsync/`). Without that
    file there is no project to lock: the command stops at reading it, with its own error."""
    if not config_path.is_file():
        yield None
        return
    with project_lock(config_path.resolve().parent / ".metricsync", command) as holder:
        yield holder


def _acquire(path: Path, me: Holder) -> None:
    text = json.dumps(asdict(me), indent=2) + "\n"
    for _ in range(ATTEMPTS):
        try:
            write_whole(path, text, overwrite=False)
            return
        except FileExistsError:
            pass
        holder = _read(path)
        if holder is None and not path.exists():
            continue  # released between the two looks
        if holder is None or not _stale(holder):
            raise Locked(_message(path, holder))
        _take_over(path, holder)
    raise Locked(_message(path, _read(path)))


def _stale(holder: Holder) -> bool:
    """The holder ran on this host and its process is gone."""
    if holder.host != socket.gethostname():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _take_over(path: Path, stale: Holder) -> None:
    """Moves the stale lock aside. Another run may have taken it over first and put its own
    lock in its place: a moved lock that is not the stale one is put back."""
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}.stale")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return  # taken over by another run a moment ago
    moved = _read(aside)
    if moved is not None and moved.token != stale.token:
        with suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink(missing_ok=True)


def _release(path: Path, me: Holder) -> None:
    holder = _read(path)
    if holder is not None and holder.token == me.token:
        path.unlink(missing_ok=True)


def _read(path: Path) -> Holder | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return Holder(**{k: data[k] for k in Holder.__dataclass_fields__})
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None


def _message(path: Path, holder: Holder | None) -> str:
    if holder is None:
        return (
            f"{path} exists but cannot be read: another run may hold this project; "
            "delete the file if none does"
        )
    advice = "wait for it to finish"
    if holder.host != socket.gethostname():
        advice += f"; if that run is gone, delete {path}"
    return f"another metricsync run holds this project: {holder.describe()}; {advice}"
