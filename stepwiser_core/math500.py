"""MATH500 (Lightman et al. 2023's 500-problem subset of MATH), the paper's accuracy set (Table 4's Avg@32).

The Hugging Face dataset `HuggingFaceH4/MATH-500` has one split, `test` (`test.jsonl`), with the columns `problem`,
`solution`, `answer`, `subject`, `level` (1-5) and `unique_id` (e.g. "test/precalculus/807.json"). Unlike
NuminaMath-CoT it has an answer column, which is the ground truth Math-Verify checks a policy's boxed answer against.
"""
from __future__ import annotations

import re
from pathlib import Path

from .numina import MathProblem, read_rows

MATH500_HUB_ID = "HuggingFaceH4/MATH-500"
REQUIRED_COLUMNS = ("problem", "answer", "unique_id")


def load_math500(location: str | Path = MATH500_HUB_ID, split: str = "test") -> list[MathProblem]:
    """MATH500's problems in file order, each with its id (`unique_id`), answer, subject (`source`) and level.

    `location`: the hub id, a snapshot folder holding `test.jsonl`, that file, or a saved dataset (`numina.read_rows`).

    Raises:
        FileNotFoundError / ValueError: as `numina.read_rows`, and for duplicate ids or an empty answer.
    """
    rows = read_rows(location, split, REQUIRED_COLUMNS, "MATH500")
    problems, seen = [], set()
    for row in rows:
        pid, answer = str(row["unique_id"]), str(row["answer"] or "").strip()
        if pid in seen:
            raise ValueError(f"{location}: duplicate unique_id {pid!r}")
        if not answer:
            raise ValueError(f"{location}: problem {pid!r} has an empty answer")
        seen.add(pid)
        level = re.search(r"\d+", str(row.get("level") or ""))  # 3, or MATH's own "Level 3"
        problems.append(MathProblem(pid, str(row["problem"]).strip(), answer, str(row.get("subject") or ""),
                                    int(level.group()) if level else 0))
    return problems
