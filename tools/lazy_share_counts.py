"""The positive control's counts, from the committed score tables: for each judge init of the lazy-strategy experiments
(docs/judge_study.md, "The lazy share, sized"), how many StepWiser runs are clearly above / level with / below the
init's zero-shot judge (by more than 3 points, `pb_report.versus_baselines`), how many are clearly above the same
init with the rubber stamp forbidden by a prefix (`pb_step_audit --careful`), and in how many that prefix scores
higher; then the totals over the lazy-mix inits, per rule and split by whether the zero-shot judge's greedy output
stamps (more than 10 % of the benchmark's steps).

    python tools/lazy_share_counts.py

Writes results/toy/04_processbench/lazy_share_counts.{csv,md} (per init and rule) and prints every total.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# init -> (score tables, judges' name prefix, zero-shot judge, careful-forced judge); the forced judges of the first
# inits were scored later, into lazy_strategy_careful_forced.
INITS: dict[str, tuple[list[str], str, str, str]] = {
    "0 (the careful init)": (["lazy_strategy", "lazy_strategy_seeds", "lazy_strategy_careful_forced"], "careful",
                             "zero_shot_careful", "careful_init_forced"),
    "0.3, warm-up seed 0": (["lazy_strategy_share03", "lazy_strategy_share03_seed1",
                             "lazy_strategy_share03_rel_effective_more"], "lazy03", "lazy03_zero_shot", "lazy03_forced"),
    "0.3, warm-up seed 1": (["lazy_strategy_share03_warmup_seed1_all_seeds"], "lazy03w1", "lazy03w1_zero_shot",
                            "lazy03w1_forced"),
    "0.5, warm-up seed 0": (["lazy_strategy", "lazy_strategy_seeds", "lazy_strategy_careful_forced"], "mix",
                            "zero_shot_lazy_mix", "lazy600_s0_init_forced"),
    "0.5, warm-up seed 1": (["lazy_strategy_warmup_seed1", "lazy_strategy_careful_forced"], "ws1", "ws1_zero_shot",
                            "lazy600_s1_init_forced"),
    "0.5, 1200 warm-up steps": (["lazy_strategy_warmup1200", "lazy_strategy_careful_forced"], "lazy1200",
                                "lazy1200_zero_shot", "lazy1200_s0_init_forced"),
    "0.7, warm-up seed 0": (["lazy_strategy_share07", "lazy_strategy_share07_seed1"], "lazy07", "lazy07_zero_shot",
                            "lazy07_forced"),
    "0.7, warm-up seed 1": (["lazy_strategy_share07_warmup_seed1_all_seeds"], "lazy07w1", "lazy07w1_zero_shot",
                            "lazy07w1_forced"),
}
CAREFUL_INIT = "0 (the careful init)"
COUNTS = ["runs", "above", "level", "below", "above_forced", "forced_higher"]


def main() -> None:
    import pandas as pd

    from stepwiser_core import pb_report
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--margin", type=float, default=3.0, help="points within which a run is level")
    args = ap.parse_args()

    folder = ROOT / "results" / args.tier / "04_processbench"
    parts = []
    for init, (tables, prefix, zero_shot, forced) in INITS.items():
        scores = pd.concat([pd.read_csv(folder / f"{t}.csv") for t in tables], ignore_index=True)
        scores = scores.drop_duplicates("judge")  # a judge scored twice (the same greedy run) counts once
        one = lambda name: scores.loc[scores["judge"] == name].iloc[0]  # noqa: E731
        ref, forced_row = one(zero_shot), one(forced)
        counts = pb_report.versus_baselines(pb_report.seeded_rows(scores, prefix), float(ref["average_f1"]),
                                            float(forced_row["average_f1"]), args.margin)
        counts.insert(0, "init", init)
        counts["zero_shot_f1"], counts["zero_shot_stamps"] = ref["average_f1"], ref["rubber_stamps"]
        counts["forced_f1"] = forced_row["average_f1"]
        parts.append(counts)
    table = pd.concat(parts, ignore_index=True)
    write_table(table, folder, "lazy_share_counts")

    per_init = table.groupby("init", sort=False)[COUNTS].sum()
    print(per_init.to_string(), end="\n\n")
    lazy = table[table["init"] != CAREFUL_INIT]
    print("lazy-mix inits, per rule:")
    print(lazy.groupby("label_rule")[COUNTS].sum().to_string(), end="\n\n")
    print("lazy-mix inits, all:", lazy[COUNTS].sum().to_dict())
    stamps = table["zero_shot_stamps"] > 0.1
    print("inits whose greedy zero-shot output stamps:", table[stamps][COUNTS].sum().to_dict())
    print("inits whose greedy zero-shot output does not:", table[~stamps][COUNTS].sum().to_dict())


if __name__ == "__main__":
    main()
