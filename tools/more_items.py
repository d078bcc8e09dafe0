"""StepWiser GRPO on more labelled trajectories: notebook 02 re-run with `n_prompts` several times the toy tier's,
into a runs root of its own (never runs/toy), then every StepWiser judge retrained from notebook 03's warmed init on
those labels (`-p labels_dir`) and scored greedily on notebook 04's toy ProcessBench. The row at the stage's
`n_prompts` is notebooks 03 and 04's own run (read, not retrained); an --n-prompts equal to the stage's trains on
02's own labels (for --oracle-clean, which the stage never ran).

    python tools/more_items.py --n-prompts 960 --variants stepwiser consistent_reward
        # 02 at 4x the prompts (about 35 min at 2 threads), then 6 GRPO runs of 100 steps (11-14 min each at 1 thread)
    python tools/more_items.py --n-prompts 960 --max-steps 300 --rules rel_ratio --table more_items_steps300
    python tools/more_items.py --n-prompts 240 960 --rules rel_ratio --oracle-clean --seed 0 1 --table oracle_clean
        # DIAGNOSTIC: the same GRPO on the items whose label agrees with the exact truth (240: the stage's labels)

Why (issue 4): every StepWiser judge trained on the toy tier's few hundred balanced items stays below the zero-shot
judge, and three times the GRPO steps over the same items only overfit them. The paper trains on hundreds of
thousands of items; this asks whether more items, at the same number of GRPO steps (so fewer passes over each),
change that.

The larger 02 run keeps only what the judges train on: M = 16 rollouts per chunk and no M = 32 study
(`rollouts_max 16`), and no blank-line data (`blankline_data false`); both are about the label studies, not the
labels. Its problems are the toy tier's annotation prompts extended (the first 60 per level are the same prompts),
less any problem of notebook 04's benchmark (`rollout_labels.annotation_problems`).
Resumes: a finished 02 run (the runner's own resume) and judges already trained under --out are reused, and so are
their benchmark scores (--out/scores); two processes with different --rules train in parallel (never beside the 02
run: a 1-thread job next to 02's 2 threads slowed 02 thirtyfold here). Writes
results/toy/04_processbench/more_items.{csv,md}, one row per (variant, n_prompts, max_steps, rule): training items
after balancing, passes over them, held-out accuracy vs the truth before and after (on the split of that 02 run),
the benchmark's average accuracies and F1, and the training reward over the first and last 20 steps (another name
with --table); unless --no-write.
"""
from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEAN_02 = (("rollouts_max", "16"), ("blankline_data", "false"))


def labelled_runs_root(out: Path, n_prompts: int) -> Path:
    """A runs root whose 02 holds `n_prompts` prompts' labels, made first if it is not there (00 and 01 are the
    toy tier's own, linked)."""
    root = out / f"runs_n{n_prompts}"
    for stage in ("00_policy", "01_segmentation"):
        link = root / "toy" / stage
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(ROOT / "runs" / "toy" / stage)
    cmd = [sys.executable, "-m", "stepwiser_core.run", "02_rollout_labels", "--params", str(ROOT / "params" / "toy"),
           "--runs-root", str(root), "-p", "n_prompts", str(n_prompts), "-p", "results_root", str(root / "results"),
           *(x for pair in LEAN_02 for x in ("-p", *pair))]
    subprocess.run(cmd, cwd=ROOT, check=True)  # skips at once when this config's run is complete
    return root / "toy" / "02_rollout_labels"


@functools.lru_cache(maxsize=None)
def balanced_items(labels_dir: Path, seed: int, oracle_clean: bool = False) -> dict[str, int]:
    """Per rule, how many training items GRPO draws from (after the 50/50 balancing) with 03's settings and `seed`
    (only the truth-agreeing ones with `oracle_clean`); cached, since every judge of one labels folder and seed
    shares them."""
    from judge_experiment import oracle_clean_balanced

    from stepwiser_core import judge_runs
    from stepwiser_core.config import load_config
    from stepwiser_core.stages import JudgeTrainingConfig

    cfg = load_config(JudgeTrainingConfig, ROOT / "params" / "toy" / "03_judge_training.yaml",
                      {"labels_dir": str(labels_dir), "seed": seed}, "toy")
    train_records, _, _ = judge_runs.load_split(labels_dir, cfg)
    items, balanced, _ = judge_runs.training_sets(train_records, cfg)
    if oracle_clean:
        return {rule: len(oracle_clean_balanced(items[rule], cfg)) for rule in items}
    return {rule: len(b) for rule, b in balanced.items()}


def main() -> None:
    import pandas as pd
    import torch

    from stepwiser_core.judge_rl import training_trend
    from stepwiser_core.stages import JudgeTrainingConfig, RolloutLabelConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-prompts", nargs="+", type=int, default=[960], help="02's n_prompts for each larger run")
    ap.add_argument("--max-steps", type=int, default=None, help="GRPO steps (default: 03's max_steps)")
    ap.add_argument("--rules", nargs="+", default=["abs_q", "rel_ratio", "rel_effective"])
    ap.add_argument("--variants", nargs="+", default=["stepwiser"],
                    help="GRPO rewards (judge_runs.grpo_variant_options), e.g. stepwiser consistent_reward")
    ap.add_argument("--out", default="/tmp/more_items")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", nargs="+", type=int, default=[0],
                    help="03's seeds (each: its split, balancing and samples)")
    ap.add_argument("--table", default="more_items", help="name of the table written under results/toy/04_processbench")
    ap.add_argument("--oracle-clean", action="store_true",
                    help="DIAGNOSTIC, not the method: train only on the items whose rollout label equals the exact "
                         "truth (judge_experiment --oracle-clean); at the stage's n_prompts on 02's own labels")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "tools"))
    from grpo_seeds import benchmark_average, init_accuracy, stage_results, trained_judge

    from stepwiser_core.config import load_config

    cfg, results, bench, table, _ = stage_results()
    cfg03 = load_config(JudgeTrainingConfig, ROOT / "params" / "toy" / "03_judge_training.yaml", {}, "toy")
    cfg02 = load_config(RolloutLabelConfig, ROOT / "params" / "toy" / "02_rollout_labels.yaml", {}, "toy")
    max_steps = args.max_steps or cfg03.max_steps
    prompts_drawn = max_steps * cfg03.batch_size // cfg03.num_generations  # over the whole GRPO run
    stage_labels = ROOT / "runs" / "toy" / "02_rollout_labels"
    columns = ["heldout_acc_init", "heldout_acc_trained", "acc_error", "acc_correct", "f1", "reward_first",
               "reward_last"]
    oracle = "_oracle_clean" if args.oracle_clean else ""
    flags = ("--oracle-clean",) if args.oracle_clean else ()
    def row(variant: str, seed: int, n_prompts: int, steps: int, rule: str, items: int, values: dict) -> dict:
        return {"variant": variant, "seed": seed, "n_prompts": n_prompts, "max_steps": steps, "label_rule": rule,
                "train_items": items, "passes": steps * cfg03.batch_size // cfg03.num_generations / items,
                **{c: values[c] for c in columns}}

    # the stage's n_prompts: tools/grpo_seeds.py's runs (seed 0: notebook 03's own)
    stage_runs = pd.read_csv(results / "04_processbench" / "grpo_seeds.csv")
    rows = []
    for seed in args.seed:
        stage = stage_runs.query("seed == @seed")
        rows += [row(v, seed, cfg02.n_prompts, cfg03.max_steps, rule, balanced_items(stage_labels, seed)[rule],
                     stage.query("variant == @v and label_rule == @rule").iloc[0])
                 for v in args.variants for rule in args.rules
                 if len(stage.query("variant == @v and label_rule == @rule"))]  # a variant never run at that size
        for n_prompts in args.n_prompts:
            if n_prompts == cfg02.n_prompts:  # the stage's own labels: nothing to re-run (only --oracle-clean trains)
                labels_dir, overrides = stage_labels, (("max_steps", str(max_steps)),)
            else:
                labels_dir = labelled_runs_root(Path(args.out), n_prompts)
                overrides = (("labels_dir", str(labels_dir)), ("max_steps", str(max_steps)))
            for variant in args.variants:
                for rule in args.rules:
                    path = trained_judge(Path(args.out) / f"n{n_prompts}_steps{max_steps}{oracle}", variant, seed,
                                         rule, args.threads, overrides=overrides, flags=flags)
                    report = json.loads((path.parents[1] / "report.json").read_text())
                    history = pd.read_csv(path.parents[1] / "history.csv")
                    avg = benchmark_average(f"n{n_prompts}_{variant}{oracle}_seed{seed}_{rule}",
                                            {"path": path, "kind": "cot", "rule": rule}, bench, cfg,
                                            Path(args.out) / "scores")
                    trend = training_trend(history).iloc[0]
                    values = {"heldout_acc_init": init_accuracy(history),
                              "heldout_acc_trained": report["trained"]["acc_truth"],
                              **avg[["acc_error", "acc_correct", "f1"]].to_dict(),
                              "reward_first": trend["reward_first"], "reward_last": trend["reward_last"]}
                    rows.append(row(variant + oracle, seed, n_prompts, max_steps, rule,
                                    balanced_items(labels_dir, seed, args.oracle_clean)[rule], values))
    frame = pd.DataFrame(rows)
    frame["zero_shot_f1"] = float(table.loc["zero_shot", "f1"])
    print(f"prompts drawn per GRPO run: {prompts_drawn}")
    print(frame.round(3).to_string(index=False))
    if not args.no_write:
        write_table(frame, results / "04_processbench", args.table)


if __name__ == "__main__":
    main()
