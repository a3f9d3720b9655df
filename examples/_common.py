"""Data for the examples: digits by default, MNIST with SK_GUESSFIRST_FULL=1."""

import os

from sk_guessfirst.datasets import load_dataset

FULL = os.environ.get("SK_GUESSFIRST_FULL") == "1"


def example_data(n_test=200):
    """Training and test images as (n, H, W) arrays: images are said, not guessed."""
    name = "mnist" if FULL else "digits"
    X, y = load_dataset(name, subset="train")
    Xt, yt = load_dataset(name, subset="test")
    side = int(round(X.shape[1] ** 0.5))
    return (
        X.reshape(-1, side, side),
        y,
        Xt[:n_test].reshape(-1, side, side),
        yt[:n_test],
    )


EPOCHS = 5 if FULL else 10
