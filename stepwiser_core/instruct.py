"""The base model's training mixture: solving, plus generic judging exercises (DESIGN.md §5 "Judge init").

An instruct model starts out able to follow a judge prompt and its verdicts carry some signal, but it
was never trained on the study's step labels. We build the toy analog of that: the judging exercises
use teacher-written chunks (never the policy's, never Monte-Carlo labels), an analysis that
re-derives the step, and a verdict that agrees with that analysis only `verdict_accuracy` of the time.
So the base judge is well-formed and better than chance, and there is room for training to make it good.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .judge import format_judgment, format_verdict_only, judge_prompt, judge_prompt_direct
from .world.checker import check_steps, parse_line
from .world.problems import SYMBOL, Problem, apply_op, operation_sentence
from .world.segment import blankline_steps

POLICY_TEMPLATES = {
    "toy": "Solve step by step; box the answer.\nProblem: {problem}",
    # Paraphrase of the paper's Table 11 (chunk policy) without the chunk instruction, for the base policy.
    "paper": ("You are a helpful assistant that solves math problems step by step. After the reasoning, "
              "give the final answer in \\boxed{{}}.\nProblem: {problem}"),
    # The chunk policy's prompts (notebook 01): the same, plus the instruction to tag each step.
    "toy_chunk": "Solve step by step in <chunk> tags; box the answer.\nProblem: {problem}",
    # Paraphrase of the paper's Table 11.
    "paper_chunk": ("You are a helpful assistant that solves math problems step by step. (1) Put each part of "
                    "the reasoning inside <chunk> and </chunk> tags. (2) After the reasoning, give the final "
                    "answer in \\boxed{{}}.\nProblem: {problem}"),
}


def policy_prompt(problem: str, template: str = "toy") -> str:
    if template not in POLICY_TEMPLATES:
        raise ValueError(f"unknown policy template {template!r}; valid: {sorted(POLICY_TEMPLATES)}")
    return POLICY_TEMPLATES[template].format(problem=problem)


def _key_line(chunk: str) -> str:
    """What the analysis quotes from a chunk: its equation or answer line, else its first line."""
    lines = [l.strip() for l in chunk.splitlines() if l.strip()]
    key = [l for l in lines if parse_line(l)[0] in ("equation", "answer")]
    return (key or lines or ["(empty)"])[0]


def toy_analysis(problem: Problem, history: Sequence[str], chunk: str) -> tuple[str, bool]:
    """A re-derivation of `chunk` from the truth, and whether the chunk matches it.

    Assumes the history is correct (it is the accepted path). The analysis names the step the chunk
    should take, recomputes it, quotes what the chunk wrote, and says whether the two match.
    """
    result = check_steps(problem, list(history) + [chunk])
    ok = result.first_error is None
    values, pos = problem.values, sum(parse_line(l.strip())[0] == "equation" for h in history for l in h.splitlines())
    quoted = _key_line(chunk)
    if pos < len(problem.ops):
        op = problem.ops[pos]
        expected = f"{values[pos]}{SYMBOL[op.kind]}{op.operand}={apply_op(op.kind, values[pos], op.operand)}"
        goal = f"Next: {operation_sentence(pos, op, problem.items)} Check: {expected}."
    else:
        goal = f"Next: the final answer. Check: {values[-1]}."
    return f"{goal} Chunk: {quoted}. Match: {'yes' if ok else 'no'}.", ok


@dataclass(frozen=True)
class Example:
    prompt: str  # the user message
    completion: str  # the assistant answer, without the end-of-turn token
    kind: str  # "solve" or "judge"


def solve_example(problem: Problem, solution_text: str, template: str = "toy") -> Example:
    return Example(policy_prompt(problem.text, template), solution_text, "solve")


def judge_exercise(problem: Problem, solution_steps: Sequence[str], first_error: int | None,
                   rng: random.Random, verdict_accuracy: float, blankline_share: float,
                   direct: bool = False) -> Example:
    """One judging exercise on a teacher solution: pick a chunk at or before the first error.

    `direct` makes it a verdict-only exercise (the no-CoT judge's prompt, answered by the boxed verdict alone,
    right `verdict_accuracy` of the time). Without a few of these the base model never meets the no-CoT
    instruction, every no-CoT sample breaks the format and GRPO gets no gradient (issue 4, first toy run).
    """
    steps = list(solution_steps)
    if rng.random() < blankline_share:  # some exercises use blank-line pieces, so the skill is generic
        steps = blankline_steps("\n\n".join(steps))
        first_error = check_steps(problem, steps).first_error
    last = first_error if first_error is not None else len(steps) - 1
    # Half the time judge the erroneous chunk itself (when there is one), else an earlier or any chunk.
    target = last if first_error is not None and rng.random() < 0.5 else rng.randint(0, last)
    history, chunk = steps[:target], steps[target]
    analysis, ok = toy_analysis(problem, history, chunk)
    verdict = ok if rng.random() < verdict_accuracy else not ok
    if direct:
        return Example(judge_prompt_direct(problem.text, history, chunk), format_verdict_only(verdict), "judge")
    return Example(judge_prompt(problem.text, history, chunk), format_judgment(analysis, verdict), "judge")
