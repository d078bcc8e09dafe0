"""GRPO throughput: one process on every core vs one process per core (`grpo_num_processes`), same global batch.

    python benchmarks/grpo_processes.py            # the recorded run: 20 GRPO steps of notebook 03's toy sizes
    python benchmarks/grpo_processes.py --quick    # a few seconds, for development (records nothing)

Notebook 03 trains each GRPO judge in the notebook's process with torch's threads over every core (2 here). With
`grpo_num_processes: N` it starts N processes instead (`stepwiser_core/launch.py`, torchrun; one thread each
on a CPU), each with 1/N of the batch: the same completions per update, generated and scored in parallel. A toy
model is too small for two threads to share one matrix product well, so processes may scale better than threads;
this measures it. Both runs use the same judge init (`--model`, else the newest judge init under
runs/toy/03_judge_training, else what `benchmarks/rollouts.py` would use), the same judge prompts (every step of
teacher solutions, as `benchmarks/judging.py` builds them, with random labels: the timing, not the learning, is
measured) and the same settings. Times are TRL's `train_runtime` (the training loop, model loading excluded) and
the wall time of the whole run, process start-up included; medians of `--repeats` alternated repeats (two earlier
single pairs gave 1.20x and 1.06x: one is not enough). The draws differ (another process count is another sampling),
so only speed is compared. The last line is `speedup: X.XX` (train_runtime, one process / N).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from judging import default_model, make_queries  # noqa: E402
from rollouts import OUT, toy_model  # noqa: E402

from stepwiser_core import judge_rl, launch  # noqa: E402
from stepwiser_core.models import count_parameters, load_model, save_model  # noqa: E402
from stepwiser_core.provenance import cpu_model  # noqa: E402


def runtime(log: list[dict]) -> float:
    return next(row["train_runtime"] for row in log if "train_runtime" in row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny run for development; records nothing")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32, help="completions per update (notebook 03's batch_size)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", help="a saved model folder (default: the newest judge init, see above)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write results/")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.repeats = 2, 1
    if args.batch_size % (args.processes * 4):
        raise SystemExit(f"--batch-size must split into {args.processes} processes' groups of 4")

    model, tok, model_used = toy_model(args.model or default_model())
    rng = random.Random(0)
    items = [{"problem": q.problem, "history": q.history, "chunk": q.chunk, "label": rng.random() < 0.5,
              "true_label": None, "problem_id": i, "step": len(q.history), "level": None}
             for i, q in enumerate(make_queries(10_000))]
    data = judge_rl.rl_dataset(items, tok)
    threads = torch.get_num_threads()
    print(f"model: {model_used}, {count_parameters(model) / 1e6:.2f}M parameters; {len(data)} prompts; "
          f"torch {torch.__version__}, {threads} threads in this process")

    def settings(batch_size: int) -> judge_rl.GRPOSettings:  # notebook 03's toy sizes (params/toy)
        return judge_rl.GRPOSettings(learning_rate=2e-5, max_steps=args.steps, batch_size=batch_size,
                                     updates_per_generation=4, num_generations=4, beta=0.04,
                                     max_completion_length=80 if not args.quick else 16, seed=0)

    runs: dict[str, list[tuple[float, float]]] = {"single": [], "processes": []}  # (train_runtime, wall) per repeat
    world = args.processes
    with tempfile.TemporaryDirectory() as tmp:
        init = Path(tmp) / "init"
        save_model(model, tok, init)
        for r in range(args.repeats):  # alternated, so a slow spell of the machine hits both
            start = time.perf_counter()
            single, _ = load_model(init)
            log = judge_rl.grpo_train(single, tok, data, settings(args.batch_size), Path(tmp) / f"single{r}",
                                      progress=False)
            runs["single"].append((runtime(log), time.perf_counter() - start))
            job = launch.GRPOJob(str(init), data, settings(args.batch_size // args.processes))
            start = time.perf_counter()
            _, log, world = launch.run_in_processes(job, args.processes, Path(tmp) / f"multi{r}")
            runs["processes"].append((runtime(log), time.perf_counter() - start))
            print(f"repeat {r}: train_runtime {runs['single'][-1][0]:.1f} s (one process), "
                  f"{runs['processes'][-1][0]:.1f} s ({world} processes)", flush=True)
    (t_single, wall_single), (t_multi, wall_multi) = (tuple(map(statistics.median, zip(*runs[k]))) for k in runs)
    figures = {
        "model": model_used, "parameters": count_parameters(model), "torch": torch.__version__,
        "machine": cpu_model() or platform.machine(), "cpu_count": os.cpu_count(),
        "settings": {"steps": args.steps, "completions_per_update": args.batch_size, "processes": world,
                     "threads_single_process": threads, "max_completion_length": settings(4).max_completion_length,
                     "repeats": args.repeats},
        "runs": runs, "train_runtime_single": t_single, "train_runtime_processes": t_multi,
        "wall_single": wall_single, "wall_processes": wall_multi, "speedup": t_single / t_multi,
    }
    print(f"{args.steps} GRPO steps of {args.batch_size} completions (group 4, 4 updates per generation round); "
          f"medians of {args.repeats}")
    print(f"(a) one process, {threads} threads: train_runtime {t_single:6.1f} s, wall {wall_single:6.1f} s")
    print(f"(b) {world} processes:         train_runtime {t_multi:6.1f} s, wall {wall_multi:6.1f} s")
    if not (args.quick or args.no_record):
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "grpo_processes.json").write_text(json.dumps(figures, indent=2) + "\n")
        (OUT / "grpo_processes.md").write_text(
            f"# GRPO throughput, threads vs processes (`python benchmarks/grpo_processes.py`)\n\nModel: {model_used}. "
            f"{args.steps} GRPO steps of {args.batch_size} completions per update (group 4, 4 updates per generation "
            f"round, up to {figures['settings']['max_completion_length']} new tokens), medians of {args.repeats} "
            f"alternated repeats; torch {torch.__version__}, "
            f"{os.cpu_count()} cores of {figures['machine']}.\n\n"
            f"| | train_runtime (s) | wall (s) | vs one process |\n|---|---:|---:|---:|\n"
            f"| one process, {threads} threads | {t_single:.1f} | {wall_single:.1f} | 1.00 |\n"
            f"| {world} processes (`grpo_num_processes: {world}`) | {t_multi:.1f} | {wall_multi:.1f} | "
            f"{t_single / t_multi:.2f} |\n\nEach repeat's train_runtime (s), one process / {world} processes: "
            + ", ".join(f"{a[0]:.1f} / {b[0]:.1f}" for a, b in zip(runs["single"], runs["processes"])) + ".\n")
    print(f"speedup: {figures['speedup']:.2f}")


if __name__ == "__main__":
    main()
