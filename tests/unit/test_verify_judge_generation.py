"""Answer verifiers agree on toy answers; the verdict parser never raises; sampling is reproducible."""
import pytest

from stepwiser_core.generation import Sampling, TransformersBackend, chat_prompt
from stepwiser_core.judge import format_judgment, judge_prompt, parse_verdict
from stepwiser_core.verify import ExactVerifier, MathVerifyVerifier, last_boxed

CASES = [("The answer is \\boxed{32}.", "32", True), ("The answer is \\boxed{31}.", "32", False),
         ("no answer at all", "32", False), ("\\boxed{-4}", "-4", True), ("\\boxed{4}", "-4", False),
         ("\\boxed{12} then \\boxed{32}", "32", True), ("\\boxed{}", "0", False), ("\\boxed{0}", "0", True),
         ("32", "32", False)]


@pytest.mark.parametrize("text, gold, expected", CASES)
def test_exact_and_math_verify_agree_on_toy_answers(text, gold, expected):
    assert ExactVerifier().is_correct(text, gold) is expected
    assert MathVerifyVerifier().is_correct(text, gold) is expected


def test_last_boxed():
    assert last_boxed("a \\boxed{1} b \\boxed{ 2 }") == "2" and last_boxed("none") is None
    assert last_boxed("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"  # nested braces (paper-tier answers)
    assert last_boxed("\\boxed{3} then \\boxed{4") == "3"  # an unclosed box is no answer


@pytest.mark.parametrize("text, gold, expected", [
    ("so $\\boxed{\\frac{1}{2}}$", "\\frac{1}{2}", True), ("so $\\boxed{0.5}$", "\\frac{1}{2}", True),
    ("so $\\boxed{\\frac{1}{3}}$", "\\frac{1}{2}", False), ("so $\\boxed{\\sqrt{2}}$", "\\sqrt{2}", True),
])
def test_math_verify_reads_nested_answers(text, gold, expected):
    assert MathVerifyVerifier().is_correct(text, gold) is expected


@pytest.mark.parametrize("text, verdict", [
    (format_judgment("fine", True), True), (format_judgment("bad", False), False),
    ("Final Judgment: \\boxed{ Negative }", False), ("\\boxed{Positive} or \\boxed{Negative}", None),
    ("\\boxed{positive}", None), ("", None), (None, None), ("Positive", None), ("\\boxed{Positive", None),
])
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) is verdict


def test_judge_prompt_has_the_three_fields_and_rejects_unknown_templates():
    text = judge_prompt("P?", ["step one", "step two"], "step three")
    assert "Mathematical Problem: P?" in text and "step one\n\nstep two" in text and "step three" in text
    assert "(none)" in judge_prompt("P?", [], "c")
    with pytest.raises(ValueError, match="valid"):
        judge_prompt("P?", [], "c", template="nope")


def test_sampling_is_reproducible_and_shaped(tiny_model, toy_tokenizer):
    gen = TransformersBackend(tiny_model, toy_tokenizer, batch_size=3, progress=False)
    prompts = [chat_prompt(toy_tokenizer, q) for q in ("a", "bb", "ccc")]
    s = Sampling(max_new_tokens=6, temperature=1.0, n=2, seed=5)
    first, again = gen.generate(prompts, s), gen.generate(prompts, s)
    assert first == again and [len(x) for x in first] == [2, 2, 2]
    assert gen.generate(prompts, Sampling(6, 1.0, 2, seed=6)) != first
    greedy = gen.generate(prompts, Sampling(6, 0.0, 1, seed=0))
    assert greedy == gen.generate(prompts, Sampling(6, 0.0, 1, seed=99))  # greedy ignores the seed


def test_invalid_sampling():
    with pytest.raises(ValueError):
        Sampling(temperature=0.0, n=2)
    with pytest.raises(ValueError):
        Sampling(max_new_tokens=0)
