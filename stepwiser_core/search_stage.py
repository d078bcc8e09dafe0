"""Notebook 05's glue: the problems and prompts it searches, each judge of notebook 03 opened for greedy judging, and
one chunk-reset search per problem and sample with each of them (`search.chunk_reset`)."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import search
from .backends import BackendSettings, close_backend, open_backend
from .generation import chat_prompt
from .instruct import policy_prompt
from .io import read_json
from .models import load_model
from .pb_stage import greedy_judge, open_judge_backend
from .rollouts import RolloutEngine
from .verify import last_boxed, make_verifier
from .world.problems import Problem

NO_JUDGE, EXACT_JUDGE = "none", "exact"


def search_problems(cfg, tier_runs: Path) -> list:
    """The problems to search: MATH500 with `math500_path` (the paper tier), else notebook 00's held-out toy problems
    (the ones 01's Table 4 measures the chunk policy on); the first `n_problems` (0: all)."""
    if cfg.math500_path:
        from .math500 import load_math500

        problems = load_math500(cfg.math500_path)
    else:
        problems = [Problem.from_dict(d) for d in read_json(Path(tier_runs) / "00_policy" / "eval_problems.json")]
    return problems[:cfg.n_problems or None]


def judge_names(registry: Mapping[str, Mapping], problems: Sequence, exact_judge: bool) -> list[str]:
    """`none` (the policy alone), `exact` (the checker, when asked for and every problem has one) and every judge of
    03's registry, in its order."""
    exact = exact_judge and all(isinstance(p, Problem) for p in problems)
    return [NO_JUDGE, *([EXACT_JUDGE] if exact else []), *registry]


def open_greedy_judge(name: str, entry: Mapping, cfg):
    """A judge of 03's registry as notebook 04 scores it without voting (`pb_stage.greedy_judge`), with the generation
    backend to close afterwards (None for a discriminative judge)."""
    backend = open_judge_backend(name, entry, cfg)
    return greedy_judge(entry, cfg, backend), backend


def run_searches(cfg, registry: Mapping[str, Mapping], problems: Sequence, policy_dir: Path,
                 names: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Every search of every judge in `names` (`samples_per_problem` per problem, all from the same seed, so each
    judge searches from the same first draws): one row per search (`search.search_rows`); with `cfg.best_of_n`, one
    row per problem and judge for best-of-N over the policy's own solutions (the `none` searches) and its references
    (`search.best_of_n_rows`, `search.reference_rows`; empty otherwise); and each judge's seconds."""
    if NO_JUDGE not in names[:1]:
        raise ValueError(f"the policy alone ({NO_JUDGE!r}) must come first: best-of-N selects among its solutions")
    sampler, policy_backend, tokenizer = open_chunk_sampler(policy_dir, cfg)
    try:
        return _search_all(cfg, registry, problems, sampler, tokenizer, names)
    finally:
        close_backend(policy_backend)


def open_chunk_sampler(policy_dir: Path, cfg):
    """The chunk policy as a `search.ChunkSampler`: on our engine (`generation_backend: engine`), or on vLLM with its
    own share of the GPU (`policy_gpu_memory_utilization`); returns it, the backend to close (None on the engine) and
    the policy's tokenizer."""
    if cfg.generation_backend == "vllm":
        settings = BackendSettings("vllm", cfg.gen_batch_size, cfg.seed, cfg.policy_gpu_memory_utilization,
                                   cfg.vllm_tensor_parallel_size)
        backend = open_backend(policy_dir, settings, desc="policy")
        return search.VLLMChunkSampler(backend), backend, backend.tokenizer
    policy, tokenizer = load_model(policy_dir)
    return search.EngineChunkSampler(RolloutEngine(policy, tokenizer, progress=False), tokenizer), None, tokenizer


def _search_all(cfg, registry: Mapping[str, Mapping], problems: Sequence, sampler, tokenizer,
                names: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    settings = search.SearchSettings(cfg.max_attempts, cfg.max_chunks, cfg.max_chunk_tokens, cfg.temperature, cfg.seed)
    n = cfg.samples_per_problem
    searched = [p for p in problems for _ in range(n)]
    prompts = [chat_prompt(tokenizer, policy_prompt(p.text, cfg.chunk_template)) for p in searched]
    is_correct = make_verifier(cfg.verifier).is_correct
    rows, best_rows, seconds, alone = [], [], {}, None
    for name in names:
        start, backend = time.perf_counter(), None
        try:
            if name == NO_JUDGE:
                judge = None
            elif name == EXACT_JUDGE:
                judge = search.ExactChunkJudge(problems)
            else:
                judge, backend = open_greedy_judge(name, registry[name], cfg)
            states = search.chunk_reset(sampler, [p.text for p in searched], prompts, judge, settings)
            if judge is None:
                alone = states
                if cfg.best_of_n:
                    best_rows += search.reference_rows(alone, problems, n, is_correct, last_boxed)
            elif cfg.best_of_n:
                scores = search.solution_scores(alone, judge)
                best_rows += search.best_of_n_rows(name, alone, problems, n, scores, is_correct)
        finally:
            close_backend(backend)
        rows += search.search_rows(name, states, searched, is_correct)
        seconds[name] = round(time.perf_counter() - start, 1)
        solved = sum(r["correct"] for r in rows[-len(states):]) / max(1, len(states))
        picked = [r["correct"] for r in best_rows if r["judge"] == name]
        chosen = f", best-of-{n} {sum(picked) / len(picked):.3f}" if picked else ""
        print(f"{name:>24}: chunk-reset accuracy {solved:.3f}{chosen} ({seconds[name]} s)", flush=True)
    return pd.DataFrame(rows), pd.DataFrame(best_rows), seconds
