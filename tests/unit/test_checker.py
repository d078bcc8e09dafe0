"""The exact checker on hand-written solutions: one of each error kind, garbage, truncation, extras."""
import random

import pytest

from stepwiser_core.world.checker import check_steps
from stepwiser_core.world.problems import Operation, Problem, generate_problems
from stepwiser_core.world.segment import blankline_steps, logical_steps
from stepwiser_core.world.solutions import render_solution

# Ann has 7; +5 → 12; *3 → 36; -4 → 32.
PROBLEM = Problem("t-0", 1, "Ann", "coins", 7, (Operation("add", 5), Operation("mul", 3), Operation("sub", 4)),
                  (("Ben", 9),), "Ann has 7 coins. ...")
RIGHT = ["Ann has 7 coins.\nFirst, 5 more arrive.\n\n7+5=12", "Second, 3 times as many coins.\n12*3=36", "Third, 4 are given away.\n\n36-4=32",
         "The answer is \\boxed{32}."]


def test_a_correct_solution_has_no_wrong_step():
    r = check_steps(PROBLEM, RIGHT)
    assert (r.first_error, r.finished, r.answer, r.correct) == (None, True, 32, True)
    assert r.steps_checked == 4


@pytest.mark.parametrize("index, step, kind", [
    (1, "Second, 3 times as many coins.\n12*3=35", "computation"),            # 12*3 is 36
    (1, "Second, 9 times as many coins.\n12*9=108", "misread_operand"),       # 9 is Ben's, not the factor
    (1, "Second, 3 times as many coins.\n12*9=108", "misread_operand"),       # explanation right, equation misread
    (0, "Ann has 7 coins.\nFirst, 5 are given away.\n\n7-5=2", "wrong_operation"),  # 5 arrive, none leave
    (0, "Ann has 9 coins.\nFirst, 5 more arrive.\n\n9+5=14", "misread_operand"),  # 9 is Ben's, not Ann's
    (1, "Third, 4 are given away.\n12-4=8", "skipped_step"),         # does step 3 instead of step 2
    (1, "Second, 3 times as many coins.\n13*3=39", "wrong_carry"),            # the previous result was 12
    (2, "The answer is \\boxed{36}.", "premature_answer"),    # answers before the last operation
    (3, "The answer is \\boxed{23}.", "wrong_answer"),        # all steps right, answer miscopied
    (2, "Third, 4 are given away.and then some ###", "garbage"),
])
def test_each_error_kind_is_found_at_its_step(index, step, kind):
    steps = RIGHT[:index] + [step] + RIGHT[index + 1:]
    r = check_steps(PROBLEM, steps)
    assert (r.first_error, r.error_kind) == (index, kind)
    assert not r.correct and r.steps_checked == index + 1


def test_only_the_first_error_counts():
    steps = ["Ann has 7 coins.\nFirst, 5 more arrive.\n\n7+5=13", "Second, 3 times as many coins.\n13*3=39", "Third, 4 are given away.\n\n39-4=35",
             "The answer is \\boxed{35}."]  # consistent after the slip, but step 0 is the first error
    r = check_steps(PROBLEM, steps)
    assert (r.first_error, r.error_kind, r.finished) == (0, "computation", False)


def test_extra_step_after_the_answer_is_wrong():
    r = check_steps(PROBLEM, RIGHT + ["36-4=32"])
    assert (r.first_error, r.error_kind) == (4, "extra_step")


def test_truncated_solution_has_no_wrong_step_but_is_unfinished():
    r = check_steps(PROBLEM, RIGHT[:2])
    assert (r.first_error, r.finished, r.correct, r.answer) == (None, False, False, None)


@pytest.mark.parametrize("text", ["", "!!!!", "7+5=12 ### \u2603", "\\boxed{32}", "<chunk>Ann gets 5 more.</chunk>"])
def test_garbage_never_raises(text):
    r = check_steps(PROBLEM, [text] if text else [])
    assert not r.correct
    if text:
        assert r.first_error == 0 and r.error_kind == "garbage"


def test_the_first_error_moves_with_the_segmentation():
    text = "\n\n".join(["Ann has 7 coins.\nFirst, 5 more arrive.\n\n7+5=12", "Second, 3 times as many coins.\n\n12*3=35", "Third, 4 are given away.\n\n35-4=31",
                        "The answer is \\boxed{31}."])
    assert check_steps(PROBLEM, logical_steps(text)).first_error == 1
    assert check_steps(PROBLEM, blankline_steps(text)).first_error == 3  # explanation, equation, explanation, *equation*


def test_checker_finds_every_injected_teacher_mistake():
    rng = random.Random(0)
    for p in generate_problems(5, 150):
        sol = render_solution(p, rng, error_rate=0.2)
        r = check_steps(p, list(sol.steps))
        assert r.first_error == sol.first_error, (sol.text, sol.error_kind)
        assert r.correct == (sol.first_error is None)


def test_equations_written_counts_equation_lines_only():
    from stepwiser_core.world.checker import equations_written

    history = ["Ann has 3 pens.\nFirst, 4 more arrive.\n\n3+4=7", "Second, 2 times as many pens.\n7*2=14"]
    assert equations_written([]) == 0
    assert equations_written(history) == 2
    assert equations_written(history + ["The answer is \\boxed{14}."]) == 2
