"""Sharded training (FSDP) for models whose full fine-tuning does not fit one GPU in plain data parallelism.

With plain data parallelism every process holds the whole model, its gradients and its AdamW state: about 16 bytes
a parameter in fp32 (bf16 autocast keeps fp32 weights), so 112 GB for a 7B model, past one 80 GB GPU. FSDP splits
all three over the processes (a 7B model on 8 GPUs: about 14 GB each, plus activations). We use PyTorch's FSDP2
(`fully_shard`) through the Trainer's own `fsdp` arguments, so TRL's SFTTrainer and GRPOTrainer shard the model the
way accelerate documents, each decoder layer its own unit (the model's `_no_split_modules`). The update is the one a
single process makes with the same global batch (tests/unit/test_launch.py, on two CPU processes over gloo).

Only `launch.run_in_processes` trains sharded: a sharding needs several processes. Two consequences are handled there:
the trained model is gathered from every process before rank 0 saves it (`full_state_dict`), and nothing may run the
sharded model on rank 0 alone (every forward pass gathers each layer from all processes), so a sharded GRPO run
cannot evaluate held-out items while it trains (`JudgeTrainingConfig` refuses `eval_every` > 0 with it).
"""
from __future__ import annotations

from typing import Any

SHARDINGS = ("none", "fsdp")


def check_sharding(name: str, sharding: str, num_processes: int, processes_name: str) -> None:
    """Raise `ValueError` for an unknown sharding, or for a sharding over fewer than two processes."""
    if sharding not in SHARDINGS:
        raise ValueError(f"{name} must be one of {SHARDINGS}, not {sharding!r}")
    if sharding != "none" and num_processes < 2:
        raise ValueError(f"{name} {sharding!r} splits the model over several processes: set {processes_name} to the "
                         f"number of GPUs (at least 2), not {num_processes}")


def trainer_arguments(sharding: str, on_gpu: bool) -> dict[str, Any]:
    """The Trainer (SFTConfig, GRPOConfig) arguments for `sharding`: FSDP2, full sharding of the parameters, gradients
    and optimiser state, each decoder layer wrapped on its own (accelerate reads the layer class from the model's
    `_no_split_modules`), activations recomputed, checkpoints saved whole (loadable by `models.load_model`); none for
    "none".

    GPUs only: accelerate does not shard CPU processes, and would train each with the whole model without a word, so a
    sharding asked for on the CPU is an error rather than a quiet fallback."""
    if sharding not in SHARDINGS:
        raise ValueError(f"sharding must be one of {SHARDINGS}, not {sharding!r}")
    if sharding == "none":
        return {}
    if not on_gpu:
        raise ValueError(f"sharding {sharding!r} needs GPUs: on the CPU accelerate trains every process with the whole "
                         "model (plain data parallelism); set the sharding to 'none' here")
    # reshard_after_forward: free each layer's gathered weights after its forward (ZeRO-3), the memory-lean choice.
    # activation_checkpointing: recompute each layer's activations in the backward pass (about a third more compute):
    # a 7B model's activations at the paper's 8192 tokens would not fit beside it. FSDP's own, which transformers
    # prefers under FSDP to the Trainer's argument (that one gathers every layer once more in the backward pass).
    return {"fsdp": True,  # the rest from fsdp_config (the string form, "full_shard auto_wrap", is deprecated)
            "fsdp_config": {"version": 2, "reshard_after_forward": True, "state_dict_type": "FULL_STATE_DICT",
                            "activation_checkpointing": True}}


def is_sharded(model) -> bool:
    """Whether FSDP2 has split `model`'s parameters (they are then DTensors, each process holding a shard)."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def full_state_dict(model) -> dict | None:
    """The whole of a sharded `model`'s weights, on the CPU, for rank 0 to save (other ranks get an empty dict);
    None when `model` is not sharded (save it as it is). Every process must call this: it gathers the shards."""
    if not is_sharded(model):
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
