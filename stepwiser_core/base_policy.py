"""Stage 00: the data, training and evaluation steps of the base policy, each one call from the notebook."""
from __future__ import annotations

import random
from collections.abc import Sequence

import pandas as pd

from typing import TYPE_CHECKING

from transformers import PreTrainedTokenizerBase

from .generation import Generator, Sampling, chat_prompt
from .instruct import Example, judge_exercise, policy_prompt, solve_example
from .judge import judge_prompt
from .judge_eval import JudgeItem
from .world.problems import Problem, generate_problems
from .world.solutions import render_solution

if TYPE_CHECKING:
    from pathlib import Path

    from .stages import PolicyConfig


def make_problem_splits(seed: int, n_train_per_level: int, n_eval_per_level: int) -> tuple[list[Problem], list[Problem]]:
    """Training and held-out problems; no held-out problem text also appears in training."""
    train = generate_problems(seed, n_train_per_level, split="train")
    seen = {p.text for p in train}
    pool = generate_problems(seed, 2 * n_eval_per_level, split="eval")
    held_out = []
    for level in sorted({p.level for p in pool}):
        held_out += [p for p in pool if p.level == level and p.text not in seen][:n_eval_per_level]
    return train, held_out


def build_mixture(train: Sequence[Problem], seed: int, teacher_error_rate: float, blank_line_prob: float,
                  judge_share: float, verdict_accuracy: float, blankline_share: float,
                  policy_template: str = "toy", direct_share: float = 0.0) -> list[Example]:
    """Solving examples for every training problem plus judging exercises on a `judge_share` of them."""
    rng = random.Random(f"{seed}:mixture")
    examples = [solve_example(p, render_solution(p, rng, teacher_error_rate, blank_line_prob=blank_line_prob).text,
                              policy_template) for p in train]
    judged = rng.sample(list(train), int(judge_share * len(train)))
    examples += judge_exercises(judged, rng, verdict_accuracy, blankline_share, blank_line_prob, direct_share)
    rng.shuffle(examples)
    return examples


def judge_exercises(problems: Sequence[Problem], rng: random.Random, verdict_accuracy: float,
                    blankline_share: float, blank_line_prob: float = 0.65, direct_share: float = 0.0,
                    wrong_share: float | None = None, analysis_style: str = "check",
                    glance_share: float = 0.0) -> list[Example]:
    """One judging exercise per problem, on a teacher solution (see instruct.judge_exercise); a `direct_share`
    of them are verdict-only exercises.

    By default (`wrong_share=None`, the draws 00's mixture was calibrated with) about 45 % of the judged chunks
    are wrong. With `wrong_share`, that share of the exercises judges the first wrong chunk of a solution with a
    forced mistake and the rest a chunk of a correct solution, so "the chunk is fine" is no longer the safe guess
    (the judge warm-up of stage 03, `judge_runs.warm_up_judge`). `analysis_style`: see `instruct.toy_analysis`;
    `glance_share`: see `instruct.glance_analysis`."""
    examples = []
    for p in problems:
        if wrong_share is None:
            # Exercises need wrong chunks as well as right ones: force a mistake into 60 % of their solutions.
            force = rng.randrange(len(p.ops)) if rng.random() < 0.6 else None
            target_wrong = 0.5
        else:
            force = rng.randrange(len(p.ops)) if rng.random() < wrong_share else None
            target_wrong = 1.0
        sol = render_solution(p, rng, 0.0, blank_line_prob=blank_line_prob, force_error_at=force)
        direct = direct_share > 0 and rng.random() < direct_share  # no extra draw when off: old mixtures unchanged
        examples.append(judge_exercise(p, sol.steps, sol.first_error, rng, verdict_accuracy, blankline_share, direct,
                                       wrong_target_prob=target_wrong, analysis_style=analysis_style,
                                       glance_prob=glance_share))
    return examples


def tokenizer_corpus(examples: Sequence[Example], size: int = 4000) -> list[str]:
    """The texts the toy tokenizer's BPE is learned from: the first `size` examples, prompt and answer."""
    return [e.prompt + "\n" + e.completion for e in examples[:size]]


def sample_solutions(generator: Generator, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                     sampling: Sampling, template: str = "toy") -> list[list[str]]:
    prompts = [chat_prompt(tokenizer, policy_prompt(p.text, template)) for p in problems]
    return generator.generate(prompts, sampling)


def run_judge(generator: Generator, tokenizer: PreTrainedTokenizerBase, items: Sequence[JudgeItem],
              sampling: Sampling, template: str = "toy") -> list[str]:
    """One judgment per item (the first of `sampling.n` samples)."""
    prompts = [chat_prompt(tokenizer, judge_prompt(i.problem.text, i.history, i.chunk, template)) for i in items]
    return [outs[0] for outs in generator.generate(prompts, sampling)]


def zero_shot_judge_items(problems: Sequence[Problem], texts: Sequence[Sequence[str]], seed: int,
                          per_class: int) -> list[JudgeItem]:
    """Every (history, step) item of the sampled solutions, balanced to `per_class` correct and as many wrong."""
    from .judge_eval import balanced_items, items_from_solution

    items = [it for p, ts in zip(problems, texts, strict=True) for t in ts for it in items_from_solution(p, t)]
    return balanced_items(items, random.Random(seed), per_class)


def _mean(series: pd.Series) -> float:
    return float(series.mean()) if len(series) else float("nan")


def base_model(cfg: "PolicyConfig", train_problems: Sequence[Problem], run_dir: "Path"):
    """The stage's base model: trained from scratch on the solving + judging mixture (toy tier), saved under
    `<run_dir>/model` and reloaded from there (so later cells evaluate exactly what later stages load), or loaded
    from `cfg.model_path` (paper tier). Returns (model, tokenizer, TRL log history as a DataFrame)."""
    from .models import ModelShape, build_model, count_parameters, load_model, save_model
    from .tokenizer import build_tokenizer
    from .training import SFTSettings, sft_train

    if cfg.model_source != "scratch":
        model, tokenizer = load_model(cfg.model_path)
        print(f"loaded {cfg.model_path}: {count_parameters(model) / 1e6:.1f}M parameters")
        return model, tokenizer, pd.DataFrame(columns=["step", "loss"])
    examples = build_mixture(train_problems, cfg.seed, cfg.teacher_error_rate, cfg.blank_line_prob,
                             cfg.judge_exercise_share, cfg.judge_exercise_verdict_accuracy,
                             cfg.judge_exercise_blankline_share, cfg.policy_template, cfg.judge_exercise_direct_share)
    tokenizer = build_tokenizer(tokenizer_corpus(examples), cfg.vocab_size)
    shape = ModelShape(cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads, cfg.intermediate_size)
    model = build_model(tokenizer, shape, cfg.seed)
    print(f"{len(examples)} examples; model: {count_parameters(model) / 1e6:.2f}M parameters, vocabulary {len(tokenizer)}")
    settings = SFTSettings(cfg.learning_rate, cfg.batch_size, cfg.max_steps, cfg.warmup_ratio,
                           max_length=cfg.max_length, completion_only_loss=cfg.completion_only_loss)
    log_history = pd.DataFrame(sft_train(model, tokenizer, examples, settings, run_dir / "trainer", cfg.seed))
    save_model(model, tokenizer, run_dir / "model")
    model, tokenizer = load_model(run_dir / "model")
    return model, tokenizer, log_history


def evaluate_solving(generator: Generator, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                     cfg: "PolicyConfig", verifier) -> tuple[list[list[str]], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Greedy (one sample) and temperature-1 (`eval_samples`) solutions, each scored by the exact checker.
    Returns (the temperature-1 texts, greedy scores, sampled scores, the per-level summary of both)."""
    from .policy_eval import score_solutions, summarize_by_level

    greedy_texts = sample_solutions(generator, tokenizer, problems, Sampling(cfg.max_new_tokens, 0.0, 1, cfg.seed),
                                    cfg.policy_template)
    sampled_texts = sample_solutions(generator, tokenizer, problems,
                                     Sampling(cfg.max_new_tokens, 1.0, cfg.eval_samples, cfg.seed), cfg.policy_template)
    greedy = score_solutions(problems, greedy_texts, verifier, decoding="greedy")
    sampled = score_solutions(problems, sampled_texts, verifier, decoding="temperature 1")
    summary = pd.concat([summarize_by_level(greedy).assign(decoding="greedy"),
                         summarize_by_level(sampled).assign(decoding="temperature 1")])
    return sampled_texts, greedy, sampled, summary


def policy_metrics(greedy: pd.DataFrame, sampled: pd.DataFrame, judged: pd.DataFrame) -> dict:
    """The stage's headline numbers (metrics.json). `sampled` is at temperature 1, all levels pooled.
    Judge numbers are NaN when there were no items (e.g. a policy that never errs)."""
    from .policy_eval import error_kind_shares, step_error_rate

    by_level = {
        str(level): {"greedy": float(greedy[greedy.level == level]["answer_correct"].mean()),
                     "temperature_1": float(sampled[sampled.level == level]["answer_correct"].mean())}
        for level in sorted(sampled["level"].unique())
    }
    return {
        "step_error_rate": step_error_rate(sampled),
        "problem_accuracy": float(sampled["answer_correct"].mean()),
        "process_accuracy": float(sampled["correct"].mean()),
        "step_error_rate_greedy": step_error_rate(greedy),
        "problem_accuracy_greedy": float(greedy["answer_correct"].mean()),
        "accuracy_by_level": by_level,
        "error_kind_shares": error_kind_shares(sampled),
        "zero_shot_judge_format_rate": _mean(judged["parsed"]),
        "zero_shot_judge_step_accuracy": _mean(judged["correct"]),
        "zero_shot_judge_accuracy_on_correct_chunks": _mean(judged[judged.label == True]["correct"]),  # noqa: E712
        "zero_shot_judge_accuracy_on_wrong_chunks": _mean(judged[judged.label == False]["correct"]),  # noqa: E712
        "zero_shot_judge_items": int(len(judged)),
    }
