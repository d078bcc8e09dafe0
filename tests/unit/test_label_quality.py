"""Unit tests for stepwiser_core.label_quality: exact truth, agreement, nested budgets and the adaptive budget.

Expected values are worked out by hand in the comments from the rules of reference/paper.md §2.
"""

import doctest
import math

import numpy as np
import pytest

from stepwiser_core import label_quality as lq
from stepwiser_core.label_quality import (
    adaptive_labels,
    adaptive_labels_joint,
    adaptive_q,
    adaptive_vs_fixed,
    agreement,
    fixed_m_labels,
    label_quality,
    subsample_q,
    true_step_labels,
)
from stepwiser_core.labels import abs_q_labels, label_trajectory

RULES = [("abs_q", {}), ("rel_ratio", {"gamma": 0.8}), ("rel_ratio", {"gamma": 0.7, "on_zero_prev": "negative"}),
         ("rel_effective", {"alpha": 0.4}), ("rel_effective", {"alpha": 0.8, "n": 4})]


def test_doctests():
    assert doctest.testmod(lq).failed == 0


def _random_trajectories(seed, n_traj=150, m=16):
    """Trajectories with per-chunk success rates spread over [0, 1] (many near 0 and 1, as in real data)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_traj):
        n = int(rng.integers(1, 7))
        p = rng.beta(0.6, 0.6, size=n)
        out.append(((rng.random((n, m)) < p[:, None]).astype(int), float(rng.integers(1, 16)) / 16))
    return out


# ----------------------------------------------------------------------------------------------------------------
# truth and agreement
# ----------------------------------------------------------------------------------------------------------------


def test_true_step_labels_by_hand():
    assert true_step_labels(4, 1) == [True, False, None, None]  # before: +, at: −, after: undefined
    assert true_step_labels(3, 0) == [False, None, None]
    assert true_step_labels(3, 2) == [True, True, False]  # the error is the last chunk (a wrong answer)
    assert true_step_labels(3, None) == [True, True, True]
    assert true_step_labels(0, None) == []


@pytest.mark.parametrize(("n", "fe"), [(3, 3), (3, -1), (-1, None), (3, True)])
def test_true_step_labels_rejects_bad_input(n, fe):
    with pytest.raises(ValueError):
        true_step_labels(n, fe)


def test_agreement_by_hand():
    pred = [True, False, False, True, False]
    truth = [True, True, False, None, None]  # 3 defined positions (0, 1, 2)
    out = agreement(pred, truth)
    # agree at 0 (+,+) and 2 (−,−), not at 1 (−,+): 2/3
    assert out["agreement"] == 2 / 3
    # predicted − among defined: positions 1, 2 → 2; of these truly −: position 2 → precision 1/2
    assert out["negative_precision"] == 0.5
    # truly −: position 2 only; predicted − there → recall 1/1
    assert out["negative_recall"] == 1.0
    assert (out["n"], out["n_negative_pred"], out["n_negative_true"]) == (3, 2, 1)


def test_agreement_nan_when_undefined():
    out = agreement([True, True], [True, True])  # no negative predicted, none true
    assert out["agreement"] == 1.0
    assert math.isnan(out["negative_precision"]) and math.isnan(out["negative_recall"])
    out = agreement([False], [None])  # nothing defined
    assert out["n"] == 0 and math.isnan(out["agreement"])
    with pytest.raises(ValueError):
        agreement([True], [True, None])


def test_label_quality_pools_chunks_micro_average():
    # trajectory A: pred [+, −], truth [+, −]          → 2 of 2 agree
    # trajectory B: pred [+, +, +, +], truth [+, +, +, −] → 3 of 4 agree
    # pooled: 5/6 (a macro average would give (1 + 0.75)/2 = 0.875)
    # negatives: predicted − = 1 (A1), truly − = 2 (A1, B3), both = 1 → precision 1/1, recall 1/2
    out = label_quality([[True, False], [True] * 4], [[True, False], [True, True, True, False]])
    assert out["agreement"] == 5 / 6
    assert out["negative_precision"] == 1.0 and out["negative_recall"] == 0.5
    assert out["n"] == 6 and out["n_trajectories"] == 2
    assert label_quality([], [])["n"] == 0
    with pytest.raises(ValueError):
        label_quality([[True]], [])


# ----------------------------------------------------------------------------------------------------------------
# fixed budgets
# ----------------------------------------------------------------------------------------------------------------


def test_subsample_q_first_m_columns_by_hand():
    s = np.array([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]])
    # m = 1: first column            → 1, 0, 1
    # m = 2: (1+0)/2, (0+0)/2, 2/2   → 0.5, 0, 1
    # m = 4: 3/4, 1/4, 4/4
    assert subsample_q(s, 1).tolist() == [1.0, 0.0, 1.0]
    assert subsample_q(s, 2).tolist() == [0.5, 0.0, 1.0]
    assert subsample_q(s, 4).tolist() == [0.75, 0.25, 1.0]


def test_subsample_q_budgets_are_nested():
    s = (np.random.default_rng(0).random((50, 32)) < 0.3).astype(int)
    # the count with m = 8 is the count with m = 4 plus the next 4 columns: same rollouts, more of them
    assert np.array_equal(subsample_q(s, 8) * 8, subsample_q(s, 4) * 4 + s[:, 4:8].sum(axis=1))


def test_subsample_q_random_subset_uses_m_distinct_columns():
    s = np.array([[1, 0, 0, 0], [1, 1, 1, 1]])
    # with m = M every subset is the whole row: 1/4 and 1
    assert subsample_q(s, 4, rng=np.random.default_rng(0)).tolist() == [0.25, 1.0]
    q = subsample_q(s, 2, rng=np.random.default_rng(1))
    assert q[0] in (0.0, 0.5) and q[1] == 1.0


@pytest.mark.parametrize(("m", "arr"), [(0, [[1, 0]]), (3, [[1, 0]]), (1, [[2, 0]]), (1, [1, 0])])
def test_subsample_q_rejects_bad_input(m, arr):
    with pytest.raises(ValueError):
        subsample_q(np.array(arr), m)


def test_fixed_m_labels_by_hand():
    s = np.array([[1, 0, 0, 0], [0, 0, 1, 0]])
    # m = 2: Q̂ = [0.5, 0.0]; Abs-Q → [+, −]; m = 4: Q̂ = [0.25, 0.25] → [+, +]
    assert fixed_m_labels(s, 2, 0.5, "abs_q") == [True, False]
    assert fixed_m_labels(s, 4, 0.5, "abs_q") == [True, True]
    # Rel-Ratio γ = 0.8, q_prev0 = 0.5, m = 4: 0.25/0.5 = 0.5 → −; 0.25/0.25 = 1 → +
    assert fixed_m_labels(s, 4, 0.5, "rel_ratio", gamma=0.8) == [False, True]


# ----------------------------------------------------------------------------------------------------------------
# adaptive_q: hand examples
# ----------------------------------------------------------------------------------------------------------------


def test_abs_q_stops_at_the_first_success():
    # after draws 0, 0, 1 the final count is ≥ 1 whatever follows → Abs-Q positive is decided; Q̂ = 1/3
    assert adaptive_q([0, 0, 1] + [0] * 13, "abs_q", q_prev=0.5) == (1 / 3, 3)
    assert adaptive_q([1] * 16, "abs_q", q_prev=0.5) == (1.0, 1)
    # all failures: a success could still come until the very last draw → all 16
    assert adaptive_q([0] * 16, "abs_q", q_prev=0.5) == (0.0, 16)


def test_rel_ratio_stopping_by_hand():
    # q_prev = 0.5, γ = 0.8, m_max = 16: positive iff (k/16)/0.5 > 0.8 iff k > 6.4 iff k ≥ 7
    # seven successes first: k ≥ 7 already → stop at t = 7, Q̂ = 7/7
    assert adaptive_q([1] * 16, "rel_ratio", 0.5, gamma=0.8) == (1.0, 7)
    # all failures: negative is decided once s + (16 − t) ≤ 6, i.e. t ≥ 10
    assert adaptive_q([0] * 16, "rel_ratio", 0.5, gamma=0.8) == (0.0, 10)
    # alternating 1, 0, 1, …: after t = 13 draws s = 7 (draws 1, 3, …, 13) → positive decided; failures were 6 < 10
    assert adaptive_q([1, 0] * 8, "rel_ratio", 0.5, gamma=0.8) == (7 / 13, 13)


def test_rel_effective_stopping_by_hand():
    # α = 0.4, n = 4, q_prev = 0.5 → Q^µ_prev = 1 − 0.5^4 = 0.9375; label + iff q + 0.4·(1 − (1 − q)^4 − 0.9375) > 0
    #   k = 2: q = 0.125:  1 − 0.875^4  ≈ 0.4138 → 0.125  + 0.4·(0.4138 − 0.9375) ≈ −0.0845 → −
    #   k = 3: q = 0.1875: 1 − 0.8125^4 ≈ 0.5642 → 0.1875 + 0.4·(0.5642 − 0.9375) ≈ +0.0382 → +
    # so positive iff k ≥ 3
    assert label_trajectory("rel_effective", [2 / 16], 0.5, alpha=0.4) == [False]
    assert label_trajectory("rel_effective", [3 / 16], 0.5, alpha=0.4) == [True]
    assert adaptive_q([1] * 16, "rel_effective", 0.5, alpha=0.4) == (1.0, 3)  # k ≥ 3 after 3 draws
    assert adaptive_q([0] * 16, "rel_effective", 0.5, alpha=0.4) == (0.0, 14)  # 0 + (16 − t) ≤ 2 iff t ≥ 14


def test_a_label_decided_before_any_draw_still_takes_one_rollout():
    # Rel-Ratio γ = 1.2, q_prev = 0.9: even Q̂ = 1 gives 1/0.9 ≈ 1.11 ≤ 1.2 → always −; one draw gives the estimate
    assert adaptive_q([1] * 16, "rel_ratio", 0.9, gamma=1.2) == (1.0, 1)
    # on_zero_prev = "negative" with q_prev = 0: always −
    assert adaptive_q([0] + [1] * 15, "rel_ratio", 0.0, on_zero_prev="negative") == (0.0, 1)
    # min_rollouts raises the floor
    assert adaptive_q([1] * 16, "rel_ratio", 0.9, gamma=1.2, min_rollouts=4) == (1.0, 4)


def test_confidence_stopping_abs_q_all_failures_by_hand():
    # s = 0 after t draws, uniform prior → posterior Beta(1, 1 + t); the 16 − t remaining draws all fail with
    # probability B(1, 17)/B(1, 1 + t) = (t + 1)/17.  ≥ 0.9 first at t = 15 (16/17 ≈ 0.941; t = 14: 15/17 ≈ 0.882)
    assert adaptive_q([0] * 16, "abs_q", 0.5, confidence=0.9) == (0.0, 15)
    # ≥ 0.95 never before the end (16/17 < 0.95) → the exact rule stops at 16
    assert adaptive_q([0] * 16, "abs_q", 0.5, confidence=0.95) == (0.0, 16)


def test_confidence_stopping_rel_ratio_by_hand():
    # q_prev = 0.5, γ = 0.8: positive iff final k ≥ 7. All draws succeed.
    # t = 1, s = 1: X ~ BetaBinomial(15, 2, 1), pmf (x + 1)/136 → P(X ≥ 6) = 1 − (1+…+6)/136 = 115/136 ≈ 0.846
    assert adaptive_q([1] * 16, "rel_ratio", 0.5, gamma=0.8, confidence=0.8) == (1.0, 1)
    # t = 2, s = 2: X ~ BetaBinomial(14, 3, 1), pmf (x+1)(x+2)/1360 → P(X ≥ 5) = 1 − (2+6+12+20+30)/1360 ≈ 0.949
    assert adaptive_q([1] * 16, "rel_ratio", 0.5, gamma=0.8, confidence=0.9) == (1.0, 2)
    # and the predictive probabilities themselves
    table = lq._label_table("rel_ratio", 0.5, 16, (("gamma", 0.8),))
    assert math.isclose(lq._prob_final_label(table, 1, 1, True, (1.0, 1.0)), 115 / 136)
    assert math.isclose(lq._prob_final_label(table, 2, 2, True, (1.0, 1.0)), 1 - 70 / 1360)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (([1] * 16, "nope", 0.5), {}),  # unknown rule
        (([1] * 8, "abs_q", 0.5), {}),  # fewer outcomes than m_max
        (([2] * 16, "abs_q", 0.5), {}),  # not 0/1
        (([1] * 16, "abs_q", 0.5), {"confidence": 0.5}),
        (([1] * 16, "abs_q", 0.5), {"min_rollouts": 0}),
        (([1] * 16, "rel_ratio", 0.5), {"beta": 1.0}),  # unknown rule parameter
        (([1] * 16, "rel_ratio", 1.5), {}),  # q_prev out of [0, 1]
    ],
)
def test_adaptive_q_rejects_bad_input(args, kwargs):
    with pytest.raises(ValueError):
        adaptive_q(*args, **kwargs)


def test_a_non_monotone_rule_is_refused(monkeypatch):
    # exact stopping compares only the two ends of the reachable counts: a rule that goes + → − must be refused
    lq._label_table.cache_clear()
    monkeypatch.setattr(lq, "label_trajectory", lambda rule, q, q_prev, **p: [0.2 < q[0] < 0.8])
    with pytest.raises(ValueError, match="not monotone"):
        adaptive_q([1] * 16, "abs_q", 0.5)
    lq._label_table.cache_clear()


# ----------------------------------------------------------------------------------------------------------------
# adaptive budget: properties
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "params"), RULES)
def test_exact_stopping_gives_the_fixed_budget_label_for_a_given_q_prev(rule, params):
    rng = np.random.default_rng(5)
    for _ in range(400):
        p, q_prev = rng.random(), float(rng.integers(0, 17)) / 16
        outcomes = (rng.random(16) < p).astype(int)
        q_hat, used = adaptive_q(outcomes, rule, q_prev, **params)
        assert 1 <= used <= 16
        full = outcomes.mean()
        assert label_trajectory(rule, [q_hat], q_prev, **params) == label_trajectory(rule, [full], q_prev, **params)
        # the estimate is the mean of the rollouts actually drawn
        assert q_hat == outcomes[:used].sum() / used


def test_adaptive_abs_q_labels_equal_fixed_m_labels_on_random_trajectories():
    # Abs-Q ignores q_prev, so the whole trajectory's labels must equal the fixed-M labels
    for succ, q0 in _random_trajectories(1):
        for m in (4, 16):
            labels, used = adaptive_labels(succ, q0, "abs_q", m)
            assert labels == abs_q_labels(succ[:, :m].mean(axis=1)) == fixed_m_labels(succ, m, q0, "abs_q")
            assert ((used >= 1) & (used <= m)).all()
            # positive chunks stop at the first success, negative ones use all m
            first_hit = np.where(succ[:, :m].any(axis=1), succ[:, :m].argmax(axis=1) + 1, m)
            assert np.array_equal(used, first_hit)


@pytest.mark.parametrize(("rule", "params"), RULES[1:])
def test_adaptive_relative_labels_are_exact_given_the_adaptive_q_prev_chain(rule, params):
    # For the relative rules chunk i's q_prev is chunk i−1's adaptive estimate: each label must be the fixed-M
    # label computed with that q_prev (it can differ from the fixed chain's label; adaptive_vs_fixed measures it).
    for succ, q0 in _random_trajectories(2):
        labels, used = adaptive_labels(succ, q0, rule, **params)
        q_prev = q0
        for i, row in enumerate(succ):
            q_hat, u = adaptive_q(row, rule, q_prev, **params)
            assert used[i] == u
            assert labels[i] == label_trajectory(rule, [row.mean()], q_prev, **params)[0]
            q_prev = q_hat


def test_adaptive_labels_by_hand_and_known_last_chunk():
    succ = np.array([
        [0, 1, 0, 0],  # Abs-Q: + decided at the 2nd draw → Q̂ = 1/2, 2 rollouts
        [0, 0, 0, 0],  # − needs all 4 → Q̂ = 0, 4 rollouts
        [1, 1, 1, 1],  # the final chunk: verified correct answer → Q = 1, no rollouts when last_known
    ])
    labels, used = adaptive_labels(succ, 0.5, "abs_q")
    assert labels == [True, False, True] and used.tolist() == [2, 4, 1]
    labels, used = adaptive_labels(succ, 0.5, "abs_q", last_known=True)
    assert labels == [True, False, True] and used.tolist() == [2, 4, 0]
    # Rel-Ratio γ = 0.8, m_max = 4, q_prev0 = 0.5: chunk 0 positive iff (k/4)/0.5 > 0.8 iff k ≥ 2 (k = 1: 0.5 → −)
    #   chunk 0: draws 0, 1 → s = 1, t = 2: k ∈ [1, 3] undecided; draw 0 → [1, 2] undecided; draw 0 → k = 1 → −,
    #            Q̂ = 1/4, 4 rollouts
    #   chunk 1: q_prev = 1/4: + iff (k/4)/(1/4) > 0.8 iff k ≥ 1; all fail → −, Q̂ = 0, 4 rollouts
    #   chunk 2: known, Q = 1; q_prev = 0 → on_zero_prev "abs": 1 > 0 → +
    labels, used = adaptive_labels(succ, 0.5, "rel_ratio", gamma=0.8, last_known=True)
    assert labels == [False, False, True] and used.tolist() == [4, 4, 0]
    with pytest.raises(ValueError, match="constant"):
        adaptive_labels(np.array([[1, 0]]), 0.5, "abs_q", last_known=True)
    assert adaptive_labels(np.zeros((0, 16), dtype=int), 0.5, "abs_q")[0] == []


def test_adaptive_labels_m_max_uses_the_first_columns():
    succ = np.array([[0, 0, 0, 0, 1, 1, 1, 1]])
    assert adaptive_labels(succ, 0.5, "abs_q", m_max=4)[0] == [False]  # only the first 4 count: all fail
    assert adaptive_labels(succ, 0.5, "abs_q")[0] == [True]  # m_max = 8: the 5th succeeds
    with pytest.raises(ValueError):
        adaptive_labels(succ, 0.5, "abs_q", m_max=9)


def test_adaptive_vs_fixed_by_hand():
    trajs = [np.array([[0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])]
    out = adaptive_vs_fixed(trajs, [0.5], "abs_q", m_max=4, last_known=True)
    # rollouts used 2 + 4 + 0 = 6; fixed: 4 per sampled chunk × 2 (the known last chunk needs none) = 8
    assert (out["rollouts_used"], out["rollouts_fixed"]) == (6, 8)
    assert out["rollout_fraction_used"] == 0.75 and out["agreement_with_fixed"] == 1.0 and out["n_chunks"] == 3


@pytest.mark.parametrize(("rule", "params"), RULES)
def test_adaptive_vs_fixed_properties(rule, params):
    trajs = _random_trajectories(3, n_traj=80)
    exact = adaptive_vs_fixed([s for s, _ in trajs], [q for _, q in trajs], rule, **params)
    assert 0 < exact["rollout_fraction_used"] <= 1
    if rule == "abs_q":
        assert exact["agreement_with_fixed"] == 1.0  # no q_prev chain: exact stopping is exactly the fixed label
    conf = adaptive_vs_fixed([s for s, _ in trajs], [q for _, q in trajs], rule, confidence=0.9, **params)
    assert 0 < conf["rollout_fraction_used"] <= 1 and 0 <= conf["agreement_with_fixed"] <= 1
    # for one chunk and a given q_prev, confidence stopping never draws more than exact stopping (it only adds a
    # way to stop); over a trajectory the q_prev chains differ, so totals are not compared
    for succ, q0 in trajs:
        for row in succ:
            assert adaptive_q(row, rule, q0, confidence=0.9, **params)[1] <= adaptive_q(row, rule, q0, **params)[1]


# ---------------------------------------------------------------------------------------------------------------
# adaptive_labels_joint: a chunk decided together with its predecessor
# ---------------------------------------------------------------------------------------------------------------


def test_joint_stopping_resumes_the_predecessor_where_sequential_stopping_goes_wrong():
    # Rel-Ratio, gamma 0.8, m = 2, Q before the first chunk 0.5. Chunk 0 draws [1, 0], chunk 1 draws [0, 1].
    # Fixed budget: Q0 = 0.5, Q1 = 0.5, ratios 1.0 and 1.0 -> both Positive.
    succ = np.array([[1, 0], [0, 1]])
    assert fixed_m_labels(succ, 2, 0.5, "rel_ratio", gamma=0.8) == [True, True]
    # Sequential: chunk 0 is decided Positive after one success (any final k >= 1 gives k/2 / 0.5 > 0.8) and passes
    # on Q0 = 1/1 = 1.0; against 1.0, chunk 1's first failure already decides Negative (k <= 1 gives <= 0.5).
    labels, used = adaptive_labels(succ, 0.5, "rel_ratio", gamma=0.8)
    assert (labels, used.tolist()) == ([True, False], [1, 1])
    # Joint: after chunk 1's first draw the pair (k1 in {0, 1}, k0 in {1, 2}) can still give Positive (k1 = k0 = 1),
    # so chunk 1 draws again (its label hangs more on its own count), reaches 1/2, is still undecided between
    # k0 = 1 (Positive) and k0 = 2 (Negative), and then chunk 0's rollouts resume: Q0 = 1/2, Positive.
    labels, used = adaptive_labels_joint(succ, 0.5, "rel_ratio", gamma=0.8)
    assert (labels, used.tolist()) == ([True, True], [2, 2])


@pytest.mark.parametrize("rule, params", [("abs_q", {}), ("rel_ratio", {"gamma": 0.8}),
                                          ("rel_effective", {"alpha": 0.4, "n": 4})])
def test_joint_exact_stopping_always_gives_the_fixed_budget_labels(rule, params):
    rng = np.random.default_rng(0)
    sequential_differs = False
    for _ in range(300):
        n, p = int(rng.integers(1, 7)), rng.uniform(0.05, 0.95, size=1)
        succ = (rng.random((n, 16)) < p).astype(int)
        succ[-1] = succ[-1, 0]  # the last chunk's outcome is known: a constant row
        q0 = float(rng.choice([0.0, 0.25, 0.5, 0.9]))
        fixed = fixed_m_labels(succ, 16, q0, rule, **params)
        labels, used = adaptive_labels_joint(succ, q0, rule, 16, last_known=True, **params)
        assert labels == fixed
        assert used[-1] == 0 and all(1 <= u <= 16 for u in used[:-1])
        sequential_differs |= adaptive_labels(succ, q0, rule, 16, last_known=True, **params)[0] != fixed
    # Abs-Q ignores q_prev, so only the relative rules can differ under sequential stopping (and they do here)
    assert sequential_differs == (rule != "abs_q")


def test_joint_stopping_is_sequential_stopping_for_abs_q():
    rng = np.random.default_rng(1)
    for _ in range(50):
        succ = (rng.random((5, 16)) < rng.uniform(0.05, 0.5)).astype(int)
        for c in (None, 0.9):
            a = adaptive_labels(succ, 0.5, "abs_q", confidence=c)
            b = adaptive_labels_joint(succ, 0.5, "abs_q", confidence=c)
            assert a[0] == b[0] and a[1].tolist() == b[1].tolist()


def test_joint_confidence_stopping_saves_rollouts_and_vs_fixed_reports_it():
    rng = np.random.default_rng(2)
    trajs = [(rng.random((4, 16)) < rng.uniform(0.3, 0.95)).astype(int) for _ in range(60)]
    exact = adaptive_vs_fixed(trajs, [0.6] * 60, "rel_ratio", 16, joint=True, gamma=0.8)
    loose = adaptive_vs_fixed(trajs, [0.6] * 60, "rel_ratio", 16, joint=True, confidence=0.9, gamma=0.8)
    assert exact["agreement_with_fixed"] == 1.0
    assert loose["rollouts_used"] < exact["rollouts_used"] and loose["agreement_with_fixed"] < 1.0
    with pytest.raises(ValueError, match="confidence"):
        adaptive_labels_joint(trajs[0], 0.6, "rel_ratio", confidence=0.4)
