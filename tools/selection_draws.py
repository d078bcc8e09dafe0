"""Notebook 06 over several candidate draws: does judge-based selection's gain hold when the prompts and the sampled
responses are drawn again, not only the fine-tuning?

Each draw is a run of 06 with its own `seed` (other prompts, other responses, other evaluation samples; the same 03
judges, the same chunk policy, the same held-out problems) and fine-tune seed 0, e.g. for draw 1:

    python -m stepwiser_core.run 06_data_selection --params params/toy --runs-root RUNS1 -p results_root RESULTS1 \\
        -p seed 1 -p finetune_seeds '[0]'

(RUNS1/toy/{00_policy,01_segmentation,03_judge_training} linking to the series' own). Then

    python tools/selection_draws.py --draw 0 RUNS0/toy/06_data_selection RESULTS0/toy/06_data_selection \\
        --draw 1 ... --out results/toy/<run>/06_data_selection_draws

writes `draws.{csv,md}` (`selection.draw_summary`: temperature-1 accuracy per draw, the change against outcome-based
selection within each draw, and pooled over draws), `draws_change.{csv,md}` (`selection.draw_changes`: each draw's
change and the pooled one, the README's table), `draws_vs_zero_shot.{csv,md}` (the same against the zero-shot
judge), `draws.png` (each selector's change against outcome-based selection, per draw and pooled), `flawed.{csv,md}`
(per draw, the share of each selector's picks that hold a wrong step) and `sources.json` (the runs read, their commits
and this tool's).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import pandas as pd

    from stepwiser_core import plots, selection
    from stepwiser_core.io import atomic_write_text
    from stepwiser_core.provenance import git_state
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draw", nargs=3, action="append", required=True, metavar=("SEED", "RUN_DIR", "RESULTS_DIR"),
                    help="a draw's seed, its 06 run folder (evaluations.csv) and its results folder (selection.csv)")
    ap.add_argument("--finetune-seed", type=int, default=0, help="the fine-tune seed every draw has")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    tool_git = git_state(ROOT)  # before this tool writes its tables, which would read as a dirty tree

    evaluations, flawed, sources = {}, [], {}
    for seed, run_dir, results_dir in args.draw:
        run_dir, results_dir = Path(run_dir), Path(results_dir)
        for needed in (run_dir / "evaluations.csv", results_dir / "selection.csv", run_dir / "provenance.json"):
            if not needed.exists():
                raise SystemExit(f"draw {seed}: no {needed} (run 06 with seed {seed} first)")
        evaluations[int(seed)] = pd.read_csv(run_dir / "evaluations.csv")
        picks = pd.read_csv(results_dir / "selection.csv")
        flawed.append(picks.set_index("selector")["flawed"].rename(f"draw_{seed}"))
        provenance = json.loads((run_dir / "provenance.json").read_text())
        sources[seed] = {"run_dir": str(run_dir), "results_dir": str(results_dir),
                         "git": provenance.get("git"), "duration_s": provenance.get("duration_s")}
    try:
        table = selection.draw_summary(evaluations, args.finetune_seed)
        versus_zero_shot = selection.draw_summary(evaluations, args.finetune_seed, reference="zero_shot")
    except ValueError as err:
        raise SystemExit(str(err)) from None
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out, "draws", digits=4)
    write_table(selection.draw_changes(table), args.out, "draws_change", digits=3)
    write_table(versus_zero_shot, args.out, "draws_vs_zero_shot", digits=4)
    write_table(pd.concat(flawed, axis=1).reset_index(), args.out, "flawed", digits=4)
    plots.selection_draws(table, args.out / "draws.png")
    atomic_write_text(args.out / "sources.json", json.dumps(
        {"draws": sources, "finetune_seed": args.finetune_seed, "tool_git": tool_git}, indent=1) + "\n")
    print(table.round(4).to_string(index=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
