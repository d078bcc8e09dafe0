"""Stage 01: self-segmentation data (paper §3.1, §4.1) and the chunk-vs-blank-line statistics (Table 4).

The paper samples 16 responses per prompt from the base policy, keeps up to 4 correct ones, asks
Llama-3.1-70B for 8 segmentations of each and keeps only those that reconstruct the response exactly;
then it fine-tunes the base model to write `<chunk>` tags itself. The toy tier does the same with the
imperfect teacher segmenter of `segmentation.py` standing in for the 70B model.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from transformers import PreTrainedTokenizerBase

from .instruct import Example, policy_prompt
from .segmentation import check_attempt, format_chunks, parse_chunks_lenient, segment_attempts, select_segmentation
from .verify import AnswerVerifier
from .world.checker import check_steps
from .world.problems import Problem, generate_problems
from .world.segment import blankline_steps


def segmentation_prompts(source: str, n_prompts: int, seed: int, verifier: AnswerVerifier, numina_path: str = "",
                         numina_split: str = "train") -> tuple[list, dict[str, int]]:
    """The prompts whose responses are segmented, and how they were drawn (counts for metrics.json).

    "toy": `n_prompts // 4` per level of the "segmentation" split. "numina": `n_prompts` deduplicated NuminaMath-CoT
    prompts whose reference answer `verifier` can check ([P §4.1] a random 20k), in an order fixed by `seed`."""
    if source == "toy":
        problems = generate_problems(seed, n_prompts // 4, split="segmentation")
        return problems, {"kept": len(problems)}
    if source == "numina":
        from .numina import draw_prompts

        selection = draw_prompts(numina_path, numina_split, n_prompts, seed, verifier, "segmentation")
        return selection.problems, selection.counts
    raise ValueError(f"unknown problem source {source!r}; valid: toy, numina")


def evaluation_problems(source: str, tier_runs: Path, seed: int, verifier: AnswerVerifier, n_eval_prompts: int,
                        exclude: Sequence[str] = (), numina_path: str = "", numina_split: str = "train",
                        math500_path: str = "") -> list:
    """The held-out problems of Table 4's analog. "toy": notebook 00's (`<tier_runs>/00_policy/eval_problems.json`);
    "numina": MATH500 when `math500_path` is given (the paper's accuracy set), else `n_eval_prompts` NuminaMath-CoT
    prompts drawn for evaluation, none of the texts in `exclude` (the segmentation prompts)."""
    if source == "toy":
        from .io import read_json

        return [Problem.from_dict(d) for d in read_json(Path(tier_runs) / "00_policy" / "eval_problems.json")]
    if math500_path:
        from .math500 import load_math500

        return load_math500(math500_path)
    from .numina import draw_prompts

    return draw_prompts(numina_path, numina_split, n_eval_prompts, seed, verifier, "evaluation", exclude).problems


def sample_policy(model_dir: str | Path, settings, model, tokenizer: PreTrainedTokenizerBase, batch_size: int,
                  problems: Sequence, sampling, template: str, desc: str = "policy") -> list[list[str]]:
    """`sampling.n` solutions per problem from the policy in `model_dir` (`model`, already loaded, on the engine
    setting), through `backends.open_sampler`; the sampler is closed afterwards, so a vLLM engine's GPU memory is
    free for whatever 01 does next (the segmenter, the SFT, the other policy)."""
    from .backends import close_backend, open_sampler
    from .base_policy import sample_solutions

    sampler = open_sampler(model_dir, settings, model, tokenizer, batch_size, desc)
    try:
        return sample_solutions(sampler, tokenizer, problems, sampling, template)
    finally:
        close_backend(sampler)


def correct_responses(problems: Sequence[Problem], samples: Sequence[Sequence[str]], verifier: AnswerVerifier,
                      max_per_prompt: int) -> list[tuple[Problem, str]]:
    """Up to `max_per_prompt` distinct responses per problem whose final answer is right (paper: 4 of 16)."""
    kept = []
    for problem, texts in zip(problems, samples, strict=True):
        good = list(dict.fromkeys(t for t in texts if verifier.is_correct(t, str(problem.answer))))
        kept += [(problem, t) for t in good[:max_per_prompt]]
    return kept


def sft_responses(problems: Sequence[Problem], samples: Sequence[Sequence[str]], verifier: AnswerVerifier,
                  max_per_prompt: int, correct_only: bool, correct_share: float = 0.0,
                  seed: int = 0) -> list[tuple[Problem, str]]:
    """The responses offered to the segmenter: the paper's `correct_responses`, or (`correct_only=False`) the
    first `max_per_prompt` samples of each prompt as they came, right or wrong and without de-duplication, so
    that the SFT data are an unbiased sample of the base policy and fine-tuning on them keeps its accuracy.

    `correct_share` > 0 (with `correct_only=False`): while fewer than that share of the kept responses are right,
    replace a wrong one, chosen at random (seeded), by a right sample of the same prompt that was not kept (its
    later samples). Every prompt keeps its number of responses; the share may stay below the target when no
    prompt has a right sample to spare. Why: SFT on a plain sample loses a few points of accuracy (imperfect
    fitting widens the distribution), and a slightly richer sample can offset that without becoming the paper's
    rejection-sampling fine-tuning, which turns the toy chunk policy into a stronger solver."""
    if correct_only:
        return correct_responses(problems, samples, verifier, max_per_prompt)
    kept = [[t for t in list(texts)[:max_per_prompt]] for texts in samples]
    right = [[verifier.is_correct(t, str(p.answer)) for t in texts] for p, texts in zip(problems, kept, strict=True)]
    spare = [[t for t in list(texts)[max_per_prompt:] if verifier.is_correct(t, str(p.answer))]
             for p, texts in zip(problems, samples, strict=True)]
    total, n_right = sum(map(len, kept)), sum(map(sum, right))
    slots = [(i, j) for i, flags in enumerate(right) for j, ok in enumerate(flags) if not ok]
    random.Random(f"{seed}:sft_correct_share").shuffle(slots)
    for i, j in slots:
        if n_right >= correct_share * total:
            break
        if spare[i]:
            kept[i][j] = spare[i].pop(0)
            n_right += 1
    return [(problem, t) for problem, texts in zip(problems, kept, strict=True) for t in texts]


def response_accuracy(responses: Sequence[tuple[Problem, str]], verifier: AnswerVerifier) -> float:
    """The share of (problem, response) pairs whose final answer is right (0.0 for none): the SFT data's accuracy."""
    return sum(verifier.is_correct(t, str(p.answer)) for p, t in responses) / max(len(responses), 1)


@dataclass(frozen=True)
class SegmentationData:
    examples: list[Example]  # SFT examples: chunk-policy prompt -> the response with <chunk> tags
    attempts: int  # teacher segmentations asked for
    valid_attempts: int  # ... that parse and reconstruct their response exactly
    responses: int  # responses offered to the teacher
    kept: int  # responses with at least one valid segmentation (they become SFT examples)


def build_segmentation_data(responses: Sequence[tuple[Problem, str]], seed: int, n_attempts: int,
                            teacher_error_rate: float, template: str = "toy_chunk",
                            attempts: Sequence[Sequence[str]] | None = None) -> SegmentationData:
    """Segment each response `n_attempts` times, keep exact reconstructions, pick one per response.

    The attempts come from the toy teacher (`segmentation.segment_attempts`, with `teacher_error_rate`), or are
    given: the paper tier's LLM segmenter (`llm_segmenter.llm_segment_attempts`), one list per response."""
    if attempts is not None and len(attempts) != len(responses):
        raise ValueError(f"{len(attempts)} attempt lists for {len(responses)} responses")
    rng = random.Random(f"{seed}:segmentation")
    examples, valid = [], 0
    for k, (problem, text) in enumerate(responses):
        tries = segment_attempts(text, rng, n_attempts, teacher_error_rate) if attempts is None else attempts[k]
        valid += sum(check_attempt(text, a) is not None for a in tries)
        if (chunks := select_segmentation(text, tries)) is not None:
            examples.append(Example(policy_prompt(problem.text, template), format_chunks(chunks), "chunk"))
    n_tried = len(responses) * n_attempts if attempts is None else sum(map(len, attempts))
    return SegmentationData(examples, n_tried, valid, len(responses), len(examples))


def solution_stats(problems: Sequence[Problem], samples: Sequence[Sequence[str]], tokenizer: PreTrainedTokenizerBase,
                   verifier: AnswerVerifier, segmentation: str) -> pd.DataFrame:
    """Per sample: number of steps under `segmentation` ("blankline" or "chunks"), tokens, correctness,
    and the first wrong step the exact checker finds in those steps (None: none, or `checked` False: no checker)."""
    rows = []
    for problem, texts in zip(problems, samples, strict=True):
        checked = isinstance(problem, Problem)  # NuminaMath prompts (the paper tier) have no exact checker
        for k, text in enumerate(texts):
            steps = blankline_steps(text) if segmentation == "blankline" else parse_chunks_lenient(text)
            rows.append({"problem_id": problem.id, "level": problem.level, "sample": k, "segmentation": segmentation,
                         "steps": len(steps), "tokens": len(tokenizer(text, add_special_tokens=False)["input_ids"]),
                         "answer_correct": verifier.is_correct(text, str(problem.answer)),
                         "first_error": check_steps(problem, steps).first_error if checked else None,
                         "checked": checked})
    return pd.DataFrame(rows)


# The paper's Table 4 (Qwen2.5-1.5B; steps and tokens over 10K NuminaMath prompts, Avg@32 on MATH500).
PAPER_TABLE4 = {"blankline": ("Qwen2.5-1.5B-it, split by \\n\\n", 9.6, 686.7, 44.2),
                "chunks": ("Qwen2.5-1.5B-chunk, self-segmentation", 6.0, 714.1, 44.7)}


def table4(stats: pd.DataFrame) -> pd.DataFrame:
    """Steps, tokens and accuracy (mean over every sample) per segmentation, beside the paper's numbers."""
    rows = []
    for seg, g in stats.groupby("segmentation", sort=False):
        name, steps, tokens, acc = PAPER_TABLE4[seg]
        rows.append({"segmentation": seg, "steps": g["steps"].mean(), "tokens": g["tokens"].mean(),
                     "accuracy": g["answer_correct"].mean(), "accuracy_se": _binomial_se(g["answer_correct"]),
                     "n": len(g), "paper_model": name, "paper_steps": steps, "paper_tokens": tokens,
                     "paper_accuracy": acc / 100})
    return pd.DataFrame(rows)


def _binomial_se(x: pd.Series) -> float:
    p = float(x.mean())
    return (p * (1 - p) / max(len(x), 1)) ** 0.5


def segmentation_metrics(stats: pd.DataFrame, chunk_texts: Sequence[Sequence[str]]) -> dict:
    from .segmentation import parse_chunks

    base, chunk = stats[stats.segmentation == "blankline"], stats[stats.segmentation == "chunks"]
    texts = [t for ts in chunk_texts for t in ts]
    return {
        "steps_per_solution_blankline": float(base["steps"].mean()),
        "steps_per_solution_chunks": float(chunk["steps"].mean()),
        "step_reduction": float(1 - chunk["steps"].mean() / base["steps"].mean()),
        "tokens_per_solution_blankline": float(base["tokens"].mean()),
        "tokens_per_solution_chunks": float(chunk["tokens"].mean()),
        "accuracy_base": float(base["answer_correct"].mean()),
        "accuracy_base_se": _binomial_se(base["answer_correct"]),
        "accuracy_chunk": float(chunk["answer_correct"].mean()),
        "accuracy_chunk_se": _binomial_se(chunk["answer_correct"]),
        "chunk_format_rate": sum(parse_chunks(t) is not None for t in texts) / max(len(texts), 1),
    }


def train_chunk_policy(seg_examples: Sequence[Example], cfg, policy_dir, run_dir, tokenizer: PreTrainedTokenizerBase):
    """SFT of a fresh copy of the base model on the kept segmentations plus `judge_replay_share` replayed judging
    exercises; saved under `<run_dir>/model` and reloaded from there. Returns (model, tokenizer, TRL log history,
    number of SFT examples)."""
    from pathlib import Path

    from .base_policy import judge_exercises
    from .launch import fine_tune_copy
    from .models import load_model, save_model
    from .training import SFTSettings
    if not seg_examples:  # an SFT on replay alone would quietly give a "chunk policy" that never saw a chunk
        raise ValueError("no segmentation passed the format and exact-reconstruction filter, so there is nothing to "
                         "fine-tune the chunk policy on: check the segmenter (no attempt reconstructed its response)")
    rng = random.Random(f"{cfg.seed}:replay")
    replay = generate_problems(cfg.seed, max(1, int(cfg.judge_replay_share * len(seg_examples)) // 4), split="replay")
    examples = list(seg_examples) + judge_exercises(replay, rng, cfg.replay_verdict_accuracy,
                                                    cfg.replay_blankline_share, direct_share=cfg.replay_direct_share)
    settings = SFTSettings(cfg.learning_rate, cfg.batch_size, cfg.max_steps, max_length=cfg.max_length,
                           sharding=cfg.sft_sharding)
    model, log = fine_tune_copy(policy_dir, examples, settings, Path(run_dir) / "trainer", cfg.seed,
                                cfg.sft_num_processes)
    log_history = pd.DataFrame(log)
    save_model(model, tokenizer, Path(run_dir) / "model")
    model, tokenizer = load_model(Path(run_dir) / "model")
    return model, tokenizer, log_history, len(examples)
