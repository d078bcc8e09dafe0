"""Stage 02: Monte-Carlo Q values of every chunk and the paper's three step labels (paper §3.2, §4.1).

From right after chunk i of a trajectory, M rollouts of the policy estimate Q̂_i, the chance of reaching
the right answer. The final chunk needs no rollouts: its outcome is the trajectory's own verified answer
(paper: NOT SPECIFIED; see reference/paper.md §2). Q̂ before the first chunk is the prompt's pass rate
in the pre-filter (NOT SPECIFIED; our default). Each Q̂_i is computed once and serves both as chunk i's
value and as chunk i+1's previous value.

Prompts come from the toy world, whose exact checker also gives every chunk's true label, or from NuminaMath-CoT
(`numina.py`, the paper tier), where no step truth exists: those records carry `true_labels` of None and
`true_first_error` None, and every comparison with the truth is left undefined (NaN) rather than guessed.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .labels import LABEL_RULES, label_trajectory
from .label_quality import true_step_labels
from .stages import PROBLEM_SOURCES, UNTAGGED_RESPONSES
from .verify import AnswerVerifier
from .world.checker import check_steps
from .world.problems import Problem, generate_problems

if TYPE_CHECKING:  # pandas is imported where a table is built, to keep this module's import light
    import pandas as pd

_CHUNK = re.compile(r"<chunk>(.*?)(?:</chunk>|$)", re.DOTALL)
_BLANK = re.compile(r"\n[ \t]*\n")


def annotation_problems(seed: int, n_prompts: int, benchmark_seed: int) -> list[Problem]:
    """The toy prompts to annotate: `n_prompts // 4` per level of the "annotation" split, less any problem among the
    first `BENCHMARK_PREFIX` per level of the "processbench" split drawn with `benchmark_seed` (a prefix of every toy
    ProcessBench that notebook 04 builds with that seed).

    Why: the splits are drawn independently and short level-1 problems recur across them (5 of 960 annotation
    problems of seed 0 are in the seed-0 prefix), so a larger `n_prompts` would otherwise let the judges train on
    chunks of benchmark problems, as judge_runs.warmup_problems already guards against for the warm-up."""
    from .toy_processbench import benchmark_prefix_texts

    benchmark = benchmark_prefix_texts(benchmark_seed)
    return [p for p in generate_problems(seed, n_prompts // 4, split="annotation") if p.text not in benchmark]


def stage_problems(source: str, n_prompts: int, seed: int, benchmark_seed: int, verifier: AnswerVerifier,
                   numina_path: str = "", numina_split: str = "train") -> tuple[list, dict[str, int]]:
    """The prompts 02 annotates, and how they were drawn (counts for metrics.json).

    "toy": `annotation_problems`. "numina": `n_prompts` deduplicated NuminaMath-CoT prompts whose reference answer
    `verifier` can check (paper §4.1; `numina.select_prompts`), drawn in an order fixed by `seed`."""
    if source == "toy":
        problems = annotation_problems(seed, n_prompts, benchmark_seed)
        return problems, {"kept": len(problems)}
    if source == "numina":
        from .numina import draw_prompts

        selection = draw_prompts(numina_path, numina_split, n_prompts, seed, verifier, "annotation")
        return selection.problems, selection.counts
    raise ValueError(f"unknown problem source {source!r}; valid: {', '.join(PROBLEM_SOURCES)}")


def exact_first_error(problem, steps: Sequence[str]) -> tuple[bool, int | None]:
    """(whether the truth is known, the index of the first wrong step or None): only toy problems have a checker."""
    if isinstance(problem, Problem):
        return True, check_steps(problem, steps).first_error
    return False, None


def cut_points(text: str, segmentation: str) -> tuple[list[str], list[int]]:
    """The steps of `text` and, for each, the offset in `text` right after it (where rollouts continue).

    "chunks": the policy's own `<chunk>` tags (a trailing unclosed chunk counts, ending at the text's end);
    "blankline": pieces between blank lines.
    """
    if segmentation == "chunks":
        found = [(m.group(1).strip("\n"), m.end()) for m in _CHUNK.finditer(text) if m.group(1).strip()]
    elif segmentation == "blankline":
        found, start = [], 0
        for sep in [*_BLANK.finditer(text), None]:
            end = sep.start() if sep else len(text)
            if text[start:end].strip():
                found.append((text[start:end].strip("\n"), end))
            start = sep.end() if sep else start
    else:
        raise ValueError(f"unknown segmentation {segmentation!r}; valid: chunks, blankline")
    return [f[0] for f in found], [f[1] for f in found]


@dataclass(frozen=True)
class Trajectory:
    problem: Problem
    text: str  # the policy's response, as written
    steps: list[str]  # its steps under the chosen segmentation
    ends: list[int]  # offset in `text` right after each step
    correct: bool  # its final answer is right
    q_prev0: float  # the prompt's pass rate in the pre-filter: Q̂ before the first step
    true_first_error: int | None  # from the exact checker, over `steps` (None: no error, or no checker)
    truth_known: bool = True  # False where no exact checker exists (NuminaMath): no step has a true label

    def true_labels(self) -> list[bool | None]:
        """Per step: True (right), False (the first error) or None (after it, or unknown)."""
        if not self.truth_known:
            return [None] * len(self.steps)
        return true_step_labels(len(self.steps), self.true_first_error)


def prefilter(problems: Sequence[Problem], samples: Sequence[Sequence[str]], verifier: AnswerVerifier,
              keep_all: bool = False, max_kept: int = 0) -> list[tuple[Problem, float, list[str]]]:
    """Keep prompts solved sometimes but not always (paper: 16 samples, neither all right nor all wrong),
    with their pass rate; at most the first `max_kept` of them when it is positive (paper: "select a subset of
    40k prompts"). `keep_all` (smoke tests only) keeps every prompt, its pass rate clipped into
    [1/2k, 1 - 1/2k] so that no relative label divides by zero."""
    if max_kept < 0:
        raise ValueError(f"max_kept must be >= 0 (0: keep all), not {max_kept}")
    kept = []
    for problem, texts in zip(problems, samples, strict=True):
        if max_kept and len(kept) >= max_kept:
            break
        rate = float(np.mean([verifier.is_correct(t, str(problem.answer)) for t in texts]))
        if 0.0 < rate < 1.0:
            kept.append((problem, rate, list(texts)))
        elif keep_all:
            half = 0.5 / len(texts)
            kept.append((problem, min(max(rate, half), 1 - half), list(texts)))
    return kept


def make_trajectories(kept: Sequence[tuple[Problem, float, list[str]]], verifier: AnswerVerifier,
                      segmentation: str, per_prompt: int, untagged: str = "drop") -> list[Trajectory]:
    """The first `per_prompt` pre-filter samples of each kept prompt, cut into steps.

    A sample with no step (no `<chunk>` tag, or nothing but blank lines) is dropped (`untagged` "drop", the paper's
    way: it cannot be labelled), or taken as one step, the whole response (`untagged` "one_chunk"; smoke/debug only:
    the smoke tier's untrained policy writes tags by chance, so without this its later stages got data only by luck).
    """
    if untagged not in UNTAGGED_RESPONSES:
        raise ValueError(f"unknown untagged {untagged!r}; valid: {', '.join(UNTAGGED_RESPONSES)}")
    out = []
    for problem, rate, texts in kept:
        for text in texts[:per_prompt]:
            steps, ends = cut_points(text, segmentation)
            if not steps and untagged == "one_chunk" and text.strip():
                steps, ends = [text.strip("\n")], [len(text)]
            if steps:
                known, first_error = exact_first_error(problem, steps)
                out.append(Trajectory(problem, text, steps, ends, verifier.is_correct(text, str(problem.answer)),
                                      rate, first_error, known))
    return out


def rollout_prefixes(trajectories: Sequence[Trajectory], prompts: Sequence[str]) -> list[str]:
    """For every step but the last of every trajectory: its prompt plus the response up to that step."""
    return [prompt + t.text[:end] for t, prompt in zip(trajectories, prompts, strict=True) for end in t.ends[:-1]]


def success_matrices(trajectories: Sequence[Trajectory], continuations: Sequence[Sequence[str]],
                     verifier: AnswerVerifier, m: int) -> list[np.ndarray]:
    """Per trajectory, a [steps, M] 0/1 matrix: did rollout j from after step i reach the right answer?

    `continuations` are in `rollout_prefixes` order. The last row is the trajectory's own outcome, repeated
    (it is known, so it costs no rollouts).
    """
    out, k = [], 0
    for t in trajectories:
        rows = []
        for end in t.ends[:-1]:
            rows.append([verifier.is_correct(t.text[:end] + c, str(t.problem.answer)) for c in continuations[k]])
            k += 1
        rows.append([t.correct] * m)
        out.append(np.asarray(rows, dtype=np.int8))
    assert k == len(continuations), "continuations do not match the trajectories"
    assert all(len(c) == m for c in continuations), f"expected {m} rollouts per prefix"
    return out


def rules_from_config(gamma: float, alpha: float, best_of_n: int, on_zero_prev: str) -> dict[str, dict]:
    """The three rules with their parameters (paper §3.2), keyed as in `labels.LABEL_RULES`."""
    return {"abs_q": {}, "rel_ratio": {"gamma": gamma, "on_zero_prev": on_zero_prev},
            "rel_effective": {"alpha": alpha, "n": best_of_n}}


def labels_for(q: np.ndarray, q_prev0: float, rules: dict[str, dict]) -> dict[str, list[bool]]:
    """Every rule's labels for one trajectory's Q̂ values (rules: name -> parameters)."""
    return {name: label_trajectory(name, q.tolist(), q_prev0, **params) for name, params in rules.items()}


def stepwise_records(trajectories: Sequence[Trajectory], successes: Sequence[np.ndarray], m: int,
                     rules: dict[str, dict], default_rule: str, segmentation: str, generator: str,
                     seed: int) -> list[dict]:
    """Rows in TRL's stepwise-supervision schema (prompt, completions, labels) plus explicit columns."""
    assert default_rule in rules and set(rules) <= set(LABEL_RULES)
    rows = []
    for t, s in zip(trajectories, successes, strict=True):
        q = s[:, :m].mean(axis=1)
        labels = labels_for(q, t.q_prev0, rules)
        truth = t.true_labels()
        first_error = (-1 if t.true_first_error is None else t.true_first_error) if t.truth_known else None
        rows.append({
            "problem_id": t.problem.id, "level": t.problem.level, "prompt": t.problem.text,
            "completions": list(t.steps), "labels": labels[default_rule],
            **{f"labels_{name}": lab for name, lab in labels.items()},
            "q_values": q.tolist(), "q_prev0": t.q_prev0, "rollouts": int(m * (len(t.steps) - 1)),
            "true_labels": [None if x is None else bool(x) for x in truth],
            "true_first_error": first_error,  # -1: no error; None: no exact checker
            "final_correct": t.correct, "response": t.text, "segmentation": segmentation,
            "generator": generator, "seed": seed,
        })
    return rows


def quality_vs_m(successes: Sequence[np.ndarray], trajectories: Sequence[Trajectory], rules: dict[str, dict],
                 ms: Sequence[int]) -> "pd.DataFrame":
    """Agreement of each rule's labels with the exact truth, and precision/recall of its Negatives, for
    each rollout budget M (Q̂ from the first M rollouts, so budgets are nested)."""
    import pandas as pd

    from .label_quality import fixed_m_labels, label_quality

    truths = [t.true_labels() for t in trajectories]  # all None without a checker: agreement is NaN
    rows = []
    for rule, params in rules.items():
        for m in ms:
            preds = [fixed_m_labels(s, m, t.q_prev0, rule, **params) for s, t in zip(successes, trajectories)]
            rows.append({"rule": rule, "M": m, **label_quality(preds, truths)})
    return pd.DataFrame(rows)


def adaptive_summary(successes: Sequence[np.ndarray], trajectories: Sequence[Trajectory], rules: dict[str, dict],
                     m_max: int, confidence: float | None, joint: bool = False) -> dict[str, dict]:
    """Per rule: rollouts used by adaptive stopping vs the fixed budget, and agreement with fixed-M labels.
    `joint`: decide each chunk together with its predecessor (`label_quality.adaptive_labels_joint`)."""
    from .label_quality import adaptive_vs_fixed

    q0 = [t.q_prev0 for t in trajectories]
    out = {}
    for rule, params in rules.items():
        r = adaptive_vs_fixed([s[:, :m_max] for s in successes], q0, rule, m_max, confidence=confidence,
                              last_known=True, joint=joint, **params)
        out[rule] = {"rollout_fraction_used": r["rollout_fraction_used"], "agreement_with_m16": r["agreement_with_fixed"],
                     "rollouts_used": r["rollouts_used"], "rollouts_fixed": r["rollouts_fixed"]}
    return out


def adaptive_tradeoff(successes: Sequence[np.ndarray], trajectories: Sequence[Trajectory], rules: dict[str, dict],
                      m_max: int, confidences: Sequence[float | None],
                      stoppings: Sequence[str] = ("sequential", "joint")) -> "pd.DataFrame":
    """Rollouts used against agreement with the fixed-budget labels, per stopping scheme ("sequential": each chunk
    alone; "joint": with its predecessor), rule and confidence (None: exact stopping, the label can no longer
    change). The curve from which an operating point is chosen."""
    import pandas as pd

    rows = []
    for stopping in stoppings:
        if stopping not in ("sequential", "joint"):
            raise ValueError(f"unknown stopping {stopping!r}; valid: sequential, joint")
        for c in confidences:
            for rule, r in adaptive_summary(successes, trajectories, rules, m_max, c, stopping == "joint").items():
                rows.append({"stopping": stopping, "rule": rule, "confidence": "exact" if c is None else c,
                             "rollout_fraction_used": r["rollout_fraction_used"],
                             "agreement_with_m16": r["agreement_with_m16"]})
    return pd.DataFrame(rows)


@dataclass
class Annotation:
    """One policy's annotated data: the pre-filter's kept prompts, the trajectories, their success matrices
    (`m_draw` rollouts per step, the last row the known outcome) and the stepwise records (labels from `m_label`)."""

    kept: list
    trajectories: list[Trajectory]
    successes: list[np.ndarray]
    records: list[dict]


def annotate(engine, tokenizer, problems: Sequence[Problem], template: str, segmentation: str,
             verifier: AnswerVerifier, rules: dict[str, dict], default_rule: str, generator: str, *,
             samples_per_prompt: int, per_prompt: int, m_draw: int, m_label: int, temperature: float,
             max_new_tokens: int, seed: int, keep_all: bool = False, max_kept: int = 0,
             untagged: str = "drop") -> Annotation:
    """The whole labelling pipeline for one policy (paper §3.2, §4.1): sample `samples_per_prompt` responses per
    prompt, pre-filter, cut `per_prompt` trajectories per kept prompt at `segmentation`, draw `m_draw` rollouts
    after every step but the last (`engine`: a `RolloutEngine`), and label from the first `m_label`. `max_kept`: at
    most this many prompts pass the pre-filter (0: all); `untagged`: see `make_trajectories`. Nothing left to label
    (no prompt passes the pre-filter, or no kept sample has a step) is an error that says which, before any rollout."""
    from .base_policy import sample_solutions
    from .generation import Sampling, chat_prompt
    from .instruct import policy_prompt

    samples = sample_solutions(engine, tokenizer, problems,
                               Sampling(max_new_tokens, temperature, samples_per_prompt, seed), template)
    kept = prefilter(problems, samples, verifier, keep_all, max_kept)
    if not kept:
        raise ValueError(f"{generator}: no prompt passed the pre-filter: each of the {len(problems)} was solved in all "
                         f"or none of its {samples_per_prompt} samples (smoke/debug: keep_all keeps every prompt)")
    trajectories = make_trajectories(kept, verifier, segmentation, per_prompt, untagged)
    if not trajectories:
        raise ValueError(f"{generator}: none of the {sum(len(t[:per_prompt]) for _, _, t in kept)} samples of the "
                         f"{len(kept)} kept prompts has a step under {segmentation!r} segmentation, so there is nothing "
                         f"to label (chunks: the policy wrote no <chunk> tag; smoke/debug: untagged 'one_chunk' takes "
                         f"such a response as one chunk)")
    prompts = [chat_prompt(tokenizer, policy_prompt(t.problem.text, template)) for t in trajectories]
    continuations = engine.rollout(rollout_prefixes(trajectories, prompts), m_draw,
                                   Sampling(max_new_tokens, temperature, 1, seed + 1))
    successes = success_matrices(trajectories, continuations, verifier, m_draw)
    records = stepwise_records(trajectories, successes, m_label, rules, default_rule, segmentation, generator, seed)
    return Annotation(kept, trajectories, successes, records)


def stage_metrics(chunks: Annotation, blank: Annotation | None, rules: dict[str, dict], quality: "pd.DataFrame",
                  adaptive: dict, exact: dict, default_rule: str, confidence: float, tier: str, seed: int,
                  joint: bool = False, prompts: dict | None = None) -> dict:
    """metrics.json of stage 02 (the issue's keys: positive_share, agreement_with_truth, adaptive). `prompts`: where
    the prompts came from and how they were drawn (`stage_problems`' counts)."""
    return {
        "tier": tier, "seed": seed, "prompts": prompts or {}, "prompts_kept": len(chunks.kept),
        "trajectories": len(chunks.trajectories),
        "chunks": int(sum(len(t.steps) for t in chunks.trajectories)),
        "positive_share": positive_shares(chunks.records, rules),
        "positive_share_blankline": positive_shares(blank.records, rules) if blank and blank.records else None,
        "agreement_with_truth": {r: {str(int(m)): float(a) for m, a in zip(g.M, g.agreement)}
                                 for r, g in quality.groupby("rule")},
        "adaptive": {**adaptive[default_rule], "rule": default_rule, "confidence": confidence or "exact",
                     "stopping": "joint" if joint else "sequential", "by_rule": adaptive},
        "adaptive_exact_stopping": exact,
    }


PAPER_POSITIVE_SHARE = {"abs_q": 0.702, "rel_ratio": 0.565}  # [P §4.1, App. A.4]


def label_balance_table(records: Sequence[dict], rules: Sequence[str]) -> "pd.DataFrame":
    """Positive share per rule beside the paper's (NaN where the paper gives none)."""
    import pandas as pd

    return pd.DataFrame([{"rule": r, "positive_share": v, "paper": PAPER_POSITIVE_SHARE.get(r, float("nan"))}
                         for r, v in positive_shares(records, rules).items()])


def q_frame(records: Sequence[dict]) -> "pd.DataFrame":
    """Every chunk's Q̂ with whether it is the final chunk and its exact truth, for the Q-distribution figure."""
    import pandas as pd

    truth = {None: "after an error", True: "correct", False: "first error"}
    # without a checker (NuminaMath) every true label is None, the first one included: "unknown", not "after an error"
    known = [bool(rec["true_labels"]) and rec["true_labels"][0] is not None for rec in records]
    return pd.DataFrame([{"q": q, "step": "final" if i == len(rec["q_values"]) - 1 else "intermediate",
                          "truth": truth[rec["true_labels"][i]] if k else "unknown"}
                         for rec, k in zip(records, known) for i, q in enumerate(rec["q_values"])])


def positive_shares(records: Sequence[dict], rules: Sequence[str]) -> dict[str, float]:
    return {r: float(np.mean([x for rec in records for x in rec[f"labels_{r}"]])) for r in rules}
