"""The run a job belongs to, read from the SWEEP_* variables the orchestrator sets (the job contract)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

STAGES = ("train", "evaluate")


class ContractError(ValueError):
    """A SWEEP_* variable is malformed; the message names it."""


@dataclass(frozen=True)
class Run:
    """One attempt of one run. Outside a sweep (a script run by hand) the ids are None, the attempt
    is 1, the stage "train", and there are no axes, checkpoint folder or result file."""

    sweep: Optional[str] = None
    run_id: Optional[str] = None
    attempt: int = 1
    axes: Dict[str, Any] = field(default_factory=dict)
    stage: str = "train"
    #: SWEEP_RESUME=1: an earlier attempt of this run exists; resume from the checkpoint folder.
    resume: bool = False
    #: SWEEP_CHECKPOINT_DIR: persists across all attempts of the run and across re-scoring.
    checkpoint_dir: Optional[str] = None
    #: SWEEP_CHECKPOINT_URI: <executor.checkpointUri>/<sweep>/<runId>, for jobs that write to object storage.
    checkpoint_uri: Optional[str] = None
    #: SWEEP_TRAIN_RESULT or SWEEP_TRAIN_RESULT_FILE (evaluate stage): the training stage's result, parsed.
    train_result: Optional[Dict[str, Any]] = None
    #: SWEEP_RESULT_FILE: where `report` writes.
    result_file: Optional[str] = None
    #: SWEEP_GPUS: GPUs given to this job, when the executor says.
    gpus: Optional[int] = None

    @property
    def in_sweep(self) -> bool:
        return self.run_id is not None


def _json_object(env: Mapping[str, str], name: str) -> Optional[Dict[str, Any]]:
    text = env.get(name)
    if text is None or text == "":
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ContractError("%s is not valid JSON: %s" % (name, e)) from None
    if not isinstance(value, dict):
        raise ContractError("%s must be a JSON object, got %s" % (name, type(value).__name__))
    return value


#: Largest SWEEP_TRAIN_RESULT_FILE read (the orchestrator's result limit, 1 MiB).
MAX_TRAIN_RESULT_BYTES = 1024 * 1024


def _train_result(env: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    """SWEEP_TRAIN_RESULT, or the file SWEEP_TRAIN_RESULT_FILE (where a result too large for the
    environment goes; Linux caps one variable at 128 KiB)."""
    if env.get("SWEEP_TRAIN_RESULT"):
        return _json_object(env, "SWEEP_TRAIN_RESULT")
    path = env.get("SWEEP_TRAIN_RESULT_FILE")
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TRAIN_RESULT_BYTES + 1)
    except OSError as e:
        raise ContractError("SWEEP_TRAIN_RESULT_FILE %s cannot be read: %s" % (path, e)) from None
    if len(data) > MAX_TRAIN_RESULT_BYTES:
        raise ContractError("SWEEP_TRAIN_RESULT_FILE %s is over %d bytes" % (path, MAX_TRAIN_RESULT_BYTES))
    return _json_object({"SWEEP_TRAIN_RESULT_FILE": data.decode("utf-8", "replace")}, "SWEEP_TRAIN_RESULT_FILE")


def _whole(value: Any, name: str, minimum: int) -> int:
    """A whole number >= minimum from an env string or a JSON number."""
    if isinstance(value, bool):
        raise ContractError("%s must be a whole number >= %d, got %r" % (name, minimum, value))
    if isinstance(value, str):
        v = value.strip()
        if not re.fullmatch(r"-?[0-9]{1,18}", v):
            raise ContractError("%s must be a whole number >= %d, got %r" % (name, minimum, value))
        value = int(v)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < minimum:
        raise ContractError("%s must be a whole number >= %d, got %r" % (name, minimum, value))
    return value


def current(env: Optional[Mapping[str, str]] = None) -> Run:
    """The run of this process (from os.environ, or `env`). Raises ContractError naming a bad variable."""
    env = os.environ if env is None else env
    cell = _json_object(env, "SWEEP_RUN") or {}
    axes = cell.get("axes", {})
    if not isinstance(axes, dict):
        raise ContractError("SWEEP_RUN.axes must be an object, got %s" % type(axes).__name__)
    sweep = cell.get("sweep")
    run_id = env.get("SWEEP_RUN_ID") or cell.get("runId")
    for name, v in (("SWEEP_RUN.sweep", sweep), ("SWEEP_RUN_ID", run_id)):
        if v is not None and not isinstance(v, str):
            raise ContractError("%s must be a string, got %s" % (name, type(v).__name__))
    if env.get("SWEEP_ATTEMPT"):
        attempt = _whole(env["SWEEP_ATTEMPT"], "SWEEP_ATTEMPT", 1)
    else:
        attempt = _whole(cell.get("attempt", 1), "SWEEP_RUN.attempt", 1)
    stage = env.get("SWEEP_STAGE") or "train"
    if stage not in STAGES:
        raise ContractError("SWEEP_STAGE must be train or evaluate, got %r" % stage)
    gpus = _whole(env["SWEEP_GPUS"], "SWEEP_GPUS", 0) if env.get("SWEEP_GPUS") else None
    return Run(
        sweep=sweep,
        run_id=run_id,
        attempt=attempt,
        axes=dict(axes),
        stage=stage,
        resume=env.get("SWEEP_RESUME") == "1",
        checkpoint_dir=env.get("SWEEP_CHECKPOINT_DIR") or None,
        checkpoint_uri=env.get("SWEEP_CHECKPOINT_URI") or None,
        train_result=_train_result(env),
        result_file=env.get("SWEEP_RESULT_FILE") or None,
        gpus=gpus,
    )
