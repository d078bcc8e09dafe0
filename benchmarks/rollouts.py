"""Rollout throughput: our `RolloutEngine` vs plain batched `model.generate` (one row per rollout).

    python benchmarks/rollouts.py            # the recorded run: 24 prefixes x M=16, T=1, 160 new tokens
    python benchmarks/rollouts.py --quick    # a few seconds, for development (records nothing)

Same model, prefixes, M and sampling settings through (a) the engine and (b) the plain baseline: the
rows of `TransformersBackend` (each rollout its own row, rows sorted by prompt length, the same batch
of rows, `model.generate` with the same arguments), reimplemented here only to keep the token ids,
so both count generated tokens the same way: up to and including eos. Also timed: the raw
batched-forward bound, bare decode forward passes at the same batch and similar context (no sampling,
no bookkeeping), with transformers' `DynamicCache` and with the engine's in-place buffer cache.
Prefixes are realistic: a policy prompt for a toy problem plus its teacher solution cut after each
logical step (not the final answer step: its outcome is known, no rollouts). The trained base model at
runs/toy/00_policy/model is used when it exists; otherwise a random model of the same size, whose
rollouts rarely stop at eos (so the finished-row saving is mostly absent). Each timing is the best of
`--repeats` runs, since the machine may be shared. The last line is `speedup: X.XX`.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stepwiser_core.base_policy import build_mixture, tokenizer_corpus  # noqa: E402
from stepwiser_core.generation import Sampling, chat_prompt  # noqa: E402
from stepwiser_core.instruct import policy_prompt  # noqa: E402
from stepwiser_core.models import ModelShape, build_model, count_parameters, load_model  # noqa: E402
from stepwiser_core.rollouts import BufferCacheLayer, RolloutEngine  # noqa: E402
from stepwiser_core.tokenizer import build_tokenizer  # noqa: E402
from stepwiser_core.world.problems import generate_problems  # noqa: E402
from stepwiser_core.world.solutions import render_solution  # noqa: E402
from transformers.cache_utils import Cache, DynamicCache  # noqa: E402

TRAINED = ROOT / "runs/toy/00_policy/model"
OUT = ROOT / "results/toy/benchmarks"


def toy_model(path: str | None = None):
    """The model at `path`, else the trained base model if stage 00 has run, else a random model of the base size."""
    if path or (TRAINED / "config.json").exists():
        model, tok = load_model(path or TRAINED)
        return model, tok, f"trained model ({path or TRAINED.relative_to(ROOT)})"
    examples = build_mixture(generate_problems(0, 50), 0, 0.04, 0.65, 0.33, 0.7, 0.3)
    tok = build_tokenizer(tokenizer_corpus(examples), vocab_size=512)
    shape = ModelShape(hidden_size=192, num_layers=4, num_heads=6, num_kv_heads=2, intermediate_size=512)
    return build_model(tok, shape, seed=0).eval(), tok, "random model of the base size (no trained model found)"


def make_prefixes(tok, n: int, seed: int = 0) -> list[str]:
    """Policy prompt + teacher solution cut after each logical step but the last, over all 4 levels."""
    prefixes: list[str] = []
    rng = random.Random(seed)
    for p in generate_problems(seed, 20, split="bench"):
        steps = render_solution(p, rng).steps
        head = chat_prompt(tok, policy_prompt(p.text))
        prefixes += [head + "\n\n".join(steps[:i + 1]) for i in range(len(steps) - 1)]
    rng.shuffle(prefixes)
    return prefixes[:n]


@torch.inference_mode()
def plain_generate(model, tok, prefixes: list[str], m: int, sampling: Sampling, batch_rows: int) -> list[list[int]]:
    """TransformersBackend.generate's computation (one row per rollout), returning the token ids."""
    rows = sorted((p for p in prefixes for _ in range(m)), key=len)
    out: list[list[int]] = []
    for b, start in enumerate(range(0, len(rows), batch_rows)):
        enc = tok(rows[start:start + batch_rows], return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(sampling.seed + b)
        gen = model.generate(**enc, max_new_tokens=sampling.max_new_tokens, do_sample=True,
                             temperature=sampling.temperature, top_k=0, top_p=None,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        for row in gen[:, enc["input_ids"].shape[1]:].tolist():
            out.append(row[:row.index(tok.eos_token_id) + 1] if tok.eos_token_id in row else row)
    return out


@torch.inference_mode()
def decode_bound(model, rows: int, context: int, steps: int, buffered: bool) -> float:
    """Tokens/s of bare decode forwards: `rows` rows after a `context`-token prefill, `steps` steps."""
    n_layers = model.config.num_hidden_layers
    cache = Cache(layers=[BufferCacheLayer(context + steps) for _ in range(n_layers)]) if buffered else DynamicCache()
    ids = torch.randint(3, model.config.vocab_size, (1, context))
    model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
    cache.batch_select_indices(torch.zeros(rows, dtype=torch.long))  # the one prefix, copied to every row
    x = torch.randint(3, model.config.vocab_size, (rows, 1))
    start = time.perf_counter()
    for _ in range(steps):
        model(input_ids=x, cache=cache, use_cache=True)
    return rows * steps / (time.perf_counter() - start)


def best_of(repeats: int, fn):
    """(smallest wall time, result of that run) over `repeats` runs."""
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        if best is None or elapsed < best[0]:
            best = (elapsed, result)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny run for development; records nothing")
    ap.add_argument("--prefixes", type=int, default=24)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--batch-rows", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--model", help="a saved model folder (default: runs/toy/00_policy/model if present)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write results/")
    args = ap.parse_args()
    if args.quick:
        args.prefixes, args.m, args.max_new_tokens, args.repeats = 4, 8, 32, 1

    model, tok, model_used = toy_model(args.model)
    prefixes = make_prefixes(tok, args.prefixes)
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=1.0, seed=0)
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prefixes]
    print(f"model: {model_used}, {count_parameters(model) / 1e6:.2f}M parameters; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{len(prefixes)} prefixes ({min(lengths)}-{max(lengths)} tokens), M={args.m}, T=1, "
          f"max_new_tokens={args.max_new_tokens}, {args.batch_rows} rows per batch")

    engine = RolloutEngine(model, tok, max_batch_rows=args.batch_rows, progress=False)
    t_engine, ids = best_of(args.repeats, lambda: engine.rollout_ids(prefixes, args.m, sampling))
    n_engine = sum(len(r) for rows in ids for r in rows)
    t_plain, plain = best_of(args.repeats, lambda: plain_generate(model, tok, prefixes, args.m, sampling,
                                                                  args.batch_rows))
    n_plain = sum(len(r) for r in plain)
    context = round(sum(lengths) / len(lengths))
    bound = {name: best_of(args.repeats, lambda b=b: decode_bound(model, args.batch_rows, context,
                                                                    args.max_new_tokens, b))[1]
             for name, b in (("dynamic_cache", False), ("buffer_cache", True))}
    eos_share = sum(tok.eos_token_id in r for rows in ids for r in rows) / (len(prefixes) * args.m)
    engine_tps, plain_tps = n_engine / t_engine, n_plain / t_plain
    figures = {
        "model": model_used, "parameters": count_parameters(model), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "settings": {"prefixes": len(prefixes), "m": args.m, "temperature": 1.0, "max_new_tokens": args.max_new_tokens,
                     "batch_rows": args.batch_rows, "prefix_tokens_mean": context, "repeats": args.repeats},
        "engine": {"seconds": t_engine, "tokens": n_engine, "tokens_per_s": engine_tps,
                   "rollouts_ending_in_eos": eos_share},
        "plain_generate": {"seconds": t_plain, "tokens": n_plain, "tokens_per_s": plain_tps},
        "decode_bound_tokens_per_s": bound,
        "speedup": engine_tps / plain_tps,
    }
    print(f"(a) engine:         {engine_tps:8.0f} tokens/s  ({n_engine} tokens in {t_engine:.1f} s; "
          f"{eos_share:.0%} of rollouts end in eos)")
    print(f"(b) plain generate: {plain_tps:8.0f} tokens/s  ({n_plain} tokens in {t_plain:.1f} s)")
    print(f"bound, bare decode forwards at {args.batch_rows} rows, {context}+{args.max_new_tokens} context: "
          f"{bound['dynamic_cache']:.0f} tokens/s with DynamicCache, {bound['buffer_cache']:.0f} with the buffer cache")
    if not (args.quick or args.no_record):
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "rollouts.json").write_text(json.dumps(figures, indent=2) + "\n")
        rows = [("plain batched `model.generate`, one row per rollout", plain_tps),
                ("`RolloutEngine`", engine_tps),
                ("bound: bare decode forwards, `DynamicCache`", bound["dynamic_cache"]),
                ("bound: bare decode forwards, engine's buffer cache", bound["buffer_cache"])]
        (OUT / "rollouts.md").write_text(
            f"# Rollout throughput (`python benchmarks/rollouts.py`)\n\nModel: {model_used}. "
            f"{len(prefixes)} prefixes x M={args.m}, T=1, max_new_tokens={args.max_new_tokens}, "
            f"{args.batch_rows} rows per batch; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
            f"best of {args.repeats}. Tokens are counted up to and including eos; {eos_share:.0%} of the "
            f"engine's rollouts ended in eos.\n\n| | tokens/s | vs plain generate |\n|---|---:|---:|\n"
            + "".join(f"| {name} | {tps:.0f} | {tps / plain_tps:.2f} |\n" for name, tps in rows))
    print(f"speedup: {figures['speedup']:.2f}")


if __name__ == "__main__":
    main()
