"""Notebook 06's glue: the prompts whose responses are selected, the chunk policy's candidates, every judge's scores of
the contested ones, one fine-tuning of the chunk policy per selector and fine-tune seed, and its evaluation.

An interrupted run resumes: the candidates, each judge's scores and each fine-tuned policy's evaluation are written to
`<run_dir>/parts/` as soon as they exist (with the seconds each took), and kept only while the stage's config is the
one they were made with.
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import selection
from .backends import BackendSettings, close_backend, open_backend
from .base_policy import sample_solutions
from .generation import Sampling
from .instruct import solve_example
from .io import atomic_write_json, atomic_write_text, read_json
from .judges import average_chunk_scores
from .search_stage import open_greedy_judge
from .world.problems import Problem, generate_problems

# what no part depends on: where things are written, and which selectors and seeds run (each part is one judge's
# scores or one selector and seed's evaluation, so adding a judge or a seed reuses the others'), and which evaluation
# set (its parts are named for it, `evaluation_set_name`, so a run on another set reuses the candidates and scores)
_NOT_IN_PARTS_KEY = ("runs_root", "results_root", "stage", "judges", "finetune_seeds", "exact_selector", "keep_models",
                     "math500_path", "numina_heldout")


def selection_prompts(cfg) -> list:
    """The prompts to sample from: toy, `n_prompts // 4` per level of a split of their own ("selection"); numina,
    `n_prompts` NuminaMath-CoT prompts drawn for selection ([P] NOT SPECIFIED)."""
    if cfg.problem_source == "toy":
        return generate_problems(cfg.seed, cfg.n_prompts // 4, split="selection")
    from .numina import draw_prompts
    from .verify import make_verifier

    return draw_prompts(cfg.numina_path, cfg.numina_split, cfg.n_prompts, cfg.seed, make_verifier(cfg.verifier),
                        "selection").problems


# the parts of each evaluation set's evaluations (the toy tier's own set keeps the names it had before the others)
_EVALUATION_PREFIX = {"toy_heldout": "eval_", "math500": "eval_math500_", "numina_heldout": "eval_numina_heldout_"}


def evaluation_set_name(cfg) -> str:
    """"math500", "numina_heldout", or "toy_heldout" (00's held-out problems): which set `evaluation_set` returns."""
    return "numina_heldout" if cfg.numina_heldout else "math500" if cfg.math500_path else "toy_heldout"


def evaluation_set(cfg, tier_runs: Path) -> list:
    """Where the fine-tuned policies are measured: MATH500 with `math500_path` or our NuminaMath held-out prompts with
    `numina_heldout` ([P Table 8]), else 00's held-out toy problems (01's Table 4 and 05 use the same); the first
    `n_eval_problems` (0: all)."""
    if cfg.numina_heldout:
        from .numina import heldout_prompts
        from .verify import make_verifier

        problems = heldout_prompts(cfg.numina_path, cfg.numina_split, cfg.numina_heldout, make_verifier(cfg.verifier))
    elif cfg.math500_path:
        from .math500 import load_math500

        problems = load_math500(cfg.math500_path)
    else:
        problems = [Problem.from_dict(d) for d in read_json(Path(tier_runs) / "00_policy" / "eval_problems.json")]
    return problems[:cfg.n_eval_problems or None]


class Parts:
    """`<run_dir>/parts/`: finished pieces of the stage, valid for one config (a changed config clears them)."""

    def __init__(self, run_dir: Path, cfg):
        self.dir = Path(run_dir) / "parts"
        key = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_IN_PARTS_KEY}
        stamp = self.dir / "config.json"
        if stamp.exists() and read_json(stamp) != json.loads(json.dumps(key)):
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        if not stamp.exists():
            atomic_write_json(stamp, key)

    def seconds(self, name: str) -> float | None:
        """How long the part `name` took to make, in whichever run made it (None: unknown)."""
        path = self.dir / "seconds.json"
        return read_json(path).get(name) if path.exists() else None

    def seconds_total(self, prefix: str, exclude: Sequence[str] = ()) -> float | None:
        """The seconds of every part whose name starts with `prefix` and with none of `exclude`, summed (None when none
        is known)."""
        path = self.dir / "seconds.json"
        known = [v for k, v in (read_json(path) if path.exists() else {}).items()
                 if k.startswith(prefix) and not k.startswith(tuple(exclude))]
        return round(sum(known), 1) if known else None

    def evaluation_seconds(self, cfg) -> float | None:
        """The seconds of this config's evaluation set's parts (fine-tunings included), not another set's."""
        mine = _EVALUATION_PREFIX[evaluation_set_name(cfg)]
        return self.seconds_total(mine, [p for p in _EVALUATION_PREFIX.values() if p != mine and p.startswith(mine)])

    def _made(self, name: str, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        start = time.perf_counter()
        frame = make()
        path = self.dir / "seconds.json"
        atomic_write_json(path, {**(read_json(path) if path.exists() else {}),
                                 name: round(time.perf_counter() - start, 1)})
        return frame

    def candidates(self, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The candidates (`selection.candidates`), made by `make` the first time and read back after: every other part
        was computed from them, so a resumed run must not draw them again (JSON lines: a row holds its chunk list)."""
        path = self.dir / "candidates.jsonl"
        if path.exists():
            return pd.read_json(path, lines=True, dtype={"problem_id": str})[selection.CANDIDATE_COLUMNS]
        frame = self._made("candidates", make)
        atomic_write_text(path, frame.to_json(orient="records", lines=True))
        return frame

    def frame(self, name: str, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The part `name` (a CSV), made by `make` the first time (and the seconds that took, `seconds`)."""
        path = self.dir / f"{name}.csv"
        if path.exists():
            return pd.read_csv(path, dtype={"problem_id": str}, keep_default_na=False, na_values=[""])
        frame = self._made(name, make)
        atomic_write_text(path, frame.to_csv(index=False))
        return frame


def sample_candidates(cfg, policy_dir: Path, problems: Sequence, is_correct) -> pd.DataFrame:
    """`samples_per_prompt` responses per prompt from the chunk policy at `temperature` (`selection.candidates`)."""
    backend = open_backend(policy_dir, BackendSettings.from_config(cfg, cfg.gen_batch_size), desc="candidates")
    try:
        texts = sample_solutions(backend, backend.tokenizer, problems,
                                 Sampling(cfg.max_new_tokens, cfg.temperature, cfg.samples_per_prompt, cfg.seed),
                                 cfg.chunk_template)
    finally:
        close_backend(backend)
    return selection.candidates(problems, texts, is_correct)


def judge_scores(cfg, registry: Mapping[str, Mapping], names: Sequence[str], cands: pd.DataFrame,
                 problem_text: Mapping[str, str], parts: Parts) -> tuple[dict[str, dict], dict[str, float]]:
    """Every judge's average chunk score of every contested response (`selection.contested`), one judge at a time;
    and the seconds each judge's scoring took (in the run that made it: `Parts.seconds`)."""
    todo = selection.contested(cands)
    scores, seconds = {}, {}
    for name in names:
        def score(name=name) -> pd.DataFrame:
            judge, backend = open_greedy_judge(name, registry[name], cfg)
            try:
                values = average_chunk_scores([problem_text[p] for p in todo["problem_id"]], list(todo["chunks"]), judge)
            finally:
                close_backend(backend)
            return pd.DataFrame({"problem_id": todo["problem_id"], "sample": todo["sample"], "score": values})

        frame = parts.frame(f"scores_{name}", score)
        if sorted(zip(frame["problem_id"], frame["sample"])) != sorted(zip(todo["problem_id"], todo["sample"])):
            raise ValueError(f"{parts.dir}/scores_{name}.csv scores other responses than these candidates; "
                             f"delete {parts.dir} to start the stage afresh")
        scores[name] = {(str(p), int(k)): float(s) for p, k, s in zip(frame["problem_id"], frame["sample"],
                                                                       frame["score"])}
        seconds[name] = parts.seconds(f"scores_{name}")
        print(f"{name:>24}: scored {len(frame)} responses ({seconds[name]} s)", flush=True)
    return scores, seconds


def sft_steps(n_examples: int, epochs: float, batch_size: int) -> int:
    """Optimizer steps for `epochs` passes over `n_examples` at `batch_size` (at least one)."""
    return max(1, math.ceil(epochs * n_examples / batch_size))


def fine_tune(cfg, policy_dir: Path, picks: pd.DataFrame, problem_by_id: Mapping[str, object], seed: int,
              out_dir: Path):
    """A fresh copy of the chunk policy fine-tuned on `picks` (one response per prompt), saved in `out_dir`. Every
    selector's set has one example per prompt in the same prompt order, so with one seed the sets differ only in which
    response a prompt contributes (the same data order, the same number of steps)."""
    from .launch import fine_tune_copy
    from .models import save_model
    from .tokenizer import load_tokenizer
    from .training import SFTSettings

    examples = [solve_example(problem_by_id[p], t, cfg.chunk_template) for p, t in zip(picks["problem_id"], picks["text"])]
    settings = SFTSettings(cfg.learning_rate, cfg.batch_size, sft_steps(len(examples), cfg.epochs, cfg.batch_size),
                           cfg.warmup_ratio, max_length=cfg.max_length, sharding=cfg.sft_sharding)
    model, _ = fine_tune_copy(policy_dir, examples, settings, Path(out_dir) / "trainer", seed, cfg.sft_num_processes)
    save_model(model, load_tokenizer(policy_dir), Path(out_dir) / "model")  # the policy's own tokenizer, unchanged
    return Path(out_dir) / "model"


def evaluate(cfg, model_dir: Path, problems: Sequence, is_correct, **tags) -> pd.DataFrame:
    """Greedy ([P Table 8]) and `eval_samples` temperature-1 solutions of each problem, each row a
    `selection.candidates` row (final answer right, every step right) with `decoding` and `tags`."""
    backend = open_backend(model_dir, BackendSettings.from_config(cfg, cfg.gen_batch_size), desc="evaluate",
                           progress=False)
    try:
        frames = []
        decodings = [("greedy", Sampling(cfg.max_new_tokens, 0.0, 1, cfg.seed))]
        if cfg.eval_samples:
            decodings.append(("temperature 1", Sampling(cfg.max_new_tokens, 1.0, cfg.eval_samples, cfg.seed)))
        for decoding, sampling in decodings:
            texts = sample_solutions(backend, backend.tokenizer, problems, sampling, cfg.chunk_template)
            frames.append(selection.candidates(problems, texts, is_correct).assign(decoding=decoding, **tags))
    finally:
        close_backend(backend)
    return pd.concat(frames, ignore_index=True).drop(columns=["text", "chunks"])


def evaluation_part(cfg, policy: str, seed: int | None = None) -> str:
    """The part holding `policy`'s evaluation (fine-tuned with `seed`; None: the untrained policy) on this config's
    evaluation set: `eval_<policy>[_seed<k>]` on the toy tier's own set, `eval_<set>_...` on MATH500 or the NuminaMath
    held-out prompts, so that a run on another set keeps the candidates, the scores and the other set's parts."""
    return _EVALUATION_PREFIX[evaluation_set_name(cfg)] + policy + ("" if seed is None else f"_seed{seed}")


def fine_tune_all(cfg, policy_dir: Path, selected: Mapping[str, pd.DataFrame], problem_by_id: Mapping[str, object],
                  eval_problems: Sequence, is_correct, parts: Parts, work_dir: Path) -> pd.DataFrame:
    """The chunk policy as it is (`policy`), then each selector's fine-tuning for every fine-tune seed, each evaluated
    on `eval_problems`: all evaluation rows. A fine-tuned model is deleted after its evaluation unless `keep_models`.
    Each is a part named for the evaluation set (`evaluation_part`)."""
    frames = [parts.frame(evaluation_part(cfg, selection.POLICY),
                          lambda: evaluate(cfg, policy_dir, eval_problems, is_correct, policy=selection.POLICY,
                                           finetune_seed=-1))]
    for seed in cfg.finetune_seeds:
        for name, picks in selected.items():
            if picks.empty:  # e.g. the smoke tier's untrained policy: no correct response, nothing to learn from
                print(f"{name:>24} seed {seed}: no correct response to fine-tune on; skipped", flush=True)
                continue
            def run(name=name, picks=picks, seed=seed) -> pd.DataFrame:
                out = Path(work_dir) / f"{name}_seed{seed}"
                model_dir = fine_tune(cfg, policy_dir, picks, problem_by_id, seed, out)
                rows = evaluate(cfg, model_dir, eval_problems, is_correct, policy=name, finetune_seed=seed)
                if not cfg.keep_models:
                    shutil.rmtree(out)
                return rows

            frame = parts.frame(evaluation_part(cfg, name, seed), run)
            greedy = frame.loc[frame["decoding"] == "greedy", "answer_correct"].mean()
            print(f"{name:>24} seed {seed}: greedy accuracy {greedy:.3f} "
                  f"({parts.seconds(evaluation_part(cfg, name, seed))} s)", flush=True)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)
