"""Greedy judging throughput: `RolloutEngine` vs batched `model.generate` (`TransformersBackend`), same outputs.

    python benchmarks/judging.py            # the recorded run: 256 judge queries, greedy, 80 new tokens
    python benchmarks/judging.py --quick    # a few seconds, for development (records nothing)

Every single-sample judge evaluation in notebooks 03 and 04 decodes greedily (ProcessBench's critic protocol).
Notebook 04 judges through `RolloutEngine`; this measures what the same engine gives notebook 03's held-out
evaluations, which ran through `TransformersBackend`. Both get the same `GenerativeJudge` prompts (the toy judge
template: problem, accepted history, new chunk), the same batch size and `max_new_tokens`; the script times each
(best of `--repeats`) and counts how many of the outputs are identical, which greedy decoding promises up to
floating-point ties (`tests/unit/test_rollouts.py` checks it on small models). Queries are realistic: each step of
a teacher solution to a held-out-split problem, a quarter of the solutions with an injected first error. The
model is `--model`, else the newest judge init under runs/toy/03_judge_training, else what
`benchmarks/rollouts.py` would use (the trained base model, else a random one). The last line is `speedup: X.XX`.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rollouts import OUT, best_of, toy_model  # noqa: E402

from stepwiser_core.generation import Sampling, TransformersBackend  # noqa: E402
from stepwiser_core.judges import GenerativeJudge, JudgeQuery  # noqa: E402
from stepwiser_core.models import count_parameters  # noqa: E402
from stepwiser_core.rollouts import RolloutEngine  # noqa: E402
from stepwiser_core.world.problems import generate_problems  # noqa: E402
from stepwiser_core.world.solutions import render_solution  # noqa: E402

JUDGE_INITS = ROOT / "runs/toy/03_judge_training"


def default_model() -> str | None:
    """The newest saved judge init of notebook 03, if any."""
    inits = sorted(JUDGE_INITS.glob("**/judge_init/config.json"), key=lambda p: p.stat().st_mtime)
    return str(inits[-1].parent) if inits else None


def make_queries(n: int, seed: int = 0) -> list[JudgeQuery]:
    """Every step of teacher solutions (a quarter with one injected error) as judge queries, shuffled, first n."""
    rng = random.Random(seed)
    queries: list[JudgeQuery] = []
    for p in generate_problems(seed, 25, split="bench"):
        steps = render_solution(p, rng, error_rate=0.25 if rng.random() < 0.25 else 0.0).steps
        queries += [JudgeQuery(p.text, tuple(steps[:i]), steps[i]) for i in range(len(steps))]
    rng.shuffle(queries)
    return queries[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny run for development; records nothing")
    ap.add_argument("--queries", type=int, default=256)
    ap.add_argument("--max-new-tokens", type=int, default=80, help="notebook 03's max_completion_length")
    ap.add_argument("--batch-size", type=int, default=128, help="notebook 03's gen_batch_size")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", help="a saved model folder (default: the newest judge init, see above)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write results/")
    args = ap.parse_args()
    if args.quick:
        args.queries, args.max_new_tokens, args.repeats = 16, 24, 1

    model, tok, model_used = toy_model(args.model or default_model())
    queries = make_queries(args.queries)
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.0)
    print(f"model: {model_used}, {count_parameters(model) / 1e6:.2f}M parameters; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")

    def judge_with(generator) -> tuple[list[str], list]:
        judge = GenerativeJudge(generator, tok, "toy", True, sampling)
        verdicts = judge.judge(queries)
        return [o[0] for o in judge.last_outputs], verdicts

    backends = {"transformers_backend": TransformersBackend(model, tok, batch_size=args.batch_size, progress=False),
                "rollout_engine": RolloutEngine(model, tok, max_batch_rows=args.batch_size, progress=False)}
    for g in backends.values():  # untimed warm-up: first-call costs (allocator, kernels) would favour the second
        GenerativeJudge(g, tok, "toy", True, sampling).judge(queries[:4])
    timed = {name: best_of(args.repeats, lambda g=g: judge_with(g)) for name, g in backends.items()}
    (t_plain, (out_plain, v_plain)), (t_engine, (out_engine, v_engine)) = timed.values()
    identical = sum(a == b for a, b in zip(out_plain, out_engine))
    same_verdict = sum(a == b for a, b in zip(v_plain, v_engine))
    n_tokens = sum(len(tok(o, add_special_tokens=False)["input_ids"]) for o in out_engine)
    figures = {
        "model": model_used, "parameters": count_parameters(model), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "settings": {"queries": len(queries), "temperature": 0.0, "max_new_tokens": args.max_new_tokens,
                     "batch_size": args.batch_size, "repeats": args.repeats},
        "transformers_backend_seconds": t_plain, "rollout_engine_seconds": t_engine,
        "output_tokens_mean": n_tokens / len(queries),
        "identical_outputs": identical, "identical_verdicts": same_verdict,
        "speedup": t_plain / t_engine,
    }
    print(f"{len(queries)} judge queries, greedy, max_new_tokens={args.max_new_tokens}, batch {args.batch_size}; "
          f"{figures['output_tokens_mean']:.1f} output tokens on average")
    print(f"(a) TransformersBackend: {t_plain:6.1f} s")
    print(f"(b) RolloutEngine:       {t_engine:6.1f} s")
    print(f"identical outputs: {identical}/{len(queries)}; identical verdicts: {same_verdict}/{len(queries)}")
    if not (args.quick or args.no_record):
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "judging.json").write_text(json.dumps(figures, indent=2) + "\n")
        (OUT / "judging.md").write_text(
            f"# Greedy judging throughput (`python benchmarks/judging.py`)\n\nModel: {model_used}. "
            f"{len(queries)} judge queries, greedy, max_new_tokens={args.max_new_tokens}, batch {args.batch_size}; "
            f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); best of {args.repeats}.\n\n"
            f"| | seconds | vs TransformersBackend |\n|---|---:|---:|\n"
            f"| `TransformersBackend` (batched `model.generate`) | {t_plain:.1f} | 1.00 |\n"
            f"| `RolloutEngine` | {t_engine:.1f} | {t_plain / t_engine:.2f} |\n\n"
            f"Identical outputs: {identical} of {len(queries)}; identical verdicts: {same_verdict} of "
            f"{len(queries)}.\n")
    print(f"speedup: {figures['speedup']:.2f}")


if __name__ == "__main__":
    main()
