"""One frozen dataclass per notebook: every parameter a stage takes, with its meaning and default.

Defaults are the toy tier; `params/<tier>/<stage>.yaml` overrides them and `-p NAME VALUE` overrides
those (see config.py). Keep this module free of heavy imports: the runner validates configs with it
before anything runs. Values from the paper carry its section; NOT SPECIFIED marks our own choices.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .sharding import check_sharding


# What notebooks 02 (rollouts) and 04 (judging) sample from: our RolloutEngine (CPU or GPU) or vLLM (GPU only, with
# prefix caching; the paper tier). See backends.py.
GENERATION_BACKENDS = ("engine", "vllm")
# Where notebooks 01 and 02 draw prompts from: the toy world (exact step truth) or NuminaMath-CoT (numina.py; the
# paper's). Who segments in 01: the toy teacher or an instruct LLM (llm_segmenter.py; the paper's).
PROBLEM_SOURCES = ("toy", "numina")
UNTAGGED_RESPONSES = ("drop", "one_chunk")  # RolloutLabelConfig.untagged_response
SEGMENTERS = ("toy", "llm")
# JudgeTrainingConfig.segmentation: notebook 02's self-segmented chunks, its blank-line pieces (the paper's "no
# chunking" ablation), or both at once (NOT the paper: can one judge learn to read both kinds of step?)
JUDGE_SEGMENTATIONS = ("chunks", "blankline", "both")


def check_problem_source(cfg) -> None:
    """01's and 02's `problem_source`, `numina_path` and `verifier` agree."""
    if cfg.problem_source not in PROBLEM_SOURCES:
        raise ValueError(f"problem_source must be one of {PROBLEM_SOURCES}, not {cfg.problem_source!r}")
    if cfg.problem_source == "numina":
        if not cfg.numina_path:
            raise ValueError("problem_source 'numina' needs numina_path (a NuminaMath-CoT folder, file or hub id)")
        if cfg.verifier != "math_verify":  # "exact" reads integers only; NuminaMath answers are LaTeX
            raise ValueError(f"problem_source 'numina' needs verifier 'math_verify', not {cfg.verifier!r}")


def check_generation_backend(cfg) -> None:
    if cfg.generation_backend not in GENERATION_BACKENDS:
        raise ValueError(f"generation_backend must be one of {', '.join(GENERATION_BACKENDS)}, "
                         f"not {cfg.generation_backend!r}")
    if not 0.0 < cfg.vllm_gpu_memory_utilization <= 1.0 or cfg.vllm_tensor_parallel_size < 1:
        raise ValueError("vllm_gpu_memory_utilization must be in (0, 1] and vllm_tensor_parallel_size at least 1")


def check_batch_split(name: str, global_batch: int, num_processes: int) -> None:
    """A global batch (`name`) must split evenly over the data-parallel processes that train on it."""
    if num_processes < 1:
        raise ValueError(f"the number of processes must be at least 1, not {num_processes}")
    if global_batch % num_processes:
        raise ValueError(f"{name} {global_batch} is the global batch and cannot be split evenly over {num_processes} "
                         f"processes; choose a multiple of the number of processes")


@dataclass(frozen=True)
class StageBase:
    tier: str = "toy"  # set by the runner from the params folder name (smoke / toy / paper)
    seed: int = 0  # seeds every random choice of the stage
    stage: str = ""  # set by the runner
    runs_root: str = "runs"  # bulky artifacts: runs/<tier>/<stage>/ (git-ignored); set by the runner
    results_root: str = "results"  # small, committed outputs: results/<tier>/<stage>/


@dataclass(frozen=True)
class PolicyConfig(StageBase):
    """00_policy: build the toy world and train the base model from scratch (toy), or load one (paper)."""

    # --- where the base model comes from
    model_source: str = "scratch"  # "scratch": train a toy model; "local": load `model_path` (paper tier)
    model_path: str = ""  # a local folder with a causal LM and its tokenizer, e.g. Qwen2.5-1.5B-Instruct
    policy_template: str = "toy"  # prompt wording: "toy" (short) or "paper" (paper Table 11 paraphrase)
    judge_template: str = "toy"  # judge prompt wording: "toy" (short) or "paper" (Table 3 paraphrase)
    # --- the training mixture (DESIGN.md §5)
    n_train_per_level: int = 4000  # training problems per difficulty level
    teacher_error_rate: float = 0.04  # per-step chance that a teacher solution makes a mistake
    blank_line_prob: float = 0.65  # chance of a blank line between a step's explanation and its equation
    judge_exercise_share: float = 0.33  # judging exercises per solving example
    judge_exercise_verdict_accuracy: float = 0.7  # how often an exercise's verdict agrees with its analysis
    judge_exercise_blankline_share: float = 0.3  # exercises on blank-line pieces instead of logical steps
    # Verdict-only exercises (the no-CoT prompt). 0 here: with 0.25 the toy base fell out of its calibration band
    # (step error 0.10 -> 0.25, README); the judge init learns the format from 01's replay instead.
    judge_exercise_direct_share: float = 0.0
    # --- the model (Qwen2 architecture) and its tokenizer
    vocab_size: int = 512
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 6  # full multi-head attention: with 2 KV groups the model learned to read far slower
    intermediate_size: int = 512
    # --- training (TRL SFTTrainer)
    completion_only_loss: bool = False  # False: also predict the prompt (much faster to learn to read it)
    learning_rate: float = 2e-3
    batch_size: int = 32
    max_steps: int = 600
    warmup_ratio: float = 0.05
    max_length: int = 512
    # --- evaluation
    n_eval_per_level: int = 100  # held-out problems per level
    eval_samples: int = 4  # samples per problem at temperature 1 (accuracy is averaged over them)
    max_new_tokens: int = 200
    gen_batch_size: int = 128
    judge_items_per_class: int = 200  # zero-shot judge: this many correct and as many wrong chunks
    judge_max_new_tokens: int = 96
    judge_temperature: float = 0.0  # zero-shot judge decoding (NOT SPECIFIED by the paper; greedy)

    def __post_init__(self):
        if self.model_source not in ("scratch", "local"):
            raise ValueError(f"model_source must be 'scratch' or 'local', not {self.model_source!r}")
        if self.model_source == "local" and not self.model_path:
            raise ValueError("model_source 'local' needs model_path (a folder with config.json and a tokenizer)")
        for name in ("teacher_error_rate", "blank_line_prob", "judge_exercise_verdict_accuracy",
                     "judge_exercise_blankline_share", "judge_exercise_direct_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")


@dataclass(frozen=True)
class SegmentationConfig(StageBase):
    """01_segmentation: teach the policy to wrap each logical step in <chunk> tags (paper §3.1, §4.1)."""

    policy_dir: str = ""  # the base model; empty means <runs_root>/<tier>/00_policy/model
    verifier: str = "exact"  # final-answer check: "exact" (toy) or "math_verify" (paper)
    base_template: str = "toy"  # the base policy's prompt
    chunk_template: str = "toy_chunk"  # the chunk policy's prompt ([P Table 11] for "paper_chunk")
    # --- SFT data, as in [P §4.1]: sample, keep correct responses, segment each several times, keep exact ones
    problem_source: str = "toy"  # "toy" (the toy world) or "numina" (NuminaMath-CoT, the paper's; numina.py)
    numina_path: str = ""  # problem_source numina: a hub snapshot folder, saved dataset, parquet/JSONL file, or hub id
    numina_split: str = "train"
    n_prompts: int = 1500  # [P] 20k NuminaMath prompts (toy: n_prompts // 4 per level)
    # problem_source numina: held-out NuminaMath prompts for Table 4's steps, tokens and accuracy ([P] steps and
    # tokens over 10K NuminaMath prompts), unless math500_path names MATH500 ([P] Avg@32 accuracy on it), which
    # then replaces them for all three columns. Toy: 00's held-out problems.
    n_eval_prompts: int = 1000
    math500_path: str = ""  # the hub id HuggingFaceH4/MATH-500, its test.jsonl, or a folder holding it
    samples_per_prompt: int = 4  # [P] 16 responses per prompt
    max_correct_per_prompt: int = 2  # [P] up to 4 correct responses per prompt (with sft_correct_only: False, any 2)
    segment_attempts: int = 8  # [P] 8 segmentations per response by Llama-3.1-70B-it
    # who segments: "toy" (segmentation.teacher_segment, our stand-in) or "llm" (an instruct model prompted with the
    # Table 1 rules, llm_segmenter.py; [P] Llama-3.1-70B-it, through generation_backend)
    segmenter: str = "toy"
    segmenter_error_rate: float = 0.3  # per-attempt mistake rate of the toy teacher segmenter (our stand-in)
    segmenter_dir: str = ""  # segmenter "llm": the model's folder
    segmenter_temperature: float = 0.7  # NOT SPECIFIED: the 8 attempts must differ, so they are sampled
    segmenter_max_new_tokens: int = 1024  # a segmentation is the response plus its tags
    # --- generation backend of the LLM segmenter (GENERATION_BACKENDS): vLLM on GPUs (a 70B model needs several)
    generation_backend: str = "engine"
    vllm_gpu_memory_utilization: float = 0.9
    vllm_tensor_parallel_size: int = 1
    judge_replay_share: float = 0.25  # judging exercises mixed in so the judge init keeps its skill (our choice)
    # the replayed exercises are drawn like 00's (PolicyConfig.judge_exercise_*), plus verdict-only ones: the judge
    # starts from this model, and the no-CoT judge's GRPO gets no gradient if no sample ever has the bare format
    replay_verdict_accuracy: float = 0.7
    replay_blankline_share: float = 0.3
    replay_direct_share: float = 0.25
    # NOT the paper's choice for the toy tier: the paper fine-tunes on correct responses only (True). On a toy model
    # trained from scratch that is rejection-sampling fine-tuning and raised accuracy 0.67 -> 0.87 (first toy
    # run), so the chunk policy was no longer the base policy with chunks. False: segment a plain sample of the
    # base policy's responses, right or wrong, and the SFT changes the format, not the skill.
    sft_correct_only: bool = False
    # with sft_correct_only False: raise the share of right responses in the plain sample to at least this, by
    # swapping wrong ones for right samples of the same prompt (0: the sample as it came; chunk_policy.sft_responses).
    # NOT the paper: with 0 the toy chunk policy imitated its wrong samples and lost 4.8 points of accuracy; with
    # 0.7 it is within noise of the base policy (docs/results.md, "Self-segmentation")
    sft_correct_share: float = 0.7
    # --- SFT ([P] lr 1e-5, global batch 32, packing 8192: for a 7B model; a from-scratch toy model needs more)
    learning_rate: float = 1e-3
    batch_size: int = 32  # the global batch, split evenly over sft_num_processes
    max_steps: int = 300
    max_length: int = 512
    # processes (one per GPU) the SFT trains on; > 1 starts them outside the notebook's kernel with torchrun
    # (launch.py); plain data parallelism, so each holds the whole model, unless sft_sharding splits it
    sft_num_processes: int = 1
    # "none" or "fsdp": the model, its gradients and optimiser state split over the sft_num_processes (sharding.py);
    # a 7B model's full fine-tuning needs it on 80 GB GPUs
    sft_sharding: str = "none"
    # --- Table 4 analog: steps, tokens and accuracy averaged over k samples per problem
    n_eval_per_level: int = 100
    eval_samples: int = 4  # [P] Avg@32 on MATH500
    max_new_tokens: int = 256
    gen_batch_size: int = 128

    def __post_init__(self):
        for name in ("segmenter_error_rate", "judge_replay_share", "replay_verdict_accuracy", "replay_blankline_share",
                     "replay_direct_share", "sft_correct_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        check_generation_backend(self)
        check_problem_source(self)
        if self.segmenter not in SEGMENTERS:
            raise ValueError(f"segmenter must be one of {SEGMENTERS}, not {self.segmenter!r}")
        if self.segmenter == "llm" and not self.segmenter_dir:
            raise ValueError("segmenter 'llm' needs segmenter_dir (the segmenter model's folder)")
        if self.segmenter == "llm" and self.segment_attempts > 1 and self.segmenter_temperature <= 0:
            raise ValueError("several segment_attempts need segmenter_temperature > 0 (greedy attempts are identical)")
        check_batch_split("batch_size", self.batch_size, self.sft_num_processes)
        check_sharding("sft_sharding", self.sft_sharding, self.sft_num_processes, "sft_num_processes")


@dataclass(frozen=True)
class RolloutLabelConfig(StageBase):
    """02_rollout_labels: Monte-Carlo Q values per chunk and the three label rules (paper §3.2, §4.1)."""

    chunk_policy_dir: str = ""  # empty means <runs_root>/<tier>/01_segmentation/model
    base_policy_dir: str = ""  # for the blank-line data; empty means <runs_root>/<tier>/00_policy/model
    verifier: str = "exact"
    chunk_template: str = "toy_chunk"
    base_template: str = "toy"
    # --- prompts: [P §4.1] NuminaMath-CoT, deduplicated, answers Math-Verify can check; 40k kept after pass@16
    # filtering (neither all right nor all wrong)
    problem_source: str = "toy"  # "toy" (the toy world, exact step truth) or "numina" (NuminaMath-CoT; no step truth)
    numina_path: str = ""  # problem_source numina: a hub snapshot folder, saved dataset, parquet/JSONL file, or hub id
    numina_split: str = "train"
    n_prompts: int = 240  # prompts drawn (toy: n_prompts // 4 per level), before the pass-rate filter
    prefilter_max_kept: int = 0  # at most this many prompts pass the pass-rate filter (0: all); [P §4.1] 40k
    benchmark_seed: int = 0  # notebook 04's seed: its benchmark's problems are never annotated (toy world)
    prefilter_samples: int = 8  # [P §4.1] 16
    trajectories_per_prompt: int = 4  # NOT SPECIFIED (the paper seems to annotate all 16)
    prefilter_keep_all: bool = False  # smoke/debug only: annotate every prompt (pass rate clipped into (0, 1))
    # a chunk-policy sample with no <chunk> tag: "drop" it (the paper's way; it has no chunk to label) or take the
    # whole response as "one_chunk" (smoke/debug only: the smoke tier's untrained policy writes tags by chance)
    untagged_response: str = "drop"
    # --- rollouts: [P §4.1] M = 16 at temperature 1 (rollout temperature NOT SPECIFIED; we use 1)
    rollouts: int = 16
    rollouts_max: int = 32  # extra rollouts of the chunk data, for label quality vs M up to 32
    temperature: float = 1.0
    max_new_tokens: int = 160
    max_batch_rows: int = 256
    # --- label rules [P §3.2, App. A.1] (1.5B choices)
    gamma: float = 0.8  # Rel-Ratio threshold
    alpha: float = 0.4  # Rel-Effective weight of the best-of-n advantage
    best_of_n: int = 4  # Rel-Effective: mu is the best-of-n policy, with this n
    on_zero_prev: str = "abs"  # Rel-Ratio when the previous Q̂ is 0 (NOT SPECIFIED): fall back to Abs-Q
    default_rule: str = "rel_ratio"  # what the `labels` column holds
    # --- beyond the paper
    adaptive_confidence: float = 0.0  # 0: stop only when the label can no longer change; else Beta confidence
    adaptive_joint: bool = True  # decide each chunk with its predecessor's Q̂ (resuming its rollouts), not alone
    blankline_data: bool = True  # also label the base policy's blank-line steps (the "no chunking" ablation)
    # --- generation backend (GENERATION_BACKENDS): "engine" here; "vllm" on GPUs, where the paper labels with vLLM
    generation_backend: str = "engine"
    vllm_gpu_memory_utilization: float = 0.9  # share of each GPU vLLM may take (vllm.LLM)
    vllm_tensor_parallel_size: int = 1  # GPUs per model (vllm.LLM)

    def __post_init__(self):
        check_generation_backend(self)
        check_problem_source(self)
        if self.prefilter_max_kept < 0:
            raise ValueError(f"prefilter_max_kept must be >= 0 (0: keep all), not {self.prefilter_max_kept}")
        if self.untagged_response not in UNTAGGED_RESPONSES:
            raise ValueError(f"untagged_response must be one of {', '.join(UNTAGGED_RESPONSES)}, "
                             f"not {self.untagged_response!r}")


@dataclass(frozen=True)
class JudgeTrainingConfig(StageBase):
    """03_judge_training: StepWiser (GRPO + CoT) for each label rule, and the baselines (paper §3.3, §4.3, App. A)."""

    labels_dir: str = ""  # the stepwise datasets of notebook 02; empty means <runs_root>/<tier>/02_rollout_labels
    judge_init_dir: str = ""  # [P §4.1] the judge starts from the chunk policy; empty: <runs_root>/<tier>/01_segmentation/model
    judge_template: str = "toy"  # "toy" or "paper" (Table 3 paraphrase)
    segmentation: str = "chunks"  # which stepwise data (JUDGE_SEGMENTATIONS): "chunks", "blankline" or "both"
    rules: list[str] = field(default_factory=lambda: ["abs_q", "rel_ratio", "rel_effective"])
    ablation_rule: str = "rel_ratio"  # [P Table 6] ablations (no clip-higher, no CoT, RS-FT) use Rel-Ratio
    balance: bool = True  # [P §3.3] down-sample the majority label to 50/50
    balance_positive_share: float = 0.5  # [P §3.3] 0.5; other values (NOT the paper) set the label mix GRPO sees
    max_steps_after_error: int = -1  # chunks kept after the first Negative label; -1: all (every labelled chunk)
    heldout_share: float = 0.2  # problems held out of training, for the step-accuracy curves
    # --- GRPO ([P §4.1] lr 1e-6, 1024 prompts/step, group 4, clip-higher 0.2/0.28, 800 steps; for 1.5B/7B)
    learning_rate: float = 5e-5  # far above the paper's 1e-6 for a from-scratch toy model; 2e-4 collapsed (first toy run)
    max_steps: int = 200
    batch_size: int = 32  # completions per step (TRL counts completions): 8 prompts x group 4
    # completions per optimizer update = batch_size x this x processes: [P §4.1] 1024 (256 prompts x group 4), which
    # one GPU reaches as 128 x 8 (params/paper)
    gradient_accumulation_steps: int = 1
    # [P §4.1] 1024 prompts per step in mini-batches of 256: 4 optimizer updates per generation round. With 1,
    # the importance ratio is exactly 1, nothing is ever clipped, and the clip-higher ablation is void.
    updates_per_generation: int = 4
    num_generations: int = 4  # [P §4.1]
    epsilon_low: float = 0.2  # [P §4.1]
    epsilon_high: float = 0.28  # [P §4.1] clip-higher
    beta: float = 0.0  # KL to the init: NOT SPECIFIED by the paper; 0 (none) by default
    temperature: float = 1.0  # rollout temperature: NOT SPECIFIED
    max_completion_length: int = 80
    eval_every: int = 50
    eval_items_per_class: int = 100  # held-out chunks per true label (right, wrong) for the curves
    # held-out trajectories judged whole at every evaluation, scored like ProcessBench (first-error F1: what 04
    # measures, which step accuracy does not; docs/results.md "Toy ProcessBench"); half with an error where possible;
    # 0: off
    eval_first_error_records: int = 64
    # GRPO's held-out evaluation on its own fork of torch's generators and on the faster engine, so that its settings
    # cannot change GRPO's draws (judge_rl.EvalCallback)
    grpo_eval_isolated: bool = True  # false: the earlier toy runs' coupling (docs/results.md,
    # "Reproducibility, measured")
    # GRPO's completions through vLLM on the training GPUs (TRL's use_vllm, "colocate" mode), as the paper's verl does;
    # GPU only. false: TRL's model.generate (here, and on one GPU when vLLM is not installed)
    grpo_use_vllm: bool = False
    grpo_vllm_gpu_memory_utilization: float = 0.3  # the share of each GPU vLLM takes beside training (TRL's default)
    # processes (one per GPU) each GRPO run trains on; > 1 starts them outside the notebook's kernel with torchrun
    # (launch.py), and batch_size is then per process
    grpo_num_processes: int = 1
    # "none" or "fsdp": each GRPO run's model, gradients and optimiser state split over its grpo_num_processes
    # (sharding.py), as a 7B judge needs. A sharded model runs forward passes on every process together, so rank 0
    # cannot evaluate held-out items alone while it trains: set eval_every 0 (the stage scores the final judge)
    grpo_sharding: str = "none"
    # keep each GRPO judge every this many steps (trainer/<run>/checkpoint-<step>, model and tokenizer), to score it
    # along its path (tools/pb_step_audit.py --judge NAME=DIR); 0: only the final judge
    grpo_save_every: int = 0
    # NOT the paper: a GRPO run's seed split into its parts, to tell which part a run's outcome follows
    # (docs/judge_study.md, "What a GRPO seed is made of"). `seed` keeps the data (the held-out split, the balanced
    # subset); these set the order TRL feeds the items in (-1: `seed`) and the completions it samples (-1: the
    # order's seed, as TRL's one seed draws both)
    grpo_order_seed: int = -1
    grpo_sampling_seed: int = -1
    # NOT the paper: the data part split in two. `seed` then keeps the held-out split (which problems are trained on)
    # and this draws which items 50/50 balancing keeps (-1: `seed`)
    grpo_balance_seed: int = -1
    # --- which runs ([P Table 5/6])
    run_no_clip_higher: bool = True  # also train with ε_high set to ε_low: why clip-higher matters [P §4.1, Fig. 4]
    run_no_cot: bool = True  # [P Table 6] "− CoT": verdict only, format penalty −1
    run_rs_ft: bool = True  # [P Table 6] "− RL": rejection-sampling fine-tuning of the CoT judge
    run_disc_sft: bool = True  # [P Table 5] Discriminative + SFT for each rule
    # --- baselines' SFT ([P App. A.1] disc: lr 1e-5, batch 32, for 1.5B/7B)
    sft_learning_rate: float = 5e-4
    sft_batch_size: int = 16  # the global batch of Disc + SFT and RS-FT, split evenly over sft_num_processes
    # processes (one per GPU) Disc + SFT and RS-FT train on, as grpo_num_processes (launch.py)
    sft_num_processes: int = 1
    sft_sharding: str = "none"  # as grpo_sharding, for Disc + SFT and RS-FT
    disc_max_steps: int = 120
    rsft_samples: int = 4  # judgments sampled per training item for RS-FT
    rsft_items: int = 400  # training items sampled for RS-FT (each keeps its label-matching judgments)
    rsft_max_steps: int = 100
    gen_batch_size: int = 128
    # --- judge warm-up (NOT the paper: a toy-tier stand-in for the instruct model's generic judging skill). Generic
    # judging exercises on teacher solutions (never the policy's chunks, never the rollout labels), SFT'd into the
    # judge init before every run, so that the zero-shot judge has real signal for RL to amplify (issue 4). 0: off.
    judge_warmup_steps: int = 0  # 0 (paper tier): every judge starts from judge_init_dir as it is
    judge_warmup_style: str = "redo"  # the analysis the exercises teach (instruct.toy_analysis)
    judge_warmup_wrong_share: float = 0.5  # exercises that judge a wrong chunk
    judge_warmup_verdict_accuracy: float = 0.7  # how often an exercise's verdict agrees with its analysis
    judge_warmup_blankline_share: float = 0.3  # exercises on blank-line pieces instead of logical steps
    judge_warmup_direct_share: float = 0.25  # verdict-only exercises (the no-CoT judge's format)
    judge_warmup_glance_share: float = 0.0  # NOT the paper: CoT exercises that rubber-stamp the chunk
    # (instruct.glance_analysis), for an init that holds a careful and a lazy strategy (docs/judge_study.md, "A
    # positive control")
    judge_warmup_problems_per_level: int = 3000
    judge_warmup_learning_rate: float = 1e-3
    benchmark_seed: int = 0  # notebook 04's `seed`: the warm-up leaves out that toy ProcessBench's problems

    def __post_init__(self):
        from .instruct import ANALYSIS_STYLES

        if self.judge_warmup_style not in ANALYSIS_STYLES:
            raise ValueError(f"judge_warmup_style must be one of {ANALYSIS_STYLES}, not {self.judge_warmup_style!r}")
        if self.segmentation not in JUDGE_SEGMENTATIONS:
            raise ValueError(f"segmentation must be one of {JUDGE_SEGMENTATIONS}, not {self.segmentation!r}")
        for name in ("judge_warmup_wrong_share", "judge_warmup_verdict_accuracy", "judge_warmup_blankline_share",
                     "judge_warmup_direct_share", "judge_warmup_glance_share", "heldout_share",
                     "grpo_vllm_gpu_memory_utilization"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.grpo_save_every < 0:
            raise ValueError(f"grpo_save_every must be 0 (off) or positive, not {self.grpo_save_every}")
        for name in ("grpo_order_seed", "grpo_sampling_seed", "grpo_balance_seed"):
            if getattr(self, name) < -1:
                raise ValueError(f"{name} must be -1 (follow `seed`) or a seed, not {getattr(self, name)}")
        if self.grpo_num_processes < 1:
            raise ValueError(f"grpo_num_processes must be at least 1, not {self.grpo_num_processes}")
        check_batch_split("sft_batch_size", self.sft_batch_size, self.sft_num_processes)
        check_sharding("sft_sharding", self.sft_sharding, self.sft_num_processes, "sft_num_processes")
        check_sharding("grpo_sharding", self.grpo_sharding, self.grpo_num_processes, "grpo_num_processes")
        if self.grpo_sharding != "none" and self.eval_every > 0:
            raise ValueError(f"grpo_sharding {self.grpo_sharding!r} cannot evaluate while it trains (rank 0 alone "
                             "cannot run a sharded model): set eval_every 0, or grpo_save_every to keep checkpoints "
                             "and score them afterwards")


# The toy ProcessBench draws its problems from the first `problems_per_subset` of this many per level of the
# "processbench" split; 03's judge warm-up (judge_runs.warm_up_judge) never uses any of them.
BENCHMARK_PREFIX = 1000


@dataclass(frozen=True)
class ProcessBenchConfig(StageBase):
    """04_processbench: every judge on the first-error benchmark (paper §4.2, Table 5)."""

    judges_dir: str = ""  # the judges of notebook 03; empty means <runs_root>/<tier>/03_judge_training
    base_policy_dir: str = ""  # a generator of benchmark solutions; empty: <runs_root>/<tier>/00_policy/model
    chunk_policy_dir: str = ""  # another generator; empty: <runs_root>/<tier>/01_segmentation/model
    judge_template: str = "toy"
    data_dir: str = ""  # real ProcessBench (HF dataset folder or the four JSON files); empty: build the toy one
    # --- toy ProcessBench: held-out problems, solutions of >= 3 generators, about half with a right answer
    problems_per_subset: int = 100
    per_subset: int = 100  # benchmark items per subset
    generator_temperatures: list[float] = field(default_factory=lambda: [0.7, 1.0, 1.3])
    target_correct_share: float = 0.5
    max_new_tokens: int = 200
    maj_k: int = 8  # [P Table 5] Maj@8 for the StepWiser judges
    maj_temperature: float = 1.0  # NOT SPECIFIED by the paper
    judge_max_new_tokens: int = 80
    gen_batch_size: int = 128
    # --- generation backend of the judges (GENERATION_BACKENDS): "engine" here; "vllm" on GPUs (the paper tier)
    generation_backend: str = "engine"
    vllm_gpu_memory_utilization: float = 0.9  # share of each GPU vLLM may take (vllm.LLM)
    vllm_tensor_parallel_size: int = 1  # GPUs per model (vllm.LLM)

    def __post_init__(self):
        check_generation_backend(self)
        if self.problems_per_subset > BENCHMARK_PREFIX:
            raise ValueError(f"problems_per_subset must be at most {BENCHMARK_PREFIX}: 03's judge warm-up leaves out "
                             f"only that many benchmark problems per level")


@dataclass(frozen=True)
class InferenceSearchConfig(StageBase):
    """05_inference_search: chunk-reset reasoning with every judge of notebook 03 (paper §4.4, Table 7)."""

    judges_dir: str = ""  # the judges of notebook 03; empty means <runs_root>/<tier>/03_judge_training
    policy_dir: str = ""  # the chunk policy; empty means <runs_root>/<tier>/01_segmentation/model
    chunk_template: str = "toy_chunk"  # the chunk policy's prompt, as in 01
    judge_template: str = "toy"
    verifier: str = "exact"  # final-answer check: "exact" (toy) or "math_verify" (paper)
    math500_path: str = ""  # the paper tier's problems ([P] MATH500); toy: 00's held-out problems
    n_problems: int = 400  # the first N of those problems (0: all)
    samples_per_problem: int = 4  # searches per problem (the paper's base rows look like Avg@32: NOT SPECIFIED)
    max_attempts: int = 5  # [P §4.4] "up to 5 attempts"; we count the first draw among them (NOT SPECIFIED)
    max_chunks: int = 16  # a search that has accepted this many chunks stops unfinished (toy solutions have <= 7)
    max_chunk_tokens: int = 160  # per draw of a chunk
    temperature: float = 1.0  # the policy's temperature (NOT SPECIFIED; the annotation temperature)
    judge_max_new_tokens: int = 80  # greedy judgments, as 04's
    gen_batch_size: int = 128
    exact_judge: bool = True  # also search with the exact checker as the judge (a DIAGNOSTIC ceiling; toy only)
    # NOT the paper (it has no best-of-N row; DESIGN.md asks for one): each judge also picks the best of the policy's
    # own samples_per_problem solutions by the share of their chunks it calls Positive
    best_of_n: bool = True
    # --- where the policy and the judges sample (GENERATION_BACKENDS): "engine" here; "vllm" on GPUs (the paper tier),
    # where the policy's engine stays loaded while each judge's is opened in turn, so the two share the GPU
    generation_backend: str = "engine"
    policy_gpu_memory_utilization: float = 0.3  # vllm: the policy engine's share of each GPU
    vllm_gpu_memory_utilization: float = 0.55  # vllm: each judge engine's share
    vllm_tensor_parallel_size: int = 1

    def __post_init__(self):
        check_generation_backend(self)
        if self.generation_backend == "vllm" and (
                not 0 < self.policy_gpu_memory_utilization < 1
                or self.policy_gpu_memory_utilization + self.vllm_gpu_memory_utilization > 1):
            raise ValueError("policy_gpu_memory_utilization and vllm_gpu_memory_utilization share one GPU: each in "
                             "(0, 1), together at most 1")
        if self.samples_per_problem < 1 or self.max_attempts < 1 or self.n_problems < 0:
            raise ValueError("samples_per_problem and max_attempts must be at least 1, n_problems at least 0")


@dataclass(frozen=True)
class DataSelectionConfig(StageBase):
    """06_data_selection: judge-scored selection of correct responses, fine-tune the policy on them, evaluate (paper
    §4.4 (2), Table 8)."""

    judges_dir: str = ""  # the judges of notebook 03; empty means <runs_root>/<tier>/03_judge_training
    policy_dir: str = ""  # the chunk policy; empty means <runs_root>/<tier>/01_segmentation/model
    judges: list[str] = field(default_factory=list)  # which of 03's judges select (empty: every one)
    chunk_template: str = "toy_chunk"  # the chunk policy's prompt, as in 01
    judge_template: str = "toy"
    verifier: str = "exact"  # final-answer check: "exact" (toy) or "math_verify" (paper)
    # --- the candidates ([P] N responses per prompt, keep the correct ones; N and the prompts NOT SPECIFIED)
    problem_source: str = "toy"  # "toy" (a split of its own) or "numina" (NuminaMath-CoT, numina.py)
    numina_path: str = ""
    numina_split: str = "train"
    n_prompts: int = 600  # toy: n_prompts // 4 per level
    samples_per_prompt: int = 4  # N
    temperature: float = 1.0  # the policy's sampling temperature (NOT SPECIFIED; the annotation temperature)
    max_new_tokens: int = 256
    exact_selector: bool = True  # also select with the exact checker (a DIAGNOSTIC ceiling; toy only)
    judge_max_new_tokens: int = 80  # greedy judgments, as 04's and 05's
    gen_batch_size: int = 128
    # --- the fine-tuning ([P] of Qwen2.5-7B-chunk; its hyperparameters NOT SPECIFIED): one per selector and seed, each
    # from a fresh copy of the chunk policy, on one response per prompt
    learning_rate: float = 2e-4
    batch_size: int = 32
    epochs: float = 2.0
    warmup_ratio: float = 0.05
    max_length: int = 512
    finetune_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    sft_num_processes: int = 1
    sft_sharding: str = "none"  # "fsdp": split each fine-tuning over sft_num_processes (sharding.py); 7B needs it
    keep_models: bool = False  # keep each fine-tuned policy in the run folder (the paper tier's are 15 GB each)
    # --- evaluation ([P Table 8]: greedy on MATH500 and NuminaMath held-out 1K; toy: 00's held-out problems)
    math500_path: str = ""
    # or our "NuminaMath held-out 1K" ([P Table 8]; construction NOT SPECIFIED): this many prompts of the held-out part
    # of numina_path (numina.heldout_prompts), which no training draw holds; 0: not used. One evaluation set per run:
    # Table 8's two columns are two runs, the second reusing the first's candidates and scores (selection_stage.Parts)
    numina_heldout: int = 0
    n_eval_problems: int = 0  # the first N of them (0: all)
    eval_samples: int = 4  # temperature-1 samples per problem besides the greedy one (beyond the paper; 0: none)
    # --- generation backend of the policy and the judges (GENERATION_BACKENDS)
    generation_backend: str = "engine"
    vllm_gpu_memory_utilization: float = 0.9
    vllm_tensor_parallel_size: int = 1

    def __post_init__(self):
        check_generation_backend(self)
        if self.problem_source not in ("toy", "numina"):
            raise ValueError(f"unknown problem_source {self.problem_source!r}; valid: toy, numina")
        if self.samples_per_prompt < 1 or self.n_prompts < (4 if self.problem_source == "toy" else 1):
            raise ValueError("samples_per_prompt must be at least 1 and n_prompts at least 1 (toy: 4, one per level)")
        if self.epochs <= 0 or not self.finetune_seeds or self.eval_samples < 0 or self.n_eval_problems < 0:
            raise ValueError("epochs must be positive, finetune_seeds non-empty, eval_samples and n_eval_problems >= 0")
        if self.numina_heldout < 0 or (self.numina_heldout and not self.numina_path):
            raise ValueError("numina_heldout counts prompts of numina_path's held-out part: >= 0, and needs numina_path")
        if self.numina_heldout and self.math500_path:
            raise ValueError("one evaluation set per run: math500_path or numina_heldout, not both (Table 8's two "
                             "columns are two runs; the second reuses the first's candidates and judges' scores)")
        check_batch_split("batch_size", self.batch_size, self.sft_num_processes)
        check_sharding("sft_sharding", self.sft_sharding, self.sft_num_processes, "sft_num_processes")


@dataclass(frozen=True)
class ReportConfig(StageBase):
    """99_report: `<results_root>/<tier>/REPORT.md`, assembled from the stages' result files (report.py)."""

    # folders to look for each stage's results in, in order, relative to <results_root>/<tier> ("." is that folder
    # itself): the first that holds a stage's metrics.json supplies it, and the report names it
    sources: list[str] = field(default_factory=lambda: ["."])
    title: str = "StepWiser study: report"

    def __post_init__(self):
        if not self.sources:
            raise ValueError("sources must name at least one folder (\".\": <results_root>/<tier> itself)")


STAGES: dict[str, type] = {
    "00_policy": PolicyConfig,
    "01_segmentation": SegmentationConfig,
    "02_rollout_labels": RolloutLabelConfig,
    "03_judge_training": JudgeTrainingConfig,
    "04_processbench": ProcessBenchConfig,
    "05_inference_search": InferenceSearchConfig,
    "06_data_selection": DataSelectionConfig,
    "99_report": ReportConfig,
}
