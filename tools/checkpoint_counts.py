"""The counts of docs/judge_study.md, "Does GRPO pass through a better judge on its way?": every scored checkpoint of
the `grpo_checkpoints*` tables against the init's zero-shot score, clearly above / level with / below it by the
3-point margin of the lazy-share counts (`pb_report.versus_baselines`). Prints Markdown and writes
results/toy/04_processbench/grpo_checkpoints_counts.{csv,md}.

    python tools/checkpoint_counts.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stepwiser_core.tables import write_table  # noqa: E402

TABLES = ROOT / "results/toy/04_processbench"
MARGIN = 3.0


def main() -> None:
    scores = pd.concat([pd.read_csv(f) for f in sorted(TABLES.glob("grpo_checkpoints_*.csv")) if "counts" not in f.name]
                       + [pd.read_csv(TABLES / "grpo_checkpoints.csv")])
    init = scores.loc[scores["judge"] == "zero_shot", "average_f1"].unique()
    if len(init) != 1:
        raise SystemExit(f"the tables disagree on the init's score: {init}")
    checkpoints = scores[scores["judge"] != "zero_shot"].drop_duplicates("judge")
    gap = checkpoints["average_f1"] - init[0]
    counts = pd.DataFrame([{
        "init_f1": init[0], "checkpoints": len(checkpoints), "above": int((gap > MARGIN).sum()),
        "level": int((gap.abs() <= MARGIN + 1e-9).sum()), "below": int((gap < -MARGIN - 1e-9).sum()),
        "best_f1": checkpoints["average_f1"].max(), "worst_f1": checkpoints["average_f1"].min()}])
    path = write_table(counts, TABLES, "grpo_checkpoints_counts", digits=1)
    print(path.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
