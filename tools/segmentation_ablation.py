"""The paper's Table 9 on the toy tier ("no chunking", [P App. A.3]): StepWiser (CoT + RL) and Disc + SFT judges
trained on the base policy's blank-line pieces against the same judges trained on the chunk policy's self-segmented
chunks, from the same warmed judge init, every one scored greedily on the same toy ProcessBench.

Needs `runs/toy` to hold the chunk run's 00–04 (a link to a run folder, as for the other seed tools:
`ln -s /tmp/intel900/runs runs`), and notebook 03 run again on blank-line data from that run's judge init, into
another runs root B (rules and baselines as in the paper's table; the warm-up is not redone):

    python -m stepwiser_core.run 03_judge_training --params params/toy --runs-root B -p results_root BR \\
        -p segmentation blankline -p judge_init_dir runs/toy/03_judge_training/judge_init \\
        -p judge_warmup_steps 0 -p rules '[abs_q, rel_ratio]' -p run_rs_ft false
    python tools/segmentation_ablation.py --blankline-run B/toy --seeds 1 2 \\
        --chunks-grpo-out /tmp/intel_seeds --out /tmp/segmentation_ablation \\
        --results results/toy/intel_run_900_c545171/04_processbench

Seed 0 of each segmentation is notebook 03's own judges (`runs/toy/03_judge_training`, B's 03). Each seed in --seeds
retrains, on both segmentations, GRPO (`tools/judge_experiment.py --init ... -p seed S [-p segmentation
blankline]`, kept as <dir>/seed<S>_<rule> with <dir> --chunks-grpo-out or --out/blankline, and not retrained when
already there, as tools/grpo_seeds.py does) and Disc + SFT (`judge_runs.train_disc_sft` with `seed` S, under
--out/<segmentation>/disc_seed<S>). A seed redraws the held-out problems, the balanced subset,
the order and GRPO's samples; the two segmentations of one seed share those draws' seeds, not their data (the
blank-line data are other trajectories, of the base policy).

Writes to --results: segmentation_ablation_scores.{csv,md} (one row per judge, F1 per subset),
segmentation_ablation.{csv,md} (per segmentation, training and rule: mean over seeds beside the paper's Table 9),
segmentation_ablation_effect.{csv,md} (chunks − blank lines, paired by seed, sign-flip test),
segmentation_ablation_training_step_kinds.{csv,md} (what each segmentation's training steps hold and how often each
kind is labelled Positive, by rule and by the exact checker: `segmentation_ablation.training_step_kinds`),
segmentation_ablation_false_alarms{,_mean}.{csv,md} (where each judge flags a solution whose every step is right,
by what the flagged step holds: `segmentation_ablation.false_alarms`; per judge, and the mean over seeds),
segmentation_ablation_table9.md and
segmentation_ablation_sources.json (the two 03 runs read, their commits, and this tool's).
Each judge's benchmark scores are kept in --out/scores/<benchmark> (`pb_stage.score_judges`' cache), so a rerun
with more seeds scores only the judges it has not scored yet.

`--benchmark blankline` scores every judge on the same benchmark solutions cut on blank lines instead of into
logical steps (ProcessBench's steps are paragraphs, closer to blank-line pieces than to chunks) and writes the same
tables with `_blankline_steps` after `segmentation_ablation`, that benchmark's statistics
(segmentation_ablation_blankline_steps_benchmark.{csv,md}) and, when --results already holds the logical-step scores,
how the chunking effect changes from one cut to the other (segmentation_ablation_blankline_steps_change.{csv,md},
`segmentation_ablation.benchmark_steps_effect`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

RULES = ("abs_q", "rel_ratio")  # the paper's Table 9 rows


def disc_judge(out: Path, segmentation: str, seed: int, rule: str, init: Path, labels_dir: Path) -> Path:
    """A Disc + SFT judge trained with `seed` on `segmentation`'s labels under `out`, trained first if not there."""
    from stepwiser_core import judge_runs
    from stepwiser_core.config import load_config
    from stepwiser_core.tokenizer import load_tokenizer
    from stepwiser_core.stages import JudgeTrainingConfig

    run_dir = out / segmentation / f"disc_seed{seed}"
    judge = run_dir / "judges" / f"disc_sft_{rule}"
    if not all((judge / f).exists() for f in ("config.json", "model.safetensors")):  # save_pretrained writes both
        cfg = load_config(JudgeTrainingConfig, ROOT / "params" / "toy" / "03_judge_training.yaml",
                          {"seed": seed, "segmentation": segmentation}, "toy")
        train_records, _, _ = judge_runs.load_split(labels_dir, cfg)
        judge_runs.train_disc_sft(rule, train_records, load_tokenizer(init), cfg, init, run_dir)
    return judge


BENCHMARK_SUFFIX = {"logical": "", "blankline": "_blankline_steps"}  # the table files' names, per --benchmark


def recut_benchmark(bench, segmentation: str, cfg, runs: Path, saved: Path):
    """Notebook 04's toy benchmark `bench` with its steps cut by `segmentation`: built again from the same
    generators and seed (`pb_stage.toy_benchmark`) and saved to `saved` the first time, read back afterwards, and
    checked to hold `bench`'s solutions under the same ids (`toy_processbench.check_same_solutions`)."""
    from stepwiser_core import pb_stage, processbench
    from stepwiser_core.io import atomic_dir
    from stepwiser_core.toy_processbench import check_same_solutions

    if not saved.exists():
        with atomic_dir(saved) as tmp:  # an interrupted build leaves nothing that a rerun would read
            processbench.save_processbench(pb_stage.toy_benchmark(cfg, runs, segmentation), tmp)
    recut = processbench.load_processbench(saved)
    check_same_solutions(bench, recut)
    return recut


def training_step_kinds(labels_dir: Path):
    """Per segmentation, what notebook 02's labelled steps hold and how often each kind is labelled Positive
    (`segmentation_ablation.training_step_kinds`), one table; its steps summed per segmentation are the paper's
    "# Steps"."""
    import pandas as pd
    from datasets import load_from_disk

    from stepwiser_core import segmentation_ablation as sa

    return pd.concat([sa.training_step_kinds(load_from_disk(str(labels_dir / f"stepwise_{seg}"))).assign(
        segmentation=seg) for seg in ("chunks", "blankline")]).set_index("segmentation").reset_index()


def main() -> None:
    import pandas as pd
    import torch

    import grpo_seeds
    from stepwiser_core import pb_stage, processbench
    from stepwiser_core import segmentation_ablation as sa
    from stepwiser_core.config import load_config
    from stepwiser_core.io import atomic_write_text, read_json
    from stepwiser_core.provenance import git_state
    from stepwiser_core.stages import ProcessBenchConfig
    from stepwiser_core.tables import write_table
    from stepwiser_core.toy_processbench import benchmark_stats

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blankline-run", required=True, help="the runs/<tier> folder of 03 on blank-line data")
    ap.add_argument("--seeds", nargs="*", type=int, default=[1, 2], help="seeds to train beyond notebook 03's 0")
    ap.add_argument("--out", default="/tmp/segmentation_ablation", help="where the blank-line GRPO judges and every "
                    "Disc + SFT judge of --seeds are trained")
    ap.add_argument("--chunks-grpo-out", default=None, help="where the chunk GRPO judges of --seeds are (or are "
                    "trained); default: --out/chunks")
    ap.add_argument("--results", required=True, help="folder for the tables")
    ap.add_argument("--benchmark", choices=("logical", "blankline"), default="logical",
                    help="the toy benchmark's steps: notebook 04's logical steps, or the same solutions cut on blank "
                    "lines, as ProcessBench's paragraphs are (built once into --out/toy_processbench_blankline)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tool_git = git_state(ROOT)  # before this tool writes its tables, which would read as a dirty tree
    runs = ROOT / "runs" / "toy"
    blank_run = Path(args.blankline_run)
    init = runs / "03_judge_training" / "judge_init"
    registries = {"chunks": read_json(runs / "03_judge_training" / "judges.json"),
                  "blankline": read_json(blank_run / "03_judge_training" / "judges.json")}
    if Path(registries["blankline"]["zero_shot"]["path"]).resolve() != init.resolve():
        raise SystemExit(f"the blank-line run's judges start from {registries['blankline']['zero_shot']['path']}, "
                         f"not from the chunk run's init {init}: the comparison would mix two inits")
    out = Path(args.out)
    grpo_out = {"chunks": Path(args.chunks_grpo_out) if args.chunks_grpo_out else out / "chunks",
                "blankline": out / "blankline"}
    judges = {}  # name -> (segmentation, training, rule, seed, registry entry)
    for seg, registry in registries.items():
        for rule in RULES:
            judges[f"rl_{rule}_{seg}_seed0"] = (seg, "rl", rule, 0, registry[f"stepwiser_{rule}"])
            judges[f"sft_{rule}_{seg}_seed0"] = (seg, "sft", rule, 0, registry[f"disc_sft_{rule}"])
            for seed in args.seeds:
                overrides = (("segmentation", seg),) if seg != "chunks" else ()
                path = grpo_seeds.trained_judge(grpo_out[seg], "stepwiser", seed, rule, 1, init, overrides)
                judges[f"rl_{rule}_{seg}_seed{seed}"] = (seg, "rl", rule, seed,
                                                         {"path": str(path), "kind": "cot", "rule": rule})
                path = disc_judge(out, seg, seed, rule, init, runs / "02_rollout_labels")
                judges[f"sft_{rule}_{seg}_seed{seed}"] = (seg, "sft", rule, seed,
                                                          {"path": str(path), "kind": "disc", "rule": rule})

    cfg = load_config(ProcessBenchConfig, ROOT / "params" / "toy" / "04_processbench.yaml", {}, "toy")
    bench = processbench.load_processbench(runs / "04_processbench" / "toy_processbench")
    if args.benchmark != "logical":
        bench = recut_benchmark(bench, args.benchmark, cfg, runs, out / f"toy_processbench_{args.benchmark}")
    registry = {"zero_shot": registries["chunks"]["zero_shot"], **{name: j[4] for name, j in judges.items()}}
    table, predictions = pb_stage.score_judges(registry, bench, cfg, out / "scores" / args.benchmark)  # new ones only
    scores = pd.DataFrame([sa.judge_scores(table, name, *j[:4]) for name, j in judges.items()])
    zero_shot = float(table.query("judge == 'zero_shot' and subset == 'average'")["f1"].iloc[0])
    step_kinds = training_step_kinds(runs / "02_rollout_labels")  # read once: the step counts and their kinds
    summary = sa.summary(scores, step_kinds.groupby("segmentation")["steps"].sum().to_dict())
    effect = sa.chunking_effect(scores)
    results, stem = Path(args.results), "segmentation_ablation" + BENCHMARK_SUFFIX[args.benchmark]
    write_table(scores, results, f"{stem}_scores", digits=1)
    write_table(summary, results, stem, digits=1)
    write_table(effect, results, f"{stem}_effect", digits=3)
    # where each judge flags a correct solution: per judge, and the mean over seeds per recipe
    meta = pd.DataFrame([{"judge": name, **dict(zip(("segmentation", "training", "label_rule", "seed"), j[:4]))}
                         for name, j in judges.items()])
    alarms = meta.merge(sa.false_alarms(bench, predictions), on="judge", how="right").astype({"seed": "Int64"})
    write_table(alarms, results, f"{stem}_false_alarms", digits=1)
    by_recipe = alarms.dropna(subset=["seed"]).groupby(["segmentation", "training", "label_rule"], sort=False)
    write_table(by_recipe[["correct_records", "flagged", *sa.STEP_KINDS]].mean().reset_index(), results,
                f"{stem}_false_alarms_mean", digits=1)
    if args.benchmark == "logical":  # what the two segmentations' training steps hold, and their labels
        write_table(step_kinds, results, f"{stem}_training_step_kinds", digits=3)
    else:  # its steps per solution beside notebook 04's (benchmark_stats.md)
        write_table(benchmark_stats(bench), results, f"{stem}_benchmark", digits=2)
        on_logical = results / "segmentation_ablation_scores.csv"  # the same judges on logical steps, if scored
        if on_logical.exists():
            change = sa.benchmark_steps_effect(pd.read_csv(on_logical), scores)
            write_table(change, results, f"{stem}_change", digits=3)
            print(change.round(3).to_string(index=False))
    atomic_write_text(results / f"{stem}_table9.md",
                      f"The zero-shot judge every row starts from: average F1 {zero_shot:.1f}.\n\n"
                      + sa.table9_markdown(summary))
    print(f"zero-shot {zero_shot:.1f}", summary.round(1).to_string(index=False), effect.round(3).to_string(index=False),
          sep="\n")
    sources = {seg: {"run_dir": str((run / "03_judge_training").resolve()),
                     **{k: read_json(run / "03_judge_training" / "provenance.json").get(k)
                        for k in ("git", "duration_s")}} for seg, run in (("chunks", runs), ("blankline", blank_run))}
    atomic_write_text(results / f"{stem}_sources.json", json.dumps(
        {"stage_03": sources, "seeds": [0, *args.seeds], "benchmark": str((runs / "04_processbench").resolve()),
         "benchmark_steps": args.benchmark, "tool_git": tool_git}, indent=1) + "\n")


if __name__ == "__main__":
    main()
