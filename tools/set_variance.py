"""How much of a GRPO run's benchmark score is its training set's and how much the run's own draw (the order of its
items and its sampled completions), from the score tables `tools/pb_step_audit.py --table` wrote. A run is named
by its four seeds (`training_set_audit.run_seeds_of`: `<seed-stem><k>`, and `<part-prefix>d<split>[b<balance>]o<o>s<s>`
for a run on seed `split`'s set with other order and sampling seeds); a run scored under two names counts once.

    python tools/set_variance.py --table intel900_grpo_seeds --table intel900_more_seeds \\
        --table intel900_rel_effective_seeds_7_9 --table intel900_rel_effective_sets_redrawn_a \\
        --table intel900_rel_effective_sets_redrawn_b --seed-stem stepwiser_rel_effective_seed --part-prefix re_ \\
        --reference zero_shot --out intel900_rel_effective_set_variance

(with `--table intel900_seed_parts_rel_effective --table intel900_data_halves_rel_effective --table
intel900_data_halves_rel_effective_2` added: `--out intel900_rel_effective_set_variance_all`).

Writes results/<tier>/04_processbench/<out>.{csv,md} (the one-way random-effects ANOVA per score, over every set
with two runs or more, and over the paper's sets alone where others are given), <out>_runs.{csv,md} (every run,
with its difference from the reference), <out>_sets.{csv,md} (each set's mean over its runs) and
<out>_own_vs_redrawn.{csv,md} (per set of the paper's recipe, its seed's own run against the mean of the other runs
on it, and their correlation across sets).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = ("average_f1", "correct_steps_passed", "first_errors_caught")


def main() -> None:
    import pandas as pd

    from stepwiser_core import pb_report, training_set_audit
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--table", action="append", required=True, help="a score table's name (repeat to combine)")
    ap.add_argument("--seed-stem", required=True, help="the paper-recipe judges' name stem, before the seed")
    ap.add_argument("--part-prefix", default="re_", help="the other runs' name prefix")
    ap.add_argument("--reference", required=True, help="the judge to compare with (e.g. the zero-shot init)")
    ap.add_argument("--permutations", type=int, default=20_000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    folder = ROOT / "results" / args.tier / "04_processbench"
    try:
        scores = pb_report.score_tables(folder, args.table)
        reference = pb_report.reference_f1(scores, args.reference)
        runs = training_set_audit.training_runs(scores, args.seed_stem, args.part_prefix, TARGETS)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    runs = runs.assign(vs_reference=runs["average_f1"] - reference)
    write_table(runs.round(4), folder, f"{args.out}_runs")
    sets = training_set_audit.runs_by_training_set(scores, args.seed_stem, args.part_prefix, TARGETS)
    write_table(sets.assign(vs_reference=sets["average_f1"] - reference).round(4), folder, f"{args.out}_sets")

    pools = {"every set with two runs or more": runs}
    if not (runs["split"] == runs["balance"]).all():  # otherwise the second pool is the first again
        pools["the paper's sets (balance seed = split seed)"] = runs[runs["split"] == runs["balance"]]
    rows = []
    for pool, frame in pools.items():
        for target in TARGETS:
            try:
                components = training_set_audit.variance_components(frame, target, permutations=args.permutations)
            except ValueError as err:
                raise SystemExit(f"{pool}, {target}: {err}") from None
            rows.append({"runs_of": pool, "score": target, **components})
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))
    write_table(table.round(4), folder, args.out)

    paired = training_set_audit.own_and_redrawn(runs, "average_f1")
    r, p = (training_set_audit.permutation_correlation(paired["own"], paired["redrawn"], args.permutations)
            if len(paired) >= 3 else (float("nan"), float("nan")))  # a correlation needs three sets
    paired = pd.concat([paired, pd.DataFrame([{"split": "r (permutation p)", "own": r, "redrawn": p,
                                               "redrawn_runs": paired["redrawn_runs"].sum()}])], ignore_index=True)
    print(paired.round(3).to_string(index=False))
    write_table(paired.round(4), folder, f"{args.out}_own_vs_redrawn")


if __name__ == "__main__":
    main()
