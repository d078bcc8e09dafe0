"""Diagnose judgments in the "check" analysis style (00's zero-shot judge): does the Check copy the chunk, is its
arithmetic right, and does "Match" depend on whether the Check and the chunk agree?

    python tools/diagnose_check_judge.py runs/toy/00_policy/zero_shot_judgments.csv
"""
import re
import sys

import pandas as pd

EQ = re.compile(r"Check:\s*(\d+)([+*-])(\d+)=(\d+)")
CHUNK = re.compile(r"Chunk:\s*(\d+)([+*-])(\d+)=(\d+)")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def main(path: str) -> None:
    rows = []
    for r in pd.read_csv(path).itertuples():
        check, chunk = EQ.search(str(r.output)), CHUNK.search(str(r.output))
        if not (check and chunk):
            continue
        rows.append({"label": r.label, "check_copies_chunk": check.groups() == chunk.groups(),
                     "check_arithmetic_right": int(check[4]) == OPS[check[2]](int(check[1]), int(check[3])),
                     "match_yes": "Match: yes" in r.output})
    t = pd.DataFrame(rows)
    print(f"{len(t)} judgments with a Check and a quoted chunk equation")
    print(t.groupby("label")[["check_copies_chunk", "check_arithmetic_right", "match_yes"]].mean().round(3))
    print("share of 'Match: yes' by whether the Check equals the quoted chunk:")
    print(t.groupby("check_copies_chunk")["match_yes"].agg(["mean", "size"]).round(3))


if __name__ == "__main__":
    main(sys.argv[1])
