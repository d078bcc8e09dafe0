"""Does training sharpen the judge's comparison, or move a prior? Teacher-forces every judge on the same analyses
(the zero-shot judge's greedy outputs on the toy ProcessBench steps a first-error prediction depends on) and
reads P(" yes") after each "Match:", split by whether the two lines above it are identical
(`match_probe.match_yes_probabilities`, `match_probe_table`).

    python tools/match_probe.py                                   # every CoT judge of notebook 03's registry
    python tools/match_probe.py --judge NAME=DIR ...              # plus experiment judges (e.g. /tmp/grpo_seeds/...)

Writes results/toy/04_processbench/match_probe.{csv,md} unless --no-write.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from stepwiser_core import judges, match_probe, processbench
    from stepwiser_core.config import load_config
    from stepwiser_core.generation import Sampling
    from stepwiser_core.io import read_json
    from stepwiser_core.models import load_model
    from stepwiser_core.rollouts import RolloutEngine
    from stepwiser_core.stages import ProcessBenchConfig
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", action="append", default=[], metavar="NAME=DIR", help="an extra CoT judge")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = load_config(ProcessBenchConfig, ROOT / "params" / "toy" / "04_processbench.yaml", {}, "toy")
    runs = ROOT / cfg.runs_root / "toy"
    registry = read_json(runs / "03_judge_training" / "judges.json")
    paths = {name: ROOT / e["path"] for name, e in registry.items() if e["kind"] == "cot"}
    paths.update({name: Path(d) for name, d in (spec.split("=", 1) for spec in args.judge)})
    bench = processbench.load_processbench(runs / "04_processbench" / "toy_processbench")
    # the steps a first-error prediction depends on: every step of a correct solution, up to the first wrong one
    queries = [judges.JudgeQuery(r.problem, tuple(r.steps[:i]), r.steps[i]) for recs in bench.values() for r in recs
               for i in range(len(r.steps) if r.label < 0 else r.label + 1)]

    model, tokenizer = load_model(paths["zero_shot"])
    reference = judges.GenerativeJudge(RolloutEngine(model, tokenizer, max_batch_rows=cfg.gen_batch_size),
                                       tokenizer, cfg.judge_template, True,
                                       Sampling(cfg.judge_max_new_tokens, 0.0, 1, cfg.seed))
    reference.judge(queries)
    prompts, outputs = [reference.prompt(q) for q in queries], [o[0] for o in reference.last_outputs]
    rows = []
    for name, path in paths.items():
        model, tokenizer = load_model(path)
        rows += [{"judge": name, **r} for r in match_probe.match_yes_probabilities(model, tokenizer, prompts, outputs)]
        print(name, flush=True)
    table = match_probe.match_probe_table(rows)
    print(table.round(3).to_string(index=False))
    if not args.no_write:
        write_table(table, ROOT / cfg.results_root / "toy" / "04_processbench", "match_probe")


if __name__ == "__main__":
    main()
