"""Step labels from Monte-Carlo Q estimates: the three rules of StepWiser (arXiv 2508.19229, §3.2, App. A.1).

A trajectory is split into chunks a_1 … a_H. After each chunk, M rollouts give Q̂_i, the share of completions that
reach the right answer (see `reference/paper.md` §2, Eq. 1–2). Here `q[i]` is Q̂ after chunk i (0-based) and
`q_prev0` is the Q of the empty prefix, i.e. the "previous" value of the first chunk.

| rule            | positive iff                                  | paper defaults (1.5B / 7B)   |
|-----------------|-----------------------------------------------|------------------------------|
| `abs_q`         | Q̂_i > 0                                       | —                            |
| `rel_ratio`     | Q̂_i / Q̂_{i-1} > γ                             | γ = 0.8 / 0.7                |
| `rel_effective` | Q̂_i + α·(Q^µ_i − Q^µ_{i-1}) > 0,              | α = 0.4 / 0.8, n = 4         |
|                 | Q^µ = 1 − (1 − Q̂)^n (best-of-n under r*)      |                              |

Choices the paper leaves open (NOT SPECIFIED there; `reference/paper.md` §9 items 1–3), made here and documented:

1. `q_prev0` (Q before the first chunk) is an argument. Our default in the pipeline is the prompt's pass rate in the
   pre-filter, which the pre-filter keeps in [1/16, 15/16], so it is never 0 there.
2. Rel-Ratio when Q̂_{i-1} = 0: the ratio is undefined. `on_zero_prev="abs"` (default) falls back to Abs-Q, so a
   chunk that recovers from a hopeless prefix (Q̂_i > 0) is positive and one that stays hopeless is negative;
   `on_zero_prev="negative"` labels every such chunk negative.
3. Rel-Effective negative case: the paper's text shows "= 0" but the quantity can be negative, so negative iff ≤ 0.
4. The final chunk needs nothing special here: the caller passes its verified outcome (0.0 or 1.0) as `q[-1]`.

The comparisons are strict (`>`), so a ratio exactly equal to γ and an effective reward exactly 0 are negative. With
M = 16 the Q̂ are multiples of 1/16 (exact in binary floating point), and a correctly rounded division of two such
values equals the float literal γ whenever the true ratio equals γ (e.g. (4/16)/(5/16) == 0.8), so ties behave as
the formulas say.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence

__all__ = [
    "LABEL_RULES",
    "abs_q_labels",
    "best_of_n_q",
    "label_trajectory",
    "rel_effective_labels",
    "rel_ratio_labels",
]

_ON_ZERO_PREV = ("abs", "negative")


def _check_prob(value: float, name: str) -> float:
    """Return `value` as a float, or raise ValueError if it is not a finite number in [0, 1]."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not (0.0 <= x <= 1.0):  # also rejects NaN, for which every comparison is False
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return x


def _check_q(q: Sequence[float]) -> list[float]:
    return [_check_prob(v, f"q[{i}]") for i, v in enumerate(q)]


def _is_real(x: object) -> bool:
    """True for a finite real number (numpy scalars included), False for bools, NaN, inf and non-numbers."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _check_n(n: int) -> int:
    # bool is an int subclass; n=True would silently mean best-of-1.
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return int(n)


def abs_q_labels(q: Sequence[float]) -> list[bool]:
    """Abs-Q: a chunk is positive iff some rollout from right after it still reaches the answer (Q̂_i > 0).

    Args:
        q (`Sequence[float]`): Q̂ after each chunk, each in [0, 1].

    Returns:
        `list[bool]`: one label per chunk (True = positive).

    Example:
        >>> abs_q_labels([0.5, 0.0625, 0.0, 1.0])
        [True, True, False, True]
    """
    return [x > 0.0 for x in _check_q(q)]


def rel_ratio_labels(
    q: Sequence[float], q_prev0: float, gamma: float = 0.8, on_zero_prev: str = "abs"
) -> list[bool]:
    """Rel-Ratio: a chunk is positive iff it keeps more than a share γ of the previous Q (Q̂_i / Q̂_{i-1} > γ).

    Args:
        q (`Sequence[float]`): Q̂ after each chunk, each in [0, 1].
        q_prev0 (`float`): Q before the first chunk (Q̂_{-1}); NOT SPECIFIED by the paper, see the module docstring.
        gamma (`float`, *optional*, defaults to `0.8`): the threshold, > 0 (paper: 0.8 for 1.5B, 0.7 for 7B).
        on_zero_prev (`str`, *optional*, defaults to `"abs"`): what to do when Q̂_{i-1} = 0 (undefined ratio):
            `"abs"` labels by Abs-Q (positive iff Q̂_i > 0), `"negative"` labels negative.

    Returns:
        `list[bool]`: one label per chunk (True = positive).

    Example:
        >>> rel_ratio_labels([0.25, 0.5, 0.0, 0.25], q_prev0=0.3125)  # ratios 0.8, 2.0, 0.0, undefined
        [False, True, False, True]
    """
    if not (_is_real(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    if on_zero_prev not in _ON_ZERO_PREV:
        raise ValueError(f"on_zero_prev must be one of {_ON_ZERO_PREV}, got {on_zero_prev!r}")
    qs = _check_q(q)
    prevs = [_check_prob(q_prev0, "q_prev0"), *qs[:-1]]
    labels = []
    for cur, prev in zip(qs, prevs, strict=True):
        if prev == 0.0:
            labels.append(cur > 0.0 if on_zero_prev == "abs" else False)
        else:
            labels.append(cur / prev > gamma)
    return labels


def best_of_n_q(q: float, n: int = 4) -> float:
    """Q of the best-of-n policy µ under a binary reward: 1 − (1 − Q)^n, the chance that one of n tries succeeds.

    Args:
        q (`float`): Q of the base policy, in [0, 1].
        n (`int`, *optional*, defaults to `4`): the number of tries (paper: n = 4, App. A.1).

    Example:
        >>> best_of_n_q(0.5)  # 1 - 0.5**4
        0.9375
    """
    return 1.0 - (1.0 - _check_prob(q, "q")) ** _check_n(n)


def rel_effective_labels(q: Sequence[float], q_prev0: float, alpha: float = 0.4, n: int = 4) -> list[bool]:
    """Rel-Effective (Setlur et al. 2024): positive iff Q̂_i + α·(Q^µ_i − Q^µ_{i-1}) > 0, negative iff ≤ 0.

    Q^µ = `best_of_n_q`. Since Q^µ_i = 0 whenever Q̂_i = 0, a chunk with Q̂_i = 0 is always negative; a chunk with
    Q̂_i > 0 is negative only if it lowers the best-of-n Q by more than Q̂_i / α. So Rel-Effective is Abs-Q made
    stricter by penalising sharp drops.

    Args:
        q (`Sequence[float]`): Q̂ after each chunk, each in [0, 1].
        q_prev0 (`float`): Q before the first chunk; NOT SPECIFIED by the paper, see the module docstring.
        alpha (`float`, *optional*, defaults to `0.4`): weight of the best-of-n advantage, >= 0 (paper: 0.4 for
            1.5B, 0.8 for 7B; α = 0 reduces to Abs-Q).
        n (`int`, *optional*, defaults to `4`): best-of-n for µ (paper: 4).

    Returns:
        `list[bool]`: one label per chunk (True = positive).

    Example:
        >>> rel_effective_labels([0.25, 0.0625], q_prev0=0.5)  # 0.25 + 0.4·(0.684 − 0.938) > 0; 0.0625 − 0.4·0.456 < 0
        [True, False]
    """
    if not (_is_real(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    _check_n(n)
    qs = _check_q(q)
    mus = [best_of_n_q(x, n) for x in [_check_prob(q_prev0, "q_prev0"), *qs]]  # mus[i] = Q^µ_{i-1}
    return [cur + alpha * (mus[i + 1] - mus[i]) > 0.0 for i, cur in enumerate(qs)]


# Names used in params/*.yaml and results tables → rule functions (a plain dict, no registry: style P14).
LABEL_RULES: dict[str, Callable[..., list[bool]]] = {
    "abs_q": abs_q_labels,
    "rel_ratio": rel_ratio_labels,
    "rel_effective": rel_effective_labels,
}


def label_trajectory(rule: str, q: Sequence[float], q_prev0: float, **params: object) -> list[bool]:
    """Label one trajectory with the rule named `rule` (a key of `LABEL_RULES`); `params` go to that rule.

    `q_prev0` is accepted for every rule so callers can loop over rules uniformly; Abs-Q ignores it.

    Example:
        >>> label_trajectory("rel_ratio", [0.25, 0.25], q_prev0=0.5, gamma=0.5)  # ratios 0.5, 1.0
        [False, True]
    """
    if rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {rule!r}; valid rules: {', '.join(LABEL_RULES)}")
    fn = LABEL_RULES[rule]
    allowed = [p for p in inspect.signature(fn).parameters if p not in ("q", "q_prev0")]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for rule {rule!r}; it accepts: {allowed or 'none'}")
    if rule == "abs_q":
        _check_prob(q_prev0, "q_prev0")  # still validated: a bad value signals a bug upstream
        return fn(q, **params)
    return fn(q, q_prev0, **params)
