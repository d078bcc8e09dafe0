from stepwiser_core.stages import ProcessBenchConfig

CELLS = [
("md", r"""
# 04 · Finding the first wrong step: toy ProcessBench

ProcessBench (Zheng et al., 2024) gives a problem and a solution already split into steps; the label is the
index of the earliest wrong step, or −1 when every step is right. A stepwise judge judges each step with the
earlier steps as history and predicts the first step it calls Negative, or −1 (paper §4.2). Per subset the
score is the harmonic mean of the accuracy on erroneous solutions and the accuracy on correct ones; the
headline is the unweighted mean over the four subsets (the paper's Table 5).

The **toy ProcessBench** is built here the way the real one was: held-out problems in four difficulty subsets,
solutions from several generators (the base policy at three temperatures and the chunk policy), about half
with a right final answer, and labels from the exact checker, saved in ProcessBench's own schema. With
`data_dir` set (paper tier), the real benchmark is loaded instead, from the HF dataset or its JSON files.
"""),
("params", ProcessBenchConfig),
("code", r"""
from IPython.display import Image, Markdown, display

from stepwiser_core import pb_report, pb_stage, pb_uncertainty, plots, processbench, toy_processbench
from stepwiser_core.io import atomic_write_text, read_json
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import ProcessBenchConfig
from stepwiser_core.tables import write_table

stage = open_stage(ProcessBenchConfig, globals())
cfg, tier_runs, run_dir, results_dir = stage.cfg, stage.tier_runs, stage.run_dir, stage.results_dir
judges_dir = stage.input_path(cfg.judges_dir, "03_judge_training")
registry = read_json(judges_dir / "judges.json")
cfg
"""),
("md", r"""
## 1 · The benchmark
"""),
("code", r"""
if cfg.data_dir:
    bench = processbench.load_processbench(cfg.data_dir)
else:
    bench = pb_stage.toy_benchmark(cfg, tier_runs)
    processbench.save_processbench(bench, run_dir / "toy_processbench")
    pb_stage.check_benchmark_unseen(bench, registry, pb_stage.judges_labels_dir(judges_dir))  # never trained on
stats = toy_processbench.benchmark_stats(bench)
write_table(stats, results_dir, "benchmark_stats")
stats.round(3)
"""),
("md", r"""
## 2 · Every judge of notebook 03, and the zero-shot base

Generative judges decode greedily (the paper does not say); the StepWiser judges are also run with
majority voting over `maj_k` samples at temperature `maj_temperature` (paper Table 5, Maj@8). The
discriminative judges score each step by P(+) against P(−). An unparseable verdict counts as Negative.
"""),
("code", r"""
table, all_predictions = pb_stage.score_judges(registry, bench, cfg)
write_table(table, results_dir, "table", digits=1)
for name, predictions in all_predictions.items():
    processbench.write_predictions(predictions, run_dir / "predictions" / f"{name}.jsonl")
"""),
("md", r"""
## 3 · Results beside the paper's Table 5

The paper's rows are Qwen2.5-1.5B-chunk (Table 5) and its 1.5B ablations (Table 6), the scale nearest ours.
Absolute numbers are not comparable (a toy world, a ~2M-parameter judge); what can be compared is the
ordering of methods and label rules.
"""),
("code", r"""
subsets = list(bench)
kinds = {name: entry["kind"] for name, entry in registry.items()}
markdown = pb_report.table5_markdown(table, kinds, subsets)
atomic_write_text(results_dir / "table5.md", markdown)
display(Markdown(markdown))
display(Image(plots.processbench_f1(table, results_dir / "f1_by_subset.png")))
"""),
("md", r"""
## 4 · Which differences this benchmark can resolve

The acceptance asks whether each StepWiser judge beats the zero-shot base. The study's counts call a judge
*level* when it is within 3 points of it. Here each judge's difference from the zero-shot judge also gets a 95 %
paired, stratified bootstrap interval over the benchmark's records (`pb_uncertainty`): how large a gap a benchmark
of this size can tell from the luck of which problems it holds. It does not cover the training seed, which moves a
judge more (the GRPO seed tables in the README).
"""),
("code", r"""
versus = pb_uncertainty.versus_table(bench, all_predictions, "zero_shot", seed=cfg.seed)
write_table(versus, results_dir, "versus_zero_shot", digits=3)
versus.round(1)
"""),
("code", r"""
import json
from stepwiser_core.io import atomic_write_json

averages = table[table.subset == "average"].set_index("judge")
metrics = {"tier": cfg.tier, "seed": cfg.seed, "records": sum(len(recs) for recs in bench.values()),
           "average_f1": averages["f1"].to_dict(),
           "best_judge": averages["f1"].idxmax() if averages["f1"].notna().any() else None}
atomic_write_json(results_dir / "metrics.json", metrics)
print(json.dumps(metrics, indent=1))
"""),
("md", r"""
## Notes

- Every prediction file is in the CLI's format; any of them can be re-scored with
  `python -m stepwiser_core.processbench score --data runs/toy/04_processbench/toy_processbench --predictions FILE --out OUT.json`.
- Steps are judged all at once with the record's own earlier steps as history, which gives the same
  prediction as judging sequentially and stopping at the first Negative (see `judges.judge_records`).
- One seed here; the StepWiser judges over three GRPO seeds: `python tools/grpo_seeds.py` (README).
"""),
]
