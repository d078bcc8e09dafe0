"""The exact checker: the index of the first wrong step of any text, for any segmentation.

It replays the problem's ground truth line by line. Every line must be one of the three things a
solution says (an explanation of the next operation, its equation, the final answer) and must agree
with the truth given a correct history; the first line that does not marks its step as the first
error. Blank lines are ignored; anything unparseable is 'garbage'; anything after the final answer is
an 'extra_step'. A text that stops before giving an answer has no wrong step but is not finished.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .problems import Operation, Problem, apply_op

# The ordinal ('Second, ') is a reading aid and is not itself checked: what a step does is what counts.
_ORDINAL = r"(?:[A-Z][a-z]+, )?"
_EXPLAIN = [
    (re.compile(rf"^{_ORDINAL}(?P<b>\d+) more arrive\.$"), "add"),
    (re.compile(rf"^{_ORDINAL}(?P<b>\d+) are given away\.$"), "sub"),
    (re.compile(rf"^{_ORDINAL}(?P<b>\d+) times as many [a-z]+\.$"), "mul"),
]
_START = re.compile(r"^[A-Z][a-z]+ has (?P<v>\d+) [a-z]+\.$")
_EQUATION = re.compile(r"^(?P<a>-?\d+)(?P<op>[+*-])(?P<b>-?\d+)=(?P<c>-?\d+)$")
_ANSWER = re.compile(r"^The answer is \\boxed\{(?P<v>-?\d+)\}\.$")
_KIND_OF_SYMBOL = {"+": "add", "-": "sub", "*": "mul"}

CHECK_KINDS = ("computation", "misread_operand", "wrong_operation", "skipped_step", "wrong_carry",
               "premature_answer", "wrong_answer", "extra_step", "garbage")


@dataclass(frozen=True)
class CheckResult:
    first_error: int | None  # index of the first wrong step; None when no step is wrong
    error_kind: str | None
    finished: bool  # a (correctly placed) final answer was given
    answer: int | None  # the final answer given, if any
    correct: bool  # finished with the right answer and no wrong step
    n_steps: int
    error_detail: str = ""

    @property
    def steps_checked(self) -> int:
        """Steps up to and including the first error: the denominator of the per-step error rate."""
        return self.n_steps if self.first_error is None else self.first_error + 1


def parse_line(line: str) -> tuple[str, tuple]:
    """Classify one stripped line: ('start', (v,)), ('explain', (kind, b)), ('equation', (a, kind, b, c)),
    ('answer', (v,)), ('blank', ()) or ('garbage', ())."""
    if not line:
        return "blank", ()
    if m := _START.match(line):
        return "start", (int(m["v"]),)
    for pattern, kind in _EXPLAIN:
        if m := pattern.match(line):
            return "explain", (kind, int(m["b"]))
    if m := _EQUATION.match(line):
        return "equation", (int(m["a"]), _KIND_OF_SYMBOL[m["op"]], int(m["b"]), int(m["c"]))
    if m := _ANSWER.match(line):
        return "answer", (int(m["v"]),)
    return "garbage", ()


def equations_written(steps: Sequence[str]) -> int:
    """How many operations a (correct) text has carried out: its equation lines. On an accepted history this is
    the index of the operation the next chunk should take."""
    return sum(parse_line(line.strip())[0] == "equation" for step in steps for line in step.splitlines())


def classify_operation(kind: str, b: int, ops: Sequence[Operation], pos: int) -> str | None:
    """Why (kind, b) is not the operation at `pos`, or None when it is."""
    expected = ops[pos]
    if (kind, b) == (expected.kind, expected.operand):
        return None
    if pos + 1 < len(ops) and (kind, b) == (ops[pos + 1].kind, ops[pos + 1].operand):
        return "skipped_step"
    return "wrong_operation" if kind != expected.kind else "misread_operand"


def line_error(problem: Problem, kind: str, args: tuple, pos: int, value: int, answered: bool) -> str | None:
    ops = problem.ops
    if kind == "blank":
        return None
    if answered or kind == "garbage":
        return "extra_step" if answered else "garbage"
    if kind == "start":  # restating the start value: right only before any operation, and only the right value
        return None if (pos == 0 and args[0] == problem.start) else ("misread_operand" if pos == 0 else "extra_step")
    if kind == "explain":
        return "extra_step" if pos >= len(ops) else classify_operation(*args, ops, pos)
    if kind == "equation":
        a, op_kind, b, c = args
        if pos >= len(ops):
            return "extra_step"
        if a != value:
            return "wrong_carry"
        return classify_operation(op_kind, b, ops, pos) or (None if c == apply_op(op_kind, a, b) else "computation")
    (v,) = args
    if pos < len(ops):
        return "premature_answer"
    return None if v == value else "wrong_answer"


def check_steps(problem: Problem, steps: Sequence[str]) -> CheckResult:
    """Replay `steps` against the truth and return the first wrong step (see the module docstring)."""
    pos, value, answered, answer = 0, problem.start, False, None
    for index, step in enumerate(steps):
        for raw in step.splitlines():
            line = raw.strip()
            kind, args = parse_line(line)
            if err := line_error(problem, kind, args, pos, value, answered):
                return CheckResult(index, err, answered, answer, False, len(steps), line)
            if kind == "equation":
                pos, value = pos + 1, args[3]
            elif kind == "answer":
                answered, answer = True, args[0]
    correct = answered and answer == problem.answer
    return CheckResult(None, None, answered, answer, correct, len(steps))
