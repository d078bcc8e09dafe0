"""Where the project lives, so notebooks resolve `runs/` and `results/` the same from JupyterLab
(whose working directory is `notebooks/`) as from the runner (the repository root)."""
from __future__ import annotations

import os
from pathlib import Path


def project_root(start: str | Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: the working directory) holding pyproject.toml."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "stepwiser_core").is_dir():
            return candidate
    raise FileNotFoundError(f"no stepwiser-study checkout at or above {here}")


def enter_project_root() -> Path:
    """chdir to the project root (relative paths in configs are relative to it) and return it."""
    root = project_root()
    os.chdir(root)
    return root
