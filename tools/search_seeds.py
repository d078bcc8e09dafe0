"""Notebook 05 over several seeds of the search: each judge's chunk-reset accuracy, its change against the zero-shot
judge and its best-of-N accuracy, side by side per seed, with their mean and sd over seeds (`search.seed_table`).

    python tools/search_seeds.py --run 0=results/toy/intel_run_900_c545171/05_inference_search \\
        --run 1=results/toy/intel_run_900_c545171/05_inference_search_seed1 \\
        --out results/toy/intel_run_900_c545171/05_inference_search_seeds

A seed's folder is what `python -m stepwiser_core.run 05_inference_search -p seed S` wrote (`table7.csv`,
`versus_zero_shot.csv`, `best_of_n.csv`, `config.yaml`). The runs must differ in their seed alone: two configs that
differ in anything else (but the folders they wrote to) stop the tool, since their searches would not be draws of one
experiment. Writes `<out>/{accuracy,versus_zero_shot,best_of_n}_by_seed.{csv,md}`; where two seeds' folders or more
also hold the run folder's `searches.csv` (one row per search), `<out>/versus_zero_shot_pooled.{csv,md}` as well: each
judge against the zero-shot judge over those seeds' searches at once, paired over problems (`search.pooled_versus`),
with the seeds it pools named in `pooled_seeds`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# what a seed's config may differ in: the seed itself and where the run wrote
FREE_KEYS = {"seed", "runs_root", "results_root"}


def parse_run(text: str) -> tuple[int, Path]:
    """`SEED=FOLDER` as (seed, folder)."""
    seed, sep, folder = text.partition("=")
    if not sep or not seed.strip().isdigit() or not folder:
        raise argparse.ArgumentTypeError(f"expected SEED=FOLDER, got {text!r}")
    return int(seed), Path(folder)


def config_differences(configs: dict[int, dict]) -> list[str]:
    """The config keys, other than `FREE_KEYS`, whose values are not the same in every seed's config."""
    keys = set().union(*configs.values()) - FREE_KEYS
    return sorted(k for k in keys if len({repr(c.get(k)) for c in configs.values()}) > 1)


def main() -> None:
    import pandas as pd
    import yaml

    from stepwiser_core.search import pooled_versus, seed_table
    from stepwiser_core.tables import write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=parse_run, action="append", required=True, help="SEED=FOLDER (repeat)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    runs = dict(args.run)
    if len(runs) != len(args.run):
        raise SystemExit("a seed is given twice")
    for seed, folder in runs.items():
        missing = [f for f in ("table7.csv", "versus_zero_shot.csv", "best_of_n.csv", "config.yaml")
                   if not (folder / f).is_file()]
        if missing:
            raise SystemExit(f"seed {seed}: {folder} has no {', '.join(missing)}")
    configs = {s: yaml.safe_load((f / "config.yaml").read_text()) for s, f in runs.items()}
    wrong = [s for s, c in configs.items() if c.get("seed") != s]
    if wrong:
        raise SystemExit(f"seeds {wrong}: the folder's config.yaml holds another seed")
    if differ := config_differences(configs):
        raise SystemExit(f"the runs differ in more than their seed: {differ}")

    read = lambda name: {s: pd.read_csv(f / f"{name}.csv") for s, f in runs.items()}  # noqa: E731
    tables = {"accuracy_by_seed": seed_table(read("table7"), "accuracy"),
              "versus_zero_shot_by_seed": seed_table(read("versus_zero_shot"), "chunk_reset"),
              "best_of_n_by_seed": seed_table(read("best_of_n"), "accuracy")}
    searched = {s: f / "searches.csv" for s, f in runs.items() if (f / "searches.csv").is_file()}
    if len(searched) >= 2:
        try:
            pooled = pooled_versus({s: pd.read_csv(path) for s, path in searched.items()}, "zero_shot")
        except ValueError as err:
            raise SystemExit(f"searches.csv of seeds {sorted(searched)}: {err}") from None
        tables["versus_zero_shot_pooled"] = pooled.assign(pooled_seeds=" ".join(map(str, searched)))
    for name, table in tables.items():
        write_table(table, args.out, name)
        print(f"{name}:\n{table.round(3).to_string(index=False)}\n")


if __name__ == "__main__":
    main()
