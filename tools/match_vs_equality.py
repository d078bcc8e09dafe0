"""Does a "redo"-style judge's "Match" follow its own comparison? From a dump of greedy judgments
(`python tools/judge_experiment.py --init DIR --no-grpo --samples 0 --dump --out OUT` writes OUT/init_outputs.csv),
the share of "Match: yes" split by the chunk's true label and by whether the re-derived result equals the quoted
chunk result. A judge that compares would say yes exactly when the two are equal.

    python tools/match_vs_equality.py /tmp/jx/init_outputs.csv
"""
from __future__ import annotations

import re
import sys

import pandas as pd

_REDO = re.compile(r"=(-?\d+)\nChunk: (-?\d+)\. Match: (yes|no)")  # the "redo" style of instruct.toy_analysis


def match_table(outputs: pd.DataFrame) -> pd.DataFrame:
    rows = [{"true_label": r.true_label, "results_equal": m[1] == m[2], "match_yes": m[3] == "yes"}
            for r in outputs.itertuples() if (m := _REDO.search(str(r.output)))]
    return (pd.DataFrame(rows).groupby(["true_label", "results_equal"])["match_yes"]
            .agg(share_match_yes="mean", n="count").reset_index())


if __name__ == "__main__":
    print(match_table(pd.read_csv(sys.argv[1])).round(3).to_string(index=False))
