"""The first cell of every notebook, as one call: enter the project root, validate the injected parameters against
the stage's config, seed everything and create the stage's run and results folders."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StageContext:
    cfg: Any  # the stage's validated config (stepwiser_core.stages)
    tier_runs: Path  # <runs_root>/<tier>: where earlier stages left their artifacts
    run_dir: Path  # <runs_root>/<tier>/<stage>: bulky, git-ignored
    results_dir: Path  # <results_root>/<tier>/<stage>: small, committed

    def input_path(self, value: str, *default: str) -> Path:
        """A path parameter, or, when it is empty, the default under this tier's runs: `input_path(cfg.policy_dir,
        "00_policy", "model")` is `<runs_root>/<tier>/00_policy/model` unless `policy_dir` is set."""
        return Path(value) if value else self.tier_runs.joinpath(*default)


def open_stage(config_cls: type, namespace: Mapping[str, Any]) -> StageContext:
    """`namespace` is the notebook's globals() after papermill's parameter cell; unknown or mistyped parameters raise
    (config.config_from_namespace). Relative paths are then relative to the repository, wherever Jupyter started."""
    from .config import config_from_namespace
    from .paths import enter_project_root
    from .seeding import seed_everything
    from .stages import STAGES

    stage = next(name for name, cls in STAGES.items() if cls is config_cls)
    enter_project_root()
    cfg = config_from_namespace(config_cls, namespace)
    seed_everything(cfg.seed)
    tier_runs = Path(cfg.runs_root) / cfg.tier
    run_dir, results_dir = tier_runs / stage, Path(cfg.results_root) / cfg.tier / stage
    run_dir.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    return StageContext(cfg, tier_runs, run_dir, results_dir)
