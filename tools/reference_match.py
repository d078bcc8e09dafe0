"""How often a judge writes the warm-up teacher's own judgment of an item (`judge_rl.reference_judgment_reward`, a
diagnostic that reads the exact truth), greedily and sampled as GRPO samples it, on the items GRPO trained on
(notebook 03's training split, truth-agreeing items only, balanced: `judge_experiment --oracle-clean`) and on 03's
held-out chunks. `--temperature` takes several sampling temperatures; `--by-truth` splits each set into its right
and its wrong chunks.

    python tools/reference_match.py --judge ref_n240=DIR --judge ref_n960=DIR [--labels-dir DIR] [--seed 0]

Why (issue 4): GRPO with that reward raised its training reward (the sampled rate) and still lowered the judge's
benchmark F1 and held-out accuracy, which are read greedily. If GRPO mostly moves the samples towards what greedy
decoding already wrote, the sampled rate rises towards the init's greedy rate and the greedy rate does not move. The
init (notebook 03's `judge_init`) is always included. Writes results/toy/03_judge_training/reference_match.{csv,md}
(another name with --table) unless --no-write.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def reference_rates(items: list[dict], greedy_outputs: list[list[str]],
                    sampled_outputs: list[list[str]]) -> dict[str, float]:
    """`judge_rl.sampling_headroom` of a judge's greedy and sampled outputs of `items` (one list per item): for the
    reference judgment (`greedy`, `sampled`, `informative`, `greedy_wrong_sample_right`), and for the verdict alone
    against the exact truth, what the paper's reward pays for when the label is right (`verdict_*`, with
    `verdict_greedy_wrong_sample_judgment_right`: greedy verdict errors that some sample fixes by writing the whole
    reference judgment)."""
    from stepwiser_core.judge import parse_verdict
    from stepwiser_core.judge_rl import reference_judgment, reference_judgment_reward, sampling_headroom

    refs = [reference_judgment(it) for it in items]
    judgment, verdict = {}, {}
    for name, outputs in (("greedy", greedy_outputs), ("sampled", sampled_outputs)):
        judgment[name] = [reference_judgment_reward(outs, [ref] * len(outs)) for outs, ref in zip(outputs, refs)]
        verdict[name] = [[float(parse_verdict(o) == it["true_label"]) for o in outs]
                         for outs, it in zip(outputs, items)]
    on_judgment = sampling_headroom([g[0] for g in judgment["greedy"]], judgment["sampled"])
    on_verdict = sampling_headroom([g[0] for g in verdict["greedy"]], verdict["sampled"], judgment["sampled"])
    on_verdict["greedy_wrong_sample_judgment_right"] = on_verdict.pop("greedy_wrong_fixed_by")
    return on_judgment | {f"verdict_{k}": v for k, v in on_verdict.items()}


def main() -> None:
    import pandas as pd
    import torch
    from judge_experiment import oracle_clean_balanced

    from stepwiser_core import judge_runs
    from stepwiser_core.config import load_config
    from stepwiser_core.judge_stage import as_judge_items
    from stepwiser_core.models import load_model
    from stepwiser_core.stages import JudgeTrainingConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", action="append", default=[], metavar="NAME=DIR", help="a trained CoT judge")
    ap.add_argument("--labels-dir", default=str(ROOT / "runs" / "toy" / "02_rollout_labels"))
    ap.add_argument("--seed", type=int, default=0, help="03's seed (its split and balancing)")
    ap.add_argument("--rule", default="rel_ratio")
    ap.add_argument("--samples", type=int, default=4, help="samples per item (GRPO's group size)")
    ap.add_argument("--temperature", type=float, nargs="+", default=None,
                    help="sampling temperatures to measure (default: 03's GRPO temperature)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--by-truth", action="store_true",
                    help="split each item set by the exact truth of the chunk (right / wrong): where a judge's "
                         "teacher-judgment rate moved, on the Positive or the Negative judgments")
    ap.add_argument("--table", default="reference_match")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = load_config(JudgeTrainingConfig, ROOT / "params" / "toy" / "03_judge_training.yaml",
                      {"labels_dir": args.labels_dir, "seed": args.seed}, "toy")
    train_records, _, items_eval = judge_runs.load_split(Path(args.labels_dir), cfg)
    items, _, _ = judge_runs.training_sets(train_records, cfg)
    sets = {"training items (truth-agreeing, balanced)": oracle_clean_balanced(items[args.rule], cfg),
            "held-out chunks": items_eval}
    if args.by_truth:
        sets = {f"{name}, {'right' if truth else 'wrong'} chunks":
                [it for it in its if it["true_label"] is not None and bool(it["true_label"]) == truth]
                for name, its in sets.items() for truth in (True, False)}
    judges = {"init": ROOT / "runs" / "toy" / "03_judge_training" / "judge_init",
              **{n: Path(d) for n, d in (j.split("=", 1) for j in args.judge)}}
    rows = []
    for name, path in judges.items():
        model, tokenizer = load_model(path)
        evaluation = judge_runs.HeldoutEvaluation([], tokenizer, cfg)
        for set_name, its in sets.items():
            judge_items = as_judge_items(its)

            def outputs(n: int, temperature: float) -> list[list[str]]:
                judge = evaluation.generative(model, n=n, temperature=temperature)
                judge.judge(judge_items)
                return judge.last_outputs

            greedy = outputs(1, 0.0)  # once per judge and item set, whatever the sampling temperatures
            for temperature in args.temperature or [cfg.temperature]:
                rates = reference_rates(its, greedy, outputs(args.samples, temperature))
                rows.append({"judge": name, "items": set_name, "n": len(its), "temperature": temperature, **rates})
                print(rows[-1], flush=True)
    frame = pd.DataFrame(rows).assign(labels_dir=args.labels_dir, seed=args.seed, samples=args.samples)
    print(frame.round(3).to_string(index=False))
    if not args.no_write:
        write_table(frame, ROOT / "results" / "toy" / "03_judge_training", args.table)


if __name__ == "__main__":
    main()
