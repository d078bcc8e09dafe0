"""The training-set audit: what a balanced set holds against the truth and the init, which runs trained on which
set, and the correlations between them."""
import math

import numpy as np
import pandas as pd
import pytest

from stepwiser_core.training_set_audit import (item_key, permutation_correlation, profile_correlations,
                                               run_seeds_of, runs_by_training_set, set_profile)


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
