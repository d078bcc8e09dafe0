"""Which part of a GRPO seed decides a run's fate? A 2 × 2 × 2 design between two seeds a and b over the three parts
notebook 03 can now set apart (`pb_report.SEED_PARTS`): the data (`seed`: the held-out split and the balanced
subset), the order TRL feeds the items in (`grpo_order_seed`) and the completions it samples
(`grpo_sampling_seed`). Each cell is one GRPO run,

    python tools/judge_experiment.py --init INIT --rule rel_effective --samples 0 -p seed D \\
        -p grpo_order_seed O -p grpo_sampling_seed S --threads 1 --out /tmp/s38_dDoOsS

scored by `tools/pb_step_audit.py --table T` under the name `<prefix>dDoOsS`; then

    python tools/seed_parts.py --table T --prefix re_ --pair 1,2 --pair 9,5 --out NAME

prints and writes, per pair, each part's main effect (b − a, over the four pairs of cells that differ in it alone)
on the average F1, the correct-step pass rate and the first-error catch rate, with the share of the design's
variance it explains and its clean effect (the two differences that leave out the corners a·a·a and b·b·b, which
were picked for their outcomes: a seed that did well against one that drifted); and, over all pairs, each part's
clean differences pooled, with the exact sign-flip p-value (`pb_uncertainty.paired_seed_test`).
Writes results/<tier>/04_processbench/NAME.{csv,md} (the cells), NAME_effects.{csv,md} and NAME_pooled.{csv,md}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = ("average_f1", "correct_steps_passed", "first_errors_caught")


def main() -> None:
    import pandas as pd

    from stepwiser_core import pb_report
    from stepwiser_core.pb_uncertainty import paired_seed_test
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--table", action="append", required=True, help="a score table's name (repeat to combine)")
    ap.add_argument("--prefix", required=True, help="the cells' judge-name prefix, before d<D>o<O>s<S>")
    ap.add_argument("--pair", action="append", required=True, help="A,B: the two seeds of one design (repeat)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    folder = ROOT / "results" / args.tier / "04_processbench"
    scores = pd.concat([pd.read_csv(folder / f"{name}.csv") for name in args.table], ignore_index=True)
    all_cells, all_effects, all_diffs = [], [], []
    for pair in args.pair:
        try:
            a, b = (int(s) for s in pair.split(","))
        except ValueError:
            raise SystemExit(f"--pair {pair!r}: expected two seeds, A,B") from None
        try:
            cells = pb_report.seed_part_cells(scores, args.prefix, a, b, COLUMNS)
        except ValueError as err:
            raise SystemExit(str(err)) from None
        all_cells.append(cells.assign(pair=f"{a} vs {b}"))
        for column in COLUMNS:
            effects = pb_report.seed_part_effects(cells, a, b, column)
            all_effects.append(effects.assign(pair=f"{a} vs {b}", score=column))
            all_diffs.append(pb_report.seed_part_differences(cells, a, b, column).assign(score=column))
    cells = pd.concat(all_cells, ignore_index=True)
    cells = cells[["pair", *[c for c in cells.columns if c != "pair"]]]
    effects = pd.concat(all_effects, ignore_index=True)[["pair", "score", "part", "effect", "min", "max",
                                                          "variance_share", "clean_effect"]]
    diffs = pd.concat(all_diffs, ignore_index=True)
    pooled = []
    for (score, part), g in diffs[diffs["clean"]].groupby(["score", "part"], sort=False):
        t = paired_seed_test(list(g["diff"]), [0.0] * len(g))
        pooled.append({"score": score, "part": part, "clean_differences": t.n, "mean": t.mean_diff,
                       "sd": t.sd_diff, "b_higher": t.a_better, "p_sign_flip": t.p_two_sided})
    pooled = pd.DataFrame(pooled)
    print(cells.round(3).to_string(index=False))
    print(effects.round(3).to_string(index=False))
    print(pooled.round(3).to_string(index=False))
    write_table(cells.round(3), folder, args.out)
    write_table(effects.round(3), folder, f"{args.out}_effects")
    write_table(pooled.round(3), folder, f"{args.out}_pooled")


if __name__ == "__main__":
    main()
