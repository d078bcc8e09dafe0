"""Models: build a small Qwen2-architecture model from a config (toy tier) or load a local checkpoint.

Both tiers end with the same pair on disk: a `save_pretrained` model and its tokenizer in one folder,
reloadable with `load_model` (which never goes through `AutoTokenizer`, see tokenizer.py).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM

from .io import atomic_dir
from .tokenizer import load_tokenizer


@dataclass(frozen=True)
class ModelShape:
    """The size of a from-scratch toy model (Qwen2 architecture: RoPE, RMSNorm, SwiGLU, GQA)."""

    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 6
    intermediate_size: int = 512
    max_positions: int = 1024


def build_model(tokenizer: PreTrainedTokenizerBase, shape: ModelShape, seed: int) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 model sized for `tokenizer`; the same seed gives the same weights."""
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers, num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads, max_position_embeddings=shape.max_positions,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        tie_word_embeddings=True, use_cache=True,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, path: str | Path,
               state_dict: dict | None = None) -> None:
    """Save model and tokenizer into one folder, atomically (an interrupted save leaves the old folder). `state_dict`:
    the weights to save instead of the model's own (a sharded model's, gathered by `sharding.full_state_dict`)."""
    with atomic_dir(Path(path)) as tmp:
        model.save_pretrained(tmp, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)


def default_device() -> torch.device:
    """Where a loaded model goes: this process's GPU when there is one, else the CPU. Under `accelerate launch` or
    `torchrun` each process takes the GPU of its `LOCAL_RANK`; a bare "cuda" would put every process's copy on GPU 0."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    rank, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if rank >= gpus:  # e.g. grpo_num_processes: 2 on one GPU; CUDA's own "invalid device ordinal" does not say why
        raise RuntimeError(f"process LOCAL_RANK={rank} has no GPU of its own: this machine has {gpus}; start at "
                           "most one process per GPU (grpo_num_processes, sft_num_processes)")
    return torch.device("cuda", rank)


def load_model(path: str | Path, dtype: torch.dtype = torch.float32,
               device: str | torch.device | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from a local folder (toy checkpoint or e.g. Qwen2.5-Instruct), on `device`
    (default: `default_device()`, so the paper tier's judging and rollouts run on the GPU, not on its host's CPU)."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no model at {path} (expected {path / 'config.json'}); run the stage that makes it")
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
    model.to(device if device is not None else default_device())
    tokenizer = load_tokenizer(path)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def weights_digest(model_dir: Path) -> str:
    """SHA-256 over a saved model's weight files (names and bytes), to tell two checkpoints at one path apart."""
    digest = hashlib.sha256()
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(f.name.encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
