"""The toy ProcessBench: the policies' own solutions to held-out toy problems, in ProcessBench's schema.

ProcessBench (reference/ecosystem.md §1) gives a problem, a solution already cut into steps, and the index of the
earliest wrong step (−1 when every step is right); each subset is half correct, half wrong on the final answer,
and a right final answer can still come from a wrong process (label ≥ 0). The toy version keeps all of that, with
exact labels from the checker:

- subsets are the difficulty levels, named after the ProcessBench subsets they stand in for
  (`world.problems.LEVELS`: gsm8k, math, olympiadbench, omnimath);
- steps are the logical steps of the solution (`world.segment.logical_steps`), whatever generator wrote it, so that
  judges are compared on the same steps (chunk tags, if any, are removed first, as ProcessBench's own steps do not
  come from the solver's segmentation);
- `label` = the checker's first wrong step, or −1; `final_answer_correct` = the last boxed answer is right
  (`verify.ExactVerifier`), independent of the process;
- solutions that give no final answer (cut off by the token limit) are left out: ProcessBench's solutions all end
  in an answer, and such a text would get label −1 with a wrong answer, a case the benchmark does not have.
"""
from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence

import pandas as pd

from .processbench import PBRecord
from .segmentation import parse_chunks_lenient
from .tokenizer import CHUNK_CLOSE, CHUNK_OPEN
from .verify import ExactVerifier, last_boxed
from .world.checker import check_steps
from .stages import BENCHMARK_PREFIX
from .world.problems import LEVELS, Problem, generate_problems
from .world.segment import blankline_steps, logical_steps

__all__ = ["STEP_SEGMENTATIONS", "benchmark_stats", "build_toy_processbench", "check_same_solutions", "solution_record",
           "solution_steps"]


def benchmark_prefix_texts(seed: int) -> set[str]:
    """The texts of the first `BENCHMARK_PREFIX` problems per level of the "processbench" split drawn with `seed`: a
    superset of every toy ProcessBench notebook 04 builds with that seed, so training data that avoids these texts
    never holds a benchmark problem (the judge warm-up, `judge_runs.warmup_problems`, and notebook 02's prompts,
    `rollout_labels.annotation_problems`). Short level-1 problems recur across splits, hence the check by text."""
    return {p.text for p in generate_problems(seed, BENCHMARK_PREFIX, split="processbench")}

STEP_SEGMENTATIONS = {"logical": logical_steps, "blankline": blankline_steps}


def solution_steps(text: str, segmentation: str = "logical") -> list[str]:
    """The steps of a solution, cut by `segmentation` (`STEP_SEGMENTATIONS`: logical steps, or blank-line pieces,
    the paragraphs ProcessBench's own steps are); chunk-tagged text is untagged first (the chunks joined by
    newlines)."""
    if segmentation not in STEP_SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {', '.join(STEP_SEGMENTATIONS)}, not {segmentation!r}")
    if CHUNK_OPEN in text or CHUNK_CLOSE in text:
        text = "\n".join(parse_chunks_lenient(text))
    return STEP_SEGMENTATIONS[segmentation](text)


def solution_record(problem: Problem, text: str, generator: str, record_id: str,
                    segmentation: str = "logical") -> PBRecord | None:
    """One ProcessBench record for `text`, its steps cut by `segmentation`, or None when it has no step or no final
    answer. The checker reads line by line, so `label` is the step holding the first wrong line, whatever the cut."""
    steps = solution_steps(text, segmentation)
    if not steps or last_boxed(text) is None:
        return None
    first = check_steps(problem, steps).first_error
    return PBRecord(id=record_id, generator=generator, problem=problem.text, steps=tuple(steps),
                    final_answer_correct=ExactVerifier().is_correct(text, str(problem.answer)),
                    label=-1 if first is None else first)


def _spread(candidates: list[tuple[str, PBRecord]], rng: random.Random) -> list[tuple[str, PBRecord]]:
    """Shuffle, then order round-robin over problems (each problem's first candidate, then its second, ...), so
    that taking a prefix covers as many problems as possible, as ProcessBench has one solution per problem."""
    rng.shuffle(candidates)
    seen: dict[str, int] = {}
    ranked = []
    for pid, rec in candidates:
        ranked.append((seen.get(pid, 0), pid, rec))
        seen[pid] = seen.get(pid, 0) + 1
    ranked.sort(key=lambda x: x[0])  # stable: the shuffled order stays within a rank
    return [(pid, rec) for _, pid, rec in ranked]


def build_toy_processbench(problems: Sequence[Problem], generations: Mapping[str, Sequence[Sequence[str]]],
                           target_correct_share: float = 0.5, seed: int = 0,
                           per_subset: int | None = None, segmentation: str = "logical") -> dict[str, list[PBRecord]]:
    """`{subset: [PBRecord, ...]}` from `generations[generator][i]`, the solution texts for `problems[i]`.

    Each subset takes `per_subset` records (None: as many as keep the target share exactly), a share
    `target_correct_share` of them with a right final answer where the candidates allow it; when one kind runs short
    the other fills the subset, and a warning gives the share reached (see `benchmark_stats`). Identical
    (problem, steps) pairs count once. Ids are `<subset>-<k>`, unique across subsets. Deterministic in `seed`.

    `segmentation` cuts the chosen solutions' steps (`solution_steps`); the choice itself is always made on logical
    steps, so the benchmarks of both segmentations hold the same solutions under the same ids, cut two ways (the
    paper's chunk-trained judges meet ProcessBench's paragraphs; "blankline" lets ours meet paragraphs too).
    """
    if segmentation not in STEP_SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {', '.join(STEP_SEGMENTATIONS)}, not {segmentation!r}")
    if not 0.0 <= target_correct_share <= 1.0:
        raise ValueError(f"target_correct_share must be in [0, 1], got {target_correct_share}")
    for name, texts in generations.items():
        if len(texts) != len(problems):
            raise ValueError(f"generator {name!r}: {len(texts)} solution lists for {len(problems)} problems")
    pools: dict[str, dict[bool, list[tuple[str, PBRecord]]]] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for name, texts in generations.items():
        for problem, solutions in zip(problems, texts):
            for text in solutions:
                rec = solution_record(problem, text, name, "")
                if rec is None or (problem.id, rec.steps) in seen:
                    continue
                seen.add((problem.id, rec.steps))
                if segmentation != "logical":
                    rec = solution_record(problem, text, name, "", segmentation)
                subset = LEVELS[problem.level].name
                pools.setdefault(subset, {True: [], False: []})[rec.final_answer_correct].append((problem.id, rec))
    out = {}
    for subset in [LEVELS[lv].name for lv in sorted(LEVELS) if LEVELS[lv].name in pools]:
        rng = random.Random(f"{seed}:toy_processbench:{subset}")
        right, wrong = (_spread(pools[subset][k], rng) for k in (True, False))
        n = per_subset if per_subset is not None else _largest_at_share(len(right), len(wrong), target_correct_share)
        if n == 0 and per_subset is None:  # only one kind of solution: nothing to balance, keep them all (warned)
            n = len(right) + len(wrong)
        n_right = min(round(target_correct_share * n), len(right))
        n_wrong = min(n - n_right, len(wrong))
        n_right = min(n - n_wrong, len(right))  # the wrong pool ran short: fill with right ones
        chosen = [rec for _, rec in right[:n_right] + wrong[:n_wrong]]
        rng.shuffle(chosen)
        out[subset] = [_with_id(rec, f"{subset}-{k}") for k, rec in enumerate(chosen)]
        if len(chosen) < n or (chosen and abs(n_right / len(chosen) - target_correct_share) > 0.05):
            share = n_right / len(chosen) if chosen else float("nan")
            warnings.warn(f"toy ProcessBench {subset}: {len(chosen)} of {n} records, final-answer-correct share "
                          f"{share:.2f} (target {target_correct_share:.2f}): too few candidates of one kind")
    return out


def check_same_solutions(reference: Mapping[str, Sequence[PBRecord]], other: Mapping[str, Sequence[PBRecord]]) -> None:
    """Raise ValueError unless `other` holds `reference`'s solutions under the same ids, perhaps cut into other steps:
    the same subsets, ids, generators, problems, final-answer correctness, right or wrong process (label −1 or not)
    and the same non-blank lines in the same order. What makes two segmentations of one benchmark comparable."""
    def solution(r: PBRecord) -> tuple:
        lines = [line for step in r.steps for line in step.splitlines() if line.strip()]
        return r.id, r.generator, r.problem, r.final_answer_correct, r.label == -1, lines

    if list(reference) != list(other):
        raise ValueError(f"subsets differ: {list(reference)} against {list(other)}")
    for subset, records in reference.items():
        if len(records) != len(other[subset]):
            raise ValueError(f"{subset}: {len(records)} records against {len(other[subset])}")
        for a, b in zip(records, other[subset]):
            if solution(a) != solution(b):
                raise ValueError(f"{subset}: record {a.id} is not the same solution as record {b.id}")


def _largest_at_share(n_right: int, n_wrong: int, share: float) -> int:
    """The largest subset size whose right/wrong split at `share` fits the pools."""
    if share <= 0.0:
        return n_wrong
    if share >= 1.0:
        return n_right
    return int(min(n_right / share, n_wrong / (1 - share)) + 1e-9)


def _with_id(rec: PBRecord, record_id: str) -> PBRecord:
    return PBRecord(record_id, rec.generator, rec.problem, rec.steps, rec.final_answer_correct, rec.label)


def benchmark_stats(bench: Mapping[str, Sequence[PBRecord]]) -> pd.DataFrame:
    """Per subset, the columns of ProcessBench's own summary (reference/ecosystem.md §1): totals, erroneous
    (label ≠ −1) and correct (label = −1) records, the final-answer-correct share, final answer right but process
    wrong, and mean / max steps."""
    rows = []
    for subset, records in bench.items():
        steps = [len(r.steps) for r in records]
        rows.append({
            "subset": subset, "total": len(records),
            "erroneous": sum(r.label != -1 for r in records), "correct": sum(r.label == -1 for r in records),
            "final_answer_correct_share": (sum(r.final_answer_correct for r in records) / len(records)
                                           if records else float("nan")),
            "answer_right_process_wrong": sum(r.final_answer_correct and r.label != -1 for r in records),
            "mean_steps": sum(steps) / len(steps) if steps else float("nan"), "max_steps": max(steps, default=0),
        })
    return pd.DataFrame(rows)
