"""Why a judge misses on toy ProcessBench: every step a first-error prediction depends on, judged greedily, with
its rationale audited (`faithfulness.benchmark_step_rows`). Prints, per judge, the official score, the share of
correct steps judged Positive by position, and what went wrong in each false Negative (re-derivation, comparison,
or neither). Also scores judges that are not in notebook 03's registry (`--judge name=DIR`), for experiments.

    python tools/pb_step_audit.py                                  # every generative judge of runs/toy/03
    python tools/pb_step_audit.py --only zero_shot --judge exp=/tmp/judge_exp/run_x/judges/exp_abs_q --no-write

Needs the run folders of notebooks 03 and 04; writes results/toy/04_processbench/step_audit_*.{csv,md} unless
--no-write (experiment judges are never written there). With `--only none --judge ...` notebook 03's registry is
not needed, and `--build-benchmark` builds 04's toy ProcessBench (`pb_stage.toy_benchmark`, from notebooks 00 and
01) when 04 has not run yet. `--careful NAME=DIR` scores a judge with its answers started "Analysis: Redo:", which
rules out the rubber stamp of `judge_warmup_glance_share` (a diagnostic). `--table NAME` keeps the scores of an
experiment's judges in results/, with the held-out numbers of its run's report.json where the judge is a
`tools/judge_experiment.py` run; `--versus NAME` adds each judge's F1 difference from NAME with a 95 % paired
bootstrap interval over the benchmark's records (how much of a gap the benchmark's size alone could make).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


HELD_OUT_KEYS = ("acc_truth", "sampled_rubber_stamps")


def held_out_columns(judge_dir: Path) -> dict[str, float]:
    """The held-out numbers `tools/judge_experiment.py` keeps in its run's report.json (`<run>/judges/<name>`),
    init and trained; none for a judge that is not such a run's (a warmed init, a registry judge)."""
    report_file = judge_dir.parents[1] / "report.json" if len(judge_dir.parents) > 1 else None
    if report_file is None or not report_file.exists():
        return {}
    report = json.loads(report_file.read_text())
    return {f"heldout_{key}_{when}": round(report[when][key], 3)
            for when in ("init", "trained") for key in HELD_OUT_KEYS if key in report.get(when, {})}


def versus_columns(bench, predictions: dict[str, dict[str, int]], reference: str):
    """Per judge: its average F1 minus `reference`'s, the 95 % paired bootstrap interval of that difference, the share
    of resamples where it is not above, and the verdicts by the 3-point margin and by the interval
    (`pb_uncertainty.versus_table`, 10 000 resamples, seed 0)."""
    from stepwiser_core.pb_uncertainty import versus_table

    return versus_table(bench, predictions, reference).set_index("judge").round(
        {f"diff_vs_{reference}": 1, "ci95_low": 1, "ci95_high": 1, "share_not_above": 3})


def main() -> None:
    import pandas as pd
    import torch

    from stepwiser_core import faithfulness, judges, processbench
    from stepwiser_core.config import load_config
    from stepwiser_core.generation import Sampling
    from stepwiser_core.instruct import CAREFUL_JUDGMENT_PREFIX, glance_share
    from stepwiser_core.io import read_json
    from stepwiser_core.models import load_model
    from stepwiser_core.rollouts import RolloutEngine
    from stepwiser_core.stages import ProcessBenchConfig
    from stepwiser_core.tables import write_table
    from stepwiser_core.world.problems import generate_problems

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--only", nargs="*", default=None, help="registry judges to audit (default: every generative one)")
    ap.add_argument("--judge", action="append", default=[], metavar="NAME=DIR", help="an extra CoT judge")
    ap.add_argument("--careful", action="append", default=[], metavar="NAME=DIR",
                    help="a CoT judge whose every answer is started with 'Analysis: Redo:' (a diagnostic, NOT the "
                    "paper): the careful strategy of a judge that also holds a rubber stamp, scored alone")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dump", metavar="CSV", help="also write every audited step, with the judge's output, here")
    ap.add_argument("--table", metavar="NAME", help="write the scores of the judges audited here, with the share of "
                    "correct steps passed and of first errors caught, to results/<tier>/04_processbench/NAME.{csv,md}")
    ap.add_argument("--versus", metavar="NAME", help="with --table: each judge's average F1 minus NAME's, with a 95 %% "
                    "paired, stratified bootstrap interval over the benchmark's records (`pb_uncertainty`)")
    ap.add_argument("--build-benchmark", action="store_true",
                    help="build 04's toy ProcessBench into its run folder if it is not there (needs 00 and 01)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = load_config(ProcessBenchConfig, ROOT / "params" / args.tier / "04_processbench.yaml", {}, args.tier)
    tier_runs = ROOT / cfg.runs_root / args.tier
    registry_file = tier_runs / "03_judge_training" / "judges.json"
    registry = read_json(registry_file) if registry_file.exists() or args.only != ["none"] else {}
    paths = {name: ROOT / e["path"] for name, e in registry.items()
             if e["kind"] == "cot" and (args.only is None or name in args.only)}
    paths.update(dict(spec.split("=", 1) for spec in args.judge))
    careful = dict(spec.split("=", 1) for spec in args.careful)
    paths.update(careful)
    if args.versus and (not args.table or args.versus not in paths):
        ap.error(f"--versus needs --table and one of the judges scored here as NAME (have: {sorted(paths)})")
    bench_dir = tier_runs / "04_processbench" / "toy_processbench"
    if args.build_benchmark and not bench_dir.exists():
        from stepwiser_core.pb_stage import toy_benchmark

        processbench.save_processbench(toy_benchmark(cfg, tier_runs), bench_dir)
    bench = processbench.load_processbench(bench_dir)
    problems = {p.text: p for p in generate_problems(cfg.seed, cfg.problems_per_subset, split="processbench")}
    records = [r for recs in bench.values() for r in recs]
    subset_of = {r.id: name for name, recs in bench.items() for r in recs}

    rows, scores, predictions = [], [], {}
    for name, path in paths.items():
        model, tokenizer = load_model(path)
        backend = RolloutEngine(model, tokenizer, max_batch_rows=cfg.gen_batch_size, desc=name)
        judge = judges.GenerativeJudge(backend, tokenizer, cfg.judge_template, True,
                                       Sampling(cfg.judge_max_new_tokens, 0.0, 1, cfg.seed),
                                       response_prefix=CAREFUL_JUDGMENT_PREFIX if name in careful else "")
        verdicts = judges.judge_records(judge, records)
        predictions[name] = {rid: processbench.first_negative_index(v) for rid, v in verdicts.items()}
        result = processbench.score(bench, predictions[name])
        scores.append({"judge": name, **{s: round(v["f1"], 1) for s, v in result["subsets"].items()},
                       "average_f1": round(result["average_f1"], 1),
                       "rubber_stamps": round(glance_share([o[0] for o in judge.last_outputs]), 3)})
        rows += faithfulness.benchmark_step_rows(name, records, problems, [o[0] for o in judge.last_outputs])
    for row in rows:
        row["subset"] = subset_of[row["id"]]

    score_table = pd.DataFrame(scores)
    causes = faithfulness.false_negative_causes(rows)
    missed = faithfulness.missed_error_causes(rows)
    by_position = faithfulness.positive_rate_by_position(rows)
    consistent = faithfulness.self_consistent_errors(rows)
    print("F1 (greedy)\n", score_table.to_string(index=False))
    print("correct steps judged Positive, by position\n", by_position.round(3).to_string(index=False))
    print("false Negatives on correct steps, by cause\n", causes.round(3).to_string(index=False))
    print("missed errors (first wrong steps not judged Negative), by cause\n", missed.round(3).to_string(index=False))
    print("errors that are self-consistent judgments (what a consistency gate cannot see)\n",
          consistent.round(3).to_string(index=False))
    if args.dump:
        pd.DataFrame(rows).to_csv(args.dump, index=False)
    if args.table:
        passed = causes.set_index("judge")["positive_rate"].rename("correct_steps_passed")
        caught = missed.set_index("judge")["negative_rate"].rename("first_errors_caught")
        summary = score_table.join(passed, on="judge").join(caught, on="judge")
        summary = summary.join(pd.DataFrame({name: held_out_columns(Path(path)) for name, path in paths.items()}).T,
                               on="judge")
        if args.versus:
            summary = summary.join(versus_columns(bench, predictions, args.versus), on="judge")
        write_table(summary, ROOT / cfg.results_root / args.tier / "04_processbench", args.table)
    if not args.no_write and not args.judge and not args.careful:  # experiment judges never go into results/
        out = ROOT / cfg.results_root / args.tier / "04_processbench"
        write_table(causes, out, "step_audit_false_negatives")
        write_table(missed, out, "step_audit_missed_errors")
        write_table(by_position, out, "step_audit_positive_rate_by_position")
        write_table(consistent, out, "step_audit_self_consistent_errors")


if __name__ == "__main__":
    main()
