"""Judge input and output: the prompt of the paper's Table 3 and a verdict parser that never raises.

The judge reads a problem, the accepted reasoning so far and one new chunk, writes an analysis, then
`Final Judgment: \\boxed{Positive}` or `\\boxed{Negative}` (paper §3.3). The toy template keeps the
structure and the field names of Table 3 in fewer words, because a tiny model pays for every token.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

JUDGE_TEMPLATES = {
    "toy": (
        "Validate the new reasoning chunk given the problem and the history. Analyze it, then judge: "
        "Positive if it is free of mistakes, Negative otherwise.\n"
        "Mathematical Problem: {problem}\nHistorical Reasoning Path:\n{history}\nNew Reasoning Chunk:\n{chunk}"
    ),
    # Paraphrase of the paper's Table 3, for the paper tier.
    "paper": (
        "You are a reasoning validator for mathematical problems. Your task is to think step by step and "
        "determine whether the \"New Reasoning Chunk\" contains any explicit errors, based on the problem and "
        "the historical reasoning path. You must always perform a chain-of-thought analysis before judging. "
        "A chunk that contains no numerical calculation is acceptable.\n"
        "- Positive: the chunk is free of mistakes.\n- Negative: the chunk contains one or more mistakes.\n\n"
        "Mathematical Problem: {problem}\n\nHistorical Reasoning Path:\n{history}\n\n"
        "New Reasoning Chunk:\n{chunk}\n\n"
        "Output format:\n1. Analysis: state the goal of the chunk briefly, then check its logic, method and "
        "calculations against the problem and the history; explain any error, or why the step is valid.\n"
        "2. Final Judgment: \\boxed{{Positive}} or \\boxed{{Negative}}."
    ),
}
EMPTY_HISTORY = "(none)"
_VERDICT = re.compile(r"\\boxed\{\s*(Positive|Negative)\s*\}")


def judge_prompt(problem: str, history: Sequence[str], chunk: str, template: str = "toy") -> str:
    """The judge's user message for one (problem, accepted history, new chunk) item."""
    if template not in JUDGE_TEMPLATES:
        raise ValueError(f"unknown judge template {template!r}; valid: {sorted(JUDGE_TEMPLATES)}")
    hist = "\n\n".join(history) if history else EMPTY_HISTORY
    return JUDGE_TEMPLATES[template].format(problem=problem, history=hist, chunk=chunk)


# Appended to the judge prompt for the no-CoT ablation ("the model must output the verdict directly", App. A.4, which
# gives no wording: NOT SPECIFIED). It comes last so that it overrides the paper template's "always perform a
# chain-of-thought analysis". The RL stage (judge_rl.py) and the judges (judges.py) both use it.
DIRECT_INSTRUCTION = "Do not write an analysis: answer with the verdict only, \\boxed{Positive} or \\boxed{Negative}."


def judge_prompt_direct(problem: str, history: Sequence[str], chunk: str, template: str = "toy") -> str:
    """The no-CoT judge's user message: the CoT judge prompt plus an instruction to answer with the boxed verdict.

    Example:
        >>> judge_prompt_direct("P?", [], "c").endswith("\\\\boxed{Negative}.")
        True
    """
    return f"{judge_prompt(problem, history, chunk, template)}\n{DIRECT_INSTRUCTION}"


def format_judgment(analysis: str, positive: bool) -> str:
    """The judge's answer: an analysis, then the boxed verdict."""
    return f"Analysis: {analysis}\nFinal Judgment: \\boxed{{{'Positive' if positive else 'Negative'}}}"


def format_verdict_only(positive: bool) -> str:
    """The no-CoT judge's whole answer: the boxed verdict alone (what `judge_rl.direct_reward` accepts)."""
    return f"\\boxed{{{'Positive' if positive else 'Negative'}}}"


def parse_verdict(text: str) -> bool | None:
    """True for Positive, False for Negative, None when no verdict or contradictory verdicts are given.

    >>> parse_verdict("Analysis: ...\\nFinal Judgment: \\\\boxed{Negative}")
    False
    >>> parse_verdict("I think it is fine.") is None
    True
    """
    found = set(_VERDICT.findall(text or ""))
    return None if len(found) != 1 else found.pop() == "Positive"
