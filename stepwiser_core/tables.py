"""Result tables: every table is written as CSV (for code) and Markdown (for people), atomically."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .io import atomic_write_text


def _cell(value, digits: int) -> str:
    if value is None or value is pd.NA:  # a missing value in an integer (Int64) or object column
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def to_markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table (pandas' own needs the optional `tabulate`)."""
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def write_table(df: pd.DataFrame, directory: str | Path, name: str, digits: int = 3) -> Path:
    """`<directory>/<name>.csv` and `<name>.md`; returns the CSV path."""
    directory = Path(directory)
    atomic_write_text(directory / f"{name}.csv", df.to_csv(index=False))
    atomic_write_text(directory / f"{name}.md", to_markdown(df, digits))
    return directory / f"{name}.csv"
