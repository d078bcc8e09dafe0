"""Rationale faithfulness on hand-written analyses: a right one, wrong computations, an inconsistent verdict,
garbage, and the per-judge table."""
import math

import pytest

from stepwiser_core import faithfulness
from stepwiser_core.faithfulness import (benchmark_step_rows, check_rationale, expected_check, faithfulness_rows,
                                        faithfulness_table, false_negative_causes, missed_error_causes,
                                        positive_rate_by_position)
from stepwiser_core.instruct import lines_analysis, toy_analysis
from stepwiser_core.judge import format_judgment
from stepwiser_core.judge_eval import JudgeItem
from stepwiser_core.world.problems import Operation, Problem

# Ann has 3 pens; +4 → 7; *2 → 14.
PROBLEM = Problem("f-0", 1, "Ann", "pens", 3, (Operation("add", 4), Operation("mul", 2)), (("Ben", 5),),
                  "Ann has 3 pens.\nFirst, 4 more arrive.\nBen has 5 pens.\nSecond, 2 times as many pens.\n"
                  "How many pens does Ann have now?")
STEP0 = "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=7"
STEP1 = "Second, 2 times as many pens.\n7*2=14"


def out(check: str, match: str, verdict: str) -> str:
    return f"Analysis: Next: First, 4 more arrive. Check: {check}. Chunk: 3+4=7. Match: {match}.\n" \
           f"Final Judgment: \\boxed{{{verdict}}}"


def test_the_truth_of_the_next_step():
    assert expected_check(PROBLEM, []) == (3, "add", 4, 7)
    assert expected_check(PROBLEM, [STEP0]) == (7, "mul", 2, 14)
    assert expected_check(PROBLEM, [STEP0, STEP1]) == 14  # only the answer is left


@pytest.mark.parametrize("history, text, expected", [
    ([], out("3+4=7", "yes", "Positive"), (True, True, True)),  # right and consistent
    ([], out("3+4=7", "no", "Negative"), (True, True, False)),
    ([], out("3+4=8", "yes", "Positive"), (False, True, True)),  # computation slip in the analysis
    ([], out("3+5=8", "yes", "Positive"), (False, True, True)),  # misread operand (Ben's 5)
    ([], out("3*4=12", "yes", "Positive"), (False, True, True)),  # wrong operation
    ([], out("3 + 4 = 7", "yes", "Positive"), (True, True, True)),  # spaces tolerated
    ([STEP0], out("7*2=14", "yes", "Positive"), (True, True, True)),  # the second step's truth
    ([STEP0], out("3+4=7", "yes", "Positive"), (False, True, True)),  # re-derives the step already done
    ([STEP0, STEP1], out("14", "yes", "Positive"), (True, True, True)),  # the answer step
    ([STEP0, STEP1], out("15", "no", "Negative"), (False, True, False)),
    ([], out("3+4=7", "yes", "Negative"), (True, False, False)),  # verdict contradicts its own analysis
    ([], out("3+4=7", "no", "Positive"), (True, False, True)),
])
def test_check_rationale(history, text, expected):
    r = check_rationale(PROBLEM, history, text)
    assert (r.computation_correct, r.verdict_consistent, r.verdict) == expected
    assert r.parsed


@pytest.mark.parametrize("text, expected", [
    ("I like turtles.", (None, None, None)),  # garbage
    ("", (None, None, None)),
    (None, (None, None, None)),
    ("Analysis: Match: yes.\nFinal Judgment: \\boxed{Positive}", (None, True, True)),  # no Check
    ("Analysis: Check: 3+4=7. Match: yes.", (True, None, None)),  # no verdict
    ("Check: 3+4=7. Match: yes. Match: no. \\boxed{Positive}", (True, None, True)),  # contradictory Match
    ("Check: 3+4=7. Check: 3+4=8. Match: yes. \\boxed{Positive}", (None, True, True)),  # contradictory Check
])
def test_unreadable_parts_give_none(text, expected):
    r = check_rationale(PROBLEM, [], text)
    assert (r.computation_correct, r.verdict_consistent, r.verdict) == expected
    assert not r.parsed


def test_the_base_models_own_analysis_format_is_faithful_by_construction():
    # instruct.toy_analysis re-derives the step from the truth; with the verdict it implies, both checks pass.
    for history, chunk in [([], STEP0), ([], "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8"), ([STEP0], STEP1),
                           ([STEP0, STEP1], "The answer is \\boxed{14}.")]:
        analysis, ok = toy_analysis(PROBLEM, history, chunk)
        r = check_rationale(PROBLEM, history, format_judgment(analysis, ok))
        assert (r.computation_correct, r.verdict_consistent, r.verdict) == (True, True, ok)
        flipped = check_rationale(PROBLEM, history, format_judgment(analysis, not ok))
        assert flipped.verdict_consistent is False


def test_faithfulness_table():
    right = JudgeItem(PROBLEM, (), STEP0, True)
    rows = faithfulness_rows("A", [right, right], [[out("3+4=7", "yes", "Positive"), out("3+4=8", "yes", "Positive")],
                                                   "garbage"])
    rows += faithfulness_rows("B", [right], [out("3+4=7", "yes", "Negative")])
    assert [r["step"] for r in rows] == [0, 0, 0, 0] and rows[0]["verdict_correct"] and not rows[3]["verdict_correct"]
    table = faithfulness_table(rows).set_index("judge")
    a, b = table.loc["A"], table.loc["B"]
    assert (a.n, a.parsable, a.computation_correct, a.verdict_consistent) == (3, pytest.approx(2 / 3), 0.5, 1.0)
    assert (a.n_computation, a.n_consistency) == (2, 2)
    assert a.right_for_wrong_reason == 0.5  # two right verdicts, one of them with a wrong computation
    assert (b.n, b.parsable, b.computation_correct, b.verdict_consistent) == (1, 1.0, 1.0, 0.0)
    assert math.isnan(b.right_for_wrong_reason)  # no right verdict
    assert list(faithfulness_table([]).columns)[:2] == ["judge", "n"] and faithfulness_table([]).empty


@pytest.mark.parametrize("style", ["check", "redo", "lines"])
def test_both_analysis_styles_are_faithful_and_compare_right_by_construction(style):
    # The truth-derived analyses of either style: right computation, right comparison, consistent verdict.
    for history, chunk in [([], STEP0), ([], "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8"), ([STEP0], STEP1),
                           ([STEP0], "Second, 2 times as many pens.\n7*2=15"),
                           ([STEP0, STEP1], "The answer is \\boxed{14}."), ([STEP0, STEP1], "The answer is \\boxed{7}.")]:
        analysis, ok = toy_analysis(PROBLEM, history, chunk, style)
        r = check_rationale(PROBLEM, history, format_judgment(analysis, ok), chunk)
        assert (r.computation_correct, r.comparison_correct, r.verdict_consistent, r.verdict) == (True, True, True, ok)


def test_redo_style_by_hand():
    analysis, ok = toy_analysis(PROBLEM, [STEP0], "Second, 2 times as many pens.\n7*2=15", "redo")
    assert (analysis, ok) == ("Redo: Second, 2 times as many pens.\n7*2=14\nChunk: 15. Match: no.", False)
    assert toy_analysis(PROBLEM, [STEP0, STEP1], "The answer is \\boxed{14}.", "redo") == \
        ("Redo: The answer is 14.\nChunk: 14. Match: yes.", True)
    assert toy_analysis(PROBLEM, [], "garbage", "redo")[0].endswith("Chunk: none. Match: no.")
    with pytest.raises(ValueError, match="analysis style"):
        toy_analysis(PROBLEM, [], STEP0, "vibes")


def test_lines_style_by_hand():
    # One block per result line, stopping at the first wrong one; the verdict is the checker's.
    two_steps = STEP0 + "\n" + STEP1
    assert lines_analysis(PROBLEM, [], two_steps) == (
        "Redo: First, 4 more arrive.\n3+4=7\nChunk: 3+4=7\nMatch: yes.\n"
        "Redo: Second, 2 times as many pens.\n7*2=14\nChunk: 7*2=14\nMatch: yes.", True)
    wrong_first = "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8\nSecond, 2 times as many pens.\n8*2=16"
    assert lines_analysis(PROBLEM, [], wrong_first) == (
        "Redo: First, 4 more arrive.\n3+4=7\nChunk: 3+4=8\nMatch: no.", False)
    # a wrong carry: the chunk's line is a right computation from a wrong value, and it differs from the redo
    assert lines_analysis(PROBLEM, [STEP0], "Second, 2 times as many pens.\n8*2=16")[1] is False
    assert lines_analysis(PROBLEM, [STEP0, STEP1], "The answer is \\boxed{14}.") == (
        "Redo: The answer is \\boxed{14}.\nChunk: The answer is \\boxed{14}.\nMatch: yes.", True)
    assert lines_analysis(PROBLEM, [STEP0], "The answer is \\boxed{7}.")[0].endswith("Match: no.")  # premature
    assert lines_analysis(PROBLEM, [], "garbage")[0] == "Redo: First, 4 more arrive.\n3+4=7\nChunk: garbage\nMatch: no."
    assert lines_analysis(PROBLEM, [], "Ann has 3 pens.") == ("Chunk: none\nMatch: yes.", True)  # states no result
    # the style is reachable through toy_analysis, as the warm-up calls it
    assert toy_analysis(PROBLEM, [], two_steps, "lines") == lines_analysis(PROBLEM, [], two_steps)


def test_lines_comparison_is_judged_on_the_lines_the_judge_wrote():
    chunk = "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8"
    right = "Analysis: Redo: First, 4 more arrive.\n3+4=7\nChunk: 3+4=8\nMatch: no.\nFinal Judgment: \\boxed{Negative}"
    assert check_rationale(PROBLEM, [], right, chunk).comparison_correct is True
    wrong = right.replace("Match: no.", "Match: yes.").replace("Negative", "Positive")
    r = check_rationale(PROBLEM, [], wrong, chunk)
    assert (r.computation_correct, r.comparison_correct, r.verdict_consistent) == (True, False, True)
    assert r.quote_correct is True
    misquoted = right.replace("Chunk: 3+4=8", "Chunk: 3+4=7").replace("Match: no.", "Match: yes.")
    assert check_rationale(PROBLEM, [], misquoted, chunk).quote_correct is False  # "3+4=7" is not the chunk's line
    assert check_rationale(PROBLEM, [], misquoted).quote_correct is None  # no chunk given: unknown
    # the trained judges' misquote: the chunk's sentence instead of its equation; the lines differ, so "no" is a
    # right comparison of a wrong quote
    sentence = right.replace("Chunk: 3+4=8", "Chunk: First, 4 more arrive.")
    r = check_rationale(PROBLEM, [], sentence, chunk)
    assert (r.quote_correct, r.comparison_correct) == (False, True)


def test_comparison_correct_catches_a_judge_that_computes_right_and_compares_wrong():
    wrong_chunk = "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8"
    says_match = "Analysis: Redo: First, 4 more arrive.\n3+4=7\nChunk: 8. Match: yes.\nFinal Judgment: \\boxed{Positive}"
    r = check_rationale(PROBLEM, [], says_match, wrong_chunk)
    assert (r.computation_correct, r.comparison_correct, r.verdict_consistent) == (True, False, True)
    # against the right chunk the same "Match: yes" is the right comparison; without the chunk: unknown
    assert check_rationale(PROBLEM, [], says_match, STEP0).comparison_correct is True
    assert check_rationale(PROBLEM, [], says_match).comparison_correct is None
    # a wrong re-derivation that happens to equal the chunk's wrong result: compared right, computed wrong
    copied = says_match.replace("3+4=7", "3+4=8")
    assert (lambda r: (r.computation_correct, r.comparison_correct))(check_rationale(PROBLEM, [], copied, wrong_chunk)) \
        == (False, True)


def test_lines_verdict_is_the_checkers_on_every_chunk_up_to_the_first_error():
    # Teacher solutions with every error kind, in logical steps and in blank-line pieces: the analysis's verdict
    # equals the exact checker's on each chunk up to and including the first wrong one (the items judges see).
    import random

    from stepwiser_core.world.checker import check_steps
    from stepwiser_core.world.problems import generate_problems
    from stepwiser_core.world.segment import blankline_steps
    from stepwiser_core.world.solutions import render_solution

    rng, checked, wrong = random.Random(0), 0, 0
    for p in generate_problems(0, 40, split="test_lines"):
        sol = render_solution(p, rng, error_rate=0.3)
        for steps in (sol.steps, blankline_steps("\n\n".join(sol.steps))):
            first = check_steps(p, steps).first_error
            for i in range(len(steps) if first is None else first + 1):
                ok = lines_analysis(p, steps[:i], steps[i])[1]
                assert ok == (i != first), (p.text, steps[:i + 1])
                checked, wrong = checked + 1, wrong + (not ok)
    assert checked > 500 and wrong > 30  # the property was exercised on both verdicts


def _lines_output(redo: str, chunk_line: str, match: str, verdict: str) -> str:
    return (f"Analysis: Redo: First, 4 more arrive.\n{redo}\nChunk: {chunk_line}\nMatch: {match}.\n"
            f"Final Judgment: \\boxed{{{verdict}}}")


def test_benchmark_step_rows_cover_the_steps_a_prediction_depends_on():
    from stepwiser_core.processbench import PBRecord

    wrong_second = "Second, 2 times as many pens.\n7*2=15"
    answer = "The answer is \\boxed{14}."
    records = [PBRecord("a", "g1", PROBLEM.text, (STEP0, STEP1, answer), True, -1),   # correct: all 3 steps
               PBRecord("b", "g2", PROBLEM.text, (STEP0, wrong_second, answer), False, 1)]  # up to step 1 only
    outputs = [_lines_output("3+4=7", "3+4=7", "yes", "Positive")] * 6
    rows = benchmark_step_rows("j", records, {PROBLEM.text: PROBLEM}, outputs)
    assert [(r["id"], r["position"], r["step_correct"]) for r in rows] == \
        [("a", 0, True), ("a", 1, True), ("a", 2, True), ("b", 0, True), ("b", 1, False)]
    # the same output is audited against each step's own truth: right for step 0, a wrong redo for step 1
    assert [r["computation_correct"] for r in rows] == [True, False, False, True, False]
    # and read against each step's own lines: step 0 has the quoted line, the other steps do not
    assert [r["self_consistent"] for r in rows] == [True, False, False, True, False]
    assert [r["self_consistent_strict"] for r in rows] == [True, False, False, True, False]
    assert rows[1]["output"] == outputs[1]
    with pytest.raises(ValueError, match="5 outputs for 6 steps"):
        benchmark_step_rows("j", records, {PROBLEM.text: PROBLEM}, outputs[:5])


def test_false_negative_causes_by_hand():
    def row(position, verdict, computation, comparison, correct=True, quote=True):
        return {"judge": "j", "id": "x", "generator": "g", "position": position, "step_correct": correct,
                "verdict": verdict, "computation_correct": computation, "quote_correct": quote,
                "comparison_correct": comparison}

    rows = [row(0, True, True, True), row(0, True, True, True), row(1, True, True, True),
            row(1, None, None, None),           # unparsed
            row(2, False, False, True),         # wrong re-derivation
            row(2, False, True, False),         # right re-derivation, Match wrong: the trained judges' failure
            row(2, False, True, False),
            row(3, False, True, True),          # a readable, right analysis and still Negative
            row(3, False, True, True, quote=False),  # quoted a line the chunk does not have (then "no" is right)
            row(3, False, True, True, correct=False)]  # a wrong step: not a false Negative, not counted
    t = false_negative_causes(rows).iloc[0]
    assert t["n_correct_steps"] == 9
    assert t["positive_rate"] == pytest.approx(3 / 9)
    assert (t["unparsed"], t["computation_wrong"], t["quote_wrong"], t["comparison_wrong"], t["other"]) == \
        pytest.approx((1 / 6, 1 / 6, 1 / 6, 2 / 6, 1 / 6))
    by_position = positive_rate_by_position(rows).set_index("position")
    assert by_position["j"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])
    assert by_position["n"].tolist() == [2, 2, 3, 2]
    perfect = false_negative_causes([row(0, True, True, True)]).iloc[0]
    assert perfect["positive_rate"] == 1.0 and math.isnan(perfect["comparison_wrong"])


def test_missed_error_causes_by_hand():
    def row(verdict, computation, comparison, correct=False, quote=True):
        return {"judge": "j", "id": "x", "generator": "g", "position": 1, "step_correct": correct,
                "verdict": verdict, "computation_correct": computation, "quote_correct": quote,
                "comparison_correct": comparison}

    rows = [row(False, True, True), row(False, False, True),  # caught (even with a wrong re-derivation)
            row(None, None, None),               # unparsable: no error predicted there, a miss
            row(True, False, True),              # the re-derivation repeats the chunk's mistake
            row(True, True, False),              # "Match: yes" under two different lines
            row(True, True, False, quote=False),  # quoted the wrong line, so Match compared the wrong pair
            row(True, True, True, correct=True)]  # a correct step: not counted here
    t = missed_error_causes(rows).iloc[0]
    assert t["n_wrong_steps"] == 6
    assert t["negative_rate"] == pytest.approx(2 / 6)
    assert (t["unparsed"], t["computation_wrong"], t["quote_wrong"], t["comparison_wrong"], t["other"]) == \
        pytest.approx((1 / 4, 1 / 4, 1 / 4, 1 / 4, 0.0))
    assert math.isnan(missed_error_causes([row(False, True, True)]).iloc[0]["other"])


# ------------------------------------------------------------------ self-consistency (the gate of a reward)

def test_teacher_lines_analyses_are_self_consistent_on_every_chunk():
    # By construction, on every error kind, both segmentations, both verdicts: the gate never blocks the analysis
    # the warm-up teaches.
    import random

    from stepwiser_core.faithfulness import analysis_self_consistent
    from stepwiser_core.world.checker import check_steps
    from stepwiser_core.world.problems import generate_problems
    from stepwiser_core.world.segment import blankline_steps
    from stepwiser_core.world.solutions import render_solution

    rng, seen = random.Random(1), {True: 0, False: 0}
    for p in generate_problems(0, 40, split="test_consistency"):
        sol = render_solution(p, rng, error_rate=0.3)
        for steps in (sol.steps, blankline_steps("\n\n".join(sol.steps))):
            first = check_steps(p, steps).first_error
            for i in range(len(steps) if first is None else first + 1):
                analysis, ok = lines_analysis(p, steps[:i], steps[i])
                for strict in (False, True):
                    assert analysis_self_consistent(format_judgment(analysis, ok), steps[i], strict) is True, (
                        p.text, steps[i], strict)
                seen[ok] += 1
    assert seen[True] > 300 and seen[False] > 30


def test_self_consistency_by_hand():
    from stepwiser_core.faithfulness import analysis_self_consistent

    chunk = "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8"
    right = _lines_output("3+4=7", "3+4=8", "no", "Negative")
    assert analysis_self_consistent(right, chunk) is True
    # "Match: no" under two identical lines: the redo repeated the chunk's mistake, the verdict is the label's
    assert analysis_self_consistent(_lines_output("3+4=8", "3+4=8", "no", "Negative"), chunk) is False
    assert analysis_self_consistent(_lines_output("3+4=8", "3+4=8", "yes", "Positive"), chunk) is True
    # a verdict that does not follow the Match
    assert analysis_self_consistent(_lines_output("3+4=7", "3+4=8", "no", "Positive"), chunk) is False
    # a quote that is no line of the chunk (here: the redo copied into the quote)
    assert analysis_self_consistent(_lines_output("3+4=7", "3+4=7", "yes", "Positive"), chunk) is False
    # what the gate cannot see: a real line of the chunk quoted in place of its equation (the truth needs it)
    sentence_quoted = _lines_output("3+4=7", "First, 4 more arrive.", "no", "Negative")
    assert analysis_self_consistent(sentence_quoted, chunk) is True
    # ... unless strict: a quoted sentence is compared with the redone sentence, here the same line, so "no" fails
    # (the loophole GRPO found), while a sentence that differs from the redone one (a misread operand) still passes
    assert analysis_self_consistent(sentence_quoted, chunk, strict=True) is False
    assert analysis_self_consistent(right, chunk, strict=True) is True
    misread = "Ann has 3 pens.\nFirst, 5 more arrive.\n3+5=8"
    assert analysis_self_consistent(_lines_output("3+4=7", "First, 5 more arrive.", "no", "Negative"), misread,
                                    strict=True) is True
    # the answer block (one Redo line), the no-result block, and two blocks
    answer = "The answer is \\boxed{14}."
    answered = f"Analysis: Redo: {answer}\nChunk: {answer}\nMatch: yes.\nFinal Judgment: \\boxed{{Positive}}"
    assert analysis_self_consistent(answered, answer) is True
    assert analysis_self_consistent(answered, "The answer is \\boxed{15}.") is False
    none = "Analysis: Chunk: none\nMatch: yes.\nFinal Judgment: \\boxed{Positive}"
    assert analysis_self_consistent(none, "Ann has 3 pens.") is True
    assert analysis_self_consistent(none.replace("yes", "no").replace("Positive", "Negative"), "Ann has 3 pens.") is False
    two = ("Analysis: Redo: First, 4 more arrive.\n3+4=7\nChunk: 3+4=7\nMatch: yes.\n"
           "Redo: Second, 2 times as many pens.\n7*2=14\nChunk: 7*2=15\nMatch: no.\nFinal Judgment: \\boxed{Negative}")
    assert analysis_self_consistent(two, "3+4=7\nSecond, 2 times as many pens.\n7*2=15") is True
    # unreadable: no verdict, a Match without a block, another analysis style
    assert analysis_self_consistent(right.split("\nFinal")[0], chunk) is None
    assert analysis_self_consistent("Analysis: Match: yes.\nFinal Judgment: \\boxed{Positive}", chunk) is None
    assert analysis_self_consistent(out("3+4=7", "yes", "Positive"), STEP0) is None  # the "check" style


def test_reward_signal_by_hand():
    from stepwiser_core.faithfulness import reward_signal_rows, reward_signal_table

    chunk = "Ann has 3 pens.\nFirst, 4 more arrive.\n3+4=8"
    neg = {"problem": PROBLEM, "history": (), "chunk": chunk, "label": False, "true_label": False}
    pos = {"problem": PROBLEM, "history": (), "chunk": STEP0, "label": True, "true_label": True}
    faithful_no = _lines_output("3+4=7", "3+4=8", "no", "Negative")
    copied_no = _lines_output("3+4=8", "3+4=8", "no", "Negative")  # paid by the verdict reward, not by the gate
    copied_yes = _lines_output("3+4=8", "3+4=8", "yes", "Positive")
    right_yes = _lines_output("3+4=7", "3+4=7", "yes", "Positive")
    groups = [[copied_no, copied_yes, copied_yes, copied_yes],  # Negative item: the only paid sample is unfaithful
              [faithful_no, copied_yes, faithful_no, faithful_no],  # Negative item: paid samples are faithful
              [right_yes] * 4]  # Positive item, no gradient
    rows = reward_signal_rows([neg, neg, pos], groups)
    assert [r["reward"] for r in rows[:4]] == [1.0, 0.0, 0.0, 0.0]
    assert [r["reward_gated"] for r in rows[:4]] == [0.0, 0.0, 0.0, 0.0]
    table = reward_signal_table(rows).set_index("label")
    assert table.loc["all", "groups"] == 3
    assert table.loc["all", "informative"] == pytest.approx(2 / 3)
    assert table.loc["Negative", "paid_samples"] == 4  # 1 + 3
    assert table.loc["Negative", "paid_inconsistent"] == pytest.approx(1 / 4)
    assert table.loc["Negative", "paid_redo_wrong"] == pytest.approx(1 / 4)
    assert table.loc["Negative", "informative_gated"] == pytest.approx(1 / 2)  # the first group lost its gradient
    # the first group redoes 3+4=8 four times (only its Match varies), the second holds 3+4=7 and 3+4=8
    assert table.loc["Negative", "informative_redo_varies"] == 0.5
    assert math.isnan(table.loc["Positive", "informative_redo_varies"])
    assert table.loc["Positive", "informative"] == 0.0
    assert math.isnan(table.loc["Positive", "paid_inconsistent"])
    with pytest.raises(ValueError):
        reward_signal_rows([neg], [])


def test_self_consistency_needs_every_result_line_in_order():
    from stepwiser_core.faithfulness import analysis_self_consistent

    chunk = "3+4=7\nSecond, 2 times as many pens.\n7*2=14"
    first = "Redo: First, 4 more arrive.\n3+4=7\nChunk: 3+4=7\nMatch: yes.\n"
    second = "Redo: Second, 2 times as many pens.\n7*2=14\nChunk: 7*2=14\nMatch: yes.\n"
    end = "Final Judgment: \\boxed{Positive}"
    assert analysis_self_consistent(f"Analysis: {first}{second}{end}", chunk) is True
    assert analysis_self_consistent(f"Analysis: {first}{end}", chunk) is False  # Positive, a result line unchecked
    assert analysis_self_consistent(f"Analysis: {second}{end}", chunk) is False  # the first result passed over
    assert analysis_self_consistent(f"Analysis: {second}{first}{end}", chunk) is False  # out of order
    # "Chunk: none" is for a chunk that states no result
    none = "Analysis: Chunk: none\nMatch: yes.\nFinal Judgment: \\boxed{Positive}"
    assert analysis_self_consistent(none, chunk) is False


def test_self_consistent_errors_by_hand():
    def row(correct, verdict, consistent, judge="j", strict=None):
        return {"judge": judge, "id": "x", "generator": "g", "position": 0, "step_correct": correct,
                "verdict": verdict, "computation_correct": True, "quote_correct": True, "comparison_correct": True,
                "self_consistent": consistent, "self_consistent_strict": consistent if strict is None else strict}

    # the second false Negative passes the plain gate only (a right sentence quoted in place of the equation)
    rows = [row(True, True, True), row(True, False, True, strict=False), row(True, False, False), row(True, None, None),
            row(False, False, True), row(False, True, True), row(False, None, None), row(True, True, None, "k")]
    out = faithfulness.self_consistent_errors(rows).set_index("judge")
    # j: 3 false Negatives (False, False, unparsed), 1 of them self-consistent; 2 missed errors (True, unparsed)
    assert out.loc["j", "false_negatives"] == 3
    assert out.loc["j", "false_negatives_self_consistent"] == pytest.approx(1 / 3)
    assert out.loc["j", "missed_errors"] == 2 and out.loc["j", "missed_errors_self_consistent"] == 0.5
    assert out.loc["j", "false_negatives_self_consistent_strict"] == 0.0
    assert out.loc["j", "missed_errors_self_consistent_strict"] == 0.5
    assert out.loc["k", "false_negatives"] == 0 and math.isnan(out.loc["k", "false_negatives_self_consistent"])
