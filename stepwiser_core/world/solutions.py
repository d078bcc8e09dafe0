"""Teacher solutions: how a (fallible) solver writes out a toy problem.

A logical step explains one operation and then writes its equation, with a blank line between them
most of the time, the way Qwen models put blank lines around equations (paper §3.1). So splitting on
blank lines gives more, less coherent pieces than logical steps. The teacher can make the mistakes
that real policies make (a computation slip, a misread operand, the wrong operation, a skipped or
mis-carried step); after a mistake it carries on consistently from its own wrong value, as a model would.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .problems import SYMBOL, Operation, Problem, apply_op, operation_sentence

ERROR_KINDS = ("computation", "misread_operand", "wrong_operation", "skipped_step", "wrong_carry")
# The mixture of injected mistakes; slips and misreads dominate, as they do for small instruct models.
DEFAULT_ERROR_WEIGHTS = {"computation": 0.45, "misread_operand": 0.30, "wrong_operation": 0.10,
                         "skipped_step": 0.10, "wrong_carry": 0.05}


def explanation_line(index: int, kind: str, operand: int, items: str) -> str:
    """The step's first line restates the problem's sentence for operation `index` (as it read it)."""
    return operation_sentence(index, Operation(kind, operand), items)


def start_line(name: str, start: int, items: str) -> str:
    """The first line of a solution restates the start value, word for word as the problem does."""
    return f"{name} has {start} {items}."


def equation_line(a: int, kind: str, b: int, c: int) -> str:
    return f"{a}{SYMBOL[kind]}{b}={c}"


def answer_line(value: int) -> str:
    return f"The answer is \\boxed{{{value}}}."


@dataclass(frozen=True)
class Solution:
    """A rendered solution. `steps` are the logical steps (one per operation, then the answer)."""

    text: str
    steps: tuple[str, ...]
    first_error: int | None  # index into `steps` of the injected first mistake, None if correct
    error_kind: str | None
    answer: int


def _slip(rng: random.Random, c: int) -> int:
    """A plausible wrong result: off by one or ten, or the digits of a two-digit number swapped."""
    candidates = [c + 1, c - 1, c + 10, c - 10]
    if c >= 10 and c % 10 != c // 10 % 10:
        candidates.append(int(str(c)[::-1]))
    return rng.choice([x for x in candidates if x >= 0 and x != c] or [c + 1])


def _misread(rng: random.Random, b: int, problem: Problem) -> int:
    """Another number from the problem (a distractor or another operand), else a neighbouring one."""
    pool = {n for _, n in problem.distractors} | {o.operand for o in problem.ops} | {problem.start}
    pool.discard(b)
    if pool and rng.random() < 0.7:
        return rng.choice(sorted(pool))
    return b + rng.choice([-1, 1]) if b > 1 else b + 1


def _wrong_kind(rng: random.Random, kind: str) -> str:
    return rng.choice([k for k in SYMBOL if k != kind])


def render_solution(problem: Problem, rng: random.Random, error_rate: float = 0.0,
                    error_weights: dict[str, float] | None = None, blank_line_prob: float = 0.65,
                    force_error_at: int | None = None) -> Solution:
    """Write a solution step by step; each step goes wrong with probability `error_rate`.

    Only the first mistake is injected (later steps are correct arithmetic on the wrong value), so the
    exact first error is known. `force_error_at` injects a mistake at that operation index.
    """
    weights = error_weights or DEFAULT_ERROR_WEIGHTS
    kinds, probs = zip(*weights.items())
    steps: list[str] = []
    value, first_error, error_kind = problem.start, None, None
    i = 0
    while i < len(problem.ops):
        op = problem.ops[i]
        a, kind, b = value, op.kind, op.operand
        inject = first_error is None and (i == force_error_at or (force_error_at is None and rng.random() < error_rate))
        err = rng.choices(kinds, probs)[0] if inject else None
        if err == "skipped_step" and (i + 1 >= len(problem.ops) or problem.ops[i + 1] == op):
            err = "computation"  # nothing to skip to, or skipping would look exactly like doing the step
        if err == "skipped_step":
            i += 1
            kind, b = problem.ops[i].kind, problem.ops[i].operand
        elif err == "misread_operand":
            b = _misread(rng, b, problem)
        elif err == "wrong_operation":
            kind = _wrong_kind(rng, kind)
        elif err == "wrong_carry":
            a = _slip(rng, a)
        c = apply_op(kind, a, b)
        if err == "computation":
            c = _slip(rng, c)
        if err is not None:
            first_error, error_kind = len(steps), err
        sep = "\n\n" if rng.random() < blank_line_prob else "\n"
        head = start_line(problem.name, problem.start, problem.items) + "\n" if not steps else ""
        steps.append(head + explanation_line(i, kind, b, problem.items) + sep + equation_line(a, kind, b, c))
        value, i = c, i + 1
    steps.append(answer_line(value))
    return Solution("\n\n".join(steps), tuple(steps), first_error, error_kind, value)


def chunk_ops(problem: Problem) -> list[Operation | None]:
    """The operation each correct logical step performs (None for the final answer step)."""
    return list(problem.ops) + [None]
