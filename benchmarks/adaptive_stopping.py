"""Adaptive rollout budget: sequential vs joint stopping, against the fixed M = 16 budget, on stored rollouts.

    python benchmarks/adaptive_stopping.py                 # runs/toy/02_rollout_labels -> results/toy/benchmarks/
    python benchmarks/adaptive_stopping.py --tier smoke    # any tier whose notebook 02 has run

Reads the rollout outcomes notebook 02 stored (`successes_chunks.npz`, every chunk's rollouts in arrival order) and
the stepwise records (Q before the first chunk), and replays both stopping schemes of `label_quality` on them for
every label rule and stopping confidence: the rollouts each one would have drawn, as a share of the fixed budget,
and the agreement of its labels with the fixed-budget labels. No model runs; it takes about a minute.
The baseline is the fixed budget itself (share 1.0, agreement 1.0), so every row is a ratio to it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stepwiser_core.config import load_config  # noqa: E402
from stepwiser_core.label_quality import adaptive_vs_fixed  # noqa: E402
from stepwiser_core.rollout_labels import rules_from_config  # noqa: E402
from stepwiser_core.stages import RolloutLabelConfig  # noqa: E402

CONFIDENCES = (None, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", default="toy")
    args = parser.parse_args()
    import pandas as pd
    from datasets import load_from_disk

    from stepwiser_core.tables import write_table

    cfg = load_config(RolloutLabelConfig, ROOT / "params" / args.tier / "02_rollout_labels.yaml", {}, args.tier)
    run_dir = ROOT / "runs" / args.tier / "02_rollout_labels"
    if not (run_dir / "successes_chunks.npz").exists():
        raise SystemExit(f"{run_dir}/successes_chunks.npz not found: run notebook 02 first "
                         f"(python -m stepwiser_core.run 02_rollout_labels --params params/{args.tier})")
    stored = np.load(run_dir / "successes_chunks.npz")
    successes = [stored[f"arr_{i}"][:, :cfg.rollouts] for i in range(len(stored.files))]
    q_prev0 = [r["q_prev0"] for r in load_from_disk(str(run_dir / "stepwise_chunks"))]
    if len(q_prev0) != len(successes):
        raise SystemExit(f"{len(successes)} stored trajectories but {len(q_prev0)} records: rerun notebook 02")
    rules = rules_from_config(cfg.gamma, cfg.alpha, cfg.best_of_n, cfg.on_zero_prev)
    rows = []
    for stopping in ("sequential", "joint"):
        for c in CONFIDENCES:
            for rule, params in rules.items():
                r = adaptive_vs_fixed(successes, q_prev0, rule, cfg.rollouts, confidence=c, last_known=True,
                                      joint=stopping == "joint", **params)
                rows.append({"stopping": stopping, "rule": rule, "confidence": "exact" if c is None else c,
                             "rollout_fraction_used": r["rollout_fraction_used"],
                             "agreement_with_m16": r["agreement_with_fixed"], "chunks": r["n_chunks"]})
    table = pd.DataFrame(rows)
    out = ROOT / "results" / args.tier / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out, "adaptive_stopping", digits=4)
    print(table.to_string(index=False))
    goal = table[(table.rollout_fraction_used <= 0.6) & (table.agreement_with_m16 >= 0.97)]
    for stopping in ("sequential", "joint"):
        met = goal[goal.stopping == stopping].groupby("confidence").rule.nunique()
        ok = sorted(str(c) for c, n in met.items() if n == len(rules))
        print(f"{stopping}: confidences where every rule uses <= 60 % at >= 97 % agreement: {ok or 'none'}")


if __name__ == "__main__":
    main()
