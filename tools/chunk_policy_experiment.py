"""One chunk-policy variant outside notebook 01 (issue 3: the chunk policy solves fewer problems than the base
policy). Rebuilds 01's SFT data exactly as the notebook does, trains the chunk policy with `-p NAME VALUE`
overrides of params/<tier>/01_segmentation.yaml, and scores it on 00's held-out problems with the notebook's
sampling. The base policy's accuracy is read from 01's run (`solution_stats.csv`, same sampling seed), so only
the variant is sampled. Outputs go to --out, never into runs/ or results/.

    python tools/chunk_policy_experiment.py -p learning_rate 3e-4
    python tools/chunk_policy_experiment.py -p max_steps 100
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> None:
    import pandas as pd
    import torch

    from stepwiser_core import base_policy, chunk_policy
    from stepwiser_core.config import config_hash, load_config, parse_cli_value
    from stepwiser_core.generation import Sampling, TransformersBackend
    from stepwiser_core.io import read_json
    from stepwiser_core.models import load_model
    from stepwiser_core.seeding import seed_everything
    from stepwiser_core.stages import SegmentationConfig
    from stepwiser_core.verify import make_verifier
    from stepwiser_core.world.problems import Problem, generate_problems

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    ap.add_argument("--out", default="/tmp/chunk_policy_exp")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    overrides = {name: parse_cli_value(value) for name, value in args.p}
    cfg = load_config(SegmentationConfig, ROOT / "params" / args.tier / "01_segmentation.yaml", overrides, args.tier)
    seed_everything(cfg.seed)
    tier_runs = ROOT / cfg.runs_root / cfg.tier
    out = Path(args.out) / f"run_{config_hash(cfg)}"
    policy_dir = Path(cfg.policy_dir or tier_runs / "00_policy" / "model")
    verifier = make_verifier(cfg.verifier)
    started = time.time()

    # Sections 1-3 of notebook 01, unchanged: the base policy's responses, the teacher's segmentations, the SFT.
    base_model, tokenizer = load_model(policy_dir)
    prompts = generate_problems(cfg.seed, cfg.n_prompts // 4, split="segmentation")
    base_gen = TransformersBackend(base_model, tokenizer, batch_size=cfg.gen_batch_size, desc="base policy")
    samples = base_policy.sample_solutions(base_gen, tokenizer, prompts, Sampling(cfg.max_new_tokens, 1.0,
                                           cfg.samples_per_prompt, cfg.seed), cfg.base_template)
    responses = chunk_policy.sft_responses(prompts, samples, verifier, cfg.max_correct_per_prompt,
                                           cfg.sft_correct_only, cfg.sft_correct_share, cfg.seed)
    seg = chunk_policy.build_segmentation_data(responses, cfg.seed, cfg.segment_attempts, cfg.segmenter_error_rate,
                                               cfg.chunk_template)
    chunk_model, tokenizer, _, n_examples = chunk_policy.train_chunk_policy(seg.examples, cfg, policy_dir, out, tokenizer)

    # Section 4 for the variant only; the base policy's rows come from 01's run (same problems, same seed).
    eval_problems = [Problem.from_dict(d) for d in read_json(tier_runs / "00_policy" / "eval_problems.json")]
    sampling = Sampling(cfg.max_new_tokens, 1.0, cfg.eval_samples, cfg.seed + 1)
    chunk_gen = TransformersBackend(chunk_model, tokenizer, batch_size=cfg.gen_batch_size, desc="chunk policy")
    chunk_texts = base_policy.sample_solutions(chunk_gen, tokenizer, eval_problems, sampling, cfg.chunk_template)
    stats = pd.concat([pd.read_csv(tier_runs / "01_segmentation" / "solution_stats.csv").query("segmentation == 'blankline'"),
                       chunk_policy.solution_stats(eval_problems, chunk_texts, tokenizer, verifier, "chunks")])
    metrics = {"overrides": overrides, "sft_examples": n_examples, "seconds": round(time.time() - started),
               "sft_response_accuracy": chunk_policy.response_accuracy(responses, verifier),
               **chunk_policy.segmentation_metrics(stats, chunk_texts)}
    print(chunk_policy.table4(stats).to_string(index=False))
    print(stats.groupby(["segmentation", "level"])["answer_correct"].mean().unstack().round(3).to_string())
    print(json.dumps(metrics, indent=1, default=str))
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=str))


if __name__ == "__main__":
    main()
