"""Which backend a stage samples from, by name: `engine` (our `RolloutEngine`, on CPU or GPU) or `vllm` (GPU only).

Both implement `generate(prompts, sampling)` and `rollout(prefixes, m, sampling)` and carry the checkpoint's own
`tokenizer`, so a stage's code does not change with the backend; notebook 01's sampling and LLM segmenter, 02's
rollouts and 04's judging take the parameter (`generation_backend`; the paper tier sets `vllm`). The engine needs
the model loaded in this process; vLLM loads the checkpoint itself from its folder, so `open_backend` takes the
folder for both. `close_backend` frees what a vLLM backend holds, so that the next checkpoint (04 judges one after
another) fits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from .models import load_model
from .rollouts import RolloutEngine
from .stages import GENERATION_BACKENDS


@dataclass(frozen=True)
class BackendSettings:
    """How to build a backend. `max_batch_rows` sizes the engine's batches; the `vllm_` fields go to `vllm.LLM`."""

    name: str = "engine"
    max_batch_rows: int = 256
    seed: int = 0
    vllm_gpu_memory_utilization: float = 0.9
    vllm_tensor_parallel_size: int = 1

    def __post_init__(self):
        if self.name not in GENERATION_BACKENDS:
            raise ValueError(f"unknown generation backend {self.name!r}; valid: {', '.join(GENERATION_BACKENDS)}")

    @classmethod
    def from_config(cls, cfg, max_batch_rows: int) -> BackendSettings:
        """From a stage config with `generation_backend`, `seed` and the `vllm_` fields (01's, 02's and 04's)."""
        return cls(cfg.generation_backend, max_batch_rows, cfg.seed, cfg.vllm_gpu_memory_utilization,
                   cfg.vllm_tensor_parallel_size)


def open_backend(model_dir: str | Path, settings: BackendSettings, desc: str = "generate",
                 tokenizer: PreTrainedTokenizerBase | None = None, progress: bool = True):
    """A backend on the checkpoint in `model_dir` (`tokenizer`: its own unless given, e.g. the policy's tokenizer
    for another policy of the same family)."""
    if settings.name == "vllm":
        from .generation_vllm import VLLMBackend  # vLLM has no CPU build: imported only when asked for

        return VLLMBackend(model_dir, tokenizer, seed=settings.seed, progress=progress,
                           gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
                           tensor_parallel_size=settings.vllm_tensor_parallel_size)
    model, own = load_model(model_dir)
    return RolloutEngine(model, tokenizer if tokenizer is not None else own, max_batch_rows=settings.max_batch_rows,
                         progress=progress, desc=desc)


def open_sampler(model_dir: str | Path, settings: BackendSettings, model, tokenizer: PreTrainedTokenizerBase,
                 batch_size: int, desc: str = "generate"):
    """What notebook 01 samples a policy with (responses to segment, Table 4's samples): `TransformersBackend` on
    the model already loaded in this process (`engine`), or vLLM on `model_dir` (`vllm`, the paper tier).

    Why not `RolloutEngine` for `engine`: it draws other samples from one seed than `model.generate` does, and 01's
    committed toy results were drawn by `TransformersBackend`; the engine is for 02's rollouts and greedy judging."""
    if settings.name == "vllm":
        return open_backend(model_dir, settings, desc, tokenizer=tokenizer)
    from .generation import TransformersBackend

    return TransformersBackend(model, tokenizer, batch_size=batch_size, desc=desc)


def close_backend(backend) -> None:
    """Free the GPU memory a backend holds (vLLM's engine); the engine's model is freed with the last reference."""
    close = getattr(backend, "close", None)
    if close is not None:
        close()
