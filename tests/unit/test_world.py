"""The problem generator and teacher: deterministic by seed, within each level's bounds."""
import random

import pytest

from stepwiser_core.world.problems import LEVELS, Problem, apply_op, generate_problems
from stepwiser_core.world.segment import blankline_steps, logical_steps
from stepwiser_core.world.solutions import render_solution


def test_same_seed_gives_the_same_problems_and_another_seed_does_not():
    a, b = generate_problems(7, 20), generate_problems(7, 20)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    assert [p.text for p in generate_problems(8, 20)] != [p.text for p in a]


def test_splits_are_independent_streams_with_unique_ids():
    train, test = generate_problems(0, 30, split="train"), generate_problems(0, 30, split="test")
    assert {p.id for p in train}.isdisjoint({p.id for p in test})
    assert len({p.id for p in train}) == len(train)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_problems_respect_their_level(level):
    spec = LEVELS[level]
    for p in generate_problems(3, 200, levels=(level,)):
        assert spec.min_ops <= len(p.ops) <= spec.max_ops
        assert all(0 <= v <= spec.max_value for v in p.values)
        assert len(p.distractors) == spec.n_distractors
        assert p.text.endswith(f"How many {p.items} does {p.name} have now?")


def test_harder_levels_have_more_steps():
    mean_ops = [sum(len(p.ops) for p in generate_problems(0, 100, levels=(lv,))) / 100 for lv in sorted(LEVELS)]
    assert mean_ops == sorted(mean_ops) and mean_ops[0] < mean_ops[-1]


def test_problem_dict_round_trip():
    for p in generate_problems(1, 5):
        assert Problem.from_dict(p.to_dict()) == p


def test_correct_teacher_solution_computes_the_answer_and_steps_span_lines():
    p = generate_problems(2, 1, levels=(4,))[0]
    sol = render_solution(p, random.Random(0), error_rate=0.0, blank_line_prob=1.0)
    assert sol.first_error is None and sol.answer == p.answer == p.values[-1]
    assert len(sol.steps) == len(p.ops) + 1
    # With blank lines inside every step, blank-line splitting doubles the operation steps.
    assert len(blankline_steps(sol.text)) == 2 * len(p.ops) + 1
    assert logical_steps(sol.text) == list(sol.steps)


def test_apply_op_rejects_unknown_operations():
    assert apply_op("mul", 4, 3) == 12
    with pytest.raises(ValueError, match="unknown operation"):
        apply_op("div", 4, 2)


def test_problem_from_text_recovers_the_ground_truth():
    from stepwiser_core.world.problems import generate_problems, problem_from_text

    for p in generate_problems(3, 25):
        q = problem_from_text(p.text, p.id, p.level)
        assert (q.name, q.items, q.start, q.ops, q.answer) == (p.name, p.items, p.start, p.ops, p.answer)
        assert sorted(q.distractors) == sorted(p.distractors)


def test_problem_from_text_rejects_other_text():
    import pytest

    from stepwiser_core.world.problems import problem_from_text

    with pytest.raises(ValueError, match="How many"):
        problem_from_text("What is 2+2?")
    with pytest.raises(ValueError, match="unrecognised line"):
        problem_from_text("Ann has 3 pens.\nSecond, two more.\nHow many pens does Ann have now?")
    with pytest.raises(ValueError, match="out of order"):
        problem_from_text("Ann has 3 pens.\nSecond, 2 more arrive.\nHow many pens does Ann have now?")
