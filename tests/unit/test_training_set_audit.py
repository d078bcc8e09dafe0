"""The training-set audit: what a balanced set holds against the truth and the init, which runs trained on which
set, and the correlations between them."""
import math

import numpy as np
import pandas as pd
import pytest

from stepwiser_core.training_set_audit import (item_key, permutation_correlation, profile_correlations,
                                               own_and_redrawn, run_seeds_of, runs_by_training_set, set_profile,
                                               training_runs, variance_components)


def _item(i, label, truth, level=1, step=0, history=()):
    return {"problem_id": f"p{i}", "history": history, "chunk": f"c{i}", "label": label, "true_label": truth,
            "level": str(level), "step": step}


def test_item_key_tells_apart_two_trajectories_that_share_a_problem_and_a_step():
    a = _item(0, True, True, history=("x",), step=1)
    b = {**a, "history": ("y",)}
    assert item_key(a) != item_key(b) and item_key(a) == item_key(dict(a))


def test_set_profile_counts_what_the_reward_asks_of_the_init_by_the_truth():
    items = [_item(0, True, True, level=1, step=0), _item(1, True, False, level=3, step=2),   # Positives
             _item(2, False, True, level=2, step=1),                                          # false alarm
             _item(3, False, False, level=4, step=3), _item(4, False, None, level=4, step=4)]  # error, after error
    init = {item_key(items[0]): False, item_key(items[1]): True,  # rejects one Positive
            item_key(items[2]): True,                              # passes the false alarm
            item_key(items[3]): True, item_key(items[4]): None}    # passes a true error; unparseable
    p = set_profile(items, init)
    assert (p["items"], p["negatives"]) == (5, 3)
    assert p["false_alarm_share"] == pytest.approx(1 / 3) and p["after_error_share"] == pytest.approx(1 / 3)
    assert p["wrong_positive_share"] == 0.5
    assert p["mean_level"] == pytest.approx(14 / 5) and p["negatives_mean_level"] == pytest.approx(10 / 3)
    assert p["mean_step"] == 2 and p["negatives_mean_step"] == pytest.approx(8 / 3)
    assert p["init_reward"] == pytest.approx(1 / 5)  # only the wrong Positive it passes matches its label
    assert (p["init_passes_false_alarms"], p["init_passes_true_errors"], p["init_rejects_positives"]) == (1, 1, 1)
    with pytest.raises(KeyError, match="no init verdict"):
        set_profile(items, {})
    with pytest.raises(ValueError, match="empty"):
        set_profile([], init)


def test_run_seeds_of_reads_the_paper_recipe_the_seed_part_and_the_data_half_names():
    assert run_seeds_of("stepwiser_rel_effective_seed7", "stepwiser_rel_effective_seed", "re_") == (7, 7, 7, 7)
    assert run_seeds_of("re_d3o4s5", "stepwiser_rel_effective_seed", "re_") == (3, 3, 4, 5)
    assert run_seeds_of("re_d3b4o4s3", "stepwiser_rel_effective_seed", "re_") == (3, 4, 4, 3)
    for other in ("zero_shot", "gated_rel_effective_seed1", "stepwiser_rel_ratio_seed1", "re_d3b4"):
        assert run_seeds_of(other, "stepwiser_rel_effective_seed", "re_") is None


def test_runs_by_training_set_counts_each_run_once_and_refuses_a_run_scored_two_ways():
    scores = pd.DataFrame([
        {"judge": "zero_shot", "average_f1": 80.0},
        {"judge": "s_seed1", "average_f1": 70.0}, {"judge": "re_d1o1s1", "average_f1": 70.0},  # one run, two names
        {"judge": "re_d1o2s1", "average_f1": 76.0}, {"judge": "re_d1o2s1", "average_f1": 76.0},  # scored twice, alike
        {"judge": "re_d1b2o1s1", "average_f1": 60.0}])
    out = runs_by_training_set(scores, "s_seed", "re_", ("average_f1",))
    assert out.to_dict("records") == [{"split": 1, "balance": 1, "runs": 2, "average_f1": pytest.approx(73.0)},
                                      {"split": 1, "balance": 2, "runs": 1, "average_f1": 60.0}]
    scores.loc[len(scores)] = {"judge": "re_d1o1s1", "average_f1": 75.0}
    with pytest.raises(ValueError, match="scored differently"):
        runs_by_training_set(scores, "s_seed", "re_", ("average_f1",))
    with pytest.raises(ValueError, match="no judge named"):
        runs_by_training_set(scores[scores["judge"] == "zero_shot"], "s_seed", "re_", ("average_f1",))


def test_training_runs_keeps_each_runs_four_seeds():
    scores = pd.DataFrame([{"judge": "s_seed1", "average_f1": 70.0}, {"judge": "re_d1o11s11", "average_f1": 74.0},
                           {"judge": "re_d2b3o4s5", "average_f1": 60.0}])
    out = training_runs(scores, "s_seed", "re_", ("average_f1",)).to_dict("records")
    assert out == [{"split": 1, "balance": 1, "order": 1, "sampling": 1, "average_f1": 70.0},
                   {"split": 1, "balance": 1, "order": 11, "sampling": 11, "average_f1": 74.0},
                   {"split": 2, "balance": 3, "order": 4, "sampling": 5, "average_f1": 60.0}]


def _runs(groups):
    return pd.DataFrame([{"split": g, "balance": g, "average_f1": v} for g, values in enumerate(groups)
                         for v in values])


def test_variance_components_on_a_hand_computed_anova():
    # set means 2, 6, 10 (grand 6): MSB = 2 * (16 + 0 + 16) / 2 = 32; every run 1 from its set's mean: MSW = 6 / 3 = 2;
    # n0 = 2, so var_between = (32 - 2) / 2 = 15 and ICC = 15 / 17; F = 16. Of the 15 ways to pair six runs into
    # three sets of two, only the observed one reaches F = 16: p = 1/15.
    out = variance_components(_runs([[1, 3], [5, 7], [9, 11]]), "average_f1", permutations=20_000)
    assert (out["sets"], out["runs"], out["mean"]) == (3, 6, 6.0)
    assert (out["ms_between"], out["ms_within"], out["n0"], out["f"]) == pytest.approx((32, 2, 2, 16))
    assert out["sd_between"] == pytest.approx(15 ** 0.5) and out["icc"] == pytest.approx(15 / 17)
    assert out["p"] == pytest.approx(1 / 15, abs=0.01)


def test_variance_components_with_unequal_sets_and_sets_of_one_run():
    # sizes 3 and 2 (a third set has one run and is left out): n0 = (5 - 13/5) / 1 = 2.4
    out = variance_components(_runs([[1, 2, 3], [4, 6], [100]]), "average_f1", permutations=200)
    assert (out["sets"], out["runs"]) == (2, 5) and out["n0"] == pytest.approx(2.4)
    means, grand = (2.0, 5.0), 16 / 5
    msb = 3 * (means[0] - grand) ** 2 + 2 * (means[1] - grand) ** 2
    assert out["ms_between"] == pytest.approx(msb) and out["ms_within"] == pytest.approx(4 / 3)


def test_variance_components_finds_no_set_effect_where_the_sets_are_alike():
    out = variance_components(_runs([[1, 5], [2, 4], [5, 1], [4, 2]]), "average_f1", permutations=2000)
    assert out["sd_between"] == 0 and out["icc"] == 0 and out["p"] == 1.0  # equal set means: F = 0, the minimum
    noise = np.random.default_rng(3).normal(size=(12, 3))
    assert variance_components(_runs(noise.tolist()), "average_f1", permutations=2000)["p"] > 0.05
    with pytest.raises(ValueError, match="two sets with two runs"):
        variance_components(_runs([[1, 2], [3]]), "average_f1")


def test_permutation_correlation_finds_a_real_relation_and_not_a_random_one():
    x = np.arange(12, dtype=float)
    r, p = permutation_correlation(x, 2 * x + 1, permutations=2000)
    assert r == pytest.approx(1.0) and p < 0.01
    r, p = permutation_correlation(x, -x, permutations=2000)
    assert r == pytest.approx(-1.0) and p < 0.01  # two-sided
    noise = np.random.default_rng(5).normal(size=12)
    r, p = permutation_correlation(x, noise, permutations=2000)
    assert r == pytest.approx(np.corrcoef(x, noise)[0, 1]) and p > 0.05
    assert permutation_correlation(x, x, permutations=50, seed=1) == permutation_correlation(x, x, permutations=50,
                                                                                              seed=1)
    assert all(math.isnan(v) for v in permutation_correlation(x, np.ones(12)))  # a constant has no correlation
    with pytest.raises(ValueError, match="at least 3"):
        permutation_correlation([1.0, 2.0], [1.0, 2.0])


def test_profile_correlations_adjusts_for_the_number_of_features_tried():
    frame = pd.DataFrame({"a": np.arange(10.0), "b": np.random.default_rng(0).normal(size=10),
                          "f1": 3 * np.arange(10.0)})
    out = profile_correlations(frame, ["a", "b"], ["f1"], permutations=500)
    row = out.set_index("feature").loc["a"]
    assert row["r"] == pytest.approx(1.0) and row["rho"] == pytest.approx(1.0) and row["n"] == 10
    assert row["p_bonferroni"] == pytest.approx(min(1.0, 2 * row["p"]))
    assert set(out["feature"]) == {"a", "b"} and set(out["target"]) == {"f1"}


def test_own_and_redrawn_pairs_a_seeds_own_run_with_the_other_runs_on_its_set():
    runs = pd.DataFrame([
        {"split": 1, "balance": 1, "order": 1, "sampling": 1, "average_f1": 70.0},    # own
        {"split": 1, "balance": 1, "order": 11, "sampling": 11, "average_f1": 74.0},
        {"split": 1, "balance": 1, "order": 7, "sampling": 1, "average_f1": 78.0},    # a seed-part cell: redrawn order
        {"split": 1, "balance": 2, "order": 1, "sampling": 1, "average_f1": 10.0},    # another set: not seed 1's
        {"split": 2, "balance": 2, "order": 2, "sampling": 2, "average_f1": 60.0},    # no other run: left out
        {"split": 3, "balance": 3, "order": 11, "sampling": 11, "average_f1": 60.0}])  # no own run: left out
    out = own_and_redrawn(runs, "average_f1")
    assert out.to_dict("records") == [{"split": 1, "own": 70.0, "redrawn": 76.0, "redrawn_runs": 2}]


def test_mixed_group_chance_is_the_exact_chance_of_a_group_with_both_rewards():
    from itertools import combinations

    from stepwiser_core.training_set_audit import mixed_group_chance
    # every group of 4 of the 8 draws, counted by hand: mixed unless all 4 match or all 4 miss
    draws = [True] * 5 + [False] * 3
    groups = list(combinations(range(8), 4))
    mixed = sum(len({draws[i] for i in g}) == 2 for g in groups) / len(groups)
    assert mixed_group_chance(5, 8, 4) == pytest.approx(mixed) == pytest.approx(1 - 5 / 70)
    assert mixed_group_chance(8, 8, 4) == 0.0 and mixed_group_chance(0, 8, 4) == 0.0
    assert mixed_group_chance(1, 4, 4) == 1.0
    # unbiased where the plug-in is not: averaged over binomial draws it equals 1 - q^4 - (1-q)^4
    q = 0.3
    expected = sum(math.comb(8, m) * q ** m * (1 - q) ** (8 - m) * mixed_group_chance(m, 8, 4) for m in range(9))
    assert expected == pytest.approx(1 - q ** 4 - (1 - q) ** 4)
    with pytest.raises(ValueError):
        mixed_group_chance(5, 3, 4)


def test_sampled_pressure_splits_the_push_by_the_label_and_the_truth():
    from stepwiser_core.training_set_audit import sampled_pressure
    items = [_item(0, False, True), _item(1, False, False), _item(2, True, True), _item(3, True, None)]
    sampled = {item_key(items[0]): [True, True, False, False],   # mixed: pays the false alarm
               item_key(items[1]): [False] * 4,                  # all match the label: no gradient
               item_key(items[2]): [True, None, True, True],     # unparseable never matches: mixed
               item_key(items[3]): [None] * 4}                   # all miss: no gradient
    p = sampled_pressure(items, sampled, group_size=4)
    assert p["push_reject_correct"] == 0.25 and p["push_reject_wrong"] == 0.0
    assert p["push_pass_correct"] == 0.25 and p["push_pass_wrong"] == 0.0
    assert p["net_push_negative"] == 0.0 and p["mixed_share"] == 0.5
    assert p["sampled_reward"] == pytest.approx((0.5 + 1 + 0.75 + 0) / 4)
    with pytest.raises(KeyError, match="no sampled verdicts"):
        sampled_pressure(items, {}, 4)
