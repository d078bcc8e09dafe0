"""One judge experiment outside notebook 03: warm up a judge init with any warm-up settings, audit it on the stage's
held-out chunks (greedy and sampled), optionally run one GRPO judge from it. For sweeps that would cost a whole 03
run each; outputs go to --out (default /tmp/judge_exp), never into runs/ or results/.

    python tools/judge_experiment.py --rule rel_effective -p judge_warmup_verdict_accuracy 1.0 -p learning_rate 1e-5
    python tools/judge_experiment.py --no-grpo -p judge_warmup_steps 150      # the warm-up and its audit only
    python tools/judge_experiment.py --warm-up-only -p judge_warmup_glance_share 0.5   # the warm-up alone

Config: params/<tier>/03_judge_training.yaml, then `-p NAME VALUE` overrides (validated as the runner does). Needs
notebooks 00-02's run folders. The warmed init is cached under --out by the warm-up settings, so GRPO variants on
the same init do not redo it. Prints, for the init and for the trained judge: greedy held-out accuracy vs truth and
each rule, the rationale audit, and from `--samples` samples at the GRPO temperature the share of items whose
samples disagree (GRPO's informative groups), split into groups whose *analyses* differ and groups where only the
verdict flips on the same analysis.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sampled_audit(evaluation, model, items, samples: int, temperature: float) -> dict[str, float]:
    """Sampled verdicts: mean accuracy vs truth, and which share of items gets disagreeing samples, and why."""
    from stepwiser_core.instruct import glance_share
    from stepwiser_core.judge import parse_verdict
    from stepwiser_core.judge_stage import as_judge_items

    judge = evaluation.generative(model, n=samples, temperature=temperature)
    verdicts = judge.judge(as_judge_items(items))
    outs = judge.last_outputs
    correct, mixed, mixed_analysis = [], 0, 0
    for it, vs, os_ in zip(items, verdicts, outs):
        correct += [v is not None and v == it["true_label"] for v in vs]
        if len(set(vs)) > 1:
            mixed += 1
            analyses = {o.split("Final Judgment")[0] for o in os_}
            mixed_analysis += len(analyses) > 1
    n = len(items)
    return {"sampled_acc_truth": sum(correct) / len(correct), "mixed_groups": mixed / n,
            "sampled_rubber_stamps": glance_share([o for os_ in outs for o in os_]),
            "mixed_groups_analysis_differs": mixed_analysis / n,
            "parse_rate": sum(parse_verdict(o) is not None for os_ in outs for o in os_) / (n * samples)}


def main(argv: list[str] | None = None) -> None:
    import pandas as pd
    import torch

    from stepwiser_core import faithfulness, judge_runs
    from stepwiser_core.config import config_hash, load_config, parse_cli_value
    from stepwiser_core.io import read_json
    from stepwiser_core.judge_stage import first_error_records
    from stepwiser_core.models import load_model
    from stepwiser_core.stages import JudgeTrainingConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--rule", default=None, help="train one GRPO judge on this rule's labels (default: ablation_rule)")
    ap.add_argument("--no-grpo", action="store_true", help="only the warm-up and its audit")
    ap.add_argument("--warm-up-only", action="store_true",
                    help="only the warm-up, cached under --out (needs notebooks 00 and 01, not 02)")
    ap.add_argument("--variant", default="stepwiser",
                    choices=["stepwiser", "no_clip_higher", "no_cot", "consistent_reward", "consistent_reward_strict",
                             "consistency_shaped", "reference_reward", "reference_lines",
                             "reference_lines_balanced", "decision_free",
                             "decision_free_strict"],
                    help="the GRPO run: StepWiser (CoT, clip-higher), one of notebook 03's opt-in ablations, or a "
                         "reward that is NOT the paper's (judge_runs.grpo_variant_options)")
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--init", default=None, help="an already warmed judge init to start from (skips the warm-up)")
    ap.add_argument("--out", default="/tmp/judge_exp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=4, help="samples per item for the sampled audit (0: skip)")
    ap.add_argument("--dump", action="store_true", help="write the init's greedy outputs to <out>/.../outputs.csv")
    ap.add_argument("--oracle-clean", action="store_true",
                    help="DIAGNOSTIC, not the method: train only on items whose label equals the exact truth (drops "
                         "chunks after the first true error and mislabelled chunks), then balance")
    ap.add_argument("--drop-negatives", choices=["false_alarms", "random"], default=None,
                    help="DIAGNOSTIC, not the method: after balancing, drop the k false-alarm Negatives (Negative "
                         "label, correct chunk) and k random Positives; `random`: k random other Negatives and the "
                         "same k Positives instead, the size control (judge_rl.drop_false_alarms)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    tier_runs = ROOT / "runs" / args.tier
    overrides = {name: parse_cli_value(value) for name, value in args.p}
    cfg = load_config(JudgeTrainingConfig, ROOT / "params" / args.tier / "03_judge_training.yaml", overrides, args.tier)
    warm_keys = {k: v for k, v in vars(cfg).items() if k.startswith("judge_warmup")
                 or k in ("seed", "benchmark_seed", "judge_init_dir")}
    if not warm_keys["judge_warmup_glance_share"]:  # added later: left out when off, so older caches keep their ids
        del warm_keys["judge_warmup_glance_share"]
    warm_id = hashlib.sha256(json.dumps(warm_keys, sort_keys=True).encode()).hexdigest()[:10]
    warm_dir = Path(args.out) / f"warm_{warm_id}"
    suffix = "_oracle_clean" if args.oracle_clean else ""
    suffix += f"_drop_{args.drop_negatives}" if args.drop_negatives else ""
    suffix += "" if args.variant == "stepwiser" else f"_{args.variant}"
    rule = args.rule or cfg.ablation_rule
    # the run folder names the config, the rule and the init, so that runs that differ only in those do not share
    # (and overwrite) a history.csv and report.json
    init_tag = f"_init{hashlib.sha256(str(Path(args.init).resolve()).encode()).hexdigest()[:6]}" if args.init else ""
    run_dir = Path(args.out) / f"run_{config_hash(cfg)}{init_tag}_{rule}{suffix}"
    print("warm-up", warm_keys, "->", warm_dir, flush=True)

    init_dir = Path(cfg.judge_init_dir or tier_runs / "01_segmentation" / "model")
    if args.init:
        judge_init = Path(args.init)
    elif (warm_dir / "judge_init" / "config.json").exists():
        judge_init = warm_dir / "judge_init"
    else:
        eval_problems = tier_runs / "00_policy" / "eval_problems.json"
        exclude = [p["text"] for p in read_json(eval_problems)] if eval_problems.exists() else []
        judge_init = judge_runs.warm_up_judge(init_dir, cfg, warm_dir, exclude)
    if args.warm_up_only:
        print("judge init:", judge_init, flush=True)
        return
    train_records, heldout_records, items_eval = judge_runs.load_split(
        Path(cfg.labels_dir or tier_runs / "02_rollout_labels"), cfg)
    model, tokenizer = load_model(judge_init)
    evaluation = judge_runs.HeldoutEvaluation(items_eval, tokenizer, cfg)
    report = {"init": evaluation.evaluate("init", evaluation.generative(model))}
    if args.dump:
        rows = [{"problem": it["problem"].text, "history": "\n\n".join(it["history"]), "chunk": it["chunk"],
                 "true_label": it["true_label"], "output": o[0]}
                for it, o in zip(items_eval, evaluation_outputs(evaluation, model))]
        Path(args.out).mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(Path(args.out) / "init_outputs.csv", index=False)
    if args.samples:
        report["init"].update(sampled_audit(evaluation, model, items_eval, args.samples, cfg.temperature))
    print("init", {k: round(v, 3) for k, v in report["init"].items()}, flush=True)

    if not args.no_grpo:
        items, balanced, table = judge_runs.training_sets(train_records, cfg)
        print(table.round(3).to_string(index=False), flush=True)
        if args.oracle_clean:
            balanced = {rule: oracle_clean_balanced(items[rule], cfg)}
            print(f"oracle-clean: {len(truth_agreeing(items[rule]))} of {len(items[rule])} items agree with the "
                  f"truth; {len(balanced[rule])} after balancing", flush=True)
        if args.drop_negatives:
            from stepwiser_core.judge_rl import drop_false_alarms, is_false_alarm

            before = balanced[rule]
            balanced = {rule: drop_false_alarms(before, judge_runs.balance_seed(cfg),
                                                control=args.drop_negatives == "random")}
            print(f"drop {args.drop_negatives}: {sum(map(is_false_alarm, before))} false alarms among "
                  f"{len(before)} balanced items; {len(balanced[rule])} kept, "
                  f"{sum(map(is_false_alarm, balanced[rule]))} false alarms left", flush=True)
        options = judge_runs.grpo_variant_options(args.variant, cfg)
        name = f"exp_{rule}" if args.variant == "stepwiser" else f"exp_{args.variant}_{rule}"
        trained, frame = judge_runs.train_grpo_judge(name, rule, balanced[rule], items_eval, tokenizer, cfg,
                                                     judge_init, run_dir, first_error=first_error_records(
                                                         heldout_records, cfg.eval_first_error_records, cfg.seed),
                                                     **options)
        frame.to_csv(run_dir / "history.csv", index=False)
        cols = [c for c in ("step", "reward", "entropy", "zero_std_share") if c in frame]
        print(frame[cols].dropna().iloc[::10].round(3).to_string(index=False), flush=True)
        evals = frame[[c for c in frame if c.startswith("eval_acc") or c == "step"]].dropna()
        print(evals.round(3).to_string(index=False), flush=True)
        cot = options.get("cot", True)
        report["trained"] = evaluation.evaluate("trained", evaluation.generative(trained, cot=cot))
        if args.samples and cot:
            report["trained"].update(sampled_audit(evaluation, trained, items_eval, args.samples, cfg.temperature))
        print("trained", {k: round(v, 3) for k, v in report["trained"].items()}, flush=True)
        (run_dir / "report.json").write_text(json.dumps({"config": vars(cfg), **report}, indent=1, default=str))
    print(faithfulness.faithfulness_table(evaluation.faith_rows).round(3).to_string(index=False))


def truth_agreeing(items: list[dict]) -> list[dict]:
    """DIAGNOSTIC, not the method: the items whose rollout label equals the exact truth (drops the chunks after the
    trajectory's first true error, whose truth is None, and every mislabelled chunk)."""
    return [it for it in items if it["true_label"] is not None and it["label"] == it["true_label"]]


def oracle_clean_balanced(items: list[dict], cfg) -> list[dict]:
    """`--oracle-clean`'s training set: the truth-agreeing items, then 03's balancing."""
    from stepwiser_core.judge_rl import balance

    return balance(truth_agreeing(items), cfg.seed, cfg.balance, cfg.balance_positive_share)


def evaluation_outputs(evaluation, model):
    judge = evaluation.generative(model)
    from stepwiser_core.judge_stage import as_judge_items

    judge.judge(as_judge_items(evaluation.items))
    return judge.last_outputs


if __name__ == "__main__":
    main()
