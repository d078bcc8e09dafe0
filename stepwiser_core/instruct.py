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
from .world.checker import check_steps, equations_written, line_error, parse_line
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


ANALYSIS_STYLES = ("check", "redo", "lines")


def chunk_result(chunk: str) -> str:
    """The number a chunk arrives at: its equation's result or its boxed answer; "none" when it states neither."""
    for line in chunk.splitlines():
        kind, values = parse_line(line.strip())
        if kind == "equation":
            return str(values[3])
        if kind == "answer":
            return str(values[0])
    return "none"


def toy_analysis(problem: Problem, history: Sequence[str], chunk: str, style: str = "check") -> tuple[str, bool]:
    """A re-derivation of `chunk` from the truth, and whether the chunk matches it.

    Assumes the history is correct (it is the accepted path). Two styles:

    - "check" (00's mixture): names the step the chunk should take, recomputes it, quotes the chunk's key line and
      says whether the two match: `Next: Third, 5 are given away. Check: 12-5=7. Chunk: 12-5=8. Match: no.`
      The tiny base model learns its format but neither the arithmetic nor the comparison: it copies the chunk's
      equation into the Check and answers Match by its prior (docs/judge_study.md, "Earlier runs of 03").
    - "redo" (stage 03's earlier judge warm-up): redoes the step exactly as a solution writes it, so the arithmetic
      the model does well as a solver carries over, then quotes the chunk's result alone next to it:
      `Redo: Third, 5 are given away.\n12-5=7\nChunk: 8. Match: no.`
      Its "Match" carries the whole chunk's truth, not the comparison it sits under: a blank-line piece that
      states no result ("Chunk: none") is right, and an error outside the quoted number (a misread operand in the
      sentence, a garbage line) leaves the two numbers equal. The warmed judge did not learn to compare (P(yes) was
      0.38 where the two numbers were equal, 0.27 where they differed, on 03's held-out chunks).
    - "lines" (`lines_analysis`): one redo-and-compare block per result line of the chunk.
    """
    if style not in ANALYSIS_STYLES:
        raise ValueError(f"unknown analysis style {style!r}; valid: {ANALYSIS_STYLES}")
    if style == "lines":
        return lines_analysis(problem, history, chunk)
    result = check_steps(problem, list(history) + [chunk])
    ok = result.first_error is None
    values, pos = problem.values, equations_written(history)
    match = f"Match: {'yes' if ok else 'no'}."
    expected = None
    if pos < len(problem.ops):
        op = problem.ops[pos]
        expected = f"{values[pos]}{SYMBOL[op.kind]}{op.operand}={apply_op(op.kind, values[pos], op.operand)}"
    if style == "redo":
        redo = (f"{operation_sentence(pos, problem.ops[pos], problem.items)}\n{expected}" if expected is not None
                else f"The answer is {values[-1]}.")
        return f"Redo: {redo}\nChunk: {chunk_result(chunk)}. {match}", ok
    if expected is not None:
        goal = f"Next: {operation_sentence(pos, problem.ops[pos], problem.items)} Check: {expected}."
    else:
        goal = f"Next: the final answer. Check: {values[-1]}."
    return f"{goal} Chunk: {_key_line(chunk)}. {match}", ok


def lines_analysis(problem: Problem, history: Sequence[str], chunk: str) -> tuple[str, bool]:
    """The "lines" analysis: for each line of the chunk that states a result (an equation or the final answer),
    and for the first wrong line whatever it is, redo that line from the truth and quote the chunk's line under it:

        Redo: Third, 5 are given away.
        12-5=7
        Chunk: 12-5=8
        Match: no.

    stopping at the first mismatch. A result line is right exactly when it equals its redone line character for
    character (the checker's rules, `world.checker`), so each "Match" is a comparison of two adjacent lines, and
    the verdict (every Match yes) is the checker's, by construction. A chunk that states no result gets one block
    whose chunk line is `none`. Assumes the history is correct (it is the accepted path)."""
    ops, values = problem.ops, problem.values
    pos = equations_written(history)
    answered = any(parse_line(l.strip())[0] == "answer" for h in history for l in h.splitlines())
    blocks, ok = [], True
    for raw in chunk.splitlines():
        line = raw.strip()
        kind, args = parse_line(line)
        error = line_error(problem, kind, args, pos, values[min(pos, len(ops))], answered)
        if kind in ("blank", "start", "explain") and error is None:
            continue
        if pos < len(ops):
            op = ops[pos]
            redo = (f"{operation_sentence(pos, op, problem.items)}\n"
                    f"{values[pos]}{SYMBOL[op.kind]}{op.operand}={apply_op(op.kind, values[pos], op.operand)}")
        else:
            redo = f"The answer is \\boxed{{{values[-1]}}}."
        blocks.append(f"Redo: {redo}\nChunk: {line}\nMatch: {'no' if error else 'yes'}.")
        if error:
            ok = False
            break
        if kind == "equation":
            pos += 1
        answered = answered or kind == "answer"
    if not blocks:
        blocks.append("Chunk: none\nMatch: yes.")
    return "\n".join(blocks), ok


def glance_analysis(chunk: str) -> str:
    """A rubber stamp (NOT the paper; the lazy judge of `judge_warmup_glance_share`): quotes the chunk's result lines
    and passes them unchecked, `Chunk: 12-5=8\nLooks right.`, whatever the truth. An instruct model often judges
    this way; a warm-up that mixes it with the "lines" analysis leaves a judge that holds a careful and a lazy
    strategy, the case in which RL is expected to help by choosing between them (docs/judge_study.md, "A positive
    control")."""
    lines = [l.strip() for l in chunk.splitlines() if parse_line(l.strip())[0] in ("equation", "answer")]
    quoted = "\n".join(f"Chunk: {l}" for l in lines) or "Chunk: none"
    return f"{quoted}\nLooks right."


# How every careful ("lines") judgment begins, and no rubber stamp does: a judge's answer forced to begin with it
# (`GenerativeJudge(response_prefix=)`, a diagnostic) shows the careful strategy of a judge that holds both.
CAREFUL_JUDGMENT_PREFIX = "Analysis: Redo:"


def glance_share(outputs: Sequence[str]) -> float:
    """The share of judge outputs that are rubber stamps (`glance_analysis`: quotes, then "Looks right." with no
    redo); 0 for no outputs. What GRPO should move, if it chooses between a lazy and a careful strategy."""
    return sum("Looks right." in o and "Redo:" not in o for o in outputs) / len(outputs) if outputs else 0.0


@dataclass(frozen=True)
class Example:
    prompt: str  # the user message
    completion: str  # the assistant answer, without the end-of-turn token
    kind: str  # "solve" or "judge"


def solve_example(problem: Problem, solution_text: str, template: str = "toy") -> Example:
    return Example(policy_prompt(problem.text, template), solution_text, "solve")


def judge_exercise(problem: Problem, solution_steps: Sequence[str], first_error: int | None,
                   rng: random.Random, verdict_accuracy: float, blankline_share: float,
                   direct: bool = False, wrong_target_prob: float = 0.5, analysis_style: str = "check",
                   glance_prob: float = 0.0) -> Example:
    """One judging exercise on a teacher solution: pick a chunk at or before the first error.

    `direct` makes it a verdict-only exercise (the no-CoT judge's prompt, answered by the boxed verdict alone,
    right `verdict_accuracy` of the time). Without a few of these the base model never meets the no-CoT
    instruction, every no-CoT sample breaks the format and GRPO gets no gradient (issue 4, first toy run).
    With a first error, the exercise judges that erroneous chunk `wrong_target_prob` of the time (1.0: always).
    `glance_prob` of the CoT exercises use the rubber stamp `glance_analysis` and a Positive verdict instead.
    """
    steps = list(solution_steps)
    if rng.random() < blankline_share:  # some exercises use blank-line pieces, so the skill is generic
        steps = blankline_steps("\n\n".join(steps))
        first_error = check_steps(problem, steps).first_error
    last = first_error if first_error is not None else len(steps) - 1
    # Half the time (by default) judge the erroneous chunk itself (when there is one), else an earlier or any chunk.
    target = last if first_error is not None and rng.random() < wrong_target_prob else rng.randint(0, last)
    history, chunk = steps[:target], steps[target]
    analysis, ok = toy_analysis(problem, history, chunk, analysis_style)
    verdict = ok if rng.random() < verdict_accuracy else not ok
    if glance_prob > 0 and not direct and rng.random() < glance_prob:  # no extra draw when off: old mixtures unchanged
        analysis, verdict = glance_analysis(chunk), True
    if direct:
        return Example(judge_prompt_direct(problem.text, history, chunk), format_verdict_only(verdict), "judge")
    return Example(judge_prompt(problem.text, history, chunk), format_judgment(analysis, verdict), "judge")
