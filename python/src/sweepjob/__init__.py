"""Job-side helper for scaling-sweep (standard library only).

    import sweepjob as sj
    run = sj.current()                  # axes, attempt, stage, resume flag, checkpoint folder
    sj.on_preempt(lambda: sj.save_checkpoint("last.pt", lambda f: torch.save(state, f)))
    start = sj.latest_checkpoint()      # None on a fresh run
    ...
    sj.report({"acc": 0.71}, n_params=11_689_512, n_samples_seen=1.28e8, total_flops=4.6e17)
"""

from .checkpoints import checkpoint_dir, latest_checkpoint, list_checkpoints, load_pickle, save_checkpoint
from .preempt import PREEMPTED_EXIT, on_preempt, preempted
from .result import (
    MAX_ARTIFACTS,
    MAX_CHECKPOINTS,
    MAX_METRIC_NAME,
    MAX_METRICS,
    MAX_RESULT_BYTES,
    MAX_TERMINATION_LOG_BYTES,
    ResultError,
    encode_result,
    report,
    validate_result,
)
from .run import ContractError, Run, current

__version__ = "0.1.0"

__all__ = [
    "ContractError",
    "MAX_ARTIFACTS",
    "MAX_CHECKPOINTS",
    "MAX_METRICS",
    "MAX_METRIC_NAME",
    "MAX_RESULT_BYTES",
    "MAX_TERMINATION_LOG_BYTES",
    "PREEMPTED_EXIT",
    "ResultError",
    "Run",
    "checkpoint_dir",
    "current",
    "encode_result",
    "latest_checkpoint",
    "list_checkpoints",
    "load_pickle",
    "on_preempt",
    "preempted",
    "report",
    "save_checkpoint",
    "validate_result",
]
