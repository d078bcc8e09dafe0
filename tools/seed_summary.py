"""Mean, sd and range over GRPO seeds, per label rule, of an experiment's judges on toy ProcessBench, from the
score tables `tools/pb_step_audit.py --table` wrote (judges named `<prefix>_<rule>_s<seed>` or
`<prefix>_<rule>_seed<seed>`), against a reference judge of those tables (`pb_report.seeded_rows`,
`pb_report.seed_summary`):

    python tools/seed_summary.py --table lazy_strategy_warmup1200 --prefix lazy1200 --reference lazy1200_zero_shot \\
        --out lazy_strategy_warmup1200_summary

Writes results/<tier>/04_processbench/<out>.{csv,md}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from stepwiser_core import pb_report
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--table", action="append", required=True, help="a score table's name (repeat to combine)")
    ap.add_argument("--prefix", required=True, help="the judges' name prefix")
    ap.add_argument("--reference", required=True, help="the judge to compare with (e.g. the zero-shot init)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    folder = ROOT / "results" / args.tier / "04_processbench"
    try:
        scores = pb_report.score_tables(folder, args.table)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    try:
        reference = pb_report.reference_f1(scores, args.reference)
    except ValueError as err:
        raise SystemExit(f"--reference in {args.table}: {err}") from None
    summary = pb_report.seed_summary(pb_report.seeded_rows(scores, args.prefix), reference)
    print(summary.round(1).to_string(index=False))
    write_table(summary.round(1), folder, args.out)


if __name__ == "__main__":
    main()
