from stepwiser_core.stages import RolloutLabelConfig

CELLS = [
("md", r"""
# 02 · Monte-Carlo rollouts and step labels

Each chunk gets a label from how it changes the chance of reaching the right answer (paper §3.2). From right
after chunk *i*, M = 16 rollouts of the policy at temperature 1 estimate **Q̂ᵢ**, the share that ends with
the right answer. Then:
- **Abs-Q**: positive iff Q̂ᵢ > 0 (Math-Shepherd's hard label);
- **Rel-Ratio**: positive iff Q̂ᵢ / Q̂ᵢ₋₁ > γ (γ = 0.8 for 1.5B);
- **Rel-Effective**: positive iff Q̂ᵢ + α·(Q^µᵢ − Q^µᵢ₋₁) > 0, with Q^µ = 1 − (1 − Q̂)ⁿ the value of best-of-n
  (n = 4, α = 0.4 for 1.5B).

What the paper leaves open, decided here: Q̂ before the first chunk is the prompt's pass rate in the
pre-filter; when Q̂ᵢ₋₁ = 0, Rel-Ratio falls back to Abs-Q (`on_zero_prev`); the final chunk's Q is its
verified outcome (no rollouts). Unlike the paper, the toy world knows the truth, so the notebook ends by
asking **how good these labels are**, how many rollouts they need, and how many an adaptive budget saves.
"""),
("params", RolloutLabelConfig),
("code", r"""
from IPython.display import Image, display

from stepwiser_core import plots, rollout_labels as rl
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import RolloutLabelConfig
from stepwiser_core.verify import make_verifier

stage = open_stage(RolloutLabelConfig, globals())
cfg, run_dir, results_dir = stage.cfg, stage.run_dir, stage.results_dir
verifier = make_verifier(cfg.verifier)
rules = rl.rules_from_config(cfg.gamma, cfg.alpha, cfg.best_of_n, cfg.on_zero_prev)
cfg
"""),
("md", r"""
## 1 · Prompt pre-filter and trajectories (chunk policy)

Sample each prompt `prefilter_samples` times; keep the prompts solved sometimes but not always (paper
§4.1); their samples are the trajectories to annotate, cut at the policy's own `<chunk>` tags.

The prompts are the toy world's (`problem_source: toy`), whose exact checker also knows every chunk's true label,
or NuminaMath-CoT's (`problem_source: numina`, the paper tier): deduplicated, with a reference answer Math-Verify
can check, drawn in a seeded order. NuminaMath has no step truth, so there every comparison with the truth below
is NaN, not a guess.
"""),
("code", r"""
from stepwiser_core.backends import BackendSettings, close_backend, open_backend

# the prompts first: a missing or malformed NuminaMath file fails here, before a model is loaded
problems, prompt_counts = rl.stage_problems(cfg.problem_source, cfg.n_prompts, cfg.seed, cfg.benchmark_seed, verifier,
                                            cfg.numina_path, cfg.numina_split)  # toy: never a benchmark problem
print(f"{len(problems)} prompts ({cfg.problem_source}): {prompt_counts}")
backend_settings = BackendSettings.from_config(cfg, cfg.max_batch_rows)  # RolloutEngine, or vLLM on GPUs (paper tier)
engine = open_backend(stage.input_path(cfg.chunk_policy_dir, "01_segmentation", "model"), backend_settings,
                      "chunk policy")
tokenizer = engine.tokenizer
sizes = dict(samples_per_prompt=cfg.prefilter_samples, per_prompt=cfg.trajectories_per_prompt, m_label=cfg.rollouts,
             temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, keep_all=cfg.prefilter_keep_all,
             max_kept=cfg.prefilter_max_kept)
"""),
("md", r"""
## 2 · Rollouts

`RolloutEngine` prefills each prefix once and copies its KV cache M times, batches the prefixes of many
chunks and problems together, and drops finished rollouts from the batch (see `benchmarks/rollouts.py`).
On GPUs, `generation_backend: vllm` (the paper tier) samples through vLLM, whose prefix caching does the same.
We draw `rollouts_max` rollouts per chunk; labels use the first `rollouts` (M = 16), and the extra ones
serve the label-quality-vs-M study below.
"""),
("code", r"""
import numpy as np
from datasets import Dataset
from stepwiser_core.io import atomic_dir

chunks = rl.annotate(engine, tokenizer, problems, cfg.chunk_template, "chunks", verifier, rules, cfg.default_rule,
                     f"{cfg.tier}-chunk-policy", m_draw=cfg.rollouts_max, untagged=cfg.untagged_response, **sizes)
kept, trajectories, successes, records = chunks.kept, chunks.trajectories, chunks.successes, chunks.records
with atomic_dir(run_dir / "stepwise_chunks") as tmp:
    Dataset.from_list(records).save_to_disk(tmp)
np.savez_compressed(run_dir / "successes_chunks.npz", *successes)
print(f"{len(kept)}/{len(problems)} prompts kept; {len(trajectories)} trajectories, "
      f"{sum(len(t.steps) for t in trajectories)} chunks; {sum(s.shape[0] - 1 for s in successes) * cfg.rollouts_max} rollouts")
"""),
("md", r"""
## 3 · Label balance and Q values
"""),
("code", r"""
balance = rl.label_balance_table(records, rules)
display(balance.round(3))
qs = rl.q_frame(records)
display(Image(plots.label_balance(balance, results_dir / "label_balance.png")))
display(Image(plots.q_distribution(qs[qs.step == "intermediate"], results_dir / "q_distribution.png")))
"""),
("md", r"""
## 4 · Beyond the paper: how good are Monte-Carlo labels?

Agreement of each rule's labels with the exact first error (chunks after the first error are left out:
their history is already wrong), and precision and recall of the Negative labels, as the rollout budget M
grows. Budgets are nested: M = 8 uses the first 8 of the rollouts that M = 16 uses.
"""),
("code", r"""
quality = rl.quality_vs_m(successes, trajectories, rules, [m for m in (1, 2, 4, 8, 16, 32) if m <= cfg.rollouts_max])
display(quality.round(3))
display(Image(plots.agreement_vs_m(quality, results_dir / "agreement_vs_m.png")))
"""),
("md", r"""
### An adaptive rollout budget

A chunk's label is often decided long before its 16th rollout: Abs-Q is positive at the first success,
and a relative rule is decided once no remaining outcome can move Q̂ across its threshold. Sequential
stopping samples rollouts one at a time and stops there. Stopping each chunk alone ("sequential") has a flaw
for the relative rules: the early estimate becomes the next chunk's "previous" Q, and its noise moves the next
label. **Joint** stopping (`adaptive_joint`, our design) decides a chunk's label over the uncertainty of both
its own Q̂ and its predecessor's, and when the label is still open draws the next rollout for whichever of the
two leaves it less certain: the predecessor's rollouts resume from its prefix. Exact joint stopping always
reproduces the fixed-M labels (unit-tested).
"""),
("code", r"""
import pandas as pd

adaptive = rl.adaptive_summary(successes, trajectories, rules, cfg.rollouts, cfg.adaptive_confidence or None,
                               cfg.adaptive_joint)
display(pd.DataFrame(adaptive).T.round(3))
"""),
("md", r"""
Exact stopping never changes a chunk's own label, but Rel-Ratio needs most rollouts to certify a ratio above γ.
Stopping once a Beta posterior (uniform prior) predicts the final label with a stated confidence trades a little
agreement for many rollouts; the whole trade-off is below, and `adaptive_confidence` picks the operating point
reported in `metrics.json`.
"""),
("code", r"""
tradeoff = rl.adaptive_tradeoff(successes, trajectories, rules, cfg.rollouts, [None, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99])
display(Image(plots.adaptive_tradeoff(tradeoff, results_dir / "adaptive_tradeoff.png")))
tradeoff.round(4)
"""),
("md", r"""
## 5 · The same pipeline on blank-line steps (for the "no chunking" ablation)

The base policy's solutions, split on blank lines, labelled the same way with its own rollouts.
"""),
("code", r"""
blank = None
if cfg.blankline_data:
    close_backend(engine)  # a vLLM engine's GPU memory, before the base policy loads
    base_engine = open_backend(stage.input_path(cfg.base_policy_dir, "00_policy", "model"), backend_settings,
                               "base policy", tokenizer=tokenizer)
    blank = rl.annotate(base_engine, tokenizer, problems, cfg.base_template, "blankline", verifier, rules,
                        cfg.default_rule, f"{cfg.tier}-base-policy", m_draw=cfg.rollouts, **sizes)
    with atomic_dir(run_dir / "stepwise_blankline") as tmp:
        Dataset.from_list(blank.records).save_to_disk(tmp)
    print(f"{len(blank.trajectories)} trajectories, {sum(len(t.steps) for t in blank.trajectories)} blank-line steps")
"""),
("code", r"""
import json
from stepwiser_core.io import atomic_write_json
from stepwiser_core.tables import write_table

metrics = rl.stage_metrics(chunks, blank, rules, quality, adaptive,
                           rl.adaptive_summary(successes, trajectories, rules, cfg.rollouts, None, cfg.adaptive_joint),
                           cfg.default_rule, cfg.adaptive_confidence, cfg.tier, cfg.seed, cfg.adaptive_joint,
                           prompts={"source": cfg.problem_source, **prompt_counts})
atomic_write_json(results_dir / "metrics.json", metrics)
write_table(balance, results_dir, "label_balance")
write_table(quality, results_dir, "label_quality_vs_m")
write_table(tradeoff, results_dir, "adaptive_tradeoff", digits=4)
print(json.dumps(metrics, indent=1))
"""),
("md", r"""
## Notes

- The stepwise datasets (`runs/<tier>/02_rollout_labels/stepwise_{chunks,blankline}`) follow TRL's
  stepwise-supervision schema (`prompt`, `completions`, `labels`), with one `labels_<rule>` column per rule,
  the Q values, the exact truth and provenance columns. Notebook 03 reads them.
- Scale: the paper annotates ~3.5M chunks from 40k prompts (14 days on 8×A100); the toy tier labels a
  few thousand chunks in minutes.
"""),
]
