"""What does GRPO's verdict reward pay for? Samples groups of judgments on notebook 03's balanced training items,
as GRPO's first generation round does, and audits the rewarded samples of the groups that carry a gradient: how
many of them contradict their own analysis (a "Match" that does not say whether its two lines are identical, a
quote that is not a line of the chunk, a verdict that does not follow), and how many redo the step wrong. The same
groups under the consistency-gated reward (`judge_rl.consistent_cot_reward`, NOT the paper) are counted beside.

    python tools/grpo_signal_audit.py                                  # 03's warmed init, every rule
    python tools/grpo_signal_audit.py --judge init=runs/toy/03_judge_training/judge_init \
        --judge stepwiser_abs_q=runs/toy/03_judge_training/judges/stepwiser_abs_q:abs_q ...   # NAME=DIR[:RULE]

Writes results/toy/03_judge_training/grpo_signal_audit.{csv,md} unless --no-write.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import pandas as pd
    import torch

    from stepwiser_core import faithfulness, judge_runs
    from stepwiser_core.config import load_config, parse_cli_value
    from stepwiser_core.judge_stage import as_judge_items
    from stepwiser_core.models import load_model
    from stepwiser_core.stages import JudgeTrainingConfig
    from stepwiser_core.tables import write_table
    from stepwiser_core.world.problems import problem_from_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", action="append", default=[], metavar="NAME=DIR[:RULE]",
                    help="judges to audit, on RULE's items only if given (default: "
                         "init=runs/toy/03_judge_training/judge_init, on every rule)")
    ap.add_argument("--rules", nargs="+", default=None)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    overrides = {name: parse_cli_value(value) for name, value in args.p}
    cfg = load_config(JudgeTrainingConfig, ROOT / "params" / "toy" / "03_judge_training.yaml", overrides, "toy")
    runs = ROOT / cfg.runs_root / "toy"
    specs = [j.split("=", 1) for j in args.judge] or [("init", str(runs / "03_judge_training" / "judge_init"))]
    judges = {name: (path.split(":", 1) + [None])[:2] for name, path in specs}  # name -> (dir, rule or None)
    train_records, _, items_eval = judge_runs.load_split(runs / "02_rollout_labels", cfg)
    _, balanced, _ = judge_runs.training_sets(train_records, cfg)
    tables = []
    for name, (path, only_rule) in judges.items():
        model, tokenizer = load_model(Path(path))
        evaluation = judge_runs.HeldoutEvaluation(items_eval, tokenizer, cfg)
        # GRPO's own sampling: group size and temperature of the stage's config
        judge = evaluation.generative(model, n=cfg.num_generations, temperature=cfg.temperature)
        for rule in [only_rule] if only_rule else args.rules or cfg.rules:
            items = [{**it, "problem": problem_from_text(it["problem"], it["problem_id"], int(it["level"] or 0))}
                     for it in balanced[rule]]
            judge.judge(as_judge_items(items))
            rows = faithfulness.reward_signal_rows(items, judge.last_outputs)
            table = faithfulness.reward_signal_table(rows).assign(judge=name, rule=rule)
            print(table.round(3).to_string(index=False), flush=True)
            tables.append(table)
    frame = pd.concat(tables, ignore_index=True)
    frame = frame[["judge", "rule"] + [c for c in frame if c not in ("judge", "rule")]]
    if not args.no_write:
        write_table(frame, ROOT / cfg.results_root / "toy" / "03_judge_training", "grpo_signal_audit")


if __name__ == "__main__":
    main()
