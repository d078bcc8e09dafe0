"""What a GRPO judge's training set holds, measured against the exact truth and the init's greedy verdicts, and which
of those properties go with how the runs trained on it end on the benchmark (docs/judge_study.md, "What in a
training set makes a run drift"). A DIAGNOSTIC: it reads the exact truth, which training never does.

A training set is named by the two seeds that draw it (`pb_report.data_half_judge`): the held-out split (`seed`),
which decides the training problems and so, when Negatives are the minority label, every Negative item, and the
balance draw (`grpo_balance_seed`), which decides the Positives kept.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def item_key(item: Mapping[str, Any]) -> str:
    """One judge item's identity: problem, accepted history and chunk (two trajectories of one problem can share a
    step index, not all three)."""
    return repr((item["problem_id"], tuple(item["history"]), item["chunk"]))


def set_profile(items: Sequence[Mapping[str, Any]], init_verdicts: Mapping[str, bool | None]) -> dict[str, float]:
    """The make-up of one balanced training set (items with `label`, `true_label`, `level`, `step`) and what the
    verdict reward asks of the init on it (`init_verdicts` by `item_key`; None = unparseable, which never matches a
    label).

    The shares are of the set's Negatives or Positives; the `init_*` counts are the items on which the reward pays
    the init to change its greedy verdict, split by the exact truth: `init_passes_false_alarms`, a correct chunk the
    init passes and the label calls Negative (the reward pays for a false alarm); `init_passes_true_errors`, a wrong
    chunk (or one after the first true error) the init passes and the label rejects; `init_rejects_positives`, a
    Positive the init rejects."""
    if not items:
        raise ValueError("an empty training set has no profile")
    frame = pd.DataFrame({"label": [bool(it["label"]) for it in items],
                          "truth": [it["true_label"] for it in items],
                          "level": [float(it["level"]) for it in items],
                          "step": [int(it["step"]) for it in items]})
    missing = [item_key(it) for it in items if item_key(it) not in init_verdicts]
    if missing:
        raise KeyError(f"{len(missing)} training items have no init verdict, e.g. {missing[0][:120]}")
    frame["init"] = [init_verdicts[item_key(it)] for it in items]
    neg, pos = frame[~frame["label"]], frame[frame["label"]]
    false_alarm = neg["truth"].map(lambda t: t is True)
    passes = neg["init"].map(lambda v: v is True)

    def share(mask: pd.Series) -> float:
        return float(mask.mean()) if len(mask) else float("nan")

    return {"items": len(frame), "negatives": len(neg),
            "false_alarm_share": share(false_alarm),
            "after_error_share": share(neg["truth"].map(lambda t: t is None)),
            "wrong_positive_share": share(pos["truth"].map(lambda t: t is False)),
            "mean_level": float(frame["level"].mean()), "negatives_mean_level": float(neg["level"].mean()),
            "mean_step": float(frame["step"].mean()), "negatives_mean_step": float(neg["step"].mean()),
            "init_reward": float((frame["init"] == frame["label"]).mean()),
            "init_passes_false_alarms": int((passes & false_alarm).sum()),
            "init_passes_true_errors": int((passes & ~false_alarm).sum()),
            "init_rejects_positives": int(pos["init"].map(lambda v: v is False).sum())}


def mixed_group_chance(matches: int, samples: int, group_size: int) -> float:
    """The chance that a GRPO group of `group_size` completions of one item holds both rewards (so the item carries a
    gradient), estimated without bias from `matches` label-matching verdicts among `samples` draws: the chance that
    `group_size` of the draws, taken without replacement, all match or all miss is an unbiased estimate of q^g or
    (1 - q)^g, where plugging in q = matches / samples would not be."""
    if not 0 <= matches <= samples or group_size < 1 or samples < group_size:
        raise ValueError(f"need 0 <= matches <= samples and samples >= group_size >= 1, got {matches}, {samples}, "
                         f"{group_size}")
    total = math.comb(samples, group_size)
    return 1.0 - (math.comb(matches, group_size) + math.comb(samples - matches, group_size)) / total


def sampled_pressure(items: Sequence[Mapping[str, Any]], sampled: Mapping[str, Sequence[bool | None]],
                     group_size: int) -> dict[str, float]:
    """Where the verdict reward pushes the init on one balanced training set, read from the init's sampled verdicts
    (`sampled` by `item_key`, several draws at GRPO's temperature; None = unparseable, which never matches): each item
    pushes the judge towards its label only when its group is mixed (`mixed_group_chance`), so the expected share of
    the set's items that push, split by the label's direction and the exact truth, is a first-order picture of the
    prior shift a run on the set receives (per item of the set):

    `push_reject_correct` (Negative label, chunk correct: a false alarm paid), `push_reject_wrong` (Negative label,
    chunk wrong or after the first error), `push_pass_correct`, `push_pass_wrong` (Positive label: a wrong chunk
    passed); `net_push_negative` = the two Negative pushes less the two Positive ones; `sampled_reward` = the init's
    mean reward over its draws, `mixed_share` = the expected share of items with a gradient."""
    if not items:
        raise ValueError("an empty training set has no pressure")
    rows = []
    for it in items:
        key = item_key(it)
        if key not in sampled:
            raise KeyError(f"a training item has no sampled verdicts: {key[:120]}")
        draws = list(sampled[key])
        matches = sum(v is not None and v == bool(it["label"]) for v in draws)
        rows.append((bool(it["label"]), it["true_label"] is True, matches / len(draws),
                     mixed_group_chance(matches, len(draws), group_size)))
    frame = pd.DataFrame(rows, columns=["label", "correct", "reward", "mixed"])
    n = len(frame)

    def push(label: bool, correct: bool) -> float:
        return float(frame.loc[(frame["label"] == label) & (frame["correct"] == correct), "mixed"].sum() / n)

    out = {"push_reject_correct": push(False, True), "push_reject_wrong": push(False, False),
           "push_pass_correct": push(True, True), "push_pass_wrong": push(True, False)}
    out["net_push_negative"] = (out["push_reject_correct"] + out["push_reject_wrong"]
                                - out["push_pass_correct"] - out["push_pass_wrong"])
    return {**out, "sampled_reward": float(frame["reward"].mean()), "mixed_share": float(frame["mixed"].mean())}


SAMPLED_FEATURES = ("push_reject_correct", "push_reject_wrong", "push_pass_correct", "push_pass_wrong",
                    "net_push_negative", "sampled_reward", "mixed_share")


PROFILE_FEATURES = ("negatives", "false_alarm_share", "after_error_share", "wrong_positive_share", "mean_level",
                    "negatives_mean_level", "mean_step", "negatives_mean_step", "init_reward",
                    "init_passes_false_alarms", "init_passes_true_errors", "init_rejects_positives")


def run_seeds_of(judge: str, seed_stem: str, part_prefix: str) -> tuple[int, int, int, int] | None:
    """The seeds of a GRPO run from its judge's name, (split, balance, order, sampling): `<seed_stem><k>` (the
    paper's recipe on seed k: all four k), `<part_prefix>d<split>o<o>s<s>` (a seed-part cell: balance = split) or
    `<part_prefix>d<split>b<balance>o<o>s<s>` (a data-half cell); None for any other judge."""
    m = re.fullmatch(re.escape(seed_stem) + r"(\d+)", judge)
    if m:
        return (int(m[1]),) * 4
    m = re.fullmatch(re.escape(part_prefix) + r"d(\d+)(?:b(\d+))?o(\d+)s(\d+)", judge)
    if m:
        return int(m[1]), int(m[2] if m[2] is not None else m[1]), int(m[3]), int(m[4])
    return None


def training_runs(scores: pd.DataFrame, seed_stem: str, part_prefix: str,
                  columns: Sequence[str] = ("average_f1", "correct_steps_passed", "first_errors_caught")
                  ) -> pd.DataFrame:
    """One row per GRPO run in score tables (`judge` plus `columns`): its four seeds (`run_seeds_of`: `split`,
    `balance`, `order`, `sampling`) and its scores. A run is its four seeds, so one judge scored in several tables, or
    under two names (a seed-part design's corner is the seed's own run), counts once; one run scored differently is
    an error (the scoring is deterministic, so that means two different judges)."""
    named = scores.assign(seeds=[run_seeds_of(j, seed_stem, part_prefix) for j in scores["judge"]])
    named = named[named["seeds"].notna()]
    if named.empty:
        raise ValueError(f"no judge named {seed_stem}<k> or {part_prefix}d<split>[b<balance>]o<o>s<s>")
    rows = []
    for seeds, g in named.groupby("seeds", sort=True):
        values = g[list(columns)].drop_duplicates()
        if len(values) > 1:
            raise ValueError(f"run {seeds} ({', '.join(sorted(set(g['judge'])))}) is scored differently: "
                             f"{values.to_dict('records')}")
        rows.append({"split": seeds[0], "balance": seeds[1], "order": seeds[2], "sampling": seeds[3],
                     **values.iloc[0].to_dict()})
    return pd.DataFrame(rows)


def runs_by_training_set(scores: pd.DataFrame, seed_stem: str, part_prefix: str,
                         columns: Sequence[str] = ("average_f1", "correct_steps_passed", "first_errors_caught")
                         ) -> pd.DataFrame:
    """Per training set (split, balance), the number of GRPO runs that trained on it and the mean of `columns` over
    them (`training_runs`: a run counts once)."""
    frame = training_runs(scores, seed_stem, part_prefix, columns)
    return (frame.groupby(["split", "balance"], sort=True)
            .agg(runs=("split", "size"), **{c: (c, "mean") for c in columns}).reset_index())


def _one_way_anova(values: np.ndarray, groups: np.ndarray) -> tuple[float, float, float]:
    """Between- and within-group mean squares, and n0 (the group size that makes the one-way random-effects
    estimator unbiased when groups differ in size), for values labelled by integer group codes 0..k-1."""
    k, n = int(groups.max()) + 1, len(values)
    sizes = np.bincount(groups, minlength=k).astype(float)
    means = np.bincount(groups, weights=values, minlength=k) / sizes
    msb = float((sizes * (means - values.mean()) ** 2).sum() / (k - 1))
    msw = float(((values - means[groups]) ** 2).sum() / (n - k))
    n0 = float((n - (sizes ** 2).sum() / n) / (k - 1))
    return msb, msw, n0


def variance_components(runs: pd.DataFrame, value: str, by: Sequence[str] = ("split", "balance"),
                        permutations: int = 20_000, seed: int = 0) -> dict[str, float]:
    """How much of the spread of `value` over GRPO runs is their training set's (the groups `by`) and how much the
    run's own (order and sampling), by the one-way random-effects ANOVA: `sd_between` (the sets' own spread: the
    square root of (MSB - MSW) / n0, floored at 0), `sd_within` (between runs on one set: the root of MSW), `icc` =
    between-set variance / (between + within), the share of a run's variance its set explains, and `f` = MSB / MSW
    with its permutation p (the share of random reassignments of the runs to sets of the same sizes whose F is at
    least the observed one: free of a normality assumption). Sets with a single run add nothing to the within-set
    part and are left out (`sets`, `runs` count those used)."""
    frame = runs.dropna(subset=[value])
    sizes = frame.groupby(list(by))[value].transform("size")
    frame = frame[sizes >= 2]
    groups = frame.groupby(list(by), sort=True).ngroup().to_numpy()
    values = frame[value].to_numpy(float)
    k, n = (int(groups.max()) + 1 if len(groups) else 0), len(values)
    if k < 2 or n - k < 1:
        raise ValueError(f"need at least two sets with two runs each, got {k} sets and {n} runs")
    msb, msw, n0 = _one_way_anova(values, groups)
    var_between = max(0.0, (msb - msw) / n0)
    f = msb / msw if msw > 0 else float("inf")
    rng = np.random.default_rng(seed)
    null = np.array([_one_way_anova(rng.permutation(values), groups)[:2] for _ in range(permutations)])
    with np.errstate(divide="ignore"):
        null_f = null[:, 0] / null[:, 1]
    return {"sets": k, "runs": n, "mean": float(values.mean()), "ms_between": msb, "ms_within": msw, "n0": n0,
            "sd_between": var_between ** 0.5, "sd_within": msw ** 0.5,
            "icc": var_between / (var_between + msw) if var_between + msw > 0 else float("nan"),
            "f": f, "p": float((null_f >= f - 1e-12).mean())}


def own_and_redrawn(runs: pd.DataFrame, value: str) -> pd.DataFrame:
    """Per set the paper's recipe draws (balance seed = split seed), `own`: `value` of the seed's own run (order and
    sampling seeds = the split seed) and `redrawn`: the mean over the other runs on that set, with their count; sets
    lacking either are left out. Whether `own` predicts `redrawn` across sets is a test of a set effect that needs no
    model of the variance."""
    rows = []
    for split, g in runs[runs["split"] == runs["balance"]].groupby("split", sort=True):
        own = (g["order"] == split) & (g["sampling"] == split)
        if own.sum() == 1 and (~own).any():
            rows.append({"split": int(split), "own": float(g.loc[own, value].iloc[0]),
                         "redrawn": float(g.loc[~own, value].mean()), "redrawn_runs": int((~own).sum())})
    return pd.DataFrame(rows, columns=["split", "own", "redrawn", "redrawn_runs"])


def permutation_correlation(x: Sequence[float], y: Sequence[float], permutations: int = 20_000,
                            seed: int = 0) -> tuple[float, float]:
    """Pearson r and its two-sided permutation p-value (the share of random pairings of x with y whose |r| is at
    least the observed one; exact enough for the 10-20 points it is used on, and free of a normality assumption)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"need two equally long series of at least 3 points, got {len(x)} and {len(y)}")
    if x.std() == 0 or y.std() == 0:
        return float("nan"), float("nan")
    r = float(np.corrcoef(x, y)[0, 1])
    rng = np.random.default_rng(seed)
    shuffled = np.array([np.corrcoef(x, rng.permutation(y))[0, 1] for _ in range(permutations)])
    return r, float((np.abs(shuffled) >= abs(r) - 1e-12).mean())


def profile_correlations(frame: pd.DataFrame, features: Sequence[str], targets: Sequence[str],
                         permutations: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Each feature against each target over the rows of `frame`: n, Pearson r with its permutation p, Spearman's
    rho; and the Bonferroni-adjusted p over the features tested against that target (a feature picked from a dozen
    needs it)."""
    rows = []
    for target in targets:
        for feature in features:
            r, p = permutation_correlation(frame[feature], frame[target], permutations, seed)
            rho = float(frame[feature].rank().corr(frame[target].rank()))
            rows.append({"target": target, "feature": feature, "n": len(frame), "r": r, "p": p, "rho": rho,
                         "p_bonferroni": min(1.0, p * len(features)) if p == p else p})
    return pd.DataFrame(rows)
