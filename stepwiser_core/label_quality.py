"""Label quality against exact truth, and an adaptive Monte-Carlo rollout budget (beyond the paper; issue 3 item 3).

StepWiser labels each chunk from M = 16 rollouts (arXiv 2508.19229, §3.2, §4.1; `reference/paper.md` §2) and never
sees the truth. The toy world knows the first wrong chunk exactly, so here we measure

1. **How good the rollout labels are**, per rule and per budget M: `true_step_labels` gives the exact labels (chunks
   before the first error positive, the first error negative, later chunks undefined because their history is
   already wrong), `agreement` / `label_quality` score predicted labels against them, and `subsample_q` gives Q̂
   from the first m of the M_max stored rollouts, so the budgets are nested (Q̂ with m = 4 uses the same rollouts
   as m = 8 plus nothing else), which makes the agreement-vs-M curve a curve in information, not in luck.
2. **How many rollouts a label really needs**: `adaptive_q` draws a chunk's rollouts one at a time and stops as
   soon as the label the rule would give at M = m_max can no longer change (exact stopping, always the same label
   as the fixed budget), or, with `confidence`, once a Beta posterior predicts that label with that probability.

Exact stopping rests on one property, checked at run time: with q_prev fixed, every rule's label is monotone
non-decreasing in Q̂_i (Abs-Q: Q̂_i > 0; Rel-Ratio: Q̂_i / q_prev > γ; Rel-Effective: Q̂_i + α·(1 − (1 − Q̂_i)^n −
Q^µ_prev) > 0 with α ≥ 0). After t draws with s successes the final count at m_max is some k ∈ [s, s + m_max − t],
so if the labels at both ends agree, every outcome of the remaining draws gives that label.

The subtlety of the relative rules: Q̂_i is also chunk i+1's q_prev. When chunk i stops early its estimate is s/t,
not the m_max estimate, so chunk i+1 is labelled against a different q_prev than under the fixed budget. Its label
is still exactly the rule's label given that q_prev, but it may differ from the fixed-budget label;
`adaptive_vs_fixed` measures how often. (s/t lies in [s/m_max, (s + m_max − t)/m_max], so chunk i's own label from
s/t is the decided one.)

Rules are applied through `stepwiser_core.labels` (never re-implemented here), with the same names and parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .labels import LABEL_RULES, label_trajectory

__all__ = [
    "adaptive_labels",
    "adaptive_labels_joint",
    "adaptive_q",
    "adaptive_vs_fixed",
    "agreement",
    "fixed_m_labels",
    "label_quality",
    "subsample_q",
    "true_step_labels",
]

# ---------------------------------------------------------------------------------------------------------------
# Exact truth and agreement
# ---------------------------------------------------------------------------------------------------------------


def true_step_labels(n_chunks: int, first_error: int | None) -> list[bool | None]:
    """Exact step labels: True before the first error, False at it, None after it (undefined: the history is wrong).

    Example:
        >>> true_step_labels(4, 1), true_step_labels(2, None)
        ([True, False, None, None], [True, True])
    """
    if isinstance(n_chunks, bool) or not isinstance(n_chunks, int | np.integer) or n_chunks < 0:
        raise ValueError(f"n_chunks must be an integer >= 0, got {n_chunks!r}")
    if first_error is None:
        return [True] * n_chunks
    if isinstance(first_error, bool) or not isinstance(first_error, int | np.integer) \
            or not 0 <= first_error < n_chunks:
        raise ValueError(f"first_error must be None or an integer in [0, {n_chunks}), got {first_error!r}")
    return [True] * first_error + [False] + [None] * (n_chunks - first_error - 1)


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def _scores(pred: np.ndarray, truth: np.ndarray, defined: np.ndarray) -> dict[str, float | int]:
    """Scores over the defined positions of flat boolean arrays (True = positive)."""
    p, t = pred[defined], truth[defined]
    neg_pred, neg_true = ~p, ~t
    n_both_neg = int(np.sum(neg_pred & neg_true))
    return {
        "agreement": _ratio(int(np.sum(p == t)), int(p.size)),
        "negative_precision": _ratio(n_both_neg, int(neg_pred.sum())),  # of the chunks called −, share truly wrong
        "negative_recall": _ratio(n_both_neg, int(neg_true.sum())),  # of the truly wrong chunks, share called −
        "n": int(p.size),
        "n_negative_pred": int(neg_pred.sum()),
        "n_negative_true": int(neg_true.sum()),
    }


def _flatten(pred: Sequence[bool], truth: Sequence[bool | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(pred) != len(truth):
        raise ValueError(f"pred and truth differ in length: {len(pred)} != {len(truth)}")
    defined = np.array([t is not None for t in truth], dtype=bool)
    truth_arr = np.array([bool(t) if t is not None else False for t in truth], dtype=bool)
    return np.asarray(pred, dtype=bool).reshape(-1), truth_arr, defined


def agreement(pred: Sequence[bool], truth: Sequence[bool | None]) -> dict[str, float | int]:
    """Agreement and Negative precision / recall of `pred` against `truth`, over positions where truth is defined.

    Returns:
        `dict`: `agreement`, `negative_precision`, `negative_recall` (NaN when their denominator is 0), `n` (the
        defined positions), `n_negative_pred`, `n_negative_true`.

    Example:
        >>> agreement([True, False, False, True], [True, True, False, None])["agreement"]  # 2 of 3 defined
        0.6666666666666666
    """
    return _scores(*_flatten(pred, truth))


def label_quality(pred_lists: Sequence[Sequence[bool]],
                  truth_lists: Sequence[Sequence[bool | None]]) -> dict[str, float | int]:
    """`agreement` pooled over many trajectories (micro-average: every defined chunk counts once).

    Adds `n_trajectories`. Each trajectory's predictions must match its truth in length.
    """
    if len(pred_lists) != len(truth_lists):
        raise ValueError(f"{len(pred_lists)} prediction lists but {len(truth_lists)} truth lists")
    parts = [_flatten(p, t) for p, t in zip(pred_lists, truth_lists, strict=True)]
    if parts:
        pred, truth, defined = (np.concatenate(a) for a in zip(*parts, strict=True))
    else:
        pred = truth = defined = np.zeros(0, dtype=bool)
    return {**_scores(pred, truth, defined), "n_trajectories": len(parts)}


# ---------------------------------------------------------------------------------------------------------------
# Fixed budgets
# ---------------------------------------------------------------------------------------------------------------


def _check_successes(successes: np.ndarray) -> np.ndarray:
    arr = np.asarray(successes)
    if arr.ndim != 2:
        raise ValueError(f"successes must be 2-D [n_chunks, M], got shape {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError("successes must hold only 0/1 (or False/True) rollout outcomes")
    return arr.astype(np.int64)


def subsample_q(successes: np.ndarray, m: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Q̂ per chunk from m of the stored rollouts: the first m columns (default), so budgets are nested.

    Rollouts are i.i.d., so the first m are as good a sample as any; nesting makes a larger budget strictly more
    information than a smaller one. With `rng`, each chunk uses its own random subset of m columns instead (for
    checking that the column order does not matter).

    Args:
        successes (`np.ndarray`): [n_chunks, M_max] of 0/1 rollout outcomes.
        m (`int`): rollouts per chunk, 1 ≤ m ≤ M_max.
        rng (`np.random.Generator`, *optional*): draw random columns instead of the first m.

    Returns:
        `np.ndarray`: [n_chunks] float Q̂ = (successes among the m) / m.

    Example:
        >>> subsample_q(np.array([[1, 0, 1, 1], [0, 0, 0, 1]]), 2)  # first 2: (1+0)/2, (0+0)/2
        array([0.5, 0. ])
    """
    arr = _check_successes(successes)
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or not 1 <= m <= arr.shape[1]:
        raise ValueError(f"m must be an integer in [1, {arr.shape[1]}], got {m!r}")
    if rng is None:
        return arr[:, :m].sum(axis=1) / m
    cols = np.argsort(rng.random(arr.shape), axis=1)[:, :m]  # a random permutation per row, first m of it
    return np.take_along_axis(arr, cols, axis=1).sum(axis=1) / m


def fixed_m_labels(successes: np.ndarray, m: int, q_prev0: float, rule: str, **params: object) -> list[bool]:
    """Labels of one trajectory by `rule` with the fixed budget m (Q̂ from the first m rollouts of each chunk)."""
    return label_trajectory(rule, subsample_q(successes, m).tolist(), q_prev0, **params)


# ---------------------------------------------------------------------------------------------------------------
# Adaptive budget (sequential stopping)
# ---------------------------------------------------------------------------------------------------------------


def _single_label(rule: str, q: float, q_prev: float, params: tuple[tuple[str, object], ...]) -> bool:
    return label_trajectory(rule, [q], q_prev, **dict(params))[0]


@lru_cache(maxsize=65536)
def _label_table(rule: str, q_prev: float, m_max: int, params: tuple[tuple[str, object], ...]) -> tuple[bool, ...]:
    """The rule's label for every final count k = 0 … m_max (Q̂ = k / m_max), given q_prev; checked monotone."""
    table = tuple(_single_label(rule, k / m_max, q_prev, params) for k in range(m_max + 1))
    # Exact stopping compares only the two ends of the reachable range of k: valid only if the label never goes
    # from positive back to negative as k grows.
    if any(a and not b for a, b in zip(table, table[1:])):
        raise ValueError(f"rule {rule!r} with {dict(params)} and q_prev={q_prev} is not monotone in Q̂: {table}")
    return table


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _prob_final_label(table: Sequence[bool], s: int, t: int, label: bool, prior: tuple[float, float]) -> float:
    """P(label at m_max = `label`) after s successes in t draws: Beta(prior) posterior → Beta-Binomial predictive.

    The m_max − t remaining outcomes add X ~ BetaBinomial(r, a + s, b + t − s) successes, with pmf
    C(r, x)·B(x + a', r − x + b') / B(a', b').
    """
    m_max = len(table) - 1
    r, a, b = m_max - t, prior[0] + s, prior[1] + t - s
    log_norm = _log_beta(a, b)
    total = 0.0
    for x in range(r + 1):
        if table[s + x] == label:
            log_comb = math.lgamma(r + 1) - math.lgamma(x + 1) - math.lgamma(r - x + 1)
            total += math.exp(log_comb + _log_beta(x + a, r - x + b) - log_norm)
    return total


def _check_rule(rule: str) -> None:
    if rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {rule!r}; valid rules: {', '.join(LABEL_RULES)}")


def adaptive_q(outcomes: Sequence[int], rule: str, q_prev: float, m_max: int = 16, *,
               confidence: float | None = None, min_rollouts: int = 1, prior: tuple[float, float] = (1.0, 1.0),
               **rule_params: object) -> tuple[float, int]:
    """Q̂ of one chunk from rollouts drawn one at a time, stopping once its label at M = m_max is decided.

    Exact stopping (always on): after t draws with s successes the final count is k ∈ [s, s + m_max − t]; stop when
    the rule gives the same label at both ends (the rules are monotone in Q̂; checked). Abs-Q thus stops at the
    first success and needs all m_max draws when every rollout fails.

    Confidence stopping (`confidence` = c, optional): also stop when the posterior predictive probability, under a
    Beta(`prior`) prior on the success rate, that the label at m_max equals the label of the current estimate s/t
    is at least c. The target is the m_max label (what agreement with the fixed budget measures), not the label of
    the true Q. We chose the Beta posterior over a Hoeffding bound: it is exact for Bernoulli draws and much less
    conservative at these small counts.

    Args:
        outcomes (`Sequence[int]`): 0/1 rollout outcomes in arrival order; at least m_max (extra ones are unused).
        rule (`str`): a key of `stepwiser_core.labels.LABEL_RULES`.
        q_prev (`float`): the previous chunk's Q̂ (Q before the first chunk for chunk 0); ignored by Abs-Q.
        m_max (`int`, *optional*, defaults to 16): the fixed budget whose label is targeted (paper: M = 16).
        confidence (`float`, *optional*): in (0.5, 1]; None disables confidence stopping.
        min_rollouts (`int`, *optional*, defaults to 1): draws before any stop. At least 1, so there is always an
            estimate to pass on as the next chunk's q_prev, even when the label is decided before any draw.
        prior (`tuple[float, float]`, *optional*): Beta prior (a, b) for confidence stopping; uniform by default.
        **rule_params: the rule's parameters (`gamma`, `on_zero_prev`, `alpha`, `n`).

    Returns:
        `tuple[float, int]`: (Q̂ = s / t at the stop, t = rollouts used).

    Example:
        >>> adaptive_q([0, 0, 1, 0, 1], "abs_q", q_prev=0.5, m_max=5)  # stops at the first success: 1/3
        (0.3333333333333333, 3)
    """
    _check_rule(rule)
    if isinstance(m_max, bool) or not isinstance(m_max, int | np.integer) or m_max < 1:
        raise ValueError(f"m_max must be an integer >= 1, got {m_max!r}")
    if not 1 <= min_rollouts <= m_max:
        raise ValueError(f"min_rollouts must be in [1, m_max={m_max}], got {min_rollouts!r}")
    if confidence is not None and not 0.5 < confidence <= 1.0:
        raise ValueError(f"confidence must be in (0.5, 1] or None, got {confidence!r}")
    if len(prior) != 2 or min(prior) <= 0:
        raise ValueError(f"prior must be two positive Beta parameters, got {prior!r}")
    if len(outcomes) < m_max:
        raise ValueError(f"need at least m_max={m_max} outcomes, got {len(outcomes)}")
    draws = [int(x) for x in outcomes[:m_max]]
    if any(x not in (0, 1) for x in draws):
        raise ValueError(f"outcomes must be 0/1, got {list(outcomes[:m_max])}")
    params = tuple(sorted(rule_params.items()))
    table = _label_table(rule, float(q_prev), int(m_max), params)
    s = 0
    for t, x in enumerate(draws, start=1):
        s += x
        if t < min_rollouts:
            continue
        if table[s] == table[s + m_max - t]:
            return s / t, t
        if confidence is not None:
            current = _single_label(rule, s / t, float(q_prev), params)
            if _prob_final_label(table, s, t, current, prior) >= confidence:
                return s / t, t
    raise AssertionError("unreachable: at t = m_max both ends of the range coincide")


def adaptive_labels(successes: np.ndarray, q_prev0: float, rule: str, m_max: int | None = None, *,
                    confidence: float | None = None, min_rollouts: int = 1,
                    prior: tuple[float, float] = (1.0, 1.0), last_known: bool = False,
                    **params: object) -> tuple[list[bool], np.ndarray]:
    """Labels of one trajectory under the adaptive budget, and the rollouts each chunk used.

    Chunk i's q_prev is chunk i−1's adaptive estimate (q_prev0 for chunk 0), as in the rollout pipeline where a
    chunk's Q̂ is reused as the next chunk's previous value. The labels are the rule applied to the adaptive
    estimates (`label_trajectory`), which for every chunk is the label decided by `adaptive_q`.

    Args:
        successes (`np.ndarray`): [n_chunks, M] of 0/1 outcomes in arrival order, M ≥ m_max.
        q_prev0 (`float`): Q before the first chunk.
        rule (`str`): a key of `LABEL_RULES`.
        m_max (`int`, *optional*): the fixed budget targeted; defaults to M.
        confidence, min_rollouts, prior: as in `adaptive_q`.
        last_known (`bool`, *optional*, defaults to False): the last chunk's Q is its verified outcome (the final
            answer is right or wrong), so it costs no rollouts; its row must then be constant (all 0 or all 1).
        **params: the rule's parameters.

    Returns:
        `tuple[list[bool], np.ndarray]`: labels and an int array of rollouts used per chunk (0 for a known last).
    """
    arr = _check_successes(successes)
    m = arr.shape[1] if m_max is None else m_max
    if not 1 <= m <= arr.shape[1]:
        raise ValueError(f"m_max must be in [1, {arr.shape[1]}] for these successes, got {m_max!r}")
    q_hats: list[float] = []
    used = np.zeros(arr.shape[0], dtype=np.int64)
    q_prev = float(q_prev0)
    for i, row in enumerate(arr):
        if last_known and i == arr.shape[0] - 1:
            if not (row[:m] == row[0]).all():
                raise ValueError(f"last_known: the last row must be constant (the verified outcome), got {row[:m]}")
            q = float(row[0])
        else:
            q, used[i] = adaptive_q(row, rule, q_prev, m, confidence=confidence, min_rollouts=min_rollouts,
                                    prior=prior, **params)
        q_hats.append(q)
        q_prev = q
    return label_trajectory(rule, q_hats, q_prev0, **params), used


@lru_cache(maxsize=4096)
def _predictive(s: int, t: int, m_max: int, prior: tuple[float, float]) -> np.ndarray:
    """P(final count = s + x at m_max draws), x = 0 … m_max − t, after s successes in t draws (Beta-Binomial)."""
    r, a, b = m_max - t, prior[0] + s, prior[1] + t - s
    log_norm = _log_beta(a, b)
    return np.array([math.exp(math.lgamma(r + 1) - math.lgamma(x + 1) - math.lgamma(r - x + 1)
                              + _log_beta(x + a, r - x + b) - log_norm) for x in range(r + 1)])


@lru_cache(maxsize=256)
def _label_matrix(rule: str, m_max: int, params: tuple[tuple[str, object], ...]) -> np.ndarray:
    """The rule's label for every pair of final counts: [k_own, k_prev] -> label(k_own / m, k_prev / m)."""
    return np.array([[_single_label(rule, k / m_max, j / m_max, params) for j in range(m_max + 1)]
                     for k in range(m_max + 1)])


def adaptive_labels_joint(successes: np.ndarray, q_prev0: float, rule: str, m_max: int | None = None, *,
                          confidence: float | None = None, prior: tuple[float, float] = (1.0, 1.0),
                          last_known: bool = False, **params: object) -> tuple[list[bool], np.ndarray]:
    """Like `adaptive_labels`, but chunk i's label is decided jointly with its predecessor's Q̂.

    Sequential stopping (`adaptive_labels`) fixes chunk i−1's early-stopped Q̂ before chunk i is looked at, so for the
    relative rules its noise passes into chunk i's label (Rel-Ratio: 97.6 % agreement even with exact stopping, on the
    toy run). Here chunk i's label counts as decided only over the reachable final counts of *both* chunks (exact), or
    with predictive probability ≥ `confidence` under independent Beta posteriors; while it is not, one more rollout is
    drawn, for chunk i or for chunk i−1 (resuming its rollouts from the same prefix), whichever leaves the label
    less certain. The labels are the rule applied to the final estimates. Abs-Q ignores q_prev, so it draws exactly as
    `adaptive_q`. Q before the first chunk (`q_prev0`) is given, never refined. With `confidence=None` the labels
    always equal the fixed-m_max labels: every later estimate s'/t' of a chunk stays inside the range of final counts
    the decision covered.

    Args and returns: as `adaptive_labels` (at least one draw per chunk that is not a known last one).
    """
    _check_rule(rule)
    arr = _check_successes(successes)
    m = arr.shape[1] if m_max is None else m_max
    if not 1 <= m <= arr.shape[1]:
        raise ValueError(f"m_max must be in [1, {arr.shape[1]}] for these successes, got {m_max!r}")
    if confidence is not None and not 0.5 < confidence <= 1.0:
        raise ValueError(f"confidence must be in (0.5, 1] or None, got {confidence!r}")
    prior = (float(prior[0]), float(prior[1]))
    key = tuple(sorted(params.items()))
    matrix = _label_matrix(rule, m, key)
    n = arr.shape[0]
    s, t = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    if last_known and n:
        if not (arr[-1, :m] == arr[-1, 0]).all():
            raise ValueError(f"last_known: the last row must be constant (the verified outcome), got {arr[-1, :m]}")
        known[-1] = True

    def q_hat(i: int) -> float:
        return float(arr[i, 0]) if known[i] else s[i] / t[i]

    def draw(i: int) -> None:
        s[i] += int(arr[i, t[i]])
        t[i] += 1

    def final_counts(i: int) -> tuple[np.ndarray, np.ndarray]:
        """Reachable final counts of chunk i and their predictive probabilities."""
        if known[i]:
            return np.array([int(arr[i, 0]) * m]), np.ones(1)
        return np.arange(s[i], s[i] + m - t[i] + 1), _predictive(int(s[i]), int(t[i]), m, prior)

    for i in range(n):
        if not known[i]:
            draw(i)
        while True:
            q_prev = q_prev0 if i == 0 else q_hat(i - 1)
            current = _single_label(rule, q_hat(i), q_prev, key)
            k_own, p_own = final_counts(i)
            if i == 0:  # the given q_prev0: the sequential table for it, as a one-column matrix
                block = np.array(_label_table(rule, float(q_prev0), m, key))[k_own][:, None]
                k_prev, p_prev = np.array([round(q_prev0 * m)]), np.ones(1)
            else:
                k_prev, p_prev = final_counts(i - 1)
                block = matrix[np.ix_(k_own, k_prev)]
            agree = block == current
            if agree.all() or (confidence is not None and p_own @ agree @ p_prev >= confidence):
                break
            can_own = not known[i] and t[i] < m
            can_prev = i > 0 and not known[i - 1] and t[i - 1] < m
            # which chunk's uncertainty leaves the label less certain, the other held at its current estimate
            near_prev = int(np.argmin(np.abs(k_prev - q_prev * m)))
            near_own = int(np.argmin(np.abs(k_own - q_hat(i) * m)))
            sure_own = float(p_own @ agree[:, near_prev])
            sure_prev = float(agree[near_own, :] @ p_prev)
            if can_own and (not can_prev or sure_own <= sure_prev):
                draw(i)
            elif can_prev:
                draw(i - 1)
            else:
                break  # both at m_max: the label is the fixed-budget one
    return label_trajectory(rule, [q_hat(i) for i in range(n)], q_prev0, **params), np.where(known, 0, t)


def adaptive_vs_fixed(successes_list: Sequence[np.ndarray], q_prev0s: Sequence[float], rule: str, m_max: int = 16,
                      *, confidence: float | None = None, last_known: bool = False, joint: bool = False,
                      **params: object) -> dict[str, float | int]:
    """Adaptive budget against the fixed budget m_max over many trajectories (the issue's `adaptive` metrics).
    `joint` uses `adaptive_labels_joint` (a chunk decided together with its predecessor), else `adaptive_labels`.

    Returns:
        `dict`: `rollouts_used` and `rollouts_fixed` (m_max per chunk that needs rollouts), `rollout_fraction_used`
        (their ratio), `agreement_with_fixed` (share of chunks whose adaptive label equals the fixed-m_max label
        with the fixed q_prev chain), `n_chunks`; NaN ratios when there is nothing to count.
    """
    if len(successes_list) != len(q_prev0s):
        raise ValueError(f"{len(successes_list)} trajectories but {len(q_prev0s)} q_prev0 values")
    used_total = fixed_total = same = n = 0
    for succ, q0 in zip(successes_list, q_prev0s, strict=True):
        stop = adaptive_labels_joint if joint else adaptive_labels
        labels, used = stop(succ, q0, rule, m_max, confidence=confidence, last_known=last_known, **params)
        fixed = fixed_m_labels(succ, m_max, q0, rule, **params)
        used_total += int(used.sum())
        fixed_total += m_max * (len(labels) - (1 if last_known and len(labels) else 0))
        same += sum(a == b for a, b in zip(labels, fixed, strict=True))
        n += len(labels)
    return {
        "rollouts_used": used_total,
        "rollouts_fixed": fixed_total,
        "rollout_fraction_used": _ratio(used_total, fixed_total),
        "agreement_with_fixed": _ratio(same, n),
        "n_chunks": n,
    }
