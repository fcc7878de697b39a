"""The training stage: a small CNN on scikit-learn's digits, checkpointed every epoch, resumable.

    python examples/digits/train.py --width 16 --samples-per-class 50 --epochs 10 [--seed 0]

Every epoch is saved with `sweepjob.save_checkpoint` to SWEEP_CHECKPOINT_DIR as epNNN.pt (model,
optimiser, counts, the per-epoch history). On a retry (SWEEP_RESUME=1) it loads the latest
checkpoint and trains only the epochs left; the batches are ordered by (seed, epoch), so a resumed
run trains exactly as one that was never stopped. A SIGTERM (preemption, cancel) exits as
preempted at once: the last finished epoch is on disk already.

The result: n_params, n_samples_seen, total_flops (6 x conv/linear MACs per sample x samples
seen, see digits.py), one checkpoint entry per epoch, and the metrics train_loss, epochs_trained
(by this attempt) and, on a resumed attempt, resumed_from_epoch.

`--preempt-at-epoch K` (tests, demos) makes attempt 1 send itself SIGTERM right after saving
epoch K, as a preemption would; `--preempt-if width=16,samples_per_class=10` limits that to the
runs whose axes match.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

import torch
from torch import nn

import sweepjob as sj
from digits import SmallCNN, load_split, n_params, subsample, train_flops_per_sample

#: The settings a checkpoint must share with this job to be resumed (epochs may grow).
SAME_ON_RESUME = ("width", "samples_per_class", "seed", "batch_size", "lr")


def log(msg: str) -> None:
    sys.stderr.write("train: %s\n" % msg)
    sys.stderr.flush()


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--width", type=int, required=True, help="channels of the first conv (the second has twice)")
    p.add_argument("--samples-per-class", type=int, required=True, help="training images per digit, 0 = all (~125)")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--preempt-at-epoch", type=int, default=0, help="attempt 1 sends itself SIGTERM after this epoch")
    p.add_argument("--preempt-if", default="", help="only for runs whose axes match, e.g. width=16,samples_per_class=10")
    a = p.parse_args(argv)
    for name in ("width", "epochs", "batch_size"):
        if getattr(a, name) < 1:
            p.error("--%s must be >= 1, got %d" % (name.replace("_", "-"), getattr(a, name)))
    if a.samples_per_class < 0:
        p.error("--samples-per-class must be >= 0 (0 = all), got %d" % a.samples_per_class)
    if not a.lr > 0:
        p.error("--lr must be > 0")
    return a


def axes_match(rule: str, axes) -> bool:
    """"a=1,b=x" against the run's axes (values compared as text)."""
    for part in filter(None, rule.split(",")):
        key, _, want = part.partition("=")
        if key not in axes or str(axes[key]) != want:
            return False
    return True


def resume_state(config, run):
    """The latest checkpoint's state on a retry, else None (a fresh run)."""
    if not run.resume:
        return None
    path = sj.latest_checkpoint()
    if path is None:
        log("attempt %d: SWEEP_RESUME=1 but no checkpoint was saved yet: starting from zero" % run.attempt)
        return None
    state = torch.load(path, weights_only=True)  # tensors, numbers and lists only: nothing runs on load
    differs = [k for k in SAME_ON_RESUME if state["config"].get(k) != config[k]]
    if differs:
        # A checkpoint of a different job definition: refuse rather than continue someone else's model.
        # Exit 2, as for bad arguments: the spec lists it in nonRetryableExitCodes (a user error).
        log("%s was saved with other %s: not resuming from it" % (os.path.basename(path), ", ".join(differs)))
        sys.exit(2)
    return state


def main(argv=None) -> None:
    a = parse(argv)
    torch.set_num_threads(1)  # several jobs share the machine's cores
    run = sj.current()
    sj.on_preempt(None)  # every epoch is saved already: on SIGTERM just exit as preempted
    config = {"width": a.width, "samples_per_class": a.samples_per_class, "seed": a.seed, "batch_size": a.batch_size, "lr": a.lr}

    tx, ty, _, _ = load_split()
    x, y = subsample(tx, ty, a.samples_per_class, a.seed)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    flops_per_sample = train_flops_per_sample(a.width)

    torch.manual_seed(a.seed)
    model = SmallCNN(a.width)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    start, seen, history = 0, 0, []
    state = resume_state(config, run)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, seen, history = state["epoch"], state["n_samples_seen"], state["history"]
        log("attempt %d resumed at epoch %d of %d" % (run.attempt, start, a.epochs))

    preempt = a.preempt_at_epoch > 0 and run.attempt == 1 and axes_match(a.preempt_if, run.axes)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(start, a.epochs):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(a.seed * 100_003 + epoch))
        model.train()
        total = 0.0
        for i in range(0, len(y), a.batch_size):
            idx = order[i : i + a.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seen += len(y)
        done = epoch + 1
        history.append(
            {"epoch": done, "n_samples_seen": seen, "total_flops": seen * flops_per_sample, "metrics": {"train_loss": total / len(y)}}
        )
        snapshot = {"config": config, "epoch": done, "n_samples_seen": seen, "history": history, "attempt": run.attempt,
                    "model": model.state_dict(), "optimizer": opt.state_dict()}
        sj.save_checkpoint("ep%03d.pt" % done, lambda f: torch.save(snapshot, f))
        log("epoch %d/%d train_loss %.4f (%d samples seen)" % (done, a.epochs, total / len(y), seen))
        if preempt and done == a.preempt_at_epoch:
            log("injected preemption after epoch %d: SIGTERM to self" % done)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler ends the process before this returns
            raise SystemExit("train: the injected SIGTERM did not end the process")

    metrics = {"train_loss": history[-1]["metrics"]["train_loss"], "epochs_trained": a.epochs - start}
    if state is not None:
        metrics["resumed_from_epoch"] = start
    sj.report(
        metrics,
        n_params=n_params(model),
        n_samples_seen=seen,
        total_flops=seen * flops_per_sample,
        checkpoints=history,
    )


if __name__ == "__main__":
    main()
