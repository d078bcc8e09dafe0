"""Stage 03 glue and the ProcessBench report: splits, evaluation items, scoring, Table-5 rows (hand-built inputs)."""
import math

import pandas as pd
import pytest

from stepwiser_core import judge_stage, pb_report

PROBLEM = "Ann has 3 pens.\nFirst, 2 more arrive.\nSecond, 4 are given away.\nHow many pens does Ann have now?"
STEPS = ["Ann has 3 pens.\nFirst, 2 more arrive.\n3+2=5", "Second, 4 are given away.\n5-4=2",
         "The answer is \\boxed{2}."]


def record(pid, true_labels, abs_q, rel_ratio):
    return {"problem_id": pid, "level": 1, "prompt": PROBLEM, "completions": STEPS[:len(true_labels)],
            "true_labels": true_labels, "labels_abs_q": abs_q, "labels_rel_ratio": rel_ratio}


def test_split_keeps_each_problem_on_one_side_and_is_deterministic():
    recs = [record(f"p{i // 2}", [True], [True], [True]) for i in range(20)]  # two trajectories per problem
    train, held = judge_stage.split_by_problem(recs, 0.3, seed=1)
    assert len(train) + len(held) == 20
    assert not {r["problem_id"] for r in train} & {r["problem_id"] for r in held}
    assert len({r["problem_id"] for r in held}) == 3  # 30 % of 10 problems
    assert judge_stage.split_by_problem(recs, 0.3, seed=1) == (train, held)
    with pytest.raises(ValueError):
        judge_stage.split_by_problem(recs, 1.0, seed=1)


def test_eval_items_stop_at_the_first_true_error_and_balance_by_truth():
    recs = [record("a", [True, False, None], [True, True, False], [True, False, False]),
            record("b", [True, True, True], [True, True, True], [True, True, True])]
    items = judge_stage.eval_items(recs, ["abs_q", "rel_ratio"], per_class=5, seed=0)
    # one wrong chunk exists (a, step 1), so one correct chunk is drawn to match it; a's step 2 is never used
    assert sorted(it["true_label"] for it in items) == [False, True]
    wrong = next(it for it in items if not it["true_label"])
    assert (wrong["problem_id"], wrong["step"], wrong["label_abs_q"], wrong["label_rel_ratio"]) == ("a", 1, True, False)
    assert wrong["history"] == (STEPS[0],) and wrong["problem"].answer == 1  # 3 + 2 - 4
    assert all(not (it["problem_id"] == "a" and it["step"] == 2) for it in items)


def test_scoring_counts_unparseable_as_wrong_and_uses_the_majority():
    items = [{"problem_id": "a", "level": 1, "step": 0, "true_label": True, "label_abs_q": True},
             {"problem_id": "a", "level": 1, "step": 1, "true_label": False, "label_abs_q": True},
             {"problem_id": "b", "level": 1, "step": 0, "true_label": False, "label_abs_q": False}]
    verdicts = [[True, True, False], [None], [True, False]]  # majority True; unparseable; tie -> Negative
    scored = judge_stage.score_verdicts(items, verdicts, ["abs_q"], "j")
    assert scored.verdict.tolist() == [True, None, False]
    summary = judge_stage.accuracy_summary(scored, ["abs_q"])
    assert summary["acc_truth"] == pytest.approx(2 / 3)
    assert summary["acc_abs_q"] == pytest.approx(2 / 3)  # item 1: label True, verdict None -> wrong
    assert summary["format_rate"] == pytest.approx(2 / 3)
    assert summary["positive_rate"] == pytest.approx(1 / 3)
    assert summary["acc_truth_on_correct"] == 1.0 and summary["acc_truth_on_wrong"] == 0.5


def test_accuracy_summary_of_nothing_is_nan():
    empty = judge_stage.score_verdicts([], [], ["abs_q"], "j")
    assert all(math.isnan(v) for v in judge_stage.accuracy_summary(empty, ["abs_q"]).values())


def test_result_rows_have_the_table_columns_and_an_average_row():
    result = {"subsets": {"gsm8k": {"acc_error": 50.0, "acc_correct": 100.0, "f1": 200 / 3},
                          "math": {"acc_error": 20.0, "acc_correct": 80.0, "f1": 32.0}},
              "average_f1": (200 / 3 + 32.0) / 2}
    rows = pd.DataFrame(pb_report.result_rows("stepwiser_rel_ratio", "rel_ratio", result))
    assert list(rows.columns) == pb_report.TABLE_COLUMNS
    avg = rows[rows.subset == "average"].iloc[0]
    assert (avg.acc_error, avg.acc_correct) == (35.0, 90.0)
    assert avg.f1 == pytest.approx((200 / 3 + 32.0) / 2)  # the mean of subset F1s, not the F1 of mean accuracies


def test_table5_puts_the_papers_row_beside_ours():
    result = {"subsets": {"gsm8k": {"acc_error": 50.0, "acc_correct": 50.0, "f1": 50.0}}, "average_f1": 50.0}
    table = pd.DataFrame(pb_report.result_rows("stepwiser_rel_ratio", "rel_ratio", result)
                         + pb_report.result_rows("zero_shot", None, result))
    md = pb_report.table5_markdown(table, {"stepwiser_rel_ratio": "cot", "zero_shot": "cot"}, ["gsm8k"])
    lines = md.splitlines()
    assert lines[0] == "| method | signal | source | GSM8K | Avg |"
    assert "ours (toy, `stepwiser_rel_ratio`)" in lines[2] and "| 50.0 | 50.0 |" in lines[2]
    assert "paper (Qwen2.5-1.5B-chunk)" in lines[3] and "| 46.9 | 36.2 |" in lines[3]  # [P Table 5], 1.5B Rel-Ratio
    assert "Zero-shot base judge" in lines[4] and len(lines) == 5  # no paper row for the zero-shot judge


def test_accuracy_by_position_splits_early_and_deep_chunks_per_judge_and_label():
    scored = pd.DataFrame({"judge": ["a"] * 5, "true_label": [True, True, True, False, False],
                           "step": [0, 1, 2, 0, 3], "correct_truth": [True, False, True, True, False]})
    table = judge_stage.accuracy_by_position(scored, deep_from=2).set_index(["true_label", "position"])
    assert table.loc[(True, "chunks 1-2"), "accuracy"] == 0.5 and table.loc[(True, "chunks 1-2"), "n"] == 2
    assert table.loc[(True, "chunk 3+"), "accuracy"] == 1.0
    assert table.loc[(False, "chunks 1-2"), "accuracy"] == 1.0 and table.loc[(False, "chunk 3+"), "accuracy"] == 0.0


def test_negative_share_by_position_counts_history_length():
    items = [{"label": True, "history": ()}, {"label": False, "history": ("x",)},
             {"label": False, "history": ("x", "y")}, {"label": False, "history": ("x", "y", "z")}]
    assert judge_stage.negative_share_by_position(items, deep_from=2) == {"chunks 1-2": 0.5, "chunk 3+": 1.0}
    assert math.isnan(judge_stage.negative_share_by_position([], 2)["chunk 3+"])


class _ScriptedJudge:
    """Negative exactly on the chunks listed in `negative` (by text)."""

    def __init__(self, negative):
        self.negative = set(negative)

    def judge(self, items):
        return [[item.chunk not in self.negative] for item in items]


def _trajectory(i, first_error, final_correct):
    return {"problem_id": f"p{i}", "prompt": PROBLEM, "completions": [f"{s}\n(trajectory {i})" for s in STEPS],
            "true_first_error": first_error, "final_correct": final_correct, "generator": "toy-chunk-policy"}


def test_first_error_records_balance_error_and_correct_trajectories():
    recs = [_trajectory(i, 1, False) for i in range(6)] + [_trajectory(6 + i, -1, True) for i in range(2)]
    chosen = judge_stage.first_error_records(recs, 4, seed=0)
    assert sorted(r.label for r in chosen) == [-1, -1, 1, 1]  # 2 of each kind
    source = {tuple(r["completions"]): r for r in recs}
    assert all(r.problem == PROBLEM and r.label == source[r.steps]["true_first_error"]
               and r.final_answer_correct == source[r.steps]["final_correct"] for r in chosen)
    assert judge_stage.first_error_records(recs, 4, seed=0) == chosen  # seeded
    # too few correct trajectories: errors fill up; asking for more than there are gives them all
    assert sorted(r.label for r in judge_stage.first_error_records(recs, 6, seed=0)) == [-1, -1, 1, 1, 1, 1]
    assert len(judge_stage.first_error_records(recs, 100, seed=0)) == 8
    assert judge_stage.first_error_records(recs, 0, seed=0) == []


def test_first_error_summary_scores_like_processbench_by_hand():
    recs = [_trajectory(0, 1, False), _trajectory(1, 2, False), _trajectory(2, -1, True), _trajectory(3, -1, True)]
    records = judge_stage.first_error_records(recs, 4, seed=0)
    # the judge flags step 1 of trajectory 0 (right: its first error), step 0 of trajectory 1 (too early), nothing in
    # trajectory 2 (right), and step 2 of trajectory 3 (a false alarm on a correct solution)
    flagged = [recs[0]["completions"][1], recs[1]["completions"][0], recs[3]["completions"][2]]
    summary = judge_stage.first_error_summary(_ScriptedJudge(flagged), records)
    assert summary["first_error_acc_error"] == pytest.approx(50.0)
    assert summary["first_error_acc_correct"] == pytest.approx(50.0)
    assert summary["first_error_f1"] == pytest.approx(50.0)
    perfect = judge_stage.first_error_summary(_ScriptedJudge([recs[0]["completions"][1], recs[1]["completions"][2]]),
                                              records)
    assert perfect == {"first_error_f1": 100.0, "first_error_acc_error": 100.0, "first_error_acc_correct": 100.0}


def test_seed_summary_by_hand():
    rows = pd.DataFrame({"label_rule": ["abs_q", "abs_q", "abs_q", "rel_ratio"], "seed": [0, 1, 2, 0],
                         "f1": [40.0, 70.0, 55.0, 80.0]})
    out = pb_report.seed_summary(rows, reference_f1=60.0).set_index("label_rule")
    assert list(out.index) == ["abs_q", "rel_ratio"]
    assert out.loc["abs_q", "seeds"] == 3 and out.loc["abs_q", "f1_mean"] == pytest.approx(55.0)
    assert out.loc["abs_q", "f1_sd"] == pytest.approx(15.0)  # sqrt((225 + 225 + 0) / 2)
    assert (out.loc["abs_q", "f1_min"], out.loc["abs_q", "f1_max"]) == (40.0, 70.0)
    assert out.loc["abs_q", "seeds_above_reference"] == 1 and out.loc["rel_ratio", "seeds_above_reference"] == 1
    assert math.isnan(out.loc["rel_ratio", "f1_sd"]) and (out.reference_f1 == 60.0).all()


def test_versus_baselines_counts_by_hand():
    rows = pd.DataFrame({"label_rule": ["abs_q", "abs_q", "abs_q", "abs_q", "rel_ratio"],
                         "f1": [30.0, 13.0, 9.0, 5.4, 25.0]})
    out = pb_report.versus_baselines(rows, reference_f1=10.0, forced_f1=24.0).set_index("label_rule")
    # abs_q vs 10: 30 above, 13 level (exactly 3 is level), 9 level, 5.4 below; vs 24: 30 clearly above, the rest
    # lower; rel_ratio 25 is above the zero-shot judge and above the forced score, but not clearly
    assert out.loc["abs_q"].to_dict() == {"runs": 4, "above": 1, "level": 2, "below": 1, "above_forced": 1,
                                          "forced_higher": 3}
    assert out.loc["rel_ratio"].to_dict() == {"runs": 1, "above": 1, "level": 0, "below": 0, "above_forced": 0,
                                              "forced_higher": 0}
    assert pb_report.versus_baselines(rows, 10.0, 24.0, margin=0.0).set_index("label_rule").loc["abs_q", "level"] == 0


def test_seeded_rows_reads_rule_and_seed_from_the_judge_names():
    names = ["mix_zero_shot", "mix_abs_q_s0", "mix_rel_ratio_s2", "mix_abs_q_s0_unbalanced", "other_abs_q_s1",
             "mix_abs_q_s1"]
    scores = pd.DataFrame({"judge": names, "average_f1": [11.8, 31.9, 10.8, 0.0, 5.0, 0.0]})
    rows = pb_report.seeded_rows(scores, "mix")
    assert rows.to_dict("records") == [{"label_rule": "abs_q", "seed": 0, "f1": 31.9},
                                       {"label_rule": "rel_ratio", "seed": 2, "f1": 10.8},
                                       {"label_rule": "abs_q", "seed": 1, "f1": 0.0}]
    out = pb_report.seed_summary(rows, reference_f1=11.8).set_index("label_rule")
    assert out.loc["abs_q", "f1_mean"] == pytest.approx(15.95) and out.loc["abs_q", "seeds_above_reference"] == 1
    # the other naming style in results/ (`tools/grpo_seeds.py`, the seed tables): `<prefix>_<rule>_seed<seed>`
    long = pd.DataFrame({"judge": ["stepwiser_rel_effective_seed12", "stepwiser_abs_q_seed0_unbalanced"],
                         "average_f1": [77.2, 1.0]})
    assert pb_report.seeded_rows(long, "stepwiser").to_dict("records") == [
        {"label_rule": "rel_effective", "seed": 12, "f1": 77.2}]


def test_reference_f1_takes_the_fixed_judge_scored_alike_in_several_tables_and_refuses_otherwise():
    # two tables, each scoring the zero-shot init again beside its own runs
    tables = pd.DataFrame({"judge": ["zero_shot", "a_seed0", "zero_shot", "a_seed1"],
                           "average_f1": [79.9, 77.0, 79.9, 80.8]})
    assert pb_report.reference_f1(tables, "zero_shot") == 79.9
    # another init's (or benchmark's) table mixed in by mistake: not one score, a clear error
    mixed = pd.concat([tables, pd.DataFrame({"judge": ["zero_shot"], "average_f1": [79.2]})])
    with pytest.raises(ValueError, match=r"'zero_shot': 2 different scores \[79.9, 79.2\]"):
        pb_report.reference_f1(mixed, "zero_shot")
    with pytest.raises(ValueError, match="'init': 0 different scores"):
        pb_report.reference_f1(tables, "init")


def test_score_tables_stacks_named_tables_and_names_every_missing_one(tmp_path):
    pd.DataFrame({"judge": ["zero_shot", "a"], "average_f1": [79.9, 70.0]}).to_csv(tmp_path / "t1.csv", index=False)
    pd.DataFrame({"judge": ["zero_shot"], "average_f1": [79.9]}).to_csv(tmp_path / "t2.csv", index=False)
    scores = pb_report.score_tables(tmp_path, ["t1", "t2"], tag="table")
    assert scores.to_dict("records") == [{"judge": "zero_shot", "average_f1": 79.9, "table": "t1"},
                                         {"judge": "a", "average_f1": 70.0, "table": "t1"},
                                         {"judge": "zero_shot", "average_f1": 79.9, "table": "t2"}]
    assert list(pb_report.score_tables(tmp_path, ["t2"]).columns) == ["judge", "average_f1"]
    with pytest.raises(ValueError, match="no score table t3, t4 in"):
        pb_report.score_tables(tmp_path, ["t1", "t3", "t4"])
    with pytest.raises(ValueError, match="no score table named"):
        pb_report.score_tables(tmp_path, [])


def test_gap_to_own_init_compares_each_seed_with_its_own_zero_shot_judge():
    rows = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "judge": ["zero_shot", "abs_q", "rel_ratio"] * 2,
                         "f1": [80.0, 70.0, 85.0, 60.0, 65.0, 50.0]})
    out = pb_report.gap_to_own_init(rows).set_index("judge")
    assert list(out.index) == ["abs_q", "rel_ratio"]
    # abs_q: 70 - 80 = -10 on seed 0, 65 - 60 = +5 on seed 1 (above its own init, though under seed 0's)
    assert out.loc["abs_q", "gap_mean"] == pytest.approx(-2.5) and out.loc["abs_q", "seeds_above_own_init"] == 1
    assert out.loc["abs_q", "gap_sd"] == pytest.approx(math.sqrt(2 * 7.5 ** 2))
    assert (out.loc["abs_q", "gap_min"], out.loc["abs_q", "gap_max"]) == (-10.0, 5.0)
    assert out.loc["rel_ratio", "f1_mean"] == pytest.approx(67.5) and out.loc["rel_ratio", "zero_shot_f1_mean"] == 70.0
    assert out.loc["rel_ratio", "seeds_above_own_init"] == 1 and out.loc["abs_q", "seeds"] == 2
    with pytest.raises(ValueError, match=r"no zero_shot row for seed\(s\) \[2\]"):
        pb_report.gap_to_own_init(pd.concat([rows, pd.DataFrame({"seed": [2], "judge": ["abs_q"], "f1": [1.0]})]))


def test_records_without_truth_are_balanced_by_a_rollout_label_and_scored_against_labels_only():
    """NuminaMath records (the paper tier) have no exact checker: every true label None."""
    truthless = [record(f"n{i}", [None] * 3, [True, True, False], [True, False, False]) for i in range(4)]
    assert not judge_stage.has_truth(truthless[0]) and judge_stage.has_truth(record("t", [True], [True], [True]))
    with pytest.raises(ValueError, match="label_rule"):
        judge_stage.eval_items(truthless, ["abs_q", "rel_ratio"], 10, seed=0)
    items = judge_stage.eval_items(truthless, ["abs_q", "rel_ratio"], 10, seed=0, label_rule="rel_ratio")
    # every chunk is a candidate (no first true error to stop at); 4 Positive and 8 Negative by Rel-Ratio -> 4 + 4
    assert len(items) == 8 and sum(it["label_rel_ratio"] for it in items) == 4
    assert all(it["true_label"] is None and it["problem"] == PROBLEM for it in items)
    scored = judge_stage.score_verdicts(items, [[True]] * len(items), ["abs_q", "rel_ratio"], "always_positive")
    summary = judge_stage.accuracy_summary(scored, ["abs_q", "rel_ratio"])
    assert math.isnan(summary["acc_truth"]) and math.isnan(summary["acc_truth_on_wrong"])
    assert summary["acc_rel_ratio"] == 0.5 and summary["format_rate"] == 1.0
    assert summary["acc_abs_q"] == sum(it["label_abs_q"] for it in items) / len(items)
    assert list(summary) == ["acc_truth", "format_rate", "positive_rate", "acc_abs_q", "acc_rel_ratio",
                             "acc_truth_on_correct", "acc_truth_on_wrong"]
    no_truth_trajectories = [{**r, "true_first_error": None, "final_correct": False} for r in truthless]
    assert judge_stage.first_error_records(no_truth_trajectories, 4, seed=0) == []


def test_paired_recipes_matches_seeds_across_tables():
    scores = pd.DataFrame({"judge": ["zero_shot", "gated_seed1", "gated_seed0", "verdict_seed0", "verdict_seed1",
                                     "verdict_seed2", "gated_seed10", "verdict_seed10", "gated_seed1_unbalanced"],
                           "average_f1": [79.2, 82.4, 73.5, 77.2, 81.2, 63.2, 70.0, 60.0, 1.0]})
    pairs = pb_report.paired_recipes(scores, "gated_seed", "verdict_seed")
    assert pairs.to_dict("list") == {"seed": [0, 1, 10], "a": [73.5, 82.4, 70.0], "b": [77.2, 81.2, 60.0],
                                     "diff": pytest.approx([-3.7, 1.2, 10.0])}
    with pytest.raises(ValueError, match="more than once"):
        pb_report.paired_recipes(pd.concat([scores, scores]), "gated_seed", "verdict_seed")
    passed = scores.assign(correct_steps_passed=[0.99, 0.98, 0.95, 0.97, 0.96, 0.90, 0.93, 0.91, 0.5])
    rates = pb_report.paired_recipes(passed, "gated_seed", "verdict_seed", column="correct_steps_passed")
    assert rates.to_dict("list") == {"seed": [0, 1, 10], "a": [0.95, 0.98, 0.93], "b": [0.97, 0.96, 0.91],
                                     "diff": pytest.approx([-0.02, 0.02, 0.02])}


def test_correlations_by_recipe_within_each_recipe_and_over_all():
    assert pb_report.recipe_stem("gated_seed12") == "gated_seed" and pb_report.recipe_stem("zero_shot") == "zero_shot"
    frame = pd.DataFrame({"judge": ["a_seed0", "a_seed1", "a_seed2", "b_seed0", "b_seed1"],
                          "shift": [0.0, 1.0, 2.0, 5.0, 6.0],
                          "f1": [10.0, 12.0, 14.0, 0.0, 1.0],     # rises with the shift within a
                          "passed": [3.0, 2.0, 1.0, 0.0, 0.0]})   # falls with it within a
    t = pb_report.correlations_by_recipe(frame, ["shift"], ["f1", "passed"]).set_index("recipe")
    assert list(t.index) == ["a_seed", "b_seed", "all"] and list(t["n"]) == [3, 2, 5]
    assert t.loc["a_seed", "r_f1"] == pytest.approx(1.0) and t.loc["a_seed", "r_passed"] == pytest.approx(-1.0)
    assert math.isnan(t.loc["b_seed", "r_f1"])  # two judges: no correlation reported
    # Over all five the between-recipe gap dominates: b has the larger shift and the lower F1.
    assert t.loc["all", "r_f1"] == pytest.approx(frame["shift"].corr(frame["f1"])) and t.loc["all", "r_f1"] < 0


def test_seed_part_effects_recover_each_parts_main_effect_and_its_variance_share():
    # A made-up design: the data seed moves F1 by 10, the order by 1, the sampling not at all, plus a data x order
    # interaction of 2 (only where both are seed 2). Main effects by hand: data 10 + 2/2 = 11, order 1 + 1 = 2.
    rows = [{"judge": pb_report.seed_part_judge("re_", d, o, s), "average_f1": 60 + 10 * (d == 2) + (o == 2)
             + 2 * (d == 2 and o == 2)} for d in (1, 2) for o in (1, 2) for s in (1, 2)]
    scores = pd.DataFrame([*rows, {"judge": "zero_shot", "average_f1": 79.2}])
    cells = pb_report.seed_part_cells(scores, "re_", 1, 2)
    assert len(cells) == 8 and list(cells.columns) == ["judge", "data", "order", "sampling", "average_f1"]
    effects = pb_report.seed_part_effects(cells, 1, 2).set_index("part")
    assert effects["effect"].to_dict() == pytest.approx({"data": 11.0, "order": 2.0, "sampling": 0.0})
    assert (effects.loc["data", "min"], effects.loc["data", "max"]) == (10.0, 12.0)
    y = cells["average_f1"]
    total = ((y - y.mean()) ** 2).sum()
    assert effects.loc["data", "variance_share"] == pytest.approx(2 * 11 ** 2 / total)
    assert effects["variance_share"].sum() < 1  # the interaction holds the rest
    # the clean differences leave out the two corners: data's are at order 1 / sampling 2 and order 2 / sampling 1
    diffs = pb_report.seed_part_differences(cells, 1, 2)
    clean = diffs[diffs["clean"] & (diffs["part"] == "data")].set_index("other_seeds")["diff"]
    assert clean.to_dict() == {"1/2": 10.0, "2/1": 12.0} and diffs["clean"].sum() == 6 and len(diffs) == 12
    assert effects.loc["data", "clean_effect"] == 11.0 and effects.loc["sampling", "clean_effect"] == 0.0
    # reversing which seed is "b" flips the effects' sign and keeps the shares
    flipped = pb_report.seed_part_effects(cells, 2, 1).set_index("part")
    assert flipped["effect"].to_dict() == pytest.approx({"data": -11.0, "order": -2.0, "sampling": 0.0})
    assert flipped["variance_share"].to_dict() == pytest.approx(effects["variance_share"].to_dict())
    with pytest.raises(ValueError, match="re_d2o2s2.*0 times"):
        pb_report.seed_part_cells(scores[scores["judge"] != "re_d2o2s2"], "re_", 1, 2)
    with pytest.raises(ValueError, match="2 times"):
        pb_report.seed_part_cells(pd.concat([scores, scores.iloc[:1]]), "re_", 1, 2)


def test_data_halves_design_reads_the_split_and_the_balanced_subset_apart():
    # Order 1, sampling 7 held; the split seed moves F1 by -5, the balance seed by -1; names as the runs are scored:
    # a cell whose balance seed follows its split's is the seed-part design's cell (no "b" part)
    f1 = {(1, 1): 80.0, (1, 7): 79.0, (7, 1): 75.0, (7, 7): 74.0}
    names = {(1, 1): "re_d1o1s7", (1, 7): "re_d1b7o1s7", (7, 1): "re_d7b1o1s7", (7, 7): "re_d7o1s7"}
    assert all(pb_report.data_half_judge("re_", d, b, 1, 7) == n for (d, b), n in names.items())
    scores = pd.DataFrame({"judge": [*names.values(), "zero_shot"], "average_f1": [*f1.values(), 79.9]})
    cells = pb_report.data_half_cells(scores, "re_", 1, 7, order=1, sampling=7)
    assert len(cells) == 4 and set(cells["judge"]) == set(names.values())
    diffs = pb_report.data_half_differences(cells, 1, 7).set_index(["part", "other_seeds"])["diff"]
    assert diffs.to_dict() == {("split", "1"): -5.0, ("split", "7"): -5.0, ("balance", "1"): -1.0,
                               ("balance", "7"): -1.0}
    assert pb_report.data_half_differences(cells, 1, 7)["clean"].all()
    # with order and sampling both seed 1, the cell d1o1s1 is the design's corner a·a·a: its differences are not clean
    corner = scores.assign(judge=scores["judge"].str.replace("o1s7", "o1s1"))
    held = pb_report.data_half_differences(pb_report.data_half_cells(corner, "re_", 1, 7, 1, 1), 1, 7)
    assert held.set_index(["part", "other_seeds"])["clean"].to_dict() == {
        ("split", "1"): False, ("split", "7"): True, ("balance", "1"): False, ("balance", "7"): True}
    with pytest.raises(ValueError, match="re_d7b1o1s7.*0 times"):
        pb_report.data_half_cells(scores[scores["judge"] != "re_d7b1o1s7"], "re_", 1, 7, 1, 7)


def test_seed_part_designs_pool_their_clean_differences_across_designs_and_inits():
    # Two written designs whose seeds and judge names coincide (two inits): the data part costs 4 in the first and 2
    # in the second, the sampling part 0 in the first and -6 in the second; nothing else moves.
    def design(data_effect: float, sampling_effect: float) -> pd.DataFrame:
        rows = [{"judge": pb_report.seed_part_judge("re_", d, o, s),
                 "average_f1": 70 - data_effect * (d == 7) + sampling_effect * (s == 7)}
                for d in (1, 7) for o in (1, 7) for s in (1, 7)]
        return pb_report.seed_part_cells(pd.DataFrame(rows), "re_", 1, 7).assign(pair="1 vs 7")
    cells = pd.concat([design(4.0, 0.0).assign(design="amd"), design(2.0, -6.0).assign(design="intel")])
    diffs = pb_report.design_differences(cells, ["average_f1"])
    assert len(diffs) == 2 * 12 and set(diffs["design"]) == {"amd", "intel"}
    # each design's differences are those of the one-design function
    amd = diffs[diffs["design"] == "amd"].reset_index(drop=True)[["part", "other_seeds", "diff", "clean"]]
    pd.testing.assert_frame_equal(amd, pb_report.seed_part_differences(design(4.0, 0.0), 1, 7))
    pooled = pb_report.pooled_seed_part_test(diffs).set_index("part")
    assert pooled["clean_differences"].to_dict() == {"data": 4, "order": 4, "sampling": 4}
    assert pooled.loc["data", "mean"] == pytest.approx(-3.0) and pooled.loc["data", "b_higher"] == 0
    # four negative differences: 2 of the 16 sign patterns are as extreme
    assert pooled.loc["data", "p_sign_flip"] == pytest.approx(0.125)
    assert pooled.loc["sampling", "mean"] == pytest.approx(-3.0) and pooled.loc["order", "mean"] == 0.0
    with pytest.raises(ValueError, match="'pair' column"):
        pb_report.design_differences(cells.drop(columns="pair"), ["average_f1"])
    with pytest.raises(ValueError, match="'1-7': expected 'A vs B'"):
        pb_report.design_differences(cells.assign(pair="1-7"), ["average_f1"])
