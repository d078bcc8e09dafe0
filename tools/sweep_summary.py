"""Summarise `tools/judge_experiment.py` logs (one per GRPO variant) into one table: held-out accuracy vs the truth
at each evaluation, the training reward of the first and last logged rounds, and the trained judge's rationale
audit. Used for the device sweeps of issue 4 (docs/results.md, "Judge training"); prints Markdown, writes CSV
with --csv.

    python tools/sweep_summary.py LOG_DIR [LOG_DIR ...] [--csv OUT.csv]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stepwiser_core.tables import to_markdown  # noqa: E402

_EVAL = re.compile(r"held-out at step (\d+): acc_truth ([\d.]+), .*?positive_rate ([\d.]+)")
_TRAIN = re.compile(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", re.MULTILINE)  # step reward entropy zero_std
_AUDIT = re.compile(r"^trained\s+\d+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", re.MULTILINE)


def summarise(log: Path) -> dict | None:
    text = log.read_text(errors="replace")
    evals = [(int(s), float(a), float(p)) for s, a, p in _EVAL.findall(text)]
    if not evals or "trained {" not in text:
        return None  # a run that did not finish (e.g. a failed device launch)
    train = [(int(s), float(r)) for s, r, _, _ in _TRAIN.findall(text)]
    audit = _AUDIT.search(text)
    row = {"run": log.stem, "sweep": log.parent.name, "acc_truth_start": evals[0][1], "acc_truth_end": evals[-1][1],
           "acc_truth_best": max(a for _, a, _ in evals), "positive_rate_end": evals[-1][2],
           "curve": " ".join(f"{s}:{a:.3f}" for s, a, _ in evals),
           "reward_first": train[0][1] if train else float("nan"), "reward_last": train[-1][1] if train else float("nan")}
    if audit:
        row.update(computation_correct=float(audit[1]), comparison_correct=float(audit[2]),
                   verdict_consistent=float(audit[3]))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--csv", type=Path)
    args = ap.parse_args()
    rows = [r for d in args.dirs for log in sorted(d.glob("*.log")) if (r := summarise(log))]
    table = pd.DataFrame(rows)
    print(to_markdown(table.drop(columns=["curve"])))
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
