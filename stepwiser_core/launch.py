"""Training on several processes (one per GPU) from inside a notebook: GRPO runs and supervised fine-tunings.

A stage runs in one process, the notebook's kernel, and `accelerate launch` cannot reach into it. So when a stage asks
for more than one process (03's `grpo_num_processes`, 01's and 03's `sft_num_processes`), `run_in_processes` writes
the job into a work folder and starts
`python -m torch.distributed.run --standalone --nproc_per_node N -m stepwiser_core.launch WORK_DIR`: every process
loads the init, TRL (through accelerate, which reads torchrun's environment) shards the batches, and rank 0 alone
evaluates held-out items (GRPO), then saves the trained model and the log history for the kernel to load. On CPUs the
processes talk over gloo, which is how the tests run it; on GPUs over NCCL, each process on its `LOCAL_RANK`'s GPU.
By default plain data parallelism: every process holds the whole model and its optimiser state. A job whose settings
ask for `sharding: fsdp` (sharding.py) splits them over the processes instead, as a 7B model's full fine-tuning
needs; the trained weights are then gathered from every process before rank 0 saves them.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import atomic_write_bytes, atomic_write_text

JOB_FILE, LOG_FILE, HISTORY_FILE, MODEL_DIR = "job.pkl", "processes.log", "log_history.json", "model"


@dataclass
class GRPOJob:
    """Everything one GRPO run needs, picklable: `dataset` is `judge_rl.rl_dataset`'s, `settings` a `GRPOSettings`,
    `train_options` the remaining keywords of `judge_rl.grpo_train`, and `eval_options` the keywords of
    `judge_stage.generative_eval_fn` (minus the tokenizer; empty: no held-out evaluation)."""

    init_dir: str
    dataset: Any
    settings: Any
    train_options: dict = field(default_factory=dict)
    eval_options: dict = field(default_factory=dict)
    eval_every: int = 0

    def train(self, model, tokenizer, work_dir: Path, rank: int) -> list[dict]:
        from . import judge_rl, judge_stage

        evaluate = rank == 0 and bool(self.eval_options) and self.eval_every > 0  # the others wait at the next step
        eval_fn = judge_stage.generative_eval_fn(tokenizer, **self.eval_options) if evaluate else None
        return judge_rl.grpo_train(model, tokenizer, self.dataset, self.settings, work_dir / "trainer",
                                   eval_fn=eval_fn, eval_every=self.eval_every if evaluate else 0,
                                   progress=rank == 0, **self.train_options)


@dataclass
class SFTJob:
    """One supervised fine-tuning, picklable: `examples` are `training.sft_train`'s (prompt, completion) examples or,
    with `disc`, `judges.disc_sft_train`'s conversations; `settings` (an `SFTSettings`) hold the per-process batch
    (`training.per_process_settings`)."""

    init_dir: str
    examples: Any
    settings: Any
    seed: int
    disc: bool = False

    def fit(self, model, tokenizer, output_dir: str | Path, progress: bool = True) -> list[dict]:
        """Train `model` in place in this process (TRL's output in `output_dir`); returns TRL's log history."""
        from .judges import disc_sft_train
        from .training import sft_train

        fit = disc_sft_train if self.disc else sft_train
        return fit(model, tokenizer, self.examples, self.settings, output_dir, self.seed, progress=progress)

    def train(self, model, tokenizer, work_dir: Path, rank: int) -> list[dict]:
        return self.fit(model, tokenizer, work_dir / "trainer", progress=rank == 0)


def run_in_processes(job: GRPOJob | SFTJob, num_processes: int, work_dir: str | Path) -> tuple[Any, list[dict], int]:
    """Run `job` on `num_processes` processes in `work_dir`; returns the trained model (rank 0's copy, saved there and
    loaded back), the log history, and how many processes trained. Raises `RuntimeError` with the end of their output
    (`work_dir/processes.log`) if they fail."""
    from .models import load_model

    if num_processes < 2:
        raise ValueError(f"num_processes must be at least 2 to need a launcher, not {num_processes}")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    for stale in (HISTORY_FILE, LOG_FILE):  # a previous, interrupted attempt must not be read as this one
        (work_dir / stale).unlink(missing_ok=True)
    atomic_write_bytes(work_dir / JOB_FILE, pickle.dumps(job))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={num_processes}",
               "-m", "stepwiser_core.launch", str(work_dir)]
    with open(work_dir / LOG_FILE, "w", encoding="utf-8") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=_child_env()).returncode
    output = (work_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    if code != 0 or not (work_dir / HISTORY_FILE).exists():
        raise RuntimeError(f"{type(job).__name__.removesuffix('Job')} on {num_processes} processes failed (exit "
                           f"{code}); the end of {work_dir / LOG_FILE}:\n{output[-3000:]}")
    for line in output.splitlines():  # the held-out curve, as the in-process run prints it
        if line.startswith("held-out at step"):
            print(line)
    result = json.loads((work_dir / HISTORY_FILE).read_text(encoding="utf-8"))
    model, _ = load_model(work_dir / MODEL_DIR)
    return model, result["log_history"], result["world_size"]


def fine_tune_copy(init_dir: str | Path, examples: Sequence, settings, output_dir: str | Path, seed: int,
                   num_processes: int = 1, disc: bool = False) -> tuple[Any, list[dict]]:
    """Supervised fine-tuning of a fresh copy of the model at `init_dir`: in this process, or on `num_processes`
    processes with `settings.batch_size` as the global batch split evenly over them. Returns the model and TRL's log
    history; TRL's output goes to `output_dir` (in-process) or `output_dir/trainer` (with `output_dir` the work
    folder)."""
    from .models import load_model
    from .training import per_process_settings

    if num_processes > 1:
        job = SFTJob(str(init_dir), list(examples), per_process_settings(settings, num_processes), seed, disc)
        model, log, _ = run_in_processes(job, num_processes, output_dir)
        return model, log
    model, tokenizer = load_model(init_dir)
    return model, SFTJob(str(init_dir), examples, settings, seed, disc).fit(model, tokenizer, output_dir)


def _child_env() -> dict[str, str]:
    """This environment, with the package importable from the children whatever their working directory."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _train(work_dir: Path, rank: int, world_size: int) -> None:
    from .models import load_model

    job: GRPOJob | SFTJob = pickle.loads((work_dir / JOB_FILE).read_bytes())
    model, tokenizer = load_model(job.init_dir)
    log = job.train(model, tokenizer, work_dir, rank)
    _save_trained(model, tokenizer, log, work_dir, rank, world_size, job.settings.sharding)


def _save_trained(model, tokenizer, log: Sequence[Mapping], work_dir: Path, rank: int, world_size: int,
                  sharding: str = "none") -> None:
    """Rank 0 saves the trained model and the log history for the kernel; a sharded model is first gathered from every
    process, so every rank must call this."""
    from .models import save_model
    from .sharding import full_state_dict, is_sharded

    sharded = is_sharded(model)
    if sharding != "none" and not sharded and rank == 0:  # trained whole (the history says so); still worth saving
        print(f"WARNING: the job asked for sharding {sharding!r}, but the trainer left each process the whole model",
              flush=True)
    weights = full_state_dict(model)  # every rank takes part in gathering a sharded model; None when it is whole
    if rank == 0:
        save_model(model, tokenizer, work_dir / MODEL_DIR, state_dict=weights)
        # keys in the trainer's order, not sorted: history_frame keeps that order for the columns of grpo_history.csv
        history = json.dumps({"world_size": world_size, "sharded": sharded, "log_history": _jsonable(log)}, indent=1,
                             allow_nan=True)
        atomic_write_text(work_dir / HISTORY_FILE, history + "\n")


def _jsonable(log: Sequence[Mapping]) -> list[dict]:
    return [{k: v for k, v in row.items() if isinstance(v, (int, float, str, bool)) or v is None} for row in log]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: torchrun --nproc_per_node N -m stepwiser_core.launch WORK_DIR")
    try:
        _train(Path(args[0]), int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """Destroy the process group that accelerate opened, while the interpreter is still whole. Left to interpreter
    finalisation, gloo's worker threads can abort a process that trained and saved ("terminate called without an
    active exception", SIGABRT; pytorch/pytorch#190489): 2 of 24 two-process fine-tunings failed so here. No barrier
    first: after a failure on one rank the others would wait on it for ever."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def exit_without_finalising(code: int = 0) -> None:
    """Leave a process whose work is done and on disk (every write here is atomic) without interpreter finalisation:
    even with the process group destroyed, gloo's threads still aborted a two-process FSDP2 fine-tuning there, after
    it had trained and saved (SIGABRT; the CI failure at e048be2). Python's own streams are flushed first."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
    exit_without_finalising(0)
