"""Checkpoints in the run's SWEEP_CHECKPOINT_DIR, written atomically so a preempted attempt never
leaves a half-written file for the next attempt to resume from."""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from typing import Any, List, Optional

from ._atomic import atomic_write

#: Longest checkpoint file name, in UTF-8 bytes (room for the temp-file prefix within 255).
MAX_NAME_BYTES = 200

_fallback_dir: Optional[str] = None


def checkpoint_dir() -> str:
    """SWEEP_CHECKPOINT_DIR, created if missing. Without it (a script run by hand, an executor that
    does not give one) a fresh temp folder per process: checkpoints still work, nothing is resumed."""
    global _fallback_dir
    d = os.environ.get("SWEEP_CHECKPOINT_DIR")
    if d:
        os.makedirs(d, exist_ok=True)
        return d
    if _fallback_dir is None:
        _fallback_dir = tempfile.mkdtemp(prefix="sweepjob-checkpoints-")
    return _fallback_dir


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("checkpoint name must be a non-empty string, got %r" % (name,))
    if "/" in name or "\\" in name or "\0" in name:
        raise ValueError("checkpoint name %r must be a plain file name (no /, \\ or NUL)" % name)
    if name.startswith("."):
        raise ValueError("checkpoint name %r must not start with '.' (hidden names are temp files)" % name)
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError("checkpoint name is over %d bytes: %r..." % (MAX_NAME_BYTES, name[:40]))
    return name


def save_checkpoint(name: str, data: Any, *, dir: Optional[str] = None) -> str:
    """Write checkpoint `name` atomically (temp file, fsync, rename) and return its path.

    `data` is bytes-like (written as is), a str (UTF-8), a callable taking a binary file object
    (e.g. ``lambda f: torch.save(state, f)``), or any other object (pickled).
    """
    _check_name(name)
    path = os.path.join(dir if dir is not None else checkpoint_dir(), name)
    if isinstance(data, (bytes, bytearray, memoryview)):
        atomic_write(path, lambda f: f.write(data))
    elif isinstance(data, str):
        atomic_write(path, lambda f: f.write(data.encode("utf-8")))
    elif callable(data):
        atomic_write(path, data)
    else:
        atomic_write(path, lambda f: pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def _natural(name: str) -> list:
    """ep9 before ep10: digit runs compare as numbers."""
    return [(0, int(t), "") if "0" <= t[0] <= "9" else (1, 0, t) for t in re.findall(r"[0-9]+|[^0-9]+", name)]


def list_checkpoints(dir: Optional[str] = None) -> List[str]:
    """Paths of the checkpoint files, oldest first (by modification time, then natural name order).
    Hidden files (temp files of unfinished writes) and folders are left out."""
    d = dir if dir is not None else os.environ.get("SWEEP_CHECKPOINT_DIR") or _fallback_dir
    if not d or not os.path.isdir(d):
        return []
    found = []
    with os.scandir(d) as it:
        for e in it:
            if e.name.startswith(".") or not e.is_file(follow_symlinks=False):
                continue
            found.append((e.stat(follow_symlinks=False).st_mtime_ns, _natural(e.name), e.path))
    found.sort()
    return [p for _, _, p in found]


def latest_checkpoint(dir: Optional[str] = None) -> Optional[str]:
    """The newest checkpoint file's path, or None when there is none (a fresh run: start from zero)."""
    all_ = list_checkpoints(dir)
    return all_[-1] if all_ else None


def load_pickle(path: str) -> Any:
    """Read back a checkpoint `save_checkpoint` pickled (only ever load your own run's files)."""
    with open(path, "rb") as f:
        return pickle.load(f)
