"""Judge-based selection of training data (paper §4.4 (2), Table 8): stepwise rejection-sampling fine-tuning.

The paper samples N responses per prompt from the chunk policy, keeps the correct ones, scores every chunk of each
with the judge, takes a response's score as the average of its chunk scores, keeps the highest-scoring correct response
per prompt and fine-tunes the policy on them. "Outcome-based selection" checks the final answer only: any correct
response (ours: the first correct sample; samples are independent draws, so that is a random one).

What the toy world adds: the exact checker says which correct responses still hold a wrong step (a right answer by
luck), so a selector's quality is measured directly, before any fine-tuning (`selection_summary`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .segmentation import parse_chunks_lenient
from .world.checker import check_steps
from .world.problems import Problem

OUTCOME, EXACT, POLICY = "outcome", "exact", "policy"

CANDIDATE_COLUMNS = ["problem_id", "level", "sample", "text", "answer_correct", "no_wrong_step", "chunks"]


def candidates(problems: Sequence, samples: Sequence[Sequence[str]],
               is_correct: Callable[[str, str], bool]) -> pd.DataFrame:
    """One row per sampled response: its final answer's correctness (`is_correct(text, gold)`, the study's verifier),
    whether every step is right (the exact checker on its chunks; None where there is none, the paper tier) and its
    chunks (tags removed), in `CANDIDATE_COLUMNS`."""
    rows = []
    for p, texts in zip(problems, samples, strict=True):
        for k, text in enumerate(texts):
            chunks = parse_chunks_lenient(text)
            right = bool(is_correct(text, str(p.answer)))
            clean = (right and check_steps(p, chunks).first_error is None) if isinstance(p, Problem) else None
            rows.append({"problem_id": p.id, "level": p.level, "sample": k, "text": text, "answer_correct": right,
                         "no_wrong_step": clean, "chunks": chunks})
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def contested(cands: pd.DataFrame) -> pd.DataFrame:
    """The correct responses of the prompts where a selector has a choice: two or more distinct correct texts. Only
    these need judging; elsewhere every selector keeps the same response (or none)."""
    right = cands[cands["answer_correct"]]
    distinct = right.groupby("problem_id")["text"].nunique()
    return right[right["problem_id"].isin(distinct[distinct > 1].index)]


def select(cands: pd.DataFrame, scores: Mapping[tuple[str, int], float] | None = None) -> pd.DataFrame:
    """Per prompt with a correct response, the one to fine-tune on: the highest `scores[(problem_id, sample)]` among
    its correct responses, the earliest sample among equals; with no scores (outcome-based selection), the earliest
    correct sample. A correct response without a score (an uncontested prompt's) scores 0. One row per prompt, with its
    `score` (NaN without scores)."""
    right = cands[cands["answer_correct"]]
    score = ([scores.get((pid, k), 0.0) for pid, k in zip(right["problem_id"], right["sample"])]
             if scores is not None else np.nan)
    right = right.assign(score=score)
    ranked = right.assign(_rank=-right["score"].fillna(0.0)).sort_values(["_rank", "sample"], kind="stable")
    # the first row per prompt after ranking; back in the candidates' order (prompt by prompt)
    return ranked.groupby("problem_id", sort=False).head(1).sort_index().drop(columns="_rank").reset_index(drop=True)


def exact_scores(cands: pd.DataFrame) -> dict[tuple[str, int], float]:
    """The exact checker as a selector (a DIAGNOSTIC ceiling, toy only): 1 for a correct response with no wrong step."""
    return {(pid, s): float(bool(ok)) for pid, s, ok in zip(cands["problem_id"], cands["sample"], cands["no_wrong_step"])}


def selection_summary(selected: Mapping[str, pd.DataFrame], reference: str = OUTCOME) -> pd.DataFrame:
    """Per selector: prompts kept, how many of its picks differ from `reference`'s, and (toy) the share of its picks
    that hold a wrong step despite the right answer (`flawed`, with its binomial standard error) and the same share
    on the contested prompts only (`flawed_contested`), where the selectors can differ at all."""
    base = selected[reference].set_index("problem_id")["sample"] if reference in selected else None
    out = []
    for name, picks in selected.items():
        flawed = ~picks["no_wrong_step"].astype(bool) if picks["no_wrong_step"].notna().all() else None
        row = {"selector": name, "prompts": len(picks),
               "differs_from_" + reference: int((picks.set_index("problem_id")["sample"] != base).sum())
               if base is not None else np.nan,
               "mean_chunks": float(picks["chunks"].map(len).mean()) if len(picks) else np.nan}
        if flawed is not None and len(picks):
            share = float(flawed.mean())
            row.update({"flawed": share, "flawed_se": float(np.sqrt(share * (1 - share) / len(picks)))})
        out.append(row)
    return pd.DataFrame(out)


def flawed_on(selected: Mapping[str, pd.DataFrame], prompts: Sequence[str]) -> dict[str, float]:
    """Per selector, the share of its picks on `prompts` (e.g. the contested ones) that hold a wrong step."""
    keep = set(prompts)
    out = {}
    for name, picks in selected.items():
        on = picks[picks["problem_id"].isin(keep)]
        out[name] = float((~on["no_wrong_step"].astype(bool)).mean()) if len(on) else np.nan
    return out


def evaluation_summary(rows: pd.DataFrame, reference: str = OUTCOME) -> pd.DataFrame:
    """Per fine-tuned policy (`rows`: one row per policy, fine-tune seed, decoding, problem and sample, with
    `answer_correct` and `no_wrong_step`): greedy and temperature-1 accuracy (mean over problems, standard error over
    problems of the per-problem mean over seeds and samples), the share of temperature-1 solutions with every step
    right, and the paired change in each accuracy against `reference` over the same problems."""
    rows = rows.assign(answer_correct=rows["answer_correct"].astype(float),
                       no_wrong_step=rows["no_wrong_step"].astype(float))  # None (no exact checker) -> NaN
    per = rows.groupby(["policy", "decoding", "problem_id"])[["answer_correct", "no_wrong_step"]].mean()
    out = []
    for policy in dict.fromkeys(rows["policy"]):
        row = {"policy": policy, "seeds": int(rows.loc[rows["policy"] == policy, "finetune_seed"].nunique())}
        for decoding, tag in (("greedy", "greedy"), ("temperature 1", "sampled")):
            if (policy, decoding) not in per.index:
                continue
            acc = per.loc[(policy, decoding), "answer_correct"]
            row[tag], row[f"{tag}_se"] = float(acc.mean()), _se(acc)
            if (reference, decoding) in per.index:
                diff = (acc - per.loc[(reference, decoding), "answer_correct"]).dropna()
                row[f"{tag}_vs_{reference}"], row[f"{tag}_vs_{reference}_se"] = float(diff.mean()), _se(diff)
            if tag == "sampled":
                row["sampled_no_wrong_step"] = float(per.loc[(policy, decoding), "no_wrong_step"].mean())
        out.append(row)
    return pd.DataFrame(out)


def seed_summary(rows: pd.DataFrame, decoding: str = "temperature 1", reference: str = OUTCOME) -> pd.DataFrame:
    """The spread over fine-tune seeds, which `evaluation_summary`'s standard errors over problems leave out: per
    policy, its accuracy with each seed (`seed_<k>`), their standard deviation, and its change against `reference`
    fine-tuned with the same seed (the same data order): the smallest and largest change and the number of seeds
    where it is above. The untrained `policy` has no seed and no row."""
    acc = (rows[(rows["decoding"] == decoding) & (rows["finetune_seed"] >= 0)]
           .assign(answer_correct=lambda d: d["answer_correct"].astype(float))
           .groupby(["policy", "finetune_seed"])["answer_correct"].mean().unstack("finetune_seed"))
    out = []
    for policy in dict.fromkeys(p for p in rows["policy"] if p in acc.index):
        row = {"policy": policy, **{f"seed_{k}": acc.loc[policy, k] for k in acc.columns},
               "sd_over_seeds": float(acc.loc[policy].std(ddof=1)) if acc.loc[policy].notna().sum() > 1 else np.nan}
        if reference in acc.index:
            diff = (acc.loc[policy] - acc.loc[reference]).dropna()
            row.update({f"vs_{reference}_min": float(diff.min()), f"vs_{reference}_max": float(diff.max()),
                        f"seeds_above_{reference}": int((diff > 0).sum())})
        out.append(row)
    return pd.DataFrame(out)


def draw_rows(evaluations: Mapping[int, pd.DataFrame], finetune_seed: int = 0) -> pd.DataFrame:
    """The evaluation rows of several candidate draws (runs of the stage with different `seed`s: other prompts, other
    responses, other evaluation samples; the same judges and evaluation problems), one fine-tune seed from each, with
    `finetune_seed` set to the draw: `seed_summary` of them is then the spread over draws, and `evaluation_summary`
    the change against the reference pooled over draws (per problem, the mean over draws and samples). The untrained
    policy is kept from the first draw only, as its evaluation does not depend on the draw's candidates."""
    if not evaluations:
        raise ValueError("draw_rows needs the evaluations of at least one draw")
    frames = []
    for k, (draw, rows) in enumerate(evaluations.items()):
        kept = rows[rows["finetune_seed"] == finetune_seed]
        if kept.empty:
            raise ValueError(f"draw {draw} has no evaluation with fine-tune seed {finetune_seed}")
        frames.append(kept.assign(finetune_seed=draw))
        if k == 0:
            frames.append(rows[rows["policy"] == POLICY])
    return pd.concat(frames, ignore_index=True)


def draw_summary(evaluations: Mapping[int, pd.DataFrame], finetune_seed: int = 0, decoding: str = "temperature 1",
                 reference: str = OUTCOME) -> pd.DataFrame:
    """Per selector over candidate draws (`draw_rows`): its accuracy in each draw (`draw_<d>`), their sd, the smallest
    and largest change against `reference` in the same draw and how many draws it is above, then the change pooled
    over draws (`pooled_vs_<reference>`; every draw answers the same problems the same number of times, so it is also
    the mean of the draws' changes) with two standard errors: over problems (`_se`, which holds the draws fixed) and
    over draws (`_se_over_draws`, the sd of the draws' changes over the root of their number, which counts how much
    the outcome moves with the data drawn; NaN with one draw)."""
    rows = draw_rows(evaluations, finetune_seed)
    spread = seed_summary(rows, decoding, reference)
    spread.columns = [c.replace("seed_", "draw_").replace("seeds", "draws") for c in spread.columns]
    tag = "sampled" if decoding == "temperature 1" else "greedy"
    pooled = evaluation_summary(rows, reference).set_index("policy")
    for col in (f"{tag}_vs_{reference}", f"{tag}_vs_{reference}_se"):
        spread[col.replace(tag, "pooled")] = [pooled.loc[p, col] if col in pooled else np.nan for p in spread["policy"]]
    draws = [c for c in spread.columns if c.startswith("draw_")]
    by_policy = spread.set_index("policy")[draws]
    if reference in by_policy.index and len(draws) > 1:
        changes = by_policy - by_policy.loc[reference]
        spread[f"pooled_vs_{reference}_se_over_draws"] = list(changes.std(axis=1, ddof=1) / np.sqrt(len(draws)))
    else:
        spread[f"pooled_vs_{reference}_se_over_draws"] = np.nan
    return spread


def draw_changes(summary: pd.DataFrame, reference: str = OUTCOME) -> pd.DataFrame:
    """`draw_summary`'s table as changes: per selector, its accuracy minus `reference`'s in each draw (`draw_<d>`),
    then the pooled change and its two standard errors. The reference's own row is left out."""
    draws = [c for c in summary.columns if c.startswith("draw_")]
    by_policy = summary.set_index("policy")
    changes = by_policy[draws] - by_policy.loc[reference, draws]
    pooled = [f"pooled_vs_{reference}", f"pooled_vs_{reference}_se_over_draws", f"pooled_vs_{reference}_se"]
    return changes.join(by_policy[pooled]).drop(index=reference).reset_index()


def _se(x: pd.Series) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


# [P Table 8], Qwen2.5-7B-chunk, greedy: MATH500, NuminaMath held-out 1K and their mean (%), by our selector names
PAPER_TABLE8_7B = {POLICY: (75.6, 44.6, 60.1), OUTCOME: (76.6, 45.2, 60.9),
                   "disc_sft_abs_q": (78.4, 45.3, 61.8), "disc_sft_rel_effective": (78.2, 45.2, 61.7),
                   "disc_sft_rel_ratio": (78.2, 45.7, 61.9), "stepwiser_abs_q": (79.0, 46.1, 62.5),
                   "stepwiser_rel_effective": (79.4, 46.7, 63.0), "stepwiser_rel_ratio": (79.0, 46.8, 62.9)}


def with_paper_table8(table: pd.DataFrame, key: str = "policy") -> pd.DataFrame:
    """`table` with the paper's 7B row of the same selector beside it (`paper_math500`, `paper_nm_heldout`,
    `paper_avg`; empty where the paper has no row)."""
    out = table.copy()
    for k, col in enumerate(("paper_math500", "paper_nm_heldout", "paper_avg")):
        out[col] = [PAPER_TABLE8_7B[j][k] if j in PAPER_TABLE8_7B else np.nan for j in out[key]]
    return out
