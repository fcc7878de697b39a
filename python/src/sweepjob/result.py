"""The job's result: validated here with the orchestrator's rules (spec/result.ts), so a bad value
fails in the job with the field named instead of the run failing later as `bad-result`."""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from ._atomic import atomic_write

# The limits of spec/result.ts.
MAX_RESULT_BYTES = 1024 * 1024
MAX_METRICS = 1000
MAX_METRIC_NAME = 200
MAX_CHECKPOINTS = 10_000
MAX_ARTIFACTS = 1000
#: The kubelet keeps at most this much of a termination message (where the result goes on Kubernetes).
MAX_TERMINATION_LOG_BYTES = 4096
#: Kubernetes' result file: written in place (it is a bind mount, a rename onto it fails).
TERMINATION_LOG = "/dev/termination-log"
#: Largest whole number a JSON reader holds exactly (a checkpoint's epoch must be one).
MAX_SAFE_INTEGER = 2**53 - 1

_RESULT_KEYS = ("metrics", "n_params", "n_samples_seen", "total_flops", "artifacts", "checkpoints")
_CHECKPOINT_KEYS = ("epoch", "n_samples_seen", "total_flops", "metrics")


class ResultError(ValueError):
    """The result breaks the job contract; `field` is its path (e.g. "checkpoints.3.metrics.acc")."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__('result field "%s": %s' % (field or "(root)", reason))


def _clip(s: str) -> str:
    return s[:40] + "..." if len(s) > 40 else s


def _js_length(s: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units), as the orchestrator checks names."""
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _number(v: Any, field: str) -> Any:
    """A finite int or float (numpy scalars and other numbers.Real convert); bool is not a number."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        hint = " (a tensor? use .item())" if hasattr(v, "item") else ""
        raise ResultError(field, "must be a number, got %s%s" % (type(v).__name__, hint))
    try:
        f = float(v)  # an int too large for a double overflows here, as JSON.parse makes it Infinity
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ResultError(field, "must be a finite number (no NaN / Infinity)")
    return int(v) if isinstance(v, numbers.Integral) else f


def _positive(v: Any, field: str) -> Any:
    n = _number(v, field)
    if not n > 0:
        raise ResultError(field, "must be > 0 (zero or negative training compute is impossible), got %s" % n)
    return n


def _param_count(v: Any, field: str) -> Any:
    n = _number(v, field)
    if not (float(n).is_integer() and n >= 1):
        raise ResultError(field, "must be a whole number >= 1 (a count of parameters), got %s" % n)
    return int(n)


def _mapping(v: Any, field: str, limit: int, what: str) -> Mapping:
    if not isinstance(v, Mapping):
        raise ResultError(field, "must be an object (a dict), got %s" % type(v).__name__)
    if len(v) > limit:  # counted before anything iterates it
        raise ResultError(field, "has %d %s (limit %d)" % (len(v), what, limit))
    for k in v:
        if not isinstance(k, str):
            raise ResultError(field, "keys must be strings, got %s %r" % (type(k).__name__, k))
    return v


def _metrics(v: Any, field: str) -> Dict[str, Any]:
    m = _mapping(v, field, MAX_METRICS, "metrics")
    for k in m:
        if _js_length(k) > MAX_METRIC_NAME:
            raise ResultError(field, 'metric name "%s" is %d characters (limit %d)' % (_clip(k), _js_length(k), MAX_METRIC_NAME))
    # Scores are not range-checked: a metric may be a loss.
    return {k: _number(x, "%s.%s" % (field, _clip(k))) for k, x in m.items()}


def _strict(v: Any, field: str, allowed: Sequence[str]) -> Mapping:
    if not isinstance(v, Mapping):
        raise ResultError(field, "must be an object (a dict), got %s" % type(v).__name__)
    for k in v:
        if k not in allowed:
            raise ResultError(field, "unknown field %r (allowed: %s)" % (_clip(str(k)), ", ".join(allowed)))
    return v


def _checkpoint(v: Any, field: str) -> Dict[str, Any]:
    c = _strict(v, field, _CHECKPOINT_KEYS)
    if "epoch" not in c:
        raise ResultError(field + ".epoch", "is required")
    e = c["epoch"]
    ok = isinstance(e, numbers.Real) and not isinstance(e, bool)
    try:
        ok = ok and float(e).is_integer() and 0 <= e <= MAX_SAFE_INTEGER
    except OverflowError:
        ok = False
    if not ok:
        raise ResultError(field + ".epoch", "must be a whole number from 0 to 2^53-1, got %r" % (e,))
    out: Dict[str, Any] = {"epoch": int(e)}
    for k in ("n_samples_seen", "total_flops"):
        if c.get(k) is not None:
            out[k] = _positive(c[k], "%s.%s" % (field, k))
    if "metrics" not in c:
        raise ResultError(field + ".metrics", "is required (an empty dict is allowed)")
    out["metrics"] = _metrics(c["metrics"], field + ".metrics")
    return out


def validate_result(result: Any, required_metrics: Iterable[str] = ()) -> Dict[str, Any]:
    """The result as it will be written (numbers as plain int/float; None fields left out).
    Raises ResultError naming the first field at fault."""
    r = _strict(result, "", _RESULT_KEYS)
    if "metrics" not in r:
        raise ResultError("metrics", "is required (an empty dict is allowed in a training stage)")
    out: Dict[str, Any] = {"metrics": _metrics(r["metrics"], "metrics")}
    if r.get("n_params") is not None:
        out["n_params"] = _param_count(r["n_params"], "n_params")
    for k in ("n_samples_seen", "total_flops"):
        if r.get(k) is not None:
            out[k] = _positive(r[k], k)
    if r.get("artifacts") is not None:
        a = _mapping(r["artifacts"], "artifacts", MAX_ARTIFACTS, "artifacts")
        for k, uri in a.items():
            if not isinstance(uri, str):
                raise ResultError("artifacts.%s" % _clip(k), "must be a string (a URI), got %s" % type(uri).__name__)
        out["artifacts"] = dict(a)
    if r.get("checkpoints") is not None:
        cs = r["checkpoints"]
        if isinstance(cs, (str, bytes, Mapping)) or not isinstance(cs, Sequence):
            raise ResultError("checkpoints", "must be a list, got %s" % type(cs).__name__)
        if len(cs) > MAX_CHECKPOINTS:
            raise ResultError("checkpoints", "has %d checkpoints (limit %d)" % (len(cs), MAX_CHECKPOINTS))
        out["checkpoints"] = [_checkpoint(c, "checkpoints.%d" % i) for i, c in enumerate(cs)]
    missing = [m for m in required_metrics if m not in out["metrics"]]
    if missing:
        raise ResultError("metrics", "is missing required metric(s): %s" % ", ".join(missing))
    return out


def encode_result(result: Dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (the termination message has 4 KiB)."""
    try:
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a name: escaped, it is still valid JSON
        return json.dumps(result, separators=(",", ":"), allow_nan=False).encode("ascii")


def _in_place(path: str) -> bool:
    """Kubernetes' termination log is a file bind-mounted into the container: renaming onto it fails."""
    return os.path.abspath(path) == TERMINATION_LOG or os.path.ismount(path)


def report(
    metrics: Mapping[str, Any],
    *,
    n_params: Any = None,
    n_samples_seen: Any = None,
    total_flops: Any = None,
    checkpoints: Optional[List[Mapping[str, Any]]] = None,
    artifacts: Optional[Mapping[str, str]] = None,
    required_metrics: Iterable[str] = (),
    path: Optional[str] = None,
) -> Dict[str, Any]:
    """Validate the result and write it to SWEEP_RESULT_FILE (or `path`); return what was written.

    Written atomically (temp file + rename), except on Kubernetes, where the file is
    /dev/termination-log: written in place, and refused over 4 KiB (the kubelet keeps no more).
    Without SWEEP_RESULT_FILE (a script run by hand) the JSON is printed on stdout. Nothing is
    written when validation fails (ResultError). Calling it again replaces the result.
    """
    result = validate_result(
        {
            "metrics": metrics,
            "n_params": n_params,
            "n_samples_seen": n_samples_seen,
            "total_flops": total_flops,
            "checkpoints": checkpoints,
            "artifacts": artifacts,
        },
        required_metrics,
    )
    data = encode_result(result)
    if len(data) > MAX_RESULT_BYTES:
        raise ResultError("", "result is %d bytes, over the limit of %d bytes (1 MiB)" % (len(data), MAX_RESULT_BYTES))
    target = path if path is not None else os.environ.get("SWEEP_RESULT_FILE")
    if not target:
        sys.stdout.write(data.decode("utf-8", "surrogatepass") + "\n")
        sys.stdout.flush()
        return result
    if _in_place(target):
        if len(data) > MAX_TERMINATION_LOG_BYTES:
            raise ResultError(
                "",
                "result is %d bytes, over the %d bytes Kubernetes keeps of a termination message "
                "(report fewer checkpoints or metrics, or put them in an artifact)" % (len(data), MAX_TERMINATION_LOG_BYTES),
            )
        with open(target, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    else:
        atomic_write(target, lambda f: f.write(data))
    return result
