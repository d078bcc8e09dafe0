"""Final-answer verifiers: exact integer match for the toy tier, Math-Verify for the paper tier.

Both read the last `\\boxed{...}` of a solution. On toy answers (integers) they must agree; a test
checks that on correct, wrong, missing and malformed answers.
"""
from __future__ import annotations

import re
from typing import Protocol

_BOXED_OPEN = "\\boxed{"


class AnswerVerifier(Protocol):
    name: str

    def is_correct(self, text: str, gold: str) -> bool:
        """Whether the final answer of `text` equals `gold` (never raises)."""
        ...


def last_boxed(text: str) -> str | None:
    """The stripped content of the last complete `\\boxed{...}` in `text`, braces balanced, or None.

    Why balanced: paper-tier answers nest braces (`\\boxed{\\frac{1}{2}}`, NuminaMath's reference solutions), which
    a flat `[^{}]*` pattern reads as no answer at all. An unclosed box is no answer."""
    text = text or ""
    start = text.rfind(_BOXED_OPEN)
    while start >= 0:
        depth, i = 1, start + len(_BOXED_OPEN)
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[start + len(_BOXED_OPEN):i - 1].strip()
        start = text.rfind(_BOXED_OPEN, 0, start)  # unclosed: fall back to an earlier, complete box
    return None


class ExactVerifier:
    """The toy world's answers are integers: compare the last boxed integer exactly."""

    name = "exact"

    def is_correct(self, text: str, gold: str) -> bool:
        answer = last_boxed(text)
        return answer is not None and re.fullmatch(r"-?\d+", answer) is not None and int(answer) == int(gold)


class MathVerifyVerifier:
    """Hugging Face Math-Verify, as the paper uses for NuminaMath and MATH500 (gold first, then answer)."""

    name = "math_verify"

    def __init__(self):
        from math_verify import parse, verify  # imported lazily: it is slow to import and only the paper tier needs it

        self._parse, self._verify = parse, verify

    def is_correct(self, text: str, gold: str) -> bool:
        answer = last_boxed(text)
        if answer is None:  # the paper's policies box their answer; an unboxed number is not an answer
            return False
        try:
            return bool(self._verify(self._parse(f"${gold}$"), self._parse(f"$\\boxed{{{answer}}}$")))
        except Exception:  # Math-Verify raises on some malformed inputs; a malformed answer is wrong
            return False


def make_verifier(name: str) -> AnswerVerifier:
    if name == "exact":
        return ExactVerifier()
    if name == "math_verify":
        return MathVerifyVerifier()
    raise ValueError(f"unknown verifier {name!r}; valid: exact, math_verify")
