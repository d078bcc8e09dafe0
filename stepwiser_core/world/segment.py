"""Ways to cut a solution text into steps: blank lines (the paper's baseline) and logical steps.

`logical_steps` cuts after every equation and every final-answer line, which is exactly how the
teacher writes one logical step per operation; it is the exact reference segmentation of the toy
world. Both functions keep the text of each step verbatim (only the separating blank lines go).
"""
from __future__ import annotations

import re

from .checker import parse_line

_BLANK = re.compile(r"\n[ \t]*\n")


def blankline_steps(text: str) -> list[str]:
    """Split on blank lines ('\\n\\n'), dropping empty pieces, as ProcessBench-style PRMs do."""
    return [p.strip("\n") for p in _BLANK.split(text) if p.strip()]


def logical_steps(text: str) -> list[str]:
    """One step per operation (its explanation and equation) plus the answer; trailing text is a last step."""
    steps, current = [], []
    for line in text.split("\n"):
        current.append(line)
        if parse_line(line.strip())[0] in ("equation", "answer"):
            steps.append("\n".join(current).strip("\n"))
            current = []
    rest = "\n".join(current).strip("\n")
    if rest.strip():
        steps.append(rest)
    return steps
