"""A resumable "training" job built on the helper, launched by the real LocalExecutor in
test/python/helper.test.ts: 5 epochs, a checkpoint per epoch, resume from the newest one.

With PAUSE_AT_EPOCH set, the first attempt stops after that epoch, writes READY_FILE (its
checkpoint folder) and waits to be preempted; the SIGTERM hook then saves its state.
"""

import os
import time

import sweepjob as sj

EPOCHS = 5
SAMPLES_PER_EPOCH = 1000

run = sj.current()
width = int(run.axes["width"])
state = {"epoch": 0}
latest = sj.latest_checkpoint()
if latest is not None:
    state = sj.load_pickle(latest)
start_epoch = state["epoch"]
sj.on_preempt(lambda: sj.save_checkpoint("preempted.pkl", dict(state, preempted=True)))

checkpoints = []
pause = int(os.environ.get("PAUSE_AT_EPOCH", "0"))
while state["epoch"] < EPOCHS:
    state = {"epoch": state["epoch"] + 1}
    sj.save_checkpoint("ep%d.pkl" % state["epoch"], state)
    if run.attempt == 1 and state["epoch"] == pause:
        with open(os.environ["READY_FILE"], "w") as f:
            f.write(sj.checkpoint_dir())
        time.sleep(60)  # preempted here

n_params = width * 100
seen = EPOCHS * SAMPLES_PER_EPOCH
sj.report(
    {"V1": width / 16, "start_epoch": start_epoch, "resumed": int(run.resume)},
    n_params=n_params,
    n_samples_seen=seen,
    total_flops=6.0 * n_params * seen,
    checkpoints=[
        {"epoch": e, "n_samples_seen": e * SAMPLES_PER_EPOCH, "total_flops": 6.0 * n_params * e * SAMPLES_PER_EPOCH, "metrics": {}}
        for e in range(1, EPOCHS + 1)  # all in the folder, whichever attempt wrote them
    ],
    artifacts={"checkpoint": sj.latest_checkpoint()},
    required_metrics=["V1"],
)
