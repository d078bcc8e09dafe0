"""StepWiser GRPO over several seeds: each seed retrains every StepWiser judge from notebook 03's warmed init
(the same `judge_init`, so the warm-up is held fixed) with `-p seed S`, which redraws the train / held-out split of
02's problems, the 50/50 balancing subset, the batch order and GRPO's samples. Each judge is then scored greedily
on notebook 04's toy ProcessBench; seed 0 is notebook 03's own run (read from 03's and 04's results, not retrained).

    python tools/grpo_seeds.py --seeds 1 2          # about 20 min per GRPO run at 1 thread, 2 min per scoring
    python tools/grpo_seeds.py --seeds 1 2 --ablations   # + notebook 03's opt-in no-clip-higher and no-CoT runs
                                                          #   (Rel-Ratio, seed 0), which the toy tier skips
    python tools/grpo_seeds.py --seeds 1 2 --variant-runs consistent_reward:0 consistency_shaped:0
                              # + GRPO with a reward that is NOT the paper's, on every rule at the given seed

Resumes: a judge already trained under --out (by this tool or by the equivalent `tools/judge_experiment.py --init
runs/toy/03_judge_training/judge_init --rule RULE --samples 0 -p seed S --out OUT/seedS_RULE`; for an ablation add
`--variant V` and use OUT/V_seedS_RULE) is not retrained, nor rescored once its scores are in OUT/scores. Each
`--variant-runs` variant is summarised apart (grpo_seeds_<variant>_summary). Writes
results/toy/04_processbench/grpo_seeds.{csv,md} (one row per run: held-out accuracy vs the truth before and after,
the benchmark's average accuracies and F1, and the training reward / entropy / zero-advantage share over the first
and last 20 steps, `judge_rl.training_trend`) and grpo_seeds_summary.{csv,md} (per rule: mean, sample sd, range, and
how many seeds beat the zero-shot judge), unless --no-write.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


STAGE_INIT = ROOT / "runs/toy/03_judge_training/judge_init"  # notebook 03's warmed judge init


def trained_judge(out: Path, variant: str, seed: int, rule: str, threads: int, init: Path = STAGE_INIT,
                  overrides: tuple[tuple[str, str], ...] = (), flags: tuple[str, ...] = ()) -> Path:
    """The judge of one (variant, seed, rule) GRPO run from `init` under `out`, trained first if it is not there
    (with these further `-p NAME VALUE` overrides of 03's parameters, and further judge_experiment `flags` such as
    `--oracle-clean`)."""
    stem = "" if variant == "stepwiser" else f"{variant}_"
    run_out = out / f"{stem}seed{seed}_{rule}"
    pattern = f"run_*/judges/exp_{stem}{rule}/config.json"
    if not sorted(run_out.glob(pattern)):
        import judge_experiment

        judge_experiment.main(["--init", str(init), "--rule", rule, "--variant", variant, "--samples", "0",
                               "-p", "seed", str(seed), *(x for pair in overrides for x in ("-p", *pair)),
                               *flags, "--out", str(run_out), "--threads", str(threads)])
    return sorted(run_out.glob(pattern))[-1].parent


def stage_results():
    """What every seed tool compares against: notebook 04's config and toy benchmark, the results folder, 04's
    average rows per judge and 03's held-out accuracies."""
    import pandas as pd

    from stepwiser_core import processbench
    from stepwiser_core.config import load_config
    from stepwiser_core.stages import ProcessBenchConfig

    cfg = load_config(ProcessBenchConfig, ROOT / "params" / "toy" / "04_processbench.yaml", {}, "toy")
    runs, results = ROOT / cfg.runs_root / "toy", ROOT / cfg.results_root / "toy"
    bench = processbench.load_processbench(runs / "04_processbench" / "toy_processbench")
    table = pd.read_csv(results / "04_processbench" / "table.csv").query("subset == 'average'").set_index("judge")
    heldout = pd.read_csv(results / "03_judge_training" / "heldout_step_accuracy.csv").set_index("judge")
    return cfg, results, bench, table, heldout


def benchmark_average(name: str, entry: dict, bench, cfg, cache_dir: Path | None = None):
    """One judge scored greedily on the toy benchmark: its average row (acc_error, acc_correct, f1). A name not
    starting "stepwiser_" is scored greedily only (no maj@k: 8x the cost). With `cache_dir` (each tool's
    OUT/scores), a judge already scored there with the same weights, benchmark and settings is not scored again
    (`pb_stage.score_judges`)."""
    from stepwiser_core import pb_stage

    scored, _ = pb_stage.score_judges({name: entry}, bench, cfg, cache_dir)
    return scored.query("subset == 'average'").iloc[0]


def init_accuracy(history) -> float:
    """The init's held-out accuracy vs the truth, as a GRPO run judges it: its step-0 evaluation."""
    return float(history.loc[history["step"] == 0, "eval_acc_truth"].iloc[0])


def main() -> None:
    import pandas as pd
    import torch

    from stepwiser_core import pb_report
    from stepwiser_core.judge_rl import training_trend
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2], help="seeds to train (0 is notebook 03's run)")
    ap.add_argument("--rules", nargs="+", default=["abs_q", "rel_ratio", "rel_effective"])
    ap.add_argument("--out", default="/tmp/grpo_seeds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ablations", action="store_true", help="also the no-clip-higher and no-CoT GRPO runs")
    ap.add_argument("--variant-runs", nargs="*", default=[], metavar="VARIANT:SEED",
                    help="also these GRPO variants (judge_runs.grpo_variant_options) on every rule at SEED")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "tools"))

    cfg, results, bench, table, heldout = stage_results()
    trends = pd.read_csv(results / "03_judge_training" / "grpo_trend.csv").set_index("run")

    def row(variant: str, rule: str, seed: int, avg: pd.Series, init_acc: float, acc: float, trend: pd.Series) -> dict:
        return {"variant": variant, "label_rule": rule, "seed": seed, "heldout_acc_init": init_acc,
                "heldout_acc_trained": acc, "acc_error": avg.acc_error, "acc_correct": avg.acc_correct, "f1": avg.f1,
                **{c: trend[c] for c in trend.index if c.endswith(("_first", "_last"))}}

    rows = [row("stepwiser", rule, 0, table.loc[f"stepwiser_{rule}"], heldout.loc["zero_shot", "acc_truth"],
                heldout.loc[f"stepwiser_{rule}", "acc_truth"], trends.loc[f"stepwiser_{rule}"]) for rule in args.rules]
    specs = [("stepwiser", rule, seed) for seed in args.seeds for rule in args.rules]
    specs += [(v, "rel_ratio", 0) for v in ("no_clip_higher", "no_cot")] if args.ablations else []
    variant_runs = [(v, int(seed)) for v, seed in (spec.rsplit(":", 1) for spec in args.variant_runs)]
    specs += [(v, rule, seed) for v, seed in variant_runs for rule in args.rules]
    for variant, rule, seed in specs:
        path = trained_judge(Path(args.out), variant, seed, rule, args.threads)
        report = json.loads((path.parents[1] / "report.json").read_text())
        entry = {"path": path, "kind": "direct" if variant == "no_cot" else "cot", "rule": rule}
        avg = benchmark_average(f"seed{seed}_{variant}_{rule}", entry, bench, cfg, Path(args.out) / "scores")
        history = pd.read_csv(path.parents[1] / "history.csv")
        # the init as this run judges it: for no-CoT, the verdict alone, not the CoT init
        rows.append(row(variant, rule, seed, avg, init_accuracy(history), report["trained"]["acc_truth"],
                        training_trend(history).iloc[0]))
    frame = pd.DataFrame(rows).sort_values(["variant", "label_rule", "seed"], kind="stable")
    zero_shot_f1 = float(table.loc["zero_shot", "f1"])
    summaries = {"grpo_seeds_summary": pb_report.seed_summary(frame.query("variant == 'stepwiser'"), zero_shot_f1)}
    for v in dict(variant_runs):
        summaries[f"grpo_seeds_{v}_summary"] = pb_report.seed_summary(frame.query("variant == @v"), zero_shot_f1)
    print(frame.round(3).to_string(index=False))
    for name, summary in summaries.items():
        print(name, summary.round(1).to_string(index=False), sep="\n")
    if not args.no_write:
        write_table(frame, results / "04_processbench", "grpo_seeds")
        for name, summary in summaries.items():
            write_table(summary, results / "04_processbench", name, digits=1)


if __name__ == "__main__":
    main()
