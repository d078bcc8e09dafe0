"""Stage 04, one call each from the notebook: the toy benchmark's solutions, and every judge scored on it."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import judges, pb_report, processbench
from .backends import BackendSettings, close_backend, open_backend
from .base_policy import sample_solutions
from .generation import Sampling
from .io import atomic_write_json, read_json
from .models import load_model, weights_digest
from .processbench import PBRecord
from .rollouts import RolloutEngine
from .stages import ProcessBenchConfig
from .world.problems import Problem


def benchmark_generations(problems: Sequence[Problem], cfg: ProcessBenchConfig,
                          tier_runs: Path) -> dict[str, list[list[str]]]:
    """One solution per problem from each generator: the base policy at every `generator_temperatures`, and the
    chunk policy at T = 1. Keys name the generator (ProcessBench's `generator` field)."""
    policies = [("base", cfg.base_policy_dir or tier_runs / "00_policy" / "model", "toy", cfg.generator_temperatures),
                ("chunk", cfg.chunk_policy_dir or tier_runs / "01_segmentation" / "model", "toy_chunk", [1.0])]
    generations = {}
    for name, policy_dir, template, temperatures in policies:
        model, tokenizer = load_model(policy_dir)
        engine = RolloutEngine(model, tokenizer, max_batch_rows=cfg.gen_batch_size, desc=f"{name} policy")
        for t in temperatures:
            generations[f"toy-{name}-T{t:g}"] = sample_solutions(
                engine, tokenizer, problems, Sampling(cfg.max_new_tokens, t, 1, cfg.seed), template)
    return generations


def toy_benchmark(cfg: ProcessBenchConfig, tier_runs: Path, segmentation: str = "logical") -> dict[str, list[PBRecord]]:
    """The toy ProcessBench of `cfg.seed`, built as notebook 04 builds it: the problems of the "processbench" split,
    one solution from each generator (`benchmark_generations`), balanced and labelled by the exact checker, the
    steps cut by `segmentation` (`toy_processbench.STEP_SEGMENTATIONS`; notebook 04's are logical steps)."""
    from .toy_processbench import build_toy_processbench
    from .world.problems import generate_problems

    problems = generate_problems(cfg.seed, cfg.problems_per_subset, split="processbench")
    generations = benchmark_generations(problems, cfg, tier_runs)
    return build_toy_processbench(problems, generations, cfg.target_correct_share, cfg.seed, cfg.per_subset,
                                  segmentation)


def labelled_problems_overlap(labels_dir: Path, benchmark_problems: Sequence[str]) -> list[str]:
    """The benchmark problems (texts) that occur in a prompt of notebook 02's stepwise datasets under `labels_dir`:
    the data every trained judge learns from. Empty when there are none (`rollout_labels.annotation_problems` leaves
    the benchmark out when 02's `benchmark_seed` is this stage's seed)."""
    from datasets import load_from_disk

    prompts = [p for d in sorted(Path(labels_dir).glob("stepwise_*")) for p in load_from_disk(str(d))["prompt"]]
    joined = "\0".join(prompts)  # one scan per problem; no problem text holds a NUL, so none spans two prompts
    return sorted(t for t in set(benchmark_problems) if t in joined)


def judges_labels_dir(judges_dir: Path) -> Path:
    """Where stage 03, run in `judges_dir`, read notebook 02's labels: its recorded `labels_dir`, or else 02's run
    folder beside it (03's default)."""
    import yaml

    config = Path(judges_dir) / "config.yaml"  # written by the runner; absent when 03 ran interactively
    labels_dir = yaml.safe_load(config.read_text(encoding="utf-8")).get("labels_dir") if config.exists() else ""
    return Path(labels_dir) if labels_dir else Path(judges_dir).parent / "02_rollout_labels"


def check_benchmark_unseen(bench: Mapping[str, Sequence[PBRecord]], registry: Mapping[str, Mapping],
                           labels_dir: Path | None = None) -> None:
    """Raise ValueError if the judges' shared init was warmed up on any of the benchmark's problems (stage 03's
    `benchmark_seed` must be this stage's `seed`; `judge_runs.warmup_problems`), or if notebook 02 labelled any of
    them for training (`labels_dir`; 02's `benchmark_seed`). A no-op for what does not exist (no warm-up, no labels)."""
    from .judge_runs import warmup_benchmark_overlap

    problems = sorted({r.problem for recs in bench.values() for r in recs})
    if "zero_shot" in registry and (seen := warmup_benchmark_overlap(Path(registry["zero_shot"]["path"]), problems)):
        raise ValueError(f"{len(seen)} benchmark problems were in the judge warm-up's exercises "
                         f"(first: {seen[0]!r}); re-run 03_judge_training with benchmark_seed equal to this "
                         f"stage's seed")
    if labels_dir is not None and (seen := labelled_problems_overlap(labels_dir, problems)):
        raise ValueError(f"{len(seen)} benchmark problems are in notebook 02's labelled data in {labels_dir} "
                         f"(first: {seen[0]!r}); re-run 02_rollout_labels with benchmark_seed equal to this "
                         f"stage's seed, then 03")


def greedy_judge(entry: Mapping, cfg, backend=None) -> judges.StepJudge:
    """One registry entry as a single-verdict judge: a discriminative judge (P(+) against P(-)), or a generative one
    decoding greedily from `backend` (`open_judge_backend`). `cfg` needs `judge_max_new_tokens`, `judge_template` and
    `seed` (04's and 05's configs)."""
    if entry["kind"] == "disc":
        return judges.DiscriminativeJudge(*load_model(entry["path"]))
    greedy = Sampling(cfg.judge_max_new_tokens, 0.0, 1, cfg.seed)
    return judges.GenerativeJudge(backend, backend.tokenizer, cfg.judge_template, entry["kind"] == "cot", greedy)


def judge_variants(name: str, entry: Mapping, cfg: ProcessBenchConfig,
                   backend=None) -> list[tuple[str, judges.StepJudge]]:
    """The judges to score for one registry entry: `greedy_judge`, plus maj@k for the StepWiser judges (paper Table
    5, Maj@8), sampling from `backend` (`open_judge_backend`)."""
    out = [(name, greedy_judge(entry, cfg, backend))]
    if entry["kind"] == "disc":
        return out
    tokenizer = backend.tokenizer
    if name.startswith("stepwiser_") and cfg.maj_k > 1:
        voting = Sampling(cfg.judge_max_new_tokens, cfg.maj_temperature, cfg.maj_k, cfg.seed)
        out.append((f"{name}@maj{cfg.maj_k}", judges.GenerativeJudge(backend, tokenizer, cfg.judge_template, True, voting)))
    return out


def open_judge_backend(name: str, entry: Mapping, cfg):
    """The generation backend of a generative judge (`cfg.generation_backend`: the engine, or vLLM on GPUs; `cfg` is
    04's or 05's config); None for a discriminative one, which scores steps with one forward pass."""
    if entry["kind"] == "disc":
        return None
    return open_backend(entry["path"], BackendSettings.from_config(cfg, cfg.gen_batch_size), desc=name)


# The settings of ProcessBenchConfig that a judge's scores depend on, beside its weights and the benchmark (the
# generation batch is there because batching changes the padding, and so the floating-point sums, of greedy decoding).
SCORE_SETTINGS = ("seed", "judge_template", "judge_max_new_tokens", "maj_k", "maj_temperature", "gen_batch_size",
                  "generation_backend", "vllm_tensor_parallel_size")


def score_key(entry: Mapping, bench: Mapping[str, Sequence[PBRecord]], cfg: ProcessBenchConfig) -> str:
    """SHA-256 of everything one judge's scores on `bench` depend on: its weights, kind and rule, every benchmark
    record, and `SCORE_SETTINGS`. Equal keys, equal scores: what `score_judges` may reuse."""
    payload = {"kind": entry["kind"], "rule": entry.get("rule"), "weights": weights_digest(Path(entry["path"])),
               "bench": {subset: [r.to_dict() for r in recs] for subset, recs in sorted(bench.items())},
               "settings": {name: getattr(cfg, name) for name in SCORE_SETTINGS}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def score_judges(registry: Mapping[str, Mapping], bench: Mapping[str, Sequence[PBRecord]], cfg: ProcessBenchConfig,
                 cache_dir: Path | None = None) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Every judge (and maj@k variant) on the benchmark, one checkpoint at a time: the results table
    (`pb_report.TABLE_COLUMNS`) and each judge's first-error predictions.

    With `cache_dir`, each judge's rows and predictions are kept there as <name>.json under its `score_key`, and a
    judge whose key is unchanged is not scored again: a seed tool rerun with more seeds scores only the new judges."""
    records = [r for recs in bench.values() for r in recs]
    rows, predictions = [], {}
    for name, entry in registry.items():
        cached = Path(cache_dir) / f"{name}.json" if cache_dir is not None else None
        key = score_key(entry, bench, cfg) if cached is not None else None
        if cached is not None and cached.exists() and (kept := read_json(cached))["key"] == key:
            rows.extend(kept["rows"])
            predictions.update(kept["predictions"])
            print(f"{name:>24}: scored before, in {cached}")
            continue
        judge_rows, judge_predictions = [], {}
        backend = open_judge_backend(name, entry, cfg)
        try:
            for variant, judge in judge_variants(name, entry, cfg, backend):
                judge_predictions[variant] = judges.predict_first_errors(judge, records)
                result = processbench.score(bench, judge_predictions[variant])
                judge_rows.extend(pb_report.result_rows(variant, entry["rule"], result))
                print(f"{variant:>24}: average F1 {result['average_f1']:.1f}")
        finally:
            close_backend(backend)  # frees a vLLM engine's GPU memory before the next checkpoint loads
        if cached is not None:
            atomic_write_json(cached, {"key": key, "rows": judge_rows, "predictions": judge_predictions})
        rows.extend(judge_rows)
        predictions.update(judge_predictions)
    return pd.DataFrame(rows, columns=pb_report.TABLE_COLUMNS), predictions
