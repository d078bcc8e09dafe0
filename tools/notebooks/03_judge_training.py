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
| `zero_shot` | the initial model as it is | (our baseline row) |

Every judge is measured on chunks of **held-out problems**, against its rollout labels *and* against the
exact truth, which the paper cannot do; and every generative judge's rationales are checked for
faithfulness (§6). Notebook 04 evaluates all of them on the first-error benchmark.
"""),
("params", JudgeTrainingConfig),
("code", r"""
from pathlib import Path
import json, random
import pandas as pd
from datasets import load_from_disk
from IPython.display import Image, display

from stepwiser_core import faithfulness, judge_rl, judge_stage, judges, plots
from stepwiser_core.config import config_from_namespace
from stepwiser_core.generation import Sampling, TransformersBackend
from stepwiser_core.io import atomic_write_json
from stepwiser_core.models import load_model, save_model
from stepwiser_core.paths import enter_project_root
from stepwiser_core.seeding import seed_everything
from stepwiser_core.stages import JudgeTrainingConfig
from stepwiser_core.tables import write_table

enter_project_root()
cfg = config_from_namespace(JudgeTrainingConfig, globals())
seed_everything(cfg.seed)
tier_runs = Path(cfg.runs_root) / cfg.tier
run_dir, results_dir = tier_runs / "03_judge_training", Path(cfg.results_root) / cfg.tier / "03_judge_training"
run_dir.mkdir(parents=True, exist_ok=True); results_dir.mkdir(parents=True, exist_ok=True)
init_dir = Path(cfg.judge_init_dir or tier_runs / "01_segmentation" / "model")
labels_dir = Path(cfg.labels_dir or tier_runs / "02_rollout_labels")
records = list(load_from_disk(str(labels_dir / f"stepwise_{cfg.segmentation}")))
train_records, heldout_records = judge_stage.split_by_problem(records, cfg.heldout_share, cfg.seed)
items_eval = judge_stage.eval_items(heldout_records, cfg.rules, cfg.eval_items_per_class, cfg.seed)
print(f"{len(records)} labelled trajectories: {len(train_records)} for training, {len(heldout_records)} held out; "
      f"{len(items_eval)} held-out evaluation chunks (balanced by the true label)")
cfg
"""),
("md", r"""
## 1 · Training items and balancing

Every labelled chunk of a training trajectory is one RL prompt, with the trajectory's earlier chunks as
its history (paper §3.3). The majority label is down-sampled to 50/50 (`balance`), which the paper calls
essential for stable RL.
"""),
("code", r"""
after = None if cfg.max_steps_after_error < 0 else cfg.max_steps_after_error
train_items = {rule: judge_rl.judge_items_from_records(train_records, rule, after) for rule in cfg.rules}
balanced = {rule: judge_rl.balance(items, cfg.seed, cfg.balance) for rule, items in train_items.items()}
paper_share = {"abs_q": 0.702, "rel_ratio": 0.565}  # [P §4.1, App. A.4] positive shares before balancing
balance_table = pd.DataFrame([{"rule": r, "items": len(train_items[r]),
                               "positive_share": judge_rl.label_shares(train_items[r])["positive_share"],
                               "paper_positive_share": paper_share.get(r, float("nan")),
                               "items_after_balancing": len(balanced[r])} for r in cfg.rules])
write_table(balance_table, results_dir, "training_items")
balance_table.round(3)
"""),
("md", r"""
## 2 · The zero-shot judge (the starting point of every judge below)
"""),
("code", r"""
init_model, tokenizer = load_model(init_dir)
def generative(model, cot=True, n=1, temperature=0.0, max_new_tokens=None):
    backend = TransformersBackend(model, tokenizer, batch_size=cfg.gen_batch_size, progress=False)
    return judges.GenerativeJudge(backend, tokenizer, cfg.judge_template, cot,
                                  Sampling(max_new_tokens or cfg.max_completion_length, temperature, n, cfg.seed))

scored, faith_rows = {}, []
def evaluate(name, judge):
    scored[name] = judge_stage.evaluate_judge(judge, items_eval, cfg.rules, name)
    if isinstance(judge, judges.GenerativeJudge):
        faith_rows.extend(faithfulness.faithfulness_rows(name, judge_stage.as_judge_items(items_eval),
                                                         [o[0] for o in judge.last_outputs]))
    return judge_stage.accuracy_summary(scored[name], cfg.rules)

print(evaluate("zero_shot", generative(init_model)))
"""),
("md", r"""
## 3 · GRPO: StepWiser for each label rule, and the ablations

Each run starts from the same initial model. Logged per step: training reward, policy entropy and the
share of groups whose 4 verdicts all agree (zero advantage, so no gradient); every `eval_every` steps,
held-out step accuracy against the run's own labels and against the truth. Choices the paper leaves open
(`JudgeTrainingConfig`): no KL term, rollout temperature 1, a constant learning rate.
"""),
("code", r"""
histories = []
def train_grpo(name, rule, cot=True, epsilon_high=cfg.epsilon_high):
    model, _ = load_model(init_dir)
    data = judge_rl.rl_dataset(balanced[rule], tokenizer, cfg.judge_template, cot=cot)
    settings = judge_rl.GRPOSettings(
        learning_rate=cfg.learning_rate, max_steps=cfg.max_steps, batch_size=cfg.batch_size,
        num_generations=cfg.num_generations, epsilon_low=cfg.epsilon_low, epsilon_high=epsilon_high, beta=cfg.beta,
        temperature=cfg.temperature, max_completion_length=cfg.max_completion_length, seed=cfg.seed)
    eval_fn = judge_stage.generative_eval_fn(tokenizer, items_eval, cfg.rules, cfg.judge_template, cot,
                                             cfg.max_completion_length, cfg.gen_batch_size, cfg.seed)
    log = judge_rl.grpo_train(model, tokenizer, data, settings, run_dir / "trainer" / name,
                              reward="cot" if cot else "direct", eval_fn=eval_fn, eval_every=cfg.eval_every)
    frame = judge_rl.history_frame(log).assign(run=name)
    frame["eval_acc_label"] = frame.get(f"eval_acc_{rule}")
    histories.append(frame)
    save_model(model, tokenizer, run_dir / "judges" / name)
    return model

trained = {}
for rule in cfg.rules:
    trained[f"stepwiser_{rule}"] = train_grpo(f"stepwiser_{rule}", rule)
if cfg.run_no_clip_higher:
    trained["no_clip_higher"] = train_grpo("no_clip_higher", cfg.ablation_rule, epsilon_high=cfg.epsilon_low)
if cfg.run_no_cot:
    trained["no_cot"] = train_grpo("no_cot", cfg.ablation_rule, cot=False)
history = pd.concat(histories, ignore_index=True)
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
from stepwiser_core.instruct import Example
from stepwiser_core.training import SFTSettings, sft_train

sft_settings = lambda steps: SFTSettings(cfg.sft_learning_rate, cfg.sft_batch_size, steps, completion_only_loss=True)
if cfg.run_rs_ft:
    pool = random.Random(cfg.seed).sample(balanced[cfg.ablation_rule], min(cfg.rsft_items, len(balanced[cfg.ablation_rule])))
    queries = [judges.JudgeQuery(it["problem"], it["history"], it["chunk"]) for it in pool]
    sampler = generative(init_model, n=cfg.rsft_samples, temperature=1.0)
    sampler.judge(queries)
    rs_examples = judges.rs_ft_examples(queries, sampler.last_outputs, [it["label"] for it in pool], cfg.judge_template)
    print(f"RS-FT: kept {len(rs_examples)} of {len(pool) * cfg.rsft_samples} sampled judgments")
    model, _ = load_model(init_dir)
    if rs_examples:  # none can survive when the initial judge never writes a parsable verdict (smoke models)
        sft_train(model, tokenizer, rs_examples, sft_settings(cfg.rsft_max_steps), run_dir / "trainer" / "rs_ft", cfg.seed)
    save_model(model, tokenizer, run_dir / "judges" / "rs_ft"); trained["rs_ft"] = model
disc = {}
if cfg.run_disc_sft:
    for rule in cfg.rules:
        model, _ = load_model(init_dir)
        conversations = judges.disc_sft_examples(train_records, rule)
        if conversations:
            judges.disc_sft_train(model, tokenizer, conversations, sft_settings(cfg.disc_max_steps),
                                  run_dir / "trainer" / f"disc_sft_{rule}", cfg.seed)
        save_model(model, tokenizer, run_dir / "judges" / f"disc_sft_{rule}"); disc[f"disc_sft_{rule}"] = model
"""),
("md", r"""
## 5 · Every judge on held-out chunks

Step accuracy on balanced held-out chunks (chance = 0.5) against the exact truth, and against each rule's
rollout labels; `format_rate` is the share of parsable verdicts (unparseable counts as wrong).
"""),
("code", r"""
rows = []
for name, model in trained.items():
    rows.append({"judge": name, **evaluate(name, generative(model, cot=name != "no_cot"))})
for name, model in disc.items():
    rows.append({"judge": name, **evaluate(name, judges.DiscriminativeJudge(model, tokenizer))})
rows.insert(0, {"judge": "zero_shot", **judge_stage.accuracy_summary(scored["zero_shot"], cfg.rules)})
summary = pd.DataFrame(rows)
write_table(summary, results_dir, "heldout_step_accuracy")
pd.concat(scored.values(), ignore_index=True).to_csv(run_dir / "heldout_verdicts.csv", index=False)
display(Image(plots.judge_accuracy(summary, results_dir / "heldout_step_accuracy.png")))
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
faith = faithfulness.faithfulness_table(faith_rows)
write_table(faith, results_dir, "faithfulness")
faith.round(3)
"""),
("code", r"""
registry = {name: {"path": str(run_dir / "judges" / name), "kind": "direct" if name == "no_cot" else "cot",
                   "rule": name.removeprefix("stepwiser_") if name.startswith("stepwiser_") else cfg.ablation_rule}
            for name in trained}
registry.update({name: {"path": str(run_dir / "judges" / name), "kind": "disc", "rule": name.removeprefix("disc_sft_")}
                 for name in disc})
registry["zero_shot"] = {"path": str(init_dir), "kind": "cot", "rule": None}
atomic_write_json(run_dir / "judges.json", registry)  # read by notebook 04
final = history.groupby("run").last(numeric_only=True)
metrics = {
    "tier": cfg.tier, "seed": cfg.seed, "segmentation": cfg.segmentation,
    "heldout_step_accuracy": {r["judge"]: {k: r[k] for k in ("acc_truth", "format_rate", *[f"acc_{x}" for x in cfg.rules])}
                              for r in summary.to_dict("records")},
    "grpo_final": {run: {k: float(final.loc[run, k]) for k in ("reward", "entropy", "zero_std_share") if k in final}
                   for run in final.index},
    "training_items": balance_table.to_dict("records"),
}
atomic_write_json(results_dir / "metrics.json", metrics)
print(json.dumps(metrics["heldout_step_accuracy"], indent=1))
"""),
("md", r"""
## Notes and departures from the paper

- **Scale.** The paper runs 800 GRPO steps of 1024 prompts at lr 1e-6 on 7B models (5 days on 8 A100s);
  the toy tier runs `max_steps` steps of `batch_size / 4` prompts at a learning rate suited to a
  from-scratch model of ~2M parameters. One seed; the seeded ablation grid is a later notebook.
- **Evaluation temperature**: greedy (NOT SPECIFIED by the paper for single-sample evaluation).
- **RS-FT** samples and hyperparameters are NOT SPECIFIED by the paper; ours are in the parameters cell.
- **Disc + SFT** data is not balanced (NOT SPECIFIED by the paper).
"""),
]
