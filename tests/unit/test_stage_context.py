"""open_stage: the notebooks' first cell as one call."""
import dataclasses
import os
from pathlib import Path

import pytest

from stepwiser_core.config import ConfigError
from stepwiser_core.paths import project_root
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import JudgeTrainingConfig


def namespace(cls, **overrides):
    ns = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
          for f in dataclasses.fields(cls)}
    return {**ns, **overrides}


def test_open_stage_validates_seeds_and_creates_the_stage_folders(tmp_path):
    ns = namespace(JudgeTrainingConfig, tier="smoke", runs_root=str(tmp_path / "runs"),
                   results_root=str(tmp_path / "results"))
    stage = open_stage(JudgeTrainingConfig, ns)
    assert os.getcwd() == str(project_root())  # relative config paths resolve against the repository
    assert stage.cfg.tier == "smoke" and stage.tier_runs == tmp_path / "runs" / "smoke"
    assert stage.run_dir == tmp_path / "runs" / "smoke" / "03_judge_training" and stage.run_dir.is_dir()
    assert stage.results_dir == tmp_path / "results" / "smoke" / "03_judge_training" and stage.results_dir.is_dir()


def test_open_stage_fails_on_a_missing_parameter(tmp_path):
    ns = namespace(JudgeTrainingConfig, runs_root=str(tmp_path / "runs"), results_root=str(tmp_path / "results"))
    del ns["learning_rate"]
    with pytest.raises(ConfigError, match="learning_rate"):
        open_stage(JudgeTrainingConfig, ns)
    assert not (tmp_path / "runs").exists()  # nothing created before validation passes


def test_input_path_is_the_parameter_or_the_earlier_stages_default(tmp_path):
    ns = namespace(JudgeTrainingConfig, tier="smoke", runs_root=str(tmp_path / "runs"),
                   results_root=str(tmp_path / "results"))
    stage = open_stage(JudgeTrainingConfig, ns)
    assert stage.input_path("", "01_segmentation", "model") == tmp_path / "runs" / "smoke" / "01_segmentation" / "model"
    assert stage.input_path("/elsewhere/model", "01_segmentation", "model") == Path("/elsewhere/model")
