"""Scoring a policy's solutions against the exact checker: accuracy, per-step error rate, error kinds.

The per-step error rate is a hazard: first errors divided by the steps written up to and including
the first error (steps after a mistake are not counted, since they start from a wrong history).
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .verify import AnswerVerifier
from .world.checker import check_steps
from .world.problems import Problem
from .world.segment import logical_steps


def score_solutions(problems: Sequence[Problem], samples: Sequence[Sequence[str]], verifier: AnswerVerifier,
                    **tags) -> pd.DataFrame:
    """One row per (problem, sample): final-answer correctness (by `verifier`, as the paper scores
    accuracy), process correctness (`correct`: no wrong step and the right answer), the first error,
    its kind and the step counts."""
    rows = []
    for problem, texts in zip(problems, samples, strict=True):
        for k, text in enumerate(texts):
            steps = logical_steps(text)
            r = check_steps(problem, steps)
            rows.append({"problem_id": problem.id, "level": problem.level, "sample": k,
                         "answer_correct": verifier.is_correct(text, str(problem.answer)), "correct": r.correct,
                         "finished": r.finished, "first_error": r.first_error, "error_kind": r.error_kind,
                         "n_steps": len(steps), "steps_checked": r.steps_checked, **tags})
    return pd.DataFrame(rows)


def step_error_rate(df: pd.DataFrame) -> float:
    return float(df["first_error"].notna().sum() / max(df["steps_checked"].sum(), 1))


def summarize_by_level(df: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and step error rate per level, plus an 'all' row."""
    rows = [{"level": str(level), "problem_accuracy": g["answer_correct"].mean(),
             "process_accuracy": g["correct"].mean(), "step_error_rate": step_error_rate(g), "n": len(g)}
            for level, g in df.groupby("level")]
    rows.append({"level": "all", "problem_accuracy": df["answer_correct"].mean(), "process_accuracy": df["correct"].mean(),
                 "step_error_rate": step_error_rate(df), "n": len(df)})
    return pd.DataFrame(rows)


def error_kind_shares(df: pd.DataFrame) -> dict[str, float]:
    kinds = df["error_kind"].dropna()
    return {k: float(v) for k, v in kinds.value_counts(normalize=True).sort_index().items()}
