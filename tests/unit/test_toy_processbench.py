"""The toy ProcessBench: ProcessBench's schema, labels from the exact checker on hand-built solutions, about half
right final answers, unique ids, and a round trip through the ProcessBench loader."""
import random

import pytest

from stepwiser_core.processbench import PBRecord, load_processbench, save_processbench, validate_record
from stepwiser_core.toy_processbench import (benchmark_stats, build_toy_processbench, check_same_solutions,
                                             solution_record, solution_steps)
from stepwiser_core.world.problems import Operation, Problem, generate_problems
from stepwiser_core.world.solutions import render_solution

# Ann has 3 pens; +4 → 7; *2 → 14 (level 1: the "gsm8k" subset).
PROBLEM = Problem("t-0", 1, "Ann", "pens", 3, (Operation("add", 4), Operation("mul", 2)), (),
                  "Ann has 3 pens.\nFirst, 4 more arrive.\nSecond, 2 times as many pens.\nHow many pens?")
S0 = "Ann has 3 pens.\nFirst, 4 more arrive.\n\n3+4=7"
S1 = "Second, 2 times as many pens.\n7*2=14"
ANSWER = "The answer is \\boxed{14}."
RIGHT = "\n\n".join([S0, S1, ANSWER])
SLIP_AT_1 = "\n\n".join([S0, "Second, 2 times as many pens.\n7*2=15", "The answer is \\boxed{15}."])
# A wrong first step and a compensating second one: the final answer is right, the process is not (label 0).
LUCKY = "\n\n".join(["Ann has 3 pens.\nFirst, 4 more arrive.\n\n3+4=8", "Second, 2 times as many pens.\n8*2=14",
                     ANSWER])
CUT_OFF = "\n\n".join([S0, "Second, 2 times as many pens."])  # no final answer (token limit)
TAGGED = f"<chunk>{S0}\n\n{S1}</chunk>\n<chunk>{ANSWER}</chunk>"  # the chunk policy's format, other cuts


@pytest.mark.parametrize("text, label, answer_right", [(RIGHT, -1, True), (SLIP_AT_1, 1, False), (LUCKY, 0, True)])
def test_labels_come_from_the_checker(text, label, answer_right):
    rec = solution_record(PROBLEM, text, "gen", "gsm8k-0")
    assert (rec.label, rec.final_answer_correct, rec.generator, rec.problem) == (label, answer_right, "gen",
                                                                                  PROBLEM.text)
    assert len(rec.steps) == 3
    validate_record(rec.to_dict(), "test")  # ProcessBench's own schema


def test_steps_are_logical_steps_and_chunk_tags_are_removed():
    assert solution_steps(RIGHT) == [S0, S1, ANSWER]
    assert solution_steps(TAGGED) == [S0, S1, ANSWER]
    assert solution_record(PROBLEM, CUT_OFF, "gen", "x") is None



@pytest.mark.parametrize("text, label", [(RIGHT, -1), (SLIP_AT_1, 2), (LUCKY, 1)])
def test_blank_line_pieces_are_labelled_at_the_piece_holding_the_first_wrong_line(text, label):
    rec = solution_record(PROBLEM, text, "gen", "gsm8k-0", "blankline")
    # S0 has a blank line inside, so its equation is a piece of its own: 4 pieces against 3 logical steps
    assert (len(rec.steps), rec.steps[1][:4], rec.label) == (4, "3+4=", label)


def test_steps_cut_on_blank_lines_untag_chunks_first_and_an_unknown_cut_is_refused():
    assert solution_steps(TAGGED, "blankline") == ["Ann has 3 pens.\nFirst, 4 more arrive.", "3+4=7",
                                                   f"{S1}\n{ANSWER}"]  # the chunks joined by one newline
    with pytest.raises(ValueError, match="one of logical, blankline, not 'paragraph'"):
        solution_steps(RIGHT, "paragraph")
    with pytest.raises(ValueError, match="one of logical, blankline"):
        build_toy_processbench([PROBLEM], {"g": [[RIGHT]]}, segmentation="paragraph")

def test_build_on_hand_built_solutions():
    generations = {"base": [[RIGHT, SLIP_AT_1, CUT_OFF]], "chunk": [[TAGGED, LUCKY]]}
    with pytest.warns(UserWarning, match="3 of 4 records"):
        bench = build_toy_processbench([PROBLEM], generations, per_subset=4, seed=0)
    assert list(bench) == ["gsm8k"]
    records = bench["gsm8k"]
    # TAGGED has RIGHT's steps: counted once. CUT_OFF has no answer: left out. 3 records remain, 2 of them with a
    # right final answer, so a subset of 4 cannot be filled (warned), and the wrong-answer pool runs out first.
    assert len(records) == 3
    assert sorted((r.label, r.final_answer_correct) for r in records) == [(-1, True), (0, True), (1, False)]
    assert sorted(r.id for r in records) == ["gsm8k-0", "gsm8k-1", "gsm8k-2"]


def test_about_half_right_final_answers_and_unique_ids(tmp_path):
    problems = generate_problems(3, 8)  # 8 problems per level
    rng = random.Random(0)
    # One right solution and two with a forced mistake per problem, from two "generators".
    gens = {"teacher": [[render_solution(p, rng).text] for p in problems],
            "sloppy": [[render_solution(p, rng, force_error_at=i % len(p.ops)).text for i in range(2)]
                       for p in problems]}
    bench = build_toy_processbench(problems, gens, per_subset=6, seed=1)
    assert list(bench) == ["gsm8k", "math", "olympiadbench", "omnimath"]
    stats = benchmark_stats(bench).set_index("subset")
    for subset, records in bench.items():
        assert len(records) == 6
        assert sum(r.final_answer_correct for r in records) == 3  # exactly half: both pools are large enough
        assert all(r.label == -1 for r in records if r.generator == "teacher")
        assert all(r.label >= 0 for r in records if r.generator == "sloppy")
        assert stats.loc[subset, "final_answer_correct_share"] == 0.5
        assert stats.loc[subset, "erroneous"] + stats.loc[subset, "correct"] == 6
    ids = [r.id for rs in bench.values() for r in rs]
    assert len(set(ids)) == len(ids)
    # Same seed, same benchmark; the round trip through ProcessBench's files keeps every record.
    assert build_toy_processbench(problems, gens, per_subset=6, seed=1) == bench
    save_processbench(bench, tmp_path)
    assert load_processbench(tmp_path) == bench
    # Cut on blank lines: the same solutions under the same ids, the same lines, the same right and wrong processes.
    pieces = build_toy_processbench(problems, gens, per_subset=6, seed=1, segmentation="blankline")
    check_same_solutions(bench, pieces)
    other = build_toy_processbench(problems, gens, per_subset=6, seed=2, segmentation="blankline")
    with pytest.raises(ValueError, match="is not the same solution"):  # another draw of the same candidates
        check_same_solutions(bench, other)
    with pytest.raises(ValueError, match="gsm8k: 6 records against 5"):
        check_same_solutions(bench, {**pieces, "gsm8k": pieces["gsm8k"][:5]})
    n_steps = lambda b: sum(len(r.steps) for rs in b.values() for r in rs)  # noqa: E731
    assert n_steps(pieces) > n_steps(bench)  # the teacher puts a blank line inside some steps


def test_largest_balanced_subset_and_a_pool_that_runs_dry():
    problems = generate_problems(5, 4, levels=(2,))
    rng = random.Random(1)
    right = [[render_solution(p, rng).text] for p in problems]
    with pytest.warns(UserWarning, match="share 1.00"):  # no wrong answer at all: all kept, warned
        bench = build_toy_processbench(problems, {"g": right}, seed=0)
    assert len(bench["math"]) == 4 and all(r.final_answer_correct for r in bench["math"])
    with pytest.warns(UserWarning, match="share 1.00"):
        build_toy_processbench(problems, {"g": right}, per_subset=4, seed=0)
    wrong = [[render_solution(p, rng, force_error_at=0).text] for p in problems]
    bench = build_toy_processbench(problems, {"r": right, "w": wrong}, seed=0)  # None: 4 + 4 at share 0.5
    assert len(bench["math"]) == 8 and isinstance(bench["math"][0], PBRecord)
    with pytest.raises(ValueError):
        build_toy_processbench(problems, {"g": right[:2]})
