"""Unit tests for stepwiser_core.labels: expected labels are derived by hand from reference/paper.md §2.

Q values are multiples of 1/16 (M = 16 rollouts), which are exact in binary floating point, so the arithmetic in
the comments is exact unless marked ≈.
"""

import doctest
import math
import random

import numpy as np
import pytest

from stepwiser_core import labels
from stepwiser_core.labels import (
    LABEL_RULES,
    abs_q_labels,
    best_of_n_q,
    label_trajectory,
    rel_effective_labels,
    rel_ratio_labels,
)

# Q^µ values (n = 4) used below, worked out once:
#   Q^µ(1)      = 1 − 0^4          = 1
#   Q^µ(0.5)    = 1 − 0.5^4        = 1 − 0.0625      = 0.9375
#   Q^µ(0.25)   = 1 − 0.75^4       = 1 − 0.31640625  = 0.68359375
#   Q^µ(0.0625) = 1 − (15/16)^4    = 1 − 0.7724…     ≈ 0.2275
#   Q^µ(0)      = 1 − 1^4          = 0


# ----------------------------------------------------------------------------------------------------------------
# Abs-Q: positive iff Q̂_i > 0
# ----------------------------------------------------------------------------------------------------------------


def test_abs_q_is_positive_iff_some_rollout_succeeds():
    # 0.5 > 0 → +; 1/16 > 0 → + (one success in 16 is enough); 0 → −; 1.0 (final chunk, correct answer) → +
    assert abs_q_labels([0.5, 0.0625, 0.0, 1.0]) == [True, True, False, True]


def test_abs_q_of_an_empty_trajectory_is_empty():
    assert abs_q_labels([]) == []


def test_labels_are_python_bools_and_numpy_input_is_accepted():
    out = rel_ratio_labels(np.array([0.5, 0.25]), np.float64(0.5))
    # ratios 0.5/0.5 = 1.0 > 0.8 → +; 0.25/0.5 = 0.5 ≤ 0.8 → −
    assert out == [True, False]
    assert all(type(x) is bool for x in out + abs_q_labels(np.array([0.0, 1.0])))


# ----------------------------------------------------------------------------------------------------------------
# Rel-Ratio: positive iff Q̂_i / Q̂_{i-1} > γ, Q̂_{-1} = q_prev0
# ----------------------------------------------------------------------------------------------------------------


def test_rel_ratio_first_chunk_uses_q_prev0():
    # q_prev0 = 0.5:  0.5 / 0.5  = 1.0   > 0.8 → +
    assert rel_ratio_labels([0.5], q_prev0=0.5) == [True]
    # q_prev0 = 0.75: 0.5 / 0.75 ≈ 0.667 ≤ 0.8 → −   (same chunk, different baseline)
    assert rel_ratio_labels([0.5], q_prev0=0.75) == [False]


def test_rel_ratio_on_a_whole_trajectory_including_the_last_chunk():
    # q_prev0 = 0.5, q = [0.5, 0.375, 0.375, 1.0] (last chunk: verified correct answer → Q = 1)
    #   0.5/0.5 = 1.0 → +;  0.375/0.5 = 0.75 ≤ 0.8 → −;  0.375/0.375 = 1.0 → +;  1.0/0.375 ≈ 2.67 → +
    assert rel_ratio_labels([0.5, 0.375, 0.375, 1.0], q_prev0=0.5) == [True, False, True, True]
    # same trajectory with a wrong final answer (last Q = 0): 0/0.375 = 0 ≤ 0.8 → −
    assert rel_ratio_labels([0.5, 0.375, 0.375, 0.0], q_prev0=0.5) == [True, False, True, False]


@pytest.mark.parametrize(
    ("q_prev", "q_cur", "gamma"),
    [
        (0.3125, 0.25, 0.8),  # (4/16) / (5/16)  = 0.8 exactly
        (0.625, 0.4375, 0.7),  # (7/16) / (10/16) = 0.7 exactly (the paper's 7B γ)
        (0.5, 0.25, 0.5),  # 0.25 / 0.5 = 0.5
        (0.5, 0.5, 1.0),  # 0.5 / 0.5 = 1.0: an unchanged Q is negative at γ = 1
    ],
)
def test_rel_ratio_exactly_gamma_is_negative(q_prev, q_cur, gamma):
    # the paper: − iff ratio ≤ γ
    assert rel_ratio_labels([q_cur], q_prev0=q_prev, gamma=gamma) == [False]
    # a hair above the tie is positive: (q_cur + 1/16) / q_prev > γ
    assert rel_ratio_labels([q_cur + 0.0625], q_prev0=q_prev, gamma=gamma) == [True]


def test_rel_ratio_gamma_above_one_requires_a_rise():
    # γ = 1.2 (in the paper's grid): 0.5/0.5 = 1.0 → −; 0.625/0.5 = 1.25 → +
    assert rel_ratio_labels([0.5, 0.625], q_prev0=0.5, gamma=1.2) == [False, True]


def test_rel_ratio_zero_previous_q_both_modes():
    # q_prev0 = 0.5, q = [0.0, 0.25, 0.0, 0.0]
    #   chunk 0: 0 / 0.5 = 0 ≤ 0.8                 → − (both modes: previous Q is not 0)
    #   chunk 1: previous Q = 0, ratio undefined    → "abs": 0.25 > 0 → +   | "negative": −
    #   chunk 2: 0 / 0.25 = 0 ≤ 0.8                 → − (both modes)
    #   chunk 3: previous Q = 0, ratio undefined    → "abs": 0 > 0 false → − | "negative": −
    q = [0.0, 0.25, 0.0, 0.0]
    assert rel_ratio_labels(q, q_prev0=0.5) == [False, True, False, False]  # default is "abs"
    assert rel_ratio_labels(q, q_prev0=0.5, on_zero_prev="abs") == [False, True, False, False]
    assert rel_ratio_labels(q, q_prev0=0.5, on_zero_prev="negative") == [False, False, False, False]


def test_rel_ratio_zero_q_prev0_applies_the_zero_rule_to_the_first_chunk():
    # q_prev0 = 0 (cannot happen after the pre-filter, but a caller may pass it): first chunk 0.125 > 0
    assert rel_ratio_labels([0.125], q_prev0=0.0, on_zero_prev="abs") == [True]
    assert rel_ratio_labels([0.125], q_prev0=0.0, on_zero_prev="negative") == [False]


# ----------------------------------------------------------------------------------------------------------------
# best-of-n Q and Rel-Effective: positive iff Q̂_i + α·(Q^µ_i − Q^µ_{i-1}) > 0
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "n", "expected"),
    [
        (0.5, 4, 0.9375),  # 1 − 0.5^4 = 1 − 0.0625
        (0.25, 4, 0.68359375),  # 1 − 0.75^4 = 1 − 0.31640625
        (0.25, 2, 0.4375),  # 1 − 0.75^2 = 1 − 0.5625
        (0.25, 1, 0.25),  # best-of-1 is the policy itself
        (0.0, 4, 0.0),
        (1.0, 4, 1.0),
    ],
)
def test_best_of_n_q_by_hand(q, n, expected):
    assert best_of_n_q(q, n) == expected


def test_best_of_n_q_default_n_is_four():
    assert best_of_n_q(0.5) == 0.9375


def test_rel_effective_positive_despite_a_drop_in_q():
    # q_prev0 = 0.5 → Q drops to 0.25:
    #   0.25 + 0.4·(Q^µ(0.25) − Q^µ(0.5)) = 0.25 + 0.4·(0.68359375 − 0.9375) = 0.25 − 0.1015625 = 0.1484375 > 0 → +
    assert rel_effective_labels([0.25], q_prev0=0.5, alpha=0.4, n=4) == [True]
    # Rel-Ratio calls the same drop negative: 0.25 / 0.5 = 0.5 ≤ 0.8
    assert rel_ratio_labels([0.25], q_prev0=0.5) == [False]


def test_rel_effective_negative_on_a_sharp_drop_and_alpha_matters():
    # q_prev0 = 1.0, q = [1.0, 0.0625]
    #   chunk 0: 1.0 + 0.4·(1 − 1) = 1.0 > 0 → +
    #   chunk 1: 0.0625 + 0.4·(0.2275 − 1) ≈ 0.0625 − 0.3090 = −0.2465 ≤ 0 → −   (Abs-Q would say +)
    assert rel_effective_labels([1.0, 0.0625], q_prev0=1.0, alpha=0.4) == [True, False]
    #   α = 0.8 (7B): 0.0625 − 0.8·0.7725 ≈ −0.5555 → −
    assert rel_effective_labels([1.0, 0.0625], q_prev0=1.0, alpha=0.8) == [True, False]
    #   α = 0.05:     0.0625 − 0.05·0.7725 ≈ 0.0625 − 0.0386 = 0.0239 > 0 → +
    assert rel_effective_labels([1.0, 0.0625], q_prev0=1.0, alpha=0.05) == [True, True]


def test_rel_effective_rise_is_positive():
    # q_prev0 = 0.25 → 0.5: 0.5 + 0.4·(0.9375 − 0.68359375) = 0.5 + 0.1015625 = 0.6015625 > 0 → +
    assert rel_effective_labels([0.5], q_prev0=0.25) == [True]


def test_rel_effective_exactly_zero_is_negative():
    # (a) hopeless before and after: 0 + 0.4·(Q^µ(0) − Q^µ(0)) = 0 + 0.4·(0 − 0) = 0 ≤ 0 → −
    assert rel_effective_labels([0.0], q_prev0=0.0) == [False]
    # (b) Q̂_i > 0 yet exactly 0: n = 1 (Q^µ = Q), α = 1, q_prev0 = 0.5, Q̂ = 0.25:
    #     0.25 + 1·(0.25 − 0.5) = 0.25 − 0.25 = 0 ≤ 0 → −   (Abs-Q says +)
    assert rel_effective_labels([0.25], q_prev0=0.5, alpha=1.0, n=1) == [False]
    assert abs_q_labels([0.25]) == [True]


@pytest.mark.parametrize("q_prev", [0.0, 0.0625, 0.5, 1.0])
@pytest.mark.parametrize("alpha", [0.2, 0.4, 0.6, 0.8, 1.0])
def test_rel_effective_zero_q_is_always_negative(q_prev, alpha):
    # Q̂_i = 0 ⇒ Q^µ_i = 1 − 1^4 = 0, so the value is 0 + α·(0 − Q^µ_{i-1}) = −α·Q^µ_{i-1} ≤ 0: there is no
    # "rise" that can rescue it, because Q^µ_{i-1} ≥ 0. E.g. q_prev = 0.0625: −0.4·0.2275 ≈ −0.091 → −;
    # q_prev = 0: exactly 0 → − as well.
    assert rel_effective_labels([0.0], q_prev0=q_prev, alpha=alpha) == [False]


def test_rel_effective_last_chunk_uses_the_outcome():
    # q_prev0 = 0.5, q = [0.5, 0.5, 1.0]: Q^µ = 0.9375, 0.9375, 0.9375, 1
    #   0.5 + 0.4·0 = 0.5 → +;  0.5 + 0.4·0 = 0.5 → +;  1.0 + 0.4·(1 − 0.9375) = 1.025 → +
    assert rel_effective_labels([0.5, 0.5, 1.0], q_prev0=0.5) == [True, True, True]
    #   wrong answer, last Q = 0: 0 + 0.4·(0 − 0.9375) = −0.375 → −
    assert rel_effective_labels([0.5, 0.5, 0.0], q_prev0=0.5) == [True, True, False]


def test_rel_effective_relations_to_abs_q_on_random_grids():
    # Two consequences of the formula, checked on random M = 16 trajectories:
    #   α = 0 reduces Rel-Effective to Abs-Q; and Rel-Effective positive ⇒ Q̂_i > 0 (so ⇒ Abs-Q positive).
    rng = random.Random(0)
    for _ in range(200):
        q = [rng.randint(0, 16) / 16 for _ in range(rng.randint(1, 8))]
        q_prev0 = rng.randint(1, 15) / 16
        assert rel_effective_labels(q, q_prev0, alpha=0.0) == abs_q_labels(q)
        for eff, absq in zip(rel_effective_labels(q, q_prev0, alpha=0.8), abs_q_labels(q), strict=True):
            assert absq or not eff


# ----------------------------------------------------------------------------------------------------------------
# Dispatch and validation
# ----------------------------------------------------------------------------------------------------------------


def test_label_rules_names_map_to_the_functions():
    assert LABEL_RULES == {
        "abs_q": abs_q_labels,
        "rel_ratio": rel_ratio_labels,
        "rel_effective": rel_effective_labels,
    }


def test_label_trajectory_dispatches_with_params():
    q, q0 = [0.25, 0.0, 0.25], 0.5
    assert label_trajectory("abs_q", q, q0) == abs_q_labels(q)
    assert label_trajectory("rel_ratio", q, q0, gamma=0.5, on_zero_prev="negative") == rel_ratio_labels(
        q, q0, gamma=0.5, on_zero_prev="negative"
    )
    assert label_trajectory("rel_effective", q, q0, alpha=0.8, n=4) == rel_effective_labels(q, q0, 0.8, 4)


def test_label_trajectory_unknown_rule_lists_valid_names():
    with pytest.raises(ValueError, match="abs_q, rel_ratio, rel_effective"):
        label_trajectory("math_shepherd", [0.5], 0.5)


def test_label_trajectory_unknown_parameter_is_an_error():
    with pytest.raises(ValueError, match="gamma"):
        label_trajectory("rel_effective", [0.5], 0.5, gamma=0.8)


@pytest.mark.parametrize("bad", [1.5, -0.1, math.nan, math.inf, "0.5x", None])
def test_q_outside_unit_interval_or_not_a_number_is_rejected(bad):
    for rule in LABEL_RULES:
        with pytest.raises(ValueError, match=r"q\[1\]"):
            label_trajectory(rule, [0.5, bad], 0.5)
        with pytest.raises(ValueError, match="q_prev0"):
            label_trajectory(rule, [0.5], bad)


@pytest.mark.parametrize("gamma", [0, -0.8, math.nan, math.inf, True, "0.8"])
def test_rel_ratio_gamma_must_be_positive(gamma):
    with pytest.raises(ValueError, match="gamma"):
        rel_ratio_labels([0.5], 0.5, gamma=gamma)


def test_rel_ratio_on_zero_prev_must_be_known():
    with pytest.raises(ValueError, match="on_zero_prev"):
        rel_ratio_labels([0.5], 0.5, on_zero_prev="skip")


@pytest.mark.parametrize(("alpha", "n"), [(-0.1, 4), (math.nan, 4), (0.4, 0), (0.4, 2.5), (0.4, True)])
def test_rel_effective_alpha_and_n_are_validated(alpha, n):
    with pytest.raises(ValueError, match="alpha" if n == 4 else "n must"):
        rel_effective_labels([0.5], 0.5, alpha=alpha, n=n)
    if n != 4:
        with pytest.raises(ValueError, match="n must"):
            best_of_n_q(0.5, n)


def test_docstring_examples_run():
    assert doctest.testmod(labels).failed == 0
