"""Stage 03 glue: held-out splits, evaluation items and step-accuracy scoring of any judge.

Training items come from `judge_rl.judge_items_from_records` (rollout labels only). Evaluation items come from
problems held out of training and carry every rule's rollout label *and* the exact truth, so a judge is measured
both against what it was trained on and against what is actually right. Only chunks up to and including the
first true error are evaluated: after it the history is wrong and a chunk's correctness is undefined.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .generation import Sampling
from .judge_eval import JudgeItem
from .judges import GenerativeJudge, StepJudge, judge_generator, majority, predict_first_errors
from .processbench import PBRecord, score
from .world.problems import problem_from_text


def split_by_problem(records: Sequence[Mapping[str, Any]], heldout_share: float,
                     seed: int) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(train, held-out) records; all trajectories of one problem land on the same side, so a judge is never
    evaluated on a problem it was trained on."""
    if not 0.0 < heldout_share < 1.0:
        raise ValueError(f"heldout_share must be in (0, 1), not {heldout_share}")
    ids = sorted({r["problem_id"] for r in records})
    random.Random(f"{seed}:heldout").shuffle(ids)
    held = set(ids[:max(1, round(heldout_share * len(ids)))])
    return [r for r in records if r["problem_id"] not in held], [r for r in records if r["problem_id"] in held]


def has_truth(record: Mapping[str, Any]) -> bool:
    """Whether a stepwise record carries the exact truth (toy world) or none (NuminaMath: every true label None).
    With truth the first step's label is always defined (right, or the first error), so it alone decides."""
    labels = record["true_labels"]
    return len(labels) > 0 and labels[0] is not None


def eval_items(records: Sequence[Mapping[str, Any]], rules: Sequence[str], per_class: int,
               seed: int, label_rule: str | None = None) -> list[dict]:
    """Held-out chunks balanced by the *true* label (`per_class` correct and as many wrong, or fewer when the
    data has fewer), each with the problem rebuilt from its text (for faithfulness checks) and every rule's label.

    Records without truth (`has_truth` False: the paper tier's NuminaMath prompts) give every chunk, balanced by
    `label_rule`'s rollout label instead, with the problem as text and `true_label` None: accuracy against the truth
    is then undefined (NaN), and accuracy against the labels is what remains, as in the paper."""
    pool: dict[bool, list[dict]] = {True: [], False: []}
    for rec in records:
        known = has_truth(rec)
        if not known and label_rule is None:
            raise ValueError(f"record {rec['problem_id']} has no exact truth: pass label_rule to balance by")
        problem = (problem_from_text(rec["prompt"], rec["problem_id"], int(rec.get("level") or 0)) if known
                   else rec["prompt"])
        for i, truth in enumerate(rec["true_labels"]):
            if known and truth is None:
                break
            label = bool(truth) if known else bool(rec[f"labels_{label_rule}"][i])
            pool[label].append({
                "problem_id": rec["problem_id"], "level": int(rec.get("level") or 0), "problem": problem,
                "history": tuple(rec["completions"][:i]), "chunk": rec["completions"][i], "step": i,
                "true_label": bool(truth) if known else None,
                **{f"label_{r}": bool(rec[f"labels_{r}"][i]) for r in rules},
            })
    rng = random.Random(f"{seed}:eval-items")
    n = min(per_class, len(pool[True]), len(pool[False]))
    chosen = rng.sample(pool[True], n) + rng.sample(pool[False], n)
    rng.shuffle(chosen)
    return chosen


def first_error_records(records: Sequence[Mapping[str, Any]], n: int, seed: int) -> list[PBRecord]:
    """Up to `n` held-out trajectories as ProcessBench records: the chunks are the steps and the label is the exact
    first error (−1 when there is none). Half have an error and half have none where the data allow (the other
    kind fills up), so the first-error F1 (`processbench.score`) is defined; seeded. Records without truth
    (`true_first_error` None: NuminaMath) are left out."""
    rng = random.Random(f"{seed}:first-error-records")
    records = [r for r in records if r["true_first_error"] is not None]  # None: no truth, no first error to find
    wrong = [r for r in records if r["true_first_error"] >= 0]
    right = [r for r in records if r["true_first_error"] < 0]
    k_wrong = min(len(wrong), max(n // 2, n - len(right)))
    chosen = rng.sample(wrong, k_wrong) + rng.sample(right, min(len(right), n - k_wrong))
    return [PBRecord(f"heldout-{i}", str(r.get("generator") or ""), r["prompt"], tuple(r["completions"]),
                     bool(r["final_correct"]), int(r["true_first_error"])) for i, r in enumerate(chosen)]


def first_error_summary(judge: StepJudge, records: Sequence[PBRecord]) -> dict[str, float]:
    """The judge's first-error scores on `first_error_records` (percent, as ProcessBench reports them)."""
    result = score({"heldout": list(records)}, predict_first_errors(judge, records))["subsets"]["heldout"]
    return {"first_error_f1": result["f1"], "first_error_acc_error": result["acc_error"],
            "first_error_acc_correct": result["acc_correct"]}


def as_judge_items(items: Sequence[Mapping[str, Any]]) -> list[JudgeItem]:
    return [JudgeItem(it["problem"], tuple(it["history"]), it["chunk"], it["true_label"]) for it in items]


def score_verdicts(items: Sequence[Mapping[str, Any]], verdicts: Sequence[Sequence[bool | None]],
                   rules: Sequence[str], judge_name: str) -> pd.DataFrame:
    """One row per item: the (majority) verdict, whether it parsed, and whether it matches the truth and each rule."""
    rows = []
    for it, votes in zip(items, verdicts, strict=True):
        v = majority(votes)
        rows.append({"judge": judge_name, "problem_id": it["problem_id"], "level": it["level"], "step": it["step"],
                     "verdict": v, "parsed": v is not None, "true_label": it["true_label"],
                     "correct_truth": None if it["true_label"] is None else v is not None and v == it["true_label"],
                     **{f"correct_{r}": v is not None and v == it[f"label_{r}"] for r in rules}})
    columns = ["judge", "problem_id", "level", "step", "verdict", "parsed", "true_label", "correct_truth",
               *[f"correct_{r}" for r in rules]]
    return pd.DataFrame(rows, columns=columns)


def accuracy_summary(scored: pd.DataFrame, rules: Sequence[str]) -> dict[str, float]:
    """Step accuracy against the truth (balanced by construction of the items), against each rule's labels,
    the parsable-verdict rate and the share of Positive verdicts. Unparseable verdicts count as wrong.
    NaN everywhere when there are no items (e.g. smoke runs whose policy never errs or never succeeds)."""
    if scored.empty:
        keys = ["acc_truth", "format_rate", "positive_rate", *[f"acc_{r}" for r in rules],
                "acc_truth_on_correct", "acc_truth_on_wrong"]
        return dict.fromkeys(keys, float("nan"))
    out = {"format_rate": float(scored["parsed"].mean()),
           "positive_rate": float((scored["verdict"] == True).mean())}  # noqa: E712 (None is neither)
    out.update({f"acc_{r}": float(scored[f"correct_{r}"].mean()) for r in rules})
    known = scored[scored["true_label"].notna()].astype({"true_label": bool, "correct_truth": bool})
    nan = float("nan")  # no truth (NuminaMath): accuracy against it is undefined, not zero
    out["acc_truth"] = float(known["correct_truth"].mean()) if len(known) else nan
    out["acc_truth_on_correct"] = float(known[known.true_label]["correct_truth"].mean()) if len(known) else nan
    out["acc_truth_on_wrong"] = float(known[~known.true_label]["correct_truth"].mean()) if len(known) else nan
    return {k: out[k] for k in ("acc_truth", "format_rate", "positive_rate", *[f"acc_{r}" for r in rules],
                                "acc_truth_on_correct", "acc_truth_on_wrong")}


def accuracy_by_position(scored: pd.DataFrame, deep_from: int = 2) -> pd.DataFrame:
    """Per judge and true label, accuracy vs the truth on chunks before `deep_from` (0-based: the default 2 means
    "the first two chunks") and from it on. A first-error benchmark needs specificity deep into long solutions,
    which an accuracy averaged over all positions can hide (README, toy ProcessBench)."""
    part = scored.assign(position=(scored["step"] >= deep_from).map({False: f"chunks 1-{deep_from}",
                                                                     True: f"chunk {deep_from + 1}+"}))
    return (part.groupby(["judge", "true_label", "position"], sort=False)["correct_truth"]
            .agg(accuracy="mean", n="count").reset_index())


def negative_share_by_position(items: Sequence[Mapping[str, Any]], deep_from: int = 2) -> dict[str, float]:
    """Share of Negative labels among training items before `deep_from` and from it on (0-based history length):
    if the two differ, the position alone predicts the label and a judge can learn it as a shortcut."""
    def negative_share(labels: list[bool]) -> float:
        return sum(not lab for lab in labels) / len(labels) if labels else float("nan")

    before = [it["label"] for it in items if len(it["history"]) < deep_from]
    deep = [it["label"] for it in items if len(it["history"]) >= deep_from]
    return {f"chunks 1-{deep_from}": negative_share(before), f"chunk {deep_from + 1}+": negative_share(deep)}


def evaluate_judge(judge: StepJudge, items: Sequence[Mapping[str, Any]], rules: Sequence[str],
                   judge_name: str) -> pd.DataFrame:
    return score_verdicts(items, judge.judge(as_judge_items(items)), rules, judge_name)


def generative_eval_fn(tokenizer: PreTrainedTokenizerBase, items: Sequence[Mapping[str, Any]], rules: Sequence[str],
                       template: str, cot: bool, max_new_tokens: int, batch_size: int,
                       seed: int, first_error: Sequence[PBRecord] = (), engine: bool = True
                       ) -> Callable[[PreTrainedModel], dict]:
    """`eval_fn(model) -> dict` for `judge_rl.grpo_train`: greedy verdicts on the held-out items, scored by
    `accuracy_summary`, plus `first_error_summary` on the `first_error` records when there are any.

    `engine` judges through `judges.judge_generator` (the faster `RolloutEngine` for greedy judging), for runs
    whose evaluation is isolated from GRPO's sampling (`judge_rl.EvalCallback`); `engine=False` keeps
    `TransformersBackend`, which the toy runs made before the isolation used, since with the coupled RNG the
    backend's per-batch `torch.manual_seed` is part of what TRL's sampling then draws (docs/results.md,
    "Reproducibility, measured")."""
    from .generation import TransformersBackend

    sampling = Sampling(max_new_tokens, 0.0, 1, seed)

    def eval_fn(model: PreTrainedModel) -> dict:
        generator = (judge_generator(model, tokenizer, sampling, batch_size) if engine
                     else TransformersBackend(model, tokenizer, batch_size=batch_size, progress=False))
        judge = GenerativeJudge(generator, tokenizer, template, cot, sampling)
        summary = accuracy_summary(evaluate_judge(judge, items, rules, "eval"), rules)
        return {**summary, **first_error_summary(judge, first_error)} if first_error else summary

    return eval_fn
