"""Monte-Carlo rollouts: M sampled continuations of each prefix, without recomputing what can be reused.

Q̂ of a chunk is the share of M rollouts from right after it that reach the right answer (paper §3.2).
`RolloutEngine` does that sampling on CPU or GPU with transformers, avoiding four wastes of plain
`model.generate` with one row per rollout:
1. the M rollouts of a prefix share it: its prefill runs once and its KV cache is copied M times;
2. the prefixes of many chunks and problems share a batch (left padding, mask, explicit positions);
3. finished rows leave the batch (rollouts from early chunks run far longer than from late ones), where
   `generate` keeps computing every row until the longest is done;
4. the KV cache is written in place into a preallocated buffer: `DynamicCache` grows by `torch.cat`,
   copying the whole cache at every decode step (57 % of a toy-model decode step at 256 rows on CPU).
Sampling is plain multinomial at the given temperature (no top-k/top-p), greedy at temperature 0, and
draws from a `torch.Generator` seeded by `sampling.seed`: the same prefixes, m, sampling and batch
settings give the same outputs. The vLLM backend (paper tier) is in `generation_vllm.py`.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.cache_utils import Cache, DynamicLayer

from .generation import Sampling


class BufferCacheLayer(DynamicLayer):
    """One layer's KV cache in a preallocated [rows, kv_heads, capacity, head_dim] buffer.

    A decode step writes one column in place and attention reads the view `[:, :, :length]`, so no step
    copies the cache. Capacity is the padded prefix length plus `max_new_tokens`, known in advance.
    """

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity, self.length = capacity, 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        rows, heads, _, _ = key_states.shape
        self.kbuf = key_states.new_empty(rows, heads, self.capacity, key_states.shape[-1])
        self.vbuf = value_states.new_empty(rows, value_states.shape[1], self.capacity, value_states.shape[-1])
        self.device, self.is_initialized = key_states.device, True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        self.kbuf[:, :, self.length:end] = key_states
        self.vbuf[:, :, self.length:end] = value_states
        self.length = end
        self.keys, self.values = self.kbuf[:, :, :end], self.vbuf[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep (or repeat) the rows `indices`; one copy of the buffer."""
        self.kbuf, self.vbuf = self.kbuf.index_select(0, indices), self.vbuf.index_select(0, indices)
        self.keys, self.values = self.kbuf[:, :, :self.length], self.vbuf[:, :, :self.length]

    def drop_left(self, n: int) -> None:
        """Forget the first n columns (padding no remaining row attends to); a view, no copy."""
        self.kbuf, self.vbuf, self.length = self.kbuf[:, :, n:], self.vbuf[:, :, n:], self.length - n
        self.keys, self.values = self.kbuf[:, :, :self.length], self.vbuf[:, :, :self.length]


def sample_tokens(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row of `logits` [rows, vocab] -> [rows]: argmax at temperature 0, else a draw from
    softmax(logits / temperature) by inverting its CDF with one uniform per row (exact, and on CPU ~20x
    cheaper than `torch.multinomial`, which draws an exponential per vocabulary entry)."""
    if temperature == 0:
        return logits.argmax(-1)
    cdf = torch.softmax(logits.float() / temperature, dim=-1).cumsum(-1)  # [rows, vocab]
    u = torch.rand((cdf.shape[0], 1), generator=generator, device=cdf.device) * cdf[:, -1:]  # [rows, 1]
    # right=True: the first token whose CDF exceeds u, so a zero-probability token is never drawn.
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=cdf.shape[1] - 1)


class RolloutEngine:
    """M rollouts per prefix with a shared prefill; also a drop-in `Generator` (`generate`, n = sampling.n).

    `max_batch_rows` bounds the rollouts decoded at once (memory: rows x (prefix + max_new_tokens) KV).
    A finished row stays in the batch until a `compact_fraction` share of the rows has finished; then the
    cache is compacted (one copy of it), so that copy is amortised over several finished rows.
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, max_batch_rows: int = 256,
                 progress: bool = True, desc: str = "rollouts", compact_fraction: float = 0.125):
        self.config = model.config.get_text_config()
        layer_types = getattr(self.config, "layer_types", None) or ["full_attention"]
        if set(layer_types) != {"full_attention"}:  # the buffer cache has no sliding window
            raise ValueError(f"RolloutEngine supports full-attention models only, not layer types {set(layer_types)}")
        if tokenizer.eos_token_id is None or tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer needs an eos (end-of-turn) and a pad token")
        self.model, self.tokenizer = model, tokenizer
        self.max_batch_rows, self.progress, self.desc = max_batch_rows, progress, desc
        self.compact_fraction = compact_fraction

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[str]]:
        """The `Generator` protocol: `sampling.n` completions per prompt."""
        return self.rollout(prompts, sampling.n, sampling)

    def rollout(self, prefixes: Sequence[str], m: int, sampling: Sampling) -> list[list[str]]:
        """m decoded continuations per prefix, in prefix order (special tokens removed)."""
        ids = self.rollout_ids(prefixes, m, sampling)
        return [self.tokenizer.batch_decode(rows, skip_special_tokens=True) for rows in ids]

    @torch.inference_mode()
    def rollout_ids(self, prefixes: Sequence[str], m: int, sampling: Sampling,
                    stop_ids: Sequence[int] = ()) -> list[list[list[int]]]:
        """m continuations per prefix as token ids, each ending with eos unless it hit `max_new_tokens`.

        With `stop_ids`, a continuation also ends at (and includes) the first of those tokens: one `</chunk>` at a
        time for chunk-reset search (`search.chunk_reset`). Without them the draws are exactly those of before."""
        if m < 1:
            raise ValueError(f"m must be >= 1, not {m}")
        if not prefixes:  # e.g. every trajectory was a single (final) chunk: nothing to roll out
            return []
        # Identical prefixes (e.g. the same chunk asked for twice) are prefilled once, with m rows per request.
        where: dict[str, list[int]] = {}
        for i, p in enumerate(prefixes):
            where.setdefault(p, []).append(i)
        distinct = list(where)
        tokens = self.tokenizer(distinct, add_special_tokens=False)["input_ids"]
        if any(len(t) == 0 for t in tokens):
            raise ValueError("empty prefix: a rollout needs at least one prompt token")
        # Units of at most max_batch_rows rows; sorted by length, so batches carry little padding and
        # late chunks (long prefix, short rollout) share batches, as do early ones.
        units: list[tuple[int, int]] = []  # (distinct prefix, rows)
        for d in sorted(range(len(distinct)), key=lambda d: len(tokens[d])):
            total = m * len(where[distinct[d]])
            units += [(d, min(self.max_batch_rows, total - s)) for s in range(0, total, self.max_batch_rows)]
        batches: list[list[tuple[int, int]]] = [[]]
        for unit in units:
            if batches[-1] and sum(r for _, r in batches[-1]) + unit[1] > self.max_batch_rows:
                batches.append([])
            batches[-1].append(unit)

        self.model.eval()
        device = self.model.device
        generator = torch.Generator(device=device).manual_seed(sampling.seed)
        rows_of: list[list[list[int]]] = [[] for _ in distinct]
        with tqdm(total=sum(r for _, r in units), desc=self.desc, unit="rollout",
                  disable=not self.progress, leave=False) as bar:
            for batch in batches:
                out = self._decode_batch([tokens[d] for d, _ in batch], [r for _, r in batch], sampling, generator,
                                         stop_ids)
                for (d, r), start in zip(batch, accumulate([r for _, r in batch], initial=0)):
                    rows_of[d] += out[start:start + r]
                bar.update(sum(r for _, r in batch))
        result: list[list[list[int]]] = [[] for _ in prefixes]
        for d, p in enumerate(distinct):
            for k, i in enumerate(where[p]):
                result[i] = rows_of[d][k * m:(k + 1) * m]
        return result

    def _decode_batch(self, prefix_tokens: list[list[int]], counts: list[int], sampling: Sampling,
                      generator: torch.Generator, stop_ids: Sequence[int] = ()) -> list[list[int]]:
        """Prefill each prefix once, expand to counts[i] rows each, sample until eos (or a stop token) or
        max_new_tokens."""
        device, eos, max_new = self.model.device, self.tokenizer.eos_token_id, sampling.max_new_tokens
        enders = torch.tensor(sorted({eos, *stop_ids}), device=device)
        n_prefix, width = len(prefix_tokens), max(len(t) for t in prefix_tokens)
        capacity = width + max_new
        ids = torch.full((n_prefix, width), self.tokenizer.pad_token_id, dtype=torch.long)
        # mask [prefixes, capacity]: left padding is 0; every column past the prefix will hold a real token.
        mask = torch.ones((n_prefix, capacity), dtype=torch.long)
        for i, t in enumerate(prefix_tokens):
            ids[i, width - len(t):] = torch.tensor(t)
            mask[i, :width - len(t)] = 0
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask[:, :width].cumsum(-1) - 1).clamp(min=0)  # [prefixes, width]; pads get 0, unused
        cache = Cache(layers=[BufferCacheLayer(capacity) for _ in range(self.config.num_hidden_layers)])
        logits = self.model(input_ids=ids, attention_mask=mask[:, :width], position_ids=positions, cache=cache,
                            use_cache=True, logits_to_keep=1).logits[:, -1]  # [prefixes, vocab]

        # Expand every prefix to its rows: cache, logits, mask and next position ([rows] / [rows, ...]).
        row_prefix = torch.repeat_interleave(torch.arange(n_prefix, device=device),
                                             torch.tensor(counts, device=device))
        cache.batch_select_indices(row_prefix)
        logits, mask, next_pos = logits[row_prefix], mask[row_prefix], positions[row_prefix, -1] + 1
        n_rows = len(row_prefix)
        out = torch.full((n_rows, max_new), eos, dtype=torch.long, device=device)  # [rows, max_new]
        row_ids = torch.arange(n_rows, device=device)  # which output row each batch row is
        alive = torch.ones(n_rows, dtype=torch.bool, device=device)
        for step in range(max_new):
            tok = sample_tokens(logits, sampling.temperature, generator)  # [batch rows]
            out[row_ids, step] = tok  # finished rows write after their eos; cut off below
            alive &= ~torch.isin(tok, enders) if stop_ids else tok != eos
            n_alive = int(alive.sum())
            if n_alive == 0 or step == max_new - 1:
                break
            n_done = len(alive) - n_alive
            if n_done > 0 and n_done >= self.compact_fraction * len(alive):
                keep = alive.nonzero().squeeze(1)
                cache.batch_select_indices(keep)
                tok, mask, next_pos, row_ids, alive = tok[keep], mask[keep], next_pos[keep], row_ids[keep], alive[keep]
                # Columns that are padding for every remaining row (a long prefix has left) are dropped.
                length = cache.get_seq_length()
                first = int(mask[:, :length].any(0).int().argmax())
                if first > 0:
                    for layer in cache.layers:
                        layer.drop_left(first)
                    mask = mask[:, first:]
            length = cache.get_seq_length()
            logits = self.model(input_ids=tok[:, None], attention_mask=mask[:, :length + 1],
                                position_ids=next_pos[:, None], cache=cache, use_cache=True).logits[:, -1]
            next_pos = next_pos + 1
        return [_until_end(row, {eos, *stop_ids}) for row in out.tolist()]


def _until_end(row: list[int], enders: set[int]) -> list[int]:
    """The tokens up to and including the first of `enders` (eos, stop tokens; all of them if there is none)."""
    ends = [row.index(e) for e in enders if e in row]  # list.index runs in C: 02 cuts tens of thousands of rows
    return row[:min(ends) + 1] if ends else row
