from stepwiser_core.stages import InferenceSearchConfig

CELLS = [
("md", r"""
# 05 · Chunk-reset reasoning: a judge at inference time

The paper's first use of a stepwise judge (§4.4, Table 7): the chunk policy writes one chunk at a time; the judge
reads it with the problem and the accepted chunks; a Positive chunk is kept, a Negative one is thrown away and
drawn again from the same prefix, up to 5 attempts. The accepted solution stays about as long as the policy's own,
while the rejected chunks are extra compute spent at inference. Table 7 reports the final-answer accuracy and the
accepted and rejected lengths for the policy alone, Disc + SFT and StepWiser judges.

What the paper leaves open, our choices (`stepwiser_core/search.py`): the 5 attempts include the first draw; when
all are rejected the last is kept (counted as `exhausted`); an unparseable verdict rejects. Besides the paper's rows
we search with the zero-shot judge (the init every judge of 03 starts from), RS-FT, and, on the toy tier, the exact
checker as the judge (`exact`, a DIAGNOSTIC ceiling: what a perfect judge would buy with these attempts).
"""),
("params", InferenceSearchConfig),
("code", r"""
from IPython.display import Image, Markdown, display

from stepwiser_core import plots, search, search_stage
from stepwiser_core.io import atomic_write_json, read_json
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import InferenceSearchConfig
from stepwiser_core.tables import to_markdown, write_table

stage = open_stage(InferenceSearchConfig, globals())
cfg, tier_runs, run_dir, results_dir = stage.cfg, stage.tier_runs, stage.run_dir, stage.results_dir
registry = read_json(stage.input_path(cfg.judges_dir, "03_judge_training") / "judges.json")
policy_dir = stage.input_path(cfg.policy_dir, "01_segmentation", "model")
problems = search_stage.search_problems(cfg, tier_runs)
names = search_stage.judge_names(registry, problems, cfg.exact_judge)
print(f"{len(problems)} problems x {cfg.samples_per_problem} searches, judges: {', '.join(names)}")
cfg
"""),
("md", r"""
## 1 · Every search

Each judge searches the same problems from the same seed: the first chunk of every search is the same draw for every
judge; after that each judge's rejections change which searches draw what, so later draws differ between judges. One
row per search in `searches.csv` (in the run folder).
"""),
("code", r"""
rows, best_rows, seconds = search_stage.run_searches(cfg, registry, problems, policy_dir, names)
rows.to_csv(run_dir / "searches.csv", index=False)
best_rows.to_csv(run_dir / "best_of_n.csv", index=False)
"""),
("md", r"""
## 2 · Table 7, beside the paper's

Accuracy is the share of searches whose final answer is right, with its standard error over problems; `vs_none` is
the paired change against the policy alone over the same problems. Lengths are in tokens per search. The paper's
rows are Qwen2.5-1.5B-chunk on MATH500 (their absolute values are not comparable with a toy world; the ordering is).
`no_wrong_step` (beyond the paper, toy only): the share of searches that finished with every step right.
"""),
("code", r"""
table = search.search_summary(rows)
table.insert(1, "label_rule", [registry.get(n, {}).get("rule") for n in table["judge"]])
table = search.with_paper_table7(table)
write_table(table.round(4), results_dir, "table7")
display(Markdown(to_markdown(table, 3)))
"""),
("md", r"""
## 3 · Best-of-N, beside chunk-reset (beyond the paper)

The other way to spend a judge at inference: the policy alone writes `samples_per_problem` solutions (the `none`
searches above); each judge scores each solution by the share of its chunks it calls Positive and keeps the best
(the first of equals). References without a judge: `pass@1` (a random pick's expected accuracy), `majority` (the
answer most solutions give) and `pass@N` (any solution right: what a perfect selector reaches). `vs_baseline` is the
paired change against a random pick (`pass@1`) over the same problems.
"""),
("code", r"""
best = search.best_of_n_summary(best_rows) if len(best_rows) else None
if best is not None:
    write_table(best.round(4), results_dir, "best_of_n")
    display(Markdown(to_markdown(best, 3)))
display(Image(plots.search_accuracy(table, best, results_dir / "accuracy.png")))
"""),
("md", r"""
## 4 · Does training the judge help at inference? Each judge against the zero-shot one

The question notebook 04 asks of the benchmark, asked of both uses: every judge's change in accuracy against the
zero-shot judge (the init every judge of 03 starts from), paired over problems, with its standard error.
"""),
("code", r"""
if "zero_shot" in names:
    versus = search.versus_judge(rows, best_rows, "zero_shot")
    write_table(versus.round(4), results_dir, "versus_zero_shot")
    display(Markdown(to_markdown(versus, 3)))
"""),
("code", r"""
import json

metrics = {"tier": cfg.tier, "seed": cfg.seed, "problems": len(problems), "searches_per_judge": len(rows) // len(names),
           "accuracy": table.set_index("judge")["accuracy"].to_dict(),
           "vs_none": table.set_index("judge")["vs_baseline"].to_dict(), "seconds": seconds,
           "best_of_n": None if best is None else best.set_index("judge")["accuracy"].to_dict()}
atomic_write_json(results_dir / "metrics.json", metrics)
print(json.dumps(metrics, indent=1))
"""),
("md", r"""
## Notes

- The policy samples on our engine, which stops at the `</chunk>` token; a tokenizer that spells `</chunk>` with
  several tokens (an instruct model's, the paper tier) needs stop strings, which are not wired yet (vLLM's `stop`).
- A rejected chunk's tokens are the compute the judge adds at inference; the judge's own tokens are not counted
  (nor are they in the paper's Table 7).
- One seed; the searches' spread over problems is the standard error shown. Another draw of the searches is
  `-p seed S`; `tools/search_seeds.py` sets several seeds' tables side by side and pools their `searches.csv`
  (this run folder's) over problems. The judges stay 03's, one per rule: their own seed is another question.
"""),
]
