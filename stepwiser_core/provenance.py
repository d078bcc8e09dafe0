"""What produced a run: code version, package versions, machine and time.

A result is only auditable if one can tell which commit (and whether uncommitted edits), which library versions
and which machine produced it. The runner writes this into every run folder's `provenance.json`.
Nothing here imports the heavy libraries: versions come from package metadata, so collecting provenance is cheap.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Distribution names (as pip knows them) of the packages whose versions can change results.
TRACKED_PACKAGES: tuple[str, ...] = (
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "tokenizers",
    "math-verify",
    "papermill",
    "numpy",
    "pandas",
)


def utc_now() -> str:
    """Current time as an ISO 8601 UTC timestamp (seconds precision)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def package_versions(packages: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, `None` for one that is not installed."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(repo_dir: Path, *args: str) -> str | None:
    """Output of a git command, or `None` when git is missing or the command fails (e.g. not a repository)."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=repo_dir, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state(repo_dir: Path) -> dict[str, Any]:
    """The commit checked out in `repo_dir` and whether the working tree differs from it.

    Returns `commit` (full hash, `None` outside a repository or before the first commit), `dirty` (`None` when
    unknown) and `label` (short hash with a `-dirty` suffix, the form to quote in reports).
    """
    commit = _git(repo_dir, "rev-parse", "HEAD")
    status = _git(repo_dir, "status", "--porcelain")
    dirty = None if status is None else bool(status)
    label = None
    if commit is not None:
        label = commit[:12] + ("-dirty" if dirty else "")
    return {"commit": commit, "dirty": dirty, "label": label}


def _usable_cpus() -> int | None:
    # The affinity mask is what this process may actually use (containers, taskset); cpu_count is the machine's.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def cpu_model() -> str | None:
    """The processor's model name (Linux /proc/cpuinfo), or None where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info() -> dict[str, Any]:
    """Python version, platform string, CPU model and counts, and the thread settings the notebook's kernel inherits.

    The thread count is part of what makes a run repeatable: torch's CPU kernels split reductions by thread, so
    the same seed with OMP_NUM_THREADS=1 instead of the default (one thread per usable CPU) samples different
    rollouts (observed on notebook 02 of the toy tier). So is the processor: the same commit, packages and thread
    count trained a different toy base model on an AMD EPYC than on the machine of the earlier runs (00, the
    loss differed from the first logged step), since the CPU kernels torch picks differ by instruction set."""
    return {
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": _usable_cpus(),
        "thread_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def collect_provenance(repo_dir: Path) -> dict[str, Any]:
    """Everything about code, packages and machine that does not depend on the run itself."""
    return {
        "git": git_state(repo_dir),
        "packages": package_versions(),
        "machine": machine_info(),
    }
