"""Notebook 03 over several seeds *with the warm-up redrawn too*: each seed warms up its own judge init (`-p seed S`:
other exercises, another SFT order) and trains every StepWiser judge from it with the same seed, so each trained
judge is compared with the zero-shot judge of its own seed. `tools/grpo_seeds.py` holds the init fixed; this asks
whether "no StepWiser judge beats the zero-shot judge" depends on the one warmed init the stage made. Every judge is
scored greedily on notebook 04's toy ProcessBench; seed 0 is notebooks 03 and 04's own run (read, not retrained).

    python tools/warmup_seeds.py --seeds 1 2    # per seed: a warm-up (~35 min) and 3 GRPO runs (11-14 min each)

Resumes: the warmed init of `tools/judge_experiment.py --no-grpo --samples 0 -p seed S --out OUT/seedS` and the
judges of `tools/judge_experiment.py --init <that init> --rule RULE --samples 0 -p seed S --out OUT/seedS_RULE` are
reused when present, and so are the benchmark scores kept in OUT/scores. Every warm-up leaves out the benchmark of
notebook 04's seed (03's `benchmark_seed`). Writes results/toy/04_processbench/warmup_seeds.{csv,md} (one row per
seed and judge) and warmup_seeds_summary.{csv,md} (`pb_report.gap_to_own_init`), unless --no-write.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def warmed_init(out: Path, seed: int, threads: int) -> Path:
    """Seed `seed`'s warmed judge init under `out`, warmed up first if it is not there."""
    pattern = "warm_*/judge_init/warmup.json"  # the stamp is written last: its presence means a complete init
    if not sorted((out / f"seed{seed}").glob(pattern)):
        import judge_experiment

        judge_experiment.main(["--no-grpo", "--samples", "0", "-p", "seed", str(seed),
                               "--out", str(out / f"seed{seed}"), "--threads", str(threads)])
    return sorted((out / f"seed{seed}").glob(pattern))[-1].parent


def main() -> None:
    import pandas as pd
    import torch

    from stepwiser_core import pb_report
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2], help="seeds to run (0 is notebook 03's run)")
    ap.add_argument("--rules", nargs="+", default=["abs_q", "rel_ratio", "rel_effective"])
    ap.add_argument("--out", default="/tmp/warm_seeds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "tools"))
    from grpo_seeds import benchmark_average, init_accuracy, stage_results, trained_judge

    cfg, results, bench, table, heldout = stage_results()

    def row(seed: int, judge: str, avg: pd.Series, heldout_acc: float) -> dict:
        return {"seed": seed, "judge": judge, "heldout_acc": heldout_acc, "acc_error": avg.acc_error,
                "acc_correct": avg.acc_correct, "f1": avg.f1}

    rows = [row(0, "zero_shot", table.loc["zero_shot"], heldout.loc["zero_shot", "acc_truth"])]
    rows += [row(0, rule, table.loc[f"stepwiser_{rule}"], heldout.loc[f"stepwiser_{rule}", "acc_truth"])
             for rule in args.rules]
    for seed in args.seeds:
        init = warmed_init(Path(args.out), seed, args.threads)
        paths = {"zero_shot": init}
        paths.update({rule: trained_judge(Path(args.out), "stepwiser", seed, rule, args.threads, init)
                      for rule in args.rules})
        # held-out accuracy vs the truth on this seed's split: the init's is every GRPO run's step-0 evaluation
        accs = {"zero_shot": init_accuracy(pd.read_csv(paths[args.rules[0]].parents[1] / "history.csv"))}
        for rule in args.rules:
            accs[rule] = json.loads((paths[rule].parents[1] / "report.json").read_text())["trained"]["acc_truth"]
        for judge, path in paths.items():
            entry = {"path": path, "kind": "cot", "rule": "" if judge == "zero_shot" else judge}
            rows.append(row(seed, judge, benchmark_average(f"seed{seed}_{judge}", entry, bench, cfg,
                                                           Path(args.out) / "scores"), accs[judge]))
    frame = pd.DataFrame(rows)
    summary = pb_report.gap_to_own_init(frame)
    print(frame.round(3).to_string(index=False), summary.round(1).to_string(index=False), sep="\n")
    if not args.no_write:
        write_table(frame, results / "04_processbench", "warmup_seeds")
        write_table(summary, results / "04_processbench", "warmup_seeds_summary", digits=1)


if __name__ == "__main__":
    main()
