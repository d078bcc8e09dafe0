from stepwiser_core.stages import JudgeTrainingConfig

CELLS = [
("md", r"""
# 03 · Training the StepWiser judge, and its baselines

The judge reads a problem, the accepted chunks so far and one new chunk, writes an analysis, then
`\boxed{Positive}` or `\boxed{Negative}` (paper §3.3, Table 3). It starts from the chunk policy of notebook
01 and is trained by **GRPO** on the rollout labels of notebook 02: group size 4, clip-higher
(ε_low = 0.2, ε_high = 0.28), reward 1 when the verdict matches the label, classes balanced 50/50.

This notebook trains, from the same initial model and the same labels:

| judge | what | paper |
|---|---|---|
| `stepwiser_<rule>` | generative CoT judge + GRPO, one per label rule | Table 5, "StepWiser" |
| `no_clip_higher` | the same without clip-higher (ε_high = ε_low), for `ablation_rule` | §4.1, Fig. 4 |
| `no_cot` | verdict only, + GRPO, format penalty −1 | Table 6, "− CoT" |
| `rs_ft` | rejection-sampling fine-tuning of the CoT judge instead of RL | Table 6, "− RL" |
| `disc_sft_<rule>` | discriminative multi-turn `+`/`−` judge, SFT | Table 5, "Discriminative + SFT" |
| `zero_shot` | the initial model as it is (after the toy warm-up, §2) | (our baseline row) |

Every judge is measured on chunks of **held-out problems**, against its rollout labels *and* against the
exact truth, which the paper cannot do; and every generative judge's rationales are checked for
faithfulness (§6). Notebook 04 evaluates all of them on the first-error benchmark.
"""),
("params", JudgeTrainingConfig),
("code", r"""
from IPython.display import Image, display

from stepwiser_core import faithfulness, judge_runs, plots
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import JudgeTrainingConfig
from stepwiser_core.tables import write_table

stage = open_stage(JudgeTrainingConfig, globals())
cfg, run_dir, results_dir = stage.cfg, stage.run_dir, stage.results_dir
init_dir = stage.input_path(cfg.judge_init_dir, "01_segmentation", "model")
labels_dir = stage.input_path(cfg.labels_dir, "02_rollout_labels")
cfg
"""),
("md", r"""
## 1 · Training items and balancing

Every labelled chunk of a training trajectory is one RL prompt, with the trajectory's earlier chunks as
its history (paper §3.3). The majority label is down-sampled to 50/50 (`balance`), which the paper calls
essential for stable RL.
"""),
("code", r"""
train_records, heldout_records, items_eval = judge_runs.load_split(labels_dir, cfg)
print(f"{len(train_records) + len(heldout_records)} labelled trajectories: {len(train_records)} for training, "
      f"{len(heldout_records)} held out; {len(items_eval)} held-out evaluation chunks (balanced by the true label, "
      f"or by the {cfg.ablation_rule} label where the records have no truth)")
train_items, balanced, balance_table = judge_runs.training_sets(train_records, cfg)
write_table(balance_table, results_dir, "training_items")
balance_table.round(3)
"""),
("md", r"""
## 2 · The zero-shot judge (the starting point of every judge below)

**Toy tier only, not the paper:** the paper's judge starts from an instruct model that can already judge a
little. Our chunk policy learned a judging format in notebook 00, but on its own chunks that skill carries no
signal: it copies the chunk's equation into its "Check" and answers "Match" by its prior (docs/judge_study.md,
"Earlier runs of 03"). With `judge_warmup_steps` > 0 the initial model is first fine-tuned on generic judging exercises
(teacher solutions, half of them judging a wrong chunk, verdicts agreeing with the analysis
`judge_warmup_verdict_accuracy` of the time) in the analysis `judge_warmup_style` names. The toy tier's is
"lines": redo each result line of the chunk exactly as a solution writes it, quote the chunk's own line under
it, say whether the two match, stop at the first mismatch (`instruct.lines_analysis`). The exercises never see the policy's chunks or the rollout labels, so the warmed model is still the
zero-shot baseline. The paper tier sets `judge_warmup_steps: 0`.
"""),
("code", r"""
from stepwiser_core.io import read_json
from stepwiser_core.models import load_model

eval_problems_file = stage.tier_runs / "00_policy" / "eval_problems.json"  # 00's held-out problems stay unseen too
exclude = [p["text"] for p in read_json(eval_problems_file)] if eval_problems_file.exists() else []
init_model, tokenizer = load_model(init_dir)
evaluation = judge_runs.HeldoutEvaluation(items_eval, tokenizer, cfg)
if cfg.judge_warmup_steps > 0:  # the chunk policy's own judging skill, to show what the warm-up changes
    print("before the warm-up:", evaluation.evaluate("init_before_warmup", evaluation.generative(init_model)))
init_dir = judge_runs.warm_up_judge(init_dir, cfg, run_dir, exclude)
print("every judge starts from", init_dir)
init_model, tokenizer = load_model(init_dir)
print(evaluation.evaluate("zero_shot", evaluation.generative(init_model)))
"""),
("md", r"""
## 3 · GRPO: StepWiser for each label rule, and the ablations

Each run starts from the same initial model. Logged per step: training reward, policy entropy and the
share of groups whose 4 verdicts all agree (zero advantage, so no gradient); every `eval_every` steps,
held-out step accuracy against the run's own labels and against the truth, and the first-error F1 on
`eval_first_error_records` whole held-out trajectories (what notebook 04 measures). Choices the paper leaves
open (`JudgeTrainingConfig`): the KL weight `beta` (0 by default, 0.04 on the toy tier), rollout temperature 1,
a constant learning rate.
"""),
("code", r"""
from stepwiser_core.judge_stage import first_error_records

first_error = first_error_records(heldout_records, cfg.eval_first_error_records, cfg.seed)
trained, history = judge_runs.train_grpo_judges(balanced, items_eval, tokenizer, cfg, init_dir, run_dir, first_error)
history.to_csv(results_dir / "grpo_history.csv", index=False)
display(Image(plots.grpo_curves(history, results_dir / "grpo_curves.png")))
"""),
("md", r"""
## 4 · Baselines trained by supervised learning

**RS-FT** (the "− RL" ablation): sample `rsft_samples` judgments per training chunk from the initial judge,
keep those whose verdict matches the label, fine-tune on them once (offline). **Discriminative + SFT**
(App. A.1): the multi-turn format where each user turn is a step and the assistant answers `+` or `-`; the
loss is on those tokens only; the step score is P(+) against P(−).
"""),
("code", r"""
if cfg.run_rs_ft:
    trained["rs_ft"], kept, sampled = judge_runs.train_rs_ft(balanced[cfg.ablation_rule], evaluation, init_model,
                                                             tokenizer, cfg, init_dir, run_dir)
    print(f"RS-FT: kept {kept} of {sampled} sampled judgments")
disc = judge_runs.SavedJudges(run_dir / "judges")  # saved judges, loaded one at a time when read
for rule in cfg.rules if cfg.run_disc_sft else []:
    disc[f"disc_sft_{rule}"] = judge_runs.train_disc_sft(rule, train_records, tokenizer, cfg, init_dir, run_dir)
"""),
("md", r"""
## 5 · Every judge on held-out chunks

Step accuracy on balanced held-out chunks (chance = 0.5) against the exact truth, and against each rule's
rollout labels; `format_rate` is the share of parsable verdicts (unparseable counts as wrong). Labels from
NuminaMath prompts (the paper tier) have no exact truth: there the chunks are balanced by `ablation_rule`'s rollout
label, the accuracies against the truth are NaN, and the figure shows the accuracy against that label.
"""),
("code", r"""
summary = judge_runs.heldout_summary(evaluation, trained, disc, tokenizer)
write_table(summary, results_dir, "heldout_step_accuracy")
evaluation.verdicts().to_csv(run_dir / "heldout_verdicts.csv", index=False)
display(Image(plots.judge_accuracy(summary, results_dir / "heldout_step_accuracy.png",
                                   label_column=f"acc_{cfg.ablation_rule}")))
summary.round(3)
"""),
("md", r"""
## 6 · Beyond the paper: are the rationales faithful?

The RL reward looks only at the verdict; reviewers asked whether the analysis means anything. In the toy
world it can be checked: `computation_correct` is whether the computation the analysis re-derives is
itself right for the step the chunk should take; `verdict_consistent` is whether the verdict follows from
the analysis's own conclusion ("Match: yes/no"); `right_for_wrong_reason` is the share of correct verdicts
whose re-derivation is wrong. Rates are over the held-out items, before (zero-shot) and after training.
"""),
("code", r"""
faith = faithfulness.faithfulness_table(evaluation.faith_rows)
write_table(faith, results_dir, "faithfulness")
faith.round(3)
"""),
("code", r"""
import json
from stepwiser_core.io import atomic_write_json

registry = judge_runs.judge_registry(list(trained), list(disc), run_dir, init_dir, cfg.ablation_rule)
atomic_write_json(run_dir / "judges.json", registry)  # read by notebook 04
metrics = judge_runs.stage_metrics(cfg, summary, history, balance_table)
atomic_write_json(results_dir / "metrics.json", metrics)
print(json.dumps(metrics["heldout_step_accuracy"], indent=1))
"""),
("md", r"""
## Notes and departures from the paper

- **Scale.** The paper runs 800 GRPO steps of 1024 prompts at lr 1e-6 on 7B models (5 days on 8 A100s);
  the toy tier runs `max_steps` steps of `batch_size / 4` prompts at a learning rate suited to a
  from-scratch model of ~2M parameters. One seed here; `python tools/grpo_seeds.py --seeds 1 2 --ablations`
  repeats the StepWiser runs on two more seeds and runs the no-clip-higher and no-CoT ablations (README).
- **Evaluation temperature**: greedy (NOT SPECIFIED by the paper for single-sample evaluation).
- **RS-FT** samples and hyperparameters are NOT SPECIFIED by the paper; ours are in the parameters cell.
- **Disc + SFT** data is not balanced (NOT SPECIFIED by the paper).
"""),
]
