"""The runner: validation before execution, run folders, resume, --force and failures.

Uses its own stage registry and the fixture notebook `tests/fixtures/runner/01_tiny.ipynb`, which writes
`<runs_root>/<tier>/<stage>/tiny.json` (or raises when `fail` is true). Real papermill executions are slow
(seconds each), so they are kept to four: one first run, one changed parameter, one --force, one failure.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stepwiser_core.config import load_config
from stepwiser_core.run import _run_key
from stepwiser_core.io import read_json
from stepwiser_core.run import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "runner"
PARAMS = FIXTURES / "params" / "toy"  # sets value: 3


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    tier: str = "toy"
    seed: int = 0
    stage: str = "01_tiny"
    runs_root: str = "runs"
    value: int = 1
    fail: bool = False


STAGES = {"01_tiny": TinyConfig}


def _argv(runs_root: Path, *extra: str, target: str = "01_tiny", notebooks: Path = FIXTURES) -> list[str]:
    return [target, "--params", str(PARAMS), "--notebooks-dir", str(notebooks), "--runs-root", str(runs_root), *extra]


# --- validation: nothing executes, so these are fast -------------------------------------------------------


@pytest.mark.parametrize("target", ["01_tiny", "all", str(FIXTURES / "01_tiny.ipynb")])
def test_unknown_parameter_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    assert main(_argv(tmp_path, "-p", "no_such_param", "1", target=target), stages=STAGES) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'no_such_param'" in err
    assert "valid names: fail, runs_root, seed, stage, tier, value" in err
    assert not any(tmp_path.iterdir())  # nothing was run or written


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["-p", "seed", "abc"], "'seed' expects int, got 'abc' (str)"),
        (["-p", "value", "[1,"], "-p value: cannot parse"),
        (["-p", "stage", "other"], "'stage' is set by the runner"),
        (["-p", "runs_root", "elsewhere"], "'runs_root' is set by the runner"),
    ],
)
def test_invalid_values_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], expected: str
) -> None:
    assert main(_argv(tmp_path, *overrides), stages=STAGES) == 2
    assert expected in capsys.readouterr().err


def test_unknown_stage_and_missing_params_dir_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_argv(tmp_path, target="07_nope"), stages=STAGES) == 2
    assert "unknown stage '07_nope'; known stages: 01_tiny" in capsys.readouterr().err
    argv = ["01_tiny", "--params", str(tmp_path / "params" / "typo"), "--notebooks-dir", str(FIXTURES)]
    assert main(argv, stages=STAGES) == 2
    assert "params directory" in capsys.readouterr().err


def test_parameters_cell_must_match_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebook = json.loads((FIXTURES / "01_tiny.ipynb").read_text())
    params_cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    params_cell["source"] = [*params_cell["source"], "\n", "out_dir = f'{runs_root}/{tier}'"]
    (tmp_path / "01_tiny.ipynb").write_text(json.dumps(notebook))

    assert main(_argv(tmp_path / "runs", notebooks=tmp_path), stages=STAGES) == 2
    err = capsys.readouterr().err
    assert "declared in the notebook but not in TinyConfig: out_dir" in err


def test_cli_rejects_unknown_parameter_within_seconds(tmp_path: Path) -> None:
    """The real entry point with the real registry: the validation pass must not import heavy libraries."""
    if importlib.util.find_spec("stepwiser_core.stages") is None:
        pytest.skip("stepwiser_core.stages (the stage registry) does not exist yet")
    from stepwiser_core.stages import STAGES as real_stages

    stage = next(iter(real_stages))
    shutil.copy(FIXTURES / "01_tiny.ipynb", tmp_path / f"{stage}.ipynb")  # validation stops before reading it
    (tmp_path / "params" / "smoke").mkdir(parents=True)
    argv = [stage, "--params", str(tmp_path / "params" / "smoke"), "--notebooks-dir", str(tmp_path)]
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "stepwiser_core.run", *argv, "--runs-root", str(tmp_path / "runs"),
         "-p", "no_such_param", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    assert "no_such_param" in result.stderr
    assert elapsed < 5, f"validation took {elapsed:.1f} s"
    assert not (tmp_path / "runs").exists()


# --- real executions ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One real execution, shared: (runs_root, stdout). The kernel runs in the repo root, as in real use."""
    runs_root = tmp_path_factory.mktemp("runner") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        capture = tmp_path_factory.mktemp("stdout") / "out.txt"
        with capture.open("w") as out:
            mp.setattr(sys, "stdout", out)
            code = main(_argv(runs_root), stages=STAGES)
        assert code == 0
        yield runs_root, capture.read_text()


def test_first_run_writes_run_folder(first_run: tuple[Path, str]) -> None:
    runs_root, stdout = first_run
    run_dir = runs_root / "toy" / "01_tiny"
    expected = load_config(TinyConfig, PARAMS / "01_tiny.yaml", {"runs_root": str(runs_root)}, tier="toy")

    assert read_json(run_dir / "tiny.json") == {"seed": 0, "stage": "01_tiny", "value": 3}  # params file applied
    assert yaml.safe_load((run_dir / "config.yaml").read_text()) == dataclasses.asdict(expected)
    run = read_json(run_dir / "run.json")
    assert run["status"] == "complete" and run["config_hash"] == _run_key(expected, FIXTURES / "01_tiny.ipynb")
    assert run["duration_s"] > 0

    provenance = read_json(run_dir / "provenance.json")
    assert provenance["config_hash"] == run["config_hash"] and provenance["seed"] == 0
    assert provenance["status"] == "complete" and provenance["ended_at"] >= provenance["started_at"]
    assert {"commit", "dirty"} <= set(provenance["git"]) and "papermill" in provenance["packages"]
    assert {"python", "platform", "cpu_model", "cpu_count", "usable_cpus", "thread_env"} <= set(provenance["machine"])
    assert "stepwiser_core.run 01_tiny" in provenance["command"]

    executed = json.loads((run_dir / "executed.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])
    assert not (run_dir / "failed.ipynb").exists()
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []  # no temporary files
    assert read_json(runs_root / "toy" / "timings.json") == {"01_tiny": run["duration_s"]}
    assert "done 01_tiny in" in stdout


def test_resume_force_changed_parameter_and_failure(
    first_run: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_root, _ = first_run
    run_dir = runs_root / "toy" / "01_tiny"
    monkeypatch.chdir(REPO)
    first = read_json(run_dir / "run.json")

    assert main(_argv(runs_root), stages=STAGES) == 0
    assert "skip 01_tiny: outputs exist for this config (use --force to re-run)" in capsys.readouterr().out
    assert read_json(run_dir / "run.json") == first

    assert main(_argv(runs_root, "-p", "value", "4"), stages=STAGES) == 0  # a changed parameter re-runs
    assert "done 01_tiny" in capsys.readouterr().out
    assert read_json(run_dir / "tiny.json")["value"] == 4
    assert read_json(run_dir / "run.json")["config_hash"] != first["config_hash"]

    assert main(_argv(runs_root, "-p", "value", "4", "--force"), stages=STAGES) == 0
    assert "done 01_tiny" in capsys.readouterr().out

    assert main(_argv(runs_root, "-p", "fail", "true"), stages=STAGES) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: fixture asked to fail" in err and str(run_dir / "failed.ipynb") in err
    assert not (run_dir / "run.json").exists() and not (run_dir / "executed.ipynb").exists()
    assert (run_dir / "failed.ipynb").exists()
    assert read_json(run_dir / "provenance.json")["status"] == "failed"


def test_papermill_name_warnings_are_dropped_and_its_other_warnings_kept(caplog):
    import logging

    from stepwiser_core.run import quiet_papermill_name_warnings

    quiet_papermill_name_warnings()
    quiet_papermill_name_warnings()  # twice: still one filter
    assert len(logging.getLogger("papermill").filters) == 1
    with caplog.at_level(logging.WARNING):
        logging.getLogger("papermill").warning("Passed unknown parameter: seed")
        logging.getLogger("papermill.translators").warning("Unable to parse line 3 'a = 1; b = 2'.")
        logging.getLogger("papermill").warning("Input notebook does not contain a cell with tag 'parameters'")
    assert [r.getMessage() for r in caplog.records] == ["Input notebook does not contain a cell with tag 'parameters'"]
