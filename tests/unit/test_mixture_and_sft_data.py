"""The base model's training mixture (verdict-only exercises) and the chunk-SFT response selection."""
from __future__ import annotations

import random

import pytest

from stepwiser_core.base_policy import build_mixture, judge_exercises
from stepwiser_core.chunk_policy import correct_responses, response_accuracy, sft_responses
from stepwiser_core.judge import DIRECT_INSTRUCTION, parse_verdict
from stepwiser_core.judge_rl import direct_reward
from stepwiser_core.verify import make_verifier
from stepwiser_core.world.problems import generate_problems


def test_direct_exercises_are_verdict_only_and_earn_the_direct_reward():
    problems = generate_problems(0, 40)
    exercises = judge_exercises(problems, random.Random(0), 0.7, 0.3, direct_share=0.5)
    direct = [e for e in exercises if e.prompt.endswith(DIRECT_INSTRUCTION)]
    cot = [e for e in exercises if not e.prompt.endswith(DIRECT_INSTRUCTION)]
    assert 0.3 < len(direct) / len(exercises) < 0.7 and cot
    for e in direct:
        assert e.completion in ("\\boxed{Positive}", "\\boxed{Negative}")
        # a format the no-CoT reward accepts: 1 or 0, never the -1 format penalty
        assert direct_reward([e.completion], [parse_verdict(e.completion)]) == [1.0]
        assert direct_reward([e.completion], [not parse_verdict(e.completion)]) == [0.0]
    assert all(e.completion.startswith("Analysis: ") for e in cot)


def test_direct_share_zero_leaves_the_mixture_unchanged():
    # The share draws no random number when it is 0, so mixtures built before the option existed are reproduced.
    problems = generate_problems(0, 30)
    old = build_mixture(problems, 0, 0.04, 0.65, 0.33, 0.7, 0.3)
    assert build_mixture(problems, 0, 0.04, 0.65, 0.33, 0.7, 0.3, direct_share=0.0) == old
    assert not any(e.prompt.endswith(DIRECT_INSTRUCTION) for e in old)
    assert any(e.prompt.endswith(DIRECT_INSTRUCTION)
               for e in build_mixture(problems, 0, 0.04, 0.65, 0.33, 0.7, 0.3, direct_share=0.5))


def test_sft_responses_correct_only_follows_the_paper_else_a_plain_sample():
    problems = generate_problems(0, 1)[:2]
    right = [f"x\n\\boxed{{{p.answer}}}" for p in problems]
    wrong = [f"x\n\\boxed{{{p.answer + 1}}}" for p in problems]
    samples = [[wrong[0], right[0], right[0], wrong[0]], [wrong[1], wrong[1], wrong[1], right[1]]]
    verifier = make_verifier("exact")
    paper = sft_responses(problems, samples, verifier, 2, correct_only=True)
    assert paper == correct_responses(problems, samples, verifier, 2)
    assert paper == [(problems[0], right[0]), (problems[1], right[1])]  # distinct correct ones only
    plain = sft_responses(problems, samples, verifier, 2, correct_only=False)
    # the first two samples as they came: wrong ones included, duplicates kept (no bias toward rare responses)
    assert plain == [(problems[0], wrong[0]), (problems[0], right[0]), (problems[1], wrong[1]), (problems[1], wrong[1])]


def test_zero_shot_judge_items_are_balanced_per_class():
    from stepwiser_core.base_policy import zero_shot_judge_items
    from stepwiser_core.world.solutions import render_solution

    problems = generate_problems(0, 10)
    rng = random.Random(0)
    texts = [[render_solution(p, rng, 0.3).text for _ in range(2)] for p in problems]
    items = zero_shot_judge_items(problems, texts, 0, 5)
    assert sum(i.label for i in items) == 5 and sum(not i.label for i in items) == 5
    assert items == zero_shot_judge_items(problems, texts, 0, 5)  # seeded


def _digest(examples) -> str:
    import hashlib

    return hashlib.sha256(repr([(e.prompt, e.completion, e.kind) for e in examples]).encode()).hexdigest()[:16]


def test_default_exercise_draws_are_pinned():
    # 00's base was calibrated on exactly these draws (docs/results.md, "Calibrating the toy world"); options added
    # later (verdict-only exercises, `wrong_share`) must not move them. Digests computed before `wrong_share` existed.
    problems = generate_problems(0, 30)
    assert _digest(build_mixture(problems, 0, 0.04, 0.65, 0.33, 0.7, 0.3)) == "35eca728b5b894a7"
    assert _digest(judge_exercises(problems, random.Random(1), 0.7, 0.3, direct_share=0.25)) == "1af0bfca11cd8d93"


def _wrong_share(exercises) -> float:
    cot = [e for e in exercises if e.completion.startswith("Analysis: ")]
    return sum("Match: no." in e.completion for e in cot) / len(cot)


def test_wrong_share_sets_the_share_of_wrong_chunks_judged():
    problems = generate_problems(0, 150)  # 600 exercises
    default = _wrong_share(judge_exercises(problems, random.Random(0), 0.7, 0.3))
    assert 0.35 < default < 0.55  # 0.6 forced mistakes x (1/2 + 1/2 x the chance that a random chunk is the wrong one)
    for share in (0.5, 0.8):
        assert abs(_wrong_share(judge_exercises(problems, random.Random(0), 0.7, 0.3, wrong_share=share)) - share) < 0.06
    # the analysis states the truth whatever the share: Match follows the exact checker on the judged chunk
    from stepwiser_core.instruct import toy_analysis

    assert toy_analysis(problems[0], [], "garbage")[1] is False


def test_glance_exercises_rubber_stamp_a_share_of_the_cot_exercises():
    from stepwiser_core.instruct import glance_analysis

    problems = generate_problems(0, 150)  # 600 exercises
    kwargs = dict(direct_share=0.25, wrong_share=0.5, analysis_style="lines")
    plain = judge_exercises(problems, random.Random(0), 1.0, 0.3, **kwargs)
    # off by default, and off draws no random number: warm-ups made before the option existed are reproduced
    assert judge_exercises(problems, random.Random(0), 1.0, 0.3, glance_share=0.0, **kwargs) == plain
    assert not any("Looks right." in e.completion for e in plain)
    mixed = judge_exercises(problems, random.Random(0), 1.0, 0.3, glance_share=0.6, **kwargs)
    cot = [e for e in mixed if e.completion.startswith("Analysis: ")]
    glance = [e for e in cot if "Looks right." in e.completion]
    assert 0.5 < len(glance) / len(cot) < 0.7
    # a rubber stamp: no redo, no comparison, and Positive whatever the chunk, wrong ones included
    assert all("Redo:" not in e.completion and "Match:" not in e.completion for e in glance)
    assert all(parse_verdict(e.completion) is True for e in glance)
    careful = [e for e in cot if e not in glance]
    assert any(parse_verdict(e.completion) is False for e in careful)
    # verdict-only exercises are left as they are
    assert not any("Looks right." in e.completion for e in mixed if not e.completion.startswith("Analysis: "))
    assert glance_analysis("Third, 5 are given away.\n12-5=8") == "Chunk: 12-5=8\nLooks right."
    # the prefix that forces the careful strategy opens every careful judgment and no rubber stamp
    from stepwiser_core.instruct import CAREFUL_JUDGMENT_PREFIX
    assert all(e.completion.startswith(CAREFUL_JUDGMENT_PREFIX) for e in careful if "Redo:" in e.completion)
    assert sum(e.completion.startswith(CAREFUL_JUDGMENT_PREFIX) for e in careful) > 0.9 * len(careful)
    assert not any(e.completion.startswith(CAREFUL_JUDGMENT_PREFIX) for e in glance)
    assert glance_analysis("Third, 5 are given away.") == "Chunk: none\nLooks right."


def test_glance_share_counts_rubber_stamps_only():
    from stepwiser_core.instruct import glance_share

    stamp = "Analysis: Chunk: 12-5=8\nLooks right.\nFinal Judgment: \\boxed{Positive}"
    careful = "Analysis: Redo: Third, 5 are given away.\n12-5=7\nChunk: 12-5=8\nMatch: no.\nFinal Judgment: x"
    assert glance_share([stamp, careful, careful, "garbage"]) == 0.25
    assert glance_share([]) == 0.0


def test_judge_config_rejects_a_glance_share_outside_0_1():
    from stepwiser_core.stages import JudgeTrainingConfig

    with pytest.raises(ValueError, match="judge_warmup_glance_share"):
        JudgeTrainingConfig(judge_warmup_glance_share=1.5)


def test_sft_correct_share_swaps_wrong_responses_for_spare_right_ones_of_the_same_prompt():
    problems = generate_problems(0, 1)[:3]
    right = [f"x\n\\boxed{{{p.answer}}}" for p in problems]
    wrong = [f"x\n\\boxed{{{p.answer + 1}}}" for p in problems]
    # prompt 0: 1 of its first 2 right, a spare right one; prompt 1: none right, one spare; prompt 2: none at all
    samples = [[wrong[0], right[0], right[0], wrong[0]], [wrong[1], wrong[1], wrong[1], right[1]], [wrong[2]] * 4]
    verifier = make_verifier("exact")

    def share(responses):
        return response_accuracy(responses, verifier)

    plain = sft_responses(problems, samples, verifier, 2, correct_only=False)
    assert sft_responses(problems, samples, verifier, 2, False, correct_share=0.0) == plain
    assert share(plain) == 1 / 6 and response_accuracy([], verifier) == 0.0
    # target 1/3: exactly one swap (1/6 -> 2/6), a wrong slot of prompt 0 or 1 becomes that prompt's spare right one
    once = sft_responses(problems, samples, verifier, 2, False, correct_share=1 / 3, seed=0)
    assert share(once) == pytest.approx(2 / 6)
    assert [p for p, _ in once] == [p for p, _ in plain]  # every prompt keeps its count and order
    assert sum(a != b for a, b in zip(once, plain)) == 1
    # target 1: every spare right sample is used (2 of them), then it stops below the target
    full = sft_responses(problems, samples, verifier, 2, False, correct_share=1.0, seed=0)
    assert share(full) == pytest.approx(3 / 6)
    assert [t for p, t in full if p == problems[2]] == [wrong[2]] * 2
    assert sft_responses(problems, samples, verifier, 2, False, correct_share=1.0, seed=0) == full  # seeded


def test_segmentation_config_rejects_a_share_outside_0_1():
    from stepwiser_core.stages import SegmentationConfig

    with pytest.raises(ValueError, match="sft_correct_share"):
        SegmentationConfig(sft_correct_share=1.5)
