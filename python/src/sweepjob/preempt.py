"""The SIGTERM hook: on preemption or cancel the job gets SIGTERM, then `job.gracePeriod` (default
30 s) before SIGKILL. The hook saves, then ends the process by SIGTERM (exit status 143), which
both executors classify as `preempted`, so the retry resumes instead of failing the run."""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from typing import Callable, Optional

#: The exit status of a death by SIGTERM (128 + 15), what the orchestrator reads as preempted.
PREEMPTED_EXIT = 128 + signal.SIGTERM

_save: Optional[Callable[[], object]] = None
_stopping = False


def preempted() -> bool:
    """True once SIGTERM has arrived (while the save function runs)."""
    return _stopping


def _die() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # Die by the signal itself, as if no handler had been installed...
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    # ...unless it cannot kill us (PID 1 in a container ignores default-action signals): same status.
    os._exit(PREEMPTED_EXIT)


def _handler(signum, frame) -> None:
    global _stopping
    if _stopping:
        return  # a second SIGTERM while saving: keep saving (SIGKILL ends it at the grace period)
    _stopping = True
    try:
        if _save is not None:
            _save()
    except BaseException:
        # The save failed, but the job is still being preempted: say why and exit as preempted,
        # so the retry starts (from the previous checkpoint) rather than the run failing.
        sys.stderr.write("sweepjob: the preemption save function raised:\n")
        traceback.print_exc()
    finally:
        _die()


def on_preempt(save_fn: Optional[Callable[[], object]]) -> None:
    """On SIGTERM call `save_fn()` (None: save nothing), then exit as preempted.

    Call it from the main thread (Python runs signal handlers there, between bytecodes: keep
    `save_fn` to state that is consistent at any point, e.g. the last finished epoch's, or save
    every epoch with `save_checkpoint` and pass None). Finish within the grace period. A second
    call replaces the save function.
    """
    global _save
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("on_preempt must be called from the main thread (signal handlers run there)")
    if save_fn is not None and not callable(save_fn):
        raise TypeError("on_preempt takes a function of no arguments, got %r" % (save_fn,))
    _save = save_fn
    signal.signal(signal.SIGTERM, _handler)
