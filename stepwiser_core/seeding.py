"""One call that makes a stage's randomness reproducible.

Every notebook calls `seed_everything(cfg.seed)` in its first code cell, so re-running a stage with the same
config gives the same data, models and numbers (up to the nondeterminism torch itself cannot rule out).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU) and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds all CUDA devices
    # cuBLAS is only deterministic with a fixed workspace; the variable must be set before cuBLAS initialises,
    # which is why it is set here (stage start) rather than left to the user. A value set by the user wins.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op without a deterministic implementation should warn, not abort an hour-long stage.
    torch.use_deterministic_algorithms(True, warn_only=True)
