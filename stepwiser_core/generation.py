"""One generation interface for every stage: formatted prompts in, n sampled texts per prompt out.

`TransformersBackend` runs on CPU or GPU through `model.generate` (left padding, length-sorted
batches so little compute goes to padding). The vLLM backend for the paper tier lives in
`generation_vllm.py` and is imported only when asked for, since vLLM has no CPU build.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class Sampling:
    """How to sample: temperature 0 means greedy decoding (then n must be 1)."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    n: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0 or self.n < 1 or self.max_new_tokens < 1:
            raise ValueError(f"invalid sampling settings: {self}")
        if self.temperature == 0 and self.n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one output per prompt; use n=1")


class Generator(Protocol):
    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[str]]:
        """`sampling.n` completions for each prompt, in prompt order (end-of-turn token removed)."""
        ...


def chat_prompt(tokenizer: PreTrainedTokenizerBase, user_message: str) -> str:
    """A user turn formatted with the model's own chat template, ready for the assistant's answer."""
    return tokenizer.apply_chat_template([{"role": "user", "content": user_message}], tokenize=False,
                                         add_generation_prompt=True)


class TransformersBackend:
    """Batched `model.generate`; reproducible for the same prompts, settings and batch size."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, batch_size: int = 64,
                 progress: bool = True, desc: str = "generate"):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.progress, self.desc = batch_size, progress, desc

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[str]]:
        rows = [p for p in prompts for _ in range(sampling.n)]  # each sample is its own row
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths share a batch
        texts: list[str] = [""] * len(rows)
        self.model.eval()
        batches = range(0, len(rows), self.batch_size)
        for b, start in enumerate(tqdm(batches, desc=self.desc, disable=not self.progress, leave=False)):
            idx = order[start:start + self.batch_size]
            for i, text in zip(idx, self._generate_batch([rows[i] for i in idx], sampling, sampling.seed + b)):
                texts[i] = text
        return [texts[i * sampling.n:(i + 1) * sampling.n] for i in range(len(prompts))]

    def _generate_batch(self, prompts: list[str], sampling: Sampling, seed: int) -> list[str]:
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        torch.manual_seed(seed)
        greedy = sampling.temperature == 0
        out = self.model.generate(
            **enc, max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
            temperature=None if greedy else sampling.temperature, top_k=None if greedy else 0, top_p=None,
            pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.tokenizer.eos_token_id,
        )
        new = out[:, enc["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)
