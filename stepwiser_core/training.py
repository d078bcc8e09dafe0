"""Supervised fine-tuning through TRL's SFTTrainer, set up for CPU or GPU alike.

Examples are (user message, assistant answer) pairs. Prompts are rendered with the tokenizer's chat
template here, exactly as `generation.chat_prompt` renders them at inference, and the loss is on the
answer only (TRL's prompt-completion format; TRL appends the end-of-turn token).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from datasets import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from trl import SFTConfig, SFTTrainer

from .generation import chat_prompt
from .instruct import Example
from .sharding import SHARDINGS, trainer_arguments
from .stages import check_batch_split


@dataclass(frozen=True)
class SFTSettings:
    learning_rate: float = 2e-3
    batch_size: int = 32
    max_steps: int = 1000
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    adam_beta2: float = 0.95  # the usual choice for small transformers; 0.999 (the default) learned to read slower
    max_length: int = 512
    logging_steps: int = 0  # 0: about 20 points over the run
    # Loss on the answer only (TRL's default for prompt-completion data) or on the whole sequence. A model
    # trained from scratch learns to read the prompt far faster when it also predicts the prompt: its
    # previous-token and induction features form on the prompt tokens themselves.
    completion_only_loss: bool = True
    # "none": each process holds the whole model (plain data parallelism); "fsdp": split over the processes (several
    # processes only, launch.py; sharding.py)
    sharding: str = "none"

    def __post_init__(self):
        if self.sharding not in SHARDINGS:
            raise ValueError(f"sharding must be one of {SHARDINGS}, not {self.sharding!r}")


def per_process_settings(settings: SFTSettings, num_processes: int) -> SFTSettings:
    """The settings each of `num_processes` data-parallel processes trains with: `settings.batch_size` is the global
    batch (the paper's "global batch 32"), so each process takes an equal share of it, and the update is the same
    whatever the number of processes."""
    check_batch_split("batch_size", settings.batch_size, num_processes)
    return replace(settings, batch_size=settings.batch_size // num_processes)


def to_sft_dataset(examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase) -> Dataset:
    return Dataset.from_dict({
        "prompt": [chat_prompt(tokenizer, e.prompt) for e in examples],
        "completion": [e.completion for e in examples],
        "kind": [e.kind for e in examples],
    })


def sft_config(settings: SFTSettings, output_dir: str | Path, seed: int, progress: bool = True) -> SFTConfig:
    """TRL's SFTConfig for `settings`, on CPU (fp32) or GPU (bf16); shared by every SFT in the study."""
    on_gpu = torch.cuda.is_available()
    return SFTConfig(
        output_dir=str(output_dir), learning_rate=settings.learning_rate, max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size, lr_scheduler_type="cosine",
        warmup_steps=int(settings.warmup_ratio * settings.max_steps), weight_decay=settings.weight_decay,
        max_length=settings.max_length,
        logging_steps=settings.logging_steps or max(1, settings.max_steps // 20), save_strategy="no",
        report_to="none", seed=seed, data_seed=seed, use_cpu=not on_gpu, bf16=on_gpu,
        activation_checkpointing=False, dataloader_num_workers=0, disable_tqdm=not progress,
        completion_only_loss=settings.completion_only_loss,
        adam_beta2=settings.adam_beta2, dataset_num_proc=None,
        # Random batches, not "group_by_length": length-grouped batches are each nearly one level and one kind
        # (solving or judging). With them (and beta2 0.999) the toy model still misread half its operands after
        # 2000 steps; with random batches and beta2 0.95 it read them after ~300 (README, calibration notes).
        train_sampling_strategy="random",
        **trainer_arguments(settings.sharding, on_gpu),
    )


def sft_train(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example],
              settings: SFTSettings, output_dir: str | Path, seed: int, progress: bool = True) -> list[dict]:
    """Train `model` in place; returns TRL's log history (loss per logging step)."""
    if not examples:
        raise ValueError("sft_train got no examples")
    trainer = SFTTrainer(model=model, args=sft_config(settings, output_dir, seed, progress),
                         train_dataset=to_sft_dataset(examples, tokenizer), processing_class=tokenizer)
    trainer.train()
    return [dict(r) for r in trainer.state.log_history]
