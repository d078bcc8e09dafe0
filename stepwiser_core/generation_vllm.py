"""vLLM backend for the paper tier (GPU only): the same `generate` and `rollout` as `RolloutEngine`.

vLLM's automatic prefix caching computes the shared prefix of a chunk's M rollouts once and keeps the
prefixes of earlier chunks of the same solution cached, which is what the paper relies on for
M = 16 rollouts per chunk. vLLM is imported only when this class is built: it has no CPU build.

Prompts go in as token ids from our tokenizer and outputs come back as token ids decoded by it, so
all backends tokenise alike (a toy checkpoint must not pass through `AutoTokenizer`, see tokenizer.py)
and stop at the same end-of-turn token.
"""
from __future__ import annotations

import gc
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from .generation import Sampling
from .tokenizer import load_tokenizer

INSTALL_HINT = "pip install -e .[gpu]; vLLM has no CPU build"


class VLLMBackend:
    """`generate(prompts, sampling)` and `rollout(prefixes, m, sampling)` on vLLM with prefix caching.

    `llm_kwargs` go to `vllm.LLM` (e.g. `tensor_parallel_size`, `gpu_memory_utilization`, `max_model_len`).
    `generation_config="vllm"` by default, so a checkpoint's generation_config.json (Qwen2.5-Instruct
    ships top_p 0.8, top_k 20, repetition_penalty 1.05) cannot alter plain temperature sampling.
    """

    def __init__(self, model_path: str | Path, tokenizer: PreTrainedTokenizerBase | None = None, seed: int = 0,
                 dtype: str = "auto", progress: bool = True, **llm_kwargs: Any):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as err:
            raise ImportError(f"VLLMBackend needs vLLM: {INSTALL_HINT}") from err
        self._sampling_params = SamplingParams
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(model_path)
        self.progress = progress
        llm_kwargs.setdefault("generation_config", "vllm")
        self.llm = LLM(model=str(model_path), enable_prefix_caching=True, seed=seed, dtype=dtype, **llm_kwargs)

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[str]]:
        """The `Generator` protocol: `sampling.n` completions per prompt."""
        return self.rollout(prompts, sampling.n, sampling)

    def rollout(self, prefixes: Sequence[str], m: int, sampling: Sampling) -> list[list[str]]:
        """m decoded continuations per prefix, in prefix order (special tokens removed)."""
        if m < 1:
            raise ValueError(f"m must be >= 1, not {m}")
        ids = self.tokenizer(list(prefixes), add_special_tokens=False)["input_ids"]
        # One seed per request: a single seeded SamplingParams broadcast over prompts would give every
        # prompt the same noise (vllm-project/vllm#50440). vLLM seeds the m children seed, seed+1, ...,
        # so requests are spaced m apart and every rollout of the call has its own stream.
        base = random.Random(sampling.seed).getrandbits(40)
        params = [self._sampling_params(n=m, temperature=sampling.temperature, top_p=1.0,
                                        max_tokens=sampling.max_new_tokens, seed=base + i * m,
                                        stop_token_ids=[self.tokenizer.eos_token_id])
                  for i in range(len(ids))]
        outputs = self.llm.generate([{"prompt_token_ids": t} for t in ids], params, use_tqdm=self.progress)
        return [[self.tokenizer.decode(c.token_ids, skip_special_tokens=True) for c in out.outputs]
                for out in outputs]

    def continue_until(self, prefixes: Sequence[str], sampling: Sampling,
                       stop: Sequence[str]) -> list[tuple[str, int, bool]]:
        """One continuation per prefix, ending at the first of the `stop` strings (kept in the text) or at the end of
        the turn: (text, tokens generated, whether the turn ended). Chunk-reset search draws one `</chunk>` at a time
        this way where the tokenizer spells the tag with several tokens (`search.VLLMChunkSampler`)."""
        ids = self.tokenizer(list(prefixes), add_special_tokens=False)["input_ids"]
        base = random.Random(sampling.seed).getrandbits(40)  # one seed per request, as in `rollout`
        eos = self.tokenizer.eos_token_id
        params = [self._sampling_params(n=1, temperature=sampling.temperature, top_p=1.0,
                                        max_tokens=sampling.max_new_tokens, seed=base + i, stop_token_ids=[eos],
                                        stop=list(stop), include_stop_str_in_output=True)
                  for i in range(len(ids))]
        outputs = self.llm.generate([{"prompt_token_ids": t} for t in ids], params, use_tqdm=self.progress)
        out = []
        for request in outputs:
            c = request.outputs[0]
            text = self.tokenizer.decode(c.token_ids, skip_special_tokens=True)
            # the text up to the first stop string, decoded by our tokenizer (a last token may run past it)
            ends = [text.index(s) + len(s) for s in stop if s in text]
            text = text[:min(ends)] if ends else text
            # a stop string sets `stop_reason` to itself; the end-of-turn token sets it to that id (or None for the
            # model's own eos)
            ended_turn = c.finish_reason == "stop" and c.stop_reason not in stop
            out.append((text, len(c.token_ids), ended_turn))
        return out

    def close(self) -> None:
        """Shut the engine down and free its GPU memory, so another checkpoint can be loaded in this process.

        Best effort: vLLM has no documented unload (vllm-project/vllm#3281). Its V1 engine runs in a child process,
        which `shutdown` ends; the rest is freed with the last reference."""
        llm, self.llm = self.llm, None
        if llm is None:
            return
        shutdown = getattr(getattr(getattr(llm, "llm_engine", None), "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
