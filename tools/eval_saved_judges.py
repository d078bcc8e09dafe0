"""Score judges saved by notebook 03 on its held-out chunks, outside the notebook (e.g. while a long 03 run is still
training, or after it was interrupted): held-out accuracy against the truth and every rule, and the rationale audit.

    python tools/eval_saved_judges.py --tier toy stepwiser_abs_q [more judge names ...]

It rebuilds the stage's held-out split from the run folder's config.yaml (same seed, same split as the notebook),
and always scores the warmed judge init (`zero_shot`) and, when there was a warm-up, the model before it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> None:
    from stepwiser_core import faithfulness, judge_runs
    from stepwiser_core.models import load_model
    from stepwiser_core.stages import JudgeTrainingConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("judges", nargs="*", help="names under <runs>/<tier>/03_judge_training/judges")
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--runs-root", default="runs")
    args = ap.parse_args(argv)
    tier_runs = ROOT / args.runs_root / args.tier
    run_dir = tier_runs / "03_judge_training"
    cfg = JudgeTrainingConfig(**yaml.safe_load((run_dir / "config.yaml").read_text()))
    _, _, items = judge_runs.load_split(Path(cfg.labels_dir or tier_runs / "02_rollout_labels"), cfg)
    candidates = {"init_before_warmup": Path(cfg.judge_init_dir or tier_runs / "01_segmentation" / "model"),
                  "zero_shot": run_dir / "judge_init"}
    candidates.update({name: run_dir / "judges" / name for name in args.judges})
    evaluation = None
    for name, path in candidates.items():
        if not (path / "config.json").exists():
            continue
        model, tokenizer = load_model(path)
        evaluation = evaluation or judge_runs.HeldoutEvaluation(items, tokenizer, cfg)
        summary = evaluation.evaluate(name, evaluation.generative(model, cot=name != "no_cot"))
        print(name, {k: round(v, 3) for k, v in summary.items()}, flush=True)
    if evaluation is not None:
        print(faithfulness.faithfulness_table(evaluation.faith_rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
