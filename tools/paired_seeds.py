"""Two GRPO recipes on the same seeds, against each other and against a fixed judge (the zero-shot init), from the
score tables `tools/pb_step_audit.py --table` wrote (judges named `<stem><seed>`, e.g. `gated_rel_effective_seed3`):
per seed the two scores and their difference; overall each recipe's mean ± sd, the mean paired difference with the
exact sign-flip p-value (`pb_uncertainty.paired_seed_test`), and each recipe against the reference the same way;
with each recipe's mean correct-step pass rate and first-error catch rate on those seeds (`passed_first`,
`caught_first`).

    python tools/paired_seeds.py --table committed_run_grpo_seeds --table committed_run_rel_effective_more_seeds \\
        --table committed_run_rewards_beyond --a gated_rel_effective_seed --b stepwiser_rel_effective_seed \\
        --reference zero_shot --out rel_effective_gated_vs_verdict

Writes results/<tier>/04_processbench/<out>.{csv,md} (per seed) and <out>_summary.{csv,md}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import pandas as pd

    from stepwiser_core import pb_report
    from stepwiser_core.pb_uncertainty import paired_seed_test
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--table", action="append", required=True, help="a score table's name (repeat to combine)")
    ap.add_argument("--a", required=True, help="recipe A's judge-name stem, before the seed number")
    ap.add_argument("--b", required=True, help="recipe B's judge-name stem")
    ap.add_argument("--reference", required=True, help="the fixed judge both are compared with (e.g. zero_shot)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    folder = ROOT / "results" / args.tier / "04_processbench"
    try:
        scores = pb_report.score_tables(folder, args.table)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    try:
        ref = pb_report.reference_f1(scores, args.reference)
    except ValueError as err:
        raise SystemExit(f"--reference in {args.table}: {err}") from None
    scores = scores[scores["judge"] != args.reference]
    pairs = pb_report.paired_recipes(scores, args.a, args.b)
    if pairs.empty:
        raise SystemExit(f"no seed has both {args.a}<seed> and {args.b}<seed> in {args.table}")
    rows = []
    for name, x, y in [(f"{args.a} − {args.b}", pairs["a"], pairs["b"]),
                       (f"{args.a} − {args.reference}", pairs["a"], [ref] * len(pairs)),
                       (f"{args.b} − {args.reference}", pairs["b"], [ref] * len(pairs))]:
        t = paired_seed_test(list(x), list(y))
        rows.append({"comparison": name, "seeds": t.n, "mean_first": float(pd.Series(x).mean()),
                     "sd_first": float(pd.Series(x).std(ddof=1)), "mean_diff": t.mean_diff, "sd_diff": t.sd_diff,
                     "first_higher": t.a_better, "p_sign_flip": t.p_two_sided})
    # How each recipe gets its F1, on the same seeds: correct steps passed and first errors caught, on average.
    for column, short in (("correct_steps_passed", "passed"), ("first_errors_caught", "caught")):
        rates = pb_report.paired_recipes(scores, args.a, args.b, column=column)
        rows[0][f"{short}_first"] = rows[1][f"{short}_first"] = float(rates["a"].mean())
        rows[2][f"{short}_first"] = float(rates["b"].mean())
    summary = pd.DataFrame(rows)
    print(pairs.round(1).to_string(index=False))
    print(summary.round(3).to_string(index=False))
    write_table(pairs.round(1), folder, args.out, digits=1)
    write_table(summary.round(3), folder, f"{args.out}_summary")


if __name__ == "__main__":
    main()
