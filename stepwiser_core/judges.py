"""Judging at scale with any judge: the generative (CoT or direct) judge, the discriminative baseline, RS-FT data,
majority voting, and ProcessBench first-error prediction.

Every judge has one interface (`StepJudge.judge`): a list of (problem, accepted history, new chunk) queries in, a
list of k verdicts per query out (True = Positive, False = Negative, None = unparseable). Everything downstream
(maj@k, first-error prediction, chunk-reset search) works on that, whatever the judge is:

- `GenerativeJudge` (StepWiser, paper §3.3): the judge prompt of Table 3, k sampled outputs per query, each parsed
  by `judge.parse_verdict`. With `cot=False` it uses `judge_prompt_direct`, the no-CoT ablation (App. A.4).
- `DiscriminativeJudge` (the "Discriminative + SFT" baseline, App. A.1, after RLHFlow): a multi-turn chat in which
  each user turn is one step (the first also holds the problem) and the assistant answers "+" or "-". It is
  scored by P(+) against P(-) at the answer position in one forward pass, no generation; k = 1.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .generation import Generator, Sampling, chat_prompt
from .instruct import Example
from .judge import DIRECT_INSTRUCTION, judge_prompt, judge_prompt_direct, parse_verdict
from .judge_eval import JudgeItem
from .processbench import PBRecord, first_negative_index

if TYPE_CHECKING:  # training imports TRL, which is slow to import; judging does not need it
    from .training import SFTSettings

__all__ = [
    "DIRECT_INSTRUCTION",
    "DiscriminativeJudge",
    "GenerativeJudge",
    "JudgeQuery",
    "StepJudge",
    "as_query",
    "disc_messages",
    "disc_prompt",
    "disc_sft_dataset",
    "disc_sft_examples",
    "disc_sft_train",
    "judge_generator",
    "judge_prompt_direct",
    "judge_records",
    "majority",
    "positive_share",
    "predict_first_error",
    "predict_first_errors",
    "rs_ft_examples",
]


# ----------------------------------------------------------------------------------------------------------------
# Queries and the judge interface
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeQuery:
    """What a judge reads: the problem text, the accepted history and the new chunk (no label, no ground truth).

    `JudgeItem`s carry a toy `Problem`; ProcessBench records carry only text. Both become queries (`as_query`).
    """

    problem: str
    history: tuple[str, ...]
    chunk: str


def as_query(item: JudgeItem | JudgeQuery) -> JudgeQuery:
    """A `JudgeQuery` from a query or a `JudgeItem` (whose problem is a `world.problems.Problem`)."""
    if isinstance(item, JudgeQuery):
        return item
    problem = item.problem if isinstance(item.problem, str) else item.problem.text
    return JudgeQuery(problem, tuple(item.history), item.chunk)


def judge_generator(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sampling: Sampling,
                    batch_size: int) -> Generator:
    """The in-process generator for a generative judge on CPU or one GPU.

    Greedy judging (every single-sample evaluation) goes through `RolloutEngine`: its greedy outputs are those of
    `TransformersBackend` (tests/unit/test_rollouts.py), 1.28x faster on the toy judge (`benchmarks/judging.py`;
    each query is its own prefix, so only the cache and batching gain, not the shared prefill that makes rollouts
    4x faster). Sampled judging (RS-FT data, the GRPO signal audits) stays on
    `TransformersBackend`, since the two draw differently from one seed and notebook 03's committed sampled
    results were drawn by it.
    """
    from .generation import TransformersBackend
    from .rollouts import RolloutEngine

    if sampling.temperature == 0:
        return RolloutEngine(model, tokenizer, max_batch_rows=batch_size, progress=False)
    return TransformersBackend(model, tokenizer, batch_size=batch_size, progress=False)


class StepJudge(Protocol):
    def judge(self, items: Sequence[JudgeItem | JudgeQuery]) -> list[list[bool | None]]:
        """k verdicts per item, in item order: True = Positive, False = Negative, None = unparseable."""
        ...


def majority(verdicts: Sequence[bool | None]) -> bool | None:
    """The maj@k verdict: the more frequent of Positive and Negative among the parsed votes.

    Rules (the paper leaves the tie-break NOT SPECIFIED, reference/paper.md §3):
    - unparseable votes (None) abstain: a format failure is no evidence about the step;
    - a tie (e.g. 4-4 at k = 8, or 1-1 with abstentions) is Negative: a judge that cannot certify a step flags it,
      the conservative reading also used by `processbench.first_negative_index` for unparseable verdicts, and it
      keeps maj@k from being more lenient than its own samples;
    - no parsed vote at all (or k = 0) is None, so format failures stay visible downstream (ProcessBench counts
      them as Negative by default).

    Example:
        >>> majority([True, True, False]), majority([True, False]), majority([None, True]), majority([None, None])
        (True, False, True, None)
    """
    pos = sum(v is True for v in verdicts)
    neg = sum(v is False for v in verdicts)
    if pos + neg == 0:
        return None
    return pos > neg


def positive_share(verdicts: Sequence[bool | None]) -> float | None:
    """The share of parsed votes that are Positive (a chunk score in [0, 1]), None when no vote parses.

    Example:
        >>> positive_share([True, False, None, True])
        0.6666666666666666
    """
    parsed = [v for v in verdicts if v is not None]
    return sum(parsed) / len(parsed) if parsed else None


def average_chunk_scores(problems: Sequence[str], chunk_lists: Sequence[Sequence[str]], judge: StepJudge) -> list[float]:
    """Per solution (`problems[i]`, its chunks `chunk_lists[i]`), the share of its chunks `judge` calls Positive, each
    judged with the chunks before it as its history: the paper's "average chunk score" (§4.4, data selection; the
    chunk score of a generative judge is NOT SPECIFIED there, ours is its maj verdict). An unparseable verdict is not
    Positive; a solution without chunks scores 0. One batch for all solutions."""
    if len(problems) != len(chunk_lists):
        raise ValueError(f"{len(problems)} problems but {len(chunk_lists)} chunk lists")
    queries = [JudgeQuery(p, tuple(cs[:i]), c) for p, cs in zip(problems, chunk_lists) for i, c in enumerate(cs)]
    votes = judge.judge(queries) if queries else []
    if len(votes) != len(queries):
        raise ValueError(f"the judge returned {len(votes)} verdict lists for {len(queries)} chunks")
    verdicts, scores = iter(votes), []
    for cs in chunk_lists:
        positive = [majority(next(verdicts)) is True for _ in cs]
        scores.append(sum(positive) / len(positive) if positive else 0.0)
    return scores


# ----------------------------------------------------------------------------------------------------------------
# The generative judge (CoT, or direct for the no-CoT ablation)
# ----------------------------------------------------------------------------------------------------------------

# The no-CoT prompt (`judge_prompt_direct`) lives in judge.py beside the CoT one, shared with judge_rl.py.


class GenerativeJudge:
    """A judge that writes its answer: `sampling.n` sampled outputs per query, each parsed into a verdict.

    The raw outputs of the last `judge` call are kept in `last_outputs` (k per item), for RS-FT data
    (`rs_ft_examples`), the faithfulness audit and qualitative examples.

    The default sampling is greedy with one sample (ProcessBench's official critic evaluation decodes greedily);
    pass e.g. `Sampling(temperature=1.0, n=8)` for maj@8.

    `response_prefix` (a diagnostic, NOT the paper) starts every answer with fixed text that the judge then
    continues, and is kept at the head of each output: `instruct.CAREFUL_JUDGMENT_PREFIX` rules out the toy judge's
    rubber stamp (`instruct.glance_analysis`), so that the careful strategy a judge holds can be scored alone.
    """

    def __init__(self, generator: Generator, tokenizer: PreTrainedTokenizerBase, template: str = "toy",
                 cot: bool = True, sampling: Sampling = Sampling(max_new_tokens=256, temperature=0.0, n=1),
                 response_prefix: str = ""):
        self.generator, self.tokenizer, self.template = generator, tokenizer, template
        self.cot, self.sampling, self.response_prefix = cot, sampling, response_prefix
        self.last_outputs: list[list[str]] = []

    def prompt(self, item: JudgeItem | JudgeQuery) -> str:
        """The chat-formatted prompt for one item, ready for the assistant's answer."""
        q = as_query(item)
        build = judge_prompt if self.cot else judge_prompt_direct
        return chat_prompt(self.tokenizer, build(q.problem, q.history, q.chunk, self.template)) + self.response_prefix

    def judge(self, items: Sequence[JudgeItem | JudgeQuery]) -> list[list[bool | None]]:
        outputs = self.generator.generate([self.prompt(i) for i in items], self.sampling) if items else []
        if len(outputs) != len(items) or any(len(o) != self.sampling.n for o in outputs):
            raise ValueError(f"the generator returned {[len(o) for o in outputs]} outputs for {len(items)} "
                             f"items at n={self.sampling.n}")
        self.last_outputs = [[self.response_prefix + text for text in o] for o in outputs]
        return [[parse_verdict(text) for text in outs] for outs in self.last_outputs]


def rs_ft_examples(items: Sequence[JudgeItem | JudgeQuery], outputs: Sequence[Sequence[str]],
                   labels: Sequence[bool], template: str = "toy",
                   max_per_item: int | None = None) -> list[Example]:
    """Rejection-sampling fine-tuning data (the "− RL" ablation, paper §4.3): the judge's own sampled outputs whose
    parsed verdict equals the step label, as (judge prompt, output) examples of kind "judge".

    Unparseable outputs are dropped (they match no label). Duplicate outputs are kept: a judgment sampled twice is
    twice as likely under the judge, and rejection sampling keeps that weighting. `max_per_item` caps the examples
    per item (the first ones kept), so that easy items, where every sample is right, do not dominate.
    """
    if not len(items) == len(outputs) == len(labels):
        raise ValueError(f"items, outputs and labels differ in length: {len(items)}, {len(outputs)}, {len(labels)}")
    examples = []
    for item, outs, label in zip(items, outputs, labels):
        q, kept = as_query(item), 0
        for text in outs:
            if max_per_item is not None and kept >= max_per_item:
                break
            if parse_verdict(text) is bool(label):
                examples.append(Example(judge_prompt(q.problem, q.history, q.chunk, template), text, "judge"))
                kept += 1
    return examples


# ----------------------------------------------------------------------------------------------------------------
# The discriminative baseline (paper App. A.1; RLHFlow's multi-turn "+"/"-" format)
# ----------------------------------------------------------------------------------------------------------------

PLUS, MINUS = "+", "-"


def disc_messages(problem: str, steps: Sequence[str], verdicts: Sequence[bool]) -> list[dict[str, str]]:
    """The multi-turn conversation: user turn i is step i (the first also holds the problem), assistant turn i is
    "+" or "-" for `verdicts[i]`. With one verdict fewer than steps it ends on the last step's user turn (a query).

    Example:
        >>> [m["content"] for m in disc_messages("P?", ["s1", "s2"], [True])]
        ['P?\\n\\ns1', '+', 's2']
    """
    if not len(steps) - 1 <= len(verdicts) <= len(steps) or not steps:
        raise ValueError(f"need one verdict per step (or one fewer), got {len(verdicts)} for {len(steps)} steps")
    messages = []
    for i, step in enumerate(steps):
        messages.append({"role": "user", "content": f"{problem}\n\n{step}" if i == 0 else step})
        if i < len(verdicts):
            messages.append({"role": "assistant", "content": PLUS if verdicts[i] else MINUS})
    return messages


def disc_prompt(tokenizer: PreTrainedTokenizerBase, item: JudgeItem | JudgeQuery) -> str:
    """The rendered conversation up to the answer for the new chunk: every history step answered "+" (it is the
    accepted path, as in sequential evaluation, which stops at the first "-")."""
    q = as_query(item)
    messages = disc_messages(q.problem, [*q.history, q.chunk], [True] * len(q.history))
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _label_column(rule: str) -> str:
    return "true_labels" if rule == "true" else f"labels_{rule}"


def disc_sft_examples(records: Sequence[Mapping[str, Any]], rule: str) -> list[list[dict[str, str]]]:
    """One conversation per trajectory of `rollout_labels.stepwise_records` rows, labelled by `rule`.

    `rule` is a label rule ("abs_q", "rel_ratio", "rel_effective": column `labels_<rule>`) or "true" (the exact
    checker's `true_labels`). A label of None (a true label after the first error, where the history is wrong)
    ends the conversation there. Balancing is not applied (the paper does not say it was, App. A.1).
    """
    column = _label_column(rule)
    out = []
    for row in records:
        if column not in row:
            raise KeyError(f"record has no column {column!r} for rule {rule!r}; columns: {sorted(row)}")
        labels = list(row[column])
        n = labels.index(None) if None in labels else len(labels)
        if n:
            out.append(disc_messages(row["prompt"], list(row["completions"])[:n], [bool(x) for x in labels[:n]]))
    return out


def _answer_token_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """The ids of "+" and "-", which must each be one token (so that one logit decides the verdict)."""
    ids = [tokenizer.encode(t, add_special_tokens=False) for t in (PLUS, MINUS)]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"'+' and '-' must be single tokens for the discriminative judge, got {ids}")
    return ids[0][0], ids[1][0]


def disc_sft_dataset(conversations: Sequence[Sequence[Mapping[str, str]]], tokenizer: PreTrainedTokenizerBase,
                     max_length: int | None = None):
    """Pre-tokenised SFT data: `input_ids` of each whole conversation and `labels` that are -100 everywhere except
    at the "+"/"-" answer tokens ("standard SFT with the user-turn loss masked", App. A.1).

    One sequence per trajectory rather than one example per step: each step costs its own tokens once instead of
    its whole prefix again. TRL's `assistant_only_loss` would need `{% generation %}` markers that ChatML templates
    lack, so we build the labels ourselves; TRL uses a given `labels` column as is.

    The answer position of step i is where the conversation up to step i, rendered with the generation prompt,
    ends: exactly the prompt `disc_prompt` gives the judge at inference. Label positions at or beyond
    `max_length` are dropped (TRL truncates the sequence there), and so is a conversation left without any.
    """
    from datasets import Dataset  # lazy: heavy, and only training needs it

    plus, minus = _answer_token_ids(tokenizer)
    rows: dict[str, list] = {"input_ids": [], "labels": []}
    for conv in conversations:
        conv = list(conv)
        full = tokenizer.encode(tokenizer.apply_chat_template(conv, tokenize=False), add_special_tokens=False)
        labels = [-100] * len(full)
        for j, message in enumerate(conv):
            if message["role"] != "assistant":
                continue
            prefix = tokenizer.encode(tokenizer.apply_chat_template(conv[:j], tokenize=False,
                                                                    add_generation_prompt=True),
                                      add_special_tokens=False)
            pos = len(prefix)
            if full[:pos] != prefix or pos >= len(full) or full[pos] not in (plus, minus):
                raise ValueError("the chat template does not render the conversation up to an answer as a token "
                                 "prefix of the whole conversation followed by the '+'/'-' token")
            labels[pos] = full[pos]
        if max_length is not None:
            full, labels = full[:max_length], labels[:max_length]
        if any(x != -100 for x in labels):
            rows["input_ids"].append(full)
            rows["labels"].append(labels)
    return Dataset.from_dict(rows)


def disc_sft_train(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                   conversations: Sequence[Sequence[Mapping[str, str]]], settings: SFTSettings, output_dir: str | Path,
                   seed: int, progress: bool = True) -> list[dict]:
    """Train the discriminative judge in place with TRL's SFTTrainer; returns TRL's log history.

    The trainer is set up as `training.sft_train` sets it up (same optimiser, schedule, CPU/GPU switch); only the
    data differ: pre-tokenised conversations whose loss is on the "+"/"-" tokens alone (`disc_sft_dataset`), so
    `settings.completion_only_loss` has nothing to do here. (`sft_train` renders every example as one user turn,
    which cannot express the multi-turn format, hence this second entry point.)
    """
    from trl import SFTTrainer  # lazy: TRL is slow to import and inference does not need it

    from .training import sft_config

    data = disc_sft_dataset(conversations, tokenizer, settings.max_length)
    if len(data) == 0:
        raise ValueError(f"no discriminative training data: {len(conversations)} conversations, none with a label "
                         f"within max_length={settings.max_length}")
    trainer = SFTTrainer(model=model, args=sft_config(settings, output_dir, seed, progress), train_dataset=data,
                         processing_class=tokenizer)
    trainer.train()
    return [dict(r) for r in trainer.state.log_history]


class DiscriminativeJudge:
    """Scores P(+) against P(-) at the answer position of `disc_prompt`: one forward pass per batch, no sampling.

    `scores` gives P(+ | + or -) per item; the verdict is Positive when it exceeds `threshold` (0.5: the likelier
    of the two tokens). Unlike ProcessBench's RLHFlow script, which reads the greedy first token and counts
    anything but "+" as Negative, we compare the two answer tokens only, the usual PRM score, so a verdict is
    never None here.
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, batch_size: int = 32,
                 threshold: float = 0.5):
        self.model, self.tokenizer, self.batch_size, self.threshold = model, tokenizer, batch_size, threshold
        self.plus_id, self.minus_id = _answer_token_ids(tokenizer)

    @torch.inference_mode()
    def scores(self, items: Sequence[JudgeItem | JudgeQuery]) -> list[float]:
        texts = [disc_prompt(self.tokenizer, i) for i in items]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        out = [0.0] * len(texts)
        self.model.eval()
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            for i, p in zip(idx, self._score_batch([texts[i] for i in idx])):
                out[i] = p
        return out

    def _score_batch(self, texts: list[str]) -> list[float]:
        # Left padding puts every answer position last, so only the last position's logits are computed
        # (`logits_to_keep=1`: a 150k-token vocabulary times every position would not fit). Position ids count
        # real tokens only, so a padded prompt is scored exactly as it would be alone.
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False,
                             padding_side="left")
        device = self.model.device
        mask = enc["attention_mask"].to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self.model(input_ids=enc["input_ids"].to(device), attention_mask=mask, position_ids=positions,
                            logits_to_keep=1).logits[:, -1, :].float()
        pair = logits[:, [self.plus_id, self.minus_id]]
        return torch.softmax(pair, dim=-1)[:, 0].tolist()

    def judge(self, items: Sequence[JudgeItem | JudgeQuery]) -> list[list[bool | None]]:
        return [[p > self.threshold] for p in self.scores(items)]


# ----------------------------------------------------------------------------------------------------------------
# ProcessBench: the first step judged Negative
# ----------------------------------------------------------------------------------------------------------------


def judge_records(judge: StepJudge, records: Sequence[PBRecord]) -> dict[str, list[bool | None]]:
    """The maj@k verdict of every step of every record, all judged in one batch (history = the earlier steps).

    Since each step's history is the record's own earlier steps, not the judge's earlier decisions, judging every
    step at once gives the same prediction as sequential judging that stops at the first Negative (the same
    distribution, for a sampling judge); it spends judgments on steps after the first Negative, but one large batch
    is what batched generation (and vLLM) run fastest. A `GenerativeJudge`'s `last_outputs` afterwards follow the
    same flat order: record by record, step by step.
    """
    queries = [JudgeQuery(r.problem, tuple(r.steps[:i]), r.steps[i]) for r in records for i in range(len(r.steps))]
    votes = judge.judge(queries) if queries else []
    if len(votes) != len(queries):
        raise ValueError(f"the judge returned {len(votes)} verdict lists for {len(queries)} steps")
    out, k = {}, 0
    for r in records:
        out[r.id] = [majority(v) for v in votes[k:k + len(r.steps)]]
        k += len(r.steps)
    return out


def predict_first_errors(judge: StepJudge, records: Sequence[PBRecord],
                         none_is_negative: bool = True) -> dict[str, int]:
    """ProcessBench predictions `{id: index of the first step judged Negative, or -1}` (paper §4.2).

    A step whose verdict is None (no vote parsed) counts as Negative by default (`processbench.first_negative_index`):
    a judge that cannot certify a step flags it, so format failures cost score instead of passing unseen.
    """
    return {rid: first_negative_index(v, none_is_negative) for rid, v in judge_records(judge, records).items()}


def predict_first_error(judge: StepJudge, problem_text: str, steps: Sequence[str],
                        none_is_negative: bool = True) -> int:
    """The first-error prediction for one solution (see `predict_first_errors`)."""
    record = PBRecord("query", "", problem_text, tuple(steps), False, -1)
    return predict_first_errors(judge, [record], none_is_negative)["query"]
