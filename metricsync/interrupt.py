"""Stopping an apply on SIGINT or SIGTERM (exit codes in docs/README.md): a signal only raises a
flag. No change starts after it, a change that has sent a write finishes (or confirms it by
reading), and the run reports every change, so running apply again converges."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from metricsync.deadline import Deadline, DeadlineExceeded
from metricsync.errors import ExitCode, MetricsyncError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class NotStarted(MetricsyncError):
    """The run was interrupted, or its deadline passed, before this change sent any write."""


class Interruption:
    """The flag a signal raises, and the gate every write of an apply passes.

    Each change runs on one thread inside `change()`. Its first write request passes
    `before_write` only while the flag is down; from then on the change is in flight and its
    further requests (a replace's create, a retry, a confirming read) go out, so that nothing
    is left half done. Waits before a change's first write end as soon as the flag rises.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._local = threading.local()
        self.signum: int | None = None

    @property
    def interrupted(self) -> bool:
        return self._flag.is_set()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.TERMINATED if self.signum == signal.SIGTERM else ExitCode.INTERRUPTED

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    @property
    def reason(self) -> str:
        return f"the run was interrupted ({self.signal_name})"

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        if self.signum is None:
            self.signum = signum
        self._flag.set()

    @contextmanager
    def change(self, deadline: Deadline | None = None) -> Iterator[None]:
        """Runs one change on this thread; refuses it (NotStarted) once interrupted or once
        `deadline` (the run's) has passed. A change the deadline stops before its first write
        (in a read, or a rate-limit wait) is NotStarted too: nothing of it was sent."""
        if self.interrupted:
            raise NotStarted(self.reason)
        _check_time(deadline)
        self._local.sent = False
        self._local.deadline = deadline
        try:
            yield
        except DeadlineExceeded as exc:
            if self._local.sent:
                raise
            raise NotStarted(str(exc)) from None
        finally:
            self._local.sent = True  # requests outside a change are never held back
            self._local.deadline = None

    def before_write(self) -> None:
        """Called by the HTTP client just before a write request leaves."""
        if getattr(self._local, "sent", True):
            return
        if self.interrupted:
            raise NotStarted(self.reason)
        _check_time(self._local.deadline)
        self._local.sent = True

    def pause(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """A wait (rate-limit pacing) before a write: cut short by the flag when the change has
        sent nothing yet, since it will not start."""
        if getattr(self._local, "sent", True):
            sleep(seconds)
        elif self._flag.wait(seconds):
            self.before_write()  # raises NotStarted


def _check_time(deadline: Deadline | None) -> None:
    if deadline is not None and deadline.remaining() <= 0:
        raise NotStarted(f"{deadline.describe()} passed before it started")


NOTICE = (
    "\n{name}: no new change starts; waiting for the writes in flight to finish, "
    "then every change is reported.\n"
)
AGAIN = "{name} again: still waiting for the writes in flight, so that none goes unreported.\n"


@contextmanager
def signals_handled(interruption: Interruption) -> Iterator[Interruption]:
    """Routes SIGINT and SIGTERM to `interruption` for the block, then restores the handlers
    that were there. Off the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield interruption
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        again = interruption.interrupted
        interruption.interrupt(signum)
        text = (AGAIN if again else NOTICE).format(name=signal.Signals(signum).name)
        with contextlib.suppress(OSError):  # raw: the main thread may be inside a print
            os.write(2, text.encode())

    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield interruption
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
