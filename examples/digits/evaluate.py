"""The evaluate stage: scores every checkpoint train.py saved on the held-out 30% of the digits.

    python examples/digits/evaluate.py [--checkpoint-dir DIR]

Which checkpoints: the ones the training result lists (SWEEP_TRAIN_RESULT / _FILE, given to the
evaluate stage), else (an evaluate-only sweep, or by hand) every epNNN.pt in the folder. The
folder is SWEEP_CHECKPOINT_DIR, or --checkpoint-dir. Each checkpoint is a data point: the last
one's scores are the result's metrics, the earlier ones are its `checkpoints`, each with the
counts it was saved with. Metrics: acc, err (= 1 - acc) and loss (mean cross-entropy).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import torch
from torch import nn

import sweepjob as sj
from digits import SmallCNN, load_split, n_params

CHECKPOINT = re.compile(r"^ep([0-9]{1,9})\.pt$")


def log(msg: str) -> None:
    sys.stderr.write("evaluate: %s\n" % msg)
    sys.stderr.flush()


def checkpoint_paths(folder: str, train_result) -> list:
    """(epoch, path) of the checkpoints to score, by epoch."""
    listed = (train_result or {}).get("checkpoints") or []
    if listed:
        found = [(int(c["epoch"]), os.path.join(folder, "ep%03d.pt" % int(c["epoch"]))) for c in listed]
        missing = [p for _, p in found if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError("the training result lists checkpoints that are not in %s: %s" % (folder, ", ".join(missing[:5])))
    else:
        found = []
        for p in sj.list_checkpoints(folder):
            m = CHECKPOINT.match(os.path.basename(p))
            if m:
                found.append((int(m.group(1)), p))
    return sorted(dict(found).items())


@torch.no_grad()
def score(path: str, x, y):
    state = torch.load(path, weights_only=True)  # tensors, numbers and lists only: nothing runs on load
    model = SmallCNN(state["config"]["width"])
    model.load_state_dict(state["model"])
    model.eval()
    logits = model(x)
    acc = (logits.argmax(1) == y).float().mean().item()
    metrics = {"acc": acc, "err": 1.0 - acc, "loss": nn.functional.cross_entropy(logits, y).item()}
    counts = {"n_samples_seen": state["n_samples_seen"], "total_flops": state["history"][-1]["total_flops"]}
    return metrics, counts, n_params(model)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--checkpoint-dir", help="default: SWEEP_CHECKPOINT_DIR")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    run = sj.current()
    sj.on_preempt(None)  # scoring is cheap to redo: a preempted evaluation simply runs again
    folder = a.checkpoint_dir or run.checkpoint_dir
    if not folder:
        p.error("no checkpoint folder: run it in a sweep (SWEEP_CHECKPOINT_DIR) or pass --checkpoint-dir")
    todo = checkpoint_paths(folder, run.train_result)
    if not todo:
        log("no epNNN.pt checkpoint in %s" % folder)
        sys.exit(2)

    _, _, vx, vy = load_split()
    x, y = torch.from_numpy(vx), torch.from_numpy(vy)
    points = []
    for epoch, path in todo:
        metrics, counts, params = score(path, x, y)
        points.append({"epoch": epoch, **counts, "metrics": metrics})
        log("epoch %d: acc %.4f err %.4f on %d held-out images" % (epoch, metrics["acc"], metrics["err"], len(y)))
    last = points[-1]
    sj.report(
        last["metrics"],
        n_params=params,
        n_samples_seen=last["n_samples_seen"],
        total_flops=last["total_flops"],
        checkpoints=points[:-1],  # the last one is the result itself: one data point each, none twice
        required_metrics=("acc", "err"),
    )


if __name__ == "__main__":
    main()
