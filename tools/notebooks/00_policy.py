from stepwiser_core.stages import PolicyConfig

CELLS = [
("md", r"""
# 00 · The toy world and the base policy

*StepWiser* (Xiong et al., 2025, arXiv 2508.19229) trains a **generative judge** of reasoning steps. Every
stage of the paper needs a policy that reasons and sometimes goes wrong, and a judge that starts from the
same base model. The paper uses Qwen2.5-{1.5B,7B}-Instruct (§4.1). No weights can be downloaded here, so
the **toy tier** builds a synthetic world where the ground truth is exact and trains a small
Qwen2-architecture model from scratch; the **paper tier** (`params/paper/`) loads an instruct model from a
local folder instead and runs the same cells.

This notebook
1. generates word problems at four difficulty levels (the analogs of ProcessBench's GSM8K, MATH,
   OlympiadBench and Omni-MATH subsets) and teacher solutions that sometimes make realistic mistakes;
2. trains the base model (TRL `SFTTrainer`) on a mixture of **solving** and **generic judging exercises**,
   the toy analog of an instruct model's training (DESIGN.md §5);
3. measures the policy (accuracy per level at greedy and temperature 1, per-step error rate, error kinds)
   and the **zero-shot judge** on the policy's own steps, labelled by the exact checker.

Run it in batch with `python -m stepwiser_core.run 00_policy --params params/toy`, or top to bottom here.
"""),
("params", PolicyConfig),
("code", r"""
import json, time
import pandas as pd
from IPython.display import Image, display

from stepwiser_core import base_policy, plots, policy_eval, judge_eval
from stepwiser_core.io import atomic_write_json
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import PolicyConfig

stage = open_stage(PolicyConfig, globals())  # validates the parameters, seeds, creates the folders
cfg, run_dir, results_dir = stage.cfg, stage.run_dir, stage.results_dir
cfg
"""),
("md", r"""
## 1 · The world

A problem is a start value and a chain of operations, told as a short story, with distractor quantities
at the harder levels. A teacher solution writes one **logical step** per operation: an explanation line,
then its equation — usually with a blank line between them, as Qwen models put blank lines around
equations (paper §3.1). Splitting on blank lines therefore yields more, less coherent pieces than logical
steps, which is what self-segmentation (notebook 01) is about.
"""),
("code", r"""
from stepwiser_core.world.problems import LEVELS
from stepwiser_core.world.solutions import render_solution
import random

train_problems, eval_problems = base_policy.make_problem_splits(cfg.seed, cfg.n_train_per_level, cfg.n_eval_per_level)
print(f"{len(train_problems)} training problems, {len(eval_problems)} held-out problems")
display(pd.DataFrame([{"level": k, "analog of": s.name, "operations": f"{s.min_ops}-{s.max_ops}",
                       "max operand": s.max_operand, "distractors": s.n_distractors} for k, s in LEVELS.items()]))
example = eval_problems[-1]
print(example.text, "\n\nanswer:", example.answer, "\n")
print(render_solution(example, random.Random(0), error_rate=0.0).text)
"""),
("md", r"""
## 2 · The training mixture and the base model

Solving examples come from the teacher, which slips on `teacher_error_rate` of its steps and carries on
from its own wrong value. Judging exercises use the judge prompt (the structure of the paper's Table 3)
on teacher chunks — never the policy's chunks and never the study's Monte-Carlo labels — with an analysis
that re-derives the step and a verdict that agrees with it only `judge_exercise_verdict_accuracy` of the
time. The base model thus starts as a well-formed but weak judge, as an instruct model does.
"""),
("code", r"""
started = time.time()
model, tokenizer, log_history = base_policy.base_model(cfg, train_problems, run_dir)
print(f"model ready in {time.time() - started:.0f} s")
"""),
("code", r"""
if len(log_history.dropna(subset=["loss"]) if "loss" in log_history else []):
    display(Image(plots.training_curve(log_history, results_dir / "training_curve.png")))
    log_history.to_csv(results_dir / "training_log.csv", index=False)
"""),
("md", r"""
## 3 · How good is the policy, and how does it go wrong?

Accuracy is the share of final answers that are right (as the paper scores with Math-Verify; here the
toy tier's exact verifier), at greedy decoding and at temperature 1 (the paper samples at T = 1 for its
rollouts, §4.1). The exact checker finds each solution's first wrong step; the **per-step error rate** is
first errors divided by the steps written up to and including the first error.
"""),
("code", r"""
from stepwiser_core.generation import Sampling, TransformersBackend
from stepwiser_core.verify import make_verifier

verifier = make_verifier("exact" if cfg.model_source == "scratch" else "math_verify")
generator = TransformersBackend(model, tokenizer, batch_size=cfg.gen_batch_size)
sampled_texts, greedy, sampled, summary = base_policy.evaluate_solving(generator, tokenizer, eval_problems, cfg, verifier)
display(summary.round(3))
display(Image(plots.accuracy_by_level(summary[summary.level != "all"], results_dir / "accuracy_by_level.png")))
"""),
("code", r"""
shares = pd.DataFrame(sorted(policy_eval.error_kind_shares(sampled).items()), columns=["kind", "share"])
display(shares.round(3))
display(Image(plots.error_kinds(shares, results_dir / "error_kinds.png")))
wrong = sampled[sampled.first_error.notna()].head(1)
if len(wrong):
    i = eval_problems.index(next(p for p in eval_problems if p.id == wrong.problem_id.iloc[0]))
    print(eval_problems[i].text, "\n"); print(sampled_texts[i][int(wrong["sample"].iloc[0])])
    print("\nfirst error:", wrong[["first_error", "error_kind"]].to_dict("records")[0])
"""),
("md", r"""
## 4 · The zero-shot judge

The judge starts from this same base model (paper §4.1). We ask it to judge the policy's own chunks —
every chunk up to and including each solution's first error, so the history is always correct, as in
ProcessBench's sequential evaluation — on a balanced set of correct and wrong chunks. It should follow
the format (an analysis, then `\boxed{Positive}` or `\boxed{Negative}`) but judge weakly: making it good
is the job of notebook 03.
"""),
("code", r"""
items = base_policy.zero_shot_judge_items(eval_problems, sampled_texts, cfg.seed, cfg.judge_items_per_class)
judge_outputs = base_policy.run_judge(generator, tokenizer, items,
                                      Sampling(cfg.judge_max_new_tokens, cfg.judge_temperature, 1, cfg.seed), cfg.judge_template)
judged = judge_eval.score_judgments(items, judge_outputs)
print(f"{len(items)} items; format rate {judged.parsed.mean():.3f}; step accuracy {judged.correct.mean():.3f}")
display(Image(plots.judge_confusion(judged, results_dir / "zero_shot_judge.png", "Zero-shot judge (balanced items)")))
print(judge_outputs[0] if judge_outputs else "(no items: the policy's chunks were all right or all wrong)")
"""),
("code", r"""
from stepwiser_core.tables import write_table

metrics = {"tier": cfg.tier, "seed": cfg.seed, **base_policy.policy_metrics(greedy, sampled, judged)}
atomic_write_json(results_dir / "metrics.json", metrics)
write_table(summary, results_dir, "accuracy_by_level")
write_table(shares, results_dir, "error_kinds")
pd.concat([greedy, sampled]).to_csv(run_dir / "solutions_scored.csv", index=False)
atomic_write_json(run_dir / "eval_problems.json", [p.to_dict() for p in eval_problems])  # read by later stages
judged.to_csv(run_dir / "zero_shot_judgments.csv", index=False)
print(json.dumps(metrics, indent=1))
"""),
("md", r"""
## Notes and departures from the paper

- **The base model.** The paper starts from Qwen2.5-Instruct; the toy tier trains a small Qwen2-architecture
  model from scratch on a solving + judging-exercise mixture. Its mistakes come partly from its own limited
  arithmetic and partly from imitating a teacher that slips on `teacher_error_rate` of its steps; both are
  measured above, not assumed.
- **The zero-shot judge** has seen the judge format in generic exercises whose verdicts are right only
  `judge_exercise_verdict_accuracy` of the time, and never any of the study's labels.
- **Accuracy** is final-answer accuracy, as in the paper; `process_accuracy` additionally requires every
  step to be right (the exact checker), something the paper cannot measure.
"""),
]
