"""The paper's Table 9 on the toy tier: judges trained on the chunk policy's self-segmented chunks against judges
trained on the base policy's blank-line pieces (the paper's "split by \\n\\n", [P App. A.3]), every one scored on
the same toy ProcessBench. Pure functions over score rows; `tools/segmentation_ablation.py` trains and scores the
judges and writes the tables.

The paper's finding to test: chunking matters mostly for RL (Abs-Q + RL 32.4 → 36.1, Rel-Ratio + RL 31.0 → 36.2),
hardly for SFT (27.5 → 27.2, 23.9 → 24.1), with 37 % fewer labelled steps.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .pb_report import SUBSET_HEADERS
from .pb_uncertainty import paired_seed_test
from .processbench import PBRecord
from .tables import to_markdown
from .world.checker import parse_line

__all__ = ["PAPER_TABLE9_1P5B", "PAPER_TABLE9_STEPS", "SEGMENTATIONS", "STEP_KINDS", "TRAININGS",
           "benchmark_steps_effect", "chunking_effect", "false_alarms", "judge_scores", "mixed_training_effect",
           "scores_on_both_cuts", "step_kind", "summary", "table9_markdown", "training_step_kinds"]

SEGMENTATIONS = ("blankline", "chunks")  # the paper's row order: split by \n\n first
TRAININGS = {"sft": "Discriminative + SFT", "rl": "StepWiser (CoT + RL)"}
SEGMENTATION_NAMES = {"blankline": "split by blank lines", "chunks": "self-segmentation"}
SUBSETS = tuple(SUBSET_HEADERS)

# [P Table 9], 1.5B: (segmentation, training, signal) -> GSM8K, MATH, Olympiad, Omni-MATH, Avg
PAPER_TABLE9_1P5B: dict[tuple[str, str, str], tuple[float, float, float, float, float]] = {
    ("blankline", "sft", "abs_q"): (33.7, 37.1, 20.2, 18.9, 27.5),
    ("blankline", "rl", "abs_q"): (46.3, 38.4, 19.0, 25.8, 32.4),
    ("blankline", "sft", "rel_ratio"): (28.3, 30.9, 15.5, 21.0, 23.9),
    ("blankline", "rl", "rel_ratio"): (46.3, 39.1, 17.3, 21.3, 31.0),
    ("chunks", "sft", "abs_q"): (39.3, 32.1, 19.3, 18.9, 27.2),
    ("chunks", "rl", "abs_q"): (49.2, 40.5, 23.8, 31.0, 36.1),
    ("chunks", "sft", "rel_ratio"): (32.1, 32.0, 14.2, 18.0, 24.1),
    ("chunks", "rl", "rel_ratio"): (46.9, 43.4, 26.3, 28.4, 36.2),
}
# [P Table 9] "# Steps": labelled steps of the 1.5B annotation set under each segmentation
PAPER_TABLE9_STEPS = {"blankline": 5_457_820, "chunks": 3_463_520}

# F1 per subset and its unweighted mean (the paper's Avg); the mean accuracies on erroneous and on correct solutions
SCORE_COLUMNS = ["segmentation", "training", "label_rule", "seed", "judge", *SUBSETS, "average", "acc_error",
                 "acc_correct"]
KEYS = ["segmentation", "training", "label_rule"]


def judge_scores(table: pd.DataFrame, judge: str, segmentation: str, training: str, label_rule: str,
                 seed: int) -> dict:
    """One judge's row of the ablation's score table, from a ProcessBench results table (`pb_report.TABLE_COLUMNS`,
    as notebook 04 and `pb_stage.score_judges` write it): its F1 per subset, its average (the paper's Avg) and the
    average row's accuracies on erroneous and on correct solutions (which of the two a change moves). A
    judge missing from `table`, or an unknown segmentation or training, is a ValueError."""
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {SEGMENTATIONS}, not {segmentation!r}")
    if training not in TRAININGS:
        raise ValueError(f"training must be one of {tuple(TRAININGS)}, not {training!r}")
    rows = table[table["judge"] == judge]
    if rows.empty:
        raise ValueError(f"judge {judge!r} is not in the results table (judges: {sorted(set(table['judge']))})")
    f1 = dict(zip(rows["subset"], rows["f1"].astype(float)))
    average = rows[rows["subset"] == "average"].iloc[0]
    return {"segmentation": segmentation, "training": training, "label_rule": label_rule, "seed": int(seed),
            "judge": judge, **{s: f1.get(s, float("nan")) for s in SUBSETS}, "average": f1["average"],
            "acc_error": float(average["acc_error"]), "acc_correct": float(average["acc_correct"])}


def scores_on_both_cuts(tables: Mapping[str, pd.DataFrame], judges: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """One row per judge of `judges` (name -> how it was trained: `trained_on`, `training`, `label_rule`): for each
    benchmark cut of `tables` (cut name -> a ProcessBench results table, `pb_report.TABLE_COLUMNS`), its average F1
    and the average row's accuracies on erroneous and on correct solutions, as `<column>_<cut>`; with two cuts, the
    change of F1 from the first to the second. A judge missing from a table is a ValueError."""
    rows = []
    for name, how in judges.items():
        row = {"judge": name, **{k: how[k] for k in ("trained_on", "training", "label_rule")}}
        for cut, table in tables.items():
            average = table[(table["judge"] == name) & (table["subset"] == "average")]
            if average.empty:
                raise ValueError(f"judge {name!r} has no average row in the {cut!r} table")
            row.update({f"{column}_{cut}": float(average[column].iloc[0])
                        for column in ("f1", "acc_error", "acc_correct")})
        if len(tables) == 2:
            first, second = tables
            row[f"f1_change_{first}_to_{second}"] = row[f"f1_{second}"] - row[f"f1_{first}"]
        rows.append(row)
    return pd.DataFrame(rows)


def mixed_training_effect(scores: pd.DataFrame, zero_shot: Mapping[str, float]) -> pd.DataFrame:
    """What training on both segmentations at once gives (NOT the paper), over seeds. `scores` has one row per judge:
    `trained_on` ("both", "chunks", "blankline"), `label_rule`, `seed` and `f1_<cut>` for each cut of `zero_shot`
    (cut -> the zero-shot judge's average F1 there). Per (label rule, cut, other segmentation), on the seeds both
    judges were trained with (a seed holds out the same problems for every segmentation): the mean F1 of each, the
    mean paired difference (both − other), its sample sd, on how many seeds "both" scored higher, the exact sign-flip
    p-value (`pb_uncertainty.paired_seed_test`), and on how many of those seeds "both" beat the zero-shot judge. A
    (trained_on, label_rule, seed) twice is a ValueError."""
    if scores.duplicated(["trained_on", "label_rule", "seed"]).any():
        raise ValueError("a (trained_on, label_rule, seed) appears twice in the score table")
    rows = []
    for rule, g in scores.groupby("label_rule", sort=False):
        for cut, base in zero_shot.items():
            by = {seg: g[g["trained_on"] == seg].set_index("seed")[f"f1_{cut}"] for seg in ("both", *SEGMENTATIONS)}
            for other in ("chunks", "blankline"):
                seeds = sorted(set(by["both"].index) & set(by[other].index))
                if not seeds:
                    continue
                both, versus = by["both"][seeds], by[other][seeds]
                test = paired_seed_test(both.tolist(), versus.tolist())
                rows.append({"label_rule": rule, "cut": cut, "versus": other, "seeds": test.n,
                             "both_f1": both.mean(), "versus_f1": versus.mean(), "diff_mean": test.mean_diff,
                             "diff_sd": test.sd_diff, "both_higher": test.a_better, "p_two_sided": test.p_two_sided,
                             "zero_shot_f1": float(base), "both_beats_zero_shot": int((both > base).sum())})
    return pd.DataFrame(rows)


def summary(scores: pd.DataFrame, steps: Mapping[str, int]) -> pd.DataFrame:
    """Per (segmentation, training, label rule): the seeds scored, the labelled steps its training data held
    (`steps[segmentation]`), the mean F1 per subset and the average's mean, sample sd (ddof 1; NaN for one seed),
    min and max, the mean accuracies on erroneous and on correct solutions, beside the paper's 1.5B average and
    steps. `scores` has `SCORE_COLUMNS`, one row per judge."""
    missing = [c for c in SCORE_COLUMNS if c not in scores]
    if missing:
        raise ValueError(f"score table lacks columns {missing}")
    if scores.duplicated(["segmentation", "training", "label_rule", "seed"]).any():
        raise ValueError("a (segmentation, training, label_rule, seed) appears twice in the score table")
    rows = []
    for (seg, training, rule), g in scores.groupby(KEYS, sort=False):
        paper = PAPER_TABLE9_1P5B.get((seg, training, rule))
        rows.append({"segmentation": seg, "training": training, "label_rule": rule, "seeds": len(g),
                     "labelled_steps": steps.get(seg), **{s: g[s].mean() for s in SUBSETS},
                     "f1_mean": g["average"].mean(), "f1_sd": g["average"].std(ddof=1), "f1_min": g["average"].min(),
                     "f1_max": g["average"].max(), "acc_error": g["acc_error"].mean(),
                     "acc_correct": g["acc_correct"].mean(), "paper_f1": paper[4] if paper else float("nan"),
                     "paper_steps": PAPER_TABLE9_STEPS.get(seg)})
    order = {key: i for i, key in enumerate(PAPER_TABLE9_1P5B)}  # the paper's row order; rows it lacks go last
    rows.sort(key=lambda r: order.get(tuple(r[k] for k in KEYS), len(order)))
    return pd.DataFrame(rows)


def chunking_effect(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (training, label rule): what self-segmentation gives over blank lines, on the seeds both were trained
    with (the same seed draws the same held-out problems and GRPO / SFT order for both, so the pairs share what a
    seed fixes, not the data): the mean of each, the mean paired difference (chunks − blank lines), its sample sd,
    on how many seeds chunks scored higher, the exact sign-flip p-value (`pb_uncertainty.paired_seed_test`; with
    three seeds it cannot go below 0.25) and the paper's difference of averages."""
    rows = []
    for (training, rule), g in scores.groupby(["training", "label_rule"], sort=False):
        by = {seg: g[g["segmentation"] == seg].set_index("seed")["average"] for seg in SEGMENTATIONS}
        seeds = sorted(set(by["chunks"].index) & set(by["blankline"].index))
        if not seeds:
            continue
        test = paired_seed_test(by["chunks"][seeds].tolist(), by["blankline"][seeds].tolist())
        paper = [PAPER_TABLE9_1P5B.get((seg, training, rule)) for seg in ("chunks", "blankline")]
        rows.append({"training": training, "label_rule": rule, "seeds": test.n,
                     "chunks_f1": by["chunks"][seeds].mean(), "blankline_f1": by["blankline"][seeds].mean(),
                     "diff_mean": test.mean_diff, "diff_sd": test.sd_diff, "chunks_higher": test.a_better,
                     "p_two_sided": test.p_two_sided,
                     "paper_diff": paper[0][4] - paper[1][4] if all(paper) else float("nan")})
    return pd.DataFrame(rows)


def benchmark_steps_effect(on_logical: pd.DataFrame, on_blankline: pd.DataFrame) -> pd.DataFrame:
    """Does the benchmark's own segmentation decide Table 9? The same judges scored on the toy benchmark cut into
    logical steps (`on_logical`) and on the same solutions cut on blank lines (`on_blankline`; ProcessBench's steps
    are paragraphs), both score tables with `SCORE_COLUMNS`. Per (training, label rule), on the seeds all four
    (segmentation, benchmark) cells share: each segmentation's mean F1 on each benchmark, the chunking effect
    (chunks − blank lines) on each, and how the effect changes from logical steps to blank-line steps, paired by
    seed (mean, sample sd, on how many seeds it fell, the exact sign-flip p)."""
    def by_seed(scores: pd.DataFrame, training: str, rule: str, seg: str) -> pd.Series:
        g = scores[(scores["training"] == training) & (scores["label_rule"] == rule) & (scores["segmentation"] == seg)]
        return g.set_index("seed")["average"]

    rows = []
    for (training, rule), _ in on_logical.groupby(["training", "label_rule"], sort=False):
        cells = {(bench, seg): by_seed(table, training, rule, seg) for bench, table in
                 (("logical", on_logical), ("blankline", on_blankline)) for seg in SEGMENTATIONS}
        seeds = sorted(set.intersection(*(set(c.index) for c in cells.values())))
        if not seeds:
            continue
        effect = {bench: cells[(bench, "chunks")][seeds].to_numpy() - cells[(bench, "blankline")][seeds].to_numpy()
                  for bench in ("logical", "blankline")}
        test = paired_seed_test(effect["blankline"].tolist(), effect["logical"].tolist())
        rows.append({"training": training, "label_rule": rule, "seeds": test.n,
                     **{f"{seg}_on_{bench}": cells[(bench, seg)][seeds].mean()
                        for bench in ("logical", "blankline") for seg in ("chunks", "blankline")},
                     "effect_on_logical": effect["logical"].mean(), "effect_on_blankline": effect["blankline"].mean(),
                     "change_mean": test.mean_diff, "change_sd": test.sd_diff,
                     "change_fell": test.n - test.a_better - int((effect["blankline"] == effect["logical"]).sum()),
                     "p_two_sided": test.p_two_sided})
    return pd.DataFrame(rows)


STEP_KINDS = ("no equation", "equation last", "equation, then text", "answer")  # what a step holds, by its lines


def step_kind(step: str) -> str:
    """What a benchmark step holds (`STEP_KINDS`): the final answer; else no equation at all (a piece that only
    restates facts, which blank lines cut off and chunks almost never are); else an equation on its last line (what
    a chunk and a logical step end with); else an equation followed by more text (a blank-line piece that starts the
    next step)."""
    kinds = [parse_line(line.strip())[0] for line in step.splitlines() if line.strip()]
    if "answer" in kinds:
        return "answer"
    if "equation" not in kinds:
        return "no equation"
    return "equation last" if kinds[-1] == "equation" else "equation, then text"


def training_step_kinds(rows: Sequence[Mapping], rules: Sequence[str] = ("abs_q", "rel_ratio")) -> pd.DataFrame:
    """What the training steps of one segmentation hold: per `STEP_KINDS` kind present, how many of notebook 02's
    labelled steps are of that kind, the share labelled Positive under each rule (`labels_<rule>`), and the share
    whose exact label (`true_labels`; None where undefined, after a first error) is Positive. `rows` are 02's
    stepwise records (`completions`, `labels_<rule>`, `true_labels`)."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        for i, step in enumerate(row["completions"]):
            c = counts.setdefault(step_kind(step),
                                  {"steps": 0, "truth_defined": 0, "truth": 0, **dict.fromkeys(rules, 0)})
            c["steps"] += 1
            for rule in rules:
                c[rule] += bool(row[f"labels_{rule}"][i])
            if row["true_labels"][i] is not None:
                c["truth_defined"] += 1
                c["truth"] += bool(row["true_labels"][i])
    return pd.DataFrame([{"step_kind": kind, "steps": c["steps"],
                          **{f"positive_{rule}": c[rule] / c["steps"] for rule in rules},
                          "positive_truth": c["truth"] / c["truth_defined"] if c["truth_defined"] else float("nan")}
                         for kind, c in sorted(counts.items(), key=lambda kv: STEP_KINDS.index(kv[0]))])


def false_alarms(bench: Mapping[str, Sequence[PBRecord]], predictions: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """Where each judge flags a solution whose every step is right: per judge in `predictions` (judge -> {record id:
    predicted first wrong step, −1 for none}), the correct records (label −1), how many it flags, and how many of
    those at a step of each `STEP_KINDS`; and a row "steps" counting the correct records' steps of each kind."""
    correct = [r for recs in bench.values() for r in recs if r.label == -1]
    rows = [{"judge": "steps", "correct_records": len(correct), "flagged": float("nan"),
             **{k: sum(step_kind(s) == k for r in correct for s in r.steps) for k in STEP_KINDS}}]
    for judge, predicted in predictions.items():
        flagged = [step_kind(r.steps[predicted[r.id]]) for r in correct if predicted.get(r.id, -1) >= 0]
        rows.append({"judge": judge, "correct_records": len(correct), "flagged": len(flagged),
                     **{k: flagged.count(k) for k in STEP_KINDS}})
    return pd.DataFrame(rows)


def _count(n) -> str:
    return "–" if n is None or n != n else f"{int(n):,}"


def table9_markdown(summary_table: pd.DataFrame) -> str:
    """The summary shaped like the paper's Table 9: for each of our rows (mean F1 over seeds per subset, the average
    as mean ± sd [min–max]), the paper's 1.5B row for the same segmentation, signal and training."""
    headers = [SUBSET_HEADERS[s] for s in SUBSETS]
    rows = []
    for r in summary_table.to_dict("records"):
        signal = f"{r['label_rule']} + {'RL' if r['training'] == 'rl' else 'SFT'}"
        spread = (f"{r['f1_mean']:.1f} ± {r['f1_sd']:.1f} [{r['f1_min']:.1f}–{r['f1_max']:.1f}]" if r["seeds"] > 1
                  else f"{r['f1_mean']:.1f}")
        rows.append({"segmentation": SEGMENTATION_NAMES[r["segmentation"]], "signal + training": signal,
                     "source": f"ours (toy, {r['seeds']} seed{'s' if r['seeds'] > 1 else ''})",
                     "steps": _count(r["labelled_steps"]), **{h: r[s] for h, s in zip(headers, SUBSETS)},
                     "Avg": spread})
        paper = PAPER_TABLE9_1P5B.get((r["segmentation"], r["training"], r["label_rule"]))
        if paper:
            rows.append({"segmentation": SEGMENTATION_NAMES[r["segmentation"]], "signal + training": signal,
                         "source": "paper (Qwen2.5-1.5B)", "steps": _count(r["paper_steps"]),
                         **dict(zip(headers, paper[:4])), "Avg": f"{paper[4]:.1f}"})
    return to_markdown(pd.DataFrame(rows), digits=1)
