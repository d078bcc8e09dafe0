"""tools/mixed_segmentation.py's seed pairing: it reads tools/segmentation_ablation.py's committed score tables and
refuses to pair by seed unless the judges it scored itself give those scores."""
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location("mixed_segmentation", REPO / "tools" / "mixed_segmentation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_rows(average_by_key):
    return pd.DataFrame([{"segmentation": seg, "training": training, "label_rule": rule, "seed": seed,
                          "judge": f"{training}_{rule}_{seg}_seed{seed}", "average": f1, "acc_error": f1 - 10,
                          "acc_correct": f1 + 10} for (seg, training, rule, seed), f1 in average_by_key.items()])


def test_committed_seed_scores_join_the_two_cuts_of_each_stepwiser_judge(tmp_path):
    tool = load_tool()
    score_rows({("chunks", "rl", "abs_q", 0): 73.8, ("chunks", "sft", "abs_q", 0): 7.7,
                ("chunks", "rl", "abs_q", 1): 80.1, ("blankline", "rl", "abs_q", 1): 78.2,
                ("chunks", "rl", "rel_ratio", 0): 79.2, ("chunks", "rl", "abs_q", 5): 76.7}).to_csv(
        tmp_path / "segmentation_ablation_scores.csv", index=False)
    score_rows({("chunks", "rl", "abs_q", 0): 6.8, ("chunks", "sft", "abs_q", 0): 5.0,
                ("chunks", "rl", "abs_q", 1): 9.0, ("chunks", "rl", "rel_ratio", 0): 9.6,
                ("chunks", "rl", "abs_q", 5): 8.0}).to_csv(
        tmp_path / "segmentation_ablation_blankline_steps_scores.csv", index=False)
    got = tool.committed_seed_scores(tmp_path, ["abs_q"], [0, 1])
    # SFT, another rule, a seed not asked for, and a judge scored on one cut only are all left out
    assert got[["trained_on", "label_rule", "seed", "f1_logical", "f1_blankline", "acc_correct_blankline"]].to_dict(
        "records") == [{"trained_on": "chunks", "label_rule": "abs_q", "seed": 0, "f1_logical": 73.8,
                        "f1_blankline": 6.8, "acc_correct_blankline": 16.8},
                       {"trained_on": "chunks", "label_rule": "abs_q", "seed": 1, "f1_logical": 80.1,
                        "f1_blankline": 9.0, "acc_correct_blankline": 19.0}]
    assert set(got["source"]) == {f"committed: {tmp_path.name}"}
    (tmp_path / "segmentation_ablation_scores.csv").unlink()
    with pytest.raises(SystemExit, match="lacks segmentation_ablation_scores.csv"):
        tool.committed_seed_scores(tmp_path, ["abs_q"], [0])


def test_seed_check_flags_a_judge_whose_scores_differ_from_the_committed_ones():
    tool = load_tool()
    keys = {"trained_on": ["chunks", "blankline"], "label_rule": ["abs_q", "abs_q"], "seed": [0, 1]}
    committed = pd.DataFrame({**keys, "judge": ["c0", "b1"], "f1_logical": [73.8, 78.2], "f1_blankline": [6.8, 59.0]})
    here = pd.DataFrame({**keys, "judge": ["h0", "h1"], "f1_logical": [73.8, 78.2], "f1_blankline": [6.8, 58.0]})
    check = tool.seed_check(here, committed)
    assert check["agrees"].tolist() == [True, True, True, False]  # per judge: logical, then blank-line
    assert check.iloc[3][["judge_here", "judge_committed", "f1_here", "f1_committed"]].tolist() == ["h1", "b1", 58.0,
                                                                                                 59.0]
    assert tool.seed_check(here.assign(seed=[7, 8]), committed).empty  # nothing to compare is not agreement


def test_parse_check_takes_segmentation_seed_rule():
    tool = load_tool()
    assert tool.parse_check("blankline:1:abs_q") == ("blankline", 1, "abs_q")
    for bad in ("both:1:abs_q", "blankline:one:abs_q", "blankline:1", "chunks:1:rel_effective"):
        with pytest.raises(SystemExit, match="SEGMENTATION:SEED:RULE"):
            tool.parse_check(bad)
