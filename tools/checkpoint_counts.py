"""The counts of docs/judge_study.md, "Does GRPO pass through a better judge on its way?": every scored checkpoint of
the `grpo_checkpoints*` tables against its own init's zero-shot score (each table's `zero_shot` row), clearly above /
level with / below it by the 3-point margin of the lazy-share counts (`pb_report.versus_baselines`); one row per
init, and a total when there are several. Prints Markdown and writes
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
    rows = []
    for f in [TABLES / "grpo_checkpoints.csv", *sorted(TABLES.glob("grpo_checkpoints_*.csv"))]:
        if "counts" in f.name:
            continue
        table = pd.read_csv(f)
        init = table.loc[table["judge"] == "zero_shot", "average_f1"].unique()
        if len(init) != 1:
            raise SystemExit(f"{f.name}: expected one zero_shot score, found {init}")
        rows += [{"init_f1": init[0], "judge": r.judge, "table": f.stem, "average_f1": r.average_f1}
                 for r in table[table["judge"] != "zero_shot"].itertuples()]
    # a checkpoint scored in two tables (the same run's step 25, say) counts once; each against its own init
    checkpoints = pd.DataFrame(rows).drop_duplicates(["init_f1", "judge"])
    checkpoints["gap"] = checkpoints["average_f1"] - checkpoints["init_f1"]

    def count(g: pd.DataFrame, init: object) -> dict:
        gap = g["gap"]
        return {"init_f1": init, "checkpoints": len(g), "above": int((gap > MARGIN).sum()),
                "level": int((gap.abs() <= MARGIN + 1e-9).sum()), "below": int((gap < -MARGIN - 1e-9).sum()),
                "best_f1": g["average_f1"].max(), "worst_f1": g["average_f1"].min(), "best_gap": gap.max()}

    by_init = [count(g, init) for init, g in checkpoints.groupby("init_f1", sort=False)]
    counts = pd.DataFrame(by_init + ([count(checkpoints, "all")] if len(by_init) > 1 else []))
    path = write_table(counts, TABLES, "grpo_checkpoints_counts", digits=1)
    print(path.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
