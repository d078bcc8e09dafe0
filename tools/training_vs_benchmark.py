"""Does what GRPO's in-training evaluation saw predict the benchmark? Per judge, the held-out evaluation's shift
between its first and last evaluation (`judge_rl.evaluation_shift`: Positive share, accuracy on correct and on
wrong chunks, the small first-error F1) beside the judge's toy ProcessBench scores from the tables
`tools/pb_step_audit.py --table` wrote; then the Pearson correlations of those shifts with the benchmark's average
F1 and correct-step pass rate, within each recipe (judges named `<stem><seed>`) and over all
(`pb_report.correlations_by_recipe`).

    python tools/training_vs_benchmark.py --table committed_run_rel_effective_more_seeds \\
        --history gated_rel_effective_seed5=/tmp/RUN/history.csv \\
    --history stepwiser_rel_effective_seed0=results/toy/03_judge_training/grpo_history.csv#stepwiser_rel_effective \\
        ... --out rel_effective_training_vs_benchmark

`--until-step 25` reads each curve only up to step 25: whether the fate shows that early.
A history file holding several runs (notebook 03's `grpo_history.csv`) needs `#RUN` to pick one. Writes
results/<tier>/04_processbench/<out>.{csv,md} (per judge) and <out>_correlations.{csv,md}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHIFTS = ("eval_positive_rate", "eval_acc_truth_on_correct", "eval_acc_truth_on_wrong", "eval_first_error_f1")
TARGETS = ("average_f1", "correct_steps_passed", "first_errors_caught")


def read_history(spec: str):
    """`JUDGE=PATH` or `JUDGE=PATH#RUN` → (judge, that run's history)."""
    import pandas as pd

    judge, sep, where = spec.partition("=")
    if not sep or not judge or not where:
        raise SystemExit(f"--history {spec!r}: expected JUDGE=PATH or JUDGE=PATH#RUN")
    path, _, run = where.partition("#")
    history = pd.read_csv(path)
    runs = list(history["run"].unique())
    if run:
        if run not in runs:
            raise SystemExit(f"--history {spec!r}: no run {run!r} in {path} (runs: {runs})")
        history = history[history["run"] == run]
    elif len(runs) != 1:
        raise SystemExit(f"--history {spec!r}: {path} holds runs {runs}; pick one with #RUN")
    return judge, history


def main() -> None:
    import pandas as pd

    from stepwiser_core import pb_report
    from stepwiser_core.judge_rl import evaluation_shift
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--table", action="append", required=True, help="a score table's name (repeat to combine)")
    ap.add_argument("--history", action="append", required=True, help="JUDGE=PATH[#RUN] (repeat)")
    ap.add_argument("--until-step", type=int, default=None,
                    help="read each run's curve only up to this step (the early warning it gave by then)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    folder = ROOT / "results" / args.tier / "04_processbench"
    try:
        scores = pb_report.score_tables(folder, args.table)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    # The init is scored in every table; any judge named in two tables must have one score there, or this stops.
    distinct = scores.groupby("judge")[list(TARGETS)].nunique().max(axis=1)
    if conflicting := sorted(distinct[distinct > 1].index):
        raise SystemExit(f"judges scored differently in {args.table}: {conflicting}")
    scores = scores.drop_duplicates("judge").set_index("judge")
    rows = []
    for spec in args.history:
        judge, history = read_history(spec)
        if judge not in scores.index:
            raise SystemExit(f"--history {spec!r}: judge {judge!r} is in none of the tables {args.table}")
        shift = evaluation_shift(history.assign(run=judge), SHIFTS, until_step=args.until_step).iloc[0].to_dict()
        rows.append({"judge": judge, **{t: float(scores.loc[judge, t]) for t in TARGETS},
                     **{k: v for k, v in shift.items() if k != "run"}})
    per_judge = pd.DataFrame(rows)
    order = pd.DataFrame({"stem": per_judge["judge"].map(pb_report.recipe_stem),
                          "seed": per_judge["judge"].str.extract(r"(\d+)$")[0].astype(float)})
    per_judge = per_judge.loc[order.sort_values(["stem", "seed"]).index].reset_index(drop=True)
    predictors = [f"{c}_{part}" for c in SHIFTS for part in ("change", "last")]
    correlations = pb_report.correlations_by_recipe(per_judge, predictors, TARGETS)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(per_judge.round(3).to_string(index=False))
        print(correlations.round(2).to_string(index=False))
    write_table(per_judge.round(4), folder, args.out)
    write_table(correlations.round(3), folder, f"{args.out}_correlations")


if __name__ == "__main__":
    main()
