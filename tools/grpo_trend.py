"""Training reward, policy entropy and the share of zero-advantage groups of every GRPO run of notebook 03, over
its first and last 20 steps (`judge_rl.training_trend`), from the committed `grpo_history.csv`: the column
"training reward, steps 1–20 → 81–100" of the table under docs/results.md, "03 · Judge training", and the entropy /
zero-advantage figures beside it.

    python tools/grpo_trend.py        # reads and writes results/toy/03_judge_training/ (grpo_trend.{csv,md})
    python tools/grpo_trend.py --history [NAME=]RUN/history.csv ...   # print the same for tools/judge_experiment.py runs

Each such run is named NAME, or its path (they all call their run `exp_<rule>`, so they are told apart by file).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import pandas as pd

    from stepwiser_core.config import load_config
    from stepwiser_core.judge_rl import training_trend
    from stepwiser_core.stages import JudgeTrainingConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--history", nargs="*", default=[],
                    help="[NAME=]history.csv files to summarise, one run each (printed, not written)")
    args = ap.parse_args()
    if args.history:
        named = [spec.partition("=")[::2] if "=" in spec else (spec, spec) for spec in args.history]
        histories = pd.concat([pd.read_csv(path).assign(run=name) for name, path in named], ignore_index=True)
        print(training_trend(histories, args.window).round(4).to_string(index=False))
        return
    cfg = load_config(JudgeTrainingConfig, ROOT / "params" / args.tier / "03_judge_training.yaml", {}, args.tier)
    results_dir = ROOT / cfg.results_root / args.tier / "03_judge_training"
    trend = training_trend(pd.read_csv(results_dir / "grpo_history.csv"), args.window)
    write_table(trend, results_dir, "grpo_trend")
    print(trend.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
