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

The data part itself splits in two (`grpo_balance_seed`, NOT the paper: which items 50/50 balancing keeps; `seed`
then keeps the held-out split alone). A 2 × 2 over those halves between seeds a and b, the order and sampling seeds
held at O and S, reads cells named `<prefix>d<split>b<balance>o<O>s<S>` (`<prefix>d<split>o<O>s<S>` where the two
halves share a seed: the seed-part design's own cells):

    python tools/seed_parts.py --table T --prefix re_ --halves 1,7,1,7 --halves 3,4,3,4 --out NAME

writes NAME.{csv,md} (the cells), NAME_differences.{csv,md} and NAME_pooled.{csv,md}.

Designs run from different inits (whose seed numbers and judge names may coincide) are pooled from what this tool
wrote for each, their cells:

    python tools/seed_parts.py --pool seed_parts_rel_effective_design --pool intel900_seed_parts_rel_effective_design \
        --out seed_parts_rel_effective_both_inits

writes results/<tier>/04_processbench/NAME.{csv,md}, the pooled clean differences alone (the rates there are read
from the cells as written, to three decimals).
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
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--table", action="append", help="a score table's name (repeat to combine)")
    ap.add_argument("--prefix", help="the cells' judge-name prefix, before d<D>o<O>s<S>")
    ap.add_argument("--pair", action="append", help="A,B: the two seeds of one design (repeat)")
    ap.add_argument("--halves", action="append", metavar="A,B,O,S",
                    help="instead of --pair: a 2 x 2 over the data's halves (the held-out split, `seed`; the balanced "
                         "subset, `grpo_balance_seed`) between seeds A and B, the order and sampling seeds held at O, S")
    ap.add_argument("--pool", action="append", metavar="DESIGN",
                    help="instead: pool the clean differences of designs this tool wrote (DESIGN = an earlier --out)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if bool(args.pool) == bool(args.table or args.prefix or args.pair or args.halves):
        ap.error("give either --table, --prefix and --pair or --halves (a new design) or --pool (designs already written)")
    if not args.pool and not (args.table and args.prefix and (bool(args.pair) != bool(args.halves))):
        ap.error("a new design needs --table, --prefix and either --pair or --halves")

    folder = ROOT / "results" / args.tier / "04_processbench"
    if args.pool:
        # Designs already written (their cells, `<NAME>.csv`), pooled: the same part's clean differences over them all.
        try:
            cells = pb_report.score_tables(folder, args.pool, tag="design")
        except ValueError as err:
            raise SystemExit(str(err)) from None
        pooled = pb_report.pooled_seed_part_test(pb_report.design_differences(cells, COLUMNS))
        pooled = pooled.round(3).assign(p_sign_flip=pooled["p_sign_flip"].round(4))  # p down to 1/4096 (12 signs)
        print(pooled.to_string(index=False))
        write_table(pooled, folder, args.out, digits=4)
        return
    try:
        scores = pb_report.score_tables(folder, args.table)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    if args.halves:
        halves(scores, args.prefix, args.halves, folder, args.out)
        return
    all_cells, all_effects = [], []
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
    cells = pd.concat(all_cells, ignore_index=True)
    cells = cells[["pair", *[c for c in cells.columns if c != "pair"]]]
    effects = pd.concat(all_effects, ignore_index=True)[["pair", "score", "part", "effect", "min", "max",
                                                          "variance_share", "clean_effect"]]
    pooled = pb_report.pooled_seed_part_test(pb_report.design_differences(cells, COLUMNS))
    print(cells.round(3).to_string(index=False))
    print(effects.round(3).to_string(index=False))
    print(pooled.round(3).to_string(index=False))
    write_table(cells.round(3), folder, args.out)
    write_table(effects.round(3), folder, f"{args.out}_effects")
    write_table(pooled.round(3), folder, f"{args.out}_pooled")


def halves(scores, prefix: str, specs: list[str], folder: Path, out: str) -> None:
    """The data-halves designs: per design its four cells and four differences, and the clean differences pooled."""
    import pandas as pd

    from stepwiser_core import pb_report
    from stepwiser_core.tables import write_table

    all_cells, all_diffs = [], []
    for spec in specs:
        try:
            a, b, order, sampling = (int(x) for x in spec.split(","))
        except ValueError:
            raise SystemExit(f"--halves {spec!r}: expected four seeds, A,B,O,S") from None
        try:
            cells = pb_report.data_half_cells(scores, prefix, a, b, order, sampling, COLUMNS)
        except ValueError as err:
            raise SystemExit(str(err)) from None
        label = f"{a} vs {b}, o{order} s{sampling}"
        all_cells.append(cells.assign(pair=label))
        all_diffs += [pb_report.data_half_differences(cells, a, b, c).assign(pair=label, score=c) for c in COLUMNS]
    cells = pd.concat(all_cells, ignore_index=True)
    cells = cells[["pair", *[c for c in cells.columns if c != "pair"]]]
    diffs = pd.concat(all_diffs, ignore_index=True)
    pooled = pb_report.pooled_seed_part_test(diffs)
    for frame in (cells, diffs, pooled):
        print(frame.round(3).to_string(index=False))
    write_table(cells.round(3), folder, out)
    write_table(diffs.round(3), folder, f"{out}_differences")
    write_table(pooled.round(3), folder, f"{out}_pooled")


if __name__ == "__main__":
    main()
