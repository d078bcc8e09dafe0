"""Notebook 99: `REPORT.md`, assembled from the stages' result files only (their `metrics.json`, Markdown tables and
figures), so every number in it is one a stage wrote.

Each stage is looked for in the `sources` folders in order (e.g. the committed run, then a second run that has the
stages the first lacks); the report names the folder and the commit each stage came from, and says so when a stage
has no results anywhere, rather than leaving it out.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _get(metrics: Mapping, *path: str) -> Any:
    """`metrics[path[0]][path[1]]...`, or None where any key is missing."""
    value: Any = metrics
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def fmt(value: Any, digits: int = 3) -> str:
    """A metric for the text: a float to `digits` decimals, None or NaN as "–"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _by_name(values: Mapping | None, digits: int = 3) -> str:
    """`{name: value}` as "name value, name value" ("–" for none)."""
    if not values:
        return "–"
    return ", ".join(f"{k} {fmt(v, digits)}" for k, v in values.items())


def _policy(m: Mapping) -> list[str]:
    return [f"problem accuracy greedy {fmt(_get(m, 'problem_accuracy_greedy'))}, at temperature 1 "
            f"{fmt(_get(m, 'problem_accuracy'))}; step error rate at temperature 1 {fmt(_get(m, 'step_error_rate'))}",
            f"zero-shot judge: step accuracy {fmt(_get(m, 'zero_shot_judge_step_accuracy'))} on balanced items "
            f"(correct chunks {fmt(_get(m, 'zero_shot_judge_accuracy_on_correct_chunks'))}, wrong chunks "
            f"{fmt(_get(m, 'zero_shot_judge_accuracy_on_wrong_chunks'))})"]


def _segmentation(m: Mapping) -> list[str]:
    return [f"steps per solution: blank lines {fmt(_get(m, 'steps_per_solution_blankline'), 2)}, chunks "
            f"{fmt(_get(m, 'steps_per_solution_chunks'), 2)} (the paper: 9.6 and 6.0)",
            f"accuracy: base policy {fmt(_get(m, 'accuracy_base'))}, chunk policy {fmt(_get(m, 'accuracy_chunk'))}; "
            f"chunk format {fmt(_get(m, 'chunk_format_rate'))}"]


def _labels(m: Mapping) -> list[str]:
    agreement = {rule: _get(m, "agreement_with_truth", rule, "16") for rule in (_get(m, "agreement_with_truth") or {})}
    return [f"{fmt(_get(m, 'chunks'))} chunks of {fmt(_get(m, 'trajectories'))} trajectories",
            f"Positive share: {_by_name(_get(m, 'positive_share'))}",
            f"agreement with the exact truth at M = 16: {_by_name(agreement)}"]


def _judges(m: Mapping) -> list[str]:
    truth = {k: _get(v, "acc_truth") for k, v in (_get(m, "heldout_step_accuracy") or {}).items()}
    return [f"held-out step accuracy against the truth: {_by_name(truth)}"]


def _processbench(m: Mapping) -> list[str]:
    return [f"average F1: {_by_name(_get(m, 'average_f1'), 1)}", f"best judge: {fmt(_get(m, 'best_judge'))}"]


def _search(m: Mapping) -> list[str]:
    return [f"chunk-reset accuracy: {_by_name(_get(m, 'accuracy'))}",
            f"best-of-N accuracy: {_by_name(_get(m, 'best_of_n'))}"]


def _selection(m: Mapping) -> list[str]:
    return [f"{fmt(_get(m, 'prompts'))} prompts, {fmt(_get(m, 'correct_responses'))} correct responses of "
            f"{fmt(_get(m, 'responses'))}, {fmt(_get(m, 'contested_prompts'))} prompts with a choice; fine-tune seeds "
            f"{fmt(_get(m, 'finetune_seeds'))}",
            f"share of the correct responses with a wrong step: {fmt(_get(m, 'correct_with_wrong_step'))}",
            f"share of picks with a wrong step: {_by_name(_get(m, 'flawed'))}",
            f"accuracy after fine-tuning, temperature 1: {_by_name(_get(m, 'sampled'))}",
            f"accuracy after fine-tuning, greedy: {_by_name(_get(m, 'greedy'))}"]


@dataclass(frozen=True)
class Section:
    stage: str
    title: str
    paper: str  # where the paper reports it
    lines: Callable[[Mapping], list[str]]  # headline lines from the stage's metrics.json
    tables: Sequence[str] = ()  # Markdown tables of the stage's results folder (names without .md)
    figures: Sequence[str] = ()  # its figures (PNG names without .png)


SECTIONS = (
    Section("00_policy", "The toy world and its base policy", "§4.1", _policy, ("accuracy_by_level",),
            ("accuracy_by_level", "error_kinds", "zero_shot_judge")),
    Section("01_segmentation", "Self-segmentation", "§3.1, Table 4", _segmentation, ("table4",),
            ("steps_per_solution",)),
    Section("02_rollout_labels", "Rollout labels", "§3.2, §4.1", _labels, ("label_balance", "label_quality_vs_m"),
            ("q_distribution", "agreement_vs_m")),
    Section("03_judge_training", "Judge training", "§3.3, App. A", _judges, ("heldout_step_accuracy", "faithfulness"),
            ("grpo_curves", "heldout_step_accuracy")),
    Section("04_processbench", "First-error benchmark", "§4.2–4.3, Table 5", _processbench,
            ("table5", "versus_zero_shot"), ("f1_by_subset",)),
    Section("05_inference_search", "Chunk-reset reasoning and best-of-N", "§4.4, Table 7", _search,
            ("table7", "best_of_n", "versus_zero_shot"), ("accuracy",)),
    Section("06_data_selection", "Judge-based data selection", "§4.4, Table 8", _selection,
            ("selection", "table8", "versus_zero_shot"), ("selection",)),
)


def find_stage(stage: str, sources: Sequence[Path]) -> Path | None:
    """The first `<source>/<stage>` folder that holds the stage's `metrics.json`."""
    return next((Path(s) / stage for s in sources if (Path(s) / stage / "metrics.json").is_file()), None)


def _commit(folder: Path) -> str:
    """The short git commit of the run that wrote `folder` (its `provenance.json`), or "unknown"."""
    path = folder / "provenance.json"
    if not path.is_file():
        return "unknown"
    git = json.loads(path.read_text()).get("git") or {}
    commit = str(git.get("commit") or "")[:7]
    return (commit + ("-dirty" if git.get("dirty") else "")) if commit else "unknown"


def _duration(folder: Path) -> float | None:
    path = folder / "provenance.json"
    return _get(json.loads(path.read_text()), "duration_s") if path.is_file() else None


def section_markdown(section: Section, folder: Path | None, report_dir: Path, sources: Sequence[Path]) -> str:
    """One stage's part of the report: where it came from, its headline lines, its tables (inlined) and figures
    (linked relative to `report_dir`, where the report is written)."""
    head = f"## {section.stage} · {section.title} (paper {section.paper})\n"
    if folder is None:
        searched = ", ".join(f"`{s}`" for s in sources)
        return head + f"\nNot run: no `{section.stage}/metrics.json` in {searched}.\n"
    metrics = json.loads((folder / "metrics.json").read_text())
    where = os.path.relpath(folder, report_dir)
    out = [head, f"From `{where}` (commit {_commit(folder)}, {fmt(_duration(folder), 0)} s).\n"]
    out += [f"- {line}" for line in section.lines(metrics)]
    for table in section.tables:
        path = folder / f"{table}.md"
        if path.is_file():
            out += ["", f"`{table}.md`:", "", path.read_text().strip()]
    for figure in section.figures:
        path = folder / f"{figure}.png"
        if path.is_file():
            out += ["", f"![{section.stage} {figure}]({os.path.relpath(path, report_dir)})"]
    return "\n".join(out) + "\n"


def build_report(sources: Sequence[Path], report_dir: Path, sections: Sequence[Section] = SECTIONS,
                 title: str = "StepWiser study: report") -> str:
    """The whole report: a table of where each stage came from and how long it took, then one section per stage."""
    folders = {s.stage: find_stage(s.stage, sources) for s in sections}
    rows = ["| stage | from | commit | seconds |", "|---|---|---|---|"]
    for s in sections:
        folder = folders[s.stage]
        rows.append(f"| {s.stage} | {'not run' if folder is None else '`' + os.path.relpath(folder, report_dir) + '`'} "
                    f"| {'–' if folder is None else _commit(folder)} | "
                    f"{'–' if folder is None else fmt(_duration(folder), 0)} |")
    intro = (f"# {title}\n\nAssembled by notebook `99_report` from the stages' result files only "
             f"(`stepwiser_core/report.py`); every number below is one a stage wrote. Stages are looked for in "
             + ", ".join(f"`{os.path.relpath(Path(s), report_dir)}`" for s in sources) + ", in that order.\n")
    body = [section_markdown(s, folders[s.stage], report_dir, sources) for s in sections]
    return "\n".join([intro, *rows, "", *body])
