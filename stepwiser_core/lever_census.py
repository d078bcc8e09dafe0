"""The lever table's counts (docs/results.md, "Every lever tried, in one table"), recomputed from the committed
score tables: for each family of GRPO-trained judges, its runs, their lowest and highest average F1 on toy
ProcessBench, and how many are clearly above, level with or below the family's zero-shot reference judge. The counts were kept by hand
over many sessions; these functions let `tools/lever_census.py` rebuild them from the files, so that every number
of that table comes from a committed result file.

Three rules the hand counts followed, kept here:
- A run is compared with its reference on the one-decimal average F1 the tables print, and the difference is
  rounded to 0.1 before it is classified (`classify`), so that +3.0 is level and +3.2 above, as the lever table writes
  them, whatever the binary noise of 82.4 − 79.2.
- A run scored in several tables (a judge re-scored beside newer ones) counts once; the same judge name with two
  different scores in the tables of one row is an error, not a choice.
- The tables are in several layouts (`tools/pb_step_audit.py --table`, `tools/grpo_seeds.py`, `tools/more_items.py`,
  `tools/warmup_seeds.py`, notebook 04's `table.csv`); `judge_scores` brings each to `judge`, `average_f1`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from . import pb_report

MARGIN = 3.0  # points within which a run is level with its reference (the lazy-share and checkpoint counts' rule)
CLASSES = ("above", "level", "below")
MINUS = "\u2212"  # the lever table writes negative differences with a minus sign, not a hyphen


def classify(diff: float, margin: float = MARGIN) -> str:
    """"above" (diff > margin), "below" (diff < −margin) or "level". The difference is rounded to 0.1 first: the
    the lever table compares one-decimal scores, and 82.4 − 79.4 is 3.0000000000000142 in binary, which is level there."""
    d = round(float(diff), 1)
    if d > margin:
        return "above"
    if d < -margin:
        return "below"
    return "level"


def format_diff(diff: float) -> str:
    """A difference as the lever table writes it: one decimal, always signed, a minus sign for negatives, and +0.0 for
    a difference that rounds to zero from below (the tables' one-decimal scores cannot tell −0.0 from +0.0)."""
    d = round(float(diff), 1) + 0.0  # + 0.0 turns −0.0 into 0.0
    return f"{d:+.1f}".replace("-", MINUS)


def _variant_judge(row: pd.Series, columns: Iterable[str]) -> str:
    name = f"{row['variant']}_{row['label_rule']}"
    if "n_prompts" in columns:
        name += f"_n{int(row['n_prompts'])}"
    if "max_steps" in columns:
        name += f"_steps{int(row['max_steps'])}"
    return name + f"_seed{int(row['seed']) if 'seed' in columns else 0}"


def judge_scores(frame: pd.DataFrame, table: str = "") -> pd.DataFrame:
    """One score table as `judge`, `average_f1` rows (plus `table_diff` and `table_verdict`, the table's own
    `diff_vs_zero_shot` and `by_3_point_margin`, where it has them), whatever tool wrote it:
    - `tools/pb_step_audit.py --table`: `judge`, `average_f1`, as they are;
    - notebook 04's `table.csv` (one row per judge and subset): the `average` subset's `f1`;
    - `tools/grpo_seeds.py`, `tools/more_items.py` (one row per run: `variant`, `label_rule`, `f1`, and some of
      `seed`, `n_prompts`, `max_steps`): judge `<variant>_<label_rule>[_n<n_prompts>][_steps<max_steps>]_seed<seed>`;
      a table without a `seed` column is seed 0 (`tools/more_items.py` ran seed 0 alone before it had `--seed`);
    - `tools/warmup_seeds.py` (`seed`, `judge`, `f1`; one init per seed): judge `<judge>_warmup<seed>`, so that each
      seed's zero-shot judge has a name of its own.
    Any other layout is a ValueError naming `table`."""
    cols = [c for c in frame.columns if frame[c].notna().any()]
    if {"judge", "average_f1"} <= set(cols):
        out = pd.DataFrame({"judge": frame["judge"].astype(str), "average_f1": frame["average_f1"].astype(float)})
        if "diff_vs_zero_shot" in cols:
            out["table_diff"] = frame["diff_vs_zero_shot"].astype(float)
        if "by_3_point_margin" in cols:
            out["table_verdict"] = frame["by_3_point_margin"]
        return out.reset_index(drop=True)
    if {"judge", "subset", "f1"} <= set(cols):
        avg = frame[frame["subset"] == "average"]
        return pd.DataFrame({"judge": avg["judge"].astype(str),
                             "average_f1": avg["f1"].astype(float)}).reset_index(drop=True)
    if {"variant", "label_rule", "f1"} <= set(cols):
        return pd.DataFrame({"judge": [_variant_judge(r, cols) for _, r in frame.iterrows()],
                             "average_f1": frame["f1"].astype(float).to_numpy()})
    if {"seed", "judge", "f1"} <= set(cols):
        return pd.DataFrame({"judge": [f"{r['judge']}_warmup{int(r['seed'])}" for _, r in frame.iterrows()],
                             "average_f1": frame["f1"].astype(float).to_numpy()})
    raise ValueError(f"score table {table or '(unnamed)'}: no judge / average_f1 columns and no layout this census "
                     f"knows (columns: {', '.join(map(str, frame.columns))})")


def table_path(name: str) -> str:
    """A table's name relative to results/<tier>: a bare name is a table of 04_processbench (`grpo_seeds`), a name
    with a folder is taken as it is (`previous_run_880059f/04_processbench/table`)."""
    return name if "/" in name else f"04_processbench/{name}"


def load_scores(tier_folder: str | Path, tables: Sequence[str]) -> pd.DataFrame:
    """The score tables `tables` (names as `table_path` reads them) under `tier_folder` (results/<tier>), read with
    `pb_report.score_tables` (a missing table is a ValueError naming every missing one), each brought to
    `judge_scores`'s columns, stacked, with a `table` column naming where each row came from."""
    paths = [table_path(t) for t in tables]
    stacked = pb_report.score_tables(tier_folder, paths, tag="table")
    parts = [judge_scores(stacked[stacked["table"] == path], path).assign(table=name)
             for name, path in zip(tables, paths)]
    return pd.concat(parts, ignore_index=True)


def reference_score(scores: pd.DataFrame, reference: str | float) -> float:
    """The reference's average F1 on one decimal: a fixed number as it is, or the score of the judge of that name in
    `scores` (`pb_report.reference_f1`: it must be there, and every table that scores it must agree)."""
    if isinstance(reference, (int, float)):
        return round(float(reference), 1)
    if not (scores["judge"] == reference).any():
        tables = sorted(set(scores["table"])) if "table" in scores else []
        raise ValueError(f"reference judge {reference!r} is in none of the tables {tables}")
    return round(pb_report.reference_f1(scores.assign(average_f1=scores["average_f1"].round(1)), reference), 1)


def versus_reference(scores: pd.DataFrame, judges: str, reference: str | float,
                     margin: float = MARGIN) -> pd.DataFrame:
    """Every run of `scores` (`judge`, `average_f1`, optionally `table` and the `judge_scores` extras) whose judge
    name matches the regular expression `judges` as a whole (`re.fullmatch`), against `reference` (a judge of the
    same tables, or a fixed score): one row per judge with its one-decimal `average_f1`, `reference_f1`, `diff`
    (rounded to 0.1) and `class` (`classify`), in the order the tables list them.

    A judge listed in several tables is one run and counts once (its `tables` names them all); listed with two
    different one-decimal scores, it is a ValueError, as is a pattern that matches no judge or matches the reference
    itself (both are mistakes in the census's manifest, which a silent count would hide)."""
    pattern = re.compile(judges)
    found = scores[scores["judge"].map(lambda j: pattern.fullmatch(str(j)) is not None)]
    where = sorted(set(scores["table"])) if "table" in scores else []
    if found.empty:
        raise ValueError(f"no judge matches {judges!r} in the tables {where}")
    if isinstance(reference, str) and (found["judge"] == reference).any():
        raise ValueError(f"the pattern {judges!r} matches the reference judge {reference!r} itself")
    ref = reference_score(scores, reference)
    found = found.assign(average_f1=found["average_f1"].round(1))
    rows = []
    for judge, g in found.groupby("judge", sort=False):
        values = sorted(set(g["average_f1"]))
        if len(values) != 1:
            listed = "; ".join(f"{t}: {v}" for t, v in zip(g.get("table", [""] * len(g)), g["average_f1"]))
            raise ValueError(f"judge {judge!r} is scored differently in the tables of one row ({listed}): two runs "
                             "under one name, or tables from different inits?")
        first = g.iloc[0]
        diff = round(values[0] - ref, 1) + 0.0
        row = {"judge": judge, "tables": ", ".join(dict.fromkeys(g["table"])) if "table" in g else "",
               "average_f1": values[0], "reference_f1": ref, "diff": diff, "class": classify(diff, margin)}
        for extra in ("table_diff", "table_verdict"):
            if extra in g:
                row[extra] = first[extra]
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> dict:
    """One lever-table row from its runs (`versus_reference` rows, possibly from several parts): the number of runs,
    the lowest and highest average F1, the count of each class, and the level runs' differences as the lever table lists
    them (largest first, `format_diff`, comma-separated). No runs: zero counts and NaN scores."""
    classes = runs["class"] if len(runs) else pd.Series([], dtype=object)
    level = sorted(runs.loc[classes == "level", "diff"], reverse=True) if len(runs) else []
    return {"runs": len(runs),
            "min_f1": float(runs["average_f1"].min()) if len(runs) else float("nan"),
            "max_f1": float(runs["average_f1"].max()) if len(runs) else float("nan"),
            **{c: int((classes == c).sum()) for c in CLASSES},
            "level_diffs": ", ".join(format_diff(d) for d in level)}


def parse_range(cell: str) -> tuple[float, float]:
    """A lever-table range cell, "52.3–74.5" (en dash) or one score "74.2", as (lowest, highest)."""
    parts = [p.strip() for p in re.split("[\u2013-]", cell.strip()) if p.strip()]
    if len(parts) not in (1, 2):
        raise ValueError(f"not a score range: {cell!r}")
    low, high = float(parts[0]), float(parts[-1])
    return low, high


def readme_row(readme_text: str, start: str) -> list[str] | None:
    """The cells of the one Markdown table row of `readme_text` whose first cell starts with `start` (bold marks
    left in), or None when no row does; two rows that do are a ValueError (the manifest's `start` must pick one)."""
    rows = [line for line in readme_text.splitlines()
            if line.startswith("| ") and line[2:].startswith(start)]
    if len(rows) > 1:
        raise ValueError(f"{len(rows)} Markdown table rows start with {start!r}")
    if not rows:
        return None
    return [c.strip() for c in rows[0].strip().strip("|").split("|")]


def diff_list(text: str | None) -> list[str]:
    """A lever-table list of differences ("+2.1, −3.0, +0.8") as `format_diff` strings, largest first, for a comparison
    that ignores the order it was written in; hyphens read as minus signs, and −0.0 as +0.0."""
    if not text:
        return []
    values = [float(x.strip().replace(MINUS, "-")) for x in text.split(",") if x.strip()]
    return [format_diff(v) for v in sorted(values, reverse=True)]
