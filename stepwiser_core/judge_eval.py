"""Judge items from a policy's own solutions, labelled by the exact checker, and judge scoring.

An item is (problem, accepted history, chunk, true label). The history is always correct: items are
the chunks of a solution up to and including its first wrong chunk, as in ProcessBench's sequential
evaluation where judging stops at the first Negative.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .judge import parse_verdict
from .world.checker import check_steps
from .world.problems import Problem
from .world.segment import logical_steps


@dataclass(frozen=True)
class JudgeItem:
    problem: Problem | str  # a toy problem (exact checker), or the text of one without (NuminaMath)
    history: tuple[str, ...]
    chunk: str
    label: bool | None  # True = the chunk is correct; None = unknown (no exact checker: the paper tier's prompts)


def items_from_solution(problem: Problem, text: str) -> list[JudgeItem]:
    steps = logical_steps(text)
    first = check_steps(problem, steps).first_error
    last = len(steps) - 1 if first is None else first
    return [JudgeItem(problem, tuple(steps[:i]), steps[i], i != first) for i in range(last + 1)]


def balanced_items(items: Sequence[JudgeItem], rng: random.Random, max_per_class: int) -> list[JudgeItem]:
    """Equal numbers of correct and wrong chunks (the smaller class decides), shuffled."""
    pos = [i for i in items if i.label]
    neg = [i for i in items if not i.label]
    n = min(len(pos), len(neg), max_per_class)
    chosen = rng.sample(pos, n) + rng.sample(neg, n)
    rng.shuffle(chosen)
    return chosen


JUDGMENT_COLUMNS = ["problem_id", "level", "step", "label", "verdict", "parsed", "correct", "output"]


def score_judgments(items: Sequence[JudgeItem], outputs: Sequence[str]) -> pd.DataFrame:
    """One row per judged item: the parsed verdict (None when unparseable) and whether it matches the truth."""
    rows = []
    for item, out in zip(items, outputs, strict=True):
        verdict = parse_verdict(out)
        rows.append({"problem_id": item.problem.id, "level": item.problem.level, "step": len(item.history),
                     "label": item.label, "verdict": verdict, "parsed": verdict is not None,
                     "correct": verdict == item.label, "output": out})
    return pd.DataFrame(rows, columns=JUDGMENT_COLUMNS)
