"""Does a re-run reproduce a results folder? Two results trees compared stage by stage, value by value.

The study promises that a rerun with the same parameters gives the same numbers (on the same processor and thread
count; docs/results.md, "Reproducibility, measured"). This module checks that promise on the files themselves:

- `metrics.json` and `config.yaml` are compared key by key (nested keys flattened to `a.b[0].c`), so a key added
  since the reference run is reported as such and does not hide whether the shared keys agree;
- CSV tables are compared cell by cell, number columns within an optional tolerance, so a table whose only change
  is a float printed in another way, or a column added since, is told apart from one whose numbers moved;
- everything else (Markdown, figures) byte for byte.

Wall-clock measurements (`train_runtime`, `duration_s`, `..._per_second`, `..._seconds`, such as 05's per-judge
`seconds` and 06's `judge_seconds`) are never expected to repeat and are left out of every comparison; so are the
folders a run wrote to (`runs_root`, `results_root`) and the provenance records, which hold the commit, the time and
the machine.

CLI: `python -m stepwiser_core.run_compare REFERENCE RERUN [--stages ...] [--out FILE.md|FILE.csv]` prints one row per
file and exits 0 when every file both trees hold agrees, 1 when one differs, 2 on bad input. A file only one tree
holds is listed but does not fail the check: results folders gain files over time, and a reference folder may hold
the outputs of tools run beside the stage.
"""
from __future__ import annotations

import argparse
import fnmatch
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .io import atomic_write_text, read_json
from .tables import to_markdown

# A key or column holding one of these measures time, not a result.
VOLATILE_MARKERS = ("runtime", "per_second", "duration", "seconds")
# Where, when and from which commit a run ran: expected to differ between any two runs.
RECORD_FILES = ("provenance*.json",)
# Settings that say where a run wrote, not what it computed (config.yaml's folders).
PLACE_KEYS = ("runs_root", "results_root")
STATUSES = ("identical", "same values", "differs", "only in reference", "only in rerun", "skipped")
FAILING = ("differs",)
_SHOWN = 4  # differing keys or columns named in a row's detail


@dataclass(frozen=True)
class FileComparison:
    stage: str
    file: str
    status: str
    shared: int = 0  # keys (JSON, YAML) or cells (CSV) compared
    differing: int = 0
    detail: str = ""


def is_volatile(name: str) -> bool:
    """Whether a key or column name measures wall-clock time (never expected to repeat) or names a run's folder."""
    return any(marker in name.lower() for marker in VOLATILE_MARKERS) or name.rsplit(".", 1)[-1] in PLACE_KEYS


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as one mapping from `a.b[0].c` paths to leaf values."""
    if isinstance(obj, Mapping):
        if not obj:
            return {prefix: {}} if prefix else {}
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(obj, list):
        if not obj:
            return {prefix: []}
        out = {}
        for i, value in enumerate(obj):
            out.update(flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def values_equal(a: Any, b: Any, rel_tol: float = 0.0, abs_tol: float = 0.0) -> bool:
    """Equal leaves: numbers within the tolerances (NaN equals NaN; a bool is not a number), else `==`."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    return type(a) is type(b) and a == b


def _names(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")


def _one_side(only_a: Sequence[str], only_b: Sequence[str], what: str = "") -> list[str]:
    """Notes naming the keys or columns that only one tree holds."""
    return ([f"{what}only in reference: {_names(only_a)}"] if only_a else []) + \
        ([f"{what}only in rerun: {_names(only_b)}"] if only_b else [])


def compare_mappings(reference: Mapping, rerun: Mapping, rel_tol: float = 0.0,
                     abs_tol: float = 0.0) -> tuple[str, int, int, str]:
    """(status, shared keys, differing keys, detail) for two nested mappings, volatile keys left out."""
    a = {k: v for k, v in flatten(reference).items() if not is_volatile(k)}
    b = {k: v for k, v in flatten(rerun).items() if not is_volatile(k)}
    shared = [k for k in a if k in b]
    differing = [k for k in shared if not values_equal(a[k], b[k], rel_tol, abs_tol)]
    notes = [f"{k}: {a[k]!r} -> {b[k]!r}" for k in differing[:_SHOWN]]
    if len(differing) > _SHOWN:
        notes.append(f"and {len(differing) - _SHOWN} more differ")
    notes += _one_side([k for k in a if k not in b], [k for k in b if k not in a])
    return ("differs" if differing else "same values"), len(shared), len(differing), "; ".join(notes)


def _column_differences(a: pd.Series, b: pd.Series, rel_tol: float, abs_tol: float) -> tuple[int, float | None]:
    """Cells that differ in one column, and the largest absolute difference where both are numbers."""
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b) \
            and not pd.api.types.is_bool_dtype(a) and not pd.api.types.is_bool_dtype(b):
        x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        close = np.isclose(x, y, rtol=rel_tol, atol=abs_tol, equal_nan=True)  # inf equals inf too
        gaps = np.abs(x - y)[~close]
        return int((~close).sum()), (float(np.nanmax(gaps)) if gaps.size and not np.isnan(gaps).all() else None)
    same = (a.isna() & b.isna()) | (a.astype(str) == b.astype(str))
    return int((~same).sum()), None


def compare_tables(reference: pd.DataFrame, rerun: pd.DataFrame, rel_tol: float = 0.0,
                   abs_tol: float = 0.0) -> tuple[str, int, int, str]:
    """(status, shared cells, differing cells, detail) for two tables read from CSV, volatile columns left out."""
    a = reference[[c for c in reference.columns if not is_volatile(str(c))]]
    b = rerun[[c for c in rerun.columns if not is_volatile(str(c))]]
    columns = [c for c in a.columns if c in b.columns]
    sides = _one_side([str(c) for c in a.columns if c not in b.columns],
                      [str(c) for c in b.columns if c not in a.columns], "columns ")
    if len(a) != len(b):
        return "differs", 0, 0, "; ".join([f"{len(a)} rows -> {len(b)} rows", *sides])
    differing_cells, moved = 0, []
    for column in columns:
        n, gap = _column_differences(a[column].reset_index(drop=True), b[column].reset_index(drop=True),
                                     rel_tol, abs_tol)
        if n:
            differing_cells += n
            moved.append(f"{column}: {n} cells" + (f", max |diff| {gap:.3g}" if gap is not None else ""))
    notes = moved[:_SHOWN] + ([f"and {len(moved) - _SHOWN} more columns differ"] if len(moved) > _SHOWN else [])
    notes += sides
    return ("differs" if differing_cells else "same values"), len(columns) * len(a), differing_cells, "; ".join(notes)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed CSV in {path}: {exc}") from exc


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"malformed YAML in {path}: {exc}") from exc


def compare_files(reference: Path, rerun: Path, rel_tol: float = 0.0,
                  abs_tol: float = 0.0) -> tuple[str, int, int, str]:
    """(status, shared, differing, detail) for one file present in both trees."""
    if reference.read_bytes() == rerun.read_bytes():
        return "identical", 0, 0, ""
    suffix = reference.suffix.lower()
    if suffix == ".json":
        a, b = read_json(reference), read_json(rerun)
    elif suffix in (".yaml", ".yml"):
        a, b = _read_yaml(reference), _read_yaml(rerun)
    elif suffix == ".csv":
        return compare_tables(_read_csv(reference), _read_csv(rerun), rel_tol, abs_tol)
    else:
        return "differs", 0, 0, "bytes differ"
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return compare_mappings(a, b, rel_tol, abs_tol)
    return compare_mappings({"": a}, {"": b}, rel_tol, abs_tol)


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def compare_stage(reference: Path, rerun: Path, stage: str, rel_tol: float = 0.0, abs_tol: float = 0.0,
                  ignore: Sequence[str] = ()) -> list[FileComparison]:
    """One row per file of `stage` in either tree (its folder under each root), sorted by file name."""
    a_dir, b_dir = reference / stage, rerun / stage
    a_files = _files(a_dir) if a_dir.is_dir() else set()
    b_files = _files(b_dir) if b_dir.is_dir() else set()
    rows = []
    for name in sorted(a_files | b_files):
        if any(fnmatch.fnmatch(Path(name).name, pattern) for pattern in (*RECORD_FILES, *ignore)):
            rows.append(FileComparison(stage, name, "skipped"))
        elif name not in b_files:
            rows.append(FileComparison(stage, name, "only in reference"))
        elif name not in a_files:
            rows.append(FileComparison(stage, name, "only in rerun"))
        else:
            rows.append(FileComparison(stage, name, *compare_files(a_dir / name, b_dir / name, rel_tol, abs_tol)))
    return rows


def compare_results(reference: str | Path, rerun: str | Path, stages: Sequence[str] | None = None,
                    rel_tol: float = 0.0, abs_tol: float = 0.0, ignore: Sequence[str] = ()) -> pd.DataFrame:
    """Every file of every stage (default: the stage folders both roots hold) compared; one row per file."""
    reference, rerun = Path(reference), Path(rerun)
    for root in (reference, rerun):
        if not root.is_dir():
            raise ValueError(f"not a results folder: {root}")
    if stages is None:
        stages = sorted({p.name for p in reference.iterdir() if p.is_dir()}
                        & {p.name for p in rerun.iterdir() if p.is_dir()})
        if not stages:
            raise ValueError(f"{reference} and {rerun} hold no stage folder of the same name")
    missing = [s for s in stages if not (reference / s).is_dir() and not (rerun / s).is_dir()]
    if missing:
        raise ValueError(f"stage folder(s) in neither tree: {', '.join(missing)}")
    rows = [row for s in stages for row in compare_stage(reference, rerun, s, rel_tol, abs_tol, ignore)]
    return pd.DataFrame([asdict(r) for r in rows], columns=list(FileComparison.__dataclass_fields__))


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Files per stage and status (every status a column, zeros included)."""
    counts = pd.crosstab(table["stage"], table["status"]).reindex(columns=list(STATUSES), fill_value=0)
    return counts.reset_index().rename_axis(columns=None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m stepwiser_core.run_compare`; 0 reproduced, 1 a file differs, 2 bad input."""
    parser = argparse.ArgumentParser(prog="python -m stepwiser_core.run_compare", description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="results folder of the reference run (stage folders inside)")
    parser.add_argument("rerun", help="results folder of the re-run")
    parser.add_argument("--stages", nargs="+", help="stage folders to compare (default: those both hold)")
    parser.add_argument("--rel-tol", type=float, default=0.0, help="relative tolerance for numbers (default 0: exact)")
    parser.add_argument("--abs-tol", type=float, default=0.0, help="absolute tolerance for numbers (default 0)")
    parser.add_argument("--ignore", nargs="+", default=[], help="file-name patterns to skip, e.g. '*.png'")
    parser.add_argument("--out", help="write every row to this .md or .csv file (atomically)")
    args = parser.parse_args(argv)
    try:
        table = compare_results(args.reference, args.rerun, args.stages, args.rel_tol, args.abs_tol, args.ignore)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(to_markdown(summary(table)))
    failing = table[table["status"].isin(FAILING)]
    shown = table[~table["status"].isin(("identical", "skipped"))]
    if len(shown):
        print(to_markdown(shown))
    if args.out:
        out = Path(args.out)
        atomic_write_text(out, table.to_csv(index=False) if out.suffix == ".csv" else to_markdown(table))
    print(f"{len(failing)} of {len(table)} files differ" if len(failing) else
          f"reproduced: every file both folders hold agrees ({len(table)} files)")
    return 1 if len(failing) else 0


if __name__ == "__main__":
    sys.exit(main())
