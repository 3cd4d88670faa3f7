"""The GC pause around bulk work: off while any block runs, back as it was when the last ends."""

from __future__ import annotations

import gc
import threading

from metricsync.bulk import paused_gc


def test_the_gc_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_blocks_keep_the_gc_off_until_the_last_one_ends() -> None:
    inside, release = threading.Event(), threading.Event()

    def other_read() -> None:
        with paused_gc(keep=True):
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_read)
    with paused_gc(keep=True):
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other block is still building
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_gc_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
