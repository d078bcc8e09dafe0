"""Judge training by online RL (paper §3.3, §4.1, App. A.4): items, rewards, balancing, TRL GRPO.

Each labelled chunk of the stepwise dataset becomes one RL prompt (problem, history = the trajectory's earlier
chunks, new chunk). The judge samples a group of judgments per prompt; the reward is 1 when the boxed verdict
matches the rollout label, else 0 (CoT judge), or 1 / 0 / −1 for the no-CoT ablation, whose output must be the
verdict alone. GRPO with clip-higher (ε_low 0.2, ε_high 0.28) runs through TRL's `GRPOTrainer`.

Prompts are stored already chat-formatted (plain strings, rendered with `generation.chat_prompt`), so TRL does not
template them again and the judge sees at training exactly the text it sees at evaluation.

Metric names logged by trl 1.16.0's GRPOTrainer that this module relies on (checked in the installed
`trl/trainer/grpo_trainer.py`): `reward`, `reward_std`, `frac_reward_zero_std` (share of prompt groups whose
rewards are all equal, i.e. zero advantage), `entropy` (mean per-token entropy of the sampled completions),
`rewards/<reward function name>/mean`, `completions/mean_length`, `clip_ratio/*`, and `kl` only when beta > 0.
"""
from __future__ import annotations

import contextlib
import importlib.util
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, PrinterCallback, TrainerCallback

from .generation import chat_prompt
from .generation_vllm import INSTALL_HINT
from .instruct import lines_analysis
from .judge import format_judgment, judge_prompt, judge_prompt_direct, parse_verdict
from .sharding import SHARDINGS, trainer_arguments
from .world.problems import Problem, problem_from_text

# --------------------------------------------------------------------------------------------------- rewards

# The no-CoT ablation asks for the verdict alone. judge.py's templates ask for an analysis first, so the
# direct variant appends an instruction that overrides it (paper App. A.4 gives no wording: NOT SPECIFIED).
_DIRECT = re.compile(r"\s*\\boxed\{(Positive|Negative)\}\s*")
FORMAT_PENALTY = -1.0  # paper App. A.4: "a format penalty of −1.0" for the no-CoT judge


def completion_text(completion: str | Sequence[dict] | None) -> str:
    """The text of one completion, whether TRL passes a string (standard prompts) or messages (conversational).

    Conversational completions are lists of message dicts; their `content` may be a string or a list of content
    blocks (`{"type": "text", "text": ...}`). The contents of every message are joined.
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        content = message.get("content", "") if isinstance(message, dict) else str(message)
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
        parts.append(content or "")
    return "\n".join(parts)


def cot_reward(completions: Sequence, label: Sequence[bool], **kwargs: Any) -> list[float]:
    """Reward of the CoT judge (paper §3.3): 1.0 when the parsed verdict equals the label (True = Positive).

    A missing, unparseable or contradictory verdict scores 0.0 (paper: NOT SPECIFIED; reference/paper.md §3
    infers 0, so a malformed answer is never better than a wrong one). Extra dataset columns TRL passes
    (`prompts`, `true_label`, `trainer_state`, ...) are ignored: the reward sees only the rollout label.
    """
    return [1.0 if parse_verdict(completion_text(c)) is bool(y) else 0.0
            for c, y in zip(completions, label, strict=True)]


def direct_reward(completions: Sequence, label: Sequence[bool], **kwargs: Any) -> list[float]:
    """Reward of the no-CoT judge (paper App. A.4): the completion must be exactly `\\boxed{Positive}` or
    `\\boxed{Negative}` (surrounding whitespace allowed): 1.0 if it matches the label, 0.0 if it is the other
    verdict, −1.0 (format penalty) for anything else, including an analysis before the verdict."""
    out = []
    for c, y in zip(completions, label, strict=True):
        m = _DIRECT.fullmatch(completion_text(c))
        out.append(FORMAT_PENALTY if m is None else float((m.group(1) == "Positive") is bool(y)))
    return out


def _consistent_and_paid(completions: Sequence, label: Sequence[bool], chunk: Sequence[str],
                         strict: bool = False) -> list[tuple[bool, bool]]:
    """Per completion: (self-consistent, verdict matches the label), for the rewards below."""
    from .faithfulness import analysis_self_consistent

    out = []
    for c, y, ch in zip(completions, label, chunk, strict=True):
        text = completion_text(c)
        out.append((bool(analysis_self_consistent(text, ch, strict)), parse_verdict(text) is bool(y)))
    return out


def consistent_cot_reward(completions: Sequence, label: Sequence[bool], chunk: Sequence[str],
                          **kwargs: Any) -> list[float]:
    """NOT the paper: `cot_reward`, gated by the judgment's self-consistency (`faithfulness.analysis_self_consistent`:
    its quotes are lines of the chunk, each Match says whether the two lines above it are identical, the verdict
    follows the Matches). Read from the text alone, no truth; 0.0 when the gate fails or cannot be read.

    Why (docs/judge_study.md, "Two rewards beyond the paper"): under the verdict-only reward, a Negative item whose
    chunk error the judge's redo repeats pays only for "Match: no" under two identical lines, so GRPO teaches the Match token
    a prior instead of a comparison. The gate leaves one paid route to a Negative: a redo that differs from the
    chunk. Toy ("lines" analyses) only; `chunk` is the `rl_dataset` column TRL passes through.
    """
    return [float(consistent and paid) for consistent, paid in _consistent_and_paid(completions, label, chunk)]


def strict_consistent_cot_reward(completions: Sequence, label: Sequence[bool], chunk: Sequence[str],
                                 **kwargs: Any) -> list[float]:
    """NOT the paper: `consistent_cot_reward` with the strict gate (`analysis_self_consistent(..., strict=True)`): a
    quoted sentence is compared with the redone sentence, so a right sentence quoted in place of its equation no
    longer passes with "Match: no", the loophole GRPO found in the plain gate at 300 steps (docs/judge_study.md)."""
    return [float(consistent and paid)
            for consistent, paid in _consistent_and_paid(completions, label, chunk, strict=True)]


def consistency_shaped_reward(completions: Sequence, label: Sequence[bool], chunk: Sequence[str],
                              **kwargs: Any) -> list[float]:
    """NOT the paper: 0.5 for a self-consistent judgment (`faithfulness.analysis_self_consistent`), plus 0.5 when its
    verdict also matches the label; 0.0 for an inconsistent or unreadable one.

    Why, beyond `consistent_cot_reward`: there, a consistent judgment whose verdict misses the label (a redo that
    repeats the chunk's mistake, then an honest "Match: yes") scores 0 like an inconsistent one, and inside a
    group that has a paid sample it gets a negative advantage: GRPO pushes down the right comparison together
    with the wrong redo, and the movable token is the Match. Here the honest comparison keeps half the reward, so
    the only way up from it is a better redo.
    """
    return [0.5 * consistent + 0.5 * (consistent and paid)
            for consistent, paid in _consistent_and_paid(completions, label, chunk)]


def reference_judgment_reward(completions: Sequence, reference: Sequence[str], **kwargs: Any) -> list[float]:
    """DIAGNOSTIC, neither the paper nor a method (it reads the exact truth): 1.0 when the judgment is the reference
    judgment (`rl_dataset(..., reference=True)`: the warm-up teacher's analysis of the item, `instruct.lines_analysis`,
    and its verdict, the exact checker's), i.e. the same analysis text and the same verdict; else 0.0.

    Why: it is the most a reward can say about one judgment, paying for every redone line, quote and Match being
    right, not only for the verdict. So it asks whether GRPO on this init is limited by what the paper's verdict
    reward pays for or by GRPO itself (docs/judge_study.md, "And a reward that pays for the whole rationale")."""
    out = []
    for c, ref in zip(completions, reference, strict=True):
        text = completion_text(c)
        verdict = parse_verdict(text)
        same = text.split("Final Judgment")[0].strip() == ref.split("Final Judgment")[0].strip()
        out.append(float(same and verdict is not None and verdict == parse_verdict(ref)))
    return out


REWARDS: dict[str, Callable[..., list[float]]] = {"cot": cot_reward, "direct": direct_reward,
                                                  "cot_consistent": consistent_cot_reward,
                                                  "cot_consistent_strict": strict_consistent_cot_reward,
                                                  "cot_consistency_shaped": consistency_shaped_reward,
                                                  "cot_reference": reference_judgment_reward}

# ------------------------------------------------------------------------------------ decision-free loss mask

# The words a "lines" judgment decides with: the answer under each `Match:` and the verdict inside `\boxed{}`.
_DECISION_WORDS = re.compile(r"Match:(\s*[A-Za-z]+)|\\boxed\{(\s*[A-Za-z]+)")


def decision_char_spans(text: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the decision words of a judgment: each word after `Match:` (with its
    leading space) and the word inside each `\\boxed{...}`. The toy tier's "lines" analyses have both; in a
    free-form analysis (the paper tier) only the boxed verdict is found.

    Example:
        >>> t = "Redo: x\\n1+2=3\\nChunk: 1+2=4\\nMatch: no.\\nFinal Judgment: \\\\boxed{Negative}"
        >>> [t[a:b] for a, b in decision_char_spans(t)]
        [' no', 'Negative']
    """
    return [m.span(1) if m.group(1) is not None else m.span(2) for m in _DECISION_WORDS.finditer(text)]


def _token_char_ends(ids: Sequence[int], tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Where each token ends in `text`, the decoded `ids`. Decoding token by token is exact for byte-level BPE on
    text whose characters each fit in one token; otherwise (a multi-byte character split across tokens) fall back
    to decoding every prefix, exact and quadratic."""
    pieces = tokenizer.batch_decode([[i] for i in ids])
    if "".join(pieces) == text:
        ends, at = [], 0
        for piece in pieces:
            at += len(piece)
            ends.append(at)
        return ends
    return [len(tokenizer.decode(list(ids[:k + 1]))) for k in range(len(ids))]


def decision_free_mask(ids: Sequence[int], tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Per token of a completion: 0 where the token overlaps a decision word (`decision_char_spans`), else 1.
    What `grpo_train(..., decision_loss=False)` multiplies into GRPO's loss mask."""
    text = tokenizer.decode(list(ids))  # decoded once, for the spans and the token offsets
    ends, spans = _token_char_ends(ids, tokenizer, text), decision_char_spans(text)
    mask, start = [], 0
    for end in ends:
        mask.append(0 if any(start < b and a < end for a, b in spans) else 1)
        start = end
    return mask


def _decision_free_trainer(base: type) -> type:
    """A subclass of TRL's `GRPOTrainer` (passed in: trl is imported lazily) whose loss skips decision words.

    NOT the paper. TRL's `_compute_loss` multiplies its per-token loss (policy term and KL term) by
    `completion_mask * inputs["tool_mask"]`, a mask that changes the loss and not the attention; this sets it to
    `decision_free_mask`. The Match words and the boxed verdict then get no gradient of their own: their
    probabilities move only through weights they share with the analysis, while the redone lines and quotes are
    trained by the same sequence advantage as in GRPO. docs/judge_study.md, "Nor does leaving the decision out of
    the loss"."""

    class DecisionFreeGRPOTrainer(base):
        def _compute_loss(self, model, inputs):
            ids, valid = inputs["completion_ids"], inputs["completion_mask"]
            rows = []
            for row, keep in zip(ids.tolist(), valid.tolist(), strict=True):
                n = int(sum(keep))
                rows.append(decision_free_mask(row[:n], self.processing_class) + [1] * (len(row) - n))
            mask = torch.tensor(rows, dtype=valid.dtype, device=valid.device)
            if "tool_mask" in inputs:
                mask = mask * inputs["tool_mask"]
            return super()._compute_loss(model, {**inputs, "tool_mask": mask})

    return DecisionFreeGRPOTrainer


# ------------------------------------------------------------------------------- per-line credit (a diagnostic)

_END = "\x00<end>"  # the end of a judgment (its end-of-turn token), credited like a line: stopping is a decision too


def reference_line_credits(lines: Sequence[str], reference_lines: Sequence[str]) -> list[float | None]:
    """Per line of a judgment, its credit against the reference judgment's lines (whitespace at either end ignored):
    1.0 while the line and every line before it equal the reference's, 0.0 for the first line that differs, None
    for every line after it: those follow a prefix the reference never writes, so nothing is known of them.

    Example:
        >>> reference_line_credits(["a", "b", "x", "d"], ["a", "b", "c", "d"])
        [1.0, 1.0, 0.0, None]
        >>> reference_line_credits(["a", "b ", "c"], ["a", "b"])
        [1.0, 1.0, 0.0]
    """
    out: list[float | None] = []
    for k, line in enumerate(lines):
        if k >= len(reference_lines) or line.strip() != reference_lines[k].strip():
            return out + [0.0] + [None] * (len(lines) - k - 1)
        out.append(1.0)
    return out


def line_group_advantages(credits: Sequence[Sequence[float | None]]) -> list[list[float]]:
    """GRPO's group-relative advantage, per line instead of per completion, for one group's `credits`
    (`reference_line_credits` of each sample).

    The samples whose line k has a credit all wrote the reference's lines 0..k-1 before it: they share one
    prefix, hence one state, so their mean credit at line k is a baseline for exactly that decision. Each gets
    (credit - mean) / (std + 1e-4), with the unbiased std as TRL's `scale_rewards="group"`; a line no other sample
    shares, and every line without a credit, gets 0.0.

    Example (the second sample's "x" is the group's only departure at line 1):
        >>> [[round(a, 2) for a in row] for row in line_group_advantages([[1.0, 1.0], [1.0, 0.0, None], [1.0, 1.0]])]
        [[0.0, 0.58], [0.0, -1.15, 0.0], [0.0, 0.58]]
    """
    out = [[0.0] * len(row) for row in credits]
    for k in range(max((len(row) for row in credits), default=0)):
        sharing = [i for i, row in enumerate(credits) if k < len(row) and row[k] is not None]
        if len(sharing) < 2:
            continue
        values = [credits[i][k] for i in sharing]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        for i in sharing:
            out[i][k] = (credits[i][k] - mean) / (std + 1e-4)
    return out


def completion_line_units(ids: Sequence[int], tokenizer: PreTrainedTokenizerBase) -> tuple[list[str], list[int]]:
    """A completion's credit units and each token's unit: its lines (the text split at each newline; a token
    belongs to the line of its last character, so a token that ends a line with its newline belongs to that line),
    then an end unit for the trailing special tokens (the end-of-turn token) when there are any."""
    special = set(tokenizer.all_special_ids)
    n = len(ids)
    while n and ids[n - 1] in special:
        n -= 1
    text = tokenizer.decode(list(ids[:n]))
    ends = _token_char_ends(ids[:n], tokenizer, text)
    newlines_before = [0]
    for ch in text:
        newlines_before.append(newlines_before[-1] + (ch == "\n"))
    units = [newlines_before[max(end - 1, 0)] for end in ends]
    lines = text.split("\n")
    if n < len(ids):
        lines.append(_END)
        units += [len(lines) - 1] * (len(ids) - n)
    return lines, units


def reference_line_advantages(completion_ids: torch.Tensor, completion_mask: torch.Tensor,
                              references: Sequence[str], tokenizer: PreTrainedTokenizerBase,
                              group_size: int, balance_verdicts: bool = False,
                              max_weight: float = 10.0) -> torch.Tensor:
    """Per-token advantages (batch, tokens) of a generation batch whose consecutive `group_size` rows sample one
    prompt: each token gets its line's `line_group_advantages` against the row's reference judgment (ended by
    `_END`), padding 0. What `grpo_train(..., credit="reference_lines")` trains on.

    With `balance_verdicts` (`credit="reference_lines_balanced"`), the rows whose reference is Negative (a wrong
    chunk) are scaled so that their total absolute advantage equals that of the Positive ones in the batch (the
    weight capped at `max_weight`, and 1 when either side has none). Why: unscaled, a weak judge learned the
    Positive judgments and gave up the Negative ones (docs/judge_study.md, "Nor does a credit per line")."""
    rows = completion_ids.shape[0]
    if rows % group_size or len(references) != rows:
        raise ValueError(f"{rows} completions, {len(references)} references: not whole groups of {group_size}")
    out = torch.zeros(completion_ids.shape, dtype=torch.float32)
    for g in range(0, rows, group_size):
        units, credits = [], []
        for r in range(g, g + group_size):
            n = int(completion_mask[r].sum())
            lines, unit = completion_line_units(completion_ids[r, :n].tolist(), tokenizer)
            units.append(unit)
            credits.append(reference_line_credits(lines, references[r].split("\n") + [_END]))
        for r, unit, adv in zip(range(g, g + group_size), units, line_group_advantages(credits), strict=True):
            out[r, :len(unit)] = torch.tensor([adv[u] for u in unit], dtype=torch.float32)
    if balance_verdicts:
        out[_negative_rows(references)] *= verdict_balance_weight(out, references, max_weight)
    return out


def _negative_rows(references: Sequence[str]) -> torch.Tensor:
    return torch.tensor([parse_verdict(ref) is False for ref in references], dtype=torch.bool)


def negative_mass_share(advantages: torch.Tensor, references: Sequence[str]) -> float:
    """The share of a batch's total absolute advantage on the rows whose reference is Negative (wrong chunks);
    NaN when the batch has no advantage at all."""
    total = float(advantages.abs().sum())
    return float(advantages[_negative_rows(references)].abs().sum()) / total if total else math.nan


def verdict_balance_weight(advantages: torch.Tensor, references: Sequence[str], max_weight: float = 10.0) -> float:
    """The factor on the wrong chunks' rows that gives them the total absolute advantage of the right chunks' rows,
    capped at `max_weight`; 1.0 when either side has none."""
    negative = _negative_rows(references)
    mass_negative, mass_positive = float(advantages[negative].abs().sum()), float(advantages[~negative].abs().sum())
    return min(mass_positive / mass_negative, max_weight) if mass_negative > 0 and mass_positive > 0 else 1.0


def _line_credit_trainer(base: type, balance_verdicts: bool = False) -> type:
    """A subclass of TRL's `GRPOTrainer` (passed in) that credits each line of a judgment on its own.

    DIAGNOSTIC, neither the paper nor a method: it reads the exact truth (the warm-up teacher's judgment of each
    item, the dataset's `reference` column). TRL computes one advantage per completion from the sequence reward; this
    replaces it, after generation and before TRL shuffles and splits the batch (so the groups are still whole), by
    `reference_line_advantages`: every redone line, quote, Match and the verdict is paid for being the teacher's,
    against the other samples that reached the same line on the teacher's track. `_compute_loss` accepts (batch,
    tokens) advantages as they are. The logged reward stays the sequence reward (`reference_judgment_reward`).
    `balance_verdicts`: see `reference_line_advantages`.
    Why: docs/judge_study.md, "Nor does a credit per line": whether GRPO can use the headroom in its samples when
    the credit is local."""

    class LineCreditGRPOTrainer(base):
        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            if self.accelerator.num_processes != 1:  # the groups would be split across processes
                raise NotImplementedError("per-line credit runs in one process")
            references = [x["reference"] for x in inputs]
            advantages = reference_line_advantages(out["completion_ids"], out["completion_mask"], references,
                                                   self.processing_class, self.num_generations)
            # logged for every per-line run: how much of the credit falls on wrong chunks, and the balancing factor
            self._metrics["train"]["line_credit/negative_share"].append(negative_mass_share(advantages, references))
            weight = verdict_balance_weight(advantages, references) if balance_verdicts else 1.0
            self._metrics["train"]["line_credit/negative_weight"].append(weight)
            advantages[_negative_rows(references)] *= weight
            return {**out, "advantages": advantages.to(out["completion_ids"].device)}

    return LineCreditGRPOTrainer


# ------------------------------------------------------------------------------------------------ judge items


def judge_items_from_records(records: Sequence[dict], rule: str,
                             max_steps_after_error: int | None = None) -> list[dict]:
    """One judge item per labelled chunk of the stepwise records (rows of `rollout_labels.stepwise_records`).

    Paper §3.3: "each annotated chunk becomes one RL prompt", history = the trajectory's earlier chunks. We follow
    it: by default (`max_steps_after_error=None`) every chunk is an item, including those after the first chunk
    labelled Negative under `rule`, whose history is then (probably) wrong. Such items never occur in the
    ProcessBench-style evaluation (judging stops at the first Negative), so `max_steps_after_error=k` keeps only
    the first k chunks after the first rollout Negative (0: stop at it) — an option of ours, NOT SPECIFIED by the
    paper. The cut uses the rollout labels, never the exact truth, because training must not see the truth.

    Each item: problem_id, level, problem (text), history (tuple of earlier chunks), chunk, step (0-based index),
    label (the rule's rollout label, True = Positive), true_label (exact checker; None after the first true
    error, where correctness of a step is undefined) and q_value (Q̂ of the chunk).
    """
    if max_steps_after_error is not None and max_steps_after_error < 0:
        raise ValueError(f"max_steps_after_error must be None or >= 0, got {max_steps_after_error}")
    items = []
    for rec in records:
        key = f"labels_{rule}"
        if key not in rec:
            found = sorted(k[len("labels_"):] for k in rec if k.startswith("labels_"))
            raise KeyError(f"record has no labels for rule {rule!r}; found {found}")
        steps, labels, truth = list(rec["completions"]), list(rec[key]), list(rec["true_labels"])
        if not len(steps) == len(labels) == len(truth):
            raise ValueError(f"record {rec.get('problem_id')}: {len(steps)} steps, {len(labels)} labels, "
                             f"{len(truth)} true labels")
        last = len(steps) - 1
        if max_steps_after_error is not None and False in labels:
            last = min(last, labels.index(False) + max_steps_after_error)
        q = rec.get("q_values")
        q = [math.nan] * len(steps) if q is None else list(q)
        for i in range(last + 1):
            items.append({
                "problem_id": rec["problem_id"], "level": rec.get("level"), "problem": rec["prompt"],
                "history": tuple(steps[:i]), "chunk": steps[i], "step": i, "label": bool(labels[i]),
                "true_label": None if truth[i] is None else bool(truth[i]), "q_value": float(q[i]),
            })
    return items


def is_false_alarm(item: Mapping[str, Any]) -> bool:
    """A Negative rollout label on a chunk the exact checker calls correct (a label-noise Negative)."""
    return not item["label"] and item["true_label"] is True


def drop_false_alarms(items: Sequence[dict], seed: int, control: bool = False) -> list[dict]:
    """DIAGNOSTIC, NOT the method (it reads the exact truth, which training never may): a balanced training set
    without its k false-alarm Negatives (`is_false_alarm`) and without k randomly chosen Positives, so that the label
    mix stays where balancing put it and only the false alarms leave. `control=True` drops k randomly chosen *other*
    Negatives instead (a truly wrong chunk or one after the first true error) and the same k Positives: a set of the
    same size and mix that keeps its false alarms. The kept items stay in their order; the same items and seed give
    the same set."""
    negatives = [i for i, it in enumerate(items) if not it["label"]]
    alarms = [i for i in negatives if is_false_alarm(items[i])]
    others = [i for i in negatives if not is_false_alarm(items[i])]
    positives = [i for i, it in enumerate(items) if it["label"]]
    k = len(alarms)
    if k > len(positives) or (control and k > len(others)):
        raise ValueError(f"cannot drop {k} false alarms' worth: {len(positives)} Positive and {len(others)} other "
                         f"Negative items")
    rng = random.Random(seed)
    dropped = set(rng.sample(positives, k))  # drawn first, so both arms drop the same Positives
    dropped |= set(rng.sample(others, k)) if control else set(alarms)
    return [it for i, it in enumerate(items) if i not in dropped]


def balance(items: Sequence[dict], seed: int, enabled: bool = True, positive_share: float = 0.5) -> list[dict]:
    """Randomly down-sample so Positive items are `positive_share` of the result (paper §3.3, App. A.4: 50/50,
    "essential for stable RL"), keeping as many items as that share allows: every item of the label that limits
    it. The result is shuffled; the same items and seed give the same result. `enabled=False` (the "ablate
    balancing" run) returns the items unchanged and in their order (TRL shuffles the training set itself).
    A share other than 0.5 is NOT the paper: it sets the label mix GRPO sees, e.g. nearer to the share of correct
    steps the benchmark asks about (docs/results.md, "Toy ProcessBench").
    """
    if not enabled:
        return list(items)
    if not 0.0 < positive_share < 1.0:
        raise ValueError(f"positive_share must lie strictly between 0 and 1, got {positive_share}")
    rng = random.Random(seed)
    pos = [it for it in items if it["label"]]
    neg = [it for it in items if not it["label"]]
    if not pos or not neg:
        raise ValueError(f"cannot balance: {len(pos)} Positive and {len(neg)} Negative items")
    ratio = positive_share / (1.0 - positive_share)  # Positive items per Negative item
    n_pos, n_neg = round(len(neg) * ratio), len(neg)
    if n_pos > len(pos):  # the Positive items limit the set
        n_pos, n_neg = len(pos), min(len(neg), round(len(pos) / ratio))
    n_pos, n_neg = max(n_pos, 1), max(n_neg, 1)
    chosen = (pos if len(pos) == n_pos else rng.sample(pos, n_pos)) + \
        (neg if len(neg) == n_neg else rng.sample(neg, n_neg))
    rng.shuffle(chosen)
    return chosen


def label_shares(items: Sequence[dict]) -> dict[str, float | int]:
    """How many items and which share of them are Positive (for the stage's label-balance table)."""
    n = len(items)
    pos = sum(bool(it["label"]) for it in items)
    return {"items": n, "positive": pos, "positive_share": pos / n if n else math.nan}


# ---------------------------------------------------------------------------------------------- the dataset


def judge_user_message(item: dict, template: str = "toy", cot: bool = True) -> str:
    """The judge's user message for an item: the Table 3 prompt, plus the verdict-only instruction without CoT."""
    build = judge_prompt if cot else judge_prompt_direct
    return build(item["problem"], item["history"], item["chunk"], template)


def reference_judgment(item: dict) -> str:
    """The warm-up teacher's judgment of a toy item (`instruct.lines_analysis` and its verdict, the exact checker's),
    what `reference_judgment_reward` pays for. Training items carry the problem's text (as 02's records store it),
    held-out ones the object; the history must be correct (the item comes before the first true error)."""
    problem = item["problem"]
    if not isinstance(problem, Problem):
        problem = problem_from_text(problem, item.get("problem_id", ""), int(item.get("level") or 0))
    return format_judgment(*lines_analysis(problem, item["history"], item["chunk"]))


def rl_dataset(items: Sequence[dict], tokenizer: PreTrainedTokenizerBase, template: str = "toy", cot: bool = True,
               max_prompt_tokens: int | None = None, reference: bool = False) -> Dataset:
    """The GRPO training set: `prompt` (chat-formatted judge prompt, a string), `label` (bool, the rollout label
    the reward compares with), `chunk` (the judged chunk's text) and bookkeeping columns `true_label`,
    `problem_id`, `step`, `level`. With `reference` (toy items only; a diagnostic that reads the truth) also
    `reference`, the warm-up teacher's judgment of the item (`reference_judgment_reward`).

    `max_prompt_tokens` drops items whose prompt is longer (paper §4.1: max prompt length 3096 tokens, and a
    heuristic filter of "overly long" prompts whose thresholds are NOT SPECIFIED). Note that dropping after
    `balance` can tilt the 50/50 split slightly; long prompts are rare in the toy world.
    """
    prompts = [chat_prompt(tokenizer, judge_user_message(it, template, cot)) for it in items]
    keep = list(range(len(items)))
    if max_prompt_tokens is not None:
        lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]] if prompts else []
        keep = [i for i in keep if lengths[i] <= max_prompt_tokens]
    if reference and any(items[i]["true_label"] is None for i in keep):
        raise ValueError("reference judgments assume a correct history: keep only items up to the first true error "
                         "(tools/judge_experiment.py --oracle-clean)")
    columns = {"reference": [reference_judgment(items[i]) for i in keep]} if reference else {}
    return Dataset.from_dict({
        **columns,
        "prompt": [prompts[i] for i in keep],
        "label": [bool(items[i]["label"]) for i in keep],
        "chunk": [items[i]["chunk"] for i in keep],  # for consistent_cot_reward, which reads the quotes
        "true_label": [items[i]["true_label"] for i in keep],
        "problem_id": [items[i]["problem_id"] for i in keep],
        "step": [int(items[i]["step"]) for i in keep],
        "level": [items[i].get("level") for i in keep],
    })


# ----------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class GRPOSettings:
    """GRPO hyperparameters. Defaults are toy-tier sizes; the paper's value is in each comment (params/paper/
    sets them). Sizes count completions, as TRL does: prompts per step = batch_size / num_generations."""

    learning_rate: float = 1e-5  # paper §4.1: 1e-6 (7B/1.5B); the toy model is tiny and trained from scratch
    max_steps: int = 200  # optimizer steps; paper §4.1: 800 (verl steps of 1024 prompts, i.e. 4 updates each)
    batch_size: int = 32  # completions per device per micro-step; paper: 256 prompts x 4 = 1024 per update
    gradient_accumulation_steps: int = 1
    # Optimizer updates per generation round (one round samples batch_size x accumulation x this many
    # completions). Paper §4.1: 1024 prompts per step / mini-batch 256 = 4; toy: 1, fully on-policy.
    updates_per_generation: int = 1
    num_generations: int = 4  # group size; paper §4.1: 4
    epsilon_low: float = 0.2  # paper §4.1: clip-higher, ε_low = 0.2
    epsilon_high: float = 0.28  # paper §4.1: clip-higher, ε_high = 0.28 (DAPO)
    beta: float = 0.0  # KL coefficient: NOT SPECIFIED by the paper; 0 (TRL's default, no reference model)
    temperature: float = 1.0  # rollout temperature: NOT SPECIFIED; 1.0 (TRL default, the paper's sampling T)
    max_completion_length: int = 128  # paper §4.1: 3096 tokens
    # Token-level loss over the batch (TRL "dapo") matches verl's default token-mean aggregation (INFERENCE);
    # std-normalised group advantages ("group") are standard GRPO (paper: NOT SPECIFIED).
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    num_iterations: int = 1  # PPO epochs per generation: NOT SPECIFIED; 1 (TRL default)
    warmup_steps: int = 0  # scheduler NOT SPECIFIED; constant learning rate
    logging_steps: int = 1
    seed: int = 0  # TRL's one seed: the order it feeds the items in, and (unless sampling_seed) its completions
    # NOT the paper: a seed of its own for the completions GRPO samples, so that a run's sampling can change while
    # its items and their order stay (docs/judge_study.md, "What a GRPO seed is made of"); None: `seed` draws them
    sampling_seed: int | None = None
    # Completions through vLLM sharing the training GPUs (TRL's "colocate" mode; the paper's verl also samples with
    # vLLM); GPU only. TRL then syncs the weights into vLLM after each update and corrects for the sampler mismatch.
    use_vllm: bool = False
    vllm_gpu_memory_utilization: float = 0.3
    # Keep the judge every this many optimizer steps (model and tokenizer, in <output_dir>/checkpoint-<step>), to score
    # it along its path; 0: none. Saving draws nothing, so the run is the same with or without it.
    save_every: int = 0
    # "none": each process holds the whole model; "fsdp": split over the processes (several processes only, launch.py;
    # sharding.py), as a 7B judge's GRPO needs
    sharding: str = "none"

    def __post_init__(self):
        if self.sharding not in SHARDINGS:
            raise ValueError(f"sharding must be one of {SHARDINGS}, not {self.sharding!r}")
        micro = self.batch_size * self.gradient_accumulation_steps
        if self.num_generations < 2 or micro % self.num_generations:
            raise ValueError(f"batch_size x gradient_accumulation_steps ({micro}) must be a multiple of "
                             f"num_generations ({self.num_generations}) >= 2")
        if min(self.max_steps, self.updates_per_generation, self.max_completion_length, self.logging_steps) < 1 \
                or self.save_every < 0:
            raise ValueError(f"invalid GRPO settings: {self}")


def _forked_rng():
    """`torch.random.fork_rng` over the CPU generator and this process's GPU only: forking every visible GPU (the
    default) would open a CUDA context on each of them from every process of a multi-GPU run."""
    return torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else [])


class EvalCallback(TrainerCallback):
    """Calls `eval_fn(model) -> dict` before training and every `eval_every` optimizer steps (and after the last
    step), and appends `{"step": ..., "eval_<name>": value}` to the trainer's log history.

    With `isolate_rng` the evaluation runs on a fork of torch's generators (`_forked_rng`), so
    whatever it draws or reseeds (`TransformersBackend` calls `torch.manual_seed` per batch) leaves TRL's sampling,
    which draws from the same global generators, as it was: GRPO's draws then do not depend on `eval_every`, the
    held-out set or the evaluation's batch size. `isolate_rng=False` keeps the coupling, for re-running the
    toy GRPO runs made before it existed (docs/results.md, "Reproducibility, measured")."""

    def __init__(self, eval_fn: Callable[[PreTrainedModel], dict], eval_every: int, isolate_rng: bool = True):
        self.eval_fn, self.eval_every, self.isolate_rng, self.done = eval_fn, eval_every, isolate_rng, set()

    def _run(self, state, model) -> None:
        if state.global_step in self.done:
            return
        was_training = model.training
        model.eval()  # eval_fn generates; dropout off, and restore the mode GRPO was in
        try:
            with _forked_rng() if self.isolate_rng else contextlib.nullcontext():
                metrics = self.eval_fn(model)
        finally:
            model.train(was_training)
        row = {(k if k.startswith("eval_") else f"eval_{k}"): v for k, v in metrics.items()}
        state.log_history.append({**row, "step": state.global_step})
        # printed as well, so a long run shows its held-out curve while it trains (the notebook's output updates)
        shown = ", ".join(f"{k.removeprefix('eval_')} {v:.3f}" for k, v in row.items() if isinstance(v, float))
        print(f"held-out at step {state.global_step}: {shown}", flush=True)
        self.done.add(state.global_step)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._run(state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.eval_every == 0:
            self._run(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self._run(state, model)


def grpo_config(settings: GRPOSettings, output_dir: str | Path, progress: bool = True):
    """TRL's GRPOConfig for `settings`: CPU fp32 without a GPU, bf16 autocast on one."""
    from trl import GRPOConfig  # imported here: trl is slow to import and only training needs it

    on_gpu = torch.cuda.is_available()
    return GRPOConfig(
        output_dir=str(output_dir), learning_rate=settings.learning_rate, max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        steps_per_generation=settings.updates_per_generation * settings.gradient_accumulation_steps,
        num_generations=settings.num_generations, epsilon=settings.epsilon_low, epsilon_high=settings.epsilon_high,
        beta=settings.beta, temperature=settings.temperature, top_p=1.0, top_k=0,
        max_completion_length=settings.max_completion_length, loss_type=settings.loss_type,
        scale_rewards=settings.scale_rewards, num_iterations=settings.num_iterations,
        lr_scheduler_type="constant_with_warmup" if settings.warmup_steps else "constant",
        warmup_steps=settings.warmup_steps, logging_steps=settings.logging_steps, seed=settings.seed,
        data_seed=settings.seed, save_strategy="steps" if settings.save_every else "no",
        save_steps=settings.save_every or 500, save_only_model=True, report_to="none", use_cpu=not on_gpu, bf16=on_gpu,
        activation_checkpointing=False, dataloader_num_workers=0, disable_tqdm=not progress,
        remove_unused_columns=False,  # the reward needs the `label` column
        use_vllm=settings.use_vllm, vllm_mode="colocate",
        vllm_gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
        **trainer_arguments(settings.sharding, on_gpu),
    )


def grpo_train(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, dataset: Dataset,
               settings: GRPOSettings, output_dir: str | Path, reward: str = "cot",
               eval_fn: Callable[[PreTrainedModel], dict] | None = None, eval_every: int = 0,
               progress: bool = True, decision_loss: bool = True, credit: str = "sequence",
               isolate_eval_rng: bool = True) -> list[dict]:
    """Train the judge `model` in place by GRPO on `dataset` (from `rl_dataset`); returns the log history.

    `reward` is "cot" (`cot_reward`), "direct" (`direct_reward`, the no-CoT ablation), or, NOT the paper,
    "cot_consistent" (`consistent_cot_reward`), "cot_consistent_strict" (`strict_consistent_cot_reward`) or
    "cot_consistency_shaped" (`consistency_shaped_reward`).
    `decision_loss=False` (NOT the paper) leaves the decision words out of the loss (`_decision_free_trainer`).
    `credit="reference_lines"` (a DIAGNOSTIC that reads the truth; the dataset needs its `reference` column) credits
    each line of a judgment on its own instead of the whole completion by its reward (`_line_credit_trainer`);
    `credit="reference_lines_balanced"` also gives wrong chunks' lines as much total weight as right ones'.
    With `eval_fn` and `eval_every > 0`, held-out metrics are added to the log history at step 0, every
    `eval_every` steps and at the end, on its own fork of torch's generators unless `isolate_eval_rng=False`
    (`EvalCallback`). `tokenizer` must be the judge's own (passed to TRL as `processing_class`: see tokenizer.py on why never
    AutoTokenizer); its pad token pads the batches and its end-of-turn token ends each judgment.
    """
    from trl import GRPOTrainer

    if reward not in REWARDS:
        raise ValueError(f"unknown reward {reward!r}; valid: {sorted(REWARDS)}")
    if not {"prompt", "label"} <= set(dataset.column_names):
        raise ValueError(f"dataset needs `prompt` and `label` columns, has {dataset.column_names}")
    if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer needs a pad and an end-of-turn (eos) token")
    if settings.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ImportError(f"GRPO with use_vllm needs vLLM: {INSTALL_HINT}")
    callbacks = [EvalCallback(eval_fn, eval_every, isolate_eval_rng)] if eval_fn is not None and eval_every > 0 else []
    credits = ("sequence", "reference_lines", "reference_lines_balanced")
    if credit not in credits:
        raise ValueError(f"unknown credit {credit!r}; valid: {', '.join(credits)}")
    if credit != "sequence" and "reference" not in dataset.column_names:
        raise ValueError("per-line credit needs the `reference` column (rl_dataset(..., reference=True))")
    trainer_class = GRPOTrainer if decision_loss else _decision_free_trainer(GRPOTrainer)
    if credit != "sequence":
        trainer_class = _line_credit_trainer(trainer_class, balance_verdicts=credit == "reference_lines_balanced")
    trainer = trainer_class(model=model, reward_funcs=REWARDS[reward], args=grpo_config(settings, output_dir, progress),
                            train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks)
    if not progress:  # without a progress bar, transformers prints every log dict instead: keep quiet
        trainer.remove_callback(PrinterCallback)
    if settings.sampling_seed is not None:
        # TRL seeds torch's generators with `seed` while the trainer is built (as below, one stream per process) and
        # draws its completions from them; its sampler orders the items with a generator of its own. Reseeding here,
        # after the last draw of the construction, changes the completions and nothing else (tested: the same seed
        # again gives the same run).
        from accelerate.utils import set_seed

        set_seed(settings.sampling_seed, device_specific=True)
    trainer.train()
    model.eval()
    return [dict(r) for r in trainer.state.log_history]


# ------------------------------------------------------------------------------------------------- logging

_TRAIN_COLUMNS = {"reward": "reward", "reward_std": "reward_std", "entropy": "entropy",
                  "frac_reward_zero_std": "zero_std_share", "kl": "kl", "loss": "loss",
                  "completions/mean_length": "completion_length", "clip_ratio/high_mean": "clip_high",
                  "clip_ratio/low_mean": "clip_low", "learning_rate": "learning_rate",
                  "line_credit/negative_share": "line_negative_share",
                  "line_credit/negative_weight": "line_negative_weight"}


def history_frame(log_history: Sequence[dict]) -> pd.DataFrame:
    """One row per logged step: reward, reward_std, entropy, zero_std_share (TRL `frac_reward_zero_std`), kl,
    loss, completion_length, clip ratios, per-reward-function means (`reward_<name>`) and every `eval_*` metric.
    Steps with only evaluation (e.g. step 0) have NaN training columns. The run summary row is left out."""
    rows: dict[int, dict] = {}
    for rec in log_history:
        if "step" not in rec or "train_runtime" in rec:
            continue
        row = rows.setdefault(int(rec["step"]), {"step": int(rec["step"])})
        for key, value in rec.items():
            if key in _TRAIN_COLUMNS:
                row[_TRAIN_COLUMNS[key]] = value
            elif key.startswith("rewards/") and key.endswith("/mean"):
                row["reward_" + key[len("rewards/"):-len("/mean")]] = value
            elif key.startswith("eval_"):
                row[key] = value
    base = ["step", "reward", "entropy", "zero_std_share"]
    frame = pd.DataFrame(sorted(rows.values(), key=lambda r: r["step"]))
    for col in base:
        if col not in frame:
            frame[col] = math.nan
    rest = [c for c in frame.columns if c not in base]
    return frame[base + rest].astype({c: float for c in base[1:]}).reset_index(drop=True)


def training_trend(history: pd.DataFrame, window: int = 20,
                   columns: Sequence[str] = ("reward", "entropy", "zero_std_share")) -> pd.DataFrame:
    """Per run (column `run`), each training column averaged over the first `window` steps and over the last
    `window` logged steps (`<col>_first`, `<col>_last`): whether GRPO learned, read off a noisy per-step log.
    Evaluation-only rows (NaN training columns, e.g. step 0) are left out."""
    rows = []
    for run, g in history.groupby("run", sort=False):
        g = g.dropna(subset=["reward"])
        first, last = g[g["step"] <= window], g[g["step"] > g["step"].max() - window]
        rows.append({"run": run, "steps_logged": len(g),
                     **{f"{c}_{part}": float(d[c].mean()) for c in columns
                        for part, d in (("first", first), ("last", last))}})
    return pd.DataFrame(rows)


def evaluation_shift(history: pd.DataFrame,
                     columns: Sequence[str] = ("eval_positive_rate", "eval_acc_truth_on_correct",
                                               "eval_acc_truth_on_wrong", "eval_first_error_f1"),
                     until_step: int | None = None) -> pd.DataFrame:
    """Per run (column `run`), each in-training evaluation column at the first and at the last evaluation
    (`<col>_first`, `<col>_last`) and their difference (`<col>_change`): how far GRPO moved the held-out
    judgments, e.g. how far its share of Positive verdicts fell. With `until_step`, the last evaluation at or before
    that step: what the curve showed by then, an early warning. Training-only rows (NaN evaluation columns) are
    left out; a run without two evaluations is an error, since it has no shift to report."""
    missing = [c for c in (*columns, "run", "step") if c not in history.columns]
    if missing:
        raise ValueError(f"evaluation_shift: history has no column(s) {missing}")
    if until_step is not None:
        history = history[history["step"] <= until_step]
    rows = []
    for run, g in history.groupby("run", sort=False):
        g = g.dropna(subset=list(columns)).sort_values("step")
        if len(g) < 2:
            raise ValueError(f"evaluation_shift: run {run!r} has {len(g)} evaluation(s), needs two")
        first, last = g.iloc[0], g.iloc[-1]
        rows.append({"run": run, "step_first": int(first["step"]), "step_last": int(last["step"]),
                     **{k: v for c in columns for k, v in ((f"{c}_first", float(first[c])),
                                                           (f"{c}_last", float(last[c])),
                                                           (f"{c}_change", float(last[c] - first[c])))}})
    return pd.DataFrame(rows)


def sampling_headroom(greedy: Sequence[float], groups: Sequence[Sequence[float]],
                      fixed_by: Sequence[Sequence[float]] | None = None) -> dict[str, float]:
    """What GRPO's samples hold beyond the greedy output, per item, from 0/1 rewards: `greedy[i]` of the greedy
    output and `groups[i]` of a group of samples of item i.

    - `greedy`, `sampled`: the mean rewards;
    - `informative`: the share of groups whose rewards differ (the only groups with a gradient);
    - `greedy_wrong_sample_right`: the share of items whose greedy output earns 0 while some sample earns 1,
      the only items on which sharpening the samples can flip the greedy output.
    With `fixed_by` (another 0/1 reward of the same samples, e.g. the teacher's whole judgment beside the verdict),
    also `greedy_wrong_fixed_by`: items whose greedy output earns 0 while some sample earns 1 under `fixed_by`,
    i.e. greedy errors that a sample corrects for the stricter reason."""
    if len(greedy) != len(groups) or not groups or any(len(g) == 0 for g in groups):
        raise ValueError("sampling_headroom needs one non-empty group per greedy output")
    n = len(greedy)
    out = {"greedy": sum(greedy) / n,
           "sampled": sum(map(sum, groups)) / sum(map(len, groups)),
           "informative": sum(len(set(g)) > 1 for g in groups) / n,
           "greedy_wrong_sample_right": sum(g == 0 and max(s) == 1 for g, s in zip(greedy, groups)) / n}
    if fixed_by is not None:
        if len(fixed_by) != n:
            raise ValueError("fixed_by needs one group per greedy output")
        out["greedy_wrong_fixed_by"] = sum(g == 0 and max(s) == 1 for g, s in zip(greedy, fixed_by)) / n
    return out
