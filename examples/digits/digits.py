"""What train.py and evaluate.py share: the data split, the model family and its compute count.

The data is scikit-learn's bundled digits set (1,797 greyscale 8x8 images of 10 digits, shipped
inside the package: nothing is downloaded). A fixed stratified 30% is held out for evaluate.py;
training draws `samples_per_class` images of each digit from the other 70%.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

N_CLASSES = 10
IMAGE = 8  # the images are 8x8
#: The held-out split never depends on a run's seed: every run is scored on the same images.
SPLIT_SEED = 0
HELD_OUT_FRACTION = 0.3


def load_split():
    """(train_x, train_y, test_x, test_y) as float32 [N, 1, 8, 8] in [0, 1] and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = d.target.astype(np.int64)
    tx, vx, ty, vy = train_test_split(x, y, test_size=HELD_OUT_FRACTION, stratify=y, random_state=SPLIT_SEED)
    return tx, ty, vx, vy


def subsample(x, y, samples_per_class: int, seed: int):
    """`samples_per_class` images of each digit (0: all of them), drawn by `seed`."""
    if samples_per_class < 0:
        raise ValueError("samples_per_class must be >= 0 (0 = all), got %d" % samples_per_class)
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        keep.append(idx if samples_per_class == 0 else idx[:samples_per_class])
    sel = np.sort(np.concatenate(keep))
    return x[sel], y[sel]


class SmallCNN(nn.Module):
    """conv3x3(1->w) relu, conv3x3(w->2w) relu, maxpool 2, linear(2w*4*4 -> 10)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        if width < 1:
            raise ValueError("width must be >= 1, got %d" % width)
        self.width = width
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * width * (IMAGE // 2) ** 2, N_CLASSES)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_sample(width: int) -> int:
    """Multiply-accumulates of one forward pass, counted layer by layer (biases, ReLU and pooling,
    a few percent, are left out). A conv weight is applied at every one of the 64 positions, so
    6 x params x samples would undercount these CNNs 9- to 42-fold (width 2 to 32): count the MACs."""
    positions = IMAGE * IMAGE
    conv1 = positions * width * 1 * 9
    conv2 = positions * (2 * width) * width * 9
    fc = 2 * width * (IMAGE // 2) ** 2 * N_CLASSES
    return conv1 + conv2 + fc


def train_flops_per_sample(width: int) -> int:
    """Training FLOPs per sample: 2 FLOPs per MAC forward, and the backward pass about twice the
    forward (gradients of activations and of weights), so 6 x MACs."""
    return 6 * macs_per_sample(width)
