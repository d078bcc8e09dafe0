"""The Table 9 analog (chunks vs blank lines): score rows, the summary over seeds, the paired chunking effect."""
import math

import pandas as pd
import pytest

from stepwiser_core import segmentation_ablation as sa
from stepwiser_core.processbench import PBRecord

SUBSETS = ["gsm8k", "math", "olympiadbench", "omnimath"]


def results_table(judge: str, f1s: list[float], average: float) -> pd.DataFrame:
    rows = [{"judge": judge, "label_rule": "abs_q", "subset": s, "acc_error": 0.0, "acc_correct": 0.0, "f1": f}
            for s, f in zip(SUBSETS, f1s)]
    rows.append({"judge": judge, "label_rule": "abs_q", "subset": "average", "acc_error": 60.0, "acc_correct": 90.0,
                 "f1": average})
    return pd.DataFrame(rows)


def score(seg: str, training: str, rule: str, seed: int, average: float, subset_f1: float = 50.0) -> dict:
    return {"segmentation": seg, "training": training, "label_rule": rule, "seed": seed,
            "judge": f"{training}_{rule}_{seg}_seed{seed}", **{s: subset_f1 for s in SUBSETS}, "average": average,
            "acc_error": average - 10.0, "acc_correct": 90.0}


def test_judge_scores_reads_one_judge_from_a_results_table():
    table = pd.concat([results_table("a", [10, 20, 30, 40], 25.0), results_table("b", [1, 2, 3, 4], 2.5)])
    row = sa.judge_scores(table, "b", "chunks", "rl", "abs_q", 3)
    assert row == {"segmentation": "chunks", "training": "rl", "label_rule": "abs_q", "seed": 3, "judge": "b",
                   "gsm8k": 1.0, "math": 2.0, "olympiadbench": 3.0, "omnimath": 4.0, "average": 2.5,
                   "acc_error": 60.0, "acc_correct": 90.0}


@pytest.mark.parametrize("args, message", [
    (("c", "chunks", "rl"), "judge 'c' is not in the results table"),
    (("a", "lines", "rl"), "segmentation must be one of"),
    (("a", "chunks", "dpo"), "training must be one of"),
])
def test_judge_scores_refuses_what_it_cannot_place(args, message):
    with pytest.raises(ValueError, match=message):
        sa.judge_scores(results_table("a", [1, 2, 3, 4], 2.5), *args, "abs_q", 0)


def test_summary_means_over_seeds_beside_the_paper_in_the_papers_order():
    scores = pd.DataFrame([score("chunks", "rl", "abs_q", 0, 80.0, 70.0), score("chunks", "rl", "abs_q", 1, 70.0, 60.0),
                           score("blankline", "rl", "abs_q", 0, 60.0)])
    out = sa.summary(scores, {"chunks": 2121, "blankline": 3385})
    # the paper lists "split by \n\n" first
    assert list(out["segmentation"]) == ["blankline", "chunks"]
    chunks = out.iloc[1]
    assert chunks["seeds"] == 2 and chunks["labelled_steps"] == 2121 and chunks["gsm8k"] == 65.0
    assert chunks["f1_mean"] == 75.0 and chunks["f1_sd"] == pytest.approx(math.sqrt(50.0))
    assert (chunks["f1_min"], chunks["f1_max"]) == (70.0, 80.0)
    assert (chunks["acc_error"], chunks["acc_correct"]) == (65.0, 90.0)
    assert chunks["paper_f1"] == 36.1 and chunks["paper_steps"] == 3_463_520
    assert math.isnan(out.iloc[0]["f1_sd"])  # one seed: no spread
    assert out.iloc[0]["paper_f1"] == 32.4


def test_summary_refuses_a_seed_scored_twice_and_missing_columns():
    row = score("chunks", "rl", "abs_q", 0, 80.0)
    with pytest.raises(ValueError, match="appears twice"):
        sa.summary(pd.DataFrame([row, row]), {})
    with pytest.raises(ValueError, match="lacks columns"):
        sa.summary(pd.DataFrame([row]).drop(columns=["omnimath"]), {})


def test_chunking_effect_is_paired_by_seed_with_an_exact_sign_flip_test():
    # chunks 80, 70, 75 against blank lines 70, 72, 65 on seeds 0-2: differences 10, -2, 10 (seed 3 has no pair).
    # Of the 8 sign patterns of (10, -2, 10), the sums 18, 22, -22, -18 are at least as far from 0 as the observed
    # 18, so p = 4/8.
    scores = pd.DataFrame([score("chunks", "rl", "abs_q", s, f) for s, f in enumerate([80.0, 70.0, 75.0, 99.0])]
                          + [score("blankline", "rl", "abs_q", s, f) for s, f in enumerate([70.0, 72.0, 65.0])])
    out = sa.chunking_effect(scores).iloc[0]
    assert out["seeds"] == 3 and out["chunks_f1"] == 75.0 and out["blankline_f1"] == pytest.approx(69.0)
    assert out["diff_mean"] == pytest.approx(6.0) and out["diff_sd"] == pytest.approx(math.sqrt(48.0))
    assert out["chunks_higher"] == 2 and out["p_two_sided"] == 0.5
    assert out["paper_diff"] == pytest.approx(36.1 - 32.4)


def test_chunking_effect_skips_a_recipe_with_no_shared_seed():
    scores = pd.DataFrame([score("chunks", "sft", "rel_ratio", 0, 10.0),
                           score("blankline", "sft", "rel_ratio", 1, 9.0)])
    assert sa.chunking_effect(scores).empty



def test_benchmark_steps_effect_pairs_the_chunking_effect_across_the_two_cuts_by_seed():
    # Logical steps: chunks 80, 70, 75 against blank lines 70, 72, 65 (effects 10, -2, 10). Blank-line steps:
    # chunks 70, 70, 70 against 72, 68, 66 (effects -2, 2, 4). Changes -12, 4, -6, summing to -14; the 8 sign
    # patterns of (12, 4, 6) sum to ±22, ±14, ±10, ±2, and four of them reach |-14|: p = 4/8.
    def scored(seg, averages):
        return [score(seg, "rl", "abs_q", s, f) for s, f in enumerate(averages)]

    logical = pd.DataFrame(scored("chunks", [80.0, 70.0, 75.0]) + scored("blankline", [70.0, 72.0, 65.0]))
    blank = pd.DataFrame(scored("chunks", [70.0, 70.0, 70.0, 1.0]) + scored("blankline", [72.0, 68.0, 66.0]))
    out = sa.benchmark_steps_effect(logical, blank).iloc[0]
    assert out["seeds"] == 3  # seed 3 has no pair
    assert (out["chunks_on_logical"], out["blankline_on_logical"]) == (75.0, pytest.approx(69.0))
    assert (out["chunks_on_blankline"], out["blankline_on_blankline"]) == (70.0, pytest.approx(206 / 3))
    assert out["effect_on_logical"] == pytest.approx(6.0) and out["effect_on_blankline"] == pytest.approx(4 / 3)
    assert out["change_mean"] == pytest.approx(-14 / 3) and out["change_fell"] == 2
    mean = -14 / 3
    assert out["change_sd"] == pytest.approx(math.sqrt(((-12 - mean) ** 2 + (4 - mean) ** 2 + (-6 - mean) ** 2) / 2))
    assert out["p_two_sided"] == 0.5


FACTS, EQ, ANSWER = "Cara has 3 books.\nFirst, 1 are given away.", "3-1=2", "The answer is \\boxed{2}."


@pytest.mark.parametrize("step, kind", [
    (FACTS, "no equation"), (f"{FACTS}\n{EQ}", "equation last"), (EQ, "equation last"),
    (f"{EQ}\nSecond, 2 are given away.", "equation, then text"), (f"{EQ}\n{ANSWER}", "answer")])
def test_step_kind_reads_what_a_step_holds(step, kind):
    assert sa.step_kind(step) == kind


def test_false_alarms_count_where_each_judge_flags_a_correct_solution():
    steps = (FACTS, EQ, ANSWER)
    bench = {"gsm8k": [PBRecord("g-0", "g", "p", steps, True, -1), PBRecord("g-1", "g", "p", steps, False, 1)],
             "math": [PBRecord("m-0", "g", "p", steps[1:], True, -1)]}
    predictions = {"a": {"g-0": 0, "g-1": 1, "m-0": 0},  # flags both correct ones; g-1 is not a correct record
                   "b": {"g-0": -1, "m-0": 1}}  # flags m-0 at its answer; g-1, a wrong record, is not read
    out = sa.false_alarms(bench, predictions).set_index("judge")
    assert out.loc["steps", ["correct_records", "no equation", "equation last", "answer"]].tolist() == [2, 1, 2, 2]
    assert out.loc["a", ["flagged", "no equation", "equation last", "equation, then text", "answer"]].tolist() \
        == [2, 1, 1, 0, 0]
    assert out.loc["b", ["flagged", "answer", "no equation"]].tolist() == [1, 1, 0]


def test_training_step_kinds_counts_steps_and_positive_shares_per_kind():
    rows = [{"completions": [FACTS, EQ, ANSWER], "labels_abs_q": [True, True, False],
             "labels_rel_ratio": [False, True, False], "true_labels": [True, False, None]},
            {"completions": [FACTS, ANSWER], "labels_abs_q": [True, True], "labels_rel_ratio": [True, True],
             "true_labels": [True, True]}]
    out = sa.training_step_kinds(rows).set_index("step_kind")
    assert list(out.index) == ["no equation", "equation last", "answer"]  # STEP_KINDS' order; absent kinds left out
    assert out.loc["no equation"].tolist() == [2, 1.0, 0.5, 1.0]
    assert out.loc["equation last"].tolist() == [1, 1.0, 1.0, 0.0]
    # the exact label after a first error is None: left out of the truth's share
    assert out.loc["answer", ["steps", "positive_abs_q", "positive_truth"]].tolist() == [2, 0.5, 1.0]

def test_table9_markdown_puts_the_papers_row_under_ours():
    scores = pd.DataFrame([score("chunks", "sft", "rel_ratio", 0, 12.0), score("chunks", "rl", "rel_ratio", 0, 70.0),
                           score("chunks", "rl", "rel_ratio", 1, 60.0)])
    text = sa.table9_markdown(sa.summary(scores, {"chunks": 2121}))
    lines = text.splitlines()
    assert lines[0].startswith("| segmentation | signal + training | source | steps | GSM8K |")
    assert "| self-segmentation | rel_ratio + SFT | ours (toy, 1 seed) | 2,121 |" in lines[2]
    assert "| self-segmentation | rel_ratio + SFT | paper (Qwen2.5-1.5B) | 3,463,520 | 32.1 |" in lines[3]
    assert lines[4].endswith("| 65.0 ± 7.1 [60.0–70.0] |") and "ours (toy, 2 seeds)" in lines[4]
    assert lines[5].endswith("| 36.2 |")


def test_scores_on_both_cuts_put_each_judge_s_two_benchmarks_side_by_side():
    logical = pd.concat([results_table("zero_shot", [80] * 4, 80.0), results_table("rl_both", [70] * 4, 75.5)])
    blank = pd.concat([results_table("zero_shot", [50] * 4, 54.8), results_table("rl_both", [60] * 4, 61.0)])
    blank.loc[blank["subset"] == "average", "acc_correct"] = [70.0, 95.0]
    judges = {"zero_shot": {"trained_on": "none", "training": "none", "label_rule": "–"},
              "rl_both": {"trained_on": "both", "training": "rl", "label_rule": "abs_q"}}
    table = sa.scores_on_both_cuts({"logical": logical, "blankline": blank}, judges)
    assert table["judge"].tolist() == ["zero_shot", "rl_both"]
    row = table.iloc[1]
    assert (row["trained_on"], row["f1_logical"], row["f1_blankline"], row["acc_correct_blankline"],
            row["acc_error_logical"]) == ("both", 75.5, 61.0, 95.0, 60.0)
    assert table["f1_change_logical_to_blankline"].round(1).tolist() == [-25.2, -14.5]
    assert "f1_change_logical_to_blankline" not in sa.scores_on_both_cuts({"logical": logical}, judges)
    with pytest.raises(ValueError, match="'rl_blank' has no average row in the 'logical' table"):
        sa.scores_on_both_cuts({"logical": logical}, {"rl_blank": judges["rl_both"]})


def test_mixed_training_effect_pairs_the_both_trained_judge_with_each_segmentation_by_seed():
    def rows(trained_on, seeds, logical, blank, rule="abs_q"):
        return [{"trained_on": trained_on, "label_rule": rule, "seed": s, "f1_logical": a, "f1_blankline": b}
                for s, a, b in zip(seeds, logical, blank)]

    scores = pd.DataFrame(rows("both", [0, 1, 2], [75, 80, 70], [58, 60, 50])
                          + rows("chunks", [0, 1, 2], [74, 78, 72], [7, 10, 12])
                          + rows("blankline", [0, 1], [70, 71], [59, 61])
                          + rows("both", [0], [1], [1], rule="rel_ratio"))  # nothing to pair it with: no row
    table = sa.mixed_training_effect(scores, {"logical": 79.9, "blankline": 54.8}).set_index(["cut", "versus"])
    assert set(table["label_rule"]) == {"abs_q"} and len(table) == 4
    row = table.loc[("logical", "chunks")]  # diffs 1, 2, -2: every sign pattern is as far from 0
    assert (row["seeds"], row["both_f1"], row["both_higher"], row["p_two_sided"], row["both_beats_zero_shot"]) == (
        3, 75.0, 2, 1.0, 1)
    assert row["versus_f1"] == pytest.approx(224 / 3) and row["diff_mean"] == pytest.approx(1 / 3)
    assert row["diff_sd"] == pytest.approx((13 / 3) ** 0.5)
    row = table.loc[("logical", "blankline")]  # seeds 0 and 1 only; diffs 5, 9: 2 of 4 patterns reach |7|
    assert (row["seeds"], row["both_f1"], row["diff_mean"], row["p_two_sided"]) == (2, 77.5, 7.0, 0.5)
    row = table.loc[("blankline", "chunks")]  # diffs 51, 50, 38, all up: 2 of 8 patterns
    assert (row["diff_mean"], row["both_higher"], row["p_two_sided"], row["zero_shot_f1"],
            row["both_beats_zero_shot"]) == (pytest.approx(139 / 3), 3, 0.25, 54.8, 2)
    with pytest.raises(ValueError, match="appears twice"):
        sa.mixed_training_effect(pd.concat([scores, scores.iloc[:1]]), {"logical": 79.9})
