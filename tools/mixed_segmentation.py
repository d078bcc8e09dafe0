"""Can one toy judge read both kinds of step? (NOT the paper.) StepWiser (CoT + RL) and Disc + SFT judges trained on
the chunk policy's chunks, on the base policy's blank-line pieces, and on both at once (notebook 03 with
`segmentation both`: the union of notebook 02's two labelled sets, balanced per rule, the same GRPO steps), from the
same warmed init, each scored greedily on the toy benchmark's logical steps and on the same solutions cut on blank
lines (`tools/segmentation_ablation.py --benchmark blankline` builds that cut the same way).

Why: on the blank-line cut the chunk-trained judges collapse (docs/results.md, "The same judges on paragraph steps"):
they flag correct solutions at pieces without an equation, a kind of step almost no chunk is. A judge trained on both
cuts' kinds of step sees such pieces; if it scores like the chunk-trained judge on logical steps and like the
blank-line one on the blank-line cut, the collapse is a matter of what a judge was shown, not of how much it can
learn.

Needs `--runs` to hold the chunk run's 00–04 (04's benchmark is read) and two more runs of notebook 03 from its
judge init, one per segmentation (the warm-up is not redone):

    for seg in blankline both; do
      python -m stepwiser_core.run 03_judge_training --params params/toy --runs-root /tmp/$seg/runs \\
          -p results_root /tmp/$seg/results -p segmentation $seg -p labels_dir RUNS/02_rollout_labels \\
          -p judge_init_dir RUNS/03_judge_training/judge_init -p judge_warmup_steps 0 \\
          -p rules '[abs_q, rel_ratio]' -p run_rs_ft false [-p run_disc_sft false]
    done
    python tools/mixed_segmentation.py --runs RUNS --blankline-run /tmp/blankline/runs/toy \\
        --both-run /tmp/both/runs/toy --out /tmp/mixed --results DIR

Seed 0 is notebook 03's own judges of each run (Disc + SFT where every run trained it; without --blankline-run,
the blank-line judges are left out). Writes to --results: mixed_segmentation_scores.{csv,md} (per seed-0
judge: how it was trained, its average F1 and accuracies on each cut, and the change from one cut to the other),
mixed_segmentation_false_alarms.{csv,md} (where each judge scored here flags a solution whose every step is right, by
what the flagged step holds, on each cut: `segmentation_ablation.false_alarms`), mixed_segmentation_training_items.
{csv,md} (how many items of each segmentation each seed-0 run's balanced GRPO sets hold) and
mixed_segmentation_sources.json. Every judge's scores are kept in --out/scores/<cut> (`pb_stage.score_judges`' cache).

More seeds (`--seeds 1 2 ...`): the StepWiser judges on both segmentations are retrained from the same init with
`-p seed S -p segmentation both` (`tools/judge_experiment.py`, kept as --grpo-out/both/seed<S>_<rule> and not
retrained when there; a seed holds out the same problems under every segmentation), scored on both cuts, and paired
by seed with the chunk- and blank-line-trained judges of the same seeds as `tools/segmentation_ablation.py` scored
them (its committed segmentation_ablation{,_blankline_steps}_scores.csv in --seed-scores, read, not retrained). That
reading is checked: the seed-0 judges scored here, and any `--check SEGMENTATION:SEED:RULE` judge retrained here
under --grpo-out/<segmentation>, must give the committed scores. Writes mixed_segmentation_seeds.{csv,md} (one row per
StepWiser judge and seed, with where its scores come from), mixed_segmentation_seeds_effect.{csv,md} (both − each
segmentation on each cut, paired by seed: `segmentation_ablation.mixed_training_effect`),
mixed_segmentation_seeds_training.{csv,md} (each both-trained judge's training reward, policy entropy and share of
zero-advantage groups over its first and last 20 GRPO steps, `judge_rl.training_trend`; seed 0 from
`--both-history`, notebook 03's grpo_history.csv, when given) and mixed_segmentation_seeds_check.{csv,md} (committed
against scored here).

    python tools/mixed_segmentation.py --runs RUNS --both-run /tmp/both/runs/toy --seeds 1 2 3 \\
        --both-history /tmp/both/results/toy/03_judge_training/grpo_history.csv --grpo-out /tmp/mixseeds \\
        --check blankline:1:abs_q --out /tmp/mixed --results DIR
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

RULES = ("abs_q", "rel_ratio")
CUTS = ("logical", "blankline")


def balanced_items_by_segmentation(runs: dict, labels_dir: Path, tier: str):
    """Per run and rule, how many of the balanced GRPO items come from each segmentation's steps: the draw notebook
    03 made, redone from the config the run recorded (`judge_runs.load_split`, `judge_runs.training_sets`); an item
    is told by its problem, history and step, which both segmentations share only if their texts are the same
    ("ambiguous")."""
    import pandas as pd

    from stepwiser_core import judge_rl, judge_runs
    from stepwiser_core.config import load_config
    from stepwiser_core.stages import JudgeTrainingConfig

    def key(item: dict) -> tuple:
        return item["problem_id"], tuple(item["history"]), item["chunk"], item["step"]

    rows = []
    for trained_on, run in runs.items():
        cfg = load_config(JudgeTrainingConfig, run / "03_judge_training" / "config.yaml", {}, tier)
        train, _, _ = judge_runs.load_split(labels_dir, cfg)
        _, balanced, _ = judge_runs.training_sets(train, cfg)
        for rule, items in balanced.items():
            keys = {seg: {key(it) for it in judge_rl.judge_items_from_records(
                [r for r in train if r["segmentation"] == seg], rule)} for seg in ("chunks", "blankline")}
            of = [tuple(seg for seg in keys if key(it) in keys[seg]) for it in items]
            rows.append({"trained_on": trained_on, "label_rule": rule, "items": len(items),
                         "from_chunks": of.count(("chunks",)), "from_blankline": of.count(("blankline",)),
                         "ambiguous": sum(len(o) != 1 for o in of), "negatives": sum(not it["label"] for it in items)})
    return pd.DataFrame(rows)


def committed_seed_scores(folder: Path, rules, seeds):
    """The StepWiser judges of `tools/segmentation_ablation.py` on both cuts, as it wrote them to `folder`
    (segmentation_ablation_scores.csv on logical steps, segmentation_ablation_blankline_steps_scores.csv on the
    blank-line cut): one row per (segmentation, rule, seed) of `rules` and `seeds` that both files hold, with
    `f1_<cut>` (the average F1) and the average row's accuracies per cut."""
    import pandas as pd

    files = {"logical": "segmentation_ablation_scores.csv",
             "blankline": "segmentation_ablation_blankline_steps_scores.csv"}
    keys = ["segmentation", "label_rule", "seed", "judge"]
    cuts = []
    for cut, name in files.items():
        if not (folder / name).exists():
            raise SystemExit(f"--seed-scores {folder} lacks {name} (tools/segmentation_ablation.py writes it)")
        t = pd.read_csv(folder / name)
        t = t[(t["training"] == "rl") & t["label_rule"].isin(rules) & t["seed"].isin(seeds)]
        cuts.append(t[keys + ["average", "acc_error", "acc_correct"]].rename(columns={
            "average": f"f1_{cut}", "acc_error": f"acc_error_{cut}", "acc_correct": f"acc_correct_{cut}"}))
    merged = cuts[0].merge(cuts[1], on=keys)
    return merged.rename(columns={"segmentation": "trained_on"}).assign(source=f"committed: {folder.name}")


def parse_check(text: str) -> tuple[str, int, str]:
    """`--check`'s SEGMENTATION:SEED:RULE, e.g. blankline:1:abs_q; anything else is a clear error."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in ("chunks", "blankline") or not parts[1].isdigit() or parts[2] not in RULES:
        raise SystemExit(f"--check takes SEGMENTATION:SEED:RULE with SEGMENTATION chunks or blankline and RULE one of "
                         f"{RULES}, not {text!r}")
    return parts[0], int(parts[1]), parts[2]


def seed_check(scored, committed):
    """Each judge scored here that the committed tables also hold (the same trained_on, rule and seed): both F1s per
    cut and whether they agree (to 1e-9: a CSV round trip of the same float)."""
    import numpy as np
    import pandas as pd

    keys = ["trained_on", "label_rule", "seed"]
    both = scored.merge(committed, on=keys, suffixes=("_here", "_committed"))
    rows = []
    for r in both.to_dict("records"):
        for cut in CUTS:
            here, kept = r[f"f1_{cut}_here"], r[f"f1_{cut}_committed"]
            rows.append({**{k: r[k] for k in keys}, "cut": cut, "judge_here": r["judge_here"],
                         "judge_committed": r["judge_committed"], "f1_here": here, "f1_committed": kept,
                         "agrees": bool(np.isclose(here, kept, rtol=1e-9, atol=0))})
    return pd.DataFrame(rows, columns=[*keys, "cut", "judge_here", "judge_committed", "f1_here", "f1_committed",
                                       "agrees"])


def main() -> None:
    import pandas as pd
    import torch

    import grpo_seeds
    from segmentation_ablation import recut_benchmark
    from stepwiser_core import pb_stage, processbench
    from stepwiser_core import segmentation_ablation as sa
    from stepwiser_core.config import load_config
    from stepwiser_core.io import atomic_write_text, read_json
    from stepwiser_core.judge_rl import training_trend
    from stepwiser_core.provenance import git_state
    from stepwiser_core.stages import ProcessBenchConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default=str(ROOT / "params" / "toy"), help="the tier's parameter folder (04's)")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "toy"), help="the chunk run's runs/<tier> folder (00-04)")
    ap.add_argument("--blankline-run", help="runs/<tier> of 03 on blank-line data (left out when not given)")
    ap.add_argument("--both-run", required=True, help="runs/<tier> of 03 on both (segmentation both)")
    ap.add_argument("--out", default="/tmp/mixed_segmentation", help="the blank-line cut and the score cache")
    ap.add_argument("--results", required=True, help="folder for the tables")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", nargs="*", type=int, default=[], help="seeds beyond 0 of the judges trained on both")
    ap.add_argument("--grpo-out", default=None, help="where the GRPO judges of --seeds and --check are (or are "
                    "trained), as <segmentation>/seed<S>_<rule>; default: --out/grpo")
    ap.add_argument("--seed-scores", default=None, help="the folder of tools/segmentation_ablation.py's committed "
                    "score tables, for the chunk and blank-line judges of every seed; default: --results")
    ap.add_argument("--both-history", default=None, help="notebook 03's grpo_history.csv of the --both-run, for "
                    "its seed-0 training curves (left out when not given)")
    ap.add_argument("--check", nargs="*", default=[], metavar="SEGMENTATION:SEED:RULE",
                    help="a chunk or blank-line StepWiser judge to retrain here and check against --seed-scores")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    checks = [parse_check(c) for c in args.check]

    tool_git = git_state(ROOT)  # before this tool writes its tables, which would read as a dirty tree
    runs = Path(args.runs)
    run_of = {"chunks": runs, **({"blankline": Path(args.blankline_run)} if args.blankline_run else {}),
              "both": Path(args.both_run)}
    registries = {seg: read_json(run / "03_judge_training" / "judges.json") for seg, run in run_of.items()}
    init = (runs / "03_judge_training" / "judge_init").resolve()
    for seg, registry in registries.items():
        if Path(registry["zero_shot"]["path"]).resolve() != init:
            raise SystemExit(f"the {seg} run's judges start from {registry['zero_shot']['path']}, not from the chunk "
                             f"run's init {init}: the comparison would mix two inits")
    judges = {"zero_shot": {"trained_on": "none", "training": "none", "label_rule": "none", "seed": None}}
    registry = {"zero_shot": registries["chunks"]["zero_shot"]}
    for rule in RULES:
        for training, name in (("rl", f"stepwiser_{rule}"), ("sft", f"disc_sft_{rule}")):
            if training == "sft" and not all(name in r for r in registries.values()):
                continue  # Disc + SFT only where every run trained it (`run_disc_sft`)
            for seg in run_of:
                judges[f"{training}_{rule}_{seg}"] = {"trained_on": seg, "training": training, "label_rule": rule,
                                                      "seed": 0}
                registry[f"{training}_{rule}_{seg}"] = registries[seg][name]
    # the StepWiser judges of further seeds, and the retrained ones that check the committed scores
    grpo_out = Path(args.grpo_out) if args.grpo_out else Path(args.out) / "grpo"
    seed_judges, histories = {}, {}
    if args.both_history:  # notebook 03 logs every judge's run into one file, `run` naming it
        history = pd.read_csv(args.both_history)
        missing = [rule for rule in RULES if not (history["run"] == f"stepwiser_{rule}").any()]
        if missing:
            raise SystemExit(f"--both-history {args.both_history} has no GRPO run of {missing} (runs: "
                             f"{sorted(set(history['run']))})")
        histories.update({(rule, 0): history[history["run"] == f"stepwiser_{rule}"] for rule in RULES})
    for seg, seed, rule in [("both", seed, rule) for seed in args.seeds for rule in RULES] + checks:
        overrides = (("labels_dir", str(runs / "02_rollout_labels")),) + (
            (("segmentation", seg),) if seg != "chunks" else ())
        path = grpo_seeds.trained_judge(grpo_out / seg, "stepwiser", seed, rule, args.threads, init, overrides)
        seed_judges[f"rl_{rule}_{seg}_seed{seed}"] = {"trained_on": seg, "training": "rl", "label_rule": rule,
                                                      "seed": seed}
        registry[f"rl_{rule}_{seg}_seed{seed}"] = {"path": str(path), "kind": "cot", "rule": rule}
        if seg == "both":  # judge_experiment's GRPO log, beside the judge (run_dir/judges/exp_<rule>)
            histories[(rule, seed)] = pd.read_csv(path.parents[1] / "history.csv")

    params = Path(args.params)
    cfg = load_config(ProcessBenchConfig, params / "04_processbench.yaml", {}, params.name)
    out = Path(args.out)
    saved = runs / "04_processbench" / "toy_processbench"
    logical = processbench.load_processbench(saved)
    benches = {"logical": logical,
               "blankline": recut_benchmark(logical, "blankline", cfg, runs, out / "toy_processbench_blankline")}
    tables, alarms = {}, []
    for cut, bench in benches.items():
        tables[cut], predictions = pb_stage.score_judges(registry, bench, cfg, out / "scores" / cut)
        alarms.append(sa.false_alarms(bench, predictions).assign(benchmark=cut))
    scores = sa.scores_on_both_cuts(tables, judges)
    results = Path(args.results)
    write_table(scores, results, "mixed_segmentation_scores", digits=1)
    meta = pd.DataFrame([{"judge": name, **how} for name, how in {**judges, **seed_judges}.items()])
    alarm_table = meta.merge(pd.concat(alarms), on="judge", how="right").astype({"seed": "Int64"})
    write_table(alarm_table[["benchmark", *alarm_table.columns.drop("benchmark")]], results,
                "mixed_segmentation_false_alarms", digits=0)
    items = balanced_items_by_segmentation(run_of, runs / "02_rollout_labels", params.name)
    write_table(items, results, "mixed_segmentation_training_items", digits=0)
    print(scores.round(1).to_string(index=False), items.to_string(index=False), sep="\n")
    seed_scores = Path(args.seed_scores) if args.seed_scores else results
    if seed_judges:
        rl = {name: how for name, how in {**judges, **seed_judges}.items() if how["training"] == "rl"}
        here = sa.scores_on_both_cuts(tables, rl).assign(seed=[how["seed"] for how in rl.values()],
                                                          source="scored here")
        committed = committed_seed_scores(seed_scores, RULES, [0, *args.seeds, *(seed for _, seed, _ in checks)])
        check = seed_check(here[here["trained_on"] != "both"], committed)
        write_table(check, results, "mixed_segmentation_seeds_check", digits=3)
        print(check.to_string(index=False))
        if check.empty or not check["agrees"].all():
            raise SystemExit(f"the judges scored here do not all give the scores committed in {seed_scores} (see "
                             "mixed_segmentation_seeds_check): pairing them by seed would mix two sets of judges")
        columns = ["trained_on", "label_rule", "seed", "judge", *(f"{c}_{cut}" for c in ("f1", "acc_error",
                   "acc_correct") for cut in CUTS), "source"]
        seeds = pd.concat([here[here["trained_on"] == "both"][columns],
                           committed[committed["seed"].isin([0, *args.seeds])][columns]])
        seeds = seeds.sort_values(["label_rule", "seed", "trained_on"], kind="stable").reset_index(drop=True)
        write_table(seeds, results, "mixed_segmentation_seeds", digits=1)
        zero_shot = {cut: float(scores.set_index("judge").loc["zero_shot", f"f1_{cut}"]) for cut in CUTS}
        effect = sa.mixed_training_effect(seeds, zero_shot)
        write_table(effect, results, "mixed_segmentation_seeds_effect", digits=3)
        training = pd.concat([training_trend(h).drop(columns="run").assign(label_rule=rule, seed=seed)
                              for (rule, seed), h in sorted(histories.items())])
        training = training[["label_rule", "seed", *training.columns.drop(["label_rule", "seed"])]]
        write_table(training, results, "mixed_segmentation_seeds_training", digits=3)
        print(seeds.round(1).to_string(index=False), effect.round(3).to_string(index=False),
              training.round(3).to_string(index=False), sep="\n")
    sources = {seg: {"run_dir": str((run / "03_judge_training").resolve()),
                     **{k: read_json(run / "03_judge_training" / "provenance.json").get(k)
                        for k in ("git", "duration_s")}} for seg, run in run_of.items()}
    atomic_write_text(results / "mixed_segmentation_sources.json", json.dumps(
        {"stage_03": sources, "seeds": [0, *args.seeds], "grpo_out": str(grpo_out.resolve()),
         "checks": args.check, "both_history": args.both_history,
         "seed_scores": str(seed_scores.resolve()) if seed_judges else None,
         "benchmark": str(saved.resolve()), "tool_git": tool_git}, indent=1) + "\n")


if __name__ == "__main__":
    main()
