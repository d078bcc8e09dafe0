"""ProcessBench result tables: tidy rows per judge and subset, and a Markdown table shaped like the paper's Table 5
with the paper's numbers beside ours.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .pb_uncertainty import paired_seed_test
from .tables import to_markdown

TABLE_COLUMNS = ["judge", "label_rule", "subset", "acc_error", "acc_correct", "f1"]
SUBSET_HEADERS = {"gsm8k": "GSM8K", "math": "MATH", "olympiadbench": "Olympiad", "omnimath": "Omni-MATH"}

# [P Table 5], Qwen2.5-1.5B-chunk rows (the scale nearest ours): (method, signal) -> GSM8K, MATH, Olympiad, Omni, Avg.
# The 18.9 of Disc+SFT Abs-Q on Omni-MATH is given as 18.0 in Table 10 (reference/paper.md flags it as a likely typo).
PAPER_TABLE5_1P5B: dict[tuple[str, str], tuple[float, float, float, float, float]] = {
    ("Discriminative + SFT", "abs_q"): (39.3, 32.1, 19.3, 18.9, 27.2),
    ("Discriminative + SFT", "rel_effective"): (40.8, 37.2, 18.7, 20.1, 29.2),
    ("Discriminative + SFT", "rel_ratio"): (32.1, 32.0, 14.2, 18.0, 24.1),
    ("StepWiser (CoT + RL)", "abs_q"): (49.2, 40.5, 23.8, 31.0, 36.1),
    ("StepWiser (CoT + RL)", "rel_effective"): (48.2, 43.6, 22.1, 25.3, 34.8),
    ("StepWiser (CoT + RL)", "rel_ratio"): (46.9, 43.4, 26.3, 28.4, 36.2),
    # [P Table 6], 1.5B ablations (Rel-Ratio)
    ("− RL (RS-FT)", "rel_ratio"): (32.8, 23.9, 16.3, 19.6, 23.1),
    ("− CoT (direct + RL)", "rel_ratio"): (42.0, 43.2, 23.6, 28.7, 34.3),
}


def method_of(judge: str, kind: str) -> str:
    """The paper's row name for one of our judges (notebook 03's names)."""
    if judge.startswith("stepwiser_"):
        return "StepWiser (CoT + RL)"
    if judge.startswith("disc_sft_"):
        return "Discriminative + SFT"
    return {"rs_ft": "− RL (RS-FT)", "no_cot": "− CoT (direct + RL)", "no_clip_higher": "− clip-higher",
            "zero_shot": "Zero-shot base judge"}.get(judge.split("@")[0], judge)


def result_rows(judge: str, label_rule: str | None, result: Mapping[str, Any]) -> list[dict]:
    """`processbench.score` output as table rows, one per subset plus an `average` row (its F1 is the paper's Avg:
    the unweighted mean of subset F1s; its accuracies are the unweighted means of the subset accuracies)."""
    rows = [{"judge": judge, "label_rule": label_rule or "", "subset": name,
             "acc_error": s["acc_error"], "acc_correct": s["acc_correct"], "f1": s["f1"]}
            for name, s in result["subsets"].items()]
    subsets = list(result["subsets"].values())
    mean = lambda key: sum(s[key] for s in subsets) / len(subsets) if subsets else float("nan")  # noqa: E731
    rows.append({"judge": judge, "label_rule": label_rule or "", "subset": "average",
                 "acc_error": mean("acc_error"), "acc_correct": mean("acc_correct"), "f1": result["average_f1"]})
    return rows


def table5_markdown(table: pd.DataFrame, kinds: Mapping[str, str], subsets: Sequence[str]) -> str:
    """Our F1 per subset and average, one row per judge, each followed by the paper's 1.5B row for the same method
    and signal when it has one. `kinds` maps judge -> kind (cot / direct / disc)."""
    headers = [SUBSET_HEADERS.get(s, s) for s in subsets]
    rows = []
    for judge, g in table.groupby("judge", sort=False):
        f1 = dict(zip(g.subset, g.f1))
        rule = g.label_rule.iloc[0]
        method = method_of(judge, kinds.get(judge.split("@")[0], ""))
        rows.append({"method": method + (" + Maj@k" if "@" in judge else ""), "signal": rule or "–",
                     "source": f"ours (toy, `{judge}`)", **{h: f1.get(s) for h, s in zip(headers, subsets)},
                     "Avg": f1.get("average")})
        paper = PAPER_TABLE5_1P5B.get((method, rule)) if "@" not in judge else None
        if paper is not None:
            rows.append({"method": method, "signal": rule, "source": "paper (Qwen2.5-1.5B-chunk)",
                         **dict(zip(headers, paper[:4])), "Avg": paper[4]})
    return to_markdown(pd.DataFrame(rows), digits=1)


def gap_to_own_init(rows: pd.DataFrame) -> pd.DataFrame:
    """Per trained judge, its average F1 against the zero-shot judge *of the same seed*, for replicates that redraw
    the judge init itself (the warm-up) as well as the training. `rows` has one row per (seed, judge) with an `f1`
    column, where judge "zero_shot" is that seed's init; the gap is F1 minus that seed's zero-shot F1, its
    standard deviation the sample one (ddof = 1; NaN for a single seed)."""
    zero_shot = rows[rows.judge == "zero_shot"].set_index("seed")["f1"]
    trained = rows[rows.judge != "zero_shot"].assign(gap=lambda f: f.f1 - f.seed.map(zero_shot))
    if trained.gap.isna().any():
        missing = sorted(set(trained.seed[trained.gap.isna()]))
        raise ValueError(f"no zero_shot row for seed(s) {missing}")
    g = trained.groupby("judge", sort=False)
    out = pd.DataFrame({"seeds": g.size(), "f1_mean": g.f1.mean(), "zero_shot_f1_mean": g.seed.apply(
        lambda s: zero_shot.loc[s].mean()), "gap_mean": g.gap.mean(), "gap_sd": g.gap.std(ddof=1),
        "gap_min": g.gap.min(), "gap_max": g.gap.max(),
        "seeds_above_own_init": g.gap.apply(lambda d: int((d > 0).sum()))})
    return out.reset_index()


def score_tables(folder: str | Path, names: Sequence[str], tag: str | None = None) -> pd.DataFrame:
    """The score tables `tools/pb_step_audit.py --table NAME` wrote (`<folder>/<NAME>.csv`), stacked; with `tag`,
    each row carries its table's name in that column. A name with no table is a ValueError naming every missing one
    (a typo in one of a dozen `--table` flags should not surface as a traceback)."""
    folder = Path(folder)
    missing = [name for name in names if not (folder / f"{name}.csv").is_file()]
    if missing:
        raise ValueError(f"no score table {', '.join(missing)} in {folder}")
    if not names:
        raise ValueError("no score table named")
    return pd.concat([pd.read_csv(folder / f"{name}.csv").assign(**({tag: name} if tag else {})) for name in names],
                     ignore_index=True)


def reference_f1(scores: pd.DataFrame, judge: str) -> float:
    """The average F1 of the fixed judge (e.g. the zero-shot init) in score tables combined from several
    `tools/pb_step_audit.py --table` runs. Each such table scores that judge again (for its bootstrap columns), so it
    may appear several times; the copies must agree, since the same judge on the same benchmark gives the same F1.
    Absent, or scored differently (tables from different benchmarks or inits mixed by mistake), is a ValueError."""
    found = scores.loc[scores["judge"] == judge, "average_f1"].astype(float).drop_duplicates()
    if len(found) != 1:
        raise ValueError(f"reference judge {judge!r}: {len(found)} different scores {found.tolist()}, expected one "
                         "(tables from different benchmarks or inits?)")
    return float(found.iloc[0])


def seeded_rows(scores: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The rows of an experiment's score table (`tools/pb_step_audit.py --table`: `judge`, `average_f1`, ...) whose
    judge is named `<prefix>_<label_rule>_s<seed>` or `<prefix>_<label_rule>_seed<seed>` (both naming styles are in
    results/), as (`label_rule`, `seed`, `f1`) rows for `seed_summary`. Other judges (the zero-shot init, a run with a
    suffix such as `_unbalanced`) are left out."""
    parts = scores["judge"].str.extract(rf"^{re.escape(prefix)}_(?P<label_rule>.+?)_s(?:eed)?(?P<seed>\d+)$")
    kept = parts["label_rule"].notna()
    return pd.DataFrame({"label_rule": parts.loc[kept, "label_rule"], "seed": parts.loc[kept, "seed"].astype(int),
                         "f1": scores.loc[kept, "average_f1"].astype(float)}).reset_index(drop=True)


def versus_baselines(rows: pd.DataFrame, reference_f1: float, forced_f1: float, margin: float = 3.0) -> pd.DataFrame:
    """Per label rule, how many of the runs in `rows` (`label_rule`, `f1`, as `seeded_rows` gives) are clearly above
    `reference_f1` (the zero-shot judge; by more than `margin` points), level with it (within `margin`) or clearly
    below it, how many are clearly above `forced_f1` (the same init with the rubber stamp forbidden by a prefix), and
    in how many `forced_f1` is the higher score. The counts of the lazy-strategy runs (README, docs) are these."""
    g = rows.groupby("label_rule", sort=False)["f1"]
    return pd.DataFrame({
        "runs": g.size(),
        "above": g.apply(lambda f: int((f > reference_f1 + margin).sum())),
        "level": g.apply(lambda f: int(((f - reference_f1).abs() <= margin).sum())),
        "below": g.apply(lambda f: int((f < reference_f1 - margin).sum())),
        "above_forced": g.apply(lambda f: int((f > forced_f1 + margin).sum())),
        "forced_higher": g.apply(lambda f: int((f < forced_f1).sum())),
    }).reset_index()


def seed_summary(rows: pd.DataFrame, reference_f1: float) -> pd.DataFrame:
    """Per label rule, the spread of the benchmark's average F1 over training seeds, and how many seeds beat
    `reference_f1` (the zero-shot judge). `rows` has one row per (label_rule, seed) with an `f1` column; the
    standard deviation is the sample one (ddof = 1; NaN for a single seed)."""
    g = rows.groupby("label_rule", sort=False)["f1"]
    out = pd.DataFrame({"seeds": g.size(), "f1_mean": g.mean(), "f1_sd": g.std(ddof=1), "f1_min": g.min(),
                        "f1_max": g.max(), "seeds_above_reference": g.apply(lambda f: int((f > reference_f1).sum()))})
    out["reference_f1"] = reference_f1
    return out.reset_index()


def paired_recipes(scores: pd.DataFrame, stem_a: str, stem_b: str, column: str = "average_f1") -> pd.DataFrame:
    """Two recipes' average F1 (or another score `column`, e.g. `correct_steps_passed`) on the seeds both ran, from
    score tables whose judges are named `<stem><seed>` (`gated_rel_effective_seed3`): one row per shared seed
    (`seed`, `a`, `b`, `diff` = a − b), in seed order. A seed only one recipe ran is left out; a judge listed twice
    (two tables scoring the same name) is an error."""
    def by_seed(stem: str) -> pd.Series:
        seed = scores["judge"].str.extract(rf"^{re.escape(stem)}(\d+)$")[0]
        kept = scores.loc[seed.notna()].assign(seed=seed.dropna().astype(int))
        if kept["seed"].duplicated().any():
            raise ValueError(f"judges named {stem!r}<seed> appear more than once: {sorted(kept['judge'])}")
        return kept.set_index("seed")[column].astype(float)

    a, b = by_seed(stem_a), by_seed(stem_b)
    seeds = sorted(set(a.index) & set(b.index))
    return pd.DataFrame({"seed": seeds, "a": a[seeds].to_numpy(), "b": b[seeds].to_numpy(),
                         "diff": (a[seeds] - b[seeds]).to_numpy()})


def recipe_stem(judge: str) -> str:
    """The recipe a judge name `<stem><seed>` belongs to (`gated_rel_effective_seed3` → `gated_rel_effective_seed`);
    a name without a trailing seed is its own recipe."""
    return re.sub(r"\d+$", "", judge)


def correlations_by_recipe(frame: pd.DataFrame, predictors: Sequence[str], targets: Sequence[str]) -> pd.DataFrame:
    """Pearson correlation of each predictor with each target over the judges of `frame` (a `judge` column named
    `<stem><seed>`), within each recipe and over all of them (recipe `all`): one row per (recipe, predictor) with
    `n` and `r_<target>`. A recipe with fewer than three judges gets NaN: two points always correlate ±1."""
    rows = []
    groups = [(stem, g) for stem, g in frame.groupby(frame["judge"].map(recipe_stem), sort=True)]
    for recipe, g in [*groups, ("all", frame)]:
        for p in predictors:
            rows.append({"recipe": recipe, "predictor": p, "n": len(g),
                         **{f"r_{t}": (float(g[p].corr(g[t])) if len(g) >= 3 else float("nan")) for t in targets}})
    return pd.DataFrame(rows)


SEED_PARTS = ("data", "order", "sampling")  # what notebook 03's `seed`, `grpo_order_seed`, `grpo_sampling_seed` draw


def seed_part_judge(prefix: str, data: int, order: int, sampling: int) -> str:
    """The judge name of one cell of a seed-part design: `<prefix>d<data>o<order>s<sampling>`."""
    return f"{prefix}d{data}o{order}s{sampling}"


def seed_part_cells(scores: pd.DataFrame, prefix: str, seed_a: int, seed_b: int,
                    columns: Sequence[str] = ("average_f1",)) -> pd.DataFrame:
    """The eight cells of a 2 × 2 × 2 design over the parts of a GRPO seed (`SEED_PARTS`) between two seeds a and b,
    from score tables whose judges are named by `seed_part_judge`: one row per cell with each part's seed, and
    `columns`. A missing cell, or one scored twice, is an error (the design needs all eight)."""
    rows = []
    for data in (seed_a, seed_b):
        for order in (seed_a, seed_b):
            for sampling in (seed_a, seed_b):
                judge = seed_part_judge(prefix, data, order, sampling)
                found = scores[scores["judge"] == judge]
                if len(found) != 1:
                    raise ValueError(f"seed-part design {seed_a} vs {seed_b}: judge {judge!r} is scored "
                                     f"{len(found)} times, not once")
                rows.append({"judge": judge, "data": data, "order": order, "sampling": sampling,
                             **{c: float(found[c].iloc[0]) for c in columns}})
    return pd.DataFrame(rows)


def seed_part_differences(cells: pd.DataFrame, seed_a: int, seed_b: int, column: str = "average_f1") -> pd.DataFrame:
    """Per part of the seed, the four paired differences of the design `cells` (`seed_part_cells`) between cells that
    differ in that part alone (part at b − part at a, the other two parts held at `other_seeds`). `clean` marks the
    two that involve neither corner (all parts a, all parts b): where the corners were picked for their outcomes (a
    seed that did well against one that drifted), the other two regress to the mean and carry that pick."""
    rows = []
    for part in SEED_PARTS:
        others = [p for p in SEED_PARTS if p != part]
        at = {s: cells[cells[part] == s].set_index(others)[column] for s in (seed_a, seed_b)}
        for held in at[seed_b].index:
            rows.append({"part": part, "other_seeds": "/".join(map(str, held)),
                         "diff": float(at[seed_b][held] - at[seed_a][held]), "clean": len(set(held)) == 2})
    return pd.DataFrame(rows)


def seed_part_effects(cells: pd.DataFrame, seed_a: int, seed_b: int, column: str = "average_f1") -> pd.DataFrame:
    """Per part of the seed, its main effect in the 2 × 2 × 2 design `cells` (`seed_part_cells`): the mean of its four
    paired differences (`seed_part_differences`; `effect`), their min and max, the share of the design's variance the
    part explains (its sum of squares 2·effect² over the total; the three shares and the interactions' add up to 1),
    and the mean of its two clean differences (`clean_effect`). With `seed_b` the seed whose run drifted, a part with
    a large effect carries the drift; if the corners were picked for their outcomes, read `clean_effect`."""
    total = float(((cells[column] - cells[column].mean()) ** 2).sum())
    diffs = seed_part_differences(cells, seed_a, seed_b, column)
    rows = []
    for part, g in diffs.groupby("part", sort=False):
        effect = float(g["diff"].mean())
        rows.append({"part": part, "effect": effect, "min": float(g["diff"].min()), "max": float(g["diff"].max()),
                     "variance_share": 2 * effect ** 2 / total if total > 0 else float("nan"),
                     "clean_effect": float(g.loc[g["clean"], "diff"].mean())})
    return pd.DataFrame(rows)


def design_differences(cells: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Every paired difference (`seed_part_differences`) of the seed-part designs in `cells`: the cells of one or more
    designs, each row's design named by its `pair` column, "A vs B" (as `tools/seed_parts.py` writes its cells), and
    of several written designs when a `design` column tells them apart. One row per difference and score column, with
    its `design` (if any), `pair` and `score`."""
    keys = [k for k in ("design", "pair") if k in cells.columns]
    if "pair" not in keys:
        raise ValueError("design_differences needs a 'pair' column (\"A vs B\") naming each row's design")
    out = []
    for key, g in cells.groupby(keys, sort=False):
        pair = key[-1] if isinstance(key, tuple) else key
        match = re.fullmatch(r"\s*(\d+)\s+vs\s+(\d+)\s*", str(pair))
        if not match:
            raise ValueError(f"pair {pair!r}: expected 'A vs B'")
        a, b = int(match.group(1)), int(match.group(2))
        labels = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for column in columns:
            out.append(seed_part_differences(g, a, b, column).assign(**labels, score=column))
    return pd.concat(out, ignore_index=True)


def pooled_seed_part_test(diffs: pd.DataFrame) -> pd.DataFrame:
    """Per score and part of the seed, the clean differences of `diffs` (`seed_part_differences` or
    `design_differences` rows, with a `score` column) pooled over the designs they come from: their number, mean and
    sd, how many are positive (the drifting seed's part higher), and the exact sign-flip p-value
    (`pb_uncertainty.paired_seed_test`, at most 20 differences)."""
    rows = []
    for (score, part), g in diffs[diffs["clean"]].groupby(["score", "part"], sort=False):
        t = paired_seed_test(list(g["diff"]), [0.0] * len(g))
        rows.append({"score": score, "part": part, "clean_differences": t.n, "mean": t.mean_diff, "sd": t.sd_diff,
                     "b_higher": t.a_better, "p_sign_flip": t.p_two_sided})
    return pd.DataFrame(rows)


DATA_HALVES = ("split", "balance")  # the data part of a seed, split by `grpo_balance_seed`: held-out split, balanced subset


def data_half_judge(prefix: str, split: int, balance: int, order: int, sampling: int) -> str:
    """The judge name of one cell of a data-halves design: `<prefix>d<split>o<order>s<sampling>` where the balance seed
    follows the split's (`grpo_balance_seed` -1: the cells of a seed-part design), `<prefix>d<split>b<balance>o<order>
    s<sampling>` where it does not."""
    if split == balance:
        return seed_part_judge(prefix, split, order, sampling)
    return f"{prefix}d{split}b{balance}o{order}s{sampling}"


def data_half_cells(scores: pd.DataFrame, prefix: str, seed_a: int, seed_b: int, order: int, sampling: int,
                    columns: Sequence[str] = ("average_f1",)) -> pd.DataFrame:
    """The four cells of a 2 × 2 design over the two halves of a seed's data (`DATA_HALVES`) between seeds a and b, the
    order and sampling seeds held at `order` and `sampling`: one row per cell with its split and balance seeds and
    `columns`, from score tables whose judges are named by `data_half_judge`. A missing or twice-scored cell is an
    error."""
    rows = []
    for split in (seed_a, seed_b):
        for balance in (seed_a, seed_b):
            judge = data_half_judge(prefix, split, balance, order, sampling)
            found = scores[scores["judge"] == judge]
            if len(found) != 1:
                raise ValueError(f"data-halves design {seed_a} vs {seed_b}: judge {judge!r} is scored {len(found)} "
                                 "times, not once")
            rows.append({"judge": judge, "split": split, "balance": balance, "order": order, "sampling": sampling,
                         **{c: float(found[c].iloc[0]) for c in columns}})
    return pd.DataFrame(rows)


def data_half_differences(cells: pd.DataFrame, seed_a: int, seed_b: int, column: str = "average_f1") -> pd.DataFrame:
    """Per half of the data, its two paired differences in the 2 × 2 `cells` (`data_half_cells`): that half at b − at a,
    the other half held at `other_seeds`. `clean` marks a difference neither of whose cells is a corner of the
    seed-part design (all four seeds one seed: a run picked for its outcome); with the order and sampling seeds
    different, all four are clean. `pooled_seed_part_test` pools the clean ones."""
    parts = cells.set_index(["split", "balance"])
    corner = {key: len({*key, *row[["order", "sampling"]]}) == 1 for key, row in parts.iterrows()}
    rows = []
    for part in DATA_HALVES:
        for held in (seed_a, seed_b):
            key = (lambda s: (s, held)) if part == "split" else (lambda s: (held, s))
            rows.append({"part": part, "other_seeds": str(held),
                         "diff": float(parts.loc[key(seed_b), column] - parts.loc[key(seed_a), column]),
                         "clean": not (corner[key(seed_a)] or corner[key(seed_b)])})
    return pd.DataFrame(rows)
