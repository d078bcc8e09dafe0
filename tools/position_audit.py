"""Held-out accuracy by chunk position, and the training labels' Negative share by position, from a finished run
of notebook 03 (docs/results.md, "Toy ProcessBench": why better step accuracy did not give a better first-error judge).

    python tools/position_audit.py            # reads runs/toy/03_judge_training, writes results/toy/03_judge_training/
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import pandas as pd

    from stepwiser_core import judge_runs, judge_stage
    from stepwiser_core.config import load_config
    from stepwiser_core.stages import JudgeTrainingConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--deep-from", type=int, default=2, help="0-based chunk index where 'deep' chunks start")
    args = ap.parse_args()
    cfg = load_config(JudgeTrainingConfig, ROOT / "params" / args.tier / "03_judge_training.yaml", {}, args.tier)
    run_dir = ROOT / cfg.runs_root / args.tier / "03_judge_training"
    results_dir = ROOT / cfg.results_root / args.tier / "03_judge_training"

    verdicts = pd.read_csv(run_dir / "heldout_verdicts.csv")
    by_position = judge_stage.accuracy_by_position(verdicts, args.deep_from)
    write_table(by_position, results_dir, "heldout_accuracy_by_position")
    print(by_position.round(3).to_string(index=False))

    train_records, _, _ = judge_runs.load_split(ROOT / cfg.runs_root / args.tier / "02_rollout_labels", cfg)
    _, balanced, _ = judge_runs.training_sets(train_records, cfg)
    shares = pd.DataFrame([{"rule": rule, **judge_stage.negative_share_by_position(items, args.deep_from),
                            "mean_history_chunks": sum(len(it["history"]) for it in items) / len(items)}
                           for rule, items in balanced.items()])
    write_table(shares, results_dir, "training_negative_share_by_position")
    print(shares.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
