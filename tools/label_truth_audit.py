"""Which balanced training items carry a label the judge's analysis cannot reproduce (docs/results.md, "Toy
ProcessBench": label noise is not the main cause). Per rule and (label, exact truth) pair: how many balanced items, and the
share a judge calls Positive (greedy). Truth None = a chunk after the trajectory's first true error.

    python tools/label_truth_audit.py runs/toy/03_judge_training/judge_init
"""
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from stepwiser_core import judge_runs  # noqa: E402
from stepwiser_core.config import load_config  # noqa: E402
from stepwiser_core.judge_stage import as_judge_items  # noqa: E402
from stepwiser_core.models import load_model  # noqa: E402
from stepwiser_core.stages import JudgeTrainingConfig  # noqa: E402

torch.set_num_threads(2)
cfg = load_config(JudgeTrainingConfig, ROOT / "params/toy/03_judge_training.yaml", {}, "toy")
train, _, items_eval = judge_runs.load_split(ROOT / "runs/toy/02_rollout_labels", cfg)
_, balanced, _ = judge_runs.training_sets(train, cfg)
model, tokenizer = load_model(sys.argv[1])
evaluation = judge_runs.HeldoutEvaluation(items_eval, tokenizer, cfg)
for rule in cfg.rules:
    counts = Counter((it["label"], it["true_label"]) for it in balanced[rule])
    for key, n in sorted(counts.items(), key=str):
        chosen = [it for it in balanced[rule] if (it["label"], it["true_label"]) == key]
        verdicts = evaluation.generative(model).judge(as_judge_items(chosen))
        positive = sum(v[0] is True for v in verdicts) / n
        print(f"{rule:>14} label={key[0]!s:5} truth={key[1]!s:5} items={n:4d} judged Positive {positive:.2f}")
