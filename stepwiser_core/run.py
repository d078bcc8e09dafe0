"""Batch runner for the notebook series: `python -m stepwiser_core.run <notebook|all> --params params/<tier>`.

    python -m stepwiser_core.run 02_rollout_labels --params params/toy -p num_rollouts 8
    python -m stepwiser_core.run all --params params/smoke --runs-root /tmp/runs

For each selected stage the runner
1. resolves its config: dataclass defaults < `<params>/<stage>.yaml` < `-p NAME VALUE` (tier = the params
   directory's name), and checks that the notebook's `parameters` cell declares exactly the config's fields.
   All selected stages are validated before anything executes, so a typo costs a second, not a failed stage;
2. skips the stage when `<runs_root>/<tier>/<stage>/run.json` records the same config hash (resume after an
   interruption), unless `--force`;
3. executes the notebook with papermill, injecting every config field, and records `config.yaml`,
   `provenance.json` and `executed.ipynb` (or `failed.ipynb`), then `run.json` last, as the completion marker;
4. merges the stage's wall time into `<runs_root>/<tier>/timings.json`.

Exit codes: 0 success, 1 a stage failed, 2 invalid arguments or config.
Papermill is imported only when a notebook executes: validation has to stay fast.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import logging
import os
import secrets
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stepwiser_core.config import (
    ConfigError,
    check_names,
    config_hash,
    config_to_dict,
    config_to_yaml,
    field_types,
    load_config,
    parse_cli_value,
)
from stepwiser_core.io import atomic_write_json, atomic_write_text, read_json
from stepwiser_core.provenance import collect_provenance, utc_now

# Fields whose values only the runner knows. A stage dataclass may declare them (and its notebook then receives
# them); they cannot be set with -p. `runs_root` lets `--runs-root` move the notebook's own outputs too.
RUNNER_FIELDS = ("stage", "runs_root")


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """A stage whose config is resolved and valid: what to execute, with what, and where to record it."""

    stage: str
    notebook: Path
    config: Any
    config_hash: str
    run_dir: Path


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stepwiser_core.run",
        description="Validate and execute study notebooks through papermill, with run folders and resume.",
    )
    parser.add_argument("target", help="a stage (00_policy), a notebook path (notebooks/00_policy.ipynb) or 'all'")
    parser.add_argument(
        "--params", required=True, type=Path, help="parameter directory, e.g. params/toy; its name is the tier"
    )
    parser.add_argument(
        "-p",
        dest="overrides",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (VALUE is parsed as YAML); with 'all', applies to every stage that has it",
    )
    parser.add_argument("--force", action="store_true", help="re-run stages even if complete for this config")
    parser.add_argument("--notebooks-dir", type=Path, default=Path("notebooks"), help="default: notebooks")
    parser.add_argument(
        "--runs-root", type=Path, default=Path("runs"), help="run folders: RUNS_ROOT/<tier>/<stage> (default: runs)"
    )
    return parser.parse_args(argv)


def select_notebooks(target: str, notebooks_dir: Path, stages: Mapping[str, type]) -> list[tuple[str, Path]]:
    """The (stage, notebook path) pairs that `target` names, in execution order."""
    if target == "all":
        found = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
        for notebook in found:
            if notebook.stem not in stages:
                print(f"warning: {notebook} has no config in the stage registry; not run", file=sys.stderr)
        selected = [(nb.stem, nb) for nb in found if nb.stem in stages]
        if not selected:
            raise ConfigError(f"no notebook in {notebooks_dir} belongs to a registered stage")
        return selected
    notebook = Path(target) if target.endswith(".ipynb") else notebooks_dir / f"{target}.ipynb"
    if notebook.stem not in stages:
        raise ConfigError(f"unknown stage '{notebook.stem}'; known stages: {', '.join(sorted(stages))}")
    if not notebook.is_file():
        raise ConfigError(f"notebook {notebook} does not exist")
    return [(notebook.stem, notebook)]


def notebook_parameters(notebook: Path) -> set[str]:
    """Names assigned at top level in the notebook's cell tagged `parameters`."""
    try:
        cells = read_json(notebook)["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read notebook {notebook}: {exc}") from None
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                raise ConfigError(f"cannot parse the parameters cell of {notebook}: {exc}") from None
            names = set()
            for node in tree.body:
                if isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
            return names
    raise ConfigError(f"notebook {notebook} has no code cell tagged 'parameters'")


def _check_notebook_matches(stage: str, notebook: Path, cls: type) -> None:
    # Papermill injects values in a cell after the parameters cell: a parameter the dataclass lacks could not be
    # set or validated and would not be part of the config hash, and a value derived inside the parameters cell
    # would silently keep using the defaults. Either way the recorded config would not describe the run.
    declared = notebook_parameters(notebook)
    fields = set(field_types(cls))
    if declared != fields:
        problems = []
        if extra := sorted(declared - fields):
            problems.append(f"declared in the notebook but not in {cls.__name__}: {', '.join(extra)}")
        if missing := sorted(fields - declared):
            problems.append(f"in {cls.__name__} but not declared in the notebook: {', '.join(missing)}")
        raise ConfigError(
            f"stage {stage}: the parameters cell of {notebook} does not match its config ({'; '.join(problems)})"
        )


def _parse_overrides(pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, text in pairs:
        try:
            overrides[name] = parse_cli_value(text)
        except ConfigError as exc:
            raise ConfigError(f"-p {name}: {exc}") from None
        if name in RUNNER_FIELDS:
            raise ConfigError(f"parameter '{name}' is set by the runner and cannot be overridden with -p")
    return overrides


def plan_stages(args: argparse.Namespace, stages: Mapping[str, type]) -> list[StagePlan]:
    """Resolve and validate the config of every selected stage; raises `ConfigError` before anything runs."""
    if not args.params.is_dir():
        raise ConfigError(f"params directory {args.params} does not exist")
    tier = args.params.resolve().name
    selected = select_notebooks(args.target, args.notebooks_dir, stages)
    overrides = _parse_overrides(args.overrides)
    declared = {name for stage, _ in selected for name in field_types(stages[stage])}
    check_names(declared, overrides, f"-p overrides for stage(s) {', '.join(stage for stage, _ in selected)}")

    plans = []
    for stage, notebook in selected:
        cls = stages[stage]
        _check_notebook_matches(stage, notebook, cls)
        names = field_types(cls)
        runner_values = {"stage": stage, "runs_root": str(args.runs_root)}
        stage_overrides = {k: v for k, v in {**overrides, **runner_values}.items() if k in names}
        yaml_path = args.params / f"{stage}.yaml"
        try:
            cfg = load_config(cls, yaml_path if yaml_path.is_file() else None, stage_overrides, tier)
        except ConfigError as exc:
            raise ConfigError(f"stage {stage}: {exc}") from None
        plans.append(StagePlan(stage, notebook, cfg, _run_key(cfg, notebook), args.runs_root / tier / stage))
    return plans


def _run_key(cfg: Any, notebook: Path) -> str:
    """What decides whether a finished stage can be reused: its config and its notebook's source.

    An edited notebook computes something else from the same parameters, so it must not be skipped."""
    import hashlib

    return hashlib.sha256(f"{config_hash(cfg)}:".encode() + notebook.read_bytes()).hexdigest()[:16]


def _is_complete(run_dir: Path, cfg_hash: str) -> bool:
    marker = run_dir / "run.json"
    if not marker.is_file():
        return False
    try:
        record = read_json(marker)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("status") == "complete" and record.get("config_hash") == cfg_hash


def _describe_error(exc: BaseException) -> str:
    # PapermillExecutionError's str() is the whole ANSI-coloured traceback; its fields give the one-line summary.
    if hasattr(exc, "ename"):
        return f"cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}"
    return f"{type(exc).__name__}: {exc}"


class _PapermillNameWarnings(logging.Filter):
    """Drops papermill's two warnings about parameter names. Papermill reads a parameters cell one assignment per
    line; ours packs several to a line (tools/nbbuild.py), so it warned "Unable to parse line" for each line and
    "Passed unknown parameter" for every name, some 40 lines per stage that would hide a real warning. The runner
    checks the names itself, exactly, before anything runs (`_check_notebook_matches` parses the cell)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Unable to parse line", "Passed unknown parameter"))


_PAPERMILL_NAME_WARNINGS = _PapermillNameWarnings()


def quiet_papermill_name_warnings() -> None:
    for name in ("papermill", "papermill.translators"):  # a logger's filters do not see its children's records
        logging.getLogger(name).addFilter(_PAPERMILL_NAME_WARNINGS)  # idempotent: the same filter is added once


def _execute(plan: StagePlan, repo_dir: Path) -> str | None:
    """Execute the notebook into the run folder; returns an error summary, or None on success."""
    import papermill  # lazy: papermill and its kernel machinery take seconds to import

    quiet_papermill_name_warnings()

    # Papermill saves the output notebook while it runs; a temporary name keeps a partial one from ever
    # looking like a finished `executed.ipynb`. It must end in .ipynb, or papermill warns.
    tmp = plan.run_dir / f".executed.tmp-{secrets.token_hex(4)}.ipynb"
    try:
        papermill.execute_notebook(
            str(plan.notebook.resolve()),
            str(tmp.resolve()),
            parameters=config_to_dict(plan.config),
            kernel_name="python3",
            cwd=str(repo_dir),
            progress_bar=False,
            log_output=False,
        )
    except BaseException as exc:
        if tmp.exists():
            os.replace(tmp, plan.run_dir / "failed.ipynb")
        if not isinstance(exc, Exception):  # Ctrl-C: keep the partial notebook, but do stop
            raise
        return _describe_error(exc)
    os.replace(tmp, plan.run_dir / "executed.ipynb")
    return None


def _record_timing(tier_dir: Path, stage: str, duration_s: float) -> None:
    path = tier_dir / "timings.json"
    timings: dict[str, float] = {}
    if path.is_file():
        try:
            timings = read_json(path)
        except ValueError as exc:
            print(f"warning: {exc}; starting a new timings file", file=sys.stderr)
    if not isinstance(timings, dict):
        print(f"warning: {path} is not a JSON object; starting a new timings file", file=sys.stderr)
        timings = {}
    timings[stage] = duration_s
    atomic_write_json(path, timings)


def run_stage(plan: StagePlan, force: bool, command: str, repo_dir: Path) -> bool:
    """Execute one validated stage unless it is already complete; returns whether it succeeded."""
    if not force and _is_complete(plan.run_dir, plan.config_hash):
        print(f"skip {plan.stage}: outputs exist for this config (use --force to re-run)", flush=True)
        return True
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    # From here on the old results no longer match the recorded config: drop the completion marker first.
    for stale in ("run.json", "executed.ipynb", "failed.ipynb"):
        (plan.run_dir / stale).unlink(missing_ok=True)
    atomic_write_text(plan.run_dir / "config.yaml", config_to_yaml(plan.config))
    provenance = {
        "stage": plan.stage,
        "tier": plan.config.tier,
        "notebook": str(plan.notebook),
        "command": command,
        "config_hash": plan.config_hash,
        "seed": plan.config.seed,
        "status": "running",
        "started_at": utc_now(),
        **collect_provenance(repo_dir),
    }
    atomic_write_json(plan.run_dir / "provenance.json", provenance)
    print(f"run {plan.stage} [tier {plan.config.tier}, config {plan.config_hash}] -> {plan.run_dir}", flush=True)

    start = time.perf_counter()
    error = _execute(plan, repo_dir)
    duration_s = round(time.perf_counter() - start, 2)
    provenance.update(status="failed" if error else "complete", ended_at=utc_now(), duration_s=duration_s)
    atomic_write_json(plan.run_dir / "provenance.json", provenance)

    if error is not None:
        failed = plan.run_dir / "failed.ipynb"
        print(f"error: stage {plan.stage} failed after {duration_s:.1f} s: {error}", file=sys.stderr)
        where = f"see {failed}" if failed.exists() else "no notebook output was written"
        print(f"  {where}", file=sys.stderr, flush=True)
        return False
    _record_timing(plan.run_dir.parent, plan.stage, duration_s)
    atomic_write_json(
        plan.run_dir / "run.json",
        {"status": "complete", "config_hash": plan.config_hash, "duration_s": duration_s},
    )
    print(f"done {plan.stage} in {duration_s:.1f} s", flush=True)
    return True


def main(argv: Sequence[str] | None = None, stages: Mapping[str, type] | None = None) -> int:
    """Run the CLI; `stages` replaces the registry of `stepwiser_core.stages` (tests pass their own)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse_args(argv)
    if stages is None:
        from stepwiser_core.stages import STAGES as stages
    try:
        plans = plan_stages(args, stages)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "-m", "stepwiser_core.run", *argv])
    repo_dir = Path.cwd()
    for plan in plans:
        if not run_stage(plan, args.force, command, repo_dir):
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
