"""The evaluate stage of train.py's runs: scores every checkpoint the training stage reported,
from the run's checkpoint folder, using SWEEP_TRAIN_RESULT for each one's counts."""

import os

import sweepjob as sj

run = sj.current()
assert run.stage == "evaluate", run.stage
train = run.train_result
files = {os.path.basename(p) for p in sj.list_checkpoints()}
scored = []
for ck in train["checkpoints"]:
    state = sj.load_pickle(os.path.join(run.checkpoint_dir, "ep%d.pkl" % ck["epoch"]))
    score = state["epoch"] / 10  # a "held-out accuracy" that grows with training
    scored.append(dict(ck, metrics={"V1": score}))
sj.report(
    {"V1": scored[-1]["metrics"]["V1"], "n_checkpoint_files": len(files)},
    n_params=train["n_params"],
    n_samples_seen=train["n_samples_seen"],
    total_flops=train["total_flops"],
    checkpoints=scored,
    required_metrics=["V1"],
)
