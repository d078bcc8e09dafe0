from stepwiser_core.stages import DataSelectionConfig

CELLS = [
("md", r"""
# 06 · Judge-based selection of training data

The paper's second use of a stepwise judge (§4.4, Table 8), a stepwise form of rejection-sampling fine-tuning: the
chunk policy writes N responses per prompt; the correct ones are kept; the judge scores every chunk of each, and a
response scores the average of its chunk scores; the highest-scoring correct response of each prompt is kept, and the
policy is fine-tuned on those. "Outcome-based selection" checks the final answer only (any correct response).

What the paper leaves open, our choices (`stepwiser_core/selection.py`, `DataSelectionConfig`): N, the prompts, a
generative judge's chunk score (ours: its greedy verdict, 1 for Positive), the ties (the earliest sample, so a tie
is a random pick, as outcome-based selection is), and the fine-tuning's hyperparameters. Beyond the paper, the toy
world's exact checker says which correct responses still hold a wrong step (a right answer by luck), so each
selector's quality is measured before any fine-tuning; and it selects too (`exact`, a DIAGNOSTIC ceiling). Besides
the paper's selectors we select with RS-FT and the zero-shot judge (the init every judge of 03 starts from).
"""),
("params", DataSelectionConfig),
("code", r"""
from IPython.display import Image, Markdown, display

from stepwiser_core import plots, selection, selection_stage
from stepwiser_core.io import atomic_write_json, read_json
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import DataSelectionConfig
from stepwiser_core.tables import to_markdown, write_table
from stepwiser_core.verify import make_verifier

stage = open_stage(DataSelectionConfig, globals())
cfg, tier_runs, run_dir, results_dir = stage.cfg, stage.tier_runs, stage.run_dir, stage.results_dir
registry = read_json(stage.input_path(cfg.judges_dir, "03_judge_training") / "judges.json")
policy_dir = stage.input_path(cfg.policy_dir, "01_segmentation", "model")
names = list(cfg.judges) or list(registry)
unknown = sorted(set(names) - set(registry))
if unknown:
    raise ValueError(f"judges {unknown} are not in 03's registry; it has {sorted(registry)}")
is_correct = make_verifier(cfg.verifier).is_correct
prompts = selection_stage.selection_prompts(cfg)
eval_problems = selection_stage.evaluation_set(cfg, tier_runs)
parts = selection_stage.Parts(run_dir, cfg)
print(f"{len(prompts)} prompts x {cfg.samples_per_prompt} responses; {len(eval_problems)} evaluation problems; "
      f"selectors: outcome{', exact' if cfg.exact_selector else ''}, {', '.join(names)}")
cfg
"""),
("md", r"""
## 1 · The candidates

`samples_per_prompt` responses per prompt from the chunk policy of 01. A prompt is *contested* when it has two or more
distinct correct responses: only there can selectors differ, so only those responses are judged.
"""),
("code", r"""
cands = parts.candidates(lambda: selection_stage.sample_candidates(cfg, policy_dir, prompts, is_correct))
contested = selection.contested(cands)
toy = cands["no_wrong_step"].notna().all()
right = cands[cands["answer_correct"]]
print(f"{len(cands)} responses, {len(right)} correct ({right['problem_id'].nunique()} prompts with one or more); "
      f"{contested['problem_id'].nunique()} contested prompts, {len(contested)} responses to judge"
      + (f"; {1 - right['no_wrong_step'].astype(bool).mean():.3f} of the correct responses hold a wrong step" if toy else ""))
"""),
("md", r"""
## 2 · Every judge scores the contested responses, and selects
"""),
("code", r"""
scores, seconds = selection_stage.judge_scores(cfg, registry, names, cands, {p.id: p.text for p in prompts}, parts)
selected = {selection.OUTCOME: selection.select(cands)}
if cfg.exact_selector and toy:
    selected[selection.EXACT] = selection.select(cands, selection.exact_scores(cands))
selected.update({name: selection.select(cands, scores[name]) for name in names})
picked = selection.selection_summary(selected) if len(selected[selection.OUTCOME]) else None
if picked is not None and toy:
    on_contested = selection.flawed_on(selected, contested["problem_id"].unique())
    picked["flawed_contested"] = picked["selector"].map(on_contested)
if picked is not None:
    picked.insert(1, "label_rule", [registry.get(n, {}).get("rule") for n in picked["selector"]])
    write_table(picked.round(4), results_dir, "selection")
    display(Markdown(to_markdown(picked, 3)))
"""),
("md", r"""
`flawed` is the share of a selector's picks that hold a wrong step although the final answer is right (toy only; its
binomial standard error beside it), `flawed_contested` the same on the contested prompts, where a choice exists.
`differs_from_outcome` counts the prompts where the selector keeps another response than outcome-based selection.

## 3 · Fine-tune the chunk policy on each selection, and evaluate it

Each selection fine-tunes a fresh copy of the chunk policy (`finetune_seeds`: every selector once per seed). Every set
has one response per prompt in the same prompt order, so with one seed the fine-tunings differ only in which response
a prompt contributes. Each fine-tuned policy answers the evaluation problems greedily ([P Table 8]) and
`eval_samples` times at temperature 1 (beyond the paper: less noise per problem). `policy` is the chunk policy as it
is, with no extra training.
"""),
("code", r"""
rows = selection_stage.fine_tune_all(cfg, policy_dir, selected, {p.id: p for p in prompts}, eval_problems,
                                     is_correct, parts, run_dir / "finetuned")
rows.to_csv(run_dir / "evaluations.csv", index=False)
"""),
("md", r"""
## 4 · Table 8, beside the paper's

Accuracy is the share of right final answers (per problem, averaged over the fine-tune seeds and samples), with its
standard error over problems; `*_vs_outcome` is the paired change against outcome-based selection over the same
problems. `sampled_no_wrong_step` (toy only): the share of temperature-1 solutions with every step right. The paper's
rows are Qwen2.5-7B-chunk, greedy, on MATH500 and NuminaMath held-out 1K (their absolute values are not comparable with
a toy world; the ordering is).
"""),
("code", r"""
table = selection.evaluation_summary(rows)
table.insert(1, "label_rule", [registry.get(n, {}).get("rule") for n in table["policy"]])
table = selection.with_paper_table8(table)
write_table(table.round(4), results_dir, "table8")
display(Markdown(to_markdown(table, 3)))
display(Image(plots.data_selection(picked if picked is not None else table.iloc[:0], table,
                                   results_dir / "selection.png")))
"""),
("md", r"""
The standard errors above are over problems. The spread over fine-tunings is the other half of the uncertainty: each
policy's temperature-1 accuracy per fine-tune seed, and its change against outcome-based selection fine-tuned with
the same seed (the same data order), with the number of seeds where it is above.
"""),
("code", r"""
seeds = selection.seed_summary(rows)
if len(seeds):
    write_table(seeds.round(4), results_dir, "by_seed")
    display(Markdown(to_markdown(seeds, 3)))
"""),
("md", r"""
## 5 · Does training the judge help the selection? Each selector against the zero-shot judge

The question notebooks 04 and 05 ask, asked of this use: each policy's change in accuracy against the policy
fine-tuned on the zero-shot judge's selection, paired over problems.
"""),
("code", r"""
if "zero_shot" in names:
    versus = selection.evaluation_summary(rows, reference="zero_shot")
    keep = ["policy"] + [c for c in versus if "_vs_zero_shot" in c]
    versus = versus.loc[versus["policy"] != "zero_shot", keep]
    write_table(versus.round(4), results_dir, "versus_zero_shot")
    display(Markdown(to_markdown(versus, 3)))
"""),
("code", r"""
import json

metrics = {"tier": cfg.tier, "seed": cfg.seed, "prompts": len(prompts), "responses": len(cands),
           "correct_responses": int(cands["answer_correct"].sum()),
           "correct_with_wrong_step": (float(1 - right["no_wrong_step"].astype(bool).mean())
                                       if toy and len(right) else None),
           "contested_prompts": int(contested["problem_id"].nunique()), "evaluation_problems": len(eval_problems),
           "evaluation_set": selection_stage.evaluation_set_name(cfg),
           "finetune_seeds": list(cfg.finetune_seeds), "judge_seconds": seconds,  # when each was made (None: unknown)
           "finetune_and_evaluation_seconds": parts.evaluation_seconds(cfg),
           "greedy": table.set_index("policy")["greedy"].to_dict(),
           "sampled": table.set_index("policy")["sampled"].to_dict() if "sampled" in table else None,
           "flawed": picked.set_index("selector")["flawed"].to_dict() if picked is not None and "flawed" in picked
           else None}
atomic_write_json(results_dir / "metrics.json", metrics)
print(json.dumps(metrics, indent=1))
"""),
("md", r"""
## Notes

- A fine-tuned policy is deleted after its evaluation (`keep_models: true` keeps them in the run folder); the
  candidates, each judge's scores and each evaluation are kept in `parts/` of the run folder (`candidates.jsonl`
  holds every response with its chunks), so an interrupted run resumes there.
- The fine-tunings continue the chunk policy with solving examples only; they are not meant to judge afterwards.
- One run is one draw of prompts and responses: `finetune_seeds` vary only the fine-tuning. On the toy tier a
  selector's change against outcome-based selection moved by up to 0.059 between draws, several times one run's
  standard error. To measure that spread, run this stage with other `seed`s and compare the runs with
  `tools/selection_draws.py` (docs/results.md, "Over five candidate draws").
- The paper's NuminaMath held-out 1K is NOT SPECIFIED; ours (`numina_heldout`) is 1,000 prompts of a held-out 1 % of
  NuminaMath-CoT (by a hash of the problem's text) that no training draw of 01, 02 or 06 ever takes. One evaluation set
  per run: Table 8's second column is a second run (`-p math500_path '' -p numina_heldout 1000 -p results_root
  OTHER`, so that its tables do not replace the first's), which reuses the first's candidates and judges' scores and
  fine-tunes again.
"""),
]
