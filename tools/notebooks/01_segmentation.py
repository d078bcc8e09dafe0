from stepwiser_core.stages import SegmentationConfig

CELLS = [
("md", r"""
# 01 · Self-segmentation: chunks of thought

Splitting a solution on blank lines cuts logical steps apart (Qwen models put blank lines around equations)
and multiplies the steps to label. StepWiser instead teaches the policy to wrap each **logically complete
step** in `<chunk>…</chunk>` (paper §3.1, Table 1): the base policy's correct responses are segmented by a
strong LLM (8 attempts each; only segmentations that reconstruct the response exactly are kept), and the
base model is fine-tuned on them. On the toy tier an imperfect **teacher segmenter** stands in for
Llama-3.1-70B: it follows Table 1's principles but sometimes splits or merges steps, alters text, or breaks the
tags. The paper tier (`segmenter: llm`, `problem_source: numina`) prompts an instruct LLM with the Table 1 rules
instead, on NuminaMath-CoT prompts.

The Table 4 analog at the end compares the base policy split on blank lines with the chunk policy's own
chunks: steps per solution, tokens per solution and accuracy (averaged over k samples).
"""),
("params", SegmentationConfig),
("code", r"""
from stepwiser_core import chunk_policy, plots
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import SegmentationConfig
from stepwiser_core.verify import make_verifier

stage = open_stage(SegmentationConfig, globals())
cfg, run_dir, results_dir = stage.cfg, stage.run_dir, stage.results_dir
policy_dir = stage.input_path(cfg.policy_dir, "00_policy", "model")
verifier = make_verifier(cfg.verifier)
cfg
"""),
("md", r"""
## 1 · The base policy's responses

The paper (§4.1) samples several responses per prompt at temperature 1 and keeps a few correct ones
(`sft_correct_only: true`). On the toy tier we depart from it (`sft_correct_only: false`, the default): the
first toy run kept correct responses only, and for a small model trained from scratch that is
rejection-sampling fine-tuning: accuracy rose from 0.67 to 0.87, so the "chunk policy" was a different,
stronger policy, with few errors left to label. Segmenting a plain sample of the responses, right or wrong,
teaches the format without selecting for skill, which is what Table 4 compares. A plain sample with all its wrong
responses cost the chunk policy about 5 points of accuracy (the model imitates its own mistakes), so the toy tier
swaps wrong responses for spare right samples of the same prompt until 70 % are right (`sft_correct_share: 0.7`,
NOT the paper; docs/results.md, "Self-segmentation").
"""),
("code", r"""
from stepwiser_core.backends import BackendSettings
from stepwiser_core.generation import Sampling
from stepwiser_core.models import load_model

prompts, prompt_counts = chunk_policy.segmentation_prompts(cfg.problem_source, cfg.n_prompts, cfg.seed, verifier,
                                                           cfg.numina_path, cfg.numina_split)  # fails before a load
base_model, tokenizer = load_model(policy_dir)
backend_settings = BackendSettings.from_config(cfg, cfg.gen_batch_size)  # transformers, or vLLM on GPUs (paper tier)
samples = chunk_policy.sample_policy(policy_dir, backend_settings, base_model, tokenizer, cfg.gen_batch_size, prompts,
                                     Sampling(cfg.max_new_tokens, 1.0, cfg.samples_per_prompt, cfg.seed),
                                     cfg.base_template, "base policy")
responses = chunk_policy.sft_responses(prompts, samples, verifier, cfg.max_correct_per_prompt,
                                       cfg.sft_correct_only, cfg.sft_correct_share, cfg.seed)
sft_accuracy = chunk_policy.response_accuracy(responses, verifier)
print(f"{len(prompts)} prompts x {cfg.samples_per_prompt} samples -> {len(responses)} responses kept "
      f"({sft_accuracy:.1%} with a right answer)")
"""),
("md", r"""
## 2 · Segmentation and the exact-reconstruction filter

`segment_attempts` segmentations per response, by the toy teacher or (`segmenter: llm`) by the LLM in
`segmenter_dir` sampled through `generation_backend`; only those that follow the format and reconstruct the
response exactly are kept, and the most frequent of them is chosen.
"""),
("code", r"""
from stepwiser_core.llm_segmenter import segment_with_model

attempts = None  # the toy teacher's, drawn inside build_segmentation_data
if cfg.segmenter == "llm":
    attempts = segment_with_model(cfg.segmenter_dir, backend_settings, [text for _, text in responses], cfg.segment_attempts,
                                  Sampling(cfg.segmenter_max_new_tokens, cfg.segmenter_temperature, 1, cfg.seed + 2))
seg = chunk_policy.build_segmentation_data(responses, cfg.seed, cfg.segment_attempts, cfg.segmenter_error_rate,
                                           cfg.chunk_template, attempts)
reconstruction_exact_rate = seg.valid_attempts / max(seg.attempts, 1)
print(f"{seg.valid_attempts}/{seg.attempts} segmentations reconstruct their response exactly "
      f"({reconstruction_exact_rate:.1%}); {seg.kept}/{seg.responses} responses kept")
print(seg.examples[0].completion if seg.examples else "(no example)")
"""),
("md", r"""
## 3 · Fine-tune the base model into the chunk policy

The SFT data are the kept segmentations. We also replay `judge_replay_share` judging exercises from the
base mixture. The judge starts from this chunk model (paper §4.1), and a model this small forgets
quickly; the paper's 7B model does not need this, and we record it as a departure.
"""),
("code", r"""
import time
from IPython.display import Image, display

started = time.time()
chunk_model, tokenizer, log_history, n_examples = chunk_policy.train_chunk_policy(seg.examples, cfg, policy_dir,
                                                                                 run_dir, tokenizer)
print(f"{n_examples} SFT examples; trained in {time.time() - started:.0f} s")
if "loss" in log_history:
    display(Image(plots.training_curve(log_history, results_dir / "training_curve.png", "Chunk-policy SFT loss")))
"""),
("md", r"""
## 4 · Table 4 analog: blank lines vs self-segmentation

Both policies solve the same held-out problems (toy: `eval_problems.json` from stage 00; paper tier: MATH500
when `math500_path` is set, else `n_eval_prompts` NuminaMath prompts drawn apart from the segmentation prompts),
k samples each at temperature 1. The base policy's solutions are split on blank lines; the chunk policy's are
split at its own tags.
"""),
("code", r"""
import pandas as pd

eval_problems = chunk_policy.evaluation_problems(cfg.problem_source, stage.tier_runs, cfg.seed, verifier,
                                                 cfg.n_eval_prompts, [p.text for p in prompts], cfg.numina_path,
                                                 cfg.numina_split, cfg.math500_path)
sampling = Sampling(cfg.max_new_tokens, 1.0, cfg.eval_samples, cfg.seed + 1)
base_texts = chunk_policy.sample_policy(policy_dir, backend_settings, base_model, tokenizer, cfg.gen_batch_size,
                                        eval_problems, sampling, cfg.base_template, "base policy")
chunk_texts = chunk_policy.sample_policy(run_dir / "model", backend_settings, chunk_model, tokenizer,
                                         cfg.gen_batch_size, eval_problems, sampling, cfg.chunk_template, "chunk policy")
stats = pd.concat([chunk_policy.solution_stats(eval_problems, base_texts, tokenizer, verifier, "blankline"),
                   chunk_policy.solution_stats(eval_problems, chunk_texts, tokenizer, verifier, "chunks")])
table4 = chunk_policy.table4(stats)
display(table4)
display(Image(plots.steps_histogram(stats, results_dir / "steps_per_solution.png")))
"""),
("code", r"""
import json
from stepwiser_core.io import atomic_write_json
from stepwiser_core.tables import write_table

metrics = {"tier": cfg.tier, "seed": cfg.seed, "prompts": {"source": cfg.problem_source, **prompt_counts},
           "segmenter": cfg.segmenter, "reconstruction_exact_rate": reconstruction_exact_rate,
           "responses_kept_rate": seg.kept / max(seg.responses, 1), "sft_examples": len(seg.examples),
           "sft_correct_only": cfg.sft_correct_only, "sft_response_accuracy": sft_accuracy,
           **chunk_policy.segmentation_metrics(stats, chunk_texts)}
atomic_write_json(results_dir / "metrics.json", metrics)
write_table(table4, results_dir, "table4")
stats.to_csv(run_dir / "solution_stats.csv", index=False)
print(json.dumps(metrics, indent=1))
"""),
("md", r"""
## Notes and departures from the paper

- **Segmenter.** On the toy tier a rule-following teacher with injected mistakes stands in for Llama-3.1-70B;
  the paper tier prompts the LLM with our paraphrase of Table 1 (`llm_segmenter.py`; the paper prints the rules,
  not the prompt). Which valid segmentation is kept when several pass is NOT SPECIFIED in the paper; we keep the
  majority one. How the 8 attempts are decoded is NOT SPECIFIED; we sample at `segmenter_temperature`.
- **Evaluation set (paper tier).** The paper measures steps and tokens over 10K NuminaMath prompts and accuracy
  on MATH500; we measure all three on one set: MATH500 (`math500_path`, as `params/paper/01` sets), or
  `n_eval_prompts` held-out NuminaMath prompts.
- **Scale.** The paper uses 20k prompts, 16 samples and up to 4 correct responses per prompt, and SFTs a
  1.5B/7B model at lr 1e-5. The toy tier uses fewer prompts and a larger learning rate for a model trained
  from scratch.
- **SFT data (toy tier).** Every sampled response, right or wrong (`sft_correct_only: false`), not only
  correct ones as in the paper: see section 1 for why. The paper tier keeps the paper's choice.
- **Replay.** The SFT mixes in judging exercises so that the judge init (this model) keeps the
  judge format (our choice, not in the paper).
"""),
]
