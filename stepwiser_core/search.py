"""Chunk-reset reasoning (paper §4.4, Table 7): the policy writes one chunk at a time, a judge reads it, and a chunk
judged Negative is thrown away and drawn again from the same prefix.

The paper leaves three choices open (reference/paper.md §5); ours, each a parameter:
- `max_attempts` counts every draw of a chunk, the first included (the paper: "up to 5 attempts");
- when every attempt is rejected, the last one is kept (`exhausted` counts those chunks), so a search always ends;
- an unparseable verdict counts as a rejection: only a Positive verdict lets a chunk through.

All searches advance together, one chunk a round: every open search draws its next chunk in one batch of the policy
(a `ChunkSampler`: our engine stops at the `</chunk>` token, vLLM at the string), and every drawn chunk is judged in
one batch. Each round draws from its own seed, so a redrawn chunk is a fresh sample, and a rerun with the same seed
gives the same searches.

Best-of-N (beyond the paper, at the end) spends a judge the other way: it picks one of N finished solutions.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from transformers import PreTrainedTokenizerBase

from .generation import Sampling
from .judges import JudgeQuery, StepJudge, average_chunk_scores, majority
from .rollouts import RolloutEngine
from .segmentation import parse_chunks_lenient
from .tokenizer import CHUNK_CLOSE
from .world.checker import check_steps
from .world.problems import Problem


@dataclass
class SearchState:
    """One search in progress: the prefix it continues (prompt and accepted text), what it accepted and threw away."""

    problem: str
    prefix: str
    accepted: list[str] = field(default_factory=list)  # accepted chunks' texts, tags removed
    text: str = ""  # the response as written: the accepted continuations, tags included
    accepted_tokens: int = 0
    rejected_tokens: int = 0
    rejected_chunks: int = 0
    exhausted: int = 0
    attempt: int = 0  # draws of the current chunk so far
    finished: bool = False  # the policy ended its turn (an accepted chunk ending in eos, or eos alone)
    stopped: bool = False  # hit `max_chunks` before finishing


@dataclass(frozen=True)
class SearchSettings:
    max_attempts: int = 5  # draws per chunk, the first included [P §4.4: "up to 5 attempts"]
    max_chunks: int = 16  # a search that has accepted this many chunks stops unfinished
    max_chunk_tokens: int = 160  # per draw
    temperature: float = 1.0  # NOT SPECIFIED by the paper; the policy's annotation temperature
    seed: int = 0

    def __post_init__(self):
        if self.max_attempts < 1 or self.max_chunks < 1 or self.max_chunk_tokens < 1 or self.temperature <= 0:
            raise ValueError(f"invalid search settings: {self}")


def round_seed(seed: int, round_index: int) -> int:
    """The sampling seed of one round: distinct per round, so a chunk drawn again is a new sample."""
    return int(np.random.SeedSequence([seed, round_index]).generate_state(1)[0])


def chunk_text(continuation: str) -> str:
    """The step one drawn continuation adds (tags and separators removed; "" when it adds none, e.g. eos alone)."""
    return "\n".join(parse_chunks_lenient(continuation))


@dataclass(frozen=True)
class Draw:
    """One drawn continuation: its text (special tokens removed, tags kept), its length in tokens, and whether the
    policy ended its turn in it (eos)."""

    text: str
    tokens: int
    ends_turn: bool


class ChunkSampler(Protocol):
    def draw(self, prefixes: Sequence[str], sampling: Sampling) -> list[Draw]:
        """One continuation per prefix, up to and including the next `</chunk>` (or the end of the turn)."""


class EngineChunkSampler:
    """Chunks from our `RolloutEngine`, which stops a row at the `</chunk>` token (one token in the toy tokenizer).
    A tokenizer that spells `</chunk>` with several tokens (an instruct model's) needs stop strings: `VLLMChunkSampler`
    (`generation_backend: vllm`)."""

    def __init__(self, engine: RolloutEngine, tokenizer: PreTrainedTokenizerBase):
        stop = tokenizer.convert_tokens_to_ids(CHUNK_CLOSE)
        if stop is None or stop == tokenizer.unk_token_id or tokenizer.tokenize(CHUNK_CLOSE) != [CHUNK_CLOSE]:
            raise ValueError(f"the policy's tokenizer has no single {CHUNK_CLOSE} token; chunk-reset on our engine "
                             f"needs one (on GPUs, `generation_backend: vllm` stops at the string instead)")
        self.engine, self.tokenizer, self.stop = engine, tokenizer, stop

    def draw(self, prefixes: Sequence[str], sampling: Sampling) -> list[Draw]:
        rows = [r[0] for r in self.engine.rollout_ids(prefixes, 1, sampling, stop_ids=[self.stop])]
        texts = self.tokenizer.batch_decode(rows, skip_special_tokens=True)
        eos = self.tokenizer.eos_token_id
        return [Draw(t, len(r), bool(r) and r[-1] == eos) for t, r in zip(texts, rows)]


class VLLMChunkSampler:
    """Chunks from a `generation_vllm.VLLMBackend` (the paper tier's GPUs): vLLM stops at the string `</chunk>`,
    however the tokenizer spells it."""

    def __init__(self, backend):
        self.backend = backend

    def draw(self, prefixes: Sequence[str], sampling: Sampling) -> list[Draw]:
        return [Draw(*d) for d in self.backend.continue_until(prefixes, sampling, [CHUNK_CLOSE])]


def chunk_reset(sampler: ChunkSampler, problems: Sequence[str], prompts: Sequence[str], judge: StepJudge | None,
                settings: SearchSettings) -> list[SearchState]:
    """One chunk-reset search per (problem text, policy prompt) pair; `judge` None accepts every chunk (the policy
    alone, drawn chunk by chunk). Returns the finished searches in input order."""
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    states = [SearchState(problem, prompt) for problem, prompt in zip(problems, prompts)]
    for round_index in range(settings.max_chunks * settings.max_attempts + 1):
        open_ = [s for s in states if not (s.finished or s.stopped)]
        if not open_:
            break
        sampling = Sampling(settings.max_chunk_tokens, settings.temperature, 1,
                            round_seed(settings.seed, round_index))
        drawn = sampler.draw([s.prefix for s in open_], sampling)
        chunks = [chunk_text(d.text) for d in drawn]
        to_judge = [i for i, c in enumerate(chunks) if c]
        verdicts: dict[int, bool] = {i: True for i in to_judge}
        if judge is not None and to_judge:
            queries = [JudgeQuery(open_[i].problem, tuple(open_[i].accepted), chunks[i]) for i in to_judge]
            for i, votes in zip(to_judge, judge.judge(queries)):
                verdicts[i] = majority(votes) is True
        for i, state in enumerate(open_):
            d = drawn[i]
            if not chunks[i]:  # nothing but a separator and eos (or blank text): the response is over
                state.finished, state.stopped = d.ends_turn, not d.ends_turn
                continue
            state.attempt += 1
            if verdicts[i] or state.attempt >= settings.max_attempts:
                state.exhausted += not verdicts[i]
                state.accepted.append(chunks[i])
                state.text += d.text
                state.prefix += d.text
                state.accepted_tokens += d.tokens
                state.attempt = 0
                state.finished = d.ends_turn
                state.stopped = not d.ends_turn and len(state.accepted) >= settings.max_chunks
            else:
                state.rejected_tokens += d.tokens
                state.rejected_chunks += 1
    return states


class ExactChunkJudge:
    """The exact checker as a judge (a DIAGNOSTIC ceiling: it reads the truth, which no judge of the paper does):
    Negative exactly when the chunk is the first wrong step of its history plus itself. After a wrong history (kept
    when every attempt was rejected) every chunk is Positive: the checker has no truth for steps after an error."""

    def __init__(self, problems: Sequence[Problem]):
        self.by_text = {p.text: p for p in problems}

    def judge(self, items: Sequence[JudgeQuery]) -> list[list[bool | None]]:
        out = []
        for q in items:
            if q.problem not in self.by_text:
                raise KeyError(f"ExactChunkJudge has no problem {q.problem[:80]!r}")
            first = check_steps(self.by_text[q.problem], [*q.history, q.chunk]).first_error
            out.append([first != len(q.history)])
        return out


def search_rows(judge: str, states: Sequence[SearchState], problems: Sequence,
                is_correct: Callable[[str, str], bool]) -> list[dict]:
    """One row per search of `judge` (`states[i]` searched `problems[i]`): the final answer's correctness
    (`is_correct(text, gold)`, the study's verifier: what the paper's Table 7 counts), whether it finished with no
    wrong step (the exact checker over the accepted chunks, toy problems only: beyond the paper), and what the search
    cost."""
    if len(states) != len(problems):
        raise ValueError(f"{len(states)} searches but {len(problems)} problems")
    return [{"judge": judge, "problem_id": p.id, "level": p.level,
             "correct": bool(is_correct(s.text, str(p.answer))),
             # None where there is no exact checker (the paper tier's problems)
             "no_wrong_step": (check_steps(p, s.accepted).first_error is None and s.finished
                               if isinstance(p, Problem) else None),
             "chunks": len(s.accepted), "accepted_tokens": s.accepted_tokens, "rejected_tokens": s.rejected_tokens,
             "rejected_chunks": s.rejected_chunks, "exhausted": s.exhausted, "finished": s.finished}
            for s, p in zip(states, problems)]


def search_summary(rows: pd.DataFrame, baseline: str = "none") -> pd.DataFrame:
    """Per judge: accuracy (mean over searches) with its standard error over problems (a problem's searches are not
    independent draws of the benchmark, so the unit is the problem), the paired change against `baseline` (the
    policy alone) over the same problems, the share of searches with no wrong step, and the mean accepted and
    rejected lengths in tokens (Table 7's columns), chunks rejected and kept after the last attempt per search."""
    per_problem = rows.groupby(["judge", "problem_id"])["correct"].mean().unstack("problem_id")
    out = []
    for judge, g in rows.groupby("judge", sort=False):
        acc = per_problem.loc[judge].dropna()
        row = {"judge": judge, "searches": len(g), "problems": len(acc), "accuracy": float(g["correct"].mean()),
               "accuracy_se": float(acc.std(ddof=1) / np.sqrt(len(acc))) if len(acc) > 1 else float("nan")}
        if baseline in per_problem.index:
            diff = (acc - per_problem.loc[baseline]).dropna()
            row["vs_baseline"] = float(diff.mean())
            row["vs_baseline_se"] = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        row.update({"no_wrong_step": float(g["no_wrong_step"].astype(float).mean()),
                    "accepted_len": float(g["accepted_tokens"].mean()),
                    "rejected_len": float(g["rejected_tokens"].mean()),
                    "rejected_chunks": float(g["rejected_chunks"].mean()), "exhausted": float(g["exhausted"].mean()),
                    "finished": float(g["finished"].mean())})
        out.append(row)
    return pd.DataFrame(out)


# [P Table 7], Qwen2.5-1.5B-chunk on MATH500: accuracy (%), accepted and rejected lengths (tokens), by our judge names
PAPER_TABLE7_1_5B = {"none": (44.7, 616.0, 0.0), "disc_sft_abs_q": (47.7, 625.2, 218.7),
                     "disc_sft_rel_effective": (47.4, 612.7, 302.4), "disc_sft_rel_ratio": (50.4, 596.0, 475.8),
                     "stepwiser_abs_q": (51.4, 599.1, 1069.2), "stepwiser_rel_effective": (52.1, 602.0, 947.4),
                     "stepwiser_rel_ratio": (51.9, 596.4, 884.7)}


def with_paper_table7(table: pd.DataFrame) -> pd.DataFrame:
    """`table` (one row per judge) with the paper's 1.5B row of the same judge beside it (`paper_accuracy`,
    `paper_accepted_len`, `paper_rejected_len`; empty for judges the paper has no row for)."""
    out = table.copy()
    for k, col in enumerate(("paper_accuracy", "paper_accepted_len", "paper_rejected_len")):
        out[col] = [PAPER_TABLE7_1_5B[j][k] if j in PAPER_TABLE7_1_5B else float("nan") for j in out["judge"]]
    return out


# --------------------------------------------------------------------------------------------- best-of-N (beyond the paper)
# The paper has no best-of-N baseline for Table 7 (reference/paper.md §5). DESIGN.md asks for one: N solutions of
# the policy per problem, each scored by a judge as the share of its chunks judged Positive (the paper's own "average
# chunk score" for data selection, §4.4), the best kept. Its references: a random sample (pass@1), the answer most
# samples give (majority vote, no judge), and any sample right (pass@N, the ceiling of any selection).


def solution_scores(states: Sequence[SearchState], judge: StepJudge) -> list[float]:
    """Per solution, the share of its chunks `judge` calls Positive (`judges.average_chunk_scores`, the paper's
    score for data selection)."""
    return average_chunk_scores([s.problem for s in states], [s.accepted for s in states], judge)


def best_of_n_rows(judge: str, states: Sequence[SearchState], problems: Sequence, n: int,
                   scores: Sequence[float], is_correct: Callable[[str, str], bool]) -> list[dict]:
    """One row per problem: which of its `n` solutions (`states`, `n` consecutive ones a problem, in `problems`'
    order) scores highest (the first of equals, so ties fall back on a random sample) and whether it is right."""
    if len(states) != n * len(problems) or len(scores) != len(states):
        raise ValueError(f"{len(states)} solutions and {len(scores)} scores for {len(problems)} problems x {n}")
    rows = []
    for k, p in enumerate(problems):
        group = range(k * n, (k + 1) * n)
        best = max(group, key=lambda i: (scores[i], -i))
        rows.append({"judge": judge, "problem_id": p.id, "level": p.level, "selected": best - k * n,
                     "score": scores[best], "correct": float(is_correct(states[best].text, str(p.answer)))})
    return rows


def reference_rows(states: Sequence[SearchState], problems: Sequence, n: int,
                   is_correct: Callable[[str, str], bool], answer_of: Callable[[str], str | None]) -> list[dict]:
    """Per problem, best-of-N's references over the same `n` solutions: `pass@1` (the share right: a random pick's
    expected accuracy), `majority` (the answer most of them give, `answer_of`, ties to the earliest; no answer never
    wins) and `pass@n` (any of them right)."""
    from collections import Counter

    rows = []
    for k, p in enumerate(problems):
        group = states[k * n:(k + 1) * n]
        right = [bool(is_correct(s.text, str(p.answer))) for s in group]
        answers = [answer_of(s.text) for s in group]
        counts = Counter(a for a in answers if a is not None)
        top = max(counts.values()) if counts else 0
        voted = next((i for i, a in enumerate(answers) if a is not None and counts[a] == top), None)
        for name, value in (("pass@1", sum(right) / n), ("majority", float(voted is not None and right[voted])),
                            (f"pass@{n}", float(any(right)))):
            rows.append({"judge": name, "problem_id": p.id, "level": p.level, "correct": value})
    return rows


def best_of_n_summary(rows: pd.DataFrame, baseline: str = "pass@1") -> pd.DataFrame:
    """Per judge (and reference): accuracy over problems with its standard error, and the paired change against
    `baseline` (`vs_baseline`, `vs_baseline_se`) over the same problems."""
    wide = rows.pivot_table(index="problem_id", columns="judge", values="correct", aggfunc="mean")
    out = []
    for judge in dict.fromkeys(rows["judge"]):
        acc = wide[judge].dropna()
        diff = (acc - wide[baseline]).dropna() if baseline in wide else pd.Series(dtype=float)
        out.append({"judge": judge, "problems": len(acc), "accuracy": float(acc.mean()),
                    "accuracy_se": float(acc.std(ddof=1) / np.sqrt(len(acc))) if len(acc) > 1 else float("nan"),
                    "vs_baseline": float(diff.mean()) if len(diff) else float("nan"),
                    "vs_baseline_se": float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")})
    return pd.DataFrame(out)


def versus_judge(rows: pd.DataFrame, best_rows: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Every other judge against `reference` (e.g. the zero-shot judge every trained one starts from), paired over
    problems: the change in chunk-reset accuracy (`chunk_reset`, `_se`) and in best-of-N accuracy (`best_of_n`,
    `_se`; NaN for `none`, which selects nothing)."""
    searched = search_summary(rows, baseline=reference).set_index("judge")
    picked = (best_of_n_summary(best_rows, baseline=reference).set_index("judge")
              if len(best_rows) and reference in set(best_rows["judge"]) else pd.DataFrame())
    out = []
    for judge in searched.index.drop(reference):
        has = judge in picked.index
        out.append({"judge": judge, "chunk_reset": searched.loc[judge, "vs_baseline"],
                    "chunk_reset_se": searched.loc[judge, "vs_baseline_se"],
                    "best_of_n": picked.loc[judge, "vs_baseline"] if has else float("nan"),
                    "best_of_n_se": picked.loc[judge, "vs_baseline_se"] if has else float("nan")})
    return pd.DataFrame(out)


def seed_table(tables: Mapping[int, pd.DataFrame], value: str) -> pd.DataFrame:
    """One row per judge: `value` from each seed's table (one row per judge, e.g. `table7` or `versus_zero_shot`) in a
    column `seed<S>`, then over the seeds that have the judge their number `seeds`, `mean`, `sd` and `se` = sd / √seeds,
    the standard error of the mean over draws of the searches (sd and se NaN with fewer than two); the judges in the
    order of the first table, then any that only later tables have. A per-seed standard error is over problems within
    one draw of the searches; `se` is the searches' own noise on the problems every seed shares, and with a few seeds
    it is itself rough (`pooled_versus` gives the standard error over problems of several seeds at once)."""
    if not tables:
        raise ValueError("seed_table got no tables")
    judges = list(dict.fromkeys(j for seed in tables for j in tables[seed]["judge"]))
    wide = pd.DataFrame({"judge": judges})
    for seed, table in tables.items():
        if table["judge"].duplicated().any():
            raise ValueError(f"seed {seed}: a judge appears twice in its table")
        if value not in table:
            raise ValueError(f"seed {seed}: no column {value!r}")
        wide[f"seed{seed}"] = wide["judge"].map(table.set_index("judge")[value]).astype(float)
    per_seed = wide[[f"seed{s}" for s in tables]]
    seeds, sd = per_seed.notna().sum(axis=1), per_seed.std(axis=1, ddof=1)
    return wide.assign(seeds=seeds, mean=per_seed.mean(axis=1), sd=sd, se=sd / seeds.pow(0.5))


def pooled_versus(searches: Mapping[int, pd.DataFrame], reference: str) -> pd.DataFrame:
    """Every other judge against `reference` over several seeds' searches at once (each a `searches.csv`, one row per
    search), paired over problems: a problem's change is its mean over all its searches of every seed, so the standard
    error counts the problem once, however many seeds searched it; the seeds must have searched the same problems
    with the same judges. Columns: judge, seeds, searches, problems, `chunk_reset` and `chunk_reset_se`."""
    if len(searches) < 2:
        raise ValueError("pooled_versus needs two seeds or more")
    first = next(iter(searches.values()))
    judges, problems = set(first["judge"]), set(first["problem_id"])
    for seed, rows in searches.items():
        if set(rows["judge"]) != judges or set(rows["problem_id"]) != problems:
            raise ValueError(f"seed {seed} searched other judges or problems than seed {next(iter(searches))}")
    if reference not in judges:
        raise ValueError(f"no judge {reference!r} in the searches")
    summary = search_summary(pd.concat(list(searches.values()), ignore_index=True), baseline=reference)
    summary = summary[summary["judge"] != reference]
    return pd.DataFrame({"judge": summary["judge"], "seeds": len(searches), "searches": summary["searches"],
                         "problems": summary["problems"], "chunk_reset": summary["vs_baseline"],
                         "chunk_reset_se": summary["vs_baseline_se"]}).reset_index(drop=True)
