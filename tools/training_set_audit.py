"""What in a GRPO training set goes with how far the runs trained on it drift (a DIAGNOSTIC: it reads the exact
truth). Rebuilds, from notebook 02's labels and 03's parameters, the balanced training set of every (split, balance)
seed pair that judges in the score tables trained on (`training_set_audit.run_seeds_of`: `<seed-stem><k>` and the
seed-part / data-half cells `<part-prefix>d<split>[b<balance>]o<o>s<s>`; a run counts once), judges all its items
greedily with the init, profiles each set (`training_set_audit.set_profile`) beside its runs' mean benchmark scores,
and correlates each property with those scores over two units: `split`, the sets the paper's recipe draws (balance
seed = split seed), one per held-out split, so independent; and `set`, every set, of which those sharing a split
share their Negatives (so its p-values are optimistic).
    python tools/training_set_audit.py --init runs/toy/03_judge_training/judge_init --rule rel_effective \\
        --table intel900_grpo_seeds --table intel900_more_seeds --table intel900_rel_effective_seeds_7_9 \\
        --table intel900_seed_parts_rel_effective --table intel900_data_halves_rel_effective \\
        --table intel900_data_halves_rel_effective_2 --seed-stem stepwiser_rel_effective_seed --part-prefix re_ \\
        --out intel900_rel_effective_training_sets
Add `--samples 8` to profile, from the init's sampled verdicts, where the verdict reward pushes it on each set.

Writes results/<tier>/04_processbench/<out>.{csv,md} (per set) and <out>_correlations.{csv,md}.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = ("average_f1", "correct_steps_passed", "first_errors_caught")


def main() -> None:
    import pandas as pd
    import torch

    from stepwiser_core import judge_runs, pb_report, training_set_audit
    from stepwiser_core.config import load_config, parse_cli_value
    from stepwiser_core.judge_stage import as_judge_items
    from stepwiser_core.models import load_model
    from stepwiser_core.stages import JudgeTrainingConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--init", required=True, help="the judge init the runs started from")
    ap.add_argument("--rule", required=True, help="the label rule the runs trained on")
    ap.add_argument("--table", action="append", required=True, help="a score table's name (repeat to combine)")
    ap.add_argument("--seed-stem", required=True, help="the paper-recipe judges' name stem, before the seed")
    ap.add_argument("--part-prefix", default="re_", help="the seed-part / data-half cells' name prefix")
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a 03 parameter the runs overrode besides the seeds (as judge_experiment.py's -p)")
    ap.add_argument("--samples", type=int, default=0,
                    help="also sample the init this many times per item at GRPO's temperature and profile where the "
                         "verdict reward pushes it (training_set_audit.sampled_pressure; 0: greedy profile only)")
    ap.add_argument("--sample-seed", type=int, default=0, help="the seed of those draws")
    ap.add_argument("--permutations", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    folder = ROOT / "results" / args.tier / "04_processbench"
    try:
        scores = pb_report.score_tables(folder, args.table)
        runs = training_set_audit.runs_by_training_set(scores, args.seed_stem, args.part_prefix, TARGETS)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    overrides = {name: parse_cli_value(value) for name, value in args.p}
    params = ROOT / "params" / args.tier / "03_judge_training.yaml"
    labels = ROOT / "runs" / args.tier / "02_rollout_labels"

    sets = {}
    for split, balance in zip(runs["split"], runs["balance"]):
        cfg = load_config(JudgeTrainingConfig, params,
                          {**overrides, "seed": int(split), "grpo_balance_seed": int(balance)}, args.tier)
        train, _, _ = judge_runs.load_split(Path(cfg.labels_dir or labels), cfg)
        _, balanced, _ = judge_runs.training_sets(train, cfg)
        sets[(split, balance)] = balanced[args.rule]
    # every distinct item once: the init's greedy verdict depends on the item alone
    unique = {training_set_audit.item_key(it): it for items in sets.values() for it in items}
    model, tokenizer = load_model(Path(args.init))
    evaluation = judge_runs.HeldoutEvaluation(list(unique.values()), tokenizer, cfg)
    verdicts = evaluation.generative(model).judge(as_judge_items(list(unique.values())))
    init_verdicts = {key: v[0] for key, v in zip(unique, verdicts)}
    print(f"{len(sets)} training sets, {len(unique)} distinct items judged by the init", flush=True)
    features = list(training_set_audit.PROFILE_FEATURES)
    pressure = {key: {} for key in sets}
    if args.samples:
        if args.samples < cfg.num_generations:
            raise SystemExit(f"--samples must be at least GRPO's group size ({cfg.num_generations})")
        sampler = judge_runs.HeldoutEvaluation(list(unique.values()), tokenizer, replace(cfg, seed=args.sample_seed))
        draws = sampler.generative(model, n=args.samples, temperature=cfg.temperature).judge(
            as_judge_items(list(unique.values())))
        sampled = dict(zip(unique, draws))
        pressure = {key: training_set_audit.sampled_pressure(items, sampled, cfg.num_generations)
                    for key, items in sets.items()}
        features += training_set_audit.SAMPLED_FEATURES
        print(f"sampled {args.samples} verdicts per item at T = {cfg.temperature}", flush=True)

    profiles = pd.DataFrame([{"split": s, "balance": b, **training_set_audit.set_profile(items, init_verdicts),
                              **pressure[(s, b)]} for (s, b), items in sets.items()])
    table = runs.merge(profiles, on=["split", "balance"])
    print(table.round(3).to_string(index=False))
    write_table(table.round(4), folder, args.out)

    units = {"split": table[table["split"] == table["balance"]], "set": table}
    correlations = pd.concat([training_set_audit.profile_correlations(
        frame, features, TARGETS, args.permutations).assign(unit=unit)
        for unit, frame in units.items()], ignore_index=True)
    correlations = correlations[["unit", *[c for c in correlations.columns if c != "unit"]]]
    print(correlations[correlations["target"] == "average_f1"].round(3).to_string(index=False))
    write_table(correlations.round(4), folder, f"{args.out}_correlations")


if __name__ == "__main__":
    main()
