"""One GRPO judge run outside notebook 03, for quick experiments on a finished (or interrupted) 03 run folder: it
trains from that run's judge init (`judge_init`, the warmed model) with the run's config plus overrides, and prints
the held-out curve and final accuracies. Outputs go to /tmp, never into runs/ or results/.

    python tools/grpo_single_run.py RULE STEPS MAX_STEPS_AFTER_ERROR [THREADS [LEARNING_RATE]]
    python tools/grpo_single_run.py abs_q 100 0      # the README's exploratory runs (abs_q and rel_ratio)
"""
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(rule: str, steps: int, after: int, threads: int = 1, learning_rate: float | None = None) -> None:
    from stepwiser_core import judge_runs
    from stepwiser_core.models import load_model
    from stepwiser_core.stages import JudgeTrainingConfig

    torch.set_num_threads(threads)
    run = ROOT / "runs" / "toy" / "03_judge_training"
    raw = yaml.safe_load((run / "config.yaml").read_text())
    raw.update(max_steps=steps, max_steps_after_error=after, eval_every=max(steps // 2, 1))
    if learning_rate is not None:
        raw["learning_rate"] = learning_rate
    cfg = JudgeTrainingConfig(**raw)
    train, _, items_eval = judge_runs.load_split(ROOT / "runs" / "toy" / "02_rollout_labels", cfg)
    _, balanced, table = judge_runs.training_sets(train, cfg)
    print(table.to_string(), flush=True)
    _, tokenizer = load_model(run / "judge_init")
    model, frame = judge_runs.train_grpo_judge(f"exp_{rule}", rule, balanced[rule], items_eval, tokenizer, cfg,
                                               run / "judge_init", Path(f"/tmp/grpo_{rule}_{steps}_{after}_{cfg.learning_rate}"))
    cols = [c for c in frame.columns if c.startswith("eval_acc") or c in ("step", "entropy")]
    print(frame[cols].iloc[::10].to_string(), flush=True)
    evaluation = judge_runs.HeldoutEvaluation(items_eval, tokenizer, cfg)
    print("final", {k: round(v, 3) for k, v in evaluation.evaluate("exp", evaluation.generative(model)).items()})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *(int(a) for a in sys.argv[4:5]),
         *(float(a) for a in sys.argv[5:6]))
